"""Declaration use cases: lodge, read, list, amend, cancel, and the one place where a transition is applied.

Functions take the caller's session and never commit: the view (or job) commits the use case once.
"""

from __future__ import annotations

import base64
import hashlib
import json
import uuid
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import and_, delete, false, insert, or_, select, true
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from clearway.auth.models import User
from clearway.auth.service import audit_many
from clearway.db import utcnow
from clearway.declarations import domain
from clearway.declarations.domain import Action, Channel, Role, Status
from clearway.declarations.models import Declaration, DeclarationEvent, DeclarationVersion, GoodsItem
from clearway.declarations.schemas import DeclarationIn, EventOut
from clearway.errors import Conflict, Forbidden, InvalidInput, NotFound, field_error
from clearway.notifications import service as notifications
from clearway.revenue import service as revenue
from clearway.workers.jobs import enqueue

ASSESS_JOB = "declaration.assess"
RELEASE_JOB = "declaration.release"
STAFF_ROLES = {Role.CUSTOMS_OFFICER, Role.RISK_ANALYST, Role.CHECKPOINT_OPERATOR, Role.ADMINISTRATOR}


@dataclass(frozen=True)
class Actor:
    """Who acts: a person's username and role, or the automatic chain."""

    username: str
    role: Role

    @classmethod
    def of(cls, user: User) -> Actor:
        return cls(user.username, Role(user.role))


SYSTEM = Actor("system", Role.SYSTEM)


