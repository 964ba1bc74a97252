"""The workbench: server-rendered pages for officers, declarants, analysts and administrators.

Pages work without JavaScript. Sign-in puts the JWT in an HttpOnly cookie; every form that changes something
carries a CSRF token (double submit: a random cookie compared with a hidden field). Errors render as pages, not JSON.
"""

from __future__ import annotations

import hmac
import json
import logging
import secrets
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import quote, urlencode

import jwt
from fastapi import APIRouter, Depends, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, RedirectResponse, Response
from fastapi.routing import APIRoute
from fastapi.templating import Jinja2Templates
from limits import parse as parse_limit
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter
from pydantic import ValidationError
from sqlalchemy import case, func, select
from sqlalchemy.orm import selectinload
from starlette.datastructures import FormData

from clearway.auth import service as auth_service
from clearway.auth.deps import SESSION_COOKIE, AppSettings, DbSession, ReadSession
from clearway.auth.models import User
from clearway.auth.security import create_access_token, decode_access_token
from clearway.classification import views as classification_api
from clearway.db import utcnow
from clearway.declarations import service as declarations
from clearway.declarations.corrections import count_code_corrections, recorded_code_corrections
from clearway.declarations.domain import RULES, Action, Role, Status
from clearway.declarations.models import ControlResult, Declaration, DeclarationEvent, DeclarationVersion
from clearway.declarations.schemas import KNOWN_SUBHEADINGS, DecisionIn, DeclarationIn, errors_from
from clearway.errors import ClearwayError, Conflict, Forbidden, InvalidInput, NotFound
from clearway.notifications.models import Notification
from clearway.release import service as release
from clearway.web import charts, forms, kpi
from clearway.web import words as w

log = logging.getLogger(__name__)
HERE = Path(__file__).parent
STATIC = (HERE / "static").resolve()
CSRF_COOKIE = "clearway_csrf"
CSRF_FIELD = "csrf_token"
STAFF = {Role.CUSTOMS_OFFICER, Role.RISK_ANALYST, Role.ADMINISTRATOR, Role.CHECKPOINT_OPERATOR}
OFFICER_QUEUE = (
    Status.DOCUMENTARY_CHECK,
    Status.PHYSICAL_INSPECTION,
    Status.CONTROL_COMPLETED,
    Status.DOCUMENTS_REQUESTED,
    Status.AWAITING_PAYMENT,
)
DECLARANT_ACTION = (Status.DOCUMENTS_REQUESTED, Status.PHYSICAL_INSPECTION, Status.AWAITING_PAYMENT)
DECISIONS = ("request_documents", "record_control_result", "release", "reroute", "refuse", "seize", "invalidate")
PAGE_SIZE = 25
# Failed sign-ins allowed per account and client address (in this process) before it has to wait.
LOGIN_ATTEMPTS = parse_limit("5/5 minutes")
_LOGIN_LIMITER = MovingWindowRateLimiter(MemoryStorage())

templates = Jinja2Templates(directory=str(HERE / "templates"))
templates.env.globals.update(
    w=w,
    forms=forms,
    duration=kpi.duration_words,
    # who is shown the HS corrections page in the navigation: whoever may open it
    correction_reviewers=classification_api.REVIEWER_ROLES,
)
templates.env.filters.update(status=w.status_words, when=w.when, ago=w.ago, money=w.money, pct=w.pct, role=w.role_words)


class LoginRequired(Exception):
    """No valid session: the page sends the user to sign in and back."""

    def __init__(self, expired: bool = False) -> None:
        super().__init__("sign in required")
        self.expired = expired


class CsrfRefused(Exception):
    pass


class WebRoute(APIRoute):
    """Routes whose failures render as pages: sign-in redirects, CSRF refusals and problems in plain words."""

    def get_route_handler(self) -> Callable[[Request], Awaitable[Response]]:
        handler = super().get_route_handler()

        async def route(request: Request) -> Response:
            try:
                return await handler(request)
            except LoginRequired as exc:
                return await _login_required(request, exc)
            except CsrfRefused:
                return _page(
                    request,
                    "error.html",
                    {
                        "title": "This form has expired",
                        "message": "The form was not sent because its security token is missing or out of date "
                        "(for example, it was opened in another browser session). Nothing was changed. "
                        "Go back, reload the page and send it again.",
                    },
                    status=403,
                )
            except RequestValidationError:
                return _page(
                    request,
                    "error.html",
                    {"title": "Bad request", "message": "The address has a value this page does not understand."},
                    status=400,
                )
            except ClearwayError as exc:
                titles = {404: "Not found", 403: "Not allowed", 409: "Not possible now"}
                return _page(
                    request,
                    "error.html",
                    {"title": titles.get(exc.status, exc.title), "message": w.sentence(exc.detail)},
                    status=exc.status,
                )

        return route


