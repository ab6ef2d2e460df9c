"""Randomised holdouts that need no extra table: a keyed hash of the customer id.

An initiative launched with a holdout share ``h`` holds out exactly the customers whose
``holdout_draw(initiative_id, customer_id)`` is below ``h``. The draw is the first eight bytes
of SHA-256 over ``"<initiative_id>:<customer_id>"`` read as a number in [0, 1): uniform,
independent of every customer attribute, reproducible by anyone holding the two ids, and the
same in the simulator, in ``cxroi roi measure`` and in any system that applies the initiative
(so the assignment recorded at launch is the rule itself). The hash comes from the standard
library; a seeded random generator would tie the assignment to the order of the rows.

>>> round(holdout_draw("I001", "C0000001"), 6)
0.378652
>>> held_out("I001", ["C0000001", "C0000002"], 0.5).tolist()
[True, False]
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

import numpy as np

__all__ = ["held_out", "holdout_draw"]

_SCALE = float(2**64)


def holdout_draw(initiative_id: str, customer_id: str) -> float:
    """The customer's uniform draw for this initiative's holdout."""
    digest = hashlib.sha256(f"{initiative_id}:{customer_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / _SCALE


def held_out(initiative_id: str, customer_ids: Iterable[str], share: float | None) -> np.ndarray:
    """Boolean mask: which of ``customer_ids`` the initiative holds out (none for no share)."""
    ids = list(customer_ids)
    if share is None or not share > 0:
        return np.zeros(len(ids), dtype=bool)
    return np.fromiter((holdout_draw(initiative_id, c) < share for c in ids), bool, len(ids))
