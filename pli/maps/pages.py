"""The interactive Folium pages: the study-area page, the hot-spot page and one per neighbourhood."""

from __future__ import annotations

import contextlib
import json
from typing import Callable, Iterator, Optional

import folium
import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from pli._map_assets import (
    PAGE_CSS,
    Attribution,
    FitView,
    KeepInFront,
    LabelLayer,
    LegendControl,
    LoadGuard,
    MapPanel,
    ResponsiveLayers,
    escape_text,
    inline_assets,
    label_data,
    lean_assets,
    legend_html,
)
from pli.config import AreaSpec
from pli.config.specs import TileSpec
from pli.maps.basemap import add_basemap, resolve_tiles
from pli.maps.credits import Credit, copyright_year, run_credits, short_attribution
from pli.maps.prepare import _Prepared
from pli.maps.rendering import render_page
from pli.maps.style import (
    GI_COLOURS,
    GI_LABELS,
    GI_NOTE,
    LISA_COLOURS,
    LISA_LABELS,
    LISA_NOTE,
    METRIC_CRS,
    NEIGHBOURHOOD_COLOUR,
    PATROL_COLOUR,
    PATROL_FILL,
    SENSITIVE_BANNER,
    UPPER_COLOUR,
    score_note,
)
from pli.maps.theme_layers import SharedFeatures, ThemeLayer

__all__ = [
]


# Which significance test a layer shows, in its legend: corrected layers lead.
CORRECTED_NOTE = (
    "Corrected for testing every area at once (false discovery rate): "
    "these are the results to act on."
)


UNCORRECTED_NOTE = (
    "Uncorrected: each area tested on its own, so among hundreds of areas some "
    "flags are chance. Use the FDR-corrected layer for decisions."
)


# Pages naming more upper-layer areas than this show a name only where it fits its area.
THIN_NAMES_ABOVE = 60


_CONVERTED: Optional[dict] = None


@contextlib.contextmanager
def converting_once() -> Iterator[None]:
    """While active, the context layers every page shares (upper-layer outlines and names,
    neighbourhoods, patrol places) are converted to GeoJSON once, not once per page.

    A national area split by local authority writes a few hundred pages; converting the
    same frames for each was a third of the map time. Pages are byte for byte the same.
    """
    global _CONVERTED
    previous, _CONVERTED = _CONVERTED, {}
    try:
        yield
    finally:
        _CONVERTED = previous


def _once(frame: object, tag: object, make: Callable[[], dict]) -> dict:
    """``make()``, remembered for ``frame`` (kept alive, so its id is not reused) and ``tag``."""
    if _CONVERTED is None:
        return make()
    hit = _CONVERTED.get((id(frame), tag))
    if hit is None or hit[0] is not frame:
        hit = (frame, make())
        _CONVERTED[(id(frame), tag)] = hit
    return hit[1]


def _in_bounds(frame: gpd.GeoDataFrame, bounds: tuple[float, ...]) -> np.ndarray:
    """Row positions of ``frame.cx[west:east, south:north]``, in row order."""
    return np.sort(frame.sindex.query(shapely.box(*bounds), predicate="intersects"))


def _rows_of(collection: dict, frame: gpd.GeoDataFrame, rows: np.ndarray, *, bbox: bool) -> dict:
    """The GeoJSON of ``frame.iloc[rows]`` from that of the whole ``frame``."""
    out = {**collection, "features": [collection["features"][i] for i in rows]}
    if bbox:
        out["bbox"] = json.loads(json.dumps(tuple(frame.iloc[rows].total_bounds)))
    return out


def _geojson(frame: gpd.GeoDataFrame) -> dict:
    """``frame`` as the GeoJSON dict folium would make of it, converted once.

    Given a GeoDataFrame folium builds its ``__geo_interface__`` twice (``hasattr``
    evaluates the property, then it is read again); given this dict it uses it as is.
    """
    return json.loads(json.dumps(frame.to_crs("EPSG:4326").__geo_interface__))


def _theme_style(opacity: float) -> dict:
    """The path style of every LSOA of a theme; the fill colour is each LSOA's own."""
    return {"color": "#ffffff", "weight": 0.6, "fillOpacity": opacity}


