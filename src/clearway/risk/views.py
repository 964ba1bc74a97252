"""Risk endpoints: selectivity profiles, named lists, office policies, channel decisions, the targeting report.

Risk analysts write; administrators and customs officers read.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Query, status
from pydantic import BaseModel, Field

from clearway.auth.deps import DbSession, ReadSession, require_role
from clearway.auth.models import User
from clearway.declarations.domain import Role
from clearway.risk import service
from clearway.risk.profiles_schema import ProfileOut

router = APIRouter(prefix="/api/v1/risk", tags=["risk"])

Analyst = Annotated[User, Depends(require_role(Role.RISK_ANALYST))]
Reader = Annotated[User, Depends(require_role(Role.RISK_ANALYST, Role.ADMINISTRATOR, Role.CUSTOMS_OFFICER))]


class ProfileDetail(BaseModel):
    profile_id: str
    current: ProfileOut = Field(description="The active version, else the newest one")
    versions: list[ProfileOut]


class StatusChange(BaseModel):
    version: int | None = Field(default=None, description="Default: the newest draft (activate) or every version")


class BacktestIn(BaseModel):
    since: date
    until: date | None = Field(default=None, description="Last day included; default today")
    version: int | None = Field(default=None, description="Default: the newest version")


class ListIn(BaseModel):
    entries: list[str] = Field(max_length=service.MAX_LIST_ENTRIES)
    description: str | None = Field(default=None, max_length=2000)


class ListOut(BaseModel):
    name: str
    description: str | None
    entries: list[str]
    revision: int
    updated_by: str
    updated_at: Any


def _detail(session: ReadSession, profile_id: str) -> ProfileDetail:
    versions = service.profile_versions(session=session, profile_id=profile_id)
    stats = service.hit_statistics(session=session, profile_id=profile_id)
    out = [ProfileOut.of(p, stats.get((p.profile_id, p.version))) for p in versions]
    active = [p for p in out if p.status == "active"]
    return ProfileDetail(profile_id=profile_id, current=(active or out)[-1], versions=out)


@router.get("/profiles", response_model=list[ProfileOut])
def list_profiles(
    user: Reader,
    session: ReadSession,
    status_: Annotated[str | None, Query(alias="status", pattern="^(draft|active|retired)$")] = None,
) -> list[ProfileOut]:
    """Every profile (its newest version, or the newest with the given status), with live hit statistics."""
    stats = service.hit_statistics(session=session)
    return [
        ProfileOut.of(p, stats.get((p.profile_id, p.version)))
        for p in service.list_profiles(session=session, status=status_)
    ]


@router.post(
    "/profiles",
    response_model=ProfileDetail,
    status_code=status.HTTP_201_CREATED,
    responses={422: {"description": "Every error of the profile, each with its JSON path"}},
)
def create_profile(
    user: Analyst, session: DbSession, reader: ReadSession, body: Annotated[dict[str, Any], Body()]
) -> ProfileDetail:
    """Creates a profile (version 1, a draft) from its JSON definition (docs/selectivity.md)."""
    profile = service.create_profile(session=session, data=body, by=user.username)
    session.commit()
    return _detail(reader, profile.profile_id)


@router.get("/profiles/{profile_id}", response_model=ProfileDetail)
def get_profile(profile_id: str, user: Reader, session: ReadSession) -> ProfileDetail:
    return _detail(session, profile_id)


@router.post("/profiles/{profile_id}/versions", response_model=ProfileDetail, status_code=status.HTTP_201_CREATED)
def add_version(
    profile_id: str, user: Analyst, session: DbSession, reader: ReadSession, body: Annotated[dict[str, Any], Body()]
) -> ProfileDetail:
    """An edit: the full new definition becomes version n+1, a draft."""
    service.add_version(session=session, profile_id=profile_id, data=body, by=user.username)
    session.commit()
    return _detail(reader, profile_id)


@router.post("/profiles/{profile_id}/activate", response_model=ProfileDetail)
def activate(
    profile_id: str, user: Analyst, session: DbSession, reader: ReadSession, body: StatusChange | None = None
) -> ProfileDetail:
    """Activates a version (default: the newest draft); the previously active version is retired."""
    service.activate_profile(
        session=session, profile_id=profile_id, by=user.username, version=body.version if body else None
    )
    session.commit()
    return _detail(reader, profile_id)


@router.post("/profiles/{profile_id}/retire", response_model=ProfileDetail)
def retire(
    profile_id: str, user: Analyst, session: DbSession, reader: ReadSession, body: StatusChange | None = None
) -> ProfileDetail:
    """Retires a version, or every version not yet retired."""
    service.retire_profile(
        session=session, profile_id=profile_id, by=user.username, version=body.version if body else None
    )
    session.commit()
    return _detail(reader, profile_id)


@router.post("/profiles/{profile_id}/backtest")
def backtest(profile_id: str, body: BacktestIn, user: Analyst, session: ReadSession) -> dict[str, Any]:
    """How many declarations accepted in the period the profile would have hit, and how many of those were frauds."""
    result = service.backtest_profile(
        session=session, profile_id=profile_id, since=body.since, until=body.until, version=body.version
    )
    return {"since": body.since, "until": body.until or datetime.now(UTC).date(), **result.to_dict()}


@router.get("/lists", response_model=list[ListOut])
def lists(user: Reader, session: ReadSession) -> list[ListOut]:
    return [ListOut(**vars(n)) for n in service.all_lists(session=session)]


@router.get("/lists/{name}", response_model=ListOut)
def get_list(name: str, user: Reader, session: ReadSession) -> ListOut:
    return ListOut(**vars(service.get_list(session=session, name=name)))


@router.put("/lists/{name}", response_model=ListOut)
def put_list(name: str, body: ListIn, user: Analyst, session: DbSession, reader: ReadSession) -> ListOut:
    """Creates or replaces a named list (e.g. watched_importers, sensitive_hs, trusted_traders)."""
    service.put_list(session=session, name=name, entries=body.entries, by=user.username, description=body.description)
    session.commit()
    return ListOut(**vars(service.get_list(session=reader, name=name)))


@router.get("/offices/{office}/policy")
def get_policy(office: str, user: Reader, session: ReadSession) -> dict[str, Any]:
    """The office's channel policy: its own parameters, the effective ones and the budget state."""
    return service.office_policy(session=session, office=office)


@router.put("/offices/{office}/policy")
def put_policy(
    office: str, user: Analyst, session: DbSession, reader: ReadSession, body: Annotated[dict[str, Any], Body()]
) -> dict[str, Any]:
    """Sets the office's own parameters (expected and minimum random rates, mode, ...) over the defaults."""
    service.set_office_policy(session=session, office=office, params=body, by=user.username)
    session.commit()
    return service.office_policy(session=reader, office=office)


@router.get("/decisions/{declaration_id}")
def decision(declaration_id: str, user: Reader, session: ReadSession) -> dict[str, Any]:
    """The stored channel decision of a declaration: channel, reasons, score, model factors, profile hits."""
    record = service.latest_decision(session=session, declaration_id=declaration_id)
    return service.decision_out(record, session=session)


@router.get("/report")
def report(
    user: Reader, session: ReadSession, since: date, until: Annotated[date | None, Query()] = None
) -> dict[str, Any]:
    """Targeting figures over the period: channel shares, precision of red and yellow, the random sample's hit rate,
    weekly hit rates per profile, model versions."""
    return service.report(session=session, since=since, until=until)
