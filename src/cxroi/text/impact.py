"""What each theme costs: volume, sentiment, NPS, key-driver weight, churn and revenue at risk.

The chain A → C → B in text: a theme (what customers say about an action or touchpoint) is
linked to their perception (NPS of those who mention it) and to their behaviour (churn and
spend from the per-customer ledger, :mod:`cxroi.models.ledger`).

Definitions, for theme :math:`j` among commented responses in scope:

- ``n``: responses whose comment mentions the theme; ``share`` = ``n`` ÷ commented responses.
- ``sentiment``: mean comment sentiment of those responses (:func:`score_sentiment`:
  score-aware when enough scored comments exist, else VADER).
- ``nps_with`` / ``nps_without``: NPS of responses mentioning / not mentioning the theme, with
  adjusted-Wald intervals (:mod:`cxroi.metrics.nps`); ``nps_gap`` = with − without, with its
  interval.
- ``n_negative``: mentions whose tone is negative (the mean sentiment of the comment's
  sentences on the theme is below the sentiment model's neutral point; see
  :func:`comment_frame`); ``nps_negative``: NPS of those responses; ``nps_gap_negative`` /
  ``nps_gap_positive``: NPS of responses mentioning the theme negatively / positively minus
  NPS of responses not mentioning it, with intervals. A theme's praise and its complaints
  pull its overall ``nps_gap`` in opposite directions; these two keep them apart.
- ``impact`` (key-driver weight): the coefficient :math:`\\beta_j` of the least-squares fit

  .. math::  100\\,(\\mathbb 1[\\text{nps} \\ge 9] - \\mathbb 1[\\text{nps} \\le 6]) =
             \\beta_0 + \\sum_j \\beta_j\\, \\mathbb 1[\\text{mentions } j] + \\varepsilon

  over all themes at once: the NPS points a mention of the theme moves, holding the other
  themes fixed (interval from the classical standard error).
- ``churn_with`` / ``churn_without``: annual churn of customers with at least one comment
  mentioning / none mentioning the theme, :math:`1 - e^{-E/T}` with :math:`E` churned
  customers and :math:`T` their exposure in years (ledger definitions).
- ``spend_with``: annual spend per mentioning customer, :math:`\\sum \\text{spend} / T`.
- ``revenue_at_risk``: the yearly revenue lost to the extra churn of mentioners,

  .. math::  \\text{RaR}_j = (\\text{churn}_\\text{with} - \\text{churn}_\\text{without})
             \\times N_j \\times \\text{spend}_\\text{with},

  with :math:`N_j` mentioning customers; negative when mentioners churn less (revenue the
  theme protects). Its interval carries the churn difference's interval.

Groups with fewer than the workspace's ``min_n`` mentions are flagged ``small-n``.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from statsmodels.stats.multitest import multipletests

from cxroi.errors import CxroiError
from cxroi.metrics._intervals import z_value
from cxroi.metrics.compare import nps_diff_from_counts, proportion_diff_from_counts
from cxroi.metrics.nps import nps_from_counts
from cxroi.text.sentiment import score_sentiment
from cxroi.text.themes import ThemeAssignment, ThemeConfig, ThemeModel, _sentences

__all__ = [
    "MODEL_FILE",
    "comment_frame",
    "emerging_themes",
    "impact_table",
    "parse_period",
    "theme_impact",
    "workspace_theme_model",
]

MODEL_FILE = Path("models") / "themes.json"


def parse_period(period: str) -> tuple[dt.datetime, dt.datetime]:
    """``YYYY``, ``YYYY-MM``, ``YYYY-Qn`` or ``START..END`` (dates) → [start, end) datetimes."""
    p = period.strip()
    try:
        if ".." in p:
            a, b = p.split("..", 1)
            start = pd.Timestamp(a)
            end = pd.Timestamp(b) + pd.Timedelta(days=1)
        elif "-Q" in p.upper():
            q = pd.Period(p.upper(), freq="Q")
            start, end = q.start_time, (q + 1).start_time
        elif len(p) == 4 and p.isdigit():
            start, end = pd.Timestamp(f"{p}-01-01"), pd.Timestamp(f"{int(p) + 1}-01-01")
        else:
            m = pd.Period(p, freq="M")
            start, end = m.start_time, (m + 1).start_time
    except (ValueError, TypeError):
        raise CxroiError(
            f"period {period!r} not understood; use YYYY, YYYY-MM, YYYY-Qn or DATE..DATE"
        ) from None
    return start.to_pydatetime(), end.to_pydatetime()


def workspace_theme_model(ws: Any, *, refit: bool = False, n_jobs: int | None = 1) -> ThemeModel:
    """The workspace's fitted theme model: loaded from ``models/themes.json``, or fitted on all
    comments in ``responses`` and saved there (``refit=True`` forces a new fit).

    The analyst's ``[themes]`` edits from ``cxroi.toml`` are attached as the model's config.
    """
    config = ThemeConfig.from_workspace(ws)
    path = Path(ws.path) / MODEL_FILE
    if path.exists() and not refit:
        return ThemeModel.load(path, config=config, n_jobs=n_jobs)
    rs = ws.table("responses")
    comments = rs.filter(rs.comment.notnull()).select("comment").to_pandas()["comment"]
    model = ThemeModel(config=config, n_jobs=n_jobs).fit(list(comments))
    model.save(path)
    return model


def comment_frame(
    ws: Any,
    *,
    by: str | None = None,
    period: str | None = None,
    refit: bool = False,
    n_jobs: int | None = 1,
) -> tuple[pd.DataFrame, ThemeAssignment, dict[str, Any]]:
    """Commented responses in scope with sentiment, and their theme assignment.

    Returns
    -------
    frame, assignment, info
        ``frame`` has ``response_id``, ``customer_id``, ``ts``, ``nps``, ``sentiment`` (and
        ``by``); ``assignment`` is row-aligned with it; ``info`` names the sentiment model.
    """
    model = workspace_theme_model(ws, refit=refit, n_jobs=n_jobs)
    rs = ws.table("responses")
    rs = rs.filter(rs.comment.notnull())
    if period is not None:
        start, end = parse_period(period)
        rs = rs.filter((rs.ts >= start) & (rs.ts < end))
    cols = ["response_id", "customer_id", "ts", "nps", "comment"]
    if by is not None and by not in cols:
        if by in rs.columns:
            cols.append(by)
        else:
            cust = ws.table("customers")
            if by not in cust.columns:
                raise CxroiError(f"no column {by!r} in responses or customers")
            rs = rs.left_join(cust.select("customer_id", by), "customer_id").drop(
                "customer_id_right"
            )
            cols.append(by)
    df = rs.select(*cols).order_by("response_id").to_pandas()
    if df.empty:
        raise CxroiError("no commented responses in scope" + (f" for {period}" if period else ""))
    texts = model._config.redact.many(df["comment"])
    sent = score_sentiment(texts, df["nps"], scale="nps", n_jobs=n_jobs)
    df["sentiment"] = sent.values
    assignment = model.transform(texts)
    assignment.negative = _negative_mentions(model, texts, assignment, sent)
    info = {"sentiment_model": sent.model, **sent.quality}
    return df.drop(columns="comment"), assignment, info


def _negative_mentions(
    model: ThemeModel, texts: list[str | None], assignment: ThemeAssignment, sent: Any
) -> np.ndarray:
    """Comment x theme: does the comment speak of the theme negatively?

    The tone of a mention is the mean sentiment of the comment's sentences assigned to the
    theme (scored with the comment-level model), or the whole comment's sentiment when the
    theme was given to the comment by a keyword edit that no single sentence carries. A tone
    below the model's neutral point (a text that says nothing) is negative.
    """
    sents, owner = _sentences(texts)
    mentioned = assignment.confidence > 0
    tone = np.where(mentioned, np.asarray(sent.values, float)[:, None], np.nan)
    if sents:
        on = model.transform(sents).confidence > 0
        val = np.nan_to_num(np.asarray(sent.predict(sents), float), nan=sent.neutral)
        n = len(texts)
        total = np.zeros(mentioned.shape)
        count = np.zeros(mentioned.shape)
        np.add.at(total, owner, on * val[:, None])
        np.add.at(count, owner, on.astype(float))
        with np.errstate(invalid="ignore", divide="ignore"):
            by_sentence = total / count
        tone = np.where(mentioned & (count > 0), by_sentence, tone)
        assert tone.shape[0] == n
    return mentioned & (tone < sent.neutral)


def _annual_churn(events: np.ndarray, years: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    with np.errstate(divide="ignore", invalid="ignore"):
        rate = events / years
        churn = 1 - np.exp(-rate)
        se = np.exp(-rate) * np.sqrt(events) / years  # delta method, Poisson events
    return churn, se


def impact_table(
    frame: pd.DataFrame,
    assignment: ThemeAssignment,
    ledger: pd.DataFrame | None,
    *,
    min_n: int = 30,
    level: float = 0.95,
) -> pd.DataFrame:
    """The theme impact table from row-aligned comments, themes and a per-customer ledger.

    Parameters
    ----------
    frame
        ``response_id``, ``customer_id``, ``nps``, ``sentiment`` per commented response.
    assignment
        Themes of each row of ``frame``.
    ledger
        ``customer_id``, ``churned``, ``exposure_years``, ``spend`` per customer, or ``None``.
    min_n
        Themes with fewer mentions are flagged ``small-n``.
    level
        Confidence level of every interval.

    Returns
    -------
    pandas.DataFrame
        One row per theme; columns as in the module docstring, plus intervals.
    """
    if len(frame) != assignment.confidence.shape[0]:
        raise CxroiError("comments and theme assignment differ in length")
    m = assignment.confidence > 0
    z = z_value(level)
    nps = pd.to_numeric(frame["nps"], errors="coerce").to_numpy(float)
    scored = ~np.isnan(nps)
    prom, det = (nps >= 9) & scored, (nps <= 6) & scored
    pas = scored & ~prom & ~det

    def tally(mask: np.ndarray, cls: np.ndarray) -> np.ndarray:
        return (mask & cls[:, None]).sum(axis=0)

    p_w, a_w, d_w = tally(m, prom), tally(m, pas), tally(m, det)
    p_o, a_o, d_o = tally(~m, prom), tally(~m, pas), tally(~m, det)
    with_ = nps_from_counts(p_w, a_w, d_w, level=level)
    without = nps_from_counts(p_o, a_o, d_o, level=level)
    gap = nps_diff_from_counts((p_o, a_o, d_o), (p_w, a_w, d_w), level=level)

    # key-driver weight: joint OLS of the promoter/detractor indicator on theme mentions
    k = m.shape[1]
    beta = np.full(k, np.nan)
    beta_se = np.full(k, np.nan)
    x = np.column_stack([np.ones(scored.sum()), m[scored].astype(float)])
    y = 100.0 * (prom[scored].astype(float) - det[scored].astype(float))
    if scored.sum() > k + 1:
        xtx_inv = np.linalg.pinv(x.T @ x)
        b = xtx_inv @ x.T @ y
        resid = y - x @ b
        s2 = resid @ resid / (len(y) - k - 1)
        beta, beta_se = b[1:], np.sqrt(np.maximum(np.diag(xtx_inv)[1:] * s2, 0))

    sent = frame["sentiment"].to_numpy(float)
    with np.errstate(invalid="ignore"):
        n = m.sum(0)
        sentiment = np.array([np.nanmean(sent[m[:, j]]) if n[j] else np.nan for j in range(k)])
    out = pd.DataFrame(
        {
            "theme": assignment.names,
            "label": assignment.labels,
            "n": n,
            "share": n / max(len(frame), 1),
            "sentiment": sentiment,
            "nps_with": with_["nps"],
            "nps_with_low": with_["ci_low"],
            "nps_with_high": with_["ci_high"],
            "nps_without": without["nps"],
            "nps_without_low": without["ci_low"],
            "nps_without_high": without["ci_high"],
            "nps_gap": gap["diff"],
            "nps_gap_low": gap["ci_low"],
            "nps_gap_high": gap["ci_high"],
            "impact": beta,
            "impact_low": beta - z * beta_se,
            "impact_high": beta + z * beta_se,
        }
    )
    if assignment.negative is not None:
        neg = m & assignment.negative
        p_n, a_n, d_n = tally(neg, prom), tally(neg, pas), tally(neg, det)
        pos = m & ~assignment.negative
        p_p, a_p, d_p = tally(pos, prom), tally(pos, pas), tally(pos, det)
        gap_n = nps_diff_from_counts((p_o, a_o, d_o), (p_n, a_n, d_n), level=level)
        gap_p = nps_diff_from_counts((p_o, a_o, d_o), (p_p, a_p, d_p), level=level)
        out["n_negative"] = neg.sum(0)
        out["nps_negative"] = nps_from_counts(p_n, a_n, d_n, level=level)["nps"]
        out["nps_gap_negative"] = gap_n["diff"]
        out["nps_gap_negative_low"] = gap_n["ci_low"]
        out["nps_gap_negative_high"] = gap_n["ci_high"]
        out["nps_gap_positive"] = gap_p["diff"]
        out["nps_gap_positive_low"] = gap_p["ci_low"]
        out["nps_gap_positive_high"] = gap_p["ci_high"]
    if ledger is not None and len(ledger):
        out = pd.concat([out, _behaviour(frame, m, ledger, z, level)], axis=1)
    out["flag"] = np.where(out["n"] < min_n, "small-n", "")
    return out


def _behaviour(
    frame: pd.DataFrame, m: np.ndarray, ledger: pd.DataFrame, z: float, level: float
) -> pd.DataFrame:
    cid = frame["customer_id"]
    has = cid.notna().to_numpy()
    # customer x theme: mentioned in any comment
    per = pd.DataFrame(m[has], columns=range(m.shape[1]))
    per["customer_id"] = cid[has].to_numpy()
    per = per.groupby("customer_id").max()
    led = ledger.set_index("customer_id").reindex(per.index)
    ok = led["exposure_years"].notna().to_numpy()
    per, led = per[ok], led[ok]
    churned = led["churned"].to_numpy(float)
    years = led["exposure_years"].to_numpy(float)
    spend = led["spend"].to_numpy(float)
    mm = per.to_numpy(bool)
    rows = []
    for j in range(m.shape[1]):
        w, o = mm[:, j], ~mm[:, j]
        ev = np.array([churned[w].sum(), churned[o].sum()])
        ty = np.array([years[w].sum(), years[o].sum()])
        churn, se = _annual_churn(ev, ty)
        d = churn[0] - churn[1]
        d_se = float(np.hypot(se[0], se[1]))
        with np.errstate(divide="ignore", invalid="ignore"):
            spend_w = spend[w].sum() / ty[0]
        n_c = int(w.sum())
        rows.append(
            {
                "customers_with": n_c,
                "churn_with": churn[0],
                "churn_without": churn[1],
                "spend_with": spend_w,
                "revenue_at_risk": d * n_c * spend_w,
                "revenue_at_risk_low": (d - z * d_se) * n_c * spend_w,
                "revenue_at_risk_high": (d + z * d_se) * n_c * spend_w,
            }
        )
    return pd.DataFrame(rows)


def theme_impact(
    ws: Any,
    *,
    by: str | None = None,
    period: str | None = None,
    refit: bool = False,
    level: float = 0.95,
    n_jobs: int | None = 1,
) -> pd.DataFrame:
    """The theme impact table of a workspace (see the module docstring for every column).

    Parameters
    ----------
    ws
        A :class:`cxroi.store.Workspace`.
    by
        Optional segment column (of responses or customers): one block of rows per value.
    period
        Only responses in this period (``YYYY``, ``YYYY-MM``, ``YYYY-Qn``, ``DATE..DATE``).
    refit
        Discover themes anew instead of loading ``models/themes.json``.
    level
        Confidence level.
    n_jobs
        Worker processes for sentiment and theme assignment.

    Returns
    -------
    pandas.DataFrame
        Sorted by revenue at risk (or impact when there is no behaviour data), largest first.
    """
    from cxroi.models.ledger import ledger_frame

    frame, assignment, info = comment_frame(ws, by=by, period=period, refit=refit, n_jobs=n_jobs)
    try:
        ledger = ledger_frame(ws)[["customer_id", "churned", "exposure_years", "spend"]]
    except CxroiError:
        ledger = None
    min_n = ws.settings.min_n
    if by is None:
        out = impact_table(frame, assignment, ledger, min_n=min_n, level=level)
    else:
        parts = []
        for value, idx in frame.groupby(by, dropna=False, sort=True).indices.items():
            t = impact_table(
                frame.iloc[idx], assignment.rows(idx), ledger, min_n=min_n, level=level
            )
            t.insert(0, by, value)
            parts.append(t)
        out = pd.concat(parts, ignore_index=True)
    out["sentiment_model"] = info["sentiment_model"]
    key = "revenue_at_risk" if "revenue_at_risk" in out else "impact"
    sort = [by, key] if by else [key]
    return out.sort_values(sort, ascending=[True] * (len(sort) - 1) + [False], ignore_index=True)


def emerging_themes(
    ws: Any,
    *,
    period: str = "month",
    alpha: float = 0.05,
    refit: bool = False,
    n_jobs: int | None = 1,
) -> pd.DataFrame:
    """Themes whose share of comments rose significantly in the last period.

    The last complete or partial ``period`` (``"month"``, ``"quarter"`` or ``"week"``) holding
    comments is compared with every earlier comment by a two-proportion z-test; p-values are
    adjusted for the number of themes (Benjamini-Hochberg). A theme is ``emerging`` when its
    share rose and the adjusted p-value is below ``alpha``.

    Returns
    -------
    pandas.DataFrame
        ``theme``, ``label``, ``period``, ``n_last``, ``share_last``, ``share_before``,
        ``change`` with ``change_low``/``change_high``, ``p_value``, ``p_adjusted``, ``emerging``.
    """
    freq = {"month": "M", "quarter": "Q", "week": "W"}.get(period)
    if freq is None:
        raise CxroiError(f"period must be month, quarter or week, got {period!r}")
    frame, assignment, _ = comment_frame(ws, refit=refit, n_jobs=n_jobs)
    per = pd.to_datetime(frame["ts"]).dt.to_period(freq)
    last = per.max()
    is_last = (per == last).to_numpy()
    if is_last.all():
        raise CxroiError("all comments fall in one period; nothing to compare with")
    m = assignment.confidence > 0
    k_b, n_b = m[is_last].sum(0), int(is_last.sum())
    k_a, n_a = m[~is_last].sum(0), int((~is_last).sum())
    d = proportion_diff_from_counts(k_a, n_a, k_b, n_b)
    p = np.asarray(d["p_value"], dtype=float)
    adj = multipletests(p, method="fdr_bh")[1]
    out = pd.DataFrame(
        {
            "theme": assignment.names,
            "label": assignment.labels,
            "period": str(last),
            "n_last": k_b,
            "share_last": d["b"],
            "share_before": d["a"],
            "change": d["diff"],
            "change_low": d["ci_low"],
            "change_high": d["ci_high"],
            "p_value": p,
            "p_adjusted": adj,
        }
    )
    out["emerging"] = (out["change"] > 0) & (out["p_adjusted"] < alpha)
    return out.sort_values("change", ascending=False, ignore_index=True)
