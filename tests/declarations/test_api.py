"""Declarations through HTTP, on SQLite and PostgreSQL."""

from __future__ import annotations

import concurrent.futures

from clearway.demo import sample_declaration


def lodge(client, headers, data, **extra_headers):
    return client.post("/api/v1/declarations", json=data, headers={**headers, **extra_headers})


def test_a_valid_declaration_is_accepted_assessed_and_released(client, people):
    broker = people.create("declarant")
    response = lodge(client, people.headers(broker), sample_declaration("LRN-A", declarant_eori=broker_eori(broker)))
    assert response.status_code == 201, response.text
    body = response.json()
    assert response.headers["Location"] == f"/api/v1/declarations/{body['id']}"
    assert body["mrn"].startswith("26US") and len(body["mrn"]) == 18
    assert body["status"] == "released" and body["channel"] == "green"
    assert [e["to_status"] for e in body["history"]] == ["submitted", "accepted", "assessed", "released"]
    assert body["history"][1]["actor"] == "system"
    assert body["history"][0]["actor"] == broker.username


def broker_eori(user):
    return sorted(user.eoris)[0]


def test_same_idempotency_key_returns_the_first_declaration(client, people):
    broker = people.create("declarant")
    headers = people.headers(broker)
    data = sample_declaration("LRN-B", declarant_eori=broker_eori(broker))
    first = lodge(client, headers, data, **{"Idempotency-Key": "k-1"})
    again = lodge(client, headers, data, **{"Idempotency-Key": "k-1"})
    assert first.status_code == 201 and again.status_code == 200
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json()["id"] == first.json()["id"]
    listed = client.get("/api/v1/declarations", headers=headers).json()["items"]
    assert len(listed) == 1


def test_same_lrn_with_other_content_is_a_conflict(client, people):
    broker = people.create("declarant")
    headers = people.headers(broker)
    data = sample_declaration("LRN-C", declarant_eori=broker_eori(broker))
    assert lodge(client, headers, data).status_code == 201
    data["goods_items"][0]["description"] = "something else"
    response = lodge(client, headers, data)
    assert response.status_code == 409
    problem = response.json()
    assert problem["type"].endswith("/conflict") and "LRN 'LRN-C' is already used" in problem["detail"]


def test_reused_idempotency_key_for_a_different_declaration_is_refused(client, people):
    broker = people.create("declarant")
    headers = people.headers(broker)
    eori = broker_eori(broker)
    assert (
        lodge(
            client, headers, sample_declaration("LRN-D1", declarant_eori=eori), **{"Idempotency-Key": "k"}
        ).status_code
        == 201
    )
    response = lodge(client, headers, sample_declaration("LRN-D2", declarant_eori=eori), **{"Idempotency-Key": "k"})
    assert response.status_code == 409 and "Idempotency-Key 'k' was already used" in response.json()["detail"]


def test_concurrent_retries_create_one_declaration(client, people, database):
    broker = people.create("declarant")
    headers = people.headers(broker)
    data = sample_declaration("LRN-E", declarant_eori=broker_eori(broker))
    with concurrent.futures.ThreadPoolExecutor(max_workers=6) as pool:
        responses = list(pool.map(lambda _: lodge(client, headers, data), range(12)))
    assert sorted({r.status_code for r in responses}) in ([200, 201], [201])
    assert sum(r.status_code == 201 for r in responses) == 1
    assert len({r.json()["id"] for r in responses}) == 1
    from sqlalchemy import func, select

    from clearway.declarations.models import Declaration

    with database.session() as session:
        assert session.scalar(select(func.count()).select_from(Declaration)) == 1


def test_a_declarant_cannot_see_another_declarants_declaration(client, people):
    alice, bob = people.create("declarant"), people.create("declarant")
    created = lodge(client, people.headers(alice), sample_declaration("LRN-F", declarant_eori=broker_eori(alice)))
    decl_id = created.json()["id"]
    response = client.get(f"/api/v1/declarations/{decl_id}", headers=people.headers(bob))
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    assert client.get("/api/v1/declarations", headers=people.headers(bob)).json()["items"] == []
    officer = people.create("customs_officer")
    assert client.get(f"/api/v1/declarations/{decl_id}", headers=people.headers(officer)).status_code == 200


def test_lodging_for_someone_elses_eori_is_forbidden(client, people):
    alice = people.create("declarant")
    response = lodge(client, people.headers(alice), sample_declaration("LRN-G", declarant_eori="GB999999999999"))
    assert response.status_code == 403
    assert response.json()["errors"][0]["field"] == "declarant.eori"


