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

from pli._map_assets import LegendControl, MapPanel, ThemeFromHash, escape_text, legend_html
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
from pli.maps.prepare import _Prepared, _to_web, display_tolerance, name_points
from pli.maps.split_by_area import MapParts, authority_parts, authority_shapes, lsoa_points
from pli.maps.style import LISA_COLOURS, LISA_NOTE, METRIC_CRS

__all__: list[str] = []

PAGES = {"priority_localities": "Priority Localities Index",
         "hotspots": "Clusters and hotspots of the Priority Localities Index"}
DETAILED = "Priority Localities Index, clusters and hotspots"
"""Heading of a part's one detailed page (both page types' themes are on it)."""


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


def map_parts(bundle: MapBundle, max_lsoas: int) -> MapParts:
    """The parts of a split area map: local authorities where known, else parts by place.

    See :mod:`pli.maps.split_by_area` for how the authority of each LSOA is found and
    small authorities merged; without them the parts are :func:`lsoa_parts`.
    """
    points = lsoa_points(bundle.lsoa.geometry)
    found = authority_parts(bundle.lsoa, points, bundle.neighbourhoods)
    if found is not None:
        return found
    part = part_of_lsoas(_ward_positions(bundle), points, max_lsoas)
    n = int(part.max()) + 1
    return MapParts(part=part, titles=tuple(f"Part {k + 1}" for k in range(n)),
                    slugs=tuple(f"part-{k + 1:02d}" for k in range(n)))


def _sub(prep: _Prepared, rows: np.ndarray) -> _Prepared:
    """The prepared layers restricted to the LSOAs at positions ``rows``."""
    return dataclasses.replace(
        prep,
        lsoa=prep.lsoa.iloc[rows],
        lsoa_features=[prep.lsoa_features[i] for i in rows],
        lsoa_metric=prep.lsoa_metric.iloc[rows],
    )


def part_page(
    prep: _Prepared, parts: MapParts, k: int, page: str, area: AreaSpec, period: str, *,
    tiles: bool | str | TileSpec | None, offline: bool, credits: tuple[Credit, ...] = (),
) -> str:
    """The detailed page of part ``k``, opening on the index (``page="priority_localities"``)
    or on the clusters (``"hotspots"``).

    Every theme is on the page either way, and ``#hotspots`` (or a theme's key) after its
    address opens it on that theme: :func:`pli.maps.writing.write_maps` writes one page
    per part and makes the part's hot-spot page a link to it (:func:`hotspot_link_page`).
    """
    sub = _sub(prep, np.flatnonzero(parts.part == k))
    m = _new_map(sub, tuple(sub.lsoa_metric.total_bounds), tiles=tiles)
    heading = (f"{DETAILED}: {parts.titles[k]}" if parts.by_authority
               else f"{DETAILED}, part {k + 1} of {parts.n}")
    _page_title(m, f"{area.name}: {heading}, {period}")
    back = (f'<p class="pli-open"><a href="{escape_text(page)}.html" target="_top">'
            "Back to the overview of the whole area</a></p>")
    MapPanel(_title_html(area, period, heading, sub, extra=back), key="title", position="topleft",
             css_class="pli-panel pli-title").add_to(m)
    themes = _add_themes(m, sub.lsoa_features, sub, first="index" if page == "priority_localities" else "lisa_fdr")
    ThemeFromHash({"hotspots": themes["lisa_fdr"], **themes}).add_to(m)
    bounds = tuple(gpd.GeoSeries(list(sub.lsoa.geometry.values), crs="EPSG:4326").total_bounds)
    front = _add_context(m, sub, lsoa_bounds=bounds)
    _finish(m, front, attribution=_attribution(credits))
    return _render(m, offline=offline)


def hotspot_link_page(target: str, title: str) -> str:
    """A part's hot-spot page: it opens the part's detailed page on its clusters.

    The detailed page already holds the cluster layers, so rendering it twice (the whole
    of a national area's map time) would only change the layer shown first. Plain HTML,
    no script: a refresh to ``target#hotspots`` and a link for a browser that blocks it.
    """
    href = escape_text(target) + "#hotspots"
    text = escape_text(title)
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="refresh" content="0; url={href}"><title>{text}</title></head>'
        f'<body><p><a href="{href}">{text}</a> (the clusters and hotspots layers of this map)</p></body></html>\n'
    )


def _overview_colours(bundle: MapBundle, prep: _Prepared, page: str, group: np.ndarray,
                      n_groups: int) -> tuple[pd.Series, pd.Series, str, list]:
    """Per overview area (``group`` of each LSOA): colour, tooltip line, legend title and rows."""
    pos = pd.Series(group, index=bundle.lsoa.index)
    n_wards = n_groups  # the overview's areas: upper-layer areas or local authorities
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


