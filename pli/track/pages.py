"""Neighbourhood pages of ``pli track``: interactive charts of monthly harm and counts.

One page per priority neighbourhood (``neighbourhoods/<rank>-<name>.html``) and one for the
whole study area (``neighbourhoods/study_area.html``). Each chart shows a measure per slice
with its Sen's-slope trend line (the series' own test and serial-correlation correction),
the 12-month rolling mean and the index window shaded. Charts are inline SVG drawn here,
so the pages work offline with no script at all: hovering a point shows its
``<title>`` tooltip (slice, value, rolling mean). A neighbourhood is a set of LSOAs, so its
charts come from the LSOA-level series (their areas summed); the study-area page has
every series. Every text from data is escaped (:func:`pli._map_assets.escape_text`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import pandas as pd

from pli._map_assets import escape_text
from pli.track.series import TrackSeries, period_label
from pli.track.trend import MannKendall, mann_kendall, seasonal_mann_kendall

__all__ = ["ChartSpec", "neighbourhood_file", "svg_chart", "track_page"]

_ROLLING = {"month": 12, "quarter": 4}
_W, _H = 900, 270
_LEFT, _RIGHT, _TOP, _BOTTOM = 64, 16, 30, 52

_PAGE_CSS = """
body{font:14px/1.45 "Helvetica Neue",Arial,sans-serif;color:#222;margin:18px auto;max-width:940px;padding:0 12px}
h1{font-size:20px;margin:0 0 4px 0} h2{font-size:16px;margin:22px 0 4px 0}
p.pli-note{color:#444;font-size:12px;margin:2px 0}
.pli-chart{width:100%;height:auto;border:1px solid #ddd;background:#fff}
.pli-chart text{font:11px "Helvetica Neue",Arial,sans-serif;fill:#333}
.pli-chart .pli-point{fill:#6baed6;fill-opacity:.35;stroke:none}
.pli-chart .pli-point:hover{fill:#08519c;fill-opacity:1}
table.pli-lsoas{border-collapse:collapse;font-size:12px}
table.pli-lsoas td,table.pli-lsoas th{padding:1px 10px 1px 0;text-align:left}
nav a{margin-right:12px}
"""


@dataclass(frozen=True)
class ChartSpec:
    """How one series' charts are drawn: its test, correction and the index window."""

    period: str = "month"
    seasonal: bool = False
    autocorrelation: str = "none"
    index_window: tuple[str, str] | None = None


def neighbourhood_file(rank: int, name: str) -> str:
    """File name of a neighbourhood page: ``03-west-thornton.html`` (ASCII letters, digits, dashes).

    Examples
    --------
    >>> neighbourhood_file(3, "West Thornton / Selhurst")
    '03-west-thornton-selhurst.html'
    """
    slug = re.sub(r"[^a-z0-9]+", "-", str(name).casefold()).strip("-")[:60] or "neighbourhood"
    return f"{int(rank):02d}-{slug}.html"


def _trend(values: np.ndarray, spec: ChartSpec) -> MannKendall | None:
    steps = _ROLLING[spec.period]
    if spec.seasonal and len(values) >= 2 * steps:
        method = spec.autocorrelation if spec.autocorrelation == "hirsch_slack" else "none"
        return seasonal_mann_kendall(values, period=steps, autocorrelation=method)
    if len(values) >= 3:
        method = spec.autocorrelation if spec.autocorrelation == "hamed_rao" else "none"
        return mann_kendall(values, autocorrelation=method)
    return None


def _ticks(top: float) -> list[float]:
    if top <= 0:
        return [0.0]
    raw = top / 4
    mag = 10 ** np.floor(np.log10(raw))
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw)
    return [float(v) for v in np.arange(0, top + step * 0.999, step)]


def _fmt(v: float) -> str:
    return f"{v:,.0f}" if abs(v) >= 10 or float(v).is_integer() else f"{v:,.1f}"


def svg_chart(values: pd.Series, *, title: str, unit: str, spec: ChartSpec) -> str:
    """An inline SVG line chart: values per slice, trend line, rolling mean, index window.

    Parameters
    ----------
    values : Series
        One value per slice (index: slice labels in order).
    title : str
        Chart heading (escaped here).
    unit : str
        What the values are (``"harm days"``, ``"offences"``), for tooltips and the axis.
    spec : ChartSpec

    Returns
    -------
    str
        ``<svg class="pli-chart">`` markup; every point has a ``<title>`` tooltip.
    """
    v = values.to_numpy(dtype=float)
    labels = [str(x) for x in values.index]
    n = len(v)
    steps = _ROLLING[spec.period]
    rolling = values.rolling(steps, min_periods=steps).mean().to_numpy()
    mk = _trend(v, spec)
    trend = mk.intercept + mk.slope * np.arange(n) if mk is not None else None
    highest = max([float(np.nanmax(v)) if n else 0.0] + ([float(np.nanmax(trend))] if trend is not None else []))
    ticks = _ticks(highest)
    top = ticks[-1] if ticks[-1] > 0 else 1.0
    plot_w, plot_h = _W - _LEFT - _RIGHT, _H - _TOP - _BOTTOM

    def x(i: float) -> float:
        return _LEFT + (plot_w * i / max(n - 1, 1))

    def y(val: float) -> float:
        return _TOP + plot_h * (1 - min(max(val, 0.0), top) / top)

    parts = [f'<svg class="pli-chart" viewBox="0 0 {_W} {_H}" role="img" xmlns="http://www.w3.org/2000/svg">',
             f"<title>{escape_text(title)}</title>",
             f'<text x="{_LEFT}" y="18" style="font-weight:bold">{escape_text(title)}</text>']
    shaded = False
    if spec.index_window is not None and n:
        window = set(period_label(pd.Index(pd.period_range(*spec.index_window, freq="M").strftime("%Y-%m")),
                                  spec.period))
        inside = [i for i, lab in enumerate(labels) if lab in window]
        if inside:
            shaded = True
            x0, x1 = x(inside[0] - 0.5 if inside[0] else 0), x(min(inside[-1] + 0.5, n - 1))
            parts.append(f'<rect class="pli-window" x="{x0:.1f}" y="{_TOP}" width="{x1 - x0:.1f}" '
                         f'height="{plot_h}" fill="#fdd49e" fill-opacity="0.45"><title>index window '
                         f"{escape_text(spec.index_window[0])} to {escape_text(spec.index_window[1])}</title></rect>")
    for t in ticks:
        parts.append(f'<line x1="{_LEFT}" x2="{_W - _RIGHT}" y1="{y(t):.1f}" y2="{y(t):.1f}" stroke="#e5e5e5"/>'
                     f'<text x="{_LEFT - 6}" y="{y(t) + 4:.1f}" text-anchor="end">{_fmt(t)}</text>')
    parts.append(f'<text x="14" y="{_TOP + plot_h / 2:.0f}" transform="rotate(-90 14 {_TOP + plot_h / 2:.0f})" '
                 f'text-anchor="middle">{escape_text(unit)} per {escape_text(spec.period)}</text>')
    every = max(1, n // 12)
    for i in range(0, n, every):
        parts.append(f'<text x="{x(i):.1f}" y="{_H - _BOTTOM + 16}" text-anchor="end" '
                     f'transform="rotate(-40 {x(i):.1f} {_H - _BOTTOM + 16})">{escape_text(labels[i])}</text>')
    if n:
        pts = " ".join(f"{x(i):.1f},{y(val):.1f}" for i, val in enumerate(v))
        parts.append(f'<polyline class="pli-series" points="{pts}" fill="none" stroke="#6baed6" stroke-width="1.2"/>')
        seg = [(i, r) for i, r in enumerate(rolling) if np.isfinite(r)]
        if len(seg) >= 2:
            pts = " ".join(f"{x(i):.1f},{y(r):.1f}" for i, r in seg)
            parts.append(f'<polyline class="pli-rolling" points="{pts}" fill="none" stroke="#08519c" '
                         f'stroke-width="2.4"/>')
    if trend is not None and mk is not None:
        corrected = "" if mk.variance_factor == 1.0 else ", corrected for serial correlation"
        parts.append(f'<line class="pli-trend" x1="{x(0):.1f}" y1="{y(trend[0]):.1f}" x2="{x(n - 1):.1f}" '
                     f'y2="{y(trend[-1]):.1f}" stroke="#cb181d" stroke-width="1.8" stroke-dasharray="6 4">'
                     f"<title>Sen trend {mk.slope * steps:+,.1f} {escape_text(unit)} a year (p {mk.p:.2g}"
                     f"{corrected})</title></line>")
    for i, val in enumerate(v):
        mean = f"; 12-month mean {_fmt(rolling[i])}" if np.isfinite(rolling[i]) else ""
        parts.append(f'<circle class="pli-point" cx="{x(i):.1f}" cy="{y(val):.1f}" r="4">'
                     f"<title>{escape_text(labels[i])}: {_fmt(val)} {escape_text(unit)}{mean}</title></circle>")
    yearly = f"{mk.slope * steps:+,.0f}" if mk is not None and abs(mk.slope * steps) >= 10 else (
        f"{mk.slope * steps:+,.2f}" if mk is not None else "")
    legend = [("#6baed6", f"{unit} per {spec.period}", "")]
    if np.isfinite(rolling).sum() >= 2:
        legend.append(("#08519c", "12-month rolling mean", ""))
    if mk is not None:
        legend.append(("#cb181d", f"Sen trend {yearly} a year, p {mk.p:.2g}", "6 4"))
    lx = _LEFT + 10.0
    for colour, text, dash in legend:
        parts.append(f'<line x1="{lx:.1f}" x2="{lx + 18:.1f}" y1="{_TOP + 8}" y2="{_TOP + 8}" stroke="{colour}" '
                     f'stroke-width="2.4"' + (f' stroke-dasharray="{dash}"' if dash else "") + "/>"
                     f'<text x="{lx + 22:.1f}" y="{_TOP + 12}">{escape_text(text)}</text>')
        lx += 30 + 6.5 * len(text)
    if shaded:
        parts.append(f'<rect x="{lx:.1f}" y="{_TOP + 3}" width="16" height="10" fill="#fdd49e"/>'
                     f'<text x="{lx + 20:.1f}" y="{_TOP + 12}">index window</text>')
    parts.append("</svg>")
    return "".join(parts)


def series_charts(series: TrackSeries, codes: list[str] | None, spec: ChartSpec, *, label: str) -> str:
    """Harm and count charts of one series, summed over ``codes`` (None: every area)."""
    cols = list(series.harm.columns) if codes is None else [c for c in codes if c in series.harm.columns]
    harm = series.harm[cols].sum(axis=1)
    counts = series.counts[cols].sum(axis=1).astype(float)
    return (svg_chart(harm, title=f"{label}: crime harm ({series.name})", unit="harm days", spec=spec)
            + svg_chart(counts, title=f"{label}: offences ({series.name})", unit="offences", spec=spec))


def track_page(title: str, intro: list[str], sections: list[tuple[str, str]], *, nav: list[tuple[str, str]],
               lsoas: pd.DataFrame | None = None) -> str:
    """A whole HTML page: heading, notes, links, an LSOA table and chart sections.

    ``sections`` pairs a heading (escaped here) with chart markup from :func:`svg_chart`;
    ``nav`` pairs an href (a relative file name written by pli) with its text.
    """
    links = " ".join(f'<a href="{escape_text(href)}">{escape_text(text)}</a>' for href, text in nav)
    body = [f"<nav>{links}</nav>", f"<h1>{escape_text(title)}</h1>"]
    body += [f'<p class="pli-note">{escape_text(line)}</p>' for line in intro]
    for heading, charts in sections:
        body.append(f"<h2>{escape_text(heading)}</h2>{charts}")
    if lsoas is not None and len(lsoas):
        rows = "".join("<tr>" + "".join(f"<td>{escape_text(v)}</td>" for v in r) + "</tr>"
                       for r in lsoas.itertuples(index=False))
        head = "".join(f"<th>{escape_text(c)}</th>" for c in lsoas.columns)
        body.append(f'<h2>LSOAs</h2><table class="pli-lsoas"><tr>{head}</tr>{rows}</table>')
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
            f"<title>{escape_text(title)}</title><style>{_PAGE_CSS}</style></head><body>"
            + "".join(body) + "</body></html>\n")
