from __future__ import annotations

from pathlib import Path

import pytest

from cxroi.store import Workspace

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture
def ws(tmp_path: Path):
    """A fresh embedded-DuckDB workspace."""
    with Workspace.init(tmp_path / "ws") as w:
        yield w


@pytest.fixture
def fixtures() -> Path:
    return FIXTURES
