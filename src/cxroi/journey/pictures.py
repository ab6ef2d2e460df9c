"""The journey map and the service blueprint as pictures (SVG or PNG), drawn without a browser.

- **Map**: the stages across the top, their touchpoints below, each cell coloured by a chosen
  metric (NPS by default) with its value and ``n``, and under it the emotion curve: the mean
  sentiment of each touchpoint's comments.
- **Blueprint**: a column per touchpoint and the swimlanes of a service blueprint (Shostack
  1984; Bitner, Ostrom & Morgan 2008): customer actions, frontstage, the **line of
  visibility**, backstage steps (with their measured volume and time to the next step when an
  event type measures them) and support processes and systems; pain points are marked.

Drawn with matplotlib's object API (no pyplot, no display), text kept as SVG ``<text>`` so the
labels can be searched and read by screen readers; every text is drawn with ``parse_math``
off, so a ``$`` in a touchpoint name is a dollar, not mathematics. The report and the
dashboard embed the same SVG.
"""

from __future__ import annotations

import io
import textwrap
from collections.abc import Collection, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from cxroi.errors import CxroiError
from cxroi.files import atomic_file
from cxroi.journey.document import Journey

__all__ = ["FORMATS", "blueprint_figure", "map_figure", "save_figure"]

FORMATS = ("svg", "png")
LANES = ("Customer actions", "Frontstage", "Backstage", "Support processes")
_RC: Any = {"svg.fonttype": "none", "font.family": "DejaVu Sans", "font.size": 9}
_INK, _MUTED, _PAIN = "#1f2933", "#616e7c", "#c62828"


def _wrap(text: str | None, width: int = 18, lines: int = 5) -> str:
    if not text:
        return ""
    out = [w for part in str(text).split("\n") for w in (textwrap.wrap(part, width) or [""])]
    return "\n".join(out[:lines]) + ("…" if len(out) > lines else "")


def _value(metrics: pd.DataFrame, tp: str, metric: str) -> tuple[float, int]:
    row = metrics[(metrics["touchpoint"] == tp) & (metrics["metric"] == metric)]
    if row.empty:
        return np.nan, 0
    return float(row["value"].iloc[0]), int(row["n"].iloc[0])


def _columns(journey: Journey) -> list[tuple[str, str, str]]:
    """(stage id, stage name, touchpoint id) per column, stage by stage."""
    return [(s.id, s.name, t.id) for s in journey.stages for t in s.touchpoints]


def _stage_headers(ax: Any, journey: Journey, y: float, h: float) -> None:
    from matplotlib.patches import Rectangle

    x = 0
    for i, s in enumerate(journey.stages):
        w = len(s.touchpoints)
        if not w:
            continue
        colour = "#e4e7eb" if i % 2 == 0 else "#cbd2d9"
        ax.add_patch(Rectangle((x, y), w, h, facecolor=colour, edgecolor="white"))
        ax.text(x + w / 2, y + h / 2, s.name, ha="center", va="center", fontweight="bold",
                color=_INK, parse_math=False)  # fmt: skip
        x += w


def _styled(fn: Any) -> Any:
    """Build the figure under cxroi's drawing style (fonts are fixed when text is made)."""
    import functools

    @functools.wraps(fn)
    def run(*args: Any, **kwargs: Any) -> Any:
        from matplotlib import rc_context

        with rc_context(_RC):
            return fn(*args, **kwargs)

    return run


