"""Journey events: customers passing through touchpoints grouped in stages.

Each event's outcome succeeds with probability ``sigmoid(1 + 1.2 q)`` where ``q`` is the
customer's latent quality, that month, of the dimension the touchpoint expresses; an
initiative that lifts a touchpoint's quality therefore shows up in its event outcomes too.

Every delivery follows two backstage events (``params.BACKSTAGE_EVENTS``, channel
``backstage``): the order packed and the carrier handover, timed from a generator of their own
so that adding them changed no other draw. In the degraded months
(:func:`degraded_from`) the handover comes late.
"""

from __future__ import annotations

import numpy as np

from cxroi.simulate import params as P
from cxroi.simulate.customers import DAY, Calendar, CustomerBlock
from cxroi.simulate.initiatives import Latent
from cxroi.simulate.support import Tickets, expand_months

__all__ = ["EVENT_CHANNELS", "OUTCOMES", "TOUCHPOINT_NAMES", "degraded_from", "events"]

TOUCHPOINT_NAMES: tuple[str, ...] = (*P.TOUCHPOINTS, *P.BACKSTAGE_EVENTS)
OUTCOMES: tuple[str, ...] = ("success", "failure")
EVENT_CHANNELS: tuple[str, ...] = (
    "web", "app", "store", "phone", "chat", "email", "social", P.BACKSTAGE_CHANNEL,
)  # fmt: skip
_BACKSTAGE_CH = EVENT_CHANNELS.index(P.BACKSTAGE_CHANNEL)
HOUR = 3600


def degraded_from(cal: Calendar) -> int:
    """The first degraded month: the last ``DEGRADED["months"]`` months, at most a sixth of the
    run (at least one month)."""
    return cal.months - min(int(P.DEGRADED["months"]), max(1, cal.months // 6))


def _hours(rng: np.random.Generator, span: tuple[float, float], n: int) -> np.ndarray:
    return np.floor(rng.uniform(span[0] * HOUR, span[1] * HOUR, n)).astype(np.int64)


_TP = {name: k for k, name in enumerate(TOUCHPOINT_NAMES)}
_DIM = np.array([P.DIMENSIONS.index(d) for _, d in P.TOUCHPOINTS.values()])


def events(
    rng: np.random.Generator,
    block: CustomerBlock,
    cal: Calendar,
    latent: Latent,
    lo: np.ndarray,
    hi: np.ndarray,
    end: np.ndarray,
    tickets: Tickets,
    tx: dict,
    backstage_rng: np.random.Generator,
) -> dict:
    """Raw event columns for one block (``i`` is the block-local customer row); the backstage
    events' times come from ``backstage_rng``."""
    parts: list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = []

    def add(i: np.ndarray, ts: np.ndarray, tp: np.ndarray | int, ch: np.ndarray | int) -> None:
        tp = np.broadcast_to(np.asarray(tp, np.int64), i.shape)
        ch = np.broadcast_to(np.asarray(ch, np.int64), i.shape)
        parts.append((i, ts, tp, ch))

    new = np.flatnonzero(block.first_month >= 0)
    ad = rng.random(new.size) < 0.4
    ts = block.signup_s[new] - np.floor(rng.uniform(0, 14 * DAY, new.size)).astype(np.int64)
    add(new, ts, np.where(ad, _TP["ad"], _TP["website"]), np.where(ad, 6, 0))

    call = new[rng.random(new.size) < 0.6]
    ts = block.signup_s[call] + np.floor(rng.uniform(DAY, 7 * DAY, call.size)).astype(np.int64)
    add(call, ts, _TP["onboarding_call"], 3)

    month_len = np.diff(cal.bounds).astype(np.float64)
    rate = np.array([a["app_rate"] for a in P.ARCHETYPES.values()])[block.archetype]
    counts = rng.poisson(rate[:, None] * (hi - lo) / month_len)
    ai, _, ats = expand_months(rng, counts, lo, hi)
    add(ai, ats, _TP["app"], 1)

    ti, tts = tx["i"], tx["ts"]
    pick = rng.random(ti.size) < P.EVENT_SAMPLE["checkout_per_transaction"]
    ts = tts[pick] - np.floor(rng.uniform(60, 1800, pick.sum())).astype(np.int64)
    ch = np.array([0, 1, 2])[tx["channel"][pick]]
    add(ti[pick], ts, _TP["checkout"], ch)
    pick = rng.random(ti.size) < P.EVENT_SAMPLE["delivery_per_transaction"]
    transit = np.floor(rng.uniform(DAY, 5 * DAY, pick.sum())).astype(np.int64)
    di, dts = ti[pick], tts[pick]
    packed = dts + _hours(backstage_rng, P.PACK_HOURS, di.size)
    late = cal.month_of(dts) >= degraded_from(cal)
    handover = packed + np.where(
        late,
        _hours(backstage_rng, P.DEGRADED["handover_hours"], di.size),
        _hours(backstage_rng, P.HANDOVER_HOURS, di.size),
    )
    add(di, handover + transit, _TP["delivery"], 0)

    support_tp = np.array([_TP["support_chat"], _TP["support_phone"], _TP["support_email"]])
    add(
        tickets.i, tickets.opened, support_tp[tickets.channel], np.array([4, 3, 5])[tickets.channel]
    )

    # renewal reminder in every month that is a signup anniversary
    signup_month = (block.signup_s.astype("datetime64[s]").astype("datetime64[M]")).astype(np.int64)
    first = np.int64(cal.start.astype("datetime64[M]").astype(np.int64))
    m = np.arange(cal.months)
    anniversary = ((first + m[None, :] - signup_month[:, None]) % 12 == 0) & (hi > lo)
    anniversary &= first + m[None, :] > signup_month[:, None]
    ri, _, rts = expand_months(rng, anniversary.astype(np.int64), lo, hi)
    add(ri, rts, _TP["renewal_email"], 5)

    i = np.concatenate([p[0] for p in parts])
    ts = np.concatenate([p[1] for p in parts])
    tp = np.concatenate([p[2] for p in parts])
    ch = np.concatenate([p[3] for p in parts])
    keep = (ts < end[i]) & (ts >= cal.bounds[0] - 31 * DAY)
    i, ts, tp, ch = i[keep], ts[keep], tp[keep], ch[keep]
    month = np.clip(cal.month_of(ts), 0, cal.months - 1)
    q = latent.quality(i, month)[np.arange(i.size), _DIM[tp]]
    success = rng.random(i.size) < 1.0 / (1.0 + np.exp(-(1.0 + 1.2 * q)))
    outcome = np.where(success, 0, 1)
    # the backstage steps, after the outcome draws so that those are as before
    bi = np.concatenate([di, di])
    bts = np.concatenate([packed, handover])
    btp = np.repeat([_TP[e] for e in P.BACKSTAGE_EVENTS], di.size)
    keep = (bts < end[bi]) & (bts >= cal.bounds[0] - 31 * DAY)
    n = int(keep.sum())
    i, ts = np.concatenate([i, bi[keep]]), np.concatenate([ts, bts[keep]])
    tp = np.concatenate([tp, btp[keep]])
    ch = np.concatenate([ch, np.full(n, _BACKSTAGE_CH)])
    outcome = np.concatenate([outcome, np.zeros(n, np.int64)])
    stages = [*(s for s, _ in P.TOUCHPOINTS.values()), *["purchase"] * len(P.BACKSTAGE_EVENTS)]
    stage = np.array([P.STAGES.index(s) for s in stages])[tp]
    return {"i": i, "ts": ts, "touchpoint": tp, "stage": stage, "outcome": outcome, "channel": ch}
