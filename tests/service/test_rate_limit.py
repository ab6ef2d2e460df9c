"""The service's rate limit (``cxroi.api.middleware.Guard``) on a clock the test moves: exact
at any instant, across the turn of a minute too."""

from __future__ import annotations

import asyncio
import time

import pytest

from cxroi.api.middleware import Guard


async def _ok(scope, receive, send):
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"ok"})


def _get(guard: Guard, path: str = "/api/v1/cases", client: str = "10.0.0.1"):
    """One request through ``guard``: its status and headers."""
    sent: list[dict] = []

    async def receive():
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message):
        sent.append(message)

    scope = {"type": "http", "method": "GET", "path": path, "headers": [],
             "client": (client, 5000)}  # fmt: skip
    asyncio.run(guard(scope, receive, send))
    start = next(m for m in sent if m["type"] == "http.response.start")
    return start["status"], dict(start["headers"])


@pytest.fixture
def clock(monkeypatch):
    """``time.time`` that moves only when the test says: starts 0.2 s before a minute turns."""
    now = [1_800_000_000.0 - 0.2]  # a multiple of 60: a minute starts at now + 0.2
    monkeypatch.setattr(time, "time", lambda: now[0])
    return now


def test_the_limit_holds_across_the_turn_of_a_minute(clock):
    guard = Guard(_ok, max_bytes=0, per_minute=5)
    assert [_get(guard)[0] for _ in range(5)] == [200] * 5  # 0.2 s before the minute turns
    clock[0] += 0.4  # 0.2 s into the next minute: the five are 0.4 s old, still in the last 60 s
    status, headers = _get(guard)
    assert status == 429
    # the oldest request leaves the window 59.6 s from now: Retry-After rounds up to whole
    # seconds (and at least one)
    assert int(headers[b"retry-after"]) == 60
    assert _get(guard, client="10.0.0.2")[0] == 200  # per client
    assert _get(guard, path="/healthz")[0] == 200  # never counted
    clock[0] += 59.7  # 60.1 s after the five: they have left the window
    assert [_get(guard)[0] for _ in range(6)] == [200] * 5 + [429]
