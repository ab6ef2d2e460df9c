"""The one analysis window and the one period grammar, against hand-worked dates."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from cxroi.errors import CxroiError
from cxroi.window import Window, data_bounds, period_span, tables_before, to_date

D = dt.datetime


@pytest.mark.parametrize(
    ("text", "start", "end"),
    [
        ("2025", D(2025, 1, 1), D(2026, 1, 1)),
        ("2025-03", D(2025, 3, 1), D(2025, 4, 1)),
        ("2025-12", D(2025, 12, 1), D(2026, 1, 1)),
        ("2025-Q1", D(2025, 1, 1), D(2025, 4, 1)),
        ("2025q4", D(2025, 10, 1), D(2026, 1, 1)),
        ("2025-W01", D(2024, 12, 30), D(2025, 1, 6)),  # ISO week 1 of 2025 starts on a Monday
        ("2025-03-15", D(2025, 3, 15), D(2025, 3, 16)),
        ("2025-02..2025-03-10", D(2025, 2, 1), D(2025, 3, 11)),
        ("2024-Q4..2025", D(2024, 10, 1), D(2026, 1, 1)),
    ],
)
def test_period_span(text, start, end):
    assert period_span(text) == (start, end)


@pytest.mark.parametrize("text", ["last tuesday", "2025-13", "2025-Q5", "2025-03..2025-01"])
def test_bad_period_names_the_parameter_and_the_grammar(text):
    with pytest.raises(CxroiError, match="since") as e:
        period_span(text, name="since")
    assert "\n" not in str(e.value)


def test_to_date():
    assert to_date("2025-02-03", "as_of") == dt.date(2025, 2, 3)
    assert to_date(pd.Timestamp("2025-02-03 10:00"), "as_of") == dt.date(2025, 2, 3)
    with pytest.raises(CxroiError, match="as_of: '3 Feb' is not a date"):
        to_date("3 Feb", "as_of")


def test_data_bounds_reads_activity_and_falls_back_to_contracts(ws):
    assert data_bounds(ws.tables) == (None, None)
    ws.ingest(
        "contracts",
        pd.DataFrame({"contract_id": ["k"], "customer_id": ["c"],
                      "start_date": ["2019-05-01"], "value": [1.0]}),
    )  # fmt: skip
    assert data_bounds(ws.tables) == (dt.date(2019, 5, 1), dt.date(2019, 5, 1))
    ws.ingest(
        "transactions",
        pd.DataFrame({"transaction_id": ["a", "b"], "customer_id": ["c", "c"],
                      "ts": ["2024-01-02 10:00", "2024-03-04 23:00"], "amount": [1.0, 2.0]}),
    )  # fmt: skip
    ws.ingest(
        "responses",
        pd.DataFrame({"response_id": ["r"], "ts": ["2024-05-06 09:00"], "nps": [9]}),
    )
    # activity decides; the 2019 contract start does not stretch the window
    assert data_bounds(ws.tables) == (dt.date(2024, 1, 2), dt.date(2024, 5, 6))
    w = Window.resolve(ws.tables, since="2024-02", as_of="2024-Q1")
    assert (w.start, w.end) == (dt.date(2024, 2, 1), dt.date(2024, 3, 31))
    with pytest.raises(CxroiError, match="as_of 2024-01-31 is before since 2024-02-01"):
        Window.resolve(ws.tables, since="2024-02", as_of="2024-01")


def test_tables_before_a_day_are_the_data_as_they_stood(tmp_path):
    """The tiny workspace: ``a`` since 2023-06-01 (purchases 2024-01-01 and 2024-12-31,
    answers 2024-02-01 and 2024-06-01, tickets 2024-03-01 and 2024-05-01 00:00) and ``b``
    from 2024-03-01, churned 2024-07-01 (purchase and answer 2024-04-01, ticket 2024-04-02)."""
    from cxroi.models.ledger import ledger_frame
    from tests.models._workspaces import tiny_workspace

    with tiny_workspace(tmp_path / "tiny") as ws:
        may = tables_before(ws.tables, dt.date(2024, 5, 1))
        march = tables_before(ws.tables, dt.date(2024, 3, 1))
        assert sorted(may["transactions"].to_pandas()["transaction_id"]) == ["t1", "t3"]
        assert sorted(may["responses"].to_pandas()["response_id"]) == ["r1", "r3"]
        assert sorted(may["tickets"].to_pandas()["ticket_id"]) == ["x1", "x3"]  # x2: on the day
        assert data_bounds(may) == (dt.date(2024, 1, 1), dt.date(2024, 4, 2))
        # b's contract ends after the day: on 1 May it was open, b not (yet) a churner
        k = may["contracts"].to_pandas().set_index("contract_id")
        assert pd.isna(k.loc["k2", "end_date"]) and pd.isna(k.loc["k1", "end_date"])
        led = ledger_frame(may).set_index("customer_id")
        assert led["churned"].tolist() == [0, 0]
        assert ledger_frame(ws.tables).set_index("customer_id").loc["b", "churned"] == 1
        # b signed up (and started the contract) on 1 March: not a customer before it
        assert march["customers"].to_pandas()["customer_id"].tolist() == ["a"]
        assert march["contracts"].to_pandas()["contract_id"].tolist() == ["k1"]
