"""``cxroi lever``: what an operational measure does to churn, spend or NPS, adjusted."""

from __future__ import annotations

from collections.abc import Sequence

from cxroi import progress
from cxroi._types import WorkspaceLike
from cxroi.models.levers import lever_effects
from cxroi.results import Result, Table, estimate_frame
from cxroi.window import Window

__all__ = ["lever"]


@progress.task("lever")
def lever(
    ws: WorkspaceLike,
    *,
    measure: str = "first_response_hours",
    outcome: str = "churn",
    threshold: float | None = None,
    adjust: Sequence[str] | None = None,
    survey: str | None = None,
    change: tuple[float, float] | None = None,
    level: float = 0.95,
) -> Result:
    """The association of an operational measure with churn, spend or NPS.

    Parameters
    ----------
    ws
        The workspace (its ``min_n`` flags small samples).
    measure
        ``first_response_hours``, ``resolution_hours`` or a numeric column of tickets or
        events (``events.COL`` to say which).
    outcome
        ``churn`` (Cox model on the customer-month panel, the measure acting on the next
        month), ``spend`` or ``nps`` (per-customer regression adjustment; with a
        ``threshold`` also doubly robust AIPW).
    threshold
        Compare the measure above ``threshold`` with below; default a linear effect.
    adjust
        Confounders; ``None``: ``plan``, ``region`` and ``tenure_years`` (those present).
    survey
        NPS from this survey only.
    change
        ``(from, to)`` values of the measure for a linear effect; default its 75th and 25th
        percentiles.
    level
        Interval level.

    Returns
    -------
    Result
        Table ``lever``: one row per estimate (:func:`cxroi.models.levers.lever_effects`), with
        its method, interval, ``n`` (customers) and reading.
    """
    tables = ws.tables
    rows = lever_effects(
        tables,
        measure,
        outcome=outcome,
        threshold=threshold,
        confounders=adjust,
        change=change,
        survey=survey,
        level=level,
    )
    frame = estimate_frame(rows, level=level, min_n=ws.settings.min_n)
    adjusted = str(frame["adjusted_for"].iloc[0])
    title = f"Lever: {measure} -> {outcome}"
    return Result(
        "lever",
        title,
        [
            Table(
                "lever",
                title,
                frame,
                view=["method", "effect", "estimate", "ci_low", "ci_high", "n", "flag"],
            )
        ],
        method="; ".join(dict.fromkeys(frame["method"])),
        adjustment=[] if adjusted == "nothing" else adjusted.split(", "),
        window=Window.resolve(tables).as_dict(),
        params={
            "measure": measure,
            "outcome": outcome,
            "threshold": threshold,
            "survey": survey,
            "min_n": ws.settings.min_n,
        },
        readings=list(frame["reading"]),
    )
