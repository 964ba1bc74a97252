"""Duty expressions: every form real tariffs print, hand-computed amounts, clear errors."""

from decimal import Decimal as D

import pytest

from clearway.tariff.duty import DutyNotComputable, DutyParseError, parse_duty
from clearway.tariff.units import UNITS, Unit


def qty(**amounts: str):
    def quantity(unit: Unit) -> D:
        return D(amounts[unit.code.replace(" ", "_").replace(".", "")])

    return quantity


def test_ad_valorem():
    expr = parse_duty("5.5%")
    assert expr.kind == "rate" and expr.ad_valorem_rate == D("5.5")
    assert expr.evaluate(value=D("1000")) == D("55.000")


def test_fraction_percent_column2():
    expr = parse_duty("33 1/3%")
    assert expr.evaluate(value=D("300")).quantize(D("0.01")) == D("100.00")


def test_free_and_free_with_condition():
    assert parse_duty("Free").is_free
    expr = parse_duty("Free, under bond, as prescribed in U.S. note 1 to this subchapter")
    assert expr.is_free and expr.condition.startswith("under bond")
    assert expr.evaluate(value=D("999")) == 0


def test_specific_cents_per_kg():
    expr = parse_duty("4.4¢/kg")
    component = expr.components[0]
    assert component.kind == "specific" and component.rate == D("0.044") and component.currency == "USD"
    assert component.unit is UNITS["kg"]
    assert expr.evaluate(value=D("0"), quantity=qty(kg="250")) == D("11.000")


def test_specific_dollars_per_dozen_and_each():
    assert parse_duty("$1.20/doz.").components[0].unit is UNITS["doz."]
    assert parse_duty("0.9¢ each").components[0].unit is UNITS["each"]
    assert parse_duty("$1.32/pf. liter").components[0].unit is UNITS["pf. liter"]
    assert parse_duty("23.7¢/pf.liter").components[0].unit is UNITS["pf. liter"]
    assert parse_duty("38.4¢/1000").components[0].unit is UNITS["thousand"]
    assert parse_duty("68¢/head").components[0].unit is UNITS["head"]
    assert parse_duty("14.5¢/m2").components[0].unit is UNITS["m2"]
    assert parse_duty("4.5¢/ liter").components[0].unit is UNITS["liter"]
    assert parse_duty("90¢/pr. + 37.5%").components[0].unit is UNITS["pr."]


def test_compound_hand_computed():
    # 3.3¢/kg + 2.1% on 1,000.00 USD and 200 kg: 6.60 + 21.00 = 27.60
    expr = parse_duty("3.3¢/kg + 2.1%")
    assert len(expr.components) == 2
    assert expr.evaluate(value=D("1000.00"), quantity=qty(kg="200")) == D("27.60")


def test_three_part_compound_and_spacing_variants():
    assert len(parse_duty("36¢ each + 5.6% + 2¢/jewel").components) == 3
    assert len(parse_duty("$1.035/kg +13.6%").components) == 2
    assert len(parse_duty("2.2¢/kg  +  33.5%").components) == 2
    assert len(parse_duty("4.4¢/liter + 31.4¢/pf. liter").components) == 2


def test_iso_currency_amount():
    expr = parse_duty("12.8% min 1.30 EUR/100 kg")
    assert expr.minimum is not None and expr.minimum.currency == "EUR" and expr.minimum.unit is UNITS["100 kg"]


def test_minimum_applies_when_higher():
    expr = parse_duty("5% min 1.00 USD/kg")
    # 5% of 100 = 5.00 < 1.00 * 20 kg = 20.00: the minimum applies
    assert expr.evaluate(value=D("100"), quantity=qty(kg="20")) == D("20.00")
    # 5% of 1000 = 50.00 > 20.00
    assert expr.evaluate(value=D("1000"), quantity=qty(kg="20")) == D("50.00")


def test_maximum_caps():
    expr = parse_duty("10%, maximum $2/kg")
    assert expr.evaluate(value=D("1000"), quantity=qty(kg="10")) == D("20")
    assert parse_duty("4¢/kg but not less than 2%").minimum.kind == "ad_valorem"


def test_foreign_currency_specific_duty_converted():
    expr = parse_duty("2 EUR/kg")
    assert expr.evaluate(value=D("0"), quantity=qty(kg="10"), money=lambda c: D("1.10")) == D("22.00")


def test_qualified_component_parses_but_needs_an_officer():
    expr = parse_duty("30¢ each + 6.9% on the case + 5.3% on the battery")
    assert [c.qualifier for c in expr.components] == [None, "on the case", "on the battery"]
    assert not expr.computable
    with pytest.raises(DutyNotComputable, match="on the case"):
        expr.evaluate(value=D("10"), quantity=qty(each="1"))
    assert parse_duty("6.5% on the entire set").computable
    assert parse_duty("3.1¢/liter + 22.1¢/pf. liter on ethyl alcohol content").computable
    assert not parse_duty("2.5% on the value of the lead content").computable


def test_chapter_99_surcharge_and_references():
    expr = parse_duty("The duty provided in the applicable subheading + 25%")
    assert expr.includes_base and expr.ad_valorem_rate == 25 and not expr.computable
    assert expr.evaluate(value=D("100"), base_duty=D("3")) == D("28")
    assert parse_duty("The duty provided in the applicable subheading.").includes_base
    assert parse_duty("No change").kind == "no_change"
    see = parse_duty("See 9822.04.01-9822.04.03")
    assert see.kind == "reference" and see.reference == "9822.04.01-9822.04.03"
    with pytest.raises(DutyNotComputable):
        see.evaluate(value=D("1"))


@pytest.mark.parametrize(
    ("text", "position", "reason"),
    [
        ("", 0, "empty"),
        ("5.5", 0, "expected a rate"),
        ("4.4¢/furlong", 5, "unknown unit"),
        ("4.4¢", 4, "expected a unit"),
        ("5% + ", 4, "expected a rate"),
        ("5% 3%", 2, "unexpected text"),
        ("See additional U.S. note 1", 0, "expected a rate"),
        ("3.6606¢/kg less 0.020668¢/kg for each degree", 10, "unexpected text"),
    ],
)
def test_malformed_texts_are_rejected_with_position(text, position, reason):
    with pytest.raises(DutyParseError) as caught:
        parse_duty(text)
    assert caught.value.position == position
    assert reason in caught.value.reason
    assert caught.value.errors[0]["field"] == "duty_expression"


def test_describe_is_normalised():
    assert parse_duty("3.3¢/kg + 2.1%").describe() == "0.033 USD/kg + 2.1%"
