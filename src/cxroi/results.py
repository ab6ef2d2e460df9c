"""The result contract: what every analysis returns and every front-end renders.

An analysis (``cxroi.analyses``) returns one :class:`Result`: named tables of estimates plus
what a reader needs to trust them (method, adjustment set, analysis window, warnings and
plain-language readings). The CLI prints it as a table, CSV or JSON; the report, the API and
Jupyter (``_repr_html_``) render the same object. No front-end knows an analysis's keys.

Estimate tables share one vocabulary of columns:

``estimate`` (or ``value`` for a descriptive metric)
    The number.
``ci_low``, ``ci_high``, ``level``
    Its interval and the interval's level (0.95 unless asked otherwise).
``n``
    The observations it rests on.
``flag``
    ``;``-separated flags. :data:`SMALL_N` marks an estimate below the workspace's
    ``min_n``. A row without an interval names the reason here (:data:`NO_INTERVAL`
    reasons such as ``exact`` for a census total).

Output safety lives here, once, for every front-end: CSV cells that a spreadsheet would run
as a formula are neutralised as OWASP recommends (a leading ``'``), CR and LF inside a cell
are quoted (RFC 4180 line ends), and HTML is escaped at render time.

Examples
--------
>>> import pandas as pd
>>> r = Result("demo", "A demo", [Table("main", "Main", pd.DataFrame({"estimate": [1.0],
...     "ci_low": [0.5], "ci_high": [1.5], "level": [0.95], "n": [40], "flag": [""]}))])
>>> float(Result.from_json(r.to_json()).table("main").estimate.iloc[0])
1.0
"""

from __future__ import annotations

import csv
import datetime as dt
import html
import io
import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

__all__ = [
    "ESTIMATE_COLUMNS",
    "NO_INTERVAL",
    "SMALL_N",
    "Result",
    "Table",
    "add_flag",
    "csv_safe",
    "estimate_frame",
    "format_cell",
    "jsonable",
    "small_n_flag",
]

SCHEMA_VERSION = 1

SMALL_N = "small-n"
"""The one flag for an estimate from fewer observations than the workspace's ``min_n``."""

NO_INTERVAL = {
    "exact": "a count or total of every row: nothing is sampled",
    "no-data": "nothing to estimate from",
    "not-estimable": "too few observations or no variation for an interval",
    "point-only": "the method gives no interval for this quantity",
}
"""Flags that state why an estimate row has no interval."""

ESTIMATE_COLUMNS = ("ci_low", "ci_high", "level", "n", "flag")
"""Columns every estimate table carries (besides ``estimate`` or ``value``)."""

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\n")


def small_n_flag(n: Any, min_n: int) -> Any:
    """``"small-n"`` where ``n < min_n``, else ``""``; vectorised over arrays and Series."""
    if np.ndim(n) == 0:
        return SMALL_N if n is not None and not pd.isna(n) and n < min_n else ""
    arr = np.asarray(n, dtype=float)
    return np.where(np.nan_to_num(arr, nan=np.inf) < min_n, SMALL_N, "")


def add_flag(existing: Any, flag: str) -> str:
    """Join ``flag`` onto a ``;``-separated flag string, once."""
    parts = [p for p in str(existing or "").split(";") if p]
    if flag and flag not in parts:
        parts.append(flag)
    return ";".join(parts)


# -- tables -------------------------------------------------------------------------------------


