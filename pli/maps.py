"""Maps people open: interactive Folium pages and static PNG figures.

:func:`write_maps` turns one :class:`MapBundle` (the index, clustering, priorities and
patrol frames) into

* ``priority_localities.html``: the index choropleth with a theme switcher (index,
  each domain, LISA clusters, Gi* hotspots), upper-layer boundaries and names, the
  priority neighbourhoods numbered by rank with profile popups, and micro-patrol
  places when present;
* ``hotspots.html``: the same page opened on the clustering view;
* ``neighbourhoods/<rank>-<slug>.html``: one page per priority neighbourhood, zoomed
  to it, so an officer can open only theirs;
* ``priority_localities.png`` and ``priority_neighbourhoods.png`` for committee papers.

Every value from data is escaped before it reaches a page (:mod:`pli._map_assets`);
offline pages carry Leaflet inline and fetch nothing.

Examples
--------
>>> from pli.maps import MapBundle, write_maps                  # doctest: +SKIP
>>> paths = write_maps(bundle, Path("maps"), spec=cfg.maps, area=cfg.area,
...                    period="2024-03 to 2025-02")             # doctest: +SKIP
"""

from __future__ import annotations

import datetime as _dt
import functools
import json
import logging
import os
import re
import tempfile
import textwrap
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Optional

import folium
import geopandas as gpd
import matplotlib

matplotlib.use("Agg")  # figures are written to files; never open a window

import mapclassify
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import shapely
import xyzservices
from matplotlib import patheffects
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from pli._map_assets import (
    PAGE_CSS,
    Attribution,
    FitView,
    KeepInFront,
    LabelLayer,
    LegendControl,
    MapPanel,
    ResponsiveLayers,
    escape_series,
    escape_text,
    format_number,
    inline_assets,
    lean_assets,
    legend_html,
    stable_element_ids,
)
from pli.config import AreaSpec, ConfigError, MapSpec
from pli.errors import InputError

__all__ = [
    "GI_COLOURS",
    "LISA_COLOURS",
    "MapBundle",
    "bundle_for_run",
    "plot_index_figure",
    "plot_neighbourhoods_figure",
    "write_maps",
]

log = logging.getLogger(__name__)

#: Handling marking shown on pages with point-derived layers (not in public mode).
SENSITIVE_BANNER = "OFFICIAL-SENSITIVE: not for publication"
METRIC_CRS = "EPSG:27700"

LISA_COLOURS: dict[str, str] = {
    "High-High": "#d7191c",
    "Low-Low": "#2c7bb6",
    "High-Low": "#f4a6c8",
    "Low-High": "#abd9e9",
    "Not significant": "#e6e6e6",
}
LISA_LABELS: dict[str, str] = {
    "High-High": "High-High: high score, high neighbours",
    "Low-Low": "Low-Low: low score, low neighbours",
    "High-Low": "High-Low: high score, low neighbours",
    "Low-High": "Low-High: low score, high neighbours",
    "Not significant": "Not significant",
}
GI_COLOURS: dict[int, str] = {
    3: "#b2182b",
    2: "#ef8a62",
    1: "#fddbc7",
    0: "#eeeeee",
    -1: "#d1e5f0",
    -2: "#67a9cf",
    -3: "#2166ac",
}
GI_LABELS: dict[int, str] = {
    3: "Hotspot 99% confidence",
    2: "Hotspot 95% confidence",
    1: "Hotspot 90% confidence",
    0: "Not significant",
    -1: "Coldspot 90% confidence",
    -2: "Coldspot 95% confidence",
    -3: "Coldspot 99% confidence",
}
NEIGHBOURHOOD_COLOUR = "#1a1a1a"
# Teal lies outside the YlOrRd scale, so patrol places stay visible on the darkest class.
PATROL_COLOUR = "#00a6c8"
PATROL_FILL = "#d9f6fc"
UPPER_COLOUR = "#3a3a3a"
HARM_UNIT = "days of prison-equivalent harm (CCHI-style)"
SCORE_NOTE = "Score: 0 = borough average; higher = higher priority."
LISA_NOTE = (
    "LISA (local Moran's I) marks areas that score like their neighbours more than "
    "chance would give: High-High is a cluster of high-priority areas."
)
FDR_NOTE = (
    "The same clusters after a stricter test (false discovery rate) that allows for "
    "testing every area at once: what remains is the most reliable."
)
GI_NOTE = (
    "Gi* looks at each area together with its neighbours: a hotspot is a group of "
    "high scores too strong to be chance, a coldspot a group of low scores."
)

_LSOA_COLUMNS = (
    "lsoa_name", "ward_code", "ward_name", "score", "rank", "decile",
    "lisa_cluster", "lisa_cluster_fdr", "gi_bin", "gi_label",
    "driver_1", "driver_1_value", "driver_2", "driver_2_value", "driver_3", "driver_3_value",
    "population",
)  # fmt: skip
_NEIGHBOURHOOD_COLUMNS = (
    "rank", "name", "slug", "lsoa_codes", "n_lsoas", "population", "mean_score",
    "harm_share", "top_drivers",
)  # fmt: skip
_PLACE_COLUMNS = (
    "neighbourhood_rank", "neighbourhood", "place_rank", "place_id", "location",
    "count", "harm", "gi_label", "visits_per_day",
)  # fmt: skip


@dataclass(frozen=True)
class MapBundle:
    """Everything the maps show, in EPSG:27700.

    Parameters
    ----------
    lsoa : GeoDataFrame
        Index ``lsoa_code``; columns ``lsoa_name, ward_code, ward_name, score, rank``
        (1 = highest priority), ``decile`` (1 = highest 10%), ``domain_<name>`` scores,
        ``lisa_cluster``, ``lisa_cluster_fdr``, ``gi_bin`` (-3..3), ``gi_label``,
        ``driver_1..3`` and ``driver_1..3_value``, ``population`` and optional ``harm``.
    wards : GeoDataFrame
        Index ``ward_code``; column ``ward_name``.
    neighbourhoods : GeoDataFrame
        Columns ``rank, name, slug, lsoa_codes`` (";"-joined), ``n_lsoas, population,
        mean_score, harm_share`` (0-1), ``top_drivers``.
    patrol_places : GeoDataFrame, optional
        Points or cell polygons with ``neighbourhood_rank, neighbourhood, place_rank,
        place_id, location, count, harm, gi_label, visits_per_day``.
    upper_layer_label : str
        What the upper layer is ("Ward", "MSOA (2011)").
    upper_layer_note : str
        One sentence shown under the title (e.g. why MSOAs stand in for wards).
    indicator_labels : dict
        Readable names for indicator and domain identifiers in drivers and layers.
    lisa_alpha : float
        Significance level the LISA labels were drawn at (shown in the legend).
    """

    lsoa: gpd.GeoDataFrame
    wards: gpd.GeoDataFrame
    neighbourhoods: gpd.GeoDataFrame
    patrol_places: Optional[gpd.GeoDataFrame] = None
    upper_layer_label: str = "Ward"
    upper_layer_note: str = ""
    indicator_labels: dict[str, str] = field(default_factory=dict)
    lisa_alpha: float = 0.05

    @property
    def domains(self) -> list[str]:
        """Domain score columns (``domain_<name>``), in frame order."""
        return [c for c in self.lsoa.columns if str(c).startswith("domain_")]


