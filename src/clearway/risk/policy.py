"""Channel policy: rule hits, random selection and model scores → green / yellow / red, within an inspection budget.

Order of evaluation, as in ASYCUDA: selectivity profile hits first (strongest hit wins), then the random
quality-control quotas, then a top-up by model score towards the office's expected rates, else green.
`decide` is pure and deterministic: its randomness is a hash of the declaration key and the policy seed, and the
budget is read from a `PolicyState` that the caller updates with `PolicyState.record` after each decision.

Budget: each channel has a token bucket that fills by the expected rate per declaration (5% → 0.05 a
declaration) up to `burst`. A budgeted selection (non-mandatory profile hit, score top-up) needs a whole token;
random selections and mandatory hits always apply and take a token even into debt (down to `-max_debt`), so
over any stream the budgeted selections stay within `expected rate × declarations + initial tokens`. The score
top-up leaves `rule_reserve` tokens untouched so that profile hits are not starved by it.
"""

from __future__ import annotations

import hashlib
import math
from bisect import bisect_left, insort
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, fields
from datetime import datetime, timedelta
from decimal import Decimal
from functools import cached_property
from types import MappingProxyType
from typing import Any, Literal

from clearway.errors import Conflict, InvalidInput, field_error
from clearway.risk.rules import CHANNEL_SEVERITY, RuleHit, hit_order

Channel = Literal["green", "yellow", "red"]
Cause = Literal["mandatory_rule", "rule", "release_rule", "random", "score", "default"]
BUDGETED = ("red", "yellow")


@dataclass(frozen=True)
class ModelScore:
    """The risk model's output for one declaration."""

    probability: float
    model_version: str
    value_at_risk: Decimal | None = None


@dataclass(frozen=True)
class PolicyConfig:
    """One office's channel policy. Rates are percentages of declarations (5.0 = 5%).

    mode "quota": the score top-up selects the top-scoring share of declarations needed to reach the expected
    rates, using the distribution of recent scores (rank-based); the fixed thresholds apply only while fewer than
    `min_window` scores have been seen. mode "threshold": fixed score thresholds, still capped by the budget.
    rank_by "expected_value" ranks by probability × value at risk (thresholds are then in currency units).
    Trusted traders: random rates are multiplied by `trusted_random_factor`, their ranking key by
    `trusted_score_factor` (which raises the effective threshold), and non-mandatory profiles with a priority
    below `trusted_rule_exemption_below_priority` are ignored for them (0 = no exemption).
    """

    version: str = "1"
    seed: str = "clearway"
    red_expected_pct: float = 5.0
    yellow_expected_pct: float = 10.0
    red_random_pct: float = 1.0
    yellow_random_pct: float = 2.0
    mode: Literal["quota", "threshold"] = "quota"
    rank_by: Literal["probability", "expected_value"] = "probability"
    red_score_threshold: float = 0.9
    yellow_score_threshold: float = 0.7
    trusted_random_factor: float = 0.5
    trusted_score_factor: float = 0.5
    trusted_rule_exemption_below_priority: int = 0
    rule_hits_within_budget: bool = True
    window: int = 1000
    min_window: int = 100
    burst: float = 10.0
    rule_reserve: float = 3.0
    max_debt: float = 20.0

    def __post_init__(self) -> None:
        errors = _config_errors(self)
        if errors:
            raise InvalidInput(f"The channel policy has {len(errors)} error(s).", errors=errors)

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> PolicyConfig:
        """A configuration from JSON; unknown keys are errors."""
        known = {f.name for f in fields(cls)}
        unknown = [field_error(k, "unknown policy parameter") for k in data if k not in known]
        if unknown:
            raise InvalidInput("The channel policy has unknown parameters.", errors=unknown)
        return cls(**dict(data))

    def initial_tokens(self) -> float:
        """Tokens at the start of a stream: enough for one rule hit plus the rule reserve."""
        return min(self.burst, 1.0 + self.rule_reserve)

    def expected_rate(self, channel: str) -> float:
        return (self.red_expected_pct if channel == "red" else self.yellow_expected_pct) / 100.0

    def params(self) -> Mapping[str, Any]:
        """The parameters as a read-only mapping, computed once (stored with every decision)."""
        return self._params

    @cached_property
    def _params(self) -> Mapping[str, Any]:
        # The seed is a secret (whoever knows it can predict the random selection): store only its fingerprint.
        params = asdict(self)
        params["seed"] = "sha256:" + hashlib.sha256(self.seed.encode()).hexdigest()[:16]
        return MappingProxyType(params)


