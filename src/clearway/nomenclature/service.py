"""Loading the shipped HS 2022 nomenclature and looking codes up."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from dataclasses import dataclass
from importlib import resources

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from clearway.nomenclature.models import HsCode

EDITION = "HS2022"


@dataclass(frozen=True)
class Entry:
    code: str
    level: int
    parent: str | None
    section: str
    description: str


def shipped_entries() -> Iterator[Entry]:
    """The HS 2022 nomenclature shipped inside the package."""
    source = resources.files("clearway.reference").joinpath("hs2022/harmonized-system-2022.csv")
    with source.open(encoding="utf-8", newline="") as fh:
        for row in csv.DictReader(fh):
            parent = row["parent"] if row["parent"] != "TOTAL" else None
            yield Entry(row["hscode"], int(row["level"]), parent, row["section"], row["description"])


def load_shipped(*, session: Session) -> int:
    """Loads the shipped nomenclature when the table is empty; returns how many codes were added."""
    if session.scalar(select(func.count()).select_from(HsCode)):
        return 0
    rows = [
        {
            "code": e.code,
            "level": e.level,
            "parent": e.parent,
            "section": e.section,
            "description": e.description,
            "edition": EDITION,
        }
        for e in shipped_entries()
    ]
    session.execute(HsCode.__table__.insert(), rows)
    return len(rows)


def subheadings(*, session: Session) -> frozenset[str]:
    """Every 6-digit subheading of the WCO nomenclature, for validating declared commodity codes.

    UN Comtrade's chapter 99 ("commodities not specified according to kind", section TOTAL) is not WCO HS and
    cannot be declared.
    """
    return frozenset(session.scalars(select(HsCode.code).where(HsCode.level == 6, HsCode.section != "TOTAL")))


def describe(*, session: Session, code: str) -> dict[str, str | None]:
    """Chapter, heading and subheading texts for a commodity code (6 to 10 digits)."""
    wanted = [code[:2], code[:4], code[:6]]
    rows = {r.code: r.description for r in session.scalars(select(HsCode).where(HsCode.code.in_(wanted)))}
    return {"chapter": rows.get(code[:2]), "heading": rows.get(code[:4]), "subheading": rows.get(code[:6])}
