"""The rank-interval chart of the top LSOAs and the map of rank uncertainty.

Names come from data: the chart draws text literally (no mathtext) and the map escapes
every text it shows.
"""

from __future__ import annotations

import textwrap

import folium
import geopandas as gpd
import numpy as np
import pandas as pd

from pli._map_assets import (
    Attribution,
    FitView,
    LegendControl,
    MapPanel,
    escape_text,
    inline_assets,
    legend_html,
    stable_element_ids,
)
from pli.maps.figures import _literal_text, plt
from pli.maps.pages import plain_map
from pli.maps.rendering import render_page

__all__ = ["WIDTH_CLASSES", "plot_rank_intervals", "uncertainty_page"]

#: Classes of the 5-95% interval width, as shares of the number of LSOAs, with colours.
WIDTH_CLASSES: tuple[tuple[float, float, str], ...] = (
    (0.0, 0.05, "#fef0d9"),
    (0.05, 0.10, "#fdcc8a"),
    (0.10, 0.20, "#fc8d59"),
    (0.20, 0.40, "#e34a33"),
    (0.40, np.inf, "#b30000"),
)
_NEIGHBOURHOOD_EDGE = "#1f3b73"


@_literal_text
def plot_rank_intervals(intervals: pd.DataFrame, *, top: int = 30, title: str = "", top_n: int = 20) -> plt.Figure:
    """The ``top`` LSOAs of the base run: base rank, median rank and 5-95% interval.

    Parameters
    ----------
    intervals : DataFrame
        :func:`pli.uncertainty.summary.rank_intervals` output.
    top : int
        How many LSOAs (by base rank).
    title : str
        Drawn as written.
    top_n : int
        Drawn as a dashed line and stated with P(top N) in the labels.
    """
    rows = intervals.sort_values(["base_rank", "lsoa_code"]).head(top).iloc[::-1]
    y = np.arange(len(rows))
    fig, ax = plt.subplots(figsize=(8.27, max(4.0, 0.26 * len(rows) + 1.6)), dpi=150)
    ax.hlines(y, rows["rank_p05"], rows["rank_p95"], color="#4a6fa5", linewidth=3, alpha=0.8,
              label="5-95% of runs")
    ax.plot(rows["median_rank"], y, "o", color="#1f3b73", markersize=5, label="median rank")
    ax.plot(rows["base_rank"], y, "|", color="#b30000", markersize=12, markeredgewidth=2,
            label="rank as published (base)")
    ax.axvline(top_n + 0.5, color="#666666", linestyle="--", linewidth=1)
    ax.text(top_n + 0.5, -0.6, f" top {top_n}", color="#444444", fontsize=8, va="bottom")
    labels = [f"{n or c} ({c})  P(top {top_n}) {p:.0%}"
              for c, n, p in zip(rows["lsoa_code"], rows["lsoa_name"], rows["p_top_n"])]
    ax.set_yticks(y, labels, fontsize=7)
    ax.set_xlabel("rank (1 = highest priority)")
    ax.set_xlim(0, max(float(rows["rank_p95"].max()) + 2, top_n + 5))
    ax.set_ylim(-0.7, len(rows) - 0.1)
    ax.grid(axis="x", color="#dddddd", linewidth=0.6)
    ax.legend(loc="upper right", fontsize=7, frameon=True)
    # From the figure's left edge: the axes start right of the long LSOA labels.
    fig.suptitle("\n".join(textwrap.wrap(title, 95)), x=0.01, ha="left", fontsize=10)
    fig.tight_layout()
    return fig


def _width_colour(width: np.ndarray, n: int) -> np.ndarray:
    share = width / max(n, 1)
    colour = np.full(len(width), WIDTH_CLASSES[-1][2], dtype=object)
    for low, high, hex_colour in reversed(WIDTH_CLASSES):
        colour[(share >= low) & (share < high)] = hex_colour
    return colour


