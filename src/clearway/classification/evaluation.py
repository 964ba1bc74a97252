"""Train-on-one-file, test-on-another evaluation (used by `clearway classify evaluate` and the bench)."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from clearway.classification.model import HSClassifier, Params, hs_accuracy
from clearway.classification.text import hs6_of
from clearway.classification.training import fit


@dataclass(frozen=True)
class EvaluationResult:
    predictions: list[list[str]]
    figures: dict[str, float]
    model: HSClassifier


def evaluate_split(
    *,
    train: Sequence[tuple[str, str]],
    test_descriptions: Sequence[str],
    test_codes: Sequence[str] | None = None,
    params: Params | None = None,
    progress: Callable[[int], None] | None = None,
    stage: Callable[[str], None] | None = None,
) -> EvaluationResult:
    """Trains on `train` only, ranks five subheadings per test description, then measures against the labels."""
    model = fit(train, params=params, progress=stage)
    predictions: list[list[str]] = []
    timings: list[float] = []
    for description in test_descriptions:
        started = time.perf_counter()
        predictions.append(model.rank([description], limit=5)[0])
        timings.append((time.perf_counter() - started) * 1000)
        if progress:
            progress(1)
    figures: dict[str, float] = {}
    if test_codes is not None:
        truth = [hs6_of(c) or "" for c in test_codes]
        figures.update(hs_accuracy(predictions, truth))
    figures["p99_ms"] = round(float(np.percentile(timings, 99)), 2) if timings else 0.0
    figures["n"] = len(test_descriptions)
    return EvaluationResult(predictions=predictions, figures=figures, model=model)
