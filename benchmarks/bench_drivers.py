"""Benchmark: key driver analysis, 12 drivers on up to 1 million responses.

Target (issue 7): relative weights or exact Shapley importance, each with 200 bootstrap
replicates, in under 10 seconds on 1 million responses.

Alternatives a user would pick, timed on the same data in the same run:

- Shapley: the naive all-subsets decomposition refitting scikit-learn ``LinearRegression`` on
  each of the 2^12 = 4096 driver subsets (point estimate only, no bootstrap);
- relative weights with a bootstrap by resampling rows (``np.corrcoef`` on each resample).

At ``--scale full`` the alternatives are timed on a sample of subsets / replicates and
extrapolated linearly (they are sums of identical independent steps); the output says so.

Usage: ``python benchmarks/bench_drivers.py [--scale small|full]``
"""

from __future__ import annotations

import argparse
import itertools
import math
import time

import numpy as np
import pandas as pd
from sklearn.linear_model import LinearRegression

from cxroi.models.drivers import relative_weights, shapley_importance

P = 12
N_BOOT = 200


def make_responses(n: int, seed: int = 0) -> pd.DataFrame:
    """Ratings 1-10 of 12 correlated attributes and an NPS driven by them."""
    rng = np.random.default_rng(seed)
    halo = rng.normal(size=(n, 1))
    latent = 0.6 * halo + 0.8 * rng.normal(size=(n, P))
    ratings = np.clip(np.rint(6.5 + 1.8 * latent), 1, 10)
    weights = np.linspace(0.5, 0.05, P)
    nps = np.clip(np.rint(ratings @ weights / weights.sum() + rng.normal(0, 1.5, n)), 0, 10)
    df = pd.DataFrame(ratings, columns=[f"rating_{i:02d}" for i in range(P)])
    df["nps"] = nps
    return df


def naive_shapley(df: pd.DataFrame, drivers: list[str], max_subsets: int | None):
    """All-subsets Shapley with one sklearn refit per subset; returns (seconds, fits, r2)."""
    y = df["nps"].to_numpy()
    subsets = [s for k in range(1, P + 1) for s in itertools.combinations(range(P), k)]
    if max_subsets is not None and max_subsets < len(subsets):
        rng = np.random.default_rng(1)
        subsets = [subsets[i] for i in rng.choice(len(subsets), max_subsets, replace=False)]
    x = df[drivers].to_numpy()
    r2 = {(): 0.0}
    t0 = time.perf_counter()
    for s in subsets:
        r2[s] = LinearRegression().fit(x[:, s], y).score(x[:, s], y)
    return time.perf_counter() - t0, len(subsets), r2


def shapley_from(r2: dict) -> np.ndarray:
    out = np.zeros(P)
    for j in range(P):
        for s, v in r2.items():
            if j in s:
                continue
            k = len(s)
            w = math.factorial(k) * math.factorial(P - k - 1) / math.factorial(P)
            out[j] += w * (r2[tuple(sorted((*s, j)))] - v)
    return out


def naive_rwa_bootstrap(df: pd.DataFrame, replicates: int) -> float:
    x = df.to_numpy()
    rng = np.random.default_rng(2)
    t0 = time.perf_counter()
    for _ in range(replicates):
        r = np.corrcoef(x[rng.integers(0, len(x), len(x))], rowvar=False)
        ev, v = np.linalg.eigh(r[:P, :P])
        lam = v @ np.diag(np.sqrt(ev)) @ v.T
        beta = np.linalg.solve(lam, r[:P, P])
        _ = (lam**2) @ beta**2
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--scale", choices=["small", "full"], default="small")
    scale = ap.parse_args().scale
    n = 1_000_000 if scale == "full" else 20_000
    df = make_responses(n)
    drivers = [c for c in df.columns if c != "nps"]
    print(f"rows: {n}")
    print(f"drivers: {P}")
    print(f"bootstrap_replicates: {N_BOOT}")

    t0 = time.perf_counter()
    rw = relative_weights(df, "nps", drivers, n_boot=N_BOOT, seed=0)
    t_rw = time.perf_counter() - t0
    t0 = time.perf_counter()
    sh = shapley_importance(df, "nps", drivers, n_boot=N_BOOT, seed=0)
    t_sh = time.perf_counter() - t0
    print(f"cxroi_relative_weights_s: {t_rw:.2f}")
    print(f"cxroi_shapley_exact_s: {t_sh:.2f}")

    full_fits = 2**P - 1
    t_naive, fits, r2 = naive_shapley(df, drivers, None if scale == "small" else 200)
    t_naive_all = t_naive * full_fits / fits
    label = "measured" if fits == full_fits else f"extrapolated from {fits} of {full_fits} fits"
    print(f"naive_sklearn_all_subsets_shapley_s: {t_naive_all:.2f} ({label}; no bootstrap)")
    print(f"shapley_speedup_vs_naive_point_only: {t_naive_all / t_sh:.1f}x")
    if fits == full_fits:
        ours = sh.set_index("driver").loc[drivers, "weight"].to_numpy()
        print(f"shapley_max_abs_diff_vs_naive: {np.abs(shapley_from(r2) - ours).max():.2e}")

    reps = N_BOOT if scale == "small" else 10
    t_boot = naive_rwa_bootstrap(df, reps) * N_BOOT / reps
    label = "measured" if reps == N_BOOT else f"extrapolated from {reps} replicates"
    print(f"naive_rwa_row_bootstrap_s: {t_boot:.2f} ({label})")
    print(f"relative_weights_speedup_vs_row_bootstrap: {t_boot / t_rw:.1f}x")
    print(f"target_under_10s: {'yes' if max(t_rw, t_sh) < 10 else 'NO'}")
    _ = rw


if __name__ == "__main__":
    main()
