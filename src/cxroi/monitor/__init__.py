"""Trends and alerts: metric series with control bands, shifts and significant changes."""

from __future__ import annotations

from cxroi.monitor.alerts import ALERT_METRICS, alerts, series
from cxroi.monitor.control import control_band, shift_runs

__all__ = ["ALERT_METRICS", "alerts", "control_band", "series", "shift_runs"]
