"""Risk assessment of one accepted declaration: the channel, and the reasons an officer reads.

Active selectivity profiles (with the named lists and facts such as value per kg against the HS median), the risk
model's score (the active registered version, else the shipped demo model), then the office's channel policy under
its inspection budget. Every decision is stored (`channel_decisions`) in the assessment's transaction.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session

from clearway.declarations.domain import Channel
from clearway.declarations.models import Declaration
from clearway.errors import ClearwayError
from clearway.risk import rules
from clearway.risk import service as risk
from clearway.risk.policy import ModelScore

TRIGGER_WORDS = {"CONTROL-RED": Channel.RED, "CONTROL-YELLOW": Channel.YELLOW}


@dataclass
class ChannelDecision:
    """The outcome of risk assessment for one declaration."""

    channel: Channel
    reasons: list[str]
    details: dict[str, Any] = field(default_factory=dict)


# --------------------------------------------------------------------------------------------------- the model

_model_lock = threading.Lock()
_model_cache: dict[tuple[str, str | None], Any] = {}


def active_model(settings: Any) -> Any:
    """The active risk model (or the shipped one), loaded once per process and version; thread-safe.

    The registry's active pointer is read on every call, so activating or rolling back a version takes effect on the
    next assessment without a restart.
    """
    from clearway.risk.registry import ModelRegistry, load_shipped

    registry = ModelRegistry(risk.registry_root(settings))
    version = registry.active_version()
    key = (str(registry.root), version)
    model = _model_cache.get(key)
    if model is None:
        with _model_lock:
            model = _model_cache.get(key)
            if model is None:
                model = registry.load(version) if version else load_shipped()
                _model_cache.clear()  # keep one model in memory
                _model_cache[key] = model
    return model


def _model_label(model: Any) -> str:
    return str(model.version or model.metadata.get("version") or "shipped-demo")


def _score(settings: Any, declaration: Declaration) -> tuple[Any, list[Any], list[Any]]:
    """(model, per-item scores, records) — or (None, [], []) when the declaration cannot be scored."""
    from clearway.risk.features import records_from_declaration

    model = active_model(settings)
    when = declaration.accepted_at or declaration.submitted_at
    records = records_from_declaration(dict(declaration.document, id=declaration.id, accepted_at=when.isoformat()))
    return model, model.score(records), records


def _item_facts(model: Any, records: list[Any], scores: list[Any]) -> list[dict[str, Any]]:
    facts = []
    for record, score in zip(records, scores, strict=True):
        item: dict[str, Any] = {"score": round(score.probability, 6)}
        median = model.builder.hs_median_ppk(record.hs_code) if record.hs_code else None
        if median and record.net_mass_kg > 0 and math.isfinite(record.item_price):
            item["value_per_kg_ratio_to_hs_median"] = round(record.item_price / record.net_mass_kg / median, 6)
        facts.append(item)
    return facts


def _model_reason(label: str, probability: float, value_at_risk: Any, currency: str, factors: list[str]) -> str:
    reason = (
        f"Risk model {label} estimates a {probability:.0%} fraud probability "
        f"(value at risk {value_at_risk} {currency})."
    )
    if factors:
        reason += " Main factors: " + "; ".join(factors) + "."
    return reason


def _misclassification(declaration: Declaration, context: dict[str, Any]) -> list[str]:
    """Flags goods items whose declared code is far from what their description suggests; returns the sentences.

    The flag is the item fact `misclassification_suspected` that profiles can test; the sentence names the
    suggested codes for the officer.
    """
    from clearway.classification.service import check_declared_code

    items = context.setdefault("items", [{} for _ in declaration.document["goods_items"]])
    sentences = []
    for facts, item in zip(items, declaration.document["goods_items"], strict=False):
        check = check_declared_code(item["description"], item["hs_code"])
        facts["misclassification_suspected"] = check is not None
        if check is not None:
            facts["suggested_codes"] = list(check.suggested_codes)
            sentences.append(f"Goods item {item['sequence']}: possible misclassification. {check.message}")
    return sentences


# --------------------------------------------------------------------------------------------------- the decision


def decide_channel(*, session: Session, declaration: Declaration) -> ChannelDecision:
    """Chooses the channel: active selectivity profiles, the risk model's score, the office's policy and budget.

    Outside production, a trigger word in a goods description forces a channel (as CDS's trader test environment
    does), so every path can be demonstrated and tested.
    """
    settings = session.info.get("settings")
    if settings is None or settings.environment != "production":
        for item in declaration.document["goods_items"]:
            for word, channel in TRIGGER_WORDS.items():
                if word in item["description"].upper():
                    reason = f"test trigger word {word} in goods item {item['sequence']}'s description"
                    record = risk.store_forced_decision(
                        session=session,
                        declaration=declaration,
                        channel=channel.value,
                        reasons=[reason],
                        cause="trigger_word",
                    )
                    return ChannelDecision(channel, [reason], {"trigger_word": word, "decision_id": record.id})
    return assess(session=session, declaration=declaration, settings=settings)


def assess(*, session: Session, declaration: Declaration, settings: Any) -> ChannelDecision:
    """The full assessment (no trigger words): profiles, model, policy; the decision is stored."""
    doc = risk.rules_document(declaration)
    currency = (doc.get("invoice") or {}).get("currency", "")
    try:
        model, scores, records = _score(settings, declaration)
    except ClearwayError:  # no usable model, or goods the model cannot read: the profiles and the policy still run
        model, scores, records = None, [], []
    model_score = None
    factors: list[str] = []
    context: dict[str, Any] = {}
    if scores:
        top = max(scores, key=lambda s: s.risk_score)
        value_at_risk = sum((s.value_at_risk for s in scores), start=type(top.value_at_risk)(0))
        factors = list(top.factors)
        model_score = ModelScore(float(top.probability), _model_label(model), value_at_risk)
        context.update(score=round(top.probability, 6), value_at_risk=str(value_at_risk))
        context["items"] = _item_facts(model, records, scores)
    if settings is None or settings.misclassification_check:
        reasons_misclassified = _misclassification(declaration, context)
    else:
        reasons_misclassified = []
    lists = risk.current_lists(session=session)
    parties = ((doc.get("importer") or {}).get("eori"), (doc.get("declarant") or {}).get("eori"))
    eoris = {rules.normalize_text(e, "code") for e in parties if e}
    aeo = lists.exact(risk.TRUSTED_TRADERS_LIST) if risk.TRUSTED_TRADERS_LIST in lists.names() else frozenset()
    trusted = bool(eoris & aeo)
    context["trusted_trader"] = trusted
    profiles = risk.active_profiles(session=session)
    if any(risk.uses_field(p, "context.prior_findings") for p in profiles):  # a query: only when a profile asks
        context["prior_findings"] = risk.prior_findings(
            session=session, importer_eori=declaration.importer_eori, exclude=declaration.id
        )
    day = (declaration.accepted_at or declaration.submitted_at).date()
    hits = rules.evaluate_profiles(doc, context, profiles, lists, on=day)
    decision = risk.decide_under_budget(
        session=session,
        office=declaration.office_of_lodgement,
        declaration_key=declaration.mrn or declaration.id,
        rule_hits=hits,
        score=model_score,
        trusted_trader=trusted,
    )
    reasons = list(decision.reasons) + reasons_misclassified
    if model_score is not None:
        reasons.append(
            _model_reason(
                model_score.model_version, model_score.probability, model_score.value_at_risk, currency, factors
            )
        )
    decision_id = risk.store_decision(
        session=session, declaration=declaration, decision=decision, factors=factors, context=context, reasons=reasons
    )
    details = {
        "decision_id": decision_id,
        "cause": decision.cause,
        "score": decision.score,
        "model_version": decision.model_version,
        "rule_hits": [{"profile_id": h.profile_id, "version": h.version} for h in decision.rule_hits],
        "random_selection": decision.random_selection,
    }
    return ChannelDecision(Channel(decision.channel), reasons, details)
