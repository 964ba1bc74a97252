"""The HS classifier: candidates from words and meaning, ordered by a ranker learned from the labelled examples.

1. Evidence. A description is compared with every labelled example and every reference text (HS 2022 subheading
   texts and national tariff line texts) in two ways: by its words (TF-IDF over words and character n-grams, cosine)
   and by its meaning (sentence embeddings, see `semantic`). For each subheading the best similarity among the texts
   of the subheading itself, of its heading and of its chapter is kept, so an unseen subheading of a well-known
   heading still ranks and a code never seen in training can be suggested from its tariff wording alone. The
   subheading's own text is also compared alone, as it is what tells siblings apart. What WordNet says the
   description's nouns are ("euphonium": a bass horn, a brass instrument) is compared with the same texts by its
   words, so the tariff's wording is found for a word it does not use (see `lexicon`). The goods index names the
   headings of goods the tariff's words do not ("kayak": 8903, see `goods_index`). A linear chapter classifier on
   the examples, a logistic heading classifier on their meaning, votes of agreeing examples and how often each code
   occurs in the examples complete the evidence.
2. Candidates. A weighted sum of the evidence picks the `candidates` most likely subheadings.
3. Ranking. A LightGBM ranker (LambdaRank) orders the candidates. It is trained on the examples themselves, each fold
   of them scored by evidence built from the other folds only, so it learns how much each kind of evidence is worth
   on descriptions it has not seen. Confidences are a softmax of the ranker's scores, its temperature fitted so that
   the stated confidence of the first suggestion matches how often it is right.
With too few examples for a ranker, the weighted sum orders the candidates itself.
"""

from __future__ import annotations

import functools
import pickle
import re
from collections import Counter
from collections.abc import Callable, Iterable, Sequence, Set
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import lightgbm as lgb
import numpy as np
import scipy.sparse as sp
from scipy.special import softmax
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import normalize as l2_normalize
from sklearn.svm import LinearSVC

from clearway.classification.abbreviations import Abbreviations
from clearway.classification.glossary import NO_GLOSSARY, Glossary, GlossaryEntry, load_glossary
from clearway.classification.goods_index import NO_INDEX, GoodsIndex, IndexEntry, load_goods_index
from clearway.classification.lexicon import NO_LEXICON, Lexicon, Match, load_lexicon
from clearway.classification.reference import Nomenclature
from clearway.classification.semantic import MODEL_ID, SentenceEncoder, TunedEncoder, get_encoder, tune_encoder
from clearway.classification.text import for_encoder, normalize, stem

LEVELS = (6, 4, 2)
# Bumped whenever the saved artefact's layout changes, so a cached shipped model is rebuilt rather than misread.
MODEL_FORMAT = 13
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
    # Weights of the best word similarity among labelled examples at the subheading, heading and chapter level.
    # (These weights were tuned by coordinate search on an inner 30 % split of the bench's training part only.)
    example_weights: tuple[float, float, float] = (0.56, 0.2, 0.1)
    # The same for reference texts (nomenclature and national tariff lines).
    reference_weights: tuple[float, float, float] = (1.2, 0.25, 0.0)
    # Weight of the summed (sim ** 3) votes of the examples of a subheading (rewards several agreeing examples).
    vote_weight: float = 0.45
    # Weight and regularisation of a linear (SVM) chapter classifier trained on the examples: it learns which words
    # (brands, shorthand) point to a chapter where the tariff's wording does not.
    chapter_model_weight: float = 0.2
    chapter_model_c: float = 0.5
    # Regularisation of a logistic heading classifier on the meaning of the examples (0: not trained). Its
    # probability of each candidate's heading and chapter are ranker features. (C 1, 4 and 16 were benched on two
    # splits; 4 was best on both.)
    heading_model_c: float = 4.0
    # Sentence embeddings (meaning): used at all, and their weight in picking candidates.
    semantic: bool = True
    semantic_weight: float = 1.0
    # What WordNet says the description's nouns are, compared with the examples and tariff texts by its words.
    lexicon: bool = True
    # Features of WordNet's texts found in more of the examples and reference texts than this are left out.
    lexicon_max_texts: int = 1000
    # Shorthand read as the tariff's words ("sntry twls": sanitary towels, a last word cut short: "trous").
    abbreviations: bool = True
    # Trade names read as the goods they are ("amstel": beer made from malt), see `glossary`.
    glossary: bool = True
    # What shops call goods the tariff names otherwise ("hoodie", "power bank", "trainers"), in the same glossary.
    shop_words: bool = True
    # The goods index: goods names and the headings they are classified in ("kayak": 8903), see `goods_index`. Its
    # headings for the description's terms, and for its head term apart, are ranker features; `goods_index_weight`
    # is their weight in picking candidates (0, 1 and 2 were benched; 1 was best).
    goods_index: bool = True
    goods_index_weight: float = 1.0
    # Tuning the encoder on the examples (0 epochs: the encoder as shipped). Descriptions are pulled towards their
    # subheading's prototype by a softmax over all subheadings; `tune_scale` sharpens that softmax.
    tune_epochs: int = 3
    tune_learning_rate: float = 5e-5
    tune_batch: int = 32
    tune_scale: float = 20.0
    tune_max_length: int = 32
    tune_min_examples: int = 200
    # How many subheadings the ranker orders for each description (the true code is among the first 100 for 85 %
    # of the bench's descriptions).
    candidates: int = 100
    # The learned ranker: used when there are at least `ranker_min_examples` examples.
    ranker: bool = True
    ranker_min_examples: int = 200
    ranker_folds: int = 4
    ranker_trees: int = 300
    ranker_learning_rate: float = 0.05
    ranker_leaves: int = 31
    # Rankers trained with different seeds whose scores are averaged (three: about +0.5 point HS-6 top-1, steadier).
    ranker_bag: int = 3
    # The first `heading_reorder` suggestions (the same set as the ranker's) re-ordered by the ranker's score plus
    # `heading_weight` times that of a second ranker, trained on the same features, that scores whether the
    # candidate lies in the right heading (4 digits): it puts the right heading first more often without changing
    # which codes are suggested. 0: not trained.
    heading_weight: float = 0.5
    heading_reorder: int = 5
    seed: int = 13
    # Softmax temperature for confidences without a ranker (with one, the temperature is fitted).
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

    matrix: sp.csr_matrix | None  # word features x rows (transposed once, so a query multiplies without conversion)
    vectors: np.ndarray | None  # rows x embedding dimensions (meaning), or None
    texts: list[str]
    class_index: np.ndarray  # row -> class index
    # per level: (starts of each run of equal codes, class-or-group index of each run)
    runs: dict[int, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)

    @property
    def size(self) -> int:
        return len(self.texts)