def test_bad_input_is_a_problem_and_stores_nothing(client, people):
    broker = people.create("declarant")
    headers = people.headers(broker)
    data = sample_declaration("LRN-H", declarant_eori=broker_eori(broker))
    data["goods_items"][0]["hs_code"] = "999999"
    data["goods_items"][1]["gross_mass_kg"] = "0.001"
    data["invoice"]["currency"] = "ABC"
    response = lodge(client, headers, data)
    assert response.status_code == 422
    problem = response.json()
    assert problem["status"] == 422 and problem["type"].endswith("/validation-failed")
    fields = {e["field"] for e in problem["errors"]}
    assert {"goods_items[0].hs_code", "goods_items[1]", "invoice.currency"} <= fields
    assert client.get("/api/v1/declarations", headers=headers).json()["items"] == []


def test_malformed_and_oversized_bodies(client, people):
    headers = people.headers(people.create("declarant"))
    malformed = client.post(
        "/api/v1/declarations", content=b'{"lrn": ', headers={**headers, "content-type": "application/json"}
    )
    assert malformed.status_code == 400 and "not valid JSON" in malformed.json()["detail"]
    huge = client.post(
        "/api/v1/declarations", content=b"x" * 2_100_000, headers={**headers, "content-type": "application/json"}
    )
    assert huge.status_code == 413 and huge.json()["type"].endswith("/payload-too-large")


def test_unauthenticated_requests_are_refused(client):
    response = client.get("/api/v1/declarations")
    assert response.status_code == 401 and response.headers["WWW-Authenticate"] == "Bearer"
    bad = client.get("/api/v1/declarations", headers={"Authorization": "Bearer not-a-token"})
    assert bad.status_code == 401 and "invalid" in bad.json()["detail"]


def test_amendment_keeps_every_version(client, people, database):
    broker = people.create("declarant")
    headers = people.headers(broker)
    data = sample_declaration("LRN-I", declarant_eori=broker_eori(broker))
    data["goods_items"][0]["description"] = "laptops CONTROL-YELLOW"
    decl = lodge(client, headers, data).json()
    assert decl["status"] == "documentary_check" and decl["channel"] == "yellow"
    data["goods_items"][0]["item_price"] = "999.99"
    amended = client.post(
        f"/api/v1/declarations/{decl['id']}/amendments",
        json={"reason": "price corrected", "declaration": data},
        headers=headers,
    )
    assert amended.status_code == 200, amended.text
    assert amended.json()["version"] == 2
    assert amended.json()["document"]["goods_items"][0]["item_price"] == "999.99"
    from sqlalchemy import select

    from clearway.declarations.models import DeclarationVersion

    with database.session() as session:
        versions = session.scalars(
            select(DeclarationVersion)
            .where(DeclarationVersion.declaration_id == decl["id"])
            .order_by(DeclarationVersion.version)
        ).all()
        assert [v.version for v in versions] == [1, 2]
        assert versions[0].document["goods_items"][0]["item_price"] != "999.99"
    data["lrn"] = "OTHER"
    refused = client.post(
        f"/api/v1/declarations/{decl['id']}/amendments", json={"reason": "x", "declaration": data}, headers=headers
    )
    assert refused.status_code == 422 and refused.json()["errors"][0]["field"] == "declaration.lrn"


def test_released_declaration_cannot_be_amended_or_cancelled(client, people):
    broker = people.create("declarant")
    headers = people.headers(broker)
    data = sample_declaration("LRN-J", declarant_eori=broker_eori(broker))
    decl = lodge(client, headers, data).json()
    response = client.post(
        f"/api/v1/declarations/{decl['id']}/cancellation", json={"reason": "changed my mind"}, headers=headers
    )
    assert response.status_code == 409
    assert response.json()["type"].endswith("/illegal-transition")
    assert "status 'released'" in response.json()["detail"]
    amended = client.post(
        f"/api/v1/declarations/{decl['id']}/amendments", json={"reason": "x", "declaration": data}, headers=headers
    )
    assert amended.status_code == 409


def test_cancellation_before_release(client, people):
    broker = people.create("declarant")
    headers = people.headers(broker)
    data = sample_declaration("LRN-K", declarant_eori=broker_eori(broker))
    data["goods_items"][0]["description"] += " CONTROL-YELLOW"
    decl = lodge(client, headers, data).json()
    response = client.post(
        f"/api/v1/declarations/{decl['id']}/cancellation", json={"reason": "shipment lost"}, headers=headers
    )
    assert response.status_code == 200 and response.json()["status"] == "cancelled"
    assert response.json()["history"][-1]["reason"] == "shipment lost"


