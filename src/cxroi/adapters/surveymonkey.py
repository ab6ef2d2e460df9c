"""SurveyMonkey "all responses data" exports (CSV, condensed or expanded).

The export has two header rows: the first holds ``Respondent ID``, ``Collector ID``, ``Start
Date``, ``End Date``, ``IP Address``, ``Email Address``, ``First Name``, ``Last Name``,
``Custom Data 1`` and one cell per question text (blank cells continue a matrix question); the
second holds ``Response``, ``Open-Ended Response`` or the sub-question / answer-option label.
Dates are US-style (``03/05/2024 02:22:10 PM``) in the account's zone, read in the workspace's
time zone. ``Custom Data 1`` is taken as the customer id.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from cxroi.adapters._survey import build_responses, carry_forward, find_questions, rating_columns
from cxroi.readers import read_source, sniff_header_rows

__all__ = ["looks_like", "read"]

_META = {
    "Respondent ID", "Collector ID", "Start Date", "End Date", "IP Address", "Email Address",
    "First Name", "Last Name", "Custom Data 1", "Custom Data",
}  # fmt: skip
_PLAIN = {"", "Response", "Open-Ended Response", "Responses"}


def looks_like(rows: list[list[str]]) -> bool:
    """``Respondent ID`` and ``Collector ID`` in the first header row."""
    first = [c.lstrip("\ufeff") for c in rows[0]] if rows else []
    return "Respondent ID" in first and "Collector ID" in first


def read(path: Path, *, questions: dict[str, str], encoding: str = "utf-8"):
    """Read a SurveyMonkey export as canonical ``responses``."""
    top, sub = sniff_header_rows(path, 2, encoding=encoding)
    top = carry_forward([c.lstrip("\ufeff") for c in top])
    names = []
    for t, s in zip(top, sub + [""] * (len(top) - len(sub)), strict=False):
        names.append(t if s in _PLAIN else f"{t} - {s}")
    names = _unique(names)
    staged = read_source(path, encoding=encoding, names=names, header_rows=2)
    frame = staged.data.to_pandas()
    when = "End Date" if "End Date" in frame else "Start Date"
    parsed = pd.to_datetime(frame[when], format="%m/%d/%Y %I:%M:%S %p", errors="coerce")
    ts = parsed.dt.strftime("%Y-%m-%d %H:%M:%S").where(parsed.notna(), frame[when].astype(object))
    texts = {n: n for n in names if n not in _META}
    open_ended = [n for n, s in zip(names, sub, strict=False) if s == "Open-Ended Response"]
    found = find_questions(texts, questions, path.name, text_columns=open_ended)
    ratings = rating_columns(texts, set(found.values()))
    return build_responses(
        frame,
        label=path.name,
        response_id=questions.get("response_id", "Respondent ID"),
        ts=ts,
        questions=found,
        ratings=ratings,
        customer_id=questions.get("customer_id", "Custom Data 1"),
        survey=path.stem,
        path=path,
        keep={"Collector ID": "collector_id"},
    )


def _unique(names: list[str]) -> list[str]:
    seen: dict[str, int] = {}
    out = []
    for n in names:
        seen[n] = seen.get(n, 0) + 1
        out.append(n if seen[n] == 1 else f"{n} ({seen[n]})")
    return out
