"""cxroi: customer-experience management and CX-ROI analytics.

From what a company does (A), through how customers perceive it (C), to how they behave and
what they are worth (B). The entry point is :class:`Workspace`; every analysis in
:mod:`cxroi.analyses` takes one and returns a :class:`Result`.

Examples
--------
>>> from cxroi import Workspace, analyses                               # doctest: +SKIP
>>> with Workspace.open("demo-workspace", read_only=True) as ws:        # doctest: +SKIP
...     card = analyses.scorecard(ws, by=["plan"])
>>> card.table()                                                        # doctest: +SKIP
"""

from __future__ import annotations

import importlib
import typing as _typing

if _typing.TYPE_CHECKING:
    from cxroi.errors import (
        CxroiError,
        CxroiWarning,
        IngestError,
        NotFittedError,
        WorkspaceError,
    )
    from cxroi.ingest import IngestResult
    from cxroi.results import Result, Table
    from cxroi.schema import TABLES
    from cxroi.store import Workspace

__version__ = "0.1.0"

__all__ = [
    "TABLES",
    "CxroiError",
    "CxroiWarning",
    "IngestError",
    "IngestResult",
    "NotFittedError",
    "Result",
    "Table",
    "Workspace",
    "WorkspaceError",
    "__version__",
]

# Each name is imported on first use (PEP 562): ``import cxroi.text.pipeline`` in a worker
# process of the comment pass then loads the text modules only, not the store, Ibis and
# pandas, which took a second per worker.
_WHERE = {
    "TABLES": "cxroi.schema",
    "CxroiError": "cxroi.errors",
    "CxroiWarning": "cxroi.errors",
    "IngestError": "cxroi.errors",
    "NotFittedError": "cxroi.errors",
    "WorkspaceError": "cxroi.errors",
    "IngestResult": "cxroi.ingest",
    "Result": "cxroi.results",
    "Table": "cxroi.results",
    "Workspace": "cxroi.store",
}


def __getattr__(name: str) -> _typing.Any:
    where = _WHERE.get(name)
    if where is None:
        raise AttributeError(f"module 'cxroi' has no attribute {name!r}")
    value = getattr(importlib.import_module(where), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_WHERE])
