"""Password hashing (argon2), bearer tokens (JWT) and API keys."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import timedelta
from typing import Any

import jwt
from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher

from clearway.db import utcnow

_hasher = PasswordHash((Argon2Hasher(),))
ALGORITHM = "HS256"
API_KEY_PREFIX = "cw"


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password: str, password_hash: str) -> bool:
    return _hasher.verify(password, password_hash)


def create_access_token(*, subject: str, role: str, secret: str, minutes: int) -> str:
    now = utcnow()
    claims: dict[str, Any] = {"sub": subject, "role": role, "iat": now, "exp": now + timedelta(minutes=minutes)}
    return jwt.encode(claims, secret, algorithm=ALGORITHM)


def decode_access_token(token: str, *, secret: str) -> dict[str, Any]:
    """Returns the token's claims; raises jwt.InvalidTokenError when it is forged, malformed or expired."""
    return jwt.decode(token, secret, algorithms=[ALGORITHM], options={"require": ["sub", "exp"]})


def new_api_key() -> tuple[str, str, str]:
    """Returns (key shown once, lookup prefix, SHA-256 of the key)."""
    prefix = secrets.token_hex(6)
    key = f"{API_KEY_PREFIX}_{prefix}_{secrets.token_urlsafe(32)}"
    return key, prefix, hash_api_key(key)


def hash_api_key(key: str) -> str:
    # A random 256-bit key needs no slow hash: SHA-256 keeps per-request checks cheap.
    return hashlib.sha256(key.encode()).hexdigest()


def api_key_prefix(key: str) -> str | None:
    parts = key.split("_", 2)
    if len(parts) != 3 or parts[0] != API_KEY_PREFIX:
        return None
    return parts[1]


def api_key_matches(key: str, key_hash: str) -> bool:
    return hmac.compare_digest(hash_api_key(key), key_hash)
