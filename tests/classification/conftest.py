"""Fixtures for the classifier's tests: the small model of `small.py`, the registry in a temporary directory."""

from __future__ import annotations

import pytest

from clearway.classification import service, training
from clearway.classification.model import HSClassifier
from clearway.classification.reference import Nomenclature

from . import small


@pytest.fixture(scope="session")
def small_nomenclature() -> Nomenclature:
    return small.small_nomenclature()


@pytest.fixture(scope="session")
def small_model() -> HSClassifier:
    return small.small_model()


@pytest.fixture
def use_small_model(small_model):
    service.set_model(small_model)
    yield small_model
    service.set_model(None)


@pytest.fixture
def few_tariff_lines(monkeypatch):
    """Training in tests reads two tariff lines and a few chapters instead of the whole tariff (speed)."""
    monkeypatch.setattr(training, "load_tariff_lines", lambda: list(small.TARIFF_LINES))
    monkeypatch.setattr(training, "load_nomenclature", lambda: small.nomenclature_of(small.CHAPTERS))


@pytest.fixture
def registry_root(tmp_path, monkeypatch):
    root = tmp_path / "models"
    monkeypatch.setenv("CLEARWAY_CLASSIFICATION_MODELS", str(root))
    yield root
    service.set_model(None)
