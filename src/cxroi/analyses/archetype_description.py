"""Describing archetypes from their members: figures with intervals, names, descriptions and
typical comments (the second half of ``cxroi archetypes``; :mod:`cxroi.analyses.archetypes`
finds them).

Each archetype is described from its members (customers whose most probable archetype it
is): shares of customers and revenue, NPS (adjusted Wald), churn per year (constant hazard
over the months observed), CSAT (Wilson), revenue per month, CLV
(:func:`cxroi.models.profile.customer_clv` at its churn), tickets and purchases per month and
the theme its commenters mention most above all customers. Its name joins its two most
distinctive :data:`TRAITS`; its typical comments are those of its most probable members.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from cxroi._types import Tables
from cxroi.metrics._intervals import mean_interval, wilson, z_value
from cxroi.metrics.csat import csat_from_counts
from cxroi.metrics.money import churn_from_exposure
from cxroi.metrics.nps import nps_from_counts
from cxroi.models.archetypes import ArchetypeMixture
from cxroi.models.profile import customer_clv, margin_per_month
from cxroi.results import SMALL_N, estimate_frame

__all__ = [
    "TRAITS",
    "Themes",
    "archetype_stats",
    "describe",
    "main_table",
    "metrics_table",
    "name_archetypes",
    "selection_table",
    "top_theme",
    "typical_comments",
]


@dataclass
class Themes:
    """Theme mentions per customer: theme names and labels, the counts (in
    :mod:`cxroi.analyses.archetypes`, a row per customer of the profile, in its order), and a
    note when there are none."""

    names: list[str]
    labels: list[str]
    counts: pd.DataFrame | None  # by customer_id (the index): comments, mention_*, negative_*
    note: str | None = None


# -- describing -------------------------------------------------------------------------------


def archetype_stats(
    prof: pd.DataFrame, feats: pd.DataFrame, label: np.ndarray, proba: np.ndarray, k: int,
    th: Themes, discount_rate: float, level: float,
) -> pd.DataFrame:  # fmt: skip
    """One row of figures per archetype and, last, the row of all customers."""
    z = z_value(level)
    months = feats["months"].to_numpy(float)
    revenue = prof["spend"].fillna(0.0).to_numpy(float)
    revenue = revenue + prof["monthly_value"].fillna(0.0).to_numpy(float) * months
    data = pd.DataFrame({
        "months": months, "churned": feats["churned"], "purchases": feats["purchases"],
        "tickets": feats["tickets"], "spend": prof["spend"].fillna(0.0), "revenue": revenue,
        "revenue_pm": revenue / months, "margin": margin_per_month(prof),
        "nps_group": prof["nps_group"], "csat": pd.to_numeric(prof["csat_last"]),
        "tenure": prof["tenure_months"],
        **{c: prof[c] for c in ("age", "channel", "plan") if c in prof.columns},
    })  # fmt: skip
    if th.counts is not None:
        cols = ["comments", *[f"{p}_{n}" for p in ("mention", "negative") for n in th.names]]
        # a left merge by the id index: nothing to look up when in the profile's rows
        extra = th.counts[cols].reindex(prof["customer_id"])
        data[cols] = extra.fillna(0).to_numpy(float)
    rows = []
    for j in range(k + 1):
        g = data[label == j] if j < k else data
        exposure = g["months"].sum()
        row: dict[str, Any] = {"archetype": j + 1 if j < k else None, "customers": len(g),
                               "share": len(g) / len(data)}  # fmt: skip
        p = proba[:, j] if j < k else np.ones(len(data))
        row["expected_share"] = p.mean()
        row["expected_se"] = np.sqrt((p * (1 - p)).sum()) / len(data)
        row["revenue_share"] = g["revenue"].sum() / max(data["revenue"].sum(), 1e-12)
        grp = g["nps_group"]
        r = nps_from_counts(*[(grp == x).sum() for x in ("promoter", "passive", "detractor")],
                            level=level)  # fmt: skip
        row.update(nps=r["nps"], nps_ci_low=r["ci_low"], nps_ci_high=r["ci_high"], nps_n=r["n"])
        cs = g["csat"].dropna()
        c = csat_from_counts((cs >= 4).sum(), len(cs), level=level)
        row.update(csat=c["csat"], csat_ci_low=c["ci_low"], csat_ci_high=c["ci_high"])
        row["csat_n"] = len(cs)
        churn, se = churn_from_exposure(g["churned"].sum(), exposure / 12)
        row.update(churn=float(churn), churn_ci_low=max(churn - z * se, 0.0),
                   churn_ci_high=min(churn + z * se, 1.0))  # fmt: skip
        monthly = 1 - (1 - float(np.nan_to_num(churn))) ** (1 / 12)
        clv = customer_clv(g["margin"].to_numpy(), monthly, discount_rate)
        for key, x in (("revenue_pm", g["revenue_pm"].to_numpy()), ("clv", clv)):
            x = x[np.isfinite(x)]
            mean, _sd, _se, lo, hi = mean_interval(len(x), x.sum(), (x**2).sum(), level=level)
            row.update({key: mean, f"{key}_ci_low": lo, f"{key}_ci_high": hi, f"{key}_n": len(x)})
        for key in ("tickets", "purchases"):
            total = g[key].sum()
            rate, half = total / exposure, z * np.sqrt(total) / exposure
            row.update({f"{key}_pm": rate, f"{key}_pm_ci_low": max(rate - half, 0.0),
                        f"{key}_pm_ci_high": rate + half})  # fmt: skip
        row["avg_transaction"] = g["spend"].sum() / max(g["purchases"].sum(), 1)
        row["tenure"] = float(g["tenure"].median())
        if "age" in g:
            row["age"] = float(pd.to_numeric(g["age"], errors="coerce").mean())
        for col in ("channel", "plan"):
            if col in g:
                row[col] = {str(a): float(b) for a, b in g[col].value_counts(True).items()}
        if th.counts is not None:
            said = g["comments"] > 0
            row["commenters"] = int(said.sum())
            for n in th.names:
                row[f"mentions_{n}"] = ((g[f"mention_{n}"] > 0) & said).sum() / max(said.sum(), 1)
                row[f"negative_{n}"] = g[f"negative_{n}"].sum() / max(g[f"mention_{n}"].sum(), 1)
        rows.append({key: float(v) if isinstance(v, np.ndarray) else v for key, v in row.items()})
    out = pd.DataFrame(rows)
    out.attrs["themes"] = (th.names, th.labels)
    return out


TRAITS: tuple[tuple[str, str | None, str | None, float, float], ...] = (
    ("churn", "at-risk", "loyal", 1.35, 0.75),
    ("revenue_pm", "high-value", "low-value", 1.4, 0.7),
    ("nps", "enthusiastic", "critical", 15.0, -15.0),
    ("tickets_pm", "support-heavy", None, 1.6, 0.0),
    ("purchases_pm", "frequent", "occasional", 1.4, 0.65),
    ("avg_transaction", "big-basket", "price-sensitive", 1.4, 0.75),
    ("age", "older", "younger", 8.0, -8.0),
    ("tenure", "long-standing", "new", 1.6, 0.6),
)
"""Traits that name an archetype: (figure, word if high, word if low, thresholds). NPS and age
compare the difference with all customers (points, years), the others the ratio; a channel
or plan is a trait (``app-first``, ``premium-plan``) when its share is at least 35% and 1.6
times the overall share. A trait scores by how far it goes (log ratio, half that for a
channel or plan; difference / 40 NPS points or / 20 years); the two best make the name, in
this table's order."""