def test_red_channel_inspection_and_release_by_an_officer(client, people):
    broker, officer = people.create("declarant"), people.create("customs_officer")
    data = sample_declaration("LRN-L", declarant_eori=broker_eori(broker))
    data["goods_items"][1]["description"] += " CONTROL-RED"
    decl = lodge(client, people.headers(broker), data).json()
    assert decl["status"] == "physical_inspection" and decl["channel"] == "red"
    assert "physical examination" in decl["action_required"]
    url = f"/api/v1/declarations/{decl['id']}/decisions"
    officer_headers = people.headers(officer)
    early = client.post(url, json={"decision": "release"}, headers=officer_headers)
    assert early.status_code == 409 and "record the physical inspection result" in early.json()["detail"]
    by_declarant = client.post(url, json={"decision": "release"}, headers=people.headers(broker))
    assert by_declarant.status_code == 403
    docs = client.post(
        url,
        json={
            "decision": "request_documents",
            "reason": "origin proof",
            "documents": [{"code": "N954", "description": "EUR.1 movement certificate"}],
        },
        headers=officer_headers,
    )
    assert docs.status_code == 200 and docs.json()["status"] == "documents_requested"
    assert "N954 EUR.1 movement certificate" in docs.json()["action_required"]
    data["goods_items"][0]["documents"].append({"code": "N954", "reference": "EUR1-123"})
    answered = client.post(
        f"/api/v1/declarations/{decl['id']}/amendments",
        json={"reason": "certificate attached", "declaration": data},
        headers=people.headers(broker),
    )
    assert answered.json()["status"] == "physical_inspection"
    result = client.post(
        url,
        json={"decision": "record_control_result", "result": {"outcome": "no_finding", "findings": "goods match"}},
        headers=officer_headers,
    )
    assert result.status_code == 200 and result.json()["status"] == "control_completed"
    released = client.post(url, json={"decision": "release", "reason": "inspection clear"}, headers=officer_headers)
    assert released.json()["status"] == "released"
    actions = [e["action"] for e in released.json()["history"]]
    assert actions[3:] == ["request_documents", "amend", "provide_documents", "record_control_result", "release"]


def test_decision_validation_and_seizure(client, people):
    broker, officer = people.create("declarant"), people.create("customs_officer")
    data = sample_declaration("LRN-M", declarant_eori=broker_eori(broker))
    data["goods_items"][0]["description"] += " CONTROL-RED"
    decl = lodge(client, people.headers(broker), data).json()
    url = f"/api/v1/declarations/{decl['id']}/decisions"
    headers = people.headers(officer)
    missing = client.post(url, json={"decision": "request_documents"}, headers=headers)
    assert missing.status_code == 422 and "lists the documents" in missing.json()["errors"][0]["reason"]
    no_reason = client.post(url, json={"decision": "seize"}, headers=headers)
    assert no_reason.status_code == 422
    seized = client.post(url, json={"decision": "seize", "reason": "counterfeit goods"}, headers=headers)
    assert seized.json()["status"] == "seized"
    again = client.post(url, json={"decision": "release", "reason": "x"}, headers=headers)
    assert again.status_code == 409


def test_officer_reroutes_yellow_to_green_and_the_chain_releases(client, people):
    broker, officer = people.create("declarant"), people.create("customs_officer")
    data = sample_declaration("LRN-N", declarant_eori=broker_eori(broker))
    data["goods_items"][0]["description"] += " CONTROL-YELLOW"
    decl = lodge(client, people.headers(broker), data).json()
    response = client.post(
        f"/api/v1/declarations/{decl['id']}/decisions",
        json={"decision": "reroute", "channel": "green", "reason": "trusted trader, documents seen"},
        headers=people.headers(officer),
    )
    body = client.get(f"/api/v1/declarations/{decl['id']}", headers=people.headers(officer)).json()
    assert response.status_code == 200 and body["status"] == "released" and body["channel"] == "green"
    reroute = next(e for e in body["history"] if e["action"] == "reroute")
    assert reroute["details"] == {"from_channel": "yellow", "to_channel": "green"}