# Set while the mouse is over an LSOA.
_HIGHLIGHT = {"weight": 2.5, "color": "#000000"}


def _theme_layer(
    m: folium.Map,
    shared: SharedFeatures,
    *,
    name: str,
    colour: str,
    tip: str,
    show: bool,
    opacity: float,
) -> ThemeLayer:
    layer = ThemeLayer(
        shared, name=escape_text(name), colour=colour, tip=tip, style=_theme_style(opacity), highlight=_HIGHLIGHT,
        show=show,
    )
    layer.add_to(m)
    return layer


def _new_map(
    prep: _Prepared, bounds_metric: tuple[float, ...], *, tiles: bool | str | TileSpec | None
) -> folium.Map:
    west, south, east, north = (
        gpd.GeoSeries([shapely.box(*bounds_metric)], crs=METRIC_CRS).to_crs("EPSG:4326").total_bounds
    )
    basemap = resolve_tiles(tiles)
    m = folium.Map(
        location=[(south + north) / 2, (west + east) / 2],
        zoom_start=12,
        tiles=None,
        prefer_canvas=True,  # canvas keeps thousands of polygons responsive
        control_scale=True,
        zoom_control="bottomright",
        zoom_snap=0.25,  # fractional zoom lets the area fill the window
        zoom_delta=0.5,
        max_zoom=basemap.max_zoom if basemap is not None else 19,
    )
    js, css = lean_assets()
    m.default_js, m.default_css = js, css
    # First, so a failure anywhere after it shows the page's message instead of a blank page.
    LoadGuard().add_to(m)
    if basemap is not None:
        add_basemap(m, basemap)
    m.get_root().header.add_child(folium.Element(PAGE_CSS), name="pli_css")  # type: ignore[attr-defined]
    # Grey tiles show through a translucent fill and shift the colours; without tiles
    # a near-opaque fill keeps the map's colours those of the legend.
    # Stored on the map for the layers added later (folium maps take extra attributes).
    m._pli_opacity = 0.8 if basemap is not None else 0.9  # type: ignore[attr-defined]
    m._pli_bounds = [[float(south), float(west)], [float(north), float(east)]]  # type: ignore[attr-defined]
    return m


def _title_html(area: AreaSpec, period: str, heading: str, prep: _Prepared, *, extra: str = "") -> str:
    sim = "".join(f'<p class="pli-sim">{escape_text(note)}</p>' for note in area.notes())
    # Pages that carry micro-place (point-derived) layers are marked for handling.
    marking = f'<p class="pli-sensitive">{escape_text(SENSITIVE_BANNER)}</p>' if prep.places is not None else ""
    note = f"<p>{escape_text(prep.upper_note)}</p>" if prep.upper_note else ""
    title = f"{heading}, {period}" + (" (simulated data)" if area.simulated else "")
    return (
        f"{marking}<h1>{escape_text(area.name)}: {escape_text(title)}</h1>"
        f"<p>Small areas: LSOAs. Upper layer: {escape_text(prep.upper_label)}. "
        "Hover an area for details. Click a neighbourhood's number for its profile.</p>"
        f"{note}{sim}{extra}"
    )


def _page_title(m: folium.Map, text: str) -> None:
    m.get_root().header.add_child(folium.Element(f"<title>{escape_text(text)}</title>"), name="pli_title")  # type: ignore[attr-defined]


def _copyright_year() -> int:
    """Kept for callers of the earlier name: see :func:`pli.maps.credits.copyright_year`."""
    return copyright_year()


def _attribution(credits: tuple[Credit, ...]) -> str:
    """The map corner's credit line: boundaries and every source the run used."""
    return short_attribution(credits or run_credits(None))


def _with_page_links(prep: _Prepared, focus_rank: Optional[int]) -> gpd.GeoDataFrame:
    """The number markers, each popup ending with a link to that neighbourhood's page.

    From the borough pages the pages sit in ``neighbourhoods/``; on a neighbourhood's
    own page its marker links back to the borough map instead.
    """
    slugs = dict(zip(prep.neighbourhoods["rank"].astype(int), prep.neighbourhoods["slug"].astype(str)))
    pts = prep.number_points
    ranks = pts["rank"].astype(int)
    folder = "neighbourhoods/" if focus_rank is None else ""
    href = ranks.map(lambda r: escape_text(f"{folder}{r}-{slugs.get(r, '')}.html"))
    link = ('<p class="pli-open"><a href="' + href + '" target="_top">Open this neighbourhood\'s map</a></p>')
    back = '<p class="pli-open"><a href="../priority_localities.html" target="_top">Back to the whole area</a></p>'
    return pts.assign(popup=pts["popup"] + link.where(ranks != focus_rank, back))


