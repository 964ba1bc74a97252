"""FastAPI dependencies: the request's database session and the authenticated user."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Annotated

import jwt
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


def get_settings_dep(request: Request) -> Settings:
    return request.app.state.settings


def get_session(request: Request) -> Iterator[Session]:
    """A session per request; the view commits its use case once, anything uncommitted is rolled back."""
    with request.app.state.db.session() as session:
        yield session


def get_read_session(request: Request) -> Iterator[Session]:
    """A session for reading (GET requests, rendering after a use case committed, authentication)."""
    with request.app.state.db.read_session() as session:
        yield session


DbSession = Annotated[Session, Depends(get_session)]
ReadSession = Annotated[Session, Depends(get_read_session)]
AppSettings = Annotated[Settings, Depends(get_settings_dep)]


def get_current_user(
    request: Request,
    session: ReadSession,
    settings: AppSettings,
    token: Annotated[str | None, Security(oauth2)] = None,
    api_key: Annotated[str | None, Security(api_key_header)] = None,
) -> User:
    """The user behind a bearer token, an API key or the workbench's session cookie."""
    token = token or request.cookies.get(SESSION_COOKIE)
    if api_key:
        user = service.user_for_api_key(session=session, key=api_key)
        if user is None:
            raise Unauthenticated("the API key is unknown or revoked")
        session.commit()
        return user
    if not token:
        raise Unauthenticated("send a bearer token (POST /api/v1/auth/token) or an X-API-Key header")
    try:
        claims = decode_access_token(token, secret=settings.secret_key)
    except jwt.ExpiredSignatureError:
        raise Unauthenticated("the access token has expired; request a new one") from None
    except jwt.InvalidTokenError:
        raise Unauthenticated("the access token is invalid") from None
    user = session.get(User, int(claims["sub"])) if str(claims["sub"]).isdigit() else None
    if user is None or not user.active:
        raise Unauthenticated("the account behind this token no longer exists or is disabled")
    session.commit()  # end the read snapshot: what the request reads next must see what it commits meanwhile
    return user


CurrentUser = Annotated[User, Depends(get_current_user)]


def require_role(*roles: str) -> Callable[[User], User]:
    """A dependency that lets only the given roles through (403 otherwise)."""

    def check(user: CurrentUser) -> User:
        if user.role not in roles:
            raise Forbidden(f"this needs one of the roles: {', '.join(roles)}; you are {user.role}")
        return user

    return check
