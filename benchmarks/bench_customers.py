"""Benchmark: who to act for, at a million customers — at-risk, archetypes, segments,
opportunities (issue 14).

The simulated company (1M customers x 24 months, seed 0) is written once to
``benchmarks/.data/customers-<n>/`` (Parquet) and ingested once into a workspace beside it.
Each job then runs in a fresh process, which reports its wall time, CPU time and peak RSS
(``VmHWM``: Python, DuckDB's threads and the scikit-learn fits together).

Compared, on the same data in the same run, with what a user would otherwise write:

- at-risk: pandas feature engineering from the raw Parquet tables and a scikit-learn
  ``LogisticRegression`` with the same out-of-time design (``pandas_at_risk.py``);
- archetypes: scikit-learn ``GaussianMixture`` fitted on every customer for each k (cxroi
  fits on a subsample and assigns every customer).

Usage: ``python benchmarks/bench_customers.py [--scale small|full] [--jobs at_risk ...]``
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
SIZES = {"small": 20_000, "full": 1_000_000}
SKLEARN_K = 6
JOB_TIMEOUT_S = 1800
TABLES = ("customers", "transactions", "contracts", "responses", "tickets", "events",
          "initiatives", "cases")  # fmt: skip


def data_dir(n: int) -> Path:
    """The simulated company's Parquet files, written again (and the workspace beside them
    dropped) when they are missing or another revision of the simulator wrote them."""
    import shutil

    from cxroi.simulate import generate_to
    from cxroi.simulate.params import REVISION

    d = HERE / ".data" / f"customers-{n}"
    truth = d / "ground_truth.json"
    if truth.exists() and json.loads(truth.read_text())["generator"].get("revision") != REVISION:
        shutil.rmtree(d)
    if not truth.exists():
        generate_to(d, customers=n, months=24, seed=0)
    return d


def workspace(n: int) -> Path:
    from cxroi import Workspace

    d = data_dir(n)
    path = d / "ws"
    if not (path / "ingested").exists():
        import pyarrow.parquet as pq

        with Workspace.init(path) as ws:
            for t in TABLES:
                if pq.read_metadata(d / f"{t}.parquet").num_rows:  # (no invitations)
                    ws.ingest(t, d / f"{t}.parquet")
        (path / "ingested").write_text("yes\n")
    return path


# -- the jobs, each run in its own process --------------------------------------------------


def job_at_risk(ws_path: Path, out: Path) -> dict:
    from cxroi import Workspace
    from cxroi.analyses.at_risk import at_risk_report
    from cxroi.cli._out import write_csv

    with Workspace.open(ws_path, read_only=True) as ws:
        result, scores = at_risk_report(ws)
    write_csv(scores, out / "at_risk.csv")
    v = result.table("validation").set_index(["metric", "model"])["estimate"]
    return {
        "scored": len(scores),
        "auc_model": float(v[("AUC", "model")]),
        "auc_peer": float(v[("AUC", "peer")]),
    }


def job_pandas_at_risk(ws_path: Path, out: Path) -> dict:
    sys.path.insert(0, str(HERE))
    from pandas_at_risk import pandas_at_risk

    from cxroi import Workspace
    from cxroi.window import data_bounds

    with Workspace.open(ws_path, read_only=True) as ws:
        _, last = data_bounds(ws.tables)
    assert last is not None
    return pandas_at_risk(ws_path.parent, last)


def _truth_ari(data: Path, ids, labels) -> float:
    import pandas as pd
    from sklearn.metrics import adjusted_rand_score

    truth = pd.read_parquet(data / "archetypes.parquet", columns=["customer_id", "archetype"])
    got = pd.DataFrame({"customer_id": ids, "label": labels})
    m = got.merge(truth, on="customer_id", how="inner")
    return float(adjusted_rand_score(m["archetype"], m["label"]))


def job_archetypes(ws_path: Path, out: Path) -> dict:
    from cxroi import Workspace
    from cxroi.analyses.archetypes import archetype_run
    from cxroi.cli._out import write_csv

    with Workspace.open(ws_path, read_only=True) as ws:
        run = archetype_run(ws, n_jobs=2)
    write_csv(run.assignments, out / "archetypes.csv")
    a = run.assignments
    return {
        "assigned": len(a),
        "k": int(a["archetype"].nunique()),
        "ari_vs_truth": _truth_ari(ws_path.parent, a["customer_id"], a["archetype"]),
    }


def job_sklearn_archetypes(ws_path: Path, out: Path) -> dict:
    """What a user would write: the profile one-hot encoded and standardised, scikit-learn's
    GaussianMixture (full covariances) fitted on every customer at k = 6, the middle of what
    cxroi chooses on this simulator (one fit: a BIC search over k = 2..8 on a million rows
    would take several times as long)."""
    import numpy as np
    import pandas as pd
    from sklearn.mixture import GaussianMixture
    from sklearn.preprocessing import StandardScaler

    from cxroi import Workspace
    from cxroi.models.profile import customer_profile
    from cxroi.window import data_bounds

    with Workspace.open(ws_path, read_only=True) as ws:
        _, last = data_bounds(ws.tables)
        p = customer_profile(ws.tables, as_of=last).to_pandas()
    months = np.maximum(p["tenure_months"].to_numpy(float), 1.0)
    num = pd.DataFrame(
        {
            "age": p["age"].astype(float),
            "log_spend_pm": np.log1p(p["spend"].to_numpy(float) / months),
            "log_avg": np.log1p(p["avg_transaction"].fillna(0).to_numpy(float)),
            "purchases_pm": p["purchases"].to_numpy(float) / months,
            "tickets_pm": p["tickets"].to_numpy(float) / months,
            "tenure": months,
            "churned": p["churn_date"].notna().astype(float),
        }
    )
    cats = pd.get_dummies(
        p[["plan", "region", "occupation", "channel"]]
        .astype(str)
        .assign(nps_group=p["nps_group"].astype(str)),
        dtype=float,
    )
    x = StandardScaler().fit_transform(pd.concat([num, cats], axis=1).to_numpy(float))
    gm = GaussianMixture(SKLEARN_K, covariance_type="full", random_state=0).fit(x)
    labels = gm.predict(x)
    return {
        "assigned": len(labels),
        "k": SKLEARN_K,
        "converged": bool(gm.converged_),
        "ari_vs_truth": _truth_ari(ws_path.parent, p["customer_id"], labels),
    }


def job_segments(ws_path: Path, out: Path) -> dict:
    from cxroi import Workspace
    from cxroi.analyses import segments

    with Workspace.open(ws_path, read_only=True) as ws:
        r = segments(ws)
    return {"segments": len(r.table("summary"))}


def job_opportunities(ws_path: Path, out: Path) -> dict:
    from cxroi import Workspace
    from cxroi.analyses import opportunities

    with Workspace.open(ws_path, read_only=True) as ws:
        t = opportunities(ws).table("opportunities")
    top = t.iloc[0]
    return {"ranked": len(t), "first": f"{top['dimension']} {top['segment']}"}


JOBS = {
    "at_risk": job_at_risk,
    "pandas_at_risk": job_pandas_at_risk,
    "archetypes": job_archetypes,
    "sklearn_archetypes": job_sklearn_archetypes,
    "segments": job_segments,
    "opportunities": job_opportunities,
}


DEFAULT_JOBS = ["at_risk", "pandas_at_risk", "archetypes", "sklearn_archetypes"]
"""What ``make bench`` runs (segments and opportunities at scale are issue 15's)."""


def _peak_mib() -> float:
    """This process's peak resident memory (VmHWM: unlike ``ru_maxrss`` it starts anew at
    exec, so a child does not report its parent's peak)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def child(name: str, ws_path: Path) -> None:
    t0, c0 = time.perf_counter(), time.process_time()
    with tempfile.TemporaryDirectory() as tmp:
        info = JOBS[name](ws_path, Path(tmp))
    info.update(
        wall_s=time.perf_counter() - t0,
        cpu_s=time.process_time() - c0,
        peak_mib=_peak_mib(),
    )
    print("RESULT " + json.dumps(info))


def run(name: str, ws_path: Path) -> dict:
    cmd = [sys.executable, __file__, "--child", name, "--ws", str(ws_path)]
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, check=False,
                           timeout=JOB_TIMEOUT_S)  # fmt: skip
    except subprocess.TimeoutExpired:
        return {"error": f"did not finish within {JOB_TIMEOUT_S} s"}
    lines = [ln for ln in p.stdout.splitlines() if ln.startswith("RESULT ")]
    if p.returncode or not lines:
        return {"error": (p.stderr.strip().splitlines() or ["no output"])[-1]}
    return json.loads(lines[-1][7:])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--scale", choices=tuple(SIZES), default="small")
    ap.add_argument("--jobs", nargs="*", default=DEFAULT_JOBS)
    ap.add_argument("--child")
    ap.add_argument("--ws", type=Path)
    a = ap.parse_args()
    if a.child:
        child(a.child, a.ws)
        return
    n = SIZES[a.scale]
    t0 = time.perf_counter()
    ws_path = workspace(n)
    print(f"customers: {n} (data and workspace ready in {time.perf_counter() - t0:.1f} s)")
    print(f"load_average_before: {os.getloadavg()[0]:.2f}")
    res = {}
    for name in a.jobs:
        res[name] = run(name, ws_path)
        print(f"{name}: {json.dumps(res[name])}", flush=True)
    for ours, theirs in (("at_risk", "pandas_at_risk"), ("archetypes", "sklearn_archetypes")):
        if "wall_s" in res.get(ours, {}) and "wall_s" in res.get(theirs, {}):
            r, t = res[ours], res[theirs]
            print(f"{ours}_vs_{theirs}: {t['wall_s'] / r['wall_s']:.2f}x faster, "
                  f"{t['peak_mib'] / r['peak_mib']:.2f}x less peak memory")  # fmt: skip
    print(f"load_average_after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
