"""Perception: survey responses (NPS, CSAT, CES, attribute ratings, comments) and cases."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy.special import ndtr

from cxroi.simulate import comments as text
from cxroi.simulate import params as P
from cxroi.simulate.columns import NULL
from cxroi.simulate.customers import DAY, Calendar, CustomerBlock
from cxroi.simulate.initiatives import EffectTally, Latent, nps_score
from cxroi.simulate.journeys import degraded_from
from cxroi.simulate.support import HOUR, Tickets, expand_months

__all__ = ["SURVEYS", "ClosedLoop", "PerceptionTally", "cases", "closed_loop", "responses"]

SURVEYS: tuple[str, ...] = ("relationship", "transactional")
RESPONSE_TOUCHPOINTS: tuple[str, ...] = (
    "delivery",
    "support_chat",
    "support_phone",
    "support_email",
    "onboarding_call",
)
_SUPPORT_DIM = P.DIMENSIONS.index("support")
_W = np.array([P.DRIVER_WEIGHTS[d] for d in P.DIMENSIONS])
_THEME_DIM = np.array([P.DIMENSIONS.index(d) for d in P.THEMES.values()])
# Relevance of each theme by response touchpoint (-1 = relationship survey, then the list).
_RELEVANCE = np.array(
    [
        [1.0, 1.0, 1.0, 1.0, 1.0, 1.0],  # relationship
        [2.0, 1.2, 0.6, 1.5, 0.8, 0.6],  # delivery
        [0.6, 0.6, 3.0, 0.6, 0.6, 1.5],  # support_chat
        [0.6, 0.6, 3.0, 0.6, 0.6, 1.5],  # support_phone
        [0.6, 0.6, 3.0, 0.6, 0.6, 1.5],  # support_email
        [0.6, 0.8, 0.6, 0.6, 1.5, 2.0],  # onboarding_call
    ]
)
SLOW_SUPPORT_QUALITY_DROP = 1.5  # how a slow ticket colours support_wait comments
_DEGRADED_THEME = list(P.THEMES.values()).index(P.TOUCHPOINTS[str(P.DEGRADED["touchpoint"])][1])


@dataclass
class PerceptionTally:
    """Sums over blocks behind two parts of the truth: the NPS of commented responses per
    theme, and the expected moments of the relationship survey's ratings and NPS."""

    counts: dict[str, np.ndarray] = field(default_factory=dict)

    def add(self, key: str, values: np.ndarray) -> None:
        self.counts[key] = self.counts.get(key, 0) + values

    def merge(self, other: PerceptionTally) -> None:
        for k, v in other.counts.items():
            self.add(k, v)

    def theme_truth(self) -> dict[str, dict[str, float]]:
        c = self.counts
        out = {}
        for t, name in enumerate(text.THEME_NAMES):

            def nps(prefix: str, t: int = t) -> float:
                n = max(c[f"{prefix}_n"][t], 1)
                return float(100.0 * (c[f"{prefix}_prom"][t] - c[f"{prefix}_det"][t]) / n)

            out[name] = {
                "nps_gap_negative_vs_no_mention": nps("neg") - nps("none"),
                "nps_gap_positive_vs_no_mention": nps("pos") - nps("none"),
                "nps_points_if_fixed": nps("fix") - nps("neg"),
                "n_negative": int(c["neg_n"][t]),
                "n_positive": int(c["pos_n"][t]),
            }
        return out

    def add_driver_moments(self, q: np.ndarray, nps: np.ndarray) -> None:
        """Add the expected first and second moments of ``(rating_1..K, nps)`` of these
        relationship responses given their latent qualities ``q`` (rows x K).

        A rating is ``clip(round(a + b q + N(0, sd)), lo, hi)``; with
        :math:`P_j = P(r > j) = \\Phi((a + b q - j - 1/2) / sd)`,
        :math:`E[r] = lo + \\sum_{j=lo}^{hi-1} P_j` and
        :math:`E[r^2] = lo^2 + \\sum_j (2j + 1) P_j`. The ratings' noises are independent of
        each other and of the relationship NPS (a function of the latent satisfaction), so the
        cross moments are products of the expectations.
        """
        lo, hi = P.RATING_SCALE
        steps = np.arange(lo, hi, dtype=np.float64)
        mu = P.RATING_A + P.RATING_B * q
        above = ndtr((mu[:, :, None] - steps - 0.5) / P.RATING_NOISE_SD)
        e1 = lo + above.sum(axis=2)
        e2 = lo * lo + above @ (2 * steps + 1)
        m = np.column_stack([e1, nps.astype(np.float64)])
        s2 = m.T @ m
        k = q.shape[1]
        s2[np.arange(k), np.arange(k)] += (e2 - e1 * e1).sum(axis=0)
        self.add("drv_n", np.array(float(nps.size)))
        self.add("drv_s1", m.sum(axis=0))
        self.add("drv_s2", s2)

    def add_degraded(self, s_eff: np.ndarray, degraded: np.ndarray) -> None:
        """Add the expected CSAT (mean and top-2 share) of the responses at the degraded
        touchpoint, before and during the degradation, and during it without the drop.

        A CSAT is ``clip(round(mu + N(0, sd)), 1, 5)`` with ``mu = a + b s_eff``, so
        :math:`P(r \\ge j + 1) = \\Phi((mu - j - 1/2) / sd)`, the mean is
        :math:`1 + \\sum_{j=1}^{4} P(r \\ge j + 1)` and the top-2 share is :math:`P(r \\ge 4)`.
        """
        drop = P.DEGRADED["satisfaction_effect"] * degraded

        def expect(s: np.ndarray) -> tuple[float, float]:
            mu = P.CSAT_A + P.CSAT_B * s
            above = ndtr((mu[:, None] - np.arange(1, 5) - 0.5) / P.CSAT_NOISE_SD)
            return float((1 + above.sum(axis=1)).sum()), float(above[:, 2].sum())

        for key, rows, s in (("deg_before", ~degraded, s_eff), ("deg_during", degraded, s_eff),
                             ("deg_without", degraded, s_eff - drop)):  # fmt: skip
            mean, top2 = expect(s[rows])
            self.add(f"{key}_n", np.array(float(rows.sum())))
            self.add(f"{key}_mean", np.array(mean))
            self.add(f"{key}_top2", np.array(top2))

    def degraded_truth(self) -> dict[str, Any]:
        """The expected CSAT at the degraded touchpoint before, during and (counterfactual)
        during without the drop."""
        c = self.counts

        def part(key: str) -> dict[str, float]:
            n = max(float(c[f"{key}_n"]), 1.0)
            return {"responses": int(c[f"{key}_n"]), "csat_mean": float(c[f"{key}_mean"]) / n,
                    "csat_top2": float(c[f"{key}_top2"]) / n}  # fmt: skip

        return {"before": part("deg_before"), "during": part("deg_during"),
                "during_without_drop": part("deg_without")}  # fmt: skip

    def driver_truth(self) -> dict[str, Any]:
        """Relative weights (Johnson 2000) of the ratings on relationship NPS in the expected
        correlation matrix of this company's relationship responses."""
        n = float(self.counts["drv_n"])
        mean = self.counts["drv_s1"] / n
        cov = self.counts["drv_s2"] / n - np.outer(mean, mean)
        sd = np.sqrt(np.diag(cov))
        corr = cov / np.outer(sd, sd)
        val, vec = np.linalg.eigh(corr[:-1, :-1])
        lam = (vec * np.sqrt(val)) @ vec.T
        beta = np.linalg.solve(lam, corr[:-1, -1])
        eps = (lam * lam) @ (beta * beta)
        names = [f"rating_{d}" for d in P.DIMENSIONS]
        return {
            "shares": dict(zip(names, (eps / eps.sum()).tolist(), strict=True)),
            "r2": float(eps.sum()),
            "n_responses": int(n),
            "definition": "Johnson's relative weights of the six ratings on the relationship "
            "NPS score, as shares of R^2, in the correlation matrix the ratings and NPS have in "
            "expectation over their response noise, given every relationship response's latent "
            "qualities and satisfaction (archetypes, initiatives and slow-response dips "
            "included); an estimate from the responses table should cover it",
        }


