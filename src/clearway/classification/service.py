"""HS classification use cases: suggestions, the misclassification check for risk, training and evaluation."""

from __future__ import annotations

import functools
import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from clearway.classification.model import HSClassifier, Params
from clearway.classification.reference import load_nomenclature
from clearway.classification.registry import ClassifierRegistry, ModelVersion
from clearway.classification.text import hs6_of
from clearway.classification.training import train_model
from clearway.errors import InvalidInput, field_error

log = logging.getLogger(__name__)

MAX_DESCRIPTION = 500
MAX_LIMIT = 10
# The misclassification factor speaks only when the suggestions in the best suggestion's chapter hold at least this
# confidence together: on the bench it fires on 6 % of correct codes and 73 % of codes of another chapter
# (bench/classification.py prints the false-alarm and detection rates at this and other thresholds).
MISCLASSIFICATION_CONFIDENCE = 0.80


@dataclass(frozen=True)
class NomenclatureEntry:
    code: str
    description: str


@dataclass(frozen=True)
class CodeSuggestion:
    hs_code: str
    confidence: float
    chapter: NomenclatureEntry
    heading: NomenclatureEntry
    subheading: NomenclatureEntry
    why: tuple[str, ...]


@dataclass(frozen=True)
class SuggestionResult:
    description: str
    model_version: str
    suggestions: list[CodeSuggestion]


@dataclass(frozen=True)
class MisclassificationCheck:
    """A "possible misclassification" risk factor: the declared code is far from what the description suggests."""

    declared_code: str
    suggested_codes: tuple[str, ...]
    confidence: float
    message: str


# ---------------------------------------------------------------- the model, loaded once per process
_model: HSClassifier | None = None
_model_lock = threading.Lock()


def get_model() -> HSClassifier:
    """The active model (or the shipped one), loaded lazily once per process; thread-safe."""
    global _model
    if _model is None:
        with _model_lock:
            if _model is None:
                _model = ClassifierRegistry().load_active()
    return _model


def warm_up_classifier() -> None:
    """Loads the model and its sentence encoder ahead of the first request (run in a background thread)."""
    try:
        get_model().rank(["warm-up"], limit=1)
    except Exception:  # a failed warm-up only means the first request pays the loading
        log.warning("the HS classifier could not be warmed up", exc_info=True)


def set_model(model: HSClassifier | None) -> None:
    """Replaces the process-wide model (after training, or in tests); None reloads at next use."""
    global _model
    with _model_lock:
        _model = model
    _remembered_check.cache_clear()


def _entry(code: str) -> NomenclatureEntry:
    return NomenclatureEntry(code=code, description=load_nomenclature().text(code))


def suggest(*, description: str, limit: int = 5, model: HSClassifier | None = None) -> SuggestionResult:
    """The `limit` most likely HS 2022 subheadings for a goods description, with confidence and reasons."""
    text = (description or "").strip()
    if not text:
        raise InvalidInput("the goods description is empty", errors=[field_error("description", "must not be empty")])
    if len(text) > MAX_DESCRIPTION:
        raise InvalidInput(
            "the goods description is too long",
            errors=[field_error("description", f"at most {MAX_DESCRIPTION} characters")],
        )
    if not 1 <= limit <= MAX_LIMIT:
        raise InvalidInput("limit out of range", errors=[field_error("limit", f"between 1 and {MAX_LIMIT}")])
    model = model or get_model()
    suggestions = [
        CodeSuggestion(
            hs_code=s.hs_code,
            confidence=s.confidence,
            chapter=_entry(s.hs_code[:2]),
            heading=_entry(s.hs_code[:4]),
            subheading=_entry(s.hs_code),
            why=s.why,
        )
        for s in model.suggest(text, limit=limit)
    ]
    return SuggestionResult(
        description=text, model_version=str(model.metadata.get("version") or "unversioned"), suggestions=suggestions
    )


def check_declared_code(
    description: str,
    hs_code: str,
    *,
    model: HSClassifier | None = None,
    min_confidence: float = MISCLASSIFICATION_CONFIDENCE,
) -> MisclassificationCheck | None:
    """See `_check`; with the process-wide model, answers are remembered: the same goods come back all the time."""
    if model is not None:
        return _check(description, hs_code, model, min_confidence)
    current = get_model()
    return _remembered_check(description, hs_code, id(current), min_confidence)


@functools.lru_cache(maxsize=50_000)
def _remembered_check(
    description: str, hs_code: str, model_id: int, min_confidence: float
) -> MisclassificationCheck | None:
    # model_id keys the answers to the model that gave them: a new active model starts afresh.
    return _check(description, hs_code, get_model(), min_confidence)


def _check(description: str, hs_code: str, model: HSClassifier, min_confidence: float) -> MisclassificationCheck | None:
    """A misclassification factor when the declared code is far from what the description suggests, else None.

    "Far" means the declared code's chapter appears nowhere among the five suggestions while the suggestions in the
    best suggestion's chapter hold at least `min_confidence` together (the question is the chapter, so two sibling
    subheadings sharing the confidence count as one answer). A declared code whose chapter matches any suggestion,
    an unreadable code or an empty description gives None: the check only speaks when it is fairly sure.
    """
    declared = hs6_of(hs_code)
    text = (description or "").strip()[:MAX_DESCRIPTION]
    if declared is None or not text:
        return None
    suggestions = model.suggest(text, limit=5)
    if not suggestions:
        return None
    codes = tuple(s.hs_code for s in suggestions)
    best = suggestions[0]
    chapter_confidence = sum(s.confidence for s in suggestions if s.hs_code[:2] == best.hs_code[:2])
    if any(c[:2] == declared[:2] for c in codes) or chapter_confidence < min_confidence:
        return None
    nomenclature = load_nomenclature()
    message = (
        f"Declared HS {declared[:4]}.{declared[4:]} ({nomenclature.text(declared[:4]) or 'unknown heading'}) "
        f"does not fit the description '{text}': the classification assistant suggests "
        f"{best.hs_code[:4]}.{best.hs_code[4:]} ({nomenclature.text(best.hs_code[:4])}) "
        f"with {best.confidence:.0%} confidence ({chapter_confidence:.0%} for chapter {best.hs_code[:2]}); "
        "other candidates: " + ", ".join(f"{c[:4]}.{c[4:]}" for c in codes[1:]) + "."
    )
    return MisclassificationCheck(
        declared_code=declared, suggested_codes=codes, confidence=round(chapter_confidence, 4), message=message
    )


def train(
    examples: Sequence[tuple[str, str]],
    *,
    corrections: Sequence[tuple[str, str]] = (),
    params: Params | None = None,
    evaluate: bool = True,
    activate: bool = True,
    registry: ClassifierRegistry | None = None,
    progress: Callable[[str], None] | None = None,
) -> ModelVersion:
    """Trains a new model version on (description, code) examples plus officers' corrections and registers it."""
    registry = registry or ClassifierRegistry()
    model = train_model(examples, corrections=corrections, params=params, evaluate=evaluate, progress=progress)
    version = registry.register(model, activate=activate)
    if activate:
        set_model(model)
    return next(v for v in registry.versions() if v.version == version)
