"""Support tickets: channel, first-response and resolution times, cost and ticket CSAT.

Ticket volume and channel mix depend on the archetype only, so whether a month holds a slow
first response is, within an archetype, independent of everything else about the customer.
That keeps the slow-response hazard ratio identifiable from raw rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from cxroi.simulate import params as P
from cxroi.simulate.columns import NULL
from cxroi.simulate.customers import Calendar, CustomerBlock, draw_categorical

__all__ = ["Tickets", "expand_months", "make_tickets"]

HOUR = 3600.0


def expand_months(
    rng: np.random.Generator, counts: np.ndarray, lo: np.ndarray, hi: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Rows for ``counts[i, m]`` events per customer-month, uniform in ``[lo, hi)``.

    Returns
    -------
    (customer row, month, epoch seconds) arrays of the expanded rows.
    """
    flat = np.flatnonzero(counts)
    reps = counts.ravel()[flat]
    cell = np.repeat(flat, reps)
    i, m = np.divmod(cell, counts.shape[1])
    lo_c = lo.ravel()[cell]
    span = hi.ravel()[cell] - lo_c
    ts = lo_c + np.floor(rng.random(cell.size) * span).astype(np.int64)
    return i, m, ts


@dataclass
class Tickets:
    """Ticket rows of one block (before churn trimming) and the slow month flags."""

    i: np.ndarray
    month: np.ndarray
    opened: np.ndarray
    channel: np.ndarray
    first_response_h: np.ndarray
    resolution_h: np.ndarray
    cost: np.ndarray
    csat: np.ndarray
    category: np.ndarray
    slow: np.ndarray  # per ticket
    slow_month: np.ndarray  # (n, months) any slow ticket opened that month

    def subset(self, keep: np.ndarray) -> Tickets:
        rows = {f: getattr(self, f)[keep] for f in _ROW_FIELDS}
        return Tickets(**rows, slow_month=self.slow_month)


_ROW_FIELDS = (
    "i",
    "month",
    "opened",
    "channel",
    "first_response_h",
    "resolution_h",
    "cost",
    "csat",
    "category",
    "slow",
)


def make_tickets(
    rng: np.random.Generator,
    block: CustomerBlock,
    cal: Calendar,
    lo: np.ndarray,
    hi: np.ndarray,
    support_quality: np.ndarray,
) -> Tickets:
    """Draw tickets for every month the customer could be active (churn trims them later).

    Parameters
    ----------
    rng
        Random generator.
    block
        The customers.
    cal
        The months.
    lo, hi
        ``(n, months)`` epoch-second windows in which the customer exists (before churn).
    support_quality
        ``(n, months)`` latent support quality (drives ticket CSAT only).
    """
    bounds = cal.bounds
    month_len = np.diff(bounds).astype(np.float64)
    frac = np.clip(hi - lo, 0, None) / month_len
    rate = np.array([a["ticket_rate"] for a in P.ARCHETYPES.values()])[block.archetype]
    counts = rng.poisson(rate[:, None] * frac)
    i, m, opened = expand_months(rng, counts, lo, hi)
    k = i.size
    mix = np.array([a["ticket_channel"] for a in P.ARCHETYPES.values()])
    channel = draw_categorical(rng, mix[block.archetype[i]])
    med = np.array([P.FIRST_RESPONSE_HOURS[c][0] for c in P.TICKET_CHANNELS])[channel]
    sig = np.array([P.FIRST_RESPONSE_HOURS[c][1] for c in P.TICKET_CHANNELS])[channel]
    frt = np.exp(np.log(med) + sig * rng.standard_normal(k))
    frt = np.minimum(frt, 14 * 24.0)
    slow = frt > P.SLOW_RESPONSE_THRESHOLD_HOURS
    work = np.exp(np.log(np.where(channel == 1, 0.5, 4.0)) + 1.1 * rng.standard_normal(k))
    resolution = frt + np.minimum(work, 20 * 24.0)
    handling = 0.1 + 0.015 * resolution + rng.gamma(2.0, 0.1, k)
    fixed = np.array([P.TICKET_FIXED_COST[c] for c in P.TICKET_CHANNELS])[channel]
    cost = np.round(fixed + P.HANDLING_COST_PER_HOUR * handling, 2)
    q = support_quality[i, m]
    csat = np.clip(np.rint(4.1 + 0.4 * q - 1.6 * slow + rng.normal(0, 0.8, k)), 1, 5)
    category = rng.choice(len(P.TICKET_CATEGORIES), k, p=[0.25, 0.2, 0.25, 0.15, 0.15])
    slow_month = np.zeros(counts.shape, dtype=bool)
    slow_month[i[slow], m[slow]] = True
    return Tickets(
        i=i,
        month=m,
        opened=opened,
        channel=channel,
        first_response_h=frt,
        resolution_h=resolution,
        cost=cost,
        csat=csat.astype(np.int64),
        category=category.astype(np.int8),
        slow=slow,
        slow_month=slow_month,
    )


def ticket_columns(t: Tickets, cal: Calendar) -> dict[str, Any]:
    """Raw columns of the tickets table (timestamps after the simulation end become null)."""
    first = t.opened + np.rint(t.first_response_h * HOUR).astype(np.int64)
    resolved = t.opened + np.rint(t.resolution_h * HOUR).astype(np.int64)
    end = cal.end
    return {
        "opened_at": t.opened,
        "first_response_at": np.where(first < end, first, NULL),
        "resolved_at": np.where(resolved < end, resolved, NULL),
        "cost": t.cost,
        "csat": t.csat,
    }
