"""FastAPI assembly: routers, RFC 9457 problem responses, body limits, the job dispatcher."""

from __future__ import annotations

import logging
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import anyio.to_thread
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from sqlalchemy import func, select, text
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from clearway import __version__
from clearway.auth import views as auth_views
from clearway.classification import views as classification_views
from clearway.classification.service import warm_up_classifier
from clearway.config import Settings, get_settings
from clearway.db import Database
from clearway.declarations import views as declaration_views
from clearway.declarations.schemas import KNOWN_SUBHEADINGS, error_entries
from clearway.errors import ClearwayError, InvalidInput, MalformedRequest, PayloadTooLarge
from clearway.nomenclature import service as nomenclature
from clearway.notifications import views as notification_views
from clearway.revenue import views as revenue_views
from clearway.risk import views as risk_views
from clearway.tariff import views as tariff_views
from clearway.web import views as web_views
from clearway.workers.jobs import make_dispatcher
from clearway.workers.models import Job
from clearway.workers.registry import load_handlers

log = logging.getLogger(__name__)
PROBLEM_JSON = "application/problem+json"


def problem_response(exc: ClearwayError, request: Request) -> JSONResponse:
    headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
    return JSONResponse(exc.problem(request.url.path), status_code=exc.status, media_type=PROBLEM_JSON, headers=headers)


class BodyLimit:
    """Refuses request bodies over `limit` bytes with a 413 problem, before anything parses them."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.limit:
            await self._refuse(scope, send)
            return
        seen = 0

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > self.limit:
                raise _TooLarge
            return message

        try:
            await self.app(scope, counted, send)
        except _TooLarge:
            await self._refuse(scope, send)

    async def _refuse(self, scope: Scope, send: Send) -> None:
        exc = PayloadTooLarge(f"the request body exceeds {self.limit} bytes")
        body = JSONResponse(exc.problem(scope.get("path")), status_code=413, media_type=PROBLEM_JSON)
        await body(scope, _no_receive, send)


class _TooLarge(Exception):
    pass


async def _no_receive() -> Message:
    return {"type": "http.disconnect"}


def create_app(settings: Settings | None = None, *, db: Database | None = None) -> FastAPI:
    """Builds the service. Tests pass their own settings (and database)."""
    settings = settings or get_settings()
    db = db or Database(settings.database_url, settings=settings)
    db.settings = settings
    load_handlers()
    dispatcher = make_dispatcher(db, settings.jobs_mode, max_attempts=settings.job_max_attempts)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # Sync endpoints run in a thread pool; more threads than the database can serve only thrash the GIL.
        anyio.to_thread.current_default_thread_limiter().total_tokens = settings.http_threads
        with db.session() as session:
            if nomenclature.load_shipped(session=session):
                session.commit()
            KNOWN_SUBHEADINGS.codes = nomenclature.subheadings(session=session)
        if settings.environment != "test":
            # The classifier and its sentence encoder take seconds to load: not on the first keystroke's request.
            threading.Thread(target=warm_up_classifier, name="classifier-warm-up", daemon=True).start()
        dispatcher.start()
        try:
            yield
        finally:
            dispatcher.stop()

    app = FastAPI(
        title="Clearway",
        version=__version__,
        summary="Smart customs clearance: declarations, tariff, risk, release.",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.db = db
    app.state.dispatcher = dispatcher

    @app.exception_handler(ClearwayError)
    async def _clearway_error(request: Request, exc: ClearwayError) -> JSONResponse:
        return problem_response(exc, request)

    @app.exception_handler(RequestValidationError)
    async def _validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = exc.errors()
        if any(e.get("type") == "json_invalid" for e in errors):
            detail = next(e for e in errors if e.get("type") == "json_invalid")
            reason = detail.get("ctx", {}).get("error", "")
            problem: ClearwayError = MalformedRequest(f"the body is not valid JSON: {reason}".rstrip(": "))
        else:
            problem = InvalidInput(f"{len(errors)} invalid field(s)", errors=_request_errors(exc))
        return problem_response(problem, request)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> Response:
        wants_page = "text/html" in request.headers.get("accept", "") and not request.url.path.startswith("/api/")
        if wants_page and exc.status_code == 404:
            return web_views.html_error(request, 404, "Page not found", f"There is no page at {request.url.path}.")
        problem = ClearwayError(str(exc.detail))
        problem.status = exc.status_code
        problem.title = {404: "Not found", 405: "Method not allowed"}.get(exc.status_code, "HTTP error")
        problem.slug = problem.title.lower().replace(" ", "-")
        return problem_response(problem, request)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unexpected error on %s %s", request.method, request.url.path)
        problem = ClearwayError("an unexpected error occurred; nothing was changed. It has been logged.")
        problem.status, problem.slug, problem.title = 500, "internal-error", "Internal error"
        return problem_response(problem, request)

    @app.get("/health", tags=["service"])
    def health() -> dict[str, Any]:
        """Liveness and readiness: the database answers; how many background jobs wait."""
        with db.read_session() as session:
            session.execute(text("SELECT 1"))
            waiting = session.scalar(select(func.count()).select_from(Job).where(Job.status == "pending"))
            failed = session.scalar(select(func.count()).select_from(Job).where(Job.status == "failed"))
        return {
            "status": "ok",
            "version": __version__,
            "database": db.engine.dialect.name,
            "jobs": {"waiting": waiting, "failed": failed, "mode": settings.jobs_mode},
        }

    for views in (
        auth_views,
        declaration_views,
        notification_views,
        revenue_views,
        tariff_views,
        risk_views,
        classification_views,
        web_views,
    ):
        app.include_router(views.router)
    app.add_middleware(BodyLimit, limit=settings.max_request_bytes)
    return app


def _request_errors(exc: RequestValidationError) -> list[dict[str, str]]:
    """Field errors with paths relative to the body; query, path and header errors say where they are."""
    out = []
    for err in exc.errors():
        loc = tuple(err.get("loc", ()))
        where, rest = (loc[0], loc[1:]) if loc and loc[0] in ("body", "query", "path", "header") else ("body", loc)
        [entry] = error_entries([{**err, "loc": rest}])
        if where != "body":
            entry["field"] = f"{where}.{entry['field']}"
        out.append(entry)
    return out


__all__ = ["create_app"]
