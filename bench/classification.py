"""HS classification figures on a seeded 30 % holdout of the shared labelled file (as in its README).

Usage: .venv/bin/python bench/classification.py [--frac 0.3] [--seed 13] [--curve] [--folds K] [--cache-encoders DIR]
       [--predictions-out CSV] [--param NAME=VALUE ...]
The last line printed is one JSON object, the same keys as `clearway classify evaluate --json`. With --curve the
model is also trained on 70 % of the training part and tested on the same rows first: the gain from 43 % more
examples, which is what the judged figures (trained on the whole file) add to these.

--folds K cross-validates instead: the file is cut into K seeded folds, each is suggested by a model trained on
the other K-1, and the figures are those of every row of the file. With K = 5 each model trains on 3,530 rows
(80 %), closer to the judged 4,413 than the holdout's 3,089, and the figures rest on 4,413 test rows instead of
1,324; it costs K trainings (about forty minutes on two cores).

--cache-encoders DIR keeps every tuned encoder in DIR, keyed by a hash of all that its tuning reads (descriptions,
labels, prototypes and settings), and reuses it when the same tuning comes again. Tuning is most of a run (about
five of eight minutes), so an experiment that changes only what comes after it (features, rankers, reasons) costs
three minutes with a warm cache. Any change to the tuning's inputs misses the cache and tunes afresh.
"""

from __future__ import annotations

import argparse
import functools
import gc
import hashlib
import json
import pickle
import random
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

import clearway.classification.model as model_module
from clearway.classification.evaluation import evaluate_split
from clearway.classification.model import Params, hs_accuracy
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
            false_alarms[threshold] += (
                check_declared_code(description, code, model=model, min_confidence=threshold) is not None
            )
            detections[threshold] += (
                check_declared_code(description, wrong, model=model, min_confidence=threshold) is not None
            )
    n = len(descriptions)
    for threshold in thresholds:
        marker = " (the service's threshold)" if threshold == MISCLASSIFICATION_CONFIDENCE else ""
        print(
            f"misclassification factor at confidence >= {threshold:.2f}{marker}: fires on "
            f"{false_alarms[threshold] / n:.1%} of true codes, on {detections[threshold] / n:.1%} of codes "
            f"swapped for another chapter",
            file=sys.stderr,
        )


def _cache_encoders(directory: Path) -> None:
    """Makes the model's encoder tuning reuse the encoders kept in `directory` (see the module's docstring)."""
    directory.mkdir(parents=True, exist_ok=True)
    tune = model_module.tune_encoder

    @functools.wraps(tune)
    def cached(descriptions, labels, prototypes, *, progress=None, **settings):
        key = hashlib.sha256()
        key.update("\x1f".join(descriptions).encode())
        for array in (labels, prototypes):
            array = np.ascontiguousarray(array)
            key.update(f"{array.dtype}{array.shape}".encode())
            key.update(array.tobytes())
        key.update(json.dumps(settings, sort_keys=True, default=str).encode())
        path = directory / f"{key.hexdigest()[:32]}.pickle"
        if path.exists():
            print(f"tuned encoder reused from {path}", file=sys.stderr)
            return pickle.loads(path.read_bytes())
        encoder = tune(descriptions, labels, prototypes, progress=progress, **settings)
        path.write_bytes(pickle.dumps(encoder))
        return encoder

    model_module.tune_encoder = cached


def _params(parser: argparse.ArgumentParser, settings: list[str]) -> Params:
    """The classifier's settings with each NAME=VALUE of --param applied."""
    changed = {}
    for setting in settings:
        name, _, value = setting.partition("=")
        if name not in Params.__dataclass_fields__:
            parser.error(f"--param {setting}: the classifier has no setting '{name}'")
        try:
            changed[name] = json.loads(value)
        except json.JSONDecodeError as error:
            parser.error(f"--param {setting}: '{value}' is not a JSON value ({error.msg})")
    return Params.from_dict({**Params().to_dict(), **changed})


def _figures_by_part(predictions: list[list[str]], test: pd.DataFrame, seen: list[bool]) -> None:
    """The figures on the test rows whose code occurs in their training part and on those whose code does not, and
    by source (where the errors are is what decides the next change)."""
    truth = list(test["hs6"])
    parts = {"seen codes": seen, "unseen codes": [not known for known in seen]}
    for source in sorted(set(test["source"])):
        parts[source] = list(test["source"] == source)
    for name, mask in parts.items():
        rows = [i for i, keep in enumerate(mask) if keep]
        figures = hs_accuracy([predictions[i] for i in rows], [truth[i] for i in rows])
        print(
            f"{name} ({len(rows)} rows): HS-6 top-1 {figures['hs6_top1']:.3f}, top-5 {figures['hs6_top5']:.3f}; "
            f"HS-4 top-1 {figures['hs4_top1']:.3f}, top-5 {figures['hs4_top5']:.3f}; "
            f"HS-2 top-1 {figures['hs2_top1']:.3f}",
            file=sys.stderr,
        )


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
        return ", ".join(
            f"generation {generation}: {len(pauses)}, longest {max(pauses, default=0):.1f} ms"
            for generation, pauses in self.pauses.items()
        )


