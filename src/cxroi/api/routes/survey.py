"""The public survey page ``/s/{token}``: plain HTML, no script, on any phone.

``GET`` shows the survey in the respondent's language (``?lang=``, else ``Accept-Language``,
else the survey's first language); an invitation's page shows the answer given so far.
``POST`` (an HTML form) goes through the same path as the JSON API
(:func:`cxroi.api.routes.responses.submit`) and redirects to a thank-you page (post, redirect,
get), so a reload never posts twice. On an invitation's link a second post changes the answer;
on an open link the hidden ``nonce`` of the rendered form is the idempotency key, so a double
click records one answer.

Every value from the survey file or the respondent is escaped by Jinja2's autoescape.
"""

from __future__ import annotations

import datetime as dt
import secrets
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from cxroi.api.answers import submit
from cxroi.api.deps import ServiceDep
from cxroi.api.schemas import ResponseCreate
from cxroi.service.surveys import AnswerError, Survey
from cxroi.service.texts import TEXTS
from cxroi.service.tokens import Link, TokenError

__all__ = ["router", "templates"]

router = APIRouter(include_in_schema=False)
templates = Jinja2Templates(directory=str(Path(__file__).parent.parent / "templates"))
MAX_FORM_FIELDS = 64


def _language(request: Request, survey: Survey, lang: str | None) -> str:
    wanted = [lang] if lang else []
    for part in request.headers.get("accept-language", "").split(",")[:10]:
        wanted.append(part.split(";")[0])
    return survey.language(wanted)


def _until(link: Link, words: dict[str, str]) -> str | None:
    if link.kind != "invitation" or link.expires is None:
        return None
    day = dt.datetime.fromtimestamp(link.expires, dt.UTC).date().isoformat()
    return words["change"].replace("{date}", day)


def _page(
    request: Request,
    survey: Survey,
    link: Link,
    lang: str,
    *,
    values: dict[str, Any],
    error: AnswerError | None = None,
    status: int = 200,
) -> HTMLResponse:
    words, questions = survey.page(lang)
    ctx = {
        "lang": lang,
        "title": words["title"],
        "words": words,
        "questions": questions,
        "values": values,
        "nonce": secrets.token_urlsafe(16),
        "action": request.url.path,
        "max_chars": request.app.state.service.settings.max_comment_chars,
        "changing_until": _until(link, words),
        "error": None if error is None else str(error),
        "error_field": getattr(error, "field", None),
    }
    return templates.TemplateResponse(request, "survey.html", ctx, status_code=status)


def _message(
    request: Request, lang: str, title: str, message: str, *, status: int, note: str | None = None
) -> HTMLResponse:
    ctx = {"lang": lang, "title": title, "message": message, "note": note}
    return templates.TemplateResponse(request, "message.html", ctx, status_code=status)


def _refused(request: Request, e: TokenError) -> HTMLResponse:
    """A link that cannot be used, said in the visitor's language (the survey is unknown)."""
    tags = [
        p.split(";")[0].strip().lower().split("-")[0]
        for p in request.headers.get("accept-language", "").split(",")[:10]
    ]
    lang = next((t for t in tags if t in TEXTS), "en")
    words = TEXTS[lang]
    status = {"invalid": 401, "used": 409}.get(e.reason, 410)
    return _message(
        request, lang, words["title"], words.get(e.reason, words["invalid"]), status=status
    )


@router.get("/s/{token}", response_class=HTMLResponse)
def survey_page(
    token: str, request: Request, service: ServiceDep, lang: str | None = None
) -> Response:
    try:
        link, survey = service.open_link(token)
    except TokenError as e:
        return _refused(request, e)
    values: dict[str, Any] = {}
    if link.invitation_id is not None:
        given = service.journal.current_answer(link.invitation_id)
        values = given[1] if given else {}
    return _page(request, survey, link, _language(request, survey, lang), values=values)


def _form_fields(form: Any) -> tuple[dict[str, Any], str | None, str | None]:
    fields: dict[str, Any] = {}
    for key, value in list(form.multi_items())[:MAX_FORM_FIELDS]:
        if key in ("nonce", "lang") or not isinstance(value, str):
            continue
        if key == "comment":
            fields[key] = value
        elif value.strip() != "":
            v = value.strip()
            fields[key] = int(v) if v.lstrip("-").isdigit() and len(v) < 6 else v
    nonce, lang = form.get("nonce"), form.get("lang")
    return (
        fields,
        nonce if isinstance(nonce, str) else None,
        lang if isinstance(lang, str) else None,
    )


@router.post("/s/{token}", response_class=HTMLResponse)
async def survey_post(token: str, request: Request, service: ServiceDep) -> Response:
    try:
        link, survey = service.open_link(token)
    except TokenError as e:
        return _refused(request, e)
    form = await request.form(max_files=0, max_fields=MAX_FORM_FIELDS)
    fields, nonce, lang_given = _form_fields(form)
    lang = _language(request, survey, lang_given)
    nonce = nonce[:64] if nonce else None
    body = ResponseCreate.model_validate({"token": token, "language": lang})
    try:
        await submit(
            service, body, mode="answer", fields=fields, key=None if link.invitation_id else nonce
        )
    except AnswerError as e:
        return _page(request, survey, link, lang, values=fields, error=e, status=422)
    return RedirectResponse(f"{request.url.path}/thanks?lang={lang}", status_code=303)


@router.get("/s/{token}/thanks", response_class=HTMLResponse)
def thanks(token: str, request: Request, service: ServiceDep, lang: str | None = None) -> Response:
    try:
        link, survey = service.open_link(token)
    except TokenError as e:
        return _refused(request, e)
    lang = _language(request, survey, lang)
    words = survey.words(lang)
    return _message(
        request, lang, words["title"], words["thanks"], status=200, note=_until(link, words)
    )
