"""Money metrics: revenue, active and lost customers, churn, cohorts, ATS, ACV, support cost, CLV.

Definitions (each period is a calendar month, quarter or ISO week, numbered by an integer
index; :math:`c_k` is the first day of period :math:`k`):

- **Revenue** of a period: sum of transaction ``amount`` with ``ts`` in the period (refunds are
  negative amounts). **Transactions**: their count. **Buying customers**: distinct customers
  with a transaction in the period.
- **Average transaction size** (ATS): revenue ÷ number of transactions, with a Student-t
  interval from the amounts' standard deviation.
- **Active at a time** :math:`t`: the customer has a contract with
  ``start_date <= t`` and (``end_date`` null or ``end_date > t``). **Active customers** of a
  period: active at :math:`c_k`, its first day.
- **Lost in a period**: active at :math:`c_k` and their continuous coverage (contracts merged
  where they overlap or touch) ends before or on :math:`c_{k+1}`: the last active contract
  ends in the period and none is active right after. A customer who comes back later counts as
  lost, then again as active.
- **Churn rate** of a period: lost ÷ active at its start (:math:`0 \\le` churn :math:`\\le 1`),
  Wilson interval.
- **Contract value signed**: sum of ``value`` of contracts whose ``start_date`` falls in the
  period. **New customers**: customers whose first contract starts in the period.
  **Average contract value** (ACV): contract value signed ÷ new customers (the brief's
  definition: value of contracts signed over the number of new customers obtained).
- **Support cost**: sum of ticket ``cost`` of tickets opened in the period; **per ticket**: mean
  cost of tickets with a cost (t interval); **per customer**: support cost ÷ active customers.
- **Simple CLV**: value per customer per period ÷ churn rate (lifetime = 1/churn periods).
- **Retention CLV**: :math:`m r / (1 + i - r)` with margin per period :math:`m`, retention
  :math:`r = 1 - \\text{churn}` and per-period discount rate :math:`i`.
- **Retention cohorts**: customers grouped by signup period (``customers.signup_date``, or
  their first contract start when missing); the share of each cohort active at the start of
  each later period.

The engine does every scan (:func:`coverage_flows`, :func:`period_index`); the small grouped
counts come back and the formula functions here turn them into rates and values.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import ibis
import ibis.expr.types as ir
import numpy as np
import pandas as pd

from cxroi.errors import CxroiError, param
from cxroi.metrics._intervals import as_float, wilson
from cxroi.window import period_span

__all__ = [
    "PERIODS",
    "churn_from_counts",
    "churn_from_exposure",
    "coverage_flows",
    "coverage_islands",
    "flows_to_active",
    "index_of",
    "period_discount_rate",
    "period_index",
    "period_label",
    "period_start",
    "parse_period",
    "retention_clv",
    "retention_cohorts",
    "simple_clv",
]

PERIODS = ("month", "quarter", "week")
MAX_COHORT_PERIODS = 2_000
"""The most periods a cohort table spans (a placeholder signup date would stretch it)."""
_PER_YEAR = {"day": 365.25, "week": 365.25 / 7, "month": 12.0, "quarter": 4.0}
_FAR = dt.date(9999, 12, 31)
_MONDAY0 = dt.date(1970, 1, 5)  # epoch day 4: week index 0 starts here


def _check_period(period: str) -> None:
    if period not in PERIODS:
        raise CxroiError(
            f"unknown {param('period')} {period!r}; choose one of {', '.join(PERIODS)}"
        )


# -- period arithmetic ---------------------------------------------------------------------


def period_index(col: ir.Value, period: str) -> ir.IntegerValue:
    """Engine expression: the integer index of the period containing a date or timestamp.

    Months count ``year * 12 + month - 1``, quarters ``year * 4 + quarter - 1``, ISO weeks
    (Monday first) the weeks since 1970-01-05.
    """
    _check_period(period)
    d = col.date() if col.type().is_timestamp() else col
    if period == "month":
        return (d.year() * 12 + d.month() - 1).cast("int64")
    if period == "quarter":
        return (d.year() * 4 + d.quarter() - 1).cast("int64")
    return ((d.truncate("W").epoch_days() - 4) // 7).cast("int64")


def index_of(day: dt.date | str | pd.Timestamp, period: str) -> int:
    """The period index (as in :func:`period_index`) of one date, computed in Python."""
    _check_period(period)
    d = pd.Timestamp(day).date()
    if period == "month":
        return d.year * 12 + d.month - 1
    if period == "quarter":
        return d.year * 4 + (d.month - 1) // 3
    return (d - _MONDAY0).days // 7


def period_start(k: int, period: str) -> dt.date:
    """First day of period index ``k``."""
    _check_period(period)
    k = int(k)
    if period == "month":
        return dt.date(k // 12, k % 12 + 1, 1)
    if period == "quarter":
        return dt.date(k // 4, 3 * (k % 4) + 1, 1)
    return _MONDAY0 + dt.timedelta(days=7 * k)


def period_label(k: int, period: str) -> str:
    """Label of period index ``k``: ``2025-01``, ``2025-Q1`` or ISO week ``2025-W02``."""
    _check_period(period)
    k = int(k)
    if period == "month":
        return f"{k // 12:04d}-{k % 12 + 1:02d}"
    if period == "quarter":
        return f"{k // 4:04d}-Q{k % 4 + 1}"
    y, w, _ = period_start(k, period).isocalendar()
    return f"{y:04d}-W{w:02d}"


def parse_period(
    value: str | dt.date, period: str, *, edge: str = "start", name: str = "period"
) -> int:
    """Index of the ``period`` holding one edge of a span written in the one period grammar.

    ``value`` is read by :func:`cxroi.window.period_span` (``2025``, ``2025-01``, ``2025-Q1``,
    ``2025-W02``, ``2025-01-15`` or ``A..B``) or given as a date.

    Parameters
    ----------
    value
        The span.
    period
        ``month``, ``quarter`` or ``week``: the unit of the index.
    edge
        ``"start"``: the period holding the span's first day (a ``since``); ``"end"``: the one
        holding its last day (an ``until``); ``"one"``: the span must lie in one period (a
        baseline), else :class:`~cxroi.errors.CxroiError`.
    name
        The parameter named in errors.

    Examples
    --------
    >>> parse_period("2025-Q2", "month"), parse_period("2025-Q2", "month", edge="end")
    (24303, 24305)
    """
    _check_period(period)
    if edge not in ("start", "end", "one"):
        raise CxroiError(f"{param('edge')} must be start, end or one, got {edge!r}")
    if isinstance(value, dt.datetime):
        value = value.date()
    if isinstance(value, dt.date):
        return index_of(value, period)
    start, end = period_span(str(value), name=name)
    first = index_of(start.date(), period)
    last = index_of((end - dt.timedelta(days=1)).date(), period)
    if edge == "one" and first != last:
        raise CxroiError(
            f"{param(name)} {value!r} spans {last - first + 1} {period}s; give one {period}"
        )
    return last if edge == "end" else first


# -- contract coverage -----------------------------------------------------------------------


def coverage_islands(contracts: ir.Table) -> ir.Table:
    """Engine expression: each customer's continuous coverage spells.

    Contracts of one customer that overlap or touch (next ``start_date <= `` the latest
    ``end_date`` so far) are merged. A null ``end_date`` (still active) becomes 9999-12-31.

    Returns
    -------
    ibis.Table
        ``customer_id``, ``start`` (date), ``end`` (date, exclusive: not active on it).
    """
    c = contracts.select("customer_id", "start_date", end=contracts.end_date.fill_null(_FAR))
    # Most customers hold one contract: their spell is that contract, found by a hash
    # aggregation. Only customers with several contracts need the ordered window pass.
    per = c.group_by("customer_id").aggregate(
        _n=c.count(), start=c.start_date.min(), end=c.end.max()
    )
    single = per.filter(per._n == 1).select(
        "customer_id", _island=ibis.literal(1, "int64"), start=per.start, end=per.end
    )
    m = c.semi_join(per.filter(per._n > 1), "customer_id")
    order = ["start_date", "end"]
    before = ibis.window(group_by="customer_id", order_by=order, rows=(None, -1))
    m = m.mutate(_prev=m.end.max().over(before))
    # ifelse, not a cast: PostgreSQL casts no boolean to bigint
    m = m.mutate(_new=(m._prev.isnull() | (m.start_date > m._prev)).ifelse(1, 0).cast("int64"))
    upto = ibis.window(group_by="customer_id", order_by=order, rows=(None, 0))
    m = m.mutate(_island=m._new.sum().over(upto))
    multi = m.group_by(["customer_id", "_island"]).aggregate(
        start=m.start_date.min(), end=m.end.max()
    )
    return single.union(multi)


def _attach(table: ir.Table, groups: ir.Table | None, by: Sequence[str]) -> ir.Table:
    """Left-join customer-level group columns onto ``table`` (missing -> ``(missing)``)."""
    if groups is None or not by:
        return table
    j = table.left_join(groups, "customer_id")
    return j.mutate(**{b: j[b].fill_null("(missing)") for b in by})


def coverage_flows(
    contracts: ir.Table,
    *,
    period: str,
    first: int,
    last: int,
    groups: ir.Table | None = None,
    by: Sequence[str] = (),
) -> ir.Table:
    """Engine expression: coverage spells counted by group and by the periods they span.

    A coverage spell covers the period starts :math:`c_k` with :math:`a \\le k \\le b`, where
    :math:`a` is the first period starting on or after the spell's start and :math:`b` the last
    one starting before its end; :math:`s` is the period of the spell's start when it is the
    customer's first spell (their first contract), else null. ``a`` and ``b`` are clipped to
    ``first - 1 .. last + 1``, which keeps every comparison with the calendar, so the result has
    at most a few thousand rows per group. :func:`flows_to_active` turns it into active, lost
    and new customers per period.

    Parameters
    ----------
    contracts
        The contracts table.
    period
        ``month``, ``quarter`` or ``week``.
    first, last
        Period indices of the calendar (inclusive).
    groups
        Optional table with ``customer_id`` and the ``by`` columns (strings).
    by
        Grouping columns from ``groups``.

    Returns
    -------
    ibis.Table
        ``by`` columns, ``a``, ``b``, ``s`` and ``n`` (number of spells).
    """
    isl = coverage_islands(contracts)
    one_day = ibis.interval(days=1)
    lo, hi = ibis.literal(first - 1, "int64"), ibis.literal(last + 1, "int64")
    s = period_index(isl.start, period)
    isl = isl.mutate(
        a=(period_index(isl.start - one_day, period) + 1).clip(lo, hi),
        b=period_index(isl.end - one_day, period).clip(lo, hi),
        s=ibis.ifelse((isl._island == 1) & s.between(first, last), s, ibis.null("int64")),
    )
    isl = _attach(isl, groups, by)
    return isl.group_by([*by, "a", "b", "s"]).aggregate(n=isl.count())


def flows_to_active(
    spells: pd.DataFrame, *, first: int, last: int, by: Sequence[str] = ()
) -> pd.DataFrame:
    """Active-at-start, lost and new customers per group and period from :func:`coverage_flows`.

    .. math::

        \\text{active}_k = \\#\\{a \\le k \\le b\\},\\quad
        \\text{lost}_k = \\#\\{a \\le k = b\\},\\quad
        \\text{new}_k = \\#\\{s = k\\}

    Returns
    -------
    pandas.DataFrame
        ``by`` columns, ``k``, ``active``, ``lost``, ``new_customers`` for every ``k`` in
        ``first..last`` and every group present in ``spells``.
    """
    keys = list(by)
    ks = pd.RangeIndex(first, last + 1, name="k")
    cols = ["active", "lost", "new_customers"]
    if spells.empty:
        if keys:
            return pd.DataFrame(columns=[*keys, "k", *cols])
        return pd.DataFrame({"k": ks, "active": 0, "lost": 0, "new_customers": 0})
    sp = spells.astype({"n": "int64"})
    a, b = sp["a"].astype("int64"), sp["b"].astype("int64")
    cov = sp[(a <= b) & (b >= first) & (a <= last)]
    gk = [*keys, "k"]
    ent = cov.assign(k=cov["a"].astype("int64").clip(lower=first)).groupby(gk)["n"].sum()
    gone = cov[cov["b"].astype("int64") <= last]
    lost = gone.assign(k=gone["b"].astype("int64")).groupby(gk)["n"].sum()
    new = sp[sp["s"].notna()]
    new = new.assign(k=new["s"].astype("int64")).groupby(gk)["n"].sum()
    f = pd.concat({"entering": ent, "lost": lost, "new_customers": new}, axis=1)
    f = f.fillna(0).astype("int64")
    if keys:
        groups = sp[keys].drop_duplicates().itertuples(index=False, name=None)
        full = pd.MultiIndex.from_tuples([(*g, k) for g in groups for k in ks], names=gk)
        f = f.reindex(full, fill_value=0)
        ent_c = f["entering"].groupby(level=keys).cumsum()
        lost_before = f["lost"].groupby(level=keys).cumsum() - f["lost"]
    else:
        f = f.reindex(ks, fill_value=0)
        ent_c = f["entering"].cumsum()
        lost_before = f["lost"].cumsum() - f["lost"]
    out = pd.DataFrame(
        {"active": ent_c - lost_before, "lost": f["lost"], "new_customers": f["new_customers"]}
    )
    return out.reset_index()


# -- formulas ----------------------------------------------------------------------------------


def churn_from_counts(
    lost: object, active: object, *, level: float = 0.95
) -> dict[str, np.ndarray]:
    """Churn rate (fraction) with a Wilson interval; ``nan`` where nobody was active."""
    p, se, lo, hi = wilson(lost, active, level=level)
    return {"churn": p, "se": se, "ci_low": lo, "ci_high": hi}


def churn_from_exposure(events: object, exposure: object) -> tuple[np.ndarray, np.ndarray]:
    """Churn probability over one unit of exposure from events and exposure, and its se.

    A constant hazard :math:`\\lambda = E/T` (events per unit of exposure, e.g. per customer
    year) gives the churn probability :math:`1 - e^{-\\lambda}`; with Poisson events the
    delta method gives its standard error :math:`e^{-\\lambda}\\sqrt{E}/T`. ``nan`` where
    there is no exposure.

    >>> churn, se = churn_from_exposure(10, 100.0)
    >>> round(float(churn), 4), round(float(se), 4)
    (0.0952, 0.0286)
    """
    e, t = as_float(events), as_float(exposure)
    with np.errstate(divide="ignore", invalid="ignore"):
        rate = np.where(t > 0, e / t, np.nan)
        return 1 - np.exp(-rate), np.exp(-rate) * np.sqrt(e) / t


def period_discount_rate(annual: float, period: str) -> float:
    """Per-period rate equivalent to an annual discount rate: :math:`(1+i)^{1/m} - 1`.

    ``period`` is ``month`` (:math:`m = 12`), ``quarter`` (4), ``week`` (365.25 / 7) or ``day``
    (365.25): the one conversion for the scorecard's periods and the time units of the
    lifetime-value models (whose month is 365.25 / 12 days).
    """
    if period not in _PER_YEAR:
        raise CxroiError(
            f"unknown {param('period')} {period!r}; choose one of {', '.join(_PER_YEAR)}"
        )
    if not 0 <= annual < 1:
        raise CxroiError(f"{param('discount_rate')} must be in [0, 1) per year, got {annual}")
    return (1 + annual) ** (1 / _PER_YEAR[period]) - 1


def simple_clv(value_per_period: object, churn_rate: object) -> np.ndarray:
    """Simple CLV: value per period × expected lifetime (1 ÷ churn rate, in periods).

    .. math:: \\mathrm{CLV} = v / c

    ``nan`` where the churn rate is 0 or missing (the lifetime is unbounded or unknown).
    """
    v, c = as_float(value_per_period), as_float(churn_rate)
    if np.any(c < 0) or np.any(c > 1):
        raise CxroiError("churn rate must be a fraction in [0, 1]")
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(c > 0, v / np.where(c > 0, c, 1), np.nan)


def retention_clv(margin: object, retention: object, discount_rate: object) -> np.ndarray:
    """Retention CLV of an infinite horizon with constant retention, margins paid at period end.

    .. math:: \\mathrm{CLV} = \\frac{m\\,r}{1 + i - r}

    Parameters
    ----------
    margin
        Margin (or value) per customer per period, :math:`m`.
    retention
        Per-period retention rate :math:`r = 1 - \\text{churn}`, in [0, 1].
    discount_rate
        Per-period discount rate :math:`i` (see :func:`period_discount_rate`).
    """
    m, r, i = as_float(margin), as_float(retention), as_float(discount_rate)
    if np.any(r < 0) or np.any(r > 1):
        raise CxroiError("retention rate must be a fraction in [0, 1]")
    with np.errstate(divide="ignore", invalid="ignore"):
        d = 1 + i - r
        return np.where(d > 0, m * r / np.where(d > 0, d, 1), np.nan)


# -- cohorts -------------------------------------------------------------------------------


def retention_cohorts(
    contracts: ir.Table,
    customers: ir.Table | None = None,
    *,
    period: str = "month",
    level: float = 0.95,
) -> pd.DataFrame:
    """Retention by signup cohort: the share of each cohort active at each later period start.

    Parameters
    ----------
    contracts
        Contracts table (activity comes from contract coverage).
    customers
        Optional customers table; its ``signup_date`` sets the cohort. Customers without one
        (or with no customers table) are put in the period of their first contract start.
    period
        Cohort and age unit.
    level
        Confidence level of the Wilson interval.

    Returns
    -------
    pandas.DataFrame
        ``cohort`` (label), ``age`` (periods since signup, from 1), ``customers`` (cohort
        size), ``retained`` (active at the start of period cohort + age), ``rate``, ``ci_low``,
        ``ci_high``.
    """
    first_start = contracts.group_by("customer_id").aggregate(_first=contracts.start_date.min())
    if customers is not None and "signup_date" in customers.columns:
        j = first_start.outer_join(customers.select("customer_id", "signup_date"), "customer_id")
        cid = (
            j.customer_id.fill_null(j.customer_id_right)
            if "customer_id_right" in j.columns
            else j.customer_id
        )
        start = j.signup_date.fill_null(j._first)
        coh = j.select(customer_id=cid, _start=start)
    else:
        coh = first_start.select("customer_id", _start=first_start._first)
    coh = coh.filter(coh._start.notnull())
    coh = coh.mutate(cohort=period_index(coh._start, period).cast("string"))
    lo = coh._start.min().execute()
    hi = contracts.start_date.max().execute()
    if lo is None or pd.isna(lo) or hi is None or pd.isna(hi):
        return pd.DataFrame(
            columns=["cohort", "age", "customers", "retained", "rate", "ci_low", "ci_high"]
        )
    first = index_of(lo, period)
    last = max(index_of(hi, period), first) + 1
    if last - first > MAX_COHORT_PERIODS:
        raise CxroiError(
            f"cohorts: signups from {period_label(first, period)} to "
            f"{period_label(last - 1, period)} span {last - first:,} {period}s, more than "
            f"{MAX_COHORT_PERIODS:,}; check for placeholder dates, or use a longer "
            f"{param('period')}"
        )
    sizes = coh.group_by("cohort").aggregate(customers=coh.count()).execute()
    flows = coverage_flows(
        contracts,
        period=period,
        first=first,
        last=last,
        groups=coh.select("customer_id", "cohort"),
        by=["cohort"],
    ).execute()
    act = flows_to_active(flows, first=first, last=last, by=["cohort"])
    act["age"] = act["k"] - act["cohort"].astype("int64")
    act = act[act["age"] >= 1].merge(sizes, on="cohort", how="inner")
    p, _, lo, hi = wilson(act["active"], act["customers"], level=level)
    out = pd.DataFrame(
        {
            "cohort": [period_label(int(c), period) for c in act["cohort"]],
            "age": act["age"].astype("int64"),
            "customers": act["customers"].astype("int64"),
            "retained": act["active"].astype("int64"),
            "rate": p,
            "ci_low": lo,
            "ci_high": hi,
        }
    )
    return out.sort_values(["cohort", "age"]).reset_index(drop=True)
