"""Probabilistic customer lifetime value: BG/NBD purchases × Gamma-Gamma spend, discounted.

Client lifetime value estimates how much money a single customer will spend over the course of
their lifetime. For non-contractual businesses (a customer can stop buying without telling
anyone) the standard answer is the pair of models fitted here:

- :class:`BetaGeo` (:mod:`~cxroi.models.clv.bgnbd`) — the BG/NBD model of Fader, Hardie &
  Lee (2005), "Counting your customers the easy way". While alive, a customer buys at Poisson
  rate :math:`\\lambda \\sim \\Gamma(r, \\alpha)`; after each purchase they drop out with
  probability :math:`p \\sim \\mathrm{Beta}(a, b)`.
- :class:`GammaGamma` (:mod:`~cxroi.models.clv.gammagamma`) — Fader & Hardie (2013), "The
  Gamma-Gamma model of monetary value": spend per transaction :math:`z \\sim \\Gamma(p, \\nu)`
  with :math:`\\nu \\sim \\Gamma(q, v)`.
- :func:`clv` (:mod:`~cxroi.models.clv.valuation`) — expected discounted spend over a horizon.

Why it is written here rather than imported: the reference implementation, ``lifetimes``, was
archived in 2020 and does not install on numpy 2 / pandas 3; it differentiates its likelihood
with ``autograd`` through Python-level array tracing and is slow and unstable at millions of
customers (its issues #132, #328, #332); PyMC-Marketing takes minutes to hours and a heavy
dependency stack. The models are small: a closed-form log-likelihood per customer. Here it is
written once, on numpy/scipy, in log space (``gammaln``/``betaln``, log-sum-exp for the
two-term BG/NBD likelihood), with its analytic gradient, fitted on log-parameters (see
:mod:`cxroi.models._mle`) over the distinct summary rows with weights. It reproduces the
published CDNOW estimates (tests pin them from raw transactions) and is measured against
``lifetimes`` in ``benchmarks/bench_clv.py``.

Inputs are per-customer summaries (see :mod:`cxroi.models.rfm`): ``frequency`` = number of
repeat purchase days, ``recency`` = age at the last purchase, ``T`` = age at the end of the
calibration period, all in one time unit; ``monetary_value`` = mean spend per repeat purchase.
"""

from __future__ import annotations

from cxroi.models._mle import ConvergenceWarning, compress
from cxroi.models.clv.bgnbd import BetaGeo, holdout_by_frequency
from cxroi.models.clv.gammagamma import GammaGamma
from cxroi.models.clv.valuation import clv, discounted_purchases

__all__ = [
    "BetaGeo",
    "ConvergenceWarning",
    "GammaGamma",
    "clv",
    "compress",
    "discounted_purchases",
    "holdout_by_frequency",
]
