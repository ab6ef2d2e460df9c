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

from cxroi.errors import CxroiError, CxroiWarning, IngestError, NotFittedError, WorkspaceError
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
