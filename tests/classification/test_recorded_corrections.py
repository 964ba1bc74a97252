"""Officers' corrected HS codes, recorded in control results through the API, reach `clearway classify train`."""

from __future__ import annotations

import csv
from datetime import UTC, datetime, timedelta

import pytest
from typer.testing import CliRunner

from clearway.classification import cli
from clearway.classification.registry import ClassifierRegistry
from clearway.declarations.corrections import count_code_corrections, item_code_corrections, recorded_code_corrections
from clearway.declarations.models import ControlResult, HSCodeCorrection
from clearway.demo import sample_declaration
from clearway.web import views as web_views

from ..web.test_pages import sign_in
from .small import EXAMPLES

runner = CliRunner()


def _inspected_with_correction(client, people, codes=None):
    """A declaration sent to inspection, whose officer records that item 2 is toys, not T-shirts (or `codes`)."""
    broker, officer = people.create("declarant"), people.create("customs_officer")
    data = sample_declaration("CORR-1", declarant_eori=sorted(broker.eoris)[0], items=2)
    data["goods_items"][0]["description"] = "Spare parts CONTROL-RED"
    data["goods_items"][1].update(hs_code="610910", description="Blue plastic widgets for children")
    lodged = client.post("/api/v1/declarations", json=data, headers=people.headers(broker))
    assert lodged.status_code == 201, lodged.text
    declaration = lodged.json()
    recorded = client.post(
        f"/api/v1/declarations/{declaration['id']}/decisions",
        json={
            "decision": "record_control_result",
            "result": {"outcome": "discrepancy", "findings": "toys", "corrected_hs_codes": codes or {"2": "950300"}},
        },
        headers=people.headers(officer),
    )
    assert recorded.status_code == 200, recorded.text
    return declaration["id"], officer.username


def test_recorded_corrections_are_listed_exported_and_learnt(
    cli_env, client, people, tmp_path, registry_root, few_tariff_lines, monkeypatch
):
    declaration_id, officer = _inspected_with_correction(client, people)
    monkeypatch.setattr(cli.console, "width", 200)  # the table on one line per row

    listed = runner.invoke(cli.app, ["corrections"])
    assert listed.exit_code == 0, listed.output
    assert "Blue plastic widgets" in listed.output and "950300" in listed.output
    assert (
        "1 goods item with a code recorded by an officer, 1 of them different from the declared code" in listed.output
    )

    out = tmp_path / "corrections.csv"
    exported = runner.invoke(cli.app, ["corrections", "--out", str(out)])
    assert exported.exit_code == 0 and "Wrote 1 correction recorded by officers to" in exported.output
    with out.open(encoding="utf-8") as fh:
        [row] = list(csv.DictReader(fh))
    assert row["description"] == "Blue plastic widgets for children" and row["code"] == "950300"
    assert (row["declared_code"], row["declaration"], row["item"], row["officer"]) == (
        "610910",
        declaration_id,
        "2",
        officer,
    )

    data = tmp_path / "train.csv"
    with data.open("w", newline="", encoding="utf-8") as fh:
        csv.writer(fh).writerows([("description", "code"), *EXAMPLES])
    trained = runner.invoke(cli.app, ["train", "--data", str(data), "--no-evaluate"])
    assert trained.exit_code == 0, trained.output
    assert "1 correction: 1 recorded by officers in control results" in trained.output
    registry = ClassifierRegistry(registry_root)
    [version] = registry.versions()
    assert version.metadata["corrections"] == 1
    assert registry.load(version.version).rank(["blue plastic widgets for children"], limit=1) == [["950300"]]


@pytest.fixture
def unmigrated_database(tmp_path, monkeypatch):
    from clearway.config import get_settings

    monkeypatch.setenv("CLEARWAY_DATABASE_URL", f"sqlite:///{tmp_path / 'empty.db'}")  # never upgraded: no tables
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def test_without_a_database_train_says_how_to_go_on(unmigrated_database, registry_root):
    result = runner.invoke(cli.app, ["train"])
    assert result.exit_code == 2
    assert "cannot read officers' corrections" in result.output and "--no-recorded" in result.output
    assert "Traceback" not in result.output and ClassifierRegistry(registry_root).versions() == []


