"""The classifier core: text normalisation, ranking, unseen codes from tariff texts, reasons, persistence, metrics."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.preprocessing import normalize as l2_normalize

from clearway.classification import semantic
from clearway.classification.model import HSClassifier, Params, hs_accuracy
from clearway.classification.semantic import TunedEncoder
from clearway.classification.text import for_encoder, hs6_of, normalize

from .small import EXAMPLES, TARIFF_LINES


def test_normalize_spells_out_parcel_shorthand():
    assert normalize("Mens Cotton T-Shirt!") == "men cotton tshirt" == normalize("mens cotton tee")
    assert normalize("T shirts") == "tshirts"  # a T-shirt is not a shirt
    assert normalize("  ") == ""


def test_the_encoder_reads_t_shirts_spelled_as_it_knows_them():
    # As one word the encoder sees word pieces that mean nothing ("ts", "##hir", "##t").
    assert for_encoder("mens cotton tshirt") == "mens cotton t-shirt"
    assert [for_encoder(t) for t in ("Tee shirts", "teeshirt", "T shirt")] == ["t-shirts", "t-shirt", "t-shirt"]
    assert [for_encoder(t) for t in ("golf tee", "sweatshirt", "Shirts")] == ["golf tee", "sweatshirt", "Shirts"]


def test_normalize_uses_one_spelling_for_british_and_american_words():
    assert normalize("Ammonium Sulphate") == normalize("ammonium sulfate") == "ammonium sulfate"
    assert normalize("aluminium tyre") == "aluminum tire"


def test_hs6_of_reads_dotted_and_long_codes():
    assert hs6_of("6109.10.00") == "610910"
    assert hs6_of("6109100010") == "610910"
    assert hs6_of("6109") is None
    assert hs6_of("") is None


def test_word_features_are_sklearns_tfidf_without_its_input_checks(small_model):
    texts = [normalize(t) for t in ("mens cotton tshirt", "plug and tenon cutter", "", "zzqx", "tshirt tshirt tee")]
    expected = l2_normalize(sp.hstack([small_model._word.transform(texts), small_model._char.transform(texts)]))
    got = small_model._vectorize(texts)
    assert got.dtype == np.float32 and got.shape == expected.shape
    assert abs(got - expected).max() < 1e-6
    assert got[2].nnz == 0 and np.isclose(sp.linalg.norm(got[0]), 1.0)


def test_word_features_meet_plurals(small_model):
    singular, plural = small_model._vectorize(["men cotton shirt", "men cotton shirts"])
    words = len(small_model._word.vocabulary_)
    # The same words (their weights differ a little: each row is scaled to unit length over the n-grams too).
    assert len(singular[:, :words].indices) >= 3
    assert sorted(singular[:, :words].indices) == sorted(plural[:, :words].indices)
    assert sorted(singular[:, words:].indices) != sorted(plural[:, words:].indices)  # character n-grams see the s


def test_training_example_ranks_its_code_first(small_model):
    suggestions = small_model.suggest("mens cotton tshirt", limit=5)
    assert suggestions[0].hs_code == "610910"
    assert len(suggestions) == 5
    assert any("training example" in reason for reason in suggestions[0].why)
    assert all(0.0 <= s.confidence <= 1.0 for s in suggestions)
    assert [s.score for s in suggestions] == sorted((s.score for s in suggestions), reverse=True)


def test_code_never_seen_in_training_comes_from_tariff_texts(small_model):
    ranked = small_model.rank(["purebred breeding horses"], limit=5)[0]
    assert ranked[0] == "010121"
    suggestion = small_model.suggest("purebred breeding horses", limit=1)[0]
    assert any("tariff text" in r or "nomenclature words" in r for r in suggestion.why)


def test_noise_only_description_gives_no_suggestion(small_model):
    assert small_model.suggest("!!!", limit=5) == []


def test_rank_is_batched_consistently(small_model):
    texts = ["dog food", "soldering iron", "leather handbag"]
    assert small_model.rank(texts, limit=3) == [small_model.rank([t], limit=3)[0] for t in texts]
    assert [r[0] for r in small_model.rank(texts, limit=1)] == ["230910", "851511", "420221"]


def test_save_and_load_round_trip(small_model, tmp_path):
    small_model.save(tmp_path / "m")
    loaded = HSClassifier.load(tmp_path / "m")
    assert loaded.rank(["dog food"], limit=5) == small_model.rank(["dog food"], limit=5)
    assert loaded.params == small_model.params


def test_params_round_trip_through_json_types():
    params = Params(example_weights=(1.0, 0.1, 0.0))
    assert Params.from_dict({**params.to_dict(), "example_weights": [1.0, 0.1, 0.0], "unknown": 1}) == params


def test_hs_accuracy_reads_levels_from_the_ranked_hs6_list():
    ranked = [["610910", "610990"], ["620520", "610910"], ["010121"]]
    truth = ["610910", "610910", "020110"]
    figures = hs_accuracy(ranked, truth)
    assert figures["hs6_top1"] == round(1 / 3, 4)
    assert figures["hs6_top5"] == round(2 / 3, 4)
    assert figures["hs4_top1"] == round(1 / 3, 4)
    assert figures["hs2_top1"] == round(1 / 3, 4)
    assert figures["hs2_top5"] == round(2 / 3, 4)


def test_meaning_finds_a_code_that_shares_no_word_with_the_description(small_model):
    # "puppy kibble" shares no word with "dog food" nor with heading 2309's text; its sentence embedding is close.
    assert small_model.rank(["puppy kibble"], limit=1)[0][0] == "230910"
    assert any("close in meaning" in r for r in small_model.suggest("puppy kibble", limit=1)[0].why)


def test_words_alone_still_work_without_the_sentence_encoder(small_nomenclature):
    model = HSClassifier(Params(semantic=False)).fit(
        EXAMPLES, nomenclature=small_nomenclature, tariff_lines=TARIFF_LINES
    )
    assert model.encoder_id is None and model._heading_model is None
    assert model.rank(["cat food dry"], limit=1) == [["230910"]]


def test_heading_classifier_reads_a_descriptions_meaning_as_heading_and_chapter_probabilities(
    small_nomenclature, small_model
):
    assert small_model._heading_model is None  # 18 examples of 13 headings: too few to learn headings from
    examples = EXAMPLES + [(f"{d} x{i}", c) for i in range(2) for d, c in EXAMPLES]
    model = HSClassifier(Params(ranker=False)).fit(examples, nomenclature=small_nomenclature, tariff_lines=TARIFF_LINES)
    descriptions = ["puppy kibble", "eau de parfum spray"]
    heading, chapter = model._heading_model_evidence(2, model._embed(descriptions))
    of = {c: j for j, c in enumerate(model.classes)}
    one_per_heading = {}
    for j, code in enumerate(model.classes):
        one_per_heading.setdefault(code[:4], j)
    # Over the headings of the examples, each description's probabilities add up to one; siblings share them.
    assert np.allclose(heading[:, list(one_per_heading.values())].sum(axis=1), 1.0, atol=1e-5)
    assert heading[0, of["230910"]] == heading[0, of["230990"]] == heading[0].max()
    assert heading[1, of["330300"]] == heading[1].max()
    assert heading[0, of["010121"]] == 0.0  # no example is a live animal
    # A chapter's probability is the sum of its headings' (3303 and 3304 are chapter 33's headings with examples).
    assert np.isclose(chapter[1, of["330491"]], heading[1, of["330300"]] + heading[1, of["330410"]])


def test_ranker_is_learned_out_of_fold_when_there_are_enough_examples(small_nomenclature):
    examples = EXAMPLES + [(f"{d} x{i}", c) for i in range(2) for d, c in EXAMPLES]
    model = HSClassifier(Params(ranker_min_examples=30, ranker_folds=3)).fit(
        examples, nomenclature=small_nomenclature, tariff_lines=TARIFF_LINES
    )
    assert model._ranker is not None and model._ranker_temperature > 0
    for description, code in EXAMPLES[:8]:
        assert model.rank([description], limit=5)[0][0] == code, description
    suggestions = model.suggest("soldering iron station", limit=5)
    confidences = [s.confidence for s in suggestions]
    assert confidences == sorted(confidences, reverse=True) and sum(confidences) <= 1.0 + 1e-6
    # Without enough examples there is no ranker: the weighted evidence orders the candidates.
    few = HSClassifier(Params(ranker_min_examples=1000)).fit(
        EXAMPLES, nomenclature=small_nomenclature, tariff_lines=TARIFF_LINES
    )
    assert few._ranker is None and few.rank(["dog food"], limit=1) == [["230910"]]


def test_tuned_encoder_never_saw_the_folds_the_ranker_learns_from(small_nomenclature, monkeypatch, tmp_path):
    import clearway.classification.model as model_module

    tuned_on: list[set[str]] = []
    real = model_module.tune_encoder

    def spy(descriptions, labels, prototypes, **kwargs):
        tuned_on.append(set(descriptions))
        return real(descriptions, labels, prototypes, **{**kwargs, "epochs": 1})

    monkeypatch.setattr(model_module, "tune_encoder", spy)
    examples = EXAMPLES + [(f"{d} x{i}", c) for i in range(2) for d, c in EXAMPLES]
    params = Params(ranker_min_examples=30, ranker_folds=4, tune_min_examples=30)
    model = HSClassifier(params).fit(examples, nomenclature=small_nomenclature, tariff_lines=TARIFF_LINES)
    # One encoder per half of the folds, tuned on the other half, then one on everything.
    fold_of = model_module._folds(len(examples), 4, params.seed)
    read = [model._encoder_text(d) for d, _ in examples]  # as the encoder reads them ("t-shirt", shop words' goods)
    halves = [{d for d, f in zip(read, fold_of, strict=True) if f % 2 != half} for half in range(2)]
    assert tuned_on == [*halves, set(read)]
    assert model._query_encoder is not None
    assert model.rank(["cat food dry"], limit=1) == [["230910"]]
    # Saved, the encoder's ONNX graph is written into the model's own directory (and goes when the model goes), so
    # the process that loads the model does not export it on its first suggestion.
    model.save(tmp_path / "m")
    assert (tmp_path / "m" / TunedEncoder.GRAPH_FILE).stat().st_size > 1_000_000
    expected = model.rank(["cat food, dry kibble"], limit=1)
    with monkeypatch.context() as patched:
        patched.setattr(semantic, "_export", lambda network: pytest.fail("the graph was exported again"))
        assert HSClassifier.load(tmp_path / "m").rank(["cat food, dry kibble"], limit=1) == expected
    # Without enough examples the encoder is used as shipped.
    assert HSClassifier().fit(EXAMPLES, nomenclature=small_nomenclature)._query_encoder is None


def test_own_subheading_text_tells_siblings_apart(small_model):
    # Siblings under heading 0101 share the heading's words; only their own texts ("Asses; live" against "Mules
    # and hinnies; live") say which one "live asses" are.
    from clearway.classification.model import CANDIDATE_FEATURES, EVIDENCE

    evidence = small_model._evidence([normalize("live asses")], small_model._embed(["live asses"]), ["live asses"])
    top, features = small_model._candidates(evidence)
    column = {name: i for i, name in enumerate(EVIDENCE + CANDIDATE_FEATURES)}
    row = {small_model.classes[j]: features[0, position] for position, j in enumerate(top[0])}
    asses, mules = row["010130"], row["010190"]
    assert asses[column["own_coverage"]] == 1.0 and mules[column["own_coverage"]] == 0.5
    assert asses[column["own_words"]] > mules[column["own_words"]]
    assert asses[column["own_meaning"]] > mules[column["own_meaning"]]
    assert asses[column["own_meaning_in_heading"]] == 0.0 > mules[column["own_meaning_in_heading"]]


def test_heading_ranker_reorders_only_the_first_suggestions(monkeypatch):
    # Subheading ranker scores of one description's six candidates, and the heading ranker's of the first three.
    model = HSClassifier(Params(heading_weight=1.0, heading_reorder=3))
    model._ranker, model._heading_ranker = ["subheading"], ["heading"]
    sub = np.array([0.1, 0.9, 0.5, 0.7, -0.2, 0.0])
    heading_of_first = {0.9: 0.0, 0.7: 0.5, 0.5: 0.6}  # by the subheading score of the candidate
    features = sub.reshape(1, 6, 1)

    def scores(rankers, rows):
        return rows[:, 0] if rankers == ["subheading"] else np.array([heading_of_first[v] for v in rows[:, 0]])

    monkeypatch.setattr(HSClassifier, "_ranker_scores", staticmethod(scores))
    order, ordered = model._final_order(features)
    # The first three by the subheading ranker (1, 3, 2) are the first three still, now by the sum (1.2, 1.1, 0.9);
    # the rest keep their order (0, 5, 4), scored below.
    assert order.tolist() == [[3, 2, 1, 0, 5, 4]]
    assert np.all(np.diff(ordered[0]) <= 0) and ordered[0, :3].tolist() == pytest.approx([1.2, 1.1, 0.9])
    final = np.empty(6)
    final[order[0]] = ordered[0]  # each candidate's final score, in the candidates' own order
    assert final[3] == max(final) and final[4] == min(final)


def test_heading_ranker_keeps_the_suggested_codes_and_confident_order(small_nomenclature):
    examples = EXAMPLES + [(f"{d} x{i}", c) for i in range(2) for d, c in EXAMPLES]
    model = HSClassifier(Params(ranker_min_examples=30, ranker_folds=3)).fit(
        examples, nomenclature=small_nomenclature, tariff_lines=TARIFF_LINES
    )
    assert model._heading_ranker is not None and len(model._heading_ranker) == model.params.ranker_bag
    descriptions = ["soldering iron station", "dry dog food", "cotton t-shirt for men", "live asses"]
    mixed = model.rank(descriptions, limit=10)
    model.params = Params(**{**model.params.to_dict(), "heading_weight": 0.0})
    plain = model.rank(descriptions, limit=10)
    for before, after in zip(plain, mixed, strict=True):
        assert set(before[:5]) == set(after[:5]) and before[5:] == after[5:]
    model.params = Params(**{**model.params.to_dict(), "heading_weight": 0.5})
    confidences = [s.confidence for s in model.suggest("soldering iron station", limit=5)]
    assert confidences == sorted(confidences, reverse=True)
    # At weight 0 no heading ranker is trained.
    assert (
        HSClassifier(Params(ranker_min_examples=30, ranker_folds=3, heading_weight=0.0))
        .fit(examples, nomenclature=small_nomenclature, tariff_lines=TARIFF_LINES)
        ._heading_ranker
        is None
    )
