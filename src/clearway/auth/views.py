"""Tokens for people, API keys for systems, and who am I."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi.security import OAuth2PasswordRequestForm
from pydantic import BaseModel, Field

from clearway.auth import service
from clearway.auth.deps import AppSettings, CurrentUser, DbSession, require_role
from clearway.auth.models import User
from clearway.auth.security import create_access_token
from clearway.errors import NotFound, Unauthenticated

router = APIRouter(prefix="/api/v1/auth", tags=["auth"])


class TokenOut(BaseModel):
    access_token: str
    token_type: str = "bearer"
    expires_in: int


class MeOut(BaseModel):
    id: int
    username: str
    full_name: str | None
    role: str
    eoris: list[str]


class ApiKeyIn(BaseModel):
    name: str = Field(min_length=1, max_length=64)
    username: str | None = Field(None, description="Administrators may create a key for another user")


class ApiKeyOut(BaseModel):
    name: str
    api_key: str = Field(description="Shown once: store it now. Send it as the X-API-Key header.")


@router.post("/token", response_model=TokenOut)
def token(form: Annotated[OAuth2PasswordRequestForm, Depends()], session: DbSession, settings: AppSettings) -> TokenOut:
    """OAuth2 password flow: exchange a username and password for a bearer token."""
    user = service.authenticate(session=session, username=form.username, password=form.password)
    if user is None:
        raise Unauthenticated("wrong username or password")
    minutes = settings.access_token_minutes
    return TokenOut(
        access_token=create_access_token(
            subject=str(user.id), role=user.role, secret=settings.secret_key, minutes=minutes
        ),
        expires_in=minutes * 60,
    )


@router.get("/me", response_model=MeOut)
def me(user: CurrentUser) -> MeOut:
    return MeOut(id=user.id, username=user.username, full_name=user.full_name, role=user.role, eoris=sorted(user.eoris))


@router.post("/api-keys", response_model=ApiKeyOut, status_code=201)
def create_api_key(body: ApiKeyIn, user: CurrentUser, session: DbSession) -> ApiKeyOut:
    """Creates an API key for yourself (or, as an administrator, for another user)."""
    owner = user
    if body.username and body.username != user.username:
        require_role("administrator")(user)
        found = session.query(User).filter_by(username=body.username).one_or_none()
        if found is None:
            raise NotFound(f"no user '{body.username}'")
        owner = found
    key = service.create_api_key(session=session, user=owner, name=body.name, actor=user.username)
    session.commit()
    return ApiKeyOut(name=body.name, api_key=key)