# --------------------------------------------------------------------- validation


def _check_frame(
    frame: object, name: str, columns: tuple[str, ...], problems: list[str]
) -> None:
    if not isinstance(frame, gpd.GeoDataFrame):
        problems.append(f"{name}: expected a GeoDataFrame, got {type(frame).__name__}")
        return
    if frame.crs is None or not frame.crs.equals(METRIC_CRS):
        got = frame.crs.to_string() if frame.crs is not None else "no CRS"
        problems.append(f"{name}: expected CRS {METRIC_CRS}, got {got}; reproject with .to_crs('{METRIC_CRS}')")
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        problems.append(
            f"{name}: missing column(s) {', '.join(missing)}; has {', '.join(map(str, frame.columns))}"
        )


#: Quantile classes a reader can still tell apart on one sequential colour scale.
CLASS_RANGE = (2, 10)
#: Beyond this tolerance simplification visibly moves LSOA edges (an LSOA is a few hundred metres across).
MAX_SIMPLIFY_M = 100.0


def _check_spec(spec: MapSpec) -> None:
    """Map settings the config parser takes by type only: their ranges are checked here."""
    problems = []
    lo, hi = CLASS_RANGE
    classes = spec.classes
    if isinstance(classes, bool) or not isinstance(classes, (int, np.integer)) or not lo <= classes <= hi:
        problems.append(f"maps.classes: expected a whole number from {lo} to {hi}, got {classes!r}")
    tol = spec.simplify_m
    # Written so that NaN fails too: it would reach the map as NaN coordinates.
    if isinstance(tol, bool) or not isinstance(tol, (int, float, np.number)) or not 0 <= tol <= MAX_SIMPLIFY_M:
        problems.append(
            f"maps.simplify_m: expected 0 to {MAX_SIMPLIFY_M:g} metres (0 keeps every vertex), got {tol!r}"
        )
    if problems:
        raise ConfigError(problems, source="the maps settings")


def _validate(bundle: MapBundle) -> None:
    problems: list[str] = []
    _check_frame(bundle.lsoa, "lsoa", _LSOA_COLUMNS, problems)
    _check_frame(bundle.wards, "wards", ("ward_name",), problems)
    _check_frame(bundle.neighbourhoods, "neighbourhoods", _NEIGHBOURHOOD_COLUMNS, problems)
    if bundle.patrol_places is not None:
        _check_frame(bundle.patrol_places, "patrol_places", _PLACE_COLUMNS, problems)
    if not problems:
        lsoa = bundle.lsoa
        if len(lsoa) == 0:
            problems.append("lsoa: the frame is empty; the index produced no LSOAs")
        if not lsoa.index.is_unique:
            dupes = lsoa.index[lsoa.index.duplicated()].unique()[:5]
            problems.append(f"lsoa: index lsoa_code has duplicates ({', '.join(map(str, dupes))})")
        for col in ("score", "rank", "decile", "population", "gi_bin", *bundle.domains):
            if not pd.api.types.is_numeric_dtype(lsoa[col]):
                problems.append(f"lsoa.{col}: expected numbers, got dtype {lsoa[col].dtype}")
        allowed = set(LISA_COLOURS)
        for col in ("lisa_cluster", "lisa_cluster_fdr"):
            bad = sorted(set(lsoa[col].dropna().astype(str)) - allowed)
            if bad:
                problems.append(
                    f"lsoa.{col}: unexpected categories {', '.join(map(repr, bad))}; "
                    f"expected {', '.join(LISA_COLOURS)}"
                )
        if pd.api.types.is_numeric_dtype(lsoa["gi_bin"]):
            outside = lsoa["gi_bin"].dropna()
            outside = outside[(outside < -3) | (outside > 3) | (outside % 1 != 0)]
            if len(outside):
                problems.append(
                    f"lsoa.gi_bin: expected whole numbers -3..3, got {outside.iloc[0]!r} "
                    f"for {outside.index[0]} ({len(outside)} LSOAs)"
                )
        if lsoa["score"].isna().all():
            problems.append("lsoa.score: every score is missing")
        if not bundle.neighbourhoods["rank"].is_unique:
            problems.append("neighbourhoods.rank: ranks must be unique (one page per rank)")
    if problems:
        raise InputError(problems, path="map bundle")


# --------------------------------------------------------------------- preparation


def _simplify(geoms: gpd.GeoSeries, tolerance: float, *, coverage: bool) -> gpd.GeoSeries:
    if tolerance <= 0:
        return geoms
    if coverage:
        # Coverage simplification keeps shared edges shared: no slivers or gaps
        # between neighbouring LSOAs, which plain simplify would open up.
        try:
            out = geoms.simplify_coverage(tolerance)
            if not out.is_empty.any():
                return out
        except Exception as exc:  # GEOS rejects overlapping or invalid coverages
            log.info("coverage simplification not possible (%s); simplifying each polygon", exc)
    return geoms.simplify(tolerance, preserve_topology=True)


def _to_web(frame: gpd.GeoDataFrame, decimals: int = 5) -> gpd.GeoDataFrame:
    """Reproject to EPSG:4326 and round coordinates (5 dp is about 1 m)."""
    out = frame.to_crs("EPSG:4326")
    rounded = shapely.transform(out.geometry.values, lambda xy: np.round(xy, decimals))
    return out.set_geometry(gpd.GeoSeries(rounded, index=out.index, crs="EPSG:4326"))


def _sequential(k: int) -> list[str]:
    cmap = matplotlib.colormaps["YlOrRd"]
    # Skip the palest end so the lowest class still reads on a light base map.
    return [matplotlib.colors.to_hex(cmap(x)) for x in np.linspace(0.12, 0.95, k)]


@dataclass(frozen=True)
class _Classes:
    """A choropleth classification: class per LSOA (0 = lowest) and legend rows."""

    codes: pd.Series
    colours: list[str]
    labels: list[str]
    title: str
    unit: str = "class"

    def position_text(self) -> pd.Series:
        """Per LSOA, e.g. ``"quintile 1 of 5 (highest 20%)"`` (1 = highest)."""
        k = len(self.colours)
        position = k - self.codes
        text = self.unit + " " + format_number(position, ".0f") + f" of {k}"
        share = f"{100 / k:.0f}%"
        text = text.where(position != 1, text + f" (highest {share})")
        text = text.where(position != k, text + f" (lowest {share})")
        return text.where(position.notna(), "class n/a")

    def colour_of(self) -> pd.Series:
        palette = np.asarray(self.colours + ["#cccccc"], dtype=object)
        codes = self.codes.fillna(len(self.colours)).astype(int).to_numpy()
        return pd.Series(palette[codes], index=self.codes.index)

    def legend_items(self) -> list[tuple[str, str]]:
        # Highest-priority class first: that is what readers look for.
        return list(zip(self.colours[::-1], self.labels[::-1]))


