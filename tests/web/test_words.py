"""Plain words for the workbench (pure)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from clearway.web import words


def test_statuses_and_service_messages_read_as_plain_words():
    assert words.status_words("released") == "Goods released"
    assert words.status_words("documents_requested") == "Documents requested"
    assert words.status_words("some_new_status") == "Some new status"
    assert words.sentence("cannot release a declaration in status 'x'") == "Cannot release a declaration in status 'x'."
    message = "12.00 USD is due; pay it quoting MRN X (recorded at POST /api/v1/d/a/payments), or guarantee it"
    assert words.without_api_paths(message) == "12.00 USD is due; pay it quoting MRN X, or guarantee it"


def test_times_and_money():
    now = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
    assert words.ago(now - timedelta(minutes=5), now) == "5 min"
    assert words.ago(now - timedelta(hours=26), now) == "1 d 2 h"
    assert words.when(now) == "01 Jan 2026 12:00 UTC"
    assert words.money("1234.5", "USD") == "1,234.50 USD"
    assert words.pct(0.875) == "88%" and words.pct(None) == "—"
