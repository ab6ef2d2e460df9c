"""``--out FILE``: write a per-customer listing as formula-safe CSV, whole or not at all.

The rows are rendered by :meth:`cxroi.results.Table.to_csv` (RFC 4180, cells a spreadsheet
shows as text, never runs as a formula), written to a temporary file beside the target,
flushed to disk and renamed over it, so a reader never sees half a file and a failed write
leaves the old one in place.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

import pandas as pd

from cxroi.errors import CxroiError, first_line
from cxroi.results import Table

__all__ = ["BLOCK_ROWS", "write_csv"]

BLOCK_ROWS = 50_000
"""Rows rendered and written at a time."""


def write_csv(frame: pd.DataFrame, path: Path | str) -> Path:
    """Write ``frame`` to ``path`` as CSV atomically; return the path written."""
    target = Path(path)
    if target.is_dir():
        raise CxroiError(f"--out {target} is a folder; give a file name")
    if not target.parent.exists():
        raise CxroiError(f"--out {target}: folder {target.parent} does not exist")
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as f:
            # in blocks, so a million rows never sit in memory as one string
            for start in range(0, max(len(frame), 1), BLOCK_ROWS):
                text = Table("out", "out", frame.iloc[start : start + BLOCK_ROWS],
                             kind="data").to_csv()  # fmt: skip
                f.write(text if start == 0 else text.split("\r\n", 1)[1])
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, target)
    except OSError as e:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise CxroiError(f"cannot write --out {target}: {first_line(e)}") from None
    return target
