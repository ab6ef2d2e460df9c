"""The simulator's tables: determinism, schema validity, integrity, realistic marginals."""

from __future__ import annotations

import json

import pandas as pd
import pyarrow.parquet as pq
import pytest
from scipy import stats

from cxroi.errors import CxroiError
from cxroi.schema import TABLES
from cxroi.simulate import Company, generate, generate_to
from cxroi.simulate import company as company_module

from .conftest import month_index


def test_same_seed_same_tables_other_seed_differs():
    a = generate(customers=1_500, months=12, seed=3)
    b = generate(customers=1_500, months=12, seed=3)
    c = generate(customers=1_500, months=12, seed=4)
    for name in a.tables:
        assert a.tables[name].equals(b.tables[name]), name
    assert a.truth == b.truth
    assert not a.tables["transactions"].equals(c.tables["transactions"])


def test_streamed_equals_in_memory_across_blocks(tmp_path, monkeypatch):
    monkeypatch.setattr(company_module, "BLOCK", 700)
    mem = generate(customers=2_000, months=12, seed=5)
    truth = generate_to(tmp_path, customers=2_000, months=12, seed=5)
    for name, table in mem.tables.items():
        assert pq.read_table(tmp_path / f"{name}.parquet").equals(table), name
    assert pq.read_table(tmp_path / "archetypes.parquet").equals(mem.archetypes)
    assert pq.read_table(tmp_path / "comment_themes.parquet").equals(mem.comment_themes)
    assert json.loads((tmp_path / "ground_truth.json").read_text()) == truth == mem.truth
    # ids stay unique across blocks
    assert mem.tables["transactions"]["transaction_id"].to_pandas().is_unique


def test_write_round_trips(tmp_path):
    c = generate(customers=500, months=6, seed=1)
    c.write(tmp_path)
    assert {p.name for p in tmp_path.iterdir()} == {
        *(f"{n}.parquet" for n in TABLES),
        "ground_truth.json",
        "archetypes.parquet",
        "comment_themes.parquet",
    }
    assert json.loads((tmp_path / "ground_truth.json").read_text()) == c.truth
    back = Company.read(tmp_path)
    assert back.truth == c.truth and back.archetypes.equals(c.archetypes)
    assert all(back.tables[n].equals(t) for n, t in c.tables.items())


def test_read_names_missing_files(tmp_path):
    with pytest.raises(CxroiError, match="ground_truth.json"):
        Company.read(tmp_path)


def test_every_table_passes_schema_validation(company: Company, ws):
    for name in TABLES:
        result = ws.ingest(name, company.tables[name])
        assert result.rejected == 0 and result.inserted == company.tables[name].num_rows, name


def test_all_canonical_tables_and_declared_types(company: Company):
    assert list(company.tables) == list(TABLES)
    for name, spec in TABLES.items():
        schema = company.tables[name].schema
        for col in spec.columns:
            assert col.name in schema.names, (name, col.name)
            kind = str(schema.field(col.name).type)
            expected = {
                "string": "string",
                "int64": "int64",
                "float64": "double",
                "date": "date32[day]",
                "timestamp": "timestamp[us]",
            }[col.dtype]
            assert kind == expected, (name, col.name, kind)


def test_sizes_per_customer(company: Company):
    n = company.tables["customers"].num_rows
    per = {k: t.num_rows / n for k, t in company.tables.items()}
    assert 15 <= per["transactions"] <= 25
    assert 2.2 <= per["responses"] <= 4
    assert 0.7 <= per["tickets"] <= 1.4
    comments = company.tables["responses"]["comment"].null_count
    assert 0.4 <= 1 - comments / company.tables["responses"].num_rows <= 0.6


def test_marginals_realistic_from_raw_rows(company: Company, frames, panel):
    r = frames["responses"]
    nps = 100 * ((r["nps"] >= 9).mean() - (r["nps"] <= 6).mean())
    assert -20 <= nps <= 60
    assert 0.5 <= (r["csat"] >= 4).mean() <= 0.9
    monthly = panel.groupby("month")["churn"].mean()
    assert monthly.between(0.01, 0.05).all(), monthly
    assert company.truth["marginals"]["nps"] == pytest.approx(nps)


def test_referential_integrity(frames):
    ids = set(frames["customers"]["customer_id"])
    for name in ("transactions", "contracts", "responses", "tickets", "events"):
        assert set(frames[name]["customer_id"]) <= ids, name
    responses = frames["responses"].set_index("response_id")
    assert responses.loc[frames["cases"]["response_id"], "nps"].le(6).all()
    themed = frames["comment_themes"]["response_id"]
    assert responses.loc[themed, "comment"].notna().all()
    assert set(frames["archetypes"]["customer_id"]) == ids


