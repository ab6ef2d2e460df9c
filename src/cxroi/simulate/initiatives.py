"""CX initiatives: launch dates, target groups and their true effect on latent quality.

From the first day of its launch month, an initiative adds ``shift`` to the latent quality of
its touchpoint's dimension for the customers its target selects. Satisfaction, NPS, churn and
spend follow through the causal chain; the realised effect in NPS points is measured
counterfactually (same draws, initiative switched off) and written to the ground truth.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa

from cxroi.holdout import held_out
from cxroi.schema import MATURITY_LEVELS
from cxroi.simulate import params as P
from cxroi.simulate.columns import cat, date, fmt_id
from cxroi.simulate.customers import Calendar, CustomerBlock, target_mask

__all__ = ["EffectTally", "Latent", "initiatives_table", "nps_score"]

_W = np.array([P.DRIVER_WEIGHTS[d] for d in P.DIMENSIONS])


def nps_score(s: np.ndarray, noise: np.ndarray | float = 0.0) -> np.ndarray:
    """NPS answer 0-10 from latent satisfaction (the link recorded in the truth)."""
    return np.clip(np.rint(P.NPS_A + P.NPS_B * s + noise), 0, 10).astype(np.int64)


def nps_group(score: np.ndarray) -> np.ndarray:
    """0 promoter, 1 passive, 2 detractor."""
    return np.where(score >= 9, 0, np.where(score >= 7, 1, 2)).astype(np.int8)


@dataclass
class Latent:
    """Latent quality and satisfaction of a block, month by month."""

    block: CustomerBlock
    months: int
    starts: np.ndarray = field(init=False)  # launch month per initiative
    dims: np.ndarray = field(init=False)  # dimension index per initiative
    shifts: np.ndarray = field(init=False)
    targeted: np.ndarray = field(init=False)  # (n, J)
    base: np.ndarray = field(init=False)  # (n,) satisfaction without initiatives

    def __post_init__(self) -> None:
        inits = P.INITIATIVES
        self.starts = np.array([P.start_month(x, self.months) for x in inits])
        self.dims = np.array([P.DIMENSIONS.index(x["dimension"]) for x in inits])
        self.shifts = np.array([x["shift"] for x in inits])
        self.targeted = np.stack([self._reached(x) for x in inits], axis=1)
        self.base = self.block.quality @ _W + self.block.noise

    def _reached(self, spec: dict[str, Any]) -> np.ndarray:
        """Target group less the randomised holdout: the customers the initiative reaches."""
        mask = target_mask(self.block, spec["target"])
        if spec.get("holdout_share"):
            rows = np.flatnonzero(mask)
            ids = fmt_id("C", 7, self.block.offset + rows + 1).to_pylist()
            mask[rows[held_out(spec["initiative_id"], ids, spec["holdout_share"])]] = False
        return mask

    def treated(self, i: np.ndarray, m: np.ndarray) -> np.ndarray:
        """``(rows, J)``: row's customer is targeted and the initiative has launched."""
        return self.targeted[i] & (m[:, None] >= self.starts[None, :])

    def quality(self, i: np.ndarray, m: np.ndarray) -> np.ndarray:
        """``(rows, dims)`` latent quality of customer ``i`` in month ``m``."""
        q = self.block.quality[i].copy()
        on = self.treated(i, m)
        for j in range(len(self.starts)):
            q[:, self.dims[j]] += self.shifts[j] * on[:, j]
        return q

    def satisfaction(self, i: np.ndarray, m: np.ndarray) -> np.ndarray:
        """Relationship satisfaction (no transient effects) of customer ``i`` in month ``m``."""
        lift = self.treated(i, m) @ (self.shifts * _W[self.dims])
        return self.base[i] + lift

    def lift(self, j: int) -> float:
        """Satisfaction added by initiative ``j`` to a treated customer."""
        return float(self.shifts[j] * _W[self.dims[j]])

    def monthly(self) -> tuple[np.ndarray, np.ndarray]:
        """``(n, months)`` satisfaction and NPS group of the relationship score."""
        n = self.block.n
        m = np.arange(self.months)
        on = self.targeted[:, :, None] & (m[None, None, :] >= self.starts[None, :, None])
        s = self.base[:, None] + np.einsum("njm,j->nm", on, self.shifts * _W[self.dims])
        assert s.shape == (n, self.months)
        return s, nps_group(nps_score(s))


