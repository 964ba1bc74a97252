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
    analyst, broker, officer = (
        people.create("risk_analyst"),
        people.create("declarant"),
        people.create("customs_officer"),
    )
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


OFFICES = ("USNYC001", "USLAX001", "USJFK001")


def set_policy(client, headers, **params):
    for office in OFFICES:
        response = client.put(f"/api/v1/risk/offices/{office}/policy", json=params, headers=headers)
        assert response.status_code == 200, response.text


def decide(client, people, officer, decl_id, body):
    return client.post(f"/api/v1/declarations/{decl_id}/decisions", json=body, headers=people.headers(officer))


def test_a_mandatory_profile_wins_over_the_budget_and_cannot_be_rerouted_below_its_channel(client, people):
    analyst, broker, officer = (
        people.create("risk_analyst"),
        people.create("declarant"),
        people.create("customs_officer"),
    )
    headers = people.headers(analyst)
    # No accrual and one token per lane: the first hit takes the red token, the next is limited to yellow, then green.
    set_policy(client, headers, red_expected_pct=0, yellow_expected_pct=0, **NO_RANDOM, burst=1, rule_reserve=0)
    active_profile(client, headers, apples_from_us())
    channels = [
        lodge(client, people, broker, apples_declaration(f"LRN-B{i}", eori_of(broker)))["channel"] for i in range(3)
    ]
    assert channels == ["red", "yellow", "green"]

    alarm = apples_from_us(name="Chilean apples alert", reason="Radiation alert on Chilean fruit", mandatory=True)
    alarm["criteria"]["all"][1]["value"] = "CL"
    active_profile(client, headers, alarm)
    red = lodge(client, people, broker, apples_declaration("LRN-M1", eori_of(broker), origin="CL"))
    assert red["channel"] == "red"
    decision = client.get(f"/api/v1/risk/decisions/{red['id']}", headers=headers).json()
    assert decision["cause"] == "mandatory_rule" and decision["budget_overrun"] is True
    assert any("Mandatory selectivity profile 'Chilean apples alert'" in r for r in decision["reasons"])

    refused = decide(
        client,
        people,
        officer,
        red["id"],
        {"decision": "reroute", "channel": "green", "reason": "Looks fine to me, release"},
    )
    assert refused.status_code == 409 and "Mandatory selectivity profile" in refused.json()["detail"]
    too_short = decide(client, people, officer, red["id"], {"decision": "reroute", "channel": "yellow", "reason": "ok"})
    assert too_short.status_code == 422
    assert any(e["field"] == "reason" for e in too_short.json()["errors"])


def test_an_officer_reroutes_a_non_mandatory_selection_and_the_decision_keeps_the_record(client, people):
    analyst, broker, officer = (
        people.create("risk_analyst"),
        people.create("declarant"),
        people.create("customs_officer"),
    )
    active_profile(client, people.headers(analyst), apples_from_us())
    red = lodge(client, people, broker, apples_declaration("LRN-RR", eori_of(broker)))
    moved = decide(
        client,
        people,
        officer,
        red["id"],
        {"decision": "reroute", "channel": "yellow", "reason": "Examination bay closed today"},
    )
    assert moved.status_code == 200, moved.text
    assert moved.json()["channel"] == "yellow"
    decision = client.get(f"/api/v1/risk/decisions/{red['id']}", headers=people.headers(officer)).json()
    assert decision["reroutes"][0]["from_channel"] == "red" and decision["reroutes"][0]["to_channel"] == "yellow"
    assert decision["reroutes"][0]["breaks_random_sample"] is False


def test_malformed_profiles_are_rejected_with_json_paths(client, people):
    headers = people.headers(people.create("risk_analyst"))
    body = apples_from_us(channel="green", valid_to="2019-01-01")
    body["criteria"]["all"][0]["op"] = "eqq"
    body["criteria"]["all"].append({"field": "goods_items.hs_codes", "op": "eq", "value": "01"})
    body["criteria"]["all"].append({"field": "importer.eori", "op": "in_list", "list": "watched_importers"})
    response = client.post("/api/v1/risk/profiles", json=body, headers=headers)
    assert response.status_code == 422
    problem = response.json()
    assert problem["type"].endswith("/invalid-input") or problem["status"] == 422
    fields = {e["field"] for e in problem["errors"]}
    assert {"criteria.all[0].op", "criteria.all[2].field", "criteria.all[3].list", "valid_to", "channel"} <= fields
    # Once the list exists, the profile referring to it is accepted.
    assert (
        client.put(
            "/api/v1/risk/lists/watched_importers", json={"entries": ["US100200300"]}, headers=headers
        ).status_code
        == 200
    )
    ok = apples_from_us()
    ok["criteria"]["all"].append({"field": "importer.eori", "op": "in_list", "list": "watched_importers"})
    assert client.post("/api/v1/risk/profiles", json=ok, headers=headers).status_code == 201


def test_roles_analysts_write_officers_and_administrators_read(client, people):
    officer, admin, broker = (
        people.create("customs_officer"),
        people.create("administrator"),
        people.create("declarant"),
    )
    for user in (officer, admin):
        assert client.get("/api/v1/risk/profiles", headers=people.headers(user)).status_code == 200
        assert (
            client.post("/api/v1/risk/profiles", json=apples_from_us(), headers=people.headers(user)).status_code == 403
        )
    assert client.get("/api/v1/risk/profiles", headers=people.headers(broker)).status_code == 403
    assert client.get("/api/v1/risk/decisions/nope", headers=people.headers(officer)).status_code == 404


