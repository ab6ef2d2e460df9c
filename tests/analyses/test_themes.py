"""Theme analyses of a workspace, checked against pandas recomputations and the simulator."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from cxroi.analyses.themes import emerging, sentiment, theme_model, themes
from cxroi.errors import CxroiError
from cxroi.models.ledger import ledger_frame
from cxroi.results import Result
from cxroi.simulate import Company
from cxroi.store import Workspace
from cxroi.text.impact import score_comments
from cxroi.text.theme_model import ThemeModel
from cxroi.window import period_span


@pytest.fixture(scope="module")
def company(theme_company: Company) -> Company:
    return theme_company


@pytest.fixture(scope="module")
def sim_ws(company: Company, tmp_path_factory: pytest.TempPathFactory):
    """A workspace holding the simulated company (read-only for tests)."""
    path: Path = tmp_path_factory.mktemp("themes") / "ws"
    with Workspace.init(path) as w:
        for name, table in company.tables.items():
            w.ingest(name, table)
        yield w


@pytest.fixture(scope="module")
def result(sim_ws) -> Result:
    return themes(sim_ws, refit=True, n_jobs=1)


@pytest.fixture(scope="module")
def table(result) -> pd.DataFrame:
    return result.table("themes")


@pytest.fixture(scope="module")
def scored(sim_ws, result):
    """Commented responses (recomputed in pandas), scored with the workspace's model."""
    rs = sim_ws.table("responses").to_pandas()
    rs = rs[rs["comment"].notna()].sort_values("response_id", ignore_index=True)
    frame = rs[["response_id", "customer_id", "ts", "nps", "comment"]]
    return score_comments(frame, theme_model(sim_ws), n_jobs=1)


def _nps(s: pd.Series) -> float:
    return 100 * ((s >= 9).mean() - (s <= 6).mean())


def test_result_keeps_the_contract(result, table, scored):
    assert result.problems() == []
    assert result.names == ["themes"]
    assert Result.from_json(result.to_json()).table("themes").shape == table.shape
    assert result.params["sentiment_model"] in ("scored", "lexicon")
    assert result.params["n_comments"] == len(scored[0])
    assert result.params["n_themes"] == len(table)
    assert result.params["min_n"] == 30 and result.window["since"] <= result.window["until"]
    assert result.readings and "revenue at risk" in result.readings[0]


def test_impact_table_matches_pandas_recomputation(sim_ws, table, scored):
    frame, assignment, _ = scored
    m = pd.DataFrame(assignment.confidence > 0, columns=assignment.names)
    led = ledger_frame(sim_ws.tables).set_index("customer_id")
    for _, row in table.iterrows():
        w = m[row["theme"]].to_numpy()
        assert row["n"] == w.sum()
        assert row["share"] == pytest.approx(w.mean())
        assert row["sentiment"] == pytest.approx(frame.loc[w, "sentiment"].mean())
        assert row["nps_with"] == pytest.approx(_nps(frame.loc[w, "nps"].dropna()))
        assert row["nps_without"] == pytest.approx(_nps(frame.loc[~w, "nps"].dropna()))
        assert row["nps_with_ci_low"] < row["nps_with"] < row["nps_with_ci_high"]
        cust = frame.assign(w=w).groupby("customer_id")["w"].max()
        lw, lo = led.loc[cust.index[cust]], led.loc[cust.index[~cust]]
        churn_w = 1 - np.exp(-lw["churned"].sum() / lw["exposure_years"].sum())
        churn_o = 1 - np.exp(-lo["churned"].sum() / lo["exposure_years"].sum())
        spend_w = lw["spend"].sum() / lw["exposure_years"].sum()
        assert row["churn_with"] == pytest.approx(churn_w)
        assert row["churn_without"] == pytest.approx(churn_o)
        assert row["revenue_at_risk"] == pytest.approx((churn_w - churn_o) * len(lw) * spend_w)
        rar, lo, hi = (row[f"revenue_at_risk{s}"] for s in ("", "_ci_low", "_ci_high"))
        assert lo <= rar <= hi


def test_impact_is_the_joint_regression_coefficient(table, scored):
    frame, assignment, _ = scored
    ok = frame["nps"].notna().to_numpy()
    x = np.column_stack([np.ones(ok.sum()), (assignment.confidence[ok] > 0).astype(float)])
    nps = frame.loc[ok, "nps"].to_numpy()
    y = 100.0 * ((nps >= 9).astype(float) - (nps <= 6).astype(float))
    beta = np.linalg.lstsq(x, y, rcond=None)[0][1:]
    got = table.set_index("theme").loc[assignment.names, "estimate"].to_numpy()
    np.testing.assert_allclose(got, beta, rtol=1e-6, atol=1e-8)


