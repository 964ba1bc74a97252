"""Plain words for the workbench: statuses, actions, roles, times and money as people read them."""

from __future__ import annotations

import dataclasses
import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

STATUS_WORDS = {
    "submitted": "Received",
    "accepted": "Accepted",
    "rejected": "Rejected",
    "assessed": "Assessed, release to follow",
    "awaiting_payment": "Awaiting payment",
    "documentary_check": "Documentary check",
    "physical_inspection": "Physical inspection",
    "documents_requested": "Documents requested",
    "control_completed": "Control done, decision pending",
    "released": "Goods released",
    "refused": "Release refused",
    "seized": "Goods seized",
    "cancelled": "Withdrawn",
    "invalidated": "Invalidated",
}
# Tone of each status: drives the pill colour (ok, wait, act, bad, neutral).
STATUS_TONE = {
    "submitted": "neutral",
    "accepted": "neutral",
    "assessed": "ok",
    "released": "ok",
    "awaiting_payment": "wait",
    "documentary_check": "wait",
    "physical_inspection": "act",
    "documents_requested": "act",
    "control_completed": "wait",
    "rejected": "bad",
    "refused": "bad",
    "seized": "bad",
    "cancelled": "neutral",
    "invalidated": "bad",
}
STATUS_COLOURS = {
    "released": "#059669",
    "assessed": "#10b981",
    "awaiting_payment": "#d97706",
    "documentary_check": "#ca8a04",
    "physical_inspection": "#dc2626",
    "documents_requested": "#ea580c",
    "control_completed": "#7c3aed",
    "submitted": "#6b7280",
    "accepted": "#2563eb",
    "rejected": "#991b1b",
    "refused": "#991b1b",
    "seized": "#7f1d1d",
    "cancelled": "#9ca3af",
    "invalidated": "#4b5563",
}
CHANNEL_WORDS = {
    "green": "Green: release",
    "yellow": "Yellow: documentary check",
    "red": "Red: physical inspection",
    "none": "Not yet assessed",
}
ACTION_WORDS = {
    "submit": "Lodged",
    "accept": "Accepted, MRN issued",
    "reject": "Rejected",
    "assign_channel": "Channel assigned",
    "require_payment": "Payment required",
    "release": "Goods released",
    "request_documents": "Documents requested",
    "provide_documents": "Documents provided",
    "record_control_result": "Control result recorded",
    "reroute": "Re-routed",
    "refuse": "Release refused",
    "seize": "Goods seized",
    "amend": "Amended",
    "cancel": "Withdrawn by the declarant",
    "invalidate": "Invalidated by customs",
}
DECISION_WORDS = {
    "request_documents": "Request documents",
    "record_control_result": "Record control result",
    "release": "Release the goods",
    "reroute": "Re-route",
    "refuse": "Refuse release",
    "seize": "Seize the goods",
    "invalidate": "Invalidate",
}
DONE_WORDS = {
    "lodged": "Declaration lodged. It was accepted and is being assessed; this page shows where it stands.",
    "amended": "Amendment recorded as a new version.",
    "cancelled": "Declaration withdrawn.",
    "request_documents": "Documents requested. The declarant has been told which ones.",
    "record_control_result": "Control result recorded.",
    "release": "Decision recorded: release (held for payment if duties are not yet settled).",
    "reroute": "Declaration re-routed.",
    "refuse": "Release refused.",
    "seize": "Goods seized.",
    "invalidate": "Declaration invalidated.",
}
ROLE_WORDS = {
    "declarant": "Declarant",
    "customs_officer": "Customs officer",
    "risk_analyst": "Risk analyst",
    "checkpoint_operator": "Checkpoint operator",
    "administrator": "Administrator",
    "system": "Automatic",
}
OUTCOME_WORDS = {"no_finding": "No finding", "discrepancy": "Discrepancy", "fraud": "Fraud"}
TRANSPORT_WORDS = {
    "1": "Sea",
    "2": "Rail",
    "3": "Road",
    "4": "Air",
    "5": "Post",
    "7": "Fixed installation",
    "8": "Inland waterway",
    "9": "Own propulsion",
}
# Supporting documents officers ask for most (EU/UK CDS document codes).
COMMON_DOCUMENTS = (
    ("N380", "Commercial invoice"),
    ("N935", "Invoice on which the customs value is declared"),
    ("N954", "EUR.1 movement certificate (preferential origin)"),
    ("N864", "Statement on origin"),
    ("N271", "Packing list"),
    ("N705", "Bill of lading"),
    ("N740", "Air waybill"),
    ("N851", "Phytosanitary certificate"),
    ("N853", "Common health entry document (animal products)"),
    ("C085", "Import licence"),
)
FIELD_WORDS = {
    "documents": "Documents",
    "result.outcome": "Outcome",
    "result.additional_revenue.amount": "Additional revenue",
    "result.additional_revenue.currency": "Currency",
    "channel": "New channel",
    "reason": "Reason",
}


