"""Duty expressions: parsing the rate texts tariffs print, and computing a duty from them.

Pure code: no ORM, no web. Forms read (see docs/tariff.md for the grammar):

* `Free`, `Free, under bond, ...` (a condition kept as text)
* ad valorem: `5.5%`, `33 1/3%`, `3 percent of the fair retail value` (qualified: see below)
* specific: `4.4¢/kg`, `$1.20/doz.`, `0.9¢ each`, `$1.32/pf. liter`, `38.4¢/1000`, `1.20 EUR/100 kg`
* compound: any sum of the above, `3.3¢/kg + 2.1%`, `36¢ each + 5.6% + 2¢/jewel`
* minimum / maximum clauses: `12% min 2 EUR/kg`, `5%, maximum $1/kg`, `4¢/kg but not less than 2%`
* chapter 99 surcharges: `The duty provided in the applicable subheading + 25%` (`includes_base`)
* `No change` (a chapter 99 column that leaves the rate unchanged) and cross-references `See 9822.04.25`.

A component may carry a qualifier (`on the case`, `on drained weight`, `of total sugars`): the tariff then charges
a part of the goods, which a declaration does not itemise; such an expression parses but `computable` is False and
evaluating it raises `DutyNotComputable` naming the qualifier. `on the entire set` is the whole goods item.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from typing import Literal

from clearway.errors import InvalidInput, field_error
from clearway.tariff.units import Unit, find_unit

HUNDRED = Decimal(100)
ZERO = Decimal(0)

# Qualifiers that still mean the whole goods item, so the component stays computable.
WHOLE_ITEM_QUALIFIERS = frozenset({"on the entire set", "on entire set"})
# Qualifiers that only restate what the unit measures (proof litres are litres of alcohol; the supplementary
# quantity of recording media is their recorded surface): computable from the declared quantity in that unit.
UNIT_QUALIFIERS = {"pf. liter": frozenset({"on ethyl alcohol content"}), "m2": frozenset({"of recording surface"})}


class DutyParseError(InvalidInput):
    """A duty text that does not follow the grammar; names the text, the position and the reason."""

    def __init__(self, text: str, position: int, reason: str, *, field_name: str = "duty_expression") -> None:
        pointer = f"{text[:position]}⟨here⟩{text[position:]}"
        super().__init__(
            f"Cannot read duty {text!r}: {reason} at position {position} ({pointer})",
            errors=[field_error(field_name, f"{reason} at position {position}")],
        )
        self.text = text
        self.position = position
        self.reason = reason


class DutyNotComputable(InvalidInput):
    """A parsed duty that cannot be computed from a goods item's declared value and quantities."""


@dataclass(frozen=True, slots=True)
class DutyComponent:
    """One term of a duty: ad valorem (`rate` percent of a value) or specific (`rate` money per `unit`)."""

    kind: Literal["ad_valorem", "specific"]
    rate: Decimal
    currency: str | None = None
    unit: Unit | None = None
    qualifier: str | None = None

    @property
    def computable(self) -> bool:
        if self.qualifier is None:
            return True
        qualifier = self.qualifier.lower()
        if qualifier in WHOLE_ITEM_QUALIFIERS:
            return True
        return self.unit is not None and qualifier in UNIT_QUALIFIERS.get(self.unit.code, frozenset())

    def describe(self) -> str:
        rate = _fmt(self.rate)
        core = f"{rate}%" if self.kind == "ad_valorem" else f"{rate} {self.currency}/{self.unit}"
        return f"{core} {self.qualifier}" if self.qualifier else core


def _fmt(value: Decimal) -> str:
    text = format(value.normalize(), "f")
    return text


