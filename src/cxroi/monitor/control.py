"""Control bands and shift rules for a metric's series (statistical process control).

Two kinds of band, chosen by whether the points carry their own standard error:

The centre comes from the points before each point (a trailing ``window``), so a point is
judged against its recent past and cannot hide itself.

- **Estimates** (NPS, CSAT, CES, churn, averages: rows with an interval). The centre is the
  ``n``-weighted mean of the reference points and each point gets its own limits from its
  standard error, as in a p-chart:

  .. math::

      \\bar v_{ref} \\pm k\\sqrt{se_t^2 + \\textstyle\\sum_j w_j^2 se_j^2},\\qquad
      se_t = (\\text{ci\\_high}_t - \\text{ci\\_low}_t) / (2 z),\\quad w_j = n_j / \\sum n

- **Totals and counts** (revenue, active customers: rows without an interval). An individuals
  (XmR) chart: centre = mean of the reference points, :math:`\\sigma = \\overline{MR}/1.128`
  from their mean moving range, limits :math:`\\bar v_{ref} \\pm k\\sigma`.

Shift rule (Western Electric rule 2 / Nelson rule 2): ``run`` consecutive points on the same
side of the centre line signal a sustained shift.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from cxroi.errors import CxroiError

__all__ = ["control_band", "shift_runs"]


def control_band(
    series: pd.DataFrame,
    *,
    sigma: float = 3.0,
    window: int | None = 6,
    level: float = 0.95,
    min_n: int = 1,
) -> pd.DataFrame:
    """Add ``centre``, ``lower``, ``upper`` and ``outside`` to one metric's series.

    Parameters
    ----------
    series
        Rows of one metric and one group, in period order, with ``value``, ``n`` and
        (for estimates) ``ci_low``/``ci_high`` at confidence ``level``.
    sigma
        Width of the band in standard errors (3 is the Shewhart convention).
    window
        The centre (and, for totals, the moving range) comes from the ``window`` usable points
        before each point: a point is judged against its recent past, so slow trends do not
        flag every point. ``None``: all other points of the series (leave-one-out). At least
        3 earlier points are needed for a band.
    level
        Confidence level of the input intervals (to recover the standard errors).
    min_n
        Points with fewer observations (or a null value) get no band and never alert.

    Returns
    -------
    pandas.DataFrame
        ``series`` with ``centre``, ``lower``, ``upper`` and ``outside`` (``"above"``,
        ``"below"`` or null).
    """
    for col in ("value", "n"):
        if col not in series:
            raise CxroiError(f"control_band: the series needs a {col!r} column")
    if window is not None and window < 3:
        raise CxroiError(f"control_band: window must be at least 3 periods, got {window}")
    out = series.copy()
    v = out["value"].to_numpy(dtype="float64")
    n = out["n"].to_numpy(dtype="float64")
    ok = np.isfinite(v) & (n >= min_n)
    se = np.full(len(v), np.nan)
    if "ci_low" in out:
        z = stats.norm.ppf(0.5 + level / 2)
        se = out["ci_high"].to_numpy(dtype="float64") - out["ci_low"].to_numpy(dtype="float64")
        se = se / (2 * z)
    estimate = bool(np.isfinite(se[ok]).any())
    if estimate:
        ok &= np.isfinite(se)
    idx = np.flatnonzero(ok)
    centre = np.full(len(v), np.nan)
    half = np.full(len(v), np.nan)
    for pos, i in enumerate(idx):
        ref = idx[max(0, pos - window) : pos] if window is not None else np.delete(idx, pos)
        if len(ref) < 3:
            continue
        if estimate:
            w = n[ref] / n[ref].sum()
            centre[i] = (w * v[ref]).sum()
            # The band carries the point's sampling error and the centre's own.
            half[i] = sigma * np.sqrt(se[i] ** 2 + (w**2 * se[ref] ** 2).sum())
        else:
            centre[i] = v[ref].mean()
            half[i] = sigma * np.abs(np.diff(v[ref])).mean() / 1.128
    out["centre"] = centre
    out["lower"] = centre - half
    out["upper"] = centre + half
    with np.errstate(invalid="ignore"):
        above = ok & (v > out["upper"].to_numpy())
        below = ok & (v < out["lower"].to_numpy())
    outside = np.full(len(v), None, dtype=object)
    outside[above], outside[below] = "above", "below"
    out["outside"] = outside
    return out


def shift_runs(values: pd.Series | np.ndarray, centre: float, *, run: int = 8) -> np.ndarray:
    """Mark the points that complete ``run`` consecutive values on one side of ``centre``.

    Returns
    -------
    numpy.ndarray
        ``+1`` where a run above ends (or continues) at that point, ``-1`` for a run below,
        ``0`` elsewhere. Null values break a run.
    """
    if run < 2:
        raise CxroiError(f"a shift run needs at least 2 points, got {run}")
    v = np.asarray(values, dtype="float64")
    side = np.sign(np.where(np.isfinite(v), v - centre, 0.0))
    out = np.zeros(len(v), dtype="int64")
    count = 0
    for i, s in enumerate(side):
        count = count + 1 if s != 0 and i > 0 and s == side[i - 1] else (1 if s != 0 else 0)
        if count >= run:
            out[i] = int(s)
    return out
