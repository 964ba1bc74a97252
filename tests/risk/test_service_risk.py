"""Risk use cases on SQLite and PostgreSQL: retraining on inspection results, rollback, concurrent assessments,
named lists and trusted traders, and the CLI."""

from __future__ import annotations

import concurrent.futures
import json
from pathlib import Path

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from clearway.demo import sample_declaration
from clearway.risk import service
from clearway.risk.model import TrainParams
from clearway.risk.models import ChannelDecisionRecord, OfficePolicy
from clearway.risk.registry import ModelRegistry
from tests.risk.test_api_risk import (
    NO_RANDOM,
    TODAY,
    active_profile,
    apples_declaration,
    apples_from_us,
    decide,
    eori_of,
    lodge,
)

KCS = Path("/work/shared/data/kcs-synthetic/train.csv")
TINY = TrainParams(
    fraud_rounds=5, novel_rounds=5, critical_rounds=5, min_data_in_leaf=5, novel_min_data_in_leaf=5, num_threads=1
)


@pytest.fixture
def tiny_kcs(tmp_path: Path) -> Path:
    """The first 300 declarations of the KCS training data: enough to train a (poor) model in a second."""
    if not KCS.is_file():
        pytest.skip("KCS training data not available")
    path = tmp_path / "tiny.csv"
    with KCS.open(encoding="utf-8") as src:
        path.write_text("".join(line for _, line in zip(range(301), src, strict=False)), encoding="utf-8")
    return path


def test_retrain_on_inspections_activates_a_new_version_and_rollback_restores_the_previous(
    client, people, database, settings, tiny_kcs
):
    broker, officer = people.create("declarant"), people.create("customs_officer")
    for i, outcome in enumerate(["fraud", "no_finding", "discrepancy"]):
        data = sample_declaration(f"LRN-RT{i}", declarant_eori=eori_of(broker), items=2)
        data["goods_items"][0]["description"] = "CONTROL-RED goods"
        decl = lodge(client, people, broker, data)
        result = {"outcome": outcome}
        if outcome == "discrepancy":
            result["additional_revenue"] = {"currency": "USD", "amount": "120.00"}
        assert (
            decide(
                client, people, officer, decl["id"], {"decision": "record_control_result", "result": result}
            ).status_code
            == 200
        )

    with database.read_session() as session:
        records, labels = service.inspected_records(session=session)
        assert len(records) == 6 and sorted(labels) == [0, 0, 1, 1, 1, 1]
        messages: list[str] = []
        root = service.registry_root(settings)
        outcome = service.retrain(
            session=session, registry_dir=root, base_data=tiny_kcs, params=TINY, progress=messages.append
        )
    assert outcome["version"] == "v0001" and outcome["clearway_rows"] == 6 and outcome["clearway_frauds"] == 4
    assert outcome["rows"] == 306 and messages
    registry = ModelRegistry(root)
    assert registry.active_version() == "v0001"

    fresh = lodge(client, people, broker, sample_declaration("LRN-RT9", declarant_eori=eori_of(broker)))
    decision = client.get(f"/api/v1/risk/decisions/{fresh['id']}", headers=people.headers(officer)).json()
    assert decision["model_version"] == "v0001"

    assert registry.rollback() is None
    again = lodge(client, people, broker, sample_declaration("LRN-RT10", declarant_eori=eori_of(broker)))
    decision = client.get(f"/api/v1/risk/decisions/{again['id']}", headers=people.headers(officer)).json()
    assert decision["model_version"] == "shipped-demo"


def test_concurrent_assessments_of_one_office_update_its_budget_in_turn(client, people, database):
    analyst, broker = people.create("risk_analyst"), people.create("declarant")
    headers = people.headers(analyst)
    office = "USNYC001"
    active_profile(client, headers, apples_from_us())

    def lodge_one(i: int) -> str:
        data = apples_declaration(f"LRN-CC{i}", eori_of(broker), origin="US" if i % 2 else "NZ")
        data["office_of_lodgement"] = office
        response = client.post("/api/v1/declarations", json=data, headers=people.headers(broker))
        assert response.status_code == 201, response.text
        return response.json()["channel"]

    with concurrent.futures.ThreadPoolExecutor(max_workers=6) as pool:
        channels = list(pool.map(lodge_one, range(12)))
    with database.read_session() as session:
        state = session.get(OfficePolicy, office).state
        channels = list(
            session.scalars(select(ChannelDecisionRecord.channel).where(ChannelDecisionRecord.office == office))
        )
    # (a response may render before its assessment job ran, so the stored decisions are counted)
    assert len(channels) == 12 and state["decisions"] == 12
    assert sum(c != "green" for c in channels) == 6  # the six US apples: red, then yellow once red's budget is spent
    assert state["by_channel"] == {c: channels.count(c) for c in ("green", "yellow", "red")}


