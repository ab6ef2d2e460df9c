"""Every fitter shares the estimator base: not fitted means a clear NotFittedError."""

from __future__ import annotations

import pytest

from cxroi.errors import NotFittedError
from cxroi.estimator import Estimator
from cxroi.models.archetypes import ArchetypeMixture
from cxroi.models.clv import BetaGeo, GammaGamma
from cxroi.models.drivers import KeyDriverAnalysis
from cxroi.models.hazard import PoissonHazard
from cxroi.models.risk import ChurnRisk
from cxroi.models.survival import ChurnCox
from cxroi.text.sentiment import ScoredSentiment
from cxroi.text.theme_model import ThemeModel

UNFITTED = [
    BetaGeo(),
    GammaGamma(),
    ChurnCox(["nps_group"]),
    PoissonHazard(["nps_group"]),
    KeyDriverAnalysis(),
    ThemeModel(),
    ScoredSentiment(),
    ArchetypeMixture(),
    ChurnRisk(),
]


@pytest.mark.parametrize("model", UNFITTED, ids=lambda m: type(m).__name__)
def test_unfitted_models_say_so(model):
    assert isinstance(model, Estimator)
    assert not model.is_fitted
    assert "not fitted" in repr(model)
    with pytest.raises(NotFittedError, match=f"{type(model).__name__} is not fitted yet"):
        _ = model.summary
    with pytest.raises(NotFittedError):
        _ = model.params_
    assert not hasattr(model, "params_")


def test_every_estimator_subclass_is_covered():
    def subclasses(c):
        for s in c.__subclasses__():
            yield s
            yield from subclasses(s)

    assert {type(m) for m in UNFITTED} == set(subclasses(Estimator))