def _overview_areas(bundle: MapBundle, prep: _Prepared, parts: MapParts
                    ) -> tuple[np.ndarray, gpd.GeoDataFrame, pd.Series, Optional[gpd.GeoDataFrame], str]:
    """What the overview draws: group of each LSOA, one shape per group (``tip``, EPSG:4326),
    the part of each shape (NA: none), the label points (``None``: the upper layer's) and
    what a shape is ("local authority", "Ward area")."""
    if parts.authority is not None:
        group = parts.authority
        shapes = authority_shapes(prep.lsoa_metric, group, len(parts.authorities))
        auth = parts.authorities
        code = auth["code"].map(lambda c: f" ({escape_text(c)})" if c else "")
        shown_in = pd.Series([parts.titles[int(k)] for k in auth["part"]])
        # A small authority shares a page: the tooltip says whose.
        where = pd.Series(["" if t == n else f"<br>On the page of {escape_text(t)}"
                           for t, n in zip(shown_in, auth["name"])])
        tip = "<b>" + auth["name"].map(escape_text) + "</b>" + code + where
        web = _to_web(gpd.GeoDataFrame({"tip": tip.to_numpy()}, geometry=shapes.values, crs=METRIC_CRS))
        labels = name_points(shapes, auth["name"])
        return group, web.reset_index(drop=True), auth["part"].astype("Int64"), labels, "local authority"
    pos = _ward_positions(bundle)
    part_of_ward = pd.Series(parts.part).groupby(pos).first().reindex(range(len(prep.wards))).astype("Int64")
    return pos, prep.wards.reset_index(drop=True), part_of_ward, None, f"{prep.upper_label} area"


def overview_page(
    bundle: MapBundle, prep: _Prepared, parts: MapParts, page: str, area: AreaSpec, period: str, *,
    tiles: bool | str | TileSpec | None, offline: bool, credits: tuple[Credit, ...] = (),
) -> str:
    """The whole-area page as an overview: local authorities (or upper-layer areas) coloured,
    each linking to its part's page."""
    m = _new_map(prep, tuple(prep.lsoa_metric.total_bounds), tiles=tiles)
    heading = f"{PAGES[page]}, overview"
    _page_title(m, f"{area.name}: {heading}, {period}")
    counts = np.bincount(parts.part, minlength=parts.n)
    links = "".join(
        f'<li><a href="{escape_text(parts.file(page, k))}" target="_top">{escape_text(parts.titles[k])}</a> '
        f"({int(counts[k]):,} LSOAs)</li>"
        for k in range(parts.n)
    )
    group, shapes, part_of_shape, labels, what = _overview_areas(bundle, prep, parts)
    pages = f"{parts.n} by local authority" if parts.by_authority else f"{parts.n} parts"
    extra = (f"<p>{len(parts.part):,} LSOAs are too many for one page: this overview colours each "
             f"{escape_text(what)}; each detailed map below has every LSOA, layer and tooltip. "
             "Click an area for its map.</p>"
             f'<details><summary>Detailed maps ({escape_text(pages)})</summary><ul>{links}</ul></details>')
    MapPanel(_title_html(area, period, heading, prep, extra=extra), key="title", position="topleft",
             css_class="pli-panel pli-title").add_to(m)
    colour, line, title, items = _overview_colours(bundle, prep, page, group, len(shapes))
    href = part_of_shape.map(lambda k: "" if pd.isna(k) else parts.file(page, int(k)))
    part_name = part_of_shape.map(lambda k: "" if pd.isna(k) else parts.titles[int(k)])
    opacity = getattr(m, "_pli_opacity", 0.9)
    layer_frame = gpd.GeoDataFrame(
        {
            "colour": colour.to_numpy(),
            "tip": (shapes["tip"] + "<br>" + line + ("<br>" + part_name.map(escape_text)
                                                     + ": click to open its map").where(part_name != "", "")
                    ).to_numpy(),
            "popup": ('<a href="' + href.map(escape_text) + '" target="_top">Open the map of '
                      + part_name.map(escape_text) + " (every LSOA)</a>").where(part_name != "", "").to_numpy(),
        },
        geometry=shapes.geometry.values, crs="EPSG:4326",
    )
    layer = folium.GeoJson(
        layer_frame,
        name=escape_text("Local authorities (overview)" if parts.by_authority else f"{what}s (overview)"),
        overlay=False,
        style_function=lambda f: {"fillColor": f["properties"]["colour"], "color": "#ffffff",
                                  "weight": 1.2 if parts.by_authority else 0.4, "fillOpacity": opacity},
        highlight_function=lambda _: {"weight": 2.5, "color": "#000000"},
        tooltip=folium.GeoJsonTooltip(fields=["tip"], labels=False, sticky=True, class_name="pli-tip"),
        popup=folium.GeoJsonPopup(fields=["popup"], labels=False),
    )
    layer.add_to(m)
    note = LISA_NOTE if page == "hotspots" else "Grey: no class."
    LegendControl(legend_html(title, items, note=note, opacity=opacity), layer=layer, key="overview").add_to(m)
    front: list = []
    if not parts.by_authority:
        part_layer = folium.GeoJson(_part_outlines(prep, group, parts.part), name="Parts (detailed maps)",
                                    interactive=False,
                                    style_function=lambda _: {"fill": False, "color": "#222222", "weight": 2.5})
        part_layer.add_to(m)
        front.append(part_layer)
    # By authority the names are the authorities' (a few hundred), not the upper layer's thousands.
    context = prep if labels is None else dataclasses.replace(prep, ward_points=labels,
                                                              upper_label="Local authority")
    front += _add_context(m, context, upper_outlines=False)
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
