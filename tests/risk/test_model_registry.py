"""Risk model: determinism, registry round-trip, explanations in words, declaration scores."""

from __future__ import annotations

import json
from decimal import Decimal

import numpy as np
import pandas as pd
import pytest

from clearway.errors import Conflict, NotFound
from clearway.risk.features import frame_to_records, records_from_declaration
from clearway.risk.kcs import kcs_from_frame
from clearway.risk.model import RiskModel, TrainParams, train
from clearway.risk.registry import SHIPPED_MODEL, ModelRegistry, load_shipped
from tests.risk.kcs_data import DATA

SMALL = TrainParams(fraud_rounds=40, critical_rounds=20)


@pytest.fixture(scope="module")
def data():
    if not DATA.is_file():
        pytest.skip("shared KCS data not available")
    raw = pd.read_csv(DATA, dtype=str, keep_default_na=False, na_values=[""], nrows=6000)
    kcs = kcs_from_frame(raw)
    return kcs.frame.iloc[:5000], kcs.fraud[:5000], kcs.critical[:5000], kcs.frame.iloc[5000:].reset_index(drop=True)


@pytest.fixture(scope="module")
def model(data):
    frame, fraud, critical, _ = data
    return train(frame, fraud, critical, params=SMALL)


def test_training_is_deterministic_for_a_seed(data, model):
    frame, fraud, critical, test = data
    again = train(frame, fraud, critical, params=SMALL)
    np.testing.assert_array_equal(model.score_frame(test), again.score_frame(test))
    assert model.metadata["training_fingerprint"] == again.metadata["training_fingerprint"]


def test_metadata_holds_fingerprint_params_and_features(model):
    meta = model.metadata
    assert len(meta["training_fingerprint"]) == 64
    assert meta["rows"] == 5000
    assert meta["params"]["fraud_rounds"] == 40 and meta["params"]["seed"] == 7
    assert "importer_rate" in meta["features"]


def test_registry_round_trip_activate_and_rollback(tmp_path, data, model):
    _, _, _, test = data
    registry = ModelRegistry(tmp_path / "models")
    assert registry.versions() == [] and registry.active_version() is None
    first = registry.register(model)
    second_model = train(data[0], data[1], data[2], params=TrainParams(fraud_rounds=20, critical_rounds=10, seed=3))
    second = registry.register(second_model)
    assert (first, second) == ("v0001", "v0002")
    assert [v.version for v in registry.versions()] == ["v0001", "v0002"]
    assert registry.active_version() == "v0002"
    np.testing.assert_array_equal(registry.load_active().score_frame(test), second_model.score_frame(test))
    registry.activate("v0001")
    loaded = registry.load_active()
    np.testing.assert_array_equal(loaded.score_frame(test), model.score_frame(test))
    records = frame_to_records(test.iloc[:5])
    assert [s.probability for s in loaded.score(records)] == [s.probability for s in model.score(records)]
    assert registry.rollback() == "v0002"
    assert registry.active_version() == "v0002"
    assert registry.rollback() == "v0001"  # the one active before v0002
    assert registry.rollback() is None  # back to the shipped demo model
    with pytest.raises(Conflict):
        registry.rollback()
    with pytest.raises(NotFound):
        registry.activate("v0099")
    meta = json.loads((tmp_path / "models" / "versions" / "v0001" / "metadata.json").read_text())
    assert meta["version"] == "v0001"


def test_scores_come_with_worded_factors_and_value_at_risk(data, model):
    _, _, _, test = data
    records = frame_to_records(test.iloc[:40])
    scores = model.score(records)
    assert len(scores) == 40
    for score, record in zip(scores, records, strict=True):
        assert 0.0 <= score.probability <= 1.0
        assert isinstance(score.value_at_risk, Decimal)
        assert score.value_at_risk == (
            Decimal(str(round(score.probability, 6))) * Decimal(str(record.item_price))
        ).quantize(Decimal("0.01"))
        assert 1 <= len(score.factors) <= 3
        for factor in score.factors:
            assert isinstance(factor, str) and len(factor) > 8 and " " in factor
    text = " ".join(f for s in scores for f in s.factors)
    assert any(word in text for word in ("fraud rate", "fraud found", "price per kg", "inspection history"))
    batch = model.score(frame_to_records(test.iloc[:40]) * 1)
    assert [s.factors for s in batch] == [s.factors for s in scores]


def test_a_declaration_scores_as_its_riskiest_item(model):
    declaration = {
        "id": "D-9",
        "accepted_at": "2020-03-01",
        "declarant": {"eori": "X"},
        "importer": {"eori": "Y"},
        "goods_items": [
            {"hs_code": "847130", "country_of_origin": "CN", "net_mass_kg": 10, "item_price": 1000},
            {"hs_code": "620822", "country_of_origin": "CN", "net_mass_kg": 20.7, "item_price": 5353.02},
        ],
    }
    records = records_from_declaration(declaration)
    items = model.score(records)
    whole = model.score_declaration(records)
    assert whole.risk_score == max(s.risk_score for s in items)
    assert whole.value_at_risk == sum((s.value_at_risk for s in items), Decimal(0))


def test_the_shipped_demo_model_loads_and_scores():
    if not (SHIPPED_MODEL / "metadata.json").is_file():
        pytest.skip("no shipped model yet")
    shipped = load_shipped()
    assert isinstance(shipped, RiskModel)
    records = records_from_declaration(
        {"id": "1", "goods_items": [{"hs_code": "847130", "net_mass_kg": 1, "item_price": 10}]}
    )
    assert shipped.score(records)[0].factors


def test_factors_name_the_numbers_an_officer_checks(data, model):
    from datetime import date

    from clearway.risk.explain import describe_group
    from clearway.risk.features import DeclarationRecord

    builder = model.builder
    hs, median = next(iter(builder.median_ppk["hs6"].items()))
    frame = data[0]
    importer = frame["importer_id"].value_counts().index[0]
    record = DeclarationRecord(
        declaration_id="T",
        date=date(2021, 1, 1),
        hs_code=hs,
        importer_id=importer,
        net_mass_kg=10.0,
        item_price=median * 10.0 / 7.0,
    )
    assert describe_group("price_per_kg", record, builder) == f"price per kg 7.0× below the median for HS {hs}"
    n, f, _ = builder.history_of(record, "importer")
    assert describe_group("importer", record, builder) == (
        f"importer's past fraud rate {f / n:.0%} ({int(f)} of {int(n)} inspected)"
    )
    stranger = DeclarationRecord(declaration_id="U", date=date(2021, 1, 1), hs_code=hs, importer_id="NEVER-SEEN")
    assert "no past inspections" in describe_group("importer", stranger, builder)


def test_single_and_batch_scoring_agree(data, model):
    _, _, _, test = data
    records = frame_to_records(test.iloc[:12])
    batch = model.score(records)  # more than 8 records: the batch path
    singles = [model.score([r])[0] for r in records]  # the no-pandas path
    np.testing.assert_allclose([s.probability for s in singles], [s.probability for s in batch], rtol=1e-12)
    assert [s.factors for s in singles] == [s.factors for s in batch]
    ranking = model.score_frame(test.iloc[:12].reset_index(drop=True))
    np.testing.assert_allclose([s.risk_score for s in batch], ranking, rtol=1e-12)
