"""A small HS classifier for fast tests: a few labelled examples, a dozen chapters of the shipped nomenclature and two
tariff lines. It fits in seconds, where the model built from the shipped files takes minutes."""

from __future__ import annotations

import functools

from clearway.classification.model import HSClassifier, Params
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
    return Nomenclature(
        texts={c: t for c, t in full.texts.items() if c[:2] in chapters},
        subheadings=tuple(c for c in full.subheadings if c[:2] in chapters),
    )


@functools.cache
def small_nomenclature() -> Nomenclature:
    return nomenclature_of(CHAPTERS)


@functools.cache
def small_model() -> HSClassifier:
    """Fitted once per test process; tests share it and never change it."""
    model = HSClassifier().fit(EXAMPLES, nomenclature=small_nomenclature(), tariff_lines=TARIFF_LINES)
    model.metadata = {"version": "test"}
    return model


@functools.cache
def small_model_without_shop_words() -> HSClassifier:
    """The same without the shipped shop words ("sneakers" read by WordNet alone)."""
    return HSClassifier(Params(shop_words=False)).fit(
        EXAMPLES, nomenclature=small_nomenclature(), tariff_lines=TARIFF_LINES
    )
