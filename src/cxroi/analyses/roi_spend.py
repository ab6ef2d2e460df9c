"""The spend to come of an initiative's customers, for ``cxroi roi simulate``.

Spend is not held at its level before: customers stop buying as time goes on (purchase
dropout), the heavier buyers sooner, so spend per customer falls even among those who stay,
fast at first and then more slowly. Each customer's expected purchases in each month of the
horizon come from the BG/NBD model (:class:`cxroi.models.clv.BetaGeo`: Poisson purchases while
buying, a chance of stopping for good after each purchase) fitted on the purchases before that
day of the customers then active, given the customer's own purchases before it; times their
mean spend per purchase day, that is their expected spend per month alive
(:func:`expected_spend`). The customers' margin follows it, and the spend effect, a multiple of
spend, moves with it.
"""

from __future__ import annotations

import datetime as dt
import warnings

import numpy as np
import pandas as pd

from cxroi._types import WorkspaceLike
from cxroi.errors import CxroiError
from cxroi.models.clv import BetaGeo, ConvergenceWarning
from cxroi.models.ledger import customer_ledger
from cxroi.models.rfm import rfm_summary

__all__ = ["PURCHASE_UNIT", "expected_spend", "purchase_model", "spend_path"]

PURCHASE_UNIT = "month"
"""The BG/NBD model's time unit (:data:`cxroi.models.rfm.TIME_UNITS`): months of the horizon."""


def purchase_model(ws: WorkspaceLike, day: dt.date) -> tuple[BetaGeo, pd.DataFrame]:
    """The BG/NBD model of the purchases before ``day``, and each customer's summary.

    Fitted on the customers active on ``day`` (started before it, not churned before it): a
    customer who left stopped buying because they left, which is not the purchase dropout of
    a customer who stays. The summary of those customers (:func:`cxroi.models.rfm.rfm_summary`:
    purchase days, times in :data:`PURCHASE_UNIT`) comes with ``value``, their mean spend per
    purchase day before ``day``. Summed in the engine; raises
    :class:`~cxroi.errors.CxroiError` when the model cannot be fitted (no repeat purchase).
    """
    import ibis

    cal = day - dt.timedelta(days=1)
    led = customer_ledger(ws.tables)
    on = ibis.literal(day)
    live = led.filter((led.entry < on) & ((led.churned == 0) | (led.exit >= on)))
    tx = ws.table("transactions")
    tx = tx.filter(tx.customer_id.notnull() & (tx.amount >= 0) & (tx.ts.date() <= cal))
    total = tx.group_by("customer_id").aggregate(total=tx.amount.sum().cast("float64"))
    rfm = rfm_summary(tx, calibration_end=cal, time_unit=PURCHASE_UNIT)
    rfm = rfm.inner_join(live.select("customer_id"), "customer_id")
    rfm = rfm.inner_join(total, "customer_id")
    df = rfm.select("customer_id", "frequency", "recency", "T", "total").to_pandas()
    if df.empty:
        raise CxroiError(f"no customer active on {day} made a purchase before it")
    df = df.sort_values("customer_id", ignore_index=True)
    df["value"] = df["total"] / (df["frequency"] + 1)
    model = BetaGeo().fit(df["frequency"], df["recency"], df["T"])
    return model, df.drop(columns="total")


def expected_spend(model: BetaGeo, summary: pd.DataFrame, horizon_months: int) -> np.ndarray:
    r"""Each customer's expected spend in each month after the model's calibration end.

    .. math:: q_i(t) = v_i \big(E[Y_i(t) \mid x_i, t_{x,i}, T_i]
        - E[Y_i(t-1) \mid x_i, t_{x,i}, T_i]\big), \quad t = 1, \dots, H

    the BG/NBD expected purchase days in month :math:`t`
    (:meth:`cxroi.models.clv.BetaGeo.conditional_expected_purchases`, months in
    :data:`PURCHASE_UNIT`) times the customer's mean spend per purchase day :math:`v_i`;
    ``(customers, months)`` in the order of ``summary`` (``frequency``, ``recency``, ``T``,
    ``value``).
    """
    x, tx, big_t = (summary[c].to_numpy(float) for c in ("frequency", "recency", "T"))
    cum = [np.zeros(len(summary))]
    cum += [model.conditional_expected_purchases(k, x, tx, big_t)
            for k in range(1, horizon_months + 1)]  # fmt: skip
    return np.diff(np.column_stack(cum), axis=1) * summary["value"].to_numpy(float)[:, None]


def spend_path(
    ws: WorkspaceLike, day: dt.date, before: pd.DataFrame, weights: np.ndarray,
    horizon_months: int, warn: list[str],
) -> np.ndarray | None:  # fmt: skip
    """The active customers' expected spend per month alive in each month after ``day``, one
    row per bootstrap draw (``weights`` over the rows of ``before``: the customers with months
    before it), or ``None`` (spend held at its level before, with a warning) when the purchase
    model cannot be fitted. A poorly determined model is said in a warning too."""
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", ConvergenceWarning)
            model, summary = purchase_model(ws, day)
    except CxroiError as err:
        warn.append(f"spend held at its level before {day}: {err}")
        return None
    for w in caught:
        if issubclass(w.category, ConvergenceWarning):
            warn.append(f"the purchase model of the spend to come: {w.message}")
        else:
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    active = before["active"].to_numpy() > 0
    where = pd.Series(np.arange(len(summary)), index=summary["customer_id"])
    at = where.reindex(before["customer_id"]).to_numpy()  # the row of the summary, or nan
    has = active & ~np.isnan(at)
    q = np.zeros((len(before), horizon_months))
    q[has] = expected_spend(model, summary, horizon_months)[at[has].astype(int)]
    with np.errstate(divide="ignore", invalid="ignore"):
        return (weights @ q) / (weights @ active.astype(float))[:, None]