def test_the_latest_recorded_code_stands_for_each_goods_item(client, people, database):
    """Two control results on one declaration: item 2's later code stands for training, review and revenue."""
    declaration_id, _ = _inspected_with_correction(client, people)  # item 2: 950300
    later = datetime.now(UTC) + timedelta(minutes=5)
    with database.session() as session:
        session.add(
            ControlResult(
                declaration_id=declaration_id,
                kind="physical",
                outcome="discrepancy",
                officer="second-officer",
                recorded_at=later,
                code_corrections=[
                    HSCodeCorrection(
                        declaration_id=declaration_id,
                        sequence=sequence,
                        hs_code=code,
                        officer="second-officer",
                        recorded_at=later,
                    )
                    for sequence, code in ((1, "847130"), (2, "392690"))
                ],
            )
        )
        session.commit()
    with database.read_session() as session:
        recorded = recorded_code_corrections(session)
        newest = recorded_code_corrections(session, newest_first=True, limit=1)
        counts = count_code_corrections(session)
        latest = item_code_corrections(session, declaration_id)
    assert [(r.correction.sequence, r.correction.hs_code, r.correction.officer) for r in recorded] == [
        (1, "847130", "second-officer"),
        (2, "392690", "second-officer"),
    ]
    assert [(r.correction.sequence, r.correction.hs_code) for r in newest] == [(2, "392690")]
    assert (counts.total, counts.changed) == (2, 2) and latest == {1: "847130", 2: "392690"}


def test_customs_staff_review_the_corrections_through_the_api_and_the_workbench(client, people):
    declaration_id, officer = _inspected_with_correction(client, people)
    analyst, broker = people.create("risk_analyst"), people.create("declarant")

    listed = client.get("/api/v1/classification/corrections", headers=people.headers(analyst))
    assert listed.status_code == 200, listed.text
    body = listed.json()
    assert (body["total"], body["changed"]) == (1, 1)
    [item] = body["items"]
    assert (item["declaration_id"], item["item"], item["declared_code"], item["corrected_code"]) == (
        declaration_id,
        2,
        "610910",
        "950300",
    )
    assert item["officer"] == officer and item["changes_code"] is True

    exported = client.get("/api/v1/classification/corrections?format=csv", headers=people.headers(analyst))
    assert exported.status_code == 200 and exported.headers["content-type"].startswith("text/csv")
    assert "attachment" in exported.headers["content-disposition"]
    [row] = list(csv.DictReader(exported.text.splitlines()))
    assert (row["description"], row["code"], row["declaration"]) == (
        "Blue plastic widgets for children",
        "950300",
        declaration_id,
    )

    # Corrections name other traders' goods: a declarant is refused, with a problem body.
    refused = client.get("/api/v1/classification/corrections", headers=people.headers(broker))
    assert refused.status_code == 403 and refused.headers["content-type"].startswith("application/problem+json")
    unknown = client.get("/api/v1/classification/corrections?format=xml", headers=people.headers(analyst))
    assert unknown.status_code == 422 and "format" in unknown.text

    sign_in(client, analyst)
    page = client.get("/classification/corrections")
    assert page.status_code == 200
    assert "1 goods item with a code recorded by an officer, 1 of them different from the declared code" in page.text
    assert f'href="/declarations/{declaration_id}"' in page.text and "950300" in page.text
    assert 'href="/classification/corrections"' in page.text  # the analyst's navigation leads here
    download = client.get("/classification/corrections?format=csv")
    assert download.status_code == 200 and "Blue plastic widgets for children,950300,610910" in download.text

    # Officers, who record the codes, find the same page from their navigation.
    sign_in(client, people.create("customs_officer"))
    queue = client.get("/")
    assert queue.status_code == 200 and 'href="/classification/corrections"' in queue.text
    assert client.get("/classification/corrections").status_code == 200


