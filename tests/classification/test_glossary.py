"""The trade-name glossary: reading it, finding a description's trade names, and what the classifier makes of them."""

from __future__ import annotations

from clearway.classification.glossary import (
    GLOSSARY_FILE,
    SHOP_WORD,
    SHOP_WORDS_FILE,
    TRADE_NAME,
    Glossary,
    load_glossary,
)
from clearway.classification.model import HSClassifier, Params
from clearway.classification.text import normalize

from . import small

_LINES = [
    "# drinks",
    "amstel\tbeer made from malt",
    "air wick\tair freshener, room deodoriser",
    "l'oreal\tmake-up or hair care preparation",
    "dr. beckmann\tstain remover, cleaning preparation",
    "fairy liquid\twashing-up liquid, dishwashing detergent",
    "mac\tlipstick",
    "amstel\ta second listing of a name does not replace the first",
    "no tab on this line",
]


def _glossary() -> Glossary:
    return Glossary.parse(_LINES)


def test_a_name_is_found_in_its_written_forms_and_as_one_word():
    glossary = _glossary()
    assert [e.name for _, e in glossary.matches(normalize("AMSTEL 8L"))] == ["amstel"]
    assert glossary.matches(normalize("airwick freshmatic"))[0][1].name == "air wick"
    assert glossary.matches(normalize("Air-Wick essentia"))[0][0] == "air wick"
    assert glossary.matches(normalize("loreal true match"))[0][1].name == "l'oreal"
    assert glossary.matches(normalize("dr.beckmann service-it deep clea"))[0][1].name == "dr. beckmann"


def test_the_longest_name_wins_and_short_single_names_are_left_out():
    glossary = _glossary()
    [(words, entry)] = glossary.matches(normalize("fairy liquid original 433ml"))
    assert (words, entry.goods) == ("fairy liquid", "washing-up liquid, dishwashing detergent")
    assert glossary.matches("mac lipstick") == []  # three letters alone are too easily something else
    assert glossary.matches(normalize("amstel"))[0][1].goods == "beer made from malt"  # the first listing stands
    assert glossary.matches("plain cotton shirt") == []


def test_a_names_shorthand_is_read_as_the_name_unless_it_is_a_word():
    glossary = Glossary.parse(["canesten\tclotrimazole antifungal cream", "maybelline\tmake-up preparations"])
    assert glossary.read("canestn thr crm 20g") == "canestn thr crm 20g; clotrimazole antifungal cream"
    assert glossary.matches("mybllne sprsty")[0][1].name == "maybelline"  # doubled letters count once
    assert glossary.matches("canestn", is_word=lambda w: w == "canestn") == []  # a word of the tariff is no shorthand
    clash = Glossary.parse(["canesten\tcream", "conestin\tsomething else"])
    assert clash.matches("canestn") == []  # a shorthand two names share says neither


def test_shop_words_come_after_trade_names_and_keep_their_kind():
    glossary = Glossary.parse_sections(
        [
            (TRADE_NAME, ["air max\tsports footwear, trainers"]),
            (SHOP_WORD, ["power bank\tportable battery, electric accumulator", "air max\tan air pump"]),
        ]
    )
    [(_, name)] = glossary.matches(normalize("nike air max 90"))
    assert (name.kind, name.goods) == (TRADE_NAME, "sports footwear, trainers")  # the trade name's listing stands
    [(words, shop_word)] = glossary.matches(normalize("Power-Bank 10000mAh"))
    assert (words, shop_word.kind) == ("power bank", SHOP_WORD)
    assert glossary.matches("powerbank usb c")[0][1] is shop_word  # written as one word too


def test_the_last_word_of_a_compound_names_the_goods():
    glossary = Glossary.parse(
        ["mobile phone\tsmartphone", "phone case\tprotective case of plastics", "dog coat\tdog coat"], SHOP_WORD
    )
    [(words, entry)] = glossary.matches(normalize("mobile phone case silicone"))
    assert (words, entry.goods) == ("telephone phone case", "protective case of plastics")  # "phone" is spelled out
    assert [e.goods for _, e in glossary.matches(normalize("dog coat and mobile phone"))] == ["dog coat", "smartphone"]


def test_a_description_is_read_followed_by_the_goods_its_names_are():
    glossary = _glossary()
    assert glossary.read("amstel 8l") == "amstel 8l; beer made from malt"
    assert glossary.read("mens cotton tshirt") == "mens cotton tshirt"
    assert glossary.words(normalize("air wick essential")) == {"air", "wick"}


def test_the_shipped_glossary_is_broad_and_keeps_ordinary_words_out():
    glossary = load_glossary()
    assert GLOSSARY_FILE.is_file() and (GLOSSARY_FILE.parent / "README.md").is_file()
    assert len({id(entry) for entry in glossary.names.values()}) >= 1500
    for description, goods_word in [
        ("amstel 8l", "beer"),
        ("ariel pods 30", "washing"),
        ("calpol 6yrs+ sachets", "paracetamol"),
        ("domestos 750ml", "bleach"),
        ("maybelline superstay matte ink", "lip"),
        ("golden wonder variety crisp pa", "crisps"),
    ]:
        assert goods_word in glossary.read(description).lower(), description
    for ordinary in ["always", "fairy", "flash", "finish", "simple", "comfort", "boss", "mango", "next", "apple"]:
        assert ordinary not in glossary.names, ordinary


def test_the_shipped_shop_words_read_what_shops_call_goods_and_keep_ambiguous_words_out():
    glossary = load_glossary()
    assert SHOP_WORDS_FILE.is_file()
    shop_words = {id(e) for e in glossary.names.values() if e.kind == SHOP_WORD}
    assert len(shop_words) >= 1000
    for description, goods_word in [
        ("ladies trainers size 6", "footwear"),
        ("mens hoodie black xl", "sweatshirt"),
        ("power bank 10000mah", "accumulator"),
        ("vape pen kit", "vaporising"),
        ("pack of nappies size 4", "napkins"),
    ]:
        assert goods_word in glossary.read(description).lower(), description
    for ambiguous in ["pumps", "tops", "heels", "runners", "primer", "foundation", "palette", "case", "flats", "bike"]:
        assert ambiguous not in glossary.names, ambiguous
    assert load_glossary(shop_words=None).names.keys() < glossary.names.keys()


def test_the_classifier_knows_goods_by_their_trade_name_and_says_so(small_model, small_nomenclature):
    [first, *_] = small_model.suggest("dreamies 60g")
    assert first.hs_code == "230910"
    assert "trade name: 'dreamies' is cat treats, pet food" in first.why
    without = HSClassifier(Params(glossary=False)).fit(
        small.EXAMPLES, nomenclature=small_nomenclature, tariff_lines=small.TARIFF_LINES
    )
    assert without.suggest("dreamies 60g")[0].hs_code != "230910"  # the words alone say nothing of a cat treat


def test_the_classifier_knows_goods_by_their_shop_word_and_says_so(small_model):
    [first, *_] = small_model.suggest("power bank 10000mah")
    assert first.hs_code == "850760"  # lithium-ion accumulators
    assert "shop word: 'power bank' is portable lithium-ion battery, electric accumulator" in first.why
    assert small.small_model_without_shop_words().suggest("power bank 10000mah")[0].hs_code != "850760"
