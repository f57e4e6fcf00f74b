"""Micro-place grids aligned on the British National Grid: square or equal-area hexagonal
cells whose ids are stable between runs and areas, and arithmetic point-to-cell location."""

from __future__ import annotations

import logging
import math
import numbers
from typing import Any, Literal

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from pli.errors import InputError

__all__ = [
    "METRIC_CRS",
    "build_grid",
    "locate_cells",
]

logger = logging.getLogger(__name__)


METRIC_CRS = "EPSG:27700"


# Cell keys pack (i, j) into one int64; |j| stays far below this for metre-scale cells
# anywhere in the British National Grid.
_KEY_BASE = np.int64(10_000_000)


_SQRT3 = math.sqrt(3.0)


def _require_metric(frame: Any, what: str) -> None:
    crs = getattr(frame, "crs", None)
    if crs is None:
        raise InputError(
            f"{what}: expected a CRS of {METRIC_CRS} (British National Grid metres), got no CRS; "
            f"set it with .set_crs(...) and reproject with .to_crs('{METRIC_CRS}')"
        )
    if not crs.equals(METRIC_CRS):
        raise InputError(
            f"{what}: expected CRS {METRIC_CRS}, got {crs.to_string()}; "
            f"reproject with .to_crs('{METRIC_CRS}') first"
        )


def _area_geometry(area: Any) -> shapely.Geometry:
    if isinstance(area, (gpd.GeoDataFrame, gpd.GeoSeries)):
        _require_metric(area, "study area")
        geom = area.union_all() if len(area) else shapely.Polygon()
    elif isinstance(area, shapely.Geometry):
        geom = area
    else:
        raise InputError(
            f"study area: expected a GeoDataFrame, GeoSeries or shapely geometry in {METRIC_CRS}, "
            f"got {type(area).__name__}; pass the LSOA polygons (their union is used)"
        )
    if geom.is_empty or geom.area <= 0:
        raise InputError("study area: the outline is empty or has no area; check the LSOA polygons")
    shapely.prepare(geom)
    return geom


def _check_cell_size(cell_size_m: float, kind: str) -> None:
    if kind not in ("square", "hex"):
        raise InputError(f"grid kind: expected 'square' or 'hex', got {kind!r}")
    if (
        isinstance(cell_size_m, bool)
        or not isinstance(cell_size_m, numbers.Real)
        or not 1.0 <= float(cell_size_m) <= 100_000.0
    ):
        raise InputError(f"cell_size_m: expected a number of metres between 1 and 100000, got {cell_size_m!r}")


def _size_label(cell_size_m: float) -> str:
    return f"{float(cell_size_m):g}"


def _hex_radius(cell_size_m: float) -> float:
    # Equal area with the square cell of side cell_size_m, so counts per cell are
    # comparable between the two grid kinds: 3*sqrt(3)/2 * R^2 == s^2.
    return float(cell_size_m) * math.sqrt(2.0 / (3.0 * _SQRT3))


def locate_cells(
    x: np.ndarray, y: np.ndarray, *, cell_size_m: float = 150.0, kind: Literal["square", "hex"] = "square"
) -> tuple[np.ndarray, np.ndarray]:
    """Integer cell indices of coordinates, computed arithmetically.

    Parameters
    ----------
    x, y : array-like
        Eastings and northings in EPSG:27700 metres.
    cell_size_m : float
        Square side; hexagons have the same area (circumradius ``s * sqrt(2 / (3 sqrt 3))``).
    kind : {"square", "hex"}
        Square cells are indexed ``(floor(x / s), floor(y / s))``; pointy-top hexagons by
        axial coordinates ``(q, r)`` with cube rounding, centre
        ``(R sqrt3 (q + r / 2), 1.5 R r)``.

    Returns
    -------
    (i, j) : tuple of int64 arrays

    Examples
    --------
    >>> from pli.patrols import locate_cells
    >>> i, j = locate_cells([530010.0, 530600.0], [160010.0, 160900.0], cell_size_m=250)
    >>> i.tolist(), j.tolist()
    ([2120, 2122], [640, 643])
    """
    _check_cell_size(cell_size_m, kind)
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    if kind == "square":
        s = float(cell_size_m)
        return np.floor(x / s).astype(np.int64), np.floor(y / s).astype(np.int64)
    radius = _hex_radius(cell_size_m)
    qf = (_SQRT3 / 3.0 * x - y / 3.0) / radius
    rf = (2.0 / 3.0 * y) / radius
    sf = -qf - rf
    q, r, s_ = np.round(qf), np.round(rf), np.round(sf)
    dq, dr, ds = np.abs(q - qf), np.abs(r - rf), np.abs(s_ - sf)
    fix_q = (dq > dr) & (dq > ds)
    fix_r = ~fix_q & (dr > ds)
    q = np.where(fix_q, -r - s_, q)
    r = np.where(fix_r, -q - s_, r)
    return q.astype(np.int64), r.astype(np.int64)


