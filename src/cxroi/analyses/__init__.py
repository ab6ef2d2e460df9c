"""The analyses layer: the only code that takes a workspace.

Each function reads the workspace's tables, calls the models, metrics and text analytics, and
returns one :class:`~cxroi.results.Result`. Front-ends (the CLI, the report, the coming API)
make one call here and render what comes back.
"""

from __future__ import annotations

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
