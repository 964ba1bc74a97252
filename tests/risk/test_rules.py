"""Selectivity rules: validation with JSON paths, item-level semantics, validity, versioning, statistics, backtest."""

from __future__ import annotations

import copy
from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from clearway.errors import IllegalTransition, InvalidInput
from clearway.risk.profiles_schema import ProfileOut, build_profile, parse_profile, revise_profile
from clearway.risk.rules import (
    DEFAULT_FIELDS,
    MAX_DEPTH,
    BacktestCase,
    HitOutcome,
    SelectivityProfile,
    aggregate_hit_statistics,
    backtest,
    change_status,
    compile_criteria,
    evaluate_profiles,
    prepare_subject,
    validate_criteria,
)

ON = date(2026, 3, 1)


def declaration(**overrides: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "lrn": "LRN-1",
        "type_code": "IM",
        "procedure_code": "4000",
        "office_of_lodgement": "GBLHR001",
        "declarant": {"eori": "GB123456789000", "name": "Swift Brokers", "address": {"country": "GB"}},
        "importer": {"eori": "GB987654321000", "name": "Acme Ltd", "address": {"country": "GB"}},
        "border_transport": {"mode": "1", "nationality": "PA"},
        "containers": ["MSCU1234565", "TGHU7654321"],
        "invoice": {"currency": "EUR", "amount": "1234.50"},
        "incoterm": "FOB",
        "country_of_dispatch": "CN",
        "country_of_destination": "GB",
        "goods_items": [
            {
                "sequence": 1,
                "hs_code": "847130",
                "description": "Laptop computers",
                "country_of_origin": "CN",
                "net_mass_kg": "2.1",
                "gross_mass_kg": "2.5",
                "item_price": "450.00",
                "documents": [{"code": "N935", "reference": "INV-1"}],
            },
            {
                "sequence": 2,
                "hs_code": "080810",
                "description": "Fresh apples",
                "country_of_origin": "US",
                "net_mass_kg": "1000",
                "gross_mass_kg": "1050",
                "item_price": "800.00",
                "documents": [],
            },
        ],
    }
    doc.update(overrides)
    return doc


def profile(criteria: dict[str, Any], **kw: Any) -> SelectivityProfile:
    base: dict[str, Any] = dict(
        profile_id="P1",
        version=1,
        name="test",
        reason="because",
        channel="red",
        priority=50,
        valid_from=date(2026, 1, 1),
        valid_to=None,
        criteria=criteria,
        status="active",
    )
    base.update(kw)
    return SelectivityProfile(**base)


def hits(
    criteria: dict[str, Any],
    doc: dict[str, Any] | None = None,
    context: dict[str, Any] | None = None,
    lists: dict[str, list[str]] | None = None,
) -> list[Any]:
    return evaluate_profiles(doc or declaration(), context or {}, [profile(criteria)], lists or {}, on=ON)


def leaf(field: str, op: str, value: Any = None, **kw: Any) -> dict[str, Any]:
    node = {"field": field, "op": op, **kw}
    if value is not None:
        node["value"] = value
    return node


# ----------------------------------------------------------------------------------------- operators


