"""HS codes that officers record with control results (`HSCodeCorrection`): for each goods item the latest stands.

Revenue re-assesses with them; the classification assistant learns from them (`clearway classify train`), and
analysts review them page by page: the latest of each item, its goods item and whether it changes the declared
code are found in SQL, so a page costs the same with a hundred corrections as with a hundred thousand."""

from __future__ import annotations

import csv
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TextIO

from sqlalchemy import Boolean, ColumnElement, Select, and_, case, func, not_, or_, select, type_coerce
from sqlalchemy.orm import Session, aliased

from clearway.declarations.models import GoodsItem, HSCodeCorrection

# The export's columns: `description` and `code` first, the two that `clearway classify train` reads.
CSV_COLUMNS = ("description", "code", "declared_code", "declaration", "item", "officer", "recorded_at")


@dataclass(frozen=True)
class RecordedCorrection:
    """A corrected code with the goods item it belongs to, as training and the analyst's export read it."""

    correction: HSCodeCorrection
    description: str
    declared_code: str
    changes_code: bool  # False when the officer confirmed the declared code (see `_changes_code`)


@dataclass(frozen=True)
class CorrectionCounts:
    total: int  # goods items with a code recorded by an officer
    changed: int  # of them, those whose recorded code differs from the declared one

    def kept(self, *, changed_only: bool) -> int:
        """How many corrections a list with or without the `changed_only` filter holds."""
        return self.changed if changed_only else self.total


def _is_latest() -> ColumnElement[bool]:
    """No later correction of the same goods item exists (an index probe per row, so a page costs a page)."""
    later = aliased(HSCodeCorrection)
    return ~(
        select(later.id)
        .where(
            later.declaration_id == HSCodeCorrection.declaration_id,
            later.sequence == HSCodeCorrection.sequence,
            later.id > HSCodeCorrection.id,
        )
        .exists()
    )


def _changes_code() -> ColumnElement[bool]:
    """Whether the recorded code changes the declared one: neither code begins the other (6109.10 confirms
    6109.10.00.10)."""
    declared, recorded = GoodsItem.hs_code, HSCodeCorrection.hs_code
    return not_(or_(declared.startswith(recorded), recorded.startswith(declared)))


def _current(query: Select, *, changed_only: bool) -> Select:
    """`query` over the latest correction of each goods item that still exists (an amendment since the control can
    drop the item the officer corrected), joined to the item."""
    query = (
        query.select_from(HSCodeCorrection)
        .join(
            GoodsItem,
            and_(
                GoodsItem.declaration_id == HSCodeCorrection.declaration_id,
                GoodsItem.sequence == HSCodeCorrection.sequence,
            ),
        )
        .where(_is_latest())
    )
    return query.where(_changes_code()) if changed_only else query


def recorded_code_corrections(
    session: Session,
    *,
    changed_only: bool = False,
    newest_first: bool = False,
    limit: int | None = None,
    offset: int = 0,
) -> list[RecordedCorrection]:
    """The latest recorded code of each goods item, oldest first (or newest first), optionally one page of them and
    only those that change the declared code."""
    # Read as a boolean on every backend (SQLite returns the comparison as 0 or 1).
    changes_code = type_coerce(_changes_code(), Boolean)
    columns = select(HSCodeCorrection, GoodsItem.description, GoodsItem.hs_code, changes_code)
    query = _current(columns, changed_only=changed_only)
    direction = (lambda column: column.desc()) if newest_first else (lambda column: column.asc())
    query = query.order_by(direction(HSCodeCorrection.recorded_at), direction(HSCodeCorrection.id))
    if limit is not None:
        query = query.limit(limit).offset(offset)
    rows = session.execute(query.execution_options(yield_per=1000))
    return [RecordedCorrection(*row) for row in rows]


def count_code_corrections(session: Session) -> CorrectionCounts:
    """How many goods items carry a recorded code, and how many of those codes differ from the declared one."""
    changed = func.coalesce(func.sum(case((_changes_code(), 1), else_=0)), 0)
    total, different = session.execute(_current(select(func.count(), changed), changed_only=False)).one()
    return CorrectionCounts(int(total), int(different))


def item_code_corrections(session: Session, declaration_id: str) -> dict[int, str]:
    """Goods item sequence -> the latest code officers recorded for it, for one declaration."""
    query = (
        select(HSCodeCorrection.sequence, HSCodeCorrection.hs_code)
        .where(HSCodeCorrection.declaration_id == declaration_id)
        .order_by(HSCodeCorrection.id)
    )
    return {sequence: code for sequence, code in session.execute(query)}


def write_corrections_csv(recorded: Iterable[RecordedCorrection], out: TextIO) -> None:
    """The corrections as a CSV with `CSV_COLUMNS`, for an analyst to review or to keep beside the labelled file."""
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    for r in recorded:
        c = r.correction
        when = c.recorded_at.isoformat()
        writer.writerow([r.description, c.hs_code, r.declared_code, c.declaration_id, c.sequence, c.officer, when])