@_styled
def map_figure(journey: Journey, metrics: pd.DataFrame, *, metric: str = "nps") -> Any:
    """The journey map of ``journey`` coloured by ``metric`` of the touchpoint metrics
    (:func:`cxroi.journey.metrics.touchpoint_metrics`, with ``sentiment`` for the curve).

    Raises
    ------
    CxroiError
        When ``metric`` is not one of the metrics.
    """
    from matplotlib import colormaps
    from matplotlib.colors import Normalize
    from matplotlib.figure import Figure
    from matplotlib.patches import Rectangle

    known = sorted(set(metrics["metric"]))
    if metric not in known:
        raise CxroiError(f"--metric {metric!r}: choose one of {', '.join(known)}")
    cols = _columns(journey)
    k = max(len(cols), 1)
    vals = np.array([_value(metrics, tp, metric)[0] for _, _, tp in cols], dtype=float)
    fig = Figure(figsize=(max(6.0, 1.45 * k), 4.6))
    ax = fig.add_axes((0.02, 0.30, 0.96, 0.66))
    _stage_headers(ax, journey, 2.0, 0.7)
    finite = vals[np.isfinite(vals)]
    if metric == "nps":
        norm = Normalize(-100, 100)
    else:
        lo, hi = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
        norm = Normalize(lo, hi if hi > lo else lo + 1)
    cmap = colormaps["RdYlGn"]
    for i, (_, _, tp) in enumerate(cols):
        v, n = _value(metrics, tp, metric)
        face = cmap(norm(v)) if np.isfinite(v) else (0.96, 0.97, 0.98, 1.0)
        ax.add_patch(Rectangle((i, 0.0), 1, 2.0, facecolor=face, edgecolor="white", lw=2))
        # dark cells get white text (relative luminance, WCAG)
        ink = "white" if 0.2126 * face[0] + 0.7152 * face[1] + 0.0722 * face[2] < 0.45 else _INK
        name = journey.touchpoint(tp).name
        ax.text(i + 0.5, 1.55, _wrap(name, 14, 2), ha="center", va="center", color=ink,
                parse_math=False)  # fmt: skip
        shown = f"{v:+.0f}" if metric == "nps" and np.isfinite(v) else (
            f"{v:,.3g}" if np.isfinite(v) else "no data")  # fmt: skip
        ax.text(i + 0.5, 0.85, shown, ha="center", va="center", fontsize=13, color=ink,
                fontweight="bold", parse_math=False)  # fmt: skip
        ax.text(i + 0.5, 0.35, f"n = {n:,}", ha="center", va="center",
                color=ink if ink == "white" else _MUTED, parse_math=False)  # fmt: skip
    ax.set_xlim(0, k)
    ax.set_ylim(0, 2.7)
    ax.axis("off")
    ax.set_title(f"Journey map: {metric} by touchpoint", loc="left", color=_INK,
                 parse_math=False)  # fmt: skip
    curve = fig.add_axes((0.02, 0.05, 0.96, 0.22))
    sent = np.array([_value(metrics, tp, "sentiment")[0] for _, _, tp in cols], dtype=float)
    x = np.arange(k) + 0.5
    curve.axhline(0, color=_MUTED, lw=0.8)
    curve.plot(x, sent, marker="o", color="#3e4c59")  # NaN breaks the line: no comments there
    curve.set_xlim(0, k)
    top = np.nanmax(np.abs(sent)) if np.isfinite(sent).any() else 1.0
    curve.set_ylim(-1.4 * top, 1.4 * top)
    curve.set_xticks([])
    curve.set_ylabel("emotion", color=_MUTED)
    curve.text(0.005, 0.95, "emotion curve: mean sentiment of the comments at each touchpoint",
               transform=curve.transAxes, va="top", color=_MUTED, fontsize=8,
               parse_math=False)  # fmt: skip
    for side in ("top", "right", "bottom"):
        curve.spines[side].set_visible(False)
    return fig