def _classify(values: pd.Series, *, k: int, what: str) -> _Classes:
    """Quantile classes of a score, highest class = highest priority."""
    y = pd.to_numeric(values, errors="coerce").astype("float64")
    ok = y.notna()
    k_eff = int(max(1, min(k, ok.sum(), y[ok].nunique())))
    codes = pd.Series(np.nan, index=values.index)
    if k_eff == 1:
        codes[ok] = 0
        bins = np.array([y[ok].max()])
    else:
        q = mapclassify.Quantiles(y[ok].to_numpy(), k=k_eff)
        codes[ok] = q.yb
        bins = q.bins
        k_eff = len(bins)
    lows = np.r_[y[ok].min(), bins[:-1]]
    share = 100 / k_eff
    names = {5: "quintile", 10: "decile", 4: "quartile"}
    unit = names.get(k_eff, "class")
    labels = []
    for i, (lo, hi) in enumerate(zip(lows, bins)):
        position = k_eff - i
        tag = f"highest {share:.0f}%" if position == 1 else (f"lowest {share:.0f}%" if position == k_eff else "")
        prefix = f"{unit.capitalize()} {position}" + (f" ({tag})" if tag else "")
        labels.append(f"{prefix}: {lo:.2f} to {hi:.2f}")
    title = f"{what} ({unit}s, 1 = highest)" if unit != "class" else f"{what} ({k_eff} quantile classes)"
    return _Classes(codes=codes, colours=_sequential(k_eff), labels=labels, title=title, unit=unit)


def _classify_deciles(frame: pd.DataFrame, *, what: str) -> _Classes:
    """Classes from the index's own ``decile`` column (1 = highest priority 10%)."""
    decile = pd.to_numeric(frame["decile"], errors="coerce")
    codes = 10 - decile.clip(1, 10)
    score = pd.to_numeric(frame["score"], errors="coerce")
    spans = score.groupby(decile).agg(["min", "max"]).reindex(range(1, 11))
    labels = []
    for d in range(10, 0, -1):
        lo, hi = spans.loc[d, "min"], spans.loc[d, "max"]
        tag = " (highest 10%)" if d == 1 else (" (lowest 10%)" if d == 10 else "")
        rng = f": {lo:.2f} to {hi:.2f}" if pd.notna(lo) else ": none"
        labels.append(f"Decile {d}{tag}{rng}")
    return _Classes(
        codes=codes, colours=_sequential(10), labels=labels, title=f"{what} (deciles, 1 = highest)", unit="decile"
    )


def _label(labels: dict[str, str], key: str) -> str:
    if key in labels:
        return labels[key]
    bare = key.removeprefix("domain_")
    return labels.get(bare, bare.replace("_", " ").capitalize())


@dataclass(frozen=True)
class _Prepared:
    """Simplified, reprojected layers plus the escaped text shown with them."""

    lsoa: gpd.GeoDataFrame  # EPSG:4326
    lsoa_features: list[dict]  # the same rows as GeoJSON features, in row order
    lsoa_metric: gpd.GeoSeries  # simplified, EPSG:27700
    wards: gpd.GeoDataFrame
    ward_points: gpd.GeoDataFrame
    neighbourhoods: gpd.GeoDataFrame
    neighbourhoods_metric: gpd.GeoDataFrame
    number_points: gpd.GeoDataFrame
    places: Optional[gpd.GeoDataFrame]
    index_classes: _Classes
    domain_classes: dict[str, _Classes]
    domain_titles: dict[str, str]
    upper_label: str
    upper_note: str
    lisa_alpha: float = 0.05


def _prepare(bundle: MapBundle, spec: MapSpec, *, public: bool) -> _Prepared:
    lsoa = bundle.lsoa.copy()
    labels = bundle.indicator_labels
    upper = bundle.upper_layer_label or "Ward"
    esc_upper = escape_text(upper)
    n = len(lsoa)

    before = int(shapely.get_num_coordinates(lsoa.geometry.values).sum())
    metric = _simplify(lsoa.geometry, spec.simplify_m, coverage=True)
    after = int(shapely.get_num_coordinates(metric.values).sum())
    log.info("maps: simplified %d LSOAs at %.1f m (%d -> %d vertices)", n, spec.simplify_m, before, after)

    if spec.scheme == "deciles":
        index_classes = _classify_deciles(lsoa, what="Priority Localities Index")
    else:
        index_classes = _classify(lsoa["score"], k=spec.classes, what="Priority Localities Index")
    k_domain = 10 if spec.scheme == "deciles" else spec.classes
    domain_titles = {d: _label(labels, d) for d in bundle.domains}
    domain_classes = {
        d: _classify(lsoa[d], k=k_domain, what=f"{domain_titles[d]} domain score") for d in bundle.domains
    }

    code = escape_series(pd.Series(lsoa.index, index=lsoa.index))
    name = escape_series(lsoa["lsoa_name"])
    head = "<b>" + name + "</b> " + code + "<br>" + esc_upper + ": " + escape_series(lsoa["ward_name"])

    drivers = []
    for i in (1, 2, 3):
        label = lsoa[f"driver_{i}"].astype("string").replace(labels)
        value = format_number(lsoa[f"driver_{i}_value"], "+.2f", missing="")
        line = f"<br>{i}. " + escape_series(label) + value.where(value == "", " (" + value + ")")
        drivers.append(line.where(label.notna().to_numpy(), ""))
    harm = (
        "<br>Crime harm: " + format_number(lsoa["harm"], ",.0f") + f" {HARM_UNIT}"
        if "harm" in lsoa.columns
        else pd.Series("", index=lsoa.index)
    )
    score_line = (
        "<br>Priority score <b>" + format_number(lsoa["score"], ".2f") + "</b> (0 = borough average)"
        + ", rank " + format_number(lsoa["rank"], ".0f") + f" of {n:,} (1 = highest)"
    )  # fmt: skip
    props = pd.DataFrame(index=lsoa.index)
    props["tip"] = (
        head
        + score_line
        + "<br>Map class: " + index_classes.position_text()
        + "<br>Population: " + format_number(lsoa["population"], ",.0f")
        + harm
        + "<br><b>Top drivers</b> (contribution to score)" + drivers[0] + drivers[1] + drivers[2]
    )  # fmt: skip
    props["c_index"] = index_classes.colour_of()
    for d, cls in domain_classes.items():
        props[f"c_{d}"] = cls.colour_of()
        props[f"tip_{d}"] = (
            head + "<br>" + escape_text(domain_titles[d]) + " domain score: <b>"
            + format_number(lsoa[d], ".2f") + "</b> (0 = borough average), " + cls.position_text()
            + score_line
        )  # fmt: skip
    for col in ("lisa_cluster", "lisa_cluster_fdr"):
        cat = lsoa[col].astype("string").fillna("Not significant")
        props[f"c_{col}"] = cat.map(LISA_COLOURS).astype(object)
        props[f"tip_{col}"] = head + "<br>Cluster: <b>" + escape_series(cat) + "</b>" + score_line
    gi = pd.to_numeric(lsoa["gi_bin"], errors="coerce").fillna(0).astype(int)
    props["c_gi"] = gi.map(GI_COLOURS).astype(object)
    gi_text = lsoa["gi_label"].astype("string").fillna(gi.map(GI_LABELS).astype("string"))
    props["tip_gi"] = head + "<br>Gi*: <b>" + escape_series(gi_text) + "</b>" + score_line
    web = _to_web(gpd.GeoDataFrame(props, geometry=metric, crs=METRIC_CRS))

    wards_metric = bundle.wards.copy()
    wards_metric = wards_metric.set_geometry(_simplify(wards_metric.geometry, spec.simplify_m, coverage=True))
    wards = _to_web(gpd.GeoDataFrame({"tip": escape_series(wards_metric["ward_name"])}, geometry=wards_metric.geometry))
    # Feature ids reach the page inside folium's macros, which branca renders again as
    # Jinja2 source: a code holding "{{ ... }}" would run. Escaped ids stay unique.
    wards.index = pd.Index(escape_series(pd.Series(wards.index.astype(str), index=wards.index)), name=wards.index.name)
    ward_points = _to_web(
        gpd.GeoDataFrame(
            {"label": wards_metric["ward_name"].astype("string")},
            geometry=wards_metric.geometry.representative_point(),
            crs=METRIC_CRS,
        )
    )

    nb = bundle.neighbourhoods.copy().sort_values("rank")
    nb_metric = nb.set_geometry(_simplify(nb.geometry, spec.simplify_m, coverage=False))
    nb_props = pd.DataFrame(index=nb.index)
    nb_props["rank"] = nb["rank"].astype(int)
    nb_props["slug"] = _safe_slug(nb["slug"], nb["name"])
    nb_props["popup"] = _profile_html(nb, bundle.lsoa["lsoa_name"], labels)
    nb_props["name"] = nb["name"].astype("string")
    neighbourhoods = _to_web(gpd.GeoDataFrame(nb_props, geometry=nb_metric.geometry, crs=METRIC_CRS))
    numbers = _to_web(
        gpd.GeoDataFrame(
            {"label": nb_props["rank"].astype(str), "popup": nb_props["popup"], "rank": nb_props["rank"]},
            geometry=nb_metric.geometry.representative_point(),
            crs=METRIC_CRS,
        )
    )

    places = None
    if bundle.patrol_places is not None and len(bundle.patrol_places) and public:
        log.info("maps: public output, so the %d micro-patrol places are left off", len(bundle.patrol_places))
    elif bundle.patrol_places is not None and len(bundle.patrol_places):
        pp = bundle.patrol_places
        extra = pd.Series("", index=pp.index, dtype=object)
        if "categories" in pp.columns:
            cats = pp["categories"].astype("string").fillna("")
            extra = extra + ("<br>Crime types: " + escape_series(cats)).where(cats != "", "")
        if "period" in pp.columns:
            per = pp["period"].astype("string").fillna("")
            extra = extra + ("<br>Period: " + escape_series(per)).where(per != "", "")
        tip = (
            "<b>Place " + format_number(pp["place_rank"], ".0f") + ", neighbourhood "
            + format_number(pp["neighbourhood_rank"], ".0f") + " (" + escape_series(pp["neighbourhood"]) + ")</b>"
            + "<br>" + escape_series(pp["location"])
            + "<br>Crimes recorded: " + format_number(pp["count"], ",.0f")
            + "<br>Crime harm: " + format_number(pp["harm"], ",.0f") + f" {HARM_UNIT}"
            + extra
            + "<br>Gi*: " + escape_series(pp["gi_label"])
            + "<br>Suggested visits per day: " + format_number(pp["visits_per_day"], ".1f")
        )  # fmt: skip
        places = _to_web(
            gpd.GeoDataFrame(
                {"tip": tip, "nrank": pd.to_numeric(pp["neighbourhood_rank"], errors="coerce")},
                geometry=pp.geometry,
                crs=METRIC_CRS,
            )
        )

    features = json.loads(web.to_json(drop_id=False))["features"]
    for feature in features:  # ids become Jinja2 source too (see the wards above)
        feature["id"] = escape_text(feature["id"])
    return _Prepared(
        lsoa=web,
        lsoa_features=features,
        lsoa_metric=metric,
        wards=wards,
        ward_points=ward_points,
        neighbourhoods=neighbourhoods,
        neighbourhoods_metric=nb_metric,
        number_points=numbers,
        places=places,
        index_classes=index_classes,
        domain_classes=domain_classes,
        domain_titles=domain_titles,
        upper_label=upper,
        upper_note=bundle.upper_layer_note,
        lisa_alpha=bundle.lisa_alpha,
    )