router = APIRouter(include_in_schema=False, route_class=WebRoute)


# -- session, CSRF, rendering ----------------------------------------------------------------------------------


def _csrf_token(request: Request) -> str:
    token = getattr(request.state, "csrf", None) or request.cookies.get(CSRF_COOKIE)
    if not token or len(token) < 20:
        token = secrets.token_urlsafe(32)
    request.state.csrf = token
    return token


def _secure(request: Request) -> bool:
    return request.url.scheme == "https" or request.app.state.settings.environment == "production"


def _finish(request: Request, response: Response) -> Response:
    """Sets the CSRF cookie when this response introduced (or rotated) the token."""
    token = getattr(request.state, "csrf", None)
    if token and request.cookies.get(CSRF_COOKIE) != token:
        response.set_cookie(CSRF_COOKIE, token, httponly=True, samesite="lax", secure=_secure(request), path="/")
    return response


def _page(request: Request, name: str, context: dict[str, Any], *, status: int = 200) -> Response:
    user = getattr(request.state, "user", None)
    settings = request.app.state.settings
    base = {
        "user": user,
        "csrf": _csrf_token(request),
        "environment": settings.environment,
        "session_expires": getattr(request.state, "session_expires", None),
        "path": request.url.path,
    }
    response = templates.TemplateResponse(request, name, {**base, **context}, status_code=status)
    return _finish(request, response)


def html_error(request: Request, status: int, title: str, message: str) -> Response:
    """A page in plain words for a browser that asked for something that isn't there (the API answers problems)."""
    return _page(request, "error.html", {"title": title, "message": message}, status=status)


def _redirect(request: Request, url: str) -> Response:
    return _finish(request, RedirectResponse(url, status_code=303))


def _safe_next(value: str | None) -> str:
    if not value or not value.startswith("/") or value.startswith("//") or value.startswith("/\\"):
        return "/"
    return value


async def _login_required(request: Request, exc: LoginRequired) -> Response:
    resume = ""
    if request.method == "POST":
        # Keep what the user was sending: after signing in they send it again with one press.
        form = await request.form()
        resume = json.dumps([[k, v] for k, v in form.multi_items() if k != CSRF_FIELD and isinstance(v, str)])
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    if request.method == "GET":
        query = urlencode({"next": target, **({"expired": "1"} if exc.expired else {})})
        return _redirect(request, f"/login?{query}")
    return _page(
        request,
        "login.html",
        {"next": target, "resume": resume, "expired": True, "error": None, "demo_users": _demo_users(request)},
        status=401,
    )


async def checked_form(request: Request) -> FormData:
    """The posted form, once its CSRF token matches the cookie."""
    form = await request.form()
    sent = form.get(CSRF_FIELD)
    cookie = request.cookies.get(CSRF_COOKIE)
    if not isinstance(sent, str) or not cookie or not hmac.compare_digest(sent.encode(), cookie.encode()):
        raise CsrfRefused
    return form


Form = Annotated[FormData, Depends(checked_form)]


def web_user(request: Request, session: ReadSession, settings: AppSettings) -> User:
    """The signed-in user, from the session cookie."""
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        raise LoginRequired()
    try:
        claims = decode_access_token(token, secret=settings.secret_key)
    except jwt.ExpiredSignatureError:
        raise LoginRequired(expired=True) from None
    except jwt.InvalidTokenError:
        raise LoginRequired() from None
    user = session.get(User, int(claims["sub"])) if str(claims["sub"]).isdigit() else None
    if user is None or not user.active:
        raise LoginRequired()
    _ = user.eoris
    session.commit()  # end the read snapshot, as the API's dependency does
    request.state.user = user
    request.state.session_expires = int(claims["exp"])
    return user


WebUser = Annotated[User, Depends(web_user)]


def _optional_user(request: Request, session: ReadSession, settings: AppSettings) -> User | None:
    try:
        return web_user(request, session, settings)
    except LoginRequired:
        return None


def _demo_users(request: Request) -> list[Any]:
    if request.app.state.settings.environment == "production":
        return []
    from clearway.demo import DEMO_USERS

    return list(DEMO_USERS)


def _role(user: User) -> Role:
    return Role(user.role)


# -- static files and pictures ---------------------------------------------------------------------------------


@router.get("/static/{path:path}")
def static(path: str) -> Response:
    target = (STATIC / path).resolve()
    if not target.is_relative_to(STATIC) or not target.is_file():
        raise NotFound(f"no file {path}")
    return FileResponse(target, headers={"Cache-Control": "public, max-age=3600"})


