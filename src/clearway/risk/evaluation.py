"""Targeting figures: precision and recall in the top k% of a ranking, AUC, critical and value recall."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score

from clearway.risk.features import normalise_frame
from clearway.risk.model import Progress, RiskModel, TrainParams, _quiet, train

TOP_PERCENTS = (1, 2, 5, 10)


def _top(scores: np.ndarray, percent: float) -> np.ndarray:
    """Indices of the top `percent`% by score (ties broken by position, as a stable sort would)."""
    k = max(1, math.ceil(len(scores) * percent / 100))
    return np.argsort(-scores, kind="stable")[:k]


def _round(value: float | None) -> float | None:
    return None if value is None or not math.isfinite(value) else round(float(value), 4)


def targeting_figures(
    scores: np.ndarray,
    fraud: np.ndarray,
    critical: np.ndarray | None = None,
    value: np.ndarray | None = None,
) -> dict[str, Any]:
    """precision_at / recall_at / value_recall_at (top k%), auc, critical_recall_at_10."""
    scores = np.asarray(scores, dtype=float)
    fraud = np.asarray(fraud, dtype=int)
    out: dict[str, Any] = {"precision_at": {}, "recall_at": {}, "value_recall_at": {}}
    total_fraud = fraud.sum()
    fraud_value = float(np.sum(value[fraud == 1])) if value is not None else 0.0
    for k in TOP_PERCENTS:
        top = _top(scores, k) if len(scores) else np.zeros(0, dtype=int)
        out["precision_at"][str(k)] = _round(fraud[top].mean()) if len(top) else None
        out["recall_at"][str(k)] = _round(fraud[top].sum() / total_fraud) if total_fraud else None
        if value is not None and fraud_value > 0:
            out["value_recall_at"][str(k)] = _round(float(np.sum(value[top][fraud[top] == 1])) / fraud_value)
        else:
            out["value_recall_at"][str(k)] = None
    out["auc"] = _round(roc_auc_score(fraud, scores)) if 0 < total_fraud < len(fraud) else None
    if critical is not None and np.sum(critical) > 0 and len(scores):
        top = _top(scores, 10)
        out["critical_recall_at_10"] = _round(np.sum(critical[top]) / np.sum(critical))
    else:
        out["critical_recall_at_10"] = None
    return out


def empty_figures() -> dict[str, Any]:
    nulls = {str(k): None for k in TOP_PERCENTS}
    return {
        "precision_at": dict(nulls),
        "recall_at": dict(nulls),
        "value_recall_at": dict(nulls),
        "auc": None,
        "critical_recall_at_10": None,
    }


def consignment_keys(frame: pd.DataFrame) -> pd.Series:
    """HS code + customs value + net mass: what makes a consignment 'known' or 'novel'."""
    return frame["hs_code"].astype(str) + "|" + frame["item_price"].map(repr) + "|" + frame["net_mass_kg"].map(repr)


def novel_mask(train_frame: pd.DataFrame, test_frame: pd.DataFrame) -> np.ndarray:
    """True for test rows whose HS code, value and mass combination never occurs in training."""
    return ~consignment_keys(test_frame).isin(set(consignment_keys(train_frame))).to_numpy()


@dataclass
class EvaluationResult:
    model: RiskModel
    scores: np.ndarray
    figures: dict[str, Any]


def evaluate(
    train_frame: pd.DataFrame,
    train_fraud: np.ndarray,
    train_critical: np.ndarray | None,
    test_frame: pd.DataFrame,
    *,
    test_fraud: np.ndarray | None = None,
    test_critical: np.ndarray | None = None,
    params: TrainParams | None = None,
    progress: Progress = _quiet,
) -> EvaluationResult:
    """Train on the training rows, score the test rows (never looking at their labels), then compute the figures."""
    started = time.perf_counter()
    model = train(train_frame, train_fraud, train_critical, params=params, progress=progress)
    train_seconds = time.perf_counter() - started
    progress("scoring")
    test_frame = normalise_frame(test_frame)
    started = time.perf_counter()
    scores = model.score_frame(test_frame)
    elapsed = time.perf_counter() - started
    figures = (
        targeting_figures(scores, test_fraud, test_critical, test_frame["item_price"].to_numpy(float))
        if test_fraud is not None
        else empty_figures()
    )
    figures["train_seconds"] = round(train_seconds, 2)
    figures["score_rows_per_second"] = round(len(test_frame) / elapsed) if elapsed > 0 else None
    figures["test_rows"] = len(test_frame)
    return EvaluationResult(model=model, scores=scores, figures=figures)


def time_split(dates: pd.Series, *, months: int = 2) -> tuple[np.ndarray, np.ndarray]:
    """Boolean masks (train, holdout): the holdout is the last `months` calendar months of the data."""
    dates = pd.to_datetime(dates)
    last = dates.max()
    cutoff = (last.to_period("M") - (months - 1)).to_timestamp()
    holdout = (dates >= cutoff).to_numpy()
    if holdout.all() or not holdout.any():
        cutoff = dates.sort_values().iloc[int(len(dates) * 0.8)]
        holdout = (dates >= cutoff).to_numpy()
    return ~holdout, holdout


def figures_in_words(figures: dict[str, Any]) -> list[str]:
    """The evaluation figures as sentences."""

    def pct(value: Any) -> str:
        return "n/a" if value is None else f"{value:.1%}"

    lines = []
    p, r = figures.get("precision_at", {}), figures.get("recall_at", {})
    for k in ("1", "5", "10"):
        if p.get(k) is not None:
            lines.append(
                f"Inspecting the riskiest {k}% of declarations would find fraud in {pct(p.get(k))} of them "
                f"and catch {pct(r.get(k))} of all frauds."
            )
    if figures.get("auc") is not None:
        lines.append(f"Ranking quality (AUC): {figures['auc']:.3f}.")
    if figures.get("critical_recall_at_10") is not None:
        lines.append(f"Critical frauds caught in the top 10%: {pct(figures['critical_recall_at_10'])}.")
    if figures.get("value_recall_at", {}).get("10") is not None:
        lines.append(f"Share of fraudulent customs value in the top 10%: {pct(figures['value_recall_at']['10'])}.")
    return lines
