"""``cxroi at-risk``: each active customer's churn probability, value at risk and reasons,
validated out of time against a plain NPS-and-plan model.

With ``S`` the as-of day and ``h`` the horizon (days):

- *validation*: :class:`~cxroi.models.risk.ChurnRisk` is fitted on the profiles of the
  customers active on ``S − 2h`` (:func:`~cxroi.models.profile.customer_profile`: nothing
  later enters them) with the label "no open contract on ``S − h``" (churned in
  ``(S − 2h, S − h]``), then scores the customers active on ``S − h`` whose churn in
  ``(S − h, S]`` is known: AUC with DeLong's interval and calibration by decile, for the model
  and for the *peer*, a plain logistic regression on the last NPS (with a missing indicator)
  and the plan;
- *production*: the model is refitted on the customers active on ``S − h`` with their churn in
  ``(S − h, S]`` and scores everyone active on ``S``.

Value at risk = P(churn within ``h``) × CLV (negative for a customer whose cost to serve
exceeds what they bring), the CLV from
:func:`~cxroi.models.profile.margin_per_month` and :func:`~cxroi.models.profile.customer_clv`
at the customer's own predicted monthly churn :math:`1 - (1 - p)^{30.44/h}`.

A workspace with only customers and contracts works too: the features are then the
customers' attributes and the contract fields of the profile.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np
import pandas as pd

from cxroi import progress
from cxroi._types import WorkspaceLike
from cxroi.errors import CxroiError, param
from cxroi.metrics._intervals import wilson, z_value
from cxroi.models.profile import DAYS_PER_MONTH, customer_clv, customer_profile, margin_per_month
from cxroi.models.risk import PROFILE_FEATURES, ChurnRisk, TooFewChurnersError
from cxroi.models.risk_reasons import risk_reasons
from cxroi.models.risk_validation import auc_delong, calibration_deciles
from cxroi.results import Result, Table, estimate_frame
from cxroi.window import data_bounds, to_date

__all__ = ["SCORE_COLUMNS", "TooFewChurnersError", "at_risk", "at_risk_report", "at_risk_scores"]

SCORE_COLUMNS = ["customer_id", "churn_probability", "value_at_risk", "reasons"]
"""The columns of :func:`at_risk_scores` and of ``cxroi at-risk --out``."""

PEER_COLUMNS = ("nps_last", "plan")
RECENT_DAYS = 90
SLOW_RESPONSE_HOURS = 24.0
_MARGIN = ("monthly_value", "spend_per_month", "support_cost", "tenure_months")


def at_risk(
    ws: WorkspaceLike,
    *,
    as_of: object | None = None,
    horizon_days: int = 90,
    top: int = 20,
    level: float = 0.95,
) -> Result:
    """Churn risk of every active customer, validated out of time (see the module docstring).

    Parameters
    ----------
    ws
        The workspace (its ``min_n`` and ``discount_rate`` are used).
    as_of
        The day scored; default the last day of data (:func:`cxroi.window.data_bounds`).
    horizon_days
        Churn within this many days.
    top
        Customers listed, by value at risk.
    level
        Interval level.

    Returns
    -------
    Result
        Tables ``customers`` (the ``top`` by value at risk: ``estimate`` is the churn
        probability, with ``value_at_risk``, ``clv`` and ``reasons``), ``summary`` (active
        customers, expected churners, total value at risk), ``validation`` (AUC of model and
        peer, their difference, mean predicted vs observed churn), ``calibration`` (by decile)
        and ``coefficients`` (of the production model, per standard deviation).
    """
    return at_risk_report(ws, as_of=as_of, horizon_days=horizon_days, top=top, level=level)[0]


@progress.task("at-risk: scoring churn risk")
def at_risk_scores(
    ws: WorkspaceLike, *, as_of: object | None = None, horizon_days: int = 90
) -> pd.DataFrame:
    """Every active customer's churn probability, value at risk and reasons.

    The production model only (no out-of-time check): what another analysis (opportunities)
    reads.

    Parameters
    ----------
    ws
        The workspace.
    as_of
        The day scored; default the last day of data.
    horizon_days
        Churn within this many days.

    Returns
    -------
    pandas.DataFrame
        :data:`SCORE_COLUMNS`: ``customer_id``, ``churn_probability``, ``value_at_risk``
        (probability × CLV; negative for a customer who costs more than they bring) and
        ``reasons`` (``"; "``-joined), most value at risk first.
    """
    s, h, min_n = _settings(ws, as_of, horizon_days)
    frames = _profiles(ws, s, h, validate=False)
    model = ChurnRisk(_features(frames[1]), C="cv", min_events=min_n, min_level_n=min_n)
    progress.step(f"fitting the model on {len(frames[1]):,} customers")
    model = _fit(model, frames[1], frames[2], s - h, h)
    progress.step(f"scoring {len(frames[0]):,} customers")
    scores, _lo, _hi = _score(ws, model, frames[0], s, h, interval=False)
    return scores[SCORE_COLUMNS].reset_index(drop=True)


@progress.task("at-risk: scoring churn risk")
def at_risk_report(
    ws: WorkspaceLike,
    *,
    as_of: object | None = None,
    horizon_days: int = 90,
    top: int = 20,
    level: float = 0.95,
) -> tuple[Result, pd.DataFrame]:
    """:func:`at_risk`'s result and :func:`at_risk_scores`' frame from one fit (what
    ``cxroi at-risk --out`` writes)."""
    s, h, min_n = _settings(ws, as_of, horizon_days)
    if top < 0:
        raise CxroiError(f"{param('top')} must be 0 or more, got {top}")
    now, mid, early, y_mid, y_early = _profiles(ws, s, h, validate=True)
    cols = _features(early)
    peer_cols = [c for c in PEER_COLUMNS if c in early.columns]
    opts: dict[str, Any] = {"min_events": min_n, "min_level_n": min_n, "level": level}
    progress.step(f"fitting the validation and peer models on {len(early):,} customers")
    val = _fit(ChurnRisk(cols, C="cv", **opts), early, y_early, s - 2 * h, h)
    peer = _fit(ChurnRisk(peer_cols, **opts), early, y_early, s - 2 * h, h)
    p_model, p_peer = val.predict_proba(mid), peer.predict_proba(mid)
    del early
    progress.step(f"fitting the production model on {len(mid):,} customers")
    prod = _fit(ChurnRisk(cols, C="cv", **opts), mid, y_mid, s - h, h)
    progress.step(f"scoring {len(now):,} customers")
    scores, lo, hi = _score(ws, prod, now, s, h, interval=True)
    progress.step("validating out of time")

    validation, calibration = _validation(y_mid, p_model, p_peer, level, min_n)
    window = {
        "as_of": s,
        "horizon_days": h.days,
        "validation_fit_as_of": s - 2 * h,
        "validation_fit_churn": f"({s - 2 * h}, {s - h}]",
        "validation_scored_as_of": s - h,
        "validation_churn": f"({s - h}, {s}]",
        "production_fit_as_of": s - h,
        "production_fit_churn": f"({s - h}, {s}]",
        "scored_as_of": s,
    }
    result = Result(
        "at_risk",
        f"Churn risk within {h.days} days of {s}",
        [
            _customers_table(scores, lo, hi, prod, top, level),
            _summary_table(scores, prod, h, level, min_n),
            Table(
                "validation",
                f"Out of time: fitted on {s - 2 * h}, churn in ({s - h}, {s}] predicted",
                validation,
                method="AUC with DeLong's interval (paired DeLong test for the difference); "
                "observed churn with its Wilson interval; the peer is a logistic regression "
                "on the last NPS (missing indicator) and the plan",
                view=["metric", "model", "estimate", "ci_low", "ci_high", "n", "events", "flag"],
            ),
            Table(
                "calibration",
                "Predicted vs observed churn by decile of the prediction (out of time)",
                calibration,
                method="equal-count deciles of the predicted probability; observed churn "
                "with its Wilson interval",
                view=["model", "decile", "n", "predicted", "estimate", "ci_low", "ci_high"],
            ),
            _coefficients_table(prod, level, min_n),
        ],
        method=(
            f"L2-penalised logistic regression (scikit-learn; C={prod.C_:.3g}, chosen by "
            "three-fold cross-validated log loss) on standardised profile features (money and "
            "counts as log(1+x); a missing answer as an indicator, not imputed), fitted on "
            f"the customers active on {s - h} with churn (no open contract) in "
            f"({s - h}, {s}], scoring those active on {s}; validated out of time: fitted on "
            f"{s - 2 * h} with churn in ({s - 2 * h}, {s - h}], scored on {s - h} against "
            f"churn in ({s - h}, {s}]; value at risk = P(churn) × CLV at the customer's "
            "predicted monthly churn"
        ),
        window=window,
        params={
            "horizon_days": h.days,
            "top": top,
            "min_n": min_n,
            "discount_rate": ws.settings.discount_rate,
            "recent_days": RECENT_DAYS,
            "slow_response_hours": SLOW_RESPONSE_HOURS,
            "C": prod.C_,
            "features": prod.feature_names_,
            "peer_features": peer.feature_names_,
            "n_features": len(prod.features_),
            "events_needed": max(min_n, prod.events_per_feature * len(prod.features_)),
            "n_active": len(scores),
            "n_train": prod.n_,
            "n_train_churned": prod.n_events_,
            "n_validation_train": val.n_,
            "n_validation_train_churned": val.n_events_,
            "n_validation": len(y_mid),
            "n_validation_churned": int(y_mid.sum()),
            "clv_churn": "the customer's predicted monthly churn",
        },
        warnings=_warnings(validation),
        readings=_readings(scores, validation, h, level),
    )
    return result, scores[SCORE_COLUMNS].reset_index(drop=True)


# -- data ---------------------------------------------------------------------------------------


def _settings(ws: WorkspaceLike, as_of: object | None, horizon_days: int) -> tuple:
    if isinstance(horizon_days, bool) or int(horizon_days) != horizon_days or horizon_days <= 0:
        raise CxroiError(f"{param('horizon_days')} must be a positive number of days")
    h = dt.timedelta(days=int(horizon_days))
    lo, hi = data_bounds(ws.tables)
    if lo is None or hi is None:
        raise CxroiError("the workspace holds no contracts or activity to score")
    s = hi if as_of is None else to_date(as_of, "as_of")
    if not lo <= s <= hi:
        raise CxroiError(f"{param('as_of')} {s} is outside the data ({lo} to {hi})")
    if s - 2 * h < lo:
        raise CxroiError(
            f"{param('as_of')} {s} minus twice {param('horizon_days')} ({s - 2 * h}) is before "
            f"the data begin ({lo}): the out-of-time check needs two horizons of history; "
            "choose a later as-of day or a shorter horizon"
        )
    return s, h, int(ws.settings.min_n)


def _attributes(ws: WorkspaceLike) -> list[str]:
    schema = ws.tables["customers"].schema()
    return [c for c, t in schema.items() if c != "customer_id" and not t.is_temporal()]


def _profiles(ws: WorkspaceLike, s: dt.date, h: dt.timedelta, *, validate: bool) -> tuple:
    """Profiles of the customers active on ``s`` and ``s − h`` (and ``s − 2h``), with the
    labels: no open contract one horizon later."""
    tables = ws.tables
    attrs = _attributes(ws)
    cols = list(dict.fromkeys(["customer_id", *PROFILE_FEATURES, *attrs, "nps_last_at", *_MARGIN]))

    def active(day: dt.date) -> pd.DataFrame:
        progress.step(f"profiling the customers active on {day}")
        prof = customer_profile(
            tables, as_of=day, recent_days=RECENT_DAYS, slow_response_hours=SLOW_RESPONSE_HOURS
        )
        prof = prof.filter(prof.active)
        frame = prof.select(*[c for c in cols if c in prof.columns]).to_pandas()
        for c in frame.columns[1:]:  # text as categories: a million rows stay small
            if frame[c].dtype == object:
                frame[c] = frame[c].astype("category")
        return frame

    now = active(s)
    if now.empty:
        raise CxroiError(f"no active customers on {s}: nobody has a contract open that day")
    mid = active(s - h)
    y_mid = (~mid["customer_id"].isin(now["customer_id"])).to_numpy(float)
    if not validate:
        return now, mid, y_mid
    early = active(s - 2 * h)
    y_early = (~early["customer_id"].isin(mid["customer_id"])).to_numpy(float)
    return now, mid, early, y_mid, y_early


def _features(frame: pd.DataFrame) -> list[str]:
    return [c for c in frame.columns if c not in ("customer_id", "nps_last_at", "monthly_value")]


def _fit(model: ChurnRisk, frame: pd.DataFrame, y: Any, day: dt.date, h: dt.timedelta):
    if frame.empty:
        raise CxroiError(f"no active customers on {day} to learn churn from")
    try:
        return model.fit(frame, y)
    except TooFewChurnersError as e:
        raise TooFewChurnersError(
            f"too few churners to fit the at-risk model: {e.n_events:,} of the {len(frame):,} "
            f"customers active on {day} churned in ({day}, {day + h}]; it needs at least "
            f"{e.needed:,} ({model.events_per_feature} per feature × {e.n_features} features, "
            "at least "
            f"{param('min_n', model.min_events)}); use a longer {param('horizon_days')}",
            n_events=e.n_events,
            needed=e.needed,
            n_features=e.n_features,
        ) from None


def _score(ws, model: ChurnRisk, now: pd.DataFrame, s: dt.date, h: dt.timedelta, *, interval):
    """Probability, CLV, value at risk and reasons of every customer active on ``s``."""
    if interval:
        p, lo, hi = model.predict_interval(now)
    else:
        p, lo, hi = model.predict_proba(now), None, None
    monthly = 1.0 - (1.0 - p) ** (DAYS_PER_MONTH / h.days)
    clv = customer_clv(margin_per_month(now), monthly, ws.settings.discount_rate)
    contrib = model.contributions(now)
    reasons = risk_reasons(model, now, as_of=s, recent_days=RECENT_DAYS, contributions=contrib)
    del contrib
    out = pd.DataFrame(
        {
            "customer_id": now["customer_id"].to_numpy(),
            "churn_probability": p,
            "clv": clv,
            "value_at_risk": p * clv,
            "reasons": reasons,
        }
    )
    order = np.lexsort((out["customer_id"].to_numpy(), -np.nan_to_num(out["value_at_risk"])))
    out = out.iloc[order].reset_index(drop=True)
    if lo is not None and hi is not None:
        lo, hi = lo[order], hi[order]
    return out, lo, hi


# -- tables -------------------------------------------------------------------------------------


def _customers_table(scores, lo, hi, model: ChurnRisk, top: int, level: float) -> Table:
    head = scores.head(top)
    frame = estimate_frame(
        pd.DataFrame(
            {
                "rank": np.arange(1, len(head) + 1),
                "customer_id": head["customer_id"],
                "estimate": head["churn_probability"],
                "ci_low": lo[: len(head)],
                "ci_high": hi[: len(head)],
                "n": model.n_,
                "clv": head["clv"],
                "value_at_risk": head["value_at_risk"],
                "reasons": head["reasons"],
            }
        ),
        level=level,
    )
    return Table(
        "customers",
        f"The {len(head)} customers with the most value at risk",
        frame,
        method="estimate: probability of churning within the horizon, with the delta-method "
        "interval of the fitted model (n = its training customers); value at risk = "
        "estimate × CLV; reasons: the features that raise the customer's logit most",
        view=["rank", "customer_id", "estimate", "ci_low", "ci_high", "value_at_risk", "reasons"],
    )


def _summary_table(scores, model: ChurnRisk, h: dt.timedelta, level: float, min_n: int) -> Table:
    p = scores["churn_probability"].to_numpy()
    clv = scores["clv"].to_numpy()
    var = scores["value_at_risk"].to_numpy()
    ok = np.isfinite(var)
    z = z_value(level)
    churners, var_total = float(p.sum()), float(var[ok].sum())
    sd_n = float(np.sqrt((p * (1 - p)).sum()))
    sd_v = float(np.sqrt((p[ok] * (1 - p[ok]) * clv[ok] ** 2).sum()))
    base, _se, b_lo, b_hi = wilson(model.n_events_, model.n_, level=level)
    rows = [
        {"metric": "active customers", "estimate": float(len(p)), "n": len(p), "flag": "exact"},
        {
            "metric": f"expected churners within {h.days} days",
            "estimate": churners,
            "ci_low": max(churners - z * sd_n, 0.0),
            "ci_high": churners + z * sd_n,
            "n": len(p),
        },
        {
            "metric": f"value at risk within {h.days} days",
            "estimate": var_total,
            "ci_low": var_total - z * sd_v,
            "ci_high": var_total + z * sd_v,
            "n": int(ok.sum()),
        },
        {
            "metric": "churn rate in the training window",
            "estimate": float(base),
            "ci_low": float(b_lo),
            "ci_high": float(b_hi),
            "n": model.n_,
        },
    ]
    return Table(
        "summary",
        "Active customers and what is at risk",
        estimate_frame(rows, level=level, min_n=min_n),
        method="expected churners = Σ p and value at risk = Σ p × CLV, with the interval of "
        "what churns if the probabilities are right (sums of independent Bernoulli outcomes, "
        "normal approximation); training churn rate with its Wilson interval",
    )


def _validation(y, p_model, p_peer, level: float, min_n: int) -> tuple[pd.DataFrame, ...]:
    auc = auc_delong(y, p_model, p_peer)
    lo, hi = auc.interval(level)
    d, d_lo, d_hi, pval = auc.difference(0, 1, level)
    n, k = len(y), int(y.sum())
    obs, _se, o_lo, o_hi = wilson(k, n, level=level)
    rows: list[dict[str, Any]] = [
        {"metric": "AUC", "model": "model", "estimate": auc.auc[0], "ci_low": lo[0],
         "ci_high": hi[0]},
        {"metric": "AUC", "model": "peer", "estimate": auc.auc[1], "ci_low": lo[1],
         "ci_high": hi[1]},
        {"metric": "AUC difference", "model": "model - peer", "estimate": d, "ci_low": d_lo,
         "ci_high": d_hi, "p_value": pval},
        {"metric": "observed churn", "model": "observed", "estimate": float(obs),
         "ci_low": float(o_lo), "ci_high": float(o_hi)},
    ]  # fmt: skip
    for name, pr in (("model", p_model), ("peer", p_peer)):
        mean = float(pr.mean())
        rows.append(
            {"metric": "mean predicted churn", "model": name, "estimate": mean,
             "flag": "point-only"}
        )  # fmt: skip
        rows.append(
            {
                "metric": "predicted ÷ observed churn",
                "model": name,
                "estimate": mean / float(obs) if obs > 0 else np.nan,
                "ci_low": mean / float(o_hi) if o_hi > 0 else np.nan,
                "ci_high": mean / float(o_lo) if o_lo > 0 else np.nan,
            }
        )
    validation = estimate_frame([{**r, "events": k, "n": n} for r in rows], level=level)
    parts = [
        calibration_deciles(y, pr, level=level).assign(model=name)
        for name, pr in (("model", p_model), ("peer", p_peer))
    ]
    cal = pd.concat(parts, ignore_index=True).rename(columns={"observed": "estimate"})
    cal = estimate_frame(cal[["model", *[c for c in cal.columns if c != "model"]]],
                         level=level, min_n=min_n)  # fmt: skip
    return validation, cal


def _coefficients_table(model: ChurnRisk, level: float, min_n: int) -> Table:
    s = model.summary.reset_index()
    s = s.loc[s["term"] != "intercept", ["term", "estimate", "ci_low", "ci_high"]]
    s = s.assign(odds_ratio=np.exp(s["estimate"]), n=model.n_)
    s = s.reindex(s["estimate"].abs().sort_values(ascending=False).index)
    return Table(
        "coefficients",
        "What moves the churn logit (per standard deviation of each feature)",
        estimate_frame(s.reset_index(drop=True), level=level, min_n=min_n),
        method="penalised logistic coefficients on standardised features; Laplace (inverse "
        "penalised Hessian) intervals",
        view=["term", "estimate", "ci_low", "ci_high", "odds_ratio", "n", "flag"],
        show=False,
    )


def _row(frame: pd.DataFrame, metric: str, model: str) -> pd.Series:
    return frame.loc[(frame["metric"] == metric) & (frame["model"] == model)].iloc[0]


def _warnings(validation: pd.DataFrame) -> list[str]:
    out = []
    d = _row(validation, "AUC difference", "model - peer")
    if not d["ci_low"] > 0:
        out.append(
            f"out of time the model's AUC is not clearly above the NPS-and-plan peer's "
            f"(difference {d['estimate']:+.3f}, interval {d['ci_low']:+.3f} to "
            f"{d['ci_high']:+.3f})"
        )
    ratio = _row(validation, "predicted ÷ observed churn", "model")["estimate"]
    if not abs(ratio - 1) <= 0.10:
        out.append(
            f"out of time the mean predicted churn is {ratio:.0%} of the observed (more than "
            "10% off): churn moved between the windows, so read the probabilities as a ranking"
        )
    return out


def _readings(scores: pd.DataFrame, validation: pd.DataFrame, h, level: float) -> list[str]:
    m, pr = _row(validation, "AUC", "model"), _row(validation, "AUC", "peer")
    obs = _row(validation, "observed churn", "observed")
    mean = _row(validation, "mean predicted churn", "model")["estimate"]
    var = scores["value_at_risk"].to_numpy()
    ci = f"{level:.0%} CI"
    return [
        f"{len(scores):,} active customers; {scores['churn_probability'].sum():,.0f} are "
        f"expected to churn within {h.days} days, {np.nansum(var):,.0f} of value at risk.",
        f"Out of time the model ranks churners above stayers with AUC {m['estimate']:.3f} "
        f"({ci} {m['ci_low']:.3f}-{m['ci_high']:.3f}) against {pr['estimate']:.3f} "
        f"({pr['ci_low']:.3f}-{pr['ci_high']:.3f}) for last NPS and plan alone.",
        f"It predicted {mean:.1%} churn on average; {obs['estimate']:.1%} churned "
        f"({ci} {obs['ci_low']:.1%}-{obs['ci_high']:.1%}).",
    ]
