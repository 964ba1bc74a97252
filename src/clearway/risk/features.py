"""Declaration-level records and the features the risk model computes from them.

The model never sees a source file's column names: every source (a KCS CSV, a live Clearway declaration) is first
turned into `DeclarationRecord`s, one per goods item. Features are of three kinds:

* the record's own fields (codes as categories, duty rate, log value, log mass, price per kg);
* price per kg against the median of its HS code (and coarser HS levels), learnt from training data;
* history: how often past declarations sharing an entity (importer, declarant, seller, HS code, origin, ...) or an
  identical consignment (same HS code, customs value and net mass, with back-off to coarser keys) were found fraudulent.
  During training these are computed only from declarations of strictly earlier days; when scoring, from the whole
  training history.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, fields
from datetime import date, datetime
from typing import Any

import numpy as np
import pandas as pd

from clearway.errors import InvalidInput, field_error


@dataclass(frozen=True, slots=True)
class DeclarationRecord:
    """One goods item of a declaration, with the header fields the risk model uses."""

    declaration_id: str
    date: date
    office: str = ""
    procedure_type: str = ""
    import_type: str = ""
    import_use: str = ""
    payment_type: str = ""
    transport_mode: str = ""
    declarant_id: str = ""
    importer_id: str = ""
    seller_id: str = ""
    courier_id: str = ""
    hs_code: str = ""
    country_of_dispatch: str = ""
    country_of_origin: str = ""
    duty_rate: float = 0.0
    preference_type: str = ""
    origin_indicator: str = ""
    net_mass_kg: float = 0.0
    item_price: float = 0.0


RECORD_FIELDS: tuple[str, ...] = tuple(f.name for f in fields(DeclarationRecord))
TEXT_FIELDS: tuple[str, ...] = tuple(
    f for f in RECORD_FIELDS if f not in {"date", "duty_rate", "net_mass_kg", "item_price"}
)
NUMERIC_FIELDS: tuple[str, ...] = ("duty_rate", "net_mass_kg", "item_price")

# Low-cardinality codes the model takes as categories (vocabulary learnt at training).
CATEGORICAL_FIELDS: tuple[str, ...] = (
    "office",
    "procedure_type",
    "import_type",
    "import_use",
    "payment_type",
    "transport_mode",
    "preference_type",
    "origin_indicator",
    "country_of_origin",
    "country_of_dispatch",
)

# History keys: name -> record fields (derived fields hs4/hs2/price/mass included) that identify the group.
ENTITY_KEYS: dict[str, tuple[str, ...]] = {
    "importer": ("importer_id",),
    "declarant": ("declarant_id",),
    "seller": ("seller_id",),
    "courier": ("courier_id",),
    "hs6": ("hs6",),
    "hs4": ("hs4",),
    "hs2": ("hs2",),
    "origin": ("country_of_origin",),
    "dispatch": ("country_of_dispatch",),
    "office": ("office",),
    "importer_hs6": ("importer_id", "hs6"),
    "declarant_importer": ("declarant_id", "importer_id"),
    "seller_hs6": ("seller_id", "hs6"),
    "hs6_origin": ("hs6", "country_of_origin"),
    "preference_hs6": ("preference_type", "hs6"),
}
# "Known consignment" memory, from the most specific key to the coarsest.
CONSIGNMENT_KEYS: dict[str, tuple[str, ...]] = {
    "cons_hs_price_mass": ("hs6", "price_key", "mass_key"),
    "cons_hs_price": ("hs6", "price_key"),
    "cons_price_mass": ("price_key", "mass_key"),
    "cons_hs_mass": ("hs6", "mass_key"),
    "cons_price": ("price_key",),
    "cons_hs_mass_origin": ("hs6", "mass_key", "country_of_origin"),
    "cons_importer_price": ("importer_id", "price_key"),
}
HISTORY_KEYS: dict[str, tuple[str, ...]] = {**ENTITY_KEYS, **CONSIGNMENT_KEYS}
# Keys whose identifier may be absent: an empty identifier has no history.
OPTIONAL_KEYS = {"seller", "courier", "seller_hs6", "importer", "declarant", "importer_hs6", "declarant_importer"}

PRIOR_WEIGHT = 2.0  # pseudo-declarations at the base rate added to every group's fraud rate

NUMERIC_FEATURES: tuple[str, ...] = (
    "duty_rate",
    "log_mass",
    "log_price",
    "log_price_per_kg",
    "price_per_kg_vs_hs6",
    "price_per_kg_vs_hs4",
    "price_per_kg_vs_hs2",
    "hs2_num",
    "missing_seller",
    "has_courier",
    "origin_is_dispatch",
)


def history_feature_names() -> list[str]:
    names: list[str] = []
    for key in HISTORY_KEYS:
        names += [f"{key}_n", f"{key}_rate", f"{key}_crit"]
    return names


FEATURE_NAMES: tuple[str, ...] = (*CATEGORICAL_FIELDS, *NUMERIC_FEATURES, *history_feature_names())


# ---------------------------------------------------------------------------------------------------------------------
# Records from sources


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and math.isnan(value):
        return ""
    return str(value).strip()


def _number(value: Any, field: str) -> float:
    if value is None or value == "":
        return 0.0
    try:
        number = float(value)
    except (TypeError, ValueError) as exc:
        raise InvalidInput(f"{field} is not a number", errors=[field_error(field, "must be a number")]) from exc
    if math.isnan(number):
        return 0.0
    return number


def _date(value: Any, field: str) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if value is None or value == "":
        return datetime.now().date()
    try:
        return datetime.fromisoformat(str(value).replace("Z", "+00:00")).date()
    except ValueError as exc:
        raise InvalidInput(f"{field} is not a date", errors=[field_error(field, "must be an ISO date")]) from exc


def _get(mapping: Mapping[str, Any] | None, *path: str) -> Any:
    current: Any = mapping
    for part in path:
        if not isinstance(current, Mapping):
            return None
        current = current.get(part)
    return current


def _party_id(header: Mapping[str, Any], name: str) -> str:
    party = header.get(name)
    if isinstance(party, Mapping):
        return _text(party.get("eori") or party.get("id") or party.get("tin"))
    return _text(party or header.get(f"{name}_eori") or header.get(f"{name}_id"))


def records_from_declaration(declaration: Mapping[str, Any]) -> list[DeclarationRecord]:
    """One record per goods item of a live Clearway declaration (header fields repeated on each)."""
    if not isinstance(declaration, Mapping):
        raise InvalidInput("declaration must be an object", errors=[field_error("declaration", "must be an object")])
    header = declaration.get("header") if isinstance(declaration.get("header"), Mapping) else declaration
    items = declaration.get("goods_items") or declaration.get("items") or []
    if not items:
        raise InvalidInput("the declaration has no goods items", errors=[field_error("goods_items", "is empty")])
    declaration_id = _text(declaration.get("id") or declaration.get("declaration_id") or header.get("lrn") or "")
    when = _date(
        declaration.get("accepted_at") or declaration.get("lodged_at") or header.get("date") or declaration.get("date"),
        "accepted_at",
    )
    transport = header.get("transport_mode") or _get(header, "transport", "mode") or header.get("mode_of_transport")
    base = {
        "declaration_id": declaration_id,
        "date": when,
        "office": _text(header.get("office_of_lodgement") or header.get("office")),
        "procedure_type": _text(header.get("procedure_code") or header.get("procedure_type")),
        "import_type": _text(header.get("import_type") or header.get("declaration_type")),
        "import_use": _text(header.get("import_use")),
        "payment_type": _text(header.get("payment_type") or header.get("payment_method")),
        "transport_mode": _text(transport),
        "declarant_id": _party_id(header, "declarant"),
        "importer_id": _party_id(header, "importer"),
        "seller_id": _party_id(header, "seller"),
        "courier_id": _party_id(header, "courier"),
        "country_of_dispatch": _text(header.get("country_of_dispatch")).upper(),
    }
    records = []
    for index, item in enumerate(items):
        if not isinstance(item, Mapping):
            raise InvalidInput("a goods item must be an object", errors=[field_error(f"goods_items[{index}]", "bad")])
        hs = "".join(ch for ch in _text(item.get("hs_code") or item.get("commodity_code")) if ch.isdigit())
        records.append(
            DeclarationRecord(
                **base,
                hs_code=hs[:6],
                country_of_origin=_text(item.get("country_of_origin")).upper(),
                duty_rate=_number(item.get("duty_rate"), f"goods_items[{index}].duty_rate"),
                preference_type=_text(item.get("preference_code") or item.get("preference_type")),
                origin_indicator=_text(item.get("origin_indicator")),
                net_mass_kg=_number(item.get("net_mass_kg"), f"goods_items[{index}].net_mass_kg"),
                item_price=_number(
                    item.get("item_price") if item.get("item_price") is not None else item.get("customs_value"),
                    f"goods_items[{index}].item_price",
                ),
            )
        )
    return records


def records_to_frame(records: Sequence[DeclarationRecord]) -> pd.DataFrame:
    """A column frame of records (the batch path)."""
    if not records:
        return pd.DataFrame({name: pd.Series(dtype=object) for name in RECORD_FIELDS})
    frame = pd.DataFrame([asdict(r) for r in records], columns=list(RECORD_FIELDS))
    return normalise_frame(frame)


def normalise_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """Coerce a frame holding the record fields to the canonical dtypes."""
    out = pd.DataFrame(index=frame.index)
    for name in TEXT_FIELDS:
        col = frame[name] if name in frame else pd.Series("", index=frame.index)
        out[name] = col.fillna("").astype(str).str.strip()
    out["date"] = pd.to_datetime(frame["date"]).dt.normalize()
    for name in NUMERIC_FIELDS:
        col = frame[name] if name in frame else pd.Series(0.0, index=frame.index)
        out[name] = pd.to_numeric(col, errors="coerce").fillna(0.0).astype(float)
    return out[list(RECORD_FIELDS)].reset_index(drop=True)


def frame_to_records(frame: pd.DataFrame) -> list[DeclarationRecord]:
    rows = frame[list(RECORD_FIELDS)].to_dict("records")
    out = []
    for row in rows:
        row["date"] = pd.Timestamp(row["date"]).date()
        out.append(DeclarationRecord(**row))
    return out


# ---------------------------------------------------------------------------------------------------------------------
# Keys


def price_key(price: float) -> str:
    """Canonical text of a customs value (cents) for exact-match keys."""
    return str(round(price * 100))


def mass_key(mass: float) -> str:
    """Canonical text of a net mass (grams) for exact-match keys."""
    return str(round(mass * 1000))


def _record_parts(record: DeclarationRecord) -> dict[str, str]:
    hs = record.hs_code
    return {
        "importer_id": record.importer_id,
        "declarant_id": record.declarant_id,
        "seller_id": record.seller_id,
        "courier_id": record.courier_id,
        "hs6": hs,
        "hs4": hs[:4],
        "hs2": hs[:2],
        "country_of_origin": record.country_of_origin,
        "country_of_dispatch": record.country_of_dispatch,
        "office": record.office,
        "preference_type": record.preference_type,
        "price_key": price_key(record.item_price),
        "mass_key": mass_key(record.net_mass_kg),
    }


def _frame_parts(frame: pd.DataFrame) -> dict[str, pd.Series]:
    hs = frame["hs_code"]
    return {
        "importer_id": frame["importer_id"],
        "declarant_id": frame["declarant_id"],
        "seller_id": frame["seller_id"],
        "courier_id": frame["courier_id"],
        "hs6": hs,
        "hs4": hs.str[:4],
        "hs2": hs.str[:2],
        "country_of_origin": frame["country_of_origin"],
        "country_of_dispatch": frame["country_of_dispatch"],
        "office": frame["office"],
        "preference_type": frame["preference_type"],
        "price_key": (frame["item_price"] * 100).round().astype("int64").astype(str),
        "mass_key": (frame["net_mass_kg"] * 1000).round().astype("int64").astype(str),
    }


def _record_key(name: str, parts: Mapping[str, str]) -> str | None:
    values = [parts[p] for p in HISTORY_KEYS[name]]
    if name in OPTIONAL_KEYS and any(v == "" for v in values):
        return None
    return "|".join(values)


def _frame_keys(name: str, parts: Mapping[str, pd.Series]) -> pd.Series:
    cols = [parts[p] for p in HISTORY_KEYS[name]]
    key = cols[0].astype(str)
    for col in cols[1:]:
        key = key + "|" + col.astype(str)
    if name in OPTIONAL_KEYS:
        empty = np.zeros(len(key), dtype=bool)
        for col in cols:
            empty |= (col == "").to_numpy()
        key = key.where(~empty, None)
    return key


# ---------------------------------------------------------------------------------------------------------------------
# Feature builder


def _smoothed(n: np.ndarray, hits: np.ndarray, prior: float) -> np.ndarray:
    return (hits + PRIOR_WEIGHT * prior) / (n + PRIOR_WEIGHT)


@dataclass
class HistoryTable:
    """Past inspection outcomes of one key: key -> (declarations, frauds, critical frauds)."""

    keys: list[str]
    n: np.ndarray
    fraud: np.ndarray
    critical: np.ndarray

    def __post_init__(self) -> None:
        self._index = {k: i for i, k in enumerate(self.keys)}
        self._pd_index = pd.Index(self.keys)

    def lookup(self, key: str | None) -> tuple[float, float, float]:
        if key is None:
            return 0.0, 0.0, 0.0
        i = self._index.get(key)
        if i is None:
            return 0.0, 0.0, 0.0
        return float(self.n[i]), float(self.fraud[i]), float(self.critical[i])

    def lookup_many(self, keys: pd.Series) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        pos = self._pd_index.get_indexer(keys.fillna("\x00"))
        found = pos >= 0
        n = np.where(found, self.n[pos], 0.0)
        f = np.where(found, self.fraud[pos], 0.0)
        c = np.where(found, self.critical[pos], 0.0)
        return n, f, c

    def to_json(self) -> dict[str, Any]:
        return {
            "keys": self.keys,
            "n": self.n.tolist(),
            "fraud": self.fraud.tolist(),
            "critical": self.critical.tolist(),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> HistoryTable:
        return cls(
            list(data["keys"]),
            np.asarray(data["n"], dtype=float),
            np.asarray(data["fraud"], dtype=float),
            np.asarray(data["critical"], dtype=float),
        )


class FeatureBuilder:
    """Learns vocabularies, HS price medians and history tables from training data; builds feature matrices."""

    def __init__(self) -> None:
        self.vocab: dict[str, dict[str, int]] = {}
        self.median_ppk: dict[str, dict[str, float]] = {"hs6": {}, "hs4": {}, "hs2": {}}
        self.global_median_ppk = 1.0
        self.base_rate = 0.2
        self.base_critical = 0.01
        self.tables: dict[str, HistoryTable] = {}

    # -- fitting ------------------------------------------------------------------------------------------------------
    def fit(self, frame: pd.DataFrame, fraud: np.ndarray, critical: np.ndarray) -> FeatureBuilder:
        """Learn everything from the training frame; returns self."""
        for name in CATEGORICAL_FIELDS:
            counts = frame[name].value_counts()
            kept = sorted(str(v) for v, c in counts.items() if c >= 5)
            self.vocab[name] = {v: i for i, v in enumerate(kept)}
        ppk = _price_per_kg(frame["item_price"].to_numpy(), frame["net_mass_kg"].to_numpy())
        self.global_median_ppk = float(np.median(ppk)) if len(ppk) else 1.0
        parts = _frame_parts(frame)
        for level in ("hs6", "hs4", "hs2"):
            series = pd.Series(ppk).groupby(parts[level].to_numpy())
            med, size = series.median(), series.size()
            self.median_ppk[level] = {str(k): float(v) for k, v in med[size >= 3].items()}
        self.base_rate = float(np.mean(fraud)) if len(fraud) else 0.2
        self.base_critical = float(np.mean(critical)) if len(critical) else 0.01
        data = pd.DataFrame({"f": fraud.astype(float), "c": critical.astype(float)})
        for name in HISTORY_KEYS:
            keys = _frame_keys(name, parts)
            grouped = data.groupby(keys.to_numpy(), dropna=True).agg(n=("f", "size"), f=("f", "sum"), c=("c", "sum"))
            self.tables[name] = HistoryTable(
                [str(k) for k in grouped.index],
                grouped["n"].to_numpy(float),
                grouped["f"].to_numpy(float),
                grouped["c"].to_numpy(float),
            )
        return self

    # -- batch --------------------------------------------------------------------------------------------------------
    def own_features(self, frame: pd.DataFrame, parts: Mapping[str, pd.Series] | None = None) -> dict[str, np.ndarray]:
        parts = parts or _frame_parts(frame)
        out: dict[str, np.ndarray] = {}
        for name in CATEGORICAL_FIELDS:
            vocab = self.vocab.get(name, {})
            codes = np.array(frame[name].map(vocab).fillna(-1).to_numpy(float))
            codes[codes < 0] = np.nan
            out[name] = codes
        price = frame["item_price"].to_numpy(float)
        mass = frame["net_mass_kg"].to_numpy(float)
        ppk = _price_per_kg(price, mass)
        out["duty_rate"] = frame["duty_rate"].to_numpy(float)
        out["log_mass"] = np.log1p(np.maximum(mass, 0))
        out["log_price"] = np.log1p(np.maximum(price, 0))
        out["log_price_per_kg"] = np.log(ppk)
        for level in ("hs6", "hs4", "hs2"):
            med = parts[level].map(self.median_ppk[level]).to_numpy(float)
            out[f"price_per_kg_vs_{level}"] = np.log(ppk) - np.log(med)
        hs2 = pd.to_numeric(parts["hs2"], errors="coerce").to_numpy(float)
        out["hs2_num"] = hs2
        out["missing_seller"] = (frame["seller_id"] == "").to_numpy(float)
        out["has_courier"] = (frame["courier_id"] != "").to_numpy(float)
        out["origin_is_dispatch"] = (frame["country_of_origin"] == frame["country_of_dispatch"]).to_numpy(float)
        return out

    def _history_columns(self, name: str, n: np.ndarray, f: np.ndarray, c: np.ndarray, out: dict) -> None:
        out[f"{name}_n"] = np.log1p(n)
        out[f"{name}_rate"] = np.where(n > 0, _smoothed(n, f, self.base_rate), np.nan)
        out[f"{name}_crit"] = np.where(n > 0, _smoothed(n, c, self.base_critical), np.nan)

    def transform(self, frame: pd.DataFrame) -> np.ndarray:
        """Feature matrix for scoring: history from the whole training data."""
        parts = _frame_parts(frame)
        out = self.own_features(frame, parts)
        for name, table in self.tables.items():
            n, f, c = table.lookup_many(_frame_keys(name, parts))
            self._history_columns(name, n, f, c, out)
        return np.column_stack([out[name] for name in FEATURE_NAMES]) if len(frame) else _empty()

    def transform_past(self, frame: pd.DataFrame, fraud: np.ndarray, critical: np.ndarray) -> np.ndarray:
        """Feature matrix for training: each row's history only from declarations of strictly earlier days."""
        parts = _frame_parts(frame)
        out = self.own_features(frame, parts)
        day = frame["date"].to_numpy("datetime64[D]").astype("int64")
        for name in HISTORY_KEYS:
            keys = _frame_keys(name, parts)
            n, f, c = _past_counts(keys, day, fraud, critical)
            self._history_columns(name, n, f, c, out)
        return np.column_stack([out[name] for name in FEATURE_NAMES])

    # -- single -------------------------------------------------------------------------------------------------------
    def transform_record(self, record: DeclarationRecord) -> np.ndarray:
        """Feature vector of one record, without pandas (the live scoring path)."""
        parts = _record_parts(record)
        values: list[float] = []
        for name in CATEGORICAL_FIELDS:
            code = self.vocab.get(name, {}).get(getattr(record, name))
            values.append(float(code) if code is not None else math.nan)
        price, mass = record.item_price, record.net_mass_kg
        ppk = max(price, 0.0) / max(mass, 0.001) if price > 0 else 1e-3
        ppk = max(ppk, 1e-3)
        values += [record.duty_rate, math.log1p(max(mass, 0.0)), math.log1p(max(price, 0.0)), math.log(ppk)]
        for level in ("hs6", "hs4", "hs2"):
            med = self.median_ppk[level].get(parts[level])
            values.append(math.log(ppk) - math.log(med) if med else math.nan)
        try:
            values.append(float(parts["hs2"]))
        except ValueError:
            values.append(math.nan)
        values += [
            float(record.seller_id == ""),
            float(record.courier_id != ""),
            float(record.country_of_origin == record.country_of_dispatch),
        ]
        for name, table in self.tables.items():
            n, f, c = table.lookup(_record_key(name, parts))
            values.append(math.log1p(n))
            if n > 0:
                values.append((f + PRIOR_WEIGHT * self.base_rate) / (n + PRIOR_WEIGHT))
                values.append((c + PRIOR_WEIGHT * self.base_critical) / (n + PRIOR_WEIGHT))
            else:
                values += [math.nan, math.nan]
        return np.asarray(values, dtype=float).reshape(1, -1)

    def history_of(self, record: DeclarationRecord, name: str) -> tuple[float, float, float]:
        """(declarations, frauds, critical frauds) in the training history for one key of a record."""
        return self.tables[name].lookup(_record_key(name, _record_parts(record)))

    def hs_median_ppk(self, hs_code: str) -> float | None:
        return self.median_ppk["hs6"].get(hs_code)

    # -- persistence --------------------------------------------------------------------------------------------------
    def to_json(self) -> dict[str, Any]:
        return {
            "vocab": self.vocab,
            "median_ppk": self.median_ppk,
            "global_median_ppk": self.global_median_ppk,
            "base_rate": self.base_rate,
            "base_critical": self.base_critical,
            "tables": {name: table.to_json() for name, table in self.tables.items()},
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> FeatureBuilder:
        builder = cls()
        builder.vocab = {k: dict(v) for k, v in data["vocab"].items()}
        builder.median_ppk = {k: dict(v) for k, v in data["median_ppk"].items()}
        builder.global_median_ppk = float(data["global_median_ppk"])
        builder.base_rate = float(data["base_rate"])
        builder.base_critical = float(data["base_critical"])
        builder.tables = {name: HistoryTable.from_json(t) for name, t in data["tables"].items()}
        return builder


def _empty() -> np.ndarray:
    return np.zeros((0, len(FEATURE_NAMES)))


def _price_per_kg(price: np.ndarray, mass: np.ndarray) -> np.ndarray:
    ppk = np.where(price > 0, np.maximum(price, 0) / np.maximum(mass, 0.001), 1e-3)
    return np.maximum(ppk, 1e-3)


def _past_counts(
    keys: pd.Series, day: np.ndarray, fraud: np.ndarray, critical: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For each row, counts over rows with the same key and a strictly earlier day."""
    data = pd.DataFrame({"k": keys.to_numpy(), "d": day, "f": fraud.astype(float), "c": critical.astype(float)})
    valid = data["k"].notna().to_numpy()
    sub = data[valid]
    daily = sub.groupby(["k", "d"], sort=True).agg(n=("f", "size"), f=("f", "sum"), c=("c", "sum"))
    before = daily.groupby(level=0).cumsum() - daily
    joined = before.reindex(pd.MultiIndex.from_arrays([sub["k"], sub["d"]]))
    n = np.zeros(len(data))
    f = np.zeros(len(data))
    c = np.zeros(len(data))
    n[valid] = joined["n"].to_numpy(float)
    f[valid] = joined["f"].to_numpy(float)
    c[valid] = joined["c"].to_numpy(float)
    return n, f, c


def iter_records(records: Iterable[DeclarationRecord]) -> list[DeclarationRecord]:
    return list(records)
