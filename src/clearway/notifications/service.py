"""What the declarant is told at each step, and the pull queue they read with a cursor."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from clearway.db import utcnow
from clearway.declarations.domain import Action, Status, documents_in_words
from clearway.notifications.models import Notification

if TYPE_CHECKING:
    from clearway.auth.models import User
    from clearway.declarations.models import Declaration

# type, CDS-style code (where one applies), message
MESSAGES: dict[Status, tuple[str, str | None, str]] = {
    Status.ACCEPTED: ("accepted", "01 DMSACC", "Declaration {lrn} accepted with MRN {mrn}."),
    Status.REJECTED: ("rejected", "03 DMSREJ", "Declaration {lrn} rejected: {reason}"),
    Status.ASSESSED: ("channel_assigned", None, "Declaration {mrn}: green channel, release follows."),
    Status.DOCUMENTARY_CHECK: ("channel_assigned", None, "Declaration {mrn}: yellow channel, documentary check."),
    Status.PHYSICAL_INSPECTION: (
        "channel_assigned",
        "05 DMSCTL",
        "Declaration {mrn}: red channel, physical examination intended.",
    ),
    Status.DOCUMENTS_REQUESTED: ("documents_requested", "06 DMSDOC", "Declaration {mrn}: documents required: {docs}."),
    Status.AWAITING_PAYMENT: ("payment_required", "13 DMSTAX", "Declaration {mrn}: release waits: {reason}."),
    Status.CONTROL_COMPLETED: ("control_completed", None, "Declaration {mrn}: control completed, decision pending."),
    Status.RELEASED: ("released", "08 DMSROG", "Declaration {mrn}: goods released."),
    Status.REFUSED: ("refused", None, "Declaration {mrn}: release refused: {reason}"),
    Status.SEIZED: ("seized", None, "Declaration {mrn}: goods seized: {reason}"),
    Status.CANCELLED: ("cancelled", "10 DMSINV", "Declaration {lrn} withdrawn at your request."),
    Status.INVALIDATED: ("invalidated", "10 DMSINV", "Declaration {mrn} invalidated by customs: {reason}"),
}


def for_transition(
    *,
    session: Session,
    declaration: Declaration,
    action: Action,
    reason: str | None,
    details: dict[str, Any] | None,
) -> None:
    """Queues the declarant's notification for the transition just applied (if it is one they hear of)."""
    if action == Action.AMEND:
        kind, code, template = "amended", "07 DMSRES", "Declaration {lrn}: amendment accepted (version {version})."
    elif action == Action.PROVIDE_DOCUMENTS:
        return
    else:
        entry = MESSAGES.get(Status(declaration.status))
        if entry is None:
            return
        kind, code, template = entry
        code = (details or {}).get("notification_code", code)  # revenue: 14 DMSCPI insufficient deferment balance
    docs = documents_in_words(details)
    message = template.format(
        lrn=declaration.lrn,
        mrn=declaration.mrn or declaration.lrn,
        reason=reason or "",
        docs=docs,
        version=(details or {}).get("version", declaration.version),
    )
    # Targeting is confidential: a channel notification says the channel, never the reasons.
    payload = {} if action in (Action.ASSIGN_CHANNEL, Action.REROUTE) else dict(details or {})
    payload["status"] = declaration.status
    if declaration.channel:
        payload["channel"] = declaration.channel
    if kind == "documents_requested":
        payload["respond_at"] = f"/api/v1/declarations/{declaration.id}/amendments"
    note = Notification(
        recipient_eori=declaration.declarant_eori,
        declaration_id=declaration.id,
        lrn=declaration.lrn,
        mrn=declaration.mrn,
        type=kind,
        code=code,
        message=message.strip(),
        details=payload,
        created_at=utcnow(),
    )
    session.add(note)
    return note


def pull(*, session: Session, user: User, after: int = 0, limit: int = 100) -> list[Notification]:
    """Notifications for the user's EORIs with an id above `after`, oldest first."""
    if not user.eoris:
        return []
    query = (
        select(Notification)
        .where(Notification.recipient_eori.in_(sorted(user.eoris)), Notification.id > after)
        .order_by(Notification.id)
        .limit(limit)
    )
    return list(session.scalars(query))
