"""Revenue on declarations through HTTP, on SQLite and PostgreSQL: assessment, payment, deferment, re-assessment."""

from __future__ import annotations

from datetime import date
from decimal import Decimal as D

import pytest

from clearway.demo import sample_declaration

from ..tariff.loading import load_clearway_tariff

# Valid from 2000 so the tests do not depend on today's date (acceptance is "now").
TARIFF_CSV = """code,measure_type,duty,countries,programme,valid_from
6109.10,third_country,16.5%,,,2000-01-01
6109.10,preference,Free,JO,EU-JO,2000-01-01
2204.21,third_country,6.3¢/liter,,,2000-01-01
2204.21,excise,1.07 USD/liter,,,2000-01-01
2204.21,vat,5%,,,2000-01-01
8471.30,third_country,Free,,,2000-01-01
4202.21,third_country,6.9% on the case,,,2000-01-01
"""
RATES_CSV = "currency,valid_from,rate_per_unit\nEUR,2000-01-01,1.10\n"
# T-shirts EUR 1000 -> USD 1100.00, duty 16.5% = 181.50, VAT 0% (national rate) = 0.00.
# Wine 750 l EUR 500 -> USD 550.00, duty 750 x 6.3¢ = 47.25, excise 750 x 1.07 = 802.50, VAT 5% of 597.25 = 29.86.
TOTAL = D("1061.11")


@pytest.fixture
def tariff_loaded(database, tmp_path):
    path = tmp_path / "tariff.csv"
    path.write_text(TARIFF_CSV)
    load_clearway_tariff(database, path, valid_from=date(2000, 1, 1), rates_csv=RATES_CSV)
    return database


def eori(user):
    return sorted(user.eoris)[0]


def declaration(lrn, user, *, wine=True, currency="EUR", description=""):
    data = sample_declaration(lrn, declarant_eori=eori(user), items=2 if wine else 1)
    data["invoice"] = {"currency": currency, "amount": "1500.00" if wine else "1000.00"}
    data["incoterm"] = "CIF"
    data["goods_items"][0].update(
        hs_code="610910",
        description="Men's cotton T-shirts" + description,
        country_of_origin="BD",
        item_price="1000.00",
    )
    data["goods_items"][0].pop("preference_code", None)
    if wine:
        data["goods_items"][1].update(
            hs_code="220421",
            description="Red wine in bottles",
            country_of_origin="FR",
            item_price="500.00",
            supplementary_quantity={"quantity": "750", "unit": "liter"},
        )
    return data


def lodge(client, people, user, data):
    response = client.post("/api/v1/declarations", json=data, headers=people.headers(user))
    assert response.status_code == 201, response.text
    return response.json()


def revenue(client, people, user, decl_id):
    response = client.get(f"/api/v1/declarations/{decl_id}/assessment", headers=people.headers(user))
    assert response.status_code == 200, response.text
    return response.json()


def pay(client, people, officer, decl_id, amount, reference, **extra):
    return client.post(
        f"/api/v1/declarations/{decl_id}/payments",
        json={"amount": str(amount), "currency": "USD", "method": "bank_transfer", "reference": reference, **extra},
        headers=people.headers(officer),
    )


def status_of(client, people, user, decl_id):
    return client.get(f"/api/v1/declarations/{decl_id}", headers=people.headers(user)).json()["status"]


def test_acceptance_produces_exact_tax_lines_and_release_waits_for_payment(client, people, tariff_loaded):
    broker, officer = people.create("declarant"), people.create("customs_officer")
    decl = lodge(client, people, broker, declaration("REV-1", broker))
    assert decl["status"] == "awaiting_payment"
    body = revenue(client, people, broker, decl["id"])
    assessment = body["assessment"]
    assert assessment["status"] == "assessed" and assessment["exchange_rate"] == "1.1"
    assert D(assessment["customs_value"]) == D("1650.00")
    lines = [
        (t["goods_item"], t["tax_type"], t["rate_text"], D(t["base"]), D(t["amount"])) for t in assessment["tax_lines"]
    ]
    assert lines == [
        (1, "duty", "16.5%", D("1100.00"), D("181.50")),
        (1, "vat", "0%", D("1281.50"), D("0.00")),
        (2, "duty", "6.3¢/liter", D("550.00"), D("47.25")),
        (2, "excise", "1.07 USD/liter", D("550.00"), D("802.50")),
        (2, "vat", "5%", D("597.25"), D("29.86")),
    ]
    assert {k: D(v) for k, v in assessment["totals"].items()} == {
        "duty": D("228.75"),
        "excise": D("802.50"),
        "vat": D("29.86"),
    }
    assert D(body["total_due"]) == D(body["outstanding"]) == TOTAL and body["settled"] is False
    assert "USD 1,061.11 is due" in body["message"]
    notes = client.get("/api/v1/notifications", headers=people.headers(broker)).json()["items"]
    payment_note = notes[-1]
    assert payment_note["code"] == "13 DMSTAX" and "USD 1,061.11 is due" in payment_note["message"]
    assert payment_note["details"]["amount_due"] == "1061.11" and payment_note["details"]["currency"] == "USD"

    part = pay(client, people, officer, decl["id"], "1000.00", "BANK-1")
    assert part.status_code == 201 and D(part.json()["outstanding"]) == D("61.11")
    assert status_of(client, people, broker, decl["id"]) == "awaiting_payment"
    rest = pay(client, people, officer, decl["id"], "61.11", "BANK-2")
    assert rest.status_code == 201 and rest.json()["settled"] is True
    assert status_of(client, people, broker, decl["id"]) == "released"


