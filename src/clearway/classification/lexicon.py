"""World knowledge for the words of a goods description: what kind of thing a noun names, from WordNet 3.0.

A description often names goods by a word the tariff never uses ("euphoniums", "sandpaper", "gravy"). WordNet
knows what kind of thing each is: "euphonium" is a bass horn, a brass instrument, "a bass horn (brass wind
instrument) that is the tenor of the tuba family". The classifier compares that text with the tariff's (see
`model`), so the tariff's "brass-wind instruments" can be found for a word it does not contain.

The shipped file (`reference/wordnet/noun-expansions.tsv.gz`, WordNet 3.0 licence beside it) holds, for every
noun of WordNet, the names of its first sense's hypernyms two levels up (leaving out the most general ones, such as
"artifact") and the first clause of its gloss, plus WordNet's irregular plurals. It is derived by `build_lexicon`
from WordNet's database files (Debian's `wordnet-base`: `python -m clearway.classification.lexicon
/usr/share/wordnet`); nothing is read from outside the package at run time.
"""

from __future__ import annotations

import gzip
import io
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from clearway.classification.reference import REFERENCE_DIR
from clearway.classification.text import longest_phrases

LEXICON_FILE = REFERENCE_DIR / "wordnet" / "noun-expansions.tsv.gz"
# Hypernyms this close to WordNet's root ("entity", "object", "artifact", "instrumentality") say nothing useful.
MIN_DEPTH = 5
HYPERNYM_LEVELS = 2
# Regular English plurals, longest first (WordNet's morphy rules for nouns).
_PLURALS = (
    ("ches", "ch"),
    ("shes", "sh"),
    ("ses", "s"),
    ("xes", "x"),
    ("zes", "z"),
    ("men", "man"),
    ("ies", "y"),
    ("s", ""),
)
_LONGEST_PHRASE = 3


@dataclass(frozen=True)
class Noun:
    """What WordNet says a noun is: the kinds of thing it is a kind of, nearest first, and its gloss."""

    kinds: tuple[str, ...]
    gloss: str

    @property
    def text(self) -> str:
        return " ".join([*self.kinds, self.gloss]).strip()

    def sentence(self, words: str) -> str:
        """The noun said in words, as a reason reads it ("'stallion' is a kind of male horse, horse: uncastrated adult
        male horse")."""
        kinds = f" is a kind of {', '.join(self.kinds)}" if self.kinds else ""
        return f"'{words}'{kinds}: {self.gloss}" if self.gloss else f"'{words}'{kinds}"


@dataclass(frozen=True)
class Match:
    """Words of a description that name a WordNet noun, and that noun."""

    words: str
    noun: Noun


@dataclass(frozen=True)
class Lexicon:
    """Nouns (multi-word ones joined by "_") and what each is; irregular plurals."""

    nouns: dict[str, Noun]
    plurals: dict[str, str]

    def lemma(self, word: str) -> str | None:
        """The WordNet noun a word (or "_"-joined phrase) is a form of, or None."""
        if word in self.nouns:
            return word
        singular = self.plurals.get(word)
        if singular in self.nouns:
            return singular
        for suffix, replacement in _PLURALS:
            if word.endswith(suffix) and len(word) > len(suffix) + 2:
                candidate = word[: -len(suffix)] + replacement
                if candidate in self.nouns:
                    return candidate
        return None

    def matches(self, normalized: str) -> list[Match]:
        """The nouns of a normalized description, longest phrase first ("guinea pig" before "guinea"); a phrase
        written apart also meets its one-word form ("sun glasses" is "sunglasses")."""
        return [Match(words, noun) for words, noun in longest_phrases(normalized.split(), _LONGEST_PHRASE, self._noun)]

    def _noun(self, phrase: Sequence[str]) -> Noun | None:
        """The noun a phrase of words names ("_"-joined, or written as one word), if any; a single word of fewer than
        three letters names none."""
        lemma = self.lemma("_".join(phrase))
        if lemma is None and len(phrase) > 1:
            lemma = self.lemma("".join(phrase))
        if lemma is None or (len(phrase) == 1 and len(phrase[0]) < 3):
            return None
        return self.nouns[lemma]

    def expand(self, normalized: str) -> str:
        """What WordNet says the description's nouns are, as one text ("" when it knows none of them)."""
        return self.text(self.matches(normalized))

    @staticmethod
    def text(matches: list[Match]) -> str:
        """What WordNet says the matched nouns are, as one text ("" for none)."""
        return " ".join(match.noun.text for match in matches)


