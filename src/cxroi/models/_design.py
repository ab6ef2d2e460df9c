"""Shared pieces of the adjusted estimators: confounder defaults and regression designs."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from cxroi.errors import CxroiError, param

__all__ = ["DEFAULT_CONFOUNDERS", "default_confounders", "design", "z"]

DEFAULT_CONFOUNDERS = ("plan", "region", "tenure_years")
"""Confounders adjusted for unless the analyst names others (those present)."""


def default_confounders(columns: Sequence[str], confounders: Sequence[str] | None) -> list[str]:
    """The confounders to adjust for: ``confounders`` (checked), or the defaults present."""
    if confounders is None:
        return [c for c in DEFAULT_CONFOUNDERS if c in columns]
    missing = [c for c in confounders if c not in columns]
    if missing:
        known = ", ".join(c for c in columns if c != "customer_id")
        raise CxroiError(
            f"{param('adjust')}: column(s) not found: {', '.join(missing)}; the customers and "
            f"their ledger have {known}"
        )
    return list(confounders)


def design(df: pd.DataFrame, columns: Sequence[str]) -> pd.DataFrame:
    """Regression design of ``columns``: numbers as they are (missing: the mean), text as
    0/1 dummies of every level but the first (a missing value is a level of its own)."""
    parts = []
    for c in columns:
        col = df[c]
        if pd.api.types.is_numeric_dtype(col):
            parts.append(col.astype(float).fillna(col.mean()).rename(c))
        else:
            parts.append(pd.get_dummies(col.astype(str), prefix=c, drop_first=True, dtype=float))
    return pd.concat(parts, axis=1) if parts else pd.DataFrame(index=df.index)


def z(level: float) -> float:
    """Two-sided normal quantile of an interval ``level`` (0.95 -> 1.96)."""
    from scipy import stats

    if not 0 < level < 1:
        raise CxroiError(f"{param('level')} must be between 0 and 1, got {level}")
    return float(stats.norm.ppf(0.5 + level / 2))
