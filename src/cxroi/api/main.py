"""The FastAPI application: collection API, public survey pages, admin API.

:func:`create_app` builds it for one workspace; ``cxroi serve`` runs it on uvicorn (with
several worker processes through :func:`app_from_env`). Startup opens the intake journal and
the maintenance loop; shutdown (SIGTERM, Ctrl-C) stops taking requests, commits what is in
flight and moves everything into the store.

Errors are JSON ``{"detail": …}`` (HTML on the survey pages): a library error becomes its
one-line message with a 4xx status, never a traceback; an unexpected error is logged and
answered 500 without details.
"""

from __future__ import annotations

import logging
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles

from cxroi import __version__
from cxroi.api.answers import FastLane, error_detail, error_status
from cxroi.api.middleware import Guard
from cxroi.api.routes import admin, dashboard, responses, survey
from cxroi.api.state import Service
from cxroi.errors import CxroiError

__all__ = ["ENV_DEV", "ENV_RATE", "ENV_SUPERVISED", "ENV_WORKSPACE", "app_from_env", "create_app"]

ENV_WORKSPACE, ENV_DEV, ENV_RATE = "CXROI_WORKSPACE", "CXROI_DEV", "CXROI_RATE_LIMIT"
ENV_SUPERVISED = "CXROI_SUPERVISED"
log = logging.getLogger("cxroi.service")


def _json_error(status: int, detail: Any, headers: dict | None = None) -> JSONResponse:
    return JSONResponse({"detail": detail}, status_code=status, headers=headers)


class CxroiApp(FastAPI):
    """FastAPI behind cxroi's own ASGI front: the guard (limits, headers, access log) and the
    answer lane (:class:`~cxroi.api.answers.FastLane`) run before FastAPI's middleware
    stack, so the hot path pays for neither; everything else continues into FastAPI."""

    front: Any = None

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if self.front is None:
            return await super().__call__(scope, receive, send)
        await self.front(scope, receive, send)

    def guard(self, *, service: Service) -> None:
        """Put the guard and the answer lane in front of the app."""

        async def framework(scope: Any, receive: Any, send: Any) -> None:
            await FastAPI.__call__(self, scope, receive, send)

        lane = FastLane(framework, service=service)
        self.front = Guard(
            lane, max_bytes=service.settings.max_body_bytes, per_minute=service.rate_limit
        )


def create_app(
    folder: str | Path,
    *,
    dev: bool = False,
    rate_limit: int | None = None,
    maintenance: bool = True,
) -> FastAPI:
    """The service of workspace ``folder`` (see :class:`~cxroi.api.state.Service`).

    Raises
    ------
    CxroiError
        The folder is not a workspace, or a setting is wrong (a default secret outside
        ``dev``), before anything listens.
    """
    service = Service(folder, dev=dev, rate_limit=rate_limit, maintenance=maintenance)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        service.start()
        try:
            yield
        finally:
            service.stop()

    app = CxroiApp(
        title="cxroi",
        version=__version__,
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,  # their pages load script from a CDN
        description="Collect survey answers and close the loop; read results with an API key.",
    )
    app.state.service = service

    @app.exception_handler(CxroiError)
    async def library_error(request: Request, e: CxroiError) -> JSONResponse:
        return _json_error(error_status(e), error_detail(e))

    @app.exception_handler(RequestValidationError)
    async def bad_request(request: Request, e: RequestValidationError) -> JSONResponse:
        keep = ("loc", "msg", "type")  # never echo the input back
        return _json_error(422, [{k: d[k] for k in keep if k in d} for d in e.errors()])

    @app.exception_handler(Exception)
    async def unexpected(request: Request, e: Exception) -> JSONResponse:
        log.exception("unexpected error on %s %s", request.method, request.url.path[:3])
        return _json_error(500, "internal error; it was logged")

    @app.get("/healthz", tags=["service"], summary="Ready to take answers")
    def healthz() -> JSONResponse:
        m = service.maintenance
        body = {
            "status": "ok" if service.ready and service.journal.running else "starting",
            "waiting": service.journal.waiting(),
            "flush_error": None if m is None else m.last_error,
        }
        return JSONResponse(body, status_code=200 if body["status"] == "ok" else 503)

    app.include_router(responses.router)
    app.include_router(admin.router)
    app.include_router(survey.router)
    app.include_router(dashboard.router)
    app.include_router(dashboard.api)
    app.mount("/static", StaticFiles(directory=Path(__file__).parent / "static"), name="static")
    app.guard(service=service)
    return app


def app_from_env() -> FastAPI:
    """The app for a uvicorn worker process: workspace and options from the environment
    (``CXROI_WORKSPACE``, ``CXROI_DEV``, ``CXROI_RATE_LIMIT``), set by ``cxroi serve``, whose
    supervisor runs the maintenance loop (:mod:`cxroi.api.server`)."""
    from cxroi.api.server import watch_parent

    rate = os.environ.get(ENV_RATE)
    supervised = os.environ.get(ENV_SUPERVISED) == "1"
    if supervised:
        watch_parent()
    return create_app(
        os.environ[ENV_WORKSPACE],
        dev=os.environ.get(ENV_DEV) == "1",
        rate_limit=None if rate is None else int(rate),
        maintenance=not supervised,
    )
