"""Users, API keys and the audit log."""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from clearway.auth.models import ApiKey, AuditEntry, User, UserEori
from clearway.auth.security import (
    api_key_matches,
    api_key_prefix,
    hash_password,
    new_api_key,
    verify_password,
)
from clearway.db import utcnow
from clearway.declarations.domain import Role, eori_problem
from clearway.declarations.schemas import COUNTRIES
from clearway.errors import Conflict, InvalidInput, field_error

HUMAN_ROLES = [r.value for r in Role if r is not Role.SYSTEM]
USERNAME_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{2,63}$")
MIN_PASSWORD = 8


def create_user(
    *,
    session: Session,
    username: str,
    password: str,
    role: str,
    eoris: list[str] | None = None,
    full_name: str | None = None,
    actor: str = "system",
) -> User:
    """Adds a user; a declarant is bound to at least one EORI."""
    eoris = [e.strip().upper() for e in (eoris or []) if e.strip()]
    errors = []
    if not USERNAME_RE.match(username):
        errors.append(field_error("username", "3-64 lower-case letters, digits, '.', '_' or '-'"))
    if len(password) < MIN_PASSWORD:
        errors.append(field_error("password", f"at least {MIN_PASSWORD} characters"))
    if role not in HUMAN_ROLES:
        errors.append(field_error("role", f"unknown role '{role}'; one of {', '.join(HUMAN_ROLES)}"))
    if role == Role.DECLARANT and not eoris:
        errors.append(field_error("eori", "a declarant acts for at least one EORI"))
    for index, eori in enumerate(eoris):
        problem = eori_problem(eori, COUNTRIES)
        if problem:
            errors.append(field_error(f"eori[{index}]", f"malformed EORI '{eori}': {problem}"))
    if errors:
        raise InvalidInput("the user cannot be created", errors=errors)
    if session.scalar(select(User.id).where(User.username == username)) is not None:
        raise Conflict(f"username '{username}' is taken")
    user = User(
        username=username,
        full_name=full_name,
        password_hash=hash_password(password),
        role=role,
        active=True,
        created_at=utcnow(),
        eori_links=[UserEori(eori=e) for e in dict.fromkeys(eoris)],
    )
    session.add(user)
    session.flush()
    audit(
        session=session,
        actor=actor,
        role="administrator" if actor != "system" else "system",
        action="user.create",
        entity_type="user",
        entity_id=str(user.id),
        details={"username": username, "role": role, "eoris": eoris},
    )
    return user


def authenticate(*, session: Session, username: str, password: str) -> User | None:
    """Returns the active user with these credentials, or None."""
    user = session.scalar(select(User).where(User.username == username))
    if user is None or not user.active or not verify_password(password, user.password_hash):
        return None
    return user


def user_for_api_key(*, session: Session, key: str) -> User | None:
    prefix = api_key_prefix(key)
    if prefix is None:
        return None
    row = session.scalar(select(ApiKey).where(ApiKey.prefix == prefix, ApiKey.revoked_at.is_(None)))
    if row is None or not api_key_matches(key, row.key_hash):
        return None
    user = session.get(User, row.user_id)
    return user if user is not None and user.active else None


def create_api_key(*, session: Session, user: User, name: str, actor: str) -> str:
    """Creates an API key for `user`; the key itself is returned once and never stored."""
    key, prefix, key_hash = new_api_key()
    session.add(ApiKey(user_id=user.id, name=name, prefix=prefix, key_hash=key_hash, created_at=utcnow()))
    audit(
        session=session,
        actor=actor,
        role=user.role,
        action="api_key.create",
        entity_type="user",
        entity_id=str(user.id),
        details={"name": name, "prefix": prefix},
    )
    return key


def audit(
    *,
    session: Session,
    actor: str,
    role: str,
    action: str,
    entity_type: str,
    entity_id: str | None,
    details: dict[str, Any] | None = None,
) -> None:
    """Appends one entry to the audit log, in the caller's transaction."""
    audit_many(
        session=session,
        entries=[
            {
                "actor": actor,
                "role": role,
                "action": action,
                "entity_type": entity_type,
                "entity_id": entity_id,
                "details": details,
            }
        ],
    )


def audit_many(*, session: Session, entries: list[dict[str, Any]]) -> None:
    """Appends entries (actor, role, action, entity_type, entity_id, details) to the audit log in one statement."""
    now = utcnow()
    session.execute(insert(AuditEntry.__table__), [{"at": now, **entry} for entry in entries])