def _cell_centres(i: np.ndarray, j: np.ndarray, cell_size_m: float, kind: str) -> tuple[np.ndarray, np.ndarray]:
    if kind == "square":
        s = float(cell_size_m)
        return (i + 0.5) * s, (j + 0.5) * s
    radius = _hex_radius(cell_size_m)
    return radius * _SQRT3 * (i + j / 2.0), radius * 1.5 * j


def _cell_polygons(i: np.ndarray, j: np.ndarray, cell_size_m: float, kind: str) -> np.ndarray:
    if kind == "square":
        s = float(cell_size_m)
        return shapely.box(i * s, j * s, (i + 1) * s, (j + 1) * s)
    radius = _hex_radius(cell_size_m)
    cx, cy = _cell_centres(i, j, cell_size_m, kind)
    angles = np.deg2rad(30.0 + 60.0 * np.arange(7))
    coords = np.stack(
        [cx[:, None] + radius * np.cos(angles)[None, :], cy[:, None] + radius * np.sin(angles)[None, :]],
        axis=-1,
    )
    return shapely.polygons(coords)


def _cell_ids(i: np.ndarray, j: np.ndarray, cell_size_m: float, kind: str) -> np.ndarray:
    size = _size_label(cell_size_m)
    if kind == "square":
        s = float(cell_size_m)
        east = pd.Series(np.round(i * s).astype(np.int64)).astype(str)
        north = pd.Series(np.round(j * s).astype(np.int64)).astype(str)
        return (f"G{size}-" + east + "-" + north).to_numpy(dtype=object)
    return (f"H{size}-" + pd.Series(i).astype(str) + "_" + pd.Series(j).astype(str)).to_numpy(dtype=object)


def _cell_keys(i: np.ndarray, j: np.ndarray) -> np.ndarray:
    return i.astype(np.int64) * _KEY_BASE + j.astype(np.int64)


