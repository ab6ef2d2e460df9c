"""Theme analyses: the workspace's theme model, theme impact, emerging themes, sentiment.

Each function reads what it needs from the workspace (comments, the per-customer ledger, the
analyst's ``[themes]`` edits, ``min_n``) and hands frames to :mod:`cxroi.text`, which knows
nothing of workspaces. Definitions of every column are in :mod:`cxroi.text.impact`.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from cxroi import progress
from cxroi._types import WorkspaceLike
from cxroi.errors import CxroiError, first_line, param
from cxroi.models.ledger import customer_ledger
from cxroi.results import SMALL_N, Result, Table
from cxroi.text.impact import emerging_table, impact_table, score_comments
from cxroi.text.sentiment import SentimentResult, sentiment_frame
from cxroi.text.theme_config import ThemeConfig
from cxroi.text.theme_model import ThemeModel
from cxroi.text.theme_store import MODEL_FILE, load_model, save_model
from cxroi.window import period_span

__all__ = [
    "CommentThemes",
    "comment_frame",
    "comment_themes",
    "emerging",
    "sentiment",
    "theme_model",
    "themes",
]

IMPACT_METHOD = (
    "estimate: a mention's key-driver weight, the NPS points it moves holding the other themes "
    "fixed (joint least squares over all themes, classical standard errors); NPS with/without "
    "and gaps: adjusted Wald; churn: 1 - exp(-churned / exposure years) of customers with and "
    "without a mention; revenue at risk: extra churn x mentioning customers x their annual "
    "spend (interval from the churn difference)"
)
EMERGING_METHOD = (
    "estimate: change in a theme's share of comments, last period minus every earlier comment "
    "(two-proportion z-test, Wald interval; p-values adjusted by Benjamini-Hochberg)"
)
_LEDGER_COLUMNS = ["customer_id", "churned", "exposure_years", "spend"]


def theme_model(ws: WorkspaceLike, *, refit: bool = False, n_jobs: int | None = 1) -> ThemeModel:
    """The workspace's fitted theme model.

    Loaded from ``models/themes.json``, or fitted on every comment in ``responses`` and saved
    there (``refit=True`` forces a new fit). The analyst's ``[themes]`` edits from
    ``cxroi.toml`` are attached as the model's config.

    Parameters
    ----------
    ws
        The workspace.
    refit
        Discover themes anew and overwrite ``models/themes.json``.
    n_jobs
        Worker processes for the model's ``transform`` (``-1``: every core).
    """
    config = ThemeConfig.from_dict(ws.settings.section("themes"))
    path = Path(ws.path) / MODEL_FILE
    if path.exists() and not refit:
        return load_model(path, config=config, n_jobs=n_jobs)
    rs = ws.table("responses")
    # each distinct comment once (discovery reads distinct sentences; it samples above
    # ThemeModel.max_comments)
    distinct = rs.filter(rs.comment.notnull()).select("comment").distinct().to_pyarrow()
    model = ThemeModel(config=config, n_jobs=n_jobs).fit(distinct.column("comment").to_pylist())
    save_model(model, path)
    return model


def ensure_theme_model(ws: WorkspaceLike, *, n_jobs: int | None = 1) -> None:
    """Fit the workspace's theme model now when there is none (no comments: nothing to do).

    Call it before :func:`cxroi.cache.cached` for an analysis that reads the comment themes:
    fitted inside the analysis, the new model would change the state of the data under it, and
    the result would not be cached (the next call would compute it all again)."""
    if not (Path(ws.path) / MODEL_FILE).exists():
        with contextlib.suppress(CxroiError):  # no comments: the analysis says what it needs
            theme_model(ws, n_jobs=n_jobs)


def _comments(
    ws: WorkspaceLike, *, by: str | None = None, period: str | None = None
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Commented responses in scope (``response_id``, ``customer_id``, ``ts``, ``nps``,
    ``comment`` and ``by``) and the window they cover."""
    rs = ws.table("responses")
    rs = rs.filter(rs.comment.notnull())
    window: dict[str, Any] = {}
    if period is not None:
        start, end = period_span(period, name="period")
        rs = rs.filter((rs.ts >= start) & (rs.ts < end))
        window = {"period": period, "since": start.date(), "until": _last_day(end)}
    cols = ["response_id", "customer_id", "ts", "nps", "comment"]
    if by is not None and by not in cols:
        if by in rs.columns:
            cols.append(by)
        else:
            cust = ws.table("customers")
            if by not in cust.columns:
                raise CxroiError(f"{param('by')} {by!r} is not a column of responses or customers")
            rs = rs.left_join(cust.select("customer_id", by), "customer_id").drop(
                "customer_id_right"
            )
            cols.append(by)
    df = comment_frame(rs.select(*cols).order_by("response_id").to_pyarrow())
    if df.empty:
        raise CxroiError("no commented responses in scope" + (f" for {period}" if period else ""))
    if not window:
        ts = pd.to_datetime(df["ts"])
        window = {"since": ts.min().date(), "until": ts.max().date()}
    return df, window


