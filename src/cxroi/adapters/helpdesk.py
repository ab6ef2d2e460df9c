"""Helpdesk ticket exports (Zendesk, Freshdesk, Help Scout, Jira Service Management, …).

Helpdesk tools name the same things differently (``Created at``, ``Created time``, ``Date
created``) and give first response either as a time or as a duration (``First reply time in
minutes``, ``First response time (in hrs)``). This adapter finds each canonical ``tickets``
column by a list of known header names (case and punctuation ignored; overridable with
``questions``) and turns durations into timestamps. Unrecognised columns are kept as extras.
"""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pyarrow as pa

from cxroi.errors import IngestError, param
from cxroi.readers import LINE, Staged, read_source

__all__ = ["SYNONYMS", "looks_like", "read"]

SYNONYMS: dict[str, tuple[str, ...]] = {
    "ticket_id": ("ticket id", "id", "ticket", "ticket number", "ticket #", "case number", "key"),
    "customer_id": (
        "requester external id", "requester id", "customer id", "contact id", "client id",
        "account id", "requester", "customer", "contact",
    ),
    "opened_at": ("created at", "created", "created time", "date created", "opened at", "opened"),
    "first_response_at": ("first response at", "first replied at", "first reply at"),
    "resolved_at": (
        "solved at", "resolved at", "resolved time", "resolved", "date resolved", "closed at",
        "closed time",
    ),
    "channel": ("channel", "via", "source", "origin"),
    "category": ("category", "ticket type", "type", "issue type", "group"),
    "cost": ("cost", "handling cost"),
    "csat": ("csat", "satisfaction rating (1-5)", "csat score"),
}  # fmt: skip
_DURATIONS = {  # header -> minutes per unit
    "first reply time in minutes": 1.0,
    "first reply time (minutes)": 1.0,
    "first response time in minutes": 1.0,
    "first response time (in mins)": 1.0,
    "first response time (in hrs)": 60.0,
    "first response time (hours)": 60.0,
    "first response time in hours": 60.0,
}


def _norm(h: str) -> str:
    return re.sub(r"\s+", " ", h.lstrip("\ufeff").strip().lower().replace("_", " "))


def _match(headers: list[str], overrides: dict[str, str]) -> dict[str, str]:
    normed = {_norm(h): h for h in headers}
    found = {k: v for k, v in overrides.items() if k in SYNONYMS}
    for key, names in SYNONYMS.items():
        if key not in found:
            hit = next((normed[n] for n in names if n in normed), None)
            if hit is not None and hit not in found.values():
                found[key] = hit
    return found


def looks_like(rows: list[list[str]]) -> bool:
    """A one-row header with a ticket id and a creation time, not already canonical."""
    if not rows:
        return False
    headers = rows[0]
    if "ticket_id" in headers and "opened_at" in headers:
        return False
    found = _match(headers, {})
    return (
        "ticket_id" in found
        and "opened_at" in found
        and any(
            "ticket" in _norm(h) or _norm(h) in ("via", "requester", "solved at") for h in headers
        )
    )


def read(path: Path, *, questions: dict[str, str], encoding: str = "utf-8") -> Staged:
    """Read a helpdesk export as canonical ``tickets``."""
    staged = read_source(path, encoding=encoding)
    frame = staged.data.to_pandas()
    headers = [c for c in frame.columns if c != LINE]
    for key, col in questions.items():
        if col not in headers:
            raise IngestError(f"{path.name}: {param('questions')} {key}={col}: no column {col!r}")
    found = _match(headers, questions)
    out = pd.DataFrame(index=frame.index)
    for key, col in found.items():
        out[key] = frame[col].astype(object)
    for col in ("opened_at", "first_response_at", "resolved_at"):
        if col in out:
            out[col] = _iso(out[col])
    if "first_response_at" not in out and "opened_at" in out:
        dur = next((h for h in headers if _norm(h) in _DURATIONS), None)
        if dur is not None:
            minutes = pd.to_numeric(frame[dur], errors="coerce") * _DURATIONS[_norm(dur)]
            opened = pd.to_datetime(out["opened_at"], errors="coerce", format="ISO8601")
            first = (opened + pd.to_timedelta(minutes, unit="min")).dt.strftime("%Y-%m-%d %H:%M:%S")
            out["first_response_at"] = first.where(first.notna(), None)
    used = set(found.values())
    for h in headers:
        if h not in used:
            name = re.sub(r"[^0-9a-z]+", "_", _norm(h)).strip("_")
            if name and name not in out:
                out[name] = frame[h].astype(object)
    out[LINE] = frame[LINE].to_numpy()
    table = pa.Table.from_pandas(out, preserve_index=False)
    table = table.cast(
        pa.schema(
            [pa.field(f.name, pa.int64() if f.name == LINE else pa.string()) for f in table.schema]
        )
    )
    return Staged(table, path.name, unit="line", path=path)


def _iso(values: pd.Series) -> pd.Series:
    """Helpdesk times (ISO, or US ``MM/DD/YYYY HH:MM``) → ISO strings; others kept as-is."""
    parsed = pd.to_datetime(values, errors="coerce", format="ISO8601")
    us = pd.to_datetime(values, errors="coerce", format="%m/%d/%Y %H:%M")
    parsed = parsed.fillna(us)
    if getattr(parsed.dt, "tz", None) is not None:
        parsed = parsed.dt.tz_convert("UTC").dt.tz_localize(None)
    text = parsed.dt.strftime("%Y-%m-%d %H:%M:%S")
    return text.where(parsed.notna(), values)