def test_declarants_do_not_see_the_corrections_page(client, people):
    broker = people.create("declarant")
    sign_in(client, broker)
    page = client.get("/")
    assert page.status_code == 200 and "/classification/corrections" not in page.text
    refused = client.get("/classification/corrections")
    assert refused.status_code == 403 and "Only customs staff see the HS codes officers recorded." in refused.text


def test_reviewers_page_through_the_corrections_and_keep_to_changed_codes(cli_env, client, people, monkeypatch):
    """Item 1's code confirmed, item 2's changed: the filter keeps item 2, the pages hold one row each."""
    declared = sample_declaration("CORR-1", declarant_eori="GB000000000000", items=2)["goods_items"][0]["hs_code"]
    _inspected_with_correction(client, people, codes={"1": declared, "2": "950300"})
    analyst = people.create("risk_analyst")

    every = client.get("/api/v1/classification/corrections", headers=people.headers(analyst)).json()
    assert (every["total"], every["changed"], len(every["items"])) == (2, 1, 2)
    changed = client.get("/api/v1/classification/corrections?changed=true", headers=people.headers(analyst)).json()
    assert (changed["total"], changed["changed"]) == (2, 1)
    assert [(i["item"], i["corrected_code"]) for i in changed["items"]] == [(2, "950300")]
    first = client.get("/api/v1/classification/corrections?limit=1", headers=people.headers(analyst)).json()
    second = client.get("/api/v1/classification/corrections?limit=1&offset=1", headers=people.headers(analyst)).json()
    assert (first["shown"], first["limit"], [i["item"] for i in first["items"]]) == (2, 1, [1])
    assert (second["offset"], [i["item"] for i in second["items"]]) == (1, [2])
    too_many = client.get("/api/v1/classification/corrections?limit=5000", headers=people.headers(analyst))
    assert too_many.status_code == 422 and "query.limit" in too_many.text
    exported = client.get("/api/v1/classification/corrections?format=csv&changed=true", headers=people.headers(analyst))
    assert [row["code"] for row in csv.DictReader(exported.text.splitlines())] == ["950300"]

    monkeypatch.setattr(cli.console, "width", 200)
    listed = runner.invoke(cli.app, ["corrections", "--changed"])
    assert listed.exit_code == 0, listed.output
    assert "950300" in listed.output and f" {declared} " not in listed.output
    newest = runner.invoke(cli.app, ["corrections", "--limit", "1"])
    assert newest.exit_code == 0, newest.output
    assert "The newest 1 of 2 corrections: --limit 0 lists them all" in newest.output
    assert "2 goods items with a code recorded by an officer, 1 of them different" in newest.output
    every = runner.invoke(cli.app, ["corrections", "--limit", "0"])
    assert every.exit_code == 0 and "The newest" not in every.output and "950300" in every.output
    negative = runner.invoke(cli.app, ["corrections", "--limit", "-1"])
    assert negative.exit_code == 2 and "--limit" in negative.output

    monkeypatch.setattr(web_views, "CORRECTIONS_PAGE", 1)
    sign_in(client, analyst)
    newest = client.get("/classification/corrections")
    assert newest.status_code == 200
    assert "1–1 of 2, newest first (page 1 of 2)" in newest.text and "(confirmed)" not in newest.text
    assert 'href="/classification/corrections?page=2"' in newest.text and "« Newer" not in newest.text
    older = client.get("/classification/corrections?page=2")
    assert "2–2 of 2" in older.text and "(confirmed)" in older.text and "« Newer" in older.text
    assert 'href="/classification/corrections"' in older.text  # back to the newest
    only = client.get("/classification/corrections?changed=true")
    assert "950300" in only.text and "(confirmed)" not in only.text and "Changed codes only" in only.text
    assert "page 1 of" not in only.text  # one changed code: one page, no pager
    assert 'href="/classification/corrections?changed=true&amp;format=csv"' in only.text
    beyond = client.get("/classification/corrections?page=9")  # past the last page: the last page
    assert beyond.status_code == 200 and "2–2 of 2" in beyond.text
    nonsense = client.get("/classification/corrections?page=0")
    assert nonsense.status_code == 400 and "does not understand" in nonsense.text
