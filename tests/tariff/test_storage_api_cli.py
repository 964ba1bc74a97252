"""Storage, the API router and the CLI on a temporary SQLite database."""

from datetime import date
from decimal import Decimal as D

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from clearway.config import Settings
from clearway.db import Base
from clearway.errors import ClearwayError
from clearway.tariff import service
from clearway.tariff.exchange import read_rates_csv
from clearway.tariff.sources import read_clearway

from .loading import load_clearway_tariff

TARIFF_CSV = """code,measure_type,duty,countries,programme,valid_from,valid_to,description,unit
2204.21.50,third_country,6.3¢/liter,,,2026-01-01,,Wine in containers not over 2 liters,liter
2204.21.50,excise,1.07 USD/liter,,,2026-01-01,,,
2204.21.50,preference,Free,"CL, AU",FTA,2026-01-01,,,
8703.80.00,third_country,2.5%,,,2026-01-01,2026-06-30,Electric cars,No.
8703.80.00,third_country,10%,,,2026-07-01,,Electric cars,No.
"""
RATES_CSV = "currency,valid_from,rate_per_unit\nEUR,2026-01-01,1.10\nEUR,2026-07-01,1.20\n"


@pytest.fixture
def db(database):
    """The shared migrated database (tests/conftest.py): SQLite, and PostgreSQL when reachable."""
    return database


@pytest.fixture
def loaded(db, tmp_path):
    path = tmp_path / "tariff.csv"
    path.write_text(TARIFF_CSV)
    load_clearway_tariff(db, path, valid_from=date(2026, 1, 1), rates_csv=RATES_CSV)
    return db


def test_show_line_by_date(loaded):
    with loaded.session() as session:
        before = service.show_line(db_session=session, code="8703.80.00", on=date(2026, 6, 30))
        after = service.show_line(db_session=session, code="87038000", on=date(2026, 7, 1))
    assert [m["duty_text"] for m in before["measures"]] == ["2.5%"]
    assert [m["duty_text"] for m in after["measures"]] == ["10%"]
    assert before["description"] == "Electric cars"


def test_reload_keeps_history_and_newest_version_wins(loaded, tmp_path):
    path = tmp_path / "v2.json"
    path.write_text(
        '{"measures": [{"code": "8703.80.00", "measure_type": "third_country", "duty": "7%",'
        ' "valid_from": "2026-03-01"},'
        ' {"code": "2204.21.50", "measure_type": "vat", "duty": "5%", "valid_from": "2026-03-01"}]}'
    )
    load_clearway_tariff(loaded, path, valid_from=date(2026, 3, 1), name="v2", replace=False)
    with loaded.session() as session:
        assert len(service.versions(db_session=session)) == 2
        index = service.tariff_index(db_session=session)
        assert index.resolve("87038000", date(2026, 2, 1)).third_country.record.duty_text == "2.5%"
        assert index.resolve("87038000", date(2026, 4, 1)).third_country.record.duty_text == "7%"
        wine = index.resolve("2204215000", date(2026, 4, 1))  # a new VAT measure leaves the older duties in force
        assert wine.vat.record.duty_text == "5%" and wine.third_country.record.duty_text == "6.3¢/liter"


def test_full_reload_ends_codes_it_drops(loaded, tmp_path):
    path = tmp_path / "v2.csv"
    path.write_text("code,measure_type,duty\n8703.80.00,third_country,8%\n")
    load_clearway_tariff(loaded, path, valid_from=date(2026, 5, 1), name="v2")
    with loaded.session() as session:
        index = service.tariff_index(db_session=session)
        assert index.resolve("2204215000", date(2026, 4, 30)).third_country.record.duty_text == "6.3¢/liter"
        with pytest.raises(ClearwayError, match="No third-country duty"):
            index.resolve("2204215000", date(2026, 5, 1))
        assert index.resolve("87038000", date(2026, 5, 1)).third_country.record.duty_text == "8%"
        # the July measure of version 1 was cancelled by the replacement
        assert index.resolve("87038000", date(2026, 8, 1)).third_country.record.duty_text == "8%"
        assert index.resolve("87038000", date(2026, 2, 1)).third_country.record.duty_text == "2.5%"


