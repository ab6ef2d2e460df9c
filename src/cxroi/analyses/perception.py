"""``cxroi value``: what perception is worth, raw (by NPS group) and adjusted (vs promoters)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pandas as pd

from cxroi import progress
from cxroi._types import WorkspaceLike
from cxroi.cache import cached
from cxroi.models._design import default_confounders
from cxroi.models.effects import perception_effects
from cxroi.models.ledger import ledger_frame
from cxroi.models.perception import value_of_perception
from cxroi.results import SMALL_N, Result, Table, estimate_frame
from cxroi.window import Window

__all__ = ["adjusted_effects", "value"]

MAX_AGE = 2
"""Months an NPS response stays current for the adjusted effects."""


@progress.task("value of perception")
def value(
    ws: WorkspaceLike,
    *,
    by: str | None = None,
    survey: str | None = None,
    adjust: Sequence[str] | None = None,
    n_boot: int = 200,
    random_state: int = 0,
    level: float = 0.95,
) -> Result:
    """Value of perception: behaviour and value of each NPS group, and adjusted effects.

    Parameters
    ----------
    ws
        The workspace (its ``discount_rate`` and ``min_n`` apply).
    by
        Segment column of the customers: the ``value`` table gets one block per segment.
    survey
        NPS from this survey only (e.g. the relationship survey).
    adjust
        Confounders of the ``effects`` table; ``None``: ``plan``, ``region`` and
        ``tenure_years`` (those present); ``[]``: unadjusted.
    n_boot, random_state
        Bootstrap replicates and seed of the ``value`` intervals.
    level
        Interval level.

    Returns
    -------
    Result
        ``value``: churn rate, spend, purchases, cost to serve, referrals and CLV per NPS
        group, and the change in each when one customer moves up a group
        (:func:`cxroi.models.perception.value_of_perception`); ``effects``: churn hazard ratio
        and spend multiple of passives and detractors vs promoters on the customer-month
        panel, adjusted (:func:`cxroi.models.effects.perception_effects`). An effect that
        cannot be estimated keeps its rows, flagged ``not-estimable``, with a warning.
    """
    settings = ws.settings
    tables = ws.tables
    led = ledger_frame(tables, survey=survey)
    raw = value_of_perception(
        led,
        by=by,
        discount_rate=settings.discount_rate,
        min_n=settings.min_n,
        n_boot=n_boot,
        level=level,
        random_state=random_state,
    )
    conf = default_confounders(list(led.columns), adjust)
    eff = adjusted_effects(ws, led, confounders=conf, survey=survey, level=level)
    values = estimate_frame(raw, level=level, no_interval="point-only" if n_boot <= 0 else
                            "not-estimable")  # fmt: skip
    effects = estimate_frame(eff, level=level)
    warnings = [f"effects, {o}: {note}" for o, note in _notes(effects)]
    small = values.loc[values["flag"].str.contains(SMALL_N), "nps_group"].unique().tolist()
    if small:
        warnings.append(
            f"fewer than {settings.min_n} customers in: {', '.join(map(str, small))} "
            f"(flagged {SMALL_N})"
        )
    readings = _move_readings(values, level) if by is None else []
    readings += [r for r, e in zip(effects["reading"], effects["estimate"], strict=True)
                 if pd.notna(e)]  # fmt: skip
    seg = [by] if by else []
    return Result(
        "value",
        "Value of perception",
        [
            Table(
                "value",
                "Behaviour and value by NPS group, and of moving one customer up",
                values,
                method=(
                    "rates per year of exposure; CLV = m·r/(1 + i − r) of the group's annual "
                    f"margin and retention; percentile bootstrap over customers ({n_boot} "
                    "replicates)"
                ),
                view=[*seg, "nps_group", "metric", "value", "ci_low", "ci_high", "n", "flag"],
            ),
            Table(
                "effects",
                "Churn hazard ratio and spend multiple vs promoters, adjusted for "
                + (", ".join(conf) or "nothing"),
                effects,
                view=["outcome", "nps_group", "estimate", "ci_low", "ci_high", "n", "flag"],
            ),
        ],
        method=(
            "value: per-group sums over the customer ledger; effects: Cox model (churn) and "
            "log-linear regression (spend) on the customer-month panel with the NPS group so "
            f"far (a response stays current {MAX_AGE} months)"
        ),
        adjustment=conf,
        window=Window.resolve(tables).as_dict(),
        params={
            "by": by,
            "survey": survey,
            "discount_rate": settings.discount_rate,
            "min_n": settings.min_n,
            "n_customers": len(led),
            "n_rated": int(led["nps_group"].notna().sum()),
            "n_boot": n_boot,
            "random_state": random_state,
            "max_age_months": MAX_AGE,
        },
        warnings=warnings,
        readings=readings,
    )


def _notes(effects: pd.DataFrame) -> list[tuple[str, str]]:
    """The reason an outcome could not be estimated, once per outcome."""
    failed = effects[effects["note"].fillna("") != ""]
    return list(dict.fromkeys(zip(failed["outcome"], failed["note"], strict=True)))


def _move_readings(values: pd.DataFrame, level: float) -> list[str]:
    out = []
    moves = values[(values["metric"] == "clv") & values["nps_group"].str.contains("->")]
    for r in moves.itertuples():
        a, b = str(r.nps_group).split("->")
        ci = (
            f" ({level:.0%} CI {r.ci_low:,.2f} to {r.ci_high:,.2f})"
            if pd.notna(r.ci_low) and pd.notna(r.ci_high)
            else ""
        )
        out.append(f"Moving one {a} to {b} is worth {r.value:,.2f} in lifetime value{ci}.")
    return out


def adjusted_effects(
    ws: WorkspaceLike,
    ledger: pd.DataFrame | None,
    *,
    confounders: Sequence[str],
    survey: str | None,
    level: float,
) -> pd.DataFrame:
    """The adjusted effects of perception on churn and spend
    (:func:`cxroi.models.effects.perception_effects`, not strict), computed once per state of
    the data (:mod:`cxroi.cache`): ``cxroi value`` and ``cxroi opportunities`` share them.

    ``ledger`` is one row per customer holding the confounders the customer ledger lacks
    (``None``: the confounders are the ledger's).
    """
    params: dict[str, Any] = {
        "confounders": list(confounders), "survey": survey, "max_age": MAX_AGE, "level": level,
        "min_n": ws.settings.min_n,
    }  # fmt: skip
    got = cached(ws, "effects", params, lambda: {
        "effects": perception_effects(ws.tables, ledger=ledger, strict=False, **params)
    })  # fmt: skip
    eff = got["effects"]
    assert isinstance(eff, pd.DataFrame)
    return eff