def _traits(row: dict[str, Any], ref: dict[str, Any]) -> list[tuple[int, float, str]]:
    out = []
    for order, (key, high, low, hi, lo) in enumerate(TRAITS):
        a, b = row.get(key), ref.get(key)
        if a is None or b is None or not (np.isfinite(a) and np.isfinite(b)):
            continue
        if key in ("nps", "age"):
            score, up, down = (a - b) / (40.0 if key == "nps" else 20.0), a - b >= hi, a - b <= lo
        elif a > 0 and b > 0:
            score, up, down = np.log(a / b), a / b >= hi, a / b <= lo
        else:
            continue
        if (up and high) or (down and low):
            out.append((order, abs(float(score)), str(high if up else low)))
    for col, fmt in (("channel", "{}-first"), ("plan", "{}-plan")):
        mine, base = row.get(col), ref.get(col)
        for lv, share in (mine or {}).items() if isinstance(mine, dict) else ():
            b = (base or {}).get(lv, 0.0)
            if share >= 0.35 and b > 0 and share / b >= 1.6:  # attributes count half
                out.append((len(TRAITS), 0.5 * float(np.log(share / b)), fmt.format(lv)))
    return sorted(out, key=lambda t: -t[1])


def name_archetypes(stats: pd.DataFrame) -> list[str]:
    """A distinct name per archetype from its two most distinctive :data:`TRAITS` (more if
    two would share a name); ``stats`` ends with the row of all customers."""
    rows = stats.to_dict("records")
    names: list[str] = []
    for row in rows[:-1]:
        traits, name = _traits(row, rows[-1]), "mainstream"
        for take in range(2, len(traits) + 2):
            name = " ".join(w for _o, _s, w in sorted(traits[:take])) or "mainstream"
            if name not in names:
                break
        while name in names:
            name = f"{name} {row['archetype']}"
        names.append(name)
    return [n[0].upper() + n[1:] for n in names]