def _tally_group(tally: PerceptionTally, prefix: str, mask: np.ndarray, score: np.ndarray) -> None:
    tally.add(f"{prefix}_n", mask.sum(axis=0))
    tally.add(f"{prefix}_prom", (mask & (score[:, None] >= 9)).sum(axis=0))
    tally.add(f"{prefix}_det", (mask & (score[:, None] <= 6)).sum(axis=0))


@dataclass
class ClosedLoop:
    """Relationship-survey draws made before churn, so that follow-ups can act on churn.

    ``u_rel`` decides in which months a customer answers the relationship survey (the same
    draws ``responses`` uses); ``u_case`` and ``u_hold`` decide, for a detractor answer in
    that month, whether a case is opened and whether it is held out. ``penalty`` marks the
    customer-months within the effect window after a held-out case.
    """

    u_rel: np.ndarray
    u_case: np.ndarray
    u_hold: np.ndarray
    penalty: np.ndarray


def closed_loop(
    rng: np.random.Generator,
    cal: Calendar,
    lo0: np.ndarray,
    hi0: np.ndarray,
    s: np.ndarray,
    slow_month: np.ndarray,
) -> ClosedLoop:
    """Draw the relationship answers, cases and holdouts ahead of churn (see ``ClosedLoop``).

    A relationship answer's NPS is deterministic given the month's satisfaction and slow
    window (``responses`` computes it the same way), so a held-out detractor case is known
    before churn is drawn. Months after churn hold no answer; a case in the churn month
    affects no later month.
    """
    shape = s.shape
    u_rel, u_case, u_hold = rng.random(shape), rng.random(shape), rng.random(shape)
    month_len = np.diff(cal.bounds).astype(np.float64)
    would = u_rel < P.SURVEY_RATES["relationship_per_month"] * (hi0 - lo0) / month_len
    slow_win = slow_month.copy()
    slow_win[:, 1:] |= slow_month[:, :-1]
    det = nps_score(s + P.SLOW_RESPONSE_SATISFACTION_EFFECT * slow_win) <= 6
    held = would & det & (u_case < P.CASE_SHARE_OF_DETRACTORS)
    held &= u_hold < P.FOLLOWUP_HOLDOUT_SHARE
    penalty = np.zeros(shape, dtype=bool)
    for k in range(1, P.FOLLOWUP_EFFECT_MONTHS + 1):
        penalty[:, k:] |= held[:, :-k]
    return ClosedLoop(u_rel, u_case, u_hold, penalty)