@dataclass
class Table:
    """One named table of a result.

    Parameters
    ----------
    name
        Key of the table within its result (``estimates``, ``survival``, ...).
    title
        Heading a reader sees.
    frame
        The rows: every column is rendered to CSV and JSON.
    kind
        ``estimates`` (rows carry :data:`ESTIMATE_COLUMNS`) or ``data`` (a listing, such as
        the tables of a workspace or per-row scores).
    method
        How the estimates were made, when one method serves the whole table.
    view
        The columns the narrow terminal table shows (default: all).
    show
        Whether the terminal table view prints the table unasked (a long listing beside its
        summary may not be); JSON and CSV always carry it.
    """

    name: str
    title: str
    frame: pd.DataFrame
    kind: str = "estimates"
    method: str | None = None
    view: list[str] | None = None
    show: bool = True

    def __post_init__(self) -> None:
        if self.kind not in ("estimates", "data"):
            raise ValueError(f"table kind must be estimates or data, not {self.kind!r}")

    @property
    def shown(self) -> pd.DataFrame:
        """The frame as the terminal table shows it (``view`` columns only)."""
        if not self.view:
            return self.frame
        return self.frame[[c for c in self.view if c in self.frame.columns]]

    def records(self) -> list[dict[str, Any]]:
        """Rows as JSON-ready dicts (missing values become ``None``)."""
        return [{k: jsonable(v) for k, v in row.items()} for row in _rows(self.frame)]

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "title": self.title,
            "kind": self.kind,
            "method": self.method,
            "view": self.view,
            "show": self.show,
            "columns": [
                {"name": str(c), "dtype": str(self.frame[c].dtype)} for c in self.frame.columns
            ],
            "rows": self.records(),
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Table:
        cols = [c["name"] for c in d["columns"]]
        frame = pd.DataFrame.from_records(d["rows"], columns=cols)
        for c in d["columns"]:
            frame[c["name"]] = _restore(frame[c["name"]], c["dtype"])
        return cls(
            d["name"], d["title"], frame, d["kind"], d.get("method"), d.get("view"),
            bool(d.get("show", True)),
        )  # fmt: skip

    def to_csv(self) -> str:
        """The whole frame as formula-safe CSV (RFC 4180: CRLF line ends, CR/LF quoted)."""
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\r\n")
        w.writerow([csv_safe(c) for c in self.frame.columns])
        for row in self.frame.itertuples(index=False):
            w.writerow([_csv_cell(v) for v in row])
        return buf.getvalue()

    def to_html(self) -> str:
        """An HTML table; every cell and heading is escaped."""
        head = "".join(f"<th>{html.escape(str(c))}</th>" for c in self.shown.columns)
        body = "".join(
            "<tr>" + "".join(f"<td>{html.escape(format_cell(v))}</td>" for v in row) + "</tr>"
            for row in self.shown.itertuples(index=False)
        )
        method = f"<p><em>{html.escape(self.method)}</em></p>" if self.method else ""
        return (
            f"<h4>{html.escape(self.title)}</h4>{method}"
            f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
        )


# -- the result ---------------------------------------------------------------------------------


