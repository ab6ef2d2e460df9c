"""Does ``cxroi at-risk`` beat the plain logistic regression on last NPS and plan, out of
time, on seeds no test uses? And is its mean predicted churn within 10% of the observed?

For each seed, simulate a company, ingest it and run ``at_risk`` (fit on the profile two
horizons before the last day, scored one horizon before it, against the churn that followed).

    python validation/at_risk_auc.py --seeds 101 102 103 104 105 --customers 20000

Writes one CSV row per seed (``validation/at_risk_auc.csv``) and prints them.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import pandas as pd

from cxroi import Workspace, analyses
from cxroi.simulate import generate


def one_seed(seed: int, customers: int, months: int, horizon: int) -> dict:
    sim = generate(customers=customers, months=months, seed=seed)
    path = Path(tempfile.mkdtemp()) / "ws"
    with Workspace.init(path) as ws:
        for name, table in sim.tables.items():
            ws.ingest(name, table)
    with Workspace.open(path) as ws:
        v = analyses.at_risk(ws, horizon_days=horizon).table("validation")
    v = v.set_index(["metric", "model"])
    auc_m, auc_p = v.loc[("AUC", "model")], v.loc[("AUC", "peer")]
    diff = v.loc[("AUC difference", "model - peer")]
    obs = v.loc[("observed churn", "observed")]
    row = {
        "seed": seed,
        "customers": customers,
        "scored": int(auc_m["n"]),
        "churners": int(auc_m["events"]),
        "auc_model": auc_m["estimate"],
        "auc_peer": auc_p["estimate"],
        "auc_diff": diff["estimate"],
        "diff_ci_low": diff["ci_low"],
        "diff_ci_high": diff["ci_high"],
        "observed_churn": obs["estimate"],
    }
    for model in ("model", "peer"):
        row[f"predicted_{model}"] = v.loc[("mean predicted churn", model), "estimate"]
        row[f"ratio_{model}"] = v.loc[("predicted ÷ observed churn", model), "estimate"]
    return row


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, nargs="+", default=[101, 102, 103, 104, 105])
    ap.add_argument("--customers", type=int, default=20_000)
    ap.add_argument("--months", type=int, default=24)
    ap.add_argument("--horizon-days", type=int, default=90)
    ap.add_argument("--out", type=Path, default=Path(__file__).with_name("at_risk_auc.csv"))
    a = ap.parse_args()
    t0 = time.time()
    df = pd.DataFrame([one_seed(s, a.customers, a.months, a.horizon_days) for s in a.seeds])
    df.to_csv(a.out, index=False)
    with pd.option_context("display.width", 250, "display.max_columns", 30):
        print(df.to_string(index=False))
    print(
        f"model beats peer on {(df['auc_diff'] > 0).sum()} of {len(df)} seeds "
        f"(significantly on {(df['diff_ci_low'] > 0).sum()}); mean gain "
        f"{df['auc_diff'].mean():+.4f} ({time.time() - t0:.0f} s)"
    )


if __name__ == "__main__":
    main()
