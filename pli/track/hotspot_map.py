"""The emerging-hot-spot map of ``pli track`` (``maps/emerging_hotspots.html``).

One layer per series with every area coloured by its emerging hot spot class (hot reds,
cold blues, no pattern light grey and almost transparent), one layer per series of the
areas whose harm trend is significantly up (deteriorating, red outline) or down
(improving, blue outline), and the priority neighbourhoods, whose popups link to their
chart pages. Layer switcher top right; the class legend follows the series layers. Built
on the plain pli map of :func:`pli.maps.pages.plain_map` with the shared legend, panel and
id helpers, so the bytes are reproducible; every text from data is escaped.
"""

from __future__ import annotations

import folium
import geopandas as gpd
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
from pli.maps.pages import plain_map
from pli.maps.prepare import _simplify, _to_web
from pli.maps.rendering import render_page
from pli.track.emerging import CLASSES
from pli.track.series import TrackSeries

__all__ = ["CLASS_COLOURS", "emerging_hotspot_page"]

CLASS_COLOURS: dict[str, str] = {
    "intensifying hot spot": "#67000d", "persistent hot spot": "#a50f15", "diminishing hot spot": "#de2d26",
    "consecutive hot spot": "#fb6a4a", "new hot spot": "#fc9272", "oscillating hot spot": "#f16913",
    "sporadic hot spot": "#fdae6b", "historical hot spot": "#fcbba1",
    "intensifying cold spot": "#08306b", "persistent cold spot": "#08519c", "diminishing cold spot": "#2171b5",
    "consecutive cold spot": "#4292c6", "new cold spot": "#6baed6", "oscillating cold spot": "#807dba",
    "sporadic cold spot": "#9ecae1", "historical cold spot": "#c6dbef",
    "no pattern": "#d9d9d9",
}
"""Fill colour of every class in :data:`pli.track.emerging.CLASSES`."""

_CHANGE = {"deteriorating": "#cb181d", "improving": "#2171b5"}


def _tip(code: str, name: str, pattern: str, trend: pd.Series | None) -> str:
    head = f"<b>{escape_text(name)}</b>" + ("" if name == code else f" ({escape_text(code)})")
    text = f"{head}<br>{escape_text(pattern)}"
    if trend is not None:
        direction = {"up": "rising", "down": "falling"}.get(str(trend["direction"]), "no significant trend")
        text += (f"<br>harm {direction}: {float(trend['sen_slope_per_year']):+,.1f} harm days a year "
                 f"(q {float(trend['q']):.2g})")
    return text


