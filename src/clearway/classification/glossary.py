"""Trade names and shop words read as the goods they are (pure).

Parcel operators describe goods by their brand or product line: "amstel 8l", "ariel pods 30", "calpol 6yrs+ s-f
sachets", "mybllne superstay matte ink". The tariff never names a brand, WordNet knows few of them, and the sentence
encoder learned little about shop shelves, so such descriptions fall back on the most common parcel code. The shipped
glossary (`reference/glossary/trade-names.tsv`) says what each trade name is, in the tariff's words: "amstel" is
"beer made from malt", "calpol" a "paracetamol medicament for children, oral suspension or sachets".

It was written by Clearway's team from general knowledge of the brands sold and shipped in the UK, the EU and the
US (about 5,500 names), not from the labelled examples, and is plain text so that an administration can extend it
with its own trade's names. A name that is an ordinary word on its own ("always", "fairy", "boss") is listed only in
a form that cannot be anything else ("always ultra", "fairy liquid", "hugo boss").

Shops and parcel lists also call goods by words the tariff does not use for them: "hoodie", "power bank", "screen
protector", "e-liquid", "nappies", or "trainers" (WordNet's first sense is a person). The shipped shop words
(`reference/glossary/shop-words.tsv`, about 2,500 terms written the same way) say what those goods are, and are read
like trade names, which stand over them. The last word of a compound names the goods, so names are found from the
end: "mobile phone case" is a phone case before it could be a mobile phone.

The classifier reads a description followed by the goods its trade names are (`Glossary.read`), for its words and
for the encoder alike, in training and when suggesting, so the evidence of each kind learns what the glossary's
words are worth.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from clearway.classification.abbreviations import skeleton
from clearway.classification.reference import REFERENCE_DIR
from clearway.classification.text import longest_phrases, normalize

GLOSSARY_FILE = REFERENCE_DIR / "glossary" / "trade-names.tsv"
SHOP_WORDS_FILE = REFERENCE_DIR / "glossary" / "shop-words.tsv"
TRADE_NAME = "trade name"
SHOP_WORD = "shop word"
_MIN_SINGLE = 4  # a single word shorter than this is too easily something else ("mac", "bic" only with a second word)
_MIN_SHORTHAND = 5  # letters of a name's shorthand form ("cnstn" for "canesten")
_DOUBLED = re.compile(r"(.)\1+")


def _shorthand_key(word: str) -> str:
    """A word's consonants after its first letter, doubled letters once: "canesten" and "canestn" are both "cnstn",
    "maybelline" and "mybllne" "mybln"."""
    return _DOUBLED.sub(r"\1", skeleton(word))


def _never_a_word(word: str) -> bool:
    return False


@dataclass(frozen=True)
class GlossaryEntry:
    """A trade name or shop word as the glossary writes it, and what the goods are."""

    name: str
    goods: str
    kind: str = TRADE_NAME  # or SHOP_WORD: what shops call goods the tariff names otherwise ("hoodie", "power bank")

    def sentence(self) -> str:
        return f"'{self.name}' is {self.goods}"


@dataclass(frozen=True)
class Glossary:
    """Trade names and shop words by their normalized words (a name written as two words also as one: "air wick",
    "airwick")."""

    names: dict[str, GlossaryEntry]
    longest: int
    # One-word names (and names written as one word) by their shorthand form, where no other name shares it.
    shorthand: dict[str, GlossaryEntry] = field(default_factory=dict)

    @classmethod
    def parse(cls, lines: Sequence[str], kind: str = TRADE_NAME) -> Glossary:
        """From `name<TAB>goods` lines ("#" begins a comment; the first listing of a name stands)."""
        return cls.parse_sections([(kind, lines)])

    @classmethod
    def parse_sections(cls, sections: Sequence[tuple[str, Sequence[str]]]) -> Glossary:
        """From several files' lines, each with the kind of its names; a name listed in an earlier one stands."""
        names: dict[str, GlossaryEntry] = {}
        for kind, lines in sections:
            for line in lines:
                if not line.strip() or line.lstrip().startswith("#") or "\t" not in line:
                    continue
                name, goods = (part.strip() for part in line.split("\t", 1))
                key = normalize(name)
                words = key.split()
                if not words or not goods or (len(words) == 1 and len(key) < _MIN_SINGLE):
                    continue
                entry = GlossaryEntry(name, goods.split("\t")[0].strip(), kind)
                for form in {key, "".join(words)}:
                    names.setdefault(form, entry)
        by_key: dict[str, set[GlossaryEntry]] = {}
        for form, entry in names.items():
            if " " not in form and form.isalpha() and len(form) >= _MIN_SHORTHAND + 1:
                by_key.setdefault(_shorthand_key(form), set()).add(entry)
        shorthand = {k: next(iter(v)) for k, v in by_key.items() if len(v) == 1 and len(k) >= _MIN_SHORTHAND}
        return cls(names=names, longest=max((len(k.split()) for k in names), default=0), shorthand=shorthand)

    def matches(
        self, normalized: str, is_word: Callable[[str], bool] = _never_a_word
    ) -> list[tuple[str, GlossaryEntry]]:
        """The trade names and shop words of a normalized description, each with the words that name it: the longest
        ending at each place, from the end, since the last word of a compound names the goods ("mobile phone case" is
        a case). A word that is no word (by `is_word`) may be a name's shorthand ("canestn": canesten, "mybllne":
        maybelline)."""
        found = longest_phrases(
            normalized.split(), self.longest, lambda phrase: self._name(phrase, is_word), from_end=True
        )
        seen: set[str] = set()  # a name and its product line often say the same goods: said once
        out = []
        for words, entry in found:
            if entry.goods not in seen:
                out.append((words, entry))
                seen.add(entry.goods)
        return out

    def _name(self, phrase: Sequence[str], is_word: Callable[[str], bool]) -> GlossaryEntry | None:
        """The trade name a phrase of words is (as written, or as one word), or whose shorthand a single word is."""
        entry = self.names.get(" ".join(phrase))
        if entry is None and len(phrase) > 1:
            entry = self.names.get("".join(phrase))
        if entry is None and len(phrase) == 1:
            entry = self._shorthand_of(phrase[0], is_word)
        return entry

    def _shorthand_of(self, word: str, is_word: Callable[[str], bool]) -> GlossaryEntry | None:
        if not self.shorthand or len(word) < _MIN_SHORTHAND or not word.isalpha() or is_word(word):
            return None
        return self.shorthand.get(_shorthand_key(word))

    def words(self, normalized: str, is_word: Callable[[str], bool] = _never_a_word) -> set[str]:
        """The words of a normalized description that belong to a trade name (no shorthand to read in them)."""
        return {w for phrase, _ in self.matches(normalized, is_word) for w in phrase.split()}

    def read(self, description: str, is_word: Callable[[str], bool] = _never_a_word) -> str:
        """The description followed by what its trade names are ("amstel 8l" -> "amstel 8l; beer made from malt")."""
        goods = [entry.goods for _, entry in self.matches(normalize(description), is_word)]
        return "; ".join([description, *goods]) if goods else description


NO_GLOSSARY = Glossary(names={}, longest=0)


@lru_cache(maxsize=4)
def load_glossary(path: Path = GLOSSARY_FILE, shop_words: Path | None = SHOP_WORDS_FILE) -> Glossary:
    """The shipped glossary: its trade names, then its shop words (a file that is absent adds nothing)."""
    sections = [
        (kind, file.read_text(encoding="utf-8").splitlines())
        for kind, file in ((TRADE_NAME, path), (SHOP_WORD, shop_words))
        if file is not None and file.is_file()
    ]
    return Glossary.parse_sections(sections) if sections else NO_GLOSSARY
