"""The declaration form: flat HTML field names <-> the WCO-aligned declaration document.

Field names are the error paths pydantic reports (`declarant.eori`, `goods_items[0].hs_code`), so every
validation error lands next to its field.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from clearway.declarations.schemas import INCOTERMS


@dataclass(frozen=True)
class Field:
    name: str
    label: str
    kind: str = "text"  # text | select | number | textarea
    options: tuple[tuple[str, str], ...] = ()
    help: str = ""
    size: str = ""  # css width hint: s, m, l
    required: bool = False


TRANSPORT_MODES = (
    ("1", "1 Sea"),
    ("2", "2 Rail"),
    ("3", "3 Road"),
    ("4", "4 Air"),
    ("5", "5 Post"),
    ("7", "7 Fixed installation"),
    ("8", "8 Inland waterway"),
    ("9", "9 Own propulsion"),
)
DECLARATION_TYPES = (("IM", "IM Import"), ("EX", "EX Export"), ("TR", "TR Transit"))
ADDITIONAL_TYPES = tuple((c, c) for c in "ABCDEFXYZ")


def _party(prefix: str, title: str) -> tuple[str, list[Field]]:
    return title, [
        Field(f"{prefix}.eori", "EORI", help="Country code + up to 15 letters or digits", size="m"),
        Field(f"{prefix}.name", "Name", size="l"),
        Field(f"{prefix}.address.street", "Street", size="l"),
        Field(f"{prefix}.address.city", "City", size="m"),
        Field(f"{prefix}.address.postcode", "Postcode", size="s"),
        Field(f"{prefix}.address.country", "Country", help="2 letters, e.g. GB", size="s"),
    ]


SECTIONS: list[tuple[str, list[Field]]] = [
    (
        "Declaration",
        [
            Field(
                "lrn",
                "Local reference number (LRN)",
                help="Your own reference, unique for you",
                size="m",
                required=True,
            ),
            Field("declaration_type", "Type", "select", DECLARATION_TYPES, size="s", required=True),
            Field(
                "additional_declaration_type",
                "Additional type",
                "select",
                ADDITIONAL_TYPES,
                size="s",
                help="A standard, D pre-lodged",
                required=True,
            ),
            Field(
                "procedure_code",
                "Procedure code",
                help="4 digits, e.g. 4000 release for free circulation",
                size="s",
                required=True,
            ),
            Field("additional_procedure_code", "Additional procedure", help="3 characters, optional", size="s"),
            Field("office_of_lodgement", "Customs office", help="8 characters, e.g. USNYC001", size="s", required=True),
        ],
    ),
    _party("declarant", "Declarant"),
    _party("importer", "Importer (required for imports)"),
    _party("exporter", "Exporter (required for exports)"),
    (
        "Transport and value",
        [
            Field("border_transport.mode", "Mode at the border", "select", TRANSPORT_MODES, size="m", required=True),
            Field("border_transport.identity", "Vessel, flight or vehicle", size="m"),
            Field("border_transport.nationality", "Nationality", help="2 letters", size="s"),
            Field("containers", "Container numbers", help="ISO 6346, separated by commas", size="l"),
            Field("invoice.currency", "Invoice currency", help="ISO 4217, e.g. USD", size="s", required=True),
            Field("invoice.amount", "Invoice amount", "number", size="m", required=True),
            Field("freight.currency", "Freight currency", size="s"),
            Field("freight.amount", "Freight", "number", size="m", help="If not in the price"),
            Field("insurance.currency", "Insurance currency", size="s"),
            Field("insurance.amount", "Insurance", "number", size="m"),
            Field("incoterm", "Incoterm", "select", tuple((t, t) for t in INCOTERMS), size="s", required=True),
            Field("incoterm_place", "Incoterm place", size="m"),
            Field("country_of_dispatch", "Country of dispatch", help="2 letters", size="s", required=True),
            Field("country_of_destination", "Country of destination", help="2 letters", size="s", required=True),
        ],
    ),
]

ITEM_FIELDS: list[Field] = [
    Field("hs_code", "HS code", help="6, 8 or 10 digits", size="s", required=True),
    Field("description", "Description of goods", "textarea", size="l", required=True),
    Field("country_of_origin", "Origin", help="2 letters", size="s", required=True),
    Field("preference_code", "Preference", size="s"),
    Field("net_mass_kg", "Net mass (kg)", "number", size="s", required=True),
    Field("gross_mass_kg", "Gross mass (kg)", "number", size="s", required=True),
    Field("item_price", "Item price", "number", size="s", required=True),
    Field("supplementary_quantity.quantity", "Suppl. quantity", "number", size="s"),
    Field("supplementary_quantity.unit", "Unit", size="s", help="e.g. NAR, L"),
    Field("packages.count", "Packages", "number", size="s"),
    Field("packages.kind", "Kind", size="s", help="e.g. CT, PK"),
    Field("packages.marks", "Marks", size="m"),
    Field("documents", "Documents", "textarea", size="m", help="One per line: code and reference, e.g. N380 INV-77"),
]

HEADER_NAMES = [f.name for _, fields in SECTIONS for f in fields]
ITEM_RE = re.compile(r"^goods_items\[(\d{1,3})\]\.(.+)$")
MIN_ROWS = 3
MAX_ROWS = 200


def _set(target: dict[str, Any], path: str, value: Any) -> None:
    parts = path.split(".")
    for part in parts[:-1]:
        target = target.setdefault(part, {})
    target[parts[-1]] = value


def parse(form: Mapping[str, str]) -> dict[str, Any]:
    """The declaration document from the form's fields; empty fields and blank goods rows are left out."""
    doc: dict[str, Any] = {}
    for name in HEADER_NAMES:
        value = (form.get(name) or "").strip()
        if not value:
            continue
        if name == "containers":
            _set(doc, name, [c for c in re.split(r"[\s,;]+", value.upper()) if c])
        else:
            _set(doc, name, value)
    rows: dict[int, dict[str, Any]] = {}
    item_names = {f.name for f in ITEM_FIELDS}
    for key, raw in form.items():
        match = ITEM_RE.match(key)
        if not match or match.group(2) not in item_names:
            continue
        index, name = int(match.group(1)), match.group(2)
        value = (raw or "").strip()
        if not value or index >= MAX_ROWS:
            continue
        row = rows.setdefault(index, {})
        if name == "documents":
            docs = []
            for line in value.splitlines():
                code, _, reference = line.strip().partition(" ")
                if code:
                    docs.append({"code": code.upper(), "reference": reference.strip()})
            row["documents"] = docs
        else:
            _set(row, name, value)
    items = [rows[i] for i in sorted(rows)]
    for sequence, item in enumerate(items, start=1):
        item["sequence"] = sequence
    if items:
        doc["goods_items"] = items
    return doc


