"""What a workspace holds: its canonical tables, where each is read from, their row counts."""

from __future__ import annotations

import pandas as pd

from cxroi._types import WorkspaceLike
from cxroi.results import Result, Table
from cxroi.schema import TABLES

__all__ = ["workspace_tables"]


def workspace_tables(ws: WorkspaceLike) -> Result:
    """Every canonical table with its row count, key and source (one count query per table).

    A table mapped in ``[tables]`` (the company's own table, read in place) is checked against
    the schema first; what does not fit is named in ``params["problems"]``, one line each (a
    missing table, column or a wrong type), and its row count is left empty.
    """
    mapped = getattr(ws, "mapped", {})
    checks = ws.check_tables() if mapped and hasattr(ws, "check_tables") else {}
    rows, problems = [], []
    for name, spec in TABLES.items():
        found = checks.get(name, [])
        problems += found
        rows.append({
            "table": name,
            "rows": None if found else int(ws.table(name).count().execute()),
            "key": spec.key,
            "source": mapped[name].source if name in mapped else "cxroi",
            "status": "problem" if found else "ok",
        })  # fmt: skip
    frame = pd.DataFrame(rows)
    frame["rows"] = frame["rows"].astype("Int64" if frame["rows"].isna().any() else "int64")
    if not mapped:
        frame = frame.drop(columns=["source", "status"])
    return Result(
        "tables",
        "Tables",
        [Table("tables", "Tables", frame, kind="data")],
        params={"workspace": str(ws.path), "problems": problems},
    )
