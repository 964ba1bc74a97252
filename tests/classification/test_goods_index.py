"""The goods index: reading it, finding a description's terms and its head, and what the classifier makes of them."""

from __future__ import annotations

import pytest

import clearway.classification.model as model_module
from clearway.classification.goods_index import GOODS_INDEX_FILE, GoodsIndex, load_goods_index
from clearway.classification.reference import load_nomenclature
from clearway.classification.text import normalize

_LINES = [
    "# ===== boats and tools =====",
    "kayak\t8903",
    "inflatable kayak\t8903",
    "inflatable raft\t8907 8903",
    "belt sander\t8467 8465",
    "belt\t4203 6217",
    "chicken breast\t0207",
    "soldering iron\t8515",
    "glasses\t9004",
    "wine glass\t7013",
    "battery\t8507 8506",
    "maxi dress\t6204 6104",
    "sapphire\t7103",
    "blue sapphire\t7103",
    "kayak\t9506",  # a second listing of a term does not replace the first
]


def _index() -> GoodsIndex:
    return GoodsIndex.parse(_LINES)


def test_terms_are_found_by_their_stems_the_longest_from_the_end():
    index = _index()
    assert [e.term for _, e in index.matches(normalize("Kayaks"))] == ["kayak"]
    assert index.matches(normalize("kayak"))[0][1].headings == ("8903",)  # the first listing stands
    # "belt sanders" is a sander, not a belt: the longest term ending at the last word is read first.
    [(words, entry)] = index.matches(normalize("belt sanders 240v"))
    assert (words, entry.headings) == ("belt sanders", ("8467", "8465"))
    assert [w for w, _ in index.matches(normalize("leather belt and chicken breasts"))] == ["belt", "chicken breasts"]
    assert index.matches("plain cotton shirt") == []


def test_a_term_meets_its_regular_plural_but_a_term_as_written_stands_over_anothers_plural():
    index = _index()
    assert index.head("AA batteries").term == "battery"
    assert index.head("wine glasses").term == "wine glass"  # the longest term ending at "glasses"
    assert index.head("reading glasses").term == "glasses"
    assert index.matches("glass") == []  # "glasses" are spectacles: no stem makes the material of them


def test_a_term_whose_last_word_normalizing_spells_out_meets_its_plural_as_written():
    # "laptop" is normalized "laptop computer" and "phone" "telephone phone", but "laptops" and "phones" as written.
    index = GoodsIndex.parse(["laptop\t8471", "mobile phone\t8517", "smart tv\t8528"])
    assert normalize("laptop") == "laptop computer" and normalize("laptops") == "laptops"
    assert index.head("laptops, refurbished").term == "laptop"
    assert index.head("mobile phones 2 pack").term == "mobile phone"
    assert index.head("smart tvs").term == "smart tv"
    assert index.head("Laptop").term == "laptop"


def test_the_head_is_the_last_term_before_the_first_comma():
    index = _index()
    assert index.head("kayaks, inflatable").term == "kayak"
    assert index.head("Chicken breasts, fresh or chilled").term == "chicken breast"
    assert index.head("inflatable kayak blue").term == "inflatable kayak"
    assert index.head("fresh or chilled, chicken") is None
    assert index.head("kayak paddle black 2pcs") is None  # the goods are the paddle, which the index does not know
    assert index.head("Inflatable Kayaks blue xl 2 pack").term == "inflatable kayak"  # colours and sizes after it
    assert index.head("belt sanders (portable)").term == "belt sander"
    assert index.head("kayaks for children - inflatable").term == "kayak"
    assert index.head("covers for soldering irons") is None  # the goods are covers, not soldering irons


def test_a_stone_written_after_the_goods_is_their_colour_unless_a_longer_term_ends_there():
    index = _index()
    assert index.head("maxi dress sapphire blue").term == "maxi dress"
    assert index.head("sapphires, natural").term == "sapphire"  # a stone on its own is the goods
    assert index.head("blue sapphires").term == "blue sapphire"
    assert index.head("silk scarf sapphire") is None  # the scarf is the goods, and the index does not know it


