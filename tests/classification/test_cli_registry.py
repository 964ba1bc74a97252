"""`clearway classify ...`: suggestion by default, explicit suggest, train into the registry, evaluate on files."""

from __future__ import annotations

import csv
import json

import pandas as pd
import pytest
from typer.testing import CliRunner

from clearway.classification import cli, service, training
from clearway.classification.registry import ClassifierRegistry
from clearway.errors import Conflict

from .small import CHAPTERS, EXAMPLES

runner = CliRunner()


def _write(path, rows, columns=("description", "code")):
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(columns)
        writer.writerows(rows)
    return path


def test_bare_description_falls_back_to_suggest(use_small_model):
    result = runner.invoke(cli.app, ["mens cotton tshirt"])
    assert result.exit_code == 0, result.output
    assert "6109.10" in result.output
    explicit = runner.invoke(cli.app, ["suggest", "mens", "cotton", "tshirt", "--limit", "2", "--json"])
    assert explicit.exit_code == 0, explicit.output
    body = json.loads(explicit.output)
    assert body["suggestions"][0]["hs_code"] == "610910"
    assert len(body["suggestions"]) == 2


def test_prepare_says_each_stage_of_building_the_shipped_model_in_a_log(small_model, monkeypatch):
    def load_active(self, progress=None):
        for message in ("reading 30,770 tariff texts", "tuning the encoder on all examples: 50%"):
            progress(message)
        return small_model

    monkeypatch.setattr(ClassifierRegistry, "load_active", load_active)
    result = runner.invoke(cli.app, ["prepare"])
    assert result.exit_code == 0, result.output
    assert "building the shipped model: reading 30,770 tariff texts" in result.output
    assert "building the shipped model: tuning the encoder on all examples: 50%" in result.output
    assert "HS classification assistant ready" in result.output


def test_empty_description_is_a_clear_error(use_small_model):
    result = runner.invoke(cli.app, ["suggest", " "])
    assert result.exit_code == 2
    assert "description" in result.output
    assert "Traceback" not in result.output


def test_train_registers_an_active_version_with_metadata(tmp_path, registry_root, few_tariff_lines):
    data = _write(tmp_path / "train.csv", [(d, c + "0000") for d, c in EXAMPLES])
    corrections = _write(
        tmp_path / "corrections.csv", [("wooden toy train", "9503009000"), ("leather handbag", "4202210000")]
    )
    result = runner.invoke(cli.app, ["train", "--data", str(data), "--corrections", str(corrections), "--no-recorded"])
    assert result.exit_code == 0, result.output
    assert "v0001" in result.output
    registry = ClassifierRegistry(registry_root)
    [version] = registry.versions()
    assert version.active and registry.active_version() == "v0001"
    meta = version.metadata
    assert {"version", "created_at", "data_fingerprint", "params", "evaluation"} <= set(meta)
    assert meta["version"] == "v0001" and meta["corrections"] == 2
    assert set(meta["evaluation"]) >= {"hs6_top1", "hs6_top5", "hs4_top1"}
    # The new version serves suggestions in this process right away.
    assert service.get_model().metadata["version"] == "v0001"


def test_corrections_win_over_labelled_examples(registry_root, few_tariff_lines):
    version = service.train(
        [("blue widget", "8471300000")],
        corrections=[("Blue widget", "9503000000")],
        evaluate=False,
        registry=ClassifierRegistry(registry_root),
    )
    model = ClassifierRegistry(registry_root).load(version.version)
    assert model.rank(["blue widget"], limit=1)[0] == ["950300"]
    assert version.metadata["examples"] == 1


def test_registry_activate_and_rollback(registry_root, few_tariff_lines):
    registry = ClassifierRegistry(registry_root)
    first = service.train(EXAMPLES, evaluate=False, registry=registry)
    second = service.train(EXAMPLES[:5], evaluate=False, registry=registry)
    assert (first.version, second.version) == ("v0001", "v0002")
    assert registry.active_version() == "v0002"
    assert registry.rollback() == "v0001"
    assert registry.rollback() is None  # back to the shipped model
    with pytest.raises(Conflict):
        registry.rollback()
    registry.activate("v0002")
    assert registry.load_active().metadata["version"] == "v0002"


