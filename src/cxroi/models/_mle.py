"""Maximum-likelihood machinery shared by the lifetime-value models (:mod:`cxroi.models.clv`).

Validation of per-customer summary arrays, compression of identical rows, and a fitter that
works on log-parameters: L-BFGS-B (on a seeded subsample when the data are large), Newton
steps on all rows with a Hessian from finite differences of the analytic gradient, and
standard errors from the final Hessian.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable

import numpy as np
import pandas as pd
from scipy import stats

from cxroi.errors import CxroiError, CxroiWarning, param

__all__ = ["ConvergenceWarning", "compress"]


class ConvergenceWarning(CxroiWarning):
    """The optimiser stopped without meeting its tolerance; estimates may be off."""


# --------------------------------------------------------------------------------------------
# validation and compression
# --------------------------------------------------------------------------------------------


def _dot(a: np.ndarray, b: np.ndarray) -> float:
    """Dot product of two long 1-d arrays without BLAS.

    A BLAS ``dot`` wakes its thread pool on every call; on a busy machine that costs more
    than the product itself (10x slower, measured), and a fit makes hundreds of them.
    """
    return float(np.einsum("i,i->", a, b))


def _as_array(name: str, values: object) -> np.ndarray:
    arr = np.asarray(values, dtype=float).ravel()
    if arr.size == 0:
        raise CxroiError(f"{name} is empty: there are no customers to fit")
    bad = ~np.isfinite(arr)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise CxroiError(
            f"{name} has {int(bad.sum())} missing or infinite value(s), first at row {i}"
        )
    return arr


def _first_bad(name: str, mask: np.ndarray, values: np.ndarray, reason: str) -> None:
    if mask.any():
        i = int(np.flatnonzero(mask)[0])
        raise CxroiError(
            f"{name}: {int(mask.sum())} row(s) {reason}; first at row {i} (value {values[i]:g})"
        )


def _validate_rft(frequency: object, recency: object, T: object) -> tuple[np.ndarray, ...]:
    x = _as_array("frequency", frequency)
    tx = _as_array("recency", recency)
    big_t = _as_array("T", T)
    if not (x.size == tx.size == big_t.size):
        raise CxroiError(
            f"frequency, recency and T differ in length ({x.size}, {tx.size}, {big_t.size})"
        )
    _first_bad("frequency", (x < 0) | (x != np.round(x)), x, "are not whole numbers >= 0")
    _first_bad("recency", tx < 0, tx, "are negative")
    # T = 0 (first purchase on the last day) is allowed: such a row adds 0 to the likelihood.
    _first_bad("T", big_t < 0, big_t, "are negative (T is the customer's age)")
    _first_bad(
        "recency",
        tx > big_t * (1 + 1e-12),
        tx,
        "exceed T (the last purchase is after the end of the calibration period)",
    )
    _first_bad(
        "recency",
        (x == 0) & (tx != 0),
        tx,
        "are non-zero where frequency is 0",
    )
    return x, tx, big_t


def compress(*columns: np.ndarray) -> tuple[list[np.ndarray], np.ndarray, np.ndarray]:
    """Collapse identical rows of several equal-length columns.

    Parameters
    ----------
    *columns
        1-d float arrays of the same length.

    Returns
    -------
    unique : list of ndarray
        The distinct rows, one array per column.
    weights : ndarray
        How many input rows each distinct row stands for.
    inverse : ndarray
        Index of each input row in the distinct rows.
    """
    codes, n_groups = pd.factorize(columns[0])[0], None
    for col in columns[1:]:
        c, uniq = pd.factorize(col)
        codes = pd.factorize(codes.astype(np.int64) * len(uniq) + c)[0]
    n_groups = int(codes.max()) + 1 if codes.size else 0
    first = np.full(n_groups, -1, dtype=np.int64)
    # position of the first occurrence of each group
    first[codes[::-1]] = np.arange(codes.size - 1, -1, -1)
    weights = np.bincount(codes, minlength=n_groups).astype(float)
    return [np.asarray(c, dtype=float)[first] for c in columns], weights, codes


def _maybe_compress(*columns: np.ndarray) -> tuple[list[np.ndarray], np.ndarray]:
    """Compress rows unless a seeded sample shows they are nearly all distinct.

    Compression costs a few hash passes over the data; when 95% or more of a sample of 20,000
    rows are distinct it cannot save more than it costs, and the rows are used as they are.
    """
    n = columns[0].size
    if n > 50_000:
        idx = np.random.default_rng(0).choice(n, 20_000, replace=False)
        _, w, _ = compress(*(c[idx] for c in columns))
        if w.size >= 0.95 * idx.size:
            return list(columns), np.ones(n)
    unique, w, _ = compress(*columns)
    return unique, w


_SUBSAMPLE = 20_000


def _fit_log_params(
    make_neg_ll: Callable[[np.ndarray | None], Callable[[np.ndarray], tuple[float, np.ndarray]]],
    n_rows: int,
    start: np.ndarray,
    model: str,
) -> tuple[np.ndarray, np.ndarray, int]:
    """Maximum likelihood over ``phi = log(theta)``; returns ``theta``, its SEs, iterations.

    ``make_neg_ll(index)`` builds the negative log-likelihood (value and analytic gradient in
    ``theta``) over the rows ``index`` (all rows for ``None``). The optimiser is a damped
    Newton method whose Hessian comes from finite differences of the analytic gradient (the
    models have 3 or 4 parameters, so that is 3 or 4 gradients). With many rows it first
    converges on a seeded subsample of 20,000 rows, then takes Newton steps on all rows with
    the subsample's Hessian (it estimates the same per-row average), so the full data are
    evaluated only for those steps and for the final Hessian, which gives the standard errors
    (delta method from ``phi`` to ``theta``).
    """
    full = make_neg_ll(None)

    def scaled(f: Callable, n: float) -> Callable:
        def fun(phi: np.ndarray) -> tuple[float, np.ndarray]:
            with np.errstate(all="ignore"):  # trial points may overflow: rejected below
                theta = np.exp(phi)
                value, grad = f(theta)
                return value / n, grad * theta / n

        return fun

    n_total = full.n  # type: ignore[attr-defined]
    f = scaled(full, n_total)
    phi = np.log(start)
    if n_rows > 2 * _SUBSAMPLE:
        idx = np.sort(np.random.default_rng(0).choice(n_rows, _SUBSAMPLE, replace=False))
        sub = make_neg_ll(idx)
        phi, _, _, hess, n_iter = _newton(scaled(sub, sub.n), phi, tol=1e-6)  # type: ignore[attr-defined]
        phi, value, grad, _, more = _newton(f, phi, hess=hess, tol=1e-8)
        n_iter += more
    else:
        phi, value, grad, _, n_iter = _newton(f, phi, tol=1e-8)
    hess = _hessian(f, phi, grad)
    if not np.isfinite(value) or np.max(np.abs(grad)) > 1e-6:
        warnings.warn(
            f"{model}: the fit did not converge (largest scaled gradient "
            f"{np.max(np.abs(grad)):.2g}); estimates may be off",
            ConvergenceWarning,
            stacklevel=3,
        )
    theta = np.exp(phi)
    try:
        cov_phi = np.linalg.inv(hess) / n_total
        diag = np.diag(cov_phi)
        se = theta * np.sqrt(np.where(diag > 0, diag, np.nan))
    except np.linalg.LinAlgError:
        se = np.full(theta.size, np.nan)
    if np.any(np.abs(phi) > 12) or not np.all(np.isfinite(se)):
        warnings.warn(
            f"{model}: the estimates are at the edge of the parameter space or their standard "
            "errors are undefined (too few customers, or data the model does not describe); "
            "treat them with caution",
            ConvergenceWarning,
            stacklevel=3,
        )
    return theta, se, n_iter


def _newton(
    f: Callable[[np.ndarray], tuple[float, np.ndarray]],
    phi: np.ndarray,
    *,
    tol: float,
    hess: np.ndarray | None = None,
    max_iter: int = 200,
) -> tuple[np.ndarray, float, np.ndarray, np.ndarray, int]:
    """Damped Newton minimisation of ``f`` (value, gradient) from ``phi``.

    With ``hess`` given, that matrix is kept for every step (a chord method); otherwise the
    Hessian is recomputed at each iterate. A Hessian that is not positive definite has its
    eigenvalues reflected and floored; steps are capped at 2 (a factor e^2 on a parameter)
    and halved until the value drops. Stops when the Newton step is below ``tol``.
    Returns ``phi, value, gradient, last Hessian, iterations``.
    """
    fixed = hess is not None
    value, grad = f(phi)
    if not np.isfinite(value):
        raise CxroiError("the likelihood is not finite at the starting values")
    h = hess if hess is not None else _hessian(f, phi, grad)
    n_iter = 0
    for n_iter in range(1, max_iter + 1):  # noqa: B007 - n_iter is returned
        if not fixed and n_iter > 1:
            h = _hessian(f, phi, grad)
        delta = -_solve_pd(h, grad)
        if np.max(np.abs(delta)) < tol:
            break
        step = min(1.0, 2.0 / np.max(np.abs(delta)))
        slope = float(grad @ delta)
        while step > 1e-10:
            new_value, new_grad = f(phi + step * delta)
            if np.isfinite(new_value) and (
                new_value <= value + 1e-4 * step * slope
                # within rounding of the value, a smaller gradient is progress
                or (
                    new_value <= value + 1e-13 * abs(value)
                    and np.max(np.abs(new_grad)) < np.max(np.abs(grad))
                )
            ):
                break
            step /= 2
        else:
            break
        phi, value, grad = phi + step * delta, new_value, new_grad
    return phi, value, grad, h, n_iter


def _solve_pd(hess: np.ndarray, grad: np.ndarray) -> np.ndarray:
    """Solve ``hess @ x = grad`` with ``hess`` made positive definite if it is not."""
    try:
        chol = np.linalg.cholesky(hess)
        return np.linalg.solve(chol.T, np.linalg.solve(chol, grad))
    except np.linalg.LinAlgError:
        w, v = np.linalg.eigh(hess)
        w = np.maximum(np.abs(w), 1e-6 * max(np.max(np.abs(w)), 1e-12))
        return v @ ((v.T @ grad) / w)


def _hessian(f: Callable, phi: np.ndarray, grad: np.ndarray) -> np.ndarray:
    """Forward-difference Hessian of the analytic gradient of ``f`` at ``phi``."""
    k = phi.size
    hess = np.empty((k, k))
    h = 1e-6
    for j in range(k):
        step = phi.copy()
        step[j] += h
        hess[:, j] = (f(step)[1] - grad) / h
    return (hess + hess.T) / 2


def _summary(params: dict[str, float], se: np.ndarray, *, level: float = 0.95) -> pd.DataFrame:
    """Fitted parameters with standard errors and intervals (the result contract's columns).

    The fit runs on log-parameters, so the interval is the normal interval there mapped back,
    :math:`\\theta \\exp(\\pm z\\, se/\\theta)`: it stays positive, as the parameters do.
    """
    if not 0 < level < 1:
        raise CxroiError(f"{param('level')} must be in (0, 1), got {level}")
    z = stats.norm.ppf(0.5 + level / 2)
    coef = np.array(list(params.values()), dtype=float)
    se = np.asarray(se, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        spread = np.exp(z * se / coef)
    return pd.DataFrame(
        {
            "estimate": coef,
            "se": se,
            "ci_low": coef / spread,
            "ci_high": coef * spread,
            "level": np.where(np.isfinite(se), level, np.nan),
        },
        index=pd.Index(list(params), name="param"),
    )