@router.get("/charts/{name}.svg")
def chart(
    name: str,
    request: Request,
    session: ReadSession,
    settings: AppSettings,
    scope: Annotated[str, Query(pattern="^(public|mine)$")] = "public",
    office: Annotated[str | None, Query(max_length=8)] = None,
) -> Response:
    """A picture of the figures; `scope=mine` limits them to what the signed-in user may see."""
    where = None
    who = None
    if scope == "mine":
        who = web_user(request, session, settings)
        where = declarations.visible_to(who)
    office = office.upper() if office else None
    if office:
        condition = Declaration.office_of_lodgement == office
        where = condition if where is None else (where & condition)
    figures = _figures(session, (id(request.app), who.id if who else None, office), where)
    if name == "flow":
        svg = charts.flow_chart(tuple(figures.flow), figures.bucket)
    elif name == "status":
        items = tuple((w.status_words(s), n, w.STATUS_COLOURS.get(s, "#6b7280")) for s, n in figures.by_status.items())
        svg = charts.bars_chart(items, "Declarations per status")
    elif name == "channel":
        items = tuple(
            (w.CHANNEL_WORDS.get(c, c), n, charts.CHANNEL_COLOURS.get(c, "#9ca3af"))
            for c, n in figures.by_channel.items()
        )
        svg = charts.bars_chart(items, "Declarations per channel")
    elif name == "release-times":
        svg = charts.release_time_chart(tuple(round(h, 3) for h in figures.release_hours))
    else:
        raise NotFound(f"no chart {name}")
    return Response(svg, media_type="image/svg+xml", headers={"Cache-Control": "private, max-age=30"})


# -- sign in and out -------------------------------------------------------------------------------------------


@router.get("/login")
def login_page(request: Request, next: str | None = None, expired: str | None = None) -> Response:
    return _page(
        request,
        "login.html",
        {
            "next": _safe_next(next),
            "resume": "",
            "expired": bool(expired),
            "error": None,
            "demo_users": _demo_users(request),
        },
    )


@router.post("/login")
def login(request: Request, form: Form, session: ReadSession, settings: AppSettings) -> Response:
    username = str(form.get("username") or "").strip()[:64]
    password = str(form.get("password") or "")
    next_url = _safe_next(str(form.get("next") or "/"))
    resume = str(form.get("resume") or "")
    client = request.client.host if request.client else "-"
    error = None
    if not _LOGIN_LIMITER.test(LOGIN_ATTEMPTS, username.lower(), client):
        reset = _LOGIN_LIMITER.get_window_stats(LOGIN_ATTEMPTS, username.lower(), client).reset_time
        minutes = max(1, round((reset - time.time()) / 60))
        error = f"Too many failed sign-ins for this account from your address. Try again in {minutes} min."
        user = None
    else:
        user = auth_service.authenticate(session=session, username=username, password=password) if username else None
        if user is None:
            _LOGIN_LIMITER.hit(LOGIN_ATTEMPTS, username.lower(), client)
            error = "The username or password is not right. Check them and try again."
    if user is None:
        return _page(
            request,
            "login.html",
            {
                "next": next_url,
                "resume": resume,
                "expired": False,
                "error": error,
                "username": username,
                "demo_users": _demo_users(request),
            },
            status=429 if error and error.startswith("Too many") else 401,
        )
    token = create_access_token(
        subject=str(user.id), role=user.role, secret=settings.secret_key, minutes=settings.access_token_minutes
    )
    request.state.csrf = secrets.token_urlsafe(32)  # a fresh CSRF token for the new session
    request.state.user = user
    if resume:
        try:
            fields = [(str(k), str(v)) for k, v in json.loads(resume)]
        except (ValueError, TypeError):
            fields = []
        response = _page(request, "resume.html", {"next": next_url, "fields": fields})
    else:
        response = _redirect(request, next_url)
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=settings.access_token_minutes * 60,
        httponly=True,
        samesite="lax",
        secure=_secure(request),
        path="/",
    )
    return response


@router.post("/logout")
def logout(request: Request, form: Form) -> Response:
    response = _redirect(request, "/login")
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


# -- home ------------------------------------------------------------------------------------------------------


_FIGURES: dict[tuple[Any, ...], tuple[float, kpi.Figures]] = {}
FIGURES_SECONDS = 20.0


def _figures(session: Any, key: tuple[Any, ...], where: Any) -> kpi.Figures:
    """The figures for a scope, kept for a few seconds: a page and its pictures ask for the same ones at once."""
    now = time.monotonic()
    cached = _FIGURES.get(key)
    if cached is not None and now - cached[0] < FIGURES_SECONDS:
        return cached[1]
    figures = kpi.load(session=session, now=utcnow(), where=where)
    if len(_FIGURES) > 256:
        _FIGURES.clear()
    _FIGURES[key] = (now, figures)
    return figures


def _offices(session: Any) -> list[str]:
    return list(session.scalars(select(Declaration.office_of_lodgement).distinct().order_by("office_of_lodgement")))


