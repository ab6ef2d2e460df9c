"""The analyses layer: the only code that takes a workspace.

Each function reads the workspace's tables, calls the models, metrics and text analytics, and
returns one :class:`~cxroi.results.Result`. Front-ends (the CLI, the report, the coming API)
make one call here and render what comes back.
"""

from __future__ import annotations

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
from cxroi.analyses.levers import lever
from cxroi.analyses.perception import value
from cxroi.analyses.privacy import privacy_scan
from cxroi.analyses.roi import roi_simulate
from cxroi.analyses.roi_compare import roi_compare
from cxroi.analyses.roi_measure import roi_measure
from cxroi.analyses.scorecard import alerts, cohorts, scorecard
from cxroi.analyses.themes import emerging, sentiment, theme_model, themes
from cxroi.analyses.workspace import workspace_tables

__all__ = [
    "alerts",
    "churn",
    "clv",
    "cohorts",
    "drivers",
    "emerging",
    "initiative_add",
    "initiative_close",
    "initiative_list",
    "initiative_show",
    "lever",
    "privacy_scan",
    "roi_closed_loop",
    "roi_compare",
    "roi_measure",
    "roi_simulate",
    "scorecard",
    "sentiment",
    "theme_model",
    "themes",
    "value",
    "workspace_tables",
]
