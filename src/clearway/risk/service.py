"""Risk use cases: selectivity profiles and named lists, office policies, stored channel decisions, re-routing,
hit statistics, backtests, the targeting report and retraining on inspection results.

Keyword-only functions taking the caller's session; none of them commits.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import secrets
import threading
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from dataclasses import fields as dataclass_fields
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Any, get_args

from sqlalchemy import case, func, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, defer

from clearway.db import utcnow
from clearway.declarations.models import ControlResult, Declaration
from clearway.errors import Conflict, InvalidInput, NotFound, field_error
from clearway.risk import policy as channel_policy
from clearway.risk import rules
from clearway.risk.models import (
    ChannelDecisionRecord,
    OfficePolicy,
    RerouteRecordRow,
    RiskList,
    RiskProfile,
    RuleHitRecord,
)
from clearway.risk.profiles_schema import build_profile, parse_profile, revise_profile
from clearway.risk.rules import BacktestCase, BacktestResult, HitStatistics, SelectivityProfile

FINDING_OUTCOMES = ("discrepancy", "fraud")
TRUSTED_TRADERS_LIST = "trusted_traders"  # EORIs holding an AEO authorisation
_LIST_NAME = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
MAX_LIST_ENTRIES = 100_000


# --------------------------------------------------------------------------------------------------- profiles


_PROFILE_FIELDS = tuple(f.name for f in dataclass_fields(SelectivityProfile))  # the row has the same columns


def _to_profile(row: RiskProfile) -> SelectivityProfile:
    return SelectivityProfile(**{name: getattr(row, name) for name in _PROFILE_FIELDS})


def _row(profile: SelectivityProfile, *, by: str) -> RiskProfile:
    content = {name: getattr(profile, name) for name in _PROFILE_FIELDS}
    content["criteria"] = dict(profile.criteria)
    return RiskProfile(**content, fingerprint=profile.fingerprint(), created_by=by, created_at=utcnow())


def _versions(session: Session, profile_id: str, *, for_update: bool = False) -> list[RiskProfile]:
    query = select(RiskProfile).where(RiskProfile.profile_id == profile_id).order_by(RiskProfile.version)
    rows = list(session.scalars(query.with_for_update() if for_update else query))
    if not rows:
        raise NotFound(f"no selectivity profile {profile_id}")
    return rows


def list_names(*, session: Session) -> list[str]:
    return list(session.scalars(select(RiskList.name).order_by(RiskList.name)))


def create_profile(*, session: Session, data: Mapping[str, Any], by: str) -> SelectivityProfile:
    """Validates a submitted profile (every error with its JSON path) and stores it as version 1, a draft."""
    draft = parse_profile(data, known_lists=list_names(session=session))
    profile = build_profile(draft, profile_id=f"rp-{secrets.token_hex(4)}")
    session.add(_row(profile, by=by))
    session.flush()
    return profile


def add_version(*, session: Session, profile_id: str, data: Mapping[str, Any], by: str) -> SelectivityProfile:
    """An edit: validates it and stores it as version n+1 (a draft); earlier versions stay as they were."""
    rows = _versions(session, profile_id, for_update=True)
    revised = revise_profile(_to_profile(rows[-1]), data, known_lists=list_names(session=session))
    session.add(_row(revised, by=by))
    session.flush()
    return revised


def profile_versions(*, session: Session, profile_id: str) -> list[SelectivityProfile]:
    """Every version of a profile, oldest first."""
    return [_to_profile(r) for r in _versions(session, profile_id)]


def list_profiles(*, session: Session, status: str | None = None) -> list[SelectivityProfile]:
    """The newest version of each profile (or, with `status`, the newest version having that status)."""
    query = select(RiskProfile).order_by(RiskProfile.profile_id, RiskProfile.version)
    if status:
        query = query.where(RiskProfile.status == status)
    newest: dict[str, RiskProfile] = {}
    for row in session.scalars(query):
        newest[row.profile_id] = row
    return sorted((_to_profile(r) for r in newest.values()), key=lambda p: (-p.priority, p.name, p.profile_id))


def _pick(rows: list[RiskProfile], version: int | None, statuses: Iterable[str]) -> RiskProfile:
    if version is not None:
        for row in rows:
            if row.version == version:
                return row
        raise NotFound(f"selectivity profile {rows[0].profile_id} has no version {version}")
    wanted = set(statuses)
    for row in reversed(rows):
        if row.status in wanted:
            return row
    return rows[-1]


def activate_profile(*, session: Session, profile_id: str, by: str, version: int | None = None) -> SelectivityProfile:
    """Activates a version (default: the newest draft); any other active version of the profile is retired."""
    rows = _versions(session, profile_id, for_update=True)
    row = _pick(rows, version, ("draft",))
    if row.status == "active":
        return _to_profile(row)
    target = rules.change_status(_to_profile(row), "active")
    now = utcnow()
    for other in rows:
        if other.status == "active" and other.version != row.version:
            other.status, other.status_changed_by, other.status_changed_at = "retired", by, now
    row.status, row.status_changed_by, row.status_changed_at = target.status, by, now
    session.flush()
    return target


def retire_profile(*, session: Session, profile_id: str, by: str, version: int | None = None) -> list[int]:
    """Retires a version, or (default) every version not yet retired; returns the versions retired."""
    rows = _versions(session, profile_id, for_update=True)
    targets = [_pick(rows, version, ())] if version is not None else [r for r in rows if r.status != "retired"]
    if not targets:
        raise Conflict(f"every version of selectivity profile {profile_id} is already retired")
    now = utcnow()
    for row in targets:
        rules.change_status(_to_profile(row), "retired")  # raises when the move is not allowed
        row.status, row.status_changed_by, row.status_changed_at = "retired", by, now
    session.flush()
    return [r.version for r in targets]


def _findings_by_declaration():  # type: ignore[no-untyped-def]
    """Subquery: declaration id → 1 when a control result found something, else 0 (inspected either way)."""
    return (
        select(
            ControlResult.declaration_id.label("declaration_id"),
            func.max(case((ControlResult.outcome.in_(FINDING_OUTCOMES), 1), else_=0)).label("finding"),
        )
        .group_by(ControlResult.declaration_id)
        .subquery()
    )


def hit_statistics(*, session: Session, profile_id: str | None = None) -> dict[tuple[str, int], HitStatistics]:
    """Hits, inspected hits and inspected hits with findings per profile version, from the stored decisions."""
    findings = _findings_by_declaration()
    query = (
        select(
            RuleHitRecord.profile_id,
            RuleHitRecord.version,
            func.count(),
            func.count(findings.c.declaration_id),
            func.coalesce(func.sum(findings.c.finding), 0),
        )
        .outerjoin(findings, findings.c.declaration_id == RuleHitRecord.declaration_id)
        .group_by(RuleHitRecord.profile_id, RuleHitRecord.version)
    )
    if profile_id:
        query = query.where(RuleHitRecord.profile_id == profile_id)
    return {
        (pid, int(v)): HitStatistics(pid, int(v), int(hits), int(inspected), int(found))
        for pid, v, hits, inspected, found in session.execute(query)
    }


# --------------------------------------------------------------------------------------------------- named lists


@dataclass(frozen=True)
class NamedList:
    name: str
    description: str | None
    entries: list[str]
    revision: int
    updated_by: str
    updated_at: datetime


def _named(row: RiskList) -> NamedList:
    return NamedList(row.name, row.description, list(row.entries), row.revision, row.updated_by, row.updated_at)


def get_list(*, session: Session, name: str) -> NamedList:
    row = session.get(RiskList, name)
    if row is None:
        raise NotFound(f"no named list {name!r}")
    return _named(row)


def all_lists(*, session: Session) -> list[NamedList]:
    return [_named(r) for r in session.scalars(select(RiskList).order_by(RiskList.name))]


def put_list(
    *, session: Session, name: str, entries: Iterable[Any], by: str, description: str | None = None
) -> NamedList:
    """Creates or replaces a named list (entries trimmed, empty ones dropped, duplicates removed, order kept)."""
    errors = []
    if not _LIST_NAME.match(name or ""):
        errors.append(field_error("name", "lower-case letters, digits and '_', starting with a letter (max 64)"))
    cleaned: list[str] = []
    seen: set[str] = set()
    for i, entry in enumerate(entries):
        if not isinstance(entry, str | int) or isinstance(entry, bool):
            errors.append(field_error(f"entries[{i}]", "expected a string"))
            continue
        text = str(entry).strip()
        if text and text.upper() not in seen:
            seen.add(text.upper())
            cleaned.append(text)
    if len(cleaned) > MAX_LIST_ENTRIES:
        errors.append(field_error("entries", f"at most {MAX_LIST_ENTRIES} entries"))
    if errors:
        raise InvalidInput(f"The named list has {len(errors)} error(s).", errors=errors)
    row = session.get(RiskList, name, with_for_update=True)
    if row is None:
        row = RiskList(name=name, description=description, entries=cleaned, revision=1, updated_by=by)
        row.updated_at = utcnow()
        session.add(row)
    else:
        row.entries, row.revision, row.updated_by, row.updated_at = cleaned, row.revision + 1, by, utcnow()
        if description is not None:
            row.description = description
    session.flush()
    return _named(row)


# --------------------------------------------------------------------------------------------------- office policy

# (database, office) -> (the row's updated_at as this process wrote it, config, the state object after that write)
_state_cache: dict[tuple[str, str], tuple[datetime, channel_policy.PolicyConfig, channel_policy.PolicyState]] = {}


def _policy_seed(settings: Any, office: str) -> str:
    # Derived from the installation's secret so that nobody outside can predict the random selection.
    secret = getattr(settings, "secret_key", "") or "clearway"
    return hashlib.sha256(f"risk-random-selection\x1f{secret}\x1f{office}".encode()).hexdigest()


def default_policy_params(settings: Any) -> dict[str, Any]:
    """The defaults every office starts from: settings.risk_policy over the policy's own defaults.

    In the test environment the random quotas default to 0 (controls are then triggered on purpose, by trigger
    words or profiles), unless settings.risk_policy sets them.
    """
    params: dict[str, Any] = {}
    if getattr(settings, "environment", None) == "test":
        params.update(red_random_pct=0.0, yellow_random_pct=0.0)
    params.update(dict(getattr(settings, "risk_policy", None) or {}))
    return params


@lru_cache(maxsize=256)
def _config(frozen: str) -> channel_policy.PolicyConfig:
    return channel_policy.PolicyConfig.from_mapping(json.loads(frozen))


def policy_config(*, settings: Any, office: str, overrides: Mapping[str, Any] | None) -> channel_policy.PolicyConfig:
    """The office's effective configuration (defaults, then the office's own parameters)."""
    params = {"seed": _policy_seed(settings, office), **default_policy_params(settings), **dict(overrides or {})}
    return _config(json.dumps(params, sort_keys=True))


def office_policy(*, session: Session, office: str) -> dict[str, Any]:
    """The office's parameters, effective configuration (seed hidden) and budget state."""
    settings = session.info.get("settings")
    row = session.get(OfficePolicy, office)
    config = policy_config(settings=settings, office=office, overrides=row.config if row else None)
    state = row.state if row and row.state else None
    return {
        "office": office,
        "overrides": {k: v for k, v in (row.config if row else {}).items() if k != "seed"},
        "effective": dict(config.params()),
        "state": None
        if state is None
        else {k: state.get(k) for k in ("decisions", "by_channel", "tokens", "overruns", "policy_version")},
    }


