"""Customer journeys and service blueprints as documents measured from the data.

- :mod:`cxroi.journey.document`: ``journey.yaml`` (stages, touchpoints, blueprint lanes and
  what measures each step) read, checked and written;
- :mod:`cxroi.journey.inventory`: the touchpoints the data hold, a proposed map, and the
  problems of a map against the data;
- :mod:`cxroi.journey.metrics`: volume, reach, perception, tickets and time to the next step
  per touchpoint, in the engine.
"""

from cxroi.journey.document import JOURNEY_FILE, Journey, Stage, Touchpoint, dump, load, parse
from cxroi.journey.inventory import Inventory, check, inventory, propose
from cxroi.journey.metrics import touchpoint_metrics

__all__ = [
    "JOURNEY_FILE",
    "Inventory",
    "Journey",
    "Stage",
    "Touchpoint",
    "check",
    "dump",
    "inventory",
    "load",
    "parse",
    "propose",
    "touchpoint_metrics",
]
