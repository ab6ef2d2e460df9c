"""Behaviour: churn of subscription contracts and repeat purchasing with Gamma spend."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats

from cxroi.simulate import params as P
from cxroi.simulate.columns import NULL
from cxroi.simulate.customers import DAY, Calendar, CustomerBlock, draw_categorical
from cxroi.simulate.initiatives import EffectTally, Latent, nps_group, nps_score
from cxroi.simulate.support import expand_months

__all__ = ["Churn", "PRODUCTS", "expected_purchases", "simulate_churn", "transactions", "windows"]

PRODUCTS: tuple[str, ...] = ("essentials", "accessories", "premium_line", "services", "gifts")
_PRODUCT_MIX = {
    "price_sensitive": (0.55, 0.25, 0.02, 0.10, 0.08),
    "loyal_high_value": (0.20, 0.20, 0.35, 0.15, 0.10),
    "digital_self_service": (0.35, 0.30, 0.10, 0.20, 0.05),
    "at_risk_complainer": (0.40, 0.25, 0.10, 0.15, 0.10),
    "occasional_browser": (0.30, 0.25, 0.05, 0.10, 0.30),
}
TX_CHANNELS: tuple[str, ...] = ("web", "app", "store")


def windows(
    block: CustomerBlock, cal: Calendar, end_s: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """``(n, months)`` epoch-second windows ``[lo, hi)`` in which each customer is active."""
    b = cal.bounds
    lo = np.maximum(b[None, :-1], block.signup_s[:, None])
    hi = np.broadcast_to(b[None, 1:], lo.shape)
    if end_s is not None:
        hi = np.minimum(hi, np.where(end_s == NULL, cal.end, end_s)[:, None])
    return lo, np.maximum(hi, lo)


@dataclass
class Churn:
    """Churn month per customer (``months`` if none) and end time (:data:`NULL` if active)."""

    month: np.ndarray
    end_s: np.ndarray


def simulate_churn(
    rng: np.random.Generator,
    block: CustomerBlock,
    cal: Calendar,
    latent: Latent,
    s: np.ndarray,
    group: np.ndarray,
    slow_month: np.ndarray,
    tallies: list[EffectTally],
    penalty: np.ndarray | None = None,
) -> Churn:
    """Monthly churn: the first month in which a Bernoulli draw with the hazard succeeds.

    .. math:: h_{im} = h_0 \\, HR_{g_{im}} \\, HR_{slow}^{slow_{i,m-1}} \\, f_{a(i)}
        \\, HR_{held}^{held_{im}} \\, f_{niche}^{niche_i}

    ``penalty`` marks the customer-months within the window after a held-out case.
    """
    n, months = group.shape
    m = np.arange(months)
    at_risk = m[None, :] > block.first_month[:, None]
    hr_group = np.array([P.NPS_GROUP_HAZARD_RATIO[g] for g in P.NPS_GROUPS])
    factor = np.array([a["churn_factor"] for a in P.ARCHETYPES.values()])[block.archetype]
    if block.niche is not None:
        factor = factor * np.where(block.niche, P.PLANTED_NICHE["churn_factor"], 1.0)
    slow_prev = np.zeros_like(slow_month)
    slow_prev[:, 1:] = slow_month[:, :-1]
    base = (
        P.BASE_MONTHLY_CHURN
        * factor[:, None]
        * np.where(slow_prev, P.SLOW_RESPONSE_HAZARD_RATIO, 1)
    )
    if penalty is not None:
        base = base * np.where(penalty, P.NOT_FOLLOWED_UP_HAZARD_RATIO, 1.0)
    h = base * hr_group[group]
    flag = at_risk & (rng.random((n, months)) < h)
    churned = flag.any(axis=1)
    month = np.where(churned, flag.argmax(axis=1), months)
    b = cal.bounds
    mm = np.minimum(month, months - 1)
    dim = (b[mm + 1] - b[mm]) // DAY
    day = 1 + np.floor(rng.random(n) * (dim - 1)).astype(np.int64)
    end_s = np.where(churned, b[mm] + day * DAY, NULL)
    exposed = at_risk & (m[None, :] <= month[:, None])
    for t in tallies:
        j = t.j
        cells = exposed & latent.targeted[:, j][:, None] & (m[None, :] >= latent.starts[j])
        if not cells.any():
            continue
        g_cf = nps_group(nps_score(s[cells] - latent.lift(j)))
        t.add_hazard(h[cells], base[cells] * hr_group[g_cf])
        _expected_spend(t, block, cal, latent, s, group, h, base, at_risk, month)
    return Churn(month=month, end_s=end_s)


def expected_purchases(rate: np.ndarray, dropout_after: np.ndarray) -> np.ndarray:
    """Expected purchases of each month under purchase dropout, ``(n, months)``.

    ``rate`` is each month's Poisson mean of purchases, ``dropout_after`` the purchases after
    which each customer stops buying (as :func:`transactions` clips the draws). The purchases
    before month :math:`m` are :math:`\\min(U_m, D)` with :math:`U_m` Poisson of the summed
    rates :math:`\\Lambda_m` of the months before, so month :math:`m` brings
    :math:`E\\min(U_{m+1}, D) - E\\min(U_m, D)`, where

    .. math:: E \\min(U, D) = \\Lambda - \\Lambda \\, P(U \\ge D - 1) + D \\, P(U \\ge D)

    (:math:`E[U; U \\ge D] = \\Lambda P(U \\ge D - 1)` for a Poisson :math:`U`).

    Examples
    --------
    >>> rate = np.array([[1.0, 1.0, 1.0]])
    >>> expected_purchases(rate, np.array([10**6])).round(6).tolist()  # no dropout in reach
    [[1.0, 1.0, 1.0]]
    >>> expected_purchases(rate, np.array([1])).round(4).tolist()  # stops after one purchase
    [[0.6321, 0.2325, 0.0855]]
    """
    cum = np.concatenate([np.zeros((rate.shape[0], 1)), np.cumsum(rate, axis=1)], axis=1)
    d = np.asarray(dropout_after, dtype=np.float64)[:, None]
    capped = cum - cum * stats.poisson.sf(d - 2, cum) + d * stats.poisson.sf(d - 1, cum)
    return np.diff(capped, axis=1)


def _spend_rate(
    block: CustomerBlock, rows: np.ndarray, group: np.ndarray, share: np.ndarray
) -> np.ndarray:
    """Expected transaction spend of customers ``rows`` in each month ``(n, months)`` while
    alive, with NPS ``group`` (all months) and ``share`` of each month after signup: the
    month's expected purchases net of purchase dropout times the expected amount."""
    fm = np.array([P.FREQUENCY_MULTIPLIER[g] for g in P.NPS_GROUPS])
    sm = np.array([P.SPEND_MULTIPLIER[g] for g in P.NPS_GROUPS])
    rate = block.purchase_rate[rows, None] * fm[group] * share
    buys = expected_purchases(rate, block.dropout_after[rows])
    return buys * block.mean_amount[rows, None] * sm[group]


