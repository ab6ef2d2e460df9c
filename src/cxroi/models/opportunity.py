"""Money at stake per segment: churn its customers' perception does not explain, and the
value of lifting its NPS mix.

For a segment :math:`s` of a dimension (a plan, a city, an archetype) with :math:`n_s`
customers, annual margin :math:`m_s` (revenue less cost to serve per year of exposure) and
churn hazard :math:`\\lambda_s` (churns per year of exposure), the money at stake has two
parts that do not overlap:

1. **Retention**: the churn that its customers' perception does not explain. The comparable
   customers are those of the *other* segments of the dimension in the same stratum :math:`g`
   (NPS group — promoter, passive, detractor, no answer — crossed with the plan when the
   dimension is not the plan itself). With :math:`w_s(g)` the share of the segment's exposure
   in :math:`g` and :math:`\\lambda_{-s}(g)` the hazard of the comparable customers,
   :math:`\\lambda^*_s = \\sum_g w_s(g)\\lambda_{-s}(g)` is the hazard the segment would
   have if its customers churned as comparable customers who feel the same do, and

   .. math:: R_s = n_s\\,\\max(0,\\ \\mathrm{CLV}(m_s, e^{-\\lambda^*_s}) -
             \\mathrm{CLV}(m_s, e^{-\\lambda_s}))

2. **Perception**: lifting its NPS mix :math:`\\pi_s` to the mix of all customers
   :math:`\\bar\\pi` (what it would be worth if its customers felt as the average customer
   does; a segment that already feels better has nothing here), valued through the adjusted
   effects of the value of perception (:mod:`cxroi.models.effects`): churn hazard ratios
   :math:`HR_g` and spend multiples :math:`SM_g` vs promoters. For the share :math:`a_s` of
   customers with an answer the hazard scales by
   :math:`\\sum_g \\bar\\pi(g) HR_g / \\sum_g \\pi_s(g) HR_g`, and their purchases by the
   same ratio of spend multiples; :math:`P_s` is the change in :math:`n_s` CLVs, never
   negative. The average rather than the best segment's mix is the target because some
   dimensions are defined by attitude (archetypes, a rule on detractors): the best of them
   feels better by construction, and no initiative turns critics into enthusiasts.

Segments are ranked by the lower end of that interval: the money surest to be at stake first.

CLV is :func:`cxroi.metrics.money.retention_clv` of the annual margin and retention
:math:`e^{-\\lambda}` at the annual discount rate. Intervals: percentiles of a Poisson
bootstrap over customers (drawn per segment and stratum by
:func:`cxroi.models.cell_bootstrap.cell_replicates`), the effects drawn from their sampling
distributions (normal on the log scale) in each replicate.

Comparing with the *rest* of the dimension rather than its single best segment is deliberate:
the minimum of many noisy segment rates (fifteen cities) is biased low by selection, and a
gap to it would rank noise. Written here because no library values segments.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

import numpy as np
import pandas as pd

from cxroi.errors import CxroiError
from cxroi.metrics.money import retention_clv
from cxroi.models.cell_bootstrap import cell_replicates
from cxroi.models.segments import SUM_COLUMNS, Segmentation
from cxroi.results import small_n_flag

__all__ = ["ANSWERS", "NPS_LEVELS", "SELECTED", "Stakes", "opportunity_table"]

SELECTED = "selected-on-churn"
"""Flag of segments found partly from churn: their retention part is not counted."""

NPS_LEVELS = ("promoter", "passive", "detractor", "no answer")
"""The perception strata of the retention part (no answer is a level of its own)."""
ANSWERS = NPS_LEVELS[:3]

Effect = tuple[float, float]
"""An effect vs promoters: (estimate, standard error of its log)."""


def _clv(margin: np.ndarray, hazard: np.ndarray, discount_rate: float) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        return retention_clv(margin, np.exp(-hazard), discount_rate)


def _draws(effects: Mapping[str, Effect] | None, b: int, rng: np.random.Generator) -> np.ndarray:
    """(b, 3) multiples for promoter, passive, detractor: the estimate, then draws."""
    out = np.ones((b, 3))
    for j, g in enumerate(ANSWERS[1:], start=1):
        if effects is None or g not in effects:
            continue
        est, se = effects[g]
        out[:, j] = est * np.exp(np.r_[0.0, rng.normal(0.0, se, b - 1)] if se > 0 else 0.0)
    return out


def _strata(frame: pd.DataFrame, dim: str, strata: str | None) -> tuple[np.ndarray, int]:
    grp = frame["nps_group"].astype("string").fillna("no answer")
    g = pd.Categorical(grp, categories=list(NPS_LEVELS)).codes.astype(np.int64)
    if (g < 0).any():
        raise CxroiError("nps_group holds values other than promoter, passive, detractor")
    if strata is None or strata == dim or strata not in frame.columns:
        return g, len(NPS_LEVELS)
    p = pd.Categorical(frame[strata].astype("string").fillna("missing")).codes.astype(np.int64)
    k = int(p.max()) + 1
    return g * k + p, len(NPS_LEVELS) * k


def opportunity_table(
    frame: pd.DataFrame,
    segmentation: Segmentation,
    *,
    hazard_ratios: Mapping[str, Effect] | None = None,
    spend_multiples: Mapping[str, Effect] | None = None,
    strata: str | None = "plan",
    selected_on_churn: Collection[str] = (),
    discount_rate: float = 0.10,
    min_n: int = 30,
    n_boot: int = 200,
    level: float = 0.95,
    random_state: int = 0,
) -> pd.DataFrame:
    """Every segment of every dimension with its money at stake, ranked by the lower end of its
    interval (the estimate without a bootstrap).

    Parameters
    ----------
    frame
        One row per customer with ``churned``, ``exposure_years``, ``revenue``, ``spend``,
        ``purchases``, ``support_cost`` and ``nps_group`` (missing without an answer). With a
        ``customer_id`` column the draws are made in its order, so the intervals do not
        depend on the order of the rows.
    segmentation
        Segment codes of the rows (:func:`cxroi.models.segments.segment`).
    hazard_ratios, spend_multiples
        Adjusted effects of passives and detractors vs promoters: ``{"passive": (1.6,
        0.05), ...}`` (estimate, standard error of its log); ``None``: no perception part.
    strata
        Column crossed with the NPS group to define comparable customers (not for its own
        dimension); ``None``: the NPS group alone.
    selected_on_churn
        Dimensions whose segments were found partly from churn (archetypes clustered on it):
        their churn gap is selection, not an opportunity, so their retention part is 0 and
        their rows are flagged ``selected-on-churn``.
    discount_rate
        Annual discount rate of the CLV.
    min_n
        Segments with fewer customers are flagged ``small-n``.
    n_boot, level, random_state
        Bootstrap replicates, interval level and seed.

    Returns
    -------
    pandas.DataFrame
        ``rank``, ``dimension``, ``segment``, ``customers``, ``churn_rate``,
        ``comparable_churn`` (the churn at comparable customers' hazards),
        ``margin_per_year``, ``nps``, ``target_nps`` (of all customers), ``retention`` and
        ``perception``
        with their ``_ci_low``/``_ci_high``, and the total: ``estimate``, ``ci_low``,
        ``ci_high``, ``level``, ``n``, ``flag``.
    """
    stakes = Stakes(
        frame, hazard_ratios=hazard_ratios, spend_multiples=spend_multiples, strata=strata,
        discount_rate=discount_rate, min_n=min_n, n_boot=n_boot, level=level,
        random_state=random_state,
    )  # fmt: skip
    for dim, code in segmentation.codes.items():
        stakes.add(dim, code, segmentation.labels[dim], selected_on_churn=dim in selected_on_churn)
    return stakes.table()


class Stakes:
    """The money at stake of a frame's segments, a dimension at a time: :func:`opportunity_table`
    (same arguments) adds every dimension of its segmentation in turn.

    The bootstrap draws come from one generator in the order the dimensions are added, so
    adding them one by one, as they become known, gives the table of adding them all at once.
    """

    def __init__(
        self,
        frame: pd.DataFrame,
        *,
        hazard_ratios: Mapping[str, Effect] | None = None,
        spend_multiples: Mapping[str, Effect] | None = None,
        strata: str | None = "plan",
        discount_rate: float = 0.10,
        min_n: int = 30,
        n_boot: int = 200,
        level: float = 0.95,
        random_state: int = 0,
    ) -> None:
        need = [*SUM_COLUMNS, "spend", "nps_group"]
        missing = [c for c in need if c not in frame.columns]
        if missing:
            raise CxroiError(f"the opportunity frame lacks column(s): {', '.join(missing)}")
        self.order: np.ndarray | None = None
        if "customer_id" in frame.columns and not frame["customer_id"].is_monotonic_increasing:
            # the exact draws give one weight per row: the same customers in the same order
            # draw the same replicates, whatever order the frame's rows came in
            self.order = np.argsort(frame["customer_id"].to_numpy(), kind="stable")
            frame = frame.iloc[self.order]
        self.frame = frame
        # the columns summed per cell, and a last one counting its customers
        x = np.nan_to_num(frame[[*SUM_COLUMNS, "spend"]].to_numpy(float))
        self.x = np.column_stack([x, np.ones(len(frame))])
        self.rng = np.random.default_rng(random_state)
        b = 1 + max(n_boot, 0)
        self.hr, self.sm = _draws(hazard_ratios, b, self.rng), _draws(spend_multiples, b, self.rng)
        self.perceived = hazard_ratios is not None or spend_multiples is not None
        self.strata, self.discount_rate, self.min_n = strata, discount_rate, min_n
        self.n_boot, self.level = n_boot, level
        self.rows: list[dict[str, Any]] = []

    def add(
        self, dim: str, code: np.ndarray, names: list[str], *, selected_on_churn: bool = False
    ) -> None:
        """Add the segments ``names`` of dimension ``dim`` (``code``: each row's, in the
        frame's order); ``selected_on_churn``: their retention part is 0 and they are flagged
        (see :func:`opportunity_table`)."""
        frame, x, rng, hr, sm = self.frame, self.x, self.rng, self.hr, self.sm
        discount_rate, min_n, n_boot, level = (
            self.discount_rate, self.min_n, self.n_boot, self.level
        )  # fmt: skip
        code = np.asarray(code) if self.order is None else np.asarray(code)[self.order]
        b, alpha, rows = 1 + max(n_boot, 0), (1 - level) / 2, self.rows
        k = len(names)
        st, n_st = _strata(frame, dim, self.strata)
        cell = cell_replicates(x, code * n_st + st, k * n_st, n_boot, rng).reshape(b, k, n_st, -1)
        seg = cell.sum(axis=2)  # (B, k, cols)
        rest = cell.sum(axis=1, keepdims=True) - cell  # the other segments, per stratum
        with np.errstate(divide="ignore", invalid="ignore"):
            lam_s = seg[..., 0] / seg[..., 1]
            margin = (seg[..., 2] - seg[..., 4]) / seg[..., 1]
            spend = seg[..., 5] / seg[..., 1]
            own = cell[..., 0] / cell[..., 1]
            lam_rest = np.where(rest[..., 1] > 0, rest[..., 0] / rest[..., 1], own)
            share_t = np.nan_to_num(cell[..., 1] / seg[..., 1][..., None])
        lam_star = np.minimum(np.einsum("zsg,zsg->zs", share_t, np.nan_to_num(lam_rest)), lam_s)
        n_seg_ = np.bincount(code, minlength=k)
        retention = n_seg_[None, :] * np.maximum(
            _clv(margin, lam_star, discount_rate) - _clv(margin, lam_s, discount_rate), 0.0
        )
        if selected_on_churn:
            retention = np.zeros_like(retention)
        # the NPS mix among answers, and that of all customers with an answer
        # a stratum is an NPS level crossed with the plan: customers per segment and level
        levels = cell[..., -1].reshape(b, k, len(NPS_LEVELS), n_st // len(NPS_LEVELS))
        counts = levels.sum(axis=3)[..., : len(ANSWERS)]  # (B, k, 3)
        answered = counts.sum(axis=2)
        total = counts.sum(axis=1)  # (B, 3)
        with np.errstate(divide="ignore", invalid="ignore"):
            mix = counts / answered[..., None]
            a_s = answered / np.bincount(code, minlength=k)[None, :]
            best = total / total.sum(axis=1, keepdims=True)
        net = mix[..., 0] - mix[..., 2]
        with np.errstate(divide="ignore", invalid="ignore"):
            h_ratio = np.einsum("zg,zg->z", best, hr)[:, None] / np.einsum("zsg,zg->zs", mix, hr)
            s_ratio = np.einsum("zg,zg->z", best, sm)[:, None] / np.einsum("zsg,zg->zs", mix, sm)
        a = np.nan_to_num(a_s)
        lam_new = lam_s * (1 - a + a * np.nan_to_num(h_ratio, nan=1.0))
        margin_new = margin + spend * a * (np.nan_to_num(s_ratio, nan=1.0) - 1)
        lift = _clv(margin_new, lam_new, discount_rate) - _clv(margin, lam_s, discount_rate)
        perception = n_seg_[None, :] * np.maximum(np.nan_to_num(lift), 0.0)
        if not self.perceived:
            perception = np.zeros_like(perception)
        total = retention + perception
        for s, name in enumerate(names):
            n = int(n_seg_[s])

            def ci(v: np.ndarray, s: int = s) -> tuple[float, float]:
                r = v[1:, s]
                r = r[np.isfinite(r)]
                if n_boot <= 0 or r.size == 0:
                    return np.nan, np.nan
                lo, hi = np.quantile(r, [alpha, 1 - alpha])
                return float(lo), float(hi)

            (rl, rh), (pl, ph), (tl, th) = ci(retention), ci(perception), ci(total)
            rows.append({
                "dimension": dim, "segment": name, "customers": n,
                "churn_rate": float(1 - np.exp(-lam_s[0, s])),
                "comparable_churn": float(1 - np.exp(-lam_star[0, s])),
                "margin_per_year": float(margin[0, s]),
                "nps": float(100 * net[0, s]),
                "target_nps": float(100 * (best[0, 0] - best[0, 2])),
                "retention": float(retention[0, s]), "retention_ci_low": rl,
                "retention_ci_high": rh,
                "perception": float(perception[0, s]), "perception_ci_low": pl,
                "perception_ci_high": ph,
                "estimate": float(total[0, s]), "ci_low": tl, "ci_high": th, "level": level,
                "n": n, "flag": ";".join(f for f in (small_n_flag(n, min_n),
                    SELECTED if selected_on_churn else "") if f),
            })  # fmt: skip

    def table(self) -> pd.DataFrame:
        """Every segment added, ranked (the columns of :func:`opportunity_table`)."""
        n_boot = self.n_boot
        out = pd.DataFrame(self.rows)
        # ranked by the lower end of the interval: the money surest to be at stake first (a big
        # but noisy gap, such as a dimension almost fixed by the plan, waits behind a sure one)
        key = out["ci_low"].fillna(out["estimate"]) if n_boot > 0 else out["estimate"]
        out = out.assign(_key=key).sort_values(["_key", "estimate"], ascending=False)
        out = out.drop(columns="_key").reset_index(drop=True)
        out.insert(0, "rank", np.arange(1, len(out) + 1))
        return out
