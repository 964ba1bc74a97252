"""Tariff use cases: load a tariff or exchange rates, show a line, calculate taxes. Callers commit once.

The compiled tariff index and rate table are built once per process and database, and rebuilt only when a new
tariff version or rate load appears (checked with one cheap query per call), so calculations never query measures.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.orm import Session

from clearway.config import Settings
from clearway.errors import NotFound, field_error
from clearway.tariff.calculation import Assessment, CalculationPolicy, Calculator, DeclarationInput
from clearway.tariff.exchange import RateRecord, RateTable
from clearway.tariff.index import MeasureRecord, ResolvedLine, TariffIndex, format_code, normalise_code
from clearway.tariff.models import ExchangeRate, TariffLine, TariffMeasure, TariffVersion
from clearway.tariff.sources import TariffData

BATCH = 2000
NO_TARIFF = "No tariff is loaded; run `clearway tariff load` (the shipped US HTS) or `clearway tariff load PATH`"
_lock = threading.Lock()
_indexes: dict[str, tuple[object, TariffIndex]] = {}
_rate_tables: dict[str, tuple[object, RateTable]] = {}


def policy_from_settings(settings: Settings) -> CalculationPolicy:
    """The calculation choices an administration configures (CLEARWAY_* settings)."""
    return CalculationPolicy(
        national_currency=settings.national_currency.upper(),
        valuation_basis=settings.valuation_basis,
        de_minimis_duty=settings.de_minimis_duty,
        de_minimis_vat=settings.de_minimis_vat,
        vat_rate=settings.vat_rate,
        vat_base_includes_excise=settings.vat_base_includes_excise,
    )


def load_tariff(
    *,
    db_session: Session,
    data: TariffData,
    name: str,
    source_format: str,
    source: str,
    valid_from: date,
    replace: bool = True,
    progress: Callable[[int], None] | None = None,
) -> TariffVersion:
    """Stores a read tariff as a new version.

    `replace` (a whole tariff): measures of earlier versions end the day before `valid_from` (those starting later
    are cancelled), so codes the new tariff drops stop applying; rows are kept for dates before. Without it (a
    partial load) earlier measures stay, and per code and type the newest version's measures win.
    """
    report = data.report
    if replace:
        _end_earlier_versions(db_session, valid_from)
    version = TariffVersion(
        name=name,
        source_format=source_format,
        source=source,
        valid_from=valid_from,
        rows_read=report.rows_read,
        lines_loaded=report.lines,
        measures_loaded=report.measures,
        texts_total=report.texts_total,
        texts_parsed=report.texts_parsed,
    )
    db_session.add(version)
    db_session.flush()
    line_rows = [
        {
            "version_id": version.id,
            "code": line.code,
            "description": line.description,
            "indent": line.indent,
            "units": line.units[:100],
        }
        for line in data.lines
    ]
    for start in range(0, len(line_rows), BATCH):
        db_session.execute(insert(TariffLine), line_rows[start : start + BATCH])
    unparsed = set(report.unparsed)
    measure_rows = [
        {
            "version_id": version.id,
            "code": m.code,
            "measure_type": m.measure_type,
            "duty_text": m.duty_text,
            "parsed": m.duty_text not in unparsed,
            "programme": m.programme,
            "countries": ",".join(sorted(m.countries)),
            "source": m.source,
            "valid_from": m.valid_from,
            "valid_to": m.valid_to,
        }
        for m in data.measures
    ]
    for start in range(0, len(measure_rows), BATCH):
        db_session.execute(insert(TariffMeasure), measure_rows[start : start + BATCH])
        if progress:
            progress(min(start + BATCH, len(measure_rows)))
    return version


def _end_earlier_versions(db_session: Session, valid_from: date) -> None:
    day_before = valid_from - timedelta(days=1)
    db_session.execute(
        update(TariffMeasure)
        .where(TariffMeasure.valid_from < valid_from)
        .where((TariffMeasure.valid_to.is_(None)) | (TariffMeasure.valid_to >= valid_from))
        .values(valid_to=day_before)
    )
    # Measures of earlier versions that would only start later are cancelled: their period becomes empty.
    db_session.execute(update(TariffMeasure).where(TariffMeasure.valid_from >= valid_from).values(valid_to=day_before))


def versions(*, db_session: Session) -> list[TariffVersion]:
    return list(db_session.scalars(select(TariffVersion).order_by(TariffVersion.id)))


def _index_key(db_session: Session) -> object:
    # id, count and time of the newest load: a truncated and reloaded database never looks unchanged.
    return tuple(
        db_session.execute(
            select(func.max(TariffVersion.id), func.count(TariffVersion.id), func.max(TariffVersion.loaded_at))
        ).one()
    )


def tariff_index(*, db_session: Session) -> TariffIndex:
    """Returns the process's compiled index for this database, rebuilt when a tariff version was added."""
    url = str(db_session.get_bind().engine.url)
    key = _index_key(db_session)
    cached = _indexes.get(url)
    if cached is not None and cached[0] == key:
        return cached[1]
    with _lock:
        rows = db_session.execute(
            select(
                TariffMeasure.id,
                TariffMeasure.version_id,
                TariffMeasure.code,
                TariffMeasure.measure_type,
                TariffMeasure.duty_text,
                TariffMeasure.programme,
                TariffMeasure.countries,
                TariffMeasure.source,
                TariffMeasure.valid_from,
                TariffMeasure.valid_to,
            )
        )
        records = [
            MeasureRecord(
                code=r.code,
                measure_type=r.measure_type,
                duty_text=r.duty_text,
                valid_from=r.valid_from,
                valid_to=r.valid_to,
                programme=r.programme,
                countries=frozenset(c for c in (r.countries or "").split(",") if c),
                measure_id=r.id,
                version_id=r.version_id,
                source=r.source,
            )
            for r in rows
        ]
        index = TariffIndex(records, version_key=key)
        _indexes[url] = (key, index)
        return index


