"""Validate a staged input against its canonical table and upsert it in one transaction.

The rules (DESIGN.md, "Ingest rules"):

- every load is one transaction: a file lands whole or not at all, also if the process dies;
- re-loading the same rows is a no-op and a changed row replaces the old one (upsert by key);
- bad input gets an error naming file, line, column, value and reason (the first 20 bad rows
  and how many in all) and nothing is written; with ``skip_bad`` the good rows land and the
  rejected ones are written beside the input with a ``reason`` column.

Validation runs as one SQL pass in DuckDB over the Arrow staging table: each column is cast
with ``TRY_CAST`` and checked against :mod:`cxroi.schema`, giving one ``_ok`` flag per row;
reasons are spelled out only for the rows that fail. DuckDB is the file reader and checker
whatever the workspace engine is; the good rows then go to the engine (see :mod:`cxroi.store`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa

from cxroi.errors import IngestError, param
from cxroi.readers import LINE, MAX_FIELD, Staged
from cxroi.schema import Column, TableSpec

__all__ = [
    "DATE_REASON",
    "MAX_SHOWN",
    "IngestResult",
    "Plan",
    "apply_mapping",
    "count_implausible_dates",
    "plan",
    "quote",
]

DATE_REASON = "is outside the plausible dates"

MAX_SHOWN = 20
_SQL_TYPES = {
    "string": "VARCHAR",
    "int64": "BIGINT",
    "float64": "DOUBLE",
    "date": "DATE",
    "timestamp": "TIMESTAMP",
}
_IBIS_TYPES = {v: k for k, v in _SQL_TYPES.items()}

Progress = Callable[[str, float], None]


@dataclass(frozen=True)
class IngestResult:
    """What one ingest did.

    Attributes
    ----------
    table
        Canonical table loaded.
    rows
        Rows read from the input.
    inserted
        New keys added.
    updated
        Existing keys whose row was replaced by the input's row.
    rejected
        Bad rows skipped (only with ``skip_bad``).
    rejected_path
        Where the rejected rows were written, if any.
    """

    table: str
    rows: int
    inserted: int
    updated: int
    rejected: int = 0
    rejected_path: Path | None = None
    unchanged: int = 0
    changed_columns: dict[str, int] = field(default_factory=dict)
    kept_columns: list[str] = field(default_factory=list)
    emptied_columns: list[str] = field(default_factory=list)
    implausible_dates: int = 0
    redacted: int = 0

    def summary(self) -> str:
        """What the load did, in one line (and where columns were kept or emptied, a second).

        ``customers: 2 rows read, 0 new, 1 updated, 1 unchanged``; then
        ``updated columns: plan (1 row); kept as stored: region``.
        """
        rejected = f", {self.rejected:,} rejected" if self.rejected else ""
        if self.emptied_columns or (self.updated and not self.changed_columns):
            done = f"{self.updated:,} replaced whole"
        else:
            done = f"{self.updated:,} updated, {self.unchanged:,} unchanged"
        line = f"{self.table}: {self.rows:,} rows read, {self.inserted:,} new, {done}{rejected}"
        notes = []
        if self.changed_columns:
            cols = ", ".join(
                f"{c} ({n:,} row{'s' * (n != 1)})" for c, n in self.changed_columns.items()
            )
            notes.append(f"updated columns: {cols}")
        if self.kept_columns and self.updated:
            notes.append(f"kept as stored: {', '.join(self.kept_columns)}")
        if self.emptied_columns and self.updated:
            notes.append(f"emptied (not in the file): {', '.join(self.emptied_columns)}")
        if self.redacted:
            notes.append(f"personal data redacted in {self.redacted:,} value(s)")
        if self.implausible_dates:
            notes.append(f"{self.implausible_dates:,} date(s) outside the plausible window loaded")
        return line + ("\n" + "; ".join(notes) if notes else "")


def quote(name: str) -> str:
    """Quote an SQL identifier."""
    return '"' + name.replace('"', '""') + '"'


def _lit(s: str) -> str:
    return "'" + s.replace("'", "''") + "'"


def apply_mapping(staged: Staged, mapping: Mapping[str, str] | None) -> Staged:
    """Rename input columns ``{source: canonical}``; unknown source columns are an error."""
    if not mapping:
        return staged
    names = [c for c in staged.data.column_names if c != LINE]
    unknown = [s for s in mapping if s not in names]
    if unknown:
        raise IngestError(
            f"{staged.label}: unknown column(s) in mapping: {', '.join(unknown)}; "
            f"the input has: {', '.join(names)}"
        )
    renamed = [mapping.get(c, c) for c in staged.data.column_names]
    dupes = sorted({c for c in renamed if renamed.count(c) > 1})
    if dupes:
        raise IngestError(
            f"{staged.label}: the mapping gives more than one column the name(s) {', '.join(dupes)}"
        )
    return Staged(staged.data.rename_columns(renamed), staged.label, staged.unit, staged.path)


def _is_text(t: pa.DataType) -> bool:
    return pa.types.is_string(t) or pa.types.is_large_string(t)


def _cast_expr(col: str, target: str, source: pa.DataType, *, utc: bool = False) -> str:
    """SQL that casts staged column ``col`` to SQL type ``target``, NULL when it cannot.

    ``utc`` says that the session time zone (the workspace's) is UTC.
    """
    c = quote(col)
    if target == "VARCHAR":
        return c if _is_text(source) else f"CAST({c} AS VARCHAR)"
    if target == "TIMESTAMP":
        # The session time zone is the workspace's during ingest: naive values are read in it,
        # values with an offset keep their instant; both are stored as naive UTC.
        if pa.types.is_timestamp(source) and source.tz is None:
            if utc:
                return f"CAST({c} AS TIMESTAMP)"
            inner = f"CAST({c} AS TIMESTAMPTZ)"
        elif pa.types.is_date(source):
            if utc:
                return f"CAST({c} AS TIMESTAMP)"
            inner = f"CAST(CAST({c} AS TIMESTAMP) AS TIMESTAMPTZ)"
        elif pa.types.is_timestamp(source):
            inner = c
        else:
            inner = f"TRY_CAST({c} AS TIMESTAMPTZ)"
            if not _is_text(source):
                inner = f"TRY_CAST(CAST({c} AS VARCHAR) AS TIMESTAMPTZ)"
            elif utc:
                # Fast path: a naive ISO value (at most 19 characters, or no offset after the
                # time) casts straight to TIMESTAMP; only values with an offset go through
                # TIMESTAMPTZ, which is several times slower.
                tail = f"substr({c}, 17)"
                offset = (
                    f"right({c}, 1) IN ('Z', 'z') OR contains({tail}, '+') OR contains({tail}, '-')"
                )
                return (
                    f"CASE WHEN length({c}) <= 19 OR NOT ({offset}) THEN TRY_CAST({c} AS TIMESTAMP)"
                    f" ELSE timezone('UTC', {inner}) END"
                )
        return f"timezone('UTC', {inner})"
    if target == "DATE":
        if _is_text(source):
            return f"COALESCE(TRY_CAST({c} AS DATE), CAST(TRY_CAST({c} AS TIMESTAMP) AS DATE))"
        return f"TRY_CAST({c} AS DATE)"
    if target == "BIGINT":
        return f"CAST(TRY_CAST({c} AS DOUBLE) AS BIGINT)"
    return f"TRY_CAST({c} AS {target})"


def _checks(column: Column, sql_type: str, cast: str, raw: str) -> list[tuple[str, str]]:
    """(condition that is TRUE when the row is bad, reason) pairs for one column."""
    out: list[tuple[str, str]] = []
    if column.required:
        out.append((f"{raw} IS NULL", "is missing (required)"))
    kind = {
        "BIGINT": "a number",
        "DOUBLE": "a number",
        "DATE": "a date (YYYY-MM-DD)",
        "TIMESTAMP": "a timestamp (ISO 8601)",
    }.get(sql_type)
    if kind:
        num = f"TRY_CAST({raw} AS DOUBLE)" if sql_type in ("BIGINT", "DOUBLE") else cast
        out.append((f"{raw} IS NOT NULL AND {num} IS NULL", f"is not {kind}"))
    if sql_type in ("BIGINT", "DOUBLE"):
        num = f"TRY_CAST({raw} AS DOUBLE)"
        out.append((f"NOT isfinite({num})", "is not a finite number"))
        if column.integer:
            out.append((f"{num} <> round({num})", "is not a whole number"))
        if column.min is not None and column.max is not None:
            rng = f"{column.min:g}–{column.max:g}"
            out.append((f"{num} < {column.min} OR {num} > {column.max}", f"is outside {rng}"))
        elif column.min is not None:
            out.append((f"{num} < {column.min}", f"is below the minimum {column.min:g}"))
    if sql_type == "VARCHAR":
        out.append((f"strlen({raw}) > {MAX_FIELD}", f"is longer than {MAX_FIELD:,} bytes"))
    if column.allowed:
        allowed = ", ".join(_lit(a) for a in column.allowed)
        out.append((f"{cast} NOT IN ({allowed})", f"is not one of {', '.join(column.allowed)}"))
    return out


@dataclass
class Plan:
    """The SQL that checks and casts a staged input for one canonical table."""

    select: list[str]  # typed output columns, "expr AS name"
    checks: list[tuple[str, str, str]]  # (column, bad-condition, reason)
    columns: dict[str, str]  # output column -> SQL type
    new_columns: dict[str, str]  # extra columns the target table lacks
    key: str


def _infer_extra(con, col: str, source: pa.DataType) -> str:
    if not _is_text(source):
        t = con.execute(f"SELECT typeof({quote(col)}) FROM _stage LIMIT 1").fetchone()
        return t[0] if t else "VARCHAR"
    c = quote(col)
    row = con.execute(
        f"SELECT count({c}), count(TRY_CAST({c} AS BIGINT)), count(TRY_CAST({c} AS DOUBLE)),"
        f" count(TRY_CAST({c} AS DATE)), count(TRY_CAST({c} AS TIMESTAMP)) FROM _stage"
    ).fetchone()
    n, as_int, as_float, as_date, as_ts = row
    if n == 0:
        return "VARCHAR"
    for count, sql_type in ((as_int, "BIGINT"), (as_float, "DOUBLE"), (as_date, "DATE")):
        if count == n:
            return sql_type
    return "TIMESTAMP" if as_ts == n else "VARCHAR"


def plan(
    con,
    spec: TableSpec,
    staged: Staged,
    existing: Mapping[str, str],
    *,
    utc: bool = False,
    dates: tuple[dt.date, dt.date] | None = None,
) -> Plan:
    """Build the checks for ``staged`` (registered in ``con`` as ``_stage``).

    Parameters
    ----------
    con
        A DuckDB connection in which ``_stage`` is the staged Arrow table.
    spec
        The canonical table.
    staged
        The input.
    existing
        Columns of the target table already stored, name -> SQL type.
    utc
        The workspace time zone is UTC (enables a faster timestamp cast).
    dates
        ``(first, last)`` plausible day of any date or timestamp; a value outside is bad.
        ``None`` accepts any date.
    """
    schema = staged.data.schema
    names = [n for n in schema.names if n != LINE]
    missing = [c for c in spec.required if c not in names]
    if missing:
        raise IngestError(
            f"{staged.label}: missing required column(s) for {spec.name}: {', '.join(missing)}"
            f" (the input has: {', '.join(names)}; map columns with {param('mapping')} "
            "SOURCE=TARGET)"
        )
    declared = {c.name: c for c in spec.columns}
    select, checks, columns, new = [], [], {}, {}
    for name in names:
        source = schema.field(name).type
        if name in declared:
            column = declared[name]
            sql_type = _SQL_TYPES[column.dtype]
        elif spec.numeric_prefix and name.startswith(spec.numeric_prefix):
            column, sql_type = Column(name, "float64"), "DOUBLE"
        else:
            column = Column(name, "string")
            sql_type = existing.get(name) or _infer_extra(con, name, source)
        if name not in existing:
            new[name] = sql_type
        cast = _cast_expr(name, sql_type, source, utc=utc)
        raw = quote(name)
        select.append(f"{cast} AS {raw}")
        columns[name] = sql_type
        checks += [(name, cond, reason) for cond, reason in _checks(column, sql_type, cast, raw)]
        if dates is not None and sql_type in ("DATE", "TIMESTAMP"):
            checks.append((name, _outside(cast, dates), _date_reason(dates)))
    for earlier, later in spec.ordered:
        if earlier in columns and later in columns:
            e = _cast_expr(earlier, columns[earlier], schema.field(earlier).type, utc=utc)
            lt = _cast_expr(later, columns[later], schema.field(later).type, utc=utc)
            checks.append((later, f"{lt} < {e}", f"is before {earlier}"))
    for group in spec.one_of:
        present = [
            c
            for c in names
            if c in group or any(g.endswith("*") and c.startswith(g[:-1]) for g in group)
        ]
        shown = ", ".join(group)
        if not present:
            raise IngestError(f"{staged.label}: {spec.name} needs at least one of: {shown}")
        cond = " AND ".join(f"{quote(c)} IS NULL" for c in present)
        checks.append((present[0], cond, f"has no score: needs at least one of {shown}"))
    return Plan(select, checks, columns, new, spec.key)


def _outside(cast: str, dates: tuple[dt.date, dt.date]) -> str:
    lo, hi = dates
    return f"({cast} < DATE '{lo.isoformat()}' OR {cast} >= DATE '{hi.isoformat()}' + 1)"


def _date_reason(dates: tuple[dt.date, dt.date]) -> str:
    return f"{DATE_REASON} {dates[0].isoformat()} to {dates[1].isoformat()}"


def count_implausible_dates(con, p: Plan, dates: tuple[dt.date, dt.date]) -> int:
    """How many good rows of ``_typed`` hold a date outside ``dates`` (loaded when allowed)."""
    cols = [c for c, t in p.columns.items() if t in ("DATE", "TIMESTAMP")]
    if not cols:
        return 0
    cond = " OR ".join(_outside(quote(c), dates) for c in cols)
    return int(con.execute(f"SELECT count(*) FROM _typed WHERE _ok AND ({cond})").fetchone()[0])


def ok_expression(p: Plan) -> str:
    """SQL that is TRUE for a row that passes every check."""
    if not p.checks:
        return "TRUE"
    return "NOT (" + " OR ".join(f"COALESCE({cond}, FALSE)" for _, cond, _ in p.checks) + ")"


SHOWN_CHARS = 60
"""A bad value is quoted in messages up to this many characters."""


def _shown(col: str) -> str:
    v = f"CAST({col} AS VARCHAR)"
    return (
        f"CASE WHEN length({v}) > {SHOWN_CHARS} THEN left({v}, {SHOWN_CHARS}) || '…' ELSE {v} END"
    )


def reason_expression(p: Plan) -> str:
    """SQL naming every failed check of a row: ``column 'value' reason``."""
    parts = [
        f"CASE WHEN COALESCE({cond}, FALSE) THEN {_lit(col + ' ')} || "
        f"COALESCE('''' || {_shown(quote(col))} || '''', 'null') || {_lit(' ' + reason)}"
        " END"
        for col, cond, reason in p.checks
    ]
    return "concat_ws('; ', " + ", ".join(parts) + ")" if parts else "''"


def ibis_type(sql_type: str) -> str:
    """The Ibis type string of a DuckDB SQL type (unknown types stay strings)."""
    return _IBIS_TYPES.get(sql_type.upper(), "string")
