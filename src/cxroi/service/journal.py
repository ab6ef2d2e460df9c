"""The intake journal: where an accepted answer is durable before the service says so.

The analytic store (``cx.duckdb``) admits one writer or many readers, never both, so the
service must not hold it while it runs (``docs/concurrency.md``). Answers go first into this
journal: ``service.sqlite`` in the workspace (SQLite in WAL mode with ``synchronous=FULL``),
or PostgreSQL for several service processes (:mod:`cxroi.service.journal_db`), so a
committed transaction survives ``kill -9`` and power loss. The maintenance loop
(:mod:`cxroi.service.flush`) moves them into the store in short batches.

**Group commit.** Every answer of a process goes through one writer thread. It takes every
answer waiting in its queue, reads what the journal holds for their links and idempotency
keys with one query each, decides each answer in arrival order (a refused one writes
nothing), writes them all with one statement per table, commits them in one transaction, one
``fsync``, and only then completes the callers' futures, with one wake-up of the event loop
per group. A request handler answers 2xx after its future completes, so an answer is
on disk before it is acknowledged, and the cost of the ``fsync`` is shared by every request
that arrived while the previous one ran. Several processes may share the journal; their
groups take turns (an ``fcntl`` lock on SQLite, an advisory lock on PostgreSQL), so each group
decides against everything committed before it.

The same journal holds what the service must remember between requests: which invitation has
answered (a link creates one response; later answers change it), idempotency keys, API keys
(:mod:`cxroi.service.apikeys`) and the notification outbox (:mod:`cxroi.service.notify`).

The journal is written to directly (``sqlite3``, ``psycopg``): it is a log, not an analytic
table, and no Ibis expression is needed to append a row.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import hashlib
import json
import logging
import queue
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cxroi.errors import CxroiError, first_line
from cxroi.service.journal_db import JOURNAL_FILE, JournalUnavailable, journal_db

__all__ = [
    "JOURNAL_FILE",
    "Accepted",
    "Conflict",
    "Intake",
    "IdempotencyConflict",
    "Journal",
    "JournalUnavailable",
    "NotFound",
    "TokenUsed",
    "fingerprint",
    "utcnow",
]

SCHEMA_VERSION = 2
MAX_GROUP = 2048
"""At most this many operations share one commit."""

log = logging.getLogger("cxroi.service")


class Conflict(CxroiError):
    """The request conflicts with what the journal holds."""


class TokenUsed(Conflict):
    """The invitation has answered already; change the answer instead."""


class NotFound(CxroiError):
    """No such response for this link."""


class IdempotencyConflict(Conflict):
    """An ``Idempotency-Key`` reused with a different request."""


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def fingerprint(obj: Any) -> str:
    """SHA-256 of ``obj`` as canonical JSON: what an idempotency key promises to repeat."""
    text = json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()


@dataclass(frozen=True)
class Intake:
    """One answer as the journal keeps it (text already redacted)."""

    response_id: str
    survey: str
    touchpoint: str | None
    invitation_id: str | None
    language: str | None
    answer: dict[str, Any]
    received_at: dt.datetime = field(default_factory=utcnow)


@dataclass(frozen=True)
class Accepted:
    """What the journal did with an answer: ``status`` is 201 (a new response), 200 (an
    answer changed) or a stored status repeated for an idempotent retry (``replayed``)."""

    status: int
    body: dict[str, Any]
    replayed: bool = False


Idempotency = tuple[str, str, str]
"""``(scope, key, fingerprint)`` of a request that carries an ``Idempotency-Key``."""


@dataclass
class _Pending:
    """An answer waiting for the next commit, and how to tell its caller."""

    intake: Intake
    mode: str
    idempotency: Idempotency | None
    done: Callable[[Accepted | None, BaseException | None], None] | None
    loop: asyncio.AbstractEventLoop | None = None
    future: asyncio.Future | None = None


def _finish(items: list[tuple[asyncio.Future, Any, BaseException | None]]) -> None:
    """In the event loop: complete a commit group's futures (one wake-up for all)."""
    for fut, value, exc in items:
        if not fut.done():  # a caller gone (client disconnected) has cancelled its own
            fut.set_exception(exc) if exc is not None else fut.set_result(value)


def _chunks(items: list, size: int = 400) -> Iterator[list]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


