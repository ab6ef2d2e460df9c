"""A whole synthetic company with known causal ground truth.

``generate`` builds the eight canonical tables in memory; ``generate_to`` streams them to
Parquet block by block for runs of millions of customers. Both record the truth (driver
weights, hazard ratios, spend multipliers, theme effects, initiative effects, archetypes).
"""

from __future__ import annotations

from cxroi.simulate.company import Company, generate, generate_to

__all__ = ["Company", "generate", "generate_to"]
