"""Area maps of big study areas, split into parts with an overview page.

A single Leaflet page holding every LSOA of a police force or of England and Wales
(34,753 LSOAs) weighs about 190 MB and takes up to a minute to open. Above
``maps.split_above`` LSOAs the detailed pages are written per part, each part a set of
whole upper-layer areas (wards or MSOAs) gathered by place, and the whole-area pages
become overviews that show the upper layer only and link to the parts.
"""

from __future__ import annotations

import dataclasses
from typing import Optional

import folium
import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from pli._map_assets import LegendControl, MapPanel, escape_text, legend_html
from pli.config import AreaSpec
from pli.config.specs import TileSpec
from pli.maps.bundle import MapBundle
from pli.maps.credits import Credit
from pli.maps.pages import (
    _add_context,
    _add_themes,
    _attribution,
    _finish,
    _new_map,
    _page_title,
    _render,
    _title_html,
)
from pli.maps.prepare import _Prepared, _to_web, display_tolerance
from pli.maps.style import LISA_COLOURS, LISA_NOTE, METRIC_CRS

__all__: list[str] = []

PAGES = {"priority_localities": "Priority Localities Index",
         "hotspots": "Clusters and hotspots of the Priority Localities Index"}


def part_of_lsoas(ward_of_lsoa: np.ndarray, xy: np.ndarray, max_lsoas: int) -> np.ndarray:
    """Part number (0, 1, ...) of each LSOA: whole upper-layer areas, about ``max_lsoas`` a part.

    The upper-layer areas are cut in two along the longer side of their extent at the
    median LSOA, again and again, until each part holds at most ``max_lsoas`` LSOAs (an
    upper-layer area bigger than that stays whole). Parts are compact, of similar size,
    and numbered in the order of the cuts, so neighbouring parts have near numbers.

    Parameters
    ----------
    ward_of_lsoa : ndarray of int
        Position of each LSOA's upper-layer area (0 .. n_areas - 1).
    xy : ndarray, shape (n_lsoas, 2)
        LSOA centroids in metres.
    max_lsoas : int
        Largest part wanted.

    Examples
    --------
    >>> import numpy as np
    >>> wards = np.array([0, 0, 1, 1, 2, 2, 3, 3])
    >>> xy = np.array([[0, 0], [0, 1], [10, 0], [10, 1], [20, 0], [20, 1], [30, 0], [30, 1]], float)
    >>> part_of_lsoas(wards, xy, 4).tolist()
    [0, 0, 0, 0, 1, 1, 1, 1]
    """
    n_wards = int(ward_of_lsoa.max()) + 1 if len(ward_of_lsoa) else 0
    counts = np.bincount(ward_of_lsoa, minlength=n_wards).astype(float)
    centre = np.column_stack([np.bincount(ward_of_lsoa, weights=xy[:, k], minlength=n_wards) for k in (0, 1)])
    centre = centre / np.maximum(counts, 1)[:, None]
    parts: list[np.ndarray] = []
    # An explicit stack rather than recursion: a national area is cut a dozen levels deep at most,
    # but the order (first half before second) must be the same on every run.
    stack = [np.flatnonzero(counts > 0)]
    while stack:
        ids = stack.pop()
        if counts[ids].sum() <= max_lsoas or len(ids) == 1:
            parts.append(ids)
            continue
        span = centre[ids].max(axis=0) - centre[ids].min(axis=0)
        axis = int(np.argmax(span))
        # Ties in position go by area number, so the cut does not depend on sort stability.
        order = ids[np.lexsort((ids, centre[ids, axis]))]
        cum = np.cumsum(counts[order])
        cut = int(np.clip(np.searchsorted(cum, cum[-1] / 2) + 1, 1, len(order) - 1))
        stack.extend([order[cut:], order[:cut]])
    part_of_ward = np.full(n_wards, -1)
    for k, ids in enumerate(parts):
        part_of_ward[ids] = k
    return part_of_ward[ward_of_lsoa]


def part_file(page: str, k: int) -> str:
    """File name of part ``k`` (0-based) of ``page``, e.g. ``priority_localities-part-01.html``."""
    return f"{page}-part-{k + 1:02d}.html"


def _ward_positions(bundle: MapBundle) -> np.ndarray:
    pos = bundle.wards.index.get_indexer(bundle.lsoa["ward_code"])
    if (pos < 0).any():
        # An LSOA whose upper-layer area has no polygon gets one of its own, so it still has a part.
        missing = pos < 0
        pos = pos.copy()
        pos[missing] = len(bundle.wards) + pd.factorize(bundle.lsoa["ward_code"][missing])[0]
    return pos


def lsoa_parts(bundle: MapBundle, max_lsoas: int) -> np.ndarray:
    """Part number of each LSOA of ``bundle.lsoa`` (row order), see :func:`part_of_lsoas`."""
    xy = shapely.get_coordinates(bundle.lsoa.geometry.representative_point().values)
    return part_of_lsoas(_ward_positions(bundle), xy, max_lsoas)


