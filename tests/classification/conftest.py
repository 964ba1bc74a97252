"""Small classifiers for fast tests: a few labelled examples, the shipped nomenclature, a few tariff lines."""

from __future__ import annotations

import pytest

from clearway.classification import service, training
from clearway.classification.model import HSClassifier
from clearway.classification.reference import Nomenclature, load_nomenclature

EXAMPLES = [
    ("mens cotton t-shirt", "610910"),
    ("cotton tshirt for women", "610910"),
    ("t-shirt", "610910"),
    ("soldering irons", "851511"),
    ("soldering iron station", "851511"),
    ("plug and tenon cutter", "820770"),
    ("wood drill bit set", "820750"),
    ("dog food", "230910"),
    ("cat food dry", "230910"),
    ("hugo boss mens edt 100ml", "330300"),
    ("perfume eau de parfum", "330300"),
    ("lipstick matte", "330410"),
    ("mobile phone case silicone", "392690"),
    ("smartphone", "851713"),
    ("laptop computer", "847130"),
    ("leather handbag", "420221"),
    ("running shoes rubber sole", "640411"),
    ("wooden toy train", "950300"),
]
TARIFF_LINES = [
    ("010121", "Live horses, asses, mules and hinnies ; Horses ; Purebred breeding animals"),
    ("851712", "Telephone sets ; Telephones for cellular networks or for other wireless networks ; Smartphones"),
]


# Chapters kept in the tests' nomenclature (the whole of it costs seconds per fit).
CHAPTERS = {"01", "23", "33", "39", "42", "61", "62", "64", "82", "84", "85", "95"}


def nomenclature_of(chapters: set[str]) -> Nomenclature:
    full = load_nomenclature()
    return Nomenclature(texts={c: t for c, t in full.texts.items() if c[:2] in chapters},
                        subheadings=tuple(c for c in full.subheadings if c[:2] in chapters))


@pytest.fixture(scope="session")
def small_nomenclature() -> Nomenclature:
    return nomenclature_of(CHAPTERS)


@pytest.fixture(scope="session")
def small_model(small_nomenclature) -> HSClassifier:
    model = HSClassifier().fit(EXAMPLES, nomenclature=small_nomenclature, tariff_lines=TARIFF_LINES)
    model.metadata = {"version": "test"}
    return model


@pytest.fixture
def use_small_model(small_model):
    service.set_model(small_model)
    yield small_model
    service.set_model(None)


@pytest.fixture
def few_tariff_lines(monkeypatch):
    """Training in tests reads two tariff lines and a few chapters instead of the whole tariff (speed)."""
    monkeypatch.setattr(training, "load_tariff_lines", lambda: list(TARIFF_LINES))
    monkeypatch.setattr(training, "load_nomenclature", lambda: nomenclature_of(CHAPTERS))


@pytest.fixture
def registry_root(tmp_path, monkeypatch):
    root = tmp_path / "models"
    monkeypatch.setenv("CLEARWAY_CLASSIFICATION_MODELS", str(root))
    yield root
    service.set_model(None)