@pytest.mark.parametrize(
    ("criteria", "expected"),
    [
        (leaf("country_of_dispatch", "eq", "CN"), True),
        (leaf("country_of_dispatch", "eq", "cn"), True),  # codes compare case-insensitively
        (leaf("country_of_dispatch", "ne", "CN"), False),
        (leaf("country_of_dispatch", "in", ["US", "CN"]), True),
        (leaf("country_of_dispatch", "not_in", ["US", "CN"]), False),
        (leaf("goods_items.hs_code", "prefix", "0808"), True),
        (leaf("goods_items.hs_code", "prefix", ["9999", "8471.30"]), True),
        (leaf("goods_items.hs_code", "prefix", "0809"), False),
        (leaf("goods_items.description", "contains", "APPLE"), True),
        (leaf("invoice.amount", "gt", 1234.5), False),
        (leaf("invoice.amount", "gte", "1234.50"), True),
        (leaf("invoice.amount", "lt", 2000), True),
        (leaf("invoice.amount", "lte", 1234), False),
        (leaf("invoice.amount", "between", [1000, 1234.5]), True),
        (leaf("goods_items.net_mass_kg", "between", [2, 3]), True),
        (leaf("item_count", "eq", 2), True),
        (leaf("containers", "prefix", "TGHU"), True),  # many-valued: any container
        (leaf("containers", "eq", "XXXU0000000"), False),
        (leaf("goods_items.documents.code", "eq", "N935"), True),
        (leaf("goods_items.documents.code", "exists", False), True),  # item 2 has no documents
        (leaf("importer.address.postcode", "exists"), False),
        (leaf("importer.address.postcode", "exists", False), True),
        (leaf("goods_items.value_per_kg", "gt", 200), True),  # 450 / 2.1
        (leaf("goods_items.value_per_kg", "lt", Decimal("0.5")), False),  # 800 / 1000 = 0.8
        (leaf("importer.eori", "in_list", list="watched_importers"), True),
        (leaf("goods_items.hs_code", "in_list", list="sensitive_hs", match="prefix"), True),
        (leaf("goods_items.hs_code", "in_list", list="sensitive_hs"), False),  # exact match needs the full code
    ],
)
def test_operators(criteria: dict[str, Any], expected: bool) -> None:
    lists = {"watched_importers": ["gb987654321000", "XX1"], "sensitive_hs": ["0808", "2402"]}
    assert bool(hits(criteria, lists=lists)) is expected


def test_missing_values_never_hit_but_not_of_a_missing_value_does() -> None:
    doc = declaration(incoterm=None)
    assert not hits(leaf("incoterm", "eq", "FOB"), doc)
    assert not hits(leaf("incoterm", "ne", "FOB"), doc)
    assert not hits(leaf("incoterm", "not_in", ["CIF"]), doc)
    assert hits({"not": leaf("incoterm", "eq", "FOB")}, doc)


def test_numbers_are_decimal_not_float() -> None:
    doc = declaration(invoice={"currency": "EUR", "amount": "0.3"})
    # 0.1 + 0.2 as float is 0.30000000000000004; Decimal comparison of "0.3" with 0.3 is exact equality.
    assert hits(leaf("invoice.amount", "eq", 0.3), doc)
    assert hits(leaf("invoice.amount", "lte", "0.3"), doc)


def test_context_fields_and_item_facts() -> None:
    context = {"score": 0.83, "trusted_trader": True, "items": {2: {"value_per_kg_ratio_to_hs_median": 0.14}}}
    assert hits(leaf("context.score", "gte", 0.8), context=context)
    assert hits(leaf("context.trusted_trader", "eq", True), context=context)
    found = hits(leaf("goods_items.value_per_kg_ratio_to_hs_median", "lt", 0.2), context=context)
    assert [h.matched_items for h in found] == [(2,)]
    # item facts as a list aligned with the goods items, by position
    found = hits(
        leaf("goods_items.misclassification_suspected", "eq", True),
        context={"items": [{"misclassification_suspected": True}, {}]},
    )
    assert [h.matched_items for h in found] == [(1,)]


# ----------------------------------------------------------------------------------------- item semantics


def test_all_group_binds_item_conditions_to_the_same_item() -> None:
    # Item 1 is 847130 from CN; item 2 is 080810 from US. Apples from CN exist on no single item.
    apples_from_cn = {
        "all": [leaf("goods_items.hs_code", "prefix", "0808"), leaf("goods_items.country_of_origin", "eq", "CN")]
    }
    assert not hits(apples_from_cn)
    apples_from_us = {
        "all": [
            leaf("goods_items.hs_code", "prefix", "0808"),
            leaf("goods_items.country_of_origin", "eq", "US"),
            leaf("country_of_dispatch", "eq", "CN"),
        ]
    }
    assert [h.matched_items for h in hits(apples_from_us)] == [(2,)]


def test_separate_item_quantifiers_allow_different_items() -> None:
    criteria = {
        "all": [
            {"any_item": leaf("goods_items.hs_code", "prefix", "0808")},
            {"any_item": leaf("goods_items.country_of_origin", "eq", "CN")},
        ]
    }
    found = hits(criteria)
    assert found and found[0].matched_items == ()  # declaration-level: no single item is blamed


