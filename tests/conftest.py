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


@pytest.fixture(scope="session")
def theme_company():
    """The simulated company the theme and text tests share (generated once per run)."""
    from cxroi.simulate import generate

    return generate(customers=4_000, months=12, seed=5, start="2024-01-01")


@pytest.fixture
def fixtures() -> Path:
    return FIXTURES
