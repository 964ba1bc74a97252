"""Invariants over random declarations: taxes never negative, lines sum to totals, the same input the same tax."""

from datetime import date, timedelta
from decimal import Decimal as D

from hypothesis import given, settings
from hypothesis import strategies as st

from clearway.tariff.calculation import INCOTERMS, CalculationPolicy, Calculator, DeclarationInput, GoodsItemInput
from clearway.tariff.duty import parse_duty
from clearway.tariff.exchange import RateRecord, RateTable
from clearway.tariff.index import TariffIndex

from .conftest import RECORDS

INDEX = TariffIndex(RECORDS)
RATES = RateTable(
    "USD", [RateRecord("EUR", date(2026, 1, 1), D("1.1650")), RateRecord("JPY", date(2026, 1, 1), D("0.00642"))]
)
CODES = ["0201.10.50.10", "04069012", "22042150", "42032910", "61091000"]
money = st.decimals(min_value=D("0"), max_value=D("1000000"), places=2, allow_nan=False, allow_infinity=False)
positive = st.decimals(min_value=D("0.001"), max_value=D("100000"), places=3, allow_nan=False, allow_infinity=False)

items = st.builds(
    GoodsItemInput,
    commodity_code=st.sampled_from(CODES),
    origin_country=st.sampled_from(["CN", "KR", "MX", "RU", "JO", "NP", "DE"]),
    item_price=money,
    net_mass_kg=positive,
    supplementary_quantity=positive,
    supplementary_unit=st.sampled_from(["l", "prs.", "doz. prs."]),
    preference_claimed=st.booleans(),
)


def unit_for(item: GoodsItemInput) -> GoodsItemInput:
    # Give each code a supplementary unit its specific duty can use.
    from dataclasses import replace

    unit = {"22042150": "l", "42032910": item.supplementary_unit if item.supplementary_unit != "l" else "prs."}
    return replace(item, supplementary_unit=unit.get(item.commodity_code.replace(".", "")[:8], item.supplementary_unit))


declarations = st.builds(
    DeclarationInput,
    currency=st.sampled_from(["USD", "EUR", "JPY"]),
    incoterm=st.sampled_from(INCOTERMS),
    acceptance_date=st.dates(min_value=date(2026, 1, 1), max_value=date(2026, 1, 1) + timedelta(days=700)),
    goods_items=st.lists(items.map(unit_for), min_size=1, max_size=6).map(tuple),
    freight=st.decimals(min_value=D("0"), max_value=D("5000"), places=2),
    insurance=st.decimals(min_value=D("0"), max_value=D("500"), places=2),
)
policies = st.builds(
    CalculationPolicy,
    valuation_basis=st.sampled_from(["CIF", "FOB"]),
    de_minimis_duty=st.sampled_from([D("0"), D("800")]),
    de_minimis_vat=st.sampled_from([D("0"), D("150")]),
    vat_rate=st.sampled_from([D("0"), D("7.5"), D("20")]),
    vat_base_includes_excise=st.booleans(),
)


def assess(policy, declaration):
    from clearway.errors import InvalidInput

    try:
        return Calculator(tariff=INDEX, rates=RATES, policy=policy).assess(declaration)
    except InvalidInput as error:  # freight above a CIF price on a FOB basis is a refused declaration, not a tax
        assert "exceed" in error.detail
        return None


@settings(max_examples=150, deadline=None)
@given(policies, declarations)
def test_taxes_never_negative_and_lines_sum_to_totals(policy, declaration):
    a = assess(policy, declaration)
    if a is None:
        return
    quantum = D("0.01")
    for item in a.items:
        assert item.customs_value >= 0
        for tax in item.tax_lines:
            assert tax.amount >= 0 and tax.base >= 0
            assert tax.amount == tax.amount.quantize(quantum)
    for tax_type, total in a.totals.items():
        assert total == sum((t.amount for i in a.items for t in i.tax_lines if t.tax_type == tax_type), D(0))
    assert a.customs_value == sum((i.customs_value for i in a.items), D(0))


@settings(max_examples=75, deadline=None)
@given(policies, declarations)
def test_same_declaration_same_tax(policy, declaration):
    first = assess(policy, declaration)
    second = Calculator(tariff=TariffIndex(RECORDS), rates=RATES, policy=policy)
    if first is None:
        return
    assert second.assess(declaration) == first


@settings(max_examples=100, deadline=None)
@given(
    st.decimals(min_value=D("0"), max_value=D("999"), places=3),
    st.sampled_from(["¢/kg", "$/kg", "%"]),
    st.decimals(min_value=D("0"), max_value=D("99"), places=1),
)
def test_printed_rates_round_trip_and_never_negative(amount, form, extra):
    text = {"¢/kg": f"{amount}¢/kg + {extra}%", "$/kg": f"${amount}/kg", "%": f"{amount}%"}[form]
    expr = parse_duty(text)
    value = expr.evaluate(value=D("1234.56"), quantity=lambda unit: D("10"))
    assert value >= 0
    assert parse_duty(expr.text) == expr


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="0123456789.,%$¢/ +-kgliterdozeachminaxFrFREE()", max_size=30))
def test_any_text_parses_or_raises_a_parse_error(text):
    from clearway.tariff.duty import DutyParseError

    try:
        expr = parse_duty(text)
    except DutyParseError as error:
        assert 0 <= error.position <= len(text)
        return
    assert all(c.rate >= 0 for c in expr.components)
