"""ROI by maturity level: ``cxroi roi compare --by level``.

The brief asks not "what is the ROI of customer experience" but "what is the ROI of each way
of doing it": efficiency, excellence, product innovation, experience innovation. Every
initiative of the register with a month of data after launch is measured
(:func:`cxroi.analyses.roi_measure.roi_measure`); the levels are then summarised:

* **NPS effect of the level**: the mean of its initiatives' measured effects, with a
  t interval across the initiatives (k - 1 degrees of freedom). With two initiatives that
  interval is wide on purpose: it says what the level returns in general, and two examples
  say little. With one there is no interval across initiatives; the row carries the
  initiative's own 95% interval and says so in ``flag``.
* **ROI of the level**: total realised NPV over total cost of its initiatives, the interval
  from the initiatives' NPV bands (normal approximation, independent initiatives).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from cxroi._types import WorkspaceLike
from cxroi.analyses.initiatives import register_frame
from cxroi.analyses.roi_measure import roi_measure
from cxroi.errors import CxroiError, first_line
from cxroi.results import Result, Table, estimate_frame, format_cell
from cxroi.schema import MATURITY_LEVELS
from cxroi.window import Window

__all__ = ["roi_compare"]

Z95 = 1.959963984540054


def _measured(ws: WorkspaceLike) -> tuple[pd.DataFrame, list[str]]:
    rows, skipped = [], []
    for rec in register_frame(ws).itertuples():
        try:
            r = roi_measure(ws, rec.initiative_id, draws=1000)
        except CxroiError as err:
            skipped.append(f"{rec.initiative_id}: {first_line(err)}")
            continue
        e = r.table("effects").set_index("metric")
        money = r.table("roi").set_index("quantity")
        rows.append(
            {
                "initiative_id": rec.initiative_id,
                "name": rec.name,
                "level": rec.level,
                "nps_effect": e.loc["nps_points", "estimate"],
                "nps_low": e.loc["nps_points", "ci_low"],
                "nps_high": e.loc["nps_points", "ci_high"],
                "churn_hr": e.loc["churn_hazard_ratio", "estimate"],
                "churn_hr_low": e.loc["churn_hazard_ratio", "ci_low"],
                "churn_hr_high": e.loc["churn_hazard_ratio", "ci_high"],
                "npv": money.loc["npv", "estimate"],
                "npv_low": money.loc["npv", "ci_low"],
                "npv_high": money.loc["npv", "ci_high"],
                "cost": money.loc["cost", "estimate"],
                "roi": money.loc["roi", "estimate"],
                "months": r.params["horizon_months"],
                "warnings": len(r.warnings),
            }
        )
    return pd.DataFrame(rows), skipped


def _level_row(level: str, g: pd.DataFrame) -> dict[str, Any]:
    k = len(g)
    row: dict[str, Any] = {"level": level, "initiatives": k}
    if k == 0:
        return row | {"nps_effect": np.nan, "roi": np.nan, "npv": np.nan, "cost": np.nan,
                      "flag": "no-data"}  # fmt: skip
    mean = float(g["nps_effect"].mean())
    if k >= 2:
        half = float(stats.t.ppf(0.975, k - 1) * g["nps_effect"].std(ddof=1) / np.sqrt(k))
        lo, hi, flag = mean - half, mean + half, ""
    else:
        lo, hi, flag = float(g["nps_low"].iloc[0]), float(g["nps_high"].iloc[0]), "one-initiative"
    npv, cost = float(g["npv"].sum()), float(g["cost"].sum())
    se = float(np.sqrt((((g["npv_high"] - g["npv_low"]) / (2 * Z95)) ** 2).sum()))
    return row | {
        "nps_effect": mean, "nps_low": lo, "nps_high": hi, "npv": npv, "cost": cost,
        "roi": npv / cost if cost > 0 else np.nan,
        "roi_low": (npv - Z95 * se) / cost if cost > 0 else np.nan,
        "roi_high": (npv + Z95 * se) / cost if cost > 0 else np.nan, "flag": flag,
    }  # fmt: skip


def roi_compare(ws: WorkspaceLike, *, by: str = "level") -> Result:
    """Realised NPS effect and ROI of the register's initiatives, by maturity level.

    Returns
    -------
    Result
        Table ``levels`` (one row per maturity level, all four always: initiatives, mean NPS
        effect with its interval across initiatives, total NPV and cost, pooled ROI with its
        interval) and table ``initiatives`` (each initiative's measured values).
    """
    if by != "level":
        raise CxroiError(f"roi compare groups by level only, not {by!r}")
    per, skipped = _measured(ws)
    if per.empty:
        raise CxroiError(
            "no initiative has a month of data after launch to measure"
            + (f" ({'; '.join(skipped)})" if skipped else "")
        )
    rows = [_level_row(lv, per[per["level"] == lv]) for lv in MATURITY_LEVELS]
    levels = pd.DataFrame(rows)
    levels = levels.rename(columns={"nps_effect": "estimate", "nps_low": "ci_low",
                                    "nps_high": "ci_high"})  # fmt: skip
    levels["n"] = levels["initiatives"]
    levels = estimate_frame(levels, level=0.95, no_interval="no-data")
    readings = []
    for r in rows:
        if r["initiatives"] == 0:
            readings.append(f"{r['level']}: no initiative measured, so nothing can be said.")
            continue
        words = (
            "one initiative: its own interval, nothing general"
            if r["initiatives"] == 1
            else f"{r['initiatives']} initiatives: the interval across them is wide, read it "
            "as indicative"
        )
        readings.append(
            f"{r['level']}: NPS {r['nps_effect']:+.1f} points (95% {r['nps_low']:+.1f} to "
            f"{r['nps_high']:+.1f}), ROI {r['roi']:.2f} on {format_cell(r['cost'])} spent "
            f"({words})."
        )
    best = max((r for r in rows if r["initiatives"]), key=lambda r: r["roi"])
    readings.append(
        f"Highest realised ROI so far: {best['level']} ({best['roi']:.2f}); the levels' "
        "intervals overlap unless stated by their bounds, so rank them with care."
    )
    method = (
        "each initiative measured by roi measure (imputation DiD for NPS and spend, hazard "
        "DiD for churn, realised ROI over the months since launch); level NPS effect: mean "
        "across its initiatives with a t interval (k - 1 df); level ROI: total NPV / total "
        "cost, interval from the initiatives' NPV bands"
    )
    return Result(
        "roi_compare",
        "ROI by maturity level",
        [
            Table(
                "levels",
                "Realised NPS effect and ROI by maturity level",
                levels,
                method=method,
                view=[
                    "level",
                    "initiatives",
                    "estimate",
                    "ci_low",
                    "ci_high",
                    "roi",
                    "roi_low",
                    "roi_high",
                    "flag",
                ],
            ),
            Table("initiatives", "Each initiative as measured", per, kind="data"),
        ],  # fmt: skip
        method=method,
        window=Window.resolve(ws.tables).as_dict(),
        params={"by": by, "measured": len(per), "skipped": skipped},
        warnings=[f"not measured: {s}" for s in skipped],
        readings=readings,
    )
