"""Contract churn: the per-customer churn frame, Kaplan-Meier, the Cox model, retention CLV.

For subscription (contractual) customers, churn is observed: a contract ends. The per-customer
frame is built by one Ibis expression in the engine (:func:`churn_frame`); the models are
``lifelines``' Kaplan-Meier and Cox fitters, wrapped so that every number carries an interval
and ``n``:

- :func:`kaplan_meier`: survival at chosen tenures per segment, with Greenwood intervals;
- :class:`ChurnCox`: lifelines' Cox model on rows in memory, one per customer (the closed
  loop) or per customer-month (:mod:`cxroi.models.panel`). The time-varying models of the
  churn report, the perception effects and the levers fit on counts in the engine instead
  (:class:`cxroi.models.hazard.PoissonHazard`, the same Cox model with Breslow ties);
- :func:`retention_clv`: the retention CLV of DESIGN.md per segment
  (:func:`cxroi.metrics.money.retention_clv`) from a constant monthly churn hazard.

Customers who signed up before the data begin are *left-truncated*: churn before
``observed_from`` could not be seen, so each customer enters the risk set at
``max(start, observed_from)`` (delayed entry), not at signup.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping, Sequence

import ibis
import ibis.expr.types as ir
import numpy as np
import pandas as pd
from ibis import _
from scipy import stats

from cxroi.errors import CxroiError, SmallSampleWarning, param
from cxroi.estimator import Estimator
from cxroi.metrics.money import period_discount_rate
from cxroi.metrics.money import retention_clv as _retention_clv
from cxroi.metrics.nps import nps_group_expr
from cxroi.models._design import z as _z
from cxroi.models.rfm import TIME_UNITS
from cxroi.results import small_n_flag
from cxroi.window import to_date

__all__ = [
    "PENALIZER",
    "ChurnCox",
    "check_events",
    "churn_frame",
    "kaplan_meier",
    "retention_clv",
]

_PERIOD_MONTHS = {"month": 1.0, "quarter": 3.0, "year": 12.0}

PENALIZER = 0.0
"""Ridge penalty of the Cox fits: none, the plain partial likelihood. (lifelines multiplies
its penalizer by the number of rows, so on a customer-month panel even ``1e-4`` shrinks the
hazard ratios towards 1; raise it only where a nearly separated dummy stops convergence.)"""


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
        ``nps_survey`` if given) and ``nps_group`` (missing without a score).
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
        contracts count 0), ``entry_date`` and ``exit_date`` (first and last day at risk, for
        :func:`cxroi.models.panel.customer_months`) and the optional covariates.
    """
    if time_unit not in TIME_UNITS:
        raise CxroiError(
            f"{param('time_unit')} must be one of {', '.join(TIME_UNITS)}, got {time_unit!r}"
        )
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
        entry_date=entry_day,
        exit_date=stop,
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
            nps_group=nps_group_expr(latest.nps),
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


def _segments(frame: pd.DataFrame, by: str | None) -> list[tuple[str, pd.DataFrame]]:
    groups = [("all", frame)] if by is None else list(frame.groupby(by, dropna=False))
    return [("missing" if pd.isna(k) else str(k), g) for k, g in groups]


def kaplan_meier(
    frame: pd.DataFrame,
    *,
    by: str | None = None,
    times: Sequence[float] = (3, 6, 12, 24),
    min_n: int = 30,
    level: float = 0.95,
) -> pd.DataFrame:
    """Kaplan-Meier survival at ``times`` per segment, with Greenwood intervals.

    Parameters
    ----------
    frame : DataFrame
        From :func:`churn_frame` (``entry``, ``duration``, ``churned``).
    by : str, optional
        Segment column; ``None`` for everyone.
    times : sequence of float
        Tenures (in the frame's time unit) at which to report survival.
    min_n : int
        Segments with fewer customers are flagged ``small-n``.
    level : float
        Interval level (lifelines' log(-log) Greenwood interval).

    Returns
    -------
    DataFrame
        ``segment, time, estimate`` (the share still subscribed), ``ci_low, ci_high, level,
        n, churned, median`` (median survival time) and ``flag``.
    """
    from lifelines import KaplanMeierFitter

    _check_frame(frame, ["entry", "duration", "churned"] + ([by] if by else []))
    rows = []
    for name, g in _segments(frame, by):
        km = KaplanMeierFitter(alpha=1 - level)
        km.fit(g.duration, g.churned, entry=g.entry)
        sf = km.survival_function_at_times(list(times)).to_numpy()
        ci = km.confidence_interval_survival_function_
        for t, s in zip(times, sf, strict=True):
            at = max(int(ci.index.searchsorted(t, side="right")) - 1, 0)  # step function
            rows.append(
                {
                    "segment": name,
                    "time": t,
                    "estimate": float(s),
                    "ci_low": float(ci.iloc[at, 0]),
                    "ci_high": float(ci.iloc[at, 1]),
                    "level": level,
                    "n": len(g),
                    "churned": int(g.churned.sum()),
                    "median": float(km.median_survival_time_),
                    "flag": small_n_flag(len(g), min_n),
                }
            )
    return pd.DataFrame(rows)


