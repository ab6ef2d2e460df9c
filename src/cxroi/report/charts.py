"""Charts of result tables: Vega-Lite specs (Vega-Altair) rendered to SVG by ``vl-convert``.

Every chart is an SVG string, drawn on the server with no browser and no script, so the same
picture goes into the HTML report (which opens offline), its PDF, and the dashboard (whose
Content-Security-Policy allows no script at all). Each mark carries a ``<title>`` with its
values, so hovering shows them in any browser; screen readers read the same text from the
marks' ``aria-label``. Text from the data is escaped by the renderer.

Intervals are drawn wherever the table has them: error bars on bars, a band around a trend.
"""

from __future__ import annotations

import re
from typing import Any

import pandas as pd

__all__ = ["bar_ci", "svg", "trend", "warm"]

WIDTH = 520
PALETTE = ["#1d5fd1", "#d1741d", "#2e8b57", "#8e44ad", "#c0392b", "#7f8c8d"]
_MARK = re.compile(r'<(path|rect|circle|line|symbol)([^<>]*?aria-label="([^"]*)"[^<>]*?)/>')


def _config(chart: Any) -> Any:
    return (
        chart.configure_view(stroke=None)
        .configure_axis(
            labelFont="system-ui, sans-serif",
            titleFont="system-ui, sans-serif",
            labelLimit=220,
            grid=True,
            gridColor="#e6e8eb",
        )
        .configure_title(font="system-ui, sans-serif", anchor="start", fontSize=14)
    )


def svg(chart: Any) -> str:
    """``chart`` (an Altair chart) as SVG, each mark with a hover ``<title>``."""
    import vl_convert as vlc

    out = vlc.vegalite_to_svg(_config(chart).to_dict())
    out = _MARK.sub(lambda m: f"<{m[1]}{m[2]}><title>{m[3]}</title></{m[1]}>", out)
    return out.replace("<svg ", '<svg role="img" ', 1)


def warm() -> None:
    """Import Altair and start the renderer (the first chart would wait about two seconds for
    them; the next ones take a tenth)."""
    import altair  # noqa: F401
    import vl_convert as vlc

    vlc.vegalite_to_svg({"mark": "point", "data": {"values": [{"x": 1}]},
                         "encoding": {"x": {"field": "x", "type": "quantitative"}}})  # fmt: skip


def _has_ci(frame: pd.DataFrame, lo: str | None, hi: str | None) -> bool:
    return bool(lo and hi and lo in frame and hi in frame and frame[[lo, hi]].notna().any().any())


def _ci_cols(lo: str | None, hi: str | None, have: bool) -> list[str]:
    return [lo, hi] if have and lo and hi else []


def _clean(frame: pd.DataFrame, cols: list[str]) -> pd.DataFrame:
    f = frame[[c for c in cols if c in frame]].copy()
    for c in f.columns:
        if f[c].dtype == object:
            f[c] = f[c].astype(str)
    return f


def bar_ci(
    frame: pd.DataFrame,
    *,
    category: str,
    value: str = "estimate",
    lo: str | None = "ci_low",
    hi: str | None = "ci_high",
    title: str = "",
    unit: str = "",
    color: str | None = None,
    sort: bool = True,
    zero_line: bool = False,
    width: int = WIDTH,
) -> str:
    """Horizontal bars of ``value`` by ``category`` with the interval ``lo``-``hi`` as an
    error bar; ``sort`` orders them largest first."""
    import altair as alt

    have_ci = _has_ci(frame, lo, hi)
    f = _clean(frame, [category, value, *_ci_cols(lo, hi, have_ci), *([color] if color else [])])
    order = "-x" if sort else None
    axis_title = f"{value} ({unit})" if unit else value
    tip = [alt.Tooltip(f"{category}:N"), alt.Tooltip(f"{value}:Q", format=",.3~g")]
    if have_ci:
        tip += [alt.Tooltip(f"{lo}:Q", format=",.3~g"), alt.Tooltip(f"{hi}:Q", format=",.3~g")]
    y = alt.Y(f"{category}:N", sort=order, title=None)
    base = alt.Chart(f, title=title).encode(y=y)
    bars = base.mark_bar(color=PALETTE[0], opacity=0.85).encode(
        x=alt.X(f"{value}:Q", title=axis_title),
        tooltip=tip,
        **({"color": alt.Color(f"{color}:N", scale=alt.Scale(range=PALETTE))} if color else {}),
    )
    layers = [bars]
    if have_ci:
        layers.append(
            base.mark_errorbar(color="#222", ticks=True).encode(
                x=alt.X(f"{lo}:Q", title=axis_title), x2=f"{hi}:Q", tooltip=tip
            )
        )
    if zero_line:
        layers.append(alt.Chart(pd.DataFrame({"z": [0]})).mark_rule(color="#555").encode(x="z:Q"))
    height = max(60, 22 * len(f))
    return svg(alt.layer(*layers).properties(width=width, height=height))


def trend(
    frame: pd.DataFrame,
    *,
    x: str = "period",
    y: str = "value",
    lo: str | None = "ci_low",
    hi: str | None = "ci_high",
    color: str | None = None,
    title: str = "",
    unit: str = "",
    bands: dict[str, tuple[float, float]] | None = None,
    width: int = WIDTH,
) -> str:
    """``y`` over ``x`` as a line with points, its interval as a band, one line per ``color``;
    ``bands`` shades named reference ranges (the NPS benchmarks)."""
    import altair as alt

    have_ci = _has_ci(frame, lo, hi)
    f = _clean(frame, [x, y, *_ci_cols(lo, hi, have_ci), *([color] if color else [])])
    enc_color = {"color": alt.Color(f"{color}:N", scale=alt.Scale(range=PALETTE))} if color else {}
    tip = [alt.Tooltip(f"{x}:N"), alt.Tooltip(f"{y}:Q", format=",.3~g")]
    if color:
        tip.insert(0, alt.Tooltip(f"{color}:N"))
    if have_ci:
        tip += [alt.Tooltip(f"{lo}:Q", format=",.3~g"), alt.Tooltip(f"{hi}:Q", format=",.3~g")]
    ytitle = f"{y} ({unit})" if unit else y
    base = alt.Chart(f, title=title).encode(x=alt.X(f"{x}:O", title=None))
    layers = []
    for i, (name, (a, b)) in enumerate((bands or {}).items()):
        band = pd.DataFrame({"a": [a], "b": [b], "band": [name]})
        layers.append(
            alt.Chart(band)
            .mark_rect(opacity=0.10, color=PALETTE[2 + i])
            .encode(y="a:Q", y2="b:Q", tooltip=["band:N", "a:Q", "b:Q"])
        )
    if have_ci:
        layers.append(
            base.mark_area(opacity=0.18).encode(
                y=alt.Y(f"{lo}:Q", title=ytitle), y2=f"{hi}:Q", **enc_color
            )
        )
    layers.append(
        base.mark_line(point=True).encode(
            y=alt.Y(f"{y}:Q", title=ytitle, scale=alt.Scale(zero=False)), tooltip=tip, **enc_color
        )
    )
    return svg(alt.layer(*layers).properties(width=width, height=220))