def test_rates_upsert(loaded):
    with loaded.session() as session:
        result = service.load_rates(
            db_session=session,
            records=read_rates_csv(
                "currency,valid_from,rate_per_unit\nEUR,2026-01-01,1.11\nEUR,2026-07-01,1.20\nGBP,2026-01-01,1.3\n"
            ),
        )
        session.commit()
        assert (result.inserted, result.updated, result.unchanged) == (1, 1, 1)
        table = service.rate_table(db_session=session, national_currency="USD")
        assert table.rate_on("EUR", date(2026, 2, 1)) == D("1.11")


def test_bad_rates_csv_names_row_and_column():
    with pytest.raises(ClearwayError) as caught:
        read_rates_csv("currency,valid_from,rate_per_unit\nEUR,2026-13-01,1.1\nEURO,2026-01-01,1\nGBP,2026-01-01,-1\n")
    fields = [e["field"] for e in caught.value.errors]
    assert fields == ["row 2.valid_from", "row 3.currency", "row 4.rate_per_unit"]


def test_bad_tariff_row_is_rejected_with_position(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("code,measure_type,duty\n0101.21,third_country,5.5\n0101.29,preference,Free\n")
    with pytest.raises(ClearwayError) as caught:
        read_clearway(path, valid_from=date(2026, 1, 1))
    reasons = {e["field"]: e["reason"] for e in caught.value.errors}
    assert "position 0" in reasons["row 2.duty"]
    assert "must list the origins" in reasons["row 3.countries"]


# ------------------------------------------------------------------------------------------------------------- API


@pytest.fixture
def client(loaded):
    from clearway.auth.deps import get_current_user, get_session, get_settings_dep
    from clearway.tariff.views import router

    app = FastAPI()
    app.include_router(router)

    @app.exception_handler(ClearwayError)
    async def _problem(request, exc):  # the real app maps errors the same way (clearway.app)
        from fastapi.responses import JSONResponse

        return JSONResponse(exc.problem(), status_code=exc.status)

    def session_override():
        with loaded.session() as session:
            yield session

    settings = Settings(database_url=loaded.url, vat_rate=D("10"), secret_key="x" * 40)
    app.dependency_overrides[get_session] = session_override
    app.dependency_overrides[get_settings_dep] = lambda: settings
    app.dependency_overrides[get_current_user] = lambda: object()
    return TestClient(app)


def test_api_calculate_landed_cost(client):
    body = {
        "currency": "EUR",
        "incoterm": "FOB",
        "acceptance_date": "2026-07-02",
        "freight": "50",
        "insurance": "10",
        "goods_items": [
            {
                "commodity_code": "2204.21.50",
                "origin_country": "FR",
                "item_price": "540",
                "supplementary_quantity": "900",
                "supplementary_unit": "l",
            },
            {
                "commodity_code": "2204.21.50",
                "origin_country": "CL",
                "item_price": "60",
                "supplementary_quantity": "100",
                "supplementary_unit": "l",
                "preference_claimed": True,
            },
        ],
    }
    response = client.post("/api/v1/tariff/calculate", json=body)
    assert response.status_code == 200, response.text
    data = response.json()
    # EUR 600 + 60 freight/insurance at 1.20 = USD 792.00; item 1: (540 + 54) * 1.2 = 712.80
    assert data["customs_value"] == "792.00" and data["items"][0]["customs_value"] == "712.80"
    first = {t["tax_type"]: t for t in data["items"][0]["tax_lines"]}
    assert first["duty"]["amount"] == "56.70" and first["duty"]["quantity"] == "900"  # 6.3¢ * 900 l
    assert data["items"][0]["commodity_code"] == "2204.21.50"
    assert first["excise"]["amount"] == "963.00"  # 1.07 * 900 l
    assert first["vat"]["amount"] == "76.95"  # 10% of (712.80 + 56.70)
    second = data["items"][1]
    assert second["preference"].startswith("granted") and second["tax_lines"][0]["amount"] == "0.00"
    assert data["landed_cost"] == str(D(data["customs_value"]) + D(data["total_taxes"]))


def test_api_missing_rate_and_bad_body(client):
    body = {
        "currency": "GBP",
        "incoterm": "CIF",
        "acceptance_date": "2026-07-02",
        "goods_items": [
            {
                "commodity_code": "2204.21.50",
                "origin_country": "FR",
                "item_price": "1",
                "supplementary_quantity": "1",
                "supplementary_unit": "l",
            }
        ],
    }
    response = client.post("/api/v1/tariff/calculate", json=body)
    assert response.status_code == 422 and "GBP" in response.json()["detail"]
    bad = {**body, "currency": "XYZ", "goods_items": [{**body["goods_items"][0], "origin_country": "ZZ"}]}
    assert client.post("/api/v1/tariff/calculate", json=bad).status_code == 422


def test_api_show_code_on_date(client):
    response = client.get("/api/v1/tariff/8703.80.00", params={"on": "2026-07-01"})
    assert response.status_code == 200
    assert [m["duty_text"] for m in response.json()["measures"]] == ["10%"]
    assert client.get("/api/v1/tariff/0101.21").status_code == 404


# ------------------------------------------------------------------------------------------------------------- CLI


def test_cli_load_show_and_rates(cli_env, tmp_path, monkeypatch):
    from clearway.tariff import cli
    from clearway.tariff.cli import app, rates_app

    monkeypatch.setattr(cli.console, "_width", 200)

    path = tmp_path / "tariff.csv"
    path.write_text(TARIFF_CSV)
    runner = CliRunner()
    result = runner.invoke(app, ["load", str(path), "--valid-from", "2026-01-01"])
    assert result.exit_code == 0, result.output
    assert "rate texts: 5; parsed: 5 (100.00%)" in result.output
    result = runner.invoke(app, ["show", "2204.21.50.20", "--on", "2026-02-01"])
    assert result.exit_code == 0 and "6.3¢/liter" in result.output
    result = runner.invoke(rates_app, ["load"])
    assert result.exit_code == 0 and "EUR" in result.output
    result = runner.invoke(rates_app, ["show", "EUR", "--on", "2026-05-01"])
    assert "EUR 1 = 1.158 USD" in result.output
    result = runner.invoke(rates_app, ["show", "XXX", "--on", "2026-05-01"])
    assert result.exit_code == 2 and "No exchange rate for XXX" in result.output
    result = runner.invoke(app, ["show", "9999.99", "--on", "bad"])
    assert result.exit_code == 2 and "--on" in result.output


def test_cli_show_without_tariff_says_what_to_do(cli_env):
    from clearway.tariff.cli import app

    result = CliRunner().invoke(app, ["show", "0101.21"])
    assert result.exit_code == 2 and "No tariff is loaded" in result.output


def test_cli_rejects_malformed_tariff(cli_env, tmp_path):
    from clearway.tariff.cli import app

    path = tmp_path / "bad.csv"
    path.write_text("code,measure_type,duty\n0101.21,third_country,4.4¢/furlong\n")
    result = CliRunner().invoke(app, ["load", str(path)])
    assert result.exit_code == 2 and "unknown unit" in result.output and "Traceback" not in result.output


def test_migration_creates_the_tariff_tables_as_the_models_declare(db):
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext
    from sqlalchemy import inspect

    from clearway.schema import import_all_models

    import_all_models()
    names = set(inspect(db.engine).get_table_names())
    assert {"tariff_versions", "tariff_lines", "tariff_measures", "exchange_rates"} <= names
    with db.engine.connect() as conn:
        diffs = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    mine = [d for d in diffs if any(t in repr(d) for t in ("tariff_", "exchange_rates"))]
    assert mine == []
