"""Chunked process-pool map over texts, shared by sentiment and theme assignment.

Workers are started with ``spawn`` (safe beside the DuckDB threads of the parent) and receive
the fitted objects once; chunks then carry only text. The fitted objects are pickled once
into a temporary file that each worker reads as it starts: handing them over through the
pool initializer instead would make the parent wait, worker by worker, until each new
process has imported its modules and read the whole pickle from the pipe, so the workers
would start one after the other rather than together.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import pickle
import tempfile
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from typing import Any

__all__ = ["effective_jobs", "map_chunks"]

_STATE: dict[str, Any] = {}

MIN_PARALLEL = 20_000
"""Inputs shorter than this run in-process: starting workers costs about a second."""


def effective_jobs(n_jobs: int | None) -> int:
    """``None`` or ``-1`` mean every core; otherwise at least 1."""
    cores = os.cpu_count() or 1
    if n_jobs is None or n_jobs < 0:
        return cores
    return max(1, int(n_jobs))


def _init(path: str) -> None:
    with open(path, "rb") as f:
        _STATE.update(pickle.load(f))


def _call(func: Callable[..., Any], chunk: Sequence[Any]) -> Any:
    return func(chunk, **_STATE)


def map_chunks(
    func: Callable[..., Any],
    items: Sequence[Any],
    *,
    n_jobs: int | None = 1,
    chunk_size: int = 10_000,
    state: dict[str, Any] | None = None,
) -> list[Any]:
    """Apply ``func(chunk, **state)`` to consecutive chunks of ``items``, in order.

    Parameters
    ----------
    func
        A module-level function (picklable), called as ``func(chunk, **state)``.
    items
        The sequence to split.
    n_jobs
        Worker processes; 1 runs in-process, ``None``/``-1`` uses every core.
    chunk_size
        Items per chunk.
    state
        Keyword arguments sent to each worker once (fitted models).

    Returns
    -------
    list
        One result per chunk, in input order.
    """
    state = state or {}
    jobs = effective_jobs(n_jobs)
    chunks = [items[i : i + chunk_size] for i in range(0, len(items), chunk_size)]
    if jobs == 1 or len(items) < MIN_PARALLEL or len(chunks) == 1:
        return [func(c, **state) for c in chunks]
    ctx = mp.get_context("spawn")
    fd, path = tempfile.mkstemp(prefix="cxroi-state-", suffix=".pkl")
    try:
        with os.fdopen(fd, "wb") as f:
            pickle.dump(state, f, protocol=pickle.HIGHEST_PROTOCOL)
        with ProcessPoolExecutor(
            max_workers=min(jobs, len(chunks)), mp_context=ctx, initializer=_init, initargs=(path,)
        ) as pool:
            return list(pool.map(_call, [func] * len(chunks), chunks))
    finally:
        os.unlink(path)
