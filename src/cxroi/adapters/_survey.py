"""What survey exports share: finding the NPS/CSAT/CES/comment questions by their text.

No library recognises survey questions by wording, so this is written here: a question is
matched by patterns on its text, and the analyst can override any match by column name.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

import pandas as pd
import pyarrow as pa

from cxroi.errors import IngestError, param
from cxroi.readers import LINE, Staged

__all__ = ["SATISFACTION_LABELS", "build_responses", "find_questions", "slug"]

_PATTERNS = {
    "nps": r"\b(likely|likelihood)\b.*\brecommend",
    "csat": r"\bsatisf(ied|action)\b",
    "ces": r"\b(easy|effort|difficult)\b",
    "comment": r"\b(why|comment|tell us|anything else|explain|reason|feedback|improve)\b",
}
_RATING = r"\b(rate|rating)\b"

SATISFACTION_LABELS = {
    "very dissatisfied": 1,
    "dissatisfied": 2,
    "somewhat dissatisfied": 2,
    "neither satisfied nor dissatisfied": 3,
    "neutral": 3,
    "satisfied": 4,
    "somewhat satisfied": 4,
    "very satisfied": 5,
    "extremely satisfied": 5,
}


def slug(text: str) -> str:
    """A lower-case identifier: ``"Staff friendliness"`` → ``staff_friendliness``."""
    return re.sub(r"[^0-9a-z]+", "_", text.lower()).strip("_")


def find_questions(
    texts: Mapping[str, str], overrides: Mapping[str, str], label: str, *, text_columns=()
) -> dict[str, str]:
    """Map canonical score names to the export's columns by question text.

    Parameters
    ----------
    texts
        Column name → question text.
    overrides
        Canonical name → column name, given by the analyst; wins over detection.
    text_columns
        Columns known to hold free text (preferred for the comment).
    """
    found: dict[str, str] = {}
    for key, col in overrides.items():
        if col not in texts:
            raise IngestError(
                f"{label}: {param('questions')} {key}={col}: no column {col!r} in the export"
            )
        found[key] = col
    taken = set(found.values())
    for key, pattern in _PATTERNS.items():
        if key in found:
            continue
        pool = [c for c in text_columns if c not in taken] if key == "comment" else []
        pool = pool or [c for c in texts if c not in taken]
        for col in pool:
            if re.search(pattern, texts[col], re.IGNORECASE) and not (
                key != "nps" and re.search(_PATTERNS["nps"], texts[col], re.IGNORECASE)
            ):
                found[key] = col
                taken.add(col)
                break
    return found


def rating_columns(texts: Mapping[str, str], taken: set[str]) -> dict[str, str]:
    """Matrix rating sub-questions (``"How would you rate … - Delivery"``) → ``rating_delivery``."""
    out = {}
    for col, text in texts.items():
        if col in taken or " - " not in text:
            continue
        stem, _, attribute = text.rpartition(" - ")
        if re.search(_RATING, stem, re.IGNORECASE) and slug(attribute):
            out[col] = "rating_" + slug(attribute)
    return out


def _score(series: pd.Series, labels: Mapping[str, int] | None) -> pd.Series:
    def one(v):
        if v is None or (isinstance(v, float) and pd.isna(v)):
            return None
        s = str(v).strip()
        if labels and s.lower() in labels:
            return str(labels[s.lower()])
        m = re.match(r"^(\d+)\b", s)  # "10 - Extremely likely" → 10
        return m.group(1) if m else s

    return series.astype(object).map(one)


def build_responses(
    frame: pd.DataFrame,
    *,
    label: str,
    response_id: str,
    ts: pd.Series,
    questions: Mapping[str, str],
    ratings: Mapping[str, str],
    customer_id: str | None,
    survey: str,
    keep: Mapping[str, str] = {},  # noqa: B006 - read only
    path=None,
) -> Staged:
    """Assemble canonical ``responses`` columns from an export frame (with ``_line``)."""
    if response_id not in frame:
        raise IngestError(f"{label}: no {response_id!r} column; is this a complete export?")
    if not set(questions) & {"nps", "csat", "ces"} and not ratings:
        raise IngestError(
            f"{label}: found no NPS, CSAT or CES question by its text; name one with "
            f"{param('questions')} nps=COLUMN (or csat=, ces=)"
        )
    out = pd.DataFrame({"response_id": frame[response_id], "ts": ts})
    if customer_id and customer_id in frame:
        out["customer_id"] = frame[customer_id]
    out["survey"] = survey
    for key in ("nps", "csat", "ces"):
        if key in questions:
            out[key] = _score(frame[questions[key]], SATISFACTION_LABELS if key == "csat" else None)
    if "comment" in questions:
        out["comment"] = frame[questions["comment"]]
    for col, name in ratings.items():
        out[name] = _score(frame[col], None)
    for col, name in keep.items():
        if col in frame:
            out[name] = frame[col]
    out[LINE] = frame[LINE].to_numpy()
    out = out.astype({c: object for c in out.columns if c != LINE})
    table = pa.Table.from_pandas(out, preserve_index=False)
    table = table.cast(
        pa.schema(
            [pa.field(f.name, pa.string() if f.name != LINE else pa.int64()) for f in table.schema]
        )
    )
    return Staged(table, label, unit="line", path=path)


def carry_forward(cells: Sequence[str]) -> list[str]:
    """Fill blank header cells with the last non-blank one (SurveyMonkey matrix headers)."""
    out, last = [], ""
    for c in cells:
        last = c if c.strip() else last
        out.append(last)
    return out
