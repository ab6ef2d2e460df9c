"""The customer-month panel (cxroi.models.panel) by hand."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from cxroi.errors import CxroiError
from cxroi.models.panel import customer_months, month_index, month_of


@pytest.fixture
def spans() -> pd.DataFrame:
    # a: 2024-01-15 .. 2024-04-10, churned; b: 2024-02-01 .. 2024-03-31, still active
    return pd.DataFrame(
        {
            "customer_id": ["a", "b"],
            "entry": pd.to_datetime(["2024-01-15", "2024-02-01"]).date,
            "exit": pd.to_datetime(["2024-04-10", "2024-03-31"]).date,
            "churned": [1, 0],
        }
    )


@pytest.fixture
def answers() -> pd.DataFrame:
    # a: 9 in January, 3 in March; b: 7 in December 2023, before it entered the panel
    return pd.DataFrame(
        {
            "customer_id": ["a", "a", "b"],
            "period": month_of(["2024-01-20", "2024-03-02", "2023-12-05"]),
            "nps": [9, 3, 7],
        }
    )


def test_rows_time_axis_and_event(spans):
    p = customer_months(spans)
    assert p.customer_id.tolist() == ["a"] * 4 + ["b"] * 2
    assert p.month.tolist() == [0, 1, 2, 3, 1, 2]  # months since 2024-01
    assert p.start.tolist() == [0.0, 1.0, 2.0, 3.0, 1.0, 2.0]
    assert (p.stop - p.start == 1).all()
    assert p.churned.tolist() == [0, 0, 0, 1, 0, 0]  # only in a churner's exit month
    assert [str(m) for m in p.period] == ["2024-01", "2024-02", "2024-03", "2024-04"] + [
        "2024-02",
        "2024-03",
    ]


def test_nps_so_far_carries_forward(spans, answers):
    p = customer_months(spans, nps=answers)
    assert p.nps.tolist() == [9, 9, 3, 3, 7, 7]  # b's earlier answer counts from entry
    assert p.nps_group.tolist() == ["promoter"] * 2 + ["detractor"] * 2 + ["passive"] * 2


def test_stale_scores_have_no_group(spans, answers):
    p = customer_months(spans, nps=answers, max_age=1)
    # a: ages 0, 1, 0, 1; b's answer is 2 and 3 months old: no current score, no group
    assert p.nps.iloc[:4].tolist() == [9, 9, 3, 3]
    assert p.nps.iloc[4:].isna().all() and p.nps_group.iloc[4:].isna().all()
    assert p.nps_group.iloc[4] is None  # missing stays missing, never a detractor
    with pytest.raises(CxroiError, match="max_age must be 0 or more"):
        customer_months(spans, max_age=-1)


def test_measure_acts_on_the_next_month(spans):
    measure = pd.DataFrame(
        {"customer_id": ["a", "b"], "period": month_of(["2024-02-10", "2024-03-01"]),
         "x_max": [30.0, 5.0], "n": [2, 1]}
    )  # fmt: skip
    p = customer_months(spans, measure=measure)
    # a's February tickets act on March; b's March ticket on April, after b's last month
    assert p.measure_prev.isna().tolist() == [True, True, False, True, True, True]
    assert p.measure_prev.iloc[2] == 30.0
    assert p.n_measured_prev.tolist() == [0, 0, 2, 0, 0, 0]


def test_month_index_and_errors(spans):
    origin = pd.Period("2023-11", "M")
    assert month_index(["2023-11-30", "2024-02-01"], origin).tolist() == [0, 3]
    assert month_index(month_of(["2024-01-05"]), origin).tolist() == [2]
    with pytest.raises(CxroiError, match="lack column"):
        customer_months(spans.drop(columns="exit"))
    with pytest.raises(CxroiError, match="no customers"):
        customer_months(spans.iloc[:0])
    assert np.issubdtype(customer_months(spans).month.dtype, np.integer)
