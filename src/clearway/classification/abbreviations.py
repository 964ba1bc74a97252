"""Shorthand in parcel descriptions read as the tariff's words (pure).

Parcel operators write descriptions in a field of thirty characters or so: they drop vowels ("alwys ultr sntry
twls" for "always ultra sanitary towels") and the last word is often cut ("2 pack pull on trous"). A word the
tariff never uses is read as the most common word of the vocabulary that it abbreviates:
- a word without vowels after its first letter stands for the word whose consonants it spells, or begins to spell
  ("twls": towels, "clnsn": cleansing);
- the last word of a description, if it has vowels, stands for the most common word it begins ("trous": trousers).
The description keeps its own words; each one read so is followed by the word it stands for.
"""

from __future__ import annotations

import bisect
import re
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from clearway.classification.text import stem

_VOWELS = re.compile(r"[aeiou]")
MIN_LENGTH = 3  # shorter words ("pk", "lg") are read as they are


def skeleton(word: str) -> str:
    """The word's first letter and the consonants after it ("towels" -> "twls")."""
    return word[:1] + _VOWELS.sub("", word[1:])


@dataclass(frozen=True)
class Abbreviations:
    """The vocabulary that shorthand is read against: its words by frequency, sorted for prefix search, and the
    same by skeleton."""

    known: frozenset[str]  # every word of the texts, and its stem
    words: tuple[str, ...]  # sorted
    skeletons: tuple[str, ...]  # sorted, with the words they are skeletons of beside them
    skeleton_words: tuple[str, ...]
    counts: dict[str, int]

    @classmethod
    def build(cls, texts: Iterable[str], *, min_count: int = 2) -> Abbreviations:
        """From normalized texts: every alphabetic word of MIN_LENGTH letters or more, in at least `min_count` of
        them, can be what a shorthand stands for. A word whose stem is a stem of theirs is no shorthand."""
        counts: Counter[str] = Counter()
        for text in texts:
            counts.update({w for w in text.split() if w.isalpha()})
        known = frozenset(counts) | {stem(w) for w in counts}
        targets = {w: n for w, n in counts.items() if n >= min_count and len(w) >= MIN_LENGTH}
        by_skeleton = sorted((skeleton(w), w) for w in targets)
        return cls(
            known=known,
            words=tuple(sorted(targets)),
            skeletons=tuple(k for k, _ in by_skeleton),
            skeleton_words=tuple(w for _, w in by_skeleton),
            counts=targets,
        )

    def meaning(self, word: str, *, last: bool, is_word: Callable[[str], bool]) -> str | None:
        """The word that `word` abbreviates, or None when it is a word (of the vocabulary, or by `is_word`) or
        abbreviates none. Only the `last` word of a description is read as cut short."""
        if len(word) < MIN_LENGTH or not word.isalpha() or word in self.known or stem(word) in self.known:
            return None
        if skeleton(word) == word:  # no vowels: the word whose consonants it spells, else that it begins to spell
            found = self._begun(self.skeletons, self.skeleton_words, word)
            exact = [w for w in found if skeleton(w) == word]
            found = exact or found
        elif last:
            found = self._begun(self.words, self.words, word)
        else:
            return None
        if not found or is_word(word):
            return None
        return max(found, key=lambda w: (self.counts[w], w))

    @staticmethod
    def _begun(keys: tuple[str, ...], words: tuple[str, ...], prefix: str) -> tuple[str, ...]:
        """The words whose key begins with prefix (keys sorted, words beside them)."""
        start = end = bisect.bisect_left(keys, prefix)
        while end < len(keys) and keys[end].startswith(prefix):
            end += 1
        return words[start:end]

    def meanings(self, normalized: str, *, is_word: Callable[[str], bool]) -> dict[str, str]:
        """Each shorthand of a normalized text and the word it stands for."""
        words = normalized.split()
        found = {}
        for i, word in enumerate(words):
            meaning = self.meaning(word, last=i == len(words) - 1, is_word=is_word)
            if meaning:
                found[word] = meaning
        return found

    @staticmethod
    def expand(normalized: str, meanings: dict[str, str]) -> str:
        """The normalized text with each shorthand followed by the word it stands for."""
        return " ".join(f"{w} {meanings[w]}" if w in meanings else w for w in normalized.split())
