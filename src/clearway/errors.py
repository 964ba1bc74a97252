"""Domain errors and their single mapping to RFC 9457 problem responses."""

from __future__ import annotations

from typing import Any

PROBLEM_BASE = "https://clearway.dev/problems/"


class ClearwayError(Exception):
    """A failure a client can act on; rendered as an RFC 9457 problem."""

    status = 400
    slug = "bad-request"
    title = "Bad request"

    def __init__(self, detail: str, *, errors: list[dict[str, Any]] | None = None, **extra: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        self.errors = errors or []
        self.extra = extra

    def problem(self, instance: str | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {
            "type": PROBLEM_BASE + self.slug,
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
        }
        if instance:
            body["instance"] = instance
        if self.errors:
            body["errors"] = self.errors
        body.update(self.extra)
        return body


class InvalidInput(ClearwayError):
    status = 422
    slug = "validation-failed"
    title = "The request has invalid fields"


class MalformedRequest(ClearwayError):
    status = 400
    slug = "malformed-request"
    title = "The request body could not be read"


class PayloadTooLarge(ClearwayError):
    status = 413
    slug = "payload-too-large"
    title = "The request body is too large"


class Unauthenticated(ClearwayError):
    status = 401
    slug = "unauthenticated"
    title = "Authentication required"


class Forbidden(ClearwayError):
    status = 403
    slug = "forbidden"
    title = "Not allowed for your role"


class NotFound(ClearwayError):
    status = 404
    slug = "not-found"
    title = "Not found"


class Conflict(ClearwayError):
    status = 409
    slug = "conflict"
    title = "Conflict with the current state"


class IllegalTransition(Conflict):
    slug = "illegal-transition"
    title = "This action is not possible in the declaration's current state"


class RateLimited(ClearwayError):
    status = 429
    slug = "rate-limited"
    title = "Too many requests"


def field_error(field: str, reason: str) -> dict[str, str]:
    """One entry of a problem's `errors` list."""
    return {"field": field, "reason": reason}
