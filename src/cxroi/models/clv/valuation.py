"""Lifetime value from the two models: expected discounted spend over a horizon.

:func:`clv` multiplies the Gamma-Gamma expected spend per transaction by the BG/NBD expected
purchases of each future period, each discounted to the end of its period
(:func:`discounted_purchases`).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

from cxroi.errors import CxroiError, param
from cxroi.models._mle import _validate_rft, compress

if TYPE_CHECKING:
    from cxroi.models.clv.bgnbd import BetaGeo
    from cxroi.models.clv.gammagamma import GammaGamma

__all__ = ["clv", "discounted_purchases"]


def clv(
    beta_geo: BetaGeo,
    gamma_gamma: GammaGamma,
    frequency: object,
    recency: object,
    T: object,
    monetary_value: object,
    *,
    horizon: float,
    discount_rate: float = 0.0,
    step: float = 1.0,
) -> np.ndarray:
    """Expected discounted spend of each customer over the next ``horizon`` time units.

    Parameters
    ----------
    beta_geo, gamma_gamma
        Fitted models.
    frequency, recency, T, monetary_value
        Per-customer calibration summary (``monetary_value`` may be NaN where frequency is 0).
    horizon : float
        Length of the future period, in the time unit of ``T``.
    discount_rate : float, default 0
        Discount rate per time unit (convert an annual rate ``R`` with
        :func:`cxroi.metrics.money.period_discount_rate`, e.g. ``(R, "week")``).
    step : float, default 1
        Length of a discounting period; purchases in a period are discounted to its end.

    Returns
    -------
    ndarray
        CLV per customer, in the currency of ``monetary_value``.

    Notes
    -----
    .. math::

        \\mathrm{CLV} = E[Z\\mid x,\\bar z]\\sum_{k=1}^{K}
            \\frac{E[Y(k\\,s)] - E[Y((k-1)\\,s)]}{(1+d)^{k s}}

    with :math:`s` the step, :math:`K = \\lceil \\text{horizon}/s \\rceil` (the last period ends
    at the horizon) and :math:`E[Y(\\cdot)]` the BG/NBD conditional expectation.
    """
    x, tx, big_t = _validate_rft(frequency, recency, T)
    spend = gamma_gamma.conditional_expected_average_value(x, monetary_value)
    purchases = discounted_purchases(
        beta_geo, x, tx, big_t, horizon=horizon, discount_rate=discount_rate, step=step
    )
    return purchases * spend


def discounted_purchases(
    beta_geo: BetaGeo,
    frequency: object,
    recency: object,
    T: object,
    *,
    horizon: float,
    discount_rate: float = 0.0,
    step: float = 1.0,
) -> np.ndarray:
    """Expected purchases over the next ``horizon``, each discounted to the end of its period.

    The sum in :func:`clv` without the spend factor; parameters as there.

    Returns
    -------
    ndarray
        Discounted expected purchases per customer.
    """
    if not horizon > 0 or not step > 0:
        raise CxroiError(
            f"{param('horizon')} and {param('step')} must be positive, got {horizon} and {step}"
        )
    if not 0 <= discount_rate < 1:
        raise CxroiError(
            f"{param('discount_rate')} must be in [0, 1) per time unit, got {discount_rate}"
        )
    x, tx, big_t = _validate_rft(frequency, recency, T)
    (ux, utx, ut), _, inv = compress(x, tx, big_t)
    ends = np.minimum(np.arange(1, math.ceil(horizon / step - 1e-9) + 1) * step, horizon)
    total = np.zeros(ux.size)
    previous = np.zeros(ux.size)
    for end in ends:
        cum = beta_geo.conditional_expected_purchases(end, ux, utx, ut)
        total += (cum - previous) / (1.0 + discount_rate) ** end
        previous = cum
    return total[inv]
