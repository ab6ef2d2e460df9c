"""``cxroi.journey``: journey.yaml read and checked with errors that name the place, a map
proposed from the simulated company, and touchpoint metrics against a pandas recount and the
scorecard's definitions."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from cxroi.analyses.journey import journey_check, journey_init, journey_touchpoints
from cxroi.errors import CxroiError
from cxroi.journey import Journey, Stage, check, dump, inventory, load, parse, propose
from cxroi.journey.document import BackstageStep
from cxroi.metrics.ces import ces
from cxroi.metrics.csat import csat
from cxroi.metrics.nps import nps
from cxroi.simulate import params as P
from tests.models._workspaces import simulated_workspace

MINIMAL = """
version: 1
stages:
  - id: purchase
    touchpoints:
      - id: checkout
        channel: web
        backstage:
          - step: Payment authorised
            event: payment_ok
          - Fraud screening
        support: [payments gateway]
        measured_by:
          events: [checkout]
          tickets: {category: [billing]}
"""


def test_a_document_reads_into_stages_touchpoints_and_lanes():
    j = parse(MINIMAL)
    (s,) = j.stages
    (t,) = s.touchpoints
    assert (s.id, s.name, t.id, t.name, t.stage, t.channel) == (
        "purchase", "purchase", "checkout", "checkout", "purchase", "web",
    )  # fmt: skip
    assert t.backstage == (BackstageStep("Payment authorised", "payment_ok"),
                           BackstageStep("Fraud screening"))  # fmt: skip
    assert t.support == ("payments gateway",)
    assert t.events == ("checkout",) and t.surveys == ("checkout",)  # surveys: the default
    assert t.tickets == {"category": ("billing",)} and t.explicit == {"events", "tickets"}
    assert parse(dump(j)) == replace(j, stages=(replace(s, touchpoints=(
        replace(t, explicit=frozenset({"events", "surveys", "tickets"})),)),))  # fmt: skip


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("stages: [\n  - id: a\n", "journey.yaml: line 2, column 3: not valid YAML"),
        ("stages: []", "journey.yaml: stages: the journey has no stage"),
        ("version: 2\nstages: [{id: a}]", "journey.yaml: version: cxroi reads version 1, got 2"),
        ("stages: [{id: a, colour: red}]",
         "journey.yaml: stages[0]: unknown key(s) colour; known: id, name, touchpoints"),
        ("stages: [{name: A}]", "journey.yaml: stages[0].id: is required"),
        ("stages: [{id: a, touchpoints: [{id: x}, {id: x}]}]",
         "journey.yaml: stages[0].touchpoints[1].id: duplicate touchpoint id 'x' (also at "
         "stages[0].touchpoints[0].id)"),
        ("stages: [{id: a}, {id: a}]",
         "journey.yaml: stages[1].id: duplicate stage id 'a' (also at stages[0].id)"),
        ("stages: [{id: a, touchpoints: {id: x}}]",
         "journey.yaml: stages[0].touchpoints: expected a list, got a mapping"),
        ("stages: [{id: a, touchpoints: [{id: x, measured_by: {tickets: {team: [t]}}}]}]",
         "journey.yaml: stages[0].touchpoints[0].measured_by.tickets: unknown key(s) team"),
        ("stages: [{id: a, touchpoints: [{id: [1]}]}]",
         "journey.yaml: stages[0].touchpoints[0].id: expected text, got a list"),
        ("- just a list", "journey.yaml: the document: expected a mapping, got a list"),
    ],
)  # fmt: skip
def test_a_malformed_document_is_one_line_naming_the_place(text, message):
    with pytest.raises(CxroiError) as e:
        parse(text)
    assert str(e.value).startswith(message)
    assert "\n" not in str(e.value)


def test_a_missing_file_says_how_to_make_one(tmp_path):
    with pytest.raises(CxroiError, match="no journey map; propose one .*cxroi journey init"):
        load(tmp_path / "journey.yaml")


@pytest.fixture(scope="module")
def sim(tmp_path_factory):
    ws, _ = simulated_workspace(tmp_path_factory.mktemp("journey") / "ws", customers=2000,
                                seed=11)  # fmt: skip
    return ws


def test_the_proposed_map_is_the_simulators_stages_and_touchpoints(sim):
    j = propose(inventory(sim.tables))
    # stages in the order a typical customer first reaches them (median days from their first
    # event), recomputed with pandas
    ev = sim.table("events").to_pandas()
    ev["d"] = (ev["ts"] - ev.groupby("customer_id")["ts"].transform("min")).dt.total_seconds()
    reached = ev.groupby(["customer_id", "stage"])["d"].min().groupby("stage").median()
    assert [s.id for s in j.stages] == reached.sort_values().index.tolist()
    assert sorted(s.id for s in j.stages) == sorted(P.STAGES)
    assert j.stages[0].id == "awareness" and j.stages[-1].id == "renewal"
    got = {t.id: t.stage for t in j.touchpoints}
    assert got == {tp: stage for tp, (stage, _) in P.TOUCHPOINTS.items()}
    surveyed = {t.id for t in j.touchpoints if t.surveys}
    rs = sim.table("responses").to_pandas()
    assert surveyed == set(rs["touchpoint"].dropna())
    assert check(j, inventory(sim.tables)) == []  # a proposal holds against its data
    assert parse(dump(j)) == j


def test_check_names_every_problem_of_a_map(sim):
    inv = inventory(sim.tables)
    j = propose(inv)
    first, *rest = j.stages
    tp0 = replace(first.touchpoints[0], events=("ad", "add"),
                  backstage=(BackstageStep("Bid placed", "bid_placed"),),
                  tickets={"category": ("no_such_category",)})  # fmt: skip
    emptied = replace(rest[-1], touchpoints=())
    broken = Journey((replace(first, touchpoints=(tp0,)), *rest[:-1], emptied,
                      Stage("loyalty", "Loyalty", ())))  # fmt: skip
    problems = check(broken, inv)
    dropped = [t.id for t in first.touchpoints[1:]] + [t.id for t in rest[-1].touchpoints]
    events = inventory(sim.tables).events.set_index("touchpoint")["events"]
    assert problems == [
        f"stage {rest[-1].id!r} has no touchpoint",
        "stage 'loyalty' has no touchpoint",
        f"touchpoint {tp0.id!r}: unknown event touchpoint 'add'",
        f"touchpoint {tp0.id!r}: backstage step 'Bid placed': unknown event 'bid_placed'",
        f"touchpoint {tp0.id!r}: no ticket has category 'no_such_category'",
        *[f"the data's touchpoint {d!r} ({int(events[d]):,} events) is missing from the map"
          for d in sorted(dropped)],
    ]  # fmt: skip


def test_touchpoint_metrics_match_a_pandas_recount_and_the_scorecard(sim, tmp_path):
    journey_init(sim, force=True)
    text = (Path(sim.path) / "journey.yaml").read_text()
    # the chat support touchpoint also counts the chat tickets, by channel
    j = parse(text)
    chat = next(t for t in j.touchpoints if t.id == "support_chat")
    j = Journey(tuple(replace(s, touchpoints=tuple(
        replace(t, tickets={"channel": ("chat",)}) if t is chat else t for t in s.touchpoints))
        for s in j.stages))  # fmt: skip
    (Path(sim.path) / "journey.yaml").write_text(dump(j))
    r = journey_touchpoints(sim)
    assert r.problems() == []
    got = r.table("touchpoints").set_index(["touchpoint", "metric"])
    ev = sim.table("events").to_pandas()
    rs = sim.table("responses").to_pandas()
    tk = sim.table("tickets").to_pandas()
    ev = ev.sort_values(["customer_id", "ts", "touchpoint"])
    ev["gap_h"] = (ev.groupby("customer_id")["ts"].shift(-1) - ev["ts"]).dt.total_seconds() / 3600
    for t in j.touchpoints:
        e = ev[ev["touchpoint"] == t.id]
        assert got.loc[(t.id, "events"), "value"] == len(e)
        assert got.loc[(t.id, "customers"), "value"] == e["customer_id"].nunique()
        gaps = e["gap_h"].dropna()
        for q, name in ((0.5, "p50"), (0.95, "p95")):
            want = np.quantile(gaps, q)
            assert got.loc[(t.id, f"next_step_{name}_hours"), "value"] == pytest.approx(want)
        a = rs[rs["touchpoint"] == t.id]
        if len(a) == 0:
            assert got.loc[(t.id, "nps"), "flag"] == "no-data"
            continue
        for metric, fn in (("nps", nps), ("csat", csat), ("ces", ces)):
            answers = a[metric].dropna()
            if len(answers) == 0:
                continue
            want = fn(answers.to_numpy(float))
            row = got.loc[(t.id, metric)]
            value = want.mean if metric == "ces" else getattr(want, metric)
            assert row["value"] == pytest.approx(value)
            assert (row["ci_low"], row["ci_high"]) == pytest.approx((want.ci_low, want.ci_high))
            assert row["n"] == len(answers)
    chat_tickets = tk[tk["channel"] == "chat"]
    assert got.loc[("support_chat", "tickets"), "value"] == len(chat_tickets)
    assert got.loc[("support_chat", "ticket_cost"), "value"] == pytest.approx(
        chat_tickets["cost"].sum()
    )
    assert got.loc[("app", "tickets"), "flag"] == "no-data"


def test_init_refuses_to_replace_and_check_reads_the_file(sim):
    journey_init(sim, force=True)
    with pytest.raises(CxroiError, match=r"journey.yaml exists; edit it, or replace it with"):
        journey_init(sim)
    assert journey_check(sim).table("problems").empty


def test_comment_sentiment_and_themes_per_touchpoint_match_pandas(sim):
    from scipy import stats

    from cxroi.analyses.themes import theme_model
    from cxroi.text.pipeline import analyse_comments

    journey_init(sim, force=True)
    r = journey_touchpoints(sim)
    got = r.table("touchpoints").set_index(["touchpoint", "metric"])
    themes = r.table("themes")
    rs = sim.table("responses").to_pandas()
    rs = rs[rs["comment"].notna() & rs["touchpoint"].notna()].reset_index(drop=True)
    model = theme_model(sim)
    ca = analyse_comments(list(rs["comment"]), model, n_jobs=1)
    rs["sentiment"] = ca.sentiment
    checked = 0
    for tp, g in rs.groupby("touchpoint"):
        s = g["sentiment"].dropna()
        row = got.loc[(tp, "sentiment")]
        assert row["n"] == len(s) and row["value"] == pytest.approx(s.mean())
        half = stats.t.ppf(0.975, len(s) - 1) * s.std(ddof=1) / np.sqrt(len(s))
        assert (row["ci_low"], row["ci_high"]) == pytest.approx((s.mean() - half,
                                                                 s.mean() + half))  # fmt: skip
        on = ca.themes.confidence[g.index] > 0
        counts = on.sum(axis=0)
        top = [ca.themes.names[t] for t in np.argsort(-counts, kind="stable")[:3]]
        mine = themes[themes["touchpoint"] == tp].sort_values("rank")
        assert mine["theme"].tolist() == top
        np.testing.assert_allclose(mine["share"], np.sort(counts)[::-1][:3] / len(g))
        checked += 1
    assert checked == 5  # delivery, onboarding and the three support channels
    assert got.loc[("app", "sentiment"), "flag"] == "no-data"
    assert "top_theme" in r.table("summary").columns


def test_comments_above_the_cap_are_a_seeded_sample_whose_intervals_hold_the_exact_value(sim):
    # the approximation of the comment metrics against the exact path on the same data
    journey_init(sim, force=True)
    exact = journey_touchpoints(sim, comment_sample=None)
    cap = 150
    a = journey_touchpoints(sim, comment_sample=cap)
    b = journey_touchpoints(sim, comment_sample=cap)
    ex = exact.table("touchpoints").set_index(["touchpoint", "metric"])
    got = a.table("touchpoints").set_index(["touchpoint", "metric"])
    pd.testing.assert_frame_equal(got, b.table("touchpoints").set_index(["touchpoint", "metric"]))
    sampled = []
    for tp in ex.index.get_level_values(0).unique():
        e, g = ex.loc[(tp, "sentiment")], got.loc[(tp, "sentiment")]
        if e["n"] == 0:
            assert g["flag"] == "no-data"
            continue
        if e["n"] <= cap:  # every comment: exact
            assert (g["n"], g["value"]) == (e["n"], pytest.approx(e["value"]))
            continue
        sampled.append(tp)
        assert g["n"] == cap
        assert g["ci_low"] <= e["value"] <= g["ci_high"]
        assert g["ci_high"] - g["ci_low"] > e["ci_high"] - e["ci_low"]  # wider: fewer comments
    assert sampled, "the cap must be below some touchpoint's comments"
    (note,) = [w for w in a.warnings if "random sample" in w]
    assert all(tp in note for tp in sampled)
    assert not [w for w in exact.warnings if "random sample" in w]
    th, th_exact = a.table("themes"), exact.table("themes")
    for tp in sampled:
        t = th[th["touchpoint"] == tp].iloc[0]
        assert t["sampled"] == cap and t["comments"] > cap
        e = th_exact[(th_exact["touchpoint"] == tp) & (th_exact["theme"] == t["theme"])]
        assert len(e) and t["ci_low"] <= e["share"].iloc[0] <= t["ci_high"]
    # metrics that are not the comments' are untouched by the sampling
    rest = ex.index.get_level_values(1) != "sentiment"
    pd.testing.assert_frame_equal(got[rest], ex[rest])


def test_the_commands_print_problems_one_line_each_with_exit_code_2(sim):
    from typer.testing import CliRunner

    from cxroi.cli import app

    runner = CliRunner()
    ws = str(sim.path)
    assert runner.invoke(app, ["journey", "init", "--force", "-w", ws]).exit_code == 0
    ok = runner.invoke(app, ["journey", "check", "-w", ws])
    assert ok.exit_code == 0 and "every one measured in the data" in ok.output
    path = Path(sim.path) / "journey.yaml"
    path.write_text("stages:\n  - id: a\n    touchpoints: [{id: ad}]\n  - id: b\n")
    bad = runner.invoke(app, ["journey", "check", "-w", ws])
    lines = bad.output.strip().splitlines()
    assert bad.exit_code == 2 and lines[0] == "error: journey.yaml: stage 'b' has no touchpoint"
    assert all(x.startswith("error: journey.yaml: ") for x in lines) and len(lines) > 5
    path.write_text("stages: [")
    broken = runner.invoke(app, ["journey", "touchpoints", "-w", ws])
    assert broken.exit_code == 2 and broken.output.count("\n") == 1
    assert broken.output.startswith("error: journey.yaml: line 1")
    funnel = runner.invoke(app, ["journey", "funnel", "--steps", "website", "-w", ws])
    assert funnel.exit_code == 2 and "a funnel needs at least two steps" in funnel.output
    journey_init(sim, force=True)
