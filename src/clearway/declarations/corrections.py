"""HS codes that officers record in control results: for each goods item, the latest result's code stands.

Revenue re-assesses with them; the classification assistant learns from them (`clearway classify train`)."""

from __future__ import annotations

import csv
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TextIO

from sqlalchemy import String, cast, select, tuple_
from sqlalchemy.orm import Session

from clearway.declarations.models import ControlResult, GoodsItem

# The export's columns: `description` and `code` first, the two that `clearway classify train` reads.
CSV_COLUMNS = ("description", "code", "declared_code", "declaration", "item", "officer", "recorded_at")
_CHUNK = 500  # goods items looked up per query (bound parameters stay well under every backend's limit)


@dataclass(frozen=True)
class CodeCorrection:
    declaration_id: str
    sequence: int
    hs_code: str
    officer: str
    recorded_at: datetime


@dataclass(frozen=True)
class RecordedCorrection:
    """A corrected code with the goods item it belongs to, as training and the analyst's export read it."""

    correction: CodeCorrection
    description: str
    declared_code: str

    @property
    def changes_code(self) -> bool:
        """False when the officer confirmed the declared code (at any length: 6109.10 confirms 6109.10.00.10)."""
        declared, recorded = self.declared_code, self.correction.hs_code
        return not (declared.startswith(recorded) or recorded.startswith(declared))


def latest_code_corrections(results: Iterable[ControlResult]) -> dict[tuple[str, int], CodeCorrection]:
    """(declaration id, goods item sequence) -> its correction; `results` in the order they were recorded."""
    latest: dict[tuple[str, int], CodeCorrection] = {}
    for result in results:
        for sequence, code in ((result.corrections or {}).get("hs_codes") or {}).items():
            key = (result.declaration_id, int(sequence))
            latest[key] = CodeCorrection(result.declaration_id, int(sequence), code, result.officer, result.recorded_at)
    return latest


def recorded_code_corrections(session: Session) -> list[RecordedCorrection]:
    """Every goods item whose code an officer recorded in a control result, oldest correction first."""
    # Most control results correct nothing; their `corrections` is stored as JSON null (the text 'null').
    with_corrections = cast(ControlResult.corrections, String) != "null"
    query = select(ControlResult).where(with_corrections).order_by(ControlResult.id)
    results = session.scalars(query.execution_options(yield_per=1000))
    latest = latest_code_corrections(results)
    keys = list(latest)
    items: dict[tuple[str, int], GoodsItem] = {}
    for start in range(0, len(keys), _CHUNK):
        chunk = keys[start : start + _CHUNK]
        query = select(GoodsItem).where(tuple_(GoodsItem.declaration_id, GoodsItem.sequence).in_(chunk))
        items.update(((item.declaration_id, item.sequence), item) for item in session.scalars(query))
    return [
        RecordedCorrection(correction, items[key].description, items[key].hs_code)
        for key, correction in sorted(latest.items(), key=lambda entry: entry[1].recorded_at)
        if key in items  # an amendment since the control can drop the item the officer corrected
    ]


def write_corrections_csv(recorded: Sequence[RecordedCorrection], out: TextIO) -> None:
    """The corrections as a CSV with `CSV_COLUMNS`, for an analyst to review or to keep beside the labelled file."""
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    for r in recorded:
        c = r.correction
        when = c.recorded_at.isoformat()
        writer.writerow([r.description, c.hs_code, r.declared_code, c.declaration_id, c.sequence, c.officer, when])
