"""What personal data a workspace still holds: ``cxroi privacy scan``.

Ingest redacts free text before storing it, but a workspace may hold rows loaded before that,
or personal data in a column nobody declared as text. The scan reads every text column of
every canonical table (in batches, in the engine's order) and counts the values in which
:func:`cxroi.privacy.find_pii` finds something, by kind. It never shows the values.
"""

from __future__ import annotations

from collections import Counter

import pandas as pd

from cxroi._types import WorkspaceLike
from cxroi.privacy import RAW_SUFFIX, Redactor
from cxroi.results import Result, Table
from cxroi.schema import TABLES

__all__ = ["privacy_scan"]


def privacy_scan(ws: WorkspaceLike, *, batch_size: int = 50_000) -> Result:
    """Count, per table, text column and kind, the stored values that hold personal data."""
    redactor = Redactor.from_config(ws.settings.section("privacy"))
    rows, raw, scanned = [], [], 0
    for name in TABLES:
        t = ws.raw_table(name) if hasattr(ws, "raw_table") else ws.table(name)
        for col, dtype in t.schema().items():
            if not dtype.is_string() or col == "id" or col.endswith("_id"):
                continue  # keys and references are identifiers, not text
            if col.endswith(RAW_SUFFIX):
                n = int(t[col].notnull().sum().execute())
                raw.append({"table": name, "column": col, "values": n})
            hits: Counter[str] = Counter()
            n_values = 0
            expr = t.select(v=t[col]).filter(lambda r: r.v.notnull())
            for batch in expr.to_pyarrow_batches(chunk_size=batch_size):
                for v in batch.column(0).to_pylist():
                    n_values += 1
                    kinds = {s.kind for s in redactor.spans(v)}
                    hits.update(kinds)
            scanned += n_values
            for kind, k in sorted(hits.items()):
                rows.append(
                    {"table": name, "column": col, "kind": kind, "values": k, "scanned": n_values}
                )
    findings = pd.DataFrame(rows, columns=["table", "column", "kind", "values", "scanned"])
    kept = pd.DataFrame(raw, columns=["table", "column", "values"])
    readings = []
    if findings.empty:
        readings.append(f"No personal data found in {scanned:,} stored text values.")
    else:
        for (table, col), part in findings.groupby(["table", "column"], sort=False):
            counts = ", ".join(f"{r.kind} {r.values:,}" for r in part.itertuples())
            readings.append(f"{table}.{col} still holds personal data: {counts} value(s).")
    if not kept.empty:
        readings.append(
            "Raw text is kept (privacy keep_raw) in "
            + ", ".join(f"{r.table}.{r.column}" for r in kept.itertuples())
            + "; no export or analysis shows it."
        )
    tables = [Table("findings", "Personal data still stored", findings, kind="data")]
    if not kept.empty:
        tables.append(Table("raw_columns", "Raw text kept by opt-in", kept, kind="data"))
    return Result(
        "privacy_scan",
        "Personal data still stored",
        tables,
        method="validators: phonenumbers, python-stdnum (IBAN, Luhn, national ids), patterns",
        params={"scanned_values": scanned},
        readings=readings,
    )
