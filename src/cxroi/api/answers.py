"""The answer path: every answer, from the JSON API or the survey page, goes through
:func:`submit`: token, survey, fields, redaction, durable write.

``POST /api/v1/responses`` is the service's hot path (thousands of answers a second), so
:class:`FastLane` serves it as plain ASGI in front of the framework: it reads the body,
validates it with the same pydantic model (:class:`~cxroi.api.schemas.ResponseCreate`), calls
:func:`submit` and writes the JSON answer, skipping FastAPI's routing, dependency and
response layers. The FastAPI route of the same path stays declared, for the OpenAPI document
and for an app built without the lane, and calls the same :func:`submit`; the tests drive
both.
"""

from __future__ import annotations

import json
import logging
import secrets
from typing import Any

from pydantic import ValidationError

from cxroi.api.schemas import ResponseCreate
from cxroi.api.state import Service
from cxroi.errors import CxroiError
from cxroi.service.journal import Accepted, Conflict, Intake, JournalUnavailable, NotFound
from cxroi.service.journal import fingerprint as _fingerprint
from cxroi.service.tokens import TokenError

__all__ = ["FastLane", "error_detail", "error_status", "submit", "validation_detail"]

PATH = "/api/v1/responses"
log = logging.getLogger("cxroi.service")
MAX_KEY_CHARS = 255


def error_status(e: CxroiError) -> int:
    """The HTTP status of a library error on the answer path (422 for anything else)."""
    if isinstance(e, TokenError):
        return {"invalid": 401, "used": 409}.get(e.reason, 410)
    if isinstance(e, Conflict):
        return 422 if "Idempotency-Key" in str(e) else 409
    if isinstance(e, NotFound):
        return 404
    if isinstance(e, JournalUnavailable):
        return 503
    return 422


def error_detail(e: CxroiError) -> Any:
    """``detail`` of a library error: its one line, or FastAPI's list form for a field."""
    field = getattr(e, "field", None)
    return str(e) if field is None else [{"loc": ["body", field], "msg": str(e)}]


def validation_detail(e: ValidationError) -> list[dict[str, Any]]:
    """pydantic's errors as FastAPI shows them (``loc`` from ``body``), never echoing input."""
    return [
        {"loc": ["body", *d["loc"]], "msg": d["msg"], "type": d["type"]}
        for d in e.errors(include_url=False)
    ]


async def submit(
    service: Service,
    body: ResponseCreate,
    *,
    mode: str,
    response_id: str | None = None,
    key: str | None = None,
    fields: dict[str, Any] | None = None,
) -> Accepted:
    """Record one answer; returns once the journal has committed it.

    Parameters
    ----------
    mode
        ``create`` (POST), ``change`` (PUT) or ``answer`` (the survey page: create, or
        change what the invitation answered), see :meth:`~cxroi.service.journal.Journal.
        accept_op`.
    response_id
        The response a ``change`` names.
    key
        The ``Idempotency-Key``.
    fields
        The answer's fields when they do not come from ``body`` (the page's form).

    Raises
    ------
    CxroiError
        A refused token, answer or replay (see :func:`error_status`).
    """
    from cxroi.service.surveys import check_answer

    link, survey = service.open_link(body.token)
    given = fields if fields is not None else body.answer()
    answer = check_answer(survey, given, max_comment_chars=service.settings.max_comment_chars)
    if "comment" in answer:
        answer["comment"] = service.redactor(answer["comment"])
    if link.invitation_id is not None:
        rid = f"w-{link.invitation_id}"
        if response_id is not None and response_id != rid:
            raise NotFound("this link has no response with that id")
    else:
        if mode == "change":
            raise NotFound("an open (anonymous) link cannot change an answer")
        rid = f"w-{secrets.token_urlsafe(12)}"
    lang = survey.language(body.language) if body.language else None
    intake = Intake(rid, survey.name, survey.touchpoint, link.invitation_id, lang, answer)
    idem = None
    if key is not None:
        request = {"mode": mode, "id": response_id, "answer": given, "language": body.language}
        idem = (link.scope, key, _fingerprint(request))
    return await service.journal.accept_async(intake, mode=mode, idempotency=idem)


async def _send(send: Any, status: int, body: Any, replayed: bool = False) -> None:
    data = json.dumps(body if status < 400 else {"detail": body}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(data))]
    if replayed:
        headers.append((b"idempotent-replayed", b"true"))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": data})


class FastLane:
    """Serve ``POST /api/v1/responses`` directly (see the module docstring); pass everything
    else on."""

    def __init__(self, app: Any, *, service: Service):
        self.app, self.service = app, service

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["method"] != "POST" or scope["path"] != PATH:
            return await self.app(scope, receive, send)
        chunks, more = [], True
        while more:
            msg = await receive()
            if msg["type"] == "http.disconnect":
                return
            chunks.append(msg.get("body", b""))
            more = msg.get("more_body", False)
        key = None
        for k, v in scope["headers"]:
            if k == b"idempotency-key":
                key = v.decode("latin-1")
        if key is not None and not 0 < len(key) <= MAX_KEY_CHARS:
            detail = [{"loc": ["header", "Idempotency-Key"], "msg": "1 to 255 characters",
                       "type": "string_too_long"}]  # fmt: skip
            return await _send(send, 422, detail)
        try:
            body = ResponseCreate.model_validate_json(b"".join(chunks))
            done = await submit(self.service, body, mode="create", key=key)
        except ValidationError as e:
            return await _send(send, 422, validation_detail(e))
        except CxroiError as e:
            return await _send(send, error_status(e), error_detail(e))
        except Exception:  # in front of FastAPI's own handler: answer 500 here, log the rest
            log.exception("unexpected error on POST %s", PATH)
            return await _send(send, 500, "internal error; it was logged")
        await _send(send, done.status, done.body, done.replayed)
