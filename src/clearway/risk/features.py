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

import hashlib
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, fields
from datetime import UTC, date, datetime
from pathlib import Path
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
        return datetime.now(UTC).date()
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
    """Coerce a frame holding the record fields to the canonical dtypes (a no-op on a frame it made)."""
    if (
        frame.attrs.get("clearway_records")
        and list(frame.columns) == list(RECORD_FIELDS)
        and frame.index.equals(pd.RangeIndex(len(frame)))
    ):
        return frame
    out = pd.DataFrame(index=frame.index)
    for name in TEXT_FIELDS:
        col = frame[name] if name in frame else pd.Series("", index=frame.index)
        out[name] = col.fillna("").astype(str).str.strip()
    out["date"] = pd.to_datetime(frame["date"]).dt.normalize()
    for name in NUMERIC_FIELDS:
        col = frame[name] if name in frame else pd.Series(0.0, index=frame.index)
        out[name] = pd.to_numeric(col, errors="coerce").fillna(0.0).astype(float)
    out = out[list(RECORD_FIELDS)].reset_index(drop=True)
    out.attrs["clearway_records"] = True
    return out


def frame_to_records(frame: pd.DataFrame) -> list[DeclarationRecord]:
    rows = frame[list(RECORD_FIELDS)].to_dict("records")
    out = []
    for row in rows:
        row["date"] = pd.Timestamp(row["date"]).date()
        out.append(DeclarationRecord(**row))
    return out


# ---------------------------------------------------------------------------------------------------------------------
# Keys


_MASK = (1 << 64) - 1
_MIX = 0x100000001B3  # FNV prime: combines part hashes into one key hash
_NUMERIC_PARTS = {"price_key": 100.0, "mass_key": 1000.0}  # exact match at cents / grams


def _text_hash(text: str) -> int:
    """Stable 64-bit hash of a text (the same in every process, unlike hash())."""
    return int.from_bytes(hashlib.blake2b(text.encode("utf-8"), digest_size=8).digest(), "little")


def _int_hash(value: int) -> int:
    """splitmix64 of an integer; `_int_hash_array` is its vectorised twin."""
    z = (value + 0x9E3779B97F4A7C15) & _MASK
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK
    return z ^ (z >> 31)


def _int_hash_array(values: np.ndarray) -> np.ndarray:
    z = values.astype(np.int64).view(np.uint64) + np.uint64(0x9E3779B97F4A7C15)
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


def _text_hash_array(values: pd.Series) -> np.ndarray:
    codes, uniques = pd.factorize(values.to_numpy(dtype=object))
    hashed = np.fromiter((_text_hash(str(u)) for u in uniques), dtype=np.uint64, count=len(uniques))
    return hashed[codes] if len(uniques) else np.zeros(len(values), dtype=np.uint64)


_EMPTY_HASH = _text_hash("")


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
    }


def _record_hashes(record: DeclarationRecord) -> dict[str, int]:
    hashes = {name: _text_hash(value) for name, value in _record_parts(record).items()}
    hashes["price_key"] = _int_hash(round(record.item_price * _NUMERIC_PARTS["price_key"]))
    hashes["mass_key"] = _int_hash(round(record.net_mass_kg * _NUMERIC_PARTS["mass_key"]))
    return hashes


def _frame_hashes(frame: pd.DataFrame) -> dict[str, np.ndarray]:
    hashes = {name: _text_hash_array(col) for name, col in _frame_parts(frame).items()}
    hashes["price_key"] = _int_hash_array((frame["item_price"].to_numpy(float) * 100).round())
    hashes["mass_key"] = _int_hash_array((frame["net_mass_kg"].to_numpy(float) * 1000).round())
    return hashes


def _record_key(name: str, hashes: Mapping[str, int]) -> int | None:
    """The 64-bit key of one history group of a record (None: an identifier is missing)."""
    values = [hashes[p] for p in HISTORY_KEYS[name]]
    if name in OPTIONAL_KEYS and any(v == _EMPTY_HASH for v in values):
        return None
    key = values[0]
    for value in values[1:]:
        key = ((key * _MIX) & _MASK) ^ value
    return key