@_styled
def blueprint_figure(
    journey: Journey,
    metrics: pd.DataFrame,
    *,
    backstage: Mapping[str, tuple[int, float]] | None = None,
    pain_points: Collection[str] = (),
) -> Any:
    """The service blueprint of ``journey``: a column per touchpoint and the blueprint's lanes.

    ``backstage`` maps an event type to its volume and median hours to the next step (the
    backstage steps it measures show them); ``pain_points`` are touchpoint ids marked in red.
    """
    from matplotlib.figure import Figure
    from matplotlib.patches import FancyBboxPatch

    cols = _columns(journey)
    k = max(len(cols), 1)
    fig = Figure(figsize=(max(7.0, 1.9 * k), 7.2))
    ax = fig.add_axes((0.11, 0.02, 0.88, 0.9))
    _stage_headers(ax, journey, 9.0, 0.6)
    lane_y = {"Customer actions": 7.0, "Frontstage": 5.0, "Backstage": 2.6,
              "Support processes": 0.6}  # fmt: skip
    for lane, y in lane_y.items():
        ax.text(-0.05, y + 0.8, lane, ha="right", va="center", color=_INK, fontweight="bold",
                parse_math=False)  # fmt: skip
        ax.axhline(y - 0.15, color="#e4e7eb", lw=0.8)
    ax.axhline(4.55, color=_INK, lw=1.2, ls="--")
    ax.text(-0.05, 4.55, "line of visibility", ha="right", va="center", color=_INK,
            fontsize=8, style="italic", parse_math=False)  # fmt: skip
    ax.axhline(8.68, color=_INK, lw=0.8)
    ax.text(-0.05, 8.68, "line of interaction", ha="right", va="center", color=_MUTED,
            fontsize=7, style="italic", parse_math=False)  # fmt: skip
    backstage = backstage or {}
    for i, (_, _, tid) in enumerate(cols):
        t = journey.touchpoint(tid)
        pain = tid in pain_points
        edge = _PAIN if pain else "#9aa5b1"
        nps, n = _value(metrics, tid, "nps")
        head = t.name + (f"\nNPS {nps:+.0f} (n = {n:,})" if np.isfinite(nps) else "")
        cells = {
            "Customer actions": t.customer_action or head,
            "Frontstage": t.frontstage or (f"{t.channel}" if t.channel else ""),
            "Backstage": "\n".join(
                _backstage_line(b.step, b.event, backstage) for b in t.backstage
            ),  # fmt: skip
            "Support processes": ", ".join(t.support),
        }
        for lane, text in cells.items():
            y = lane_y[lane]
            ax.add_patch(FancyBboxPatch((i + 0.06, y), 0.88, 1.6, boxstyle="round,pad=0.02",
                                        facecolor="#ffffff" if text else "#f5f7fa",
                                        edgecolor=edge, lw=2 if pain else 0.8))  # fmt: skip
            ax.text(i + 0.5, y + 0.8, _wrap(text, 20, 6), ha="center", va="center",
                    fontsize=7.5, color=_INK, parse_math=False)  # fmt: skip
        ax.text(i + 0.5, 8.84, tid, ha="center", va="center", fontsize=7, color=_MUTED,
                parse_math=False)  # fmt: skip
        if pain:
            ax.text(i + 0.5, 6.75, "pain point", ha="center", va="center", color=_PAIN,
                    fontsize=8, fontweight="bold", parse_math=False)  # fmt: skip
    ax.set_xlim(-0.02, k)
    ax.set_ylim(0.3, 9.7)  # stage headers 9.0-9.6, touchpoint ids at 8.84
    ax.axis("off")
    ax.set_title("Service blueprint", loc="left", color=_INK, parse_math=False)
    return fig


def _backstage_line(step: str, event: str | None, measured: Mapping[str, tuple[int, float]]) -> str:
    if event and event in measured:
        n, hours = measured[event]
        return f"{step} ({n:,} events, next step p50 {hours:,.1f} h)"
    return f"{step} (not measured)" if event else step


def save_figure(fig: Any, out: str | Path) -> Path:
    """Write ``fig`` to ``out`` (``.svg`` or ``.png``), whole or not at all.

    Raises
    ------
    CxroiError
        For another file type, or a folder that does not exist.
    """
    from matplotlib import rc_context

    path = Path(out)
    kind = path.suffix.lower().lstrip(".")
    if kind not in FORMATS:
        raise CxroiError(f"--out {path}: write a .svg or .png file")
    buf = io.BytesIO()
    with rc_context(_RC):
        fig.savefig(buf, format=kind, dpi=150, bbox_inches="tight",
                    metadata={"Date": None} if kind == "svg" else None)  # fmt: skip
    with atomic_file(path, "wb") as f:
        f.write(buf.getvalue())
    return path