def set_office_policy(*, session: Session, office: str, params: Mapping[str, Any], by: str) -> dict[str, Any]:
    """Replaces an office's own policy parameters (validated against the channel policy's rules)."""
    if not isinstance(params, Mapping):
        raise InvalidInput("policy parameters are a JSON object", errors=[field_error("body", "expected an object")])
    settings = session.info.get("settings")
    policy_config(settings=settings, office=office, overrides=params)  # raises InvalidInput with every error
    row = _locked_policy(session, office)
    row.config, row.updated_by, row.updated_at = dict(params), by, utcnow()
    session.flush()
    return office_policy(session=session, office=office)


def _locked_policy(session: Session, office: str, *, defer_state: bool = False) -> OfficePolicy:
    """The office's policy row, locked FOR UPDATE (created on first use; a concurrent creator is tolerated)."""
    query = select(OfficePolicy).where(OfficePolicy.office == office).with_for_update()
    if defer_state:
        query = query.options(defer(OfficePolicy.state))
    row = session.scalars(query).first()
    if row is None:
        try:
            with session.begin_nested():
                session.add(
                    OfficePolicy(office=office, config={}, state=None, updated_by="system", updated_at=utcnow())
                )
        except IntegrityError:
            pass  # another assessment created it meanwhile
        row = session.scalars(query.execution_options(populate_existing=True)).one()
    return row


