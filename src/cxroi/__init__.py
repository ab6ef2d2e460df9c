"""cxroi: customer-experience management and CX-ROI analytics.

From what a company does (A), through how customers perceive it (C), to how they behave and
what they are worth (B). The entry point is :class:`Workspace`.
"""

from __future__ import annotations

from cxroi.errors import CxroiError, CxroiWarning, IngestError, WorkspaceError
from cxroi.ingest import IngestResult
from cxroi.schema import TABLES
from cxroi.scorecard import scorecard
from cxroi.store import Workspace

__version__ = "0.1.0"

__all__ = [
    "TABLES",
    "CxroiError",
    "CxroiWarning",
    "IngestError",
    "IngestResult",
    "Workspace",
    "WorkspaceError",
    "__version__",
    "scorecard",
]
