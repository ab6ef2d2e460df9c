"""Benchmark: BG/NBD + Gamma-Gamma fit on 1 million customers, against ``lifetimes``.

Target (issue 5): on simulator data with 1 million customers whose summaries are distinct, fit
BG/NBD and Gamma-Gamma in under 2 seconds, at least 10x faster than ``lifetimes`` on the same
data in the same run, with the same parameters to 3 significant digits, in under 2 GiB.

The data: the simulator's transactions (``generate_to``, cached in ``benchmarks/.data/``),
summarised in DuckDB by :func:`cxroi.models.rfm.rfm_summary` with exact times
(``merge_same_day=False``, weeks with a fraction), so nearly every customer's
(frequency, recency, T) row is distinct and compression cannot help: the likelihood itself is
what is timed. The calibration period is all 24 months.

The alternative: ``lifetimes`` 0.11.3 (``BetaGeoFitter``, ``GammaGammaFitter``) does not
install on numpy 2, so the benchmark makes its own virtual environment
``benchmarks/.venv-lifetimes`` on first use with the last versions it works with (numpy 1.26,
scipy 1.11, pandas 2.1) and runs it as a subprocess on the same arrays. Both fits run in fresh
subprocesses so that each one's peak memory (max RSS) is its own.

Usage: ``python benchmarks/bench_clv.py [--scale small|full]``
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "src"))

LT_VENV = HERE / ".venv-lifetimes"
LT_PINS = [
    "numpy==1.26.4",
    "scipy==1.11.4",
    "pandas==2.1.4",
    "setuptools<70",  # lifetimes imports pkg_resources
    "autograd==1.7.0",
    "dill",
    "lifetimes==0.11.3",
]
PARAMS = ["r", "alpha", "a", "b", "p", "q", "v"]

# Peak resident memory of this process since exec (ru_maxrss would include the parent's).
PEAK = """
def peak_mib():
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
"""

OURS = PEAK + textwrap.dedent(
    """
    import json, sys, time
    import numpy as np
    from cxroi.models.clv import BetaGeo, GammaGamma
    d = np.load(sys.argv[1])
    x, tx, T, m = d["frequency"], d["recency"], d["T"], d["monetary_value"]
    t0 = time.perf_counter()
    bg = BetaGeo().fit(x, tx, T)
    rep = x > 0
    gg = GammaGamma().fit(x[rep], m[rep])
    t1 = time.perf_counter()
    print(json.dumps({"seconds": t1 - t0, "params": {**bg.params_, **gg.params_},
                      "n_distinct": bg.n_distinct_,
                      "max_rss_mib": peak_mib()}))
    """
)

LIFETIMES = PEAK + textwrap.dedent(
    """
    import json, sys, time, warnings
    warnings.simplefilter("ignore")
    import numpy as np
    from lifetimes import BetaGeoFitter, GammaGammaFitter
    d = np.load(sys.argv[1])
    x, tx, T, m = d["frequency"], d["recency"], d["T"], d["monetary_value"]
    t0 = time.perf_counter()
    bg = BetaGeoFitter().fit(x, tx, T)
    rep = x > 0
    gg = GammaGammaFitter().fit(x[rep], m[rep])
    t1 = time.perf_counter()
    params = {**{k: float(v) for k, v in bg.params_.items()},
              **{k: float(v) for k, v in gg.params_.items()}}
    print(json.dumps({"seconds": t1 - t0, "params": params,
                      "max_rss_mib": peak_mib()}))
    """
)


def lifetimes_python() -> Path | None:
    """The lifetimes venv's python, made on first use; ``None`` (with a note) if it cannot be."""
    py = LT_VENV / "bin" / "python"
    if py.exists():
        return py
    print("lifetimes_env: creating benchmarks/.venv-lifetimes (first run only)", flush=True)
    try:
        subprocess.run([sys.executable, "-m", "venv", str(LT_VENV)], check=True)
        subprocess.run(
            [str(py), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", *LT_PINS],
            check=True,
        )
    except subprocess.CalledProcessError as e:
        print(f"lifetimes_env: unavailable ({e})")
        return None
    return py


def summary_arrays(customers: int) -> Path:
    """Simulate (cached), summarise in DuckDB with exact times, save the arrays (cached)."""
    import ibis

    from cxroi.models.rfm import rfm_summary
    from cxroi.simulate import generate_to

    data = HERE / ".data" / f"clv-{customers}"
    out = data / "summary.npz"
    if out.exists():
        return out
    t0 = time.perf_counter()
    if not (data / "transactions.parquet").exists():
        generate_to(data, customers=customers, months=24, seed=0, start="2024-01-01")
    t1 = time.perf_counter()
    con = ibis.duckdb.connect()
    tx = con.read_parquet(data / "transactions.parquet")
    df = rfm_summary(
        tx, calibration_end="2025-12-31", time_unit="week", merge_same_day=False
    ).to_pyarrow()
    t2 = time.perf_counter()
    np.savez(
        out,
        frequency=df["frequency"].to_numpy().astype(float),
        recency=df["recency"].to_numpy(),
        T=df["T"].to_numpy(),
        monetary_value=df["monetary_value"].to_numpy(zero_copy_only=False),
    )
    print(f"simulate_s: {t1 - t0:.1f}")
    print(f"summary_in_duckdb_s: {t2 - t1:.2f}")
    return out


def run(python: Path | str, code: str, npz: Path) -> dict:
    env_src = str(HERE.parent / "src")
    res = subprocess.run(
        [str(python), "-c", code, str(npz)],
        capture_output=True,
        text=True,
        env={"PYTHONPATH": env_src, "PATH": "/usr/bin:/bin", "OMP_NUM_THREADS": "2"},
    )
    if res.returncode != 0:
        raise RuntimeError(res.stderr[-2000:])
    return json.loads(res.stdout.strip().splitlines()[-1])


def same_3_sig(a: float, b: float) -> bool:
    return float(f"{a:.3g}") == float(f"{b:.3g}") or abs(a - b) <= 5e-4 * max(abs(a), abs(b))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scale", choices=["small", "full"], default="small")
    args = ap.parse_args()
    # 6% of simulated customers never buy in the 24 months: 1.06 million simulated customers
    # give just over 1 million purchase summaries at full scale.
    customers = 20_000 if args.scale == "small" else 1_060_000
    npz = summary_arrays(customers)
    d = np.load(npz)
    n = d["frequency"].size
    print(f"customers_summarised: {n}")
    print(f"repeat_buyers: {int((d['frequency'] > 0).sum())}")
    ours = run(sys.executable, OURS, npz)
    print(f"distinct_rows_share: {ours['n_distinct'] / n:.4f}")
    print(f"cxroi_fit_s: {ours['seconds']:.3f}")
    print(f"cxroi_max_rss_mib: {ours['max_rss_mib']:.0f}")
    py = lifetimes_python()
    if py is None:
        print("lifetimes_fit_s: n/a")
        return
    theirs = run(py, LIFETIMES, npz)
    print(f"lifetimes_fit_s: {theirs['seconds']:.3f}")
    print(f"lifetimes_max_rss_mib: {theirs['max_rss_mib']:.0f}")
    print(f"speedup_vs_lifetimes: {theirs['seconds'] / ours['seconds']:.1f}x")
    rel = {k: abs(ours["params"][k] / theirs["params"][k] - 1) for k in PARAMS}
    worst = max(rel, key=rel.get)
    print(f"max_param_rel_diff: {rel[worst]:.2e} ({worst})")
    match = all(same_3_sig(ours["params"][k], theirs["params"][k]) for k in PARAMS)
    print(f"params_same_to_3_sig_digits: {'yes' if match else 'no'}")
    print("params_cxroi: " + ", ".join(f"{k}={ours['params'][k]:.4g}" for k in PARAMS))
    print("params_lifetimes: " + ", ".join(f"{k}={theirs['params'][k]:.4g}" for k in PARAMS))


if __name__ == "__main__":
    main()