def build_grid(area: Any, *, cell_size_m: float = 150.0, kind: Literal["square", "hex"] = "square") -> gpd.GeoDataFrame:
    """Square or hexagonal cells covering the study area.

    Cells are aligned on the British National Grid origin, so the same cell has the same
    id in every run and every study area. Whole cells are kept (not clipped) when they
    overlap the area, so all cells have equal area; ``area_share`` says how much of each
    lies inside.

    Parameters
    ----------
    area : GeoDataFrame, GeoSeries or shapely geometry
        The study area in EPSG:27700 (e.g. the LSOA polygons; their union is used).
    cell_size_m : float
        Side of a square cell; hexagons have the same area.
    kind : {"square", "hex"}

    Returns
    -------
    GeoDataFrame
        Indexed by ``place_id`` (``"G150-533100-166000"``: size, then the easting and
        northing of the lower-left corner; hexagons ``"H150-<q>_<r>"`` in axial
        coordinates), columns ``place_kind`` ("grid" or "hex"), ``cell_size_m``,
        ``cell_i``, ``cell_j``, ``area_share`` and ``geometry``, in EPSG:27700.

    Examples
    --------
    >>> import shapely
    >>> from pli.patrols import build_grid
    >>> grid = build_grid(shapely.box(530000, 160000, 531000, 161000), cell_size_m=250)
    >>> len(grid), grid.index[0]
    (16, 'G250-530000-160000')
    """
    _check_cell_size(cell_size_m, kind)
    geom = _area_geometry(area)
    minx, miny, maxx, maxy = geom.bounds
    if kind == "square":
        s = float(cell_size_m)
        ii = np.arange(math.floor(minx / s), math.ceil(maxx / s) + 1)
        jj = np.arange(math.floor(miny / s), math.ceil(maxy / s) + 1)
    else:
        radius = _hex_radius(cell_size_m)
        jj = np.arange(math.floor((miny - radius) / (1.5 * radius)), math.ceil((maxy + radius) / (1.5 * radius)) + 1)
        width = radius * _SQRT3
        ii = np.arange(
            math.floor((minx - width) / width - jj.max() / 2.0), math.ceil((maxx + width) / width - jj.min() / 2.0) + 1
        )
    n_candidates = len(ii) * len(jj)
    if n_candidates > 50_000_000:
        raise InputError(
            f"grid: {n_candidates:,} candidate cells of {cell_size_m} m over the study area is too many; "
            "use a larger cell_size_m or a smaller area"
        )
    gi, gj = (a.ravel() for a in np.meshgrid(ii, jj, indexing="ij"))
    if kind == "hex":
        # The axial parallelogram overshoots the bounding box; trim by centre first.
        cx, cy = _cell_centres(gi, gj, cell_size_m, kind)
        pad = _hex_radius(cell_size_m)
        keep = (cx >= minx - pad) & (cx <= maxx + pad) & (cy >= miny - pad) & (cy <= maxy + pad)
        gi, gj = gi[keep], gj[keep]
    polys = _cell_polygons(gi, gj, cell_size_m, kind)
    hit = shapely.intersects(geom, polys)
    gi, gj, polys = gi[hit], gj[hit], polys[hit]
    inside = shapely.contains(geom, polys)
    share = np.ones(len(polys))
    edge = ~inside
    if edge.any():
        share[edge] = shapely.area(shapely.intersection(geom, polys[edge])) / shapely.area(polys[edge])
    keep = share > 1e-9
    gi, gj, polys, share = gi[keep], gj[keep], polys[keep], share[keep]
    ids = _cell_ids(gi, gj, cell_size_m, kind)
    grid = gpd.GeoDataFrame(
        {
            "place_kind": np.full(len(gi), "grid" if kind == "square" else "hex", dtype=object),
            "cell_size_m": float(cell_size_m),
            "cell_i": gi,
            "cell_j": gj,
            "area_share": np.clip(share, 0.0, 1.0),
        },
        geometry=polys,
        crs=METRIC_CRS,
        index=pd.Index(ids, name="place_id"),
    )
    logger.info(
        "%s grid: %s cells of %g m (%s on the boundary) over %.1f km2",
        kind,
        f"{len(grid):,}",
        cell_size_m,
        f"{int((share < 1).sum()):,}",
        geom.area / 1e6,
    )
    return grid


def _grid_spec(grid: gpd.GeoDataFrame) -> tuple[float, Literal["square", "hex"]]:
    missing = [c for c in ("place_kind", "cell_size_m", "cell_i", "cell_j") if c not in grid.columns]
    if missing:
        raise InputError(f"grid: missing column(s) {', '.join(missing)}; build the grid with pli.patrols.build_grid")
    if len(grid) == 0:
        raise InputError("grid: no cells; the study area did not overlap any cell")
    kinds = pd.unique(grid["place_kind"])
    sizes = pd.unique(grid["cell_size_m"])
    if len(kinds) != 1 or kinds[0] not in ("grid", "hex") or len(sizes) != 1:
        raise InputError(
            f"grid: expected one grid of one kind and size, got kinds {list(kinds)} and sizes {list(sizes)}"
        )
    return float(sizes[0]), ("square" if kinds[0] == "grid" else "hex")


