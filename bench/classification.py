"""HS classification figures on a seeded 30 % holdout of the shared labelled file (as in its README).

Usage: .venv/bin/python bench/classification.py [--frac 0.3] [--seed 13]
The last line printed is one JSON object, the same keys as `clearway classify evaluate --json`.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import pandas as pd

from clearway.classification.evaluation import evaluate_split

SHARED = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "hs-labeled" / "train.csv"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", type=Path, default=SHARED)
    parser.add_argument("--frac", type=float, default=0.30)
    parser.add_argument("--seed", type=int, default=13)
    args = parser.parse_args()
    frame = pd.read_csv(args.data, dtype=str, keep_default_na=False)
    test = frame.sample(frac=args.frac, random_state=args.seed)
    train = frame.drop(test.index)
    unseen = (~test["hs6"].isin(set(train["hs6"]))).mean()
    print(f"train {len(train)} rows, test {len(test)} rows, {unseen:.1%} of test HS-6 codes unseen in train",
          file=sys.stderr)
    started = time.perf_counter()
    result = evaluate_split(
        train=list(zip(train["description"], train["code"], strict=True)),
        test_descriptions=list(test["description"]),
        test_codes=list(test["code"]),
    )
    print(f"trained and evaluated in {time.perf_counter() - started:.1f} s", file=sys.stderr)
    print(json.dumps(result.figures))


if __name__ == "__main__":
    main()