def responses(
    rng: np.random.Generator,
    block: CustomerBlock,
    cal: Calendar,
    latent: Latent,
    lo: np.ndarray,
    hi: np.ndarray,
    end: np.ndarray,
    tickets: Tickets,
    tx: dict,
    tallies: list[EffectTally],
    themes: PerceptionTally,
    loop: ClosedLoop,
) -> dict:
    """Survey responses from four sources: monthly relationship survey, after purchases, after
    support tickets and after onboarding.

    Returns raw columns (block-local customer rows ``i``) plus the comment-theme rows.
    """
    rates = P.SURVEY_RATES
    month_len = np.diff(cal.bounds).astype(np.float64)
    frac = (hi - lo) / month_len
    rel = (loop.u_rel < rates["relationship_per_month"] * frac).astype(np.int64)
    ri, _, rts = expand_months(rng, rel, lo, hi)

    pick = np.flatnonzero(rng.random(tx["i"].size) < rates["purchase_per_transaction"])
    pi = tx["i"][pick]
    pts = tx["ts"][pick] + np.floor(rng.uniform(1 * HOUR, 4 * DAY, pick.size)).astype(np.int64)

    pick = np.flatnonzero(rng.random(tickets.i.size) < rates["support_per_ticket"])
    si = tickets.i[pick]
    after = tickets.resolution_h[pick] * HOUR + rng.uniform(0, DAY, pick.size)
    sts = tickets.opened[pick] + np.floor(after).astype(np.int64)
    stp = 1 + tickets.channel[pick].astype(np.int64)
    sslow = tickets.slow[pick]

    new = np.flatnonzero(
        (block.first_month >= 0) & (rng.random(block.n) < rates["onboarding_per_signup"])
    )
    ots = block.signup_s[new] + np.floor(rng.uniform(3 * DAY, 10 * DAY, new.size)).astype(np.int64)

    i = np.concatenate([ri, pi, si, new])
    ts = np.concatenate([rts, pts, sts, ots])
    tp = np.concatenate(
        [np.full(ri.size, -1), np.zeros(pi.size, np.int64), stp, np.full(new.size, 4)]
    )
    slow_ticket = np.concatenate(
        [np.zeros(ri.size + pi.size, bool), sslow, np.zeros(new.size, bool)]
    )
    keep = ts < end[i]
    i, ts, tp, slow_ticket = i[keep], ts[keep], tp[keep], slow_ticket[keep]
    n = i.size
    m = cal.month_of(ts)
    relationship = tp < 0

    slow_win = tickets.slow_month[i, m] | (m > 0) & tickets.slow_month[i, np.maximum(m - 1, 0)]
    s = latent.satisfaction(i, m)
    s_eff = s + P.SLOW_RESPONSE_SATISFACTION_EFFECT * slow_win
    at_degraded = tp == RESPONSE_TOUCHPOINTS.index(str(P.DEGRADED["touchpoint"]))
    degraded = at_degraded & (m >= degraded_from(cal))
    s_eff = s_eff + P.DEGRADED["satisfaction_effect"] * degraded
    themes.add_degraded(s_eff[at_degraded], degraded[at_degraded])
    eta = np.where(relationship, 0.0, rng.normal(0, P.NPS_TRANSACTIONAL_NOISE_SD, n))
    nps = nps_score(s_eff, eta)
    csat = np.clip(np.rint(P.CSAT_A + P.CSAT_B * s_eff + rng.normal(0, P.CSAT_NOISE_SD, n)), 1, 5)
    q = latent.quality(i, m)
    support = (tp >= 1) & (tp <= 3)
    ces_raw = P.CES_A + P.CES_SUPPORT_QUALITY * q[:, _SUPPORT_DIM] + P.CES_SLOW * slow_ticket
    ces = np.where(
        support, np.clip(np.rint(ces_raw + rng.normal(0, P.CES_NOISE_SD, n)), 1, 7), NULL
    )
    rating = np.clip(
        np.rint(P.RATING_A + P.RATING_B * q + rng.normal(0, P.RATING_NOISE_SD, q.shape)),
        *P.RATING_SCALE,
    )
    rating = np.where(relationship[:, None], rating, NULL).astype(np.int64)
    themes.add_driver_moments(q[relationship], nps[relationship])

    treated = latent.treated(i, m) & relationship[:, None]
    for t in tallies:
        rows = treated[:, t.j]
        t.add_responses(nps[rows], nps_score(s_eff[rows] - latent.lift(t.j)))

    # comments
    has = np.flatnonzero(rng.random(n) < P.COMMENT_SHARE)
    qe = q[has][:, _THEME_DIM]
    qe[:, 2] -= SLOW_SUPPORT_QUALITY_DROP * slow_win[has]
    weight = _RELEVANCE[tp[has] + 1] * np.exp(0.9 * np.abs(qe))
    cum = np.cumsum(weight, axis=1)
    t1 = (rng.random(has.size)[:, None] * cum[:, -1:] >= cum).sum(axis=1)
    w2 = weight.copy()
    w2[np.arange(has.size), t1] = 0.0
    cum2 = np.cumsum(w2, axis=1)
    t2 = (rng.random(has.size)[:, None] * cum2[:, -1:] >= cum2).sum(axis=1)
    t2 = np.where(rng.random(has.size) < 0.35, t2, -1)
    neg = rng.random(qe.shape) < 1.0 / (1.0 + np.exp(2.0 * qe))
    rows = np.arange(has.size)
    comment_text = text.assemble(rng, t1, neg[rows, t1], t2, neg[rows, np.maximum(t2, 0)])

    k = len(text.THEME_NAMES)
    mention = np.zeros((has.size, k), bool)
    mention[rows, t1] = True
    two = t2 >= 0
    mention[rows[two], t2[two]] = True
    neg_m, pos_m = mention & neg, mention & ~neg
    sc = nps[has]
    _tally_group(themes, "neg", neg_m, sc)
    _tally_group(themes, "pos", pos_m, sc)
    _tally_group(themes, "none", ~mention, sc)
    qt = q[has][:, _THEME_DIM]
    fix = _W[_THEME_DIM][None, :] * (np.maximum(qt, 0) - qt)
    fix[:, 2] -= P.SLOW_RESPONSE_SATISFACTION_EFFECT * slow_win[has]
    fix[:, _DEGRADED_THEME] -= P.DEGRADED["satisfaction_effect"] * degraded[has]
    fixed = nps_score(s_eff[has][:, None] + fix, eta[has][:, None])
    themes.add("fix_n", neg_m.sum(axis=0))
    themes.add("fix_prom", (neg_m & (fixed >= 9)).sum(axis=0))
    themes.add("fix_det", (neg_m & (fixed <= 6)).sum(axis=0))

    r_theme = np.concatenate([t1, t2[two]])
    r_row = np.concatenate([has, has[two]])
    r_neg = np.concatenate([neg[rows, t1], neg[rows[two], t2[two]]])
    return {
        "i": i,
        "ts": ts,
        "survey": (~relationship).astype(np.int64),
        "touchpoint": tp,
        "nps": nps,
        "csat": csat.astype(np.int64),
        "ces": ces.astype(np.int64),
        "rating": rating,
        "comment_rows": has,
        "comment": comment_text,
        "theme_row": r_row,
        "theme": r_theme,
        "theme_negative": r_neg,
    }


