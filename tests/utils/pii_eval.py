"""Score a PII detector against labelled comments (``tests/fixtures/pii/comments.jsonl``).

A record is ``{"id", "lang", "text", "pii": [{"kind", "value"}, ...]}``; every ``value`` is an
exact substring of ``text``. A detector is ``detect(text) -> [(start, end, kind), ...]``
(Python string offsets, ``end`` exclusive).

Scoring (see :func:`evaluate`):

* every occurrence of a labelled value in its text is one *labelled value*; it is found (a
  true positive) when the union of the predicted spans, of any kind, covers all of it;
* a predicted span is a hit when it overlaps some labelled value (of any kind), otherwise a
  false alarm;
* recall = found / labelled; precision = hits / predicted.

Per kind, recall is keyed by the labelled kind and precision by the predicted kind, so a
detector that calls an IBAN a ``card`` still gets the recall but its ``card`` precision is not
hurt either (the span overlaps personal data).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "pii" / "comments.jsonl"

Span = tuple[int, int, str]
Detect = Callable[[str], Iterable[Sequence[Any]]]


def load_records(path: str | Path = FIXTURE) -> list[dict[str, Any]]:
    """The records of a JSON-lines file (blank lines are skipped)."""
    with Path(path).open(encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def occurrences(text: str, value: str) -> list[tuple[int, int]]:
    """Every ``(start, end)`` at which ``value`` occurs in ``text`` (overlaps included)."""
    if not value:
        return []
    found, i = [], text.find(value)
    while i != -1:
        found.append((i, i + len(value)))
        i = text.find(value, i + 1)
    return found


def labelled_spans(record: Mapping[str, Any]) -> list[Span]:
    """The ``(start, end, kind)`` of every occurrence of every labelled value of ``record``.

    A ``(kind, value)`` listed twice is counted once per occurrence in the text, not twice.
    """
    text, spans, seen = record["text"], [], set()
    for item in record.get("pii", []):
        key = (item["kind"], item["value"])
        if key in seen:
            continue
        seen.add(key)
        where = occurrences(text, item["value"])
        if not where:
            raise ValueError(
                f"{record.get('id')}: labelled {item['kind']} {item['value']!r} is not in the text"
            )
        spans.extend((s, e, item["kind"]) for s, e in where)
    return sorted(spans)


def _check_span(span: Sequence[Any], text: str, rid: Any) -> Span:
    try:
        start, end, kind = span
    except (TypeError, ValueError):
        raise ValueError(f"{rid}: detect returned {span!r}, not (start, end, kind)") from None
    if not (isinstance(start, int) and isinstance(end, int) and 0 <= start < end <= len(text)):
        raise ValueError(f"{rid}: span {span!r} is empty or outside the text (len {len(text)})")
    return start, end, str(kind)


def _covered(start: int, end: int, intervals: list[tuple[int, int]]) -> bool:
    """Whether the sorted ``intervals`` together cover ``[start, end)``."""
    reach = start
    for s, e in intervals:
        if s > reach:
            break
        reach = max(reach, e)
        if reach >= end:
            return True
    return reach >= end


def _ratio(num: int, den: int) -> float | None:
    return num / den if den else None


def _scores(c: dict[str, int]) -> dict[str, Any]:
    return {
        **c,
        "recall": _ratio(c["tp"], c["labelled"]),
        "precision": _ratio(c["predicted"] - c["fp"], c["predicted"]),
    }


def evaluate(records: Iterable[Mapping[str, Any]], detect: Detect) -> dict[str, Any]:
    """Recall and precision of ``detect`` on ``records``, overall and per kind.

    Returns ``{"overall": S, "by_kind": {kind: S}, "misses": [...], "false_alarms": [...]}``
    where ``S`` has ``labelled``, ``predicted``, ``tp`` (labelled values fully covered),
    ``fn`` (labelled values not fully covered), ``fp`` (predicted spans overlapping no
    labelled value), ``recall`` (``tp / labelled``) and ``precision``
    (``(predicted - fp) / predicted``); a ratio with a zero denominator is ``None``.

    ``misses`` lists ``{"id", "kind", "text", "start", "end", "partial"}`` (``partial``: the
    text of the predicted spans that overlap the value, if any) and ``false_alarms`` lists
    ``{"id", "kind", "text", "start", "end"}`` with the predicted kind.
    """
    counts: dict[str, dict[str, int]] = {}
    misses: list[dict[str, Any]] = []
    false_alarms: list[dict[str, Any]] = []

    def bucket(kind: str) -> dict[str, int]:
        return counts.setdefault(kind, {"labelled": 0, "predicted": 0, "tp": 0, "fn": 0, "fp": 0})

    for record in records:
        rid, text = record.get("id"), record["text"]
        labels = labelled_spans(record)
        predicted = [_check_span(p, text, rid) for p in detect(text)]
        intervals = sorted((s, e) for s, e, _ in predicted)
        for s, e, kind in labels:
            b = bucket(kind)
            b["labelled"] += 1
            if _covered(s, e, intervals):
                b["tp"] += 1
            else:
                b["fn"] += 1
                partial = [text[ps:pe] for ps, pe in intervals if ps < e and s < pe]
                misses.append(
                    {"id": rid, "kind": kind, "text": text[s:e], "start": s, "end": e}
                    | {"partial": partial}
                )
        for s, e, kind in predicted:
            b = bucket(kind)
            b["predicted"] += 1
            if not any(s < le and ls < e for ls, le, _ in labels):
                b["fp"] += 1
                false_alarms.append(
                    {"id": rid, "kind": kind, "text": text[s:e], "start": s, "end": e}
                )

    total = {
        k: sum(c[k] for c in counts.values()) for k in ("labelled", "predicted", "tp", "fn", "fp")
    }
    return {
        "overall": _scores(total),
        "by_kind": {kind: _scores(c) for kind, c in sorted(counts.items())},
        "misses": misses,
        "false_alarms": false_alarms,
    }
