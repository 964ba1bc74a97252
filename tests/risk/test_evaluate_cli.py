"""`clearway risk evaluate` and the targeting figures: no use of test labels, label-free test files, metrics."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from clearway.risk import cli
from clearway.risk.evaluation import novel_mask, targeting_figures, time_split
from clearway.risk.kcs import read_kcs
from tests.risk.kcs_data import DATA

runner = CliRunner()


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    if not DATA.is_file():
        pytest.skip("shared KCS data not available")
    raw = pd.read_csv(DATA, dtype=str, keep_default_na=False, na_values=[""], nrows=5000)
    folder = tmp_path_factory.mktemp("kcs")
    raw.iloc[:4000].to_csv(folder / "train.csv", index=False)
    test = raw.iloc[4000:].reset_index(drop=True)
    test.to_csv(folder / "test.csv", index=False)
    shuffled = test.copy()
    order = np.random.default_rng(0).permutation(len(test))
    shuffled[["Fraud", "Critical Fraud"]] = test[["Fraud", "Critical Fraud"]].iloc[order].to_numpy()
    shuffled.to_csv(folder / "test_shuffled.csv", index=False)
    test.drop(columns=["Fraud", "Critical Fraud"]).to_csv(folder / "test_nolabels.csv", index=False)
    return folder


def _evaluate(folder: Path, test_name: str, out_name: str, seed: int = 7) -> tuple[dict, pd.DataFrame]:
    result = runner.invoke(
        cli.app,
        [
            "evaluate",
            "--train",
            str(folder / "train.csv"),
            "--test",
            str(folder / test_name),
            "--format",
            "kcs",
            "--scores-out",
            str(folder / out_name),
            "--json",
            "--seed",
            str(seed),
        ],
    )
    assert result.exit_code == 0, result.output
    figures = json.loads(result.stdout.strip().splitlines()[-1])
    return figures, pd.read_csv(folder / out_name, dtype={"Declaration ID": str})


def test_evaluate_writes_scores_and_figures(files):
    figures, scores = _evaluate(files, "test.csv", "scores.csv")
    assert list(scores.columns) == ["Declaration ID", "score"]
    assert len(scores) == 1000
    assert set(figures["precision_at"]) == {"1", "2", "5", "10"}
    assert 0.5 < figures["auc"] <= 1.0
    assert figures["precision_at"]["5"] > 0.5  # far above the ~21% base rate
    assert figures["train_seconds"] > 0 and figures["score_rows_per_second"] > 0
    for key in ("recall_at", "value_recall_at", "critical_recall_at_10"):
        assert key in figures


def test_scores_do_not_depend_on_test_labels(files):
    _, plain = _evaluate(files, "test.csv", "a.csv")
    _, shuffled = _evaluate(files, "test_shuffled.csv", "b.csv")
    figures, unlabelled = _evaluate(files, "test_nolabels.csv", "c.csv")
    pd.testing.assert_frame_equal(plain, shuffled)
    pd.testing.assert_frame_equal(plain, unlabelled)
    assert figures["auc"] is None and figures["precision_at"]["10"] is None
    assert figures["score_rows_per_second"] > 0


def test_evaluate_is_deterministic_for_a_seed(files):
    _, first = _evaluate(files, "test.csv", "d.csv", seed=11)
    _, second = _evaluate(files, "test.csv", "e.csv", seed=11)
    pd.testing.assert_frame_equal(first, second)


def test_evaluate_names_a_missing_file(tmp_path):
    result = runner.invoke(cli.app, ["evaluate", "--train", str(tmp_path / "nope.csv"), "--test", "x.csv", "--json"])
    assert result.exit_code != 0
    assert "nope.csv" in result.output and "Traceback" not in result.output


def test_targeting_figures_on_a_known_ranking():
    fraud = np.array([1, 1, 0, 1, 0, 0, 0, 0, 0, 0] * 10)
    scores = np.linspace(1, 0, 100)
    critical = np.zeros(100, dtype=int)
    critical[0] = 1
    value = np.full(100, 10.0)
    figures = targeting_figures(scores, fraud, critical, value)
    assert figures["precision_at"]["1"] == 1.0
    assert figures["precision_at"]["10"] == pytest.approx(0.3)
    assert figures["recall_at"]["10"] == pytest.approx(0.1)
    assert figures["critical_recall_at_10"] == 1.0
    assert figures["value_recall_at"]["10"] == pytest.approx(0.1)


def test_time_split_and_novel_rows():
    if not DATA.is_file():
        pytest.skip("shared KCS data not available")
    data = read_kcs(DATA)
    train, test = time_split(data.frame["date"], months=2)
    assert data.frame["date"][test].min() == pd.Timestamp("2021-01-01")
    assert data.frame["date"][train].max() < pd.Timestamp("2021-01-01")
    novel = novel_mask(data.frame[train], data.frame[test])
    assert 0.05 < novel.mean() < 0.4
