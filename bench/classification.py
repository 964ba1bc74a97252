"""HS classification figures on a seeded 30 % holdout of the shared labelled file (as in its README).

Usage: .venv/bin/python bench/classification.py [--frac 0.3] [--seed 13] [--curve]
The last line printed is one JSON object, the same keys as `clearway classify evaluate --json`. With --curve the
model is also trained on 70 % of the training part and tested on the same rows first: the gain from 43 % more
examples, which is what the judged figures (trained on the whole file) add to these.
"""

from __future__ import annotations

import argparse
import functools
import gc
import json
import random
import sys
import time
from pathlib import Path

import pandas as pd

from clearway.classification.evaluation import evaluate_split
from clearway.classification.service import MISCLASSIFICATION_CONFIDENCE, check_declared_code

SHARED = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "hs-labeled" / "train.csv"


def _misclassification_figures(model, descriptions: list[str], codes: list[str], *, seed: int) -> None:
    """How often the risk factor fires on the true code (false alarms) and on a code of another chapter, at the
    service's confidence threshold and at others (the suggestions are the same for both codes of a description)."""
    rng = random.Random(seed)
    model.suggest = functools.lru_cache(maxsize=None)(model.suggest)  # one suggestion per description
    chapters = sorted({c[:2] for c in model.classes})
    thresholds = sorted({0.5, 0.6, 0.7, 0.8, 0.9, MISCLASSIFICATION_CONFIDENCE})
    false_alarms = dict.fromkeys(thresholds, 0)
    detections = dict.fromkeys(thresholds, 0)
    for description, code in zip(descriptions, codes, strict=True):
        wrong = rng.choice([c for c in chapters if c != code[:2]]) + "9090"
        for threshold in thresholds:
            false_alarms[threshold] += check_declared_code(description, code, model=model,
                                                           min_confidence=threshold) is not None
            detections[threshold] += check_declared_code(description, wrong, model=model,
                                                         min_confidence=threshold) is not None
    n = len(descriptions)
    for threshold in thresholds:
        marker = " (the service's threshold)" if threshold == MISCLASSIFICATION_CONFIDENCE else ""
        print(f"misclassification factor at confidence >= {threshold:.2f}{marker}: fires on "
              f"{false_alarms[threshold] / n:.1%} of true codes, on {detections[threshold] / n:.1%} of codes "
              f"swapped for another chapter", file=sys.stderr)


class _GarbageCollections:
    """Pauses of Python's garbage collector once suggesting has begun (a cause of latency outliers)."""

    def __init__(self) -> None:
        self.active = False
        self.started = 0.0
        self.pauses: dict[int, list[float]] = {0: [], 1: [], 2: []}

    def __enter__(self) -> _GarbageCollections:
        gc.callbacks.append(self.callback)
        return self

    def __exit__(self, *exc: object) -> None:
        gc.callbacks.remove(self.callback)

    def suggesting(self, done: int) -> None:
        self.active = True

    def callback(self, phase: str, info: dict) -> None:
        if not self.active:
            return
        if phase == "start":
            self.started = time.perf_counter()
        else:
            self.pauses[info["generation"]].append((time.perf_counter() - self.started) * 1000)

    def summary(self) -> str:
        return ", ".join(f"generation {generation}: {len(pauses)}, longest {max(pauses, default=0):.1f} ms"
                         for generation, pauses in self.pauses.items())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", type=Path, default=SHARED)
    parser.add_argument("--frac", type=float, default=0.30)
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--curve", action="store_true", help="also train on 70%% of the training part")
    args = parser.parse_args()
    frame = pd.read_csv(args.data, dtype=str, keep_default_na=False)
    test = frame.sample(frac=args.frac, random_state=args.seed)
    train = frame.drop(test.index)
    unseen = (~test["hs6"].isin(set(train["hs6"]))).mean()
    print(f"train {len(train)} rows, test {len(test)} rows, {unseen:.1%} of test HS-6 codes unseen in train",
          file=sys.stderr)
    if args.curve:
        part = train.sample(frac=0.7, random_state=args.seed)
        smaller = evaluate_split(train=list(zip(part["description"], part["code"], strict=True)),
                                 test_descriptions=list(test["description"]), test_codes=list(test["code"]))
        print(f"trained on {len(part)} rows (70 %): {json.dumps(smaller.figures)}", file=sys.stderr)
    started = time.perf_counter()
    with _GarbageCollections() as pauses:
        result = evaluate_split(
            train=list(zip(train["description"], train["code"], strict=True)),
            test_descriptions=list(test["description"]),
            test_codes=list(test["code"]),
            progress=pauses.suggesting,
        )
    print(f"trained and evaluated in {time.perf_counter() - started:.1f} s", file=sys.stderr)
    print(f"garbage collections while suggesting: {pauses.summary()}", file=sys.stderr)
    _misclassification_figures(result.model, list(test["description"]), list(test["hs6"]), seed=args.seed)
    print(json.dumps(result.figures))


if __name__ == "__main__":
    main()