def _add_context(
    m: folium.Map,
    prep: _Prepared,
    *,
    lsoa_bounds: Optional[tuple[float, ...]] = None,
    focus_rank: Optional[int] = None,
    patrol_note: str = "",
    patrol_floor: str = "",
    upper_outlines: bool = True,
) -> list:
    """Upper-layer boundaries and names, neighbourhoods, patrol places.

    Returns the layers to keep above the themes, bottom first: upper-layer
    boundaries, neighbourhood outlines, patrol places (when shown).
    ``upper_outlines=False`` leaves the boundaries off (the split maps' overview
    draws the upper-layer areas themselves, with their own outlines).
    """
    upper = prep.upper_label
    wards, ward_points = prep.wards, prep.ward_points
    ward_rows = name_rows = None
    if lsoa_bounds is not None:
        ward_rows, name_rows = _in_bounds(wards, lsoa_bounds), _in_bounds(ward_points, lsoa_bounds)
    # Many names (a force area, a national part or overview) thin with scale; a
    # borough's few dozen wards keep every name the declutter leaves room for.
    fit_names = (len(ward_points) if name_rows is None else len(name_rows)) > THIN_NAMES_ABOVE
    outlines = _once(wards, "outlines", lambda: _geojson(wards[["tip", "geometry"]]))
    names_data = _once(ward_points, ("names", fit_names), lambda: label_data(ward_points, fit=fit_names))
    if ward_rows is not None and name_rows is not None:
        outlines = _rows_of(outlines, wards, ward_rows, bbox=True)
        names_data = _rows_of(names_data, ward_points, name_rows, bbox=False)
        ward_points = ward_points.iloc[name_rows]
    ward_layer = None
    if upper_outlines:
        ward_layer = folium.GeoJson(
            outlines,
            name=escape_text(f"{upper} boundaries"),
            style_function=lambda _: {"fill": False, "color": UPPER_COLOUR, "weight": 1.4, "opacity": 0.9},
            interactive=False,
        )
        ward_layer.add_to(m)
    names = folium.FeatureGroup(name=escape_text(f"{upper} names"), show=True)
    # Their own pane keeps the names above the neighbourhood outlines, below the numbers.
    names.add_child(LabelLayer(ward_points, css_class="pli-label", pane="pli-names", fit=fit_names,
                               data=names_data))
    names.add_to(m)

    nb_group = folium.FeatureGroup(name="Priority neighbourhoods (numbered by rank)", show=True)
    nb = prep.neighbourhoods

    def nb_style(feature: dict) -> dict:
        focused = focus_rank is not None and feature["properties"]["rank"] == focus_rank
        return {
            "fill": False,
            "color": "#0a0a0a" if focused or focus_rank is None else "#333333",
            "weight": 5 if focused else (3 if focus_rank is None else 2),
            "dashArray": None if focused or focus_rank is None else "6 6",
        }

    # On a canvas an unfilled outline still catches the mouse across its whole
    # interior, hiding the LSOA tooltips under it: the outline takes no events and
    # the number markers carry the profile popup.
    nb_layer = folium.GeoJson(
        _once(nb, "outlines", lambda: _geojson(nb[["rank", "geometry"]])),
        name="Neighbourhood outlines",
        control=False,
        style_function=nb_style,
        interactive=False,
    )
    nb_group.add_child(nb_layer)
    numbers = _once(prep.number_points, ("numbers", focus_rank),
                    lambda: label_data(_with_page_links(prep, focus_rank)))
    nb_group.add_child(LabelLayer(prep.number_points, css_class="pli-number", interactive=True, z_offset=1000,
                                  data=numbers))
    nb_group.add_to(m)
    if focus_rank is None:
        rows = [
            (NEIGHBOURHOOD_COLOUR, "Priority neighbourhood, numbered by rank (1 = highest)", {"width": 3}),
            (UPPER_COLOUR, f"{upper} boundary", {"width": 1.5}),
        ][: None if upper_outlines else 1]
    else:
        rows = [
            ("#0a0a0a", "This neighbourhood", {"width": 5, "bold": True}),
            ("#333333", "Other priority neighbourhoods", {"width": 2, "dash": "dashed"}),
            (UPPER_COLOUR, f"{upper} boundary", {"width": 1.5}),
        ]
    LegendControl(
        legend_html(
            "Priority neighbourhoods", rows, kind="line", note="Click a neighbourhood's number for its profile."
        ),
        layer=nb_group,
        key="neighbourhoods",
        # Bottom right: the bottom left holds the theme key (and, below the title, a profile).
        position="bottomright",
    ).add_to(m)

    place_layer = None
    places = None
    if prep.places is not None:
        places = prep.places if focus_rank is None else prep.places[prep.places["nrank"] == focus_rank]
    if focus_rank is not None and (places is None or not len(places)) and (patrol_note or patrol_floor):
        # A neighbourhood page with no places says why, so nobody waits for a list that will not come.
        why = patrol_note or f"No micro-patrol places in this neighbourhood: none cleared the floor. {patrol_floor}"
        LegendControl(
            legend_html("Micro-patrol places", [], note=why), layer=None, key="patrol-none", position="bottomright",
            toggle="Patrol key",
        ).add_to(m)
    if places is not None:
        if len(places):
            points = bool(places.geom_type.isin(["Point", "MultiPoint"]).all())
            place_layer = folium.GeoJson(
                _once(places, "places", lambda: _geojson(places[["tip", "geometry"]])),
                name="Micro-patrol places",
                show=True,
                # folium's CircleMarker defaults to fill=False: ask for the fill explicitly.
                marker=folium.CircleMarker(radius=7, fill=True) if points else None,
                style_function=lambda _: {
                    "color": PATROL_COLOUR if not points else "#ffffff",
                    "weight": 3 if not points else 2,
                    "fillColor": PATROL_COLOUR if points else PATROL_FILL,
                    "fillOpacity": 1.0 if points else 0.75,
                },
                tooltip=folium.GeoJsonTooltip(fields=["tip"], labels=False, sticky=True, class_name="pli-tip"),
            )
            place_layer.add_to(m)
            if prep.place_points is not None:
                # The numbers are the patrol list's place_number, so the map works beside the printout.
                pts = prep.place_points
                if focus_rank is not None:
                    pts = pts[pts["nrank"] == focus_rank]
                place_numbers = folium.FeatureGroup(name="Patrol place numbers", show=True)
                place_numbers.add_child(LabelLayer(pts, css_class="pli-label", z_offset=900, data=_once(
                    prep.place_points, ("numbers", focus_rank), lambda: label_data(pts[["label", "geometry"]]))))
                place_numbers.add_to(m)
            row = (
                (PATROL_COLOUR, "Place to patrol (hover for location and counts)", {"border": "#ffffff"})
                if points
                else (PATROL_FILL, "Place to patrol (hover for location and counts)", {"border": PATROL_COLOUR})
            )
            LegendControl(
                legend_html(
                    "Micro-patrol places", [row], kind="dot" if points else "swatch", opacity=1.0 if points else 0.75
                ),
                layer=place_layer,
                key="patrol",
                position="bottomright",
                toggle="Patrol key",
            ).add_to(m)
    return [ward_layer, nb_layer, place_layer]