def _safe_slug(slug: pd.Series, name: pd.Series) -> pd.Series:
    """Slugs become file names: keep ``[a-z0-9-]`` only, whatever the data holds."""
    raw = slug.astype("string").fillna("").where(slug.astype("string").fillna("") != "", name.astype("string"))
    clean = (
        raw.fillna("")
        .str.lower()
        .str.replace(r"[^a-z0-9]+", "-", regex=True)
        .str.strip("-")
        .str.slice(0, 60)
        .str.strip("-")
    )
    return clean.where(clean != "", "neighbourhood").astype(object)


def _readable_drivers(drivers: pd.Series, labels: dict[str, str]) -> pd.Series:
    """``"crime_harm_rate;violence_rate"`` -> ``"Crime harm rate; Violence rate"``."""
    parts = drivers.astype("string").fillna("").str.split(";").explode().str.strip()
    parts = parts[parts.fillna("") != ""]
    lookup = {str(k): str(v) for k, v in labels.items()}
    lookup.update({f"domain_{k}": v for k, v in list(lookup.items()) if not k.startswith("domain_")})
    # Unknown identifiers (snake_case) read better prettified; free text stays as it is.
    pretty = parts.str.removeprefix("domain_").str.replace("_", " ").str.capitalize()
    fallback = pretty.where(parts.str.contains("_"), parts)
    named = parts.map(lookup).astype(object).fillna(fallback.astype(object))
    return named.groupby(level=0).agg("; ".join).reindex(drivers.index).fillna("")


def _profile_html(nb: pd.DataFrame, lsoa_names: pd.Series, labels: dict[str, str]) -> pd.Series:
    """The neighbourhood profile (escaped HTML), one per neighbourhood."""
    codes = nb["lsoa_codes"].astype("string").fillna("").str.split(";").explode().str.strip()
    codes = codes[codes.fillna("") != ""]
    names = codes.map(lsoa_names.astype("string")).fillna("")
    item = "<li>" + escape_series(codes) + " " + escape_series(names) + "</li>"
    lsoa_list = item.groupby(level=0).agg("".join).reindex(nb.index).fillna("")
    share = pd.to_numeric(nb["harm_share"], errors="coerce") * 100
    return (
        '<div class="pli-profile"><h3>' + nb["rank"].astype(int).astype(str) + ". "
        + escape_series(nb["name"]) + "</h3><table>"
        + "<tr><th>Population</th><td>" + format_number(nb["population"], ",.0f") + "</td></tr>"
        + "<tr><th>Share of borough harm</th><td>" + format_number(share, ".1f") + "% of borough crime harm</td></tr>"
        + "<tr><th>Mean index score</th><td>" + format_number(nb["mean_score"], ".2f")
        + " (0 = borough average)</td></tr>"
        + "<tr><th>Top drivers</th><td>" + escape_series(_readable_drivers(nb["top_drivers"], labels)) + "</td></tr>"
        + "<tr><th>LSOAs (" + format_number(nb["n_lsoas"], ".0f") + ")</th><td>"
        + '<ul class="pli-lsoas" style="margin:0;padding-left:16px">' + lsoa_list + "</ul></td></tr>"
        + "</table></div>"
    ).astype(object)  # fmt: skip


# --------------------------------------------------------------------- folium pages


def _style(colour_col: str, *, opacity: float) -> Callable[[dict], dict]:
    def style(feature: dict) -> dict:
        return {
            "fillColor": feature["properties"][colour_col],
            "color": "#ffffff",
            "weight": 0.6,
            "fillOpacity": opacity,
        }

    return style


