"""Sentence embeddings: the shipped nomenclature embeddings, the per-process memory and the on-disk batch cache."""

from __future__ import annotations

import pickle

import numpy as np

from clearway.classification import semantic
from clearway.classification.reference import load_nomenclature


def test_shipped_embeddings_cover_every_nomenclature_text_the_classifier_reads():
    nomenclature = load_nomenclature()
    shipped = semantic.SentenceEncoder()._shipped_vectors()
    needed = {t for c in nomenclature.subheadings for t in (nomenclature.path_text(c), nomenclature.text(c))}
    assert needed <= set(shipped)
    vector = next(iter(shipped.values()))
    assert vector.shape == (semantic.DIMENSIONS,) and abs(float(np.linalg.norm(vector)) - 1.0) < 0.01


def test_encoding_is_unit_length_and_close_for_like_meanings():
    encoder = semantic.get_encoder()
    vectors = encoder.encode(["puppy kibble", "dog food", "soldering iron", "dog food"])
    assert vectors.shape == (4, semantic.DIMENSIONS)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-3)
    assert float(vectors[0] @ vectors[1]) > float(vectors[0] @ vectors[2])
    assert np.array_equal(vectors[1], vectors[3])


def test_batches_are_remembered_on_disk(tmp_path, monkeypatch):
    encoder = semantic.SentenceEncoder()
    texts = ["cordless drill", "garden hose"]
    first = encoder.encode_cached(texts, tmp_path)
    [cached] = list(tmp_path.glob("*.npy"))
    calls = []
    fresh = semantic.SentenceEncoder()
    monkeypatch.setattr(fresh, "encode", lambda *a, **k: calls.append(1))
    assert np.array_equal(fresh.encode_cached(texts, tmp_path), first) and not calls
    cached.write_bytes(b"garbage")  # an unreadable cache is encoded again, never an error
    monkeypatch.undo()
    assert np.array_equal(semantic.SentenceEncoder().encode_cached(texts, tmp_path), first)


def test_tuning_pulls_descriptions_towards_their_subheading_and_survives_pickling():
    encoder = semantic.get_encoder()
    prototypes = encoder.encode(["Hair dryers", "Dog or cat food, put up for retail sale", "Soldering irons and guns"])
    descriptions = ["blow dryer for hair", "kibble for puppies", "solder station", "hairdryer travel", "cat biscuits"]
    labels = np.array([0, 1, 2, 0, 1])
    before = (encoder.encode(descriptions) * prototypes[labels]).sum(axis=1)
    tuned = semantic.tune_encoder(
        descriptions, labels, prototypes, epochs=3, learning_rate=1e-4, batch_size=4, scale=20.0, max_length=16, seed=1
    )
    after = (tuned.encode(descriptions) * prototypes[labels]).sum(axis=1)
    assert after.mean() > before.mean()
    assert all(".embeddings." not in name for name in tuned.weights)  # word pieces stay as shipped
    assert {w.dtype for w in tuned.weights.values()} == {np.dtype(np.float16)}
    again = pickle.loads(pickle.dumps(tuned))
    assert np.allclose(again.encode(descriptions), tuned.encode(descriptions), atol=1e-5)
    # The tuned encoder keeps its own memory: the shared encoder still gives the vectors as shipped.
    assert np.allclose((encoder.encode(descriptions) * prototypes[labels]).sum(axis=1), before, atol=1e-5)


def test_onnx_runtime_gives_the_vectors_of_the_torch_network_and_keeps_its_graph_on_disk(registry_root, monkeypatch):
    texts = ["mens cotton tshirt", "plug and tenon cutter", "x", "Hugo Boss EDT 100ml spray for men, gift set " * 9]
    network = semantic._base_network()
    expected = network.encode(texts, normalize_embeddings=True, show_progress_bar=False)
    encoder = semantic.SentenceEncoder()
    vectors = encoder.encode(texts)
    assert np.allclose((vectors * expected).sum(axis=1), 1.0, atol=1e-5)  # long texts truncated the same way
    [graph] = list((registry_root / "onnx").glob("*.onnx"))

    # A second process finds the graph on disk: no torch network, no export.
    def no_torch(*args):
        raise AssertionError("the graph was exported again")

    with monkeypatch.context() as patched:
        patched.setattr(semantic, "_base_network", no_torch)
        assert np.array_equal(semantic.SentenceEncoder().encode(texts), vectors)
    graph.write_bytes(b"garbage")  # a damaged graph is exported again, never an error
    assert np.allclose(semantic.SentenceEncoder().encode(texts), vectors, atol=1e-6)
    assert graph.stat().st_size > 1_000_000


def test_a_tuned_encoder_has_a_graph_of_its_own_kept_where_its_model_says(tmp_path, monkeypatch):
    descriptions, prototypes = ["kibble", "solder wire"], semantic.get_encoder().encode(["Dog food", "Solder"])
    tuned = semantic.tune_encoder(
        descriptions,
        np.array([0, 1]),
        prototypes,
        epochs=2,
        learning_rate=1e-3,
        batch_size=2,
        scale=20.0,
        max_length=16,
        seed=1,
    )
    network = tuned._torch_network()
    expected = network.encode(descriptions, normalize_embeddings=True, show_progress_bar=False)
    assert np.allclose((tuned.encode(descriptions) * expected).sum(axis=1), 1.0, atol=1e-5)
    assert not np.allclose(tuned.encode(descriptions), semantic.get_encoder().encode(descriptions), atol=1e-3)
    assert not list(tmp_path.iterdir())  # an encoder of no saved model writes no graph
    saved = pickle.loads(pickle.dumps(tuned))
    saved.graph = tmp_path / semantic.TunedEncoder.GRAPH_FILE
    vectors = saved.encode(descriptions)
    assert saved.graph.stat().st_size > 1_000_000

    def no_torch(*args):
        raise AssertionError("the graph was exported again")

    monkeypatch.setattr(semantic, "_base_network", no_torch)
    again = pickle.loads(pickle.dumps(tuned))
    again.graph = saved.graph
    assert np.array_equal(again.encode(descriptions), vectors)
