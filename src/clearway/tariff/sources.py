"""Reading tariff files into plain records: the USITC HTS CSV export and Clearway's own CSV/JSON format.

Pure code (files in, dataclasses out). docs/tariff.md documents both formats. Every rate text read is parsed;
the `LoadReport` counts texts parsed, the structured references among them, and lists the unparsed ones with counts.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from clearway.errors import InvalidInput, field_error
from clearway.tariff.duty import DutyParseError, parse_duty
from clearway.tariff.index import MEASURE_TYPES, MeasureRecord, normalise_code
from clearway.tariff.programmes import COLUMN2_COUNTRIES, countries_of

HTS_COLUMNS = (
    "hts_number",
    "indent",
    "description",
    "unit_of_quantity",
    "general_rate",
    "special_rate",
    "column2_rate",
)
CLEARWAY_COLUMNS = ("code", "measure_type", "duty")
_SEGMENT = re.compile(r"\s*(?P<rate>[^()]*?)\s*\((?P<codes>[A-Z0-9+*,\s]+)\)")


@dataclass(slots=True)
class LineRecord:
    """A nomenclature line: code (digits), its full description (HTS: ancestors › own text), indent, units."""

    code: str
    description: str
    indent: int = 0
    units: str = ""


@dataclass(slots=True)
class LoadReport:
    """What a tariff load read: rows, lines, measures and how many rate texts parsed."""

    rows_read: int = 0
    lines: int = 0
    measures: int = 0
    texts_total: int = 0
    texts_parsed: int = 0
    texts_references: int = 0  # parsed, but point elsewhere (see heading / surcharge on the applicable subheading)
    texts_not_computable: int = 0  # parsed, but charge a part of the goods (on the case, on copper content, ...)
    unparsed: Counter[str] = field(default_factory=Counter)

    @property
    def parsed_share(self) -> float:
        return self.texts_parsed / self.texts_total if self.texts_total else 1.0

    def count_text(self, text: str) -> bool:
        self.texts_total += 1
        try:
            expression = parse_duty(text)
        except DutyParseError:
            self.unparsed[text] += 1
            return False
        self.texts_parsed += 1
        if expression.kind == "reference" or expression.includes_base:
            self.texts_references += 1
        elif not expression.computable:
            self.texts_not_computable += 1
        return True


@dataclass(slots=True)
class TariffData:
    lines: list[LineRecord]
    measures: list[MeasureRecord]
    report: LoadReport


def split_special(text: str) -> list[tuple[str, tuple[str, ...]]]:
    """Splits an HTS Special column into (rate text, programme symbols) pairs.

    `Free (A,AU,BH, CL) 3.2% (JP)` -> [("Free", ("A","AU","BH","CL")), ("3.2%", ("JP",))]. Text left without a
    programme list is returned with an empty tuple (it parses or is reported, but grants nothing).
    """
    out: list[tuple[str, tuple[str, ...]]] = []
    position = 0
    for found in _SEGMENT.finditer(text):
        if text[position : found.start()].strip():
            out.append((text[position : found.start()].strip(), ()))
        codes = tuple(c.strip() for c in found["codes"].split(",") if c.strip())
        out.append((found["rate"].strip(), codes))
        position = found.end()
    rest = text[position:].strip()
    if rest:
        out.append((rest, ()))
    return [(rate, codes) for rate, codes in out if rate]


def _hts_units(raw: str) -> str:
    if not raw:
        return ""
    try:
        values = json.loads(raw)
    except json.JSONDecodeError:
        return raw
    return ",".join(str(v).strip() for v in values if str(v).strip())


def read_hts(
    stream: Iterable[str],
    *,
    valid_from: date,
    progress: Callable[[int], None] | None = None,
) -> TariffData:
    """Reads the USITC HTS CSV export (columns of docs/tariff.md) into lines and measures.

    General -> `third_country`, each Special segment -> `preference` (programme symbols and their countries),
    Column 2 -> `origin_rate` for Cuba, North Korea, Russia and Belarus. Rates are stored on the row that prints them;
    a 10-digit line without its own rate inherits its 8-digit parent's when the tariff index resolves it.
    """
    reader = csv.DictReader(stream)
    missing = [c for c in HTS_COLUMNS if c not in (reader.fieldnames or [])]
    if missing:
        raise InvalidInput(
            "Not an HTS CSV export: missing columns " + ", ".join(missing),
            errors=[field_error("path", f"missing columns {', '.join(missing)}")],
        )
    report = LoadReport()
    lines: list[LineRecord] = []
    measures: list[MeasureRecord] = []
    # The full description of a row is its own text after those of the nearest preceding rows of smaller indent.
    ancestors: list[tuple[int, str]] = []
    for row in reader:
        report.rows_read += 1
        if progress and report.rows_read % 500 == 0:
            progress(report.rows_read)
        own = re.sub(r"\s+", " ", row.get("description") or "").strip()
        try:
            indent = int(row.get("indent") or 0)
        except ValueError:
            indent = 0
        while ancestors and ancestors[-1][0] >= indent:
            ancestors.pop()
        full = " › ".join([text for _, text in ancestors] + [own])
        ancestors.append((indent, own))
        number = (row.get("hts_number") or "").strip()
        if not number:
            continue
        try:
            code = normalise_code(number)
        except InvalidInput:
            continue
        lines.append(LineRecord(code, full, indent, _hts_units(row.get("unit_of_quantity") or "")))

        def add(
            measure_type: str,
            text: str,
            programme: str | None = None,
            countries: frozenset[str] = frozenset(),
            *,
            code: str = code,
        ) -> None:
            report.count_text(text)
            measures.append(
                MeasureRecord(
                    code=code,
                    measure_type=measure_type,
                    duty_text=text,
                    valid_from=valid_from,
                    programme=programme,
                    countries=countries,
                    source="hts",
                )
            )

        general = (row.get("general_rate") or "").strip()
        if general:
            add("third_country", general)
        special = (row.get("special_rate") or "").strip()
        if special:
            for rate, codes in split_special(special):
                add("preference", rate, ",".join(codes) or None, countries_of(codes))
        column2 = (row.get("column2_rate") or "").strip()
        if column2:
            add("origin_rate", column2, "column2", COLUMN2_COUNTRIES)
    if progress:
        progress(report.rows_read)
    report.lines = len(lines)
    report.measures = len(measures)
    return TariffData(lines, measures, report)


def _date(value: str | None, field_name: str, row: int) -> date | None:
    if value is None or not str(value).strip():
        return None
    try:
        return date.fromisoformat(str(value).strip())
    except ValueError:
        raise InvalidInput(
            f"Row {row}: {field_name} {value!r} is not a date (YYYY-MM-DD)",
            errors=[field_error(f"row {row}.{field_name}", "expected YYYY-MM-DD")],
        ) from None


def _clearway_rows(path: Path) -> Iterator[dict[str, object]]:
    text = path.read_text(encoding="utf-8-sig")
    if path.suffix.lower() == ".json":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as error:
            raise InvalidInput(
                f"{path.name} is not valid JSON: {error}", errors=[field_error("path", "invalid JSON")]
            ) from None
        rows = data.get("measures") if isinstance(data, dict) else data
        if not isinstance(rows, list):
            raise InvalidInput(
                'A Clearway JSON tariff is a list of measures or {"measures": [...]}',
                errors=[field_error("path", "expected a 'measures' list")],
            )
        yield from rows
        return
    reader = csv.DictReader(io.StringIO(text))
    missing = [c for c in CLEARWAY_COLUMNS if c not in (reader.fieldnames or [])]
    if missing:
        raise InvalidInput(
            "Not a Clearway tariff CSV: missing columns " + ", ".join(missing),
            errors=[field_error("path", f"missing columns {', '.join(missing)}")],
        )
    yield from reader


def read_clearway(path: Path, *, valid_from: date) -> TariffData:
    """Reads a tariff in Clearway's format (CSV or JSON, docs/tariff.md). Malformed rows are errors, not skipped."""
    report = LoadReport()
    lines: dict[str, LineRecord] = {}
    measures: list[MeasureRecord] = []
    errors: list[dict[str, str]] = []
    for number, row in enumerate(_clearway_rows(path), start=2 if path.suffix.lower() != ".json" else 1):
        report.rows_read += 1
        if not isinstance(row, dict):
            errors.append(field_error(f"row {number}", "expected an object"))
            continue
        try:
            code = normalise_code(str(row.get("code") or ""), field=f"row {number}.code")
            measure_type = str(row.get("measure_type") or "third_country").strip()
            if measure_type not in MEASURE_TYPES:
                raise InvalidInput(
                    "bad measure type",
                    errors=[
                        field_error(
                            f"row {number}.measure_type",
                            f"{measure_type!r}; expected one of {', '.join(MEASURE_TYPES)}",
                        )
                    ],
                )
            text = str(row.get("duty") or "").strip()
            parse_duty(text)
            raw_countries = row.get("countries") or ""
            if isinstance(raw_countries, list):
                raw_countries = ",".join(str(c) for c in raw_countries)
            countries = frozenset(c.strip().upper() for c in re.split(r"[,\s]+", str(raw_countries)) if c.strip())
            if measure_type in ("preference", "origin_rate") and not countries:
                raise InvalidInput(
                    "no countries",
                    errors=[
                        field_error(
                            f"row {number}.countries", f"a {measure_type} measure must list the origins it covers"
                        )
                    ],
                )
            start = _date(row.get("valid_from"), "valid_from", number) or valid_from  # type: ignore[arg-type]
            end = _date(row.get("valid_to"), "valid_to", number)  # type: ignore[arg-type]
            if end is not None and end < start:
                raise InvalidInput("bad period", errors=[field_error(f"row {number}.valid_to", "before valid_from")])
        except DutyParseError as error:
            errors.append(field_error(f"row {number}.duty", error.detail))
            continue
        except InvalidInput as error:
            errors.extend(error.errors or [field_error(f"row {number}", error.detail)])
            continue
        report.count_text(text)
        programme = str(row.get("programme") or "").strip() or None
        measures.append(
            MeasureRecord(
                code=code,
                measure_type=measure_type,
                duty_text=text,
                valid_from=start,
                valid_to=end,
                programme=programme,
                countries=countries,
                source="clearway",
            )
        )
        if code not in lines:
            lines[code] = LineRecord(
                code, str(row.get("description") or "").strip(), 0, str(row.get("unit") or "").strip()
            )
    if errors:
        shown = "; ".join(f"{e['field']}: {e['reason']}" for e in errors[:5])
        raise InvalidInput(f"{len(errors)} invalid row(s) in {path.name}: {shown}", errors=errors)
    report.lines = len(lines)
    report.measures = len(measures)
    return TariffData(list(lines.values()), measures, report)
