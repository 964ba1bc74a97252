"""Shorthand in parcel descriptions read as the tariff's words: the rules, and what the classifier makes of it."""

from __future__ import annotations

from clearway.classification.abbreviations import Abbreviations, skeleton

_TARIFF = [
    "sanitary towels pads and tampons",
    "sanitary ware of ceramics",
    "towels of cotton",
    "trousers and shorts of cotton",
    "trousers of synthetic fibers",
    "ceramic tiles",
    "ceramic tableware",
    "ceramic sinks",
    "cream and milk",
    "cream for the skin",
    "cotton yarn",
]


def _abbreviations() -> Abbreviations:
    return Abbreviations.build(_TARIFF)


def _meaning(word: str, *, last: bool = False, is_word=lambda w: False) -> str | None:
    return _abbreviations().meaning(word, last=last, is_word=is_word)


def test_a_word_without_vowels_stands_for_the_word_whose_consonants_it_spells():
    assert skeleton("towels") == "twls" and skeleton("always") == "alwys"
    assert _meaning("sntry") == "sanitary"
    assert _meaning("twls") == "towels"
    # A spelled skeleton wins over a longer word it only begins, however common that word is ("ceramic": "crmc").
    assert _meaning("crm") == "cream"
    # Else the most common word it begins to spell ("cttn" begins "cotton"'s "cttn"; "trsr" begins "trousers").
    assert _meaning("trsr") == "trousers"


def test_only_the_last_word_is_read_as_cut_short():
    assert _meaning("trous", last=True) == "trousers"
    assert _meaning("trous") is None
    assert _meaning("sanit", last=True) == "sanitary"


def test_words_of_the_tariff_short_words_numbers_and_known_words_are_read_as_written():
    assert _meaning("towels") is None
    assert _meaning("towel") is None  # its stem is the tariff's
    assert _meaning("pk") is None and _meaning("100ml") is None
    assert _meaning("twls", is_word=lambda w: w == "twls") is None  # a word of WordNet, say
    assert _meaning("xqzt") is None  # abbreviates nothing
    assert _meaning("words") is None  # not the last word, and has vowels: read as written


def test_a_description_keeps_its_words_each_shorthand_followed_by_its_meaning():
    abbreviations = _abbreviations()
    meanings = abbreviations.meanings("alwys sntry twls cotton trous", is_word=lambda w: False)
    assert meanings == {"sntry": "sanitary", "twls": "towels", "trous": "trousers"}
    assert Abbreviations.expand("alwys sntry twls", meanings) == "alwys sntry sanitary twls towels"


def test_the_classifier_reads_shorthand_as_the_tariffs_words(small_nomenclature, small_model):
    from clearway.classification.model import HSClassifier, Params

    from .small import EXAMPLES, TARIFF_LINES

    assert small_model._read("2 pack pull on trous").endswith("trous trousers")
    assert small_model._read("soldering irons") == "soldering irons"  # nothing to read
    # By its words alone, a model finds trousers (6103, 6104, 6203, 6204) for "trous" only when it reads the shorthand.
    reading, literal = (
        HSClassifier(Params(abbreviations=on, semantic=False, ranker=False)).fit(
            EXAMPLES, nomenclature=small_nomenclature, tariff_lines=TARIFF_LINES
        )
        for on in (True, False)
    )
    [best] = reading.suggest("cotton trous", limit=1)
    assert best.hs_code[:4] in {"6103", "6104", "6203", "6204"}, best
    assert any("trousers" in why for why in best.why), best.why
    assert not any("trousers" in why for s in literal.suggest("cotton trous", limit=1) for why in s.why)