def comment_frame(table: pa.Table) -> pd.DataFrame:
    """The rows as pandas, ``comment`` categorical: each distinct comment is one string."""
    i = table.column_names.index("comment")
    comment = pc.dictionary_encode(table.column(i)).combine_chunks()
    return table.set_column(i, "comment", comment).to_pandas()


@dataclass
class CommentThemes:
    """Every commented response of a known customer with its sentiment and theme mentions.

    ``comments`` has ``customer_id``, ``ts``, ``nps`` (missing without an answer),
    ``sentiment`` (lexicon, -1 to 1) and one boolean ``mention_<theme>`` per theme, a row per
    response in ``response_id`` order; ``names`` and ``labels`` are the themes'. (No reader
    needs the response ids, and a million of them as Python strings cost two seconds.)"""

    comments: pd.DataFrame
    names: list[str]
    labels: list[str]

    @property
    def mention_columns(self) -> list[str]:
        return [f"mention_{n}" for n in self.names]


def comment_themes(ws: WorkspaceLike, *, n_jobs: int | None = -1) -> CommentThemes:
    """Sentiment and theme mentions of every commented response of a known customer.

    One pass over the distinct comments (:func:`cxroi.text.pipeline.analyse_comments`, whose
    themes are those of the model's ``transform``), computed once per state of the data and
    theme model (:mod:`cxroi.cache`): the archetypes' theme features, the themes per segment
    of ``cxroi segments`` and ``cxroi opportunities`` read the same pass. ``n_jobs`` worker
    processes (``-1``: every core) do not change the answer.

    Raises
    ------
    CxroiError
        When the workspace has no theme model and none can be fitted.
    """
    from cxroi.cache import cached

    ensure_theme_model(ws, n_jobs=n_jobs)
    got = cached(ws, "comment-themes", {}, lambda: _comment_themes(ws, n_jobs), themes=True)
    return _as_comment_themes(got)


def _as_comment_themes(got: Mapping[str, Any]) -> CommentThemes:
    comments, th = got["comments"], got["themes"]
    assert isinstance(comments, pd.DataFrame) and isinstance(th, pd.DataFrame)
    return CommentThemes(comments, th["name"].tolist(), th["label"].tolist())


def _comment_themes(ws: WorkspaceLike, n_jobs: int | None) -> dict[str, pd.DataFrame]:
    from cxroi.text._parallel import prestart
    from cxroi.text.pipeline import analyse_comments

    rs = ws.table("responses")
    rs = rs.filter(rs.comment.notnull() & rs.customer_id.notnull())
    prestart(int(rs.count().execute()), n_jobs)  # the workers get ready while we read
    cols = ["customer_id", "ts", "nps", "comment"]
    df = comment_frame(rs.order_by("response_id").select(*cols).to_pyarrow())
    if df.empty:  # nothing to analyse: no theme model is needed (nor fitted)
        out = df.drop(columns="comment").assign(sentiment=np.empty(0))
        return {"comments": out, "themes": pd.DataFrame({"name": [], "label": []}, dtype=str)}
    model = theme_model(ws, n_jobs=n_jobs)
    with progress.task(f"themes of {len(df):,} comments"):
        # each distinct comment is analysed once, in one worker pool
        ca = analyse_comments(df["comment"], model, n_jobs=n_jobs)
    names, labels = list(ca.themes.names), list(ca.themes.labels)
    mentions = pd.DataFrame(
        ca.themes.confidence > 0, columns=[f"mention_{n}" for n in names], index=df.index
    )
    out = pd.concat([df.drop(columns="comment"), mentions], axis=1)
    out.insert(3, "sentiment", np.asarray(ca.sentiment, dtype=np.float64))
    return {"comments": out, "themes": pd.DataFrame({"name": names, "label": labels})}