def _add_themes(m: folium.Map, features: list[dict], prep: _Prepared, *, first: str) -> dict[str, ThemeLayer]:
    """The mutually exclusive LSOA themes with their legends; ``first`` is shown.

    Returns the theme layers by key (``index``, each domain, ``lisa_fdr``, ``gi_fdr``,
    ``lisa``, ``gi``).
    """
    layers: dict[str, ThemeLayer] = {}
    opacity = getattr(m, "_pli_opacity", 0.9)
    themes: list[tuple[str, str, str, str]] = [("index", prep.index_classes.title, "c_index", "tip")]
    for d in prep.domain_classes:
        themes.append((d, f"Domain: {prep.domain_titles[d]}", f"c_{d}", f"tip_{d}"))
    # FDR-corrected layers first (the hotspot page opens on one); the uncorrected ones
    # follow, named "uncorrected" in the layer switcher and in their legends.
    themes += [
        ("lisa_fdr", "Clusters (LISA, FDR-corrected)", "c_lisa_cluster_fdr", "tip_lisa_cluster_fdr"),
        ("gi_fdr", "Hotspots and coldspots (Gi*, FDR-corrected)", "c_gi_fdr", "tip_gi_fdr"),
        ("lisa", "Clusters (LISA), uncorrected", "c_lisa_cluster", "tip_lisa_cluster"),
        ("gi", "Hotspots and coldspots (Gi*), uncorrected", "c_gi", "tip_gi"),
    ]
    lisa_items = [(LISA_COLOURS[k], LISA_LABELS[k]) for k in LISA_COLOURS]
    gi_items = [(GI_COLOURS[b], GI_LABELS[b]) for b in sorted(GI_COLOURS, reverse=True)]
    alpha = f"{prep.lisa_alpha:g}"
    # The page holds each LSOA's geometry once; every theme draws from it.
    shared = SharedFeatures(features, [k for _, _, colour, tip in themes for k in (colour, tip)])
    shared.add_to(m)
    for key, name, colour, tip in themes:
        layer = _theme_layer(m, shared, name=name, colour=colour, tip=tip, show=key == first, opacity=opacity)
        layers[key] = layer
        if key == "index":
            cls = prep.index_classes
            body = legend_html(cls.title, cls.legend_items(), note=score_note(prep.area_type), opacity=opacity)
        elif key in prep.domain_classes:
            cls = prep.domain_classes[key]
            body = legend_html(cls.title, cls.legend_items(), note=score_note(prep.area_type), opacity=opacity)
        elif key == "lisa_fdr":
            body = legend_html(
                f"Clusters (LISA, FDR-corrected, q < {alpha})", lisa_items, note=f"{LISA_NOTE} {CORRECTED_NOTE}",
                opacity=opacity,
            )
        elif key == "lisa":
            body = legend_html(
                f"Clusters (LISA), uncorrected: pseudo p < {alpha}", lisa_items, note=f"{LISA_NOTE} {UNCORRECTED_NOTE}",
                opacity=opacity,
            )
        elif key == "gi_fdr":
            body = legend_html(
                "Hotspots and coldspots (Gi*, FDR-corrected confidence)", gi_items, note=f"{GI_NOTE} {CORRECTED_NOTE}",
                opacity=opacity,
            )
        else:
            body = legend_html(
                "Hotspots and coldspots (Gi*), uncorrected confidence", gi_items, note=f"{GI_NOTE} {UNCORRECTED_NOTE}",
                opacity=opacity,
            )
        LegendControl(body, layer=layer, key=key).add_to(m)
    return layers


