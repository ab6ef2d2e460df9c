"""``/dashboard``: the CX team's pages, behind a login; each with its JSON twin.

Every page renders a :class:`~cxroi.views.View` (the same results as the report and
``/api/v1/pages/{page}``) with its figures, as plain HTML: charts are SVG drawn on the server
(hover shows each mark's values), filters are forms, there is no script, and the
Content-Security-Policy forbids any.

**Sign-in.** A session is a random id in the journal (:mod:`cxroi.service.users`); the
browser holds it signed (``itsdangerous``) in a cookie that is ``HttpOnly``,
``SameSite=Strict`` and ``Secure`` when the request came over TLS (directly or, behind a
proxy uvicorn trusts, by ``X-Forwarded-Proto``). Every form that changes something carries
the session's CSRF token, compared in constant time; the sign-in form carries one bound to a
cookie of its own. A visitor without a session is sent to the sign-in page; a role without
the right gets 403.

**Roles.** ``viewer`` reads; ``analyst`` also exports CSV and assigns and closes cases;
``admin`` also manages users.
"""

from __future__ import annotations

import hmac
import secrets
import threading
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Form, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from fastapi.templating import Jinja2Templates
from itsdangerous import BadSignature, Signer

from cxroi.api.deps import ServiceDep
from cxroi.api.page_cache import PageCache
from cxroi.api.state import Service
from cxroi.errors import CxroiError
from cxroi.journey import JOURNEY_FILE
from cxroi.report.html import TEMPLATES as REPORT_TEMPLATES
from cxroi.report.html import tables_of
from cxroi.results import format_cell
from cxroi.schema import CASE_STATUSES
from cxroi.service.apikeys import verify_key
from cxroi.service.users import (
    ROLES,
    Session,
    add_user,
    allowed,
    check_login,
    end_session,
    new_session,
    remove_user,
    session,
    users_result,
)
from cxroi.views import COMMENT_FILTERS, PAGES

__all__ = ["router"]

router = APIRouter(include_in_schema=False)
api = APIRouter(prefix="/api/v1", tags=["dashboard"])
COOKIE, LOGIN_COOKIE = "cxroi_session", "cxroi_login"
templates = Jinja2Templates(
    directory=[str(Path(__file__).parent.parent / "templates"), str(REPORT_TEMPLATES)]
)
templates.env.filters["cell"] = format_cell
templates.env.filters["num"] = lambda v, d=0: "" if v is None else f"{v:,.{d}f}"
NAV = [(name, title) for name, (title, _) in PAGES.items()]
FILTERS: dict[str, tuple[str, ...]] = {
    "overview": ("period", "since", "until"),
    "scorecard": ("period", "since", "until", "by"),
    "voice": ("survey", "touchpoint", "nps_min", "nps_max", "contains"),
    "cases": ("status", "owner"),
}


def _signer(service: Service) -> Signer:
    return Signer(service.settings.signing_key, salt="cxroi.dashboard-session")


def _secure(request: Request) -> bool:
    return request.url.scheme == "https"


def _user(request: Request, service: Service) -> Session | None:
    raw = request.cookies.get(COOKIE)
    if not raw:
        return None
    try:
        sid = _signer(service).unsign(raw).decode()
    except BadSignature:
        return None
    return session(service.journal, sid)


def _need(request: Request, service: Service, role: str = "viewer") -> Session:
    who = _user(request, service)
    if who is None:
        raise HTTPException(
            303, headers={"Location": "/dashboard/login?next=" + quote(request.url.path)}
        )
    if not allowed(who.role, role):
        raise HTTPException(403, f"this needs the {role} role; you are {who.role}")
    return who


def _check_csrf(who: Session, token: str) -> None:
    if not hmac.compare_digest(who.csrf.encode(), (token or "").encode()):
        raise HTTPException(403, "the form is out of date (CSRF check); reload the page")


def _cache(service: Service) -> PageCache:
    if not hasattr(service, "pages"):
        service.pages = PageCache(service.folder)  # type: ignore[attr-defined]
    return service.pages  # type: ignore[attr-defined]


def _params(page: str, request: Request) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key in FILTERS.get(page, ()):
        value = request.query_params.get(key, "").strip()
        if not value:
            continue
        if len(value) > 100 or any(ord(c) < 32 for c in value):
            raise HTTPException(422, f"{key}: too long or holds control characters")
        if key in ("nps_min", "nps_max"):
            if not value.isdigit() or int(value) > 10:
                raise HTTPException(422, f"{key}: a whole number from 0 to 10")
            out[key] = int(value)
        elif key == "by":
            out[key] = [v.strip() for v in value.split(",") if v.strip()][:3]
        else:
            out[key] = value
    return out