def _ledger(ws: WorkspaceLike) -> pd.DataFrame:
    """The ledger columns theme impact needs, one row per customer (:func:`ledger_frame`)."""
    df = customer_ledger(ws.tables).select(*_LEDGER_COLUMNS).to_pandas()
    if df.empty:
        raise CxroiError("the workspace holds no customers yet; ingest the customers table")
    return df


def _last_day(end: dt.datetime) -> dt.date:
    return (end - dt.timedelta(days=1)).date()


def _sentiment_params(sent: SentimentResult) -> dict[str, Any]:
    out: dict[str, Any] = {"sentiment_model": sent.model}
    out.update({f"sentiment_{k}": v for k, v in sent.quality.items()})
    if sent.reason:
        out["sentiment_reason"] = sent.reason
    return out


def _small_n_warning(table: pd.DataFrame, min_n: int, what: str) -> list[str]:
    small = int(table["flag"].str.split(";").map(lambda f: SMALL_N in f).sum())
    if not small:
        return []
    return [f"{small} row(s) rest on fewer than {min_n} {what}; they are flagged {SMALL_N}"]


@progress.task("themes")
def themes(
    ws: WorkspaceLike,
    *,
    by: str | None = None,
    period: str | None = None,
    refit: bool = False,
    n_jobs: int | None = -1,
    level: float = 0.95,
) -> Result:
    """Theme impact: volume, sentiment, NPS with and without, key-driver weight, revenue at risk.

    Parameters
    ----------
    ws
        The workspace.
    by
        Optional segment column (of responses or customers): one block of rows per value.
    period
        Only comments in this period (:func:`cxroi.window.period_span`: ``2025``,
        ``2025-03``, ``2025-Q1``, ``2025-W02``, ``2025-03-15`` or ``A..B``).
    refit
        Discover themes anew instead of loading ``models/themes.json``.
    n_jobs
        Worker processes for sentiment and theme assignment (``-1``: every core).
    level
        Confidence level of every interval.

    Returns
    -------
    Result
        Table ``themes``: one row per theme (and segment), ``estimate`` the theme's impact in
        NPS points with ``ci_low``/``ci_high``, ``n`` its mentions; secondary quantities with
        ``<name>_ci_low``/``<name>_ci_high`` (see :mod:`cxroi.text.impact`). ``params`` names
        the sentiment model and its held-out quality.
    """
    model = theme_model(ws, refit=refit, n_jobs=n_jobs)
    frame, window = _comments(ws, by=by, period=period)
    scored, assignment, sent = score_comments(frame, model, n_jobs=n_jobs)
    warnings: list[str] = []
    try:
        ledger = _ledger(ws)
    except CxroiError as e:
        ledger = None
        warnings.append(f"no churn or revenue at risk: {e}")
    min_n = ws.settings.min_n
    table = impact_table(scored, assignment, ledger, by=by, min_n=min_n, level=level)
    warnings += _small_n_warning(table, min_n, "mentions")
    view = [by, "theme", "label", "n", "share", "sentiment", "nps_gap", "estimate", "ci_low",
            "ci_high", "revenue_at_risk", "flag"]  # fmt: skip
    return Result(
        "themes",
        "Theme impact" + (f" by {by}" if by else ""),
        [
            Table(
                "themes",
                "Theme impact",
                table,
                method=IMPACT_METHOD,
                view=[c for c in view if c is not None and c in table.columns],
            )
        ],
        method=IMPACT_METHOD,
        window=window,
        params={
            "by": by,
            "level": level,
            "min_n": min_n,
            "n_comments": len(frame),
            "n_themes": len(assignment.names),
            **_sentiment_params(sent),
        },
        warnings=warnings,
        readings=_impact_readings(table, ws.settings.currency) if by is None else [],
    )


def _impact_readings(table: pd.DataFrame, currency: str, top: int = 3) -> list[str]:
    """Plain sentences on the themes with the most revenue at risk (or impact)."""
    out = []
    rows = table[~table["flag"].str.contains(SMALL_N, regex=False)].head(top)
    for r in rows.itertuples():
        s = (
            f"Theme '{r.label}' is in {r.share:.0%} of comments; a mention moves NPS by "
            f"{r.estimate:+.1f} points ({r.ci_low:+.1f} to {r.ci_high:+.1f})"
        )
        rar = getattr(r, "revenue_at_risk", None)
        if rar is not None and pd.notna(rar):
            s += (
                f"; revenue at risk {rar:,.0f} {currency} a year "
                f"({r.revenue_at_risk_ci_low:,.0f} to {r.revenue_at_risk_ci_high:,.0f})"
            )
        out.append(s + ".")
    return out


