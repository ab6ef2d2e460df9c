"""Adapters: real exports from survey and helpdesk tools into the canonical tables.

Each adapter recognises its tool's export from the first rows of the file and turns it into a
:class:`~cxroi.readers.Staged` input of canonical columns, keeping every row's original line
number so that validation errors still point into the user's file.

- :mod:`~cxroi.adapters.qualtrics`: Qualtrics response CSV (three header rows).
- :mod:`~cxroi.adapters.surveymonkey`: SurveyMonkey "all responses" CSV (two header rows).
- :mod:`~cxroi.adapters.helpdesk`: helpdesk ticket CSVs (Zendesk, Freshdesk and the like).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from cxroi.errors import IngestError, param
from cxroi.readers import FORMATS, Staged, sniff_header_rows

__all__ = ["ADAPTERS", "adapt", "detect"]

ADAPTERS = ("qualtrics", "surveymonkey", "helpdesk")
_TABLE = {"qualtrics": "responses", "surveymonkey": "responses", "helpdesk": "tickets"}


def detect(path: Path, *, encoding: str = "utf-8") -> str | None:
    """Name the tool that made export ``path``, or ``None`` for a plain canonical file."""
    from cxroi.adapters import helpdesk, qualtrics, surveymonkey

    if FORMATS.get(path.suffix.lower()) not in ("csv", "tsv") or path.stat().st_size == 0:
        return None
    rows = sniff_header_rows(path, 3, encoding=encoding)
    for name, module in (
        ("qualtrics", qualtrics),
        ("surveymonkey", surveymonkey),
        ("helpdesk", helpdesk),
    ):
        if module.looks_like(rows):
            return name
    return None


def adapt(
    table: str,
    source: Any,
    *,
    adapter: str = "auto",
    questions: Mapping[str, str] | None = None,
    encoding: str = "utf-8",
) -> Staged | None:
    """Read ``source`` through an adapter, or return ``None`` when none applies.

    Parameters
    ----------
    table
        The canonical table being loaded.
    source
        The input; only files are adapted.
    adapter
        ``"auto"`` (detect), ``"none"`` (never adapt) or one of :data:`ADAPTERS`.
    questions
        Overrides for question/column detection, e.g. ``{"nps": "Q5", "comment": "Q7"}``.
    """
    if adapter == "none" or not isinstance(source, str | Path):
        return None
    path = Path(source)
    if adapter == "auto":
        if not path.is_file():
            return None
        found = detect(path, encoding=encoding)
        if found is None:
            return None
        adapter = found
    elif adapter not in ADAPTERS:
        raise IngestError(
            f"unknown adapter {adapter!r}; choose auto, none or {', '.join(ADAPTERS)}"
        )
    if _TABLE[adapter] != table:
        raise IngestError(
            f"{path.name}: looks like a {adapter} export, which loads into "
            f"{_TABLE[adapter]}, not {table} (or pass {param('adapter', 'none')})"
        )
    from importlib import import_module

    module = import_module(f"cxroi.adapters.{adapter}")
    return module.read(path, questions=dict(questions or {}), encoding=encoding)
