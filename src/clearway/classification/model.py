"""The HS classifier: a lexical nearest-neighbour ensemble over labelled examples and tariff texts.

A description is compared (TF-IDF over words and character n-grams, cosine) with every labelled example and every
reference text (HS 2022 subheading texts and national tariff line texts). A subheading's score adds up, with explicit
weights, the best similarity found among the examples and among the reference texts of the subheading itself, of its
heading and of its chapter, so an unseen subheading of a well-known heading still ranks, and a code never seen in
training can be suggested from its tariff wording alone. Confidences are a softmax of the scores over all subheadings.
"""

from __future__ import annotations

import pickle
import re
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.preprocessing import normalize as l2_normalize
from sklearn.svm import LinearSVC

from clearway.classification.reference import Nomenclature
from clearway.classification.text import normalize

LEVELS = (6, 4, 2)
# Bumped whenever the saved artefact's layout changes, so a cached shipped model is rebuilt rather than misread.
MODEL_FORMAT = 2
_WORD = re.compile(r"[a-z0-9]{3,}")
_STOP = {
    "and",
    "the",
    "for",
    "with",
    "not",
    "other",
    "than",
    "whether",
    "their",
    "its",
    "nes",
    "excluding",
    "including",
    "parts",
    "thereof",
    "of",
    "or",
    "in",
    "kind",
    "used",
    "articles",
    "goods",
    "heading",
    "similar",
}


@dataclass(frozen=True)
class Params:
    """Every hyper-parameter of the classifier; saved with each model version."""

    word_ngrams: tuple[int, int] = (1, 2)
    char_ngrams: tuple[int, int] = (2, 5)
    char_min_df: int = 2
    # Weights of the best similarity among labelled examples at the subheading, heading and chapter level.
    # (The weights below were tuned by coordinate search on an inner 30 % split of the bench's training part only.)
    example_weights: tuple[float, float, float] = (0.56, 0.2, 0.1)
    # The same for reference texts (nomenclature and national tariff lines).
    reference_weights: tuple[float, float, float] = (1.2, 0.25, 0.0)
    # Weight of the summed (sim ** 3) votes of the examples of a subheading (rewards several agreeing examples).
    vote_weight: float = 0.45
    # Weight and regularisation of a linear (SVM) chapter classifier trained on the examples: it learns which words
    # (brands, shorthand) point to a chapter where the tariff's wording does not.
    chapter_model_weight: float = 0.2
    chapter_model_c: float = 0.5
    # Softmax temperature for confidences (12: lowest log-loss on the inner split with the weights above, mean top-1
    # confidence 0.35 for a top-1 accuracy of 0.34).
    temperature: float = 12.0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Params:
        known = {k: tuple(v) if isinstance(v, list) else v for k, v in data.items() if k in cls.__dataclass_fields__}
        return cls(**known)


@dataclass(frozen=True)
class Suggestion:
    hs_code: str
    confidence: float
    score: float
    why: tuple[str, ...]


@dataclass
class _Bank:
    """Texts of one kind (examples or reference texts), rows sorted by subheading so every level is contiguous."""

    matrix: sp.csr_matrix  # features x rows (transposed once, so a query multiplies without conversion)
    texts: list[str]
    class_index: np.ndarray  # row -> class index
    # per level: (starts of each run of equal codes, class-or-group index of each run)
    runs: dict[int, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)


def _format_code(hs6: str) -> str:
    return f"{hs6[:4]}.{hs6[4:]}"