def _sub(prep: _Prepared, rows: np.ndarray) -> _Prepared:
    """The prepared layers restricted to the LSOAs at positions ``rows``."""
    return dataclasses.replace(
        prep,
        lsoa=prep.lsoa.iloc[rows],
        lsoa_features=[prep.lsoa_features[i] for i in rows],
        lsoa_metric=prep.lsoa_metric.iloc[rows],
    )


def part_page(
    prep: _Prepared, rows: np.ndarray, k: int, n_parts: int, page: str, area: AreaSpec, period: str, *,
    tiles: bool | str | TileSpec | None, offline: bool, credits: tuple[Credit, ...] = (),
) -> str:
    """The detailed page ``page`` (``priority_localities`` or ``hotspots``) for part ``k``."""
    sub = _sub(prep, rows)
    m = _new_map(sub, tuple(sub.lsoa_metric.total_bounds), tiles=tiles)
    heading = f"{PAGES[page]}, part {k + 1} of {n_parts}"
    _page_title(m, f"{area.name}: {heading}, {period}")
    back = (f'<p class="pli-open"><a href="{escape_text(page)}.html" target="_top">'
            "Back to the overview of the whole area</a></p>")
    MapPanel(_title_html(area, period, heading, sub, extra=back), key="title", position="topleft",
             css_class="pli-panel pli-title").add_to(m)
    _add_themes(m, sub.lsoa_features, sub, first="index" if page == "priority_localities" else "lisa_fdr")
    bounds = tuple(gpd.GeoSeries(list(sub.lsoa.geometry.values), crs="EPSG:4326").total_bounds)
    front = _add_context(m, sub, lsoa_bounds=bounds)
    _finish(m, front, attribution=_attribution(credits))
    return _render(m, offline=offline)


def _overview_colours(bundle: MapBundle, prep: _Prepared, page: str) -> tuple[pd.Series, pd.Series, str, list]:
    """Per upper-layer area (rows of ``prep.wards``): colour, tooltip line, legend title and rows."""
    pos = pd.Series(_ward_positions(bundle), index=bundle.lsoa.index)
    n_wards = len(prep.wards)
    if page == "priority_localities":
        cls = prep.index_classes
        mean = cls.codes.groupby(pos.to_numpy()).mean().reindex(range(n_wards))
        codes = mean.round()
        palette = np.asarray(cls.colours + ["#cccccc"], dtype=object)
        colour = pd.Series(palette[codes.fillna(len(cls.colours)).astype(int).to_numpy()])
        k = len(cls.colours)
        line = ("Mean class of its LSOAs: " + cls.unit + " " + (k - mean).map(lambda v: f"{v:.1f}") + f" of {k}"
                ).where(mean.notna(), "Mean class: n/a")
        title = f"{cls.title}: mean class of each area's LSOAs"
        return colour, line.reset_index(drop=True), title, cls.legend_items()
    cat = bundle.lsoa["lisa_cluster_fdr"].astype("string").fillna("Not significant").to_numpy()
    frame = pd.DataFrame({"ward": pos.to_numpy(), "cat": cat})
    flagged = frame[frame["cat"] != "Not significant"]
    order = {c: i for i, c in enumerate(LISA_COLOURS)}
    # The cluster type most of an area's flagged LSOAs have; ties go to the legend's order.
    counted = flagged.groupby(["ward", "cat"]).size().rename("n").reset_index()
    counted["o"] = counted["cat"].map(order)
    top = counted.sort_values(["ward", "n", "o"], ascending=[True, False, True]).drop_duplicates("ward")
    top_cat = top.set_index("ward")["cat"].reindex(range(n_wards)).fillna("Not significant")
    n_flagged = flagged.groupby("ward").size().reindex(range(n_wards)).fillna(0).astype(int)
    n_all = frame.groupby("ward").size().reindex(range(n_wards)).fillna(0).astype(int)
    colour = top_cat.map(LISA_COLOURS).fillna("#cccccc").reset_index(drop=True)
    line = ("Clusters (LISA, FDR-corrected): " + n_flagged.astype(str) + " of " + n_all.astype(str)
            + " LSOAs flagged; most: <b>" + top_cat.map(escape_text) + "</b>").reset_index(drop=True)
    return colour, line, "Clusters (LISA, FDR-corrected): the type most of an area's flagged LSOAs have", [
        (LISA_COLOURS[c], c) for c in LISA_COLOURS]