NO_LEXICON = Lexicon(nouns={}, plurals={})


@lru_cache(maxsize=2)
def load_lexicon(path: Path = LEXICON_FILE) -> Lexicon:
    """The shipped lexicon (empty if the file is absent, so a words-and-meaning model still works)."""
    if not path.is_file():
        return NO_LEXICON
    nouns: dict[str, Noun] = {}
    plurals: dict[str, str] = {}
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        for line in fh:
            kind, word, *values = line.rstrip("\n").split("\t")
            if kind == "N":  # N, noun, kinds separated by "|", gloss
                nouns[word] = Noun(tuple(k for k in values[0].split("|") if k), values[1])
            else:  # P, irregular plural, singular
                plurals[word] = values[0]
    return Lexicon(nouns=nouns, plurals=plurals)


def build_lexicon(wordnet_dir: Path, out: Path = LEXICON_FILE, *, progress: Callable[[str], None] | None = None) -> int:
    """Writes the lexicon file from WordNet 3.0's `data.noun`, `index.noun` and `noun.exc`; returns the nouns
    written."""
    say = progress or (lambda message: None)
    say(f"reading {wordnet_dir / 'data.noun'}")
    synsets: dict[str, tuple[list[str], list[str], str]] = {}  # offset -> (lemmas, hypernym offsets, gloss)
    with (wordnet_dir / "data.noun").open(encoding="latin-1") as fh:
        for line in fh:
            if line.startswith("  "):  # the licence at the top of the file
                continue
            head, _, gloss = line.partition(" | ")
            fields = head.split()
            count = int(fields[3], 16)
            lemmas = [fields[4 + 2 * i].lower().replace("_", " ") for i in range(count)]
            at = 4 + 2 * count
            hypernyms = []
            for k in range(int(fields[at])):
                symbol, target, pos = fields[at + 1 + 4 * k : at + 4 + 4 * k]
                if symbol in ("@", "@i") and pos == "n":
                    hypernyms.append(target)
            synsets[fields[0]] = (lemmas, hypernyms, gloss.split(";")[0].strip())
    depths: dict[str, int] = {}

    def depth(offset: str) -> int:
        """Shortest distance from WordNet's root (iterative: chains run twenty deep)."""
        pending = [offset]
        while pending:
            current = pending[-1]
            missing = [h for h in synsets[current][1] if h not in depths]
            if missing:
                pending.extend(missing)
                continue
            depths[current] = 1 + min((depths[h] for h in synsets[current][1]), default=-1)
            pending.pop()
        return depths[offset]

    say(f"reading {wordnet_dir / 'index.noun'}")
    rows = []
    with (wordnet_dir / "index.noun").open(encoding="latin-1") as fh:
        for line in fh:
            if line.startswith("  "):
                continue
            fields = line.split()
            lemma, senses, pointers = fields[0], int(fields[2]), int(fields[3])
            first = fields[4 + pointers + 2 : 4 + pointers + 2 + senses][0]  # senses are listed most frequent first
            kinds: list[str] = []
            frontier = [first]
            for _ in range(HYPERNYM_LEVELS):
                frontier = [h for o in frontier for h in synsets[o][1] if depth(h) >= MIN_DEPTH]
                for h in frontier:
                    kinds += [k for k in synsets[h][0][:2] if k not in kinds]
            gloss = synsets[first][2].replace("\t", " ")
            if kinds or gloss:
                rows.append(f"N\t{lemma}\t{'|'.join(kinds)}\t{gloss}\n")
    with (wordnet_dir / "noun.exc").open(encoding="latin-1") as fh:
        rows += [f"P\t{parts[0]}\t{parts[1]}\n" for parts in (line.split() for line in fh) if len(parts) >= 2]
    out.parent.mkdir(parents=True, exist_ok=True)
    # No build time and no file name in the gzip header: the same WordNet always gives the same bytes.
    with (
        out.open("wb") as raw,
        gzip.GzipFile(filename="", mode="wb", fileobj=raw, compresslevel=9, mtime=0) as packed,
        io.TextIOWrapper(packed, encoding="utf-8") as fh,
    ):
        fh.writelines(rows)
    nouns = sum(row.startswith("N") for row in rows)
    say(f"wrote {nouns:,} nouns and {len(rows) - nouns:,} irregular plurals to {out}")
    load_lexicon.cache_clear()
    return nouns


if __name__ == "__main__":
    build_lexicon(Path(sys.argv[1] if len(sys.argv) > 1 else "/usr/share/wordnet"), progress=print)
