"""Chunked process-pool map over texts, shared by sentiment and theme assignment.

Workers are not forked from the parent (forking beside the DuckDB threads of the parent is
unsafe) but from a ``forkserver``: a fresh, single-threaded process that imports the text
modules and scikit-learn once (:data:`PRELOAD`, about two seconds) and then forks a worker
per pool slot, so each worker starts with them loaded instead of importing them itself.
Where there is no ``forkserver`` (not POSIX) workers are spawned. Workers receive the fitted
objects once; chunks then carry only text. The fitted objects are pickled once into a
temporary file that each worker reads as it starts: handing them over through the pool
initializer instead would make the parent wait, worker by worker, until each new process has
read the whole pickle from the pipe, so the workers would start one after the other rather
than together.
"""

from __future__ import annotations

import atexit
import contextlib
import multiprocessing as mp
import os
import pickle
import tempfile
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from typing import Any

__all__ = ["effective_jobs", "map_chunks", "prestart"]

_STATE: dict[str, Any] = {}

MIN_PARALLEL = 20_000
"""Inputs shorter than this run in-process: starting workers costs about a second."""

PRELOAD = [
    "cxroi.text.lexicon",
    "cxroi.text.mentions",
    "cxroi.text.pipeline",
    "cxroi.text.sentiment",
    "cxroi.text.theme_model",
    "sklearn.feature_extraction.text",  # the fitted vectorizers' class
]
"""Modules the fork server imports once for all workers: every chunk function's module."""


def _context() -> Any:
    if "forkserver" in mp.get_all_start_methods():
        ctx = mp.get_context("forkserver")
        ctx.set_forkserver_preload(PRELOAD)  # read when the server starts, once per process
        return ctx
    return mp.get_context("spawn")


def prestart(n_items: int, n_jobs: int | None) -> None:
    """Start the fork server now, without waiting for it, when :func:`map_chunks` over
    ``n_items`` with ``n_jobs`` will need workers: it imports :data:`PRELOAD` while the
    caller reads its texts, instead of after."""
    if effective_jobs(n_jobs) > 1 and n_items >= MIN_PARALLEL:
        ctx = _context()
        if ctx.get_start_method() == "forkserver":
            from multiprocessing import forkserver

            forkserver.ensure_running()


def _stop_fork_server() -> None:
    """Stop the fork server at exit and wait for it, so that it and its workers are this
    process's reaped children: their CPU time counts in ours (``getrusage``), as the spawned
    workers' did, and no server outlives the command. The server is multiprocessing's own
    (``multiprocessing.forkserver``), stopped the way its tests stop it."""
    from multiprocessing import forkserver

    server = getattr(forkserver, "_forkserver", None)
    stop = getattr(server, "_stop", None)
    if stop is not None:
        with contextlib.suppress(OSError, ChildProcessError):
            stop()


atexit.register(_stop_fork_server)  # nothing to do when no server was started


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
    ctx = _context()
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
