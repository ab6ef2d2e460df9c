"""The analyses layer: the only code that takes a workspace.

Each function reads the workspace's tables, calls the models, metrics and text analytics, and
returns one :class:`~cxroi.results.Result`. Front-ends (the CLI, the report, the coming API)
make one call here and render what comes back.
"""

from __future__ import annotations

import sys
from importlib import import_module
from types import ModuleType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the names as type checkers and the API docs read them
    from cxroi.analyses.archetypes import archetype_assignments, archetypes
    from cxroi.analyses.at_risk import at_risk, at_risk_scores
    from cxroi.analyses.churn import churn
    from cxroi.analyses.closed_loop import roi_closed_loop
    from cxroi.analyses.clv import clv
    from cxroi.analyses.drivers import drivers
    from cxroi.analyses.initiatives import (
        initiative_add,
        initiative_close,
        initiative_list,
        initiative_show,
    )
    from cxroi.analyses.journey import (
        journey_check,
        journey_funnel,
        journey_init,
        journey_paths,
        journey_picture,
        journey_touchpoints,
    )
    from cxroi.analyses.journey_pain import journey_pain_points
    from cxroi.analyses.levers import lever
    from cxroi.analyses.opportunities import opportunities
    from cxroi.analyses.perception import value
    from cxroi.analyses.privacy import privacy_scan
    from cxroi.analyses.roi import roi_simulate
    from cxroi.analyses.roi_compare import roi_compare
    from cxroi.analyses.roi_measure import roi_measure
    from cxroi.analyses.scorecard import alerts, cohorts, scorecard
    from cxroi.analyses.segments import segments
    from cxroi.analyses.themes import emerging, sentiment, theme_model, themes
    from cxroi.analyses.workspace import workspace_tables

_WHERE = {
    "alerts": "cxroi.analyses.scorecard",
    "archetype_assignments": "cxroi.analyses.archetypes",
    "archetypes": "cxroi.analyses.archetypes",
    "at_risk": "cxroi.analyses.at_risk",
    "at_risk_scores": "cxroi.analyses.at_risk",
    "churn": "cxroi.analyses.churn",
    "clv": "cxroi.analyses.clv",
    "cohorts": "cxroi.analyses.scorecard",
    "drivers": "cxroi.analyses.drivers",
    "emerging": "cxroi.analyses.themes",
    "initiative_add": "cxroi.analyses.initiatives",
    "initiative_close": "cxroi.analyses.initiatives",
    "initiative_list": "cxroi.analyses.initiatives",
    "initiative_show": "cxroi.analyses.initiatives",
    "journey_check": "cxroi.analyses.journey",
    "journey_funnel": "cxroi.analyses.journey",
    "journey_init": "cxroi.analyses.journey",
    "journey_pain_points": "cxroi.analyses.journey_pain",
    "journey_paths": "cxroi.analyses.journey",
    "journey_picture": "cxroi.analyses.journey",
    "journey_touchpoints": "cxroi.analyses.journey",
    "lever": "cxroi.analyses.levers",
    "opportunities": "cxroi.analyses.opportunities",
    "privacy_scan": "cxroi.analyses.privacy",
    "roi_closed_loop": "cxroi.analyses.closed_loop",
    "roi_compare": "cxroi.analyses.roi_compare",
    "roi_measure": "cxroi.analyses.roi_measure",
    "roi_simulate": "cxroi.analyses.roi",
    "scorecard": "cxroi.analyses.scorecard",
    "segments": "cxroi.analyses.segments",
    "sentiment": "cxroi.analyses.themes",
    "theme_model": "cxroi.analyses.themes",
    "themes": "cxroi.analyses.themes",
    "value": "cxroi.analyses.perception",
    "workspace_tables": "cxroi.analyses.workspace",
}
"""The module of each public name: imported on first use, so a command that runs one
analysis does not import every model (scikit-learn, statsmodels, SciPy's statistics)."""


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(_WHERE[name]), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})


class _Analyses(ModuleType):
    """This package: a public name that is also a submodule's (``scorecard``) stays the
    function when the import system sets the submodule on the package, as it did when the
    names were imported here eagerly."""

    def __setattr__(self, name: str, value: Any) -> None:
        if isinstance(value, ModuleType) and _WHERE.get(name) == value.__name__:
            value = getattr(value, name)
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Analyses

__all__ = [
    "alerts",
    "archetype_assignments",
    "archetypes",
    "at_risk",
    "at_risk_scores",
    "churn",
    "clv",
    "cohorts",
    "drivers",
    "emerging",
    "initiative_add",
    "initiative_close",
    "initiative_list",
    "initiative_show",
    "journey_check",
    "journey_funnel",
    "journey_init",
    "journey_pain_points",
    "journey_paths",
    "journey_picture",
    "journey_touchpoints",
    "lever",
    "opportunities",
    "privacy_scan",
    "roi_closed_loop",
    "roi_compare",
    "roi_measure",
    "roi_simulate",
    "scorecard",
    "segments",
    "sentiment",
    "theme_model",
    "themes",
    "value",
    "workspace_tables",
]
