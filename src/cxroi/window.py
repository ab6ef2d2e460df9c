"""The analysis window, written once: which days the data cover and which an analysis reads.

One rule for the bounds of the data (:func:`data_bounds`): the first and last day of any
activity (transactions, responses, tickets, events). Contract dates count only when a
workspace has no activity at all, because contracts often start years before the other data
and end after them (an end after the last activity is censored at it, not observed).

One grammar for periods (:func:`period_span`), the same for ``--since``/``--until`` of the
scorecard and ``--period`` of themes:

- ``2025`` (a year), ``2025-03`` (a month), ``2025-Q1`` (a quarter), ``2025-W02`` (an ISO
  week, Monday first) or ``2025-03-15`` (a day);
- ``A..B`` for the span from the start of ``A`` to the end of ``B`` (either side may be any
  of the forms above).

A span is half-open: ``[start, end)``, as datetimes at midnight.

>>> period_span("2025-Q1")
(datetime.datetime(2025, 1, 1, 0, 0), datetime.datetime(2025, 4, 1, 0, 0))
>>> period_span("2025-02..2025-03-10")
(datetime.datetime(2025, 2, 1, 0, 0), datetime.datetime(2025, 3, 11, 0, 0))
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pandas as pd

from cxroi.errors import CxroiError, param

if TYPE_CHECKING:
    import ibis.expr.types as ir

__all__ = ["ACTIVITY", "Window", "data_bounds", "period_span", "tables_before", "to_date"]

ACTIVITY: tuple[tuple[str, str], ...] = (
    ("transactions", "ts"),
    ("responses", "ts"),
    ("tickets", "opened_at"),
    ("events", "ts"),
)
"""The activity tables and their time column: they define the span the data cover."""

GRAMMAR = "YYYY, YYYY-MM, YYYY-Qn, YYYY-Wnn, YYYY-MM-DD or A..B"

_YEAR = re.compile(r"^(\d{4})$")
_MONTH = re.compile(r"^(\d{4})-(\d{1,2})$")
_QUARTER = re.compile(r"^(\d{4})-?Q([1-4])$", re.I)
_WEEK = re.compile(r"^(\d{4})-?W(\d{1,2})$", re.I)


def to_date(value: object, name: str) -> dt.date:
    """A ``date`` from a date, datetime, Timestamp or ISO string; the error names ``name``."""
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value).strip())
    except ValueError:
        raise CxroiError(f"{param(name)}: {value!r} is not a date (use YYYY-MM-DD)") from None


def _one_span(text: str) -> tuple[dt.date, dt.date]:
    s = text.strip()
    if m := _YEAR.match(s):
        y = int(m[1])
        return dt.date(y, 1, 1), dt.date(y + 1, 1, 1)
    if m := _QUARTER.match(s):
        y, q = int(m[1]), int(m[2])
        start = dt.date(y, 3 * q - 2, 1)
        return start, (dt.date(y + 1, 1, 1) if q == 4 else dt.date(y, 3 * q + 1, 1))
    if m := _WEEK.match(s):
        start = dt.date.fromisocalendar(int(m[1]), int(m[2]), 1)
        return start, start + dt.timedelta(days=7)
    if m := _MONTH.match(s):
        y, mo = int(m[1]), int(m[2])
        start = dt.date(y, mo, 1)
        return start, (dt.date(y + 1, 1, 1) if mo == 12 else dt.date(y, mo + 1, 1))
    day = dt.date.fromisoformat(s)
    return day, day + dt.timedelta(days=1)


def period_span(text: str | dt.date, *, name: str = "period") -> tuple[dt.datetime, dt.datetime]:
    """The half-open span ``[start, end)`` of a period written in the one grammar.

    Raises
    ------
    CxroiError
        Naming parameter ``name`` and the grammar, when ``text`` is not understood.
    """
    if isinstance(text, dt.date):
        text = text.isoformat()[:10]
    try:
        if ".." in text:
            a, b = text.split("..", 1)
            start, end = _one_span(a)[0], _one_span(b)[1]
        else:
            start, end = _one_span(text)
    except (ValueError, TypeError):
        raise CxroiError(
            f"{param(name)} {text!r} is not a period; use {GRAMMAR} (e.g. 2025-Q1)"
        ) from None
    if end <= start:
        raise CxroiError(f"{param(name)} {text!r} ends before it starts")
    return dt.datetime.combine(start, dt.time()), dt.datetime.combine(end, dt.time())


def data_bounds(tables: Mapping[str, ir.Table]) -> tuple[dt.date | None, dt.date | None]:
    """First and last day of activity in ``tables`` (contract dates only when there is none).

    Runs one small aggregate per table in the engine: the extremes of the timestamps, then
    their days (the same days, as a day never orders before an earlier time's), so that DuckDB
    reads them from its column statistics instead of casting every row.
    """
    import ibis

    parts = []
    for name, col in ACTIVITY:
        t = tables.get(name)
        if t is not None and col in t.columns:
            parts.append(t.aggregate(lo=t[col].min().cast("date"), hi=t[col].max().cast("date")))
    if parts:
        r = (ibis.union(*parts) if len(parts) > 1 else parts[0]).execute()
        lo, hi = r["lo"].dropna(), r["hi"].dropna()
        if len(lo):
            return _day(lo.min()), _day(hi.max())
    c = tables.get("contracts")
    if c is None:
        return None, None
    r = c.aggregate(
        lo=c.start_date.cast("date").min(),
        hi=ibis.greatest(c.start_date.cast("date").max(), c.end_date.cast("date").max()),
    ).execute()
    lo, hi = r["lo"].iloc[0], r["hi"].iloc[0]
    if pd.isna(lo):
        return None, None
    return _day(lo), _day(hi if pd.notna(hi) else lo)


def _day(v: Any) -> dt.date:
    return pd.Timestamp(v).date()


def tables_before(tables: Mapping[str, ir.Table], day: dt.date) -> dict[str, ir.Table]:
    """The canonical tables as they stood at the start of ``day`` (Ibis expressions).

    Activity (:data:`ACTIVITY`) and cases from ``day`` on are left out, and so are customers
    who signed up and contracts that started on or after it; a contract that ended on or
    after ``day`` was still open then (its ``end_date`` is missing). An analysis run on them
    sees only what was known before ``day``: e.g. ``roi simulate`` valuing an initiative as
    at its launch.
    """
    import ibis

    at = ibis.literal(dt.datetime.combine(day, dt.time()))
    on = ibis.literal(day)
    out = dict(tables)
    for name, col in (*ACTIVITY, ("cases", "opened_at")):
        t = tables.get(name)
        if t is not None and col in t.columns:
            out[name] = t.filter(t[col] < at)
    c = tables.get("contracts")
    if c is not None:
        c = c.filter(c.start_date.cast("date") < on)
        out["contracts"] = c.mutate(
            end_date=ibis.ifelse(c.end_date.cast("date") >= on, ibis.null(), c.end_date)
        )
    cust = tables.get("customers")
    if cust is not None and "signup_date" in cust.columns:
        keep = cust.signup_date.isnull() | (cust.signup_date.cast("date") < on)
        out["customers"] = cust.filter(keep)
    return out


@dataclass(frozen=True)
class Window:
    """The days an analysis reads: ``start`` to ``end`` inclusive (``end`` is the as-of day).

    Use :meth:`resolve` to fill what the analyst left open from the data.
    """

    start: dt.date
    end: dt.date

    @classmethod
    def resolve(
        cls,
        tables: Mapping[str, ir.Table],
        *,
        since: object | None = None,
        as_of: object | None = None,
        since_name: str = "since",
        as_of_name: str = "as_of",
    ) -> Window:
        """The window from ``since`` (a day or a period: its first day) to ``as_of`` (a day or
        a period: its last day), each defaulting to the data's bounds."""
        lo, hi = data_bounds(tables)
        start = lo if since is None else _edge(since, since_name, first=True)
        end = hi if as_of is None else _edge(as_of, as_of_name, first=False)
        if start is None or end is None:
            raise CxroiError(
                "the workspace holds no transactions, responses, tickets, events or contracts"
            )
        if end < start:
            raise CxroiError(f"{param(as_of_name)} {end} is before {param(since_name)} {start}")
        return cls(start, end)

    def as_dict(self) -> dict[str, str]:
        return {"since": self.start.isoformat(), "as_of": self.end.isoformat()}


def _edge(value: object, name: str, *, first: bool) -> dt.date:
    if isinstance(value, dt.date):
        return value.date() if isinstance(value, dt.datetime) else value
    start, end = period_span(str(value), name=name)
    return start.date() if first else (end - dt.timedelta(days=1)).date()
