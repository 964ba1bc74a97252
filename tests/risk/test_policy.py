"""Channel policy: budget respected over a stream, random rate respected, determinism, order, re-routing."""

from __future__ import annotations

import json
import math
import random
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from clearway.errors import Conflict, InvalidInput
from clearway.risk.policy import (
    BUDGETED,
    ChannelDecision,
    ModelScore,
    PolicyConfig,
    PolicyState,
    decide,
    reroute,
    uniform,
)
from clearway.risk.rules import RuleHit

NOW = datetime(2026, 3, 1, 9, 30, tzinfo=UTC)


def hit(
    pid: str = "R", channel: str = "red", priority: int = 50, mandatory: bool = False, kind: str = "selection"
) -> RuleHit:
    return RuleHit(pid, 1, f"profile {pid}", channel, priority, f"reason {pid}", mandatory, kind)  # type: ignore[arg-type]


Input = tuple[str, list[RuleHit], ModelScore, bool]


def make_inputs(
    n: int, *, seed: int, rule_rate: float = 0.0, mandatory_rate: float = 0.0, trusted_rate: float = 0.0
) -> list[Input]:
    """`n` synthetic declarations: key, rule hits, model score (skewed low, like fraud probabilities), trusted flag."""
    rng = random.Random(seed)
    out = []
    for i in range(n):
        u = rng.random()
        hits = []
        if u < mandatory_rate:
            hits = [hit("M", "red", 10, mandatory=True)]
        elif u < mandatory_rate + rule_rate:
            hits = [hit("R", rng.choice(["red", "yellow"]), 50)]
        out.append((f"26GB{i:012d}", hits, ModelScore(rng.betavariate(1.0, 4.0), "gbm-7"), rng.random() < trusted_rate))
    return out


def run(
    config: PolicyConfig, inputs: list[Input], state: PolicyState | None = None
) -> tuple[list[ChannelDecision], PolicyState]:
    """Feed declarations through the policy, checking the per-decision budget invariant."""
    state = state or PolicyState(config)
    out = []
    for key, hits, score, trusted in inputs:
        available = {c: state.available(c) for c in BUDGETED}
        decision = decide(
            declaration_key=key, rule_hits=hits, score=score, trusted_trader=trusted, config=config, state=state
        )
        budgeted = decision.cause == "score" or (decision.cause == "rule" and config.rule_hits_within_budget)
        if budgeted and decision.channel in BUDGETED:
            # A budgeted selection only happens when the office has capacity left for it.
            assert available[decision.channel] >= 1
        state.record(decision)
        out.append(decision)
    return out, state


def run_stream(config: PolicyConfig, n: int, *, seed: int, **kw: float) -> tuple[list[ChannelDecision], PolicyState]:
    return run(config, make_inputs(n, seed=seed, **kw))


def share(decisions: list[ChannelDecision], channel: str, causes: tuple[str, ...] | None = None) -> float:
    return sum(d.channel == channel and (causes is None or d.cause in causes) for d in decisions) / len(decisions)


# ----------------------------------------------------------------------------------------- configuration


def test_config_reports_every_error_with_its_parameter() -> None:
    with pytest.raises(InvalidInput) as exc:
        PolicyConfig(red_expected_pct=120, yellow_random_pct=30, mode="best", red_score_threshold=1.5, window=5)
    fields = {e["field"] for e in exc.value.errors}
    assert fields == {"red_expected_pct", "mode", "red_score_threshold", "window", "min_window"}
    with pytest.raises(InvalidInput) as exc:
        PolicyConfig(red_random_pct=6, red_expected_pct=5)
    assert [e["field"] for e in exc.value.errors] == ["red_random_pct"]
    with pytest.raises(InvalidInput) as exc:
        PolicyConfig.from_mapping({"red_expected_pct": 3, "colour": "red"})
    assert exc.value.errors == [{"field": "colour", "reason": "unknown policy parameter"}]
    assert PolicyConfig.from_mapping({"red_expected_pct": 3}).red_expected_pct == 3


def test_uniform_is_deterministic_in_range_and_seed_dependent() -> None:
    draws = [uniform("s", f"k{i}") for i in range(1000)]
    assert draws == [uniform("s", f"k{i}") for i in range(1000)]
    assert all(0 <= d < 1 for d in draws)
    assert draws != [uniform("t", f"k{i}") for i in range(1000)]


# ----------------------------------------------------------------------------------------- budget


