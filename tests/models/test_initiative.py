"""Initiative target filters: parsed by hand, counted in the engine, checked against pandas."""

from __future__ import annotations

import ibis
import pandas as pd
import pytest

from cxroi.errors import CxroiError
from cxroi.models.initiative import Clause, parse_target, target_filter

CUSTOMERS = pd.DataFrame(
    {
        "customer_id": [f"c{i}" for i in range(8)],
        "plan": ["basic", "basic", "premium", "standard", "premium", "basic", "standard", None],
        "region": ["north", "south", "north", "north", "south", "north", "south", "north"],
        "age": [25, 31, 47, 52, 38, 29, 61, 40],
    }
)


@pytest.mark.parametrize(
    ("text", "clauses"),
    [
        (None, []),
        ("  ", []),
        ("plan == 'premium'", [Clause("plan", "==", ("premium",))]),
        ("region = north", [Clause("region", "==", ("north",))]),
        ("age >= 30 and plan != \"basic\"",
         [Clause("age", ">=", (30,)), Clause("plan", "!=", ("basic",))]),
        ("plan in ('basic', 'standard'), age < 40.5",
         [Clause("plan", "in", ("basic", "standard")), Clause("age", "<", (40.5,))]),
    ],
)  # fmt: skip
def test_parse_target(text, clauses):
    assert parse_target(text) == clauses


@pytest.mark.parametrize(
    ("text", "pandas_query"),
    [
        ("plan == 'premium'", "plan == 'premium'"),
        ("region = north and age >= 30", "region == 'north' and age >= 30"),
        ("plan in ('basic', 'standard'), age < 40", "plan in ['basic', 'standard'] and age < 40"),
        ("plan != 'basic'", "plan != 'basic' and plan == plan"),  # SQL: NULL != x is not true
    ],
)
def test_filter_counts_match_pandas(text, pandas_query):
    t = ibis.memtable(CUSTOMERS)
    got = t.filter(target_filter(t, text)).count().execute()
    assert got == len(CUSTOMERS.query(pandas_query))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("plan premium", "cannot read 'plan premium'"),
        ("tier == 'gold'", "customers have no column 'tier'"),
        ("age > 'old'", "age is numeric"),
        ("plan > 'b'", "plan is text; use ==, != or in"),
        ("plan in 'basic'", "'in' needs a list"),
        ("__import__('os').system('x') == 1", "cannot read"),
    ],
)
def test_bad_targets_are_clear_errors(text, message):
    t = ibis.memtable(CUSTOMERS)
    with pytest.raises(CxroiError, match=message.replace("(", r"\(").replace(")", r"\)")):
        target_filter(t, text)
