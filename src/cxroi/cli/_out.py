"""``--out FILE``: write a per-customer listing as formula-safe CSV, whole or not at all.

The rows are rendered by :meth:`cxroi.results.Table.to_csv` (RFC 4180, cells a spreadsheet
shows as text, never runs as a formula), written whole or not at all by
:func:`cxroi.files.atomic_file`.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from cxroi.files import atomic_file
from cxroi.results import Table

__all__ = ["BLOCK_ROWS", "write_csv"]

BLOCK_ROWS = 50_000
"""Rows rendered and written at a time."""


def write_csv(frame: pd.DataFrame, path: Path | str) -> Path:
    """Write ``frame`` to ``path`` as CSV atomically; return the path written."""
    target = Path(path)
    with atomic_file(target, "w", encoding="utf-8", newline="") as f:
        # in blocks, so a million rows never sit in memory as one string
        for start in range(0, max(len(frame), 1), BLOCK_ROWS):
            text = Table("out", "out", frame.iloc[start : start + BLOCK_ROWS],
                         kind="data").to_csv()  # fmt: skip
            f.write(text if start == 0 else text.split("\r\n", 1)[1])
    return target
