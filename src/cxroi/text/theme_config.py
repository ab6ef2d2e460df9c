"""The analyst's theme configuration: thresholds and edits of discovered themes.

The edits live in the workspace's ``cxroi.toml``; the analyses layer passes the parsed
``[themes]`` section to :meth:`ThemeConfig.from_dict`. They are applied on every assignment
(:meth:`cxroi.text.theme_model.ThemeModel.transform`), so the same fitted model serves new
comments::

    [themes]
    n_themes = "auto"          # or an integer
    min_confidence = 0.35

    [themes.rename]            # discovered id -> name
    t01 = "delivery"

    [themes.merge]             # new name -> themes merged into it
    support = ["t02", "t05"]

    [themes.split.t03]         # a theme split by keywords; unmatched comments stay in t03
    billing = ["invoice", "bill", "charge"]
    pricing = ["price", "expensive"]

    [themes.pin]               # keyword themes: any comment with one of the words
    refunds = ["refund", "money back"]

    [themes]
    drop = ["t06"]             # themes to hide

Edits run in that order (rename, merge, split, pin, drop); later steps may use new names.
Redaction options are the ``[themes.redact]`` table (:mod:`cxroi.privacy`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from cxroi.errors import CxroiError
from cxroi.privacy import Redactor

__all__ = ["ThemeConfig"]


def _keyword_re(words: Sequence[str]) -> re.Pattern[str]:
    alts = sorted({re.escape(w.lower().strip()) for w in words if w.strip()}, key=len, reverse=True)
    if not alts:
        raise CxroiError("a keyword theme needs at least one non-empty keyword")
    return re.compile(r"\b(?:" + "|".join(alts) + r")\b", re.IGNORECASE)


@dataclass(frozen=True)
class ThemeConfig:
    """The ``[themes]`` section of ``cxroi.toml`` (see the module docstring).

    Parameters
    ----------
    n_themes
        Themes to discover, or ``"auto"``.
    min_confidence
        Least confidence at which a sentence gets a theme besides its best one.
    min_explained
        Least share of a sentence the themes must explain for it to get any theme.
    rename, merge, split, pin, drop
        The analyst's edits, applied in that order.
    redact
        Redaction of personal data before discovery and assignment.
    """

    n_themes: int | str = "auto"
    min_confidence: float = 0.35
    min_explained: float = 0.01
    rename: dict[str, str] = field(default_factory=dict)
    merge: dict[str, list[str]] = field(default_factory=dict)
    split: dict[str, dict[str, list[str]]] = field(default_factory=dict)
    pin: dict[str, list[str]] = field(default_factory=dict)
    drop: list[str] = field(default_factory=list)
    redact: Redactor = field(default_factory=Redactor)

    @classmethod
    def from_dict(cls, section: Mapping[str, Any] | None) -> ThemeConfig:
        """Build from the parsed ``[themes]`` table; unknown keys raise :class:`CxroiError`."""
        d = dict(section or {})
        known = set(cls.__dataclass_fields__)
        unknown = set(d) - known
        if unknown:
            raise CxroiError(
                f"cxroi.toml [themes]: unknown key(s) {', '.join(sorted(unknown))}; "
                f"known: {', '.join(sorted(known))}"
            )
        d["redact"] = Redactor.from_config(d.get("redact"), where="[themes.redact]")
        n = d.get("n_themes", "auto")
        if not (n == "auto" or (isinstance(n, int) and n >= 1)):
            raise CxroiError(f"cxroi.toml [themes]: n_themes must be 'auto' or >= 1, got {n!r}")
        for key in ("merge", "pin"):
            for name, members in d.get(key, {}).items():
                if not isinstance(members, list) or not members:
                    raise CxroiError(f"cxroi.toml [themes.{key}]: {name} needs a list of names")
        return cls(**d)

    def edit(
        self,
        base: np.ndarray,
        themes: Sequence[str],
        terms: Sequence[Sequence[str]],
        texts: Sequence[Any],
    ) -> tuple[list[str], list[str], np.ndarray]:
        """Apply the edits to comment x discovered-theme confidences.

        Parameters
        ----------
        base
            Comment x theme confidences (0 = not assigned), columns in the order of ``themes``.
        themes
            Discovered theme ids (``t01``, ...).
        terms
            Top terms of each discovered theme (its label is the first three).
        texts
            The comments, row-aligned with ``base`` (for keyword splits and pins).

        Returns
        -------
        names, labels, confidence
            Theme names after the edits, a readable label per theme (its name if the analyst
            named it, else its top terms) and the edited ``float32`` confidence matrix.
        """
        cols: dict[str, np.ndarray] = {t: base[:, j] for j, t in enumerate(themes)}
        labels = {t: " / ".join(tt[:3]) for t, tt in zip(themes, terms, strict=True)}

        def need(name: str, where: str) -> str:
            if name not in cols:
                raise CxroiError(
                    f"cxroi.toml [themes.{where}]: no theme {name!r}; themes: {', '.join(cols)}"
                )
            return name

        for old, new in self.rename.items():
            need(old, "rename")
            cols = {(new if k == old else k): v for k, v in cols.items()}
            labels[new] = str(new)
            labels.pop(old, None)
        for new, members in self.merge.items():
            arrs = [cols.pop(need(m, "merge")) for m in members]
            for m in members:
                labels.pop(m, None)
            cols[new] = np.maximum.reduce(arrs)
            labels[new] = str(new)
        lowered: list[str] = []
        if self.split or self.pin:
            lowered = [t if isinstance(t, str) else "" for t in texts]
        for old, parts in self.split.items():
            conf = cols[need(old, "split")]
            rest = conf.copy()
            for new, words in parts.items():
                rx = _keyword_re(words)
                hit = np.fromiter((bool(rx.search(t)) for t in lowered), bool, len(lowered))
                cols[new] = np.where(hit, conf, 0.0).astype(np.float32)
                labels[new] = str(new)
                rest[hit] = 0.0
            cols[old] = rest
        for name, words in self.pin.items():
            rx = _keyword_re(words)
            hit = np.fromiter((bool(rx.search(t)) for t in lowered), bool, len(lowered))
            prior = cols.get(name, np.zeros(len(lowered), dtype=np.float32))
            cols[name] = np.where(hit, np.float32(1.0), prior).astype(np.float32)
            labels.setdefault(name, str(name))
        for name in self.drop:
            cols.pop(need(name, "drop"))
        names = list(cols)
        mat = np.column_stack([cols[n] for n in names]) if names else np.zeros((len(base), 0))
        return names, [labels[n] for n in names], mat.astype(np.float32)