def flatten(document: Mapping[str, Any]) -> tuple[dict[str, str], int]:
    """Form values from a document (to prefill an amendment or re-show a form); returns (values, goods rows)."""
    values: dict[str, str] = {}

    def walk(prefix: str, value: Any) -> None:
        if isinstance(value, dict):
            for key, inner in value.items():
                walk(f"{prefix}.{key}" if prefix else key, inner)
        elif value is not None:
            values[prefix] = str(value)

    for key, value in document.items():
        if key == "goods_items":
            continue
        if key == "containers":
            values[key] = ", ".join(value or [])
        else:
            walk(key, value)
    items = list(document.get("goods_items") or [])
    for index, item in enumerate(items):
        for key, value in item.items():
            if key == "sequence":
                continue
            if key == "documents":
                values[f"goods_items[{index}].documents"] = "\n".join(
                    f"{d.get('code', '')} {d.get('reference', '')}".strip() for d in value or []
                )
            else:
                walk(f"goods_items[{index}].{key}", value)
    return values, len(items)


def error_map(errors: list[dict[str, str]], row_count: int) -> tuple[dict[str, list[str]], list[str]]:
    """Errors keyed by the form field they belong to; those that fit no field are returned apart."""
    known = set(HEADER_NAMES) | {f"goods_items[{i}].{f.name}" for i in range(row_count) for f in ITEM_FIELDS}
    by_field: dict[str, list[str]] = {}
    general: list[str] = []
    for err in errors:
        path = err["field"]
        target = path
        while target and target not in known:
            cut = max(target.rfind("."), target.rfind("["))
            target = target[:cut] if cut > 0 else ""
        if not target and re.fullmatch(r"goods_items\[\d+\]", path):
            target = path  # a whole goods item, e.g. gross mass below net mass
        if target:
            by_field.setdefault(target, []).append(err["reason"])
        else:
            label = "" if path in ("(body)", "goods_items") else f"{path}: "
            general.append(label + err["reason"])
    return by_field, general
