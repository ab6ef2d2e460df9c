"""Request and response bodies of the API (pydantic), named as the STYLE asks:
``XCreate`` for what a client sends, ``XPublic`` for what it gets back.

The scales are the canonical ones (:mod:`cxroi.schema`); whether a survey asks a field is
checked afterwards against the survey (:func:`cxroi.service.surveys.check_answer`), so the
schema here is what every survey could accept.
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, StrictInt, model_validator

from cxroi.service.tokens import MAX_TOKEN_CHARS

__all__ = ["ErrorPublic", "ResponseCreate", "ResponsePublic"]

_RATING = re.compile(r"^rating_[a-z][a-z0-9_]{0,39}$")
MAX_COMMENT = 20_000  # the survey's own limit ([service] max_comment_chars) is checked after


class ResponseCreate(BaseModel):
    """An answer to a survey link.

    ``rating_<name>`` fields carry attribute ratings (whole numbers on the survey's rating
    scale); any other field is refused.
    """

    model_config = ConfigDict(
        extra="allow",
        json_schema_extra={
            "patternProperties": {"^rating_[a-z][a-z0-9_]{0,39}$": {"type": "integer"}},
            "examples": [{"token": "eyJz…", "nps": 9, "comment": "Quick delivery"}],
        },
    )
    __pydantic_extra__: dict[str, StrictInt] = Field(init=False)

    token: str = Field(
        min_length=1, max_length=MAX_TOKEN_CHARS, description="The survey link's token."
    )
    nps: StrictInt | None = Field(None, ge=0, le=10)
    csat: StrictInt | None = Field(None, ge=1, le=5)
    ces: StrictInt | None = Field(None, ge=1, le=7)
    comment: str | None = Field(None, max_length=MAX_COMMENT)
    language: str | None = Field(
        None,
        pattern=r"^[a-z]{2,3}(-[A-Za-z0-9]{1,8})?$",
        description="The respondent's language, e.g. de.",
    )

    @model_validator(mode="after")
    def _only_ratings(self) -> ResponseCreate:
        for key in self.__pydantic_extra__ or {}:
            if not _RATING.fullmatch(key):
                raise ValueError(f"unknown field {key!r}")
        return self

    def answer(self) -> dict[str, Any]:
        """The answer's fields (scores, comment, ratings), without token and language."""
        out: dict[str, Any] = {
            k: getattr(self, k)
            for k in ("nps", "csat", "ces", "comment")
            if k in self.model_fields_set
        }
        out.update(self.__pydantic_extra__ or {})
        return out


class ResponsePublic(BaseModel):
    """What the service did with an answer."""

    response_id: str
    status: str = Field(description="created (a new response) or changed (an answer changed)")


class ErrorPublic(BaseModel):
    """An error: ``detail`` says what is wrong and where."""

    detail: Any