def _expected_spend(
    t: EffectTally,
    block: CustomerBlock,
    cal: Calendar,
    latent: Latent,
    s: np.ndarray,
    group: np.ndarray,
    h: np.ndarray,
    base: np.ndarray,
    at_risk: np.ndarray,
    month: np.ndarray,
) -> None:
    """Expected transaction spend of the initiative's customers from launch, with and without it.

    Customers reached and alive at launch (or signing up later) are followed from then on in
    expectation: survival is the product of the monthly hazards, actual and with the
    initiative switched off, and each month alive brings the expected spend of the month's NPS
    group net of purchase dropout: the purchases counted towards a customer's dropout run from
    the start of the data (or the signup) in the NPS groups of each path, so a customer who may
    already have stopped buying adds less, and the more frequent purchases of a happier
    customer bring the dropout forward (:func:`expected_purchases`).
    """
    j = t.j
    start = int(latent.starts[j])
    rows = np.flatnonzero(latent.targeted[:, j] & (month >= start))
    if not rows.size:
        return
    sub = slice(start, None)
    g_cf = nps_group(nps_score(s[rows, sub] - latent.lift(j)))
    risk = at_risk[rows, sub]
    hr_group = np.array([P.NPS_GROUP_HAZARD_RATIO[x] for x in P.NPS_GROUPS])
    h_cf = base[rows, sub] * hr_group[g_cf]
    alive_from = np.arange(start, group.shape[1])[None, :] >= block.first_month[rows, None]

    def survival(hz: np.ndarray) -> np.ndarray:
        hz = np.where(risk, hz, 0.0)
        before = np.cumprod(1 - hz, axis=1) / (1 - hz)  # alive at the start of each month
        return alive_from * (before * (1 - hz / 2))  # half the churn month is spent

    s1, s0 = survival(h[rows, sub]), survival(h_cf)
    lo, hi = windows(block, cal)
    share = (hi[rows] - lo[rows]) / np.diff(cal.bounds)[None, :]  # of each month after signup
    full_cf = group[rows].copy()
    full_cf[:, sub] = g_cf  # before launch both paths are the same
    r1 = _spend_rate(block, rows, group[rows], share)[:, sub]
    r0 = _spend_rate(block, rows, full_cf, share)[:, sub]
    t.add_spend(float((s1 * r1).sum()), float((s0 * r0).sum()), float((s1 * (r1 - r0)).sum()),
                float(s1.sum()), rows.size)  # fmt: skip