def test_model_is_persisted_and_reused(sim_ws, table):
    assert (sim_ws.path / "models" / "themes.json").exists()
    again = themes(sim_ws, n_jobs=1).table("themes")
    pd.testing.assert_frame_equal(again[["theme", "n"]], table[["theme", "n"]])
    model = theme_model(sim_ws)
    assert isinstance(model, ThemeModel) and model.is_fitted
    assert sorted(model.transform(["x"]).names) == sorted(table["theme"])


def test_by_and_period(sim_ws, table):
    by = themes(sim_ws, by="plan", n_jobs=1)
    assert by.problems() == []
    assert set(by.table()["plan"]) == set(ledger_frame(sim_ws.tables)["plan"].dropna())
    q = themes(sim_ws, period="2024-Q2", n_jobs=1)
    assert q.problems() == []
    assert q.table()["n"].sum() < table["n"].sum()
    assert (q.table()["n"] > 0).all()
    assert q.window == {
        "period": "2024-Q2",
        "since": pd.Timestamp("2024-04-01").date(),
        "until": pd.Timestamp("2024-06-30").date(),
    }


@pytest.mark.parametrize(
    ("text", "start", "end"),
    [
        ("2024", "2024-01-01", "2025-01-01"),
        ("2024-03", "2024-03-01", "2024-04-01"),
        ("2024-Q2", "2024-04-01", "2024-07-01"),
        ("2024-01-05..2024-01-10", "2024-01-05", "2024-01-11"),
    ],
)
def test_period_grammar(text, start, end):
    """The spans ``themes(period=...)`` reads (the one grammar of :mod:`cxroi.window`)."""
    assert period_span(text) == (pd.Timestamp(start), pd.Timestamp(end))


@pytest.mark.parametrize(
    ("options", "match"),
    [
        ({"period": "last tuesday"}, "period 'last tuesday' is not a period"),
        ({"by": "zzz"}, "by 'zzz' is not a column of responses or customers"),
        ({"period": "2030"}, "no commented responses in scope for 2030"),
    ],
)
def test_bad_options_are_clear_errors(sim_ws, table, options, match):
    with pytest.raises(CxroiError, match=match):
        themes(sim_ws, n_jobs=1, **options)


def test_emerging_themes_flag_only_significant_rises(sim_ws, table):
    res = emerging(sim_ws, n_jobs=1)
    assert res.problems() == []
    out = res.table("emerging")
    assert res.window["period"] == "2024-12"
    assert (out["p_adjusted"] >= out["p_value"] - 1e-12).all()
    assert (out.loc[out["emerging"], "estimate"] > 0).all()
    assert not (out["emerging"] & (out["p_adjusted"] >= 0.05)).any()
    assert res.readings


def test_a_planted_rise_is_found_and_only_it(company, tmp_path):
    """Copy 400 true app-usability comments into one extra month: that theme alone emerges."""
    import pyarrow as pa
    import pyarrow.compute as pc

    truth = company.comment_themes.to_pandas()
    app_ids = truth.loc[truth["theme"] == "app_usability", "response_id"]
    single = truth.groupby("response_id")["theme"].nunique()
    app_only = [r for r in app_ids.unique() if single[r] == 1][:400]
    responses = company.tables["responses"]
    picked = responses.filter(pc.is_in(responses["response_id"], pa.array(app_only)))
    surge = picked.to_pandas()
    surge["response_id"] = "SURGE" + surge["response_id"]
    surge["ts"] = pd.Timestamp("2025-01-15 12:00")
    with Workspace.init(tmp_path / "ws") as ws:
        ws.ingest("customers", company.tables["customers"])
        ws.ingest("responses", responses)
        ws.ingest("responses", surge)
        res = emerging(ws, refit=True, n_jobs=1)
    out = res.table("emerging").set_index("theme")
    assert res.window["period"] == "2025-01"
    emerging_ = out.index[out["emerging"]].tolist()
    assert len(emerging_) == 1
    assert "app" in out.loc[emerging_[0], "label"]
    assert len(res.readings) == 1 and "app" in res.readings[0]