def test_not_is_per_item_and_quantifiers_express_no_item_and_every_item() -> None:
    not_cn = {"not": leaf("goods_items.country_of_origin", "eq", "CN")}
    assert [h.matched_items for h in hits(not_cn)] == [(2,)]  # some item is not from CN
    no_item_from_cn = {"not": {"any_item": leaf("goods_items.country_of_origin", "eq", "CN")}}
    assert not hits(no_item_from_cn)
    every_item_heavy = {"every_item": leaf("goods_items.net_mass_kg", "gt", 2)}
    assert hits(every_item_heavy)
    assert not hits({"every_item": leaf("goods_items.net_mass_kg", "gt", 3)})


def test_item_level_criteria_never_hit_a_declaration_without_items() -> None:
    doc = declaration(goods_items=[])
    assert not hits({"not": leaf("goods_items.country_of_origin", "eq", "CN")}, doc)
    assert hits({"every_item": leaf("goods_items.country_of_origin", "eq", "CN")}, doc)  # vacuous truth


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(st.sampled_from(["080810", "847130", "240220"]), st.sampled_from(["CN", "US", "FR"])), max_size=6
    )
)
def test_item_semantics_match_a_reference_model(items: list[tuple[str, str]]) -> None:
    doc = declaration(
        goods_items=[{"sequence": i + 1, "hs_code": hs, "country_of_origin": c} for i, (hs, c) in enumerate(items)]
    )
    criteria = {
        "all": [
            leaf("goods_items.hs_code", "prefix", ["0808", "2402"]),
            {"not": leaf("goods_items.country_of_origin", "in", ["FR"])},
        ]
    }
    expected = tuple(i + 1 for i, (hs, c) in enumerate(items) if hs[:4] in ("0808", "2402") and c != "FR")
    found = hits(criteria, doc)
    assert (found[0].matched_items if found else ()) == expected


# ----------------------------------------------------------------------------------------- validation


def error_map(criteria: Any, **kw: Any) -> dict[str, str]:
    return {e["field"]: e["reason"] for e in validate_criteria(criteria, **kw)}


def test_malformed_rules_report_every_error_with_its_path() -> None:
    criteria = {
        "all": [
            leaf("goods_items.hs_code", "prefix", "0808"),
            {"field": "importer.eori", "op": "eqq", "value": "GB1"},
            {"any": []},
            leaf("invoice.amount", "gt", "lots"),
            leaf("country_of_dispatch", "in", "CN"),
            leaf("goods_items.hs_codes", "eq", "0808"),
            leaf("importer.eori", "in_list", list="unknown_list"),
            leaf("invoice.amount", "between", [10, 1]),
            leaf("country_of_origin", "eq", "CN"),
            leaf("goods_items.country_of_origin", "eq", "China"),
            leaf("context.trusted_trader", "gt", 1),
            {"not": {"all": [leaf("incoterm", "eq", "FOB")], "any": []}},
            {"field": "incoterm", "op": "eq", "value": "FOB", "extra": 1},
            leaf("goods_items.net_mass_kg", "lt", True),
            "lrn = 1",
        ]
    }
    errors = error_map(criteria, known_lists={"watched_importers"})
    assert errors["criteria.all[1].op"].startswith("unknown operator 'eqq'; expected one of eq, ne,")
    assert errors["criteria.all[2].any"] == "empty group; give at least one condition"
    assert "expected a number" in errors["criteria.all[3].value"]
    assert "expected a non-empty list for 'in'" in errors["criteria.all[4].value"]
    assert errors["criteria.all[5].field"] == (
        "unknown field 'goods_items.hs_codes'; did you mean 'goods_items.hs_code'?"
    )
    assert errors["criteria.all[6].list"] == "unknown list 'unknown_list'; known lists: watched_importers"
    assert errors["criteria.all[7].value"] == "low bound is greater than high bound"
    assert "unknown field 'country_of_origin'" in errors["criteria.all[8].field"]
    assert "two-letter ISO country code" in errors["criteria.all[9].value"]
    assert "does not apply" in errors["criteria.all[10].op"]
    assert "exactly one key" in errors["criteria.all[11].not"]
    assert "unknown key 'extra'" in errors["criteria.all[12].extra"]
    assert "expected a number" in errors["criteria.all[13].value"]
    assert "expected a group or a condition" in errors["criteria.all[14]"]
    assert "criteria.all[0]" not in " ".join(errors)
    assert len(errors) == 14


