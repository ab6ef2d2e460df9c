"""Coverage of ``roi measure`` on simulator seeds no test uses (issue 13's targets).

For each seed, simulate a company, ingest it, measure every initiative, and compare with the
simulator's ground truth: does the 95% interval of the NPS effect (and of the churn hazard
ratio, and of the spend effect) cover the true effect? And before against after, for the same
customers, months, costs and discounting (``roi simulate`` as at launch, on the data before
it):

- ``sim_agrees``: the realised NPV is inside the simulation's 90% band for this measurement
  (the simulated expected value's draws plus the measurement's own error, paired draw by draw:
  ``roi measure``'s ``simulated_agrees``);
- ``sim_in_band``: the realised NPV is inside ``roi simulate``'s own 90% predictive band
  (estimates' uncertainty plus the outcome noise of an ideal measurement);
- ``true_in_sim_band``: the NPV of the *true* effects (the simulator's churn hazard ratio and
  spend effect, valued like the realised ones: on the customers at launch with their observed
  churn and margin) is inside that predictive band;
- ``bands_overlap``: the realised 95% band overlaps the predictive band.

Beside them, the spend ``roi simulate`` expected (``sim_spend_first``, ``sim_spend_last``,
``sim_spend_mean``: its spend per customer-month alive in the first and last month measured and
on average over them) against the treated customers' realised spend per customer-month after
launch (``spend_after``, effect included); ``spend_ratio`` is the one over the other.

    python validation/roi_coverage.py --seeds 101 102 103 104 105 --customers 10000

Writes one CSV row per seed x initiative and prints the coverage table.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from cxroi import Workspace, analyses
from cxroi.models.roi import realised_paths
from cxroi.simulate import generate


def one_seed(seed: int, customers: int, months: int) -> list[dict]:
    """Every initiative of the company of ``seed``, measured and compared with the truth; its
    workspace lives in a temporary folder, removed afterwards."""
    sim = generate(customers=customers, months=months, seed=seed)
    with tempfile.TemporaryDirectory(prefix="cxroi-roi-coverage-") as tmp:
        return _measured(sim, Path(tmp) / "ws", seed)


def _measured(sim, path: Path, seed: int) -> list[dict]:
    with Workspace.init(path) as ws:
        for name, table in sim.tables.items():
            ws.ingest(name, table)
    rows = []
    with Workspace.open(path, read_only=True) as ws:
        for truth in sim.truth["initiatives"]:
            iid = truth["initiative_id"]
            r = analyses.roi_measure(ws, iid, draws=1000)
            e = r.table("effects").set_index("metric")
            money = r.table("roi").set_index("quantity")
            row = {"seed": seed, "initiative_id": iid, "level": truth["level"]}
            for metric, key in (("nps_points", "true_effect_nps_points"),
                                ("nps_score", "true_effect_nps_score"),
                                ("churn_hazard_ratio", "true_effect_churn_hr"),
                                ("spend_per_month", "true_effect_spend_per_month")):  # fmt: skip
                lo, hi = e.loc[metric, "ci_low"], e.loc[metric, "ci_high"]
                row[f"{metric}_true"] = truth[key]
                row[f"{metric}_est"] = e.loc[metric, "estimate"]
                row[f"{metric}_low"], row[f"{metric}_high"] = lo, hi
                row[f"{metric}_covered"] = bool(lo <= truth[key] <= hi)
                row[f"{metric}_pretrend_p"] = e.loc[metric, "pretrend_p"]
            npv = money.loc["npv"]
            row["npv"], row["npv_low"], row["npv_high"] = (
                npv["estimate"],
                npv["ci_low"],
                npv["ci_high"],
            )
            row["sim"] = npv["simulated"]
            row["sim_low"], row["sim_high"] = npv["simulated_low"], npv["simulated_high"]
            row["agree_low"], row["agree_high"] = npv["agreement_low"], npv["agreement_high"]
            row["sim_agrees"] = bool(r.params["simulated_agrees"])
            row["sim_in_band"] = bool(r.params["simulated_band_covers"])
            p = r.params
            at_truth = realised_paths(
                customers=p["customers_at_launch"], churn_monthly=p["churn_monthly"],
                margin_monthly=p["margin_monthly"],
                hazard_ratio=np.array([truth["true_effect_churn_hr"]]),
                spend_effect=np.array([truth["true_effect_spend_per_month"]]),
                cost=truth["cost"], running_cost=truth["running_cost"],
                horizon_months=p["horizon_months"], discount_rate=ws.settings.discount_rate,
            ).npv[0]  # fmt: skip
            row["npv_at_true_effects"] = at_truth
            row["true_in_sim_band"] = bool(
                npv["simulated_low"] <= at_truth <= npv["simulated_high"]
            )
            row["bands_overlap"] = bool(
                pd.notna(npv["simulated_low"])
                and npv["ci_low"] <= npv["simulated_high"]
                and npv["simulated_low"] <= npv["ci_high"]
            )
            path = p["simulated_spend_path"]
            if path:
                row["sim_spend_first"], row["sim_spend_last"] = path[0], path[-1]
                row["sim_spend_mean"] = float(np.mean(path))
            row["spend_after"] = p["spend_monthly"]
            row["spend_ratio"] = row.get("sim_spend_mean", np.nan) / p["spend_monthly"]
            row["true_roi"] = truth["true_roi_to_data_end"]
            row["roi"] = r.params["roi"]
            rows.append(row)
    return rows


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", type=int, nargs="+", default=[101, 102, 103, 104, 105])
    ap.add_argument("--customers", type=int, default=10_000)
    ap.add_argument("--months", type=int, default=24)
    ap.add_argument("--out", default="validation/roi_coverage.csv")
    a = ap.parse_args()
    rows = []
    for seed in a.seeds:
        t = time.time()
        rows += one_seed(seed, a.customers, a.months)
        print(f"seed {seed}: {time.time() - t:.0f} s", flush=True)
        pd.DataFrame(rows).to_csv(a.out, index=False)
    df = pd.DataFrame(rows)
    cols = [c for c in df.columns if c.endswith("_covered")]
    cols += ["sim_agrees", "sim_in_band", "true_in_sim_band", "bands_overlap"]
    print(df[cols].mean().round(3).to_string())
    print(df.groupby("level")[cols].mean().round(2).to_string())
    print("simulated / realised spend per customer-month after launch:")
    print(df.groupby("level")["spend_ratio"].describe().round(3).to_string())
    print(df["spend_ratio"].describe().round(3).to_string())


if __name__ == "__main__":
    main()
