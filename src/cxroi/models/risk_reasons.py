"""The reasons behind a churn-risk score, in plain words from the customer's own data.

A feature's *contribution* to a customer's score (:meth:`cxroi.models.risk.ChurnRisk.contributions`)
is how far it moves the customer's logit from that of the average training customer, summed by
source column. :func:`risk_reasons` words the two or three largest positive ones: "detractor
since March", "two slow first responses", "no purchase in 120 days", "city harbourside".

Hand-written: the wording is this product's.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from cxroi.models.risk import ChurnRisk

__all__ = ["risk_reasons"]


_WORDS = ("no", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten")


def _count(n: float, noun: str, plural: str | None = None) -> str:
    k = int(n)
    word = _WORDS[k] if 0 <= k < len(_WORDS) else f"{k:,}"
    return f"{word} {noun if k == 1 else plural or noun + 's'}"


def _months(m: float) -> str:
    if m < 1:
        return "new customer (under a month)"
    if m < 12:
        return f"new customer ({_count(round(m), 'month')})"
    years = m / 12
    return f"customer for {_count(round(years), 'year')}" if years >= 1.5 else "customer for a year"


def _recency(d: float) -> str:
    if math.isnan(d):
        return "no purchase yet"
    if d > 30:
        return f"no purchase in {int(d):,} days"
    return "a purchase on the day" if d < 1 else f"last purchase {_count(d, 'day')} ago"


def _score(name: str, top: int) -> Callable[[float], str]:
    return lambda v: f"no {name} answer" if math.isnan(v) else f"last {name} {v:.0f} of {top}"


def _reason_keys(group: str, part: pd.DataFrame, as_of: Any) -> pd.Series:
    """The value each reason is worded from (rounded, so the wording runs once per value)."""
    if group == "nps_last" and "nps_group" in part:
        at = pd.to_datetime(part["nps_last_at"]) if "nps_last_at" in part else None
        if at is None:
            when = pd.Series("", index=part.index)
        else:
            old = (pd.Timestamp(as_of) - at).dt.days > 300
            when = " since " + at.dt.strftime("%B").where(~old, at.dt.strftime("%B %Y"))
            when = when.fillna("")
        grp = part["nps_group"].astype("string")
        return (grp + when).where(grp.notna(), "no NPS answer")
    s = part[group]
    if pd.api.types.is_bool_dtype(s) or pd.api.types.is_numeric_dtype(s):
        x = pd.to_numeric(s, errors="coerce").astype(float)
        return x.round(0 if group not in ("visits_per_month",) else 1)
    return s.astype("string").fillna("\x00missing")


def _reason_text(group: str, recent_days: int) -> Callable[[Any], str]:
    recent = f"in {recent_days} days"
    words: dict[str, Callable[[Any], str]] = {
        "nps_last": lambda v: v if isinstance(v, str) else _score("NPS", 10)(v),
        "slow_recent": lambda v: _count(v, "slow first response"),
        "tickets_recent": lambda v: f"{_count(v, 'support ticket')} {recent}",
        "purchases_recent": lambda v: f"{_count(v, 'purchase')} {recent}",
        "spend_recent": lambda v: f"spent {v:,.0f} {recent}",
        "recency_days": _recency,
        "spend_per_month": lambda v: f"spends {v:,.0f} a month",
        "visits_per_month": lambda v: f"{v:.1f} visits a month",
        "tenure_months": _months,
        "contract_value": lambda v: f"contract worth {v:,.0f} a month",
        "contracts": lambda v: _count(v, "contract"),
        "support_cost": lambda v: f"support cost {v:,.0f} so far",
        "nps_answers": lambda v: _count(v, "NPS answer"),
        "csat_last": _score("CSAT", 5),
        "ces_last": _score("effort score", 7),
    }
    if group in words:  # a count or amount is never missing in a profile; a score may be
        fn, nan_ok = words[group], group in ("recency_days", "csat_last", "ces_last", "nps_last")
        return lambda v: "" if _nan(v) and not nan_ok else fn(v)
    label = group.replace("_", " ")

    def attribute(v: Any) -> str:
        if isinstance(v, str):
            return f"no {label}" if v == "\x00missing" else f"{label} {v}"
        return f"no {label}" if _nan(v) else f"{label} {v:g}"

    return attribute


def _nan(v: Any) -> bool:
    return isinstance(v, float) and math.isnan(v)


def risk_reasons(
    model: ChurnRisk,
    profile: pd.DataFrame,
    *,
    as_of: Any,
    top: int = 3,
    recent_days: int = 90,
    min_contribution: float = 0.02,
    contributions: np.ndarray | None = None,
) -> np.ndarray:
    """The two or three things that raise each customer's churn risk most, in words.

    Parameters
    ----------
    model
        A fitted :class:`ChurnRisk`.
    profile
        The customers' profile (the columns the model reads, plus ``nps_last_at`` for "since
        March").
    as_of
        The profile's day (an answer older than 300 days names its year).
    top
        At most this many reasons per customer.
    min_contribution
        Only columns that raise the logit by more than this are named (0.02: odds up 2%).
    recent_days
        The profile's recent window, as the words say it ("in 90 days").
    contributions
        :meth:`ChurnRisk.contributions` of ``profile``, when already computed.

    Returns
    -------
    numpy.ndarray
        One ``"; "``-joined string per row, largest contribution first (empty when nothing
        raises the score).

    Examples
    --------
    >>> prof = pd.DataFrame({"slow_recent": [0, 2, 0, 2] * 20, "plan": ["a", "a", "b", "b"] * 20})
    >>> m = ChurnRisk(min_events=1).fit(prof, [0, 1, 0, 1] * 20)
    >>> risk_reasons(m, prof.head(2), as_of="2025-01-01").tolist()
    ['', 'two slow first responses']
    """
    c = model.contributions(profile) if contributions is None else contributions
    n, g = c.shape
    out = np.full(n, "", dtype=object)
    k = min(top, g)
    if k == 0 or n == 0:
        return out
    idx = np.argpartition(-c, k - 1, axis=1)[:, :k] if k < g else np.tile(np.arange(g), (n, 1))
    vals = np.take_along_axis(c, idx, axis=1)
    order = np.argsort(-vals, axis=1, kind="stable")
    idx, vals = np.take_along_axis(idx, order, 1), np.take_along_axis(vals, order, 1)
    groups = model.groups_
    for r in range(k):
        text = np.full(n, "", dtype=object)
        for gi in np.unique(idx[:, r]):
            rows = np.flatnonzero((idx[:, r] == gi) & (vals[:, r] > min_contribution))
            if not len(rows):
                continue
            group = groups[gi]
            keys = _reason_keys(group, profile.iloc[rows], as_of)
            codes, uniques = pd.factorize(keys, use_na_sentinel=False)
            word = _reason_text(group, recent_days)
            text[rows] = np.array([word(_plain(u)) for u in uniques], dtype=object)[codes]
        has = text != ""
        both = has & (out != "")
        out[both] = out[both] + "; " + text[both]
        out[has & ~both] = text[has & ~both]
    return out


def _plain(v: Any) -> Any:
    if v is None or v is pd.NA:
        return float("nan")
    if isinstance(v, np.generic):
        return v.item()
    return v