def emerging(
    ws: WorkspaceLike,
    *,
    refit: bool = False,
    n_jobs: int | None = -1,
    period: str = "month",
    alpha: float = 0.05,
    level: float = 0.95,
) -> Result:
    """Themes whose share of comments rose significantly in the last period.

    Parameters
    ----------
    ws
        The workspace.
    refit
        Discover themes anew instead of loading ``models/themes.json``.
    n_jobs
        Worker processes for theme assignment (``-1``: every core).
    period
        ``"month"``, ``"quarter"`` or ``"week"``: the last one holding comments is compared
        with every earlier comment.
    alpha
        False-discovery rate (Benjamini-Hochberg) below which a rise is ``emerging``.
    level
        Confidence level of the intervals.

    Returns
    -------
    Result
        Table ``emerging`` (see :func:`cxroi.text.impact.emerging_table`); ``window`` names
        the last period.
    """
    model = theme_model(ws, refit=refit, n_jobs=n_jobs)
    frame, _ = _comments(ws)
    assignment = model.transform(frame["comment"])  # each distinct comment once
    min_n = ws.settings.min_n
    table, window = emerging_table(
        frame, assignment, period=period, alpha=alpha, level=level, min_n=min_n
    )
    rising = table[table["emerging"]]
    readings = [
        f"Theme '{r.label}' rose from {r.share_before:.1%} to {r.share_last:.1%} of comments "
        f"in {window['period']} (adjusted p = {r.p_adjusted:.2g})."
        for r in rising.itertuples()
    ] or [f"No theme's share rose significantly in {window['period']}."]
    return Result(
        "emerging",
        f"Emerging themes ({window['period']})",
        [Table("emerging", "Emerging themes", table, method=EMERGING_METHOD)],
        method=EMERGING_METHOD,
        window=window,
        params={"period": period, "alpha": alpha, "level": level, "min_n": min_n},
        warnings=_small_n_warning(table, min_n, "comments in the last period"),
        readings=readings,
    )


def sentiment(
    path: str | Path,
    *,
    text_column: str,
    score_column: str | None = None,
    scale: str = "auto",
    n_jobs: int | None = -1,
) -> Result:
    """Sentiment (−1…1) of every row of a CSV file, in input order, with the model used.

    Parameters
    ----------
    path
        The CSV file.
    text_column
        Column holding the text (redacted in the output).
    score_column
        Optional score column: trains the score-aware model when there are enough scores.
    scale
        Score scale: ``nps``, ``csat``, ``ces``, ``stars``, ``binary``, ``signed`` or ``auto``.
    n_jobs
        Worker processes (``-1``: every core).

    Returns
    -------
    Result
        Table ``sentiment`` (the rows plus ``sentiment``); ``params`` name the model, its
        held-out quality and why the lexicon model was used when it was.
    """
    try:
        df = pd.read_csv(path, dtype={text_column: "object"}, keep_default_na=True)
    except (OSError, ValueError) as e:  # missing, empty, unparsable, wrongly encoded
        raise CxroiError(f"cannot read {path} as CSV: {first_line(e)}") from None
    out, res = sentiment_frame(
        df, text_column=text_column, score_column=score_column, scale=scale, n_jobs=n_jobs
    )
    params = {"input": str(path), "rows": len(out), **_sentiment_params(res)}
    reading = f"Scored {len(out):,} rows with the {res.model} model"
    if "auc" in res.quality:
        reading += (
            f" (held-out ROC AUC {res.quality['auc']:.3f}, lexicon "
            f"{res.quality['lexicon_auc']:.3f})"
        )
    return Result(
        "sentiment",
        f"Sentiment ({res.model})",
        [Table("sentiment", "Sentiment", out, kind="data")],
        method=(
            "score-aware: logistic regression on TF-IDF and the lexicon score, 2p - 1"
            if res.model == "scored"
            else "lexicon: VADER compound score"
        ),
        params=params,
        warnings=[res.reason] if res.reason and score_column is not None else [],
        readings=[reading + "."],
    )