def _highlight(_: dict) -> dict:
    return {"weight": 2.5, "color": "#000000"}


def _collection(features: list[dict], keys: tuple[str, ...]) -> dict:
    """A FeatureCollection holding only ``keys`` of each feature's properties.

    Geometry dicts are shared, not copied: the themes of one page differ only in
    their properties, so the geometry is converted to GeoJSON once per run.
    """
    return {
        "type": "FeatureCollection",
        "features": [
            {"type": "Feature", "id": f["id"], "properties": {k: f["properties"][k] for k in keys}, "geometry": f["geometry"]}
            for f in features
        ],
    }


def _theme_layer(
    m: folium.Map,
    features: list[dict],
    *,
    name: str,
    colour: str,
    tip: str,
    show: bool,
    opacity: float,
) -> folium.GeoJson:
    layer = folium.GeoJson(
        _collection(features, (colour, tip)),
        name=escape_text(name),
        overlay=False,
        show=show,
        style_function=_style(colour, opacity=opacity),
        highlight_function=_highlight,
        tooltip=folium.GeoJsonTooltip(fields=[tip], labels=False, sticky=True, class_name="pli-tip"),
    )
    layer.add_to(m)
    return layer


def _new_map(prep: _Prepared, bounds_metric: tuple[float, ...], *, tiles: bool) -> folium.Map:
    west, south, east, north = gpd.GeoSeries(
        [shapely.box(*bounds_metric)], crs=METRIC_CRS
    ).to_crs("EPSG:4326").total_bounds
    m = folium.Map(
        location=[(south + north) / 2, (west + east) / 2],
        zoom_start=12,
        tiles=None,
        prefer_canvas=True,  # canvas keeps thousands of polygons responsive
        control_scale=True,
        zoom_control="bottomright",
        zoom_snap=0.25,  # fractional zoom lets the area fill the window
        zoom_delta=0.5,
    )
    js, css = lean_assets()
    m.default_js, m.default_css = js, css
    if tiles:
        # A light grey base keeps the choropleth readable; CARTO's light tiles now need a key.
        folium.TileLayer(
            xyzservices.providers.Esri.WorldGrayCanvas,
            name="Base map",
            control=False,
            max_native_zoom=16,
            max_zoom=19,
        ).add_to(m)
    m.get_root().header.add_child(folium.Element(PAGE_CSS), name="pli_css")
    # Grey tiles show through a translucent fill and shift the colours; without tiles
    # a near-opaque fill keeps the map's colours those of the legend.
    m._pli_opacity = 0.8 if tiles else 0.9
    m._pli_bounds = [[float(south), float(west)], [float(north), float(east)]]
    return m


def _title_html(area: AreaSpec, period: str, heading: str, prep: _Prepared, *, extra: str = "") -> str:
    sim = '<p class="pli-sim">Simulated data: for demonstration only, not real crime.</p>' if area.simulated else ""
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
    m.get_root().header.add_child(folium.Element(f"<title>{escape_text(text)}</title>"), name="pli_title")


def _copyright_year() -> int:
    """This year, or the year of ``SOURCE_DATE_EPOCH`` (reproducible-builds convention) when set."""
    raw = os.environ.get("SOURCE_DATE_EPOCH", "").strip()
    if raw.isdigit():
        return _dt.datetime.fromtimestamp(int(raw), tz=_dt.timezone.utc).year
    return _dt.date.today().year


def _attribution(prep: _Prepared, area: AreaSpec) -> str:
    year = _copyright_year()
    return f"Boundaries: ONS and OS \u00a9 Crown copyright and database right {year}; " + _data_credit(area)


def _data_credit(area: AreaSpec) -> str:
    if area.simulated:
        return "crime and deprivation: SIMULATED by pli (demo)"
    return "crime: police.uk, Open Government Licence v3.0"


def _add_context(
    m: folium.Map,
    prep: _Prepared,
    *,
    lsoa_bounds: Optional[tuple[float, ...]] = None,
    focus_rank: Optional[int] = None,
) -> list:
    """Upper-layer boundaries and names, neighbourhoods, patrol places.

    Returns the layers to keep above the themes, bottom first: upper-layer
    boundaries, neighbourhood outlines, patrol places (when shown).
    """
    upper = prep.upper_label
    wards, ward_points = prep.wards, prep.ward_points
    if lsoa_bounds is not None:
        wards = wards.cx[lsoa_bounds[0]:lsoa_bounds[2], lsoa_bounds[1]:lsoa_bounds[3]]
        ward_points = ward_points.cx[lsoa_bounds[0]:lsoa_bounds[2], lsoa_bounds[1]:lsoa_bounds[3]]
    ward_layer = folium.GeoJson(
        wards[["tip", "geometry"]],
        name=escape_text(f"{upper} boundaries"),
        style_function=lambda _: {"fill": False, "color": UPPER_COLOUR, "weight": 1.4, "opacity": 0.9},
        interactive=False,
    )
    ward_layer.add_to(m)
    names = folium.FeatureGroup(name=escape_text(f"{upper} names"), show=True)
    names.add_child(LabelLayer(ward_points, css_class="pli-label"))
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
        nb[["rank", "geometry"]],
        name="Neighbourhood outlines",
        control=False,
        style_function=nb_style,
        interactive=False,
    )
    nb_group.add_child(nb_layer)
    nb_group.add_child(LabelLayer(prep.number_points, css_class="pli-number", interactive=True, z_offset=1000))
    nb_group.add_to(m)
    if focus_rank is None:
        rows = [
            (NEIGHBOURHOOD_COLOUR, "Priority neighbourhood, numbered by rank (1 = highest)", {"width": 3}),
            (UPPER_COLOUR, f"{upper} boundary", {"width": 1.5}),
        ]
    else:
        rows = [
            ("#0a0a0a", "This neighbourhood", {"width": 5, "bold": True}),
            ("#333333", "Other priority neighbourhoods", {"width": 2, "dash": "dashed"}),
            (UPPER_COLOUR, f"{upper} boundary", {"width": 1.5}),
        ]
    LegendControl(
        legend_html("Priority neighbourhoods", rows, kind="line", note="Click a neighbourhood's number for its profile."),
        layer=nb_group,
        key="neighbourhoods",
        # Bottom right: the bottom left holds the theme key (and, below the title, a profile).
        position="bottomright",
    ).add_to(m)

    place_layer = None
    if prep.places is not None:
        places = prep.places if focus_rank is None else prep.places[prep.places["nrank"] == focus_rank]
        if len(places):
            points = bool(places.geom_type.isin(["Point", "MultiPoint"]).all())
            place_layer = folium.GeoJson(
                places[["tip", "geometry"]],
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
            ).add_to(m)
    return [ward_layer, nb_layer, place_layer]