def test_depth_and_size_limits() -> None:
    deep: dict[str, Any] = leaf("incoterm", "eq", "FOB")
    for _ in range(MAX_DEPTH):
        deep = {"not": deep}
    assert "nested too deeply" in " ".join(error_map(deep).values())
    wide = {"any": [leaf("incoterm", "eq", "FOB")] * 250}
    assert "too large" in error_map(wide)["criteria"]
    assert "too many values" in error_map(leaf("lrn", "in", ["X"] * 6000))["criteria.value"]


def test_compile_refuses_invalid_criteria() -> None:
    with pytest.raises(InvalidInput) as exc:
        compile_criteria({"any": [leaf("incoterm", "eqq", "FOB")]})
    assert exc.value.errors[0]["field"] == "criteria.any[0].op"


@settings(max_examples=150, deadline=None)
@given(
    st.recursive(
        st.one_of(
            st.none(),
            st.booleans(),
            st.integers(),
            st.text(max_size=5),
            st.fixed_dictionaries(
                {
                    "field": st.sampled_from([*list(DEFAULT_FIELDS)[:12], "nope"]),
                    "op": st.sampled_from(["eq", "in", "gt", "prefix", "exists", "bad"]),
                    "value": st.one_of(st.text(max_size=4), st.integers(), st.lists(st.text())),
                }
            ),
        ),
        lambda inner: st.one_of(
            st.dictionaries(
                st.sampled_from(["all", "any", "not", "field", "x"]),
                st.one_of(inner, st.lists(inner, max_size=3)),
                max_size=2,
            )
        ),
        max_leaves=10,
    )
)
def test_validation_never_crashes_and_valid_trees_compile(tree: Any) -> None:
    errors = validate_criteria(tree)
    assert all(e["field"].startswith("criteria") and e["reason"] for e in errors)
    if not errors:
        compiled = compile_criteria(tree)
        compiled.matches(prepare_subject(declaration(), {}, {}))


# ----------------------------------------------------------------------------------------- profiles


def valid_profile_data(**kw: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "name": "Apples from the US",
        "reason": "Phytosanitary risk on US apples (notice 12/2026)",
        "channel": "red",
        "priority": 80,
        "valid_from": "2026-01-01",
        "valid_to": "2026-12-31",
        "criteria": {
            "all": [leaf("goods_items.hs_code", "prefix", "080810"), leaf("goods_items.country_of_origin", "eq", "US")]
        },
    }
    data.update(kw)
    return data


def test_profile_schema_accepts_a_valid_profile() -> None:
    draft = parse_profile(valid_profile_data())
    built = build_profile(draft, profile_id="APL", status="active")
    assert [h.profile_id for h in evaluate_profiles(declaration(), {}, [built], on=ON)] == ["APL"]
    out = ProfileOut.of(built)
    assert out.version == 1 and out.hits == 0


def test_profile_schema_reports_every_error() -> None:
    data = valid_profile_data(
        channel="green",
        priority=0,
        valid_to="2025-12-31",
        colour="red",
        criteria={"all": [leaf("incoterm", "eqq", "FOB")]},
    )
    del data["reason"]
    with pytest.raises(InvalidInput) as exc:
        parse_profile(data)
    fields = {e["field"] for e in exc.value.errors}
    assert fields == {"reason", "priority", "colour", "valid_to", "channel", "criteria.all[0].op"}
    with pytest.raises(InvalidInput) as exc:
        parse_profile(valid_profile_data(kind="release", channel="red", mandatory=True))
    assert {e["field"] for e in exc.value.errors} == {"channel"}
    with pytest.raises(InvalidInput) as exc:
        parse_profile(valid_profile_data(kind="release", channel="green", mandatory=True))
    assert {e["field"] for e in exc.value.errors} == {"mandatory"}
    with pytest.raises(InvalidInput) as exc:
        parse_profile(
            valid_profile_data(criteria={"all": [leaf("importer.eori", "in_list", list="x")]}),
            known_lists=["watched_importers"],
        )
    assert {e["field"] for e in exc.value.errors} == {"criteria.all[0].list"}


