"""The channel decision of one declaration (`decide_channel`), on SQLite and PostgreSQL, without HTTP."""

from __future__ import annotations

import threading
from decimal import Decimal

import pytest

from clearway.auth import service as auth
from clearway.config import Settings
from clearway.declarations import service as declarations
from clearway.declarations.domain import Channel
from clearway.declarations.models import Declaration
from clearway.declarations.schemas import DeclarationIn
from clearway.demo import sample_declaration
from clearway.errors import InvalidInput
from clearway.risk import assessment, registry
from clearway.risk import service as risk
from tests.conftest import SECRET

EORI = "GB123456789000"


@pytest.fixture
def make(database, tmp_path):
    """Lodges a declaration with jobs held back and returns a function deciding its channel under `environment`."""

    def lodge(data, *, environment="test"):
        database.settings = Settings(
            database_url=database.url,
            var_dir=tmp_path / "var",
            secret_key=SECRET,
            environment=environment,
            jobs_mode="external",
        )
        with database.session() as session:
            user = auth.create_user(
                session=session,
                username=f"b-{data['lrn'].lower()}",
                password="correct-horse-battery",
                role="declarant",
                eoris=[EORI],
            )
            decl, _ = declarations.submit(
                session=session,
                user=user,
                declaration=DeclarationIn.model_validate(data),
                idempotency_key=None,
                country_code="US",
            )
            session.commit()
            return decl.id

    def decide(decl_id):
        with database.session() as session:
            decl = session.get(Declaration, decl_id)
            decision = assessment.decide_channel(session=session, declaration=decl)
            session.commit()
        with database.read_session() as session:
            return decision, risk.decision_out(
                risk.latest_decision(session=session, declaration_id=decl_id), session=session
            )

    lodge.decide = decide
    return lodge


def test_trigger_words_force_a_channel_outside_production_and_the_decision_is_stored(make):
    data = sample_declaration("LRN-TW1", declarant_eori=EORI, items=2)
    data["goods_items"][1]["description"] = "Spare parts CONTROL-YELLOW"
    decision, stored = make.decide(make(data))
    assert decision.channel == Channel.YELLOW and "CONTROL-YELLOW" in decision.reasons[0]
    assert stored["channel"] == "yellow" and stored["cause"] == "trigger_word"


def test_production_ignores_trigger_words(make):
    data = sample_declaration("LRN-TW2", declarant_eori=EORI, items=1)
    data["goods_items"][0]["description"] = "Spare parts CONTROL-RED"
    decision, stored = make.decide(make(data, environment="production"))
    assert stored["cause"] != "trigger_word" and stored["model_version"] == "shipped-demo"
    assert decision.details["decision_id"] and decision.reasons == stored["reasons"]


def test_value_per_kg_against_the_hs_median_and_item_scores_reach_the_profiles(make, database):
    data = sample_declaration("LRN-VK", declarant_eori=EORI, items=1, seed=3)
    item = data["goods_items"][0]
    item.update(hs_code="847130", description="Laptop computers")
    median = registry.load_shipped().builder.hs_median_ppk("847130")
    ratio = float(Decimal(item["item_price"]) / Decimal(item["net_mass_kg"])) / median
    with database.session() as session:
        profile = risk.create_profile(
            session=session,
            by="t",
            data={
                "name": "Cheap laptops",
                "reason": "Laptops declared far below the usual value per kg",
                "channel": "red",
                "priority": 50,
                "valid_from": "2020-01-01",
                "criteria": {
                    "all": [
                        {"field": "goods_items.hs_code", "op": "prefix", "value": "8471"},
                        {"field": "goods_items.value_per_kg_ratio_to_hs_median", "op": "lt", "value": ratio * 1.01},
                        {"field": "goods_items.score", "op": "gte", "value": 0},
                    ]
                },
            },
        )
        risk.activate_profile(session=session, profile_id=profile.profile_id, by="t")
        session.commit()
    decision, stored = make.decide(make(data))
    assert decision.channel == Channel.RED and stored["rule_hits"][0]["matched_items"] == [1]
    assert stored["context"]["items"][0]["value_per_kg_ratio_to_hs_median"] == pytest.approx(ratio, rel=1e-4)
    assert any("Laptops declared far below" in r for r in decision.reasons)


def test_a_declaration_the_model_cannot_score_still_gets_a_channel(make, monkeypatch):
    def broken(settings, declaration):
        raise InvalidInput("unreadable goods")

    monkeypatch.setattr(assessment, "_score", broken)
    decision, stored = make.decide(make(sample_declaration("LRN-NS", declarant_eori=EORI, items=1)))
    assert decision.channel == Channel.GREEN and stored["score"] is None
    assert "No model score was available." in decision.reasons


def test_the_model_loads_once_per_version_even_from_many_threads(monkeypatch, tmp_path):
    calls = []
    real = registry.load_shipped

    def counting():
        calls.append(1)
        return real()

    monkeypatch.setattr(registry, "load_shipped", counting)
    assessment._model_cache.clear()
    settings = Settings(var_dir=tmp_path / "var", secret_key=SECRET, environment="test")
    models = []
    threads = [threading.Thread(target=lambda: models.append(assessment.active_model(settings))) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(calls) == 1 and len({id(m) for m in models}) == 1
    assessment._model_cache.clear()


def test_a_declared_code_far_from_its_description_is_flagged_for_profiles_and_officers(make, database):
    data = sample_declaration("LRN-MC", declarant_eori=EORI, items=2, seed=5)
    data["goods_items"][0].update(hs_code="847130", description="Mens cotton t-shirts, knitted")
    data["goods_items"][1].update(hs_code="847130", description="Laptop computers, 14 inch")
    with database.session() as session:
        profile = risk.create_profile(
            session=session,
            by="t",
            data={
                "name": "Possible misclassification",
                "reason": "The declared code does not fit the goods description",
                "channel": "yellow",
                "priority": 40,
                "valid_from": "2020-01-01",
                "criteria": {"field": "goods_items.misclassification_suspected", "op": "eq", "value": True},
            },
        )
        risk.activate_profile(session=session, profile_id=profile.profile_id, by="t")
        session.commit()
    decision, stored = make.decide(make(data))
    assert decision.channel == Channel.YELLOW and stored["rule_hits"][0]["matched_items"] == [1]
    items = stored["context"]["items"]
    assert items[0]["misclassification_suspected"] is True and items[0]["suggested_codes"][0] == "610910"
    assert items[1]["misclassification_suspected"] is False
    sentence = next(r for r in decision.reasons if "possible misclassification" in r)
    assert sentence.startswith("Goods item 1:") and "6109.10" in sentence