@router.get("/")
def home(request: Request, user: WebUser, session: ReadSession, office: str | None = None) -> Response:
    now = utcnow()
    role = _role(user)
    office = (office or "").strip().upper() or None
    context: dict[str, Any] = {"office": office, "offices": _offices(session), "now": now}
    if role == Role.DECLARANT:
        where = declarations.visible_to(user)
        action_first = case((Declaration.status.in_([s.value for s in DECLARANT_ACTION]), 0), else_=1)
        context["rows"] = list(
            session.scalars(
                select(Declaration).where(where).order_by(action_first, Declaration.submitted_at.desc()).limit(50)
            )
        )
        context["action_statuses"] = {s.value for s in DECLARANT_ACTION}
        scope = "mine"
    else:
        where = None
        query = select(Declaration).where(Declaration.status.in_([s.value for s in OFFICER_QUEUE]))
        if office:
            query = query.where(Declaration.office_of_lodgement == office)
        context["queue"] = list(session.scalars(query.order_by(Declaration.updated_at, Declaration.id).limit(100)))
        if role != Role.CUSTOMS_OFFICER:
            recent = select(Declaration).order_by(Declaration.submitted_at.desc()).limit(10)
            context["recent"] = list(session.scalars(recent))
        context["controls"] = _control_outcomes(session, office, now)
        scope = "public"
    if office:
        condition = Declaration.office_of_lodgement == office
        where = condition if where is None else (where & condition)
    key = (id(request.app), user.id if scope == "mine" else None, office)
    context["figures"] = _figures(session, key, where)
    context["chart_query"] = urlencode({"scope": scope, **({"office": office} if office else {})})
    return _page(request, "home.html", context)


def _control_outcomes(session: Any, office: str | None, now: Any) -> dict[str, Any]:
    """Control results recorded in the figures' window, by outcome, and the share that found something."""
    query = (
        select(ControlResult.outcome, func.count())
        .join(Declaration, Declaration.id == ControlResult.declaration_id)
        .where(ControlResult.recorded_at >= now - timedelta(days=kpi.WINDOW_DAYS))
        .group_by(ControlResult.outcome)
    )
    if office:
        query = query.where(Declaration.office_of_lodgement == office)
    counts = {outcome: n for outcome, n in session.execute(query)}
    total = sum(counts.values())
    found = counts.get("discrepancy", 0) + counts.get("fraud", 0)
    return {"counts": counts, "total": total, "found": found, "rate": found / total if total else None}


@router.get("/kpi")
def public_kpi(request: Request, session: ReadSession, settings: AppSettings) -> Response:
    _optional_user(request, session, settings)
    figures = _figures(session, (id(request.app), None, None), None)
    return _page(request, "kpi.html", {"figures": figures, "chart_query": "scope=public"})


# -- declarations ----------------------------------------------------------------------------------------------


@router.get("/declarations")
def declaration_list(
    request: Request,
    user: WebUser,
    session: ReadSession,
    status: Annotated[str | None, Query(max_length=32)] = None,
    channel: Annotated[str | None, Query(max_length=8)] = None,
    office: Annotated[str | None, Query(max_length=8)] = None,
    q: Annotated[str | None, Query(max_length=22)] = None,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
) -> Response:
    status = status or None
    channel = channel if channel in ("green", "yellow", "red") else None
    office = (office or "").strip().upper() or None
    term = (q or "").strip() or None
    lrn = mrn = None
    if term:
        if len(term) == 18 and term[:2].isdigit():
            mrn = term.upper()
        else:
            lrn = term
    common: dict[str, Any] = {
        "session": session,
        "user": user,
        "statuses": [status] if status else None,
        "channel": channel,
        "office": office,
        "limit": PAGE_SIZE,
    }
    try:
        rows, next_cursor = declarations.list_(**common, lrn=lrn, mrn=mrn, cursor=cursor)
        if term and not rows and lrn:  # an MRN typed in another shape: try it as an MRN too
            rows, next_cursor = declarations.list_(**common, mrn=term.upper())
    except InvalidInput:
        rows, next_cursor = [], None
    filters = {"status": status or "", "channel": channel or "", "office": office or "", "q": term or ""}
    next_url = (
        "/declarations?" + urlencode({**{k: v for k, v in filters.items() if v}, "cursor": next_cursor})
        if (next_cursor)
        else None
    )
    return _page(
        request,
        "list.html",
        {
            "rows": rows,
            "filters": filters,
            "next_url": next_url,
            "first_url": "/declarations?" + urlencode({k: v for k, v in filters.items() if v}) if cursor else None,
            "offices": _offices(session),
            "statuses": list(Status),
        },
    )


def _form_context(
    user: User,
    session: Any,
    *,
    values: dict[str, str],
    rows: int,
    errors: list[dict[str, str]] | None = None,
    message: str | None = None,
) -> dict[str, Any]:
    field_errors, general = forms.error_map(errors or [], rows)
    if message:
        general.insert(0, message)
    return {
        "values": values,
        "rows": max(rows, 1),
        "field_errors": field_errors,
        "general_errors": general,
        "eoris": sorted(user.eoris),
        "offices": sorted(set(_offices(session)) | {"USNYC001", "USLAX001", "USJFK001"}),
    }


