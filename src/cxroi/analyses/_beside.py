"""Run part of an analysis beside the rest, on its own connection to the embedded store.

One DuckDB connection runs one query at a time; two connections to the same database
(:meth:`cxroi.store.Workspace.sibling`) run side by side and see the same data. An analysis
whose halves share no intermediate result starts one half here and goes on with the other.
A server engine has no sibling: the half is computed at once, before the rest.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from cxroi._types import WorkspaceLike

__all__ = ["beside"]

T = TypeVar("T")


def beside(ws: WorkspaceLike, fn: Callable[[Any], T], *, name: str) -> Callable[[], T]:
    """Start ``fn(twin)`` on a thread (``name``) with a twin of ``ws`` of its own connection,
    closed when ``fn`` returns; returns the function that waits for its value (or raises
    what it raised). Without a twin (a server engine) ``fn(ws)`` runs now."""
    twin = getattr(ws, "sibling", lambda: None)()
    if twin is None:
        got = fn(ws)
        return lambda: got

    def on_twin() -> T:
        try:
            return fn(twin)
        finally:
            twin.close()

    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix=name)
    job = pool.submit(on_twin)
    pool.shutdown(wait=False)
    return job.result