def _config_errors(c: PolicyConfig) -> list[dict[str, str]]:
    errors = []

    def need(ok: bool, name: str, reason: str) -> None:
        if not ok:
            errors.append(field_error(name, reason))

    for name in ("red_expected_pct", "yellow_expected_pct", "red_random_pct", "yellow_random_pct"):
        value = getattr(c, name)
        need(
            isinstance(value, int | float) and not isinstance(value, bool) and 0 <= value <= 100,
            name,
            "expected a percentage between 0 and 100",
        )
    if not errors:
        need(c.red_random_pct <= c.red_expected_pct, "red_random_pct", "exceeds red_expected_pct")
        need(c.yellow_random_pct <= c.yellow_expected_pct, "yellow_random_pct", "exceeds yellow_expected_pct")
        need(
            c.red_expected_pct + c.yellow_expected_pct <= 100,
            "yellow_expected_pct",
            "red and yellow expected rates add up to more than 100%",
        )
    need(c.mode in ("quota", "threshold"), "mode", "expected 'quota' or 'threshold'")
    need(c.rank_by in ("probability", "expected_value"), "rank_by", "expected 'probability' or 'expected_value'")
    high = 1.0 if c.rank_by == "probability" else math.inf
    for name in ("red_score_threshold", "yellow_score_threshold"):
        value = getattr(c, name)
        need(
            isinstance(value, int | float) and 0 <= value <= high,
            name,
            "expected a probability between 0 and 1" if high == 1.0 else "expected a non-negative amount",
        )
    if not errors:
        need(
            c.yellow_score_threshold <= c.red_score_threshold, "yellow_score_threshold", "is above red_score_threshold"
        )
    for name in ("trusted_random_factor", "trusted_score_factor"):
        value = getattr(c, name)
        need(isinstance(value, int | float) and 0 <= value <= 1, name, "expected a factor between 0 and 1")
    need(isinstance(c.window, int) and c.window >= 10, "window", "expected at least 10 recent declarations")
    need(
        isinstance(c.min_window, int) and isinstance(c.window, int) and 1 <= c.min_window <= c.window,
        "min_window",
        "expected between 1 and window",
    )
    need(isinstance(c.burst, int | float) and c.burst >= 1, "burst", "expected at least 1 inspection")
    need(isinstance(c.max_debt, int | float) and c.max_debt >= 0, "max_debt", "expected zero or more")
    need(
        isinstance(c.rule_reserve, int | float) and 0 <= c.rule_reserve <= c.burst - 1
        if isinstance(c.burst, int | float)
        else False,
        "rule_reserve",
        "expected between 0 and burst - 1",
    )
    need(isinstance(c.seed, str) and bool(c.seed), "seed", "expected a non-empty string")
    need(isinstance(c.version, str) and bool(c.version), "version", "expected a non-empty string")
    return errors