@settings(max_examples=25, deadline=None)
@given(
    red=st.floats(1, 15),
    yellow=st.floats(1, 20),
    random_share=st.floats(0, 0.5),
    rule_rate=st.floats(0, 0.4),
    trusted_rate=st.floats(0, 0.5),
    mode=st.sampled_from(["quota", "threshold"]),
    seed=st.integers(0, 10_000),
)
def test_budget_respected_over_a_stream(
    red: float, yellow: float, random_share: float, rule_rate: float, trusted_rate: float, mode: str, seed: int
) -> None:
    config = PolicyConfig(
        seed=f"s{seed}",
        red_expected_pct=red,
        yellow_expected_pct=yellow,
        mode=mode,
        red_random_pct=red * random_share,
        yellow_random_pct=yellow * random_share,
        red_score_threshold=0.3,
        yellow_score_threshold=0.2,
        window=400,
        min_window=50,
    )
    n = 2000
    decisions, state = run_stream(config, n, seed=seed, rule_rate=rule_rate, trusted_rate=trusted_rate)
    for c in BUDGETED:
        rate = config.expected_rate(c)
        # Token accounting: every selection was paid for by the accrued budget (plus start tokens and any debt).
        selected = sum(d.channel == c for d in decisions)
        assert selected <= config.initial_tokens() + rate * n + state.forgiven[c] - state.tokens[c] + 1e-6
        # Random selections run at most at half the rate here, so the whole stream stays within budget.
        assert share(decisions, c) <= rate + 0.01


def test_mandatory_hits_always_apply_and_are_reported_as_overrun() -> None:
    config = PolicyConfig(red_expected_pct=2, red_random_pct=0.5, yellow_random_pct=1)
    decisions, state = run_stream(config, 600, seed=3, mandatory_rate=0.2)
    mandatory = [d for d in decisions if d.rule_hits and d.rule_hits[0].mandatory]
    assert mandatory and all(d.channel == "red" and d.cause == "mandatory_rule" for d in mandatory)
    overrun = [d for d in mandatory if d.budget_overrun]
    assert overrun and state.overruns == len(overrun)
    assert any("exceeds the office's red inspection budget" in r for d in overrun for r in d.reasons)
    # Non-mandatory selections still respect the budget under the overrun.
    assert share(decisions, "red", ("rule", "score")) <= 0.02


def test_rule_hits_over_budget_are_downgraded_unless_configured_otherwise() -> None:
    config = PolicyConfig(red_expected_pct=1, red_random_pct=0, yellow_random_pct=0, burst=2, rule_reserve=0)
    decisions, _ = run_stream(config, 300, seed=1, rule_rate=0.5)
    limited = [d for d in decisions if d.budget_limited]
    assert limited and all(d.channel in ("yellow", "green") and d.rule_hits for d in limited)
    assert all(any("budget is used up" in r for r in d.reasons) for d in limited)
    unlimited = replace(config, rule_hits_within_budget=False)
    decisions, _ = run_stream(unlimited, 300, seed=1, rule_rate=0.5)
    assert not any(d.budget_limited for d in decisions)
    assert all(d.channel == d.rule_hits[0].channel for d in decisions if d.cause == "rule")


