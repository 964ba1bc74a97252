"""The automatic chain (risk assessment, then release) and the officer's decisions on controlled declarations."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from clearway.auth.models import User
from clearway.db import utcnow
from clearway.declarations import service as declarations
from clearway.declarations.domain import Action, Channel, Role, Status
from clearway.declarations.models import ControlResult, Declaration, HSCodeCorrection
from clearway.declarations.schemas import DecisionIn
from clearway.declarations.service import ASSESS_JOB, RELEASE_JOB, SYSTEM, Actor
from clearway.errors import Forbidden
from clearway.revenue import service as revenue
from clearway.risk import assessment as risk
from clearway.risk import service as risk_service
from clearway.workers.jobs import enqueue, handler


def _locked(session: Session, declaration_id: str) -> Declaration | None:
    return session.scalars(select(Declaration).where(Declaration.id == declaration_id).with_for_update()).first()


@handler(ASSESS_JOB)
def assess_job(session: Session, payload: dict[str, Any]) -> None:
    assess(session=session, declaration_id=payload["declaration_id"])


def assess(*, session: Session, declaration_id: str) -> Status | None:
    """Assigns the channel; a green declaration goes on to release. A no-op if the declaration moved on."""
    decl = _locked(session, declaration_id)
    if decl is None or decl.status != Status.ACCEPTED:
        return None  # amended, cancelled or already assessed meanwhile
    revenue.assess(session=session, declaration=decl, reason="acceptance")
    decision = risk.decide_channel(session=session, declaration=decl)
    status = declarations.apply(
        session,
        decl,
        Action.ASSIGN_CHANNEL,
        SYSTEM,
        reason="; ".join(decision.reasons),
        details={"channel": decision.channel.value, "reasons": decision.reasons, **decision.details},
        channel=decision.channel,
    )
    if status == Status.ASSESSED:
        # Green: release in the same transaction when the duties are settled (otherwise it waits for payment).
        return _release_if_settled(session, decl)
    return status


@handler(RELEASE_JOB)
def release_job(session: Session, payload: dict[str, Any]) -> None:
    auto_release(session=session, declaration_id=payload["declaration_id"])


def auto_release(*, session: Session, declaration_id: str) -> Status | None:
    """Releases an assessed (green) declaration once its duties are settled; otherwise holds it for payment."""
    decl = _locked(session, declaration_id)
    if decl is None or decl.status not in (Status.ASSESSED, Status.AWAITING_PAYMENT):
        return None
    return _release_if_settled(session, decl)


def _release_if_settled(session: Session, decl: Declaration) -> Status | None:
    if not revenue.duties_settled(session=session, declaration=decl):
        if decl.status == Status.ASSESSED:
            return declarations.apply(
                session,
                decl,
                Action.REQUIRE_PAYMENT,
                SYSTEM,
                reason=revenue.payment_reason(session, decl),
                details=revenue.payment_details(session, decl),
            )
        return None
    return declarations.apply(session, decl, Action.RELEASE, SYSTEM, reason="green channel, duties settled")


def decide(*, session: Session, user: User, declaration_id: str, decision: DecisionIn) -> Declaration:
    """Applies an officer's decision, checked against the officer's role and the declaration's status."""
    if user.role not in (Role.CUSTOMS_OFFICER, Role.RISK_ANALYST):
        raise Forbidden(f"decisions are taken by customs officers; you are {user.role}")
    decl = declarations.get(session=session, user=user, declaration_id=declaration_id, for_update=True)
    actor = Actor.of(user)
    action = Action(decision.decision)
    if action == Action.REQUEST_DOCUMENTS:
        documents = [d.model_dump(exclude_none=True) for d in decision.documents or []]
        declarations.apply(session, decl, action, actor, reason=decision.reason, details={"documents": documents})
    elif action == Action.RECORD_CONTROL_RESULT:
        assert decision.result is not None
        kind = "physical" if decl.status == Status.PHYSICAL_INSPECTION else "documentary"
        result = decision.result
        declarations.apply(
            session,
            decl,
            action,
            actor,
            reason=decision.reason,
            details={"kind": kind, "outcome": result.outcome, "findings": result.findings},
        )
        recorded_at = utcnow()
        codes = [
            HSCodeCorrection(
                declaration_id=decl.id, sequence=sequence, hs_code=code, officer=user.username, recorded_at=recorded_at
            )
            for sequence, code in sorted(result.corrected_hs_codes.items())
        ]
        session.add(
            ControlResult(
                declaration_id=decl.id,
                kind=kind,
                outcome=result.outcome,
                findings=result.findings,
                additional_revenue=result.additional_revenue.amount if result.additional_revenue else None,
                revenue_currency=result.additional_revenue.currency if result.additional_revenue else None,
                officer=user.username,
                recorded_at=recorded_at,
                code_corrections=codes,
            )
        )
        revenue.assess(session=session, declaration=decl, reason=f"{kind} control result: {result.outcome}")
    elif action == Action.REROUTE:
        assert decision.channel is not None
        new_channel = Channel(decision.channel)
        previous = decl.channel
        # The channel policy's rules: a reason, and never below a mandatory profile's channel (Conflict).
        risk_service.check_reroute(
            session=session, declaration=decl, to=new_channel.value, reason=decision.reason, officer=user.username
        )
        status = declarations.apply(
            session,
            decl,
            action,
            actor,
            reason=decision.reason,
            channel=new_channel,
            details={"from_channel": previous, "to_channel": new_channel.value},
        )
        if status == Status.ASSESSED:
            enqueue(session, RELEASE_JOB, {"declaration_id": decl.id})
    elif action == Action.RELEASE and not revenue.duties_settled(session=session, declaration=decl):
        declarations.apply(
            session,
            decl,
            Action.REQUIRE_PAYMENT,
            SYSTEM,
            reason=revenue.payment_reason(session, decl),
            details=revenue.payment_details(session, decl),
        )
    else:
        declarations.apply(session, decl, action, actor, reason=decision.reason)
    return decl
