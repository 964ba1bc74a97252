"""Units of quantity used by specific duties, and conversion of a goods item's declared quantities to them.

Pure code: no ORM, no web. Each unit has a dimension (mass, volume, count, ...) and a factor to the dimension's
base unit (kg, liter, item, m2, m3, m, pair, ...). Units of different dimensions never convert into each other:
a duty per litre on goods declared only by mass is a `MissingQuantity` error, never a guess.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal

from clearway.errors import InvalidInput, field_error


@dataclass(frozen=True, slots=True)
class Unit:
    """A unit of quantity: `factor` base units of `dimension` (e.g. doz. = 12 items)."""

    code: str
    dimension: str
    factor: Decimal

    def __str__(self) -> str:
        return self.code


def _u(code: str, dimension: str, factor: str) -> Unit:
    return Unit(code, dimension, Decimal(factor))


# Canonical units. The base unit of each dimension has factor 1.
UNITS: dict[str, Unit] = {
    u.code: u
    for u in (
        _u("kg", "mass", "1"),
        _u("g", "mass", "0.001"),
        _u("mg", "mass", "0.000001"),
        _u("t", "mass", "1000"),
        _u("100 kg", "mass", "100"),
        _u("lb", "mass", "0.45359237"),
        _u("carat", "mass", "0.0002"),
        _u("liter", "volume", "1"),
        _u("ml", "volume", "0.001"),
        _u("cl", "volume", "0.01"),
        _u("hl", "volume", "100"),
        _u("m3", "volume", "1000"),
        _u("bbl", "volume", "158.987294928"),  # US petroleum barrel: 42 US gallons
        _u("gal", "volume", "3.785411784"),
        _u("pf. liter", "proof_volume", "1"),  # litre of alcohol at 100 US proof (50% vol)
        _u("each", "count", "1"),
        _u("doz.", "count", "12"),
        _u("gross", "count", "144"),
        _u("hundred", "count", "100"),
        _u("thousand", "count", "1000"),
        _u("pr.", "pairs", "1"),
        _u("doz. pr.", "pairs", "12"),
        _u("m2", "area", "1"),
        _u("cm2", "area", "0.0001"),
        _u("m", "length", "1"),
        _u("cm", "length", "0.01"),
        _u("km", "length", "1000"),
        _u("head", "head", "1"),
        _u("jewel", "jewel", "1"),
        _u("pack", "pack", "1"),
        _u("line gross", "line_gross", "1"),  # buttons: size in lines, per gross
        _u("kWh", "energy", "1"),
        _u("1000 kWh", "energy", "1000"),
    )
}

# Spellings found in tariffs (HTS rate texts and its unit-of-quantity column, EU-style codes) -> canonical code.
ALIASES: dict[str, str] = {
    "kgs": "kg",
    "kilogram": "kg",
    "kilograms": "kg",
    "gram": "g",
    "grams": "g",
    "tonne": "t",
    "tonnes": "t",
    "ton": "t",
    "mt": "t",
    "100kg": "100 kg",
    "lbs": "lb",
    "pound": "lb",
    "l": "liter",
    "liters": "liter",
    "litre": "liter",
    "litres": "liter",
    "ltr": "liter",
    "milliliter": "ml",
    "hectoliter": "hl",
    "m³": "m3",
    "cubic meter": "m3",
    "barrel": "bbl",
    "bbls": "bbl",
    "gallon": "gal",
    "pf.liter": "pf. liter",
    "pf.liters": "pf. liter",
    "pf. liters": "pf. liter",
    "proof liter": "pf. liter",
    "proof liters": "pf. liter",
    "no.": "each",
    "no": "each",
    "item": "each",
    "items": "each",
    "article": "each",
    "articles": "each",
    "piece": "each",
    "pieces": "each",
    "pcs": "each",
    "pc": "each",
    "p/st": "each",
    "unit": "each",
    "units": "each",
    "doz": "doz.",
    "dozen": "doz.",
    "dz pcs": "doz.",
    "hundreds": "hundred",
    "1000": "thousand",
    "1,000": "thousand",
    "thousands": "thousand",
    "1,000 pins": "thousand",
    "thou sand": "thousand",
    "pr": "pr.",
    "prs.": "pr.",
    "prs": "pr.",
    "pair": "pr.",
    "pairs": "pr.",
    "doz. prs.": "doz. pr.",
    "doz.pr.": "doz. pr.",
    "m²": "m2",
    "sq m": "m2",
    "square meter": "m2",
    "cm²": "cm2",
    "lin. m": "m",
    "linear meter": "m",
    "meter": "m",
    "meters": "m",
    "line/ gross": "line gross",
    "line/gross": "line gross",
    "gr.lines": "line gross",
    "jewels": "jewel",
    "jwls.": "jewel",
    "heads": "head",
    "mwh": "1000 kWh",
    "kwh": "kWh",
}


class UnknownUnit(InvalidInput):
    """A unit of quantity the tariff engine does not know."""


class MissingQuantity(InvalidInput):
    """A specific duty needs a quantity the goods item does not declare (in a convertible unit)."""


def _key(text: str) -> str:
    return re.sub(r"\s+", " ", text.strip()).lower()


_LOOKUP: dict[str, Unit] = {_key(code): unit for code, unit in UNITS.items()}
_LOOKUP.update({_key(alias): UNITS[code] for alias, code in ALIASES.items()})


def find_unit(text: str) -> Unit | None:
    """Returns the unit spelled `text` (any known spelling, case-insensitive), or None."""
    return _LOOKUP.get(_key(text))


def parse_unit(text: str, *, field: str = "unit") -> Unit:
    """Returns the unit spelled `text`; an unknown spelling is an `UnknownUnit` naming the field."""
    unit = find_unit(text)
    if unit is None:
        raise UnknownUnit(
            f"Unknown unit of quantity {text!r}",
            errors=[field_error(field, f"unknown unit {text!r}; known: {', '.join(sorted(UNITS))}")],
        )
    return unit


def convert(amount: Decimal, from_unit: Unit, to_unit: Unit) -> Decimal:
    """Converts `amount` from one unit to another of the same dimension (exact Decimal arithmetic)."""
    if from_unit.dimension != to_unit.dimension:
        raise MissingQuantity(
            f"Cannot convert {from_unit} to {to_unit}",
            errors=[
                field_error(
                    "supplementary_unit",
                    f"{from_unit} ({from_unit.dimension}) does not convert to {to_unit} ({to_unit.dimension})",
                )
            ],
        )
    if from_unit is to_unit:
        return amount
    return amount * from_unit.factor / to_unit.factor


def quantity_in(
    unit: Unit,
    *,
    net_mass_kg: Decimal | None,
    quantity: Decimal | None,
    quantity_unit: Unit | None,
    field: str = "goods_item",
) -> Decimal:
    """Returns the goods item's quantity expressed in `unit`.

    The supplementary quantity is used when its unit has the same dimension; for a mass unit the net mass
    (kg) is the fallback. Anything else is a `MissingQuantity` naming what must be declared.
    """
    if quantity is not None and quantity_unit is not None and quantity_unit.dimension == unit.dimension:
        return convert(quantity, quantity_unit, unit)
    if unit.dimension == "mass" and net_mass_kg is not None:
        return convert(net_mass_kg, UNITS["kg"], unit)
    raise MissingQuantity(
        f"The duty is charged per {unit}; declare a supplementary quantity in {unit} "
        f"(or another {unit.dimension} unit)",
        errors=[field_error(f"{field}.supplementary_quantity", f"required in a {unit.dimension} unit such as {unit}")],
    )
