"""Micro-places: records and harm counted per grid cell or per police.uk snap point.

police.uk moves every crime to one of a fixed set of "map points", so each snap
coordinate with its ``Location`` text ("On or near ...") is a natural place."""

from __future__ import annotations

import logging
import re
from typing import Any, Optional

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from pli.errors import InputError
from pli.patrols.grid import (
    METRIC_CRS,
    _area_geometry,
    _cell_keys,
    _grid_spec,
    _require_metric,
    locate_cells,
)
from pli.patrols.records import (
    HarmWeightSource,
    _codes,
    _Records,
    _records,
    _Selection,
)

__all__ = [
    "count_places",
    "snap_locations",
]

logger = logging.getLogger(__name__)


def _slug(text: str) -> str:
    return re.sub(r"[^0-9a-z]+", "_", str(text).lower()).strip("_") or "other"


def _cells_of(x: np.ndarray, y: np.ndarray, grid: gpd.GeoDataFrame) -> np.ndarray:
    cell_size_m, kind = _grid_spec(grid)
    i, j = locate_cells(x, y, cell_size_m=cell_size_m, kind=kind)
    lookup = pd.Index(_cell_keys(grid["cell_i"].to_numpy(), grid["cell_j"].to_numpy()))
    return lookup.get_indexer(_cell_keys(i, j))


def _inside_area(x: np.ndarray, y: np.ndarray, pos: np.ndarray, grid: gpd.GeoDataFrame, geom) -> np.ndarray:
    # Points in cells wholly inside the area are inside by construction, so only the
    # few in boundary cells need a point-in-polygon test.
    inside = pos >= 0
    share = grid["area_share"].to_numpy()
    edge = inside & (share[np.where(pos >= 0, pos, 0)] < 1.0)
    if edge.any():
        inside[edge] = shapely.contains_xy(geom, x[edge], y[edge])
    return inside


def _tally(
    pos: np.ndarray, rec: _Records, n_places: int
) -> tuple[np.ndarray, np.ndarray]:
    n_cat = len(rec.categories)
    flat = pos * n_cat + rec.cat
    counts = np.bincount(flat, minlength=n_places * n_cat).reshape(n_places, n_cat)
    harm = counts * rec.weight[None, :]
    return counts, harm


def _modal_location(pos: np.ndarray, rec: _Records, n_places: int) -> np.ndarray:
    out = np.full(n_places, None, dtype=object)
    ok = rec.loc >= 0
    if not ok.any():
        return out
    n_loc = np.int64(len(rec.locations))
    pairs, counts = np.unique(pos[ok].astype(np.int64) * n_loc + rec.loc[ok], return_counts=True)
    place, loc = pairs // n_loc, pairs % n_loc
    # Most records first, then alphabetical location text for a stable tie-break.
    order = np.lexsort((rec.locations[loc].astype(str), -counts, place))
    first = np.r_[True, place[order][1:] != place[order][:-1]]
    chosen = order[first]
    out[place[chosen]] = rec.locations[loc[chosen]]
    return out


def _count_frame(
    index: pd.Index, pos: np.ndarray, rec: _Records
) -> pd.DataFrame:
    n = len(index)
    counts, harm = _tally(pos, rec, n)
    data: dict[str, Any] = {
        "location": _modal_location(pos, rec, n),
        "count": counts.sum(axis=1),
        "harm": harm.sum(axis=1),
    }
    for k, cat in enumerate(rec.categories):
        data[f"count_{_slug(cat)}"] = counts[:, k]
    for k, cat in enumerate(rec.categories):
        data[f"harm_{_slug(cat)}"] = harm[:, k]
    return pd.DataFrame(data, index=index)