def test_validity_period_is_inclusive_and_only_active_versions_apply() -> None:
    criteria = leaf("country_of_dispatch", "eq", "CN")
    p = profile(criteria, valid_from=date(2026, 3, 1), valid_to=date(2026, 3, 31))
    for day, expected in [(date(2026, 2, 28), 0), (date(2026, 3, 1), 1), (date(2026, 3, 31), 1), (date(2026, 4, 1), 0)]:
        assert len(evaluate_profiles(declaration(), {}, [p], on=day)) == expected
    for status in ("draft", "retired"):
        assert not evaluate_profiles(declaration(), {}, [profile(criteria, status=status)], on=ON)


def test_versioning_edits_make_a_new_draft_and_hits_name_the_version() -> None:
    v1 = build_profile(parse_profile(valid_profile_data()), profile_id="APL", status="active")
    snapshot = copy.deepcopy(dict(v1.criteria))
    v2 = revise_profile(v1, valid_profile_data(criteria=leaf("country_of_dispatch", "eq", "CN"), priority=90))
    assert (v2.version, v2.status, v2.priority) == (2, "draft", 90)
    assert (v1.version, v1.status, dict(v1.criteria)) == (1, "active", snapshot)
    v2_active = change_status(v2, "active")
    # Both versions active: only the newest is evaluated, and the hit records it.
    found = evaluate_profiles(declaration(), {}, [v1, v2_active], on=ON)
    assert [(h.profile_id, h.version, h.priority) for h in found] == [("APL", 2, 90)]
    retired = change_status(v1, "retired")
    with pytest.raises(IllegalTransition):
        change_status(retired, "active")
    with pytest.raises(InvalidInput):
        from clearway.risk.rules import revise

        revise(v1, version=7)


def test_hits_are_ordered_mandatory_then_priority_then_severity() -> None:
    c = leaf("country_of_dispatch", "eq", "CN")
    profiles = [
        profile(c, profile_id="LOW", priority=10),
        profile(c, profile_id="YEL", channel="yellow", priority=60),
        profile(c, profile_id="RED", priority=60),
        profile(c, profile_id="MAN", priority=5, mandatory=True),
    ]
    assert [h.profile_id for h in evaluate_profiles(declaration(), {}, profiles, on=ON)] == ["MAN", "RED", "YEL", "LOW"]


def test_lists_used_by_active_profiles_must_be_supplied() -> None:
    with pytest.raises(InvalidInput) as exc:
        hits(leaf("importer.eori", "in_list", list="watched_importers"), lists={})
    assert exc.value.errors[0]["field"] == "lists.watched_importers"


# ----------------------------------------------------------------------------------------- statistics, backtest


def test_hit_statistics() -> None:
    stats = aggregate_hit_statistics(
        [
            HitOutcome("A", 1, inspected=True, finding=True),
            HitOutcome("A", 1, inspected=True, finding=False),
            HitOutcome("A", 1),
            HitOutcome("A", 2, inspected=True, finding=True),
        ]
    )
    a1 = stats[("A", 1)]
    assert (a1.hits, a1.inspected, a1.with_findings, a1.hit_rate) == (3, 2, 1, 0.5)
    assert stats[("A", 2)].hit_rate == 1.0
    assert aggregate_hit_statistics([HitOutcome("B", 1)])[("B", 1)].hit_rate is None


def test_backtest_counts_hits_precision_and_recall() -> None:
    p = profile(leaf("goods_items.hs_code", "prefix", "0808"), status="draft")  # status does not matter here
    apples = declaration(mrn="26GB0001")
    laptops = declaration(mrn="26GB0002", goods_items=[declaration()["goods_items"][0]])
    cases = [BacktestCase(apples, {}, True), (apples, {}, False), apples, BacktestCase(laptops, {}, True), laptops]
    result = backtest(p, cases)
    assert (result.declarations, result.hits, result.hits_with_known_outcome, result.hits_with_fraud) == (5, 3, 2, 1)
    assert result.share == pytest.approx(0.6)
    assert result.precision == 0.5 and result.known_frauds == 2 and result.recall == 0.5
    assert result.sample_hits == ("26GB0001",) * 3
    empty = backtest(p, [])
    assert (empty.share, empty.precision, empty.recall) == (0.0, None, None)