@dataclass
class EffectTally:
    """Counts that sum over blocks into each initiative's realised true effect."""

    j: int
    n: int = 0
    prom: int = 0
    det: int = 0
    prom_cf: int = 0
    det_cf: int = 0
    score: float = 0.0
    score_cf: float = 0.0
    hazard: float = 0.0
    hazard_cf: float = 0.0
    cells: int = 0
    spend: float = 0.0
    spend_cf: float = 0.0
    spend_direct: float = 0.0
    months_alive: float = 0.0
    customers: int = 0

    def add_responses(self, score: np.ndarray, score_cf: np.ndarray) -> None:
        self.n += int(score.size)
        self.prom += int((score >= 9).sum())
        self.det += int((score <= 6).sum())
        self.prom_cf += int((score_cf >= 9).sum())
        self.det_cf += int((score_cf <= 6).sum())
        self.score += float(score.sum())
        self.score_cf += float(score_cf.sum())

    def add_hazard(self, h: np.ndarray, h_cf: np.ndarray) -> None:
        self.hazard += float(h.sum())
        self.hazard_cf += float(h_cf.sum())
        self.cells += int(h.size)

    def add_spend(
        self, spend: float, spend_cf: float, direct: float, months: float, customers: int
    ) -> None:
        self.spend += spend
        self.spend_cf += spend_cf
        self.spend_direct += direct
        self.months_alive += months
        self.customers += customers

    _SUMS = ("n", "prom", "det", "prom_cf", "det_cf", "score", "score_cf", "hazard",
             "hazard_cf", "cells", "spend", "spend_cf", "spend_direct", "months_alive",
             "customers")  # fmt: skip

    def merge(self, other: EffectTally) -> None:
        for f in self._SUMS:
            setattr(self, f, getattr(self, f) + getattr(other, f))

    def truth(self, months: int, cal: Calendar, customers: int) -> dict[str, Any]:
        spec = P.INITIATIVES[self.j]
        cost, running = P.initiative_costs(spec, customers)
        total_cost = cost + running * (months - P.start_month(spec, months))
        start = P.start_month(spec, months)
        dim_w = P.DRIVER_WEIGHTS[spec["dimension"]]
        n = max(self.n, 1)
        return {
            "initiative_id": spec["initiative_id"],
            "name": spec["name"],
            "level": spec["level"],
            "touchpoint": spec["touchpoint"],
            "dimension": spec["dimension"],
            "target": spec["target"],
            "start_date": str(cal.start.astype("datetime64[M]") + start) + "-01",
            "start_month_index": start,
            "quality_shift": spec["shift"],
            "satisfaction_shift": spec["shift"] * dim_w,
            "nps_score_shift_latent": spec["shift"] * dim_w * P.NPS_B,
            "true_effect_nps_points": 100.0
            * ((self.prom - self.det) - (self.prom_cf - self.det_cf))
            / n,
            "true_effect_nps_score": (self.score - self.score_cf) / n,
            "true_effect_churn_hr": self.hazard / self.hazard_cf if self.hazard_cf else None,
            "true_effect_spend_per_month": self.spend_direct / self.months_alive
            if self.months_alive
            else None,
            "true_incremental_spend": self.spend - self.spend_cf,
            "cost": cost,
            "running_cost": running,
            "cost_to_data_end": total_cost,
            "true_roi_to_data_end": (self.spend - self.spend_cf) / total_cost - 1,
            "holdout_share": spec["holdout_share"],
            "n_treated_customers": self.customers,
            "n_treated_relationship_responses": self.n,
            "n_treated_customer_months": self.cells,
            "effect_definition": (
                "realised effect on relationship-survey responses of targeted customers from "
                "start_date: NPS (or mean score) as answered minus the same responses with this"
                " initiative switched off; churn hr = summed monthly churn probability of "
                "targeted customer-months at risk from start_date, actual / without the "
                "initiative (acts only through the NPS group); spend per month = expected "
                "transaction spend of a reached customer-month alive, actual minus in the NPS "
                "groups without the initiative; incremental spend = expected transaction spend "
                "of reached customers from start_date to the data end, actual minus without the"
                " initiative (survival and group both switched; undiscounted); both net of "
                "purchase dropout: a month's expected purchases are those of a customer still "
                "buying, counting the purchases since the data start (or signup) in each path's "
                "NPS groups, so more frequent purchases bring the dropout forward; the ROI "
                "counts the one-off cost and the running cost of every month to the data end"
            ),
        }


def initiatives_table(cal: Calendar, customers: int) -> pa.Table:
    """The initiatives table (same for every block; costs scale with ``customers``)."""
    inits = P.INITIATIVES
    costs = [P.initiative_costs(x, customers) for x in inits]
    first = cal.start.astype("datetime64[M]")
    starts = np.array(
        [(first + P.start_month(x, cal.months)).astype("datetime64[s]") for x in inits]
    ).astype(np.int64)
    levels = list(MATURITY_LEVELS)
    return pa.table(
        {
            "initiative_id": fmt_id("I", 3, np.arange(1, len(inits) + 1)),
            "name": pa.array([x["name"] for x in inits]),
            "level": cat(np.array([levels.index(x["level"]) for x in inits]), levels),
            "start_date": date(starts),
            "cost": pa.array([c for c, _ in costs], pa.float64()),
            "end_date": pa.nulls(len(inits), pa.date32()),
            "target": pa.array([x["target"] for x in inits]),
            "touchpoint": pa.array([x["touchpoint"] for x in inits]),
            "owner": pa.array([x["owner"] for x in inits]),
            "expected_effect": pa.array([x["expected_effect"] for x in inits], pa.float64()),
            # the register's remaining fields: the expected effect is in NPS points, churn is
            # the behaviour every simulated initiative moves
            "running_cost": pa.array([r for _, r in costs], pa.float64()),
            "metric": pa.array(["nps"] * len(inits)),
            "behaviour": pa.array(["churn"] * len(inits)),
            "holdout_share": pa.array([x["holdout_share"] for x in inits], pa.float64()),
        }
    )
