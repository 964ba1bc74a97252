"""Sentence embeddings: the shipped nomenclature embeddings, the per-process memory and the on-disk batch cache."""

from __future__ import annotations

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
