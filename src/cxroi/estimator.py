"""The estimator base class every fitter shares (scikit-learn's and lifelines' pattern).

It sits in the base layer so that models and text analytics share it.

The constructor stores settings unchanged; ``fit`` validates, sets learned attributes ending
in ``_`` (always ``params_``), keeps no copy of the training data and returns ``self``;
``summary`` is a DataFrame of the fitted parameters. Asking for a learned attribute before
``fit`` raises :class:`~cxroi.errors.NotFittedError` naming the model.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from cxroi.errors import NotFittedError

__all__ = ["Estimator"]


class Estimator:
    """Base class: not-fitted errors, ``params_`` and ``summary``.

    Subclasses set ``self.params_`` (a Series or dict of fitted parameters) in ``fit`` and may
    override :meth:`_summary` for a richer table (standard errors, intervals).
    """

    params_: Any

    _not_fitted_hint = "call fit() first"

    def __getattr__(self, name: str) -> Any:
        # Only reached when normal lookup fails: a learned attribute before fit, or a property
        # whose getter raised NotFittedError (an AttributeError, which Python swallows).
        if name.endswith("_") and not name.startswith("__"):
            raise NotFittedError(self._not_fitted_message())
        if isinstance(getattr(type(self), name, None), property):
            self._check_fitted()
        raise AttributeError(f"{type(self).__name__!s} has no attribute {name!r}")

    def _not_fitted_message(self) -> str:
        return f"{type(self).__name__} is not fitted yet; {self._not_fitted_hint}"

    @property
    def is_fitted(self) -> bool:
        """Whether :meth:`fit` has run."""
        return "params_" in self.__dict__

    def _check_fitted(self) -> None:
        if not self.is_fitted:
            raise NotFittedError(self._not_fitted_message())

    @property
    def summary(self) -> pd.DataFrame:
        """The fitted parameters as a DataFrame."""
        self._check_fitted()
        return self._summary()

    def _summary(self) -> pd.DataFrame:
        p = self.params_
        s = p if isinstance(p, pd.Series) else pd.Series(dict(p), dtype=float)
        return s.rename("estimate").to_frame()

    def __repr__(self) -> str:
        state = "fitted" if self.is_fitted else "not fitted"
        return f"{type(self).__name__}({state})"