@dataclass(frozen=True, slots=True)
class DutyExpression:
    """A parsed duty text. `components` add up; `minimum`/`maximum` bound the sum."""

    text: str
    kind: Literal["free", "rate", "no_change", "reference"]
    components: tuple[DutyComponent, ...] = ()
    minimum: DutyComponent | None = None
    maximum: DutyComponent | None = None
    includes_base: bool = False  # "The duty provided in the applicable subheading + ...": a surcharge on top of it
    reference: str | None = None  # what a reference points to (a heading, "the applicable subheading", ...)
    condition: str | None = None  # e.g. "under bond, as prescribed in U.S. note 1"
    _ad_valorem: Decimal = field(default=ZERO, repr=False, compare=False)
    _specific: tuple[DutyComponent, ...] = field(default=(), repr=False, compare=False)
    _computable: bool = field(default=True, repr=False, compare=False)
    _units: tuple[Unit, ...] = field(default=(), repr=False, compare=False)
    # value * simple_fraction is the whole duty (Free or ad valorem only, no bounds): the batch fast path.
    simple_fraction: Decimal | None = field(default=None, repr=False, compare=False)

    @property
    def computable(self) -> bool:
        """True when the duty follows from the value and quantities of a goods item alone."""
        return self._computable

    @property
    def units(self) -> tuple[Unit, ...]:
        """Units whose quantity the duty needs."""
        return self._units

    @property
    def is_free(self) -> bool:
        return self.kind == "free"

    @property
    def ad_valorem_rate(self) -> Decimal:
        """The sum of the ad valorem components, in percent."""
        return sum((c.rate for c in self.components if c.kind == "ad_valorem"), ZERO)

    def describe(self) -> str:
        """A normalised rendering, e.g. `0.033 USD/kg + 2.1%`."""
        if self.kind == "free":
            return "Free"
        if self.kind == "no_change":
            return "No change"
        if self.kind == "reference":
            return f"see {self.reference}"
        parts = [c.describe() for c in self.components]
        if self.includes_base:
            parts.insert(0, f"duty of {self.reference}")
        text = " + ".join(parts)
        if self.minimum:
            text += f" min {self.minimum.describe()}"
        if self.maximum:
            text += f" max {self.maximum.describe()}"
        return text

    def evaluate(
        self,
        *,
        value: Decimal,
        quantity: Callable[[Unit], Decimal] | None = None,
        money: Callable[[str], Decimal] | None = None,
        base_duty: Decimal | None = None,
    ) -> Decimal:
        """Returns the (unrounded) duty on goods of customs `value`.

        `quantity(unit)` gives the goods' quantity in a unit (raises when not declared); `money(currency)` gives
        the national-currency value of one unit of a specific duty's currency. `base_duty` is the duty of the
        applicable subheading, needed only for `includes_base` surcharges.
        """
        if self.kind == "free" or self.kind == "no_change":
            return ZERO
        if self.kind == "reference":
            raise DutyNotComputable(
                f"The rate {self.text!r} refers to {self.reference}; it has no amount of its own",
                errors=[field_error("duty_expression", "a cross-reference, not a rate")],
            )
        if not self.computable and not (self.includes_base and base_duty is not None and self._all_plain()):
            raise self._not_computable()
        total = value * self._ad_valorem / HUNDRED if self._ad_valorem else ZERO
        for component in self._specific:
            total += _specific_amount(component, quantity, money)
        if self.minimum is not None:
            floor = _component_amount(self.minimum, value, quantity, money)
            total = max(total, floor)
        if self.maximum is not None:
            ceiling = _component_amount(self.maximum, value, quantity, money)
            total = min(total, ceiling)
        if self.includes_base:
            total += base_duty or ZERO
        return total

    def _all_plain(self) -> bool:
        bounds = [c for c in (self.minimum, self.maximum) if c is not None]
        return all(c.computable for c in (*self.components, *bounds))

    def _not_computable(self) -> DutyNotComputable:
        if self.includes_base:
            reason = "it is a surcharge on the duty of the applicable subheading"
        else:
            parts = [c for c in (*self.components, self.minimum, self.maximum) if c is not None and not c.computable]
            reason = "it charges a part of the goods (" + "; ".join(str(c.qualifier) for c in parts) + ")"
        return DutyNotComputable(
            f"The rate {self.text!r} cannot be computed from a goods item's value and quantity: {reason}",
            errors=[field_error("duty_expression", reason)],
        )