def bbox_cells(bounds: tuple[float, float, float, float], *, cell_size_m: float, kind: str) -> int:
    """How many cells a full grid over ``bounds`` (minx, miny, maxx, maxy) would test."""
    minx, miny, maxx, maxy = bounds
    if kind == "square":
        s = float(cell_size_m)
        return (math.ceil(maxx / s) - math.floor(minx / s) + 1) * (math.ceil(maxy / s) - math.floor(miny / s) + 1)
    radius = _hex_radius(cell_size_m)
    return math.ceil((maxx - minx) / (radius * _SQRT3) + 3) * math.ceil((maxy - miny) / (1.5 * radius) + 3)


def cells_touching(
    geoms: Any, *, cell_size_m: float, kind: Literal["square", "hex"]
) -> tuple[np.ndarray, np.ndarray]:
    """Indices ``(i, j)`` of the cells that intersect any of ``geoms`` (each one's bounding
    box of candidate cells is tested against it alone, so the cost follows the geometries'
    own extent, not the study area's)."""
    out_i, out_j = [np.empty(0, dtype=np.int64)], [np.empty(0, dtype=np.int64)]
    pad = float(cell_size_m) if kind == "square" else 2.0 * _hex_radius(cell_size_m)
    for geom in np.asarray(geoms, dtype=object):
        if geom is None or geom.is_empty:
            continue
        minx, miny, maxx, maxy = geom.bounds
        corner_i, corner_j = locate_cells(
            np.array([minx - pad, maxx + pad]), np.array([miny - pad, maxy + pad]), cell_size_m=cell_size_m, kind=kind
        )
        if kind == "square":
            ii = np.arange(corner_i[0], corner_i[1] + 1)
            jj = np.arange(corner_j[0], corner_j[1] + 1)
        else:
            jj = np.arange(corner_j[0] - 1, corner_j[1] + 2)
            ii = np.arange(corner_i[0] - (len(jj) + 1) // 2 - 1, corner_i[1] + (len(jj) + 1) // 2 + 2)
        gi, gj = (a.ravel() for a in np.meshgrid(ii, jj, indexing="ij"))
        shapely.prepare(geom)
        hit = shapely.intersects(geom, _cell_polygons(gi, gj, cell_size_m, kind))
        out_i.append(gi[hit])
        out_j.append(gj[hit])
    return np.concatenate(out_i), np.concatenate(out_j)


def sparse_grid(
    i: Any, j: Any, *, cell_size_m: float = 150.0, kind: Literal["square", "hex"] = "square"
) -> gpd.GeoDataFrame:
    """The grid of the given cells only (duplicates dropped), in :func:`build_grid`'s layout.

    For study areas too large to lay a full grid over (a police force, a region, a
    country): cells are the ones records fall in and the ones planned neighbourhoods
    touch, located by arithmetic. ``area_share`` is NaN: it is not computed without a
    full grid.

    Examples
    --------
    >>> from pli.patrols.grid import sparse_grid
    >>> grid = sparse_grid([2120, 2122, 2120], [640, 643, 640], cell_size_m=250)
    >>> grid.index.tolist()
    ['G250-530000-160000', 'G250-530500-160750']
    """
    _check_cell_size(cell_size_m, kind)
    i = np.asarray(i, dtype=np.int64)
    j = np.asarray(j, dtype=np.int64)
    keys, first = np.unique(_cell_keys(i, j), return_index=True)
    gi, gj = i[first], j[first]
    return gpd.GeoDataFrame(
        {
            "place_kind": np.full(len(gi), "grid" if kind == "square" else "hex", dtype=object),
            "cell_size_m": float(cell_size_m),
            "cell_i": gi,
            "cell_j": gj,
            "area_share": np.full(len(gi), np.nan),
        },
        geometry=_cell_polygons(gi, gj, cell_size_m, kind),
        crs=METRIC_CRS,
        index=pd.Index(_cell_ids(gi, gj, cell_size_m, kind), name="place_id"),
    )