def test_versions_activation_and_retirement(client, people):
    headers = people.headers(people.create("risk_analyst"))
    pid = active_profile(client, headers, apples_from_us())
    edited = client.post(f"/api/v1/risk/profiles/{pid}/versions", json=apples_from_us(priority=90), headers=headers)
    assert edited.status_code == 201
    detail = edited.json()
    assert [(v["version"], v["status"]) for v in detail["versions"]] == [(1, "active"), (2, "draft")]
    detail = client.post(f"/api/v1/risk/profiles/{pid}/activate", headers=headers).json()
    assert [(v["version"], v["status"]) for v in detail["versions"]] == [(1, "retired"), (2, "active")]
    detail = client.post(f"/api/v1/risk/profiles/{pid}/retire", headers=headers).json()
    assert [v["status"] for v in detail["versions"]] == ["retired", "retired"]
    again = client.post(f"/api/v1/risk/profiles/{pid}/retire", headers=headers)
    assert again.status_code == 409
    assert client.get("/api/v1/risk/profiles?status=active", headers=headers).json() == []


def test_backtest_counts_hits_and_findings_over_stored_declarations(client, people):
    analyst, broker, officer = (
        people.create("risk_analyst"),
        people.create("declarant"),
        people.create("customs_officer"),
    )
    headers = people.headers(analyst)
    ids = []
    for i, (origin, forced) in enumerate([("US", True), ("US", True), ("US", False), ("NZ", True), ("NZ", False)]):
        data = apples_declaration(f"LRN-T{i}", eori_of(broker), origin=origin)
        if forced:
            data["goods_items"][0]["description"] = "CONTROL-RED sample goods"
        ids.append(lodge(client, people, broker, data)["id"])
    for decl_id, outcome in [(ids[0], "fraud"), (ids[1], "no_finding"), (ids[3], "fraud")]:
        response = decide(
            client, people, officer, decl_id, {"decision": "record_control_result", "result": {"outcome": outcome}}
        )
        assert response.status_code == 200, response.text
    created = client.post("/api/v1/risk/profiles", json=apples_from_us(), headers=headers).json()  # a draft
    result = client.post(
        f"/api/v1/risk/profiles/{created['profile_id']}/backtest", json={"since": TODAY}, headers=headers
    )
    assert result.status_code == 200, result.text
    figures = result.json()
    assert figures["declarations"] == 5 and figures["hits"] == 3
    assert figures["hits_with_known_outcome"] == 2 and figures["hits_with_fraud"] == 1
    assert figures["precision"] == 0.5 and figures["known_frauds"] == 2 and figures["recall"] == 0.5
    bad = client.post(
        f"/api/v1/risk/profiles/{created['profile_id']}/backtest", json={"since": "2026-13-01"}, headers=headers
    )
    assert bad.status_code == 422


def test_report_on_a_small_constructed_history(client, people):
    analyst, broker, officer = (
        people.create("risk_analyst"),
        people.create("declarant"),
        people.create("customs_officer"),
    )
    headers = people.headers(analyst)
    # Every declaration is drawn for the red random sample: the report's unbiased baseline.
    set_policy(client, headers, red_expected_pct=100, red_random_pct=100, yellow_expected_pct=0, yellow_random_pct=0)
    pid = active_profile(client, headers, apples_from_us())
    ids = [lodge(client, people, broker, apples_declaration(f"LRN-P{i}", eori_of(broker)))["id"] for i in range(4)]
    yellow = sample_declaration("LRN-PY", declarant_eori=eori_of(broker), items=1)
    yellow["goods_items"][0]["description"] = "CONTROL-YELLOW goods"
    ids.append(lodge(client, people, broker, yellow)["id"])
    for decl_id, outcome in [(ids[0], "fraud"), (ids[1], "discrepancy"), (ids[2], "no_finding"), (ids[4], "fraud")]:
        assert (
            decide(
                client, people, officer, decl_id, {"decision": "record_control_result", "result": {"outcome": outcome}}
            ).status_code
            == 200
        )

    report = client.get(f"/api/v1/risk/report?since={TODAY}", headers=people.headers(officer)).json()
    assert report["declarations"] == 5
    assert report["channels"]["red"] == {"declarations": 4, "share": 0.8}
    assert report["red"] == {"inspected": 3, "with_findings": 2, "precision": 0.6667}
    assert report["yellow"] == {"inspected": 1, "with_findings": 1, "precision": 1.0}
    assert report["random"] == {"inspected": 3, "with_findings": 2, "hit_rate": 0.6667}
    [row] = report["profiles"]
    assert (row["profile_id"], row["hits"], row["inspected"], row["with_findings"]) == (pid, 4, 3, 2)
    assert report["model_version_active"] == "shipped-demo"
    listed = client.get(f"/api/v1/risk/profiles/{pid}", headers=headers).json()["current"]
    assert (listed["hits"], listed["inspected"], listed["with_findings"], listed["hit_rate"]) == (4, 3, 2, 2 / 3)
