"""A small simulated company with known comment themes, built once for the text tests, and a
model fitted on a tiny corpus with three obvious themes."""

from __future__ import annotations

from pathlib import Path

import pytest

from cxroi.simulate import Company, generate
from cxroi.store import Workspace
from cxroi.text.theme_model import ThemeModel

from ._themes import CORPUS


@pytest.fixture(scope="session")
def company() -> Company:
    return generate(customers=4_000, months=12, seed=5, start="2024-01-01")


@pytest.fixture(scope="session")
def sim_ws(company: Company, tmp_path_factory: pytest.TempPathFactory):
    """A workspace holding the simulated company (read-only for tests)."""
    path: Path = tmp_path_factory.mktemp("text") / "ws"
    with Workspace.init(path) as w:
        for name, table in company.tables.items():
            w.ingest(name, table)
        yield w


@pytest.fixture(scope="module")
def small_model() -> ThemeModel:
    """Three themes (delivery, price, app) fitted on :data:`CORPUS`."""
    return ThemeModel(3, min_df=1).fit(CORPUS)
