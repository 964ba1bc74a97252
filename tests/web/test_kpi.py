"""The clearance figures on a small constructed history (pure: no database)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from clearway.web.kpi import Row, compute, duration_words, percentile

T0 = datetime(2026, 1, 5, 8, 0, tzinfo=UTC)


def row(n: int, office: str, status: str, release_minutes: int | None, channel: str = "green") -> Row:
    submitted = T0 + timedelta(minutes=n)
    accepted = submitted + timedelta(seconds=5)
    released = accepted + timedelta(minutes=release_minutes) if release_minutes is not None else None
    return Row(f"d{n}", office, status, channel, submitted, accepted, released)


def test_percentile_interpolates_between_ranks():
    assert percentile([], 50) is None
    assert percentile([4.0], 90) == 4.0
    assert percentile([1.0, 2.0, 3.0, 4.0], 50) == 2.5
    assert percentile(list(map(float, range(1, 11))), 90) == 9.1


def test_figures_per_office_and_overall():
    rows = [
        row(0, "AAA00001", "released", 10),
        row(1, "AAA00001", "released", 20),
        row(2, "AAA00001", "released", 30, channel="yellow"),
        row(3, "AAA00001", "physical_inspection", None, channel="red"),
        row(4, "BBB00001", "released", 60),
        row(5, "BBB00001", "cancelled", None),
    ]
    figures = compute(rows, officer_touched={"d2", "d3"}, now=T0 + timedelta(hours=3))
    assert figures.total == 6
    assert figures.by_status == {"released": 4, "physical_inspection": 1, "cancelled": 1}
    assert figures.by_channel == {"green": 4, "yellow": 1, "red": 1}
    a, b = figures.offices
    assert (a.office, a.lodged, a.released, a.auto_released) == ("AAA00001", 4, 3, 2)
    assert a.auto_release_rate == 2 / 3
    assert a.median_release == timedelta(minutes=20)
    assert a.p90_release == timedelta(minutes=28)  # 20 + 0.8 * (30 - 20)
    assert (b.released, b.auto_released, b.median_release) == (1, 1, timedelta(minutes=60))
    overall = figures.overall
    assert (overall.released, overall.auto_released) == (4, 3)
    assert overall.median_release == timedelta(minutes=25)
    assert overall.p90_release == timedelta(minutes=51)  # 30 + 0.7 * (60 - 30)


def test_lodged_and_released_per_hour():
    rows = [row(0, "A", "released", 10), row(70, "A", "released", 30), row(75, "A", "refused", None)]
    figures = compute(rows, set(), now=T0 + timedelta(hours=2, minutes=5))
    assert figures.bucket == "hour"
    assert [(at.hour, lodged, released) for at, lodged, released in figures.flow] == [
        (8, 1, 1),
        (9, 2, 1),
        (10, 0, 0),
    ]


def test_a_longer_history_is_counted_per_day_and_empty_history_has_no_rates():
    rows = [row(0, "A", "released", 10), row(60 * 24 * 4, "A", "submitted", None)]
    figures = compute(rows, set(), now=T0 + timedelta(days=5))
    assert figures.bucket == "day" and len(figures.flow) == 6
    empty = compute([], set(), now=T0)
    assert empty.overall.auto_release_rate is None and empty.overall.median_release is None


def test_durations_in_words():
    assert duration_words(None) == "—"
    assert duration_words(timedelta(seconds=42)) == "42 s"
    assert duration_words(timedelta(minutes=4, seconds=5)) == "4 min 05 s"
    assert duration_words(timedelta(hours=2, minutes=7)) == "2 h 07 min"
    assert duration_words(timedelta(days=3, hours=2)) == "3 d 2 h"
