"""Survey definitions in the workspace (``surveys/NAME.yaml``) and the answers they accept.

A survey asks some of NPS (with "why?"), CSAT, CES, a free comment and attribute ratings, at
one touchpoint or about the whole relationship, in one or more languages::

    name: relationship
    company: Acme                 # how the questions name you
    touchpoint: null              # the touchpoint it measures (null: the relationship)
    questions: [nps, comment]     # in order, from nps, csat, ces, comment
    ratings: [delivery, price]    # rating_<name> questions, on rating_scale
    rating_scale: [1, 10]
    languages: [en, de]           # the first is the default
    labels:                       # a rated attribute's name, per language
      delivery: {en: the delivery, de: die Lieferung}
    text:                         # the built-in wording overridden, per language
      de: {intro: "Zwei Fragen, eine Minute."}
    link_version: 1               # raise it to revoke the open link

The comment question reads "why?" when the survey asks NPS. Scales are the canonical ones
(:mod:`cxroi.schema`): NPS 0-10, CSAT 1-5, CES 1-7. An answer is checked here, field by
field, before anything is stored, so the intake journal only ever holds rows the ``responses``
table accepts.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from cxroi.errors import CxroiError
from cxroi.files import atomic_file
from cxroi.results import Result, Table
from cxroi.service.texts import KEYS, TEXTS

__all__ = [
    "SCALES",
    "SURVEY_DIR",
    "AnswerError",
    "Question",
    "Survey",
    "add_survey",
    "check_answer",
    "list_surveys",
    "load_survey",
    "surveys_result",
]

SURVEY_DIR = "surveys"
SCALES: dict[str, tuple[int, int]] = {"nps": (0, 10), "csat": (1, 5), "ces": (1, 7)}
QUESTION_KINDS = ("nps", "csat", "ces", "comment")
_NAME = re.compile(r"^[a-z][a-z0-9_-]{0,39}$")
_RATING = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
_LANG = re.compile(r"^[a-z]{2,3}$")
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")  # Cc, less \t \n \r
_KEYS = {
    "name",
    "company",
    "touchpoint",
    "questions",
    "ratings",
    "rating_scale",
    "languages",
    "labels",
    "text",
    "link_version",
}


class AnswerError(CxroiError):
    """An answer the survey does not accept; ``field`` names the field."""

    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.field = field


@dataclass(frozen=True)
class Question:
    """One question as a page shows it."""

    field: str  # nps, csat, ces, comment, rating_<name>
    text: str
    low: int | None = None
    high: int | None = None
    low_label: str | None = None
    high_label: str | None = None

    @property
    def choices(self) -> list[int]:
        return [] if self.low is None or self.high is None else list(range(self.low, self.high + 1))


@dataclass(frozen=True)
class Survey:
    """A survey definition (see the module docstring)."""

    name: str
    company: str = "us"
    touchpoint: str | None = None
    questions: tuple[str, ...] = ("nps", "comment")
    ratings: tuple[str, ...] = ()
    rating_scale: tuple[int, int] = (1, 10)
    languages: tuple[str, ...] = ("en",)
    labels: dict[str, dict[str, str]] = field(default_factory=dict)
    text: dict[str, dict[str, str]] = field(default_factory=dict)
    link_version: int = 1

    @property
    def fields(self) -> tuple[str, ...]:
        """Every answer field the survey accepts."""
        return (*self.questions, *(f"rating_{r}" for r in self.ratings))

    def language(self, wanted: list[str] | str | None) -> str:
        """The first of ``wanted`` (tags like ``de-CH`` match ``de``) the survey speaks, else
        its default language."""
        if isinstance(wanted, str):
            wanted = [wanted]
        for w in wanted or []:
            tag = w.strip().lower().split("-")[0]
            if tag in self.languages:
                return tag
        return self.languages[0]

    def words(self, lang: str) -> dict[str, str]:
        """The wording in ``lang``: built-in, English where the language has none, the
        survey's overrides on top."""
        out = dict(TEXTS["en"])
        out.update(TEXTS.get(lang, {}))
        out.update(self.text.get(lang, {}))
        return out

    def page(self, lang: str) -> tuple[dict[str, str], list[Question]]:
        """The wording and the questions, in order, as a page in ``lang`` shows them."""
        w = self.words(lang)

        def fill(s: str, **kw: str) -> str:
            return s.replace("{company}", self.company).replace("{name}", kw.get("name", ""))

        qs = []
        for q in self.questions:
            if q == "comment":
                qs.append(
                    Question("comment", fill(w["why" if "nps" in self.questions else "comment"]))
                )
            else:
                lo, hi = SCALES[q]
                qs.append(Question(q, fill(w[q]), lo, hi, w[f"{q}_low"], w[f"{q}_high"]))
        lo, hi = self.rating_scale
        for r in self.ratings:
            label = self.labels.get(r, {}).get(lang) or r.replace("_", " ")
            qs.append(
                Question(
                    f"rating_{r}",
                    fill(w["rating"], name=label),
                    lo,
                    hi,
                    w["rating_low"],
                    w["rating_high"],
                )
            )
        return {k: fill(v) for k, v in w.items()}, qs

    def to_yaml(self) -> str:
        doc: dict[str, Any] = {
            "name": self.name,
            "company": self.company,
            "touchpoint": self.touchpoint,
            "questions": list(self.questions),
            "ratings": list(self.ratings),
            "rating_scale": list(self.rating_scale),
            "languages": list(self.languages),
            "labels": self.labels,
            "text": self.text,
            "link_version": self.link_version,
        }
        return yaml.safe_dump(doc, sort_keys=False, allow_unicode=True)