class _Group:
    """One commit group: what the journal holds for its links and keys is read with one
    query each, every answer is decided in arrival order against that (and against the
    answers before it in the group), and the writes go out as one ``executemany`` per table.
    A refused answer writes nothing."""

    def __init__(self, con: Any, batch: list[_Pending]):
        self.con, self.batch = con, batch
        self.keys: dict[tuple[str, str], tuple[str, int, str]] = {}
        self.uses: dict[str, tuple[str, str]] = {}
        self.new_uses: list[tuple] = []
        self.changed: dict[str, tuple[str, int]] = {}
        self.rows: list[tuple] = []
        self.key_rows: list[tuple] = []

    def _read(self) -> None:
        keys = list({p.idempotency[:2] for p in self.batch if p.idempotency is not None})
        for part in _chunks(keys):
            values = ",".join("(?, ?)" for _ in part)
            flat = [x for k in part for x in k]
            for scope, key, fp, status, body in self.con.execute(
                "SELECT scope, key, fingerprint, status, body FROM idempotency "
                f"WHERE (scope, key) IN (VALUES {values})",
                flat,
            ):
                self.keys[(scope, key)] = (fp, status, body)
        links = list({p.intake.invitation_id for p in self.batch if p.intake.invitation_id})
        for part in _chunks(links):
            marks = ",".join("?" * len(part))
            for inv, rid, first in self.con.execute(
                "SELECT invitation_id, response_id, first_at FROM token_use "
                f"WHERE invitation_id IN ({marks})",
                part,
            ):
                self.uses[inv] = (rid, first)

    def _decide(self, p: _Pending) -> Accepted:
        if p.idempotency is not None:
            scope, key, fp = p.idempotency
            seen = self.keys.get((scope, key))
            if seen is not None:
                if seen[0] != fp:
                    raise IdempotencyConflict(
                        "Idempotency-Key was used before with a different request"
                    )
                return Accepted(seen[1], json.loads(seen[2]), replayed=True)
        it = p.intake
        now = it.received_at.isoformat()
        ts, status, rid = now, 201, it.response_id
        if it.invitation_id is not None:
            used = self.uses.get(it.invitation_id)
            if used is None and p.mode == "change":
                raise NotFound("this link has no answer to change yet")
            if used is not None:
                if p.mode == "create":
                    raise TokenUsed(
                        "this survey link has been answered already; change the answer "
                        f"with PUT /api/v1/responses/{used[0]}"
                    )
                (rid, ts), status = used, 200
                n = self.changed.get(it.invitation_id, ("", 0))[1]
                self.changed[it.invitation_id] = (now, n + 1)
            else:
                self.uses[it.invitation_id] = (rid, now)
                self.new_uses.append((it.invitation_id, rid, now, now))
        answer = json.dumps(it.answer, ensure_ascii=False)
        self.rows.append(
            (rid, ts, now, it.survey, it.touchpoint, it.invitation_id, it.language, answer)
        )
        body = {"response_id": rid, "status": "created" if status == 201 else "changed"}
        if p.idempotency is not None:
            text = json.dumps(body)
            self.keys[(scope, key)] = (fp, status, text)
            self.key_rows.append((scope, key, fp, status, text, now))
        return Accepted(status, body)

    def write(self) -> list[tuple[_Pending, Accepted | None, BaseException | None]]:
        self._read()
        out: list[tuple[_Pending, Accepted | None, BaseException | None]] = []
        for p in self.batch:
            try:
                out.append((p, self._decide(p), None))
            except CxroiError as e:
                out.append((p, None, e))
        c = self.con
        c.executemany("INSERT INTO token_use VALUES (?, ?, ?, ?, 1)", self.new_uses)
        c.executemany(
            "UPDATE token_use SET last_at = ?, revisions = revisions + ? WHERE invitation_id = ?",
            [(at, n, inv) for inv, (at, n) in self.changed.items()],
        )
        c.executemany(
            "INSERT INTO intake (response_id, ts, received_at, survey, touchpoint, "
            "invitation_id, language, answer) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            self.rows,
        )
        c.executemany("INSERT INTO idempotency VALUES (?, ?, ?, ?, ?, ?)", self.key_rows)
        return out


