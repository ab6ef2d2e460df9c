"""Each distinct text once: every text analysis here is a function of the text alone.

Comment streams repeat themselves (real ones less than simulated ones, but "Thanks." and
"Delivery was late." recur everywhere), so sentiment, themes and their tone are computed once
per distinct text and handed back to every row holding it. The result is the same as
computing them row by row.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["distinct_texts"]


def distinct_texts(texts: Sequence[Any] | pd.Series | np.ndarray) -> tuple[list[Any], np.ndarray]:
    """The distinct values of ``texts`` and, per row, the position of its value among them.

    Missing values (``None``, NaN, ``pd.NA``) become one ``None`` entry. A categorical series
    (e.g. a dictionary-encoded column read from the engine) is used as it is encoded.

    Examples
    --------
    >>> distinct_texts(["a", "b", "a", None])
    (['a', 'b', None], array([0, 1, 0, 2]))
    """
    if isinstance(texts, pd.Series) and isinstance(texts.dtype, pd.CategoricalDtype):
        codes = texts.cat.codes.to_numpy(np.int64)
        uniques = list(texts.cat.categories)
    else:
        if isinstance(texts, pd.Series):
            arr = texts.to_numpy(dtype=object)
        elif isinstance(texts, np.ndarray):
            arr = texts.astype(object, copy=False)
        else:
            arr = np.fromiter(texts, dtype=object, count=len(texts))
        raw, found = pd.factorize(arr)
        codes, uniques = raw.astype(np.int64, copy=False), list(found)
    if (codes < 0).any():
        codes = np.where(codes < 0, len(uniques), codes)
        uniques.append(None)
    return uniques, codes
