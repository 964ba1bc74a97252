"""FastAPI dependencies: the request's database session and the authenticated user."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable
from typing import Annotated

import jwt
from anyio import to_thread
from fastapi import Depends, Request, Security
from fastapi.security import APIKeyHeader, OAuth2PasswordBearer
from sqlalchemy.orm import Session

from clearway.auth import service
from clearway.auth.models import User
from clearway.auth.security import decode_access_token
from clearway.config import Settings
from clearway.errors import Forbidden, Unauthenticated

oauth2 = OAuth2PasswordBearer(tokenUrl="/api/v1/auth/token", auto_error=False)
api_key_header = APIKeyHeader(name="X-API-Key", auto_error=False)
SESSION_COOKIE = "clearway_token"


# Dependencies that do no I/O of their own are `async`: FastAPI then calls them on the event loop instead of
# handing each one to the thread pool (a thread switch per dependency per request).
async def get_settings_dep(request: Request) -> Settings:
    return request.app.state.settings


async def get_session(request: Request) -> AsyncIterator[Session]:
    """A session per request; the view commits its use case once, anything uncommitted is rolled back."""
    with request.app.state.db.session() as session:
        yield session


async def get_read_session(request: Request) -> AsyncIterator[Session]:
    """A session for reading (GET requests, rendering after a use case committed, authentication)."""
    with request.app.state.db.read_session() as session:
        yield session


DbSession = Annotated[Session, Depends(get_session)]
ReadSession = Annotated[Session, Depends(get_read_session)]
AppSettings = Annotated[Settings, Depends(get_settings_dep)]


# Who is behind a credential, remembered briefly so a request does not pay two queries to know it; a disabled
# account loses access within PRINCIPAL_TTL seconds. Entries are detached, fully loaded User objects (read-only).
PRINCIPAL_TTL = 30.0


def _principals(request: Request) -> dict[str, tuple[float, User]]:
    cache: dict[str, tuple[float, User]] = request.app.state.__dict__.setdefault("principals", {})
    return cache


def _remembered(request: Request, credential: str) -> User | None:
    entry = _principals(request).get(credential)
    if entry is None or entry[0] < time.monotonic():
        return None
    return entry[1]


def _remember(request: Request, credential: str, user: User) -> User:
    cache = _principals(request)
    if len(cache) > 10_000:
        cache.clear()
    cache[credential] = (time.monotonic() + PRINCIPAL_TTL, user)
    return user


async def get_current_user(
    request: Request,
    settings: AppSettings,
    token: Annotated[str | None, Security(oauth2)] = None,
    api_key: Annotated[str | None, Security(api_key_header)] = None,
) -> User:
    """The user behind a bearer token, an API key or the workbench's session cookie.

    `async`: a remembered credential costs no thread switch; only a database look-up goes to the thread pool.
    """
    token = token or request.cookies.get(SESSION_COOKIE)
    if api_key:
        credential = "key:" + api_key
        known = _remembered(request, credential)
        if known is None:
            known = _remember(request, credential, await to_thread.run_sync(_user_for_key, request, api_key))
        return known
    if not token:
        raise Unauthenticated("send a bearer token (POST /api/v1/auth/token) or an X-API-Key header")
    try:
        claims = decode_access_token(token, secret=settings.secret_key)
    except jwt.ExpiredSignatureError:
        raise Unauthenticated("the access token has expired; request a new one") from None
    except jwt.InvalidTokenError:
        raise Unauthenticated("the access token is invalid") from None
    known = _remembered(request, token)
    if known is None:
        known = _remember(request, token, await to_thread.run_sync(_user_for_token, request, claims))
    return known


def _user_for_key(request: Request, api_key: str) -> User:
    with request.app.state.db.read_session() as session:
        user = service.user_for_api_key(session=session, key=api_key)
        if user is None:
            raise Unauthenticated("the API key is unknown or revoked")
        _ = user.eoris
        return user


def _user_for_token(request: Request, claims: dict[str, object]) -> User:
    with request.app.state.db.read_session() as session:
        user = session.get(User, int(str(claims["sub"]))) if str(claims["sub"]).isdigit() else None
        if user is None or not user.active:
            raise Unauthenticated("the account behind this token no longer exists or is disabled")
        _ = user.eoris
        return user


CurrentUser = Annotated[User, Depends(get_current_user)]


def require_role(*roles: str) -> Callable[[User], User]:
    """A dependency that lets only the given roles through (403 otherwise)."""

    def check(user: CurrentUser) -> User:
        if user.role not in roles:
            raise Forbidden(f"this needs one of the roles: {', '.join(roles)}; you are {user.role}")
        return user

    return check