def contracts(rng: np.random.Generator, block: CustomerBlock, churn: Churn, cal: Calendar) -> dict:
    """Main plan contract per customer plus an add-on for some; churn ends all of them."""
    n = block.n
    g = block.offset + np.arange(n)
    price = np.array([P.PLAN_PRICES[p] for p in P.PLANS])[block.plan]
    addon = rng.random(n) < P.ADDON_SHARE
    lo = np.maximum(block.signup_s, cal.bounds[0])
    hi = np.where(churn.end_s == NULL, cal.end, churn.end_s)
    addon_start = lo + np.floor(rng.random(n) * (hi - lo) / DAY).astype(np.int64) * DAY
    addon &= addon_start < hi - DAY
    idx = np.flatnonzero(addon)
    return {
        "number": np.concatenate([2 * g + 1, 2 * g[idx] + 2]),
        "customer": np.concatenate([g, g[idx]]),
        "start": np.concatenate([block.signup_s, addon_start[idx]]),
        "value": np.round(
            np.concatenate([price * (1 - block.discount), np.full(idx.size, P.ADDON_PRICE)]), 2
        ),
        "end": np.concatenate([churn.end_s, churn.end_s[idx]]),
        "plan": np.concatenate([block.plan.astype(np.int64), np.full(idx.size, len(P.PLANS))]),
    }


def transactions(
    rng: np.random.Generator,
    block: CustomerBlock,
    cal: Calendar,
    lo: np.ndarray,
    hi: np.ndarray,
    group: np.ndarray,
) -> dict:
    """BG/NBD-like purchases with Gamma-Gamma amounts, scaled by the month's NPS group."""
    month_len = np.diff(cal.bounds).astype(np.float64)
    frac = (hi - lo) / month_len
    fmult = np.array([P.FREQUENCY_MULTIPLIER[g] for g in P.NPS_GROUPS])[group]
    counts = rng.poisson(block.purchase_rate[:, None] * fmult * frac)
    prev = np.cumsum(counts, axis=1) - counts
    counts = np.clip(block.dropout_after[:, None] - prev, 0, counts)
    i, m, t = expand_months(rng, counts, lo, hi)
    smult = np.array([P.SPEND_MULTIPLIER[g] for g in P.NPS_GROUPS])[group[i, m]]
    mean = block.mean_amount[i] * smult
    amount = np.round(rng.gamma(P.SPEND_SHAPE, mean / P.SPEND_SHAPE), 2)
    amount = np.maximum(amount, 0.01)
    mix = np.array([_PRODUCT_MIX[a] for a in P.ARCHETYPES])
    product = draw_categorical(rng, mix[block.archetype[i]])
    own = np.where(block.channel[i] == 3, 0, block.channel[i])  # phone customers buy on web
    channel = np.where(rng.random(i.size) < 0.8, own, rng.integers(0, 3, i.size))
    return {
        "i": i,
        "month": m,
        "ts": t,
        "amount": amount,
        "product": product,
        "channel": channel,
        "quantity": 1 + rng.poisson(0.3, i.size),
    }