def _specific_amount(
    component: DutyComponent,
    quantity: Callable[[Unit], Decimal] | None,
    money: Callable[[str], Decimal] | None,
) -> Decimal:
    assert component.unit is not None and component.currency is not None
    if quantity is None:
        raise DutyNotComputable(
            f"A duty per {component.unit} needs the goods' quantity",
            errors=[field_error("supplementary_quantity", f"required in {component.unit}")],
        )
    amount = component.rate * quantity(component.unit)
    if money is not None:
        amount *= money(component.currency)
    return amount


def _component_amount(
    component: DutyComponent,
    value: Decimal,
    quantity: Callable[[Unit], Decimal] | None,
    money: Callable[[str], Decimal] | None,
) -> Decimal:
    if component.kind == "ad_valorem":
        return value * component.rate / HUNDRED
    return _specific_amount(component, quantity, money)


def _finish(expression: DutyExpression) -> DutyExpression:
    """Precomputes what evaluation needs often (the hot path of batch assessment)."""
    ad_valorem = sum((c.rate for c in expression.components if c.kind == "ad_valorem"), ZERO)
    specific = tuple(c for c in expression.components if c.kind == "specific")
    parts = [*expression.components, *(c for c in (expression.minimum, expression.maximum) if c is not None)]
    if expression.kind in ("free", "no_change"):
        computable = True
    elif expression.kind == "reference" or expression.includes_base:
        computable = False
    else:
        computable = all(c.computable for c in parts)
    object.__setattr__(expression, "_ad_valorem", ad_valorem)
    object.__setattr__(expression, "_specific", specific)
    object.__setattr__(expression, "_computable", computable)
    object.__setattr__(expression, "_units", tuple(c.unit for c in parts if c.unit is not None))
    if expression.kind in ("free", "no_change"):
        object.__setattr__(expression, "simple_fraction", ZERO)
    elif (
        expression.kind == "rate"
        and computable
        and not specific
        and not expression.includes_base
        and expression.minimum is None
        and expression.maximum is None
    ):
        object.__setattr__(expression, "simple_fraction", ad_valorem / HUNDRED)
    return expression


# ---------------------------------------------------------------------------------------------------------- parsing

