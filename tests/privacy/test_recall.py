"""Recall and precision of the redactor on labelled comments in English, German, French, Spanish.

Two sets, written for these tests by people who did not see the detector: ``pii`` (350
comments; the detector was tuned on it) and ``pii_holdout`` (390 comments, measured before
any change it informed; see the issue note for those first figures). Targets: recall >= 0.95
on every structured kind and precision >= 0.95.
"""

from __future__ import annotations

import pytest

from cxroi.privacy import Redactor
from tests.utils.pii_eval import evaluate, load_records

STRUCTURED = ("email", "phone", "card", "iban", "national_id", "url_token")


@pytest.fixture(scope="module", params=["pii", "pii_holdout"])
def scores(request):
    from pathlib import Path

    path = Path(__file__).parents[1] / "fixtures" / request.param / "comments.jsonl"
    redactor = Redactor()
    records = load_records(path)
    assert len(records) >= 300
    return evaluate(records, lambda t: [(s.start, s.end, s.kind) for s in redactor.spans(t)])


@pytest.mark.parametrize("kind", STRUCTURED)
def test_recall_per_kind(scores, kind):
    k = scores["by_kind"][kind]
    assert k["labelled"] >= 25
    assert k["recall"] >= 0.95, scores["misses"]


def test_precision(scores):
    assert scores["overall"]["precision"] >= 0.95, scores["false_alarms"]
    for kind, k in scores["by_kind"].items():
        if k["predicted"]:
            assert k["precision"] >= 0.95, (kind, scores["false_alarms"])


def test_redacted_text_keeps_none_of_the_value():
    r = Redactor()
    for rec in load_records():
        out = r(rec["text"])
        for item in rec["pii"]:
            assert item["value"] not in out, (rec["id"], item)
