"""Moments of truth and pain points: touchpoints ranked by importance crossed with performance.

For touchpoint :math:`t` of a journey map:

- **importance** :math:`I_t`: its driver weight (:func:`cxroi.models.drivers.key_drivers`,
  Johnson's relative weight of one driver: the share of variance it explains) on the
  customer's overall NPS and on churn, each as a share of the touchpoints' total, averaged:
  :math:`I_t = \\tfrac12 (w^{nps}_t / \\sum_u w^{nps}_u + w^{churn}_t / \\sum_u w^{churn}_u)`.
  The driver is the customer's mean CSAT at the touchpoint, over every customer with the
  target: one who gave no CSAT there gets the mean of those who did (no information), so the
  weight is about the share of customers who pass through it times the variance it explains
  among them, and a touchpoint few customers reach explains little of the company's NPS. A
  weight whose sign is the wrong way (higher CSAT, lower NPS or more churn) counts 0.
- **performance**: its CSAT (top-2 share) in the recent window, against its own CSAT before
  it and the mean of the other touchpoints' recent CSAT. The **weakness**
  :math:`W_t = \\max(0,\\ p^{before}_t - p^{recent}_t,\\ \\bar p^{recent}_{-t} - p^{recent}_t)`
  is how far it is below the better of its own past and the rest of the journey, now.
- **score** :math:`I_t W_t` ranks them. A touchpoint whose importance is at least the average
  (:math:`1/K`) is *important*; one whose weakness interval is above 0 is *weak*. Important
  and weak: **pain point**; important and not weak: **moment of truth**.
- **money at stake**: the customers it reached in the recent window, times the weakness,
  times the CLV a customer satisfied there keeps over one who is not:
  :math:`n_t W_t (\\mathrm{CLV}(m_t, e^{-\\lambda^{sat}_t}) - \\mathrm{CLV}(m_t,
  e^{-\\lambda^{unsat}_t}))`, with :math:`\\lambda` the churns per year of exposure of the
  customers whose mean CSAT there is top-2 or not and :math:`m_t` their annual margin
  (revenue less cost to serve per year of exposure); never negative. This is the association
  of the touchpoint's perception with churn, not adjusted for who passes through it.
  Interval: percentiles of draws of the two hazards (normal on the log scale, standard error
  :math:`1/\\sqrt{\\text{churns}}`) and of the weakness (normal).

Written here because no library ranks touchpoints; the driver weights are the key driver
model's and the CLV is :func:`cxroi.metrics.money.retention_clv`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from cxroi.metrics.money import retention_clv
from cxroi.models.drivers import key_drivers

__all__ = ["KINDS", "importance", "pain_point_table", "satisfied_value"]

KINDS = {
    (True, True): "pain point",
    (True, False): "moment of truth",
    (False, True): "weak spot",
    (False, False): "fine",
}
"""(important, weak) -> kind."""

_TARGETS = (("nps", "nps_overall", "+"), ("churn", "churned", "-"))


def importance(
    frame: pd.DataFrame,
    touchpoints: Sequence[str],
    *,
    min_n: int = 30,
    n_boot: int = 200,
    level: float = 0.95,
    random_state: int = 0,
) -> pd.DataFrame:
    """Each touchpoint's driver weight on overall NPS and on churn.

    ``frame`` is one row per customer with ``nps_overall``, ``churned`` and
    ``csat:<touchpoint>``. Returns ``touchpoint``, ``nps_weight``, ``nps_ci_low``,
    ``nps_ci_high``, ``nps_n`` (the customers with both a CSAT there and the target),
    ``nps_sign`` and the same for ``churn``.
    """
    rows = []
    for tp in touchpoints:
        col = f"csat:{tp}"
        row: dict[str, Any] = {"touchpoint": tp}
        for key, target, expected in _TARGETS:
            row |= {f"{key}_weight": np.nan, f"{key}_ci_low": np.nan,
                    f"{key}_ci_high": np.nan, f"{key}_n": 0, f"{key}_sign": ""}  # fmt: skip
            if col not in frame.columns or target not in frame.columns:
                continue
            d = frame.loc[frame[target].notna(), [target, col]].astype(float)
            answered = int(d[col].notna().sum())
            d[col] = d[col].fillna(d[col].mean())
            if answered < max(min_n, 3) or not (d[col].std() > 0 and d[target].std() > 0):
                row[f"{key}_n"] = answered
                continue
            r = key_drivers(
                d, target, [col], n_boot=n_boot, random_state=random_state, level=level,
                min_n=min_n,
            ).iloc[0]  # fmt: skip
            right = r["sign"] == expected
            row |= {
                f"{key}_weight": float(r["weight"]) if right else 0.0,
                f"{key}_ci_low": float(r["ci_low"]) if right else 0.0,
                f"{key}_ci_high": float(r["ci_high"]) if right else 0.0,
                f"{key}_n": answered,
                f"{key}_sign": str(r["sign"]),
            }
        rows.append(row)
    return pd.DataFrame(rows)


def satisfied_value(frame: pd.DataFrame, touchpoints: Sequence[str]) -> pd.DataFrame:
    """Per touchpoint, over the customers with a CSAT there: churns and years of exposure of
    the satisfied (mean CSAT >= 4) and the others, and their annual ``margin``.

    ``frame`` holds ``churned``, ``exposure_years``, ``revenue``, ``support_cost`` and
    ``csat:<touchpoint>`` per customer.
    """
    rows = []
    for tp in touchpoints:
        col = f"csat:{tp}"
        row: dict[str, Any] = {"touchpoint": tp}
        if col not in frame.columns:
            rows.append(row)
            continue
        d = frame[frame[col].notna()]
        sat = d[col].to_numpy(float) >= 4
        churned = d["churned"].to_numpy(float)
        years = d["exposure_years"].to_numpy(float)
        for name, m in (("sat", sat), ("unsat", ~sat)):
            row[f"churns_{name}"] = float(churned[m].sum())
            row[f"years_{name}"] = float(years[m].sum())
        margin = d["revenue"].to_numpy(float) - d["support_cost"].to_numpy(float)
        row["margin"] = float(np.nansum(margin) / years.sum()) if years.sum() > 0 else np.nan
        rows.append(row)
    return pd.DataFrame(rows)


def _clv(margin: float, hazard: np.ndarray, discount_rate: float) -> np.ndarray:
    with np.errstate(over="ignore", invalid="ignore"):
        return np.asarray(retention_clv(margin, np.exp(-hazard), discount_rate), float)


def pain_point_table(
    perf: pd.DataFrame,
    weights: pd.DataFrame,
    value: pd.DataFrame,
    *,
    discount_rate: float = 0.10,
    min_n: int = 30,
    level: float = 0.95,
    n_draws: int = 1000,
    random_state: int = 0,
) -> pd.DataFrame:
    """The touchpoints ranked by score (see the module docstring).

    Parameters
    ----------
    perf
        Per touchpoint in map order: ``touchpoint``, ``csat_before`` and ``csat_recent``
        (top-2 shares, 0-1), ``n_before``, ``n_recent`` (answers) and ``reach`` (customers
        of its events in the recent window).
    weights
        :func:`importance`.
    value
        :func:`satisfied_value`.

    Returns
    -------
    pandas.DataFrame
        ``perf``'s columns, then ``reference`` (the other touchpoints' mean recent CSAT),
        ``change``, ``weakness`` with ``weakness_ci_low``/``weakness_ci_high``, the weights,
        ``importance``, ``score``, ``kind``, ``rank`` (missing where no answer in the recent
        window measures it), ``estimate`` (money at stake) with ``ci_low``/``ci_high``.
    """
    z = float(stats.norm.ppf(0.5 + level / 2))
    t = perf.merge(weights, on="touchpoint", how="left").merge(value, on="touchpoint",
                                                             how="left")  # fmt: skip
    pb, pr = t["csat_before"].to_numpy(float), t["csat_recent"].to_numpy(float)
    nb, nr = t["n_before"].to_numpy(float), t["n_recent"].to_numpy(float)
    measured = nr >= max(min_n, 1)
    k = int(measured.sum())
    ref = np.full(len(t), np.nan)
    for i in range(len(t)):
        others = measured.copy()
        others[i] = False
        ref[i] = pr[others].mean() if others.any() else np.nan
    with np.errstate(divide="ignore", invalid="ignore"):
        var_r = pr * (1 - pr) / nr
        var_b = np.where(nb > 0, pb * (1 - pb) / nb, np.nan)
    trend, versus = pb - pr, ref - pr
    use_trend = np.nan_to_num(trend, nan=-np.inf) >= np.nan_to_num(versus, nan=-np.inf)
    gap = np.where(use_trend, trend, versus)
    se = np.sqrt(np.where(use_trend, var_b + var_r, var_r))
    weakness = np.where(measured, np.maximum(np.nan_to_num(gap, nan=0.0), 0.0), np.nan)
    t["reference"] = ref
    t["change"] = pr - pb
    t["weakness"] = weakness
    t["weakness_ci_low"] = np.where(measured, gap - z * se, np.nan)
    t["weakness_ci_high"] = np.where(measured, gap + z * se, np.nan)
    imp = np.zeros(len(t))
    parts = 0
    for key in ("nps", "churn"):
        w = np.where(measured, np.nan_to_num(t[f"{key}_weight"].to_numpy(float)), 0.0)
        if w.sum() > 0:
            imp += w / w.sum()
            parts += 1
    t["importance"] = np.where(measured, imp / max(parts, 1), np.nan)
    t["score"] = t["importance"] * t["weakness"] * 100.0
    important = t["importance"].to_numpy(float) >= 1.0 / max(k, 1) - 1e-12
    weak = np.nan_to_num(t["weakness_ci_low"].to_numpy(float)) > 0
    t["kind"] = [KINDS[(bool(a), bool(b))] if m else "not measured"
                 for a, b, m in zip(important, weak, measured, strict=True)]  # fmt: skip
    order = t["score"].rank(method="first", ascending=False)
    t["rank"] = order.astype("Int64")
    est, lo, hi = _money(t, weakness, se, discount_rate, level, n_draws, random_state)
    t["estimate"], t["ci_low"], t["ci_high"] = est, lo, hi
    return t.sort_values(["rank"], na_position="last", kind="stable").reset_index(drop=True)


def _money(
    t: pd.DataFrame,
    weakness: np.ndarray,
    se: np.ndarray,
    discount_rate: float,
    level: float,
    n_draws: int,
    random_state: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(random_state)
    alpha = (1 - level) / 2
    est, lo, hi = (np.full(len(t), np.nan) for _ in range(3))
    for i, r in enumerate(t.itertuples(index=False)):
        if not np.isfinite(weakness[i]) or not np.isfinite(getattr(r, "margin", np.nan)):
            continue
        cs, ys = float(r.churns_sat), float(r.years_sat)
        cu, yu = float(r.churns_unsat), float(r.years_unsat)
        if min(ys, yu) <= 0 or min(cs, cu) <= 0:
            continue
        ls = np.log(cs / ys) + np.r_[0.0, rng.normal(0, 1 / np.sqrt(cs), n_draws)]
        lu = np.log(cu / yu) + np.r_[0.0, rng.normal(0, 1 / np.sqrt(cu), n_draws)]
        w = np.maximum(weakness[i] + np.r_[0.0, rng.normal(0, se[i], n_draws)], 0.0)
        w = np.nan_to_num(w)
        gain = _clv(r.margin, np.exp(ls), discount_rate) - _clv(r.margin, np.exp(lu),
                                                                   discount_rate)  # fmt: skip
        money = float(r.reach) * w * np.maximum(np.nan_to_num(gain), 0.0)
        est[i] = money[0]
        lo[i], hi[i] = np.quantile(money[1:], [alpha, 1 - alpha])
    return est, lo, hi