# -- sign-in ------------------------------------------------------------------------------------
def _warm() -> None:
    import cxroi.views  # noqa: F401  (the analyses and their libraries)
    from cxroi.report.charts import warm

    warm()


_warming = threading.Lock()
_warmed = False


def warm_once() -> None:
    """Start the chart renderer and import the analyses in the background, once per process:
    the first page would wait a second or two for them. Done when someone opens the sign-in
    page, not at start, so that a service that only collects answers never pays for it."""
    global _warmed
    with _warming:
        if _warmed:
            return
        _warmed = True
    threading.Thread(target=_warm, name="cxroi-warm", daemon=True).start()


@router.get("/dashboard/login", response_class=HTMLResponse)
def login_page(request: Request, next: str = "/dashboard", error: str = "") -> Response:  # noqa: A002
    warm_once()
    token = secrets.token_urlsafe(24)
    r = templates.TemplateResponse(
        request, "dashboard/login.html", {"token": token, "next": _safe_next(next), "error": error}
    )
    r.set_cookie(
        LOGIN_COOKIE,
        token,
        httponly=True,
        samesite="strict",
        secure=_secure(request),
        max_age=1800,
        path="/dashboard",
    )
    return r


def _safe_next(next_: str) -> str:
    return next_ if next_.startswith("/dashboard") and "//" not in next_ else "/dashboard"


@router.post("/dashboard/login")
def login(
    request: Request,
    service: ServiceDep,
    username: Annotated[str, Form(max_length=64)],
    password: Annotated[str, Form(max_length=1024)],
    token: Annotated[str, Form(max_length=64)],
    next: Annotated[str, Form(max_length=300)] = "/dashboard",  # noqa: A002
) -> Response:
    cookie = request.cookies.get(LOGIN_COOKIE, "")
    if not cookie or not hmac.compare_digest(cookie.encode(), token.encode()):
        raise HTTPException(403, "the sign-in form is out of date; reload it")
    role = check_login(service.journal, username, password)
    if role is None:
        return RedirectResponse("/dashboard/login?error=1&next=" + quote(_safe_next(next)), 303)
    s = new_session(service.journal, username)
    r = RedirectResponse(_safe_next(next), 303)
    r.set_cookie(
        COOKIE,
        _signer(service).sign(s.sid).decode(),
        httponly=True,
        samesite="strict",
        secure=_secure(request),
        max_age=8 * 3600,
        path="/",
    )
    r.delete_cookie(LOGIN_COOKIE, path="/dashboard")
    return r


@router.post("/dashboard/logout")
def logout(
    request: Request, service: ServiceDep, csrf: Annotated[str, Form(max_length=64)]
) -> Response:
    who = _need(request, service)
    _check_csrf(who, csrf)
    end_session(service.journal, who.sid)
    r = RedirectResponse("/dashboard/login", 303)
    r.delete_cookie(COOKIE, path="/")
    return r


# -- pages --------------------------------------------------------------------------------------
@router.get("/dashboard")
def home() -> Response:
    return RedirectResponse("/dashboard/overview", 303)


@router.get("/dashboard/journey/{kind}.svg")
def journey_picture(kind: str, request: Request, service: ServiceDep) -> Response:
    _need(request, service)
    titles = {"map": "Journey map", "blueprint": "Service blueprint"}
    if kind not in titles:
        raise HTTPException(404)
    pics = _cache(service).pictures()
    if titles[kind] not in pics:
        raise HTTPException(404, "no journey.yaml in the workspace (cxroi journey init)")
    # matplotlib's SVG styles itself inline: allowed for this image, which runs no script
    return Response(
        pics[titles[kind]],
        media_type="image/svg+xml",
        headers={"content-security-policy": "default-src 'none'; style-src 'unsafe-inline'"},
    )


@router.get("/dashboard/users", response_class=HTMLResponse)
def users_page(request: Request, service: ServiceDep) -> Response:
    who = _need(request, service, "admin")
    table = users_result(service.journal).table()
    return templates.TemplateResponse(
        request,
        "dashboard/users.html",
        {
            "who": who,
            "nav": NAV,
            "page": "users",
            "users": table.to_dict("records"),
            "roles": ROLES,
        },
    )