_NUMBER = r"\d+(?:,\d{3})*(?:\.\d+)?|\.\d+"
_RE_PERCENT = re.compile(
    rf"(?:a duty of\s+)?(?P<n>{_NUMBER})(?:\s+(?P<fn>\d+)/(?P<fd>\d+))?\s*(?:%|\s+percent\b)", re.I
)
_RE_DOLLAR = re.compile(rf"(?:a duty of\s+)?\$\s*(?P<n>{_NUMBER})")
_RE_CENT = re.compile(rf"(?:a duty of\s+)?(?P<n>{_NUMBER})\s*¢")
_RE_ISO = re.compile(rf"(?:a duty of\s+)?(?P<n>{_NUMBER})\s*(?P<cur>[A-Z]{{3}})\b")
_RE_PLUS = re.compile(r"\s*(?:\+|\bplus\b)\s*", re.I)
_RE_MIN = re.compile(r"\s*,?\s*(?:but\s+)?(?:not\s+less\s+than|minimum|min\.?)\s*", re.I)
_RE_MAX = re.compile(r"\s*,?\s*(?:but\s+)?(?:not\s+more\s+than|not\s+to\s+exceed|maximum|max\.?)\s*", re.I)
_RE_EACH = re.compile(r"\s*(?:each|per\s+item)\b", re.I)
_RE_SLASH = re.compile(r"\s*(?:/|\bper\b)\s*", re.I)
_RE_QUALIFIER_START = re.compile(r"\s*(?:,\s*including\b|on\b|of\b|upon\b|over\b)", re.I)
_RE_QUALIFIER_END = re.compile(
    r"\s*(?:\+|\bplus\b)\s*(?=[\d$.a])|\s*,?\s*(?:but\s+)?(?:not\s+less|not\s+more|not\s+to\s+exceed|minimum|maximum)\b",
    re.I,
)
_RE_FREE = re.compile(r"free\b\s*(?:,\s*(?P<cond>.+))?$", re.I)
_RE_NO_CHANGE = re.compile(r"no\s+change$", re.I)
_HEADING = r"\d{4}\.\d{2}(?:\.\d{2,4})?"
_RE_SEE = re.compile(rf"see\s+(?P<ref>{_HEADING}(?:\s*(?:-|,|and|or)\s*{_HEADING})*)$", re.I)
_RE_BASE = re.compile(
    r"the\s+duty\s+provided\s+(?:for\s+)?in\s*(?P<ref>the\s+applicable\s+subheading"
    r"|subheadings?\s+[\d.]+(?:\s*(?:,|or|and)\s*[\d.]+)*)",
    re.I,
)
# Longest first, so that "pf. liter" wins over "pf" and "doz. pr." over "doz.".
_UNIT_SPELLINGS = sorted(
    [
        "pf. liters",
        "pf. liter",
        "pf.liters",
        "pf.liter",
        "proof liter",
        "liters",
        "liter",
        "litres",
        "litre",
        "doz. prs.",
        "doz. pr.",
        "doz.",
        "doz",
        "dozen",
        "1,000 pins",
        "1,000",
        "1000",
        "thousand",
        "thou sand",
        "hundred",
        "line/ gross",
        "line/gross",
        "gross",
        "clean kg",
        "100 kg",
        "100kg",
        "kg",
        "g",
        "t",
        "mg",
        "head",
        "prs.",
        "pr.",
        "pair",
        "bbl",
        "barrel",
        "m2",
        "m²",
        "m3",
        "m³",
        "lin. m",
        "m",
        "cm2",
        "cm",
        "article",
        "jewel",
        "pack",
        "no.",
        "item",
        "piece",
        "kwh",
        "1000 kwh",
        "mwh",
        "ml",
        "cl",
        "hl",
        "l",
        "gal",
        "lb",
        "carat",
    ],
    key=len,
    reverse=True,
)
_RE_UNIT = re.compile(
    r"(?P<u>" + "|".join(re.escape(s) for s in _UNIT_SPELLINGS) + r")(?![a-z0-9²³])",
    re.I,
)


def normalise_text(text: str) -> str:
    """Collapses blanks and line breaks, rejoins words hyphenated across lines, drops a final full stop."""
    cleaned = re.sub(r"\s+", " ", text).strip()
    cleaned = re.sub(r"(?<=[a-z])- (?=[a-z])", "", cleaned)
    cleaned = re.sub(r"(?<=[0-9²³])of\b", " of", cleaned)
    if cleaned.endswith(".") and not re.search(r"\b(?:doz|prs?|no)\.$", cleaned, re.I):
        cleaned = cleaned[:-1].rstrip()
    return cleaned


