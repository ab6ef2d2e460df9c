"""Vectorised conversion of simulated numpy columns to typed Arrow arrays."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

__all__ = ["NULL", "cat", "date", "fmt_id", "int_or_null", "ts"]

NULL = np.iinfo(np.int64).min
"""Sentinel for a missing timestamp or integer in a simulated int64 column."""


def fmt_id(prefix: str, width: int, numbers: np.ndarray) -> pa.Array:
    """String ids such as ``C0000042``: ASCII ``prefix`` + ``numbers`` zero-padded to ``width``.

    The bytes are laid out with numpy and wrapped as an Arrow string array without copying
    per value; numbers wider than ``width`` fall back to Arrow's string kernels.
    """
    numbers = np.asarray(numbers, dtype=np.int64)
    n = numbers.size
    if n and (numbers.min() < 0 or numbers.max() >= 10**width):
        digits = pc.cast(pa.array(numbers, pa.int64()), pa.string())
        return pc.binary_join_element_wise(prefix, pc.utf8_lpad(digits, width, "0"), "")
    head = np.frombuffer(prefix.encode("ascii"), dtype=np.uint8)
    size = head.size + width
    buf = np.empty((n, size), dtype=np.uint8)
    buf[:, : head.size] = head
    powers = 10 ** np.arange(width - 1, -1, -1, dtype=np.int64)
    buf[:, head.size :] = 48 + (numbers[:, None] // powers) % 10
    offsets = np.arange(n + 1, dtype=np.int32) * size
    return pa.StringArray.from_buffers(n, pa.py_buffer(offsets), pa.py_buffer(buf))


def ts(seconds: np.ndarray) -> pa.Array:
    """Naive-UTC ``timestamp[us]`` from epoch seconds; :data:`NULL` becomes null."""
    seconds = np.asarray(seconds, dtype=np.int64)
    mask = seconds == NULL
    us = np.where(mask, 0, seconds) * 1_000_000
    return pa.array(us, pa.timestamp("us"), mask=mask if mask.any() else None)


def date(seconds: np.ndarray) -> pa.Array:
    """``date32`` of epoch seconds (the day they fall in); :data:`NULL` becomes null."""
    seconds = np.asarray(seconds, dtype=np.int64)
    mask = seconds == NULL
    days = (np.where(mask, 0, seconds) // 86_400).astype(np.int32)
    return pa.array(days, pa.date32(), mask=mask if mask.any() else None)


def cat(codes: np.ndarray, levels: Sequence[str]) -> pa.Array:
    """Strings ``levels[codes]``; a negative code becomes null."""
    codes = np.asarray(codes, dtype=np.int64)
    mask = codes < 0
    idx = pa.array(np.where(mask, 0, codes), mask=mask if mask.any() else None)
    return pc.take(pa.array(list(levels), pa.string()), idx)


def int_or_null(values: np.ndarray, mask: np.ndarray | None = None) -> pa.Array:
    """``int64`` array, null where ``mask`` is true."""
    values = np.asarray(values).astype(np.int64)
    return pa.array(values, pa.int64(), mask=mask if mask is not None and mask.any() else None)