def _new_values(user: User) -> dict[str, str]:
    eoris = sorted(user.eoris)
    return {
        "declaration_type": "IM",
        "additional_declaration_type": "A",
        "procedure_code": "4000",
        "declarant.eori": eoris[0] if eoris else "",
        "declarant.name": user.full_name or "",
        "border_transport.mode": "1",
        "invoice.currency": "USD",
        "incoterm": "FOB",
        "country_of_destination": "US",
    }


def _require_declarant(user: User) -> None:
    if _role(user) != Role.DECLARANT:
        raise Forbidden("only declarants lodge and amend declarations")


@router.get("/declarations/new")
def new_declaration(request: Request, user: WebUser, session: ReadSession) -> Response:
    _require_declarant(user)
    context = _form_context(user, session, values=_new_values(user), rows=forms.MIN_ROWS)
    context.update(mode="new", idempotency_key=str(uuid.uuid4()), action_url="/declarations/new")
    return _page(request, "declaration_form.html", context)


def _validate(doc: dict[str, Any]) -> tuple[DeclarationIn | None, list[dict[str, str]]]:
    try:
        return DeclarationIn.model_validate(doc, context={"hs_subheadings": KNOWN_SUBHEADINGS.codes}), []
    except ValidationError as exc:
        return None, errors_from(exc)


def _posted_rows(form: FormData) -> int:
    indices = [int(m.group(1)) for key in form if (m := forms.ITEM_RE.match(key))]
    return min(max(indices, default=-1) + 1, forms.MAX_ROWS)


def _form_values(form: FormData) -> dict[str, str]:
    return {k: v for k, v in form.items() if isinstance(v, str) and k not in (CSRF_FIELD,)}


@router.post("/declarations/new")
def lodge(
    request: Request, form: Form, user: WebUser, session: DbSession, reader: ReadSession, settings: AppSettings
) -> Response:
    _require_declarant(user)
    key = str(form.get("idempotency_key") or "")[:255] or str(uuid.uuid4())
    page = {"mode": "new", "idempotency_key": key, "action_url": "/declarations/new"}
    if form.get("add_row"):
        context = _form_context(user, reader, values=_form_values(form), rows=_posted_rows(form) + 1)
        return _page(request, "declaration_form.html", {**context, **page})
    doc = forms.parse(form)
    declaration, errors = _validate(doc)
    if declaration is None:
        values, rows = forms.flatten(doc)
        context = _form_context(user, reader, values=values, rows=max(rows, 1), errors=errors)
        return _page(request, "declaration_form.html", {**context, **page}, status=422)
    try:
        decl, _created = declarations.submit(
            session=session, user=user, declaration=declaration, idempotency_key=key, country_code=settings.country_code
        )
        session.commit()
    except (Conflict, Forbidden, InvalidInput) as exc:
        session.rollback()
        values, rows = forms.flatten(doc)
        errs = exc.errors or ([{"field": "lrn", "reason": exc.detail}] if isinstance(exc, Conflict) else [])
        message = None if exc.errors or isinstance(exc, Conflict) else w.sentence(exc.detail)
        context = _form_context(user, reader, values=values, rows=rows, errors=errs, message=message)
        return _page(request, "declaration_form.html", {**context, **page}, status=exc.status)
    return _redirect(request, f"/declarations/{decl.id}?done=lodged")


