"""Results as GitHub-flavoured Markdown.

The formatter is written here because pandas' own ``to_markdown`` needs the ``tabulate``
package for nothing else, and because every cell from customer data must be made inert for
the places Markdown ends up (GitHub, editors, tickets, HTML): a pipe would split a cell, and
``<``, ``>``, ``&`` could become markup, so they are written as HTML entities; line breaks and
control characters become spaces.
"""

from __future__ import annotations

import html
import math
import re
from collections.abc import Sequence
from typing import Any

import pandas as pd

from cxroi.results import Result, Table

__all__ = ["markdown_table", "md_text", "result_markdown"]

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def md_text(value: object) -> str:
    """Text that Markdown and HTML show as written: escaped, one line, no pipes."""
    s = _CONTROL.sub(" ", str(value))
    return html.escape(s, quote=False).replace("|", "&#124;")


def _fmt(value: Any) -> str:
    if value is None or value is pd.NA or value is pd.NaT:
        return ""
    if isinstance(value, float):
        if math.isnan(value):
            return ""
        return f"{value:,.3g}" if abs(value) < 1000 else f"{value:,.0f}"
    return md_text(value)


def markdown_table(frame: pd.DataFrame, columns: Sequence[str] | None = None) -> str:
    """A Markdown table, numbers to three significant digits (thousands unrounded)."""
    if columns is not None:
        frame = frame[[c for c in columns if c in frame.columns]]
    head = "| " + " | ".join(md_text(c) for c in frame.columns) + " |"
    rule = "|" + "|".join("---:" if frame[c].dtype.kind in "if" else "---" for c in frame) + "|"
    body = ["| " + " | ".join(_fmt(v) for v in row) + " |" for row in frame.itertuples(False)]
    return "\n".join([head, rule, *body])


def table_markdown(t: Table, columns: Sequence[str] | None = None) -> str:
    return markdown_table(t.frame, columns or t.view)


def result_markdown(result: Result, *, level: int = 2) -> str:
    """A section per result: title, method and window, its tables, readings and warnings."""
    h = "#" * level
    lines = [f"{h} {md_text(result.title)}", ""]
    facts = []
    if result.method:
        facts.append(f"method: {md_text(result.method)}")
    if result.adjustment:
        facts.append("adjusted for " + md_text(", ".join(result.adjustment)))
    facts += [f"{md_text(k)}: {md_text(v)}" for k, v in result.window.items() if v is not None]
    if facts:
        lines += ["; ".join(facts) + ".", ""]
    for t in result.tables:
        if len(result.tables) > 1:
            lines += [f"{h}# {md_text(t.title)}", ""]
        lines += [table_markdown(t), ""]
    lines += [f"- {md_text(r)}" for r in result.readings]
    lines += [f"- warning: {md_text(w)}" for w in result.warnings]
    return "\n".join(lines).rstrip() + "\n"
