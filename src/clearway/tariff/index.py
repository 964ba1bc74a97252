"""The in-memory compiled tariff: measures by commodity code, parsed once, resolved per code and date.

Pure code: built from plain `MeasureRecord`s (the service reads them from the database, tests build them by hand).
A 10-digit code without a measure of some type takes it from its nearest parent (8, then 6, then 4 digits): the HTS
prints most rates on the 8-digit line. When several load batches (tariff versions) have measures of a type for a code
in force on a date, those of the newest batch win.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

from clearway.errors import InvalidInput, NotFound, field_error
from clearway.tariff.duty import DutyExpression, DutyParseError, parse_duty
from clearway.tariff.programmes import PROGRAMMES, Programme, countries_of, programme_for

MEASURE_TYPES = ("third_country", "preference", "origin_rate", "vat", "excise")
PREFIX_LENGTHS = (10, 8, 6, 4)


@dataclass(frozen=True, slots=True)
class MeasureRecord:
    """One measure as stored: a duty text on a commodity code for a period, maybe limited to origins."""

    code: str
    measure_type: str
    duty_text: str
    valid_from: date
    valid_to: date | None = None
    programme: str | None = None  # programme symbols, comma separated ("A,AU,BH")
    countries: frozenset[str] = frozenset()  # origins the measure covers (preference / origin_rate)
    measure_id: int | None = None
    version_id: int = 0
    source: str = ""


@dataclass(frozen=True, slots=True)
class CompiledMeasure:
    """A measure with its parsed duty expression (None when the text did not parse)."""

    record: MeasureRecord
    expression: DutyExpression | None
    programmes: tuple[str, ...]
    label: str  # "measure 12 (preference on 0201.10.50, KR)": where a tax line came from
    uses_registry: bool = False  # HTS programme symbols: eligibility comes from clearway.tariff.programmes
    reach: frozenset[str] = frozenset()  # every origin any of its programmes could cover (a quick first test)

    def applies_to(self, origin: str, on: date) -> bool:
        """Quick form of `covers` for the hot path."""
        if self.uses_registry:
            return origin in self.reach and self.covers(origin, on)[0]
        return origin in self.record.countries

    def covers(
        self, origin: str, on: date, *, programme: str | None = None
    ) -> tuple[bool, str | None, Programme | None]:
        """Whether the measure applies to goods of `origin` on `on`: (yes, reason if not, programme granted).

        `programme` limits the check to one programme symbol the declarant claims.
        """
        if origin not in self.reach:
            return False, None, None  # the caller words the reason once for all measures
        symbols = self.programmes if programme is None else tuple(p for p in self.programmes if p == programme)
        if self.uses_registry and any(p in PROGRAMMES for p in symbols):
            # US symbols: the programme registry knows each programme's countries and whether it is in force.
            granted, reason = programme_for(symbols, origin, on)
            return granted is not None, reason, granted
        if origin in self.record.countries:
            return True, None, None
        return False, f"origin {origin} is not covered by {self.record.programme or 'the measure'}", None


@dataclass(frozen=True, slots=True)
class ResolvedLine:
    """The measures in force for one commodity code on one date."""

    code: str
    on: date
    third_country: CompiledMeasure | None
    preferences: tuple[CompiledMeasure, ...]
    origin_rates: tuple[CompiledMeasure, ...]
    vat: CompiledMeasure | None
    excise: tuple[CompiledMeasure, ...]

    def all(self) -> list[CompiledMeasure]:
        single = [m for m in (self.third_country, self.vat) if m is not None]
        return [*single, *self.preferences, *self.origin_rates, *self.excise]


class TariffLineNotFound(NotFound):
    """No third-country duty is in force for the commodity code on the date."""


def normalise_code(code: str, *, field: str = "commodity_code") -> str:
    """Returns the digits of a commodity code (dots and blanks dropped); 4 to 10 digits, else InvalidInput."""
    digits = "".join(ch for ch in str(code) if ch not in ". ")
    if not digits.isdigit() or not 4 <= len(digits) <= 10 or len(digits) % 2:
        raise InvalidInput(
            f"Commodity code {code!r} is not 4, 6, 8 or 10 digits",
            errors=[field_error(field, "expected 4, 6, 8 or 10 digits (dots allowed), e.g. 0201.10.50.10")],
        )
    return digits


def format_code(digits: str) -> str:
    """Renders digits in the dotted HTS style: 0101.21.00.10."""
    parts = [digits[:4]] + [digits[i : i + 2] for i in range(4, len(digits), 2)]
    return ".".join(parts)


class TariffIndex:
    """Measures by code, parsed once; `resolve(code, on)` is cached per (code, date) for the batch hot path."""

    def __init__(self, records: Iterable[MeasureRecord], *, version_key: object = None) -> None:
        self.version_key = version_key
        self._by_code: dict[str, list[CompiledMeasure]] = {}
        self._cache: dict[tuple[str, date], ResolvedLine] = {}
        self.unparsed: dict[str, int] = {}
        for record in records:
            try:
                expression: DutyExpression | None = parse_duty(record.duty_text)
            except DutyParseError:
                expression = None
                self.unparsed[record.duty_text] = self.unparsed.get(record.duty_text, 0) + 1
            programmes = tuple(p.strip() for p in (record.programme or "").split(",") if p.strip())
            ident = f"measure {record.measure_id}" if record.measure_id is not None else "measure"
            label = f"{ident} ({record.measure_type} on {format_code(record.code)}" + (
                f", {record.programme})" if record.programme else ")"
            )
            registry = record.source == "hts" and any(p in PROGRAMMES for p in programmes)
            reach = countries_of(programmes) if registry else record.countries
            self._by_code.setdefault(record.code, []).append(
                CompiledMeasure(record, expression, programmes, label, registry, reach)
            )
        self._size = sum(len(v) for v in self._by_code.values())  # the index never changes after this

    def __len__(self) -> int:
        return self._size

    def codes(self) -> list[str]:
        return sorted(self._by_code)

    def _in_force(self, code: str, on: date) -> list[CompiledMeasure]:
        return [
            m
            for m in self._by_code.get(code, ())
            if m.record.valid_from <= on and (m.record.valid_to is None or on <= m.record.valid_to)
        ]

    def resolve(self, code: str, on: date) -> ResolvedLine:
        """Returns the measures in force for `code` on `on`, each type taken from the nearest line that has it."""
        key = (code, on)
        cached = self._cache.get(key)
        if cached is not None:
            return cached
        digits = normalise_code(code)
        by_type: dict[str, list[CompiledMeasure]] = {}
        for length in PREFIX_LENGTHS:
            if length > len(digits):
                continue
            measures = self._in_force(digits[:length], on)
            for measure_type in MEASURE_TYPES:
                if measure_type in by_type:
                    continue
                of_type = [m for m in measures if m.record.measure_type == measure_type]
                if of_type:
                    # Several loads cover the date: the newest load's measures of this type win.
                    newest = max(m.record.version_id for m in of_type)
                    by_type[measure_type] = [m for m in of_type if m.record.version_id == newest]
        third = by_type.get("third_country")
        if not third:
            longer = [c for c in self._by_code if c.startswith(digits) and len(c) > len(digits)][:5]
            hint = (
                f"; declare a longer code, e.g. {', '.join(format_code(c) for c in sorted(longer))}" if longer else ""
            )
            raise TariffLineNotFound(
                f"No third-country duty is in force for commodity code {format_code(digits)} on {on.isoformat()}"
                + hint,
                errors=[field_error("commodity_code", "not in the national tariff on that date" + hint)],
            )
        vat = by_type.get("vat")
        line = ResolvedLine(
            code=digits,
            on=on,
            third_country=third[0],
            preferences=tuple(by_type.get("preference", ())),
            origin_rates=tuple(by_type.get("origin_rate", ())),
            vat=vat[0] if vat else None,
            excise=tuple(by_type.get("excise", ())),
        )
        if len(self._cache) > 200_000:
            self._cache.clear()
        self._cache[key] = line
        return line

    def measures_on(self, code: str, on: date) -> ResolvedLine:
        """Alias of `resolve` for readers (CLI/API `show`)."""
        return self.resolve(code, on)
