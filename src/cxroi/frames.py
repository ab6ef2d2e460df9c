"""An engine's result as a pandas frame, through Arrow.

Ibis' DuckDB backend (12.0) turns every column that holds a null into a Python list before
pandas sees it (``to_pylist`` in ``Backend.execute``): for the million-customer ledger, with
a dozen such columns, that is most of the read (7.8 CPU-s against 5.4 for the same query
through Arrow). :func:`to_frame` asks for the Arrow table and converts it in C, with dates as
``datetime64[s]`` and times as ``datetime64[ns]`` like Ibis, so the frame is equal to
``expr.to_pandas()`` (checked in ``tests/test_frames.py``). Written here because it is the one
place the conversion is chosen; the pieces are pyarrow's.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
import pyarrow as pa

__all__ = ["arrow_frame", "to_frame"]


def to_frame(expr: Any) -> pd.DataFrame:
    """Execute Ibis table ``expr`` into pandas, as ``expr.to_pandas()`` does but faster."""
    return arrow_frame(expr.to_pyarrow())


def arrow_frame(t: pa.Table) -> pd.DataFrame:
    """An Arrow table (an engine's result) in pandas, converted as :func:`to_frame` does."""
    return pa.table([_as_ibis(c) for c in t.columns], names=t.column_names).to_pandas()


def _as_ibis(c: pa.ChunkedArray) -> pa.ChunkedArray:
    """Dates as ``datetime64[s]`` and times as ``datetime64[ns]``, as Ibis converts them."""
    if pa.types.is_date(c.type):
        return c.cast(pa.timestamp("s"))
    if pa.types.is_timestamp(c.type) and c.type.unit != "ns":
        return c.cast(pa.timestamp("ns", c.type.tz))
    return c