def test_negative_and_positive_mentions_by_hand(table, scored):
    frame, assignment, _ = scored
    m = assignment.confidence > 0
    none = ~m
    for j, name in enumerate(assignment.names):
        row = table.set_index("theme").loc[name]
        neg = m[:, j] & assignment.negative[:, j]
        pos = m[:, j] & ~assignment.negative[:, j]
        assert row["n_negative"] == neg.sum()
        assert row["nps_negative"] == pytest.approx(_nps(frame.loc[neg, "nps"].dropna()))
        base = _nps(frame.loc[none[:, j], "nps"].dropna())
        assert row["nps_gap_negative"] == pytest.approx(_nps(frame.loc[neg, "nps"].dropna()) - base)
        assert row["nps_gap_positive"] == pytest.approx(_nps(frame.loc[pos, "nps"].dropna()) - base)
        assert (
            row["nps_gap_negative_ci_low"]
            < row["nps_gap_negative"]
            < row["nps_gap_negative_ci_high"]
        )


def _matched_truth(company, frame, assignment):
    """True theme -> (discovered column, rows where both agree), one to one by best F1."""
    from scipy.optimize import linear_sum_assignment

    truth = company.comment_themes.to_pandas()
    names = sorted(truth["theme"].unique())
    row = {r: i for i, r in enumerate(frame["response_id"])}
    y = np.zeros((len(frame), len(names)), bool)
    y_neg = np.zeros_like(y)
    ii = [row[x] for x in truth["response_id"]]
    jj = [names.index(t) for t in truth["theme"]]
    y[ii, jj] = True
    y_neg[ii, jj] = (truth["polarity"] == "negative").to_numpy()
    got = assignment.confidence > 0
    tp = y.T.astype(int) @ got.astype(int)
    f1 = 2 * tp / (y.sum(0)[:, None] + got.sum(0)[None, :])
    rows, cols = linear_sum_assignment(-f1)
    return {
        names[i]: (j, y[:, i] & got[:, j], y_neg[:, i]) for i, j in zip(rows, cols, strict=True)
    }


def test_polarity_of_mentions_and_negative_gaps_recover_the_truth(company, table, scored):
    # Measured with four initiatives (4k customers, seed 5): polarity right for 0.75 (app) to
    # 0.99 (delivery) of the mentions, 0.91 overall; the negative-mention NPS gap covered the
    # truth for 5 of 6 themes. With the eight initiatives of issue 13 (more customers with
    # shifted qualities, so comments and scores move apart more), seeds 5, 6 and 11 give
    # polarity 0.887, 0.895 and 0.901 overall and cover 4, 6 and 5 of 6 gaps (staff and app
    # polarity stay weakest: their comments barely move NPS, so a score-trained model learns
    # little of them). With the degraded delivery of issue 16 (its scores drop in the last
    # months, its comments do not), seeds 5, 6 and 11 give 0.873, 0.876 and 0.894.
    frame, assignment, _ = scored
    effects = company.truth["theme_effects_on_nps"]
    by_theme = table.set_index("theme")
    right = total = covered = 0
    for true, (j, both, truly_negative) in _matched_truth(company, frame, assignment).items():
        right += (assignment.negative[both, j] == truly_negative[both]).sum()
        total += both.sum()
        row = by_theme.loc[assignment.names[j]]
        gap = effects[true]["nps_gap_negative_vs_no_mention"]
        covered += row["nps_gap_negative_ci_low"] <= gap <= row["nps_gap_negative_ci_high"]
        assert row["nps_gap_negative_ci_high"] < 0 < row["nps_gap_positive_ci_low"], true
    assert right / total >= 0.86
    assert covered >= 4


def test_workspace_without_customers_has_no_behaviour(company, tmp_path):
    with Workspace.init(tmp_path / "ws") as ws:
        ws.ingest("responses", company.tables["responses"])
        res = themes(ws, refit=True, n_jobs=1)
    assert res.problems() == []
    assert "revenue_at_risk" not in res.table()
    assert any("no churn or revenue at risk" in w for w in res.warnings)


def test_sentiment_of_a_csv(tmp_path):
    path = tmp_path / "in.csv"
    pd.DataFrame(
        {"id": [1, 2, 3], "text": ["Great service, mail jo@x.org", "Awful, slow delivery", ""]}
    ).to_csv(path, index=False)
    res = sentiment(path, text_column="text", n_jobs=1)
    assert res.problems() == []
    out = res.table("sentiment")
    assert list(out["id"]) == [1, 2, 3]
    assert "[EMAIL]" in out["text"].iloc[0]
    assert out["sentiment"].iloc[0] > 0 > out["sentiment"].iloc[1]
    assert np.isnan(out["sentiment"].iloc[2])
    assert res.params["sentiment_model"] == "lexicon" and res.params["rows"] == 3
    with pytest.raises(CxroiError, match="text_column 'body' is not a column"):
        sentiment(path, text_column="body")
    with pytest.raises(CxroiError, match="cannot read"):
        sentiment(tmp_path / "missing.csv", text_column="text")


