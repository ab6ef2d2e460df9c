"""Tests of the PII scoring helper itself (``tests/utils/pii_eval.py``), on hand-made records."""

from __future__ import annotations

import json

import pytest

from tests.utils.pii_eval import FIXTURE, evaluate, labelled_spans, load_records, occurrences

PHONE = "030 23125012"
EMAIL = "jo@example.de"
IBAN = "DE89 3704 0044 0532 0130 00"
ORDER = "123456789"

RECORDS = [
    {
        "id": "a",
        "lang": "de",
        "text": f"Call me on {PHONE} or mail {EMAIL}.",
        "pii": [{"kind": "phone", "value": PHONE}, {"kind": "email", "value": EMAIL}],
    },
    {
        "id": "b",
        "lang": "de",
        "text": f"IBAN {IBAN}, order {ORDER}.",
        "pii": [{"kind": "iban", "value": IBAN}],
    },
    {"id": "c", "lang": "en", "text": "Great service, 10/10.", "pii": []},
]


def finder(*found: tuple[str, str]):
    """A fake detector that reports each ``(substring, kind)`` wherever it occurs."""

    def detect(text: str) -> list[tuple[int, int, str]]:
        return [(s, e, kind) for sub, kind in found for s, e in occurrences(text, sub)]

    return detect


def test_two_of_three_found_and_one_false_alarm():
    # finds the e-mail and the IBAN, misses the phone, and flags the order number as a phone
    r = evaluate(RECORDS, finder((EMAIL, "email"), (IBAN, "iban"), (ORDER, "phone")))
    o = r["overall"]
    assert (o["labelled"], o["predicted"], o["tp"], o["fn"], o["fp"]) == (3, 3, 2, 1, 1)
    assert o["recall"] == pytest.approx(2 / 3)
    assert o["precision"] == pytest.approx(2 / 3)

    k = r["by_kind"]
    assert set(k) == {"email", "iban", "phone"}
    assert (k["email"]["recall"], k["email"]["precision"]) == (1.0, 1.0)
    assert (k["iban"]["recall"], k["iban"]["precision"]) == (1.0, 1.0)
    assert (k["phone"]["recall"], k["phone"]["precision"]) == (0.0, 0.0)
    assert (k["phone"]["tp"], k["phone"]["fn"], k["phone"]["fp"]) == (0, 1, 1)

    assert r["misses"] == [
        {"id": "a", "kind": "phone", "text": PHONE, "start": 11, "end": 23, "partial": []}
    ]
    start = RECORDS[1]["text"].index(ORDER)
    assert r["false_alarms"] == [
        {"id": "b", "kind": "phone", "text": ORDER, "start": start, "end": start + len(ORDER)}
    ]


def test_perfect_and_empty_detectors():
    empty = evaluate(RECORDS, lambda text: [])
    assert empty["overall"]["recall"] == 0.0
    assert empty["overall"]["precision"] is None  # nothing predicted
    assert len(empty["misses"]) == 3 and empty["false_alarms"] == []

    spans = {r["text"]: labelled_spans(r) for r in RECORDS}
    perfect = evaluate(RECORDS, lambda text: spans[text])
    assert perfect["overall"]["recall"] == perfect["overall"]["precision"] == 1.0
    assert perfect["misses"] == perfect["false_alarms"] == []


def test_no_labels_and_no_predictions_gives_none():
    r = evaluate([RECORDS[2]], lambda text: [])
    assert r["overall"]["recall"] is None and r["overall"]["precision"] is None
    assert r["by_kind"] == {}


def test_value_covered_by_several_spans_counts_as_found():
    text = RECORDS[1]["text"]
    s = text.index(IBAN)
    # two overlapping pieces that together cover the IBAN; neither alone does
    r = evaluate([RECORDS[1]], lambda t: [(s, s + 12, "iban"), (s + 10, s + len(IBAN), "iban")])
    assert r["overall"]["tp"] == 1 and r["overall"]["fn"] == 0
    assert r["overall"]["predicted"] == 2 and r["overall"]["fp"] == 0
    # adjacent pieces also cover it
    r = evaluate([RECORDS[1]], lambda t: [(s, s + 9, "iban"), (s + 9, s + len(IBAN), "iban")])
    assert r["overall"]["recall"] == 1.0


def test_partial_cover_is_a_miss_but_not_a_false_alarm():
    text = RECORDS[1]["text"]
    s = text.index(IBAN)
    # a gap between the two pieces: the IBAN is not fully covered
    r = evaluate([RECORDS[1]], lambda t: [(s, s + 9, "iban"), (s + 10, s + len(IBAN), "iban")])
    assert r["overall"]["recall"] == 0.0
    assert r["overall"]["precision"] == 1.0  # both pieces overlap personal data
    assert r["misses"][0]["partial"] == ["DE89 3704", "0044 0532 0130 00"]
    assert r["false_alarms"] == []


def test_kind_of_prediction_does_not_matter_for_recall():
    r = evaluate([RECORDS[1]], finder((IBAN, "card")))
    assert r["by_kind"]["iban"]["recall"] == 1.0
    assert r["by_kind"]["iban"]["precision"] is None  # nothing predicted as iban
    assert r["by_kind"]["card"]["precision"] == 1.0
    assert r["by_kind"]["card"]["recall"] is None  # nothing labelled as card


def test_wider_span_counts_as_found():
    text = RECORDS[0]["text"]
    s = text.index("mail ")
    r = evaluate([RECORDS[0]], lambda t: [(s, len(t), "email")])  # "mail jo@example.de."
    assert r["by_kind"]["email"]["tp"] == 1
    assert r["overall"]["fp"] == 0


def test_every_occurrence_is_a_labelled_value():
    record = {
        "id": "d",
        "text": f"Mail {EMAIL}, again: {EMAIL}",
        # listed twice: still counted once per occurrence, not twice per occurrence
        "pii": [{"kind": "email", "value": EMAIL}, {"kind": "email", "value": EMAIL}],
    }
    first = record["text"].index(EMAIL)
    r = evaluate([record], lambda t: [(first, first + len(EMAIL), "email")])
    assert r["overall"]["labelled"] == 2
    assert r["overall"]["tp"] == 1
    assert r["overall"]["recall"] == 0.5
    assert r["misses"][0]["start"] == record["text"].rindex(EMAIL)


def test_value_missing_from_text_is_an_error():
    bad = {"id": "x", "text": "no data here", "pii": [{"kind": "email", "value": EMAIL}]}
    with pytest.raises(ValueError, match="x: labelled email"):
        evaluate([bad], lambda t: [])


@pytest.mark.parametrize("span", [(5, 5, "phone"), (3, 999, "phone"), (-1, 2, "phone"), (1, 2)])
def test_bad_spans_from_detect_are_errors(span):
    with pytest.raises(ValueError):
        evaluate([RECORDS[0]], lambda t: [span])


def test_load_records(tmp_path):
    path = tmp_path / "r.jsonl"
    path.write_text(
        "\n".join(json.dumps(r, ensure_ascii=False) for r in RECORDS) + "\n\n", encoding="utf-8"
    )
    assert load_records(path) == RECORDS


def test_fixture_scores_perfectly_against_its_own_labels():
    records = load_records(FIXTURE)
    spans = {r["id"]: labelled_spans(r) for r in records}
    by_text = {r["text"]: spans[r["id"]] for r in records}
    r = evaluate(records, lambda text: by_text[text])
    assert r["overall"]["recall"] == 1.0 and r["overall"]["precision"] == 1.0
    assert r["overall"]["labelled"] >= sum(len(x["pii"]) for x in records)
