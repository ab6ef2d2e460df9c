"""Contract churn: Kaplan-Meier curves, Cox hazard ratios and retention-based CLV by segment.

For subscription (contractual) customers, churn is observed: a contract ends. The per-customer
frame is built by one Ibis expression in the engine (:func:`churn_frame`); the models are
``lifelines``' Kaplan-Meier and Cox fitters, wrapped so that every number carries an interval
and ``n``:

- :func:`kaplan_meier` — survival at chosen times per segment, with Greenwood intervals;
- :class:`ChurnCox` — hazard ratios of customer covariates (NPS group, plan, slow support
  response, …) with 95% intervals;
- :func:`retention_clv` — the retention CLV of DESIGN.md per segment,
  :math:`m\\,r / (1 + i - r)`, from a constant monthly churn hazard.

Customers who signed up before the data begin are *left-truncated*: churn before
``observed_from`` could not be seen, so each customer enters the risk set at
``max(start, observed_from)`` (delayed entry), not at signup.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from typing import Any

import ibis
import ibis.expr.types as ir
import numpy as np
import pandas as pd
from ibis import _
from scipy import stats

from cxroi.errors import CxroiError, SmallSampleWarning
from cxroi.models.rfm import TIME_UNITS, to_date

__all__ = [
    "ChurnCox",
    "churn_frame",
    "churn_periods",
    "kaplan_meier",
    "nps_group",
    "retention_clv",
]

_PERIOD_MONTHS = {"month": 1.0, "quarter": 3.0, "year": 12.0}


def nps_group(score: ir.IntegerValue) -> ir.StringValue:
    """NPS group of a 0-10 score: promoter (9-10), passive (7-8), detractor (0-6)."""
    return ibis.cases((score >= 9, "promoter"), (score >= 7, "passive"), else_="detractor")


def churn_frame(
    contracts: ir.Table,
    *,
    as_of: object,
    customers: ir.Table | None = None,
    responses: ir.Table | None = None,
    tickets: ir.Table | None = None,
    observed_from: object | None = None,
    time_unit: str = "month",
    slow_response_hours: float = 24.0,
    nps_survey: str | None = None,
) -> ir.Table:
    """One row per contract customer: tenure, churn, value and covariates (Ibis expression).

    Parameters
    ----------
    contracts : ibis.Table
        Canonical ``contracts``. A customer has churned when every contract of theirs has
        ended on or before ``as_of``; the churn date is the last ``end_date``.
    as_of : date or str
        End of observation; contracts starting later are ignored.
    customers : ibis.Table, optional
        Adds every customer attribute column (``plan``, ``region``, …).
    responses : ibis.Table, optional
        Adds ``nps`` (the customer's latest NPS score on or before ``as_of``, from survey
        ``nps_survey`` if given) and ``nps_group``.
    tickets : ibis.Table, optional
        Adds ``tickets`` and ``slow_response`` (any first response slower than
        ``slow_response_hours``).
    observed_from : date or str, optional
        First day of the data; customers who started earlier enter at this date.
    time_unit : {"day", "week", "month"}
        Unit of ``entry`` and ``duration``.

    Returns
    -------
    ibis.Table
        ``customer_id``, ``start``, ``end``, ``entry`` (time from start to the first day
        observed), ``duration`` (time from start to churn or ``as_of``), ``churned`` (bool),
        ``monthly_value`` (recurring value of the customer's contracts per month; ``once``
        contracts count 0) and the optional covariates.
    """
    if time_unit not in TIME_UNITS:
        raise CxroiError(f"time_unit must be one of {', '.join(TIME_UNITS)}, got {time_unit!r}")
    unit = TIME_UNITS[time_unit]
    end = ibis.literal(to_date(as_of, "as_of"))
    start_obs = None if observed_from is None else to_date(observed_from, "observed_from")
    c = contracts.filter(contracts.start_date <= end)
    months = ibis.cases(
        *[(c.billing_period == k, v) for k, v in _PERIOD_MONTHS.items()],
        (c.billing_period.isnull(), 1.0),
        else_=ibis.null("float64"),
    )
    c = c.mutate(
        open=c.end_date.isnull() | (c.end_date > end),
        monthly=ibis.ifelse(months.isnull(), 0.0, c.value / months),
        cust_last_end=c.end_date.max().over(group_by="customer_id"),
    )
    per = c.group_by("customer_id").aggregate(
        start=_.start_date.min(),
        n_open=_.open.sum(),
        last_end=_.end_date.max(),
        monthly_value=_.monthly.sum(where=_.open | (_.end_date == _.cust_last_end)),
    )
    churned = per.n_open == 0
    stop = ibis.ifelse(churned, per.last_end, end)
    entry_day = (
        per.start if start_obs is None else ibis.greatest(per.start, ibis.literal(start_obs))
    )
    out = per.select(
        "customer_id",
        "start",
        end=ibis.ifelse(churned, per.last_end, ibis.null("date")),
        entry=entry_day.delta(per.start, unit="day").cast("float64") / unit,
        duration=stop.delta(per.start, unit="day").cast("float64") / unit,
        churned=churned,
        monthly_value=per.monthly_value.fill_null(0.0),
    )
    if start_obs is not None:  # churned before the data begin: not observable
        out = out.filter(out.duration > out.entry)
    if customers is not None:
        extra = [col for col in customers.columns if col not in out.columns]
        out = out.left_join(customers.select("customer_id", *extra), "customer_id").select(
            *out.columns, *extra
        )
    if responses is not None:
        r = responses.filter(responses.nps.notnull(), responses.ts.cast("date") <= end)
        if nps_survey is not None:
            r = r.filter(r.survey == nps_survey)
        latest = r.group_by("customer_id").aggregate(nps=_.nps.argmax(_.ts))
        out = out.left_join(latest, "customer_id").select(
            *out.columns,
            nps=latest.nps,
            nps_group=ibis.ifelse(latest.nps.isnull(), ibis.null("string"), nps_group(latest.nps)),
        )
    if tickets is not None:
        t = tickets.filter(tickets.opened_at.cast("date") <= end)
        hours = t.first_response_at.delta(t.opened_at, unit="second").cast("float64") / 3600.0
        per_t = (
            t.mutate(slow=(hours > slow_response_hours).fill_null(False))
            .group_by("customer_id")
            .aggregate(tickets=_.count(), slow_tickets=_.slow.sum())
        )
        out = out.left_join(per_t, "customer_id").select(
            *out.columns,
            tickets=per_t.tickets.fill_null(0),
            slow_response=per_t.slow_tickets.fill_null(0) > 0,
        )
    return out.order_by("customer_id")


def _check_frame(frame: pd.DataFrame, needed: Sequence[str]) -> None:
    if len(frame) == 0:
        raise CxroiError("no contract customers to analyse (is the contracts table empty?)")
    missing = [c for c in needed if c not in frame.columns]
    if missing:
        raise CxroiError(f"churn frame lacks column(s) {', '.join(missing)}")


def kaplan_meier(
    frame: pd.DataFrame,
    *,
    by: str | None = None,
    times: Sequence[float] = (3, 6, 12, 24),
    min_n: int = 30,
) -> pd.DataFrame:
    """Kaplan-Meier survival at ``times`` per segment, with 95% (Greenwood) intervals.

    Parameters
    ----------
    frame : DataFrame
        From :func:`churn_frame` (``entry``, ``duration``, ``churned``).
    by : str, optional
        Segment column; ``None`` for everyone.
    times : sequence of float
        Tenures (in the frame's time unit) at which to report survival.
    min_n : int
        Segments with fewer customers are flagged ``small_n``.

    Returns
    -------
    DataFrame
        ``segment, n, churned, time, survival, lower_95, upper_95, median, small_n``.
    """
    from lifelines import KaplanMeierFitter

    _check_frame(frame, ["entry", "duration", "churned"] + ([by] if by else []))
    groups = [("all", frame)] if by is None else list(frame.groupby(by, dropna=False))
    rows = []
    for name, g in groups:
        km = KaplanMeierFitter()
        km.fit(g.duration, g.churned, entry=g.entry)
        sf = km.survival_function_at_times(list(times)).to_numpy()
        ci = km.confidence_interval_survival_function_
        for t, s in zip(times, sf, strict=True):
            at = max(int(ci.index.searchsorted(t, side="right")) - 1, 0)  # step function
            lo, hi = float(ci.iloc[at, 0]), float(ci.iloc[at, 1])
            rows.append(
                {
                    "segment": "missing" if pd.isna(name) else str(name),
                    "n": len(g),
                    "churned": int(g.churned.sum()),
                    "time": t,
                    "survival": float(s),
                    "lower_95": lo,
                    "upper_95": hi,
                    "median": float(km.median_survival_time_),
                    "small_n": len(g) < min_n,
                }
            )
    return pd.DataFrame(rows)


class ChurnCox:
    """Cox proportional-hazards model of contract churn (lifelines ``CoxPHFitter``).

    ``fit`` takes either one row per customer (:func:`churn_frame`: ``entry``, ``duration``)
    or time-varying periods (:func:`churn_periods`: ``t_start``, ``t_stop``, fitted with
    lifelines' ``CoxTimeVaryingFitter``).

    Parameters
    ----------
    covariates : sequence of str
        Columns of the churn frame. Text columns are dummy-coded against ``reference``
        (default: the most common level); their terms are named ``column=level``.
    reference : dict, optional
        Reference level per categorical covariate, e.g. ``{"nps_group": "promoter"}``.
    strata : sequence of str, optional
        Columns whose levels get their own baseline hazard.

    Attributes
    ----------
    hazard_ratios_ : DataFrame
        ``hazard_ratio, lower_95, upper_95, p`` per dummy/numeric term.
    n_, n_events_ : int
        Customers (with complete covariates) and churn events used.
    """

    def __init__(
        self,
        covariates: Sequence[str],
        *,
        reference: dict[str, str] | None = None,
        strata: Sequence[str] | None = None,
    ):
        self.covariates = covariates
        self.reference = reference
        self.strata = strata

    def fit(self, frame: pd.DataFrame) -> ChurnCox:
        """Fit on a frame from :func:`churn_frame`; rows with missing covariates are dropped."""
        from lifelines.exceptions import ConvergenceError

        cols = list(self.covariates) + list(self.strata or [])
        varying = "t_stop" in frame.columns
        times = ["customer_id", "t_start", "t_stop"] if varying else ["entry", "duration"]
        _check_frame(frame, [*times, "churned", *cols])
        data = frame[[*times, "churned", *cols]].dropna()
        if data.churned.sum() < 1:
            raise CxroiError("no churn events in the data: hazard ratios cannot be estimated")
        design = data[times].copy()
        design["churned"] = data.churned.astype(int)
        ref = dict(self.reference or {})
        for col in self.covariates:
            s = data[col]
            if pd.api.types.is_bool_dtype(s) or pd.api.types.is_numeric_dtype(s):
                design[col] = s.astype(float)
            else:
                levels = s.astype(str)
                base = ref.get(col, levels.value_counts().idxmax())
                if base not in set(levels):
                    raise CxroiError(f"reference level {base!r} of {col} is not in the data")
                for level in sorted(set(levels) - {base}):
                    design[f"{col}={level}"] = (levels == level).astype(float)
        for col in self.strata or []:
            design[col] = data[col].astype(str)
        terms = [c for c in design.columns if c not in (*times, "churned", *(self.strata or []))]
        if not terms:
            raise CxroiError(
                f"no covariate varies in the data ({', '.join(self.covariates)}): "
                "there is no hazard ratio to estimate"
            )
        strata = list(self.strata) if self.strata else None
        try:
            cph = self._fit_lifelines(design, varying, strata)
        except ConvergenceError as e:
            raise CxroiError(f"the Cox model did not converge: {str(e).splitlines()[0]}") from None
        n = design.customer_id.nunique() if varying else len(design)
        s = cph.summary
        self.hazard_ratios_ = pd.DataFrame(
            {
                "hazard_ratio": s["exp(coef)"],
                "lower_95": s["exp(coef) lower 95%"],
                "upper_95": s["exp(coef) upper 95%"],
                "p": s["p"],
            }
        ).rename_axis("term")
        self.n_ = int(n)
        self.n_events_ = int(design.churned.sum())
        self.log_likelihood_ = float(cph.log_likelihood_)
        return self

    @staticmethod
    def _fit_lifelines(design: pd.DataFrame, varying: bool, strata: list[str] | None) -> Any:
        from lifelines import CoxPHFitter, CoxTimeVaryingFitter

        if varying:
            return CoxTimeVaryingFitter().fit(
                design,
                id_col="customer_id",
                start_col="t_start",
                stop_col="t_stop",
                event_col="churned",
                strata=strata,
            )
        return CoxPHFitter().fit(
            design,
            duration_col="duration",
            event_col="churned",
            entry_col="entry",
            strata=strata,
        )

    @property
    def summary(self) -> pd.DataFrame:
        """Hazard ratios with 95% intervals and p-values."""
        if not hasattr(self, "hazard_ratios_"):
            raise CxroiError("ChurnCox is not fitted yet; call fit(frame) first")
        return self.hazard_ratios_


def retention_clv(
    frame: pd.DataFrame,
    *,
    by: str | None = None,
    annual_discount_rate: float = 0.10,
    time_unit: str = "month",
    min_n: int = 30,
) -> pd.DataFrame:
    """Retention CLV per segment from a constant monthly churn hazard.

    Parameters
    ----------
    frame : DataFrame
        From :func:`churn_frame` (``entry``, ``duration``, ``churned``, ``monthly_value``).
    by : str, optional
        Segment column.
    annual_discount_rate : float
        Converted to a monthly rate :math:`i = (1 + R)^{1/12} - 1`.
    time_unit : str
        The unit of ``entry``/``duration`` in ``frame``.
    min_n : int
        Segments with fewer customers are flagged ``small_n`` (and warned about).

    Returns
    -------
    DataFrame
        Per segment: ``n, churned, exposure_months, monthly_churn`` (hazard :math:`\\lambda`
        = events / months at risk, exact Poisson 95% interval), ``retention``
        :math:`r = e^{-\\lambda}`, ``monthly_value`` (mean, with normal 95% interval),
        ``clv`` and ``clv_lower_95``/``clv_upper_95``.

    Notes
    -----
    .. math::

        \\mathrm{CLV} = \\frac{m\\,r}{1 + i - r}

    The interval combines the ends of the churn and value intervals (low value with high
    churn, high value with low churn), so its coverage is at least 95%.
    """
    _check_frame(frame, ["entry", "duration", "churned", "monthly_value"] + ([by] if by else []))
    if not 0 <= annual_discount_rate < 1:
        raise CxroiError(f"annual discount rate must be in [0, 1), got {annual_discount_rate}")
    to_months = TIME_UNITS[time_unit] / TIME_UNITS["month"]
    i = (1 + annual_discount_rate) ** (1 / 12) - 1
    groups = [("all", frame)] if by is None else list(frame.groupby(by, dropna=False))
    z = stats.norm.ppf(0.975)

    def value(m: float, lam: float) -> float:
        r = math.exp(-lam)
        return m * r / (1 + i - r)

    rows = []
    for name, g in groups:
        n = len(g)
        events = int(g.churned.sum())
        exposure = float((g.duration - g.entry).sum()) * to_months
        lam = events / exposure if exposure > 0 else float("nan")
        lam_lo = stats.chi2.ppf(0.025, 2 * events) / 2 / exposure if events else 0.0
        lam_hi = stats.chi2.ppf(0.975, 2 * events + 2) / 2 / exposure
        m = float(g.monthly_value.mean())
        m_se = float(g.monthly_value.std(ddof=1) / math.sqrt(n)) if n > 1 else float("nan")
        rows.append(
            {
                "segment": "missing" if pd.isna(name) else str(name),
                "n": n,
                "churned": events,
                "exposure_months": exposure,
                "monthly_churn": lam,
                "churn_lower_95": lam_lo,
                "churn_upper_95": lam_hi,
                "retention": math.exp(-lam),
                "monthly_value": m,
                "clv": value(m, lam),
                "clv_lower_95": value(max(m - z * m_se, 0.0), lam_hi),
                "clv_upper_95": value(m + z * m_se, lam_lo),
                "small_n": n < min_n,
            }
        )
    out = pd.DataFrame(rows)
    small = out.loc[out.small_n, "segment"].tolist()
    if small:
        warnings.warn(
            f"retention CLV: segment(s) {', '.join(small)} have fewer than {min_n} customers",
            SmallSampleWarning,
            stacklevel=2,
        )
    return out


def churn_periods(
    frame: pd.DataFrame,
    *,
    nps: pd.DataFrame | None = None,
    slow_tickets: pd.DataFrame | None = None,
    time_unit: str = "month",
) -> pd.DataFrame:
    """Split each customer's time at risk where a time-varying covariate changes.

    Parameters
    ----------
    frame : DataFrame
        From :func:`churn_frame` (``customer_id``, ``start``, ``entry``, ``duration``,
        ``churned`` and any time-fixed covariates, which are carried along).
    nps : DataFrame, optional
        ``customer_id, ts, nps``: survey answers. ``nps_group`` at a time is the group of the
        latest answer before it (missing before the first answer).
    slow_tickets : DataFrame, optional
        ``customer_id, opened_at`` of tickets with a slow first response. ``slow_response``
        is true during the calendar month after such a ticket.
    time_unit : str
        The unit of ``entry``/``duration`` in ``frame``.

    Returns
    -------
    DataFrame
        ``customer_id, t_start, t_stop, churned`` (true on a churner's last period only),
        ``nps_group``, ``slow_response`` and the other columns of ``frame``.
    """
    _check_frame(frame, ["customer_id", "start", "entry", "duration", "churned"])
    unit = TIME_UNITS[time_unit]
    start = frame.set_index("customer_id").start.map(pd.Timestamp)

    def tenure(ids: pd.Series, when: pd.Series) -> np.ndarray:
        return ((pd.to_datetime(when) - ids.map(start).to_numpy()).dt.days / unit).to_numpy()

    points = [
        frame[["customer_id"]].assign(t=frame.entry),
        frame[["customer_id"]].assign(t=frame.duration),
    ]
    answers = windows = None
    if nps is not None and len(nps):
        answers = nps[nps.customer_id.isin(start.index)][["customer_id", "ts", "nps"]].copy()
        answers["t"] = tenure(answers.customer_id, answers.ts)
        points.append(answers[["customer_id", "t"]])
    if slow_tickets is not None and len(slow_tickets):
        st = slow_tickets[slow_tickets.customer_id.isin(start.index)]
        month = pd.to_datetime(st.opened_at).dt.to_period("M")
        windows = pd.DataFrame(
            {
                "customer_id": st.customer_id.to_numpy(),
                "w_start": (month + 1).dt.start_time.to_numpy(),
                "w_end": (month + 2).dt.start_time.to_numpy(),
            }
        ).drop_duplicates()
        windows["t"] = tenure(windows.customer_id, windows.w_start)
        windows["t_end"] = tenure(windows.customer_id, windows.w_end)
        points += [
            windows[["customer_id", "t"]],
            windows[["customer_id", "t_end"]].rename(columns={"t_end": "t"}),
        ]
    pts = pd.concat(points, ignore_index=True).merge(
        frame[["customer_id", "entry", "duration"]], on="customer_id"
    )
    pts = pts[(pts.t >= pts.entry) & (pts.t <= pts.duration)]
    pts = pts.drop_duplicates(["customer_id", "t"]).sort_values(["customer_id", "t"])
    pts["t_stop"] = pts.groupby("customer_id").t.shift(-1)
    periods = pts.dropna(subset=["t_stop"]).rename(columns={"t": "t_start"})
    periods = periods[["customer_id", "t_start", "t_stop", "duration"]].sort_values("t_start")
    if answers is not None:
        answers = answers.sort_values("t")
        periods = pd.merge_asof(
            periods, answers[["customer_id", "t", "nps"]], left_on="t_start", right_on="t",
            by="customer_id", direction="backward",
        ).drop(columns="t")  # fmt: skip
        group = np.select(
            [periods.nps >= 9, periods.nps >= 7], ["promoter", "passive"], "detractor"
        )
        periods["nps_group"] = pd.Series(group, index=periods.index).where(periods.nps.notna())
    if windows is not None:
        periods = pd.merge_asof(
            periods, windows[["customer_id", "t", "t_end"]].sort_values("t"), left_on="t_start",
            right_on="t", by="customer_id", direction="backward",
        )  # fmt: skip
        periods["slow_response"] = (periods.t_start < periods.t_end).fillna(False).astype(bool)
        periods = periods.drop(columns=["t", "t_end"])
    elif slow_tickets is not None:
        periods["slow_response"] = False
    fixed = frame.drop(
        columns=["entry", "duration", "nps", "nps_group", "slow_response"], errors="ignore"
    )
    out = periods.merge(fixed, on="customer_id")
    out["churned"] = out.churned.astype(bool) & (out.t_stop >= out.duration)
    return (
        out.drop(columns="duration").sort_values(["customer_id", "t_start"]).reset_index(drop=True)
    )