def count_places(
    points: gpd.GeoDataFrame,
    places: gpd.GeoDataFrame,
    *,
    harm_weights: HarmWeightSource,
    scheme: str = "police_uk",
    area: Any = None,
) -> pd.DataFrame:
    """Records and harm per micro-place, in total and by crime type.

    Every record of ``points`` is counted (select first with :func:`select_points`).
    Grid records are placed by cell arithmetic, snap records by their rounded coordinate
    and location text; nothing is spatially joined.

    Parameters
    ----------
    points : GeoDataFrame
        EPSG:27700 points with ``category`` and optionally ``location``.
    places : GeoDataFrame
        A grid from :func:`build_grid` or snap places from :func:`snap_locations`.
    harm_weights : object
        ``weight_for(categories, scheme) -> ndarray`` of days (:class:`pli.harm.HarmWeights`).
    scheme : str
        Harm scheme of the categories (``"police_uk"`` or ``"mps"``).
    area : GeoDataFrame, GeoSeries or geometry, optional
        When given, grid records outside it are not counted.

    Returns
    -------
    DataFrame
        Indexed like ``places`` (places without records hold zeros): ``location`` (most
        common ``Location`` text), ``count``, ``harm``, then ``count_<type>`` and
        ``harm_<type>`` per crime type (type slugged: lower case, non-alphanumerics to
        ``_``, e.g. ``harm_violence_and_sexual_offences``).

    Examples
    --------
    >>> import geopandas as gpd, numpy as np, shapely
    >>> from pli.patrols import build_grid, count_places
    >>> points = gpd.GeoDataFrame({"category": ["Robbery", "Robbery", "Burglary"]},
    ...                           geometry=gpd.points_from_xy([530010, 530020, 530900], [160010, 160020, 160900]),
    ...                           crs=27700)
    >>> class Days:  # stand-in for pli.harm.HarmWeights
    ...     def weight_for(self, categories, scheme):
    ...         return np.array([{"Robbery": 365.0, "Burglary": 273.5}[c] for c in categories])
    >>> grid = build_grid(shapely.box(530000, 160000, 531000, 161000), cell_size_m=500)
    >>> count_places(points, grid, harm_weights=Days())[["count", "harm"]]  # doctest: +NORMALIZE_WHITESPACE
                        count   harm
    place_id
    G500-530000-160000      2  730.0
    G500-530000-160500      0    0.0
    G500-530500-160000      0    0.0
    G500-530500-160500      1  273.5
    """
    if not isinstance(points, gpd.GeoDataFrame):
        raise InputError(f"points: expected a GeoDataFrame in {METRIC_CRS}, got {type(points).__name__}")
    _require_metric(points, "points")
    if "category" not in points.columns:
        raise InputError("points: missing column 'category' (the crime type of each record)")
    cat_codes, cat_uniques = _codes(points["category"])
    selection = _Selection(
        mask=cat_codes >= 0, categories=tuple(sorted(map(str, cat_uniques))), cat_codes=cat_codes,
        cat_uniques=cat_uniques, start_month=None, end_month=None,
    )
    rec = _records(points, selection, harm_weights, scheme)
    pos = _place_positions(rec, places, area)
    keep = pos >= 0
    dropped = int((~keep).sum())
    if dropped:
        logger.info("count_places: %s records fall outside the places and were not counted", f"{dropped:,}")
    return _count_frame(places.index, pos[keep], rec.take(keep))


def _place_positions(rec: _Records, places: gpd.GeoDataFrame, area: Any) -> np.ndarray:
    kinds = pd.unique(places["place_kind"]) if "place_kind" in places.columns else []
    if len(kinds) == 1 and kinds[0] == "snap":
        keys = _snap_keys(rec)
        lookup = pd.Index(_snap_key_text(places["easting"].to_numpy(), places["northing"].to_numpy(),
                                         places["location"].astype("string").fillna("").to_numpy(dtype=object)))
        return lookup.get_indexer(keys)
    pos = _cells_of(rec.x, rec.y, places)
    if area is not None:
        pos = np.where(_inside_area(rec.x, rec.y, pos, places, _area_geometry(area)), pos, -1)
    return pos


def _snap_key_text(east: np.ndarray, north: np.ndarray, location: np.ndarray) -> np.ndarray:
    return (
        pd.Series(east.astype(np.int64)).astype(str)
        + "|"
        + pd.Series(north.astype(np.int64)).astype(str)
        + "|"
        + pd.Series(location, dtype="string").fillna("")
    ).to_numpy(dtype=object)


def _snap_keys(rec: _Records) -> np.ndarray:
    loc = np.where(rec.loc >= 0, rec.locations[np.where(rec.loc >= 0, rec.loc, 0)] if len(rec.locations) else "", "")
    return _snap_key_text(np.round(rec.x), np.round(rec.y), loc)


