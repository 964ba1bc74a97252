"""Clearance figures for the workbench and the public /kpi page: counts, auto-release rate, release times.

`compute` is pure (rows in, figures out) so it is unit-tested on a constructed history; `load` reads the rows.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from clearway.declarations.models import Declaration, DeclarationEvent

# Roles whose actions on a declaration mean it was not released automatically.
OFFICER_ROLES = ("customs_officer", "risk_analyst")
WINDOW_DAYS = 30


@dataclass(frozen=True)
class Row:
    """One declaration as the figures need it."""

    id: str
    office: str
    status: str
    channel: str | None
    submitted_at: datetime
    accepted_at: datetime | None
    released_at: datetime | None


@dataclass
class OfficeFigures:
    office: str
    lodged: int = 0
    released: int = 0
    auto_released: int = 0
    median_release: timedelta | None = None
    p90_release: timedelta | None = None

    @property
    def auto_release_rate(self) -> float | None:
        return self.auto_released / self.released if self.released else None


@dataclass
class Figures:
    total: int
    by_status: dict[str, int]
    by_channel: dict[str, int]
    overall: OfficeFigures
    offices: list[OfficeFigures]
    flow: list[tuple[datetime, int, int]]  # (bucket start, lodged, released)
    bucket: str  # "hour" or "day"
    since: datetime | None = None
    release_hours: list[float] = field(default_factory=list)


def percentile(values: list[float], q: float) -> float | None:
    """The q-th percentile (0..100) by linear interpolation between closest ranks (numpy's default)."""
    if not values:
        return None
    ordered = sorted(values)
    position = (len(ordered) - 1) * q / 100
    low, high = math.floor(position), math.ceil(position)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def _office_figures(office: str, rows: list[Row], officer_touched: set[str]) -> OfficeFigures:
    released = [r for r in rows if r.released_at is not None and r.status == "released"]
    seconds = [(r.released_at - r.accepted_at).total_seconds() for r in released if r.accepted_at and r.released_at]
    median, p90 = percentile(seconds, 50), percentile(seconds, 90)
    return OfficeFigures(
        office=office,
        lodged=len(rows),
        released=len(released),
        auto_released=sum(1 for r in released if r.id not in officer_touched),
        median_release=timedelta(seconds=median) if median is not None else None,
        p90_release=timedelta(seconds=p90) if p90 is not None else None,
    )


def _floor(at: datetime, bucket: str) -> datetime:
    at = at.replace(minute=0, second=0, microsecond=0)
    return at.replace(hour=0) if bucket == "day" else at


def compute(rows: list[Row], officer_touched: set[str], *, now: datetime, since: datetime | None = None) -> Figures:
    """Counts per status and channel, the auto-release rate (released with no officer action / released),
    median and 90th percentile time from acceptance to release (overall and per office), and lodged vs released
    per hour (history under three days) or per day."""
    by_office: dict[str, list[Row]] = defaultdict(list)
    for row in rows:
        by_office[row.office].append(row)
    start = min((r.submitted_at for r in rows), default=now)
    bucket = "hour" if now - start <= timedelta(days=3) else "day"
    step = timedelta(hours=1) if bucket == "hour" else timedelta(days=1)
    lodged = Counter(_floor(r.submitted_at, bucket) for r in rows)
    released = Counter(_floor(r.released_at, bucket) for r in rows if r.released_at and r.status == "released")
    flow = []
    cursor, end = _floor(start, bucket), _floor(now, bucket)
    while cursor <= end and len(flow) < 24 * 62:
        flow.append((cursor, lodged.get(cursor, 0), released.get(cursor, 0)))
        cursor += step
    return Figures(
        total=len(rows),
        by_status=dict(Counter(r.status for r in rows).most_common()),
        by_channel=dict(Counter(r.channel or "none" for r in rows).most_common()),
        overall=_office_figures("All offices", rows, officer_touched),
        offices=[_office_figures(office, by_office[office], officer_touched) for office in sorted(by_office)],
        flow=flow,
        bucket=bucket,
        since=since,
        release_hours=[
            (r.released_at - r.accepted_at).total_seconds() / 3600
            for r in rows
            if r.status == "released" and r.released_at and r.accepted_at
        ],
    )


def load(*, session: Session, now: datetime, where: object | None = None, days: int = WINDOW_DAYS) -> Figures:
    """The figures over declarations lodged in the last `days` days (optionally limited by an SQL condition)."""
    since = now - timedelta(days=days)
    query = select(
        Declaration.id,
        Declaration.office_of_lodgement,
        Declaration.status,
        Declaration.channel,
        Declaration.submitted_at,
        Declaration.accepted_at,
        Declaration.released_at,
    ).where(Declaration.submitted_at >= since)
    if where is not None:
        query = query.where(where)
    rows = [Row(*r) for r in session.execute(query)]
    touched_query = (
        select(DeclarationEvent.declaration_id)
        .join(Declaration, Declaration.id == DeclarationEvent.declaration_id)
        .where(Declaration.submitted_at >= since, DeclarationEvent.role.in_(OFFICER_ROLES))
        .distinct()
    )
    if where is not None:
        touched_query = touched_query.where(where)
    touched = set(session.scalars(touched_query))
    return compute(rows, touched, now=now, since=since)


def duration_words(value: timedelta | None) -> str:
    """'2 h 05 min', '4 min 10 s', '3 d 2 h'; an em dash when there is nothing to measure."""
    if value is None:
        return "—"
    seconds = int(value.total_seconds())
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60:02d} s"
    if seconds < 86400:
        return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"
    return f"{seconds // 86400} d {seconds % 86400 // 3600} h"
