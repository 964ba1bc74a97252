"""The machine-learned risk model: training, scoring, value at risk and explanations.

Three LightGBM classifiers share one feature set (see `features.py`):
* the fraud model predicts fraud (any duty-reducing fraud found at inspection) for items whose consignment (HS code,
  customs value, net mass) was inspected before: it leans on that "known consignment" memory;
* the novel-consignment model predicts fraud for items never seen before: small, regularised, trained on items that
  were new when declared, it relies on the parties' and goods' fraud history and on the price per kg;
* the critical model predicts critical fraud (a threat to public safety).
The ranking score the red channel uses (`risk_scores`) puts critical cases first among likely frauds.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

import lightgbm as lgb
import numpy as np
import pandas as pd

from clearway.errors import InvalidInput, NotFound, field_error
from clearway.risk.explain import explain_contributions
from clearway.risk.features import (
    CATEGORICAL_FIELDS,
    FEATURE_NAMES,
    DeclarationRecord,
    FeatureBuilder,
    normalise_frame,
    records_to_frame,
)

FORMAT_VERSION = 2
CRITICAL_WEIGHT = 1.0
# Value at risk = fraud probability × customs value × this factor: the whole customs value of a fraudulent item is
# treated as exposed (undervaluation, misclassification or prohibited goods put its full value in question).
VALUE_AT_RISK_FACTOR = Decimal("1")
TOP_FACTORS = 3
VALUE_TILT = 0.05
LOG_VALUE = FEATURE_NAMES.index("log_price")
EXACT_SEEN = FEATURE_NAMES.index("cons_hs_price_mass_n")  # log count of identical consignments inspected before


@dataclass(frozen=True)
class TrainParams:
    """Every hyper-parameter of a risk model; saved in its metadata."""

    learning_rate: float = 0.1
    num_leaves: int = 15
    min_data_in_leaf: int = 50
    feature_fraction: float = 0.7
    bagging_fraction: float = 0.8
    bagging_freq: int = 1
    lambda_l2: float = 5.0
    fraud_rounds: int = 100
    critical_rounds: int = 75
    # The novel-consignment model scores items whose HS code + value + mass was never inspected before: it is
    # trained on the items that were new when declared, without category codes, and kept small (it generalises).
    novel_learning_rate: float = 0.015
    novel_rounds: int = 150
    novel_num_leaves: int = 15
    novel_min_data_in_leaf: int = 100
    novel_lambda_l2: float = 20.0
    novel_warmup_days: int = 0  # leave out items of the first days (hardly any history); 0: keep all
    seed: int = 7
    num_threads: int = 1  # one thread: deterministic, and fast on a shared 2-core machine

    def lightgbm(self, *, novel: bool = False) -> dict[str, Any]:
        return {
            "objective": "binary",
            "learning_rate": self.novel_learning_rate if novel else self.learning_rate,
            "num_leaves": self.novel_num_leaves if novel else self.num_leaves,
            "min_data_in_leaf": self.novel_min_data_in_leaf if novel else self.min_data_in_leaf,
            "feature_fraction": self.feature_fraction,
            "bagging_fraction": self.bagging_fraction,
            "bagging_freq": self.bagging_freq,
            "lambda_l2": self.novel_lambda_l2 if novel else self.lambda_l2,
            "seed": self.seed,
            "deterministic": True,
            "force_col_wise": True,
            "num_threads": self.num_threads,
            "verbose": -1,
        }


@dataclass(frozen=True)
class Score:
    """The model's view of one goods item (or of a declaration: its riskiest item)."""

    declaration_id: str
    probability: float  # of fraud
    critical_probability: float
    risk_score: float  # ranking score (see `risk_scores`)
    value_at_risk: Decimal
    factors: list[str] = field(default_factory=list)


Progress = Callable[[str], None]


def _quiet(_: str) -> None:
    return None


def _labels(values: Any, name: str, length: int) -> np.ndarray:
    array = np.asarray(values, dtype=float).reshape(-1)
    if len(array) != length:
        raise InvalidInput(f"{name} has {len(array)} values for {length} records", errors=[field_error(name, "length")])
    if np.isnan(array).any() or not np.isin(array, (0.0, 1.0)).all():
        raise InvalidInput(f"{name} must be 0 or 1", errors=[field_error(name, "must be 0 or 1")])
    return array.astype(int)


def frame_fingerprint(frame: pd.DataFrame, fraud: np.ndarray, critical: np.ndarray) -> str:
    """SHA-256 of the training records and labels, independent of the source format."""
    digest = hashlib.sha256()
    digest.update(pd.util.hash_pandas_object(frame, index=False).to_numpy().tobytes())
    digest.update(np.asarray(fraud, dtype=np.int8).tobytes())
    digest.update(np.asarray(critical, dtype=np.int8).tobytes())
    return digest.hexdigest()


