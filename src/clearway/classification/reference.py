"""The reference texts the classifier reads: the HS 2022 nomenclature and (if shipped) the US HTS line texts."""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

REFERENCE_DIR = Path(__file__).resolve().parent.parent / "reference"
HS2022_FILE = REFERENCE_DIR / "hs2022" / "harmonized-system-2022.csv"
HTS_FILE = REFERENCE_DIR / "us_hts" / "hts_full.csv"
LABELED_FILE = REFERENCE_DIR / "hs_labeled" / "train.csv"


@dataclass(frozen=True)
class Nomenclature:
    """HS 2022 texts by code (2-digit chapters, 4-digit headings, 6-digit subheadings)."""

    texts: dict[str, str]
    subheadings: tuple[str, ...] = field(default=())

    def text(self, code: str) -> str:
        return self.texts.get(code, "")

    def path_text(self, hs6: str) -> str:
        """Chapter, heading and subheading texts of a subheading, joined."""
        return " ; ".join(t for t in (self.text(hs6[:2]), self.text(hs6[:4]), self.text(hs6)) if t)

    def __contains__(self, code: object) -> bool:
        return code in self.texts


@lru_cache(maxsize=4)
def load_nomenclature(path: Path = HS2022_FILE) -> Nomenclature:
    """Reads the shipped HS 2022 nomenclature."""
    texts: dict[str, str] = {}
    subheadings: list[str] = []
    with path.open(encoding="utf-8", newline="") as fh:
        for row in csv.DictReader(fh):
            code = row["hscode"].strip()
            texts[code] = row["description"].strip()
            if len(code) == 6:
                subheadings.append(code)
    return Nomenclature(texts=texts, subheadings=tuple(subheadings))


def load_tariff_lines(path: Path = HTS_FILE) -> list[tuple[str, str]]:
    """(HS-6, full line text) for each numbered national tariff line of chapters 01-97; [] if the file is absent.

    A line's full text is its own text preceded by its superior texts (the nearest rows above with a smaller indent),
    so "Other" under "Men's or boys' ; Of cotton" keeps its meaning.
    """
    if not path.is_file():
        return []
    lines: dict[str, str] = {}
    stack: list[tuple[int, str]] = []
    with path.open(encoding="utf-8", newline="") as fh:
        for row in csv.DictReader(fh):
            try:
                indent = int(row.get("indent") or 0)
            except ValueError:
                indent = 0
            while stack and stack[-1][0] >= indent:
                stack.pop()
            stack.append((indent, (row.get("description") or "").strip().rstrip(":")))
            code = (row.get("hts_number") or "").replace(".", "").strip()
            if len(code) >= 6 and code[:6].isdigit() and code[:2] < "98":
                text = " ; ".join(t for _, t in stack if t)
                lines.setdefault(text, code[:6])
    return [(hs6, text) for text, hs6 in lines.items()]
