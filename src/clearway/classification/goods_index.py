"""A goods index: the names goods go by, each with the HS headings it is classified in (pure).

A customs tariff's A–Z index ("kayaks: 8903", "belt sanders: 8467") tells a classifier what the nomenclature's
wording does not: the tariff never says "kayak" (8903 speaks of "canoes" and "vessels for pleasure or sports"), and a
description's modifier can outweigh its goods in the words ("belt sanders" meets heading 4203's "belts"). The shipped
index (`reference/glossary/goods-index.tsv`, `term<TAB>headings`, the most usual heading first) was written by
Clearway's team from general knowledge of the HS, not from the labelled examples; an administration adds its own
lines (then `clearway classify train`).

Terms are matched as written or with their last word in its regular plural ("kayaks" meets "kayak", "batteries"
"battery"; not by stems, which would make a "painting" paint and "glass" glasses), the longest ending at each place,
from the end: the last word of a compound names the goods ("chicken breast fillets" before "chicken"). The
description's head is the term that ends at the last word of its first part (before a comma: "kayaks, inflatable"
is kayaks; sizes and colours after it left aside), which the classifier weighs apart from the other terms it holds.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from clearway.classification.reference import REFERENCE_DIR
from clearway.classification.text import longest_phrases, normalize

GOODS_INDEX_FILE = REFERENCE_DIR / "glossary" / "goods-index.tsv"
_HEADING = re.compile(r"^\d{4}$")
# Where the words naming the goods end: a comma, a bracket, a dash between spaces, or what the goods are for, of, with
# or in ("machines for washing feathers" are machines, "oscillators - quartz for watches" no watches).
_FIRST_PART = re.compile(r",|\(|\s[-–]\s|\s(?:for|with|of|in|containing)\s")


@dataclass(frozen=True)
class IndexEntry:
    """A goods name as the index writes it, and the headings it is classified in, the most usual first."""

    term: str
    headings: tuple[str, ...]

    def sentence(self) -> str:
        listed = ", ".join(f"{h[:2]}.{h[2:]}" for h in self.headings)
        return f"'{self.term}' is classified in heading{'s' if len(self.headings) > 1 else ''} {listed}"


@dataclass(frozen=True)
class GoodsIndex:
    """Index terms by their normalized words, as written and with the last word in its regular plural."""

    terms: dict[str, IndexEntry]
    longest: int

    @classmethod
    def parse(cls, lines: Sequence[str]) -> GoodsIndex:
        """From `term<TAB>headings` lines ("#" begins a comment; the first listing of a term stands, and a term as
        written stands over another's plural: "glasses" are spectacles even where "glass" is listed). A line whose
        headings are not four digits each is refused with its number, so a mistyped line is found, not ignored."""
        written: dict[str, IndexEntry] = {}
        for number, line in enumerate(lines, start=1):
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            term, _, headings = (part.strip() for part in line.partition("\t"))
            codes = tuple(headings.split())
            if not term or not codes or not all(_HEADING.match(code) for code in codes):
                raise ValueError(f"goods index line {number}: expected 'term<TAB>headings' (4 digits each): {line!r}")
            key = normalize(term)
            if key:
                written.setdefault(key, IndexEntry(term, codes))
        terms = dict(written)
        for key, entry in written.items():
            # The plural of the last word as written as well as of the last normalized word: normalizing may spell a
            # word out ("laptop": laptop computer, "phone": telephone phone), and "laptops" is normalized as written.
            *first, last = key.split()
            *first_written, last_written = entry.term.lower().split()
            plurals = [" ".join([*first, plural]) for plural in _plurals(last)]
            plurals += [normalize(" ".join([*first_written, plural])) for plural in _plurals(last_written)]
            for plural in plurals:
                terms.setdefault(plural, entry)
        return cls(terms=terms, longest=max((len(k.split()) for k in terms), default=0))

    def matches(self, normalized: str) -> list[tuple[str, IndexEntry]]:
        """The index terms of a normalized text, each with the words that name it, left to right (found from the
        end, the longest ending at each place first)."""
        return longest_phrases(
            normalized.split(), self.longest, lambda phrase: self.terms.get(" ".join(phrase)), from_end=True
        )

    def head(self, description: str) -> IndexEntry | None:
        """The index term that names the goods of a description: the one that ends at the last word of its first part
        (before a comma, a bracket, a dash, or "for", "of", "with", "in", "containing"), sizes, counts and colours
        after it left aside ("mens hoodie black xl", "maxi dress emerald green"); None where that word is not the end
        of a term ("glass polishing machines" are no glass)."""
        words = normalize(_FIRST_PART.split(description.lower(), 1)[0]).split()
        while words:
            if _trailing(words[-1]):
                words.pop()
                continue
            ending = self._ending(words)
            # A stone or an art material after other words is the shade of the goods ("hoodie sapphire blue"),
            # unless a longer term ends there ("blue sapphire", "oil pastel").
            if words[-1] in _SHADES and len(words) > 1 and (ending is None or ending[0] == 1):
                words.pop()
                continue
            return ending[1] if ending else None
        return None

    def _ending(self, words: Sequence[str]) -> tuple[int, IndexEntry] | None:
        """The longest term that ends at the last of the words, with its length in words (what `matches` would find
        there first)."""
        for n in range(min(self.longest, len(words)), 0, -1):
            entry = self.terms.get(" ".join(words[-n:]))
            if entry is not None:
                return n, entry
        return None


def _plurals(word: str) -> tuple[str, ...]:
    """The regular English plurals of a word ("kayak": kayaks, "box": boxes, "battery": batteries, "tomato":
    tomatoes and tomatos); irregular ones ("knives", "mice") are listed in the index as written."""
    if word.endswith(("s", "x", "z", "ch", "sh")):
        return (word + "es",)
    if word.endswith("y") and len(word) > 2 and word[-2] not in "aeiou":
        return (word[:-1] + "ies",)
    if word.endswith("o"):
        return (word + "es", word + "s")
    return (word + "s",) if word.isalpha() else ()


# What parcel lists write after the goods: colours, sizes and counts (words with digits and of two letters or fewer
# are left aside too).
_AFTER_THE_GOODS = frozenset(
    "black white red blue green pink grey gray yellow purple brown navy beige multi multicolour multicolor assorted "  # noqa: SIM905
    "small medium large xxl xxxl size pack pcs pairs pair set new".split()
)


# Stones and art materials the index lists on their own that parcel lists also write after the goods as the shade
# of them ("hoodie sapphire blue", "tshirt pastel pink"): after other words they are a colour, unless they end a
# longer term ("blue sapphire", "oil pastel").
_SHADES = frozenset(
    "ruby emerald sapphire jade onyx opal amethyst topaz garnet aquamarine turquoise agate pastel".split()  # noqa: SIM905
)


def _trailing(word: str) -> bool:
    return len(word) <= 2 or any(ch.isdigit() for ch in word) or word in _AFTER_THE_GOODS


NO_INDEX = GoodsIndex(terms={}, longest=0)


@lru_cache(maxsize=2)
def load_goods_index(path: Path = GOODS_INDEX_FILE) -> GoodsIndex:
    """The shipped goods index (none where the file is absent)."""
    if not path.is_file():
        return NO_INDEX
    return GoodsIndex.parse(path.read_text(encoding="utf-8").splitlines())