def uniform(seed: str, key: str) -> float:
    """A deterministic draw in [0, 1) from the policy seed and the declaration key."""
    digest = hashlib.sha256(f"{seed}\x1f{key}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2.0**64


class PolicyState:
    """Running budget of one office: token buckets, recent ranking keys and recent causes of selection.

    The caller owns it, persists it (`to_dict` / `from_dict`) and calls `record` after each decision, in order.
    """

    def __init__(self, config: PolicyConfig) -> None:
        self.config = config
        self.tokens = {c: config.initial_tokens() for c in BUDGETED}
        self.forgiven = {c: 0.0 for c in BUDGETED}
        self._keys: deque[float] = deque()
        self._sorted_keys: list[float] = []
        self._recent: deque[str | None] = deque()  # channel chosen by anything but the score, else None
        self._recent_counts = {c: 0 for c in BUDGETED}
        self.decisions = 0
        self.by_channel = {"green": 0, "yellow": 0, "red": 0}
        self.overruns = 0

    def available(self, channel: str) -> float:
        """Tokens available to this declaration (this declaration's accrual included)."""
        return min(self.config.burst, self.tokens[channel] + self.config.expected_rate(channel))

    def recent_nonscore_share(self, channel: str) -> float:
        return self._recent_counts[channel] / len(self._recent) if self._recent else 0.0

    def scores_seen(self) -> int:
        return len(self._sorted_keys)

    def upper_quantile(self, share: float) -> float:
        """The smallest key among the top `share` of recent keys (inf when share is 0)."""
        n = len(self._sorted_keys)
        if share <= 0 or n == 0:
            return math.inf
        k = min(n, math.ceil(share * n))
        return self._sorted_keys[n - k]

    def record(self, decision: ChannelDecision) -> None:
        """Account for a decision that was issued (call once per decision, in order)."""
        for c in BUDGETED:
            tokens = self.available(c) - (1.0 if decision.channel == c else 0.0)
            if tokens < -self.config.max_debt:
                self.forgiven[c] += -self.config.max_debt - tokens
                tokens = -self.config.max_debt
            self.tokens[c] = tokens
        if decision.rank_key is not None:
            self._keys.append(decision.rank_key)
            insort(self._sorted_keys, decision.rank_key)
            if len(self._keys) > self.config.window:
                old = self._keys.popleft()
                del self._sorted_keys[bisect_left(self._sorted_keys, old)]
        marker = decision.channel if decision.cause != "score" and decision.channel in BUDGETED else None
        self._recent.append(marker)
        if marker:
            self._recent_counts[marker] += 1
        if len(self._recent) > self.config.window:
            old_marker = self._recent.popleft()
            if old_marker:
                self._recent_counts[old_marker] -= 1
        self.decisions += 1
        self.by_channel[decision.channel] += 1
        self.overruns += int(decision.budget_overrun)

    def to_dict(self) -> dict[str, Any]:
        return {
            "policy_version": self.config.version,
            "tokens": dict(self.tokens),
            "forgiven": dict(self.forgiven),
            "keys": list(self._keys),
            "recent": list(self._recent),
            "decisions": self.decisions,
            "by_channel": dict(self.by_channel),
            "overruns": self.overruns,
        }

    @classmethod
    def from_dict(cls, config: PolicyConfig, data: Mapping[str, Any]) -> PolicyState:
        state = cls(config)
        state.tokens = {c: float(data["tokens"][c]) for c in BUDGETED}
        state.forgiven = {c: float(data["forgiven"][c]) for c in BUDGETED}
        for key in list(data["keys"])[-config.window :]:
            state._keys.append(float(key))
            insort(state._sorted_keys, float(key))
        for marker in list(data["recent"])[-config.window :]:
            state._recent.append(marker)
            if marker:
                state._recent_counts[marker] += 1
        state.decisions = int(data["decisions"])
        state.by_channel = {k: int(v) for k, v in data["by_channel"].items()}
        state.overruns = int(data["overruns"])
        return state


@dataclass(frozen=True)
class ChannelDecision:
    """The channel given to a declaration and everything needed to explain and audit it."""

    declaration_key: str
    channel: Channel
    cause: Cause
    reasons: tuple[str, ...]
    rule_hits: tuple[RuleHit, ...]
    score: float | None
    model_version: str | None
    value_at_risk: Decimal | None
    rank_key: float | None
    random_selection: bool
    random_channel: Channel | None
    random_inclusion_probability: float
    trusted_trader: bool
    budget_overrun: bool
    budget_limited: bool
    thresholds: Mapping[str, float | None]
    policy_version: str
    policy_params: Mapping[str, Any] = field(repr=False)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready record for storage with the declaration."""
        return {
            "declaration_key": self.declaration_key,
            "channel": self.channel,
            "cause": self.cause,
            "reasons": list(self.reasons),
            "rule_hits": [h.to_dict() for h in self.rule_hits],
            "score": self.score,
            "model_version": self.model_version,
            "value_at_risk": None if self.value_at_risk is None else str(self.value_at_risk),
            "rank_key": self.rank_key,
            "random_selection": self.random_selection,
            "random_channel": self.random_channel,
            "random_inclusion_probability": self.random_inclusion_probability,
            "trusted_trader": self.trusted_trader,
            "budget_overrun": self.budget_overrun,
            "budget_limited": self.budget_limited,
            "thresholds": {k: (None if v is None or math.isinf(v) else v) for k, v in self.thresholds.items()},
            "policy_version": self.policy_version,
            "policy_params": dict(self.policy_params),
        }


def _pct(x: float) -> str:
    return f"{x * 100:.3g}%"


def _rank_key(score: ModelScore | None, config: PolicyConfig) -> float | None:
    if score is None:
        return None
    if config.rank_by == "expected_value":
        return score.probability * float(score.value_at_risk or 0)
    return float(score.probability)


def _thresholds(state: PolicyState, config: PolicyConfig) -> tuple[dict[str, float], dict[str, float] | None]:
    """Red and yellow thresholds on the ranking key, and in quota mode the top shares they stand for."""
    if config.mode == "threshold" or state.scores_seen() < config.min_window:
        return {"red": config.red_score_threshold, "yellow": config.yellow_score_threshold}, None
    taken = {c: state.recent_nonscore_share(c) for c in BUDGETED}
    free = max(1e-9, 1.0 - taken["red"] - taken["yellow"])
    # Top-up shares among the declarations nothing else selected, so that the totals reach the expected rates;
    # unused tokens (capacity left idle recently) raise the share a little so the budget is actually spent.
    horizon = config.window / 4
    want = {c: config.expected_rate(c) - taken[c] + max(0.0, state.tokens[c] - 1.0) / horizon for c in BUDGETED}
    q_red = min(1.0, max(0.0, want["red"]) / free)
    q_yellow = min(1.0 - q_red, max(0.0, want["yellow"]) / free)
    shares = {"red": q_red, "yellow": q_red + q_yellow}
    return {c: state.upper_quantile(q) for c, q in shares.items()}, shares


def decide(
    *,
    declaration_key: str,
    rule_hits: Sequence[RuleHit],
    score: ModelScore | None,
    trusted_trader: bool,
    config: PolicyConfig,
    state: PolicyState,
) -> ChannelDecision:
    """The channel of one declaration. Pure: reads `state` but does not change it (call `state.record`)."""
    if not declaration_key:
        raise InvalidInput(
            "A declaration key is required for the random selection.",
            errors=[field_error("declaration_key", "required")],
        )
    hits = tuple(sorted(rule_hits, key=hit_order))
    reasons: list[str] = []
    available = {c: state.available(c) for c in BUDGETED}
    overrun = limited = False

    # Random quality-control draw: made for every declaration so the random sample stays unbiased.
    factor = config.trusted_random_factor if trusted_trader else 1.0
    p_red, p_yellow = config.red_random_pct / 100 * factor, config.yellow_random_pct / 100 * factor
    draw = uniform(config.seed, declaration_key)
    random_channel: Channel | None = "red" if draw < p_red else "yellow" if draw < p_red + p_yellow else None

    # 1. Selectivity profiles.
    considered = [
        h
        for h in hits
        if h.mandatory or not trusted_trader or h.priority >= config.trusted_rule_exemption_below_priority
    ]
    if trusted_trader and len(considered) < len(hits):
        reasons.append(f"Trusted trader: {len(hits) - len(considered)} low-priority profile hit(s) waived.")
    channel: Channel = "green"
    cause: Cause = "default"
    if considered:
        winner = considered[0]
        label = (
            "Mandatory selectivity profile"
            if winner.mandatory
            else ("Release profile" if winner.kind == "release" else "Selectivity profile")
        )
        reasons.append(
            f"{label} '{winner.name}' (version {winner.version}, priority {winner.priority}) routes to "
            f"{winner.channel}: {winner.reason}"
        )
        channel = winner.channel
        cause = "mandatory_rule" if winner.mandatory else "release_rule" if winner.channel == "green" else "rule"
        if winner.mandatory and available[channel] < 1:
            overrun = True
            reasons.append(f"This exceeds the office's {channel} inspection budget; mandatory profiles always apply.")
        elif cause == "rule" and config.rule_hits_within_budget and available[channel] < 1:
            limited = True
            wanted = channel
            channel = "yellow" if channel == "red" and available["yellow"] >= 1 else "green"
            reasons.append(
                f"The office's {wanted} inspection budget is used up for now, so the declaration goes "
                f"to {channel} instead (the profile hit is recorded)."
            )
        for other in considered[1:]:
            reasons.append(
                f"Profile '{other.name}' (version {other.version}) also hit ({other.channel}): {other.reason}"
            )

    # 2. Random quotas.
    if random_channel is not None:
        rate = p_red if random_channel == "red" else p_yellow
        trusted_note = " for trusted traders" if trusted_trader else ""
        reasons.append(
            f"Selected at random for {random_channel} (quality-control sample of {_pct(rate)}{trusted_note})."
        )
        if CHANNEL_SEVERITY[random_channel] > CHANNEL_SEVERITY[channel]:
            channel, cause = random_channel, "random"

    # 3. Top-up by model score towards the expected rates.
    key = _rank_key(score, config)
    thresholds, shares = _thresholds(state, config)
    if score is None:
        reasons.append("No model score was available.")
    elif cause == "default" and not limited:
        effective = key * (config.trusted_score_factor if trusted_trader else 1.0)  # type: ignore[operator]
        adjusted = " after the trusted-trader adjustment" if trusted_trader else ""
        for c in BUDGETED:
            if effective >= thresholds[c] and available[c] >= 1 + config.rule_reserve:
                channel, cause = c, "score"  # type: ignore[assignment]
                if shares is None:
                    basis = f"is at or above the {c} threshold {thresholds[c]:.3g}{adjusted}"
                else:
                    basis = (
                        f"is in the top {_pct(shares[c])} of recent scores{adjusted} "
                        f"(the {c} quota to reach the expected rate)"
                    )
                reasons.append(f"Model {score.model_version} risk score {score.probability:.2f} {basis}.")
                break
        else:
            if effective >= thresholds["yellow"]:
                reasons.append(
                    f"Model {score.model_version} risk score {score.probability:.2f} would select the "
                    "declaration, but the inspection budget is used up for now."
                )
    if channel == "green" and cause == "default":
        reasons.append("No selectivity profile, random selection or risk score selected the declaration.")
    if trusted_trader and cause != "default":
        reasons.append("The declarant is a trusted trader (reduced random rate, higher score threshold).")

    inclusion = p_red if random_channel == "red" else p_yellow if random_channel == "yellow" else 0.0
    return ChannelDecision(
        declaration_key=declaration_key,
        channel=channel,
        cause=cause,
        reasons=tuple(reasons),
        rule_hits=hits,
        score=None if score is None else float(score.probability),
        model_version=None if score is None else score.model_version,
        value_at_risk=None if score is None else score.value_at_risk,
        rank_key=key,
        random_selection=random_channel is not None,
        random_channel=random_channel,
        random_inclusion_probability=inclusion,
        trusted_trader=trusted_trader,
        budget_overrun=overrun,
        budget_limited=limited,
        thresholds=thresholds,
        policy_version=config.version,
        policy_params=config.params(),
    )


# --------------------------------------------------------------------------------------------------- re-routing


@dataclass(frozen=True)
class RerouteRecord:
    """An officer's change of channel, kept with the declaration's history."""

    declaration_key: str
    from_channel: Channel
    to_channel: Channel
    direction: Literal["upgrade", "downgrade"]
    reason: str
    officer_id: str
    at: datetime
    original_cause: Cause
    breaks_random_sample: bool

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["at"] = self.at.isoformat()
        return data


MIN_REASON_LENGTH = 10


def reroute(
    decision: ChannelDecision, *, to: str, reason: str, officer_id: str, at: datetime, from_channel: str | None = None
) -> RerouteRecord:
    """Validate an officer's re-routing of a declaration and produce the record to store.

    `from_channel` is the current channel when the declaration was already re-routed (default: the decision's).
    A reason is always required. A declaration selected by a mandatory profile cannot go below that profile's
    channel. Downgrading a random selection is allowed but flagged, as it weakens the unbiased sample.
    """
    current = from_channel or decision.channel
    errors = []
    if to not in CHANNEL_SEVERITY:
        errors.append(field_error("to", f"unknown channel {to!r}; expected green, yellow or red"))
    elif to == current:
        errors.append(field_error("to", f"the declaration is already {current}"))
    if not isinstance(reason, str) or len(reason.strip()) < MIN_REASON_LENGTH:
        errors.append(
            field_error(
                "reason",
                f"give the reason for the re-routing (at least {MIN_REASON_LENGTH} "
                "characters); it is shown in the declaration's history",
            )
        )
    if not isinstance(officer_id, str) or not officer_id.strip():
        errors.append(field_error("officer_id", "required"))
    if not isinstance(at, datetime) or at.tzinfo is None or at.utcoffset() != timedelta(0):
        errors.append(field_error("at", "expected a timezone-aware UTC time"))
    if errors:
        raise InvalidInput("The re-routing is not valid.", errors=errors)
    mandatory = [h for h in decision.rule_hits if h.mandatory]
    floor = max((CHANNEL_SEVERITY[h.channel] for h in mandatory), default=0)
    if CHANNEL_SEVERITY[to] < floor:
        names = ", ".join(f"'{h.name}'" for h in mandatory)
        raise Conflict(
            f"Mandatory selectivity profile {names} requires at least "
            f"{'red' if floor == 2 else 'yellow'}; the declaration cannot be routed to {to}.",
            errors=[field_error("to", "below the channel of a mandatory profile")],
        )
    direction: Literal["upgrade", "downgrade"] = (
        "upgrade" if CHANNEL_SEVERITY[to] > CHANNEL_SEVERITY[current] else "downgrade"
    )
    breaks = (
        decision.random_selection
        and direction == "downgrade"
        and decision.random_channel is not None
        and (CHANNEL_SEVERITY[to] < CHANNEL_SEVERITY[decision.random_channel])
    )
    return RerouteRecord(
        decision.declaration_key,
        current,
        to,
        direction,
        reason.strip(),  # type: ignore[arg-type]
        officer_id.strip(),
        at,
        decision.cause,
        breaks,
    )