def check_events(events: int, min_events: int = 1) -> None:
    """Raise when ``events`` churn events are too few for a Cox model (fewer than ``min_events``,
    and always with none)."""
    if events < 1 and min_events <= 1:
        raise CxroiError("no churn events in the data: hazard ratios cannot be estimated")
    if events < min_events:
        raise CxroiError(f"too few churn events ({events}) for a Cox model; it needs {min_events}")


class ChurnCox(Estimator):
    """Cox proportional-hazards model of churn: the one Cox path of cxroi (lifelines).

    ``fit`` takes either one row per customer (:func:`churn_frame`: ``entry``, ``duration``,
    ``churned``) or the customer-month panel (:func:`cxroi.models.panel.customer_months`:
    ``customer_id``, ``start``, ``stop``, ``churned``, with time-varying covariates). Both are
    fitted as lifelines' ``CoxPHFitter`` with delayed entry (counting-process form):

    .. math:: h_i(t) = h_0(t) \\exp(\\beta^\\top x_i(t))

    Parameters
    ----------
    covariates : sequence of str
        Columns of the frame. Numbers and booleans enter as they are; text columns are
        dummy-coded against ``reference`` (default: the most common level), their terms named
        ``column=level``. Rows missing a covariate are left out; terms without variation are
        dropped.
    reference : dict, optional
        Reference level per categorical covariate, e.g. ``{"nps_group": "promoter"}``.
    strata : sequence of str, optional
        Columns whose levels get their own baseline hazard.
    level : float
        Level of the Wald intervals (on the log scale).
    penalizer : float
        Ridge penalty (:data:`PENALIZER`).
    min_events : int
        Fewest churn events to fit on.

    Attributes
    ----------
    params_ : Series
        Log hazard ratio per term; ``standard_errors_`` their standard errors.
    hazard_ratios_ : DataFrame
        Per term: ``estimate`` (hazard ratio), ``ci_low``, ``ci_high``, ``level``, ``n``
        (customers with the term non-zero at some time: in the level of a dummy) and
        ``p_value``.
    n_, n_events_ : int
        Customers (with complete covariates) and churn events used.
    """

    def __init__(
        self,
        covariates: Sequence[str],
        *,
        reference: Mapping[str, str] | None = None,
        strata: Sequence[str] | None = None,
        level: float = 0.95,
        penalizer: float = PENALIZER,
        min_events: int = 1,
    ):
        self.covariates = covariates
        self.reference = reference
        self.strata = strata
        self.level = level
        self.penalizer = penalizer
        self.min_events = min_events

    def fit(self, frame: pd.DataFrame) -> ChurnCox:
        """Fit on a churn frame or a customer-month panel; returns ``self``."""
        from lifelines import CoxPHFitter
        from lifelines.exceptions import ConvergenceError

        z = _z(self.level)
        panel = "stop" in frame.columns
        times = ["start", "stop"] if panel else ["entry", "duration"]
        ids = ["customer_id"] if panel else []
        strata = list(self.strata or [])
        cols = list(dict.fromkeys([*self.covariates, *strata]))
        _check_frame(frame, [*ids, *times, "churned", *cols])
        data = frame[[*ids, *times, "churned", *cols]].dropna()
        events = int(data.churned.sum())
        check_events(events, self.min_events)
        design = self._design(data)
        terms = [c for c in design.columns if design[c].std() > 0]
        if not terms:
            raise CxroiError(
                f"no covariate varies in the data ({', '.join(self.covariates)}): "
                "there is no hazard ratio to estimate"
            )
        fit_on = design[terms].assign(
            **{t: data[t].to_numpy() for t in times},
            churned=data.churned.astype(int).to_numpy(),
            **{c: data[c].astype(str).to_numpy() for c in strata},
        )
        try:
            cph = CoxPHFitter(penalizer=self.penalizer, alpha=1 - self.level).fit(
                fit_on,
                duration_col=times[1],
                event_col="churned",
                entry_col=times[0],
                strata=strata or None,
            )
        except ConvergenceError as e:
            raise CxroiError(f"the Cox model did not converge: {str(e).splitlines()[0]}") from None
        beta, se = cph.params_, cph.standard_errors_
        who = data.customer_id if panel else pd.Series(np.arange(len(data)), index=data.index)
        self.params_ = beta.rename("coef")
        self.standard_errors_ = se.rename("se")
        self.hazard_ratios_ = pd.DataFrame(
            {
                "estimate": np.exp(beta),
                "ci_low": np.exp(beta - z * se),
                "ci_high": np.exp(beta + z * se),
                "level": self.level,
                "n": [int(who[design[t] != 0].nunique()) for t in beta.index],
                "p_value": cph.summary["p"],
            }
        ).rename_axis("term")
        self.n_ = int(data.customer_id.nunique() if panel else len(data))
        self.n_events_ = events
        self.log_likelihood_ = float(cph.log_likelihood_)
        return self

    def _design(self, data: pd.DataFrame) -> pd.DataFrame:
        """Numbers as they are, text as dummies against the reference level."""
        ref = dict(self.reference or {})
        design = pd.DataFrame(index=data.index)
        for col in self.covariates:
            s = data[col]
            if pd.api.types.is_bool_dtype(s) or pd.api.types.is_numeric_dtype(s):
                design[col] = s.astype(float)
                continue
            levels = s.astype(str)
            base = ref.get(col, levels.value_counts().idxmax())
            if base not in set(levels):
                raise CxroiError(f"reference level {base!r} of {col} is not in the data")
            for lev in sorted(set(levels) - {base}):
                design[f"{col}={lev}"] = (levels == lev).astype(float)
        return design

    def _summary(self) -> pd.DataFrame:
        return self.hazard_ratios_


