"""Turns a model's per-feature contributions (LightGBM pred_contrib) into sentences an officer understands."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

from clearway.risk.features import CONSIGNMENT_KEYS, FEATURE_NAMES, HISTORY_KEYS, DeclarationRecord

if TYPE_CHECKING:
    from clearway.risk.features import FeatureBuilder

FIELD_LABELS = {
    "office": "customs office",
    "procedure_type": "procedure type",
    "import_type": "import type",
    "import_use": "import use",
    "payment_type": "payment type",
    "transport_mode": "transport mode",
    "preference_type": "tax/preference type",
    "origin_indicator": "origin indication",
    "country_of_origin": "country of origin",
    "country_of_dispatch": "country of dispatch",
}

# Feature -> group whose contributions are added up and explained in one sentence.
_GROUP_OF = {
    "log_price_per_kg": "price_per_kg",
    "price_per_kg_vs_hs6": "price_per_kg",
    "price_per_kg_vs_hs4": "price_per_kg",
    "price_per_kg_vs_hs2": "price_per_kg",
    "log_price": "value",
    "log_mass": "mass",
    "duty_rate": "duty",
    "hs2_num": "chapter",
    "missing_seller": "seller",
    "has_courier": "courier",
    "origin_is_dispatch": "origin_vs_dispatch",
}


def _group(feature: str) -> str:
    if feature in _GROUP_OF:
        return _GROUP_OF[feature]
    for suffix in ("_n", "_rate", "_crit"):
        key = feature[: -len(suffix)]
        if feature.endswith(suffix) and key in CONSIGNMENT_KEYS:
            return "consignment"  # one sentence for the whole "known consignment" memory
        if feature.endswith(suffix) and key in HISTORY_KEYS:
            return key
    return feature


FEATURE_GROUPS = [_group(name) for name in FEATURE_NAMES]


def _amount(value: float) -> str:
    return f"{value:,.2f}".rstrip("0").rstrip(".") if value != int(value) else f"{int(value):,}"


def _kg(value: float) -> str:
    return f"{value:,.3f}".rstrip("0").rstrip(".")


def _times(count: float) -> str:
    return "once" if int(count) == 1 else f"{int(count)} times"


def _history_subject(key: str, r: DeclarationRecord) -> str:
    hs = r.hs_code or "?"
    subjects = {
        "importer": "importer's past fraud rate",
        "declarant": "declarant's past fraud rate",
        "seller": "seller's past fraud rate",
        "courier": "courier's past fraud rate",
        "hs6": f"past fraud rate for HS {hs}",
        "hs4": f"past fraud rate for heading {hs[:4]}",
        "hs2": f"past fraud rate for chapter {hs[:2]}",
        "origin": f"past fraud rate for goods originating in {r.country_of_origin or '?'}",
        "dispatch": f"past fraud rate for goods dispatched from {r.country_of_dispatch or '?'}",
        "office": f"past fraud rate at office {r.office or '?'}",
        "importer_hs6": f"importer's past fraud rate on HS {hs}",
        "declarant_importer": "past fraud rate of this declarant with this importer",
        "seller_hs6": f"seller's past fraud rate on HS {hs}",
        "hs6_origin": f"past fraud rate for HS {hs} from {r.country_of_origin or '?'}",
        "preference_hs6": f"past fraud rate for HS {hs} under tax type {r.preference_type or '?'}",
    }
    return subjects[key]


# From the most specific precedent to the coarsest.
_CONSIGNMENT_WORDS = {
    "cons_hs_price_mass": "identical consignment (HS {hs}, value {value}, {mass} kg)",
    "cons_hs_price": "consignments with the same HS code {hs} and value {value}",
    "cons_price_mass": "consignments with the same value {value} and net mass {mass} kg",
    "cons_hs_mass_origin": "consignments of HS {hs}, {mass} kg from {origin}",
    "cons_hs_mass": "consignments with the same HS code {hs} and net mass {mass} kg",
    "cons_importer_price": "this importer's declarations with the same value {value}",
    "cons_price": "consignments with the same value {value}",
}


def describe_group(group: str, record: DeclarationRecord, builder: FeatureBuilder) -> str:
    """One sentence, with numbers, about one group of features of a record."""
    r = record
    if group == "consignment":
        for key in _CONSIGNMENT_WORDS:  # the most specific precedent that exists
            if builder.history_of(r, key)[0] > 0:
                return describe_group(key, r, builder)
        return "no consignment with the same HS code and value or mass in the inspection history"
    if group in _CONSIGNMENT_WORDS:
        n, f, _ = builder.history_of(r, group)
        what = _CONSIGNMENT_WORDS[group].format(
            hs=r.hs_code or "?", value=_amount(r.item_price), mass=_kg(r.net_mass_kg), origin=r.country_of_origin or "?"
        )
        if n == 0:
            return f"no {what} in the inspection history"
        return f"{what} inspected {_times(n)} before, fraud found {_times(f)} ({f / n:.0%})"
    if group in HISTORY_KEYS:
        n, f, _ = builder.history_of(r, group)
        subject = _history_subject(group, r)
        if n == 0:
            return f"{subject}: unknown (no past inspections)"
        return f"{subject} {f / n:.0%} ({int(f)} of {int(n)} inspected)"
    if group == "price_per_kg":
        ppk = r.item_price / r.net_mass_kg if r.net_mass_kg > 0 else math.inf
        for level, label in ((6, "HS"), (4, "heading"), (2, "chapter")):  # noqa: B007 (used after the loop)
            code = r.hs_code[:level]
            median = builder.median_ppk[f"hs{level}"].get(code)
            if median:
                break
        else:
            return f"price per kg {_amount(round(ppk, 2))} (no median known for HS {r.hs_code or '?'})"
        if not math.isfinite(ppk) or ppk <= 0:
            return f"no usable price per kg (median for {label} {code} is {_amount(round(median, 2))})"
        ratio = ppk / median
        if ratio < 0.9:
            return f"price per kg {1 / ratio:.1f}× below the median for {label} {code}"
        if ratio > 1.1:
            return f"price per kg {ratio:.1f}× above the median for {label} {code}"
        return f"price per kg close to the median for {label} {code}"
    if group == "value":
        return f"customs value {_amount(r.item_price)}"
    if group == "mass":
        return f"net mass {_kg(r.net_mass_kg)} kg"
    if group == "duty":
        return f"duty rate {r.duty_rate:g}%"
    if group == "chapter":
        return f"goods of HS chapter {r.hs_code[:2] or '?'}"
    if group == "seller":
        return "no seller declared" if not r.seller_id else "seller declared"
    if group == "courier":
        return f"sent by express courier {r.courier_id}" if r.courier_id else "not sent by express courier"
    if group == "origin_vs_dispatch":
        if r.country_of_origin == r.country_of_dispatch:
            return f"origin and dispatch both {r.country_of_origin or '?'}"
        return f"origin {r.country_of_origin or '?'} differs from dispatch country {r.country_of_dispatch or '?'}"
    if group in FIELD_LABELS:
        return f"{FIELD_LABELS[group]} {getattr(r, group) or 'not given'}"
    return group.replace("_", " ")


def explain_contributions(
    record: DeclarationRecord,
    features: np.ndarray,
    contributions: np.ndarray,
    builder: FeatureBuilder,
    *,
    top: int = 3,
    low_risk: bool = False,
) -> list[str]:
    """The top factors raising the risk of a record; for a low-risk record, those lowering it most."""
    totals: dict[str, float] = {}
    for group, value in zip(FEATURE_GROUPS, contributions[: len(FEATURE_NAMES)], strict=True):
        totals[group] = totals.get(group, 0.0) + float(value)
    raising = [(g, v) for g, v in sorted(totals.items(), key=lambda kv: kv[1], reverse=True) if v > 0.01][:top]
    if raising and not low_risk:
        return [describe_group(g, record, builder) for g, _ in raising]
    lowering = [(g, v) for g, v in sorted(totals.items(), key=lambda kv: kv[1]) if v < 0][:top]
    if not lowering:
        return [describe_group(g, record, builder) for g, _ in raising] or ["no factor stands out"]
    return [f"{describe_group(g, record, builder)} (lowers the risk)" for g, _ in lowering]