class Journal:
    """The intake journal of a workspace (see the module docstring).

    Parameters
    ----------
    folder
        The workspace folder; the journal is ``folder/service.sqlite`` unless ``url``.
    url
        A ``postgresql://`` URL: the journal in PostgreSQL, shared by several processes.

    Examples
    --------
    >>> with Journal(tmp) as j:                                        # doctest: +SKIP
    ...     j.accept(Intake("w-1", "relationship", None, None, "en", {"nps": 9})).status
    201
    """

    def __init__(self, folder: str | Path, *, url: str | None = None):
        self.db = journal_db(folder, url)
        self.path = getattr(self.db, "path", None)
        self._local = threading.local()
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._writer: threading.Thread | None = None
        self._lock = threading.Lock()
        self._readers: list[Any] = []
        self.db.create()
        with self.transaction() as con:
            con.execute(
                "INSERT OR IGNORE INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),)
            )
            con.execute("INSERT OR IGNORE INTO meta VALUES ('moved_seq', '0')")

    @classmethod
    def of(cls, folder: str | Path) -> Journal:
        """The journal of workspace ``folder``, where its ``[service] journal`` says."""
        from cxroi.service.settings import load_service_settings

        return cls(folder, url=load_service_settings(folder, dev=True).journal)

    # -- connections ----------------------------------------------------------------------------
    @property
    def reader(self) -> Any:
        """This thread's connection for reads (they never wait for the writer)."""
        con = getattr(self._local, "con", None)
        if con is None:
            con = self._local.con = self.db.connect()
            with self._lock:
                self._readers.append(con)
        return con

    def close(self) -> None:
        """Stop the writer and close every connection this journal opened."""
        self.stop()
        with self._lock:
            readers, self._readers = self._readers, []
        for con in readers:
            with contextlib.suppress(Exception):
                con.close()
        self._local = threading.local()

    @contextlib.contextmanager
    def transaction(self) -> Iterator[Any]:
        """A write transaction outside the writer thread (commands, maintenance)."""
        con = self.db.connect()
        try:
            with self.db.writing(con):
                yield con
        except self.db.Error as e:
            raise JournalUnavailable(f"{self.db.label}: {first_line(e)}") from None
        finally:
            con.close()

    def maintenance(self, *, wait: bool) -> contextlib.AbstractContextManager[bool]:
        """The maintenance lock: one process moves answers at a time (see
        :meth:`~cxroi.service.journal_db.JournalDB.maintenance`)."""
        return self.db.maintenance(wait=wait)

    # -- the writer -----------------------------------------------------------------------------
    def start(self) -> None:
        """Start the writer thread (idempotent)."""
        with self._lock:
            if self._writer is None or not self._writer.is_alive():
                self._writer = threading.Thread(target=self._run, name="cxroi-journal", daemon=True)
                self._writer.start()

    def stop(self) -> None:
        """Commit everything waiting, then stop the writer."""
        with self._lock:
            w, self._writer = self._writer, None
        if w is not None:
            self._queue.put(None)
            w.join()

    @property
    def running(self) -> bool:
        return self._writer is not None and self._writer.is_alive()

    def _enqueue(self, pending: _Pending) -> None:
        if not self.running:
            raise JournalUnavailable("the intake journal is not running")
        self._queue.put(pending)

    def accept(
        self, intake: Intake, *, mode: str = "create", idempotency: Idempotency | None = None
    ) -> Accepted:
        """Record ``intake`` and wait for the commit.

        ``mode`` is ``create`` (an invitation may create its response once: a second time
        raises :class:`TokenUsed`), ``change`` (the invitation's response must exist, else
        :class:`NotFound`) or ``answer`` (create, or change what exists: the survey page).
        ``idempotency`` is ``(scope, key, fingerprint)``: a retry with the same key and
        request gets the stored answer again (``replayed``); the same key with another request
        raises :class:`IdempotencyConflict`.

        Raises
        ------
        JournalUnavailable
            The writer is not running or the commit failed: nothing was recorded.
        """
        fut: Future[Accepted] = Future()

        def done(value: Accepted | None, exc: BaseException | None) -> None:
            fut.set_exception(exc) if exc is not None else fut.set_result(value)  # type: ignore[arg-type]

        self._enqueue(_Pending(intake, mode, idempotency, done))
        return fut.result()

    async def accept_async(
        self, intake: Intake, *, mode: str = "create", idempotency: Idempotency | None = None
    ) -> Accepted:
        """:meth:`accept` for the event loop: the caller's task waits without a thread, and
        the whole group of a commit is completed in one wake-up of the loop."""
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[Accepted] = loop.create_future()
        self._enqueue(_Pending(intake, mode, idempotency, None, loop, fut))
        return await fut

    def _run(self) -> None:
        con = self.db.connect()
        try:
            stopping = False
            while not stopping:
                item = self._queue.get()
                batch: list[_Pending] = []
                while True:
                    if item is None:
                        stopping = True
                    else:
                        batch.append(item)
                    if len(batch) >= MAX_GROUP:
                        break
                    try:
                        item = self._queue.get_nowait()
                    except queue.Empty:
                        break
                if batch:
                    self._commit(con, batch)
        finally:
            con.close()

    def _commit(self, con: Any, batch: list[_Pending]) -> None:
        """Decide every pending answer of ``batch`` in order, write them all with a few
        statements in one transaction, and complete them after the commit (all failed when
        the commit fails)."""
        try:
            with self.db.writing(con):
                out = _Group(con, batch).write()
        except self.db.Error as e:
            err = JournalUnavailable(f"the intake journal could not commit: {e}")
            out = [(p, None, err) for p in batch]
        except Exception as e:  # a bug must not stop the writer: fail this group, go on
            log.exception("journal group failed")
            err = JournalUnavailable(f"the intake journal could not commit: {first_line(e)}")
            out = [(p, None, err) for p in batch]
        by_loop: dict[Any, list[tuple[Any, Any, Any]]] = {}
        for p, value, exc in out:
            if p.loop is None:
                assert p.done is not None
                p.done(value, exc)
            else:
                by_loop.setdefault(p.loop, []).append((p.future, value, exc))
        for loop, items in by_loop.items():
            with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
                loop.call_soon_threadsafe(_finish, items)

    def __enter__(self) -> Journal:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- reading ------------------------------------------------------------------------------
    def current_answer(self, invitation_id: str) -> tuple[str, dict[str, Any]] | None:
        """The invitation's latest answer (response id, fields), or ``None``."""
        row = self.reader.execute(
            "SELECT i.response_id, i.answer FROM token_use u JOIN intake i "
            "ON i.response_id = u.response_id WHERE u.invitation_id = ? "
            "ORDER BY i.seq DESC LIMIT 1",
            (invitation_id,),
        ).fetchone()
        return None if row is None else (row[0], json.loads(row[1]))

    def moved_seq(self) -> int:
        """The last answer moved into the store: everything after it is waiting (one number,
        so marking a batch moved is one row, not one update per answer)."""
        row = self.reader.execute("SELECT value FROM meta WHERE key = 'moved_seq'").fetchone()
        return int(row[0])

    def waiting(self) -> int:
        """Answers not yet moved into the store."""
        row = self.reader.execute(
            "SELECT count(*) FROM intake WHERE seq > (SELECT CAST(value AS BIGINT) FROM meta "
            "WHERE key = 'moved_seq')"
        ).fetchone()
        return int(row[0])

    def mark_moved(self, seq: int) -> None:
        """Answers up to ``seq`` are in the store."""
        with self.transaction() as con:
            con.execute(
                "UPDATE meta SET value = ? WHERE key = 'moved_seq' AND CAST(value AS BIGINT) < ?",
                (str(seq), seq),
            )

    def waiting_rows(self, limit: int) -> list[tuple]:
        """Up to ``limit`` answers not yet moved, oldest first: ``(seq, response_id, ts,
        survey, touchpoint, invitation_id, language, answer)``."""
        return self.reader.execute(
            "SELECT seq, response_id, ts, survey, touchpoint, invitation_id, language, answer "
            "FROM intake WHERE seq > ? ORDER BY seq LIMIT ?",
            (self.moved_seq(), limit),
        ).fetchall()

    def prune_moved(self, older_than: dt.datetime, *, chunk: int = 10_000) -> int:
        """Drop answers moved into the store and received before ``older_than`` (the journal
        keeps a week of them by default, to rebuild a lost store batch); in short chunks."""
        gone, moved = 0, self.moved_seq()
        while True:
            with self.transaction() as con:
                n = con.execute(
                    "DELETE FROM intake WHERE seq IN (SELECT seq FROM intake WHERE seq <= ? AND "
                    "received_at < ? ORDER BY seq LIMIT ?)",
                    (moved, older_than.isoformat(), chunk),
                ).rowcount
            gone += n
            if n < chunk:
                return gone

    def answered(self, invitation_ids: list[str]) -> set[str]:
        """Which of ``invitation_ids`` have answered."""
        out: set[str] = set()
        for i in range(0, len(invitation_ids), 500):
            part = invitation_ids[i : i + 500]
            marks = ",".join("?" * len(part))
            out |= {
                r[0]
                for r in self.reader.execute(
                    f"SELECT invitation_id FROM token_use WHERE invitation_id IN ({marks})", part
                )
            }
        return out

    def prune_idempotency(self, older_than: dt.datetime) -> int:
        """Forget idempotency keys older than ``older_than`` (a day is kept by default)."""
        with self.transaction() as con:
            return con.execute(
                "DELETE FROM idempotency WHERE at < ?", (older_than.isoformat(),)
            ).rowcount