def _fail(where: str, msg: str) -> CxroiError:
    return CxroiError(f"{where}: {msg}")


def parse_survey(doc: Any, where: str) -> Survey:
    """Check a parsed survey document and build the :class:`Survey` (one-line errors)."""
    if not isinstance(doc, dict):
        raise _fail(where, "a survey file holds a mapping (name: …, questions: […])")
    unknown = set(doc) - _KEYS
    if unknown:
        raise _fail(
            where,
            f"unknown key(s) {', '.join(sorted(map(str, unknown)))}; known: "
            f"{', '.join(sorted(_KEYS))}",
        )
    name = doc.get("name")
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise _fail(where, f"name {name!r}: use 1-40 lower-case letters, digits, - or _")
    qs = doc.get("questions", ["nps", "comment"])
    if not isinstance(qs, list) or not all(isinstance(q, str) for q in qs):
        raise _fail(where, "questions must be a list such as [nps, comment]")
    bad = [q for q in qs if q not in QUESTION_KINDS]
    if bad:
        raise _fail(where, f"unknown question {bad[0]!r}; known: {', '.join(QUESTION_KINDS)}")
    if len(set(qs)) != len(qs):
        raise _fail(where, "a question is listed twice")
    ratings = doc.get("ratings") or []
    if not isinstance(ratings, list) or not all(
        isinstance(r, str) and _RATING.fullmatch(r) for r in ratings
    ):
        raise _fail(where, "ratings must be a list of names such as [delivery, price]")
    if not [q for q in qs if q != "comment"] and not ratings:
        raise _fail(where, "a survey asks at least one score (nps, csat, ces or a rating)")
    scale = doc.get("rating_scale", [1, 10])
    if (
        not isinstance(scale, list)
        or len(scale) != 2
        or not all(isinstance(x, int) and not isinstance(x, bool) for x in scale)
        or not 0 <= scale[0] < scale[1] <= 100
    ):
        raise _fail(where, "rating_scale must be [low, high], whole numbers from 0 to 100")
    langs = doc.get("languages") or ["en"]
    if not isinstance(langs, list) or not all(
        isinstance(x, str) and _LANG.fullmatch(x) for x in langs
    ):
        raise _fail(where, "languages must be a list of language tags such as [en, de]")
    text = doc.get("text") or {}
    if not isinstance(text, dict):
        raise _fail(where, "text must map a language to its wording")
    for lang, words in text.items():
        if not isinstance(words, dict) or not all(isinstance(v, str) for v in words.values()):
            raise _fail(where, f"text.{lang} must map keys to wording")
        unknown = set(words) - KEYS
        if unknown:
            raise _fail(where, f"text.{lang}: unknown key(s) {', '.join(sorted(unknown))}")
    labels = doc.get("labels") or {}
    if not isinstance(labels, dict) or not all(
        isinstance(v, dict) and all(isinstance(x, str) for x in v.values()) for v in labels.values()
    ):
        raise _fail(where, "labels must map a rating to its name per language")
    company, tp, version = (
        doc.get("company", "us"),
        doc.get("touchpoint"),
        doc.get("link_version", 1),
    )
    if not isinstance(company, str) or not company.strip():
        raise _fail(where, "company must be a name")
    if tp is not None and not isinstance(tp, str):
        raise _fail(where, "touchpoint must be a touchpoint's name or null")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise _fail(where, "link_version must be a whole number from 1")
    return Survey(
        name,
        company,
        tp,
        tuple(qs),
        tuple(ratings),
        (scale[0], scale[1]),
        tuple(langs),
        labels,
        text,
        version,
    )


