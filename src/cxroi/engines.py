"""Engines other than the embedded DuckDB store, and the company's own tables read in place.

A workspace's ``engine`` (``[workspace] engine`` in ``cxroi.toml``) is an Ibis URL. cxroi
connects through :func:`connect`, which adds three things to ``ibis.connect``:

- **one clean line** on failure, never the password (:func:`redact_url`), and the extra to
  install when the Ibis backend is missing (``pip install 'cxroi[postgres]'``);
- **PySpark URLs whose settings reach the session**: every query parameter is a Spark setting
  given to the session builder *before* the session starts, so static settings such as
  ``spark.master`` or ``spark.sql.warehouse.dir`` work (``ibis.connect`` sets them on a running
  session, which Spark 4 refuses). The path, if any, is the warehouse folder, as in Ibis::

      pyspark://local?spark.master=local[2]&spark.sql.shuffle.partitions=2
      pyspark:///data/warehouse?spark.master=spark://head:7077

  An active session (a notebook's, a Databricks cluster's) is reused as it is.
- **tables in place**: the ``[tables]`` section maps canonical tables to the company's own
  tables or views, with column renames (:class:`TableMap`)::

      [tables]
      responses = "cx.survey_responses"        # same column names

      [tables.transactions]
      source = "sales.orders"                  # [catalog.]database.table
      [tables.transactions.columns]
      transaction_id = "order_id"              # canonical = the company's column
      amount = "net_amount"

  :func:`mapped_table` reads such a table as the canonical one: an Ibis expression (rename,
  cast where the type differs, typed nulls for absent optional columns), so nothing is
  copied and every aggregation still runs in the engine. :func:`check_mapped` names what does
  not fit the schema (:mod:`cxroi.schema`): a missing table, a missing column, a wrong type.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlsplit, urlunsplit

import ibis
import ibis.expr.types as ir

from cxroi.errors import WorkspaceError, first_line
from cxroi.schema import TABLES, TableSpec

__all__ = [
    "EXTRAS",
    "TableMap",
    "check_mapped",
    "connect",
    "engine_name",
    "mapped_table",
    "parse_table_maps",
    "redact_url",
]

EXTRAS: dict[str, str] = {
    "postgres": "postgres",
    "pyspark": "spark",
    "bigquery": "bigquery",
    "snowflake": "snowflake",
    "databricks": "databricks",
}
"""URL scheme -> the ``cxroi[...]`` extra (or for untested engines, the ``ibis-framework``
extra) that installs its Ibis backend."""

_TESTED = {"postgres", "spark"}


def engine_name(url: str) -> str:
    """The Ibis backend a URL names (``postgresql://`` and ``postgres://`` are one)."""
    scheme = urlsplit(url).scheme.lower()
    return scheme.replace("postgresql", "postgres")


def redact_url(url: str) -> str:
    """``url`` with any password replaced by ``***`` (``postgres://me:***@host/db``).

    >>> redact_url("postgres://me:s3cret@db.example:5432/cx")
    'postgres://me:***@db.example:5432/cx'
    """
    parts = urlsplit(url)
    query = parts.query
    if query:  # a password given as a query parameter (libpq's ``?password=``)
        pairs = parse_qsl(query, keep_blank_values=True)
        if any(k.lower() == "password" for k, _ in pairs):
            query = "&".join(f"{k}={'***' if k.lower() == 'password' else v}" for k, v in pairs)
    if not parts.password:
        return url if query == parts.query else url.replace(parts.query, query)
    host = parts.hostname or ""
    if parts.port:
        host += f":{parts.port}"
    netloc = f"{parts.username or ''}:***@{host}"
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def _secrets(url: str) -> list[str]:
    parts = urlsplit(url)
    out = [parts.password] if parts.password else []
    out += [v for k, v in parse_qsl(parts.query) if k.lower() == "password" and v]
    return out


def redacted_message(e: BaseException, url: str) -> str:
    """The first line of ``e`` with the URL and any password in it hidden."""
    msg = first_line(e).replace(url, redact_url(url))
    for secret in _secrets(url):
        msg = msg.replace(secret, "***")
    return msg


def connect(url: str) -> Any:
    """An Ibis backend for ``url``; a :class:`WorkspaceError` of one line when it fails.

    Raises
    ------
    WorkspaceError
        The backend is not installed (naming the extra), the URL is not understood, or the
        engine refused the connection. The password is never shown.
    """
    name = engine_name(url)
    shown = redact_url(url)
    try:
        if name == "pyspark":
            return _connect_spark(url)
        con = ibis.connect(url)
        if name == "postgres":  # timestamps are UTC without a zone, as in the schema
            con.con.execute("SET TIME ZONE 'UTC'")
        return con
    except ModuleNotFoundError as e:
        extra = EXTRAS.get(name)
        hint = (
            f"pip install 'cxroi[{extra}]'"
            if extra in _TESTED
            else (f"pip install 'ibis-framework[{extra}]'" if extra else "")
        )
        raise WorkspaceError(
            f"cannot connect to engine {shown!r}: its Ibis backend is not installed "
            f"(missing module {e.name})" + (f"; {hint}" if hint else "")
        ) from None
    except Exception as e:  # any backend's connection error, reported in one line
        raise WorkspaceError(
            f"cannot connect to engine {shown!r}: {redacted_message(e, url)}"
        ) from None


def spark_settings(url: str) -> tuple[dict[str, str], str | None]:
    """The Spark settings a ``pyspark://`` URL carries, and its warehouse folder (the path).

    >>> spark_settings("pyspark://local?spark.master=local[2]&spark.ui.enabled=false")
    ({'spark.master': 'local[2]', 'spark.ui.enabled': 'false'}, None)
    """
    parts = urlsplit(url)
    conf = dict(parse_qsl(parts.query, keep_blank_values=True))
    bad = [k for k in conf if not k.startswith("spark.")]
    if bad:
        raise WorkspaceError(
            f"engine {redact_url(url)!r}: {', '.join(bad)} is not a Spark setting; every query "
            "parameter of a pyspark:// URL is one (spark.master=local[2], ...)"
        )
    return conf, (parts.path or None) if parts.path not in ("", "/") else None


def _connect_spark(url: str) -> Any:
    from pyspark.sql import SparkSession

    conf, warehouse = spark_settings(url)
    if warehouse is not None:
        conf.setdefault("spark.sql.warehouse.dir", warehouse)
    session = SparkSession.getActiveSession()
    borrowed = session is not None
    if session is None:
        builder = SparkSession.builder.appName("cxroi")
        for k, v in conf.items():
            builder = builder.config(k, v)
        session = builder.getOrCreate()
    con = ibis.pyspark.connect(session)
    con.cxroi_borrowed = borrowed  # a session this process had already is not stopped
    return con


# -- tables in place ---------------------------------------------------------------------------


@dataclass(frozen=True)
class TableMap:
    """One canonical table read from the company's own table or view.

    Parameters
    ----------
    table
        The canonical name (``responses``).
    source
        The company's table as ``[catalog.]database.table`` or a bare name.
    columns
        ``{canonical column: the company's column}`` for the columns named differently.
    """

    table: str
    source: str
    columns: dict[str, str] = field(default_factory=dict)

    @property
    def location(self) -> tuple[str, str | tuple[str, str] | None]:
        """``(table name, database)`` as Ibis takes them (database: ``db`` or ``(catalog,
        db)``)."""
        parts = self.source.split(".")
        if len(parts) == 1:
            return parts[0], None
        if len(parts) == 2:
            return parts[1], parts[0]
        return parts[-1], (".".join(parts[:-2]), parts[-2])


def parse_table_maps(
    section: Mapping[str, Any], *, file: str = "cxroi.toml"
) -> dict[str, TableMap]:
    """Read the ``[tables]`` section; a :class:`WorkspaceError` names any bad entry.

    >>> parse_table_maps({"responses": "cx.survey_responses"})["responses"].location
    ('survey_responses', 'cx')
    """
    out: dict[str, TableMap] = {}
    for name, entry in section.items():
        where = f"{file}: [tables] {name}"
        if name not in TABLES:
            raise WorkspaceError(f"{where}: not a canonical table ({', '.join(TABLES)})")
        if isinstance(entry, str):
            entry = {"source": entry}
        if not isinstance(entry, Mapping):
            raise WorkspaceError(f"{where}: give a table name or a table with source = ...")
        unknown = set(entry) - {"source", "columns"}
        if unknown:
            raise WorkspaceError(
                f"{where}: unknown key(s) {', '.join(sorted(unknown))}; known: source, columns"
            )
        source = entry.get("source")
        if not isinstance(source, str) or not source.strip():
            raise WorkspaceError(f'{where}: source must be a table name, e.g. "cx.{name}"')
        cols = entry.get("columns", {})
        if not isinstance(cols, Mapping) or not all(
            isinstance(k, str) and isinstance(v, str) and v for k, v in cols.items()
        ):
            raise WorkspaceError(
                f'{where}.columns: give canonical = "the company\'s column" pairs of names'
            )
        targets = list(cols.values())
        if dup := sorted({c for c in targets if targets.count(c) > 1}):
            raise WorkspaceError(f"{where}.columns: {', '.join(dup)} is mapped more than once")
        out[name] = TableMap(name, source.strip(), dict(cols))
    return out


def _compatible(want: str, have: Any) -> bool:
    """Whether a source column of Ibis type ``have`` can be read as canonical type ``want``."""
    if want == "string":
        return have.is_string() or have.is_integer()
    if want == "int64":
        return have.is_integer() or (have.is_decimal() and (have.scale or 0) == 0)
    if want == "float64":
        return have.is_numeric() and not have.is_boolean()
    if want == "timestamp":
        return have.is_timestamp() or have.is_date()
    if want == "date":
        return have.is_date() or have.is_timestamp()
    return True


def _needs_cast(want: str, have: Any) -> bool:
    """Whether a compatible column must be cast to read as canonical type ``want``."""
    if want == "timestamp":
        return not have.is_timestamp() or have.timezone is not None
    return have.copy(nullable=True) != ibis.dtype(want)


def _source(con: Any, tmap: TableMap) -> ir.Table:
    name, database = tmap.location
    return con.table(name, database=database) if database is not None else con.table(name)


def check_mapped(con: Any, tmap: TableMap, tspec: TableSpec | None = None) -> list[str]:
    """What keeps the company's table from being read as the canonical one, one line each.

    Lines name the table (``responses: table cx.survey_responses not found``), a column
    (``responses: column nps (mapped to likelihood_to_recommend) is not in
    cx.survey_responses``) or a type (``responses: column nps is string in
    cx.survey_responses; expected int64``). An empty list means it fits.
    """
    tspec = tspec or TABLES[tmap.table]
    try:
        src = _source(con, tmap)
    except Exception as e:  # noqa: BLE001 - any engine's "no such table"
        return [f"{tmap.table}: table {tmap.source} not found ({first_line(e)})"]
    schema = src.schema()
    problems = []
    for canon, col in tmap.columns.items():
        if col not in schema:
            problems.append(
                f"{tmap.table}: column {canon} (mapped to {col}) is not in {tmap.source}"
            )
    for c in tspec.columns:
        col = tmap.columns.get(c.name, c.name)
        if col not in schema:
            if c.required and c.name not in tmap.columns:  # a mapped one is named above
                problems.append(
                    f"{tmap.table}: required column {c.name} is not in {tmap.source} "
                    f"(map it under [tables.{tmap.table}.columns])"
                )
            continue
        if not _compatible(c.dtype, schema[col]):
            problems.append(
                f"{tmap.table}: column {c.name}"
                + (f" ({col})" if col != c.name else "")
                + f" is {schema[col]} in {tmap.source}; expected {c.dtype}"
            )
    return problems


def mapped_table(con: Any, tmap: TableMap) -> ir.Table:
    """The company's table as canonical table ``tmap.table``: an Ibis expression, no copy.

    Mapped columns are renamed, canonical columns of another compatible type are cast (an
    integer key to string, a decimal amount to float64, ...), absent optional columns become
    typed nulls, and every other column is kept as an extra column.

    Raises
    ------
    WorkspaceError
        One line per problem of :func:`check_mapped` (the first three).
    """
    tspec = TABLES[tmap.table]
    problems = check_mapped(con, tmap, tspec)
    if problems:
        more = f" (and {len(problems) - 3} more; run cxroi tables)" if len(problems) > 3 else ""
        raise WorkspaceError("; ".join(problems[:3]) + more)
    src = _source(con, tmap)
    renames = {canon: col for canon, col in tmap.columns.items() if canon != col}
    # a source column that shares a canonical name but is not the one mapped to it gives way
    clash = [c for c in renames if c in src.columns]
    if clash:
        src = src.drop(*clash)
    t = src.rename(renames) if renames else src
    schema = t.schema()
    cols: dict[str, ir.Value] = {}
    for c in tspec.columns:
        if c.name in schema:
            v = t[c.name]
            cols[c.name] = v.cast(c.dtype) if _needs_cast(c.dtype, schema[c.name]) else v
        else:
            cols[c.name] = ibis.null(c.dtype)
    extra = [c for c in t.columns if c not in cols]
    return t.select(**cols, **{c: t[c] for c in extra})