def _risk(session: Any, user: User, decl: Declaration, events: list[DeclarationEvent]) -> dict[str, Any] | None:
    """Why the declaration got its channel: the stored risk decision when the risk module has one, else the
    channel assignment's reasons. Declarants see the channel only (targeting is not disclosed to traders)."""
    assigned = [e for e in events if e.action in (Action.ASSIGN_CHANNEL, Action.REROUTE)]
    if not assigned:
        return None
    if _role(user) == Role.DECLARANT:
        return {"reasons": [], "extra": {}, "factors": [], "rule_hits": [], "hidden": True}
    event = next((e for e in reversed(events) if e.action == Action.ASSIGN_CHANNEL), assigned[-1])
    details = dict(event.details or {})
    reasons = details.pop("reasons", None) or ([event.reason] if event.reason else [])
    details.pop("channel", None)
    extra = {k: v for k, v in details.items() if isinstance(v, str | int | float) and not isinstance(v, bool)}
    risk: dict[str, Any] = {"reasons": reasons, "extra": extra, "factors": [], "rule_hits": [], "hidden": False}
    try:
        from clearway.risk import service as risk_service

        stored = risk_service.decision_out(
            risk_service.latest_decision(session=session, declaration_id=decl.id), session=session
        )
    except NotFound:
        return risk
    except Exception:  # the risk module is optional here: a half-built one must not take the page down
        log.warning("risk decision unavailable for %s", decl.id, exc_info=True)
        session.rollback()
        return risk
    currency = getattr(session.info.get("settings"), "national_currency", "")
    extra = {
        "Cause": w.label(str(stored.get("cause") or "")) or None,
        "Fraud probability": f"{stored['score'] * 100:.0f}%" if isinstance(stored.get("score"), float) else None,
        "Value at risk": w.money(stored["value_at_risk"], currency) if stored.get("value_at_risk") else None,
        "Model": stored.get("model_version"),
        "Random sample": "yes" if stored.get("random_selection") else None,
        "Trusted trader": "yes" if stored.get("trusted_trader") else None,
        "Office capacity": "limited the channel" if stored.get("budget_limited") else None,
    }
    risk.update(
        reasons=list(stored.get("reasons") or reasons),
        extra={k: v for k, v in extra.items() if v},
        factors=[str(f) for f in stored.get("factors") or []],
        rule_hits=[w.hit_words(h) for h in stored.get("rule_hits") or []],
        reroutes=stored.get("reroutes") or [],
    )
    return risk


def _revenue(session: Any, decl: Declaration) -> dict[str, Any] | None:
    """Where the declaration's duties stand, if the revenue module is there (it is optional for this page)."""
    try:
        from clearway.revenue import service as revenue_service

        position = revenue_service.position(session=session, declaration=decl)
        waiting = revenue_service.payment_reason(session, decl) if decl.status == Status.AWAITING_PAYMENT else None
    except Exception:  # a missing table or a half-built module must not take the page down
        log.warning("revenue position unavailable for %s", decl.id, exc_info=True)
        session.rollback()
        return None
    assessment = position.assessment
    return {
        "currency": position.currency,
        "administered": position.administered,
        "assessment": assessment,
        "lines": list(assessment.tax_lines) if assessment is not None else [],
        "total_due": position.total_due,
        "paid": position.paid,
        "guaranteed": position.guaranteed,
        "outstanding": position.outstanding,
        "refund_due": position.refund_due,
        "settled": position.settled,
        "waiting": w.sentence(w.without_api_paths(waiting)) if waiting else None,
    }


def _detail_context(session: Any, user: User, decl: Declaration) -> dict[str, Any]:
    events = declarations.history(session=session, declaration_id=decl.id)
    role = _role(user)
    status = Status(decl.status)
    allowed = (
        [d for d in DECISIONS if role in RULES[Action(d)].roles and status in RULES[Action(d)].sources]
        if role in (Role.CUSTOMS_OFFICER, Role.RISK_ANALYST)
        else []
    )
    versions = list(
        session.scalars(
            select(DeclarationVersion)
            .where(DeclarationVersion.declaration_id == decl.id)
            .order_by(DeclarationVersion.version.desc())
        )
    )
    results = list(
        session.scalars(
            select(ControlResult)
            .where(ControlResult.declaration_id == decl.id)
            .options(selectinload(ControlResult.code_corrections))
            .order_by(ControlResult.id)
        )
    )
    timeline = []
    for index, event in enumerate(events):
        following = events[index + 1].at if index + 1 < len(events) else None
        timeline.append({"event": event, "took": (following - event.at) if following else None})
    requested = next(
        (
            e.details.get("documents", [])
            for e in reversed(events)
            if e.action == Action.REQUEST_DOCUMENTS and e.details
        ),
        [],
    )
    total_time = (decl.released_at - decl.accepted_at) if decl.released_at and decl.accepted_at else None
    return {
        "decl": decl,
        "doc": decl.document,
        "timeline": timeline,
        "risk": _risk(session, user, decl, events),
        "revenue": _revenue(session, decl),
        "versions": versions,
        "results": results,
        "allowed": allowed,
        "requested_documents": requested if status == Status.DOCUMENTS_REQUESTED else [],
        "can_amend": role == Role.DECLARANT and status in RULES[Action.AMEND].sources,
        "can_cancel": role == Role.DECLARANT and status in RULES[Action.CANCEL].sources,
        "total_time": total_time,
        "common_documents": w.COMMON_DOCUMENTS,
        "decision_errors": {},
        "decision_values": {},
        "open_decision": None,
        "cancel_error": None,
    }


@router.get("/declarations/{declaration_id}")
def declaration_detail(
    request: Request, declaration_id: str, user: WebUser, session: ReadSession, done: str | None = None
) -> Response:
    decl = declarations.get(session=session, user=user, declaration_id=declaration_id)
    context = _detail_context(session, user, decl)
    context["done"] = w.DONE_WORDS.get(done or "")
    return _page(request, "detail.html", context)


