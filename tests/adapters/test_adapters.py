"""Real exports land as canonical rows with the right scores (fixtures follow each tool's
documented CSV layout: Qualtrics' three header rows, SurveyMonkey's two, Zendesk's ticket CSV)."""

from __future__ import annotations

import pandas as pd
import pytest

from cxroi.adapters import detect
from cxroi.errors import IngestError


def _nps(scores) -> float:
    s = pd.Series(scores)
    return 100 * ((s >= 9).mean() - (s <= 6).mean())


@pytest.mark.parametrize(
    ("name", "tool"),
    [
        ("qualtrics_nps.csv", "qualtrics"),
        ("surveymonkey_nps.csv", "surveymonkey"),
        ("zendesk_tickets.csv", "helpdesk"),
    ],  # fmt: skip
)
def test_exports_are_detected(fixtures, name, tool):
    assert detect(fixtures / name) == tool


def test_plain_canonical_csv_is_not_taken_for_an_export(tmp_path):
    p = tmp_path / "t.csv"
    p.write_text("ticket_id,customer_id,opened_at\nK1,C1,2024-01-01\n")
    assert detect(p) is None


def test_qualtrics_export_lands_as_responses(ws, fixtures):
    r = ws.ingest("responses", fixtures / "qualtrics_nps.csv")
    assert r.inserted == 6  # the survey-preview row is left out
    got = ws.table("responses").order_by("ts").execute()
    # hand count: 10, 9, 7, 3, 6, 10 -> 3 promoters, 2 detractors of 6
    assert sorted(got["nps"]) == [3, 6, 7, 9, 10, 10]
    assert _nps(got["nps"]) == pytest.approx(100 * (3 - 2) / 6)
    assert got["csat"].tolist() == [5, 4, 4, 2, 3, 5]
    assert got["customer_id"].tolist()[0] == "C0001"
    assert got["rating_delivery_speed"].tolist()[:2] == [5, 4]
    assert got["comment"].iloc[0] == "Fast delivery, great prices"
    # RecordedDate 2024-03-05 14:07:23 in America/Denver (UTC-7 in early March) -> 21:07:23 UTC
    assert got["ts"].iloc[0] == pd.Timestamp("2024-03-05 21:07:23")


def test_surveymonkey_export_lands_as_responses(ws, fixtures):
    ws.ingest("responses", fixtures / "surveymonkey_nps.csv")
    got = ws.table("responses").order_by("response_id").execute()
    assert got["nps"].tolist() == [10, 8, 2, 9, 5]
    assert _nps(got["nps"]) == pytest.approx(100 * (2 - 2) / 5)
    # "Very satisfied" -> 5, "Neither satisfied nor dissatisfied" -> 3
    assert got["csat"].tolist() == [5, 4, 1, 5, 3]
    assert got["ces"].tolist() == [7, 6, 2, 6, 4]
    assert got["rating_delivery"].tolist() == [5, 4, 1, 5, 3]
    assert got["ts"].iloc[0] == pd.Timestamp("2024-03-05 14:22:10")
    assert got["comment"].iloc[2].startswith("Order arrived broken")


def test_question_override_by_flag(ws, fixtures):
    ws.ingest("responses", fixtures / "qualtrics_nps.csv", questions={"csat": "Q3_1"})
    got = ws.table("responses").order_by("ts").execute()
    assert got["csat"].tolist() == [5, 4, 3, 2, 3, 5]  # the delivery rating now


def test_question_override_naming_a_missing_column(ws, fixtures):
    with pytest.raises(IngestError, match="questions nps=Q99: no column 'Q99'"):
        ws.ingest("responses", fixtures / "qualtrics_nps.csv", questions={"nps": "Q99"})


def test_helpdesk_export_lands_as_tickets(ws, fixtures):
    ws.ingest("tickets", fixtures / "zendesk_tickets.csv")
    got = ws.table("tickets").order_by("ticket_id").execute()
    assert got["customer_id"].tolist() == ["C0001", "C0002", "C0003", "C0004"]
    # first reply 90 minutes after 09:00 -> 10:30; 1560 minutes after 10:15 -> next day 12:15
    assert got["first_response_at"].iloc[0] == pd.Timestamp("2024-03-04 10:30")
    assert got["first_response_at"].iloc[1] == pd.Timestamp("2024-03-05 12:15")
    assert pd.isna(got["first_response_at"].iloc[3]) and pd.isna(got["resolved_at"].iloc[3])
    assert got["channel"].tolist() == ["Email", "Web Widget", "Chat", "Email"]
    assert got["category"].tolist() == ["Problem", "Incident", "Question", "Task"]
    assert "satisfaction_score" in got  # Zendesk's good/bad rating is kept, not forced onto 1-5


def test_export_loaded_into_the_wrong_table(ws, fixtures):
    with pytest.raises(
        IngestError, match="looks like a qualtrics export, which loads into responses"
    ):
        ws.ingest("tickets", fixtures / "qualtrics_nps.csv")


def test_bad_value_in_an_export_names_the_line_of_the_file(ws, fixtures, tmp_path):
    text = (fixtures / "qualtrics_nps.csv").read_text().replace('"10","3","5"', '"11","3","5"', 1)
    bad = tmp_path / "qualtrics_bad.csv"
    bad.write_text(text)
    with pytest.raises(IngestError, match=r"line 4: nps '11' is outside 0–10"):
        ws.ingest("responses", bad)