def test_list_filters_and_pagination(client, people):
    broker = people.create("declarant")
    headers = people.headers(broker)
    for n in range(5):
        data = sample_declaration(f"LRN-P{n}", declarant_eori=broker_eori(broker))
        if n % 2:
            data["goods_items"][0]["description"] += " CONTROL-YELLOW"
        lodge(client, headers, data)
    released = client.get("/api/v1/declarations?status=released", headers=headers).json()["items"]
    assert len(released) == 3
    page = client.get("/api/v1/declarations?limit=2", headers=headers).json()
    assert len(page["items"]) == 2 and page["next_cursor"]
    rest = client.get(f"/api/v1/declarations?limit=10&cursor={page['next_cursor']}", headers=headers).json()
    assert len(rest["items"]) == 3
    assert {i["lrn"] for i in page["items"]} | {i["lrn"] for i in rest["items"]} == {f"LRN-P{n}" for n in range(5)}
    bad = client.get("/api/v1/declarations?status=flying", headers=headers)
    assert bad.status_code == 422 and "unknown status 'flying'" in bad.json()["errors"][0]["reason"]


def test_notifications_are_pulled_with_a_cursor(client, people):
    broker = people.create("declarant")
    headers = people.headers(broker)
    lodge(client, headers, sample_declaration("LRN-Q", declarant_eori=broker_eori(broker)))
    first = client.get("/api/v1/notifications?limit=2", headers=headers).json()
    assert [n["type"] for n in first["items"]] == ["accepted", "channel_assigned"]
    assert first["items"][0]["code"] == "01 DMSACC" and first["items"][0]["mrn"] in first["items"][0]["message"]
    rest = client.get(f"/api/v1/notifications?after={first['cursor']}", headers=headers).json()
    assert [n["type"] for n in rest["items"]] == ["released"]
    assert client.get(f"/api/v1/notifications?after={rest['cursor']}", headers=headers).json()["items"] == []
    other = people.create("declarant")
    assert client.get("/api/v1/notifications", headers=people.headers(other)).json()["items"] == []


def test_health_and_openapi(client):
    health = client.get("/health").json()
    assert health["status"] == "ok" and health["jobs"]["failed"] == 0
    spec = client.get("/openapi.json").json()
    for path in (
        "/api/v1/auth/token",
        "/api/v1/declarations",
        "/api/v1/declarations/{declaration_id}/decisions",
        "/api/v1/notifications",
    ):
        assert path in spec["paths"]


def test_the_trader_never_sees_why_customs_targeted_the_declaration(client, people):
    broker, officer = people.create("declarant"), people.create("customs_officer")
    data = sample_declaration("LRN-R", declarant_eori=broker_eori(broker))
    data["goods_items"][0]["description"] += " CONTROL-RED"
    decl = lodge(client, people.headers(broker), data).json()
    assigned = next(e for e in decl["history"] if e["action"] == "assign_channel")
    assert assigned["reason"] is None and assigned["details"] == {"channel": "red"}
    notes = client.get("/api/v1/notifications", headers=people.headers(broker)).json()["items"]
    channel_note = next(n for n in notes if n["type"] == "channel_assigned")
    assert channel_note["details"] == {"status": "physical_inspection", "channel": "red"}
    seen_by_officer = client.get(f"/api/v1/declarations/{decl['id']}", headers=people.headers(officer)).json()
    officer_view = next(e for e in seen_by_officer["history"] if e["action"] == "assign_channel")
    assert "CONTROL-RED" in officer_view["reason"]


def test_goods_items_are_stored_as_rows_for_every_version(client, people, database):
    from sqlalchemy import select

    from clearway.declarations.models import GoodsItem

    broker = people.create("declarant")
    headers = people.headers(broker)
    data = sample_declaration("LRN-S", declarant_eori=broker_eori(broker), items=3)
    data["goods_items"][0]["description"] += " CONTROL-YELLOW"
    decl = lodge(client, headers, data).json()

    def rows():
        with database.session() as session:
            items = session.scalars(select(GoodsItem).where(GoodsItem.declaration_id == decl["id"])).all()
            return [(i.sequence, i.hs_code, str(i.item_price)) for i in sorted(items, key=lambda i: i.sequence)]

    assert [r[0] for r in rows()] == [1, 2, 3]
    data["goods_items"] = data["goods_items"][:2]
    data["goods_items"][1]["item_price"] = "12.34"
    client.post(
        f"/api/v1/declarations/{decl['id']}/amendments",
        json={"reason": "one item less", "declaration": data},
        headers=headers,
    )
    assert [(r[0], r[2]) for r in rows()] == [(1, data["goods_items"][0]["item_price"]), (2, "12.34")]
