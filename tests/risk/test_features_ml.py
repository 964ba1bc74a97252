"""Risk model features: records from declarations, single vs batch paths, history from the past only."""

from __future__ import annotations

from datetime import date

import numpy as np
import pytest

from clearway.errors import InvalidInput
from clearway.risk.features import (
    FEATURE_NAMES,
    DeclarationRecord,
    FeatureBuilder,
    frame_to_records,
    records_from_declaration,
    records_to_frame,
)
from clearway.risk.kcs import kcs_from_frame, read_kcs
from tests.risk.kcs_data import DATA


@pytest.fixture(scope="module")
def kcs():
    if not DATA.is_file():
        pytest.skip("shared KCS data not available")
    import pandas as pd

    raw = pd.read_csv(DATA, dtype=str, keep_default_na=False, na_values=[""], nrows=4000)
    return kcs_from_frame(raw)


def test_records_from_a_live_declaration_one_per_goods_item():
    declaration = {
        "id": "D-1",
        "accepted_at": "2026-03-02T10:00:00Z",
        "declarant": {"eori": "DE123"},
        "importer": {"eori": "FR456"},
        "office_of_lodgement": "FR000730",
        "transport_mode": "4",
        "country_of_dispatch": "cn",
        "procedure_code": "4000",
        "goods_items": [
            {
                "hs_code": "8471.30.00",
                "country_of_origin": "CN",
                "net_mass_kg": "12.5",
                "item_price": "1000.50",
                "preference_code": "100",
            },
            {"hs_code": "640299", "country_of_origin": "VN", "net_mass_kg": 3, "item_price": 20},
        ],
    }
    records = records_from_declaration(declaration)
    assert len(records) == 2
    first = records[0]
    assert first.declaration_id == "D-1"
    assert first.date == date(2026, 3, 2)
    assert (first.importer_id, first.declarant_id, first.office) == ("FR456", "DE123", "FR000730")
    assert (first.hs_code, first.country_of_dispatch, first.procedure_type) == ("847130", "CN", "4000")
    assert first.net_mass_kg == 12.5 and first.item_price == 1000.5 and first.preference_type == "100"
    assert records[1].hs_code == "640299" and records[1].country_of_origin == "VN"


def test_a_declaration_without_goods_items_is_refused_with_the_field():
    with pytest.raises(InvalidInput) as caught:
        records_from_declaration({"id": "x", "goods_items": []})
    assert caught.value.errors[0]["field"] == "goods_items"


def test_kcs_columns_are_mapped_onto_clearway_fields(kcs):
    frame = kcs.frame
    assert {"importer_id", "hs_code", "item_price", "net_mass_kg", "preference_type"} <= set(frame.columns)
    assert frame["hs_code"].str.fullmatch(r"\d{6}").all()
    assert kcs.fraud is not None and set(np.unique(kcs.fraud)) <= {0, 1}


def test_single_record_features_equal_batch_features(kcs):
    frame, fraud, critical = kcs.frame, kcs.fraud, kcs.critical
    builder = FeatureBuilder().fit(frame.iloc[:3000], fraud[:3000], critical[:3000])
    test = frame.iloc[3000:3200].reset_index(drop=True)
    batch = builder.transform(test)
    single = np.vstack([builder.transform_record(r) for r in frame_to_records(test)])
    assert batch.shape == (200, len(FEATURE_NAMES))
    np.testing.assert_allclose(single, batch, rtol=1e-9, equal_nan=True)


def test_history_features_use_only_earlier_days(kcs):
    frame, fraud, critical = kcs.frame, kcs.fraud.copy(), kcs.critical.copy()
    builder = FeatureBuilder().fit(frame, fraud, critical)
    before = builder.transform_past(frame, fraud, critical)
    last_day = frame["date"].max()
    later = (frame["date"] == last_day).to_numpy()
    flipped = fraud.copy()
    flipped[later] = 1 - flipped[later]  # change the outcomes of the last day only
    after = builder.transform_past(frame, flipped, critical)
    history_cols = [i for i, n in enumerate(FEATURE_NAMES) if n.endswith(("_rate", "_crit", "_n"))]
    np.testing.assert_array_equal(before[:, history_cols], after[:, history_cols])  # no row sees its own day


def test_unknown_entities_have_no_history():
    record = DeclarationRecord(declaration_id="1", date=date(2021, 1, 1), hs_code="999999", importer_id="NEW")
    frame = records_to_frame([record] * 60)
    builder = FeatureBuilder().fit(frame, np.array([0, 1] * 30), np.zeros(60))
    stranger = DeclarationRecord(declaration_id="2", date=date(2021, 2, 1), hs_code="111111", importer_id="OTHER")
    x = builder.transform_record(stranger)[0]
    assert x[FEATURE_NAMES.index("importer_n")] == 0
    assert np.isnan(x[FEATURE_NAMES.index("importer_rate")])


def test_read_kcs_refuses_a_file_without_the_columns(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("a,b\n1,2\n")
    with pytest.raises(InvalidInput) as caught:
        read_kcs(path)
    assert "Declaration ID" in caught.value.detail
