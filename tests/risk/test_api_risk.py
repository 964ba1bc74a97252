"""Risk management through HTTP, on SQLite and PostgreSQL: profiles, lists, channel decisions, re-routing, report."""

from __future__ import annotations

from datetime import UTC, datetime

from clearway.demo import sample_declaration

TODAY = datetime.now(UTC).date().isoformat()
NO_RANDOM = {"red_random_pct": 0, "yellow_random_pct": 0}


def apples_from_us(**extra):
    return {
        "name": "Apples from the US",
        "reason": "Phytosanitary alert: US apples must be examined",
        "channel": "red",
        "priority": 80,
        "valid_from": "2020-01-01",
        "criteria": {
            "all": [
                {"field": "goods_items.hs_code", "op": "prefix", "value": "0808"},
                {"field": "goods_items.country_of_origin", "op": "eq", "value": "US"},
            ]
        },
        **extra,
    }


def apples_declaration(lrn, eori, origin="US"):
    data = sample_declaration(lrn, declarant_eori=eori, items=2, seed=1)
    data["goods_items"][1].update(hs_code="080810", description="Fresh apples, Gala", country_of_origin=origin)
    return data


def eori_of(user):
    return sorted(user.eoris)[0]


def lodge(client, people, broker, data):
    response = client.post("/api/v1/declarations", json=data, headers=people.headers(broker))
    assert response.status_code == 201, response.text
    return response.json()


def active_profile(client, headers, body):
    created = client.post("/api/v1/risk/profiles", json=body, headers=headers)
    assert created.status_code == 201, created.text
    pid = created.json()["profile_id"]
    activated = client.post(f"/api/v1/risk/profiles/{pid}/activate", headers=headers)
    assert activated.status_code == 200, activated.text
    assert activated.json()["current"]["status"] == "active"
    return pid


def test_an_active_profile_sends_a_declaration_red_and_a_clean_one_goes_green(client, people):
    analyst, broker, officer = people.create("risk_analyst"), people.create("declarant"), people.create("customs_officer")
    headers = people.headers(analyst)
    pid = active_profile(client, headers, apples_from_us())

    red = lodge(client, people, broker, apples_declaration("LRN-R1", eori_of(broker)))
    assert red["channel"] == "red" and red["status"] == "physical_inspection"
    decision = client.get(f"/api/v1/risk/decisions/{red['id']}", headers=people.headers(officer)).json()
    assert decision["channel"] == "red" and decision["cause"] == "rule"
    assert decision["rule_hits"][0]["profile_id"] == pid and decision["rule_hits"][0]["version"] == 1
    assert any("Phytosanitary alert" in r for r in decision["reasons"])
    assert decision["model_version"] == "shipped-demo" and 0 <= decision["score"] <= 1

    green = lodge(client, people, broker, apples_declaration("LRN-G1", eori_of(broker), origin="NZ"))
    assert green["channel"] == "green"
    decision = client.get(f"/api/v1/risk/decisions/{green['id']}", headers=people.headers(officer)).json()
    assert decision["rule_hits"] == [] and decision["factors"]
    assert any(r.startswith("Risk model shipped-demo estimates") for r in decision["reasons"])

    listed = client.get("/api/v1/risk/profiles", headers=people.headers(officer)).json()
    assert [(p["profile_id"], p["hits"], p["inspected"]) for p in listed] == [(pid, 1, 0)]
