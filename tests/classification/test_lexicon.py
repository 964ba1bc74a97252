"""WordNet's knowledge of nouns: building the shipped file, finding a description's nouns, the evidence it gives."""

from __future__ import annotations

import numpy as np

from clearway.classification.lexicon import LEXICON_FILE, Lexicon, Noun, build_lexicon, load_lexicon
from clearway.classification.model import EVIDENCE
from clearway.classification.text import normalize

from . import small

# A chain from WordNet's root down to "euphonium": the first four levels are too general to say anything.
_CHAIN = [
    ("00000001", "entity", None, "that which is perceived to have its own distinct existence"),
    ("00000002", "physical_entity", "00000001", "an entity that has physical existence"),
    ("00000003", "object", "00000002", "a tangible and visible entity"),
    ("00000004", "whole", "00000003", "an assemblage of parts that is regarded as a single entity"),
    ("00000005", "artifact", "00000004", "a man-made object taken as a whole"),
    ("00000006", "brass brass_instrument", "00000005", "a wind instrument that consists of a brass tube"),
    ("00000007", "bass_horn sousaphone tuba", "00000006", "the lowest brass wind instrument"),
    ("00000008", "euphonium", "00000007", "a bass horn (brass wind instrument); the tenor of the tuba family"),
]


def _tiny_wordnet(directory):
    """WordNet 3.0 database files (data.noun, index.noun, noun.exc) holding only the chain above."""
    data, index = ["  1 This software and database is being provided to you, the LICENSEE\n"], []
    for offset, lemmas, hypernym, gloss in _CHAIN:
        words = lemmas.split()
        pointers = f"001 @ {hypernym} n 0000" if hypernym else "000"
        listed = " ".join(f"{w} 0" for w in words)
        data.append(f"{offset} 06 n {len(words):02x} {listed} {pointers} | {gloss}\n")
        index += [f"{w} n 1 1 @ 1 0 {offset}\n" for w in words]
    (directory / "data.noun").write_text("".join(data), encoding="latin-1")
    (directory / "index.noun").write_text("".join(sorted(index)), encoding="latin-1")
    (directory / "noun.exc").write_text("euphonia euphonium\n", encoding="latin-1")


def test_building_keeps_the_kinds_two_levels_up_that_say_something_and_the_gloss(tmp_path):
    _tiny_wordnet(tmp_path)
    out = tmp_path / "lexicon.tsv.gz"
    said = []
    assert build_lexicon(tmp_path, out, progress=said.append) == 11
    lexicon = load_lexicon(out)
    # Two levels up from "euphonium": the bass horn and the brass instrument; "artifact" is too general.
    assert lexicon.nouns["euphonium"] == Noun(
        ("bass horn", "sousaphone", "brass", "brass instrument"), "a bass horn (brass wind instrument)"
    )
    assert lexicon.nouns["brass_instrument"].kinds == ()  # its only hypernym is "artifact"
    assert lexicon.plurals == {"euphonia": "euphonium"}
    assert said[-1].startswith("wrote 11 nouns and 1 irregular plurals")


def test_building_again_from_the_same_wordnet_gives_the_same_bytes(tmp_path):
    _tiny_wordnet(tmp_path)
    first, second = tmp_path / "first.tsv.gz", tmp_path / "second.tsv.gz"
    build_lexicon(tmp_path, first)
    build_lexicon(tmp_path, second)  # another file name, and another build time
    assert first.read_bytes() == second.read_bytes()
    assert first.read_bytes()[4:8] == b"\0\0\0\0"  # the header holds no build time


def test_a_descriptions_nouns_are_found_as_phrases_plurals_and_words_written_apart():
    lexicon = load_lexicon()
    assert LEXICON_FILE.is_file() and (LEXICON_FILE.parent / "LICENSE.md").is_file()
    [euphoniums] = lexicon.matches("euphoniums")
    assert "brass instrument" in euphoniums.noun.kinds
    assert [m.words for m in lexicon.matches("guinea pigs for sale")] == ["guinea pigs", "sale"]
    assert "spectacles" in lexicon.matches("sun glasses")[0].noun.kinds  # one word in WordNet: "sunglasses"
    assert "rodent" in lexicon.matches("mice")[0].noun.kinds  # an irregular plural
    assert lexicon.matches("xqzt 3 ab") == [] and lexicon.expand("xqzt") == ""
    assert lexicon.nouns["stallion"].sentence("stallions").startswith("'stallions' is a kind of male horse")


def test_wordnets_word_for_the_goods_is_evidence_and_a_reason(small_model):
    # "stallion" is in no example and no tariff text; WordNet says it is a male horse, which the tariff names.
    column = EVIDENCE.index("lexicon_ref6")
    evidence = small_model._evidence([normalize("stallion")], small_model._embed(["stallion"]), ["stallion"])
    top, features = small_model._candidates(evidence)
    row = {small_model.classes[j]: features[0, position] for position, j in enumerate(top[0])}
    assert row["010121"][column] > 0.2
    assert all(features[0, :, EVIDENCE.index("lexicon_found")] == 1.0)
    horse = next(s for s in small_model.suggest("stallion", limit=100) if s.hs_code == "010121")
    assert any(why.startswith("WordNet: 'stallion' is a kind of male horse") for why in horse.why)
    # A reason names only the nouns whose WordNet text meets the tariff text ("men" are a work force there). The
    # shop words read "sneakers" too, and their reason stands for it there, so WordNet's is seen without them.
    [shoes] = small.small_model_without_shop_words().suggest("mens sneakers", limit=1)
    [wordnet] = [why for why in shoes.why if why.startswith("WordNet:")]
    assert shoes.hs_code == "640411" and "'sneakers' is a kind of shoe" in wordnet and "'men'" not in wordnet
    # A description WordNet knows nothing of gets no such evidence.
    unknown = small_model._evidence([normalize("xqzt")], small_model._embed(["xqzt"]), ["xqzt"])
    assert not unknown.columns["lexicon_found"].any() and not unknown.columns["lexicon_ref6"].any()


def test_a_model_without_the_lexicon_gets_none_of_its_evidence(small_nomenclature):
    from clearway.classification.model import HSClassifier, Params

    from .small import EXAMPLES, TARIFF_LINES

    model = HSClassifier(Params(lexicon=False, semantic=False, ranker=False)).fit(
        EXAMPLES, nomenclature=small_nomenclature, tariff_lines=TARIFF_LINES
    )
    evidence = model._evidence([normalize("stallion")], None, ["stallion"])
    assert not np.any(evidence.columns["lexicon_ref6"]) and evidence.expansions == [""]
    assert isinstance(model._lexicon(), Lexicon) and not model._lexicon().nouns


def test_features_common_to_many_texts_are_left_out_of_wordnets_text(small_nomenclature, small_model):
    from clearway.classification.model import HSClassifier, Params

    from .small import EXAMPLES, TARIFF_LINES

    # Only a few character n-grams (" a", "s ") are in 1,000 of the small model's texts; with a limit of one text,
    # most features go.
    assert 0.99 < small_model._distinctive.mean() < 1
    strict = HSClassifier(Params(lexicon_max_texts=1, semantic=False, ranker=False)).fit(
        EXAMPLES, nomenclature=small_nomenclature, tariff_lines=TARIFF_LINES
    )
    assert 0 < strict._distinctive.mean() < 0.9
    horse = small_model._class_pos["010121"]
    loose = small_model._evidence([normalize("stallion")], None, ["stallion"]).columns["lexicon_ref6"][0, horse]
    assert strict._evidence([normalize("stallion")], None, ["stallion"]).columns["lexicon_ref6"][0, horse] < loose