def test_duplicate_payment_reference_is_idempotent(client, people, tariff_loaded):
    broker, officer = people.create("declarant"), people.create("customs_officer")
    decl = lodge(client, people, broker, declaration("REV-2", broker, wine=False))
    first = pay(client, people, officer, decl["id"], "181.50", "TILL-77")
    again = pay(client, people, officer, decl["id"], "181.50", "TILL-77")
    assert first.status_code == 201 and again.status_code == 200
    assert again.headers["Idempotent-Replayed"] == "true"
    assert len(again.json()["payments"]) == 1 and D(again.json()["paid"]) == D("181.50")
    other = pay(client, people, officer, decl["id"], "5.00", "TILL-77")
    assert other.status_code == 409 and "TILL-77" in other.json()["detail"]
    assert status_of(client, people, broker, decl["id"]) == "released"
    # Only customs (or a payment system) records payments; in the national currency only.
    assert pay(client, people, broker, decl["id"], "1.00", "X-1").status_code == 403
    euro = client.post(
        f"/api/v1/declarations/{decl['id']}/payments",
        json={"amount": "1.00", "currency": "EUR", "method": "cash", "reference": "X-2"},
        headers=people.headers(officer),
    )
    assert euro.status_code == 422 and euro.json()["errors"][0]["field"] == "currency"


def open_account(client, people, admin, holder, limit, number="DAN-0001"):
    response = client.post(
        "/api/v1/guarantees",
        json={"number": number, "holder_eori": holder, "limit": str(limit)},
        headers=people.headers(admin),
    )
    assert response.status_code == 201, response.text
    return response.json()


def test_deferment_account_with_enough_balance_releases_at_once(client, people, tariff_loaded):
    broker, admin = people.create("declarant"), people.create("administrator")
    open_account(client, people, admin, eori(broker), "5000")
    decl = lodge(client, people, broker, declaration("REV-3", broker))
    assert decl["status"] == "released"
    body = revenue(client, people, broker, decl["id"])
    assert D(body["guaranteed"]) == TOTAL and D(body["outstanding"]) == 0 and body["settled"] is True
    account = client.get("/api/v1/guarantees/DAN-0001", headers=people.headers(broker)).json()
    assert D(account["used"]) == TOTAL and D(account["available"]) == D("5000") - TOTAL
    assert [(m["kind"], D(m["amount"]), m["declaration_id"]) for m in account["movements"]] == [
        ("reservation", TOTAL, decl["id"])
    ]


def test_insufficient_deferment_balance_holds_with_a_clear_reason_until_topped_up(client, people, tariff_loaded):
    broker, admin = people.create("declarant"), people.create("administrator")
    open_account(client, people, admin, eori(broker), "100")
    decl = lodge(client, people, broker, declaration("REV-4", broker))
    assert decl["status"] == "awaiting_payment"
    hold = decl["history"][-1]["reason"]
    assert "insufficient deferment balance" in hold and "USD 1,061.11 is due" in hold
    assert "DAN-0001" in hold and "USD 100.00 available" in hold
    note = client.get("/api/v1/notifications", headers=people.headers(broker)).json()["items"][-1]
    assert note["code"] == "14 DMSCPI" and note["details"]["deferment_accounts"][0]["available"] == "100.00"
    # A declarant cannot top up; an administrator can, and the waiting declaration is released.
    assert (
        client.post(
            "/api/v1/guarantees/DAN-0001/top-ups", json={"amount": "5000"}, headers=people.headers(broker)
        ).status_code
        == 403
    )
    topped = client.post(
        "/api/v1/guarantees/DAN-0001/top-ups",
        json={"amount": "1000", "note": "bank guarantee"},
        headers=people.headers(admin),
    )
    assert topped.status_code == 200 and D(topped.json()["limit"]) == D("1100")
    assert status_of(client, people, broker, decl["id"]) == "released"
    assert D(revenue(client, people, broker, decl["id"])["guaranteed"]) == TOTAL