def _frame_keys(name: str, hashes: Mapping[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Keys of one history group for every row, and a mask of rows that have one."""
    cols = [hashes[p] for p in HISTORY_KEYS[name]]
    key = cols[0].copy()
    for col in cols[1:]:
        key = (key * np.uint64(_MIX)) ^ col
    valid = np.ones(len(key), dtype=bool)
    if name in OPTIONAL_KEYS:
        for col in cols:
            valid &= col != np.uint64(_EMPTY_HASH)
    return key, valid


# ---------------------------------------------------------------------------------------------------------------------
# Feature builder


def _smoothed(n: np.ndarray, hits: np.ndarray, prior: float) -> np.ndarray:
    return (hits + PRIOR_WEIGHT * prior) / (n + PRIOR_WEIGHT)


class HistoryTable:
    """Past inspection outcomes of one key: 64-bit key -> (declarations, frauds, critical frauds)."""

    def __init__(self, keys: np.ndarray, n: np.ndarray, fraud: np.ndarray, critical: np.ndarray) -> None:
        self.keys = np.asarray(keys, dtype=np.uint64)
        self.n = np.asarray(n, dtype=float)
        self.fraud = np.asarray(fraud, dtype=float)
        self.critical = np.asarray(critical, dtype=float)
        # both indexes are built up front so that no scoring call pays for them
        self._index: dict[int, int] = dict(zip(self.keys.tolist(), range(len(self.keys)), strict=True))
        self._pd_index = pd.Index(self.keys)

    def lookup(self, key: int | None) -> tuple[float, float, float]:
        if key is None:
            return 0.0, 0.0, 0.0
        i = self._index.get(key)
        if i is None:
            return 0.0, 0.0, 0.0
        return float(self.n[i]), float(self.fraud[i]), float(self.critical[i])

    def lookup_many(self, keys: np.ndarray, valid: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        pos = self._pd_index.get_indexer(keys)
        found = (pos >= 0) & valid
        n = np.where(found, self.n[pos], 0.0)
        f = np.where(found, self.fraud[pos], 0.0)
        c = np.where(found, self.critical[pos], 0.0)
        return n, f, c


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
        hashes = _frame_hashes(frame)
        data = pd.DataFrame({"f": fraud.astype(float), "c": critical.astype(float)})
        for name in HISTORY_KEYS:
            keys, valid = _frame_keys(name, hashes)
            grouped = data[valid].groupby(keys[valid]).agg(n=("f", "size"), f=("f", "sum"), c=("c", "sum"))
            self.tables[name] = HistoryTable(
                grouped.index.to_numpy(np.uint64),
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
            out[name] = _map_values(frame[name], vocab)
        price = frame["item_price"].to_numpy(float)
        mass = frame["net_mass_kg"].to_numpy(float)
        ppk = _price_per_kg(price, mass)
        out["duty_rate"] = frame["duty_rate"].to_numpy(float)
        out["log_mass"] = np.log1p(np.maximum(mass, 0))
        out["log_price"] = np.log1p(np.maximum(price, 0))
        out["log_price_per_kg"] = np.log(ppk)
        for level in ("hs6", "hs4", "hs2"):
            med = _map_values(parts[level], self.median_ppk[level])
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
        hashes = _frame_hashes(frame)
        for name, table in self.tables.items():
            n, f, c = table.lookup_many(*_frame_keys(name, hashes))
            self._history_columns(name, n, f, c, out)
        return np.column_stack([out[name] for name in FEATURE_NAMES]) if len(frame) else _empty()

    def transform_past(self, frame: pd.DataFrame, fraud: np.ndarray, critical: np.ndarray) -> np.ndarray:
        """Feature matrix for training: each row's history only from declarations of strictly earlier days."""
        parts = _frame_parts(frame)
        out = self.own_features(frame, parts)
        hashes = _frame_hashes(frame)
        day = frame["date"].to_numpy("datetime64[D]").astype("int64")
        for name in HISTORY_KEYS:
            keys, valid = _frame_keys(name, hashes)
            n, f, c = _past_counts(keys, valid, day, fraud, critical)
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
        hashes = _record_hashes(record)
        for name, table in self.tables.items():
            n, f, c = table.lookup(_record_key(name, hashes))
            values.append(math.log1p(n))
            if n > 0:
                values.append((f + PRIOR_WEIGHT * self.base_rate) / (n + PRIOR_WEIGHT))
                values.append((c + PRIOR_WEIGHT * self.base_critical) / (n + PRIOR_WEIGHT))
            else:
                values += [math.nan, math.nan]
        return np.asarray(values, dtype=float).reshape(1, -1)

    def history_of(self, record: DeclarationRecord, name: str) -> tuple[float, float, float]:
        """(declarations, frauds, critical frauds) in the training history for one key of a record."""
        return self.tables[name].lookup(_record_key(name, _record_hashes(record)))

    def hs_median_ppk(self, hs_code: str) -> float | None:
        return self.median_ppk["hs6"].get(hs_code)

    # -- persistence --------------------------------------------------------------------------------------------------
    def save(self, folder: Path) -> None:
        """Write features.json (vocabularies, medians, base rates) and history.npz (the history tables)."""
        meta = {
            "vocab": self.vocab,
            "median_ppk": self.median_ppk,
            "global_median_ppk": self.global_median_ppk,
            "base_rate": self.base_rate,
            "base_critical": self.base_critical,
            "tables": list(self.tables),
        }
        (folder / "features.json").write_text(json.dumps(meta, sort_keys=True), encoding="utf-8")
        arrays: dict[str, np.ndarray] = {}
        for name, table in self.tables.items():
            arrays[f"{name}.keys"] = table.keys
            arrays[f"{name}.n"] = table.n.astype(np.int32)
            arrays[f"{name}.fraud"] = table.fraud.astype(np.int32)
            arrays[f"{name}.critical"] = table.critical.astype(np.int32)
        with (folder / "history.npz").open("wb") as handle:
            np.savez_compressed(handle, **arrays)

    @classmethod
    def load(cls, folder: Path) -> FeatureBuilder:
        data = json.loads((folder / "features.json").read_text(encoding="utf-8"))
        builder = cls()
        builder.vocab = {k: dict(v) for k, v in data["vocab"].items()}
        builder.median_ppk = {k: dict(v) for k, v in data["median_ppk"].items()}
        builder.global_median_ppk = float(data["global_median_ppk"])
        builder.base_rate = float(data["base_rate"])
        builder.base_critical = float(data["base_critical"])
        with np.load(folder / "history.npz", allow_pickle=False) as arrays:
            builder.tables = {
                name: HistoryTable(
                    arrays[f"{name}.keys"], arrays[f"{name}.n"], arrays[f"{name}.fraud"], arrays[f"{name}.critical"]
                )
                for name in data["tables"]
            }
        return builder


def _map_values(column: pd.Series, mapping: Mapping[str, float]) -> np.ndarray:
    """column.map(mapping) as floats (NaN when absent), looking each distinct value up once."""
    codes, uniques = pd.factorize(column.to_numpy(dtype=object))
    values = np.array([mapping.get(u, math.nan) for u in uniques], dtype=float)
    return values[codes] if len(uniques) else np.full(len(column), math.nan)


def _empty() -> np.ndarray:
    return np.zeros((0, len(FEATURE_NAMES)))


def _price_per_kg(price: np.ndarray, mass: np.ndarray) -> np.ndarray:
    ppk = np.where(price > 0, np.maximum(price, 0) / np.maximum(mass, 0.001), 1e-3)
    return np.maximum(ppk, 1e-3)


def _past_counts(
    keys: np.ndarray, valid: np.ndarray, day: np.ndarray, fraud: np.ndarray, critical: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For each row, counts over rows with the same key and a strictly earlier day."""
    sub = pd.DataFrame(
        {"k": keys[valid], "d": day[valid], "f": fraud[valid].astype(float), "c": critical[valid].astype(float)}
    )
    daily = sub.groupby(["k", "d"], sort=True).agg(n=("f", "size"), f=("f", "sum"), c=("c", "sum"))
    before = daily.groupby(level=0).cumsum() - daily
    joined = before.reindex(pd.MultiIndex.from_arrays([sub["k"], sub["d"]]))
    n = np.zeros(len(keys))
    f = np.zeros(len(keys))
    c = np.zeros(len(keys))
    n[valid] = joined["n"].to_numpy(float)
    f[valid] = joined["f"].to_numpy(float)
    c[valid] = joined["c"].to_numpy(float)
    return n, f, c