def decide_under_budget(
    *,
    session: Session,
    office: str,
    declaration_key: str,
    rule_hits: list[rules.RuleHit],
    score: channel_policy.ModelScore | None,
    trusted_trader: bool,
) -> channel_policy.ChannelDecision:
    """Runs the channel policy with the office's budget, locking and updating its state in this transaction."""
    settings = session.info.get("settings")
    row = _locked_policy(session, office, defer_state=True)
    config = policy_config(settings=settings, office=office, overrides=row.config)
    # The state this process wrote last is reused while the row still carries its stamp (updated_at): no other
    # process and no rolled-back transaction changed it since. Otherwise it is read back from the row.
    key = (str(session.get_bind().url), office)
    cached = _state_cache.get(key)
    if cached is not None and cached[0] == row.updated_at and cached[1] is config:
        state = cached[2]
    else:
        stored = row.state
        state = channel_policy.PolicyState.from_dict(config, stored) if stored else channel_policy.PolicyState(config)
    decision = channel_policy.decide(
        declaration_key=declaration_key,
        rule_hits=rule_hits,
        score=score,
        trusted_trader=trusted_trader,
        config=config,
        state=state,
    )
    state.record(decision)
    row.state = state.to_dict()
    row.updated_at = utcnow()
    with _cache_lock:
        _state_cache[key] = (row.updated_at, config, state)
    return decision


