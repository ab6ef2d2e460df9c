"""The web front-end: FastAPI routes over :mod:`cxroi.service` (collection, survey pages,
admin API). Like the CLI, it parses input, makes one library call and renders the result."""

from __future__ import annotations

from cxroi.api.main import app_from_env, create_app

__all__ = ["app_from_env", "create_app"]
