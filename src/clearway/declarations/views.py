"""Declaration endpoints: parse, authorise, call one service function, commit."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Response, status

from clearway.auth.deps import AppSettings, CurrentUser, DbSession, ReadSession
from clearway.auth.models import User
from clearway.declarations import service
from clearway.declarations.domain import Role
from clearway.declarations.models import Declaration
from clearway.declarations.schemas import (
    AmendmentIn,
    CancellationIn,
    DecisionIn,
    DeclarationIn,
    DeclarationOut,
    DeclarationPage,
    DeclarationSummary,
    EventOut,
)
from clearway.declarations.service import Actor
from clearway.release import service as release
from clearway.workers.jobs import RAN_INLINE_FLAG

router = APIRouter(prefix="/api/v1/declarations", tags=["declarations"])


def render(decl: Declaration, session: ReadSession, user: User) -> DeclarationOut:
    """The declaration as `user` may see it: a trader never sees why customs targeted it."""
    events = service.history(session=session, declaration_id=decl.id)
    history = [EventOut.model_validate(e, from_attributes=True) for e in events]
    if user.role == Role.DECLARANT:
        history = [service.as_seen_by_trader(event) for event in history]
    return DeclarationOut(
        **_summary(decl),
        action_required=service.action_required(decl, events),
        document=decl.document,
        history=history,
    )


def _summary(decl: Declaration) -> dict[str, Any]:
    return {
        "id": decl.id,
        "lrn": decl.lrn,
        "mrn": decl.mrn,
        "status": decl.status,
        "channel": decl.channel,
        "version": decl.version,
        "declarant_eori": decl.declarant_eori,
        "declaration_type": decl.declaration_type,
        "office_of_lodgement": decl.office_of_lodgement,
        "submitted_at": decl.submitted_at,
        "accepted_at": decl.accepted_at,
        "released_at": decl.released_at,
        "updated_at": decl.updated_at,
    }


@router.post(
    "",
    response_model=DeclarationOut,
    status_code=status.HTTP_201_CREATED,
    responses={
        200: {"description": "A retry: the declaration lodged first is returned"},
        409: {"description": "The LRN or Idempotency-Key is already used for different content"},
        422: {"description": "Invalid fields: every error, each with its field path"},
    },
)
def lodge(
    declaration: DeclarationIn,
    user: CurrentUser,
    session: DbSession,
    reader: ReadSession,
    settings: AppSettings,
    response: Response,
    idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key", max_length=255)] = None,
) -> DeclarationOut | Response:
    """Lodges a declaration. Valid ones are accepted at once (MRN issued) and risk-assessed in the background."""
    decl, created = service.submit(
        session=session,
        user=user,
        declaration=declaration,
        idempotency_key=idempotency_key,
        country_code=settings.country_code,
    )
    session.commit()
    response.headers["Location"] = f"/api/v1/declarations/{decl.id}"
    if not created:
        response.status_code = status.HTTP_200_OK
        response.headers["Idempotent-Replayed"] = "true"
    elif not session.info.get(RAN_INLINE_FLAG):
        # Just accepted and nothing has happened to it since: answer from memory, no read back.
        out = DeclarationOut(
            **_summary(decl),
            action_required=None,
            document=decl.document,
            history=service.lodged_history(decl, Actor.of(user)),
        )
        # Serialized once here: the hot path skips FastAPI's second validation of the response model.
        return Response(
            out.model_dump_json(), status_code=201, headers=dict(response.headers), media_type="application/json"
        )
    return render(service.get(session=reader, user=user, declaration_id=decl.id), reader, user)


@router.get("", response_model=DeclarationPage)
def list_declarations(
    user: CurrentUser,
    session: ReadSession,
    status_: Annotated[list[str] | None, Query(alias="status", description="One or more statuses")] = None,
    channel: Annotated[str | None, Query(pattern="^(green|yellow|red)$")] = None,
    office: Annotated[str | None, Query(max_length=8)] = None,
    lrn: Annotated[str | None, Query(max_length=22)] = None,
    mrn: Annotated[str | None, Query(max_length=18)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    cursor: str | None = None,
) -> DeclarationPage:
    """Declarations you may see, newest first; pass `next_cursor` back as `cursor` for the next page."""
    statuses = [s for value in status_ or [] for s in value.split(",") if s]
    rows, next_cursor = service.list_(
        session=session,
        user=user,
        statuses=statuses,
        channel=channel,
        office=office,
        lrn=lrn,
        mrn=mrn,
        limit=limit,
        cursor=cursor,
    )
    return DeclarationPage(
        items=[DeclarationSummary.model_validate(r, from_attributes=True) for r in rows], next_cursor=next_cursor
    )


@router.get("/{declaration_id}", response_model=DeclarationOut)
def read(declaration_id: str, user: CurrentUser, session: ReadSession) -> DeclarationOut:
    """One declaration with its current document and full history."""
    return render(service.get(session=session, user=user, declaration_id=declaration_id), session, user)


@router.post("/{declaration_id}/amendments", response_model=DeclarationOut)
def amend(
    declaration_id: str, body: AmendmentIn, user: CurrentUser, session: DbSession, reader: ReadSession
) -> DeclarationOut:
    """Amends the declaration before release; every version is kept."""
    decl = service.amend(
        session=session, user=user, declaration_id=declaration_id, declaration=body.declaration, reason=body.reason
    )
    session.commit()
    return render(service.get(session=reader, user=user, declaration_id=decl.id), reader, user)


@router.post("/{declaration_id}/cancellation", response_model=DeclarationOut)
def cancel(
    declaration_id: str, body: CancellationIn, user: CurrentUser, session: DbSession, reader: ReadSession
) -> DeclarationOut:
    """Withdraws the declaration at the declarant's request, before release."""
    decl = service.cancel(session=session, user=user, declaration_id=declaration_id, reason=body.reason)
    session.commit()
    return render(service.get(session=reader, user=user, declaration_id=decl.id), reader, user)


@router.post("/{declaration_id}/decisions", response_model=DeclarationOut)
def decide(
    declaration_id: str, body: DecisionIn, user: CurrentUser, session: DbSession, reader: ReadSession
) -> DeclarationOut:
    """An officer's decision: request documents, record a control result, release, refuse, seize, invalidate,
    re-route."""
    decl = release.decide(session=session, user=user, declaration_id=declaration_id, decision=body)
    session.commit()
    return render(service.get(session=reader, user=user, declaration_id=decl.id), reader, user)
