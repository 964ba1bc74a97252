"""The tariff router inside the real application: authentication, problem responses, settings."""

from datetime import date

from .loading import load_clearway_tariff
from .test_storage_api_cli import RATES_CSV, TARIFF_CSV


def test_calculate_through_the_app(client, people, database, tmp_path):
    path = tmp_path / "tariff.csv"
    path.write_text(TARIFF_CSV)
    load_clearway_tariff(database, path, valid_from=date(2026, 1, 1), name="t", rates_csv=RATES_CSV)
    body = {
        "currency": "EUR",
        "incoterm": "CIF",
        "acceptance_date": "2026-02-01",
        "goods_items": [{"commodity_code": "8703.80.00", "origin_country": "DE", "item_price": "40000"}],
    }
    assert client.post("/api/v1/tariff/calculate", json=body).status_code == 401
    headers = people.headers(people.create("declarant"))
    response = client.post("/api/v1/tariff/calculate", json=body, headers=headers)
    assert response.status_code == 200, response.text
    assert response.json()["customs_value"] == "44000.00" and response.json()["totals"]["duty"] == "1100.00"
    missing = client.get("/api/v1/tariff/0101.21", params={"on": "2026-02-01"}, headers=headers)
    assert missing.status_code == 404 and missing.headers["content-type"].startswith("application/problem+json")
    bad = client.post("/api/v1/tariff/calculate", json={**body, "incoterm": "XXX"}, headers=headers)
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "incoterm"
