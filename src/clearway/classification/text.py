"""Text normalisation for goods descriptions and tariff texts (pure)."""

from __future__ import annotations

import functools
import re
import threading
from collections.abc import Callable, Sequence
from typing import TypeVar

import snowballstemmer

_NON_ALNUM = re.compile(r"[^a-z0-9]+")
_SPACES = re.compile(r"\s+")
# Parcel-operator shorthand and spelling variants, spelled out so they meet the tariff's words.
_SYNONYMS = {
    "tee": "tshirt",
    "tees": "tshirts",
    "mens": "men",
    "womens": "women",
    "ladies": "women",
    "lady": "women",
    "girls": "girl",
    "boys": "boy",
    "kids": "children",
    "childrens": "children",
    "babys": "baby",
    "pcs": "pieces",
    "pc": "piece",
    "edt": "eau de toilette perfume",
    "edp": "eau de parfum perfume",
    "w": "with",
    "ss": "stainless steel",
    "hdmi": "hdmi cable",
    "usb": "usb",
    "phone": "telephone phone",
    "mobile": "mobile telephone",
    "laptop": "laptop computer",
    "tv": "television",
    "pvc": "pvc plastic",
    "led": "led light",
    "lcd": "lcd display",
    "poly": "polyester",
    "acc": "accessory",
    "accs": "accessories",
}


# British and American spellings meet (the labelled data is British, the national tariff American).
_SPELLING = [
    (re.compile(r"\bsulph"), "sulf"),
    (re.compile(r"\baluminium"), "aluminum"),
    (re.compile(r"\b(colou?r)"), "color"),
    (re.compile(r"\bfibre"), "fiber"),
    (re.compile(r"\btyre"), "tire"),
    (re.compile(r"\bjewellery"), "jewelry"),
    (re.compile(r"\bmoulds?\b"), "mold"),
    (re.compile(r"\bgrey\b"), "gray"),
    (re.compile(r"\bcentre"), "center"),
    (re.compile(r"\blitre"), "liter"),
    (re.compile(r"\bmetre"), "meter"),
    (re.compile(r"\bpyjama"), "pajama"),
    # A T-shirt is not a shirt (6109 against 6205): one word, wherever it is written apart.
    (re.compile(r"\bt (shirts?)\b"), r"t\1"),
]


def normalize(text: str) -> str:
    """Lower-cases, keeps letters and digits only, spells out common shorthand and uses American spelling."""
    lowered = text.lower().replace("'", "").replace("’", "")
    words = _NON_ALNUM.sub(" ", lowered).split()
    joined = " ".join(_SYNONYMS.get(word, word) for word in words)
    for pattern, replacement in _SPELLING:
        joined = pattern.sub(replacement, joined)
    return _SPACES.sub(" ", joined).strip()


_SNOWBALL = threading.local()  # a Snowball stemmer keeps its word in itself while stemming: one per thread


@functools.lru_cache(maxsize=200_000)
def stem(word: str) -> str:
    """The word's Snowball (Porter2) stem: "whisky" and "whiskies" are both "whiski", "knitted" is "knit"."""
    stemmer = getattr(_SNOWBALL, "stemmer", None)
    if stemmer is None:
        stemmer = _SNOWBALL.stemmer = snowballstemmer.stemmer("english")
    return stemmer.stemWord(word)


# The encoder reads "tshirt" as word pieces that mean nothing ("ts", "##hir", "##t"); written "t-shirt" it knows it.
_T_SHIRT = re.compile(r"\b(?:t|tee)[ -]?(shirts?)\b", re.IGNORECASE)


def for_encoder(text: str) -> str:
    """A description as the sentence encoder reads it best: as written, but with T-shirts spelled "t-shirt"."""
    return _T_SHIRT.sub(r"t-\1", text)


T = TypeVar("T")


def longest_phrases(
    words: Sequence[str], longest: int, find: Callable[[Sequence[str]], T | None], *, from_end: bool = False
) -> list[tuple[str, T]]:
    """What `find` knows of a text's words, left to right, the longest phrase (of at most `longest` words) first at
    each place: "guinea pigs for sale" gives "guinea pigs" before "guinea" could be read. Each found phrase, joined by
    spaces, with what `find` returned for it; the scan goes on after it. With `from_end` the scan goes right to left,
    the longest phrase ending at each place first, since the last word of a compound names the goods: "mobile phone
    case" gives "phone case" before "mobile phone" could be read (the phrases are still returned left to right)."""
    if from_end:  # the same scan over the words reversed, each phrase read (and returned) the right way round
        backwards = longest_phrases(list(reversed(words)), longest, lambda phrase: find(list(reversed(phrase))))
        return [(" ".join(reversed(phrase.split())), found) for phrase, found in reversed(backwards)]
    out: list[tuple[str, T]] = []
    i = 0
    while i < len(words):
        for n in range(min(longest, len(words) - i), 0, -1):
            found = find(words[i : i + n])
            if found is not None:
                out.append((" ".join(words[i : i + n]), found))
                i += n
                break
        else:
            i += 1
    return out


def hs6_of(code: str) -> str | None:
    """The 6-digit HS subheading of a declared code ("6109.10.00" -> "610910"), or None if it has fewer digits."""
    digits = re.sub(r"\D", "", code or "")
    return digits[:6] if len(digits) >= 6 else None