def _finish(m: folium.Map, front: list, *, attribution: str) -> None:
    """Layer control, restacking, credits and the first view; last on every index page."""
    control = folium.LayerControl(position="topright", collapsed=False)
    control.add_to(m)
    ResponsiveLayers(control).add_to(m)
    KeepInFront(*front).add_to(m)
    Attribution(escape_text(attribution)).add_to(m)
    # Last, so it can measure the panels and the layer control it must leave free.
    FitView(m._pli_bounds).add_to(m)  # type: ignore[attr-defined]


def _render(m: folium.Map, *, offline: bool) -> str:
    """The page's HTML; ``offline`` (the default of every caller) inlines Leaflet and plugins."""
    html = render_page(m)
    return inline_assets(html) if offline else html


def _priority_page(
    prep: _Prepared, area: AreaSpec, period: str, *, tiles: bool | str | TileSpec | None, offline: bool,
    credits: tuple[Credit, ...] = (),
) -> str:
    m = _new_map(prep, tuple(prep.lsoa_metric.total_bounds), tiles=tiles)
    heading = "Priority Localities Index"
    _page_title(m, f"{area.name}: {heading}, {period}")
    MapPanel(
        _title_html(area, period, heading, prep), key="title", position="topleft", css_class="pli-panel pli-title"
    ).add_to(m)
    _add_themes(m, prep.lsoa_features, prep, first="index")
    front = _add_context(m, prep)
    _finish(m, front, attribution=_attribution(credits))
    return _render(m, offline=offline)