def test_shipped_model_is_built_once_and_cached(registry_root, small_model, monkeypatch):
    calls = []

    def build(progress=None):
        calls.append(1)
        return small_model

    monkeypatch.setattr(training, "build_shipped_model", build)
    (registry_root / "shipped" / "0123456789abcdef").mkdir(parents=True)  # built from older shipped files
    registry = ClassifierRegistry(registry_root)
    assert registry.load_active().rank(["dog food"], limit=1) == [["230910"]]
    assert registry.load_shipped().rank(["dog food"], limit=1) == [["230910"]]
    assert len(calls) == 1
    [cached] = list((registry_root / "shipped").iterdir())
    assert (cached / "model.pkl").is_file() and cached.name != "0123456789abcdef"


def test_train_with_a_bad_file_fails_clearly(tmp_path, registry_root):
    bad = _write(tmp_path / "bad.csv", [("x", "1")], columns=("text", "label"))
    result = runner.invoke(cli.app, ["train", "--data", str(bad)])
    assert result.exit_code == 2
    assert "--data" in result.output and "Traceback" not in result.output
    missing = runner.invoke(cli.app, ["train", "--corrections", str(tmp_path / "nope.csv")])
    assert missing.exit_code == 2 and "--corrections" in missing.output


@pytest.fixture(scope="module")
def split_files(tmp_path_factory):
    from clearway.classification.reference import LABELED_FILE

    frame = pd.read_csv(LABELED_FILE, dtype=str, keep_default_na=False)
    frame = frame[frame["hs2"].isin(CHAPTERS)].sample(n=260, random_state=1)
    folder = tmp_path_factory.mktemp("hs")
    frame.iloc[:200].to_csv(folder / "train.csv", index=False)
    test = frame.iloc[200:].reset_index(drop=True)
    test.to_csv(folder / "test.csv", index=False)
    shuffled = test.copy()
    shuffled[["code", "hs6", "hs4", "hs2"]] = test[["code", "hs6", "hs4", "hs2"]].iloc[::-1].to_numpy()
    shuffled.to_csv(folder / "test_shuffled.csv", index=False)
    test[["description"]].to_csv(folder / "test_nolabels.csv", index=False)
    return folder


def _evaluate(folder, test_name, out_name):
    result = runner.invoke(
        cli.app,
        [
            "evaluate",
            "--train",
            str(folder / "train.csv"),
            "--test",
            str(folder / test_name),
            "--predictions-out",
            str(folder / out_name),
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    figures = json.loads(result.output.strip().splitlines()[-1])
    return figures, pd.read_csv(folder / out_name, dtype=str, keep_default_na=False)


def test_evaluate_writes_predictions_without_reading_test_labels(split_files, few_tariff_lines):
    figures, predictions = _evaluate(split_files, "test.csv", "pred.csv")
    assert set(figures) >= {"hs6_top1", "hs6_top5", "hs4_top1", "hs4_top5", "hs2_top1", "hs2_top5", "p99_ms"}
    assert 0 <= figures["hs6_top1"] <= figures["hs6_top5"] <= 1
    assert figures["hs6_top1"] <= figures["hs4_top1"] <= figures["hs2_top1"]
    test = pd.read_csv(split_files / "test.csv", dtype=str, keep_default_na=False)
    assert list(predictions.columns) == ["description", "suggestions"]
    assert list(predictions["description"]) == list(test["description"])
    assert all(
        len(s.split()) == 5 and all(len(c) == 6 and c.isdigit() for c in s.split()) for s in predictions["suggestions"]
    )
    # Shuffled labels give the same predictions; a label-free file gives the same predictions and no accuracy.
    _, shuffled = _evaluate(split_files, "test_shuffled.csv", "pred_shuffled.csv")
    assert list(shuffled["suggestions"]) == list(predictions["suggestions"])
    nolabel_figures, nolabel = _evaluate(split_files, "test_nolabels.csv", "pred_nolabels.csv")
    assert list(nolabel["suggestions"]) == list(predictions["suggestions"])
    assert "hs6_top1" not in nolabel_figures and "p99_ms" in nolabel_figures


def test_unreadable_active_version_falls_back_to_the_shipped_model(
    registry_root, small_model, monkeypatch, few_tariff_lines
):
    registry = ClassifierRegistry(registry_root)
    version = service.train(EXAMPLES[:4], evaluate=False, registry=registry)
    (version.path / "model.pkl").write_bytes(b"not a pickle")
    monkeypatch.setattr(training, "build_shipped_model", lambda progress=None: small_model)
    assert registry.load_active() is small_model
