"""Unit conversion of declared quantities to a duty's unit; missing quantities are clear errors."""

from decimal import Decimal as D

import pytest

from clearway.tariff.units import UNITS, MissingQuantity, UnknownUnit, convert, parse_unit, quantity_in


@pytest.mark.parametrize(
    ("amount", "source", "target", "expected"),
    [
        ("2500", "g", "kg", "2.5"),
        ("3", "t", "kg", "3000"),
        ("5", "doz.", "each", "60"),
        ("750", "ml", "liter", "0.75"),
        ("2", "m3", "liter", "2000"),
        ("288", "each", "gross", "2"),
        ("60", "pr.", "doz. pr.", "5"),
        ("1", "bbl", "liter", "158.987294928"),
    ],
)
def test_convert(amount, source, target, expected):
    assert convert(D(amount), UNITS[source], UNITS[target]) == D(expected)


def test_spellings_from_tariffs():
    assert parse_unit("No.") is UNITS["each"]
    assert parse_unit("liters") is UNITS["liter"]
    assert parse_unit("pf.liters") is UNITS["pf. liter"]
    assert parse_unit("doz. prs.") is UNITS["doz. pr."]
    assert parse_unit("m²") is UNITS["m2"]
    with pytest.raises(UnknownUnit, match="furlong"):
        parse_unit("furlong", field="goods_items[1].supplementary_unit")


def test_quantity_prefers_supplementary_then_net_mass():
    kg = UNITS["kg"]
    assert quantity_in(kg, net_mass_kg=D("12.5"), quantity=None, quantity_unit=None) == D("12.5")
    assert quantity_in(kg, net_mass_kg=D("12.5"), quantity=D("13000"), quantity_unit=UNITS["g"]) == D("13")
    assert quantity_in(UNITS["each"], net_mass_kg=D("1"), quantity=D("2"), quantity_unit=UNITS["doz."]) == D("24")


def test_missing_or_incompatible_quantity():
    with pytest.raises(MissingQuantity) as caught:
        quantity_in(
            UNITS["liter"], net_mass_kg=D("10"), quantity=D("3"), quantity_unit=UNITS["each"], field="goods_items[2]"
        )
    assert caught.value.errors[0]["field"] == "goods_items[2].supplementary_quantity"
    with pytest.raises(MissingQuantity):
        convert(D("1"), UNITS["pf. liter"], UNITS["liter"])  # proof litres need the alcohol strength
