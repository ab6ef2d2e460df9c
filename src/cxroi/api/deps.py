"""Dependencies the routes declare: the running service, an admin API key, the workspace."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from cxroi.api.state import Service
from cxroi.service.apikeys import ApiKey, verify_key
from cxroi.store import Workspace

__all__ = ["AdminKey", "ReadWorkspace", "ServiceDep"]


async def _service(request: Request) -> Service:  # async: no thread hop per request
    return request.app.state.service


ServiceDep = Annotated[Service, Depends(_service)]

_bearer = HTTPBearer(auto_error=False, description="An API key from `cxroi apikey create`.")


def _admin(
    service: ServiceDep, cred: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
) -> ApiKey:
    key = verify_key(service.journal, cred.credentials if cred else None)
    if key is None:
        raise HTTPException(
            401,
            "a valid API key is required (Authorization: Bearer <key>)",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return key


AdminKey = Annotated[ApiKey, Depends(_admin)]


def _workspace(service: ServiceDep) -> Iterator[Workspace]:
    with Workspace.open(service.folder, read_only=True, purpose="api") as ws:
        yield ws


ReadWorkspace = Annotated[Workspace, Depends(_workspace)]
"""The store, opened read-only for one request (it waits, bounded, for a flush)."""