@dataclass
class _Evidence:
    """Everything known about a batch of descriptions: per-class evidence and the raw similarities (for reasons)."""

    normalized: list[str]
    columns: dict[str, np.ndarray]  # evidence name -> (descriptions x classes)
    sim_ex: np.ndarray
    sim_ref: np.ndarray
    sem_ex: np.ndarray
    sem_ref: np.ndarray
    queries: sp.csr_matrix  # word features of each description
    vectors: np.ndarray | None  # meaning of each description
    nouns: list[list[Match]]  # the WordNet nouns of each description
    expansions: list[str]  # what WordNet says they are, normalized ("" if nothing)
    sim_lexicon_ref: np.ndarray  # word similarity of each expansion to each reference text
    indexed: list[list[IndexEntry]]  # the goods index's terms of each description


@dataclass(frozen=True)
class _HeadingModel:
    """A logistic heading classifier on the meaning of the examples: it reads a description's vector as a whole,
    where the nearest examples (`knn4`) and prototypes vote only by how close they are."""

    weights: np.ndarray  # dimensions x headings seen in the examples
    intercept: np.ndarray  # headings
    heading_of_class: np.ndarray  # subheading -> its heading's column, or -1 for a heading without examples
    chapter_of_heading: np.ndarray  # headings x chapters (of all subheadings), one 1 per row


# The ranker's features, in order: the evidence columns, then what is computed per candidate list.
EVIDENCE = (
    "ex6",
    "ex4",
    "ex2",
    "ref6",
    "ref4",
    "ref2",
    "chapter_model",
    "votes",
    "lexical",
    "sem_ex6",
    "sem_ex4",
    "sem_ex2",
    "sem_ref6",
    "sem_ref4",
    "sem_ref2",
    "knn6",
    "knn4",
    "candidate",
    "lexicon_ref6",
    "lexicon_ref4",
    "lexicon_ref2",
    "lexicon_ex6",
    "lexicon_ex4",
    "lexicon_found",
    "heading_model4",
    "heading_model2",
    "index4",
    "index_head4",
    "index2",
)
CANDIDATE_FEATURES = (
    "examples6",
    "examples4",
    "examples2",
    "position",
    "gap",
    "heading_agreement",
    "chapter_agreement",
    "query_words",
    "word_coverage",
    "residual_other",
    "residual_nec",
    "own_words",
    "own_coverage",
    "own_meaning",
    "own_meaning_in_heading",
)
_NEIGHBOURS = 10  # examples nearest in meaning that vote (softmax-weighted) for their subheading and heading


def _tfidf(vectorizer: TfidfVectorizer, texts: Sequence[str]) -> sp.csr_matrix:
    """`vectorizer.transform(texts)` for a fitted sublinear, L2-normed vectorizer, from its own analyzer, vocabulary
    and idf weights: sklearn's input checks cost milliseconds per call, and suggesting calls this for one short
    description at a time."""
    analyze, vocabulary = vectorizer.build_analyzer(), vectorizer.vocabulary_
    indptr, columns, counts = [0], [], []
    for text in texts:
        found = sorted(Counter(j for j in map(vocabulary.get, analyze(text)) if j is not None).items())
        columns += [j for j, _ in found]
        counts += [n for _, n in found]
        indptr.append(len(columns))
    matrix = sp.csr_matrix(
        (
            (1.0 + np.log(np.array(counts, dtype=np.float64))) * vectorizer.idf_[columns],
            np.array(columns, dtype=np.int32),
            np.array(indptr),
        ),
        shape=(len(texts), len(vocabulary)),
    )
    return _unit_rows(matrix)


def _unit_rows(matrix: sp.csr_matrix) -> sp.csr_matrix:
    """A float32 copy with each row scaled to unit length (rows of zeros stay zeros)."""
    out = matrix.astype(np.float32)  # a copy
    lengths = np.diff(out.indptr)
    squares = np.bincount(
        np.repeat(np.arange(out.shape[0]), lengths), weights=out.data.astype(np.float64) ** 2, minlength=out.shape[0]
    )
    norms = np.sqrt(squares)
    out.data *= np.repeat(np.divide(1.0, norms, out=np.zeros_like(norms), where=norms > 0), lengths).astype(np.float32)
    return out


def _format_code(hs6: str) -> str:
    return f"{hs6[:4]}.{hs6[4:]}"


