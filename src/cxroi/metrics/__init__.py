"""CX and money metrics, each written once: a list form for small inputs and an engine form
(counts per group as an Ibis expression) feeding the same formula.

>>> from cxroi.metrics import nps
>>> round(nps([10] * 150 + [8] * 100 + [3] * 50).nps, 1)
33.3
"""

from __future__ import annotations

from cxroi.metrics.ces import CESResult, ces
from cxroi.metrics.compare import DiffResult, csat_test, nps_test
from cxroi.metrics.csat import CSATResult, csat
from cxroi.metrics.money import retention_clv, retention_cohorts, simple_clv
from cxroi.metrics.nps import NPSResult, nps

__all__ = [
    "CESResult",
    "CSATResult",
    "DiffResult",
    "NPSResult",
    "ces",
    "csat",
    "csat_test",
    "nps",
    "nps_test",
    "retention_clv",
    "retention_cohorts",
    "simple_clv",
]
