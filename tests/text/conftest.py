"""A small simulated company with known comment themes, built once for the text tests, and a
model fitted on a tiny corpus with three obvious themes."""

from __future__ import annotations

import pytest

from cxroi.simulate import Company
from cxroi.text.theme_model import ThemeModel

from ._themes import CORPUS


@pytest.fixture(scope="session")
def company(theme_company: Company) -> Company:
    return theme_company


@pytest.fixture(scope="module")
def small_model() -> ThemeModel:
    """Three themes (delivery, price, app) fitted on :data:`CORPUS`."""
    return ThemeModel(3, min_df=1).fit(CORPUS)