@pytest.mark.parametrize(("mode", "red", "yellow"), [("quota", 5, 10), ("quota", 2, 5), ("quota", 10, 15)])
def test_score_top_up_fills_the_expected_rates(mode: str, red: float, yellow: float) -> None:
    config = PolicyConfig(
        mode=mode,
        red_expected_pct=red,
        yellow_expected_pct=yellow,
        red_random_pct=red / 5,
        yellow_random_pct=yellow / 5,
        window=500,
        min_window=100,
    )
    decisions, _ = run_stream(config, 4000, seed=11, rule_rate=0.02)
    steady = decisions[1000:]
    assert share(steady, "red") == pytest.approx(red / 100, abs=0.006)
    assert share(steady, "yellow") == pytest.approx(yellow / 100, abs=0.012)
    # The top-up goes to the highest scores: score-selected reds outrank the median green.
    red_scores = [d.score for d in steady if d.cause == "score" and d.channel == "red"]
    green_scores = sorted(d.score for d in steady if d.channel == "green")
    assert min(red_scores) >= green_scores[len(green_scores) // 2]


# ----------------------------------------------------------------------------------------- random rate


@settings(max_examples=20, deadline=None)
@given(red_pct=st.floats(0, 5), yellow_pct=st.floats(0, 8), trusted=st.booleans(), seed=st.text(min_size=1, max_size=8))
def test_random_rate_respected(red_pct: float, yellow_pct: float, trusted: bool, seed: str) -> None:
    config = PolicyConfig(
        seed=seed,
        red_expected_pct=10,
        yellow_expected_pct=15,
        red_random_pct=red_pct,
        yellow_random_pct=yellow_pct,
        trusted_random_factor=0.4,
    )
    state = PolicyState(config)
    n = 6000
    decisions = [
        decide(declaration_key=f"MRN{i}", rule_hits=[], score=None, trusted_trader=trusted, config=config, state=state)
        for i in range(n)
    ]
    factor = 0.4 if trusted else 1.0
    for channel, pct in (("red", red_pct), ("yellow", yellow_pct)):
        p = pct / 100 * factor
        observed = sum(d.random_channel == channel for d in decisions) / n
        tolerance = 5 * math.sqrt(p * (1 - p) / n) + 1e-9
        assert abs(observed - p) <= tolerance
        assert all(d.random_inclusion_probability == pytest.approx(p) for d in decisions if d.random_channel == channel)


def test_random_selection_is_independent_of_rules_and_scores() -> None:
    config = PolicyConfig(red_random_pct=2, yellow_random_pct=3, mode="threshold")
    state = PolicyState(config)
    keys = [f"K{i}" for i in range(3000)]
    plain = [
        decide(declaration_key=k, rule_hits=[], score=None, trusted_trader=False, config=config, state=state)
        for k in keys
    ]
    busy = [
        decide(
            declaration_key=k,
            rule_hits=[hit("M", mandatory=True)],
            score=ModelScore(0.99, "m"),
            trusted_trader=False,
            config=config,
            state=state,
        )
        for k in keys
    ]
    assert [d.random_channel for d in plain] == [d.random_channel for d in busy]
    # A random yellow on a red rule hit stays red; a random red on a yellow rule hit becomes red.
    selected_red = next(k for k, d in zip(keys, plain, strict=True) if d.random_channel == "red")
    d = decide(
        declaration_key=selected_red,
        rule_hits=[hit("Y", "yellow")],
        score=None,
        trusted_trader=False,
        config=config,
        state=state,
    )
    assert (d.channel, d.cause, d.random_selection) == ("red", "random", True)


# ----------------------------------------------------------------------------------------- determinism, order


@settings(max_examples=30, deadline=None)
@given(
    seed=st.integers(0, 1000),
    prefix=st.integers(0, 300),
    probability=st.floats(0, 1),
    trusted=st.booleans(),
    hits=st.permutations([hit("A", "yellow", 40), hit("B", "red", 40), hit("C", "red", 70)]),
)
def test_same_input_same_channel(
    seed: int, prefix: int, probability: float, trusted: bool, hits: list[RuleHit]
) -> None:
    config = PolicyConfig(seed="det", window=100, min_window=20)
    _, state_a = run_stream(config, prefix, seed=seed, rule_rate=0.1)
    _, state_b = run_stream(config, prefix, seed=seed, rule_rate=0.1)
    score = ModelScore(probability, "gbm-7")
    for chosen in ([], hits[:1], hits):
        a = decide(
            declaration_key="26GB1", rule_hits=chosen, score=score, trusted_trader=trusted, config=config, state=state_a
        )
        again = decide(
            declaration_key="26GB1", rule_hits=chosen, score=score, trusted_trader=trusted, config=config, state=state_a
        )
        b = decide(
            declaration_key="26GB1",
            rule_hits=list(reversed(chosen)),
            score=score,
            trusted_trader=trusted,
            config=config,
            state=state_b,
        )
        assert a == again == b
    if hits:
        assert a.rule_hits[0].profile_id == "C"  # highest priority first, whatever the input order


def test_state_round_trip_continues_identically() -> None:
    config = PolicyConfig(window=200, min_window=50)
    inputs = make_inputs(900, seed=5, rule_rate=0.05)
    straight, _ = run(config, inputs)
    first, state = run(config, inputs[:400])
    restored = PolicyState.from_dict(config, json.loads(json.dumps(state.to_dict())))
    assert restored.to_dict() == state.to_dict()
    second, _ = run(config, inputs[400:], state=restored)
    assert first + second == straight


def test_order_mandatory_then_priority_release_and_random() -> None:
    config = PolicyConfig(red_random_pct=0, yellow_random_pct=0, mode="threshold")
    state = PolicyState(config)
    score = ModelScore(0.99, "gbm-7")

    def channel_of(hits: list[RuleHit], trusted: bool = False) -> ChannelDecision:
        return decide(
            declaration_key="D", rule_hits=hits, score=score, trusted_trader=trusted, config=config, state=state
        )

    d = channel_of([hit("Y", "yellow", 90), hit("M", "red", 5, mandatory=True)])
    assert (d.channel, d.cause) == ("red", "mandatory_rule")
    d = channel_of([hit("Y", "yellow", 90), hit("R", "red", 60)])
    assert (d.channel, d.cause) == ("yellow", "rule")
    assert d.reasons[0].startswith("Selectivity profile 'profile Y' (version 1, priority 90) routes to yellow")
    assert "also hit (red)" in d.reasons[1]
    d = channel_of([hit("G", "green", 80, kind="release"), hit("R", "red", 60)])
    assert (d.channel, d.cause) == ("green", "release_rule")  # the whitelist outranks, and the score top-up is off
    d = channel_of([])
    assert (d.channel, d.cause, d.model_version, d.score) == ("red", "score", "gbm-7", 0.99)


def test_trusted_traders() -> None:
    config = PolicyConfig(
        mode="threshold",
        red_score_threshold=0.9,
        yellow_score_threshold=0.4,
        trusted_score_factor=0.5,
        trusted_rule_exemption_below_priority=30,
        red_random_pct=0,
        yellow_random_pct=0,
    )
    state = PolicyState(config)

    def d(hits: list[RuleHit], trusted: bool, p: float = 0.95) -> ChannelDecision:
        return decide(
            declaration_key="T",
            rule_hits=hits,
            score=ModelScore(p, "m"),
            trusted_trader=trusted,
            config=config,
            state=state,
        )

    assert d([], False).channel == "red"
    assert d([], True).channel == "yellow"  # 0.95 × 0.5 is below the red threshold, above the yellow one
    assert d([hit("L", "red", 20)], False).cause == "rule"
    waived = d([hit("L", "red", 20)], True, p=0.1)
    assert waived.channel == "green" and any("waived" in r for r in waived.reasons)
    assert d([hit("M", "red", 1, mandatory=True)], True).channel == "red"  # never exempt from a mandatory profile


def test_decision_record_is_json_ready() -> None:
    config = PolicyConfig()
    d = decide(
        declaration_key="26GB9",
        rule_hits=[hit()],
        score=ModelScore(0.5, "gbm-7"),
        trusted_trader=False,
        config=config,
        state=PolicyState(config),
    )
    record: dict[str, Any] = json.loads(json.dumps(d.to_dict()))
    assert record["rule_hits"][0]["profile_id"] == "R" and record["policy_version"] == "1"
    assert record["model_version"] == "gbm-7" and record["reasons"]
    assert record["policy_params"]["red_expected_pct"] == 5.0
    assert record["policy_params"]["seed"].startswith("sha256:") and config.seed not in json.dumps(record)
    with pytest.raises(InvalidInput):
        decide(
            declaration_key="", rule_hits=[], score=None, trusted_trader=False, config=config, state=PolicyState(config)
        )


# ----------------------------------------------------------------------------------------- re-routing


def decision(**kw: Any) -> ChannelDecision:
    config = PolicyConfig(red_random_pct=0, yellow_random_pct=0)
    base = decide(
        declaration_key="26GB7",
        rule_hits=[],
        score=None,
        trusted_trader=False,
        config=config,
        state=PolicyState(config),
    )
    return replace(base, **kw)


def test_reroute_requires_a_reason_and_records_the_change() -> None:
    red = decision(channel="red", cause="rule", rule_hits=(hit("R"),))
    record = reroute(
        red, to="green", reason="  Seal intact, goods match the X-ray image ", officer_id="officer-12", at=NOW
    )
    assert (record.from_channel, record.to_channel, record.direction) == ("red", "green", "downgrade")
    assert record.reason == "Seal intact, goods match the X-ray image" and record.original_cause == "rule"
    assert json.loads(json.dumps(record.to_dict()))["at"] == "2026-03-01T09:30:00+00:00"
    with pytest.raises(InvalidInput) as exc:
        reroute(red, to="red", reason="", officer_id=" ", at=NOW.replace(tzinfo=None))
    assert {e["field"] for e in exc.value.errors} == {"to", "reason", "officer_id", "at"}
    with pytest.raises(InvalidInput) as exc:
        reroute(
            red,
            to="blue",
            reason="a long enough reason",
            officer_id="o",
            at=NOW.astimezone(timezone(timedelta(hours=2))),
        )
    assert {e["field"] for e in exc.value.errors} == {"to", "at"}
    up = reroute(decision(), to="yellow", reason="Officer intelligence on the carrier", officer_id="o", at=NOW)
    assert up.direction == "upgrade" and up.from_channel == "green"


def test_reroute_respects_mandatory_profiles_and_flags_random_sample_downgrades() -> None:
    mandatory = decision(channel="red", cause="mandatory_rule", rule_hits=(hit("M", mandatory=True),))
    with pytest.raises(Conflict):
        reroute(mandatory, to="yellow", reason="Alarm was a false positive", officer_id="o", at=NOW)
    sampled = decision(channel="red", cause="random", random_selection=True, random_channel="red")
    record = reroute(sampled, to="yellow", reason="Examination bay closed today", officer_id="o", at=NOW)
    assert record.breaks_random_sample
    again = reroute(sampled, to="red", reason="Bay reopened, examine", officer_id="o", at=NOW, from_channel="yellow")
    assert again.direction == "upgrade" and not again.breaks_random_sample
