"""The collection endpoint a team would write first, as the service benchmark's comparison:
FastAPI, a pydantic body, one SQLite transaction per answer (WAL, ``synchronous=FULL``), 201
after the commit. No link token, no survey check, no redaction, no idempotency: strictly less
work per answer than cxroi's path, and one ``fsync`` per answer instead of one per group.

Run by ``bench_service.py`` as ``uvicorn benchmarks.naive_collect:app`` with
``NAIVE_DB=path`` (a database in WAL mode, made by the benchmark).
"""

from __future__ import annotations

import os
import sqlite3
import threading

from fastapi import FastAPI
from pydantic import BaseModel, ConfigDict, Field

app = FastAPI()
_local = threading.local()


class Answer(BaseModel):
    model_config = ConfigDict(extra="allow")
    token: str = Field(max_length=1024)
    nps: int | None = Field(None, ge=0, le=10)
    comment: str | None = Field(None, max_length=5000)


def _con() -> sqlite3.Connection:
    con = getattr(_local, "con", None)
    if con is None:
        con = sqlite3.connect(os.environ["NAIVE_DB"], isolation_level=None, timeout=30)
        con.execute("PRAGMA synchronous=FULL")
        con.execute("CREATE TABLE IF NOT EXISTS answers (token TEXT, nps INT, comment TEXT)")
        _local.con = con
    return con


@app.post("/api/v1/responses", status_code=201)
def answer(a: Answer) -> dict:
    con = _con()
    con.execute("BEGIN IMMEDIATE")
    con.execute("INSERT INTO answers VALUES (?, ?, ?)", (a.token, a.nps, a.comment))
    con.execute("COMMIT")
    return {"status": "created"}