def test_amendment_reassessment_produces_the_difference_to_pay(client, people, tariff_loaded):
    broker, officer = people.create("declarant"), people.create("customs_officer")
    data = declaration("REV-5", broker, wine=False)
    decl = lodge(client, people, broker, data)
    assert D(revenue(client, people, broker, decl["id"])["outstanding"]) == D("181.50")
    assert pay(client, people, officer, decl["id"], "100.00", "PAY-5A").status_code == 201
    data["goods_items"][0]["item_price"] = "2000.00"
    data["invoice"]["amount"] = "2000.00"
    amended = client.post(
        f"/api/v1/declarations/{decl['id']}/amendments",
        json={"reason": "price corrected", "declaration": data},
        headers=people.headers(broker),
    )
    assert amended.status_code == 200, amended.text
    body = revenue(client, people, broker, decl["id"])
    assert body["assessment"]["sequence"] == 2 and body["assessment"]["declaration_version"] == 2
    assert D(body["assessment"]["difference"]) == D("181.50") and D(body["total_due"]) == D("363.00")
    assert D(body["outstanding"]) == D("263.00")
    assert [h["reason"] for h in body["history"]] == ["acceptance", "amendment to version 2"]
    note = client.get("/api/v1/notifications", headers=people.headers(broker)).json()["items"][-1]
    assert note["code"] == "13 DMSTAX" and "re-assessed after amendment to version 2" in note["message"]
    assert "USD 263.00 is due" in note["message"] and note["details"]["amount_due"] == "263.00"
    assert pay(client, people, officer, decl["id"], "263.00", "PAY-5B").json()["settled"] is True
    assert status_of(client, people, broker, decl["id"]) == "released"


def test_inspection_finding_reassessment_produces_a_refund(client, people, tariff_loaded):
    broker, officer = people.create("declarant"), people.create("customs_officer")
    decl = lodge(client, people, broker, declaration("REV-6", broker, wine=False, description=" CONTROL-RED"))
    assert decl["status"] == "physical_inspection"
    assert pay(client, people, officer, decl["id"], "181.50", "PAY-6").status_code == 201
    url = f"/api/v1/declarations/{decl['id']}/decisions"
    result = client.post(
        url,
        json={
            "decision": "record_control_result",
            "result": {
                "outcome": "discrepancy",
                "findings": "laptops, not T-shirts",
                "corrected_hs_codes": {"1": "847130"},
            },
        },
        headers=people.headers(officer),
    )
    assert result.status_code == 200, result.text
    body = revenue(client, people, broker, decl["id"])
    assert body["assessment"]["tax_lines"][0]["commodity_code"] == "847130"
    assert D(body["assessment"]["difference"]) == D("-181.50") and D(body["total_due"]) == 0
    assert D(body["refund_due"]) == D("181.50") and body["settled"] is True
    released = client.post(url, json={"decision": "release"}, headers=people.headers(officer))
    assert released.json()["status"] == "released"
    refunds = f"/api/v1/declarations/{decl['id']}/refunds"
    too_much = client.post(refunds, json={"amount": "200.00", "reference": "REF-6"}, headers=people.headers(officer))
    assert too_much.status_code == 422 and "USD 181.50" in too_much.json()["detail"]
    refund = client.post(refunds, json={"amount": "181.50", "reference": "REF-6"}, headers=people.headers(officer))
    assert refund.status_code == 201 and D(refund.json()["refund_due"]) == 0 and D(refund.json()["paid"]) == 0
    again = client.post(refunds, json={"amount": "181.50", "reference": "REF-6"}, headers=people.headers(officer))
    assert again.status_code == 200 and len(again.json()["payments"]) == 2