@router.post("/dashboard/users")
def users_add(
    request: Request,
    service: ServiceDep,
    csrf: Annotated[str, Form(max_length=64)],
    username: Annotated[str, Form(max_length=64)],
    role: Annotated[str, Form(max_length=10)],
    password: Annotated[str, Form(max_length=1024)],
) -> Response:
    who = _need(request, service, "admin")
    _check_csrf(who, csrf)
    try:
        add_user(service.journal, username, role, password)
    except CxroiError as e:
        raise HTTPException(422, str(e)) from None
    return RedirectResponse("/dashboard/users", 303)


@router.post("/dashboard/users/{username}/remove")
def users_remove(
    username: str, request: Request, service: ServiceDep, csrf: Annotated[str, Form(max_length=64)]
) -> Response:
    who = _need(request, service, "admin")
    _check_csrf(who, csrf)
    try:
        remove_user(service.journal, username)
    except CxroiError as e:
        raise HTTPException(404, str(e)) from None
    return RedirectResponse("/dashboard/users", 303)


@router.post("/dashboard/cases/{case_id}/{action}")
def case_action(
    case_id: str,
    action: str,
    request: Request,
    service: ServiceDep,
    csrf: Annotated[str, Form(max_length=64)],
    value: Annotated[str, Form(max_length=500)],
) -> Response:
    """Assign (``value``: the owner) or close (``value``: the outcome) a case."""
    from cxroi.service.cases import assign_case, close_case
    from cxroi.store import Workspace

    who = _need(request, service, "analyst")
    _check_csrf(who, csrf)
    if action not in ("assign", "close"):
        raise HTTPException(404)
    try:
        with Workspace.open(service.folder, purpose="dashboard case") as ws:
            (assign_case if action == "assign" else close_case)(ws, case_id, value)
    except CxroiError as e:
        raise HTTPException(422, str(e)) from None
    return RedirectResponse("/dashboard/cases", 303)


@router.get("/dashboard/{page}/export.csv")
def export(
    page: str,
    request: Request,
    service: ServiceDep,
    result: Annotated[str, Query(max_length=40)],
    table: Annotated[str | None, Query(max_length=40)] = None,
) -> Response:
    _need(request, service, "analyst")
    if page not in PAGES:
        raise HTTPException(404)
    view = _cache(service).get(page, _params(page, request)).view
    r = view.get(result)
    if r is None:
        raise HTTPException(404, f"no result {result!r} on this page")
    try:
        body = r.to_csv(table)
    except KeyError:
        raise HTTPException(404, f"no table {table!r}") from None
    return Response(
        body,
        media_type="text/csv; charset=utf-8",
        headers={"content-disposition": f'attachment; filename="cxroi-{page}-{result}.csv"'},
    )


@router.get("/dashboard/{page}", response_class=HTMLResponse)
def page(page: str, request: Request, service: ServiceDep) -> Response:
    who = _need(request, service)
    if page not in PAGES:
        raise HTTPException(404, f"no page {page!r}")
    params = _params(page, request)
    got = _cache(service).get(page, params)
    figs = got.figures
    return templates.TemplateResponse(
        request,
        "dashboard/page.html",
        {
            "who": who,
            "nav": NAV,
            "page": page,
            "title": PAGES[page][0],
            "got": got,
            "view": got.view,
            "figures": figs,
            "tables": tables_of(got.view),
            "params": params,
            "filters": FILTERS.get(page, ()),
            "query": request.url.query,
            "statuses": CASE_STATUSES,
            "can_export": allowed(who.role, "analyst"),
            "can_follow": allowed(who.role, "analyst"),
            "journey": page == "journey" and (service.folder / JOURNEY_FILE).exists(),
            "comment_filters": COMMENT_FILTERS,
        },
    )


# -- the JSON twins -----------------------------------------------------------------------------
_bearer = HTTPBearer(auto_error=False)


@api.get("/pages/{page}", summary="A dashboard page's results (API key or session)")
async def page_json(page: str, request: Request, service: ServiceDep) -> dict[str, Any]:
    """The results a dashboard page shows, as the result contract's JSON."""
    cred: HTTPAuthorizationCredentials | None = await _bearer(request)
    key = verify_key(service.journal, cred.credentials if cred else None)
    if key is None and _user(request, service) is None:
        raise HTTPException(
            401,
            "an API key or a dashboard session is required",
            headers={"WWW-Authenticate": "Bearer"},
        )
    if page not in PAGES:
        raise HTTPException(404, f"no page {page!r}; the pages are {', '.join(PAGES)}")
    from starlette.concurrency import run_in_threadpool

    got = await run_in_threadpool(_cache(service).get, page, _params(page, request))
    return {**got.view.to_dict(), "stale": got.stale}