def test_nothing_happens_after_churn(frames):
    con = frames["contracts"]
    active = con.groupby("customer_id")["end_date"].agg(lambda s: s.isna().any())
    end = con.groupby("customer_id")["end_date"].max()[~active].astype("datetime64[us]")
    for name, col in (("transactions", "ts"), ("tickets", "opened_at"), ("responses", "ts")):
        t = frames[name]
        t = t[t["customer_id"].isin(end.index)]
        assert (t[col].to_numpy() < t["customer_id"].map(end).to_numpy()).all(), name
    starts = frames["customers"].set_index("customer_id")["signup_date"]
    assert (con["start_date"] >= con["customer_id"].map(starts)).all()


@pytest.mark.parametrize("attribute", ["plan", "region", "occupation", "channel"])
def test_archetypes_differ_in_segment_attributes(frames, attribute):
    c = frames["customers"].merge(frames["archetypes"], on="customer_id")
    table = pd.crosstab(c["archetype"], c[attribute])
    assert stats.chi2_contingency(table).pvalue < 1e-6


def test_archetypes_differ_in_age_size_and_frequency(frames):
    c = frames["customers"].merge(frames["archetypes"], on="customer_id")
    tx = frames["transactions"].merge(frames["archetypes"], on="customer_id")
    size = tx.groupby("archetype")["amount"].mean()
    freq = tx.groupby("archetype").size() / c.groupby("archetype").size()
    age = c.groupby("archetype")["age"].mean()
    assert size.max() / size.min() > 2
    assert freq.max() / freq.min() > 2
    assert age.max() - age.min() > 10
    assert 4 <= c["archetype"].nunique() <= 6


def test_truth_is_json_with_the_documented_keys(company: Company):
    truth = json.loads(json.dumps(company.truth))
    for key in (
        "driver_weights",
        "slow_response_threshold_hours",
        "slow_response_hazard_ratio",
        "slow_response_satisfaction_effect",
        "nps_group_hazard_ratio",
        "spend_multiplier",
        "frequency_multiplier",
        "theme_effects_on_nps",
        "driver_shares",
        "initiatives",
        "archetypes",
        "customer_archetype",
        "comment_themes",
        "marginals",
        "generator",
    ):
        assert key in truth, key
    w = list(truth["driver_weights"].values())
    assert len(set(w)) == 6 and abs(sum(w) - 1) < 1e-9
    assert {x["level"] for x in truth["initiatives"]} == {
        "efficiency",
        "excellence",
        "product_innovation",
        "experience_innovation",
    }
    assert set(truth["customer_archetype"]["columns"]) >= {"customer_id", "archetype"}


def test_initiatives_table_matches_truth(company: Company, frames):
    ini = frames["initiatives"].set_index("initiative_id")
    for t in company.truth["initiatives"]:
        row = ini.loc[t["initiative_id"]]
        assert str(row["start_date"]) == t["start_date"]
        assert row["target"] == t["target"] and row["touchpoint"] == t["touchpoint"]


@pytest.mark.parametrize(
    "kwargs",
    [{"customers": 0}, {"months": 1}, {"start": "not a date"}],
)
def test_bad_arguments_raise(kwargs):
    with pytest.raises(CxroiError):
        generate(**{"customers": 10, "months": 6, **kwargs})


def test_slow_ticket_lowers_relationship_nps_by_the_stated_effect(company: Company, frames, panel):
    """Within a customer, relationship NPS in a slow-ticket window (the ticket's month and the
    next) is lower by b * effect NPS-score points (less a little where the score is clipped)."""
    truth = company.truth
    start = truth["generator"]["start"]
    t = frames["tickets"]
    hours = (t["first_response_at"] - t["opened_at"]).dt.total_seconds() / 3600
    slow = t[hours > truth["slow_response_threshold_hours"]]
    m = month_index(slow["opened_at"], start)
    window = pd.concat(
        [
            pd.DataFrame({"customer_id": slow["customer_id"], "month": m}),
            pd.DataFrame({"customer_id": slow["customer_id"], "month": m + 1}),
        ]
    ).drop_duplicates()
    window["slow"] = 1
    r = frames["responses"]
    r = r[(r["survey"] == "relationship") & r["customer_id"].isin(slow["customer_id"])].copy()
    r["month"] = month_index(r["ts"], start)
    untreated = panel.loc[~panel["treated"], ["customer_id", "month"]]
    r = r.merge(untreated, on=["customer_id", "month"])
    r = r.merge(window, on=["customer_id", "month"], how="left").fillna({"slow": 0})
    both = r.groupby("customer_id")["slow"].transform(lambda s: s.nunique() == 2)
    r = r[both]
    centred = r["nps"] - r.groupby("customer_id")["nps"].transform("mean")
    diff = centred[r["slow"] == 1].mean() - centred[r["slow"] == 0].mean()
    expected = truth["score_links"]["nps"]["b"] * truth["slow_response_satisfaction_effect"]
    assert len(r) > 100
    assert expected - 0.3 < diff < 0.6 * expected, (diff, expected)