def test_officer_release_waits_for_payment_of_additional_revenue(client, people, tariff_loaded):
    broker, officer = people.create("declarant"), people.create("customs_officer")
    decl = lodge(client, people, broker, declaration("REV-7", broker, wine=False, description=" CONTROL-YELLOW"))
    assert pay(client, people, officer, decl["id"], "181.50", "PAY-7A").status_code == 201
    url = f"/api/v1/declarations/{decl['id']}/decisions"
    client.post(
        url,
        json={
            "decision": "record_control_result",
            "result": {"outcome": "discrepancy", "additional_revenue": {"currency": "EUR", "amount": "10.00"}},
        },
        headers=people.headers(officer),
    )
    body = revenue(client, people, broker, decl["id"])
    assert D(body["outstanding"]) == D("11.00") and body["assessment"]["tax_lines"][-1]["goods_item"] is None
    held = client.post(url, json={"decision": "release"}, headers=people.headers(officer)).json()
    assert held["status"] == "awaiting_payment" and "USD 11.00 is due" in held["history"][-1]["reason"]
    pay(client, people, officer, decl["id"], "11.00", "PAY-7B")
    assert status_of(client, people, broker, decl["id"]) == "released"


def test_missing_exchange_rate_holds_with_a_clear_reason(client, people, tariff_loaded):
    broker = people.create("declarant")
    decl = lodge(client, people, broker, declaration("REV-8", broker, currency="JPY"))
    assert decl["status"] == "awaiting_payment"
    assert "No exchange rate for JPY" in decl["history"][-1]["reason"]
    body = revenue(client, people, broker, decl["id"])
    assert body["assessment"]["status"] == "impossible" and body["settled"] is False
    assert "No exchange rate for JPY" in body["assessment"]["problem"]
    fixed = declaration("REV-8", broker, currency="EUR")
    amended = client.post(
        f"/api/v1/declarations/{decl['id']}/amendments",
        json={"reason": "invoice is in euros", "declaration": fixed},
        headers=people.headers(broker),
    )
    assert amended.status_code == 200, amended.text
    body = revenue(client, people, broker, decl["id"])
    assert body["assessment"]["status"] == "assessed" and D(body["assessment"]["difference"]) == TOTAL
    officer = people.create("customs_officer")
    assert pay(client, people, officer, decl["id"], TOTAL, "PAY-8").json()["settled"] is True
    assert status_of(client, people, broker, decl["id"]) == "released"


def test_code_missing_from_the_tariff_holds_naming_the_goods_item(client, people, tariff_loaded):
    broker = people.create("declarant")
    data = declaration("REV-9", broker)
    data["goods_items"][1]["hs_code"] = "950300"
    decl = lodge(client, people, broker, data)
    assert decl["status"] == "awaiting_payment"
    assert "goods item 2: No third-country duty is in force for commodity code 9503.00" in decl["history"][-1]["reason"]


def test_declarant_isolation(client, people, tariff_loaded):
    broker, other, admin = people.create("declarant"), people.create("declarant"), people.create("administrator")
    open_account(client, people, admin, eori(broker), "10", number="DAN-A")
    open_account(client, people, admin, eori(other), "10", number="DAN-B")
    decl = lodge(client, people, broker, declaration("REV-10", broker))
    url = f"/api/v1/declarations/{decl['id']}/assessment"
    assert client.get(url, headers=people.headers(other)).status_code == 404
    assert [a["number"] for a in client.get("/api/v1/guarantees", headers=people.headers(broker)).json()] == ["DAN-A"]
    assert client.get("/api/v1/guarantees/DAN-A", headers=people.headers(other)).status_code == 404
    assert len(client.get("/api/v1/guarantees", headers=people.headers(admin)).json()) == 2
    refused = client.post(
        "/api/v1/guarantees",
        json={"number": "DAN-C", "holder_eori": eori(broker), "limit": "1"},
        headers=people.headers(broker),
    )
    assert refused.status_code == 403


def test_without_a_tariff_revenue_is_not_administered(client, people):
    broker = people.create("declarant")
    decl = lodge(client, people, broker, sample_declaration("REV-11", declarant_eori=eori(broker)))
    assert decl["status"] == "released"
    body = revenue(client, people, broker, decl["id"])
    assert body["administered"] is False and body["assessment"] is None and "no tariff is loaded" in body["message"]