@dataclass
class Result:
    """What an analysis returns: tables of estimates and what a reader needs to trust them.

    Parameters
    ----------
    analysis
        The analysis's name (``value``, ``lever``, ``scorecard``, ...).
    title
        One-line heading.
    tables
        The tables, most important first; CSV output is the first unless one is named.
    method
        How the estimates were made.
    adjustment
        Columns adjusted for (confounders), empty when nothing is adjusted.
    window
        The analysis window: ``as_of``, ``since``, ``until`` and similar, as dates or strings.
    params
        Scalar facts of the analysis (settings used, counts, fitted parameters).
    warnings
        What an analyst should know before using the numbers.
    readings
        Plain-language sentences that read the main estimates.
    """

    analysis: str
    title: str
    tables: list[Table] = field(default_factory=list)
    method: str | None = None
    adjustment: list[str] = field(default_factory=list)
    window: dict[str, Any] = field(default_factory=dict)
    params: dict[str, Any] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    readings: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        names = [t.name for t in self.tables]
        if len(set(names)) != len(names):
            raise ValueError(f"result {self.analysis!r} has duplicate table names: {names}")

    # access
    @property
    def names(self) -> list[str]:
        """The tables' names, in order."""
        return [t.name for t in self.tables]

    def get(self, name: str | None = None) -> Table:
        """The table called ``name`` (default: the first)."""
        if not self.tables:
            raise KeyError(f"result {self.analysis!r} has no tables")
        if name is None:
            return self.tables[0]
        for t in self.tables:
            if t.name == name:
                return t
        raise KeyError(f"result {self.analysis!r} has no table {name!r}; it has {self.names}")

    def table(self, name: str | None = None) -> pd.DataFrame:
        """The frame of table ``name`` (default: the first)."""
        return self.get(name).frame

    def __getitem__(self, name: str) -> pd.DataFrame:
        return self.table(name)

    def __contains__(self, name: object) -> bool:
        return name in self.names

    # forms
    def to_dict(self) -> dict[str, Any]:
        """Everything, as plain JSON-ready values."""
        return {
            "schema_version": SCHEMA_VERSION,
            "analysis": self.analysis,
            "title": self.title,
            "method": self.method,
            "adjustment": list(self.adjustment),
            "window": {k: jsonable(v) for k, v in self.window.items()},
            "params": {k: jsonable(v) for k, v in self.params.items()},
            "warnings": list(self.warnings),
            "readings": list(self.readings),
            "tables": [t.to_dict() for t in self.tables],
        }

    def to_json(self, *, indent: int | None = 2) -> str:
        """:meth:`to_dict` as JSON (non-finite numbers become ``null``)."""
        return json.dumps(self.to_dict(), indent=indent, ensure_ascii=False, allow_nan=False)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Result:
        """Rebuild a result from :meth:`to_dict` output."""
        return cls(
            analysis=d["analysis"],
            title=d["title"],
            tables=[Table.from_dict(t) for t in d["tables"]],
            method=d.get("method"),
            adjustment=list(d.get("adjustment", [])),
            window=dict(d.get("window", {})),
            params=dict(d.get("params", {})),
            warnings=list(d.get("warnings", [])),
            readings=list(d.get("readings", [])),
        )

    @classmethod
    def from_json(cls, text: str) -> Result:
        return cls.from_dict(json.loads(text))

    def to_csv(self, table: str | None = None) -> str:
        """One table (default: the first) as formula-safe CSV."""
        return self.get(table).to_csv()

    def to_html(self) -> str:
        """The whole result as an HTML fragment; every string from the data is escaped."""
        e = html.escape
        parts = [f"<div class='cxroi-result'><h3>{e(self.title)}</h3>"]
        facts = {"method": self.method, "adjusted for": ", ".join(self.adjustment) or None}
        facts.update({k: format_cell(v) for k, v in self.window.items() if v is not None})
        items = "".join(f"<li>{e(str(k))}: {e(str(v))}</li>" for k, v in facts.items() if v)
        if items:
            parts.append(f"<ul>{items}</ul>")
        parts += [f"<p>{e(r)}</p>" for r in self.readings]
        parts += [f"<p><strong>warning:</strong> {e(w)}</p>" for w in self.warnings]
        parts += [t.to_html() for t in self.tables]
        parts.append("</div>")
        return "".join(parts)

    def _repr_html_(self) -> str:  # Jupyter
        return self.to_html()

    def __repr__(self) -> str:
        shapes = ", ".join(f"{t.name}: {len(t.frame)} rows" for t in self.tables)
        return f"Result({self.analysis!r}, {self.title!r}, [{shapes}])"

    # checks
    def problems(self) -> list[str]:
        """Where the result breaks its contract (empty when it keeps it).

        Every estimate table has ``n``, ``ci_low``, ``ci_high``, ``level`` and ``flag``, and
        every row without an interval states a reason in ``flag``.
        """
        out = []
        for t in self.tables:
            if t.kind != "estimates":
                continue
            f = t.frame
            if "estimate" not in f.columns and "value" not in f.columns:
                out.append(f"{t.name}: no estimate or value column")
            missing = [c for c in ESTIMATE_COLUMNS if c not in f.columns]
            if missing:
                out.append(f"{t.name}: lacks {', '.join(missing)}")
                continue
            no_ci = f["ci_low"].isna() | f["ci_high"].isna()
            flags = f["flag"].fillna("").astype(str)
            reasons = flags.map(lambda s: any(x in NO_INTERVAL for x in s.split(";")))
            bad = f.index[no_ci & ~reasons]
            if len(bad):
                out.append(f"{t.name}: {len(bad)} row(s) without an interval or a reason")
        return out