def train(
    records: Sequence[DeclarationRecord] | pd.DataFrame,
    fraud: Sequence[int] | np.ndarray,
    critical: Sequence[int] | np.ndarray | None = None,
    *,
    params: TrainParams | None = None,
    progress: Progress = _quiet,
) -> RiskModel:
    """Train a risk model on inspected declarations (records, fraud 0/1, critical fraud 0/1)."""
    params = params or TrainParams()
    frame = records if isinstance(records, pd.DataFrame) else records_to_frame(list(records))
    frame = normalise_frame(frame)
    if len(frame) < 50:
        raise InvalidInput("too few inspected declarations to train", errors=[field_error("records", "need ≥ 50")])
    y = _labels(fraud, "fraud", len(frame))
    c = _labels(np.zeros(len(frame)) if critical is None else critical, "critical", len(frame))
    if y.min() == y.max():
        raise InvalidInput("training needs both fraudulent and clean declarations", errors=[field_error("fraud", "")])
    order = np.argsort(frame["date"].to_numpy(), kind="stable")
    frame, y, c = frame.iloc[order].reset_index(drop=True), y[order], c[order]
    progress("computing history features (past only)")
    builder = FeatureBuilder().fit(frame, y, c)
    x = builder.transform_past(frame, y, c)
    cats = [FEATURE_NAMES.index(n) for n in CATEGORICAL_FIELDS]
    lgb_params = params.lightgbm()
    progress("training the fraud model")
    fraud_booster = lgb.train(
        lgb_params,
        lgb.Dataset(x, y, feature_name=list(FEATURE_NAMES), categorical_feature=cats, free_raw_data=True),
        params.fraud_rounds,
    )
    progress("training the novel-consignment model")
    first_seen = x[:, EXACT_SEEN] == 0
    warm = (frame["date"] >= frame["date"].min() + pd.Timedelta(days=params.novel_warmup_days)).to_numpy()
    if (first_seen & warm).sum() >= 0.25 * first_seen.sum():
        first_seen &= warm
    if y[first_seen].min() == y[first_seen].max():
        first_seen[:] = True
    novel_booster = lgb.train(
        params.lightgbm(novel=True),
        lgb.Dataset(x[first_seen], y[first_seen], feature_name=list(FEATURE_NAMES), categorical_feature=[]),
        params.novel_rounds,
    )
    critical_booster = None
    if c.sum() >= 5:
        progress("training the critical-fraud model")
        critical_booster = lgb.train(
            lgb_params,
            lgb.Dataset(x, c, feature_name=list(FEATURE_NAMES), categorical_feature=cats, free_raw_data=True),
            params.critical_rounds,
        )
    dates = frame["date"]
    metadata = {
        "format_version": FORMAT_VERSION,
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "training_fingerprint": frame_fingerprint(frame, y, c),
        "rows": len(frame),
        "fraud_rate": float(y.mean()),
        "critical_rate": float(c.mean()),
        "date_from": str(dates.min().date()),
        "date_to": str(dates.max().date()),
        "params": asdict(params),
        "critical_weight": CRITICAL_WEIGHT,
        "value_tilt": VALUE_TILT,
        "value_at_risk_factor": str(VALUE_AT_RISK_FACTOR),
        "features": list(FEATURE_NAMES),
        "evaluation": {},
    }
    return RiskModel(builder, fraud_booster, novel_booster, critical_booster, metadata)


def risk_scores(x: np.ndarray, pf: np.ndarray, pc: np.ndarray) -> np.ndarray:
    """Ranking score: fraud probability, plus the weighted critical probability for known consignments, tilted
    slightly toward higher customs values (among equally likely frauds the costlier one comes first).

    For a novel consignment the critical model has no precedent to go on and only adds noise to the ranking.
    The value tilt is (1 + VALUE_TILT × ln(1 + value) / 20): a few per cent between a cheap and a costly item.
    """
    risk = pf + CRITICAL_WEIGHT * pc * (x[:, EXACT_SEEN] > 0)
    return risk * (1.0 + VALUE_TILT * np.nan_to_num(x[:, LOG_VALUE]) / 20.0)