def content_hash(document: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(document, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def _insert_goods_items(session: Session, declaration_id: str, document: dict[str, Any]) -> None:
    # Core inserts: one statement for all items (the ORM unit of work costs more than the rest of lodging).
    rows = [
        {
            "declaration_id": declaration_id,
            "sequence": item["sequence"],
            "hs_code": item["hs_code"],
            "description": item["description"],
            "country_of_origin": item["country_of_origin"],
            "preference_code": item.get("preference_code"),
            "net_mass_kg": Decimal(item["net_mass_kg"]),
            "gross_mass_kg": Decimal(item["gross_mass_kg"]),
            "item_price": Decimal(item["item_price"]),
        }
        for item in document["goods_items"]
    ]
    session.execute(insert(GoodsItem.__table__), rows)


def _insert_version(session: Session, decl: Declaration, reason: str, actor: Actor) -> None:
    session.execute(
        insert(DeclarationVersion.__table__),
        [
            {
                "declaration_id": decl.id,
                "version": decl.version,
                "document": decl.document,
                "reason": reason,
                "created_by": actor.username,
                "created_at": utcnow(),
            }
        ],
    )


def _require_declarant_for(user: User, eori: str) -> None:
    if user.role != Role.DECLARANT:
        raise Forbidden(f"only a declarant lodges declarations; you are {user.role}")
    if eori not in user.eoris:
        raise Forbidden(
            f"you are not authorised to act for EORI {eori}",
            errors=[field_error("declarant.eori", f"not one of your EORIs ({', '.join(sorted(user.eoris))})")],
        )


def submit(
    *, session: Session, user: User, declaration: DeclarationIn, idempotency_key: str | None, country_code: str
) -> tuple[Declaration, bool]:
    """Lodges a declaration and accepts it (MRN issued, assessment queued).

    Returns (declaration, created). A retry with the same Idempotency-Key, or the same declarant and LRN and the
    same content, returns the first declaration; the same LRN with different content is a conflict.
    """
    _require_declarant_for(user, declaration.declarant.eori)
    document = declaration.model_dump(mode="json", exclude_none=True)
    digest = content_hash(document)
    now = utcnow()
    row = {
        "id": str(uuid.uuid4()),
        "lrn": declaration.lrn,
        "mrn": domain.new_mrn(country_code, now.year),
        "declarant_eori": declaration.declarant.eori,
        "importer_eori": declaration.importer.eori if declaration.importer else None,
        "exporter_eori": declaration.exporter.eori if declaration.exporter else None,
        "declaration_type": declaration.declaration_type,
        "procedure_code": declaration.procedure_code,
        "office_of_lodgement": declaration.office_of_lodgement,
        "status": Status.ACCEPTED.value,
        "channel": None,
        "version": 1,
        "document": document,
        "goods_item_count": len(declaration.goods_items),
        "invoice_currency": declaration.invoice.currency,
        "invoice_amount": declaration.invoice.amount,
        "content_hash": digest,
        "idempotency_key": idempotency_key,
        "submitted_by": user.id,
        "submitted_at": now,
        "accepted_at": now,
        "released_at": None,
        "updated_at": now,
    }
    # The unique keys (declarant + LRN, submitter + Idempotency-Key) decide: insert first, look up only on a clash.
    # A Core insert: the ORM's unit of work costs more than the rest of lodging.
    try:
        session.execute(insert(Declaration.__table__), [row])
    except IntegrityError:
        session.rollback()  # nothing else is in this transaction yet
        existing = _find_existing(session, user, declaration, idempotency_key)
        if existing is None:
            raise
        return _replay(existing, digest, idempotency_key), False
    decl = Declaration(**row)  # what was stored, for the caller (not attached to the session)

    actor = Actor.of(user)
    _insert_goods_items(session, decl.id, document)
    _insert_version(session, decl, "lodged", actor)
    # Registered and accepted in one step: both are in the history, as CDS reports them (DMSRCV, DMSACC).
    domain.check_allowed(Action.ACCEPT, Status.SUBMITTED, SYSTEM.role)
    _record(session, decl, lodging_entries(decl, actor))
    notifications.for_transition(session=session, declaration=decl, action=Action.ACCEPT, reason=None, details=None)
    # Taxes and risk are assessed by the job, off the intake path (ASYCUDA's "assessed" step).
    enqueue(session, ASSESS_JOB, {"declaration_id": decl.id})
    return decl, True


def _find_existing(
    session: Session, user: User, declaration: DeclarationIn, idempotency_key: str | None
) -> Declaration | None:
    conditions = [and_(Declaration.declarant_eori == declaration.declarant.eori, Declaration.lrn == declaration.lrn)]
    if idempotency_key:
        conditions.append(and_(Declaration.submitted_by == user.id, Declaration.idempotency_key == idempotency_key))
    return session.scalars(select(Declaration).where(or_(*conditions))).first()


def _replay(existing: Declaration, digest: str, idempotency_key: str | None) -> Declaration:
    """The first declaration when the retry carries the same content as first lodged; a conflict otherwise."""
    if existing.content_hash == digest:
        return existing
    if idempotency_key and existing.idempotency_key == idempotency_key:
        raise Conflict(
            f"Idempotency-Key '{idempotency_key}' was already used for declaration {existing.id} "
            "with different content; use a new key for a new declaration",
            declaration_id=existing.id,
        )
    raise Conflict(
        f"LRN '{existing.lrn}' is already used by declaration {existing.id} (status {existing.status}); "
        "amend that declaration or lodge with a new LRN",
        declaration_id=existing.id,
    )


def apply(
    session: Session,
    decl: Declaration,
    action: Action,
    actor: Actor,
    *,
    reason: str | None = None,
    details: dict[str, Any] | None = None,
    channel: Channel | None = None,
) -> Status:
    """Checks and applies one transition: status, history, audit and the declarant's notification."""
    current = Status(decl.status)
    try:
        domain.check_allowed(action, current, actor.role)
    except PermissionError as exc:
        raise Forbidden(str(exc)) from None
    target = domain.target_status(
        action, current, channel=Channel(decl.channel) if decl.channel else None, new_channel=channel
    )
    if channel is not None:
        decl.channel = channel
    decl.status = target
    decl.updated_at = utcnow()
    if target == Status.RELEASED:
        decl.released_at = decl.updated_at
    _record(session, decl, [(action.value, current, target, actor, reason, details)])
    notifications.for_transition(session=session, declaration=decl, action=action, reason=reason, details=details)
    return target


Entry = tuple[str, Status | None, Status, Actor, str | None, dict[str, Any] | None]


def lodging_entries(decl: Declaration, actor: Actor) -> list[Entry]:
    """The history of a declaration just lodged: registered, then accepted with its MRN."""
    return [
        ("submit", None, Status.SUBMITTED, actor, None, None),
        (Action.ACCEPT.value, Status.SUBMITTED, Status.ACCEPTED, SYSTEM, None, {"mrn": decl.mrn}),
    ]


def lodged_history(decl: Declaration, actor: Actor) -> list[EventOut]:
    """The history `lodging_entries` recorded, without reading it back."""
    return [
        EventOut(
            at=decl.submitted_at,
            action=action,
            from_status=from_status,
            to_status=to_status,
            actor=who.username,
            role=who.role.value,
            reason=reason,
            details=details,
        )
        for action, from_status, to_status, who, reason, details in lodging_entries(decl, actor)
    ]


def _record(session: Session, decl: Declaration, entries: list[Entry]) -> None:
    """History and audit entries (action, from, to, actor, reason, details), each table in one statement."""
    now = utcnow()
    session.execute(
        insert(DeclarationEvent.__table__),
        [
            {
                "declaration_id": decl.id,
                "action": action,
                "from_status": from_status,
                "to_status": to_status,
                "actor": actor.username,
                "role": actor.role.value,
                "reason": reason,
                "details": details,
                "at": now,
            }
            for action, from_status, to_status, actor, reason, details in entries
        ],
    )
    audit_many(
        session=session,
        entries=[
            {
                "actor": actor.username,
                "role": actor.role.value,
                "action": f"declaration.{action}",
                "entity_type": "declaration",
                "entity_id": decl.id,
                "details": {"from": from_status, "to": to_status, "reason": reason, **(details or {})},
            }
            for action, from_status, to_status, actor, reason, details in entries
        ],
    )


def visible_to(user: User) -> Any:
    """The SQL condition limiting declarations to those `user` may see."""
    if user.role == Role.DECLARANT:
        return Declaration.declarant_eori.in_(sorted(user.eoris))
    return true() if user.role in STAFF_ROLES else false()


def get(*, session: Session, user: User, declaration_id: str, for_update: bool = False) -> Declaration:
    """The declaration if `user` may see it; 404 otherwise (another trader's declaration does not exist for you)."""
    query = select(Declaration).where(Declaration.id == declaration_id, visible_to(user))
    if for_update:
        query = query.with_for_update()
    decl = session.scalars(query).first()
    if decl is None:
        raise NotFound(f"no declaration {declaration_id}")
    return decl


def history(*, session: Session, declaration_id: str) -> list[DeclarationEvent]:
    return list(
        session.scalars(
            select(DeclarationEvent)
            .where(DeclarationEvent.declaration_id == declaration_id)
            .order_by(DeclarationEvent.id)
        )
    )


def _encode_cursor(at: datetime, decl_id: str) -> str:
    return base64.urlsafe_b64encode(f"{at.isoformat()}|{decl_id}".encode()).decode()


def _decode_cursor(cursor: str) -> tuple[datetime, str]:
    try:
        at, decl_id = base64.urlsafe_b64decode(cursor.encode()).decode().split("|", 1)
        return datetime.fromisoformat(at), decl_id
    except (ValueError, UnicodeDecodeError):
        raise InvalidInput("bad cursor", errors=[field_error("cursor", "not a cursor returned by this API")]) from None


def list_(
    *,
    session: Session,
    user: User,
    statuses: list[str] | None = None,
    channel: str | None = None,
    office: str | None = None,
    lrn: str | None = None,
    mrn: str | None = None,
    limit: int = 50,
    cursor: str | None = None,
) -> tuple[list[Declaration], str | None]:
    """Declarations newest first, keyset-paginated."""
    errors = []
    for index, status in enumerate(statuses or []):
        if status not in Status.__members__.values():
            errors.append(
                field_error(
                    f"status[{index}]", f"unknown status '{status}'; one of " + ", ".join(s.value for s in Status)
                )
            )
    if errors:
        raise InvalidInput("unknown status filter", errors=errors)
    query = select(Declaration).where(visible_to(user))
    if statuses:
        query = query.where(Declaration.status.in_(statuses))
    if channel:
        query = query.where(Declaration.channel == channel)
    if office:
        query = query.where(Declaration.office_of_lodgement == office.upper())
    if lrn:
        query = query.where(Declaration.lrn == lrn)
    if mrn:
        query = query.where(Declaration.mrn == mrn.upper())
    if cursor:
        at, decl_id = _decode_cursor(cursor)
        query = query.where(
            or_(Declaration.submitted_at < at, and_(Declaration.submitted_at == at, Declaration.id < decl_id))
        )
    rows = list(
        session.scalars(query.order_by(Declaration.submitted_at.desc(), Declaration.id.desc()).limit(limit + 1))
    )
    next_cursor = _encode_cursor(rows[limit - 1].submitted_at, rows[limit - 1].id) if len(rows) > limit else None
    return rows[:limit], next_cursor


def amend(*, session: Session, user: User, declaration_id: str, declaration: DeclarationIn, reason: str) -> Declaration:
    """Replaces the document by a new version (the old one is kept) before release."""
    decl = get(session=session, user=user, declaration_id=declaration_id, for_update=True)
    _require_declarant_for(user, decl.declarant_eori)
    errors = []
    if declaration.lrn != decl.lrn:
        errors.append(field_error("declaration.lrn", f"the LRN cannot change (it is '{decl.lrn}')"))
    if declaration.declarant.eori != decl.declarant_eori:
        errors.append(
            field_error("declaration.declarant.eori", f"the declarant cannot change (it is {decl.declarant_eori})")
        )
    if declaration.declaration_type != decl.declaration_type:
        errors.append(
            field_error("declaration.declaration_type", "the declaration type cannot change; cancel and lodge anew")
        )
    if errors:
        raise InvalidInput("this amendment changes what cannot be changed", errors=errors)
    document = declaration.model_dump(mode="json", exclude_none=True)
    actor = Actor.of(user)
    answered_request = decl.status == Status.DOCUMENTS_REQUESTED
    previous = decl.version
    apply(session, decl, Action.AMEND, actor, reason=reason, details={"version": previous + 1})
    decl.version = previous + 1
    decl.document = document
    decl.importer_eori = declaration.importer.eori if declaration.importer else None
    decl.exporter_eori = declaration.exporter.eori if declaration.exporter else None
    decl.procedure_code = declaration.procedure_code
    decl.office_of_lodgement = declaration.office_of_lodgement
    decl.goods_item_count = len(declaration.goods_items)
    decl.invoice_currency = declaration.invoice.currency
    decl.invoice_amount = declaration.invoice.amount
    session.flush()
    session.execute(delete(GoodsItem.__table__).where(GoodsItem.__table__.c.declaration_id == decl.id))
    _insert_goods_items(session, decl.id, document)
    _insert_version(session, decl, reason, actor)
    revenue.assess(session=session, declaration=decl, reason=f"amendment to version {decl.version}")
    if answered_request:
        apply(session, decl, Action.PROVIDE_DOCUMENTS, actor, reason="documents provided by amendment")
    return decl


def cancel(*, session: Session, user: User, declaration_id: str, reason: str) -> Declaration:
    """Withdraws a declaration at the declarant's request, before release."""
    decl = get(session=session, user=user, declaration_id=declaration_id, for_update=True)
    _require_declarant_for(user, decl.declarant_eori)
    apply(session, decl, Action.CANCEL, Actor.of(user), reason=reason)
    return decl


# Targeting is confidential: the trader learns the channel, never the profiles, scores or reasons behind it.
TARGETING_ACTIONS = {Action.ASSIGN_CHANNEL.value, Action.REROUTE.value}


def as_seen_by_trader(event: EventOut) -> EventOut:
    """The history entry without customs' targeting reasons."""
    if event.action not in TARGETING_ACTIONS:
        return event
    channel = (event.details or {}).get("channel") or (event.details or {}).get("to_channel")
    return event.model_copy(update={"reason": None, "details": {"channel": channel} if channel else None})


def action_required(decl: Declaration, events: list[DeclarationEvent] | None = None) -> str | None:
    """What the declarant has to do now, in words (CDS's "action required")."""
    status = Status(decl.status)
    if status == Status.DOCUMENTS_REQUESTED:
        requested = next(
            (e.details for e in reversed(events or []) if e.action == Action.REQUEST_DOCUMENTS and e.details), None
        )
        docs = domain.documents_in_words(requested)
        return (f"Provide these documents: {docs}. " if docs else "Provide the requested documents. ") + (
            f"Amend the declaration (POST /api/v1/declarations/{decl.id}/amendments) adding their references."
        )
    if status == Status.PHYSICAL_INSPECTION:
        return f"Present the goods for physical examination at office {decl.office_of_lodgement}."
    if status == Status.AWAITING_PAYMENT:
        return "Pay the duties due or cover them with a guarantee; the goods are released once they are settled."
    return None