def test_sentiment_command_renders_the_result(tmp_path):
    """Through the CLI (needs the lead's cli package)."""
    from tests.utils.cli import rows

    path = tmp_path / "in.csv"
    pd.DataFrame({"text": ["good", "bad"]}).to_csv(path, index=False)
    got = rows(["sentiment", "--input", str(path), "--text-column", "text", "--jobs", "1"])
    assert [r["sentiment"] > 0 for r in got] == [True, False]


def test_themes_command_renders_the_result(company, tmp_path):
    """Through the CLI (needs the lead's cli package): the JSON carries the whole result."""
    from tests.utils.cli import run_json

    with Workspace.init(tmp_path / "ws") as ws:
        ws.ingest("customers", company.tables["customers"])
        ws.ingest("responses", company.tables["responses"])
    res = run_json(["themes", "--workspace", str(tmp_path / "ws"), "--jobs", "1"])
    assert res.analysis == "themes" and res.problems() == []
    assert {"estimate", "ci_low", "revenue_at_risk_ci_high"} <= set(res.table("themes").columns)
    assert res.params["sentiment_model"] in ("scored", "lexicon")
    em = run_json(["themes", "--workspace", str(tmp_path / "ws"), "--emerging", "--jobs", "1"])
    assert em.analysis == "emerging" and em.window["period"] == "2024-12"


def test_sentiment_trained_on_a_sample_keeps_the_polarity(company, sim_ws):
    """The score-aware model trains on a seeded sample of the labelled comments (20,000 by
    default; here 1,500 of 2,180): the tone of mentions matches the simulator's polarity for
    the correctly themed mentions about as often as with every labelled comment. Seeds 5, 6
    and 11: 0.868, 0.885 and 0.894 from the sample, 0.873, 0.876 and 0.894 from all (0.894 and
    0.882 for seed 5 before the simulator degraded a touchpoint's scores, not its comments, at
    the end of the run). On the 100k-customer workspace the held-out AUC is 0.764 from 7,000
    training comments and 0.765 from 63,500."""
    rs = sim_ws.table("responses").to_pandas()
    rs = rs[rs["comment"].notna()].sort_values("response_id", ignore_index=True)
    frame = rs[["response_id", "customer_id", "ts", "nps", "comment"]]
    agree, labelled = {}, {}
    for max_train in (1_500, 100_000):
        out, assignment, sent = score_comments(frame, theme_model(sim_ws), n_jobs=1,
                                               max_train=max_train)  # fmt: skip
        assert sent.model == "scored"
        labelled[max_train] = sent.quality["n_train"] + sent.quality["n_test"]
        right = total = 0
        for j, both, truly_negative in _matched_truth(company, out, assignment).values():
            right += (assignment.negative[both, j] == truly_negative[both]).sum()
            total += both.sum()
        agree[max_train] = right / total
    assert labelled[1_500] == 1_500 < labelled[100_000]
    assert agree[1_500] >= 0.85 and agree[100_000] >= 0.85
    assert agree[1_500] >= agree[100_000] - 0.03


def test_the_comment_themes_are_computed_once_when_they_fit_the_model(company, tmp_path):
    # the first pass fits the theme model; fitted inside the cached computation it would move
    # the state of the data under it, and every later reader would compute the pass again
    import importlib

    from cxroi.text.theme_store import MODEL_FILE

    module = importlib.import_module("cxroi.analyses.themes")  # the module, not the function

    with Workspace.init(tmp_path / "ws") as ws:
        ws.ingest("customers", company.tables["customers"])
        ws.ingest("responses", company.tables["responses"])
        assert not (tmp_path / "ws" / MODEL_FILE).exists()
        first = module.comment_themes(ws, n_jobs=1)
        assert (tmp_path / "ws" / MODEL_FILE).exists()
        real, module._comment_themes = module._comment_themes, None  # type: ignore[assignment]
        try:
            again = module.comment_themes(ws, n_jobs=1)  # from the cache: None is not called
        finally:
            module._comment_themes = real
    pd.testing.assert_frame_equal(again.comments, first.comments)
    assert again.names == first.names and len(first.comments) > 0
