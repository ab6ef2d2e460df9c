"""Shared type aliases and protocols.

:class:`WorkspaceLike` is what the analyses layer needs of a workspace; models, metrics and
text take :data:`Tables` (canonical name → Ibis table) or frames and never a workspace.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, TypeAlias, runtime_checkable

if TYPE_CHECKING:
    import ibis.expr.types as ir

    from cxroi.config import Settings

__all__ = ["Tables", "WorkspaceLike"]

Tables: TypeAlias = "Mapping[str, ir.Table]"
"""Canonical tables by name, as Ibis expressions."""


@runtime_checkable
class WorkspaceLike(Protocol):
    """A workspace as the analyses see it: a folder, its settings and its tables."""

    path: Path
    settings: Settings

    def table(self, name: str) -> ir.Table: ...

    def ingest(self, table: str, source: Any) -> Any: ...

    @property
    def tables(self) -> Tables: ...