def emerging_hotspot_page(series: list[TrackSeries], patterns: pd.DataFrame, trends: pd.DataFrame,
                          changing: pd.DataFrame, *, neighbourhoods: gpd.GeoDataFrame | None = None,
                          pages: dict[int, str] | None = None, study_area_page: str | None = None,
                          title: str = "Emerging hot spots", simplify_m: float = 5.0, offline: bool = True) -> str:
    """The map page: classes per series, changing areas, neighbourhoods linking to their pages.

    Parameters
    ----------
    series : list of TrackSeries
        Areas (with ``area_name`` and geometry) of each series.
    patterns, trends, changing : DataFrame
        ``emerging_hotspots.csv``, ``trends.csv`` and ``changing_areas.csv`` of the run.
    neighbourhoods : GeoDataFrame, optional
        ``neighbourhood_rank``, ``neighbourhood`` and geometry (any projected CRS).
    pages : dict, optional
        Neighbourhood rank -> relative link to its page (files written by pli).
    study_area_page : str, optional
        Relative link to the study-area chart page.
    title : str
    simplify_m : float
        Simplification tolerance in metres (shared edges kept shared, as the index maps).
    offline : bool
        Inline Leaflet's JavaScript and CSS.

    Returns
    -------
    str
    """
    frames = [_to_web(s.areas.set_geometry(_simplify(s.areas.geometry, simplify_m, coverage=s.level != "grid")))
              for s in series]
    west = min(f.total_bounds[0] for f in frames)
    south = min(f.total_bounds[1] for f in frames)
    east = max(f.total_bounds[2] for f in frames)
    north = max(f.total_bounds[3] for f in frames)
    harm = trends[trends["measure"] == "harm_days"].set_index(["series", "area_code"])
    with stable_element_ids("emerging_hotspots.html"):
        m = plain_map((west, south, east, north), zoom_start=12)
        first_layer = None
        for k, (s, geo) in enumerate(zip(series, frames)):
            pat = patterns[patterns["series"] == s.name].set_index("area_code")["pattern"]
            features = []
            for code, row in geo.iterrows():
                pattern = str(pat.get(code, "no pattern"))
                t = harm.loc[(s.name, code)] if (s.name, code) in harm.index else None
                features.append({
                    "type": "Feature", "id": escape_text(code),
                    "properties": {"colour": CLASS_COLOURS.get(pattern, "#d9d9d9"),
                                   "opacity": 0.15 if pattern == "no pattern" else 0.8,
                                   "pattern": escape_text(pattern),
                                   "tip": _tip(str(code), str(row["area_name"]), pattern, t)},
                    "geometry": row.geometry.__geo_interface__,
                })
            layer = folium.GeoJson(
                {"type": "FeatureCollection", "features": features},
                name=escape_text(f"{s.name}: emerging hot spots ({s.level}, by {s.period})"),
                show=k == 0,
                style_function=lambda f: {"fillColor": f["properties"]["colour"], "color": "#ffffff",
                                          "weight": 0.5, "fillOpacity": f["properties"]["opacity"]},
                tooltip=folium.GeoJsonTooltip(fields=["tip"], labels=False, sticky=True, class_name="pli-tip"),
            )
            layer.add_to(m)
            first_layer = first_layer or layer
            change = changing[changing["series"] == s.name].set_index("area_code")["change"]
            moving = geo[geo.index.isin(change.index)]
            if len(moving):
                feats = [{
                    "type": "Feature", "id": escape_text(code),
                    "properties": {"edge": _CHANGE.get(str(change[code]), "#555555"),
                                   "tip": _tip(str(code), str(row["area_name"]), str(change[code]) + " (harm trend)",
                                               harm.loc[(s.name, code)] if (s.name, code) in harm.index else None)},
                    "geometry": row.geometry.__geo_interface__,
                } for code, row in moving.iterrows()]
                folium.GeoJson(
                    {"type": "FeatureCollection", "features": feats},
                    name=escape_text(f"{s.name}: deteriorating and improving"),
                    show=k == 0,
                    style_function=lambda f: {"fillColor": f["properties"]["edge"], "color": f["properties"]["edge"],
                                              "weight": 3, "fillOpacity": 0.05, "dashArray": "6 4"},
                    tooltip=folium.GeoJsonTooltip(fields=["tip"], labels=False, sticky=True, class_name="pli-tip"),
                ).add_to(m)
        if neighbourhoods is not None and len(neighbourhoods):
            nb = _to_web(neighbourhoods.set_geometry(_simplify(neighbourhoods.geometry, simplify_m, coverage=False)))
            feats = []
            for _, row in nb.iterrows():
                rank, name = int(row["neighbourhood_rank"]), str(row["neighbourhood"])
                href = (pages or {}).get(rank)
                link = (f'<br><a href="{escape_text(href)}" target="_blank">monthly harm and counts</a>'
                        if href else "")
                feats.append({"type": "Feature", "id": f"nb-{rank}",
                              "properties": {"tip": f"<b>{rank}. {escape_text(name)}</b>{link}"},
                              "geometry": row.geometry.__geo_interface__})
            folium.GeoJson(
                {"type": "FeatureCollection", "features": feats},
                name=escape_text("Priority neighbourhoods (click for charts)"),
                style_function=lambda f: {"fillColor": "#000000", "color": "#1a1a1a", "weight": 2.5,
                                          "fillOpacity": 0.0},
                popup=folium.GeoJsonPopup(fields=["tip"], labels=False, class_name="pli-tip"),
            ).add_to(m)
        folium.LayerControl(position="topright", collapsed=False).add_to(m)
        present = set(patterns["pattern"]) | {"no pattern"}
        items = [(CLASS_COLOURS[c], c) for c in CLASSES if c in present]
        LegendControl(legend_html("Emerging hot spot class", items, opacity=0.8,
                                  note="Gi* of counts per slice (FDR); classes as ArcGIS Emerging Hot Spot "
                                       "Analysis. Hover an area for its class and harm trend."),
                      layer=first_layer, key="emerging-classes", position="bottomleft").add_to(m)
        LegendControl(legend_html("Harm trend (Mann-Kendall, FDR)",
                                  [(_CHANGE["deteriorating"], "deteriorating", {"dash": "dashed"}),
                                   (_CHANGE["improving"], "improving", {"dash": "dashed"}),
                                   ("#1a1a1a", "priority neighbourhood")], kind="line"),
                      layer=None, key="changing-areas", position="bottomright").add_to(m)
        link = (f'<br><a href="{escape_text(study_area_page)}" target="_blank">study area charts</a>'
                if study_area_page else "")
        MapPanel(f"<h1>{escape_text(title)}</h1><p>One layer per series; switch them top right.{link}</p>",
                 key="title", position="topleft", css_class="pli-panel pli-title").add_to(m)
        Attribution(escape_text("Boundaries: ONS (OGL v3). Crime: police.uk and the Met (OGL v3). pli.")).add_to(m)
        FitView([[float(south), float(west)], [float(north), float(east)]]).add_to(m)
        html = render_page(m)
    return inline_assets(html) if offline else html
