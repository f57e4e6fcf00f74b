"""Map-ready frames: simplified web geometry, colour classes, escaped tooltips and profiles."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Optional

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from pli._map_assets import (
    escape_series,
    escape_text,
    format_number,
)
from pli.classes import class_colours, priority_classes
from pli.config import MapSpec
from pli.maps.bundle import MapBundle
from pli.maps.placement import number_positions
from pli.maps.style import GI_COLOURS, GI_LABELS, HARM_UNIT, LISA_COLOURS, METRIC_CRS

__all__ = [
]

log = logging.getLogger(__name__)


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


# A page is read at no more than a few thousand pixels across the whole area, so
# detail finer than the extent over this many is invisible but weighs megabytes.
_DISPLAY_PIXELS = 5000


def display_tolerance(bounds: tuple[float, float, float, float] | np.ndarray, floor_m: float) -> float:
    """Simplification tolerance (metres) for a map of this extent: ``floor_m`` (the
    config's ``maps.simplify_m``) or the extent's longer side over 5,000, whichever is
    larger, so a borough keeps its detail and a national page stays small.

    Examples
    --------
    >>> from pli.maps.prepare import display_tolerance
    >>> display_tolerance((530000, 160000, 550000, 175000), 5.0)  # a borough: the floor
    5.0
    >>> display_tolerance((135000, 10000, 656000, 657000), 5.0)  # England and Wales
    129.4
    """
    minx, miny, maxx, maxy = (float(b) for b in bounds)
    extent = max(maxx - minx, maxy - miny, 0.0)
    return max(float(floor_m), round(extent / _DISPLAY_PIXELS, 1)) if np.isfinite(extent) else float(floor_m)


def _to_web(frame: gpd.GeoDataFrame, decimals: int = 5) -> gpd.GeoDataFrame:
    """Reproject to EPSG:4326 and round coordinates (5 dp is about 1 m)."""
    out = frame.to_crs("EPSG:4326")
    rounded = shapely.transform(out.geometry.values, lambda xy: np.round(xy, decimals))
    return out.set_geometry(gpd.GeoSeries(rounded, index=out.index, crs="EPSG:4326"))


def name_points(shapes: gpd.GeoSeries, names: pd.Series) -> gpd.GeoDataFrame:
    """EPSG:4326 points to label ``shapes`` (metric) with ``names``, with each shape's bounds.

    ``label`` is the name (raw text, for :class:`pli._map_assets.LabelLayer`), the
    point lies inside the shape, and ``west, south, east, north`` (degrees) are the
    shape's bounds, by which names thin with scale (``LabelLayer(fit=True)``).
    """
    web_bounds = shapes.to_crs("EPSG:4326").bounds.round(5)
    points = _to_web(gpd.GeoDataFrame({"label": names.astype("string")}, geometry=shapes.representative_point(),
                                      crs=shapes.crs))
    return points.assign(west=web_bounds["minx"].to_numpy(), south=web_bounds["miny"].to_numpy(),
                         east=web_bounds["maxx"].to_numpy(), north=web_bounds["maxy"].to_numpy())


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


def _classify(values: pd.Series, *, scheme: str, what: str, rank: Optional[pd.Series] = None) -> _Classes:
    """Priority classes of a score (:func:`pli.classes.priority_classes`), highest class = highest priority."""
    found = priority_classes(values, scheme, rank=rank)
    k = found.k
    return _Classes(codes=(k - found.classes).astype("float64"), colours=class_colours(k),
                    labels=found.labels()[::-1], title=f"{what} ({scheme}s, 1 = highest)", unit=scheme)


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
    area_type: str = "area"
    # EPSG:4326 points labelled with each patrol place's number (the CSV's place_number).
    place_points: Optional[gpd.GeoDataFrame] = None


def _prepare(bundle: MapBundle, spec: MapSpec, *, public: bool) -> _Prepared:
    lsoa = bundle.lsoa.copy()
    labels = bundle.indicator_labels
    upper = bundle.upper_layer_label or "Ward"
    esc_upper = escape_text(upper)
    n = len(lsoa)

    before = int(shapely.get_num_coordinates(lsoa.geometry.values).sum())
    tolerance = display_tolerance(lsoa.total_bounds, spec.simplify_m) if n else spec.simplify_m
    metric = _simplify(lsoa.geometry, tolerance, coverage=True)
    after = int(shapely.get_num_coordinates(metric.values).sum())
    log.info("maps: simplified %d LSOAs at %.1f m (%d -> %d vertices)", n, tolerance, before, after)

    # The published rank, not the (rounded in public mode) score, fixes the classes of the tables.
    index_classes = _classify(lsoa["score"], scheme=bundle.classes, rank=lsoa["rank"],
                              what="Priority Localities Index")
    domain_titles = {d: _label(labels, d) for d in bundle.domains}
    domain_classes = {
        d: _classify(lsoa[d], scheme=bundle.classes, what=f"{domain_titles[d]} domain score")
        for d in bundle.domains
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
        "<br>Priority score <b>" + format_number(lsoa["score"], ".2f") + f"</b> (0 = {bundle.area_type} average)"
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
            + format_number(lsoa[d], ".2f") + f"</b> (0 = {bundle.area_type} average), " + cls.position_text()
            + score_line
        )  # fmt: skip
    # The FDR-corrected results are the ones the maps lead with; the tooltips say which
    # test a layer shows, so an uncorrected "99% hotspot" is never read as the headline.
    for col, test in (("lisa_cluster_fdr", "FDR-corrected"), ("lisa_cluster", "uncorrected")):
        cat = lsoa[col].astype("string").fillna("Not significant")
        props[f"c_{col}"] = cat.map(LISA_COLOURS).astype(object)
        props[f"tip_{col}"] = head + f"<br>Cluster ({test}): <b>" + escape_series(cat) + "</b>" + score_line
    for suffix, test in (("_fdr", "FDR-corrected"), ("", "uncorrected")):
        gi = pd.to_numeric(lsoa[f"gi_bin{suffix}"], errors="coerce").fillna(0).astype(int)
        props[f"c_gi{suffix}"] = gi.map(GI_COLOURS).astype(object)
        gi_text = lsoa[f"gi_label{suffix}"].astype("string").fillna(gi.map(GI_LABELS).astype("string"))
        props[f"tip_gi{suffix}"] = head + f"<br>Gi* ({test}): <b>" + escape_series(gi_text) + "</b>" + score_line
    web = _to_web(gpd.GeoDataFrame(props, geometry=metric, crs=METRIC_CRS))

    wards_metric = bundle.wards.copy()
    wards_metric = wards_metric.set_geometry(_simplify(wards_metric.geometry, tolerance, coverage=True))
    wards = _to_web(gpd.GeoDataFrame({"tip": escape_series(wards_metric["ward_name"])}, geometry=wards_metric.geometry))
    # Feature ids reach the page inside folium's macros, which branca renders again as
    # Jinja2 source: a code holding "{{ ... }}" would run. Escaped ids stay unique.
    wards.index = pd.Index(escape_series(pd.Series(wards.index.astype(str), index=wards.index)), name=wards.index.name)
    # Names of the upper-layer areas holding a priority neighbourhood come first: where
    # names crowd, the page keeps the earlier ones (LabelLayer's declutter).
    holds = wards_metric.geometry.intersects(bundle.neighbourhoods.geometry.buffer(-1).union_all())
    ward_points = name_points(wards_metric.geometry, wards_metric["ward_name"]).iloc[
        np.argsort(~holds.to_numpy(), kind="stable")]

    nb = bundle.neighbourhoods.copy().sort_values("rank")
    nb_metric = nb.set_geometry(_simplify(nb.geometry, tolerance, coverage=False))
    nb_props = pd.DataFrame(index=nb.index)
    nb_props["rank"] = nb["rank"].astype(int)
    nb_props["slug"] = _safe_slug(nb["slug"], nb["name"])
    nb_props["popup"] = _profile_html(nb, bundle.lsoa["lsoa_name"], labels, word=bundle.area_type)
    nb_props["name"] = nb["name"].astype("string")
    neighbourhoods = _to_web(gpd.GeoDataFrame(nb_props, geometry=nb_metric.geometry, crs=METRIC_CRS))
    numbers = _to_web(
        gpd.GeoDataFrame(
            {"label": nb_props["rank"].astype(str), "popup": nb_props["popup"], "rank": nb_props["rank"]},
            # Clear of each other in metres (pli.maps.placement), not at overlapping representative points.
            geometry=number_positions(nb_metric),
            crs=METRIC_CRS,
        )
    )

    places = place_points = None
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
        number = (
            pd.to_numeric(pp["place_number"], errors="coerce")
            if "place_number" in pp.columns
            else pd.Series(np.arange(1, len(pp) + 1), index=pp.index)
        )
        where = pd.Series("", index=pp.index, dtype=object)
        if "ward" in pp.columns:
            ward = pp["ward"].astype("string").fillna("")
            where = where + ("<br>Ward: " + escape_series(ward)).where(ward != "", "")
        visits = pp["visits_per_week"] if "visits_per_week" in pp.columns else pd.Series(np.nan, index=pp.index)
        extra = extra + "<br>Visits a week: " + format_number(visits, ".0f")
        if "suggested_times" in pp.columns:
            extra = extra + "<br>When: " + escape_series(pp["suggested_times"].astype("string").fillna(""))
        tip = (
            "<b>Place " + format_number(number, ".0f") + "</b> (rank " + format_number(pp["place_rank"], ".0f")
            + " in neighbourhood "
            + format_number(pp["neighbourhood_rank"], ".0f") + " (" + escape_series(pp["neighbourhood"]) + "))"
            + "<br>" + escape_series(pp["location"]) + where
            + "<br>Crimes recorded: " + format_number(pp["count"], ",.0f")
            + "<br>Crime harm: " + format_number(pp["harm"], ",.0f") + f" {HARM_UNIT}"
            + extra
            + "<br>Gi*: " + escape_series(pp["gi_label"])
        )  # fmt: skip
        places = _to_web(
            gpd.GeoDataFrame(
                {"tip": tip, "nrank": pd.to_numeric(pp["neighbourhood_rank"], errors="coerce")},
                geometry=pp.geometry,
                crs=METRIC_CRS,
            )
        )
        place_points = _to_web(
            gpd.GeoDataFrame(
                {
                    "label": format_number(number, ".0f"),
                    "nrank": pd.to_numeric(pp["neighbourhood_rank"], errors="coerce"),
                },
                geometry=pp.geometry.representative_point(),
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
        place_points=place_points,
        places=places,
        index_classes=index_classes,
        domain_classes=domain_classes,
        domain_titles=domain_titles,
        upper_label=upper,
        upper_note=bundle.upper_layer_note,
        lisa_alpha=bundle.lisa_alpha,
        area_type=bundle.area_type,
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


def _profile_html(nb: pd.DataFrame, lsoa_names: pd.Series, labels: dict[str, str], *, word: str = "area") -> pd.Series:
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
        + f"<tr><th>Share of {word} harm</th><td>" + format_number(share, ".1f") + f"% of {word} crime harm</td></tr>"
        + "<tr><th>Mean index score</th><td>" + format_number(nb["mean_score"], ".2f")
        + f" (0 = {word} average)</td></tr>"
        + "<tr><th>Stability</th><td>" + format_number(pd.to_numeric(nb.get("stability", pd.Series(index=nb.index)), errors="coerce") * 100, ".0f") + "% of runs with perturbed indicator weights choose it again</td></tr>"  # noqa: E501
        + "<tr><th>Top drivers</th><td>" + escape_series(_readable_drivers(nb["top_drivers"], labels)) + "</td></tr>"
        + "<tr><th>LSOAs (" + format_number(nb["n_lsoas"], ".0f") + ")</th><td>"
        + '<ul class="pli-lsoas" style="margin:0;padding-left:16px">' + lsoa_list + "</ul></td></tr>"
        + "</table></div>"
    ).astype(object)  # fmt: skip
