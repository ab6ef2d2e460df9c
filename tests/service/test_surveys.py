"""Survey definitions and the answers they accept."""

from __future__ import annotations

import unicodedata

import pytest
import yaml

from cxroi.errors import CxroiError
from cxroi.service.surveys import (
    _CONTROL,
    AnswerError,
    Survey,
    add_survey,
    check_answer,
    list_surveys,
    load_survey,
    parse_survey,
)
from cxroi.service.texts import KEYS, TEXTS

S = Survey(
    "rel",
    company="Acme",
    questions=("nps", "comment"),
    ratings=("delivery",),
    rating_scale=(1, 10),
    languages=("en", "de"),
)


def test_every_language_has_every_key():
    assert all(set(t) == KEYS for t in TEXTS.values())


def test_the_control_character_class_is_exactly_unicode_cc_less_tab_and_line_breaks():
    cc = [
        chr(i)
        for i in range(0x110000)
        if unicodedata.category(chr(i)) == "Cc" and chr(i) not in "\t\n\r"
    ]
    assert [c for c in map(chr, range(0x110000)) if _CONTROL.match(c)] == cc


def test_add_list_load_round_trip(tmp_path):
    add_survey(tmp_path, S)
    assert load_survey(tmp_path, "rel") == S
    assert [s.name for s in list_surveys(tmp_path)] == ["rel"]
    with pytest.raises(CxroiError, match="exists"):
        add_survey(tmp_path, S)
    add_survey(tmp_path, S, force=True)


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        ([1], "holds a mapping"),
        ({"name": "Bad Name"}, "name 'Bad Name'"),
        ({"name": "x", "questions": ["nps", "nps"]}, "listed twice"),
        ({"name": "x", "questions": ["nope"]}, "unknown question 'nope'"),
        ({"name": "x", "questions": ["comment"]}, "at least one score"),
        ({"name": "x", "rating_scale": [5, 1]}, "rating_scale"),
        ({"name": "x", "languages": ["english"]}, "languages"),
        ({"name": "x", "text": {"de": {"nope": "x"}}}, "text.de: unknown key"),
        ({"name": "x", "colour": "red"}, "unknown key(s) colour"),
    ],
)
def test_malformed_definitions_are_one_line(doc, message):
    with pytest.raises(CxroiError) as e:
        parse_survey(doc, "surveys/x.yaml")
    assert message in str(e.value) and "\n" not in str(e.value)


def test_a_broken_file_names_line_and_column(tmp_path):
    (tmp_path / "surveys").mkdir()
    (tmp_path / "surveys" / "x.yaml").write_text("name: x\nquestions: [nps\n")
    with pytest.raises(CxroiError, match=r"surveys/x.yaml: line \d+, column \d+: not valid YAML"):
        load_survey(tmp_path, "x")
    with pytest.raises(CxroiError, match="no survey 'y'.*known: x"):
        load_survey(tmp_path, "y")


def test_a_good_answer_is_kept_with_its_text_trimmed():
    assert check_answer(
        S, {"nps": 10, "rating_delivery": 1, "comment": " ok "}, max_comment_chars=10
    ) == {"nps": 10, "rating_delivery": 1, "comment": "ok"}


@pytest.mark.parametrize(
    ("answer", "message"),
    [
        ({"nps": 11}, "nps: must be a whole number from 0 to 10"),
        ({"nps": True}, "nps: must be a whole number"),
        ({"nps": 9.0}, "nps: must be a whole number"),
        ({"rating_delivery": 0}, "rating_delivery: must be a whole number from 1 to 10"),
        ({"csat": 4}, "csat: survey 'rel' does not ask this"),
        ({"comment": "only words"}, "give at least one score"),
        ({"nps": 3, "comment": "x" * 11}, "comment: is longer than 10 characters"),
        ({"nps": 3, "comment": "a\x00b"}, "comment: holds a NUL character"),
        ({"nps": 3, "comment": "\ud800"}, "comment: is not valid UTF-8 text"),
        ({"nps": 3, "comment": 5}, "comment: must be text"),
    ],
)
def test_bad_answers_name_the_field(answer, message):
    with pytest.raises(AnswerError, match=message):
        check_answer(S, answer, max_comment_chars=10)


def test_text_is_normalised_and_control_characters_dropped():
    out = check_answer(
        S, {"nps": 5, "comment": "Cafe\u0301\x07 ok\tfine\nbye\x1b"}, max_comment_chars=100
    )
    assert out["comment"] == "Caf\u00e9 ok\tfine\nbye"


def test_language_choice_and_wording():
    assert S.language(["fr", "de-CH", "en"]) == "de"
    assert S.language("ja") == "en"
    words, qs = S.page("de")
    assert words["submit"] == TEXTS["de"]["submit"]
    assert qs[0].text == TEXTS["de"]["nps"].replace("{company}", "Acme")
    assert qs[0].choices == list(range(11))
    assert qs[1].field == "comment" and qs[1].text == TEXTS["de"]["why"]
    assert qs[2].field == "rating_delivery" and qs[2].choices == list(range(1, 11))


def test_the_file_is_plain_yaml_a_person_can_edit(tmp_path):
    add_survey(tmp_path, S)
    doc = yaml.safe_load((tmp_path / "surveys" / "rel.yaml").read_text())
    doc["text"] = {"de": {"intro": "Zwei Fragen."}}
    (tmp_path / "surveys" / "rel.yaml").write_text(yaml.safe_dump(doc))
    assert load_survey(tmp_path, "rel").page("de")[0]["intro"] == "Zwei Fragen."