def status_words(value: str | None) -> str:
    return STATUS_WORDS.get(value or "", (value or "").replace("_", " ").capitalize())


def role_words(value: str | None) -> str:
    return ROLE_WORDS.get(value or "", (value or "").replace("_", " ").capitalize())


def when(value: datetime | None) -> str:
    """'25 Nov 2026 14:05 UTC'."""
    if value is None:
        return "—"
    return value.astimezone(UTC).strftime("%d %b %Y %H:%M UTC")


def ago(value: datetime | None, now: datetime | None = None) -> str:
    """How long ago, roughly: '3 min', '2 h 10 min', '4 d'."""
    if value is None:
        return "—"
    delta = (now or datetime.now(UTC)) - value
    seconds = max(0, int(delta.total_seconds()))
    if seconds < 60:
        return "just now"
    if seconds < 3600:
        return f"{seconds // 60} min"
    if seconds < 86400:
        return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"
    return f"{seconds // 86400} d {seconds % 86400 // 3600} h"


def money(value: Any, currency: str | None = None) -> str:
    if value is None or value == "":
        return "—"
    try:
        amount = Decimal(str(value))
    except ArithmeticError:
        return str(value)
    text = f"{amount:,.2f}"
    return f"{text} {currency}" if currency else text


def pct(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.0f}%"


def sentence(text: str) -> str:
    """A service message as a sentence: capital first letter, final full stop."""
    text = text.strip()
    if not text:
        return text
    text = text[0].upper() + text[1:]
    return text if text.endswith((".", "!", "?")) else text + "."


def decision_error(error: dict[str, str]) -> str:
    field = error.get("field", "")
    label = FIELD_WORDS.get(field)
    if label is None and field.startswith("result.corrected_hs_codes"):
        label = "Corrected HS codes"
    if field in ("(body)", ""):
        return sentence(error["reason"])
    return f"{label or field}: {error['reason']}"


def duration(value: timedelta | None) -> str:
    from clearway.web.kpi import duration_words

    return duration_words(value)


def plain(value: Any) -> Any:
    """A service result (pydantic model, dataclass, ORM-free object) as dicts and lists for a template."""
    if value is None or isinstance(value, str | int | float | bool | Decimal | datetime):
        return value
    if hasattr(value, "model_dump"):
        return plain(value.model_dump())
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return plain(dataclasses.asdict(value))
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if hasattr(value, "__dict__"):
        return {k: plain(v) for k, v in vars(value).items() if not k.startswith("_")}
    return str(value)


def label(key: str) -> str:
    """'amount_due' -> 'Amount due'."""
    return key.replace("_", " ").strip().capitalize()


def hit_words(hit: Any) -> str:
    """A selectivity profile hit as one line."""
    if isinstance(hit, dict):
        name = hit.get("name") or hit.get("profile") or hit.get("profile_id") or "profile"
        why = hit.get("reason") or hit.get("description") or hit.get("channel") or ""
        return f"{name}: {why}" if why else str(name)
    return str(hit)


def without_api_paths(text: str) -> str:
    """A service message without the API addresses meant for software ('(recorded at POST /api/...)')."""
    text = re.sub(r"\s*\((?:recorded at |see )?(?:GET|POST|PUT|PATCH|DELETE) /api/[^)]*\)", "", text)
    return re.sub(r"\s*(?:at |via )?(?:GET|POST|PUT|PATCH|DELETE) /api/\S+", "", text)
