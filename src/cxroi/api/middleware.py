"""One pure ASGI middleware: body size limits, rate limits, security headers, a safe access log.

Written as a plain ASGI callable rather than Starlette's ``BaseHTTPMiddleware``, which costs a
task and a stream per request on the answer path.

- **Body size**: a request whose ``Content-Length`` exceeds ``max_body_bytes`` gets 413
  before its body is read; a body sent without a length is counted as it arrives and cut off
  at the limit.
- **Rate limit**: requests per minute per client IP, a moving window from the ``limits``
  package, in memory (per process): the time of every request of the last minute is kept (at
  most the limit's number per client), so the limit is exact at any instant. (A sliding-window
  counter, which weights the last fixed minute's count, let a client that had used its limit
  just before a minute began through again right after.) 429 with ``Retry-After``, the seconds
  until the oldest request counted leaves the window. ``/healthz`` is not counted. 0 turns it
  off (load tests).
- **Headers**: a strict Content-Security-Policy (nothing but this origin's stylesheet; no
  script at all), ``nosniff``, no referrer (survey links carry tokens), no framing, and
  ``no-store`` on every page and API answer.
- **Access log**: method, path and status, with a survey token in the path replaced by ``…``:
  tokens are credentials, and uvicorn's own access log (which would print them) is off.
"""

from __future__ import annotations

import json
import logging
import re
import time
from typing import Any

from limits import RateLimitItemPerMinute
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter

__all__ = ["CSP", "Guard", "safe_path"]

Scope = dict[str, Any]

CSP = (
    "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'"
)
HEADERS = [
    (b"content-security-policy", CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
    (b"cache-control", b"no-store"),
]


async def _send_json(send: Any, status: int, body: dict, headers: list | None = None) -> None:
    data = json.dumps(body).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(data)).encode()),
                *HEADERS,
                *(headers or []),
            ],
        }
    )
    await send({"type": "http.response.body", "body": data})


class _TooLarge(Exception):
    pass


_TOKEN_PATH = re.compile(r"^/s/[^/]+")
log = logging.getLogger("cxroi.access")


def safe_path(path: str) -> str:
    """``path`` with a survey token replaced: ``/s/eyJz…/thanks`` -> ``/s/…/thanks``."""
    return _TOKEN_PATH.sub("/s/…", path)


class Guard:
    """Every rule of the module docstring in one ASGI layer (one wrapper per request, not
    four).

    Parameters
    ----------
    max_bytes
        Largest request body (0: no limit).
    per_minute
        Requests per minute per client IP (0: no limit).
    """

    def __init__(self, app: Any, *, max_bytes: int, per_minute: int):
        self.app, self.max_bytes = app, max_bytes
        self.item = RateLimitItemPerMinute(per_minute) if per_minute else None
        self.limiter = MovingWindowRateLimiter(MemoryStorage())

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        t0, status = time.perf_counter(), 0
        try:
            status = await self._guarded(scope, receive, send)
        finally:
            if log.isEnabledFor(logging.INFO):
                client = (scope.get("client") or ("-", 0))[0]
                log.info(
                    "%s %s %s %d %.1fms",
                    client,
                    scope["method"],
                    safe_path(scope["path"]),
                    status,
                    (time.perf_counter() - t0) * 1000,
                )

    async def _guarded(self, scope: Scope, receive: Any, send: Any) -> int:
        if self.item is not None and scope["path"] != "/healthz":
            client = (scope.get("client") or ("unknown", 0))[0]
            if not self.limiter.hit(self.item, client):
                stats = self.limiter.get_window_stats(self.item, client)
                wait = max(1, int(stats.reset_time - time.time()) + 1)
                await _send_json(
                    send,
                    429,
                    {"detail": "too many requests; slow down"},
                    [(b"retry-after", str(wait).encode())],
                )
                return 429
        if self.max_bytes:
            for k, v in scope["headers"]:
                if k == b"content-length":
                    try:
                        too_big = int(v) > self.max_bytes
                    except ValueError:
                        await _send_json(send, 400, {"detail": "bad Content-Length"})
                        return 400
                    if too_big:
                        await _send_json(
                            send, 413, {"detail": f"the body is over {self.max_bytes} bytes"}
                        )
                        return 413
        seen, status = 0, 0

        async def counted() -> Any:
            nonlocal seen
            msg = await receive()
            if self.max_bytes and msg["type"] == "http.request":
                seen += len(msg.get("body", b""))
                if seen > self.max_bytes:
                    raise _TooLarge
            return msg

        async def with_headers(msg: Any) -> None:
            nonlocal status
            if msg["type"] == "http.response.start":
                status = msg["status"]
                have = {k.lower() for k, _ in msg.get("headers", [])}
                msg["headers"] = [
                    *msg.get("headers", []),
                    *[(k, v) for k, v in HEADERS if k not in have],
                ]
            await send(msg)

        try:
            await self.app(scope, counted, with_headers)
        except _TooLarge:
            if not status:
                await _send_json(send, 413, {"detail": f"the body is over {self.max_bytes} bytes"})
                status = 413
        return status