def _add_themes(m: folium.Map, features: list[dict], prep: _Prepared, *, first: str) -> None:
    """The mutually exclusive LSOA themes with their legends; ``first`` is shown."""
    opacity = getattr(m, "_pli_opacity", 0.9)
    themes: list[tuple[str, str, str, str]] = [("index", prep.index_classes.title, "c_index", "tip")]
    for d in prep.domain_classes:
        themes.append((d, f"Domain: {prep.domain_titles[d]}", f"c_{d}", f"tip_{d}"))
    themes += [
        ("lisa", "Clusters (LISA)", "c_lisa_cluster", "tip_lisa_cluster"),
        ("lisa_fdr", "Clusters, strict test (FDR)", "c_lisa_cluster_fdr", "tip_lisa_cluster_fdr"),
        ("gi", "Hotspots and coldspots (Gi*)", "c_gi", "tip_gi"),
    ]
    lisa_items = [(LISA_COLOURS[k], LISA_LABELS[k]) for k in LISA_COLOURS]
    gi_items = [(GI_COLOURS[b], GI_LABELS[b]) for b in sorted(GI_COLOURS, reverse=True)]
    alpha = f"{prep.lisa_alpha:g}"
    for key, name, colour, tip in themes:
        layer = _theme_layer(m, features, name=name, colour=colour, tip=tip, show=key == first, opacity=opacity)
        if key == "index":
            cls = prep.index_classes
            body = legend_html(cls.title, cls.legend_items(), note=SCORE_NOTE, opacity=opacity)
        elif key in prep.domain_classes:
            cls = prep.domain_classes[key]
            body = legend_html(cls.title, cls.legend_items(), note=SCORE_NOTE, opacity=opacity)
        elif key == "lisa":
            body = legend_html(f"Clusters (LISA, pseudo p < {alpha})", lisa_items, note=LISA_NOTE, opacity=opacity)
        elif key == "lisa_fdr":
            body = legend_html(f"Clusters, strict test (FDR, q < {alpha})", lisa_items, note=FDR_NOTE, opacity=opacity)
        else:
            body = legend_html("Hotspots and coldspots (Gi*, confidence)", gi_items, note=GI_NOTE, opacity=opacity)
        LegendControl(body, layer=layer, key=key).add_to(m)


def _finish(m: folium.Map, front: list, *, attribution: str) -> None:
    control = folium.LayerControl(position="topright", collapsed=False)
    control.add_to(m)
    ResponsiveLayers(control).add_to(m)
    KeepInFront(*front).add_to(m)
    Attribution(escape_text(attribution)).add_to(m)
    # Last, so it can measure the panels and the layer control it must leave free.
    FitView(m._pli_bounds).add_to(m)


def _render(m: folium.Map, *, offline: bool) -> str:
    html = m.get_root().render()
    return inline_assets(html) if offline else html


def _priority_page(prep: _Prepared, area: AreaSpec, period: str, *, tiles: bool, offline: bool) -> str:
    m = _new_map(prep, tuple(prep.lsoa_metric.total_bounds), tiles=tiles)
    heading = "Priority Localities Index"
    _page_title(m, f"{area.name}: {heading}, {period}")
    MapPanel(_title_html(area, period, heading, prep), key="title", position="topleft", css_class="pli-panel pli-title").add_to(m)
    _add_themes(m, prep.lsoa_features, prep, first="index")
    front = _add_context(m, prep)
    _finish(m, front, attribution=_attribution(prep, area))
    return _render(m, offline=offline)


def _hotspot_page(prep: _Prepared, area: AreaSpec, period: str, *, tiles: bool, offline: bool) -> str:
    m = _new_map(prep, tuple(prep.lsoa_metric.total_bounds), tiles=tiles)
    heading = "Clusters and hotspots of the Priority Localities Index"
    _page_title(m, f"{area.name}: {heading}, {period}")
    extra = (
        "<p>Clusters (LISA): an area and its neighbours are all high (High-High) or all low. "
        "Hotspots (Gi*): groups of high or low scores too strong to be chance. "
        "Switch views with the layer list.</p>"
    )
    MapPanel(
        _title_html(area, period, heading, prep, extra=extra),
        key="title",
        position="topleft",
        css_class="pli-panel pli-title",
    ).add_to(m)
    _add_themes(m, prep.lsoa_features, prep, first="lisa")
    front = _add_context(m, prep)
    _finish(m, front, attribution=_attribution(prep, area))
    return _render(m, offline=offline)


def _neighbourhood_page(
    prep: _Prepared, row: pd.Series, area: AreaSpec, period: str, *, tiles: bool, offline: bool, pad_m: float
) -> str:
    rank = int(row["rank"])
    geom = prep.neighbourhoods_metric.geometry.loc[row.name]
    view = shapely.box(*geom.bounds).buffer(pad_m, join_style="mitre")
    hits = prep.lsoa_metric.sindex.query(view, predicate="intersects")
    m = _new_map(prep, tuple(geom.buffer(pad_m / 4).bounds), tiles=tiles)
    heading = f"Priority neighbourhood {rank}: {row['name']}"
    _page_title(m, f"{area.name}: {heading}, {period}")
    MapPanel(_title_html(area, period, heading, prep), key="title", position="topleft", css_class="pli-panel pli-title").add_to(m)
    MapPanel(row["popup"], key="profile", position="topleft", css_class="pli-panel pli-profile-panel").add_to(m)
    _add_themes(m, [prep.lsoa_features[i] for i in np.sort(hits)], prep, first="index")
    bounds = tuple(gpd.GeoSeries([view], crs=METRIC_CRS).to_crs("EPSG:4326").total_bounds)
    front = _add_context(m, prep, lsoa_bounds=bounds, focus_rank=rank)
    _finish(m, front, attribution=_attribution(prep, area))
    return _render(m, offline=offline)


# --------------------------------------------------------------------- figures


def _literal_text(plot: Callable[..., plt.Figure]) -> Callable[..., plt.Figure]:
    """Draw every text of the figure as written.

    Names come from data; matplotlib would read ``$...$`` in one as mathtext (``Price
    $5$`` drawn as maths, ``\\$`` losing its backslash, ``$$`` or ``$x^$`` stopping the
    save with a parse error) and ``text.usetex`` would hand it to LaTeX. Each Text
    takes both settings when it is created, so they hold through the later ``savefig``.
    """

    @functools.wraps(plot)
    def wrapper(*args, **kwargs):
        with matplotlib.rc_context({"text.parse_math": False, "text.usetex": False}):
            return plot(*args, **kwargs)

    return wrapper


def _figure_frame(area: AreaSpec, period: str, heading: str) -> tuple[plt.Figure, plt.Axes]:
    fig, ax = plt.subplots(figsize=(8.27, 9.2))
    title = f"{area.name}: {heading}\nData period: {period}"
    fig.suptitle(title, fontsize=13, fontweight="bold", x=0.03, ha="left", y=0.985)
    if area.simulated:
        fig.text(0.03, 0.915, "Simulated data: for demonstration only", color="#b00020", fontsize=10, fontweight="bold")
    ax.set_axis_off()
    ax.set_aspect("equal")
    return fig, ax


def _halo(width: float = 2.2) -> list:
    return [patheffects.withStroke(linewidth=width, foreground="white")]