def _decision_payload(form: FormData) -> dict[str, Any]:
    decision = str(form.get("decision") or "")
    data: dict[str, Any] = {"decision": decision}
    reason = str(form.get("reason") or "").strip()
    if reason:
        data["reason"] = reason
    if decision == "request_documents":
        documents = []
        picked = {str(v) for v in form.getlist("document_codes")}
        for code, description in w.COMMON_DOCUMENTS:
            if code in picked:
                documents.append({"code": code, "description": description})
        for line in str(form.get("other_documents") or "").splitlines():
            code, _, description = line.strip().partition(" ")
            if code:
                documents.append({"code": code, "description": description.strip() or code})
        data["documents"] = documents
    elif decision == "record_control_result":
        result: dict[str, Any] = {"outcome": str(form.get("outcome") or "")}
        findings = str(form.get("findings") or "").strip()
        if findings:
            result["findings"] = findings
        corrected = {}
        for line in str(form.get("corrected_hs_codes") or "").splitlines():
            parts = line.replace(":", " ").split()
            if len(parts) == 2:
                corrected[parts[0]] = parts[1]
            elif parts:
                corrected[line.strip()] = ""
        if corrected:
            result["corrected_hs_codes"] = corrected
        amount = str(form.get("additional_revenue") or "").strip()
        if amount:
            result["additional_revenue"] = {"amount": amount, "currency": str(form.get("revenue_currency") or "")}
        data["result"] = result
    elif decision == "reroute":
        data["channel"] = str(form.get("channel") or "") or None
    return data


@router.post("/declarations/{declaration_id}/decision")
def decide(
    request: Request, declaration_id: str, form: Form, user: WebUser, session: DbSession, reader: ReadSession
) -> Response:
    payload = _decision_payload(form)
    decision = payload["decision"]
    errors: list[dict[str, str]] = []
    message = None
    status = 422
    try:
        decision_in = DecisionIn.model_validate(payload)
    except ValidationError as exc:
        errors = errors_from(exc)
    else:
        try:
            release.decide(session=session, user=user, declaration_id=declaration_id, decision=decision_in)
            session.commit()
            return _redirect(request, f"/declarations/{declaration_id}?done={decision}")
        except (Conflict, InvalidInput, Forbidden) as exc:
            session.rollback()
            if isinstance(exc, NotFound):
                raise
            errors, message, status = exc.errors, w.sentence(exc.detail), exc.status
    decl = declarations.get(session=reader, user=user, declaration_id=declaration_id)
    context = _detail_context(reader, user, decl)
    context["decision_errors"] = {decision: [w.decision_error(e) for e in errors] + ([message] if message else [])}
    context["decision_values"] = {k: v for k, v in form.items() if isinstance(v, str) and k != CSRF_FIELD}
    context["open_decision"] = decision
    return _page(request, "detail.html", context, status=status)


@router.post("/declarations/{declaration_id}/cancel")
def cancel(
    request: Request, declaration_id: str, form: Form, user: WebUser, session: DbSession, reader: ReadSession
) -> Response:
    reason = str(form.get("reason") or "").strip()
    error = None
    if not reason:
        error = "Say why you withdraw the declaration."
    else:
        try:
            declarations.cancel(session=session, user=user, declaration_id=declaration_id, reason=reason[:512])
            session.commit()
            return _redirect(request, f"/declarations/{declaration_id}?done=cancelled")
        except (Conflict, Forbidden) as exc:
            session.rollback()
            error = w.sentence(exc.detail)
    decl = declarations.get(session=reader, user=user, declaration_id=declaration_id)
    context = _detail_context(reader, user, decl)
    context["cancel_error"] = error
    return _page(request, "detail.html", context, status=422 if not reason else 409)


@router.get("/declarations/{declaration_id}/amend")
def amend_page(request: Request, declaration_id: str, user: WebUser, session: ReadSession) -> Response:
    _require_declarant(user)
    decl = declarations.get(session=session, user=user, declaration_id=declaration_id)
    values, rows = forms.flatten(decl.document)
    context = _form_context(user, session, values=values, rows=rows + 1)
    context.update(
        mode="amend",
        decl=decl,
        base_version=decl.version,
        action_url=f"/declarations/{decl.id}/amend",
        requested_documents=_detail_context(session, user, decl)["requested_documents"],
        amend_reason="Documents provided as requested" if decl.status == Status.DOCUMENTS_REQUESTED else "",
    )
    return _page(request, "declaration_form.html", context)