CASE_OWNERS: tuple[str, ...] = ("ana", "ben", "chen", "dara", "eli", "fatima")
CASE_OUTCOMES: tuple[str, ...] = ("apologised", "refund_issued", "issue_fixed", "explained")


def cases(rng: np.random.Generator, resp: dict, cal: Calendar, loop: ClosedLoop) -> dict:
    """Close-the-loop cases on relationship-survey detractors, a random share held out.

    The case and holdout draws are the ones :func:`closed_loop` made before churn.
    """
    rel = resp["survey"] == 0
    month = cal.month_of(resp["ts"])
    i = resp["i"]
    det = np.flatnonzero(rel & (resp["nps"] <= 6))
    det = det[loop.u_case[i[det], month[det]] < P.CASE_SHARE_OF_DETRACTORS]
    held = loop.u_hold[i[det], month[det]] < P.FOLLOWUP_HOLDOUT_SHARE
    opened = resp["ts"][det] + np.floor(rng.uniform(0, 2 * DAY, det.size)).astype(np.int64)
    keep = opened < cal.end
    det, opened, held = det[keep], opened[keep], held[keep]
    age = cal.end - opened
    old = age > 14 * DAY
    p_old = np.array([0.05, 0.10, 0.25, 0.60])
    p_new = np.array([0.40, 0.30, 0.20, 0.10])
    u = rng.random(det.size)
    status = np.where(
        old,
        (u[:, None] >= np.cumsum(p_old)[None, :-1]).sum(1),
        (u[:, None] >= np.cumsum(p_new)[None, :-1]).sum(1),
    )
    status = np.where(held, 4, status)  # CASE_STATUSES[4] == "held_out"
    done = (status >= 2) & ~held
    closed = opened + np.floor(rng.random(det.size) * np.minimum(age, 14 * DAY)).astype(np.int64)
    outcome = np.where(done, rng.integers(0, len(CASE_OUTCOMES), det.size), -1)
    owner = np.where(held, -1, rng.integers(0, len(CASE_OWNERS), det.size))
    return {
        "response_row": det,
        "status": status,
        "opened_at": opened,
        "owner": owner,
        "closed_at": np.where(done, closed, NULL),
        "outcome": outcome,
    }