def _draw_upper(
    ax: plt.Axes, wards: gpd.GeoDataFrame, *, names: bool = True, avoid: Optional[gpd.GeoSeries] = None
) -> None:
    """Upper-layer boundaries and names.

    A name whose box would cover a number circle (``avoid``) or a name already placed
    is tried just below, then just above its spot, and left off if both clash.
    """
    wards.boundary.plot(ax=ax, color=UPPER_COLOUR, linewidth=0.6)
    if not names or not len(wards):
        return
    size = 6.5
    fig = ax.figure
    pos = ax.get_position()
    x0, x1 = ax.get_xlim()
    y0, y1 = ax.get_ylim()
    # Equal aspect: the tighter direction sets map units per printed point.
    per_pt = max((x1 - x0) / (pos.width * fig.get_figwidth() * 72), (y1 - y0) / (pos.height * fig.get_figheight() * 72))
    texts = wards["ward_name"].astype(str).map(lambda t: textwrap.fill(t, 16)).to_numpy()
    lines = np.char.count(texts.astype(str), "\n") + 1
    widest = np.array([max(len(part) for part in t.split("\n")) for t in texts])
    half_w = widest * 0.55 * size * per_pt / 2
    half_h = lines * 1.2 * size * per_pt / 2
    pts = wards.geometry.representative_point()
    boxes: list[tuple[float, float, float, float]] = []
    if avoid is not None and len(avoid):
        r = 9 * per_pt  # number circle radius at 9 pt with padding
        boxes = [(x - r, y - r, x + r, y + r) for x, y in zip(avoid.x, avoid.y)]
    # Bigger areas first: their names matter more and have more room to move.
    order = np.argsort(-wards.geometry.area.to_numpy())
    px, py = pts.x.to_numpy(), pts.y.to_numpy()
    for i in order:  # one pass over a few dozen upper-layer areas
        for shift in (0.0, -2.2, 2.2):
            cy = py[i] + shift * half_h[i]
            box = (px[i] - half_w[i], cy - half_h[i], px[i] + half_w[i], cy + half_h[i])
            if not any(box[0] < b[2] and b[0] < box[2] and box[1] < b[3] and b[1] < box[3] for b in boxes):
                boxes.append(box)
                ax.annotate(texts[i], (px[i], cy), ha="center", va="center", fontsize=size, color="#222222", path_effects=_halo(1.8))
                break


def _draw_numbers(ax: plt.Axes, nb: gpd.GeoDataFrame) -> None:
    pts = nb.geometry.representative_point()
    for x, y, rank in zip(pts.x, pts.y, nb["rank"].astype(int)):
        ax.annotate(
            str(rank), (x, y), ha="center", va="center", fontsize=9, fontweight="bold", color="white",
            bbox={"boxstyle": "circle,pad=0.25", "fc": NEIGHBOURHOOD_COLOUR, "ec": "white", "lw": 1.2},
        )  # fmt: skip


def _scale_bar(ax: plt.Axes) -> None:
    x0, x1 = ax.get_xlim()
    y0, y1 = ax.get_ylim()
    span = x1 - x0
    length = next(v for v in (5000, 2000, 1000, 500, 200, 100) if v <= span / 4) if span > 400 else span / 4
    x, y = x0 + span * 0.03, y0 + (y1 - y0) * 0.03
    ax.plot([x, x + length], [y, y], color="black", linewidth=2.5, solid_capstyle="butt")
    label = f"{length / 1000:g} km" if length >= 1000 else f"{length:g} m"
    ax.annotate(label, (x + length / 2, y), xytext=(0, 4), textcoords="offset points", ha="center", fontsize=7)


def _attribution_text(fig: plt.Figure, text: str) -> None:
    width = int(fig.get_figwidth() * 19)  # characters per line at 5.5 pt, inside the margins
    fig.text(0.03, 0.012, textwrap.fill(text, width), fontsize=5.5, color="#444444", va="bottom")


@_literal_text
def plot_index_figure(bundle: MapBundle, *, spec: MapSpec, area: AreaSpec, period: str) -> plt.Figure:
    """Static map of the index with upper-layer names and numbered neighbourhoods.

    Parameters
    ----------
    bundle : MapBundle
    spec : MapSpec
        ``classes``/``scheme`` choose the classification (as on the web maps).
    area : AreaSpec
    period : str
        Data period for the title.

    Returns
    -------
    matplotlib.figure.Figure
        A4-width figure; the caller saves or closes it.
    """
    _check_spec(spec)
    _validate(bundle)
    lsoa = bundle.lsoa
    if spec.scheme == "deciles":
        classes = _classify_deciles(lsoa, what="Priority Localities Index")
    else:
        classes = _classify(lsoa["score"], k=spec.classes, what="Priority Localities Index")
    fig, ax = _figure_frame(area, period, "Priority Localities Index")
    lsoa.plot(ax=ax, color=classes.colour_of().to_numpy(), edgecolor="white", linewidth=0.15)
    upper = bundle.upper_layer_label or "Ward"
    _draw_upper(ax, bundle.wards, avoid=bundle.neighbourhoods.geometry.representative_point())
    bundle.neighbourhoods.boundary.plot(ax=ax, color=NEIGHBOURHOOD_COLOUR, linewidth=1.8)
    _draw_numbers(ax, bundle.neighbourhoods)
    _scale_bar(ax)
    handles = [Patch(facecolor=c, edgecolor="#777777", label=lab) for c, lab in classes.legend_items()]
    handles += [
        Line2D([], [], color=NEIGHBOURHOOD_COLOUR, linewidth=1.8, label="Priority neighbourhood (numbered by rank)"),
        Line2D([], [], color=UPPER_COLOUR, linewidth=0.6, label=f"{upper} boundary"),
    ]
    ax.legend(
        handles=handles, title=classes.title, loc="upper left", bbox_to_anchor=(0.0, -0.005),
        ncol=2, fontsize=7, title_fontsize=8, frameon=False,
    )  # fmt: skip
    note = bundle.upper_layer_note
    _attribution_text(fig, (note + " " if note else "") + SCORE_NOTE + " " + _attribution_text_for(area))
    fig.subplots_adjust(left=0.02, right=0.98, top=0.9, bottom=0.16)
    return fig


def _attribution_text_for(area: AreaSpec) -> str:
    year = _copyright_year()
    credit = _data_credit(area)
    return (
        f"Contains National Statistics data \u00a9 Crown copyright and database right {year}. "
        f"Contains OS data \u00a9 Crown copyright and database right {year}. "
        f"{credit[0].upper()}{credit[1:]}."
    )


@_literal_text
def plot_neighbourhoods_figure(bundle: MapBundle, *, area: AreaSpec, period: str) -> plt.Figure:
    """Static map of the priority neighbourhoods with a numbered key.

    Returns
    -------
    matplotlib.figure.Figure
        Map on the left, the ranked list (name, population, share of harm) on the right.
    """
    _validate(bundle)
    nb = bundle.neighbourhoods.sort_values("rank")
    fig, ax = _figure_frame(area, period, "Priority neighbourhoods")
    fig.set_size_inches(11.69, 8.27)  # A4 landscape leaves room for the key
    ax.set_position([0.01, 0.06, 0.64, 0.82])
    bundle.lsoa.plot(ax=ax, color="#eeeeee", edgecolor="#ffffff", linewidth=0.2)
    nb.plot(ax=ax, color="#f03b20", alpha=0.55, edgecolor="none")
    _draw_upper(ax, bundle.wards, avoid=nb.geometry.representative_point())
    nb.boundary.plot(ax=ax, color=NEIGHBOURHOOD_COLOUR, linewidth=1.6)
    _draw_numbers(ax, nb)
    _scale_bar(ax)
    share = pd.to_numeric(nb["harm_share"], errors="coerce") * 100
    lines = (
        nb["rank"].astype(int).astype(str) + ". " + nb["name"].astype(str) + "\n     population "
        + format_number(nb["population"], ",.0f") + ", " + format_number(share, ".1f") + "% of borough crime harm"
    )  # fmt: skip
    fig.text(0.67, 0.86, "Ranked by priority (1 = highest)", fontsize=10, fontweight="bold", va="top")
    fig.text(0.67, 0.82, "\n".join(lines), fontsize=8.5, va="top", linespacing=1.5)
    upper = bundle.upper_layer_label or "Ward"
    handles = [
        Patch(facecolor="#f03b20", alpha=0.55, edgecolor="none", label="Priority neighbourhood (area)"),
        Line2D([], [], color=NEIGHBOURHOOD_COLOUR, linewidth=1.6, label="Priority neighbourhood outline"),
        Line2D(
            [], [], marker="o", linestyle="none", markersize=10, markerfacecolor=NEIGHBOURHOOD_COLOUR,
            markeredgecolor="white", label="Number = priority rank (1 = highest)",
        ),
        Line2D([], [], color=UPPER_COLOUR, linewidth=0.6, label=f"{upper} boundary"),
        Patch(facecolor="#eeeeee", edgecolor="#cccccc", label="Other LSOAs"),
    ]  # fmt: skip
    fig.legend(handles=handles, loc="lower left", bbox_to_anchor=(0.665, 0.08), fontsize=8, frameon=False, title="Key", title_fontsize=9, alignment="left")
    note = bundle.upper_layer_note
    _attribution_text(fig, (note + " " if note else "") + _attribution_text_for(area))
    return fig


