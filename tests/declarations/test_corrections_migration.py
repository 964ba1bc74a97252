"""Migration 0005 moves the HS codes officers recorded out of the control results' JSON into rows of their own,
and back on downgrade, on both backends."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from alembic import command

from clearway.db import Database
from clearway.declarations.corrections import count_code_corrections, item_code_corrections, recorded_code_corrections
from clearway.schema import alembic_config, upgrade

from ..conftest import BACKENDS, scratch_postgres_database

BEFORE = "0004_revenue"


@pytest.fixture(params=BACKENDS)
def empty_url(request: pytest.FixtureRequest, tmp_path) -> Iterator[str]:
    """The URL of an empty database of its own."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'migrated.db'}"
        return
    with scratch_postgres_database("clearway_migration") as url:
        yield url


def _seed_before(url: str) -> None:
    """A declaration of two goods items and control results as 0004 stored them: JSON null, SQL NULL, another
    field, no codes, and two results that recorded a code for item 1 (the second stands)."""
    at = datetime(2026, 11, 2, 9, 30, tzinfo=UTC)
    engine = sa.create_engine(url)
    tables = sa.MetaData()
    tables.reflect(engine)
    with engine.begin() as conn:
        conn.execute(
            tables.tables["users"].insert(),
            {
                "id": 1,
                "username": "broker",
                "password_hash": "x",
                "role": "declarant",
                "active": True,
                "created_at": at,
            },
        )
        conn.execute(
            tables.tables["declarations"].insert(),
            {
                **dict(
                    id="D1", lrn="L1", declarant_eori="GB000000000000", declaration_type="IM", procedure_code="4000"
                ),
                **dict(office_of_lodgement="GB000060", status="released", version=1, document={}, goods_item_count=2),
                **dict(invoice_currency="GBP", invoice_amount=10, content_hash="h", submitted_by=1, submitted_at=at),
                "updated_at": at,
            },
        )
        conn.execute(
            tables.tables["goods_items"].insert(),
            [
                {
                    **dict(declaration_id="D1", sequence=n, hs_code=code, description=text, country_of_origin="CN"),
                    **dict(net_mass_kg=1, gross_mass_kg=1, item_price=5),
                }
                for n, code, text in ((1, "610910", "Blue plastic widgets"), (2, "950300", "Toy cars"))
            ],
        )
        results = tables.tables["control_results"]
        for number, corrections in enumerate(
            [
                "json null",
                None,
                {"quantity": {"1": "3"}},
                {"hs_codes": {}},
                {"hs_codes": {"1": "392690", "2": "950300"}},
                {"hs_codes": {"1": "950300"}},
            ]
        ):
            row = dict(declaration_id="D1", kind="physical", outcome="discrepancy", officer=f"officer{number}")
            row |= {"recorded_at": at + timedelta(hours=number), "corrections": corrections}
            if corrections == "json null":
                row["corrections"] = sa.JSON.NULL
            elif corrections is None:
                row["corrections"] = sa.null()
            conn.execute(results.insert(), row)
    engine.dispose()


def test_recorded_codes_move_to_their_table_and_back(empty_url):
    upgrade(empty_url, BEFORE)
    _seed_before(empty_url)

    upgrade(empty_url)
    db = Database(empty_url)
    with db.read_session() as session:
        rows = session.execute(
            sa.text("SELECT control_result_id, sequence, hs_code, officer FROM hs_code_corrections ORDER BY id")
        ).all()
        recorded = recorded_code_corrections(session)
        counts = count_code_corrections(session)
        latest = item_code_corrections(session, "D1")
    assert [tuple(r) for r in rows] == [
        (5, 1, "392690", "officer4"),
        (5, 2, "950300", "officer4"),
        (6, 1, "950300", "officer5"),
    ]
    # Item 1: the later result's code stands, and its time is the result's, to the second.
    assert [(r.correction.sequence, r.correction.hs_code, r.correction.officer) for r in recorded] == [
        (2, "950300", "officer4"),
        (1, "950300", "officer5"),
    ]
    assert recorded[1].correction.recorded_at == datetime(2026, 11, 2, 14, 30, tzinfo=UTC)
    assert (counts.total, counts.changed) == (2, 1)  # item 2's code confirmed the declared one
    assert latest == {1: "950300", 2: "950300"}
    db.dispose()

    command.downgrade(alembic_config(empty_url), BEFORE)
    engine = sa.create_engine(empty_url)
    with engine.connect() as conn:
        restored = conn.execute(sa.text("SELECT id, corrections FROM control_results ORDER BY id")).all()
        tables = sa.inspect(conn).get_table_names()
    engine.dispose()
    assert "hs_code_corrections" not in tables
    decoded = {
        number: (value if isinstance(value, dict) or value is None else json.loads(value)) for number, value in restored
    }
    assert decoded[5] == {"hs_codes": {"1": "392690", "2": "950300"}} and decoded[6] == {"hs_codes": {"1": "950300"}}
    assert all(not (decoded[n] or {}).get("hs_codes") for n in (1, 2, 3, 4))