def _path(folder: str | Path, name: str) -> Path:
    if not _NAME.fullmatch(name or ""):
        raise CxroiError(f"survey name {name!r}: use 1-40 lower-case letters, digits, - or _")
    return Path(folder) / SURVEY_DIR / f"{name}.yaml"


def load_survey(folder: str | Path, name: str) -> Survey:
    """Read ``surveys/NAME.yaml`` from workspace ``folder``.

    Raises
    ------
    CxroiError
        The survey does not exist (the known ones named) or its file is malformed.
    """
    path = _path(folder, name)
    if not path.is_file():
        known = [p.stem for p in sorted((Path(folder) / SURVEY_DIR).glob("*.yaml"))]
        raise CxroiError(
            f"no survey {name!r} in {Path(folder)}; known: "
            f"{', '.join(known) or 'none (cxroi survey add)'}"
        )
    where = f"{SURVEY_DIR}/{path.name}"
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        raise _fail(where, "not UTF-8 text") from None
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        at = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        raise _fail(where, f"{at}not valid YAML: {getattr(e, 'problem', e)}") from None
    s = parse_survey(doc, where)
    if s.name != name:
        raise _fail(where, f"name {s.name!r} differs from the file's name {name!r}")
    return s


def list_surveys(folder: str | Path) -> list[Survey]:
    """Every survey of the workspace, by name."""
    return [load_survey(folder, p.stem) for p in sorted((Path(folder) / SURVEY_DIR).glob("*.yaml"))]


def add_survey(folder: str | Path, survey: Survey, *, force: bool = False) -> Path:
    """Write ``survey`` to ``surveys/NAME.yaml`` (checked first; whole or not at all).

    Raises
    ------
    CxroiError
        The definition is malformed, or the survey exists and ``force`` is false.
    """
    path = _path(folder, survey.name)
    parse_survey(yaml.safe_load(survey.to_yaml()), f"survey {survey.name}")
    if path.exists() and not force:
        raise CxroiError(
            f"survey {survey.name!r} exists ({SURVEY_DIR}/{path.name}); pass --force to replace it"
        )
    path.parent.mkdir(exist_ok=True)
    with atomic_file(path, what="survey file", encoding="utf-8") as f:
        f.write(survey.to_yaml())
    return path


def surveys_result(surveys: list[Survey]) -> Result:
    """The surveys as a result (``cxroi survey list``, ``GET /api/v1/surveys``)."""
    import pandas as pd

    rows = [
        {
            "survey": s.name,
            "touchpoint": s.touchpoint or "",
            "questions": ", ".join(s.fields),
            "languages": ", ".join(s.languages),
            "link_version": s.link_version,
        }
        for s in surveys
    ]
    frame = pd.DataFrame(
        rows, columns=["survey", "touchpoint", "questions", "languages", "link_version"]
    )
    return Result("surveys", "Surveys", [Table("surveys", "Surveys", frame)])


def _clean_text(value: Any, where: str, max_chars: int) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise AnswerError(where, "must be text")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise AnswerError(where, "is not valid UTF-8 text") from None
    if "\x00" in value:
        raise AnswerError(where, "holds a NUL character")
    # control characters (Unicode category Cc) other than tab and line breaks are dropped
    text = _CONTROL.sub("", unicodedata.normalize("NFC", value)).strip()
    if len(text) > max_chars:
        raise AnswerError(where, f"is longer than {max_chars} characters")
    return text or None


def check_answer(survey: Survey, answer: dict[str, Any], *, max_comment_chars: int) -> dict:
    """Validate one answer against ``survey``: known fields, whole numbers on their scales,
    text length and encoding, at least one score.

    Returns the answer with text normalised (NFC, control characters dropped) and empty
    fields left out.

    Raises
    ------
    AnswerError
        Naming the first field that is wrong.
    """
    allowed = set(survey.fields)
    out: dict[str, Any] = {}
    for key, value in answer.items():
        if key not in allowed:
            known = ", ".join(survey.fields)
            raise AnswerError(key, f"survey {survey.name!r} does not ask this; it asks {known}")
        if key == "comment":
            text = _clean_text(value, key, max_comment_chars)
            if text is not None:
                out[key] = text
            continue
        if value is None:
            continue
        lo, hi = SCALES.get(key, survey.rating_scale)
        if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
            raise AnswerError(key, f"must be a whole number from {lo} to {hi}, got {value!r}")
        out[key] = value
    if not any(k != "comment" for k in out):
        raise AnswerError(
            ", ".join(f for f in survey.fields if f != "comment"), "give at least one score"
        )
    return out