def test_every_heading_of_the_shipped_index_is_an_hs_2022_heading():
    nomenclature = load_nomenclature()
    unknown = {
        (entry.term, code)
        for entry in load_goods_index().terms.values()
        for code in entry.headings
        if code not in nomenclature or code == "9999"  # 9999: the nomenclature's "not specified according to kind"
    }
    assert not unknown


def test_a_line_that_is_not_term_and_headings_is_refused_with_its_number():
    with pytest.raises(ValueError, match="line 2"):
        GoodsIndex.parse(["kayak\t8903", "sander\t846"])
    with pytest.raises(ValueError, match="line 1"):
        GoodsIndex.parse(["kayak 8903"])


def test_entries_say_their_headings_in_the_tariffs_notation():
    index = _index()
    assert index.head("belt sander").sentence() == "'belt sander' is classified in headings 84.67, 84.65"
    assert index.head("kayak").sentence() == "'kayak' is classified in heading 89.03"


def test_the_classifier_reads_the_index_headings_as_evidence_and_says_so(small_model, monkeypatch):
    monkeypatch.setattr(model_module, "load_goods_index", _index)
    evidence = small_model._evidence([normalize("belt sanders")], None, ["belt sanders"])
    classes = small_model.classes
    sanders = [j for j, c in enumerate(classes) if c[:4] == "8467"]
    belts = [j for j, c in enumerate(classes) if c[:4] == "4203"]
    assert sanders and belts
    assert (evidence.columns["index4"][0, sanders] == 1.0).all()  # the first heading of the term
    assert (evidence.columns["index_head4"][0, sanders] == 1.0).all()
    assert (evidence.columns["index4"][0, belts] == 0.0).all()  # "belt" is part of "belt sanders", not a term here
    assert evidence.columns["index2"][0, sanders[0]] == 1.0
    assert evidence.columns["index4"].sum() > 0 and evidence.columns["index4"].max() == 1.0
    # "leather belt, chicken breast": belt is the head, chicken breast (outside the small chapters) is not.
    mixed = small_model._evidence([normalize("leather belt chicken breast")], None, ["leather belt, chicken breast"])
    assert (mixed.columns["index_head4"][0, belts] == 1.0).all()
    [first, *_] = small_model.suggest("soldering irons")
    assert first.hs_code == "851511"
    assert "goods index: 'soldering iron' is classified in heading 85.15" in first.why


def test_the_shipped_index_is_broad_and_names_goods_by_the_names_people_use():
    index = load_goods_index()
    assert GOODS_INDEX_FILE.is_file() and (GOODS_INDEX_FILE.parent / "README.md").is_file()
    assert len(index.terms) >= 20000
    for description, heading in [
        ("kayaks", "8903"),
        ("belt sanders", "8467"),
        ("chicken breasts, fresh or chilled", "0207"),
        ("air fryer", "8516"),
        ("secateurs", "8201"),
        ("mens hoodie black xl", "6110"),
        ("wicker baskets", "4602"),
        ("wellies", "6401"),
        ("maxi dress emerald green", "6204"),
        ("shampoo 250ml", "3305"),  # the everyday names the nomenclature's own words also use (part 7)
        ("ammeters", "9030"),
        ("gel nail polish top coat", "3304"),  # a compound of them that is other goods
        ("sea bass fillets", "0304"),  # kinds, varieties, goods by material, A-Z index names (part 8)
        ("pelargoniums", "0602"),
        ("canned octopus", "1605"),
        ("stainless steel saucepans", "7323"),
        ("palletizers", "8428"),
        ("cheongsam", "6204"),
    ]:
        head = index.head(description)
        assert head is not None and heading in head.headings, description