class HSClassifier:
    """Suggests HS 2022 subheadings (6 digits) for a goods description."""

    def __init__(self, params: Params | None = None) -> None:
        self.params = params or Params()
        self.format = MODEL_FORMAT
        self.classes: list[str] = []
        self.metadata: dict[str, Any] = {}
        self.encoder_id: str | None = None
        self._query_encoder: TunedEncoder | None = None
        self._ranker: list[lgb.Booster] | None = None
        self._heading_ranker: list[lgb.Booster] | None = None
        self._ranker_temperature = 1.0

    # ---------------------------------------------------------------- fitting
    def fit(
        self,
        examples: Sequence[tuple[str, str]],
        *,
        nomenclature: Nomenclature,
        tariff_lines: Sequence[tuple[str, str]] = (),
        encoder: SentenceEncoder | None = None,
        cache_dir: Path | None = None,
        progress: Callable[[str], None] | None = None,
    ) -> HSClassifier:
        """Learns from (description, HS-6) examples plus the nomenclature and national tariff texts."""
        say = progress or (lambda message: None)
        p = self.params
        examples = [(d, c) for d, c in examples if d.strip() and len(c) == 6 and c.isdigit()]
        classes = sorted(set(nomenclature.subheadings) | {c for _, c in examples})
        self.classes = classes
        self._class_pos = {c: i for i, c in enumerate(classes)}
        self._groups = {}
        for level in LEVELS[1:]:
            keys = sorted({c[:level] for c in classes})
            pos = {k: i for i, k in enumerate(keys)}
            self._groups[level] = np.array([pos[c[:level]] for c in classes])
        # Heading (4 digits) and chapter (2) -> the indices of their subheadings, for the goods index's evidence.
        in_group: dict[str, list[int]] = {}
        for j, code in enumerate(classes):
            in_group.setdefault(code[:4], []).append(j)
            in_group.setdefault(code[:2], []).append(j)
        self._classes_of = {key: np.array(js) for key, js in in_group.items()}
        references = [(nomenclature.path_text(c), c) for c in nomenclature.subheadings]
        references += [(text, c) for c, text in tariff_lines if c in self._class_pos]

        say(f"reading {len(references):,} tariff texts and {len(examples):,} examples")
        ref_norm = [normalize(t) for t, _ in references]
        # What shorthand can stand for: the tariff's words (the examples' own shorthand is theirs to learn).
        self._abbreviations = Abbreviations.build(ref_norm) if p.abbreviations else None
        ex_norm = [self._read(d) for d, _ in examples]
        self._word = TfidfVectorizer(
            analyzer="word",
            ngram_range=p.word_ngrams,
            sublinear_tf=True,
            tokenizer=_stemmed_words,  # "shirt" meets the tariff's "shirts", "whisky" its "whiskies"
            token_pattern=None,
            lowercase=False,
            dtype=np.float32,
        )
        self._char = TfidfVectorizer(
            analyzer="char_wb", ngram_range=p.char_ngrams, sublinear_tf=True, min_df=p.char_min_df, dtype=np.float32
        )
        corpus = ex_norm + ref_norm
        both = sp.hstack([self._word.fit_transform(corpus), self._char.fit_transform(corpus)]).tocsr()
        ref_rows = l2_normalize(both[len(ex_norm) :]).astype(np.float32)  # vectorized once, with the fit
        document_frequency = np.bincount(both.indices, minlength=both.shape[1])
        self._distinctive = (document_frequency <= p.lexicon_max_texts).astype(np.float32)
        self._references = self._bank([t for t, _ in references], [c for _, c in references], ref_rows, None)
        self._nomenclature_texts = {c: nomenclature.path_text(c) for c in classes}
        # Per subheading: the words of its nomenclature path (for word coverage) and whether it is a residual code.
        self._class_words = [_content_words(nomenclature.path_text(c)) for c in classes]
        own = [nomenclature.text(c).strip().lower() for c in classes]
        # A subheading's own text tells it from its siblings (the path texts of siblings share all but it).
        self._own_words = [_content_words(t) for t in own]
        self._own_matrix = self._vectorize([normalize(t) for t in own]).T.tocsr()
        self._own_vectors = None
        self._residual = (
            np.array([t.startswith("other") for t in own], dtype=np.float32),
            np.array([("n.e.c" in t) or ("not elsewhere" in t) for t in own], dtype=np.float32),
        )

        self._semantic_references = None
        self._query_encoder = None
        fold_of = _folds(len(examples), max(2, p.ranker_folds), p.seed)
        fold_vectors: Callable[[int], np.ndarray | None] = lambda fold: None  # noqa: E731
        example_vectors = None
        if p.semantic:
            encoder = encoder or get_encoder()
            self.encoder_id = MODEL_ID
            # The meaning of each subheading: its full path text, its own text and the mean of the two (its
            # prototype: the path alone is dominated by the chapter's words, the own text alone is often "Other").
            # National tariff lines add nothing measurable here and would cost minutes of encoding.
            say(f"encoding the meaning of {2 * len(classes):,} nomenclature texts")
            paths = [nomenclature.path_text(c) or c for c in classes]
            path_vectors = encoder.encode_cached(paths, cache_dir)
            own_vectors = encoder.encode_cached([nomenclature.text(c) or c for c in classes], cache_dir)
            prototypes = l2_normalize(path_vectors + own_vectors).astype(np.float32)
            self._own_vectors = own_vectors  # float32, as encoded
            listed = [i for i, c in enumerate(classes) if c in nomenclature]
            self._semantic_references = self._bank(
                [paths[i] for i in listed] * 2 + [nomenclature.text(classes[i]) for i in listed],
                [classes[i] for i in listed] * 3,
                None,
                np.vstack([path_vectors[listed], prototypes[listed], own_vectors[listed]]),
            )
            descriptions = [self._encoder_text(d) for d, _ in examples]
            if p.tune_epochs and len(examples) >= p.tune_min_examples:
                labels = np.array([self._class_pos[c] for _, c in examples], dtype=np.int64)
                tune = functools.partial(self._tune, descriptions, labels, prototypes, say=say)
                # The ranker learns from folds whose descriptions the encoder never saw: one encoder per half of the
                # folds, each tuned on the other half, then the final encoder on all examples.
                halves = [tune(np.flatnonzero(fold_of % 2 != half), f"half {half + 1} of 2") for half in range(2)]
                fold_vectors = lambda fold: halves[fold % 2].encode(descriptions)  # noqa: E731
                self._query_encoder = tune(np.arange(len(examples)), "all examples")
                example_vectors = self._query_encoder.encode(descriptions)
            else:
                say(f"encoding the meaning of {len(examples):,} examples")
                example_vectors = encoder.encode(descriptions)
                fold_vectors = lambda fold: example_vectors  # noqa: E731

        self._ranker = None
        self._heading_ranker = None
        if p.ranker and len(examples) >= p.ranker_min_examples:
            self._fit_ranker(examples, ex_norm, fold_of, fold_vectors, say)
        self._use_examples(examples, ex_norm, example_vectors, np.arange(len(examples)))
        return self

    def _tune(
        self,
        descriptions: list[str],
        labels: np.ndarray,
        prototypes: np.ndarray,
        rows: np.ndarray,
        label: str,
        *,
        say: Callable[[str], None],
    ) -> TunedEncoder:
        """An encoder tuned on the given rows of the examples."""
        p = self.params
        total, done, shown = len(rows) * p.tune_epochs, [0], [-1]

        def step(n: int) -> None:
            done[0] += n
            percent = 100 * done[0] // total
            if percent // 10 != shown[0]:
                shown[0] = percent // 10
                say(f"tuning the encoder on {label} ({len(rows):,} examples, {p.tune_epochs} passes): {percent}%")

        step(0)
        return tune_encoder(
            [descriptions[i] for i in rows],
            labels[rows],
            prototypes,
            epochs=p.tune_epochs,
            learning_rate=p.tune_learning_rate,
            batch_size=p.tune_batch,
            scale=p.tune_scale,
            max_length=p.tune_max_length,
            seed=p.seed,
            progress=step,
        )

    def _use_examples(self, examples, normalized, vectors, rows: np.ndarray) -> None:
        """Builds everything learned from the examples, from the given rows of them only."""
        chosen = [examples[i] for i in rows]
        codes = [c for _, c in chosen]
        matrix = self._vectorize([normalized[i] for i in rows]) if len(rows) else None
        self._examples = self._bank(
            [d for d, _ in chosen], codes, matrix, vectors[rows] if vectors is not None else None
        )
        self._chapter_model = self._fit_chapter_model(matrix, codes)
        self._heading_model = self._fit_heading_model(vectors[rows] if vectors is not None else None, codes)
        counts = {}
        for level in LEVELS:
            seen: dict[str, int] = {}
            for code in codes:
                seen[code[:level]] = seen.get(code[:level], 0) + 1
            counts[level] = np.log1p(np.array([seen.get(c[:level], 0) for c in self.classes], dtype=np.float32))
        self._example_counts = counts

    def _fit_heading_model(self, vectors: np.ndarray | None, codes: list[str]) -> _HeadingModel | None:
        """A logistic heading classifier on the meaning of the examples (None without meaning, or with fewer than two
        examples per heading: then each heading is learned from a single vector)."""
        seen = len({c[:4] for c in codes})
        if vectors is None or not self.params.heading_model_c or seen < 3 or len(codes) < 2 * seen:
            return None
        classifier = LogisticRegression(C=self.params.heading_model_c, max_iter=300)
        classifier.fit(vectors, [c[:4] for c in codes])
        pos = {h: i for i, h in enumerate(classifier.classes_)}
        heading_of_class = np.array([pos.get(c[:4], -1) for c in self.classes], dtype=np.int64)
        # Each heading's chapter column, read from the subheadings' chapter groups.
        known = heading_of_class >= 0
        chapter_of_heading = np.zeros((seen, int(self._groups[2].max()) + 1), dtype=np.float32)
        chapter_of_heading[heading_of_class[known], self._groups[2][known]] = 1.0
        return _HeadingModel(
            classifier.coef_.T.astype(np.float32),
            classifier.intercept_.astype(np.float32),
            heading_of_class,
            chapter_of_heading,
        )

    def _fit_chapter_model(
        self, matrix: sp.csr_matrix | None, codes: list[str]
    ) -> tuple[sp.csr_matrix, np.ndarray, np.ndarray] | None:
        """(coefficients, features x chapters; intercepts; chapter column of each subheading or -1), or None."""
        chapters = sorted({c[:2] for c in codes})
        if matrix is None or not self.params.chapter_model_weight or len(chapters) < 3:
            return None
        svm = LinearSVC(C=self.params.chapter_model_c, random_state=self.params.seed)
        svm.fit(matrix, [c[:2] for c in codes])
        pos = {c: i for i, c in enumerate(svm.classes_)}
        # Features absent from the examples get exactly zero weight: the coefficients store sparse and small.
        coef = sp.csr_matrix(svm.coef_.astype(np.float32).T)  # features x chapters
        intercept = svm.intercept_.astype(np.float32)
        columns = np.array([pos.get(c[:2], -1) for c in self.classes], dtype=np.int64)
        return coef, intercept, columns

    def _fit_ranker(
        self,
        examples,
        normalized,
        fold_of: np.ndarray,
        fold_vectors: Callable[[int], np.ndarray | None],
        say: Callable[[str], None],
    ) -> None:
        """Trains the ranker on the examples, each fold scored with evidence built from the other folds only (and
        with the meaning given by an encoder that never saw the fold)."""
        p = self.params
        folds = int(fold_of.max()) + 1
        features, labels, heading_labels, groups = [], [], [], []
        for fold in range(folds):
            say(f"learning the ranker: fold {fold + 1} of {folds}")
            held_out = np.flatnonzero(fold_of == fold)
            vectors = fold_vectors(fold)
            self._use_examples(examples, normalized, vectors, np.flatnonzero(fold_of != fold))
            evidence = self._evidence(
                [normalized[i] for i in held_out],
                vectors[held_out] if vectors is not None else None,
                [examples[i][0] for i in held_out],
            )
            candidates, matrix = self._candidates(evidence)
            for row, i in enumerate(held_out):
                truth = self._class_pos[examples[i][1]]
                features.append(matrix[row])
                labels.append((candidates[row] == truth).astype(np.int32))
                heading_labels.append((self._groups[4][candidates[row]] == self._groups[4][truth]).astype(np.int32))
                groups.append(len(candidates[row]))
        X = np.vstack(features)
        y = np.concatenate(labels)
        bag = max(1, p.ranker_bag)
        say(f"learning the ranker: fitting {bag} rankers")
        self._ranker = [self._fit_lambdarank(X, y, groups, p.seed + member) for member in range(bag)]
        if p.heading_weight:
            say(f"learning the ranker: fitting {bag} heading rankers")
            heading_y = np.concatenate(heading_labels)
            self._heading_ranker = [
                self._fit_lambdarank(X, heading_y, groups, p.seed + 100 + member) for member in range(bag)
            ]
        # The temperature that makes the first suggestion's confidence match how often it is right (out of fold).
        n, k = len(groups), X.shape[0] // len(groups)
        order, scores = self._final_order(X.reshape(n, k, X.shape[1]))
        labels_in_order = np.take_along_axis(y.reshape(n, k), order, axis=1)
        self._ranker_temperature = _fit_temperature(list(zip(scores, labels_in_order, strict=True)))

    def _fit_lambdarank(self, X: np.ndarray, y: np.ndarray, groups: list[int], seed: int) -> lgb.Booster:
        p = self.params
        ranker = lgb.LGBMRanker(
            objective="lambdarank",
            n_estimators=p.ranker_trees,
            learning_rate=p.ranker_learning_rate,
            num_leaves=p.ranker_leaves,
            min_child_samples=20,
            subsample=0.8,
            subsample_freq=1,
            colsample_bytree=0.8,
            lambdarank_truncation_level=10,
            random_state=seed,
            n_jobs=2,
            verbose=-1,
        )
        ranker.fit(X, y, group=groups)
        return ranker.booster_

    def _vectorize(self, normalized: Sequence[str]) -> sp.csr_matrix:
        """Word and character TF-IDF side by side, each row of unit length (float32)."""
        both = sp.hstack([_tfidf(self._word, normalized), _tfidf(self._char, normalized)], format="csr")
        return _unit_rows(both)

    def _bank(
        self, texts: list[str], codes: list[str], rows: sp.csr_matrix | None, vectors: np.ndarray | None
    ) -> _Bank:
        order = sorted(range(len(codes)), key=lambda i: codes[i])
        codes_sorted = [codes[i] for i in order]
        class_index = np.array([self._class_pos[c] for c in codes_sorted], dtype=np.int64)
        bank = _Bank(
            matrix=rows[order].T.tocsr() if rows is not None and order else None,
            vectors=np.ascontiguousarray(vectors[order], dtype=np.float32) if vectors is not None and order else None,
            texts=[texts[i] for i in order],
            class_index=class_index,
        )
        for level in LEVELS:
            keys = [c[:level] for c in codes_sorted]
            starts = [i for i in range(len(keys)) if i == 0 or keys[i] != keys[i - 1]]
            if level == 6:
                groups = class_index[starts] if starts else np.array([], dtype=np.int64)
            else:
                groups = self._groups[level][class_index[starts]] if starts else np.array([], dtype=np.int64)
            bank.runs[level] = (np.array(starts, dtype=np.int64), np.asarray(groups, dtype=np.int64))
        return bank

    # ---------------------------------------------------------------- evidence
    def _pooled(self, sims: np.ndarray, bank: _Bank | None, level: int) -> np.ndarray:
        """Best similarity per code of the given level, expanded to one column per subheading (zeros without
        similarities)."""
        if bank is None or not sims.shape[1]:
            return np.zeros((sims.shape[0], len(self.classes)), dtype=np.float32)
        n_groups = len(self.classes) if level == 6 else int(self._groups[level].max()) + 1
        out = np.zeros((sims.shape[0], n_groups), dtype=np.float32)
        starts, groups = bank.runs[level]
        if len(starts):
            out[:, groups] = np.maximum.reduceat(sims, starts, axis=1)
        return out if level == 6 else out[:, self._groups[level]]

    @staticmethod
    def _meaning(n: int, vectors: np.ndarray | None, bank: _Bank | None) -> np.ndarray:
        """Cosine similarity in meaning of each of n descriptions to each text of the bank (no columns without
        vectors)."""
        if vectors is None or bank is None or bank.vectors is None:
            return np.zeros((n, 0), dtype=np.float32)
        return vectors @ bank.vectors.T

    def _evidence(self, normalized: list[str], vectors: np.ndarray | None, descriptions: Sequence[str]) -> _Evidence:
        """The evidence for each normalized description (as `_read` gives it), with its meaning; `descriptions`, as
        written, tell the goods index where the first part ends (the normalized text has lost its commas)."""
        p = self.params
        queries = self._vectorize(normalized)
        n, width = len(normalized), len(self.classes)
        empty = np.zeros((n, 0), dtype=np.float32)
        sim_ex = (queries @ self._examples.matrix).toarray() if self._examples.matrix is not None else empty
        sim_ref = (queries @ self._references.matrix).toarray() if self._references.matrix is not None else empty
        columns: dict[str, np.ndarray] = {}
        lexical = np.zeros((n, width), dtype=np.float32)
        for level, we, wr in zip(LEVELS, p.example_weights, p.reference_weights, strict=True):
            columns[f"ex{level}"] = self._pooled(sim_ex, self._examples, level)
            columns[f"ref{level}"] = self._pooled(sim_ref, self._references, level)
            lexical += we * columns[f"ex{level}"] + wr * columns[f"ref{level}"]
        chapter = np.full((n, width), -1.0, dtype=np.float32)
        if self._chapter_model is not None:
            coef, intercept, cols = self._chapter_model
            decision = (queries @ coef).toarray() + intercept
            chapter = np.where(cols >= 0, decision[:, np.maximum(cols, 0)], -1.0).astype(np.float32)
            lexical += p.chapter_model_weight * chapter
        votes = np.zeros((n, width), dtype=np.float32)
        if sim_ex.shape[1]:
            starts, groups = self._examples.runs[6]
            votes[:, groups] = np.add.reduceat(sim_ex**3, starts, axis=1)
        lexical += p.vote_weight * votes
        columns.update(chapter_model=chapter, votes=votes, lexical=lexical)
        candidate = lexical.copy()
        sem_ex = self._meaning(n, vectors, self._examples)
        sem_ref = self._meaning(n, vectors, self._semantic_references)
        for level in LEVELS:
            columns[f"sem_ex{level}"] = self._pooled(sem_ex, self._examples, level)
            columns[f"sem_ref{level}"] = self._pooled(sem_ref, self._semantic_references, level)
        columns["knn6"], columns["knn4"] = self._neighbour_votes(sem_ex, self._examples)
        columns["heading_model4"], columns["heading_model2"] = self._heading_model_evidence(n, vectors)
        indexed = self._index_evidence(normalized, descriptions, columns)
        candidate += p.goods_index_weight * columns["index4"]
        if vectors is not None:
            candidate += p.semantic_weight * (columns["sem_ref6"] + columns["sem_ex6"] + 0.5 * columns["sem_ex4"])
        columns["candidate"] = candidate
        nouns, expansions, sim_lexicon_ref = self._lexicon_evidence(normalized, columns)
        return _Evidence(
            normalized=normalized,
            columns=columns,
            sim_ex=sim_ex,
            sim_ref=sim_ref,
            sem_ex=sem_ex,
            sem_ref=sem_ref,
            queries=queries,
            vectors=vectors,
            nouns=nouns,
            expansions=expansions,
            sim_lexicon_ref=sim_lexicon_ref,
            indexed=indexed,
        )

    def _index_evidence(
        self, normalized: list[str], descriptions: Sequence[str], columns: dict[str, np.ndarray]
    ) -> list[list[IndexEntry]]:
        """Adds the goods index's word for each candidate's heading to the columns: 1 for the first heading a term of
        the description is classified in, 0.5 for its others (`index4`; `index_head4` for the head term alone,
        `index2` for their chapters); returns each description's terms."""
        n, width = len(normalized), len(self.classes)
        index = self._goods_index()
        columns.update({name: np.zeros((n, width), dtype=np.float32) for name in ("index4", "index_head4", "index2")})
        out = []
        for row, text in enumerate(normalized):
            entries = [entry for _, entry in index.matches(text)]
            out.append(entries)
            if not entries:
                continue
            head = index.head(descriptions[row])
            chapters: dict[str, float] = {}
            for heading, weight in _heading_weights(entries).items():
                if heading in self._classes_of:
                    columns["index4"][row, self._classes_of[heading]] = weight
                    chapters[heading[:2]] = max(chapters.get(heading[:2], 0.0), weight)
            for heading, weight in _heading_weights([head] if head in entries else []).items():
                if heading in self._classes_of:
                    columns["index_head4"][row, self._classes_of[heading]] = weight
            for chapter, weight in chapters.items():
                columns["index2"][row, self._classes_of[chapter]] = weight
        return out

    def _goods_index(self) -> GoodsIndex:
        return load_goods_index() if self.params.goods_index else NO_INDEX

    def _heading_model_evidence(self, n: int, vectors: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
        """The heading classifier's probability of each subheading's heading, and of its chapter (the sum over the
        chapter's headings), for n descriptions; zeros without the classifier."""
        classifier = self._heading_model
        if vectors is None or classifier is None:
            zeros = np.zeros((n, len(self.classes)), dtype=np.float32)
            return zeros, zeros
        probabilities = softmax(vectors @ classifier.weights + classifier.intercept, axis=1)
        known = classifier.heading_of_class >= 0
        heading = np.where(known, probabilities[:, np.maximum(classifier.heading_of_class, 0)], 0.0).astype(np.float32)
        chapter = (probabilities @ classifier.chapter_of_heading)[:, self._groups[2]].astype(np.float32)
        return heading, chapter

    def _lexicon_evidence(
        self, normalized: list[str], columns: dict[str, np.ndarray]
    ) -> tuple[list[list[Match]], list[str], np.ndarray]:
        """Adds the word similarities of what WordNet says each description's nouns are (zeros where it knows none
        of them) to the columns; returns those nouns, their text and its similarities to the reference texts."""
        n, width = len(normalized), len(self.classes)
        lexicon = self._lexicon()
        nouns = [lexicon.matches(text) for text in normalized]
        expansions = [normalize(Lexicon.text(matches)) for matches in nouns]
        queries = self._vectorize(expansions)
        # WordNet's texts are long: their common features (in more than a thousand texts) would cost milliseconds
        # against the reference texts and say little.
        queries.data *= self._distinctive[queries.indices]
        queries.eliminate_zeros()
        empty = np.zeros((n, 0), dtype=np.float32)
        sim_ex = (queries @ self._examples.matrix).toarray() if self._examples.matrix is not None else empty
        sim_ref = (queries @ self._references.matrix).toarray() if self._references.matrix is not None else empty
        for level in LEVELS:
            columns[f"lexicon_ref{level}"] = self._pooled(sim_ref, self._references, level)
        columns["lexicon_ex6"] = self._pooled(sim_ex, self._examples, 6)
        columns["lexicon_ex4"] = self._pooled(sim_ex, self._examples, 4)
        found = np.array([bool(text) for text in expansions], dtype=np.float32)
        columns["lexicon_found"] = np.broadcast_to(found[:, None], (n, width))
        return nouns, expansions, sim_ref

    def _lexicon(self) -> Lexicon:
        return load_lexicon() if self.params.lexicon else NO_LEXICON

    def _neighbour_votes(self, sims: np.ndarray, bank: _Bank) -> tuple[np.ndarray, np.ndarray]:
        """Softmax-weighted votes of the examples nearest in meaning, per subheading and per heading."""
        n, width = sims.shape[0], len(self.classes)
        votes6 = np.zeros((n, width), dtype=np.float32)
        votes4 = np.zeros((n, int(self._groups[4].max()) + 1), dtype=np.float32)
        k = min(_NEIGHBOURS, sims.shape[1])
        if k:
            nearest = np.argpartition(-sims, k - 1, axis=1)[:, :k]
            near = np.take_along_axis(sims, nearest, axis=1)
            weights = np.exp((near - near.max(axis=1, keepdims=True)) / 0.05)
            weights /= weights.sum(axis=1, keepdims=True)
            classes = bank.class_index[nearest]
            rows = np.repeat(np.arange(n), k)
            np.add.at(votes6, (rows, classes.ravel()), weights.ravel())
            np.add.at(votes4, (rows, self._groups[4][classes].ravel()), weights.ravel())
        return votes6, votes4[:, self._groups[4]]

    def _candidates(self, evidence: _Evidence) -> tuple[np.ndarray, np.ndarray]:
        """The candidate subheadings of each description (best first by the weighted evidence) and their features:
        (descriptions x k) class indices, (descriptions x k x features)."""
        score = evidence.columns["candidate"]
        k = min(self.params.candidates, score.shape[1])
        top = np.argpartition(-score, k - 1, axis=1)[:, :k]
        top = np.take_along_axis(top, np.argsort(-np.take_along_axis(score, top, axis=1), axis=1, kind="stable"), 1)
        columns = [np.take_along_axis(evidence.columns[name], top, axis=1) for name in EVIDENCE]
        columns += [self._example_counts[level][top] for level in LEVELS]
        chosen = columns[EVIDENCE.index("candidate")]
        columns.append(np.broadcast_to(np.arange(k, dtype=np.float32), top.shape))
        columns.append(chosen - chosen[:, :1])
        for level in (4, 2):
            group = self._groups[level][top]
            columns.append((group[:, :, None] == group[:, None, :10]).sum(axis=2).astype(np.float32))
        words = np.array([len(t.split()) for t in evidence.normalized], dtype=np.float32)
        columns.append(np.broadcast_to(words[:, None], top.shape))
        coverage = np.zeros(top.shape, dtype=np.float32)
        own_coverage = np.zeros(top.shape, dtype=np.float32)
        for row, text in enumerate(evidence.normalized):
            query = _content_words(text)
            if query:
                coverage[row] = [len(query & self._class_words[j]) / len(query) for j in top[row]]
                own_coverage[row] = [len(query & self._own_words[j]) / len(query) for j in top[row]]
        columns += [coverage, self._residual[0][top], self._residual[1][top]]
        own_words = np.take_along_axis((evidence.queries @ self._own_matrix).toarray(), top, axis=1)
        own_meaning = np.zeros(top.shape, dtype=np.float32)
        if evidence.vectors is not None and self._own_vectors is not None:
            own_meaning = np.einsum("nd,nkd->nk", evidence.vectors, self._own_vectors[top])
        # How far each candidate's own text is from the best-matching own text among its heading's candidates.
        heading = self._groups[4][top]
        same = heading[:, :, None] == heading[:, None, :]
        best_in_heading = np.where(same, own_meaning[:, None, :], -np.inf).max(axis=2)
        columns += [own_words, own_coverage, own_meaning, own_meaning - best_in_heading]
        return top, np.stack(columns, axis=2).astype(np.float32)

    def _ordered(self, evidence: _Evidence) -> tuple[np.ndarray, np.ndarray]:
        """Candidates of each description in final order and their scores (ranker scores, or weighted evidence)."""
        candidates, features = self._candidates(evidence)
        if self._ranker is None:
            scores = np.take_along_axis(evidence.columns["candidate"], candidates, axis=1)
            order = np.argsort(-scores, axis=1, kind="stable")
            return np.take_along_axis(candidates, order, axis=1), np.take_along_axis(scores, order, axis=1)
        order, scores = self._final_order(features)
        return np.take_along_axis(candidates, order, axis=1), scores

    def _final_order(self, features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The ranked order of each description's candidates (descriptions x k x features) and the scores in that
        order, decreasing: the ranker's, the first `heading_reorder` re-ordered with the heading ranker's."""
        n, k, f = features.shape
        scores = self._ranker_scores(self._ranker, features.reshape(n * k, f)).reshape(n, k)
        order = np.argsort(-scores, axis=1, kind="stable")
        scores = np.take_along_axis(scores, order, axis=1)
        r = min(self.params.heading_reorder, k)
        if self._heading_ranker is None or r < 2:
            return order, scores
        first = order[:, :r]
        top_features = np.take_along_axis(features, first[:, :, None], axis=1).reshape(n * r, f)
        mixed = scores[:, :r] + self.params.heading_weight * self._ranker_scores(
            self._heading_ranker, top_features
        ).reshape(n, r)
        within = np.argsort(-mixed, axis=1, kind="stable")
        mixed = np.take_along_axis(mixed, within, axis=1)
        # The rest keep the ranker's order, scored from just below the re-ordered first ones down.
        rest = mixed[:, -1:] + (scores[:, r:] - scores[:, r - 1 : r])
        return (np.hstack([np.take_along_axis(first, within, axis=1), order[:, r:]]), np.hstack([mixed, rest]))

    @staticmethod
    def _ranker_scores(rankers: list[lgb.Booster], features: np.ndarray) -> np.ndarray:
        """The bagged rankers' mean score of each candidate row (one thread: see `semantic` on OpenMP)."""
        return np.mean([booster.predict(features, num_threads=1) for booster in rankers], axis=0)

    def _read(self, description: str) -> str:
        """A description normalized and followed by the goods its trade names are, each shorthand followed by the
        tariff's word it stands for."""
        glossary = self._glossary()
        normalized = normalize(glossary.read(description, self._is_word))
        names = glossary.words(normalized, self._is_word)
        return Abbreviations.expand(normalized, self._shorthand(normalized, names))

    def _is_word(self, word: str) -> bool:
        """Whether a word is one of the tariff's or WordNet's (else it may be shorthand, or a trade name's)."""
        known = self._abbreviations.known if self._abbreviations is not None else ()
        return word in known or self._lexicon().lemma(word) is not None

    def _shorthand(self, normalized: str, names: Set[str] = frozenset()) -> dict[str, str]:
        """The shorthand words of a normalized description (trade names are none) and the tariff's words they stand
        for."""
        if self._abbreviations is None:
            return {}
        return self._abbreviations.meanings(normalized, is_word=lambda w: w in names or self._is_word(w))

    def _glossary(self) -> Glossary:
        if not self.params.glossary:
            return NO_GLOSSARY
        return load_glossary() if self.params.shop_words else load_glossary(shop_words=None)

    def _encoder_text(self, description: str) -> str:
        """A description as the encoder reads it: as written, then the goods of its trade names and shop words."""
        return for_encoder(self._glossary().read(description, self._is_word))

    def _embed(self, descriptions: Sequence[str]) -> np.ndarray | None:
        """The meaning of each description (None for a words-only model)."""
        if self.encoder_id is None:
            return None
        return (self._query_encoder or get_encoder()).encode([self._encoder_text(d) for d in descriptions])

    # ---------------------------------------------------------------- suggesting
    def rank(self, descriptions: Sequence[str], *, limit: int = 5, batch_size: int = 256) -> list[list[str]]:
        """The `limit` best subheadings for each description, best first."""
        out: list[list[str]] = []
        for start in range(0, len(descriptions), batch_size):
            batch = list(descriptions[start : start + batch_size])
            evidence = self._evidence([self._read(d) for d in batch], self._embed(batch), batch)
            ordered, _ = self._ordered(evidence)
            out.extend([self.classes[j] for j in row[:limit]] for row in ordered)
        return out

    def suggest(self, description: str, *, limit: int = 5) -> list[Suggestion]:
        """The `limit` best subheadings for one description, with confidence and reasons."""
        normalized = self._read(description)
        if not normalized:
            return []
        evidence = self._evidence([normalized], self._embed([description]), [description])
        ordered, scores = self._ordered(evidence)
        row, candidate_scores = ordered[0], scores[0]
        temperature = self._ranker_temperature if self._ranker is not None else self.params.temperature
        shifted = np.exp((candidate_scores - candidate_scores.max()) * temperature)
        probabilities = shifted / shifted.sum()
        query_words = set(_WORD.findall(normalized)) - _STOP
        names = [entry for _, entry in self._glossary().matches(normalize(description), self._is_word)]
        out = []
        for position, j in enumerate(row[:limit]):
            code = self.classes[j]
            out.append(
                Suggestion(
                    hs_code=code,
                    confidence=round(float(probabilities[position]), 4),
                    score=float(candidate_scores[position]),
                    why=tuple(self._why(code, int(j), query_words, evidence, names)),
                )
            )
        return out

    def _why(
        self, code: str, j: int, query_words: set[str], evidence: _Evidence, names: Sequence[GlossaryEntry] = ()
    ) -> list[str]:
        reasons = []
        for bank, sims, label, floor in (
            (self._examples, evidence.sim_ex, "training example", 0.25),
            (self._references, evidence.sim_ref, "tariff text", 0.25),
            (self._examples, evidence.sem_ex, "close in meaning to training example", 0.45),
            (self._semantic_references, evidence.sem_ref, "close in meaning to nomenclature text", 0.45),
        ):
            best = self._best_text(bank, sims, j, floor)
            if best is not None:
                text = _shortened(bank.texts[best], 90, tail=True)
                verb = label if label.startswith("close") else f"matched {label}"
                reasons.append(f"{verb} '{text}' ({_format_code(code)}, similarity {sims[0, best]:.2f})")
        reasons += self._lexicon_reasons(code, j, evidence)
        reasons += self._glossary_reasons(code, names)
        reasons += self._index_reasons(code, evidence.indexed[0])
        nomenclature_words = set(_WORD.findall(normalize(self._nomenclature_texts.get(code, ""))))
        shared = sorted(w for w in query_words if w in nomenclature_words or w.rstrip("s") in nomenclature_words)
        if shared:
            reasons.append("nomenclature words: " + ", ".join(shared))
        if not reasons:
            reasons.append(f"closest heading {code[:4]} by the words and meaning of the description")
        return reasons

    def _lexicon_reasons(self, code: str, j: int, evidence: _Evidence) -> list[str]:
        """Why WordNet's word for the description's goods points to this code, if it does."""
        best = self._best_text(self._references, evidence.sim_lexicon_ref, j, 0.25) if evidence.nouns[0] else None
        if best is None:
            return []
        tariff_text = self._references.texts[best]
        # Only the nouns whose WordNet text shares a word with the tariff text it matched ("men" says nothing here).
        tariff_words = _content_words(tariff_text) - _STOP
        said = "; ".join(
            _shortened(m.noun.sentence(m.words), 110)
            for m in evidence.nouns[0]
            if _content_words(m.noun.text) & tariff_words
        )
        if not said:
            return []
        return [
            f"WordNet: {said}; matched tariff text '{_shortened(tariff_text, 90, tail=True)}' "
            f"({_format_code(code)}, similarity {evidence.sim_lexicon_ref[0, best]:.2f})"
        ]

    def _glossary_reasons(self, code: str, names: Sequence[GlossaryEntry]) -> list[str]:
        """The description's trade names and shop words whose goods share a word with this code's nomenclature text
        (the goods they are read as are not read again)."""
        code_words = _content_words(self._nomenclature_texts.get(code, "")) - _STOP
        said: dict[str, list[str]] = {}
        for entry in names:
            if _content_words(entry.goods) & code_words:
                said.setdefault(entry.kind, []).append(entry.sentence())
        return [f"{kind}: {'; '.join(sentences)}" for kind, sentences in said.items()]

    @staticmethod
    def _index_reasons(code: str, entries: Sequence[IndexEntry]) -> list[str]:
        """The goods index's terms of the description that are classified in this code's heading."""
        said = [entry.sentence() for entry in entries if code[:4] in entry.headings]
        return ["goods index: " + "; ".join(dict.fromkeys(said))] if said else []

    @staticmethod
    def _best_text(bank: _Bank | None, sims: np.ndarray, j: int, floor: float) -> int | None:
        """The bank's text of class j most similar to the first description, if that similarity reaches floor."""
        if bank is None or not sims.shape[1]:
            return None
        rows = np.flatnonzero(bank.class_index == j)
        if not len(rows):
            return None
        best = rows[int(np.argmax(sims[0, rows]))]
        return int(best) if sims[0, best] >= floor else None

    # ---------------------------------------------------------------- persistence
    def save(self, directory: Path) -> None:
        """Writes the model, and its tuned encoder's ONNX graph beside it (`load` reads both)."""
        directory.mkdir(parents=True, exist_ok=True)
        with (directory / "model.pkl").open("wb") as fh:
            pickle.dump(self, fh, protocol=pickle.HIGHEST_PROTOCOL)
        if self._query_encoder is not None:
            self._query_encoder.write_graph(directory / TunedEncoder.GRAPH_FILE)

    @staticmethod
    def load(directory: Path) -> HSClassifier:
        # Only artefacts this installation wrote itself are loaded (the registry directory is trusted).
        with (directory / "model.pkl").open("rb") as fh:
            model = pickle.load(fh)
        if not isinstance(model, HSClassifier) or getattr(model, "format", None) != MODEL_FORMAT:
            raise TypeError(f"{directory} does not hold an HS classifier of format {MODEL_FORMAT}")
        if model._query_encoder is not None:  # its ONNX graph lives (and is removed) with the model
            model._query_encoder.graph = directory / TunedEncoder.GRAPH_FILE
        return model


def _shortened(text: str, limit: int, *, tail: bool = False) -> str:
    """The text, or its first (or, with tail, last) limit - 1 characters and an ellipsis."""
    if len(text) <= limit:
        return text
    return "…" + text[-(limit - 1) :] if tail else text[: limit - 1] + "…"


def _stemmed_words(normalized: str) -> list[str]:
    """The stems of a normalized text's words (the word TF-IDF's tokenizer)."""
    return [stem(w) for w in normalized.split()]


def _content_words(text: str) -> set[str]:
    """The stems of a text's words that carry meaning (three letters or more)."""
    return {w for w in _stemmed_words(normalize(text)) if len(w) >= 3}


def _heading_weights(entries: Sequence[IndexEntry]) -> dict[str, float]:
    """Each heading the goods index's terms are classified in, 1 where a term lists it first, else 0.5."""
    weights: dict[str, float] = {}
    for entry in entries:
        for position, heading in enumerate(entry.headings):
            weights[heading] = max(weights.get(heading, 0.0), 1.0 if position == 0 else 0.5)
    return weights


def _fit_temperature(groups: list[tuple[np.ndarray, np.ndarray]]) -> float:
    """The softmax temperature whose first-suggestion confidence best matches being right (least squared error)."""
    best, best_error = 1.0, float("inf")
    for temperature in (0.25, 0.35, 0.5, 0.7, 1.0, 1.4, 2.0, 2.8, 4.0, 5.6, 8.0):
        error = 0.0
        for scores, labels in groups:
            shifted = np.exp((scores - scores.max()) * temperature)
            top = int(np.argmax(scores))
            error += (shifted[top] / shifted.sum() - labels[top]) ** 2
        if error < best_error:
            best, best_error = temperature, error
    return best


def _folds(n: int, folds: int, seed: int) -> np.ndarray:
    """The fold of each of n examples: a seeded shuffle dealt round-robin."""
    order = np.random.default_rng(seed).permutation(n)
    fold_of = np.empty(n, dtype=np.int64)
    fold_of[order] = np.arange(n) % folds
    return fold_of


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