# --------------------------------------------------------------------- writing


def _write_atomic(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _save_figure(fig: plt.Figure, path: Path) -> None:
    import io

    buf = io.BytesIO()
    try:
        # No "Software" chunk: the manifest records package versions, and the PNG's
        # bytes then depend only on what is drawn.
        fig.savefig(buf, format="png", dpi=200, facecolor="white", metadata={"Software": None})
    finally:
        plt.close(fig)
    _write_atomic(path, buf.getvalue())


def write_maps(
    bundle: MapBundle,
    out_dir: Path,
    *,
    spec: MapSpec,
    area: AreaSpec,
    period: str,
    offline: bool | None = None,
    public: bool = False,
) -> list[Path]:
    """Write the interactive maps and the static figures.

    Parameters
    ----------
    bundle : MapBundle
        Frames from the index, clustering, priorities and patrol stages (EPSG:27700).
    out_dir : Path
        Folder for the files (created if needed).
    spec : MapSpec
        Classes, scheme, simplification tolerance, base tiles and offline default.
    area : AreaSpec
        Area name and whether the data are simulated (both go in every title).
    period : str
        Data period shown in titles, e.g. ``"2024-03 to 2025-02"``.
    offline : bool, optional
        Inline Leaflet so pages work without internet; default ``spec.offline``.
    public : bool
        Public output leaves the micro-patrol places off the maps.

    Returns
    -------
    list of Path
        ``priority_localities.html``, ``hotspots.html``, one
        ``neighbourhoods/<rank>-<slug>.html`` per neighbourhood, then the two PNGs.

    Raises
    ------
    InputError
        When a frame lacks a column, has the wrong CRS or unexpected categories.
    ConfigError
        When ``spec.classes`` or ``spec.simplify_m`` is out of range.
    """
    _check_spec(spec)
    _validate(bundle)
    offline = spec.offline if offline is None else bool(offline)
    tiles = spec.tiles and not offline
    if spec.tiles and offline:
        log.info("maps: offline, so no base tiles (they would need the internet)")
    prep = _prepare(bundle, spec, public=public)
    out_dir = Path(out_dir)
    nb_dir = out_dir / "neighbourhoods"
    nb_dir.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []

    def emit(path: Path, html: str) -> None:
        data = html.encode("utf-8")
        _write_atomic(path, data)
        log.info("maps: wrote %s (%.2f MB)", path, len(data) / 1e6)
        written.append(path)

    # Each page is built with ids seeded by its file name, so the same data give the same bytes.
    with stable_element_ids("priority_localities.html"):
        emit(out_dir / "priority_localities.html", _priority_page(prep, area, period, tiles=tiles, offline=offline))
    with stable_element_ids("hotspots.html"):
        emit(out_dir / "hotspots.html", _hotspot_page(prep, area, period, tiles=tiles, offline=offline))
    nb = prep.neighbourhoods
    wanted = {f"{r}-{s}.html" for r, s in zip(nb["rank"], nb["slug"])}
    # One page per neighbourhood is inherently a loop over the (few) neighbourhoods.
    for key, row in nb.iterrows():
        name = f"{int(row['rank'])}-{row['slug']}.html"
        with stable_element_ids(f"neighbourhoods/{name}"):
            html = _neighbourhood_page(prep, row, area, period, tiles=tiles, offline=offline, pad_m=600.0)
        emit(nb_dir / name, html)
    stale = [p for p in nb_dir.glob("*.html") if re.fullmatch(r"\d+-[a-z0-9-]+\.html", p.name) and p.name not in wanted]
    for p in stale:
        p.unlink()
    if stale:
        log.info("maps: removed %d neighbourhood page(s) from an earlier run", len(stale))

    fig = plot_index_figure(bundle, spec=spec, area=area, period=period)
    _save_figure(fig, out_dir / "priority_localities.png")
    written.append(out_dir / "priority_localities.png")
    fig = plot_neighbourhoods_figure(bundle, area=area, period=period)
    _save_figure(fig, out_dir / "priority_neighbourhoods.png")
    written.append(out_dir / "priority_neighbourhoods.png")
    return written


def bundle_for_run(cfg: Any, lsoa: gpd.GeoDataFrame, published: pd.DataFrame, boundaries: Any, nb: Any,
                   plan: Any) -> MapBundle:
    """The :class:`MapBundle` of a run: what the tables publish, with geometry.

    In public mode the maps get the suppressed values and no harm totals (with known
    weights they reveal counts), and no patrol places.

    Parameters
    ----------
    cfg : StudyConfig
    lsoa : GeoDataFrame
        LSOA geometry, indexed by ``lsoa_code``.
    published : DataFrame
        The published rankings (suppressed in public mode).
    boundaries : Boundaries
    nb : NeighbourhoodResult
    plan : PatrolPlan or None
    """
    frame = gpd.GeoDataFrame(published.join(lsoa[["geometry"]]), geometry="geometry", crs=lsoa.crs)
    if cfg.output.public:
        frame = frame.drop(columns=["harm"], errors="ignore")
    labels = {s.name: (s.label or s.name) for s in cfg.indicators}
    for k in (1, 2, 3):
        frame[f"driver_{k}"] = frame[f"driver_{k}"].map(labels).astype(object) if f"driver_{k}" in frame else None
        frame[f"driver_{k}_value"] = frame.get(f"driver_{k}_contribution")
    places = None
    if plan is not None and not cfg.output.public and len(plan.plan):
        geometry = plan.places.geometry.reindex(plan.plan["place_id"]).to_numpy()
        places = gpd.GeoDataFrame(plan.plan.reset_index(drop=True), geometry=geometry, crs=plan.places.crs)
    return MapBundle(
        lsoa=frame, wards=boundaries.wards, neighbourhoods=nb.neighbourhoods, patrol_places=places,
        upper_layer_label=cfg.area.upper_layer_label, upper_layer_note=cfg.area.upper_layer_note,
        indicator_labels=labels, lisa_alpha=cfg.clustering.alpha,
    )
