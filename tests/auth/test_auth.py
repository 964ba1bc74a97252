"""Logins, API keys, roles and the append-only audit log."""

from __future__ import annotations

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError

from clearway.auth import service
from clearway.auth.models import AuditEntry
from clearway.demo import sample_declaration
from clearway.errors import Conflict, InvalidInput


def test_password_flow_issues_a_bearer_token(client, people):
    people.create("customs_officer", username="ana")
    wrong = client.post("/api/v1/auth/token", data={"username": "ana", "password": "nope"})
    assert wrong.status_code == 401 and wrong.json()["detail"] == "wrong username or password"
    token = client.post("/api/v1/auth/token", data={"username": "ana", "password": "correct-horse-battery"}).json()
    me = client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {token['access_token']}"}).json()
    assert me["username"] == "ana" and me["role"] == "customs_officer"


def test_api_key_for_a_brokers_system(client, people):
    broker = people.create("declarant")
    created = client.post("/api/v1/auth/api-keys", json={"name": "broker software"}, headers=people.headers(broker))
    assert created.status_code == 201
    key = created.json()["api_key"]
    data = sample_declaration("KEY-1", declarant_eori=sorted(broker.eoris)[0])
    lodged = client.post("/api/v1/declarations", json=data, headers={"X-API-Key": key})
    assert lodged.status_code == 201
    assert client.get("/api/v1/auth/me", headers={"X-API-Key": key + "x"}).status_code == 401


def test_an_officer_cannot_lodge_and_a_declarant_cannot_decide(client, people):
    officer, broker = people.create("customs_officer"), people.create("declarant")
    data = sample_declaration("ROLE-1", declarant_eori=sorted(broker.eoris)[0])
    assert client.post("/api/v1/declarations", json=data, headers=people.headers(officer)).status_code == 403
    decl = client.post("/api/v1/declarations", json=data, headers=people.headers(broker)).json()
    response = client.post(
        f"/api/v1/declarations/{decl['id']}/decisions", json={"decision": "release"}, headers=people.headers(broker)
    )
    assert response.status_code == 403 and response.json()["type"].endswith("/forbidden")


def test_every_state_change_is_audited_and_the_log_is_append_only(client, people, database):
    broker = people.create("declarant")
    data = sample_declaration("AUD-1", declarant_eori=sorted(broker.eoris)[0])
    decl = client.post("/api/v1/declarations", json=data, headers=people.headers(broker)).json()
    with database.session() as session:
        actions = session.scalars(
            select(AuditEntry.action).where(AuditEntry.entity_id == decl["id"]).order_by(AuditEntry.id)
        ).all()
        assert actions == [
            "declaration.submit",
            "declaration.accept",
            "declaration.assign_channel",
            "declaration.release",
        ]
    for statement in ("UPDATE audit_log SET actor = 'mallory'", "DELETE FROM audit_log"):
        with database.session() as session, pytest.raises(DBAPIError, match="append-only"):
            session.execute(text(statement))
            session.flush()


def test_user_creation_checks_every_field(database):
    with database.session() as session:
        with pytest.raises(InvalidInput) as caught:
            service.create_user(session=session, username="X", password="short", role="pilot", eoris=["GB1"])
        fields = {e["field"] for e in caught.value.errors}
        assert fields == {"username", "password", "role", "eori[0]"}
        with pytest.raises(InvalidInput, match="cannot be created"):
            service.create_user(session=session, username="broker9", password="long-enough", role="declarant")
        service.create_user(session=session, username="dup", password="long-enough", role="administrator")
        with pytest.raises(Conflict):
            service.create_user(session=session, username="dup", password="long-enough", role="administrator")
