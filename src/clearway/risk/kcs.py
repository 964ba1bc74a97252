"""The KCS customs declaration CSV format (Korea Customs Service synthetic data) mapped onto Clearway's fields."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from clearway.errors import InvalidInput, field_error
from clearway.risk.features import normalise_frame

# KCS column -> DeclarationRecord field.
COLUMN_MAP: dict[str, str] = {
    "Declaration ID": "declaration_id",
    "Date": "date",
    "Office ID": "office",
    "Process Type": "procedure_type",
    "Import Type": "import_type",
    "Import Use": "import_use",
    "Payment Type": "payment_type",
    "Mode of Transport": "transport_mode",
    "Declarant ID": "declarant_id",
    "Importer ID": "importer_id",
    "Seller ID": "seller_id",
    "Courier ID": "courier_id",
    "HS6 Code": "hs_code",
    "Country of Departure": "country_of_dispatch",
    "Country of Origin": "country_of_origin",
    "Tax Rate": "duty_rate",
    "Tax Type": "preference_type",
    "Country of Origin Indicator": "origin_indicator",
    "Net Mass": "net_mass_kg",
    "Item Price": "item_price",
}
REQUIRED_COLUMNS = ("Declaration ID", "Date", "HS6 Code", "Net Mass", "Item Price")
FRAUD_COLUMN = "Fraud"
CRITICAL_COLUMN = "Critical Fraud"


@dataclass
class KcsData:
    """Records of a KCS file as a frame of Clearway fields, with the labels when the file has them."""

    frame: pd.DataFrame
    fraud: np.ndarray | None
    critical: np.ndarray | None  # 1 where `Critical Fraud == 2`
    item_price: np.ndarray

    @property
    def has_labels(self) -> bool:
        return self.fraud is not None


def read_kcs(path: str | Path, *, labels: bool = True) -> KcsData:
    """Read a KCS CSV; with labels=False the label columns are never looked at."""
    path = Path(path)
    if not path.is_file():
        raise InvalidInput(f"{path} does not exist", errors=[field_error("data", f"no file at {path}")])
    text_columns = [c for c in COLUMN_MAP if c not in {"Tax Rate", "Net Mass", "Item Price"}]
    try:
        raw = pd.read_csv(path, dtype={c: str for c in text_columns}, keep_default_na=False, na_values=[""])
    except (pd.errors.ParserError, UnicodeDecodeError, pd.errors.EmptyDataError) as exc:
        raise InvalidInput(f"{path} is not a readable CSV", errors=[field_error("data", str(exc))]) from exc
    missing = [c for c in REQUIRED_COLUMNS if c not in raw.columns]
    if missing:
        raise InvalidInput(
            f"{path} lacks the KCS columns {', '.join(missing)}",
            errors=[field_error("data", f"missing column {c}") for c in missing],
        )
    return kcs_from_frame(raw, labels=labels)


def kcs_from_frame(raw: pd.DataFrame, *, labels: bool = True) -> KcsData:
    mapped = pd.DataFrame({field: raw[col] for col, field in COLUMN_MAP.items() if col in raw.columns})
    hs = mapped["hs_code"].fillna("").astype(str).str.replace(r"\D", "", regex=True)
    mapped["hs_code"] = hs.str.zfill(6).where(hs != "", "")
    try:
        mapped["date"] = pd.to_datetime(mapped["date"], format="mixed")
    except (ValueError, TypeError) as exc:
        raise InvalidInput("Date is not a date", errors=[field_error("Date", "must be YYYY-MM-DD")]) from exc
    frame = normalise_frame(mapped)
    fraud = critical = None
    if labels and FRAUD_COLUMN in raw.columns:
        fraud_col = pd.to_numeric(raw[FRAUD_COLUMN], errors="coerce")
        if fraud_col.notna().all():
            fraud = fraud_col.to_numpy(int)
            if CRITICAL_COLUMN in raw.columns:
                crit_col = pd.to_numeric(raw[CRITICAL_COLUMN], errors="coerce").fillna(0)
                critical = (crit_col == 2).to_numpy(int)
            else:
                critical = np.zeros(len(raw), dtype=int)
    return KcsData(frame=frame, fraud=fraud, critical=critical, item_price=frame["item_price"].to_numpy(float))