def show_line(*, db_session: Session, code: str, on: date) -> dict[str, Any]:
    """The measures in force for `code` on `on`, with the line's description (for `show` and the API)."""
    digits = normalise_code(code)
    index = tariff_index(db_session=db_session)
    if not len(index):
        raise NotFound(NO_TARIFF, errors=[field_error("tariff", "no measures loaded")])
    resolved: ResolvedLine = index.resolve(digits, on)
    line = db_session.scalars(
        select(TariffLine).where(TariffLine.code == digits).order_by(TariffLine.version_id.desc()).limit(1)
    ).first()
    if line is None:
        for length in (8, 6, 4):
            line = db_session.scalars(
                select(TariffLine)
                .where(TariffLine.code == digits[:length])
                .order_by(TariffLine.version_id.desc())
                .limit(1)
            ).first()
            if line:
                break
    measures = []
    for measure in resolved.all():
        rec = measure.record
        expression = measure.expression
        measures.append(
            {
                "measure_id": rec.measure_id,
                "measure_type": rec.measure_type,
                "code": format_code(rec.code),
                "inherited_from": format_code(rec.code) if rec.code != digits else None,
                "duty_text": rec.duty_text,
                "parsed": expression is not None,
                "computable": bool(expression and expression.computable),
                "normalised": expression.describe() if expression else None,
                "programme": rec.programme,
                "countries": sorted(rec.countries),
                "valid_from": rec.valid_from.isoformat(),
                "valid_to": rec.valid_to.isoformat() if rec.valid_to else None,
                "version_id": rec.version_id,
            }
        )
    return {
        "code": format_code(digits),
        "on": on.isoformat(),
        "description": line.description if line else None,
        "units": [u for u in (line.units.split(",") if line and line.units else [])],
        "measures": measures,
    }


@dataclass(slots=True)
class RatesLoadResult:
    inserted: int
    updated: int
    unchanged: int


def load_rates(*, db_session: Session, records: list[RateRecord]) -> RatesLoadResult:
    """Upserts exchange rates by (currency, valid_from); an existing rate with a new value is updated."""
    existing = {(r.currency, r.valid_from): r for r in db_session.scalars(select(ExchangeRate))}
    inserted = updated = unchanged = 0
    for rec in records:
        row = existing.get((rec.currency, rec.valid_from))
        if row is None:
            db_session.add(
                ExchangeRate(currency=rec.currency, valid_from=rec.valid_from, rate=rec.rate, source=rec.source[:200])
            )
            inserted += 1
        elif Decimal(row.rate) != rec.rate:
            row.rate, row.source = rec.rate, rec.source[:200]
            updated += 1
        else:
            unchanged += 1
    db_session.flush()
    _rate_tables.clear()
    return RatesLoadResult(inserted, updated, unchanged)


def list_rates(*, db_session: Session, currency: str | None = None) -> list[ExchangeRate]:
    query = select(ExchangeRate).order_by(ExchangeRate.currency, ExchangeRate.valid_from)
    if currency:
        query = query.where(ExchangeRate.currency == currency.upper())
    return list(db_session.scalars(query))


def rate_table(*, db_session: Session, national_currency: str) -> RateTable:
    """Returns the process's rate table for this database, rebuilt when rates change."""
    url = str(db_session.get_bind().engine.url)
    key = (
        national_currency,
        *db_session.execute(
            select(func.count(ExchangeRate.id), func.max(ExchangeRate.loaded_at), func.sum(ExchangeRate.rate))
        ).one(),
    )
    cached = _rate_tables.get(url)
    if cached is not None and cached[0] == key:
        return cached[1]
    rows = db_session.scalars(select(ExchangeRate))
    table = RateTable(
        national_currency, [RateRecord(r.currency, r.valid_from, Decimal(r.rate), r.source) for r in rows]
    )
    _rate_tables[url] = (key, table)
    return table


def calculator(*, db_session: Session, settings: Settings) -> Calculator:
    """A calculator over the stored tariff and rates (cached structures; cheap to build per request)."""
    policy = policy_from_settings(settings)
    index = tariff_index(db_session=db_session)
    if not len(index):
        raise NotFound(NO_TARIFF, errors=[field_error("tariff", "no measures loaded")])
    return Calculator(
        tariff=index, rates=rate_table(db_session=db_session, national_currency=policy.national_currency), policy=policy
    )


def calculate(*, db_session: Session, settings: Settings, declaration: DeclarationInput) -> Assessment:
    """The landed cost of a would-be declaration; nothing is stored."""
    return calculator(db_session=db_session, settings=settings).assess(declaration)


def shipped_hts_path() -> Path:
    """The US HTS CSV shipped with Clearway (src/clearway/reference/us_hts/hts_full.csv)."""
    from importlib import resources

    return Path(str(resources.files("clearway") / "reference" / "us_hts" / "hts_full.csv"))


def shipped_rates_path() -> Path:
    from importlib import resources

    return Path(str(resources.files("clearway") / "reference" / "rates" / "demo_rates.csv"))
