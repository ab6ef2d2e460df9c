"""Write a checked input into the store: one transaction, nothing lost, nothing half-written.

:func:`load` takes a staged input (:mod:`cxroi.readers`), checks every row in one DuckDB pass
(:mod:`cxroi.ingest`) and writes the good rows to the engine:

- **upsert by key, column by column**: a row whose key is new is inserted; a row whose key is
  stored updates only the columns the input carries, and only where a value differs; stored
  columns the input lacks keep their values. The result counts new, updated and unchanged
  rows and names the columns that changed.
- ``replace_rows=True`` replaces whole rows instead: columns the input lacks become empty for
  the rows it carries (the result says which).
- the input file is fingerprinted (size, modification time) before it is read and again
  before the commit: a file that changes while it is read (still being written) is refused
  and nothing is loaded.

On the embedded DuckDB store all of it is one transaction, so a load lands whole or not at all,
also when the process is killed. Other engines get the checked rows through Ibis ``upsert``:
one ``MERGE`` statement in one transaction, so there too a load lands whole or not at all
(tested on PostgreSQL with ``kill -9`` during the ``MERGE``).
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import ibis
import pyarrow as pa

from cxroi import ingest as _ing
from cxroi.config import Settings
from cxroi.errors import IngestError, first_line, param
from cxroi.privacy import RAW_SUFFIX, Redactor, is_free_text
from cxroi.readers import LINE, Staged
from cxroi.schema import TableSpec

__all__ = ["fingerprint", "load"]


def fingerprint(path: Path | None) -> tuple[int, int] | None:
    """``(size, mtime_ns)`` of a file, to tell whether it changed; ``None`` for a frame."""
    if path is None:
        return None
    st = os.stat(path)
    return st.st_size, st.st_mtime_ns


def _check_unchanged(staged: Staged, before: tuple[int, int] | None) -> None:
    if before is not None and staged.path is not None and fingerprint(staged.path) != before:
        raise IngestError(
            f"{staged.label}: the file changed while it was being read (is it still being "
            "written?); nothing was loaded — load it again once it is complete"
        )


@contextlib.contextmanager
def _staging(duck: Any, staged: Staged, timezone: str) -> Iterator[None]:
    duck.register("_stage", staged.data)
    duck.execute(f"SET TimeZone = {_ing._lit(timezone)}")
    try:
        yield
    finally:
        duck.execute("SET TimeZone = 'UTC'")
        duck.execute("DROP VIEW IF EXISTS _good")
        for t in ("_typed", "_bad", "_diff"):
            duck.execute(f"DROP TABLE IF EXISTS {t}")
        duck.unregister("_stage")


def _date_window(settings: Settings) -> tuple[dt.date, dt.date]:
    today = dt.date.today()
    return settings.date_min, today.replace(year=today.year + settings.date_years_ahead)


def _check(duck, tspec: TableSpec, staged: Staged, stored: dict, settings: Settings, options):
    """Create ``_typed`` (cast rows with ``_ok``) and ``_bad`` (line, reason); raise or write
    the rejected file. Returns (plan, rows, n_bad, rejected path or None, n_odd_dates)."""
    utc = settings.timezone in ("UTC", "Etc/UTC")
    dates = None if options["allow_dates"] else _date_window(settings)
    p = _ing.plan(duck, tspec, staged, stored, utc=utc, dates=dates)
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
    n_odd = 0
    if options["allow_dates"]:
        n_odd = _ing.count_implausible_dates(duck, p, _date_window(settings))
    if n_bad == 0 and dupes == 0:
        return p, rows, 0, None, n_odd
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
    if not options["skip_bad"]:
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
        hint = (
            f"\n({param('skip_bad', True)} loads the good rows and writes the bad ones "
            "beside the input)"
        )
        if any(_ing.DATE_REASON in r for _, r in shown):
            hint += f"\n({param('allow_dates', True)} loads dates outside the plausible window)"
        raise IngestError(f"{head}\n{body}{more}{hint}", problems=problems, n_bad=n_bad)
    out = Path(options["rejected_path"]) if options["rejected_path"] else None
    if out is None and staged.path is not None:
        out = staged.path.with_name(staged.path.name + ".rejected.csv")
    if out is not None:
        raw = ", ".join(f"s.{_ing.quote(c)}" for c in staged.data.column_names if c != LINE)
        duck.execute(
            f"COPY (SELECT s.{LINE} AS {staged.unit}, {raw}, b.reason FROM _stage s "
            f"JOIN _bad b USING ({LINE}) ORDER BY s.{LINE}) TO {_ing._lit(str(out))} "
            "(HEADER, DELIMITER ',')"
        )
    return p, rows, n_bad, out, n_odd


def _holding(duck, name: str, key: str, columns: list[str]) -> list[str]:
    """Those of ``columns`` that hold a value in a stored row whose key ``_good`` carries."""
    if not columns:
        return []
    counts = duck.execute(
        "SELECT "
        + ", ".join(f"count({_ing.quote(c)})" for c in columns)
        + f" FROM {name} WHERE {key} IN (SELECT {key} FROM _good)"
    ).fetchone()
    return [c for c, n in zip(columns, counts, strict=True) if n]


def _write_duckdb(duck, tspec: TableSpec, p, n_bad: int, replace_rows: bool, kept, on_commit):
    """Upsert ``_typed``'s good rows into the table.

    Returns (matched, updated, changed columns, kept columns that hold values)."""
    name, key = _ing.quote(tspec.name), _ing.quote(p.key)
    cols = [c for c in p.columns]
    q = {c: _ing.quote(c) for c in cols}
    duck.execute(
        f"CREATE OR REPLACE TEMP VIEW _good AS SELECT {', '.join(q.values())} FROM _typed"
        + (" WHERE _ok" if n_bad else "")
    )
    for col, sql_type in p.new_columns.items():
        duck.execute(f"ALTER TABLE {name} ADD COLUMN {q[col]} {sql_type}")
    matched = duck.execute(
        f"SELECT count(*) FROM _good g WHERE g.{key} IN (SELECT {key} FROM {name})"
    ).fetchone()[0]
    values = [c for c in cols if c != p.key]
    changes: dict[str, int] = {}
    kept = _holding(duck, name, key, [c for c in kept if not c.endswith(RAW_SUFFIX)])
    if replace_rows:
        duck.execute(f"DELETE FROM {name} WHERE {key} IN (SELECT {key} FROM _good)")
        duck.execute(
            f"INSERT INTO {name} ({', '.join(q.values())}) SELECT {', '.join(q.values())} "
            "FROM _good"
        )
        updated = matched
    else:
        if matched and values:
            differs = [f"g.{q[c]} IS DISTINCT FROM t.{q[c]}" for c in values]
            duck.execute(
                "CREATE OR REPLACE TEMP TABLE _diff AS SELECT g.*, "
                + ", ".join(f"({d}) AS _d{i}" for i, d in enumerate(differs))
                + f" FROM _good g JOIN {name} t ON g.{key} = t.{key} WHERE "
                + " OR ".join(differs)
            )
            counts = duck.execute(
                "SELECT count(*), "
                + ", ".join(f"count(*) FILTER (WHERE _d{i})" for i in range(len(values)))
                + " FROM _diff"
            ).fetchone()
            updated = counts[0]
            changes = {c: n for c, n in zip(values, counts[1:], strict=True) if n}
            if updated:
                sets = ", ".join(
                    f"{q[c]} = CASE WHEN d._d{i} THEN d.{q[c]} ELSE t.{q[c]} END"
                    for i, c in enumerate(values)
                    if c in changes
                )
                duck.execute(f"UPDATE {name} AS t SET {sets} FROM _diff d WHERE t.{key} = d.{key}")
        else:
            updated = 0
        new_only = "" if not matched else f" WHERE g.{key} NOT IN (SELECT {key} FROM {name})"
        duck.execute(
            f"INSERT INTO {name} ({', '.join(q.values())}) SELECT {', '.join(q.values())} "
            f"FROM _good g{new_only}"
        )
    on_commit()
    return matched, updated, changes, kept


def load(
    con: Any,
    tspec: TableSpec,
    staged: Staged,
    settings: Settings,
    *,
    skip_bad: bool = False,
    replace_rows: bool = False,
    allow_dates: bool = False,
    rejected_path: str | Path | None = None,
    before: tuple[int, int] | None = None,
    progress: _ing.Progress | None = None,
    redacted: bool = False,
) -> _ing.IngestResult:
    """Check ``staged`` against ``tspec`` and upsert it into the engine behind ``con``.

    See the module docstring for the semantics; :meth:`cxroi.store.Workspace.ingest` documents
    the parameters.
    """
    note = progress or (lambda step, frac: None)
    before = before or fingerprint(staged.path)
    n_redacted = 0
    if not redacted:
        staged, n_redacted = redact_free_text(staged, tspec.name, settings)
    options = {"skip_bad": skip_bad, "allow_dates": allow_dates, "rejected_path": rejected_path}
    stored = _stored_columns(con, tspec.name)
    kept = [c for c in stored if c not in staged.data.column_names]
    if not _is_embedded(con):
        result = _load_generic(con, tspec, staged, settings, options, stored, kept, before, note)
        return dataclasses.replace(result, redacted=n_redacted)
    import duckdb

    duck = con.con
    with _staging(duck, staged, settings.timezone):
        try:
            p, rows, n_bad, out, n_odd = _check(duck, tspec, staged, stored, settings, options)
        except duckdb.Error as e:
            raise IngestError(f"{staged.label}: cannot check the rows: {first_line(e)}") from None
        note("writing", 0.6)
        try:
            duck.execute("BEGIN TRANSACTION")
            # FSST for strings skips the compression analysis that dominates big loads.
            duck.execute("SET force_compression = 'fsst'")
            matched, updated, changes, kept = _write_duckdb(
                duck, tspec, p, n_bad, replace_rows, kept, lambda: _check_unchanged(staged, before)
            )
            duck.execute("COMMIT")
        except BaseException as e:
            with contextlib.suppress(Exception):
                duck.execute("ROLLBACK")
            if out is not None:
                out.unlink(missing_ok=True)
            if isinstance(e, duckdb.Error):
                raise IngestError(
                    f"{staged.label}: the store refused the write ({first_line(e)}); nothing "
                    f"was loaded into {tspec.name}"
                ) from None
            raise
        finally:
            duck.execute("RESET force_compression")
    note("done", 1.0)
    return _ing.IngestResult(
        tspec.name, rows, rows - n_bad - matched, updated, n_bad, out,
        unchanged=matched - updated, changed_columns=changes,
        kept_columns=[] if replace_rows else kept, emptied_columns=kept if replace_rows else [],
        implausible_dates=n_odd, redacted=n_redacted,
    )  # fmt: skip


def _load_generic(con, tspec, staged, settings, options, stored, kept, before, note):
    """Another engine: check in a scratch DuckDB, then upsert the good rows through Ibis."""
    import duckdb

    duck = duckdb.connect()
    with _staging(duck, staged, settings.timezone):
        p, rows, n_bad, out, n_odd = _check(duck, tspec, staged, stored, settings, options)
        cols = ", ".join(_ing.quote(c) for c in p.columns)
        good: pa.Table = duck.execute(f"SELECT {cols} FROM _typed WHERE _ok").fetch_arrow_table()
    note("writing", 0.6)
    if p.new_columns:
        _add_columns(con, tspec.name, p.new_columns, staged.label)
    target = con.table(tspec.name)
    keys = ibis.memtable(good.select([p.key]))
    matched = int(target.filter(target[p.key].isin(keys[p.key])).count().execute())
    _check_unchanged(staged, before)
    try:  # one MERGE statement: the engine applies all of it or none
        con.upsert(tspec.name, ibis.memtable(good), on=p.key)
    except Exception as e:  # noqa: BLE001 - any engine's refusal, in one line
        raise IngestError(
            f"{staged.label}: engine {con.name} refused the write ({first_line(e)}); nothing "
            f"was loaded into {tspec.name}"
        ) from None
    note("done", 1.0)
    return _ing.IngestResult(
        tspec.name, rows, rows - n_bad - matched, matched, n_bad, out, kept_columns=kept,
        implausible_dates=n_odd,
    )  # fmt: skip


def _add_columns(con: Any, table: str, columns: dict[str, str], label: str) -> None:
    """Add the input's extra columns (empty) to ``table`` on a server engine, in its SQL.

    Unlike the rows, which land in one MERGE, an added column stays if the load then fails:
    it is empty and nullable, and the next load fills it."""
    import sqlglot as sg

    dialect = con.compiler.dialect
    for col, sql_type in columns.items():
        typ = sg.exp.DataType.build(sql_type, dialect="duckdb").sql(dialect)
        q = (
            f"ALTER TABLE {sg.to_identifier(table, quoted=True).sql(dialect)} ADD COLUMN "
            f"{sg.to_identifier(col, quoted=True).sql(dialect)} {typ}"
        )
        try:
            cur = con.raw_sql(q)
        except Exception as e:  # noqa: BLE001 - any engine's refusal, in one line
            raise IngestError(
                f"{label}: cannot add column {col} to {table} on engine {con.name} "
                f"({first_line(e)}); add it there first"
            ) from None
        close = getattr(cur, "close", None)
        if close is not None:
            close()


def redact_free_text(staged: Staged, table: str, settings: Settings) -> tuple[Staged, int]:
    """Redact personal data in the free-text columns of ``staged`` before anything is stored.

    With ``[privacy] keep_raw = true`` the raw text goes to ``COLUMN__raw`` beside it.
    Returns the new staged input and how many values were changed.
    """
    redactor = Redactor.from_config(settings.section("privacy"))
    data = staged.data
    changed = 0
    for name in list(data.column_names):
        if name == LINE or not is_free_text(table, name):
            continue
        col = data.column(name)
        if not (pa.types.is_string(col.type) or pa.types.is_large_string(col.type)):
            continue
        raw = col.to_pylist()
        clean = redactor.many(raw)
        changed += sum(a != b for a, b in zip(raw, clean, strict=True))
        data = data.set_column(data.column_names.index(name), name, pa.array(clean, pa.string()))
        if redactor.keep_raw:
            data = data.append_column(name + RAW_SUFFIX, pa.array(raw, pa.string()))
    return Staged(data, staged.label, staged.unit, staged.path), changed


def _is_embedded(con: Any) -> bool:
    """Whether the engine is DuckDB, written to in one SQL transaction here."""
    return con.name == "duckdb"


def _stored_columns(con: Any, table: str) -> dict[str, str]:
    schema = con.table(table).schema()
    return {name: _sql_type(dtype) for name, dtype in schema.items()}


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