# --------------------------------------------------------------------------------------------------- evaluation inputs

_cache_lock = threading.Lock()
_profile_cache: dict[tuple[str, int], SelectivityProfile] = {}
_lists_cache: dict[tuple[tuple[str, int], ...], rules.NamedLists] = {}


def active_profiles(*, session: Session) -> list[SelectivityProfile]:
    """The active profile versions, compiled once per process (a version's content never changes)."""
    keys = session.execute(
        select(RiskProfile.profile_id, RiskProfile.version).where(RiskProfile.status == "active")
    ).all()
    missing = [(pid, v) for pid, v in keys if (pid, v) not in _profile_cache]
    if missing:
        rows = session.scalars(
            select(RiskProfile).where(
                RiskProfile.status == "active", RiskProfile.profile_id.in_({pid for pid, _ in missing})
            )
        )
        for row in rows:
            profile = _to_profile(row)
            _ = profile.compiled
            with _cache_lock:
                _profile_cache[(row.profile_id, row.version)] = profile
    return [_profile_cache[(pid, v)] for pid, v in keys if (pid, v) in _profile_cache]


_fields_cache: dict[tuple[str, int], frozenset[str]] = {}


def _criteria_fields(criteria: Any) -> frozenset[str]:
    fields: set[str] = set()

    def walk(node: Any) -> None:
        if isinstance(node, Mapping):
            if isinstance(node.get("field"), str):
                fields.add(node["field"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(criteria)
    return frozenset(fields)


def uses_field(profile: SelectivityProfile, field: str) -> bool:
    """Whether the profile's criteria read `field` (e.g. a fact that costs a query to compute)."""
    key = (profile.profile_id, profile.version)  # a version's content never changes
    fields = _fields_cache.get(key)
    if fields is None:
        fields = _fields_cache[key] = _criteria_fields(profile.criteria)
    return field in fields


def current_lists(*, session: Session) -> rules.NamedLists:
    """Every named list as the rule engine reads it, rebuilt only when a list changed."""
    key = tuple(sorted((n, int(r)) for n, r in session.execute(select(RiskList.name, RiskList.revision))))
    cached = _lists_cache.get(key)
    if cached is None:
        data = {row.name: list(row.entries) for row in session.scalars(select(RiskList))}
        cached = rules.as_named_lists(data)
        with _cache_lock:
            if len(_lists_cache) > 16:
                _lists_cache.clear()
            _lists_cache[key] = cached
    return cached


def prior_findings(*, session: Session, importer_eori: str | None, exclude: str | None = None) -> int:
    """Past control results with findings on declarations of this importer."""
    if not importer_eori:
        return 0
    query = (
        select(func.count())
        .select_from(ControlResult)
        .join(Declaration, Declaration.id == ControlResult.declaration_id)
        .where(Declaration.importer_eori == importer_eori, ControlResult.outcome.in_(FINDING_OUTCOMES))
    )
    if exclude:
        query = query.where(Declaration.id != exclude)
    return int(session.scalar(query) or 0)


def rules_document(declaration: Declaration) -> dict[str, Any]:
    """The declaration as the rule engine reads it: the current document plus the MRN and type code."""
    doc = dict(declaration.document)
    doc.setdefault("mrn", declaration.mrn)
    doc.setdefault("type_code", doc.get("declaration_type"))
    return doc


# --------------------------------------------------------------------------------------------------- decisions


def store_decision(
    *,
    session: Session,
    declaration: Declaration,
    decision: channel_policy.ChannelDecision,
    factors: list[str],
    context: Mapping[str, Any],
    reasons: list[str],
) -> int:
    """Stores a channel decision and one row per profile hit (Core inserts: this runs for every declaration).

    Returns the decision's id.
    """
    now = utcnow()
    data = decision.to_dict()
    decision_id = session.execute(
        insert(ChannelDecisionRecord)
        .values(
            declaration_id=declaration.id,
            declaration_version=declaration.version,
            office=declaration.office_of_lodgement,
            channel=decision.channel,
            cause=decision.cause,
            model_version=decision.model_version,
            score=decision.score,
            value_at_risk=decision.value_at_risk,
            rule_hits=data["rule_hits"],
            reasons=reasons,
            factors=list(factors),
            context=dict(context),
            random_selection=decision.random_selection,
            random_channel=decision.random_channel,
            random_inclusion_probability=decision.random_inclusion_probability,
            trusted_trader=decision.trusted_trader,
            budget_overrun=decision.budget_overrun,
            budget_limited=decision.budget_limited,
            thresholds=data["thresholds"],
            policy_version=decision.policy_version,
            policy_params=data["policy_params"],
            decided_at=now,
        )
        .returning(ChannelDecisionRecord.id)
    ).scalar_one()
    if decision.rule_hits:
        session.execute(
            insert(RuleHitRecord),
            [
                {
                    "decision_id": decision_id,
                    "declaration_id": declaration.id,
                    "profile_id": hit.profile_id,
                    "version": hit.version,
                    "channel": hit.channel,
                    "decided_at": now,
                }
                for hit in decision.rule_hits
            ],
        )
    return int(decision_id)


def store_forced_decision(
    *, session: Session, declaration: Declaration, channel: str, reasons: list[str], cause: str
) -> ChannelDecisionRecord:
    """Stores a decision made outside the policy (a test trigger word)."""
    record = ChannelDecisionRecord(
        declaration_id=declaration.id,
        declaration_version=declaration.version,
        office=declaration.office_of_lodgement,
        channel=channel,
        cause=cause,
        rule_hits=[],
        reasons=reasons,
        factors=[],
        context={},
        thresholds={},
        policy_params={},
        decided_at=utcnow(),
    )
    session.add(record)
    session.flush()
    return record


def latest_decision(*, session: Session, declaration_id: str) -> ChannelDecisionRecord:
    record = session.scalars(
        select(ChannelDecisionRecord)
        .where(ChannelDecisionRecord.declaration_id == declaration_id)
        .order_by(ChannelDecisionRecord.id.desc())
        .limit(1)
    ).first()
    if record is None:
        raise NotFound(f"no channel decision for declaration {declaration_id}")
    return record


def decision_out(record: ChannelDecisionRecord, *, session: Session) -> dict[str, Any]:
    """A stored decision as the API returns it (re-routings included)."""
    reroutes = session.scalars(
        select(RerouteRecordRow)
        .where(RerouteRecordRow.declaration_id == record.declaration_id)
        .order_by(RerouteRecordRow.id)
    )
    return {
        "declaration_id": record.declaration_id,
        "declaration_version": record.declaration_version,
        "office": record.office,
        "channel": record.channel,
        "cause": record.cause,
        "reasons": list(record.reasons),
        "score": record.score,
        "model_version": record.model_version,
        "value_at_risk": None if record.value_at_risk is None else str(record.value_at_risk),
        "factors": list(record.factors),
        "rule_hits": list(record.rule_hits),
        "random_selection": record.random_selection,
        "random_channel": record.random_channel,
        "random_inclusion_probability": record.random_inclusion_probability,
        "trusted_trader": record.trusted_trader,
        "budget_overrun": record.budget_overrun,
        "budget_limited": record.budget_limited,
        "thresholds": dict(record.thresholds),
        "policy_version": record.policy_version,
        "policy_params": dict(record.policy_params),
        "context": dict(record.context),
        "decided_at": record.decided_at.isoformat(),
        "reroutes": [
            {
                "from_channel": r.from_channel,
                "to_channel": r.to_channel,
                "direction": r.direction,
                "reason": r.reason,
                "officer": r.officer,
                "breaks_random_sample": r.breaks_random_sample,
                "at": r.at.isoformat(),
            }
            for r in reroutes
        ],
    }


def _policy_decision(record: ChannelDecisionRecord, key: str) -> channel_policy.ChannelDecision:
    hits = tuple(
        rules.RuleHit(
            h["profile_id"],
            int(h["version"]),
            h["name"],
            h["channel"],
            int(h["priority"]),
            h["reason"],
            bool(h.get("mandatory")),
            h.get("kind", "selection"),
            tuple(h.get("matched_items") or ()),
        )
        for h in record.rule_hits
    )
    return channel_policy.ChannelDecision(
        declaration_key=key,
        channel=record.channel,  # type: ignore[arg-type]
        cause=record.cause if record.cause in get_args(channel_policy.Cause) else "default",  # type: ignore[arg-type]
        reasons=tuple(record.reasons),
        rule_hits=hits,
        score=record.score,
        model_version=record.model_version,
        value_at_risk=record.value_at_risk,
        rank_key=None,
        random_selection=record.random_selection,
        random_channel=record.random_channel,  # type: ignore[arg-type]
        random_inclusion_probability=record.random_inclusion_probability,
        trusted_trader=record.trusted_trader,
        budget_overrun=record.budget_overrun,
        budget_limited=record.budget_limited,
        thresholds=dict(record.thresholds),
        policy_version=record.policy_version or "",
        policy_params=dict(record.policy_params),
    )


def check_reroute(
    *, session: Session, declaration: Declaration, to: str, reason: str | None, officer: str
) -> channel_policy.RerouteRecord:
    """Validates an officer's re-routing against the channel policy and records it.

    A reason is required; a declaration selected by a mandatory profile cannot go below that profile's channel
    (Conflict); downgrading a random selection is allowed and recorded as breaking the random sample.
    """
    record = session.scalars(
        select(ChannelDecisionRecord)
        .where(ChannelDecisionRecord.declaration_id == declaration.id)
        .order_by(ChannelDecisionRecord.id.desc())
        .limit(1)
    ).first()
    current = declaration.channel or (record.channel if record else "green")
    key = declaration.mrn or declaration.id
    if record is None:
        decision = channel_policy.ChannelDecision(
            key, current, "default", (), (), None, None, None, None, False, None, 0.0, False, False, False, {}, "", {}
        )  # type: ignore[arg-type]
    else:
        decision = _policy_decision(record, key)
    result = channel_policy.reroute(
        decision, to=to, reason=reason or "", officer_id=officer, at=utcnow(), from_channel=current
    )
    session.add(
        RerouteRecordRow(
            declaration_id=declaration.id,
            from_channel=result.from_channel,
            to_channel=result.to_channel,
            direction=result.direction,
            reason=result.reason,
            officer=officer,
            original_cause=result.original_cause,
            breaks_random_sample=result.breaks_random_sample,
            at=result.at,
        )
    )
    return result


# --------------------------------------------------------------------------------------------------- backtest


def _day_bounds(since: date, until: date | None) -> tuple[datetime, datetime]:
    until = until or datetime.now(UTC).date()
    if until < since:
        raise InvalidInput("the period ends before it starts", errors=[field_error("until", "before since")])
    return datetime.combine(since, time(), UTC), datetime.combine(until + timedelta(days=1), time(), UTC)


def _outcomes(session: Session, declaration_ids: Iterable[str]) -> dict[str, bool]:
    """Declaration id → whether a control found something (only inspected declarations appear)."""
    ids = list(declaration_ids)
    out: dict[str, bool] = {}
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        for decl_id, outcome in session.execute(
            select(ControlResult.declaration_id, ControlResult.outcome).where(ControlResult.declaration_id.in_(chunk))
        ):
            out[decl_id] = out.get(decl_id, False) or outcome in FINDING_OUTCOMES
    return out


def backtest_profile(
    *, session: Session, profile_id: str, since: date, until: date | None = None, version: int | None = None
) -> BacktestResult:
    """ "How many would this have hit": one profile version (default: the newest) over the declarations accepted in
    the period, with their control results as outcomes and the facts stored with their channel decisions."""
    rows = _versions(session, profile_id)
    profile = _to_profile(_pick(rows, version, ("draft", "active", "retired")))
    start, end = _day_bounds(since, until)
    declarations = list(
        session.scalars(
            select(Declaration)
            .where(Declaration.accepted_at >= start, Declaration.accepted_at < end)
            .order_by(Declaration.accepted_at)
        )
    )
    ids = [d.id for d in declarations]
    contexts: dict[str, dict[str, Any]] = {}
    for start_i in range(0, len(ids), 500):
        for decl_id, context in session.execute(
            select(ChannelDecisionRecord.declaration_id, ChannelDecisionRecord.context)
            .where(ChannelDecisionRecord.declaration_id.in_(ids[start_i : start_i + 500]))
            .order_by(ChannelDecisionRecord.id)
        ):
            contexts[decl_id] = context or {}
    outcomes = _outcomes(session, ids)
    cases = (BacktestCase(rules_document(d), contexts.get(d.id, {}), outcomes.get(d.id)) for d in declarations)
    return rules.backtest(profile, cases, current_lists(session=session))


# --------------------------------------------------------------------------------------------------- report


def registry_root(settings: Any) -> Path:
    """Where model versions are registered: $CLEARWAY_RISK_MODELS, else <var_dir>/models/risk."""
    env = os.environ.get("CLEARWAY_RISK_MODELS")
    if env:
        return Path(env)
    return Path(getattr(settings, "var_dir", "var")) / "models" / "risk"


def _rate(hits: int, total: int) -> float | None:
    return round(hits / total, 4) if total else None


def report(*, session: Session, since: date, until: date | None = None) -> dict[str, Any]:
    """Targeting figures over the decisions of the period: channel shares, red and yellow precision, the random
    sample's hit rate (the unbiased baseline), weekly hit rates per profile, and the model versions used."""
    from clearway.risk.registry import ModelRegistry

    start, end = _day_bounds(since, until)
    decisions = session.execute(
        select(
            ChannelDecisionRecord.declaration_id,
            ChannelDecisionRecord.channel,
            ChannelDecisionRecord.random_selection,
            ChannelDecisionRecord.model_version,
        )
        .where(ChannelDecisionRecord.decided_at >= start, ChannelDecisionRecord.decided_at < end)
        .order_by(ChannelDecisionRecord.id)
    ).all()
    latest: dict[str, tuple[str, bool, str | None]] = {}
    for decl_id, channel, random_selection, model_version in decisions:
        latest[decl_id] = (channel, bool(random_selection), model_version)
    outcomes = _outcomes(session, latest)
    by_channel = {"green": 0, "yellow": 0, "red": 0}
    inspected = {"yellow": 0, "red": 0, "random": 0}
    found = {"yellow": 0, "red": 0, "random": 0}
    models: dict[str, int] = defaultdict(int)
    for decl_id, (channel, random_selection, model_version) in latest.items():
        by_channel[channel] = by_channel.get(channel, 0) + 1
        models[model_version or "none"] += 1
        groups = ([channel] if channel in inspected else []) + (["random"] if random_selection else [])
        if decl_id in outcomes:
            for group in groups:
                inspected[group] += 1
                found[group] += int(outcomes[decl_id])
    total = len(latest)
    hits = session.execute(
        select(RuleHitRecord.profile_id, RuleHitRecord.version, RuleHitRecord.declaration_id, RuleHitRecord.decided_at)
        .where(RuleHitRecord.decided_at >= start, RuleHitRecord.decided_at < end)
        .order_by(RuleHitRecord.id)
    ).all()
    hit_outcomes = _outcomes(session, {h[2] for h in hits})
    weekly: dict[tuple[str, int, str], list[int]] = defaultdict(lambda: [0, 0, 0])
    for pid, version, decl_id, at in hits:
        iso = at.isocalendar()
        cell = weekly[(pid, int(version), f"{iso.year}-W{iso.week:02d}")]
        cell[0] += 1
        if decl_id in hit_outcomes:
            cell[1] += 1
            cell[2] += int(hit_outcomes[decl_id])
    names = dict(session.execute(select(RiskProfile.profile_id, RiskProfile.name).distinct()).all())
    settings = session.info.get("settings")
    registry = ModelRegistry(registry_root(settings))
    return {
        "since": start.date().isoformat(),
        "until": (end - timedelta(days=1)).date().isoformat(),
        "declarations": total,
        "channels": {c: {"declarations": n, "share": _rate(n, total)} for c, n in by_channel.items()},
        "red": {
            "inspected": inspected["red"],
            "with_findings": found["red"],
            "precision": _rate(found["red"], inspected["red"]),
        },
        "yellow": {
            "inspected": inspected["yellow"],
            "with_findings": found["yellow"],
            "precision": _rate(found["yellow"], inspected["yellow"]),
        },
        "random": {
            "inspected": inspected["random"],
            "with_findings": found["random"],
            "hit_rate": _rate(found["random"], inspected["random"]),
        },
        "profiles": [
            {
                "profile_id": pid,
                "version": version,
                "name": names.get(pid),
                "week": week,
                "hits": cell[0],
                "inspected": cell[1],
                "with_findings": cell[2],
                "hit_rate": _rate(cell[2], cell[1]),
            }
            for (pid, version, week), cell in sorted(weekly.items())
        ],
        "model_versions_used": dict(models),
        "model_version_active": registry.active_version() or "shipped-demo",
    }


# --------------------------------------------------------------------------------------------------- retraining

SHIPPED_TRAINING_DATA = Path(__file__).with_name("shipped") / "kcs_train.csv.gz"
Progress = Callable[[str], None]


def inspected_records(*, session: Session) -> tuple[list[Any], list[int]]:
    """Clearway's own inspected declarations as model records (one per goods item) and their fraud labels.

    Fraud = a control result with outcome fraud, or a discrepancy that brought additional revenue.
    """
    from clearway.risk.features import records_from_declaration

    labels: dict[str, bool] = {}
    for decl_id, outcome, revenue in session.execute(
        select(ControlResult.declaration_id, ControlResult.outcome, ControlResult.additional_revenue)
    ):
        fraud = outcome == "fraud" or (outcome == "discrepancy" and (revenue or Decimal(0)) > 0)
        labels[decl_id] = labels.get(decl_id, False) or fraud
    records: list[Any] = []
    fraud_labels: list[int] = []
    ids = list(labels)
    for start in range(0, len(ids), 500):
        for decl in session.scalars(select(Declaration).where(Declaration.id.in_(ids[start : start + 500]))):
            doc = dict(decl.document, id=decl.id, accepted_at=(decl.accepted_at or decl.submitted_at).isoformat())
            items = records_from_declaration(doc)
            records.extend(items)
            fraud_labels.extend([int(labels[decl.id])] * len(items))
    return records, fraud_labels


def retrain(
    *,
    session: Session,
    registry_dir: Path,
    base_data: Path | None = SHIPPED_TRAINING_DATA,
    params: Any = None,
    progress: Progress = lambda _m: None,
) -> dict[str, Any]:
    """Trains a model on the base data (the shipped KCS training set) plus Clearway's inspected declarations,
    registers it and makes it active. Returns what was done."""
    import pandas as pd

    from clearway.risk.features import records_to_frame
    from clearway.risk.kcs import read_kcs
    from clearway.risk.model import train
    from clearway.risk.registry import ModelRegistry

    frames, fraud, critical = [], [], []
    base_rows = 0
    if base_data is not None:
        progress(f"reading the base training data {base_data.name}")
        source = read_kcs(base_data)
        if source.fraud is None:
            raise InvalidInput(f"{base_data} has no Fraud column", errors=[field_error("data", "no labels")])
        frames.append(source.frame)
        fraud.extend(int(v) for v in source.fraud)
        critical.extend(int(v) for v in source.critical)
        base_rows = len(source.frame)
    progress("collecting Clearway's inspected declarations")
    own, own_fraud = inspected_records(session=session)
    if own:
        frames.append(records_to_frame(own))
        fraud.extend(own_fraud)
        critical.extend([0] * len(own))
    if not frames:
        raise InvalidInput("nothing to train on", errors=[field_error("data", "no base data and no inspections")])
    frame = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
    model = train(frame, fraud, critical, params=params, progress=progress)
    model.metadata["source"] = {
        "base": str(base_data.name) if base_data else None,
        "base_rows": base_rows,
        "clearway_rows": len(own),
        "clearway_frauds": int(sum(own_fraud)),
    }
    progress("registering the new version")
    registry = ModelRegistry(registry_dir)
    version = registry.register(model, activate=True)
    return {
        "version": version,
        "rows": len(frame),
        "base_rows": base_rows,
        "clearway_rows": len(own),
        "clearway_frauds": int(sum(own_fraud)),
        "fraud_rate": model.metadata["fraud_rate"],
        "registry": str(registry.root),
    }
