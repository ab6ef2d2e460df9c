"""Qualtrics response exports (CSV, "Use numeric values").

A Qualtrics CSV export has three header rows: the column names (``StartDate``, …,
``ResponseId``, ``ExternalReference``, ``Q1``, ``Q2_1`` …), the question texts, and one
ImportId JSON object per column (``{"ImportId":"QID1"}``; date columns also carry
``"timeZone"``). Responses are keyed by ``ResponseId``; ``RecordedDate`` is read in the
export's time zone and stored in UTC; ``ExternalReference`` is taken as the customer id.
Survey-preview rows (``Status`` = "Survey Preview" or 1) are left out.
"""

from __future__ import annotations

import contextlib
import json
from pathlib import Path

import pandas as pd

from cxroi.adapters._survey import build_responses, find_questions, rating_columns
from cxroi.errors import IngestError
from cxroi.readers import read_source, sniff_header_rows

__all__ = ["looks_like", "read"]

_META = {
    "StartDate", "EndDate", "Status", "IPAddress", "Progress", "Duration (in seconds)",
    "Finished", "RecordedDate", "ResponseId", "RecipientLastName", "RecipientFirstName",
    "RecipientEmail", "ExternalReference", "LocationLatitude", "LocationLongitude",
    "DistributionChannel", "UserLanguage",
}  # fmt: skip


def looks_like(rows: list[list[str]]) -> bool:
    """Three header rows, the third made of ``{"ImportId": …}`` objects."""
    return len(rows) >= 3 and any(c.startswith('{"ImportId"') for c in rows[2])


def read(path: Path, *, questions: dict[str, str], encoding: str = "utf-8"):
    """Read a Qualtrics export as canonical ``responses``."""
    names, texts, ids = sniff_header_rows(path, 3, encoding=encoding)
    names[0] = names[0].lstrip("\ufeff")
    meta = dict(zip(names, ids, strict=False))
    staged = read_source(path, encoding=encoding, names=names, header_rows=3)
    frame = staged.data.to_pandas()
    if "Status" in frame:
        frame = frame[~frame["Status"].astype(str).isin(["Survey Preview", "1"])]
    when = next((c for c in ("RecordedDate", "EndDate") if c in frame), None)
    if when is None:
        raise IngestError(f"{path.name}: no RecordedDate or EndDate column")
    zone = "UTC"
    with contextlib.suppress(json.JSONDecodeError):
        zone = json.loads(meta.get(when, "{}")).get("timeZone", "UTC")
    ts = _in_utc(frame[when], zone)
    qtexts = {n: t for n, t in zip(names, texts, strict=False) if n not in _META}
    text_cols = [n for n in qtexts if "_TEXT" in meta.get(n, "") or n.endswith("_TEXT")]
    found = find_questions(qtexts, questions, path.name, text_columns=text_cols)
    ratings = rating_columns(qtexts, set(found.values()))
    return build_responses(
        frame,
        label=path.name,
        response_id=questions.get("response_id", "ResponseId"),
        ts=ts,
        questions=found,
        ratings=ratings,
        customer_id=questions.get("customer_id", "ExternalReference"),
        survey=path.stem,
        path=path,
        keep={"DistributionChannel": "channel", "UserLanguage": "language"},
    )


def _in_utc(values: pd.Series, zone: str) -> pd.Series:
    """Naive export times in ``zone`` → ISO strings in UTC (unparseable values kept as-is)."""
    parsed = pd.to_datetime(values, errors="coerce", format="ISO8601")
    try:
        aware = parsed.dt.tz_localize(zone, ambiguous="NaT", nonexistent="shift_forward")
    except Exception as e:  # unknown zone name in the export
        raise IngestError(f"unknown time zone {zone!r} in the export's ImportId row: {e}") from None
    iso = aware.dt.tz_convert("UTC").dt.strftime("%Y-%m-%dT%H:%M:%S+00:00")
    return iso.where(parsed.notna(), values.astype(object))