def top_theme(row: dict[str, Any], stats: pd.DataFrame) -> tuple[str | None, float]:
    """The theme the archetype's commenters mention most above all customers (by ratio), and
    the share of its mentions in negative comments."""
    names, labels = stats.attrs.get("themes", ([], []))
    ref = stats.iloc[-1]
    best, lift, neg = None, 1.0, np.nan
    for name, lab in zip(names, labels, strict=True):
        mine, base = row[f"mentions_{name}"], ref[f"mentions_{name}"]
        if base > 0 and mine / base > lift:
            best, lift, neg = lab, mine / base, row[f"negative_{name}"]
    return best, neg


def _pct(x: float) -> str:
    return "n/a" if not np.isfinite(x) else f"{100 * x:.0f}%" if x >= 0.1 else f"{100 * x:.1f}%"


def describe(r: dict[str, Any]) -> str:
    """'Loyal high-value: 12% of customers, 38% of revenue, NPS +62 (+55 to +68), churn
    3%/yr, talks about staff' from one row of :func:`archetype_stats`."""
    parts = [f"{_pct(r['share'])} of customers", f"{_pct(r['revenue_share'])} of revenue"]
    if np.isfinite(r["nps"]):
        parts.append(f"NPS {r['nps']:+.0f} ({r['nps_ci_low']:+.0f} to {r['nps_ci_high']:+.0f})")
    else:
        parts.append("NPS n/a (no answers)")
    parts.append(f"churn {_pct(r['churn'])}/yr")
    if r.get("top_theme"):
        verb = "complains about" if r["top_theme_negative"] >= 0.5 else "talks about"
        parts.append(f"{verb} {r['top_theme']}")
    return f"{r['name']}: " + ", ".join(parts)


_METRICS = (  # figure, metric, where its interval is ("exact": none, a census share)
    ("share", "share of customers", "exact"),
    ("expected_share", "expected share of customers", "expected"),
    ("revenue_share", "share of revenue", "exact"),
    ("nps", "NPS", "nps"),
    ("csat", "CSAT % top-2", "csat"),
    ("churn", "churn per year", "churn"),
    ("revenue_pm", "revenue per month", "revenue_pm"),
    ("clv", "CLV", "clv"),
    ("tickets_pm", "tickets per month", "tickets_pm"),
    ("purchases_pm", "purchases per month", "purchases_pm"),
)


def metrics_table(stats: pd.DataFrame, level: float, min_n: int) -> pd.DataFrame:
    """Long table: every figure of every archetype (and of all customers), with interval."""
    z = z_value(level)
    names, labels = stats.attrs.get("themes", ([], []))
    rows = []
    for r in stats.to_dict("records"):
        base = {"archetype": r["archetype"], "name": r["name"]}
        for key, metric, ci in _METRICS:
            row = {**base, "metric": metric, "value": r[key], "n": r["customers"], "flag": ""}
            if ci == "exact":
                row["flag"] = "exact"
            elif ci == "expected":
                se = r["expected_se"]
                row.update(ci_low=max(r[key] - z * se, 0.0), ci_high=min(r[key] + z * se, 1.0))
            else:
                row.update(ci_low=r[f"{ci}_ci_low"], ci_high=r[f"{ci}_ci_high"])
                row["n"] = r.get(f"{ci}_n", r["customers"])
            rows.append(row)
        for name, lab in zip(names, labels, strict=True):
            said = round(r[f"mentions_{name}"] * r["commenters"])
            p, _se, lo, hi = (float(x) for x in wilson(said, r["commenters"], level=level))
            rows.append({**base, "metric": f"mentions: {lab}", "value": p, "ci_low": lo,
                         "ci_high": hi, "n": r["commenters"], "flag": ""})  # fmt: skip
    out = estimate_frame(pd.DataFrame(rows).astype({"n": "int64"}), level=level, min_n=min_n)
    out.loc[out["value"].isna(), "flag"] = "no-data"
    return out


