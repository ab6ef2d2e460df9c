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
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import ibis
import pyarrow as pa

from cxroi import ingest as _ing
from cxroi.config import CONFIG_FILE, Settings, load_settings, write_settings
from cxroi.errors import IngestError, WorkspaceError
from cxroi.readers import LINE, Staged, read_source
from cxroi.schema import TABLES, spec

__all__ = ["STORE_FILE", "Workspace"]

STORE_FILE = "cx.duckdb"


class Workspace:
    """A cxroi workspace folder and its connection to the engine.

    Use :meth:`init` to make one and :meth:`open` to open one; both return a ``Workspace``.

    Attributes
    ----------
    path
        The workspace folder.
    settings
        Settings read once from ``cxroi.toml``.
    con
        The Ibis backend (embedded DuckDB by default).
    """

    def __init__(self, path: Path, settings: Settings, con: Any):
        self.path = path
        self.settings = settings
        self.con = con

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
        path.mkdir(parents=True, exist_ok=True)
        (path / "reports").mkdir(exist_ok=True)
        settings = settings or Settings()
        ws = cls(path, settings, cls._connect(path, settings))
        ws._create_tables()
        write_settings(path, settings)  # last: a folder without it is not a workspace yet
        return ws

    @classmethod
    def open(cls, path: str | Path = ".") -> Workspace:
        """Open the workspace in folder ``path``."""
        path = Path(path)
        settings = load_settings(path)
        ws = cls(path, settings, cls._connect(path, settings))
        ws._create_tables()
        return ws

    @staticmethod
    def _connect(path: Path, settings: Settings) -> Any:
        if settings.engine is None:
            con = ibis.duckdb.connect(str(path / STORE_FILE))
        else:
            try:
                con = ibis.connect(settings.engine)
            except Exception as e:  # any backend's connection error, reported in one line
                raise WorkspaceError(f"cannot connect to engine {settings.engine!r}: {e}") from None
        if con.name == "duckdb":
            con.raw_sql("SET TimeZone = 'UTC'")
        return con

    def _create_tables(self) -> None:
        have = set(self.con.list_tables())
        for name, table in TABLES.items():
            if name not in have:
                self.con.create_table(name, schema=ibis.schema(table.dtypes()))

    def close(self) -> None:
        """Close the connection to the engine."""
        disconnect = getattr(self.con, "disconnect", None)
        if disconnect:
            disconnect()

    def __enter__(self) -> Workspace:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Workspace({str(self.path)!r}, engine={self.settings.engine or STORE_FILE!r})"

    # -- reading ------------------------------------------------------------------------------
    def table(self, name: str) -> ibis.Table:
        """Return canonical table ``name`` as an Ibis table expression."""
        spec(name)  # clear error for an unknown name
        return self.con.table(name)

    def scorecard(self, **options: Any):
        """Every CX and money metric by period and group; see :func:`cxroi.scorecard.scorecard`."""
        from cxroi.scorecard import scorecard

        return scorecard(self, **options)

    def counts(self) -> dict[str, int]:
        """Rows in every canonical table."""
        return {name: int(self.con.table(name).count().execute()) for name in TABLES}

    # -- loading ------------------------------------------------------------------------------
    def ingest(
        self,
        table: str,
        source: str | Path | Any,
        *,
        mapping: Mapping[str, str] | None = None,
        skip_bad: bool = False,
        encoding: str = "utf-8",
        adapter: str = "auto",
        questions: Mapping[str, str] | None = None,
        rejected_path: str | Path | None = None,
        progress: _ing.Progress | None = None,
    ) -> _ing.IngestResult:
        """Validate ``source`` against canonical ``table`` and upsert it in one transaction.

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
        encoding
            Text encoding of CSV/TSV input.
        adapter
            ``"auto"`` detects Qualtrics, SurveyMonkey and helpdesk exports; ``"none"`` reads
            the file as canonical columns; or name one adapter.
        questions
            Override the adapter's question detection, e.g. ``{"nps": "Q5"}``.
        progress
            Called as ``progress(step, fraction_done)`` while working.

        Returns
        -------
        IngestResult

        Raises
        ------
        IngestError
            Naming file, line, column, value and reason; nothing was written.
        """
        from cxroi.adapters import adapt

        tspec = spec(table)
        note = progress or (lambda step, frac: None)
        note("reading", 0.0)
        staged = adapt(tspec.name, source, adapter=adapter, questions=questions, encoding=encoding)
        if staged is None:
            staged = read_source(source, encoding=encoding)
        staged = _ing.apply_mapping(staged, mapping)
        note("validating", 0.3)
        if self.con.name == "duckdb":
            return self._ingest_duckdb(tspec, staged, skip_bad, rejected_path, note)
        return self._ingest_generic(tspec, staged, skip_bad, rejected_path, note)

    def _stored_columns(self, table: str) -> dict[str, str]:
        schema = self.con.table(table).schema()
        return {name: _sql_type(dtype) for name, dtype in schema.items()}

    @contextlib.contextmanager
    def _staging(self, duck: Any, staged: Staged) -> Iterator[None]:
        duck.register("_stage", staged.data)
        duck.execute(f"SET TimeZone = {_ing._lit(self.settings.timezone)}")
        try:
            yield
        finally:
            duck.execute("SET TimeZone = 'UTC'")
            duck.execute("DROP TABLE IF EXISTS _typed")
            duck.execute("DROP TABLE IF EXISTS _bad")
            duck.unregister("_stage")

    def _check(self, duck: Any, tspec, staged: Staged, skip_bad: bool, rejected_path):
        """Create ``_typed`` (cast rows with ``_ok``) and ``_bad`` (line, reason); raise or
        write the rejected file. Returns (plan, rows, n_bad, rejected path or None)."""
        utc = self.settings.timezone in ("UTC", "Etc/UTC")
        p = _ing.plan(duck, tspec, staged, self._stored_columns(tspec.name), utc=utc)
        key = _ing.quote(p.key)
        duck.execute(
            f"CREATE OR REPLACE TEMP TABLE _typed AS SELECT {', '.join(p.select)}, "
            f"{_ing.ok_expression(p)} AS _ok, {LINE} FROM _stage"
        )
        rows, n_bad, dupes = duck.execute(
            f"SELECT count(*), count(*) FILTER (WHERE NOT _ok), "
            f"count({key}) FILTER (WHERE _ok) - count(DISTINCT {key}) FILTER (WHERE _ok) "
            "FROM _typed"
        ).fetchone()
        if n_bad == 0 and dupes == 0:
            return p, rows, 0, None
        reason = _ing.reason_expression(p)
        duck.execute(
            f"CREATE OR REPLACE TEMP TABLE _bad AS SELECT s.{LINE}, {reason} AS reason "
            f"FROM _stage s JOIN (SELECT {LINE} FROM _typed WHERE NOT _ok) b USING ({LINE})"
        )
        if dupes:
            duck.execute(
                f"INSERT INTO _bad SELECT {LINE}, {_ing._lit(p.key + ' ')} || '''' || {key} || "
                f"''' is a duplicate key (first on {staged.unit} ' || first || ')' FROM ("
                f"SELECT {LINE}, {key}, min({LINE}) OVER (PARTITION BY {key}) AS first "
                f"FROM _typed WHERE _ok) WHERE {LINE} > first"
            )
            duck.execute(f"UPDATE _typed SET _ok = FALSE WHERE {LINE} IN (SELECT {LINE} FROM _bad)")
        n_bad = duck.execute("SELECT count(*) FROM _bad").fetchone()[0]
        if not skip_bad:
            shown = duck.execute(
                f"SELECT {LINE}, reason FROM _bad ORDER BY {LINE} LIMIT {_ing.MAX_SHOWN}"
            ).fetchall()
            problems = [{"line": line, "reason": r} for line, r in shown]
            head = (
                f"{staged.label}: {n_bad} bad row{'s' * (n_bad != 1)} of {rows}; nothing was "
                f"loaded into {tspec.name}"
            )
            more = f"\n  … and {n_bad - len(shown)} more" if n_bad > len(shown) else ""
            body = "\n".join(f"  {staged.unit} {line}: {r}" for line, r in shown)
            hint = "\n(--skip-bad loads the good rows and writes the bad ones beside the input)"
            raise IngestError(f"{head}\n{body}{more}{hint}", problems=problems, n_bad=n_bad)
        out = Path(rejected_path) if rejected_path else None
        if out is None and staged.path is not None:
            out = staged.path.with_name(staged.path.name + ".rejected.csv")
        if out is not None:
            raw = ", ".join(f"s.{_ing.quote(c)}" for c in staged.data.column_names if c != LINE)
            duck.execute(
                f"COPY (SELECT s.{LINE} AS {staged.unit}, {raw}, b.reason FROM _stage s "
                f"JOIN _bad b USING ({LINE}) ORDER BY s.{LINE}) TO {_ing._lit(str(out))} "
                "(HEADER, DELIMITER ',')"
            )
        return p, rows, n_bad, out

    def _ingest_duckdb(self, tspec, staged, skip_bad, rejected_path, note):
        duck = self.con.con
        with self._staging(duck, staged):
            p, rows, n_bad, out = self._check(duck, tspec, staged, skip_bad, rejected_path)
            note("writing", 0.6)
            name, key = _ing.quote(tspec.name), _ing.quote(p.key)
            cols = ", ".join(_ing.quote(c) for c in p.columns)
            good = "_typed WHERE _ok" if n_bad else "_typed"
            try:
                duck.execute("BEGIN TRANSACTION")
                # FSST for strings skips the compression analysis that dominates big loads.
                duck.execute("SET force_compression = 'fsst'")
                for col, sql_type in p.new_columns.items():
                    duck.execute(f"ALTER TABLE {name} ADD COLUMN {_ing.quote(col)} {sql_type}")
                updated = duck.execute(
                    f"DELETE FROM {name} WHERE {key} IN (SELECT {key} FROM {good})"
                ).fetchone()[0]
                duck.execute(f"INSERT INTO {name} ({cols}) SELECT {cols} FROM {good}")
                duck.execute("COMMIT")
            except BaseException:
                duck.execute("ROLLBACK")
                if out is not None:
                    out.unlink(missing_ok=True)
                raise
            finally:
                duck.execute("RESET force_compression")
        note("done", 1.0)
        return _ing.IngestResult(tspec.name, rows, rows - n_bad - updated, updated, n_bad, out)

    def _ingest_generic(self, tspec, staged, skip_bad, rejected_path, note):
        """Another engine: check in a scratch DuckDB, then upsert the good rows through Ibis."""
        import duckdb

        duck = duckdb.connect()
        with self._staging(duck, staged):
            p, rows, n_bad, out = self._check(duck, tspec, staged, skip_bad, rejected_path)
            cols = ", ".join(_ing.quote(c) for c in p.columns)
            good: pa.Table = duck.execute(
                f"SELECT {cols} FROM _typed WHERE _ok"
            ).fetch_arrow_table()
        note("writing", 0.6)
        if p.new_columns:
            raise IngestError(
                f"{staged.label}: extra column(s) {', '.join(p.new_columns)} are not in "
                f"{tspec.name} on engine {self.con.name}; add them there first"
            )
        target = self.con.table(tspec.name)
        keys = ibis.memtable(good.select([p.key]))
        updated = int(target.filter(target[p.key].isin(keys[p.key])).count().execute())
        self.con.upsert(tspec.name, ibis.memtable(good), on=p.key)
        note("done", 1.0)
        return _ing.IngestResult(tspec.name, rows, rows - n_bad - updated, updated, n_bad, out)


def _sql_type(dtype: Any) -> str:
    if dtype.is_timestamp():
        return "TIMESTAMP"
    if dtype.is_date():
        return "DATE"
    if dtype.is_integer():
        return "BIGINT"
    if dtype.is_floating() or dtype.is_decimal():
        return "DOUBLE"
    if dtype.is_boolean():
        return "BOOLEAN"
    return "VARCHAR"
