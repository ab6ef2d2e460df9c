"""``/api/v1/responses``: answers in (a survey link's token), stored answers out (an API key).

``POST`` records an answer and answers 201 only after the intake journal has committed it
(:mod:`cxroi.service.journal`). An invitation's link creates one response: posting it again
is a replay (409); ``PUT /api/v1/responses/{id}`` with the same link changes the answer until
the link expires. An open (anonymous) link creates a response per post. ``Idempotency-Key``
makes a retry return the first answer instead of a second one (or a 409).
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Header, Path, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import ValidationError

from cxroi.api.answers import submit, validation_detail
from cxroi.api.deps import AdminKey, ReadWorkspace
from cxroi.api.schemas import ErrorPublic, ResponseCreate, ResponsePublic
from cxroi.service.journal import Accepted

__all__ = ["router"]

router = APIRouter(prefix="/api/v1", tags=["responses"])

IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        max_length=255,
        description="Repeat a request safely: the same key and body get the first answer.",
    ),
]

_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorPublic, "description": "forged, tampered or unreadable token"},
    409: {"model": ErrorPublic, "description": "the link has answered already (a replay)"},
    410: {"model": ErrorPublic, "description": "the link expired or was revoked"},
    413: {"model": ErrorPublic, "description": "the body is too large"},
    422: {"model": ErrorPublic, "description": "a field is unknown or off its scale"},
    429: {"model": ErrorPublic, "description": "too many requests"},
    503: {"model": ErrorPublic, "description": "the journal cannot commit; nothing was kept"},
}


_BODY = {
    "requestBody": {
        "required": True,
        "content": {"application/json": {"schema": ResponseCreate.model_json_schema()}},
    }
}


async def _body(request: Request) -> ResponseCreate:
    """The JSON body, validated by the one model (pydantic's JSON parser, no extra pass)."""
    try:
        return ResponseCreate.model_validate_json(await request.body())
    except ValidationError as e:
        raise RequestValidationError(validation_detail(e)) from None


def _json(done: Accepted) -> JSONResponse:
    headers = {"Idempotent-Replayed": "true"} if done.replayed else None
    return JSONResponse(done.body, status_code=done.status, headers=headers)


# The routes take the raw request and validate the body with the model themselves (the answer
# path is hot; see cxroi.api.answers); the schema is declared for OpenAPI by hand (FastAPI's
# "custom request body" pattern).


@router.post(
    "/responses",
    status_code=201,
    response_model=ResponsePublic,
    responses=_ERRORS,
    summary="Record an answer",
    openapi_extra=_BODY,
)
async def create_response(request: Request, idempotency_key: IdempotencyKey = None) -> JSONResponse:
    """Record an answer to a survey link; 201 once it is durable."""
    service = request.app.state.service
    return _json(await submit(service, await _body(request), mode="create", key=idempotency_key))


@router.put(
    "/responses/{response_id}",
    response_model=ResponsePublic,
    responses=_ERRORS,
    summary="Change an answer",
    openapi_extra=_BODY,
)
async def change_response(
    request: Request,
    response_id: Annotated[str, Path(max_length=64)],
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    """Change the answer of an invitation's link (until the link expires)."""
    done = await submit(
        request.app.state.service,
        await _body(request),
        mode="change",
        response_id=response_id,
        key=idempotency_key,
    )
    return _json(done)


@router.get("/responses", summary="Stored answers (API key)")
def list_responses(
    _: AdminKey,
    ws: ReadWorkspace,
    survey: Annotated[str | None, Query(pattern=r"^[a-z][a-z0-9_-]{0,39}$")] = None,
    since: Annotated[dt.date | None, Query(description="First day (UTC).")] = None,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 1000,
    offset: Annotated[int, Query(ge=0, le=1_000_000_000)] = 0,
) -> dict[str, Any]:
    """Answers in the store, newest first (those still in the journal are counted in
    ``params.waiting``)."""
    from cxroi.results import Result, Table

    t = ws.table("responses")
    if survey is not None:
        t = t.filter(t.survey == survey)
    if since is not None:
        t = t.filter(t.ts >= dt.datetime.combine(since, dt.time()))
    total = int(t.count().execute())
    frame = t.order_by([t.ts.desc(), t.response_id]).limit(limit, offset=offset).to_pandas()
    r = Result(
        "responses",
        "Survey responses",
        [Table("responses", "Responses", frame)],
        params={"total": total, "limit": limit, "offset": offset},
    )
    return r.to_dict()