def retention_clv(
    frame: pd.DataFrame,
    *,
    by: str | None = None,
    annual_discount_rate: float = 0.10,
    time_unit: str = "month",
    min_n: int = 30,
    level: float = 0.95,
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
        Segments with fewer customers are flagged ``small-n`` (and warned about).
    level : float
        Level of the churn, value and CLV intervals.

    Returns
    -------
    DataFrame
        Per segment: ``segment, n, churned, exposure_months, monthly_churn`` (hazard
        :math:`\\lambda` = events / months at risk) with its exact Poisson interval
        ``churn_ci_low``/``churn_ci_high``, ``retention`` :math:`r = e^{-\\lambda}`,
        ``monthly_value`` (mean), ``estimate`` (the CLV), ``ci_low``, ``ci_high``, ``level``
        and ``flag``.

    Notes
    -----
    .. math::

        \\mathrm{CLV} = \\frac{m\\,r}{1 + i - r}

    (:func:`cxroi.metrics.money.retention_clv`). The interval combines the ends of the churn
    and value intervals (low value with high churn, high value with low churn), so its
    coverage is at least ``level``.
    """
    _check_frame(frame, ["entry", "duration", "churned", "monthly_value"] + ([by] if by else []))
    if not 0 <= annual_discount_rate < 1:
        raise CxroiError(
            f"annual {param('discount_rate')} must be in [0, 1), got {annual_discount_rate}"
        )
    to_months = TIME_UNITS[time_unit] / TIME_UNITS["month"]
    i = period_discount_rate(annual_discount_rate, "month")
    z = _z(level)
    alpha = 1 - level

    def value(m: float, lam: float) -> float:
        return float(_retention_clv(m, math.exp(-lam), i))

    rows = []
    for name, g in _segments(frame, by):
        n = len(g)
        events = int(g.churned.sum())
        exposure = float((g.duration - g.entry).sum()) * to_months
        lam = events / exposure if exposure > 0 else float("nan")
        lam_lo = stats.chi2.ppf(alpha / 2, 2 * events) / 2 / exposure if events else 0.0
        lam_hi = stats.chi2.ppf(1 - alpha / 2, 2 * events + 2) / 2 / exposure
        m = float(g.monthly_value.mean())
        m_se = float(g.monthly_value.std(ddof=1) / math.sqrt(n)) if n > 1 else float("nan")
        rows.append(
            {
                "segment": name,
                "n": n,
                "churned": events,
                "exposure_months": exposure,
                "monthly_churn": lam,
                "churn_ci_low": lam_lo,
                "churn_ci_high": lam_hi,
                "retention": math.exp(-lam),
                "monthly_value": m,
                "estimate": value(m, lam),
                "ci_low": value(max(m - z * m_se, 0.0), lam_hi),
                "ci_high": value(m + z * m_se, lam_lo),
                "level": level,
                "flag": small_n_flag(n, min_n),
            }
        )
    out = pd.DataFrame(rows)
    small = out.loc[out.flag != "", "segment"].tolist()
    if small:
        warnings.warn(
            f"retention CLV: segment(s) {', '.join(small)} have fewer than {min_n} customers",
            SmallSampleWarning,
            stacklevel=2,
        )
    return out