def _hotspot_page(
    prep: _Prepared, area: AreaSpec, period: str, *, tiles: bool | str | TileSpec | None, offline: bool,
    credits: tuple[Credit, ...] = (),
) -> str:
    m = _new_map(prep, tuple(prep.lsoa_metric.total_bounds), tiles=tiles)
    heading = "Clusters and hotspots of the Priority Localities Index"
    _page_title(m, f"{area.name}: {heading}, {period}")
    extra = (
        "<p>Clusters (LISA): an area and its neighbours are all high (High-High) or all low. "
        "Hotspots (Gi*): groups of high or low scores too strong to be chance. "
        "Both are corrected for testing every area at once (FDR); the uncorrected layers "
        "flag more areas, some by chance. Switch views with the layer list.</p>"
    )
    MapPanel(
        _title_html(area, period, heading, prep, extra=extra),
        key="title",
        position="topleft",
        css_class="pli-panel pli-title",
    ).add_to(m)
    _add_themes(m, prep.lsoa_features, prep, first="lisa_fdr")
    front = _add_context(m, prep)
    _finish(m, front, attribution=_attribution(credits))
    return _render(m, offline=offline)


def _neighbourhood_page(
    prep: _Prepared, row: pd.Series, area: AreaSpec, period: str, *, tiles: bool | str | TileSpec | None,
    offline: bool, pad_m: float, credits: tuple[Credit, ...] = (), patrol_note: str = "", patrol_floor: str = "",
) -> str:
    rank = int(row["rank"])
    geom = prep.neighbourhoods_metric.geometry.loc[row.name]
    view = shapely.box(*geom.bounds).buffer(pad_m, join_style="mitre")
    hits = prep.lsoa_metric.sindex.query(view, predicate="intersects")
    m = _new_map(prep, tuple(geom.buffer(pad_m / 4).bounds), tiles=tiles)
    heading = f"Priority neighbourhood {rank}: {row['name']}"
    _page_title(m, f"{area.name}: {heading}, {period}")
    MapPanel(
        _title_html(area, period, heading, prep), key="title", position="topleft", css_class="pli-panel pli-title"
    ).add_to(m)
    MapPanel(
        row["popup"], key="profile", position="topleft", css_class="pli-panel pli-profile-panel", toggle="Profile"
    ).add_to(m)
    _add_themes(m, [prep.lsoa_features[i] for i in np.sort(hits)], prep, first="index")
    bounds = tuple(gpd.GeoSeries([view], crs=METRIC_CRS).to_crs("EPSG:4326").total_bounds)
    front = _add_context(
        m, prep, lsoa_bounds=bounds, focus_rank=rank, patrol_note=patrol_note, patrol_floor=patrol_floor
    )
    _finish(m, front, attribution=_attribution(credits))
    return _render(m, offline=offline)


def plain_map(bounds_wgs84: tuple[float, float, float, float], *, zoom_start: int = 12) -> folium.Map:
    """A pli-styled Leaflet map without base tiles, for the pages of other commands.

    ``pli compare`` and ``pli trial`` draw one layer each on it; the same lean assets and
    page CSS as the index maps keep every page looking and printing alike. Call inside
    :func:`pli._map_assets.stable_element_ids` for reproducible bytes.

    Parameters
    ----------
    bounds_wgs84 : tuple of float
        ``(west, south, east, north)`` in degrees.
    zoom_start : int
        Initial zoom before the page fits the bounds.
    """
    west, south, east, north = bounds_wgs84
    m = folium.Map(location=[(south + north) / 2, (west + east) / 2], zoom_start=zoom_start, tiles=None,
                   prefer_canvas=True, control_scale=True, zoom_control="bottomright", zoom_snap=0.25)
    m.default_js, m.default_css = lean_assets()
    LoadGuard().add_to(m)  # a visible message, not a blank page, if a script fails
    m.get_root().header.add_child(folium.Element(PAGE_CSS), name="pli_css")  # type: ignore[attr-defined]
    return m