def _snap_places(rec: _Records) -> tuple[gpd.GeoDataFrame, np.ndarray]:
    """Unique snap places and each record's position among them."""
    east = np.round(rec.x).astype(np.int64)
    north = np.round(rec.y).astype(np.int64)
    # Pack (east, north, location) into one int64 so factorising 2M rows stays numeric.
    coord = pd.factorize(east * np.int64(2_000_000) + north)[0].astype(np.int64)
    key = coord * np.int64(len(rec.locations) + 1) + (rec.loc + 1)
    pos, uniq = pd.factorize(key, sort=True)
    first = np.zeros(len(uniq), dtype=np.int64)
    first[pos[::-1]] = np.arange(len(pos))[::-1]
    p_east, p_north, p_loc = east[first], north[first], rec.loc[first]
    names = rec.locations[np.where(p_loc >= 0, p_loc, 0)] if len(rec.locations) else np.array(None, dtype=object)
    location = np.where(p_loc >= 0, names, np.array(None, dtype=object))
    base = "S-" + pd.Series(p_east).astype(str) + "-" + pd.Series(p_north).astype(str)
    dup = base.groupby(base).cumcount()
    ids = base.where(dup == 0, base + "-" + (dup + 1).astype(str))
    places = gpd.GeoDataFrame(
        {
            "place_kind": "snap",
            "easting": p_east.astype(float),
            "northing": p_north.astype(float),
            "location": location,
        },
        geometry=shapely.points(p_east.astype(float), p_north.astype(float)),
        crs=METRIC_CRS,
        index=pd.Index(ids.to_numpy(dtype=object), name="place_id"),
    )
    return places, pos.astype(np.int64)


def snap_locations(points: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """police.uk snap points ("map points") as micro-places.

    police.uk publishes each crime at one of a fixed set of anonymised map points with a
    ``Location`` text ("On or near Station Road"); records sharing the coordinate
    (rounded to the metre in EPSG:27700) and text are one place.

    Parameters
    ----------
    points : GeoDataFrame
        EPSG:27700 points, optionally with ``location``.

    Returns
    -------
    GeoDataFrame
        Indexed by ``place_id`` (``"S-<easting>-<northing>"``, with ``-2``, ``-3`` ...
        when several texts share a coordinate), columns ``place_kind`` ("snap"),
        ``easting``, ``northing``, ``location``, ``records`` and point ``geometry``.

    Examples
    --------
    >>> import geopandas as gpd
    >>> from pli.patrols import snap_locations
    >>> points = gpd.GeoDataFrame({"location": ["On or near High Street"] * 2 + ["On or near Park Lane"]},
    ...                           geometry=gpd.points_from_xy([530010, 530010, 530400], [160010, 160010, 160300]),
    ...                           crs=27700)
    >>> snap_locations(points)[["location", "records"]].to_numpy().tolist()
    [['On or near High Street', 2], ['On or near Park Lane', 1]]
    """
    _require_metric(points, "points")
    geoms = np.asarray(points.geometry.array, dtype=object)
    x, y = shapely.get_x(geoms), shapely.get_y(geoms)
    ok = np.isfinite(x) & np.isfinite(y)
    if "location" in points.columns:
        loc_codes, loc_uniques = _codes(points["location"])
        loc, locations = loc_codes[ok], loc_uniques.to_numpy(dtype=object)
    else:
        loc, locations = np.full(int(ok.sum()), -1), np.empty(0, dtype=object)
    rec = _Records(
        x=x[ok],
        y=y[ok],
        cat=np.zeros(int(ok.sum()), dtype=np.int64),
        categories=("all",),
        weight=np.ones(1),
        loc=np.asarray(loc, dtype=np.int64),
        locations=locations,
        hour=None,
        dow=None,
    )
    places, pos = _snap_places(rec)
    places["records"] = np.bincount(pos, minlength=len(places))
    return places


_POLICE_UK_LOCATION = r"(?i)^\s*on or near\b"


def _snap_mask(rec: _Records, snap: Optional[bool]) -> np.ndarray:
    """Which records make snap places: all, none, or (by default) the snapped ones."""
    if snap is not None:
        return np.full(len(rec), bool(snap))
    if len(rec.locations):
        police_text = pd.Series(rec.locations, dtype="string").str.contains(_POLICE_UK_LOCATION).fillna(False)
        police_like = np.append(police_text.to_numpy(dtype=bool), False)[rec.loc]  # code -1 -> False
    else:
        police_like = np.zeros(len(rec), dtype=bool)
    if police_like.any():
        n_like = int(police_like.sum())
        logger.info(
            "snap places built from %s records with police.uk 'On or near ...' locations (police.uk moves every "
            "crime to an anonymised map point)%s",
            f"{n_like:,}",
            "" if n_like == len(rec) else f"; {len(rec) - n_like:,} records without such a location left out",
        )
        return police_like
    # Not police.uk text: police.uk-like sources publish many records at a shared
    # coordinate; an analyst's exact points rarely do.
    n_coords = len(pd.unique(np.round(rec.x).astype(np.int64) * np.int64(2_000_000) + np.round(rec.y).astype(np.int64)))
    snapped = n_coords <= 0.5 * len(rec)
    logger.info(
        "snap places %s: no police.uk-style location text; %s distinct coordinates for %s records",
        "built" if snapped else "skipped (records do not look snapped to shared map points)",
        f"{n_coords:,}",
        f"{len(rec):,}",
    )
    return np.full(len(rec), snapped)