def test_documentation_lists_every_field() -> None:
    from pathlib import Path

    doc = (Path(__file__).resolve().parents[2] / "docs" / "selectivity.md").read_text(encoding="utf-8")
    missing = [path for path in DEFAULT_FIELDS if f"| `{path}` |" not in doc]
    assert missing == []


def test_evaluation_day_may_be_a_utc_timestamp() -> None:
    from datetime import datetime, timedelta, timezone

    p = profile(leaf("country_of_dispatch", "eq", "CN"), valid_to=date(2026, 3, 1))
    late_evening_east = datetime(2026, 3, 2, 0, 30, tzinfo=timezone(timedelta(hours=2)))  # 1 March 22:30 UTC
    assert evaluate_profiles(declaration(), {}, [p], on=late_evening_east)


def test_backtest_on_kcs_declarations_agrees_with_a_direct_count() -> None:
    import csv
    from itertools import islice
    from pathlib import Path

    path = Path("/work/shared/data/kcs-synthetic/train.csv")
    if not path.exists():
        pytest.skip("shared KCS data not available")
    with path.open(newline="", encoding="utf-8") as handle:
        rows = list(islice(csv.DictReader(handle), 3000))
    by_id: dict[str, list[dict[str, str]]] = {}
    for row in rows:
        by_id.setdefault(row["Declaration ID"], []).append(row)
    cases = [
        BacktestCase(
            {
                "mrn": did,
                "importer": {"eori": rs[0]["Importer ID"]},
                "country_of_dispatch": rs[0]["Country of Departure"],
                "goods_items": [
                    {
                        "sequence": k,
                        "hs_code": r["HS6 Code"],
                        "country_of_origin": r["Country of Origin"],
                        "net_mass_kg": r["Net Mass"],
                        "item_price": r["Item Price"],
                    }
                    for k, r in enumerate(rs, 1)
                ],
            },
            {},
            any(r["Fraud"] == "1" for r in rs),
        )
        for did, rs in by_id.items()
    ]
    criteria = {
        "all": [leaf("goods_items.country_of_origin", "in", ["CN", "VN"]), leaf("goods_items.value_per_kg", "lt", 5000)]
    }

    def direct(rs: list[dict[str, str]]) -> bool:
        return any(
            r["Country of Origin"] in ("CN", "VN")
            and float(r["Net Mass"] or 0) > 0
            and Decimal(r["Item Price"]) / Decimal(r["Net Mass"]) < 5000
            for r in rs
        )

    expected_hits = [did for did, rs in by_id.items() if direct(rs)]
    expected_fraud = sum(any(r["Fraud"] == "1" for r in by_id[did]) for did in expected_hits)
    result = backtest(profile(criteria), cases)
    assert result.declarations == len(by_id)
    assert (result.hits, result.hits_with_fraud) == (len(expected_hits), expected_fraud)
    assert result.hits > 0 and result.precision == pytest.approx(expected_fraud / len(expected_hits))


def test_profile_content_is_private_and_fingerprinted() -> None:
    criteria = leaf("country_of_dispatch", "eq", "CN")
    p = profile(criteria)
    criteria["value"] = "US"  # the analyst's dict changes afterwards: the stored version must not
    assert hits(leaf("country_of_dispatch", "eq", "CN")) and evaluate_profiles(declaration(), {}, [p], on=ON)
    assert p.fingerprint() == profile(leaf("country_of_dispatch", "eq", "CN"), status="retired").fingerprint()
    assert p.fingerprint() != profile(leaf("country_of_dispatch", "eq", "CN"), priority=51).fingerprint()


def test_list_entries_match_codes_and_hs_codes_in_their_usual_spellings() -> None:
    doc = declaration(importer={"eori": "GB1", "address": {"country": "GB", "postcode": "12 34"}})
    lists = {"postcodes": ["12 34"], "hs": ["8471.30"]}
    assert hits(leaf("importer.address.postcode", "in_list", list="postcodes"), doc, lists=lists)
    assert hits(leaf("goods_items.hs_code", "in_list", list="hs"), doc, lists=lists)