def main_table(stats: pd.DataFrame, level: float, min_n: int) -> pd.DataFrame:
    """One row per archetype: its expected share of customers (interval from the uncertainty
    of the assignment) and headline figures; ``n`` is every customer."""
    z = z_value(level)
    s = stats.iloc[:-1]
    se = s["expected_se"]
    out = pd.DataFrame({
        "archetype": s["archetype"].astype(int), "name": s["name"],
        "customers": s["customers"].astype(int), "value": s["expected_share"],
        "ci_low": (s["expected_share"] - z * se).clip(lower=0),
        "ci_high": (s["expected_share"] + z * se).clip(upper=1),
        "n": int(stats["customers"].iloc[-1]),
        "flag": np.where(s["customers"] < min_n, SMALL_N, ""),
        "revenue_share": s["revenue_share"],
        **{c: s[c] for c in ("nps", "nps_ci_low", "nps_ci_high", "churn", "churn_ci_low",
                             "churn_ci_high", "top_theme", "description")},
    })  # fmt: skip
    return estimate_frame(out.rename(columns={"churn": "churn_per_year"}), level=level)


def selection_table(model: ArchetypeMixture) -> pd.DataFrame:
    """BIC of every K tried and the bootstrap stability of every K checked."""
    best = model.n_components_
    rows: list[dict[str, Any]] = [
        {"k": k, "metric": "bic", "value": b, "n": model.params_["n_fit"], "flag": "point-only",
         "chosen": k == best} for k, b in model.bic_.items()
    ]  # fmt: skip
    for k, st in model.stability_by_k_.items():
        lo, hi = np.quantile(st, [0.025, 0.975]) if st.size else (np.nan, np.nan)
        rows.append({"k": k, "metric": "stability (median ARI)", "n": st.size, "ci_low": lo,
                     "value": float(np.median(st)) if st.size else np.nan, "ci_high": hi,
                     "flag": "" if st.size else "no-data", "chosen": k == best})  # fmt: skip
    return estimate_frame(pd.DataFrame(rows))


def typical_comments(
    tables: Tables, label: np.ndarray, proba: np.ndarray, ids: np.ndarray, names: list[str],
    end_ts: dt.datetime, per: int = 3, pool: int = 200,
) -> pd.DataFrame:  # fmt: skip
    """The latest comment of each of the ``per`` highest-probability members with one (ties
    by customer id)."""
    cols = ["archetype", "name", "rank", "customer_id", "probability", "comment"]
    rs = tables.get("responses")
    if rs is None or "comment" not in rs.columns:
        return pd.DataFrame(columns=cols)
    cand = []
    for j in range(len(names)):
        m = np.flatnonzero(label == j)
        top = m[_first(-proba[m, j], ids[m], pool)]
        cand.append(pd.DataFrame({"j": j, "customer_id": ids[top], "probability": proba[top, j]}))
    cands = pd.concat(cand, ignore_index=True)
    rs = rs.filter(rs.comment.notnull() & (rs.ts < end_ts)
                   & rs.customer_id.isin(cands["customer_id"].tolist()))  # fmt: skip
    latest = rs.select("customer_id", "ts", "comment").to_pandas().sort_values(["ts", "comment"])
    latest = latest.groupby("customer_id").tail(1)[["customer_id", "comment"]]
    got = cands.merge(latest, on="customer_id").groupby("j", sort=True).head(per)
    got["rank"] = got.groupby("j").cumcount() + 1
    got["archetype"] = got["j"] + 1
    got["name"] = np.asarray(names, dtype=object)[got["j"].to_numpy()]
    return got[cols].reset_index(drop=True)


def _first(key: np.ndarray, ties: np.ndarray, n: int) -> np.ndarray:
    """Positions of the ``n`` smallest ``key`` values, ties broken by ``ties``, in that order:
    ``np.lexsort((ties, key))[:n]``, sorting only the rows that can be among them (those up to
    the ``n``-th smallest key, its ties included) rather than a million text ids."""
    if len(key) > n:
        cand = np.flatnonzero(key <= np.partition(key, n - 1)[n - 1])
        return cand[np.lexsort((ties[cand], key[cand]))][:n]
    return np.lexsort((ties, key))[:n]
