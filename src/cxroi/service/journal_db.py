"""The databases an intake journal can live in: SQLite beside the workspace, or PostgreSQL.

:class:`SQLiteJournalDB` (the default, ``service.sqlite`` in the workspace) needs no server:
WAL mode, ``synchronous=FULL``, the file readable by its owner only, writers of several
processes taking turns through an ``fcntl`` lock. It serves every process of one machine.

:class:`PostgresJournalDB` (``[service] journal = "postgresql://…"``) is for several service
processes, on one machine or several, sharing one journal: tables prefixed ``cxroi_``,
commits durable as PostgreSQL's are (``synchronous_commit`` on), writers taking turns through
a transaction-scoped advisory lock, and the maintenance loop held by a session advisory lock
so that one process moves answers at a time wherever the others run. It needs ``psycopg``
(``pip install cxroi[postgres]``).

Both take the journal's SQL written once, in SQLite's spelling with ``?`` placeholders;
:meth:`JournalDB.sql` rewrites the two things PostgreSQL spells differently
(placeholders, ``INSERT OR IGNORE``). Passwords in a URL are never shown.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from cxroi.errors import CxroiError, first_line

__all__ = ["JournalDB", "PostgresJournalDB", "SQLiteJournalDB", "journal_db"]

JOURNAL_FILE = "service.sqlite"
WRITE_LOCK, MAINTENANCE_LOCK = 0x63780001, 0x63780002  # advisory lock keys ("cx")

_TABLES = """
CREATE TABLE IF NOT EXISTS {p}meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS {p}intake (
    seq {serial},
    response_id TEXT NOT NULL,
    ts TEXT NOT NULL,
    received_at TEXT NOT NULL,
    survey TEXT NOT NULL,
    touchpoint TEXT,
    invitation_id TEXT,
    language TEXT,
    answer TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS {p}intake_response ON {p}intake (response_id, seq);
CREATE TABLE IF NOT EXISTS {p}token_use (
    invitation_id TEXT PRIMARY KEY,
    response_id TEXT NOT NULL,
    first_at TEXT NOT NULL,
    last_at TEXT NOT NULL,
    revisions INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS {p}idempotency (
    scope TEXT NOT NULL,
    key TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    status INTEGER NOT NULL,
    body TEXT NOT NULL,
    at TEXT NOT NULL,
    PRIMARY KEY (scope, key)
);
CREATE TABLE IF NOT EXISTS {p}api_keys (
    key_id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    hash TEXT NOT NULL,
    created_at TEXT NOT NULL,
    last_used_at TEXT,
    revoked_at TEXT
);
CREATE TABLE IF NOT EXISTS {p}users (
    username TEXT PRIMARY KEY,
    role TEXT NOT NULL,
    hash TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS {p}sessions (
    sid TEXT PRIMARY KEY,
    username TEXT NOT NULL,
    csrf TEXT NOT NULL,
    expires_at DOUBLE PRECISION NOT NULL
);
CREATE TABLE IF NOT EXISTS {p}outbox (
    case_id TEXT NOT NULL,
    channel TEXT NOT NULL,
    target TEXT NOT NULL,
    payload TEXT NOT NULL,
    state TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_at DOUBLE PRECISION NOT NULL DEFAULT 0,
    last_error TEXT,
    delivered_at TEXT,
    PRIMARY KEY (case_id, channel)
);
"""
_NAMES = ("meta", "intake", "token_use", "idempotency", "api_keys", "users", "sessions", "outbox")


class JournalUnavailable(CxroiError):
    """The journal could not commit (disk full, read-only, damaged, server gone): nothing
    was accepted."""


class JournalDB:
    """What the journal needs of its database (see the module docstring)."""

    label: str
    Error: type[Exception]
    IntegrityError: type[Exception]
    prefix = ""

    def connect(self) -> Any:
        raise NotImplementedError

    def create(self) -> None:
        raise NotImplementedError

    def sql(self, text: str) -> str:
        """``text`` with the journal's table names (and, for PostgreSQL, its spelling)."""
        return text

    @contextlib.contextmanager
    def writing(self, con: Any) -> Iterator[None]:
        """One write transaction on ``con``, taking turns with every other writer."""
        raise NotImplementedError
        yield  # pragma: no cover

    @contextlib.contextmanager
    def maintenance(self, *, wait: bool) -> Iterator[bool]:
        """Hold the maintenance lock (one process moves answers at a time); yields whether
        it was had (``wait=False`` does not block)."""
        raise NotImplementedError
        yield  # pragma: no cover


class SQLiteJournalDB(JournalDB):
    """``service.sqlite`` in the workspace folder."""

    Error = sqlite3.Error
    IntegrityError = sqlite3.IntegrityError

    def __init__(self, folder: str | Path):
        self.folder = Path(folder)
        self.path = self.folder / JOURNAL_FILE
        self.lock_path = self.folder / f"{JOURNAL_FILE}.lock"
        self.label = str(self.path)

    def connect(self) -> sqlite3.Connection:
        try:
            con = sqlite3.connect(
                self.path, isolation_level=None, timeout=30.0, check_same_thread=False
            )
            con.execute("PRAGMA journal_mode=WAL")
            con.execute("PRAGMA synchronous=FULL")
            con.execute("PRAGMA busy_timeout=30000")
        except sqlite3.Error as e:
            raise JournalUnavailable(f"{self.path}: cannot open the journal: {e}") from None
        return con

    def create(self) -> None:
        if not self.path.exists():
            with contextlib.suppress(FileExistsError):  # owner-only: it holds customer answers
                os.close(os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
        con = self.connect()
        try:
            con.executescript(_TABLES.format(p="", serial="INTEGER PRIMARY KEY AUTOINCREMENT"))
        except sqlite3.DatabaseError as e:
            raise JournalUnavailable(
                f"{self.path}: not a cxroi journal or damaged ({e}); restore it from a backup"
            ) from None
        finally:
            con.close()

    @contextlib.contextmanager
    def writing(self, con: sqlite3.Connection) -> Iterator[None]:
        # An fcntl lock before SQLite's own: a waiting writer wakes the moment it is free,
        # where SQLite's busy handler would sleep 1, 2, 5, 10 ms and longer between tries.
        with open(self.lock_path, "a+") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            con.execute("BEGIN IMMEDIATE")
            try:
                yield
            except BaseException:
                with contextlib.suppress(sqlite3.Error):
                    con.execute("ROLLBACK")
                raise
            con.execute("COMMIT")

    @contextlib.contextmanager
    def maintenance(self, *, wait: bool) -> Iterator[bool]:
        with open(self.folder / "service.lock", "a+") as f:
            try:
                fcntl.flock(f, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
            except BlockingIOError:
                yield False
                return
            try:
                yield True
            finally:
                fcntl.flock(f, fcntl.LOCK_UN)


_PLACEHOLDER = re.compile(r"\?")
_IGNORE = re.compile(r"INSERT OR IGNORE INTO (.*)$", re.S)
_TABLE_NAME = re.compile(rf"\b({'|'.join(_NAMES)})\b(?=\s*(?:\(|$|\s|,|\)|;))")


class _PgConnection:
    """A psycopg connection with ``sqlite3``'s ``execute``/``executemany`` shape."""

    def __init__(self, con: Any, db: PostgresJournalDB):
        self._con, self._db = con, db

    def execute(self, sql: str, params: Any = ()) -> Any:
        return self._con.execute(self._db.sql(sql), params or None)

    def executemany(self, sql: str, rows: Any) -> None:
        rows = list(rows)
        if rows:
            with self._con.cursor() as cur:
                cur.executemany(self._db.sql(sql), rows)

    def executescript(self, sql: str) -> None:
        self._con.execute(sql)

    def close(self) -> None:
        self._con.close()


class PostgresJournalDB(JournalDB):
    """The journal in PostgreSQL at ``url`` (tables ``cxroi_*``)."""

    prefix = "cxroi_"

    def __init__(self, url: str):
        try:
            import psycopg
        except ImportError:
            raise CxroiError(
                "a PostgreSQL journal needs psycopg: pip install 'cxroi[postgres]'"
            ) from None
        from cxroi.store import redact_url

        self._psycopg = psycopg
        self.url = url
        self.label = redact_url(url)
        self.Error = psycopg.Error
        self.IntegrityError = psycopg.IntegrityError

    def sql(self, text: str) -> str:
        text = _TABLE_NAME.sub(lambda m: self.prefix + m.group(1), text)
        m = _IGNORE.match(text.strip())
        if m:
            text = f"INSERT INTO {m.group(1)} ON CONFLICT DO NOTHING"
        return _PLACEHOLDER.sub("%s", text)

    def connect(self) -> _PgConnection:
        try:
            con = self._psycopg.connect(self.url, autocommit=True, connect_timeout=10)
        except self._psycopg.Error as e:
            msg = first_line(e).replace(self.url, self.label)
            raise JournalUnavailable(f"journal {self.label}: cannot connect: {msg}") from None
        return _PgConnection(con, self)

    def create(self) -> None:
        con = self.connect()
        try:
            con.execute("SELECT pg_advisory_lock(%s)", (WRITE_LOCK,))  # one creator at a time
            con.executescript(_TABLES.format(p=self.prefix, serial="BIGSERIAL PRIMARY KEY"))
            con.execute("SELECT pg_advisory_unlock(%s)", (WRITE_LOCK,))
        except self._psycopg.Error as e:
            raise JournalUnavailable(f"journal {self.label}: {first_line(e)}") from None
        finally:
            con.close()

    @contextlib.contextmanager
    def writing(self, con: _PgConnection) -> Iterator[None]:
        con.execute("BEGIN")
        try:
            con.execute("SELECT pg_advisory_xact_lock(?)", (WRITE_LOCK,))
            yield
        except BaseException:
            with contextlib.suppress(self._psycopg.Error):
                con.execute("ROLLBACK")
            raise
        con.execute("COMMIT")

    @contextlib.contextmanager
    def maintenance(self, *, wait: bool) -> Iterator[bool]:
        con = self.connect()
        try:
            if wait:
                con.execute("SELECT pg_advisory_lock(?)", (MAINTENANCE_LOCK,))
                got = True
            else:
                got = bool(
                    con.execute("SELECT pg_try_advisory_lock(?)", (MAINTENANCE_LOCK,)).fetchone()[0]
                )
            yield got
        finally:
            con.close()  # the session lock goes with the session


def journal_db(folder: str | Path, url: str | None = None) -> JournalDB:
    """The journal database of workspace ``folder``: ``url`` (``postgresql://…``) or the
    SQLite file beside the store.

    Raises
    ------
    CxroiError
        ``url`` is not a PostgreSQL URL, or psycopg is not installed.
    """
    if url is None:
        return SQLiteJournalDB(folder)
    if not url.startswith(("postgres://", "postgresql://")):
        raise CxroiError(
            "[service] journal must be a postgresql:// URL (or left out for service.sqlite)"
        )
    return PostgresJournalDB(url)