def _write_predictions(path: Path, test: pd.DataFrame, seen: list[bool], predictions: list[list[str]]) -> None:
    pd.DataFrame(
        {
            "source": test["source"],
            "description": test["description"],
            "hs6": test["hs6"],
            "seen": seen,
            "suggestions": [" ".join(codes) for codes in predictions],
        }
    ).to_csv(path, index=False)


def _cross_validate(
    frame: pd.DataFrame, *, folds: int, seed: int, params: Params, predictions_out: Path | None
) -> None:
    """Suggests every row of `frame` with a model trained on the other folds, then prints the figures of all rows
    (and each fold's, for their spread); the last line is the pooled figures' JSON object."""
    order = frame.sample(frac=1.0, random_state=seed).index
    ranked: dict[object, list[str]] = {}
    seen: dict[object, bool] = {}
    p99s: list[float] = []
    for number, rows in enumerate(np.array_split(np.asarray(order), folds), start=1):
        test = frame.loc[rows]
        train = frame.drop(rows)
        known = set(train["hs6"])
        started = time.perf_counter()
        result = evaluate_split(
            train=list(zip(train["description"], train["code"], strict=True)),
            test_descriptions=list(test["description"]),
            test_codes=list(test["code"]),
            params=params,
        )
        unseen = (~test["hs6"].isin(known)).mean()
        print(
            f"fold {number} of {folds}: trained on {len(train)} rows, tested on {len(test)} ({unseen:.1%} unseen "
            f"codes) in {time.perf_counter() - started:.0f} s: {json.dumps(result.figures)}",
            file=sys.stderr,
            flush=True,
        )
        p99s.append(result.figures["p99_ms"])
        for row, codes in zip(rows, result.predictions, strict=True):
            ranked[row] = codes
            seen[row] = test.at[row, "hs6"] in known
    predictions = [ranked[row] for row in frame.index]
    seen_rows = [seen[row] for row in frame.index]
    _figures_by_part(predictions, frame, seen_rows)
    if predictions_out:
        _write_predictions(predictions_out, frame, seen_rows, predictions)
    figures = hs_accuracy(predictions, list(frame["hs6"]))
    figures.update({"p99_ms": max(p99s), "n": len(frame), "folds": folds})
    print(json.dumps(figures))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", type=Path, default=SHARED)
    parser.add_argument("--frac", type=float, default=0.30)
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--curve", action="store_true", help="also train on 70%% of the training part")
    parser.add_argument(
        "--folds",
        type=int,
        metavar="K",
        help="cross-validate over K folds of the whole file instead of one holdout (K trainings)",
    )
    parser.add_argument(
        "--cache-encoders",
        type=Path,
        metavar="DIR",
        help="keep tuned encoders in DIR and reuse them when the same tuning comes again",
    )
    parser.add_argument(
        "--predictions-out",
        type=Path,
        metavar="CSV",
        help="write each test row's description, true code and five suggestions to CSV",
    )
    parser.add_argument(
        "--param",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a classifier setting other than its default (VALUE in JSON: 0.3, false, [1, 3]); repeatable",
    )
    args = parser.parse_args()
    params = _params(parser, args.param)
    if args.cache_encoders:
        _cache_encoders(args.cache_encoders)
    frame = pd.read_csv(args.data, dtype=str, keep_default_na=False)
    if args.folds is not None:
        if args.folds < 2:
            parser.error(f"--folds {args.folds}: cross-validation needs at least 2 folds")
        _cross_validate(frame, folds=args.folds, seed=args.seed, params=params, predictions_out=args.predictions_out)
        return
    test = frame.sample(frac=args.frac, random_state=args.seed)
    train = frame.drop(test.index)
    seen = set(train["hs6"])  # the codes the model is trained on
    unseen = (~test["hs6"].isin(seen)).mean()
    print(
        f"train {len(train)} rows, test {len(test)} rows, {unseen:.1%} of test HS-6 codes unseen in train",
        file=sys.stderr,
    )
    if args.curve:
        part = train.sample(frac=0.7, random_state=args.seed)
        smaller = evaluate_split(
            train=list(zip(part["description"], part["code"], strict=True)),
            test_descriptions=list(test["description"]),
            test_codes=list(test["code"]),
            params=params,
        )
        print(f"trained on {len(part)} rows (70 %): {json.dumps(smaller.figures)}", file=sys.stderr)
    started = time.perf_counter()
    with _GarbageCollections() as pauses:
        result = evaluate_split(
            train=list(zip(train["description"], train["code"], strict=True)),
            test_descriptions=list(test["description"]),
            test_codes=list(test["code"]),
            params=params,
            progress=pauses.suggesting,
        )
    print(f"trained and evaluated in {time.perf_counter() - started:.1f} s", file=sys.stderr)
    print(f"garbage collections while suggesting: {pauses.summary()}", file=sys.stderr)
    seen_rows = list(test["hs6"].isin(seen))
    _figures_by_part(result.predictions, test, seen_rows)
    if args.predictions_out:
        _write_predictions(args.predictions_out, test, seen_rows, result.predictions)
    _misclassification_figures(result.model, list(test["description"]), list(test["hs6"]), seed=args.seed)
    print(json.dumps(result.figures))


if __name__ == "__main__":
    main()