def overview_page(
    bundle: MapBundle, prep: _Prepared, parts: np.ndarray, page: str, area: AreaSpec, period: str, *,
    tiles: bool | str | TileSpec | None, offline: bool, credits: tuple[Credit, ...] = (),
) -> str:
    """The whole-area page as an overview: upper-layer areas coloured, parts linking to their pages."""
    m = _new_map(prep, tuple(prep.lsoa_metric.total_bounds), tiles=tiles)
    n_parts = int(parts.max()) + 1
    heading = f"{PAGES[page]}, overview"
    _page_title(m, f"{area.name}: {heading}, {period}")
    links = "".join(
        f'<li><a href="{escape_text(part_file(page, k))}" target="_top">Part {k + 1}</a> '
        f"({int((parts == k).sum()):,} LSOAs)</li>"
        for k in range(n_parts)
    )
    extra = (f"<p>{len(parts):,} LSOAs are too many for one page: this overview colours each "
             f"{escape_text(prep.upper_label)} area; each part below has every LSOA, layer and tooltip. "
             "Click an area for its part.</p>"
             f'<details><summary>Detailed maps ({n_parts} parts)</summary><ul>{links}</ul></details>')
    MapPanel(_title_html(area, period, heading, prep, extra=extra), key="title", position="topleft",
             css_class="pli-panel pli-title").add_to(m)
    colour, line, title, items = _overview_colours(bundle, prep, page)
    pos = _ward_positions(bundle)
    part_of_ward = pd.Series(parts).groupby(pos).first().reindex(range(len(prep.wards)))
    href = part_of_ward.map(lambda k: "" if pd.isna(k) else part_file(page, int(k)))
    wards = prep.wards.reset_index(drop=True)
    opacity = getattr(m, "_pli_opacity", 0.9)
    layer_frame = gpd.GeoDataFrame(
        {
            "colour": colour.to_numpy(),
            "tip": (wards["tip"] + "<br>" + line + ("<br>Part " + (part_of_ward + 1).map(
                lambda v: "" if pd.isna(v) else f"{int(v)}") + ": click to open its map")).to_numpy(),
            "popup": ('<a href="' + href.map(escape_text) + '" target="_top">Open part '
                      + (part_of_ward + 1).map(lambda v: "" if pd.isna(v) else f"{int(v)}")
                      + " (every LSOA)</a>").to_numpy(),
        },
        geometry=wards.geometry.values, crs="EPSG:4326",
    )
    layer = folium.GeoJson(
        layer_frame,
        name=escape_text(f"{prep.upper_label} areas (overview)"),
        overlay=False,
        style_function=lambda f: {"fillColor": f["properties"]["colour"], "color": "#ffffff", "weight": 0.4,
                                  "fillOpacity": opacity},
        highlight_function=lambda _: {"weight": 2.5, "color": "#000000"},
        tooltip=folium.GeoJsonTooltip(fields=["tip"], labels=False, sticky=True, class_name="pli-tip"),
        popup=folium.GeoJsonPopup(fields=["popup"], labels=False),
    )
    layer.add_to(m)
    note = LISA_NOTE if page == "hotspots" else "Grey: no class."
    LegendControl(legend_html(title, items, note=note, opacity=opacity), layer=layer, key="overview").add_to(m)
    outlines = _part_outlines(prep, pos, parts)
    part_layer = folium.GeoJson(outlines, name="Parts (detailed maps)", interactive=False,
                                style_function=lambda _: {"fill": False, "color": "#222222", "weight": 2.5})
    part_layer.add_to(m)
    front = [part_layer, *_add_context(m, prep, upper_outlines=False)]
    _finish(m, front, attribution=_attribution(credits))
    return _render(m, offline=offline)


def _part_outlines(prep: _Prepared, pos: np.ndarray, parts: np.ndarray) -> gpd.GeoDataFrame:
    """One outline per part, simplified to the page's scale and rounded like every web layer."""
    part_of_ward = pd.Series(parts).groupby(pos).first()
    part_of_ward = part_of_ward[part_of_ward.index < len(prep.wards)]
    wards = prep.wards.reset_index(drop=True).geometry.to_crs(METRIC_CRS)
    # The 1 m buffer closes the hairline gaps simplification leaves between neighbours.
    geoms = [shapely.union_all(wards.iloc[part_of_ward.index[part_of_ward == k]].buffer(1).values).buffer(-1)
             for k in range(int(parts.max()) + 1)]
    outlines = gpd.GeoSeries(geoms, crs=METRIC_CRS)
    outlines = outlines.simplify(display_tolerance(outlines.total_bounds, 0.0), preserve_topology=True)
    return _to_web(gpd.GeoDataFrame({"part": np.arange(1, len(geoms) + 1)}, geometry=outlines.values,
                                    crs=METRIC_CRS))


def parts_listing(parts: Optional[np.ndarray]) -> list[tuple[str, str, int]]:
    """``(label, file, n_lsoas)`` per part for ``index.html``; empty when the area is one page."""
    if parts is None:
        return []
    return [(f"Part {k + 1}", part_file("priority_localities", k), int((parts == k).sum()))
            for k in range(int(parts.max()) + 1)]