def test_a_cancelled_declaration_frees_its_reservation_for_the_next_one(client, people, tariff_loaded):
    broker, admin = people.create("declarant"), people.create("administrator")
    open_account(client, people, admin, eori(broker), "1100")
    first = lodge(client, people, broker, declaration("REV-12", broker, description=" CONTROL-YELLOW"))
    assert first["status"] == "documentary_check"
    assert D(revenue(client, people, broker, first["id"])["guaranteed"]) == TOTAL
    cancelled = client.post(
        f"/api/v1/declarations/{first['id']}/cancellation",
        json={"reason": "wrong shipment"},
        headers=people.headers(broker),
    )
    assert cancelled.json()["status"] == "cancelled"
    second = lodge(client, people, broker, declaration("REV-13", broker))
    assert second["status"] == "released"
    account = client.get("/api/v1/guarantees/DAN-0001", headers=people.headers(admin)).json()
    assert [(m["kind"], m["declaration_id"]) for m in account["movements"]] == [
        ("reservation", first["id"]),
        ("release", first["id"]),
        ("reservation", second["id"]),
    ]
    assert D(account["used"]) == TOTAL


def test_concurrent_retries_of_one_payment_record_it_once(client, people, tariff_loaded):
    import concurrent.futures

    broker, officer = people.create("declarant"), people.create("customs_officer")
    decl = lodge(client, people, broker, declaration("REV-14", broker, wine=False))
    with concurrent.futures.ThreadPoolExecutor(max_workers=4) as pool:
        responses = list(pool.map(lambda _: pay(client, people, officer, decl["id"], "181.50", "WIRE-9"), range(8)))
    assert sorted({r.status_code for r in responses}) == [200, 201]
    assert sum(r.status_code == 201 for r in responses) == 1
    body = revenue(client, people, broker, decl["id"])
    assert len(body["payments"]) == 1 and D(body["paid"]) == D("181.50") and body["settled"] is True
    assert status_of(client, people, broker, decl["id"]) == "released"


def test_payment_reminders_are_sent_once_per_period(client, people, tariff_loaded, monkeypatch):
    from datetime import timedelta

    from typer.testing import CliRunner

    from clearway.cli import app as cli
    from clearway.db import utcnow
    from clearway.revenue import service

    broker = people.create("declarant")
    lodge(client, people, broker, declaration("REV-15", broker, wine=False))
    later = utcnow() + timedelta(days=2)
    with tariff_loaded.session() as session:
        assert service.remind_unpaid(session=session, after=timedelta(days=1), now=later) == 1
        session.commit()
    with tariff_loaded.session() as session:
        assert service.remind_unpaid(session=session, after=timedelta(days=1), now=later) == 0
    reminder = client.get("/api/v1/notifications", headers=people.headers(broker)).json()["items"][-1]
    assert reminder["code"] == "15 DMSCPR" and "USD 181.50 is due" in reminder["message"]
    monkeypatch.setenv("CLEARWAY_DATABASE_URL", tariff_loaded.url)
    monkeypatch.setenv("CLEARWAY_SECRET_KEY", "test-secret-" + "x" * 40)
    result = CliRunner().invoke(cli, ["revenue", "remind", "--after-days", "1"])
    assert result.exit_code == 0 and "Sent 0 payment reminders" in result.output


def test_an_officer_assesses_what_the_tariff_cannot_compute(client, people, tariff_loaded):
    broker, officer = people.create("declarant"), people.create("customs_officer")
    data = declaration("REV-16", broker, wine=False)
    data["goods_items"][0]["hs_code"] = "420221"
    decl = lodge(client, people, broker, data)
    assert decl["status"] == "awaiting_payment" and "cannot be computed" in decl["history"][-1]["reason"]
    url = f"/api/v1/declarations/{decl['id']}/assessment"
    lines = [
        {
            "goods_item": 1,
            "tax_type": "duty",
            "base": "300.00",
            "rate_text": "6.9% on the case (USD 300)",
            "amount": "20.70",
        }
    ]
    body = {"reason": "case valued at USD 300 on inspection of the invoice", "tax_lines": lines}
    assert client.post(url, json=body, headers=people.headers(broker)).status_code == 403
    wrong = client.post(
        url, json={**body, "tax_lines": [{**lines[0], "goods_item": 5}]}, headers=people.headers(officer)
    )
    assert wrong.status_code == 422 and wrong.json()["errors"][0]["field"] == "tax_lines[0].goods_item"
    assessed = client.post(url, json=body, headers=people.headers(officer))
    assert assessed.status_code == 200, assessed.text
    result = assessed.json()
    assert result["assessment"]["status"] == "assessed" and D(result["outstanding"]) == D("20.70")
    assert result["assessment"]["tax_lines"][0]["source"] == f"officer {officer.username}"
    assert result["assessment"]["tax_lines"][0]["commodity_code"] == "420221"
    assert pay(client, people, officer, decl["id"], "20.70", "PAY-16").json()["settled"] is True
    assert status_of(client, people, broker, decl["id"]) == "released"