def estimate_frame(
    rows: Iterable[Mapping[str, Any]] | pd.DataFrame,
    *,
    level: float = 0.95,
    min_n: int | None = None,
    no_interval: str = "not-estimable",
) -> pd.DataFrame:
    """Complete a frame of estimates to the contract's columns.

    Adds ``level`` (when absent), ``flag`` (``small-n`` below ``min_n``; ``no_interval`` where
    the interval is missing) and orders the standard columns after the others.
    """
    f = pd.DataFrame(rows).copy() if not isinstance(rows, pd.DataFrame) else rows.copy()
    for c in ("ci_low", "ci_high"):
        if c not in f.columns:
            f[c] = np.nan
    if "level" not in f.columns:
        f["level"] = level
    if "flag" not in f.columns:
        f["flag"] = ""
    f["flag"] = f["flag"].fillna("").astype(str)
    if min_n is not None and "n" in f.columns:
        small = pd.Series(small_n_flag(f["n"].to_numpy(), min_n), index=f.index)
        f["flag"] = [add_flag(a, b) for a, b in zip(f["flag"], small, strict=True)]
    no_ci = f["ci_low"].isna() | f["ci_high"].isna()
    f.loc[no_ci, "flag"] = [
        a if any(x in NO_INTERVAL for x in a.split(";")) else add_flag(a, no_interval)
        for a in f.loc[no_ci, "flag"]
    ]
    f.loc[no_ci, "level"] = np.nan
    std = [c for c in ("estimate", "value", *ESTIMATE_COLUMNS) if c in f.columns]
    lead = [c for c in f.columns if c not in std]
    return f[lead + std]


# -- cells --------------------------------------------------------------------------------------


def jsonable(v: Any) -> Any:
    """A plain JSON value: dates as ISO strings, NaN and NA as ``None``, numpy as Python."""
    if v is None:
        return None
    if isinstance(v, bool | np.bool_):
        return bool(v)
    if isinstance(v, np.generic):
        return jsonable(v.item())
    if isinstance(v, float):
        return v if math.isfinite(v) else None
    if isinstance(v, int | str):
        return v
    if isinstance(v, pd.Timestamp | dt.datetime | dt.date):
        return None if pd.isna(v) else v.isoformat()
    if isinstance(v, Mapping):
        return {str(k): jsonable(x) for k, x in v.items()}
    if isinstance(v, list | tuple | set | np.ndarray):
        return [jsonable(x) for x in v]
    if v is pd.NaT or v is pd.NA:
        return None
    try:
        if pd.isna(v):
            return None
    except (TypeError, ValueError):
        pass
    return str(v)


def _rows(frame: pd.DataFrame) -> Iterable[dict[str, Any]]:
    cols = [str(c) for c in frame.columns]
    for row in frame.itertuples(index=False):
        yield dict(zip(cols, row, strict=True))


def _restore(col: pd.Series, dtype: str) -> pd.Series:
    try:
        if dtype.startswith("datetime64"):
            return pd.to_datetime(col).astype(dtype) if "tz" not in dtype else pd.to_datetime(col)
        if dtype in ("float64", "float32"):
            return col.astype("float64")
        if dtype in ("int64", "int32", "Int64"):
            return col.astype("Int64" if col.isna().any() else "int64")
        if dtype == "bool":
            return col.astype(bool)
    except (TypeError, ValueError):
        return col
    return col


def csv_safe(v: Any) -> str:
    """A string that a spreadsheet shows as text, never runs as a formula (OWASP)."""
    s = str(v)
    return "'" + s if s.startswith(_FORMULA_START) else s


def _csv_cell(v: Any) -> Any:
    if v is None or (isinstance(v, float) and math.isnan(v)) or v is pd.NA or v is pd.NaT:
        return ""
    if isinstance(v, bool | np.bool_):
        return "true" if v else "false"
    if isinstance(v, int | float | np.integer | np.floating):
        return repr(float(v)) if isinstance(v, float | np.floating) else str(int(v))
    if isinstance(v, pd.Timestamp | dt.datetime | dt.date):
        return v.isoformat()
    return csv_safe(v)


def format_cell(v: Any) -> str:
    """How a cell reads in a table: thousands separators, 2 decimals or 3 significant."""
    if v is None or v is pd.NA or v is pd.NaT:
        return ""
    if isinstance(v, float | np.floating):
        v = float(v)
        if math.isnan(v):
            return ""
        if math.isinf(v):
            return "∞" if v > 0 else "-∞"
        return f"{v:,.2f}" if abs(v) >= 1 or v == 0 else f"{v:.3g}"
    if isinstance(v, bool | np.bool_):
        return "yes" if v else "no"
    if isinstance(v, int | np.integer):
        return f"{int(v):,}"
    if isinstance(v, pd.Timestamp):
        return v.isoformat(sep=" ") if v.time() != dt.time(0) else v.date().isoformat()
    if isinstance(v, dt.date):
        return v.isoformat()
    return str(v)
