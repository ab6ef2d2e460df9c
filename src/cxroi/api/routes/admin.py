"""The admin API (an API key): the scorecard, the cases and the surveys, as result JSON.

Each route makes one library call and returns the :class:`~cxroi.results.Result` as
``Result.to_dict()``: the same object the CLI prints and the report renders. Library errors
(a bad ``since``, an unknown metric) are 422 with the one-line message.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query

from cxroi.api.deps import AdminKey, ReadWorkspace, ServiceDep
from cxroi.errors import CxroiError
from cxroi.schema import CASE_STATUSES

__all__ = ["router"]

router = APIRouter(prefix="/api/v1", tags=["admin"])

# Every string that reaches a query is held to a pattern: no control characters (a NUL would
# cut the engine's SQL short), names as names.
NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")
PERIOD = r"^[0-9A-Za-z:-]{1,20}$"
TEXT = r"^[^\x00-\x1f\x7f]*$"


@router.get("/scorecard", summary="The scorecard (API key)")
def scorecard(
    _: AdminKey,
    ws: ReadWorkspace,
    period: Annotated[str, Query(pattern="^(week|month|quarter)$")] = "month",
    since: Annotated[str | None, Query(pattern=PERIOD)] = None,
    until: Annotated[str | None, Query(pattern=PERIOD)] = None,
    by: Annotated[list[str] | None, Query(max_length=4)] = None,
    metric: Annotated[list[str] | None, Query(max_length=30)] = None,
) -> dict[str, Any]:
    """NPS, CSAT, CES and the money metrics by period (and group), with intervals and ``n``."""
    from cxroi.analyses import scorecard as run

    for name in (*(by or ()), *(metric or ())):
        if not NAME.fullmatch(name):
            raise CxroiError(f"{name!r} is not a column or metric name")
    return run(
        ws, period=period, since=since, until=until, by=by or (), metrics=metric or None
    ).to_dict()


@router.get("/cases", summary="Close-the-loop cases (API key)")
def cases(
    _: AdminKey,
    ws: ReadWorkspace,
    status: Annotated[Literal[CASE_STATUSES] | None, Query()] = None,  # type: ignore[valid-type]
    owner: Annotated[str | None, Query(pattern=TEXT, max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 1000,
) -> dict[str, Any]:
    """Cases, newest first, with the answer that opened each and whether it is overdue."""
    from cxroi.service.cases import cases_result

    return cases_result(ws, status=status, owner=owner, limit=limit).to_dict()


@router.get("/surveys", summary="Surveys (API key)")
def surveys(_: AdminKey, service: ServiceDep) -> dict[str, Any]:
    """Every survey of the workspace."""
    from cxroi.service.surveys import list_surveys, surveys_result

    return surveys_result(list_surveys(service.folder)).to_dict()
