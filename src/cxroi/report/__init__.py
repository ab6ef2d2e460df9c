"""Reports: results rendered for reading outside a terminal (Markdown now; HTML/PDF next).

A report renders :class:`~cxroi.results.Result` objects and never recomputes a number.
"""

from __future__ import annotations

from cxroi.report.markdown import markdown_table, result_markdown

__all__ = ["markdown_table", "result_markdown"]
