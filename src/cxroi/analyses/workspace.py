"""What a workspace holds: its canonical tables, their keys and row counts."""

from __future__ import annotations

import pandas as pd

from cxroi._types import WorkspaceLike
from cxroi.results import Result, Table
from cxroi.schema import TABLES

__all__ = ["workspace_tables"]


def workspace_tables(ws: WorkspaceLike) -> Result:
    """Every canonical table with its row count and key (one count query per table)."""
    rows = [
        {"table": name, "rows": int(ws.table(name).count().execute()), "key": spec.key}
        for name, spec in TABLES.items()
    ]
    frame = pd.DataFrame(rows)
    return Result(
        "tables",
        "Tables",
        [Table("tables", "Tables", frame, kind="data")],
        params={"workspace": str(ws.path)},
    )