@router.post("/declarations/{declaration_id}/amend")
def amend(
    request: Request, declaration_id: str, form: Form, user: WebUser, session: DbSession, reader: ReadSession
) -> Response:
    _require_declarant(user)
    decl = declarations.get(session=reader, user=user, declaration_id=declaration_id)
    reason = str(form.get("amend_reason") or "").strip()
    base_version = str(form.get("base_version") or "")
    page = {
        "mode": "amend",
        "decl": decl,
        "base_version": base_version,
        "action_url": f"/declarations/{decl.id}/amend",
        "amend_reason": reason,
        "requested_documents": _detail_context(reader, user, decl)["requested_documents"],
    }
    if form.get("add_row"):
        context = _form_context(user, reader, values=_form_values(form), rows=_posted_rows(form) + 1)
        return _page(request, "declaration_form.html", {**context, **page})
    doc = forms.parse(form)
    declaration, errors = _validate(doc)
    if not reason:
        errors.append({"field": "amend_reason", "reason": "say what the amendment changes"})
    message = None
    if base_version != str(decl.version):
        if declaration is not None and decl.document == declaration.model_dump(mode="json", exclude_none=True):
            return _redirect(request, f"/declarations/{decl.id}?done=amended")  # a resubmission of the same amendment
        message = (
            f"The declaration changed since you opened this form (now version {decl.version}). "
            "Check the current version before amending again."
        )
    if declaration is not None and not errors and message is None:
        try:
            declarations.amend(
                session=session, user=user, declaration_id=decl.id, declaration=declaration, reason=reason[:512]
            )
            session.commit()
            return _redirect(request, f"/declarations/{decl.id}?done=amended")
        except (Conflict, Forbidden, InvalidInput) as exc:
            session.rollback()
            errors = [{**e, "field": e["field"].removeprefix("declaration.")} for e in exc.errors]
            message = None if errors else w.sentence(exc.detail)
    values, rows = forms.flatten(doc)
    context = _form_context(user, reader, values=values, rows=max(rows, 1), errors=errors, message=message)
    amend_errors = context["field_errors"].pop("amend_reason", None) or [
        e["reason"] for e in errors if e["field"] == "amend_reason"
    ]
    context["general_errors"] = [g for g in context["general_errors"] if not g.startswith("amend_reason")]
    return _page(request, "declaration_form.html", {**context, **page, "amend_errors": amend_errors}, status=422)


# -- notifications ---------------------------------------------------------------------------------------------


@router.get("/notifications")
def notifications(
    request: Request, user: WebUser, session: ReadSession, before: Annotated[int | None, Query(ge=1)] = None
) -> Response:
    items: list[Notification] = []
    if user.eoris:
        query = select(Notification).where(Notification.recipient_eori.in_(sorted(user.eoris)))
        if before:
            query = query.where(Notification.id < before)
        items = list(session.scalars(query.order_by(Notification.id.desc()).limit(PAGE_SIZE + 1)))
    more = len(items) > PAGE_SIZE
    items = items[:PAGE_SIZE]
    return _page(
        request,
        "notifications.html",
        {"items": items, "older_url": f"/notifications?before={items[-1].id}" if more else None},
    )


# -- officers' HS corrections, what the classification assistant learns from ------------------------------------

CORRECTIONS_PAGE = 100


@router.get("/classification/corrections")
def hs_corrections(
    request: Request,
    user: WebUser,
    session: ReadSession,
    format: Literal["html", "csv"] = "html",
    changed: bool = False,
    page: Annotated[int, Query(ge=1)] = 1,
) -> Response:
    if _role(user) not in classification_api.REVIEWER_ROLES:
        raise Forbidden("only customs staff see the HS codes officers recorded")
    if format == "csv":
        return _finish(
            request, classification_api.corrections_csv(recorded_code_corrections(session, changed_only=changed))
        )
    counts = count_code_corrections(session)
    shown = counts.kept(changed_only=changed)
    pages = max(1, -(-shown // CORRECTIONS_PAGE))
    page = min(page, pages)
    newest_first = recorded_code_corrections(
        session, changed_only=changed, newest_first=True, limit=CORRECTIONS_PAGE, offset=(page - 1) * CORRECTIONS_PAGE
    )

    def url(*, page: int = 1, only_changed: bool = changed, format: str | None = None) -> str:
        query = {"changed": "true"} if only_changed else {}
        query |= {"page": str(page)} if page > 1 else {}
        query |= {"format": format} if format else {}
        return "/classification/corrections" + ("?" + urlencode(query) if query else "")

    context = {
        "items": [classification_api.CorrectionOut.of(r) for r in newest_first],
        "total": counts.total,
        "changed": counts.changed,
        "only_changed": changed,
        "shown": shown,
        "page": page,
        "pages": pages,
        "first": (page - 1) * CORRECTIONS_PAGE + 1,
        "newer_url": url(page=page - 1) if page > 1 else None,
        "older_url": url(page=page + 1) if page < pages else None,
        "all_url": url(only_changed=False),
        "changed_url": url(only_changed=True),
        "csv_url": url(format="csv"),
    }
    return _page(request, "corrections.html", context)


def _quote(value: str) -> str:
    return quote(value, safe="")


templates.env.filters["q"] = _quote
