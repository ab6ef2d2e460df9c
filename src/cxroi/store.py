"""The workspace: a folder with settings, the store and reports, and the way data gets in.

A workspace is a folder holding ``cxroi.toml`` (settings), ``cx.duckdb`` (the embedded store,
unless ``engine`` in the settings names another Ibis backend URL), ``journey.yaml`` and
``reports/``. Every canonical table exists from ``init`` on, so analyses can always ask for it.

Examples
--------
>>> ws = Workspace.init(tmp / "acme")                                   # doctest: +SKIP
>>> ws.ingest("transactions", "transactions.csv")                       # doctest: +SKIP
IngestResult(table='transactions', rows=1000, inserted=1000, updated=0, ...)
>>> ws.table("transactions").amount.sum().execute()                     # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import ibis
import pandas as pd

from cxroi import ingest as _ing
from cxroi.config import CONFIG_FILE, Settings, load_settings, write_settings
from cxroi.engines import TableMap, check_mapped, mapped_table, parse_table_maps, redact_url
from cxroi.engines import connect as connect_engine
from cxroi.errors import WorkspaceError, first_line
from cxroi.privacy import RAW_SUFFIX
from cxroi.readers import read_source
from cxroi.schema import TABLES, spec

__all__ = ["STORE_FILE", "WRITER_NOTE", "Workspace", "redact_url"]

STORE_FILE = "cx.duckdb"
WRITER_NOTE = ".cx.duckdb.writer"
"""Beside the store while a process holds it for writing: its pid and what it does."""


class Workspace:
    """A cxroi workspace folder and its connection to the engine.

    Use :meth:`init` to make one and :meth:`open` to open one; both return a ``Workspace``.
    Commands that only read open it with ``read_only=True``: any number of them can run at
    once. One writer at a time holds the store; a command that meets it waits up to the
    workspace's ``lock_timeout`` and then fails cleanly (see ``docs/concurrency.md``).

    Attributes
    ----------
    path
        The workspace folder.
    settings
        Settings read once from ``cxroi.toml``.
    con
        The Ibis backend (embedded DuckDB by default).
    read_only
        Whether the store was opened for reading only.
    """

    def __init__(self, path: Path, settings: Settings, con: Any, *, read_only: bool = False):
        self.path = path
        self.settings = settings
        self.con = con
        self.read_only = read_only
        self._writer_note: Path | None = None
        self._absent: set[str] = set()
        self._in_place: dict[str, ibis.Table] = {}
        self.mapped: dict[str, TableMap] = parse_table_maps(
            settings.section("tables"), file=str(path / CONFIG_FILE)
        )

    # -- making and opening -------------------------------------------------------------------
    @classmethod
    def init(cls, path: str | Path, *, settings: Settings | None = None) -> Workspace:
        """Create a workspace folder with ``cxroi.toml``, the store and every canonical table.

        Raises
        ------
        WorkspaceError
            If ``path`` already holds a workspace.
        """
        path = Path(path)
        if (path / CONFIG_FILE).exists():
            raise WorkspaceError(f"{path} is already a cxroi workspace ({CONFIG_FILE} exists)")
        if path.exists() and not path.is_dir():
            raise WorkspaceError(f"{path} exists and is not a folder")
        settings = settings or Settings()
        try:
            path.mkdir(parents=True, exist_ok=True)
            (path / "reports").mkdir(exist_ok=True)
        except OSError as e:
            raise WorkspaceError(f"{path}: cannot create the workspace: {e.strerror}") from None
        ws = cls(path, settings, _connect(path, settings, read_only=False, purpose="init"))
        ws._mark_writer("init")
        ws._create_tables()
        # last: a folder without it is not a workspace yet
        write_settings(path, settings, service_secret=secrets.token_urlsafe(32))
        return ws

    @classmethod
    def open(
        cls,
        path: str | Path = ".",
        *,
        read_only: bool = False,
        purpose: str = "python",
        on_wait: Callable[[str], None] | None = None,
    ) -> Workspace:
        """Open the workspace in folder ``path``.

        Parameters
        ----------
        read_only
            Open the store for reading only (many readers may run at once).
        purpose
            What this process does with the workspace (``ingest``, ``scorecard``, ...): shown
            to a command that has to wait for it.
        on_wait
            Called once with a message (``workspace busy: ingest by pid 123; waiting up to
            30 s``) when the store is held by another process.

        Raises
        ------
        WorkspaceError
            If ``path`` is not a workspace, its store is missing or damaged, or the store
            stayed busy for longer than ``lock_timeout``.
        """
        path = Path(path)
        settings = load_settings(path)
        if settings.engine is None and not (path / STORE_FILE).exists():
            raise WorkspaceError(
                f"{path}: the store {STORE_FILE} is missing (moved or deleted?); restore it "
                f"from a backup, or make a new workspace with cxroi init"
            )
        con = _connect(path, settings, read_only=read_only, purpose=purpose, on_wait=on_wait)
        ws = cls(path, settings, con, read_only=read_only)
        if not read_only:
            ws._mark_writer(purpose)
            ws._create_tables()
        else:
            # a table this version added to an older store: read as empty until a writer
            # creates it (a read-only open never changes the store)
            have = set(con.list_tables())
            ws._absent = {n for n in TABLES if n not in have and n not in ws.mapped}
        return ws

    def _create_tables(self) -> None:
        have = set(self.con.list_tables())
        for name, table in TABLES.items():
            if name not in have and name not in self.mapped:
                self.con.create_table(name, schema=ibis.schema(table.dtypes()))

    def _mark_writer(self, purpose: str) -> None:
        if self.settings.engine is not None:
            return
        note = self.path / WRITER_NOTE
        with contextlib.suppress(OSError):
            note.write_text(
                json.dumps({"pid": os.getpid(), "purpose": purpose, "since": time.time()}),
                encoding="utf-8",
            )
            self._writer_note = note

    def sibling(self) -> Workspace | None:
        """Another handle on this embedded store, with its own connection to the same
        database, for work on another thread: one DuckDB connection runs one query at a time,
        two connections of one database run side by side and see the same data. Close it
        when done (the database stays open). ``None`` on a server engine."""
        if self.settings.engine is not None or not hasattr(self.con, "con"):
            return None
        con = ibis.duckdb.from_connection(self.con.con.cursor())
        con.raw_sql("SET TimeZone = 'UTC'")
        twin = Workspace(self.path, self.settings, con, read_only=self.read_only)
        twin._absent = set(self._absent)
        return twin

    def close(self) -> None:
        """Close the connection to the engine."""
        disconnect = getattr(self.con, "disconnect", None)
        if disconnect and not getattr(self.con, "cxroi_borrowed", False):
            disconnect()
        if self._writer_note is not None:
            with contextlib.suppress(OSError):
                info = json.loads(self._writer_note.read_text(encoding="utf-8"))
                if info.get("pid") == os.getpid():
                    self._writer_note.unlink()
            self._writer_note = None

    def __enter__(self) -> Workspace:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def engine_label(self) -> str:
        """The engine as it may be shown: the store file, or the URL without its password."""
        return redact_url(self.settings.engine) if self.settings.engine else STORE_FILE

    def __repr__(self) -> str:
        return f"Workspace({str(self.path)!r}, engine={self.engine_label!r})"

    # -- reading ------------------------------------------------------------------------------
    def table(self, name: str) -> ibis.Table:
        """Return canonical table ``name`` as an Ibis table expression.

        Raw-text columns kept by ``[privacy] keep_raw`` (``COLUMN__raw``) are left out: no
        analysis, export or API sees them (:meth:`raw_table` does).
        """
        t = self.raw_table(name)
        raw = [c for c in t.columns if c.endswith(RAW_SUFFIX)]
        return t.drop(*raw) if raw else t

    def raw_table(self, name: str) -> ibis.Table:
        """Canonical table ``name`` with every stored column, raw text included."""
        tspec = spec(name)  # clear error for an unknown name
        if name in self.mapped:
            if name not in self._in_place:  # checked once per open: one schema query
                self._in_place[name] = mapped_table(self.con, self.mapped[name])
            return self._in_place[name]
        if name in self._absent:
            return ibis.memtable(pd.DataFrame({c: pd.Series([], dtype=object)
                                               for c in tspec.dtypes()}),
                                 schema=ibis.schema(tspec.dtypes()))  # fmt: skip
        return self.con.table(name)

    @property
    def tables(self) -> Mapping[str, ibis.Table]:
        """Every canonical table by name, as Ibis expressions (read lazily)."""
        return _Tables(self)

    def check_tables(self) -> dict[str, list[str]]:
        """For each table mapped in ``[tables]``, what keeps it from being read as the
        canonical table (one line each; empty when it fits): see
        :func:`cxroi.engines.check_mapped`."""
        return {name: check_mapped(self.con, m) for name, m in self.mapped.items()}

    def counts(self) -> dict[str, int]:
        """Rows in every canonical table."""
        return {name: int(self.raw_table(name).count().execute()) for name in TABLES}

    # -- loading ------------------------------------------------------------------------------
    def ingest(
        self,
        table: str,
        source: str | Path | Any,
        *,
        mapping: Mapping[str, str] | None = None,
        skip_bad: bool = False,
        replace_rows: bool = False,
        allow_dates: bool = False,
        encoding: str = "utf-8",
        adapter: str = "auto",
        questions: Mapping[str, str] | None = None,
        rejected_path: str | Path | None = None,
        progress: _ing.Progress | None = None,
        redacted: bool = False,
    ) -> _ing.IngestResult:
        """Validate ``source`` against canonical ``table`` and upsert it in one transaction.

        A row whose key is new is inserted; a row whose key is stored updates the columns the
        input carries (where they differ) and keeps the others (see :mod:`cxroi.load`).

        Parameters
        ----------
        table
            Canonical table name (see :mod:`cxroi.schema`).
        source
            Path to a CSV, TSV, Parquet, JSON Lines or Excel file, or a pandas DataFrame or
            pyarrow Table.
        mapping
            Rename input columns first, ``{source_column: canonical_column}``.
        skip_bad
            Load the good rows and write the bad ones, with a ``reason`` column, to
            ``rejected_path`` (default ``FILE.rejected.csv`` beside the input).
        replace_rows
            Replace stored rows whole: columns the input lacks become empty for its keys.
        allow_dates
            Load dates outside the plausible window (``date_min`` to ``date_years_ahead``
            years after today) instead of refusing them; the result counts them.
        encoding
            Text encoding of CSV/TSV input.
        adapter
            ``"auto"`` detects Qualtrics, SurveyMonkey and helpdesk exports; ``"none"`` reads
            the file as canonical columns; or name one adapter.
        questions
            Override the adapter's question detection, e.g. ``{"nps": "Q5"}``.
        progress
            Called as ``progress(step, fraction_done)`` while working.
        redacted
            The free text was redacted by this workspace's redactor already (the collection
            service's journal holds only redacted text): it is not redacted a second time.

        Returns
        -------
        IngestResult

        Raises
        ------
        IngestError
            Naming file, line, column, value and reason; nothing was written.
        """
        from cxroi.adapters import adapt
        from cxroi.load import fingerprint, load

        if self.read_only:
            raise WorkspaceError(f"{self.path} was opened read-only; open it to write")
        tspec = spec(table)
        if tspec.name in self.mapped:
            raise WorkspaceError(
                f"{tspec.name} is the company's table {self.mapped[tspec.name].source} "
                f"([tables] in {CONFIG_FILE}): cxroi reads it in place and never writes to it; "
                "load it where the company loads it, or remove the mapping"
            )
        note = progress or (lambda step, frac: None)
        note("reading", 0.0)
        before = None
        if isinstance(source, str | Path) and Path(source).is_file():
            before = fingerprint(Path(source))
        staged = adapt(tspec.name, source, adapter=adapter, questions=questions, encoding=encoding)
        if staged is None:
            staged = read_source(source, encoding=encoding)
        staged = _ing.apply_mapping(staged, mapping)
        note("validating", 0.3)
        return load(
            self.con, tspec, staged, self.settings, skip_bad=skip_bad, replace_rows=replace_rows,
            allow_dates=allow_dates, rejected_path=rejected_path, before=before, progress=note,
            redacted=redacted,
        )  # fmt: skip


class _Tables(Mapping[str, ibis.Table]):
    """The canonical tables of a workspace as a read-only mapping."""

    def __init__(self, ws: Workspace):
        self._ws = ws

    def __getitem__(self, name: str) -> ibis.Table:
        if name not in TABLES:
            raise KeyError(name)
        return self._ws.table(name)

    def __iter__(self) -> Iterator[str]:
        return iter(TABLES)

    def __len__(self) -> int:
        return len(TABLES)


def _connect(
    path: Path,
    settings: Settings,
    *,
    read_only: bool,
    purpose: str,
    on_wait: Callable[[str], None] | None = None,
) -> Any:
    """Connect to the engine; on the embedded store, wait (bounded) for another process."""
    if settings.engine is not None:
        return connect_engine(settings.engine)
    import duckdb

    file = path / STORE_FILE
    deadline = time.monotonic() + settings.lock_timeout
    told, pause = False, 0.05
    while True:
        try:
            con = ibis.duckdb.connect(str(file), read_only=read_only)
            con.raw_sql("SET TimeZone = 'UTC'")
            return con
        except duckdb.ConnectionException as e:
            # this process holds the store already, opened the other way: share that mode
            if read_only and "different configuration" in str(e):
                return _connect(path, settings, read_only=False, purpose=purpose)
            raise WorkspaceError(f"{file}: cannot open the store: {first_line(e)}") from None
        except duckdb.IOException as e:
            if "lock" not in str(e).lower():
                raise WorkspaceError(
                    f"{file}: cannot open the store ({first_line(e)}); it may be damaged or "
                    "not a DuckDB file: restore it from a backup"
                ) from None
            holder = _holder(path, str(e))
            if time.monotonic() >= deadline:
                raise WorkspaceError(
                    f"workspace busy: {holder} holds {file}; gave up after "
                    f"{settings.lock_timeout:g} s (lock_timeout in {CONFIG_FILE})"
                ) from None
            if not told and on_wait is not None:
                on_wait(f"workspace busy: {holder}; waiting up to {settings.lock_timeout:g} s")
            told = True
            time.sleep(min(pause, max(deadline - time.monotonic(), 0.0)))
            pause = min(pause * 2, 0.5)
        except duckdb.Error as e:
            raise WorkspaceError(
                f"{file}: cannot open the store ({first_line(e)}); it may be damaged: restore "
                "it from a backup"
            ) from None


def _holder(path: Path, message: str) -> str:
    """Who holds the store: the writer's note if it is alive, else the PID DuckDB names."""
    m = re.search(r"PID (\d+)", message)
    pid = int(m.group(1)) if m else None
    with contextlib.suppress(OSError, ValueError, TypeError):
        info = json.loads((path / WRITER_NOTE).read_text(encoding="utf-8"))
        if pid is None or info.get("pid") == pid:
            return f"{info['purpose']} by pid {info['pid']}"
    return f"another process (pid {pid})" if pid else "another process"