def test_trusted_traders_and_named_lists_feed_the_profiles(client, people):
    analyst, broker, officer = (
        people.create("risk_analyst"),
        people.create("declarant"),
        people.create("customs_officer"),
    )
    headers = people.headers(analyst)
    watched = apples_from_us(name="Watched importers", reason="Importer on the watch list", channel="yellow")
    watched["criteria"] = {"field": "importer.eori", "op": "in_list", "list": "watched_importers"}
    data = sample_declaration("LRN-W1", declarant_eori=eori_of(broker), items=1)
    importer = data["importer"]["eori"]
    assert (
        client.put("/api/v1/risk/lists/watched_importers", json={"entries": [importer]}, headers=headers).status_code
        == 200
    )
    active_profile(client, headers, watched)
    assert lodge(client, people, broker, data)["channel"] == "yellow"

    aeo = client.put(
        "/api/v1/risk/lists/trusted_traders", json={"entries": [eori_of(broker), " ", eori_of(broker)]}, headers=headers
    )
    assert aeo.json()["entries"] == [eori_of(broker)] and aeo.json()["revision"] == 1
    second = lodge(client, people, broker, sample_declaration("LRN-W2", declarant_eori=eori_of(broker), items=1))
    decision = client.get(f"/api/v1/risk/decisions/{second['id']}", headers=people.headers(officer)).json()
    assert decision["trusted_trader"] is True and decision["context"]["trusted_trader"] is True
    bad = client.put("/api/v1/risk/lists/Bad-Name", json={"entries": []}, headers=headers)
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "name"


def test_office_policy_is_validated_and_hides_its_seed(client, people):
    headers = people.headers(people.create("risk_analyst"))
    bad = client.put(
        "/api/v1/risk/offices/USNYC001/policy",
        json={"red_random_pct": 9, "red_expected_pct": 5, "colour": 1},
        headers=headers,
    )
    assert bad.status_code == 422 and {e["field"] for e in bad.json()["errors"]} == {"colour"}
    bad = client.put(
        "/api/v1/risk/offices/USNYC001/policy", json={"red_random_pct": 9, "red_expected_pct": 5}, headers=headers
    )
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "red_random_pct"
    ok = client.put("/api/v1/risk/offices/USNYC001/policy", json={"red_expected_pct": 3, **NO_RANDOM}, headers=headers)
    body = ok.json()
    assert body["effective"]["red_expected_pct"] == 3 and body["effective"]["seed"].startswith("sha256:")


def test_cli_profiles_lists_test_report_and_retrain(cli_env, client, people, tmp_path, tiny_kcs):
    from clearway.risk.cli import app

    runner = CliRunner()
    broker = people.create("declarant")
    lodge(client, people, broker, apples_declaration("LRN-CLI1", eori_of(broker)))
    profile_file = tmp_path / "profile.json"
    profile_file.write_text(json.dumps(apples_from_us()), encoding="utf-8")
    result = runner.invoke(app, ["profiles", "create", str(profile_file)])
    assert result.exit_code == 0, result.output
    pid = result.output.split()[3]
    result = runner.invoke(app, ["profiles", "test", pid, "--since", TODAY])
    assert result.exit_code == 0 and "would have hit 1 of 1 declarations" in result.output, result.output
    assert runner.invoke(app, ["profiles", "activate", pid]).exit_code == 0
    result = runner.invoke(app, ["profiles", "list"])
    assert pid in result.output and "active" in result.output
    assert runner.invoke(app, ["profiles", "retire", pid]).exit_code == 0

    broken = tmp_path / "broken.json"
    broken.write_text(json.dumps({**apples_from_us(), "priority": 500}), encoding="utf-8")
    result = runner.invoke(app, ["profiles", "create", str(broken)])
    assert result.exit_code == 2 and "priority" in result.output
    result = runner.invoke(app, ["profiles", "test", pid, "--since", "yesterday"])
    assert result.exit_code == 2 and "--since" in result.output

    entries = tmp_path / "watched.txt"
    entries.write_text("US100200300\nUS200300400\n", encoding="utf-8")
    result = runner.invoke(app, ["lists", "set", "watched_importers", str(entries)])
    assert result.exit_code == 0 and "2 entries" in result.output

    result = runner.invoke(app, ["report", "--since", TODAY, "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["declarations"] == 1

    result = runner.invoke(app, ["retrain", "--data", str(tiny_kcs)])
    assert result.exit_code == 0, result.output
    assert "v0001 is now active" in result.output


def test_the_budget_state_survives_a_rolled_back_assessment(database, settings):
    database.settings = settings
    for commit in (True, False, True):  # the rolled-back one must not count, though this process cached it
        with database.session() as session:
            service.decide_under_budget(
                session=session,
                office="USJFK001",
                declaration_key=f"K-{commit}",
                rule_hits=[],
                score=None,
                trusted_trader=False,
            )
            if commit:
                session.commit()
            else:
                session.rollback()
    with database.read_session() as session:
        state = session.get(OfficePolicy, "USJFK001").state
    assert state["decisions"] == 2 and state["by_channel"]["green"] == 2