def _number(text: str) -> Decimal:
    try:
        return Decimal(text.replace(",", ""))
    except InvalidOperation:  # pragma: no cover - the regexes only let numbers through
        raise ValueError(text) from None


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0

    def fail(self, reason: str, position: int | None = None) -> DutyParseError:
        return DutyParseError(self.text, self.pos if position is None else position, reason)

    def match(self, pattern: re.Pattern[str]) -> re.Match[str] | None:
        found = pattern.match(self.text, self.pos)
        if found:
            self.pos = found.end()
        return found

    def at_end(self) -> bool:
        return self.pos >= len(self.text)

    def component(self) -> DutyComponent:
        start = self.pos
        found = self.match(_RE_PERCENT)
        if found:
            rate = _number(found["n"])
            if found["fn"]:
                rate += Decimal(found["fn"]) / Decimal(found["fd"])
            return DutyComponent("ad_valorem", rate, qualifier=self.qualifier())
        currency: str
        found = self.match(_RE_DOLLAR)
        if found:
            amount, currency = _number(found["n"]), "USD"
        else:
            found = self.match(_RE_CENT)
            if found:
                amount, currency = _number(found["n"]) / HUNDRED, "USD"
            else:
                found = self.match(_RE_ISO)
                if not found:
                    raise self.fail("expected a rate such as '5%', '4.4¢/kg', '$1.20/doz.' or 'Free'", start)
                amount, currency = _number(found["n"]), found["cur"]
        unit = self.unit()
        return DutyComponent("specific", amount, currency=currency, unit=unit, qualifier=self.qualifier())

    def unit(self) -> Unit:
        if self.match(_RE_EACH):
            found_unit = find_unit("each")
            assert found_unit is not None
            return found_unit
        if not self.match(_RE_SLASH):
            raise self.fail("expected a unit after the amount ('/kg', '/liter', ' each', ...)")
        where = self.pos
        found = self.match(_RE_UNIT)
        if not found:
            raise self.fail("unknown unit of quantity", where)
        spelling = found["u"]
        if spelling.lower() == "clean kg":
            # A rate per kg of clean (scoured) wool: the quantity is the clean yield, not the net mass.
            unit = find_unit("kg")
            assert unit is not None
            self._pending_qualifier = "clean yield"
            return unit
        unit = find_unit(spelling)
        if unit is None:
            raise self.fail("unknown unit of quantity", where)
        return unit

    _pending_qualifier: str | None = None

    def qualifier(self) -> str | None:
        pending, self._pending_qualifier = self._pending_qualifier, None
        if self.at_end() or not _RE_QUALIFIER_START.match(self.text, self.pos):
            return pending
        end = _RE_QUALIFIER_END.search(self.text, self.pos)
        stop = end.start() if end else len(self.text)
        qualifier = self.text[self.pos : stop].strip(" ,")
        self.pos = stop
        if pending:
            qualifier = f"{pending} {qualifier}"
        return qualifier

    def components(self) -> list[DutyComponent]:
        parts = [self.component()]
        while not self.at_end():
            save = self.pos
            if self.match(_RE_PLUS):
                parts.append(self.component())
                continue
            self.pos = save
            break
        return parts


@lru_cache(maxsize=16384)
def parse_duty(text: str) -> DutyExpression:
    """Parses a duty text into a `DutyExpression`; raises `DutyParseError` (text, position, reason) if malformed.

    Results are cached: a tariff prints the same few hundred texts over and over.
    """
    if not isinstance(text, str) or not text.strip():
        raise DutyParseError(str(text or ""), 0, "empty duty text")
    norm = normalise_text(text)
    found = _RE_FREE.match(norm)
    if found:
        return _finish(DutyExpression(text=text, kind="free", condition=found["cond"]))
    if _RE_NO_CHANGE.match(norm):
        return _finish(DutyExpression(text=text, kind="no_change"))
    found = _RE_SEE.match(norm)
    if found:
        return _finish(DutyExpression(text=text, kind="reference", reference=found["ref"]))
    parser = _Parser(norm)
    includes_base = False
    reference = None
    found = parser.match(_RE_BASE)
    if found:
        includes_base = True
        reference = re.sub(r"\s+", " ", found["ref"])
        if parser.at_end():
            return _finish(DutyExpression(text=text, kind="rate", includes_base=True, reference=reference))
        if not parser.match(_RE_PLUS):
            raise parser.fail("expected '+' after the applicable subheading")
    components = parser.components()
    minimum = maximum = None
    while not parser.at_end():
        if minimum is None and parser.match(_RE_MIN):
            minimum = parser.component()
        elif maximum is None and parser.match(_RE_MAX):
            maximum = parser.component()
        else:
            raise parser.fail("unexpected text")
    if (
        minimum is not None
        and maximum is not None
        and minimum.kind == maximum.kind == "ad_valorem"
        and minimum.rate > maximum.rate
    ):
        raise parser.fail("the minimum exceeds the maximum", 0)
    return _finish(
        DutyExpression(
            text=text,
            kind="rate",
            components=tuple(components),
            minimum=minimum,
            maximum=maximum,
            includes_base=includes_base,
            reference=reference,
        )
    )


def try_parse(text: str) -> DutyExpression | DutyParseError:
    """Returns the parsed expression, or the parse error (for load reports)."""
    try:
        return parse_duty(text)
    except DutyParseError as error:
        return error