class HSClassifier:
    """Suggests HS 2022 subheadings (6 digits) for a goods description."""

    def __init__(self, params: Params | None = None) -> None:
        self.params = params or Params()
        self.format = MODEL_FORMAT
        self.classes: list[str] = []
        self.metadata: dict[str, Any] = {}

    # ---------------------------------------------------------------- fitting
    def fit(
        self,
        examples: Sequence[tuple[str, str]],
        *,
        nomenclature: Nomenclature,
        tariff_lines: Sequence[tuple[str, str]] = (),
    ) -> HSClassifier:
        """Learns from (description, HS-6) examples plus the nomenclature and national tariff texts."""
        examples = [(d, c) for d, c in examples if d.strip() and len(c) == 6 and c.isdigit()]
        classes = sorted(set(nomenclature.subheadings) | {c for _, c in examples})
        self.classes = classes
        self._class_pos = {c: i for i, c in enumerate(classes)}
        self._groups = {}
        for level in LEVELS[1:]:
            keys = sorted({c[:level] for c in classes})
            pos = {k: i for i, k in enumerate(keys)}
            self._groups[level] = np.array([pos[c[:level]] for c in classes])
        references = [(nomenclature.path_text(c), c) for c in nomenclature.subheadings]
        references += [(text, c) for c, text in tariff_lines if c in self._class_pos]

        ex_norm = [normalize(d) for d, _ in examples]
        ref_norm = [normalize(t) for t, _ in references]
        p = self.params
        self._word = TfidfVectorizer(
            analyzer="word",
            ngram_range=p.word_ngrams,
            sublinear_tf=True,
            token_pattern=r"(?u)\b\w+\b",
            dtype=np.float32,
        )
        self._char = TfidfVectorizer(
            analyzer="char_wb", ngram_range=p.char_ngrams, sublinear_tf=True, min_df=p.char_min_df, dtype=np.float32
        )
        corpus = ex_norm + ref_norm
        self._word.fit(corpus)
        self._char.fit(corpus)
        self._examples = self._bank(ex_norm, [d for d, _ in examples], [c for _, c in examples])
        self._references = self._bank(ref_norm, [t for t, _ in references], [c for _, c in references])
        self._nomenclature_texts = {c: nomenclature.path_text(c) for c in classes}
        self._chapter_model = self._fit_chapter_model(ex_norm, [c for _, c in examples])
        return self

    def _fit_chapter_model(
        self, normalized: list[str], codes: list[str]
    ) -> tuple[sp.csr_matrix, np.ndarray, np.ndarray] | None:
        """(coefficients, features x chapters; intercepts; chapter column of each subheading or -1), or None."""
        chapters = sorted({c[:2] for c in codes})
        if not self.params.chapter_model_weight or len(chapters) < 3:
            return None
        svm = LinearSVC(C=self.params.chapter_model_c).fit(self._vectorize(normalized), [c[:2] for c in codes])
        pos = {c: i for i, c in enumerate(svm.classes_)}
        # Features absent from the examples get exactly zero weight: the coefficients store sparse and small.
        coef = sp.csr_matrix(svm.coef_.astype(np.float32).T)  # features x chapters
        intercept = svm.intercept_.astype(np.float32)
        columns = np.array([pos.get(c[:2], -1) for c in self.classes], dtype=np.int64)
        return coef, intercept, columns

    def _vectorize(self, normalized: Sequence[str]) -> sp.csr_matrix:
        both = sp.hstack([self._word.transform(normalized), self._char.transform(normalized)]).tocsr()
        return l2_normalize(both).astype(np.float32)

    def _bank(self, normalized: list[str], texts: list[str], codes: list[str]) -> _Bank:
        order = sorted(range(len(codes)), key=lambda i: codes[i])
        codes_sorted = [codes[i] for i in order]
        rows = self._vectorize([normalized[i] for i in order]) if order else sp.csr_matrix((0, self._dim()))
        matrix = rows.T.tocsr()
        class_index = np.array([self._class_pos[c] for c in codes_sorted], dtype=np.int64)
        bank = _Bank(matrix=matrix, texts=[texts[i] for i in order], class_index=class_index)
        for level in LEVELS:
            keys = [c[:level] for c in codes_sorted]
            starts = [i for i in range(len(keys)) if i == 0 or keys[i] != keys[i - 1]]
            if level == 6:
                groups = class_index[starts] if starts else np.array([], dtype=np.int64)
            else:
                groups = self._groups[level][class_index[starts]] if starts else np.array([], dtype=np.int64)
            bank.runs[level] = (np.array(starts, dtype=np.int64), np.asarray(groups, dtype=np.int64))
        return bank

    def _dim(self) -> int:
        return len(self._word.vocabulary_) + len(self._char.vocabulary_)

    # ---------------------------------------------------------------- scoring
    def _pooled(self, sims: np.ndarray, bank: _Bank, level: int) -> np.ndarray:
        """Best similarity per code of the given level, expanded to one column per subheading."""
        n_groups = len(self.classes) if level == 6 else int(self._groups[level].max()) + 1
        out = np.zeros((sims.shape[0], n_groups), dtype=np.float32)
        starts, groups = bank.runs[level]
        if len(starts):
            out[:, groups] = np.maximum.reduceat(sims, starts, axis=1)
        return out if level == 6 else out[:, self._groups[level]]

    def _score_batch(self, queries: sp.csr_matrix) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        p = self.params
        sim_ex = (queries @ self._examples.matrix).toarray()
        sim_ref = (queries @ self._references.matrix).toarray()
        scores = np.zeros((queries.shape[0], len(self.classes)), dtype=np.float32)
        for level, we, wr in zip(LEVELS, p.example_weights, p.reference_weights, strict=True):
            if we and self._examples.matrix.shape[1]:
                scores += we * self._pooled(sim_ex, self._examples, level)
            if wr and self._references.matrix.shape[1]:
                scores += wr * self._pooled(sim_ref, self._references, level)
        if self._chapter_model is not None:
            coef, intercept, columns = self._chapter_model
            decision = (queries @ coef).toarray() + intercept
            scores += p.chapter_model_weight * np.where(columns >= 0, decision[:, np.maximum(columns, 0)], -1.0)
        if p.vote_weight and self._examples.matrix.shape[1]:
            starts, groups = self._examples.runs[6]
            votes = np.add.reduceat(sim_ex**3, starts, axis=1)
            scores[:, groups] += p.vote_weight * votes
        return scores, sim_ex, sim_ref

    def scores(self, descriptions: Sequence[str], *, batch_size: int = 256) -> np.ndarray:
        """Scores (one row per description, one column per subheading in `classes`)."""
        out = []
        for start in range(0, len(descriptions), batch_size):
            batch = [normalize(d) for d in descriptions[start : start + batch_size]]
            out.append(self._score_batch(self._vectorize(batch))[0])
        return np.vstack(out) if out else np.zeros((0, len(self.classes)), dtype=np.float32)

    def rank(self, descriptions: Sequence[str], *, limit: int = 5) -> list[list[str]]:
        """The `limit` best subheadings for each description, best first."""
        scores = self.scores(descriptions)
        return [[self.classes[j] for j in _top(row, limit)] for row in scores]

    def suggest(self, description: str, *, limit: int = 5) -> list[Suggestion]:
        """The `limit` best subheadings for one description, with confidence and reasons."""
        queries = self._vectorize([normalize(description)])
        scores, sim_ex, sim_ref = self._score_batch(queries)
        row = scores[0]
        if not queries.nnz:
            return []
        shifted = np.exp((row - row.max()) * self.params.temperature)
        probabilities = shifted / shifted.sum()
        query_words = set(_WORD.findall(normalize(description))) - _STOP
        out = []
        for j in _top(row, limit):
            code = self.classes[j]
            why = self._why(code, j, query_words, sim_ex[0], sim_ref[0])
            out.append(
                Suggestion(
                    hs_code=code, confidence=round(float(probabilities[j]), 4), score=float(row[j]), why=tuple(why)
                )
            )
        return out

    def _why(self, code: str, j: int, query_words: set[str], sim_ex: np.ndarray, sim_ref: np.ndarray) -> list[str]:
        reasons = []
        for bank, sims, label in (
            (self._examples, sim_ex, "training example"),
            (self._references, sim_ref, "tariff text"),
        ):
            rows = np.flatnonzero(bank.class_index == j)
            if len(rows):
                best = rows[int(np.argmax(sims[rows]))]
                if sims[best] >= 0.25:
                    text = bank.texts[best]
                    text = text if len(text) <= 90 else "…" + text[-89:]
                    reasons.append(f"matched {label} '{text}' ({_format_code(code)}, similarity {sims[best]:.2f})")
        nomenclature_words = set(_WORD.findall(normalize(self._nomenclature_texts.get(code, ""))))
        shared = sorted(w for w in query_words if w in nomenclature_words or w.rstrip("s") in nomenclature_words)
        if shared:
            reasons.append("nomenclature words: " + ", ".join(shared))
        if not reasons:
            reasons.append(f"closest heading {code[:4]} by the words of the description")
        return reasons

    # ---------------------------------------------------------------- persistence
    def save(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        with (directory / "model.pkl").open("wb") as fh:
            pickle.dump(self, fh, protocol=pickle.HIGHEST_PROTOCOL)

    @staticmethod
    def load(directory: Path) -> HSClassifier:
        # Only artefacts this installation wrote itself are loaded (the registry directory is trusted).
        with (directory / "model.pkl").open("rb") as fh:
            model = pickle.load(fh)
        if not isinstance(model, HSClassifier) or getattr(model, "format", None) != MODEL_FORMAT:
            raise TypeError(f"{directory} does not hold an HS classifier of format {MODEL_FORMAT}")
        return model


def _top(row: np.ndarray, limit: int) -> list[int]:
    limit = min(limit, len(row))
    idx = np.argpartition(-row, limit - 1)[:limit]
    return [int(i) for i in idx[np.argsort(-row[idx], kind="stable")]]


def hs_accuracy(ranked: Iterable[Sequence[str]], truth: Iterable[str]) -> dict[str, float]:
    """Top-1 / top-5 accuracy at HS-6, HS-4 and HS-2 (HS-4/HS-2 read from the ranked HS-6 list)."""
    counts = {f"hs{level}_top{k}": 0 for level in LEVELS for k in (1, 5)}
    n = 0
    for codes, true in zip(ranked, truth, strict=True):
        n += 1
        for level in LEVELS:
            prefixes = [c[:level] for c in codes[:5]]
            counts[f"hs{level}_top1"] += bool(prefixes) and prefixes[0] == true[:level]
            counts[f"hs{level}_top5"] += true[:level] in prefixes
    return {key: round(value / n, 4) if n else 0.0 for key, value in counts.items()}