class RiskModel:
    """A trained model: feature builder (with its history tables), boosters and metadata."""

    def __init__(
        self,
        builder: FeatureBuilder,
        fraud_booster: lgb.Booster,
        novel_booster: lgb.Booster,
        critical_booster: lgb.Booster | None,
        metadata: dict[str, Any],
    ) -> None:
        self.builder = builder
        self.fraud_booster = fraud_booster
        self.novel_booster = novel_booster
        self.critical_booster = critical_booster
        self.metadata = metadata

    # -- scoring ------------------------------------------------------------------------------------------------------
    def _predict(self, x: np.ndarray, *, critical_for_novel: bool = True) -> tuple[np.ndarray, np.ndarray]:
        """(fraud, critical) probabilities; the critical one only for known consignments unless asked."""
        threads = self.metadata["params"].get("num_threads", 1)
        known = x[:, EXACT_SEEN] > 0
        pf = np.zeros(len(x))
        pc = np.zeros(len(x))
        if known.any():
            pf[known] = self.fraud_booster.predict(x[known], num_threads=threads)
        if (~known).any():
            pf[~known] = self.novel_booster.predict(x[~known], num_threads=threads)
        if self.critical_booster is not None:
            rows = np.ones(len(x), dtype=bool) if critical_for_novel else known
            if rows.any():
                pc[rows] = self.critical_booster.predict(x[rows], num_threads=threads)
        return pf, pc

    def score_frame(self, frame: pd.DataFrame) -> np.ndarray:
        """Ranking scores of many records (batch path, no explanations); higher is riskier."""
        if len(frame) == 0:
            return np.zeros(0)
        x = self.builder.transform(normalise_frame(frame))
        pf, pc = self._predict(x, critical_for_novel=False)  # the ranking does not use it for novel ones
        return risk_scores(x, pf, pc)

    def probabilities_frame(self, frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        if len(frame) == 0:
            return np.zeros(0), np.zeros(0)
        return self._predict(self.builder.transform(normalise_frame(frame)))

    def score(self, records: Sequence[DeclarationRecord], *, explain: bool = True) -> list[Score]:
        """Score each record, with its top contributing factors in words."""
        records = list(records)
        if not records:
            return []
        if len(records) <= 8:
            x = np.vstack([self.builder.transform_record(r) for r in records])
        else:
            x = self.builder.transform(records_to_frame(records))
        pf, pc = self._predict(x)
        ranking = risk_scores(x, pf, pc)
        contributions = None
        if explain:
            known = x[:, EXACT_SEEN] > 0
            contributions = np.zeros((len(x), len(FEATURE_NAMES) + 1))
            if known.any():
                contributions[known] = self.fraud_booster.predict(x[known], pred_contrib=True, num_threads=1)
            if (~known).any():
                contributions[~known] = self.novel_booster.predict(x[~known], pred_contrib=True, num_threads=1)
        scores = []
        for i, record in enumerate(records):
            factors = (
                explain_contributions(
                    record,
                    x[i],
                    contributions[i],
                    self.builder,
                    top=TOP_FACTORS,
                    low_risk=bool(pf[i] < self.builder.base_rate / 2),
                )
                if contributions is not None
                else []
            )
            value = Decimal(str(record.item_price)) if math.isfinite(record.item_price) else Decimal(0)
            var = (Decimal(str(round(float(pf[i]), 6))) * value * VALUE_AT_RISK_FACTOR).quantize(
                Decimal("0.01"), rounding=ROUND_HALF_UP
            )
            scores.append(
                Score(
                    declaration_id=record.declaration_id,
                    probability=float(pf[i]),
                    critical_probability=float(pc[i]),
                    risk_score=float(ranking[i]),
                    value_at_risk=var,
                    factors=factors,
                )
            )
        return scores

    def score_declaration(self, records: Sequence[DeclarationRecord]) -> Score:
        """A declaration's score: that of its riskiest goods item, with the value at risk summed over items."""
        scores = self.score(records)
        if not scores:
            raise InvalidInput("the declaration has no goods items", errors=[field_error("goods_items", "is empty")])
        top = max(scores, key=lambda s: s.risk_score)
        total = sum((s.value_at_risk for s in scores), Decimal("0"))
        return Score(top.declaration_id, top.probability, top.critical_probability, top.risk_score, total, top.factors)

    # -- persistence --------------------------------------------------------------------------------------------------
    @property
    def version(self) -> str | None:
        return self.metadata.get("version")

    def save(self, path: str | Path) -> Path:
        """Write the model artefact directory (model files, history tables, metadata.json)."""
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        (path / "fraud_model.txt").write_text(self.fraud_booster.model_to_string(), encoding="utf-8")
        (path / "novel_model.txt").write_text(self.novel_booster.model_to_string(), encoding="utf-8")
        if self.critical_booster is not None:
            (path / "critical_model.txt").write_text(self.critical_booster.model_to_string(), encoding="utf-8")
        self.builder.save(path)
        (path / "metadata.json").write_text(json.dumps(self.metadata, indent=2, sort_keys=True), encoding="utf-8")
        return path

    @classmethod
    def load(cls, path: str | Path) -> RiskModel:
        """Read a model artefact directory written by `save`."""
        path = Path(path)
        meta_path = path / "metadata.json"
        if not meta_path.is_file():
            raise NotFound(f"no risk model at {path}")
        metadata = json.loads(meta_path.read_text(encoding="utf-8"))
        if metadata.get("format_version") != FORMAT_VERSION:
            raise InvalidInput(
                f"model at {path} has format {metadata.get('format_version')}, expected {FORMAT_VERSION}",
                errors=[field_error("model", "unsupported format")],
            )
        builder = FeatureBuilder.load(path)
        fraud_booster = lgb.Booster(model_str=(path / "fraud_model.txt").read_text(encoding="utf-8"))
        novel_booster = lgb.Booster(model_str=(path / "novel_model.txt").read_text(encoding="utf-8"))
        critical_path = path / "critical_model.txt"
        critical_booster = (
            lgb.Booster(model_str=critical_path.read_text(encoding="utf-8")) if critical_path.is_file() else None
        )
        return cls(builder, fraud_booster, novel_booster, critical_booster, metadata)