def uncertainty_page(
    intervals: pd.DataFrame,
    lsoa: gpd.GeoDataFrame,
    neighbourhoods: gpd.GeoDataFrame | None,
    frequency: pd.DataFrame | None,
    *,
    area: str,
    runs: int,
    top_n: int,
    offline: bool = True,
) -> str:
    """HTML map: LSOAs coloured by the width of their 5-95% rank interval.

    Tooltips give each LSOA's base and median rank, interval and P(top N); the base
    neighbourhoods are outlined with their selection frequency. Every text from data is
    escaped; element ids are stable, so the same inputs give the same bytes.

    Parameters
    ----------
    intervals : DataFrame
        :func:`pli.uncertainty.summary.rank_intervals` output.
    lsoa : GeoDataFrame
        LSOA polygons indexed by code (any projected CRS).
    neighbourhoods : GeoDataFrame, optional
        Base neighbourhoods with ``rank``, ``name``, ``geometry``.
    frequency : DataFrame, optional
        :func:`pli.uncertainty.summary.neighbourhood_frequency` output.
    area : str
    runs : int
    top_n : int
    offline : bool
        Inline every script and style.
    """
    table = intervals.set_index("lsoa_code")
    geo = gpd.GeoDataFrame(table.join(lsoa[["geometry"]], how="inner"), geometry="geometry",
                           crs=lsoa.crs).to_crs(4326)
    n = len(intervals)
    width = (geo["rank_p95"] - geo["rank_p05"]).to_numpy(dtype=float)
    colour = _width_colour(width, n)
    features = []
    for (code, row), fill, w in zip(geo.iterrows(), colour, width):
        tip = (f"<b>{escape_text(code)}</b> {escape_text(row['lsoa_name'])}<br>"
               f"rank {int(row['base_rank'])} as published; median {row['median_rank']:g}<br>"
               f"5-95% of runs: {row['rank_p05']:g} to {row['rank_p95']:g} ({w:g} places)<br>"
               f"in the top {top_n} in {100 * row['p_top_n']:.0f}% of runs")
        features.append({"type": "Feature", "id": escape_text(code),
                         "properties": {"colour": fill, "tip": tip},
                         "geometry": row.geometry.__geo_interface__})
    west, south, east, north = geo.total_bounds
    with stable_element_ids("rank_uncertainty.html"):
        m = plain_map((west, south, east, north), zoom_start=12)
        folium.GeoJson(
            {"type": "FeatureCollection", "features": features},
            name=escape_text("Rank uncertainty"),
            style_function=lambda f: {"fillColor": f["properties"]["colour"], "color": "#ffffff", "weight": 0.4,
                                      "fillOpacity": 0.85},
            tooltip=folium.GeoJsonTooltip(fields=["tip"], labels=False, sticky=True, class_name="pli-tip"),
        ).add_to(m)
        if neighbourhoods is not None and len(neighbourhoods):
            freq = {} if frequency is None else dict(zip(frequency["neighbourhood"], frequency["selection_frequency"]))
            outline = neighbourhoods.to_crs(4326)
            nb_features = []
            for _, row in outline.iterrows():
                share = freq.get(int(row["rank"]))
                said = "" if share is None else f"<br>chosen again in {100 * share:.0f}% of runs"
                nb_features.append({"type": "Feature", "id": f"nb-{int(row['rank'])}",
                                    "properties": {"tip": f"<b>{int(row['rank'])}. {escape_text(row['name'])}</b>"
                                                          f"{said}"},
                                    "geometry": row.geometry.__geo_interface__})
            folium.GeoJson(
                {"type": "FeatureCollection", "features": nb_features},
                name=escape_text("Priority neighbourhoods (base run)"),
                style_function=lambda f: {"fillOpacity": 0, "color": _NEIGHBOURHOOD_EDGE, "weight": 2.5},
                tooltip=folium.GeoJsonTooltip(fields=["tip"], labels=False, sticky=True, class_name="pli-tip"),
            ).add_to(m)
            LegendControl(legend_html("Priority neighbourhoods", [(_NEIGHBOURHOOD_EDGE, "base run", {"width": 2.5})],
                                      kind="line"), layer=None, key="neighbourhoods", position="bottomright").add_to(m)
        items = []
        for low, high, hex_colour in WIDTH_CLASSES:
            lo, hi = int(round(low * n)), (None if not np.isfinite(high) else int(round(high * n)))
            items.append((hex_colour, f"{lo} or more places" if hi is None else f"{lo} to under {hi} places"))
        LegendControl(legend_html("Rank interval width (5-95% of runs)", items, opacity=0.85,
                                  note="Wider = the rank depends more on the analyst's choices. "
                                       "Hover an area for its ranks."),
                      layer=None, key="rank-width", position="bottomleft").add_to(m)
        MapPanel(f"<b>{escape_text(area)}: how sure is each rank?</b><br>{runs:,} Monte Carlo runs over weights, "
                 "normalisation, outliers, harm scheme, time window and neighbourhood rules",
                 key="title", position="topleft", css_class="pli-panel pli-title").add_to(m)
        Attribution(escape_text("Boundaries: ONS (OGL v3). Ranks: pli uncertainty.")).add_to(m)
        FitView([[float(south), float(west)], [float(north), float(east)]]).add_to(m)
        html = render_page(m)
    return inline_assets(html) if offline else html
