"""Micro-patrol planning: micro-places, Gi* hot spots, harm concentration, patrol plan.

Crime concentrates at a few street segments and corners (Sherman, Gartin & Buerger 1989;
Weisburd 2015, "the law of crime concentration"), so patrol time goes furthest when it is
spent at a handful of *micro-places* inside each priority neighbourhood. This module

1. selects point records (police.uk street-level crimes, or an analyst's own extract)
   by crime type and month window and weights each by the same harm table as the index;
2. counts records and harm per micro-place, two kinds:

   * grid cells: a square grid (default 150 m) or an equal-area hexagonal grid, aligned on
     the British National Grid origin so cell ids are stable between runs and areas;
   * police.uk snap points: police.uk moves every crime to one of a fixed set of "map
     points", so each snap coordinate with its ``Location`` text ("On or near ...") is a
     natural place;

3. tests the grid for hot spots with Getis-Ord Gi* (esda, permutation pseudo p-values
   refined where they sit at their floor) and Benjamini-Hochberg FDR, and optionally
   smooths a kernel density surface clipped to the study area;
4. measures concentration: the share of harm in the top 1 %, 5 % and 10 % of places and
   the "power few", the fewest places holding half the harm;
5. writes a patrol plan: the places of every priority neighbourhood that clear an
   absolute floor, with a dosage from their own rate, the crime types and period they
   rest on and, when the records carry times, the peak hours to visit.

Every step is vectorised with numpy/pandas: points are assigned to cells arithmetically
(never a spatial join), so two million records take seconds.

Floor and dosage rule
---------------------
A place is planned only if it clears an absolute floor: at least ``min_events``
records in the window (default 3), evidence that it is a hot place (an FDR-significant
Gi* hot spot, or in its neighbourhood's "power few", the fewest places holding half the
harm) and a rate that earns a daily visit. Dosage is absolute, from the place's own rate:
``visits_per_day = min(max_visits_per_day, round_half_up(events_per_month /
events_per_daily_visit))`` visits of ``visit_minutes = 15`` minutes, one daily visit per
recorded event a month by default; a place rounding to 0 is not planned, and a
neighbourhood where nothing clears the floor is left to its neighbourhood plan (logged).
``daily_minutes_budget`` optionally caps each neighbourhood's patrol minutes, trimming the
lowest-ranked visits. ``events_per_daily_visit`` is a local planning convention, not a
published constant. The evidence behind the visit length and pattern:

* Koper (1995, *Justice Quarterly* 12(4)): residual deterrence at Minneapolis hot spots
  grew with stop length up to about 10-15 minutes, then fell away ("the Koper curve").
* Sherman & Weisburd (1995, *Justice Quarterly* 12(4)), the Minneapolis Hot Spots Patrol
  Experiment: doubling patrol presence at 55 of 110 hot spots cut observed disorder and
  calls, with presence delivered as intermittent, unpredictable visits.
* UK hot-spot trials run with the Cambridge Institute of Criminology (e.g. Ariel,
  Weinborn & Sherman 2016, *J. Exp. Criminol.* 12: 277-317, and the London/Met trials that
  followed) delivered roughly 15-minute visits about three times a day.

Visits should be at varied, unpredictable times. When the records carry times of day,
``suggested_times`` lists the neighbourhood's peak hours (busiest hour first, peaks at
least three hours apart); otherwise it states the default
``"varied, unpredictable times, focus on evenings"``.

Examples
--------
>>> from pli.patrols import build_grid, concentration
>>> concentration([50, 30, 10, 5, 5, 0, 0, 0, 0, 0]).power_few_places
1
"""

from __future__ import annotations

import fnmatch
import logging
import math
import numbers
import re
import warnings
from dataclasses import dataclass, field
from typing import Any, Iterable, Literal, Optional, Protocol, Sequence

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from scipy import ndimage, stats

from pli.errors import InputError

__all__ = [
    "DEFAULT_CATEGORIES",
    "DEFAULT_TIMES_TEXT",
    "ConcentrationResult",
    "GiStarResult",
    "KDESurface",
    "PatrolPlan",
    "build_grid",
    "concentration",
    "count_places",
    "grid_hotspots",
    "kde_surface",
    "locate_cells",
    "patrol_options",
    "plan_patrols",
    "select_points",
    "snap_locations",
]

logger = logging.getLogger(__name__)

#: police.uk crime types planned for by default: violence, robbery, weapons.
DEFAULT_CATEGORIES: tuple[str, ...] = (
    "Violence and sexual offences",
    "Robbery",
    "Possession of weapons",
)
#: ``suggested_times`` when the records carry no time of day.
DEFAULT_TIMES_TEXT = "varied, unpredictable times, focus on evenings"
METRIC_CRS = "EPSG:27700"
BOROUGH = "Borough-wide"

_GI_LABELS = {
    3: "Hot spot (99% confidence)",
    2: "Hot spot (95% confidence)",
    1: "Hot spot (90% confidence)",
    0: "Not significant",
    -1: "Cold spot (90% confidence)",
    -2: "Cold spot (95% confidence)",
    -3: "Cold spot (99% confidence)",
}
# Cell keys pack (i, j) into one int64; |j| stays far below this for metre-scale cells
# anywhere in the British National Grid.
_KEY_BASE = np.int64(10_000_000)
_SQRT3 = math.sqrt(3.0)
_DAY_NAMES = np.array(["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"])


class HarmWeightSource(Protocol):
    """Anything with ``weight_for(categories, scheme) -> ndarray`` (see :mod:`pli.harm`)."""

    def weight_for(self, categories: Sequence[str], scheme: str) -> np.ndarray: ...


# --------------------------------------------------------------------------- validation


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
    if isinstance(cell_size_m, bool) or not isinstance(cell_size_m, numbers.Real) or not 1.0 <= float(cell_size_m) <= 100_000.0:
        raise InputError(
            f"cell_size_m: expected a number of metres between 1 and 100000, got {cell_size_m!r}"
        )


def _slug(text: str) -> str:
    return re.sub(r"[^0-9a-z]+", "_", str(text).lower()).strip("_") or "other"


def _size_label(cell_size_m: float) -> str:
    return f"{float(cell_size_m):g}"


# --------------------------------------------------------------------------- grids


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


def build_grid(
    area: Any, *, cell_size_m: float = 150.0, kind: Literal["square", "hex"] = "square"
) -> gpd.GeoDataFrame:
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


def _grid_spec(grid: gpd.GeoDataFrame) -> tuple[float, str]:
    missing = [c for c in ("place_kind", "cell_size_m", "cell_i", "cell_j") if c not in grid.columns]
    if missing:
        raise InputError(
            f"grid: missing column(s) {', '.join(missing)}; build the grid with pli.patrols.build_grid"
        )
    if len(grid) == 0:
        raise InputError("grid: no cells; the study area did not overlap any cell")
    kinds = pd.unique(grid["place_kind"])
    sizes = pd.unique(grid["cell_size_m"])
    if len(kinds) != 1 or kinds[0] not in ("grid", "hex") or len(sizes) != 1:
        raise InputError(
            f"grid: expected one grid of one kind and size, got kinds {list(kinds)} and sizes {list(sizes)}"
        )
    return float(sizes[0]), ("square" if kinds[0] == "grid" else "hex")


# --------------------------------------------------------------------------- points


@dataclass(frozen=True)
class _Records:
    """Column arrays of the selected point records (no frame copies)."""

    x: np.ndarray
    y: np.ndarray
    cat: np.ndarray  # codes into categories
    categories: tuple[str, ...]
    weight: np.ndarray  # harm weight per category code
    loc: np.ndarray  # codes into locations, -1 for blank
    locations: np.ndarray
    hour: Optional[np.ndarray]  # -1 when unknown
    dow: Optional[np.ndarray]  # -1 when unknown

    def take(self, mask: np.ndarray) -> "_Records":
        return _Records(
            x=self.x[mask],
            y=self.y[mask],
            cat=self.cat[mask],
            categories=self.categories,
            weight=self.weight,
            loc=self.loc[mask],
            locations=self.locations,
            hour=None if self.hour is None else self.hour[mask],
            dow=None if self.dow is None else self.dow[mask],
        )

    @property
    def harm(self) -> np.ndarray:
        return self.weight[self.cat]

    def __len__(self) -> int:
        return len(self.x)


def _match_categories(present: Iterable[str], patterns: Sequence[str]) -> list[str]:
    pats = [p.strip().lower() for p in patterns]
    return [c for c in present if any(fnmatch.fnmatchcase(str(c).strip().lower(), p) for p in pats)]


def _codes(values: pd.Series) -> tuple[np.ndarray, pd.Series]:
    """Factorise a text column, cleaning only its distinct values (strip, blank -> NA).

    Text work on the few distinct months, crime types or streets instead of on millions
    of rows is what keeps the stage fast. Returns codes (-1 for missing) and the cleaned
    distinct values.
    """
    raw_codes, raw_uniques = pd.factorize(values, use_na_sentinel=True)
    clean = pd.Series(np.asarray(raw_uniques, dtype=object), dtype="string").str.strip()
    clean = clean.where(clean != "", pd.NA)
    codes2, uniques2 = pd.factorize(clean, use_na_sentinel=True)
    raw_codes = np.asarray(raw_codes, dtype=np.int64)
    if len(codes2) == 0:
        return np.full(len(raw_codes), -1, dtype=np.int64), pd.Series([], dtype="string")
    codes = np.where(raw_codes >= 0, np.asarray(codes2, dtype=np.int64)[np.maximum(raw_codes, 0)], -1)
    return codes, pd.Series(np.asarray(uniques2, dtype=object), dtype="string")


def _bad_rows(points: pd.DataFrame, codes: np.ndarray, bad_uniques: np.ndarray) -> tuple[list, int]:
    hit = np.isin(codes, np.flatnonzero(bad_uniques))
    return list(points.index[hit][:5]), int(hit.sum())


@dataclass(frozen=True)
class _Selection:
    mask: np.ndarray
    categories: tuple[str, ...]
    cat_codes: np.ndarray  # per row, into cat_uniques
    cat_uniques: pd.Series
    start_month: Optional[str]
    end_month: Optional[str]
    # Crime types in the order they were asked for (for labels), and the first and last
    # month actually present among the selected records.
    requested_order: tuple[str, ...] = ()
    first_month: Optional[str] = None
    last_month: Optional[str] = None


def _select_mask(
    points: gpd.GeoDataFrame,
    *,
    categories: Optional[Sequence[str]],
    start_month: Optional[str],
    end_month: Optional[str],
    window_months: Optional[int],
) -> _Selection:
    if not isinstance(points, gpd.GeoDataFrame):
        raise InputError(f"points: expected a GeoDataFrame in {METRIC_CRS}, got {type(points).__name__}")
    _require_metric(points, "points")
    missing = [c for c in ("category",) if c not in points.columns]
    if "month" not in points.columns and "date" not in points.columns:
        missing.append("month (or date)")
    if missing:
        raise InputError(
            f"points: missing column(s) {', '.join(missing)}; found {', '.join(map(str, points.columns))}. "
            "Expected the indicators stage's point frame (month YYYY-MM, category, location, optional time/date)"
        )
    month_codes, month_uniques = _months(points)
    cat_codes, cat_uniques = _codes(points["category"])
    patterns = tuple(categories) if categories else DEFAULT_CATEGORIES
    present = [str(c) for c in cat_uniques]
    chosen = _match_categories(present, patterns)
    if not chosen:
        counts = pd.Series(np.bincount(cat_codes[cat_codes >= 0], minlength=len(present)), index=present)
        found = ", ".join(f"{k!r} ({v:,})" for k, v in counts.sort_values(ascending=False).head(12).items())
        raise InputError(
            f"points column 'category': none of the requested crime types {list(patterns)} occur; "
            f"found {found or 'none'}. Set patrols.categories to crime types present in the input "
            "(shell-style wildcards allowed, '*' keeps all)"
        )
    keep_cat = np.append(cat_uniques.isin(chosen).to_numpy(dtype=bool), False)  # code -1 -> False
    mask = keep_cat[cat_codes]
    for bad in [p for p in patterns if not _match_categories(present, [p])]:
        logger.warning("patrol crime type %r matches no record in the input", bad)
    for name, value in (("start_month", start_month), ("end_month", end_month)):
        if value is not None and not re.fullmatch(r"\d{4}-\d{2}", str(value)):
            raise InputError(f"{name}: expected YYYY-MM, got {value!r}")
    if window_months is not None and start_month is None and end_month is None:
        if window_months < 1:
            raise InputError(f"window_months: expected 1 or more, got {window_months}")
        used = np.unique(month_codes[mask & (month_codes >= 0)])
        if len(used):
            end_month = str(month_uniques.iloc[used].max())
            start_month = str(pd.Period(end_month, freq="M") - (window_months - 1))
    in_window = np.ones(len(month_uniques) + 1, dtype=bool)
    in_window[-1] = start_month is None and end_month is None  # rows without a month
    if start_month is not None:
        in_window[:-1] &= (month_uniques >= start_month).to_numpy(dtype=bool)
    if end_month is not None:
        in_window[:-1] &= (month_uniques <= end_month).to_numpy(dtype=bool)
    mask = mask & in_window[month_codes]
    used = np.unique(month_codes[mask & (month_codes >= 0)])
    first = str(month_uniques.iloc[used].min()) if len(used) else None
    last = str(month_uniques.iloc[used].max()) if len(used) else None
    ordered: list[str] = []
    for pattern in patterns:
        ordered.extend(c for c in sorted(_match_categories(present, [pattern])) if c not in ordered)
    logger.info(
        "patrol points: %s of %s records selected (%s; %s)",
        f"{int(mask.sum()):,}",
        f"{len(points):,}",
        "; ".join(ordered),
        _period_text(first, last) if first else "no record in the month window",
    )
    return _Selection(
        mask=mask, categories=tuple(sorted(chosen)), cat_codes=cat_codes, cat_uniques=cat_uniques,
        start_month=start_month, end_month=end_month, requested_order=tuple(ordered),
        first_month=first, last_month=last,
    )


def _months_between(first: str, last: str) -> int:
    return (pd.Period(last, freq="M") - pd.Period(first, freq="M")).n + 1


def _period_text(first: Optional[str], last: Optional[str]) -> str:
    """``"2024-03 to 2025-02 (12 months)"`` for logs."""
    if first is None or last is None:
        return "period unknown"
    n = _months_between(first, last)
    return f"{first} to {last} ({n} month{'s' if n != 1 else ''})"


def _months(points: pd.DataFrame) -> tuple[np.ndarray, pd.Series]:
    if "month" in points.columns:
        codes, uniques = _codes(points["month"])
        column = "month"
        uniques = uniques.str.slice(0, 7)
    else:
        codes, uniques = _codes(points["date"])
        column = "date"
        uniques = pd.to_datetime(uniques, errors="coerce").dt.strftime("%Y-%m").astype("string")
    bad = (uniques.isna() | ~uniques.str.fullmatch(r"\d{4}-\d{2}").fillna(False)).to_numpy(dtype=bool)
    if bad.any():
        rows, n_bad = _bad_rows(points, codes, bad)
        raise InputError(
            f"points column '{column}': expected {'YYYY-MM' if column == 'month' else 'a date YYYY-MM-DD'}, "
            f"got {points[column].iloc[points.index.get_indexer(rows[:1])[0]]!r} in rows {rows} "
            f"({n_bad:,} rows); fix or drop those rows"
        )
    return codes, uniques


def _parse_optional(
    points: pd.DataFrame, column: str, formats: Sequence[str], what: str, attr: str
) -> Optional[np.ndarray]:
    """One integer field (hour, day of week) of an optional time/date column, -1 if blank."""
    if column not in points.columns:
        return None
    raw = points[column]
    if pd.api.types.is_datetime64_any_dtype(raw):
        out = getattr(raw.dt, attr).to_numpy(dtype=float, na_value=np.nan)
        return np.where(np.isfinite(out), out, -1).astype(np.int64) if np.isfinite(out).any() else None
    codes, uniques = _codes(raw.astype("string") if raw.dtype == object else raw)
    if len(uniques) == 0:
        return None
    parsed = pd.Series(pd.NaT, index=uniques.index, dtype="datetime64[ns]")
    for fmt in formats:
        todo = parsed.isna()
        if todo.any():
            parsed[todo] = pd.to_datetime(uniques[todo], format=fmt, errors="coerce")
    bad = parsed.isna().to_numpy(dtype=bool)
    if bad.any():
        rows, n_bad = _bad_rows(points, codes, bad)
        raise InputError(
            f"points column '{column}': expected {what}, got {uniques[bad].iloc[0]!r} in rows {rows} "
            f"({n_bad:,} rows); fix them or blank them out"
        )
    field_values = np.append(getattr(parsed.dt, attr).to_numpy(dtype=np.int64), -1)
    return field_values[codes]


def _records(
    points: gpd.GeoDataFrame,
    selection: _Selection,
    harm_weights: HarmWeightSource,
    scheme: str,
) -> _Records:
    mask, categories = selection.mask, selection.categories
    geoms = points.geometry.array[mask]
    x = shapely.get_x(np.asarray(geoms, dtype=object)) if len(geoms) else np.empty(0)
    y = shapely.get_y(np.asarray(geoms, dtype=object)) if len(geoms) else np.empty(0)
    ok = np.isfinite(x) & np.isfinite(y)
    if not ok.all():
        logger.warning("patrol points: %s records without a usable point were dropped", f"{int((~ok).sum()):,}")
    sel = np.flatnonzero(mask)[ok]
    x, y = x[ok], y[ok]
    to_chosen = np.append(pd.Index(categories).get_indexer(selection.cat_uniques.astype(object)), -1)
    cat = to_chosen[selection.cat_codes[sel]]
    weight = np.asarray(harm_weights.weight_for(list(categories), scheme), dtype=float)
    if weight.shape != (len(categories),) or not np.all(np.isfinite(weight)) or (weight < 0).any():
        bad = [c for c, w in zip(categories, np.atleast_1d(weight)) if not (np.isfinite(w) and w >= 0)]
        raise InputError(
            f"harm weights: expected a non-negative number of days for each of {list(categories)} "
            f"(scheme {scheme!r}), got {weight.tolist()}; missing or invalid for {bad}"
        )
    if "location" in points.columns:
        loc_codes, loc_uniques = _codes(points["location"])
        loc = loc_codes[sel]
        locations = loc_uniques.to_numpy(dtype=object)
    else:
        loc, locations = np.full(len(sel), -1, dtype=np.int64), np.empty(0, dtype=object)
    hour = dow = None
    hours = _parse_optional(points, "time", ("%H:%M", "%H:%M:%S"), "a time of day HH:MM", "hour")
    if hours is not None:
        hour = hours[sel]
        days = _parse_optional(points, "date", ("%Y-%m-%d",), "a date YYYY-MM-DD", "day_of_week")
        dow = None if days is None else days[sel]
    return _Records(
        x=x, y=y, cat=cat.astype(np.int64), categories=categories, weight=weight,
        loc=np.asarray(loc, dtype=np.int64), locations=locations, hour=hour, dow=dow,
    )


def select_points(
    points: gpd.GeoDataFrame,
    *,
    categories: Optional[Sequence[str]] = None,
    start_month: Optional[str] = None,
    end_month: Optional[str] = None,
    window_months: Optional[int] = None,
) -> gpd.GeoDataFrame:
    """Records of the chosen crime types inside a month window.

    Parameters
    ----------
    points : GeoDataFrame
        EPSG:27700 points with ``month`` (YYYY-MM) or ``date`` and ``category``.
    categories : sequence of str, optional
        Crime types as published, matched case-insensitively with shell-style wildcards
        (``"*"`` keeps all). Default :data:`DEFAULT_CATEGORIES`.
    start_month, end_month : str, optional
        Inclusive ``YYYY-MM`` bounds.
    window_months : int, optional
        When no bounds are given: keep the latest N months present.

    Returns
    -------
    GeoDataFrame
        A new frame holding the selected rows.
    """
    selection = _select_mask(
        points, categories=categories, start_month=start_month, end_month=end_month, window_months=window_months
    )
    return points.loc[selection.mask].copy()


# --------------------------------------------------------------------------- counting


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


# --------------------------------------------------------------------------- snap places


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
    location = np.where(p_loc >= 0, rec.locations[np.where(p_loc >= 0, p_loc, 0)] if len(rec.locations) else None, None)
    base = "S-" + pd.Series(p_east).astype(str) + "-" + pd.Series(p_north).astype(str)
    dup = base.groupby(base).cumcount()
    ids = base.where(dup == 0, base + "-" + (dup + 1).astype(str))
    places = gpd.GeoDataFrame(
        {"place_kind": "snap", "easting": p_east.astype(float), "northing": p_north.astype(float), "location": location},
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
        x=x[ok], y=y[ok], cat=np.zeros(int(ok.sum()), dtype=np.int64), categories=("all",), weight=np.ones(1),
        loc=np.asarray(loc, dtype=np.int64), locations=locations, hour=None, dow=None,
    )
    places, pos = _snap_places(rec)
    places["records"] = np.bincount(pos, minlength=len(places))
    return places


# --------------------------------------------------------------------------- Gi*


@dataclass(frozen=True)
class GiStarResult:
    """Getis-Ord Gi* per grid cell.

    Attributes
    ----------
    table : DataFrame
        Indexed by ``place_id``: ``gi_z`` (analytic or permutation z), ``gi_p``
        (two-sided: ``min(1, 2 * gi_p_sim)`` with permutations, normal when analytic),
        ``gi_p_sim`` (one-sided pseudo p in the observation's tail, see
        :func:`grid_hotspots`; NaN when analytic), ``gi_permutations`` (permutations
        behind the cell's p; 0 when analytic), ``gi_q``
        (Benjamini-Hochberg adjusted ``gi_p``, or ``gi_p`` when ``fdr`` is off),
        ``gi_bin`` (-3..3) and ``gi_label``.
    method : {"permutation", "analytic"}
    permutations, seed : int
    alpha : float
    fdr : bool
    contiguity : str
    """

    table: pd.DataFrame
    method: str
    permutations: int
    seed: int
    alpha: float
    fdr: bool
    contiguity: str

    def to_frame(self) -> pd.DataFrame:
        """A copy of :attr:`table`."""
        return self.table.copy()

    @property
    def n_hot(self) -> int:
        """Cells in a hot-spot bin."""
        return int((self.table["gi_bin"] > 0).sum())


def _grid_graph(grid: gpd.GeoDataFrame, contiguity: str):
    from libpysal.graph import Graph

    _, kind = _grid_spec(grid)
    i = grid["cell_i"].to_numpy(dtype=np.int64)
    j = grid["cell_j"].to_numpy(dtype=np.int64)
    if kind == "hex":
        offsets = [(1, 0), (-1, 0), (0, 1), (0, -1), (1, -1), (-1, 1)]
    elif contiguity == "rook":
        offsets = [(1, 0), (-1, 0), (0, 1), (0, -1)]
    else:
        offsets = [(di, dj) for di in (-1, 0, 1) for dj in (-1, 0, 1) if (di, dj) != (0, 0)]
    lookup = pd.Index(_cell_keys(i, j))
    focal, neighbor = [], []
    for di, dj in offsets:
        idx = lookup.get_indexer(_cell_keys(i + di, j + dj))
        hit = idx >= 0
        focal.append(np.flatnonzero(hit))
        neighbor.append(idx[hit])
    f = np.concatenate(focal)
    nb = np.concatenate(neighbor)
    islands = np.setdiff1d(np.arange(len(i)), f)
    # libpysal encodes an island as a zero-weight self-loop.
    f = np.concatenate([f, islands])
    nb = np.concatenate([nb, islands])
    w = np.concatenate([np.ones(len(f) - len(islands)), np.zeros(len(islands))])
    order = np.lexsort((nb, f))
    return Graph.from_arrays(f[order], nb[order], w[order]), len(islands)


def _bins(z: np.ndarray, q: np.ndarray) -> np.ndarray:
    level = np.select([q <= 0.01, q <= 0.05, q <= 0.10], [3, 2, 1], default=0)
    return (np.sign(z) * level).astype(np.int64)


def _folded_pseudo_p(observed: np.ndarray, simulated: np.ndarray) -> np.ndarray:
    """One-sided pseudo p in the tail the observation lies in, ties counted in both tails.

    esda's folded ("directed") ``p_sim`` counts ties only towards the upper tail, so an
    empty cell among empty cells, whose Gi* equals the smallest value any permutation
    can give, gets the smallest possible p and becomes a "cold spot"; on a sparse grid
    that is most of the map. Counting ties in both tails (``#sim >= obs`` and
    ``#sim <= obs``, within a relative 1e-9 so float noise is a tie) gives such a cell
    p = 1. Without ties this equals esda's value.
    """
    tol = 1e-9 * np.maximum(np.abs(observed), 1e-300)[:, None]
    upper = (simulated >= observed[:, None] - tol).sum(axis=1)
    lower = (simulated <= observed[:, None] + tol).sum(axis=1)
    return (np.minimum(upper, lower) + 1.0) / (simulated.shape[1] + 1.0)


_SEQUENTIAL_HITS = 10  # refine a pseudo p while fewer permutations than this are as extreme
_REFINE_BLOCK = 4_000_000  # drawn neighbour indices per block (32 MB of int64)


def _refine_pseudo_p(
    y: np.ndarray,
    window: np.ndarray,
    card: np.ndarray,
    p_sim: np.ndarray,
    permutations: int,
    target: int,
    seed: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Sequential Monte Carlo: more permutations for cells whose pseudo p is at the floor.

    A pseudo p built from ``R`` permutations cannot fall below ``1 / (R + 1)``, so with
    thousands of cells Benjamini-Hochberg can never reach it. A cell whose observed Gi*
    was matched or beaten by fewer than ``_SEQUENTIAL_HITS`` permutations (its p is
    resolution-limited; Besag & Clifford 1991) is re-tested with ten times as many fresh
    conditional permutations, and again, until ``target`` permutations or until its
    p is resolved. Each round draws the cell's ``card`` neighbours without replacement
    from the other cells (rejection of repeated draws), exactly as esda's conditional
    randomisation, so the refined p tests the same null.

    Returns the one-sided p per cell and the permutations behind it.
    """
    n = len(y)
    rng = np.random.default_rng([int(seed), 0x6A1])  # a stream apart from esda's seed
    used = np.full(n, permutations, dtype=np.int64)
    p_out = p_sim.copy()
    r = permutations
    while r < target:
        r = min(10 * (r + 1) - 1, target)
        hits = np.rint(p_out * (used + 1)) - 1
        todo = np.flatnonzero((hits < _SEQUENTIAL_HITS) & (card > 0))
        if len(todo) == 0:
            break
        tol = 1e-9 * np.maximum(np.abs(window), 1e-300)
        for k in np.unique(card[todo]).tolist():
            cells = todo[card[todo] == k]
            per_block = max(1, _REFINE_BLOCK // (r * k))
            for start in range(0, len(cells), per_block):
                block = cells[start : start + per_block]
                chunk = max(1, _REFINE_BLOCK // (len(block) * k))
                upper = np.zeros(len(block), dtype=np.int64)
                lower = np.zeros(len(block), dtype=np.int64)
                for r0 in range(0, r, chunk):
                    sims = _conditional_sums(y, block, k, min(chunk, r - r0), rng)
                    upper += (sims >= (window[block] - tol[block])[:, None]).sum(axis=1)
                    lower += (sims <= (window[block] + tol[block])[:, None]).sum(axis=1)
                p_out[block] = (np.minimum(upper, lower) + 1.0) / (r + 1.0)
                used[block] = r
        logger.info(
            "Gi*: %s cells with a resolution-limited pseudo p re-tested with %s fresh permutations", f"{len(todo):,}", f"{r:,}"
        )
    return p_out, used


def _conditional_sums(y: np.ndarray, cells: np.ndarray, k: int, r: int, rng: np.random.Generator) -> np.ndarray:
    """Window sums of ``cells`` with ``k`` neighbours drawn, ``r`` times, from the other cells."""
    n = len(y)
    focal = cells.astype(np.int32)
    # int32 draws are several times faster than int64 ones; grids stay far below 2**31 cells.
    idx = rng.integers(0, n - 1, size=(len(cells), r, k), dtype=np.int32)
    idx += idx >= focal[:, None, None]  # skip the cell itself
    while True:
        dup = np.zeros(idx.shape[:2], dtype=bool)
        for a in range(k):
            for b in range(a + 1, k):
                dup |= idx[:, :, a] == idx[:, :, b]
        if not dup.any():
            break
        redo = rng.integers(0, n - 1, size=(int(dup.sum()), k), dtype=np.int32)
        redo += redo >= np.broadcast_to(focal[:, None], dup.shape)[dup][:, None]
        idx[dup] = redo
    return y[idx.astype(np.intp)].sum(axis=2) + y[cells][:, None]


def grid_hotspots(
    cell_values: Any,
    grid: gpd.GeoDataFrame,
    *,
    permutations: int = 999,
    seed: int = 0,
    alpha: float = 0.05,
    fdr: bool = True,
    contiguity: Literal["queen", "rook"] = "queen",
    method: Literal["auto", "permutation", "analytic"] = "auto",
    max_permutation_cells: int = 20_000,
    max_refine_permutations: int = 199_999,
) -> GiStarResult:
    """Getis-Ord Gi* hot and cold spots on the grid, with FDR control.

    Gi* (esda ``G_Local``, ``star=True``, binary weights with the cell itself included)
    runs over every cell of the grid, zero cells included, on a queen (or rook;
    hexagons always use their six neighbours) contiguity graph built arithmetically from
    the cell indices.

    Parameters
    ----------
    cell_values : Series or array-like
        Value per cell (harm); a Series is aligned on the grid's ``place_id`` index and
        missing cells count as 0.
    grid : GeoDataFrame
        From :func:`build_grid`.
    permutations : int
        Conditional permutations for pseudo p-values (0 means analytic).
    seed : int
        Seed of the permutations.
    alpha : float
        Significance level reported in the log; bins use 0.10/0.05/0.01.
    fdr : bool
        Adjust p-values with Benjamini-Hochberg before binning.
    contiguity : {"queen", "rook"}
    method : {"auto", "permutation", "analytic"}
        ``auto`` uses permutations up to ``max_permutation_cells`` cells and analytic
        (normal) p-values above it, where permutations take minutes; the switch is logged.
    max_permutation_cells : int
        Threshold of the automatic switch (20,000 cells take about 2 s with 999
        permutations on one core; 160,000 take a minute).
    max_refine_permutations : int
        With permutations and ``fdr``, cells whose pseudo p sits at the floor are
        re-tested with up to this many permutations (see Notes).

    Returns
    -------
    GiStarResult

    Notes
    -----
    With permutations, ``gi_z`` is esda's ``z_sim`` (the observed Gi* standardised by
    the mean and standard deviation of its seeded conditional permutations) and
    ``gi_p`` is the two-sided pseudo p-value ``min(1, 2 * gi_p_sim)`` from the folded
    one-sided ``gi_p_sim``, as :func:`pli.clustering.getis_ord` does for LSOAs: cell
    counts are sparse (most cells hold 0 or 1 record), so a normal tail on ``z_sim``
    would overstate significance. ``gi_p_sim`` is esda's folded ``p_sim``
    (``(min(#sim >= obs, #sim < obs) + 1) / (permutations + 1)``) except that ties count
    in both tails: esda counts them only in the upper one, which makes every empty cell
    among empty cells a significant cold spot. Analytically (``permutations=0``, or ``auto`` above
    ``max_permutation_cells``) ``gi_z`` is esda's ``Zs`` (normality moments, Getis & Ord
    1995) and ``gi_p = 2 * sf(|gi_z|)``.

    ``gi_q`` is the Benjamini-Hochberg adjusted ``gi_p``
    (:func:`pli.clustering.benjamini_hochberg`) and the bins use it when ``fdr`` is on.

    The FDR has a floor with permutations: the smallest two-sided pseudo p is
    ``2 / (permutations + 1)`` (0.002 with 999), and BH declares the cells at that floor
    significant only when there are at least about ``0.002 * n_cells / alpha`` of them
    (163 of 4,075 cells at alpha 0.05), so a small, intense cluster in a large grid
    would pass the permutation test cell by cell yet vanish after FDR. With ``fdr`` on,
    cells whose pseudo p is resolution-limited (fewer than 10 permutations as extreme)
    are therefore re-tested with 10, 100, ... times more fresh conditional
    permutations (sequential Monte Carlo, Besag & Clifford 1991), up to enough for one
    cell alone to pass BH (``2 * n_cells / alpha``) or ``max_refine_permutations``;
    ``gi_permutations`` records how many each cell's p rests on. Only the few extreme
    cells are re-tested, so this costs seconds; the log says when the floor still binds.

    Bins follow the ArcGIS ``Gi_Bin`` convention: +-3, +-2, +-1 for (FDR-adjusted)
    p <= 0.01, 0.05, 0.10, signed by z. Permutations keep ``n_cells x permutations``
    floats in memory (160 MB at the default cap).
    """
    from esda import G_Local

    from pli.clustering import benjamini_hochberg

    _grid_spec(grid)
    if isinstance(cell_values, pd.Series):
        y = cell_values.reindex(grid.index).fillna(0.0).to_numpy(dtype=float)
    else:
        y = np.asarray(cell_values, dtype=float)
        if y.shape != (len(grid),):
            raise InputError(f"cell_values: expected {len(grid)} values (one per grid cell), got shape {y.shape}")
    if not np.all(np.isfinite(y)):
        raise InputError("cell_values: expected finite numbers, got NaN or infinite values")
    if method not in ("auto", "permutation", "analytic"):
        raise InputError(f"method: expected 'auto', 'permutation' or 'analytic', got {method!r}")
    chosen = method
    if method == "auto":
        chosen = "permutation" if permutations > 0 and len(grid) <= max_permutation_cells else "analytic"
        if permutations > 0 and chosen == "analytic":
            logger.info(
                "Gi*: %s cells exceed max_permutation_cells=%s; using analytic p-values instead of %d permutations",
                f"{len(grid):,}", f"{max_permutation_cells:,}", permutations,
            )
    if chosen == "permutation" and permutations < 1:
        raise InputError("permutations: expected 1 or more for method='permutation'")
    graph, n_islands = _grid_graph(grid, contiguity)
    n = len(y)
    p_sim = np.full(n, np.nan)
    used = np.zeros(n, dtype=np.int64)
    if y.sum() <= 0 or np.ptp(y) == 0 or n < 3:
        z = np.zeros(n)
        p = np.ones(n)
        logger.warning("Gi*: the cell values are constant (%s cells); no hot spots can be found", f"{n:,}")
    else:
        perms = permutations if chosen == "permutation" else 0
        with warnings.catch_warnings():
            # esda warns that the default alternative of its folded ("directed") pseudo
            # p-value will change; the folded value is what is doubled below.
            warnings.filterwarnings("ignore", message="The alternative hypothesis", category=DeprecationWarning)
            g = G_Local(
                y, graph, transform="B", star=True, permutations=perms, seed=seed, n_jobs=1,
                keep_simulations=bool(perms),
            )
        z = np.nan_to_num(np.asarray(g.Zs, dtype=float), nan=0.0)
        if perms:
            # A cell whose permutations never vary (all-zero surroundings) has no
            # permutation z; its analytic z stands in.
            z_sim = np.asarray(g.z_sim, dtype=float)
            z = np.where(np.isfinite(z_sim), z_sim, z)
            p_sim = _folded_pseudo_p(np.asarray(g.Gs, dtype=float), np.asarray(g.rGs, dtype=float))
            used = np.full(n, perms, dtype=np.int64)
            if fdr:
                adj = graph.sparse.tocsr()
                window = adj @ y + y
                card = np.diff(adj.indptr) - np.bincount(np.repeat(np.arange(n), np.diff(adj.indptr))[adj.data == 0],
                                                         minlength=n)
                # Enough permutations that one cell alone could pass BH: 2/(R+1) <= alpha/n.
                target = min(max_refine_permutations, math.ceil(2.0 * n / alpha) - 1)
                p_sim, used = _refine_pseudo_p(y, window, card, p_sim, perms, target, seed)
            # Two-sided from the folded one-sided pseudo p, as pli.clustering.getis_ord:
            # sparse counts (most cells 0 or 1) are far from normal, so the normal
            # tail of z_sim would overstate significance.
            p = np.minimum(1.0, 2.0 * p_sim)
        else:
            p = np.minimum(1.0, 2.0 * stats.norm.sf(np.abs(z)))
    q = benjamini_hochberg(p) if fdr else p
    gbin = _bins(z, q)
    if chosen == "permutation" and fdr and n > 1 and not (q <= alpha).any() and y.sum() > 0:
        floor = 2.0 / (int(used.max()) + 1)
        at_floor = int((p <= floor * (1 + 1e-9)).sum())
        if at_floor:
            logger.info(
                "Gi*: no cell is significant after FDR: with up to %s permutations the smallest two-sided p "
                "is %.2g, so among %s cells Benjamini-Hochberg needs about %s cells at that floor and %s are; "
                "raise max_refine_permutations or use hotspot_method='analytic' for a finer test",
                f"{int(used.max()):,}", floor, f"{n:,}", f"{math.ceil(floor * n / alpha):,}", f"{at_floor:,}",
            )
    table = pd.DataFrame(
        {
            "gi_z": z,
            "gi_p": p,
            "gi_q": q,
            "gi_p_sim": p_sim,
            "gi_permutations": used,
            "gi_bin": gbin,
            "gi_label": pd.Series(gbin).map(_GI_LABELS).to_numpy(),
        },
        index=grid.index,
    )
    logger.info(
        "Gi* (%s%s, %s contiguity, %s islands): %s cells, %d hot and %d cold at %s <= %.2f",
        chosen,
        f", {permutations} permutations, seed {seed}" if chosen == "permutation" else "",
        contiguity if _grid_spec(grid)[1] == "square" else "hex",
        n_islands,
        f"{n:,}",
        int(((q <= alpha) & (z > 0)).sum()),
        int(((q <= alpha) & (z < 0)).sum()),
        "FDR-adjusted p" if fdr else "p",
        alpha,
    )
    return GiStarResult(
        table=table,
        method=chosen,
        permutations=permutations if chosen == "permutation" else 0,
        seed=seed,
        alpha=alpha,
        fdr=fdr,
        contiguity=contiguity,
    )


# --------------------------------------------------------------------------- KDE


@dataclass(frozen=True)
class KDESurface:
    """A kernel density surface on a raster aligned with the British National Grid.

    Attributes
    ----------
    density : ndarray, shape (ny, nx)
        Records (or harm days) per km2; row 0 is the southern edge; NaN outside the area.
    x0, y0 : float
        Easting and northing of the lower-left corner of the raster.
    cell_size_m, bandwidth_m : float
    bandwidth_rule : str
        How the bandwidth was chosen.
    weighted : bool
        True when the surface is harm-weighted.
    """

    density: np.ndarray
    x0: float
    y0: float
    cell_size_m: float
    bandwidth_m: float
    bandwidth_rule: str
    weighted: bool

    def to_frame(self) -> gpd.GeoDataFrame:
        """Cells inside the area as EPSG:27700 squares with a ``density`` column."""
        rows, cols = np.nonzero(np.isfinite(self.density))
        s = self.cell_size_m
        x = self.x0 + cols * s
        y = self.y0 + rows * s
        return gpd.GeoDataFrame(
            {"density": self.density[rows, cols]},
            geometry=shapely.box(x, y, x + s, y + s),
            crs=METRIC_CRS,
        )

    def peak(self) -> tuple[float, float]:
        """Easting and northing of the centre of the densest cell."""
        r, c = np.unravel_index(np.nanargmax(self.density), self.density.shape)
        return self.x0 + (c + 0.5) * self.cell_size_m, self.y0 + (r + 0.5) * self.cell_size_m


def _silverman_bandwidth(x: np.ndarray, y: np.ndarray) -> float:
    n = len(x)
    spreads = []
    for v in (x, y):
        q75, q25 = np.percentile(v, [75, 25])
        sd = float(np.std(v, ddof=1)) if n > 1 else 0.0
        robust = (q75 - q25) / 1.34
        spreads.append(min(sd, robust) if robust > 0 else sd)
    return 0.9 * float(np.mean(spreads)) * n ** (-0.2)


def kde_surface(
    points: Any,
    area: Any,
    *,
    bandwidth_m: Optional[float] = None,
    cell_size_m: float = 50.0,
    weights: Optional[np.ndarray] = None,
    max_cells: int = 25_000_000,
) -> KDESurface:
    """Gaussian kernel density of points on a fine raster, clipped to the area.

    Points are binned onto the raster and smoothed with a Gaussian filter (a binned
    KDE: exact up to the half-cell binning error and fast for millions of points).

    Parameters
    ----------
    points : GeoDataFrame or (x, y) tuple of arrays
        EPSG:27700 points.
    area : GeoDataFrame, GeoSeries or geometry
        Study area; cells whose centre lies outside are NaN.
    bandwidth_m : float, optional
        Standard deviation of the Gaussian kernel. Default: Silverman's rule of thumb,
        ``0.9 * min(sd, IQR / 1.34) * n ** (-1/5)`` averaged over the two axes, never
        below one cell; the value is logged.
    cell_size_m : float
        Raster resolution.
    weights : array-like, optional
        Per-point weights (e.g. harm days).
    max_cells : int
        Refuse rasters larger than this.

    Returns
    -------
    KDESurface
    """
    if isinstance(points, gpd.GeoDataFrame):
        _require_metric(points, "points")
        geoms = np.asarray(points.geometry.array, dtype=object)
        x, y = shapely.get_x(geoms), shapely.get_y(geoms)
    else:
        x, y = (np.asarray(a, dtype=float) for a in points)
    w = np.ones(len(x)) if weights is None else np.asarray(weights, dtype=float)
    ok = np.isfinite(x) & np.isfinite(y) & np.isfinite(w)
    x, y, w = x[ok], y[ok], w[ok]
    geom = _area_geometry(area)
    if len(x) < 2:
        raise InputError(f"KDE: expected at least 2 points, got {len(x)}")
    if bandwidth_m is None:
        bandwidth_m = max(_silverman_bandwidth(x, y), float(cell_size_m))
        rule = f"Silverman's rule of thumb on {len(x):,} points"
        logger.info("KDE bandwidth %.0f m (%s)", bandwidth_m, rule)
    else:
        rule = "given"
        if bandwidth_m <= 0:
            raise InputError(f"bandwidth_m: expected a positive number of metres, got {bandwidth_m}")
    s = float(cell_size_m)
    minx, miny, maxx, maxy = geom.bounds
    pad = 4.0 * bandwidth_m
    c0, r0 = math.floor((minx - pad) / s), math.floor((miny - pad) / s)
    nx, ny = math.ceil((maxx + pad) / s) - c0, math.ceil((maxy + pad) / s) - r0
    if nx * ny > max_cells:
        raise InputError(
            f"KDE: a {nx} x {ny} raster at {s:g} m exceeds {max_cells:,} cells; use a larger cell_size_m"
        )
    col = np.floor(x / s).astype(np.int64) - c0
    row = np.floor(y / s).astype(np.int64) - r0
    inr = (col >= 0) & (col < nx) & (row >= 0) & (row < ny)
    mass = np.bincount(row[inr] * nx + col[inr], weights=w[inr], minlength=nx * ny).reshape(ny, nx)
    smooth = ndimage.gaussian_filter(mass, sigma=bandwidth_m / s, mode="constant", truncate=4.0)
    density = smooth / (s * s / 1e6)
    ccol = (np.arange(nx) + c0 + 0.5) * s
    crow = (np.arange(ny) + r0 + 0.5) * s
    gx, gy = np.meshgrid(ccol, crow)
    inside = shapely.contains_xy(geom, gx, gy)
    density = np.where(inside, density, np.nan)
    rows = np.flatnonzero(inside.any(axis=1))
    cols = np.flatnonzero(inside.any(axis=0))
    if len(rows) == 0:
        raise InputError(f"KDE: no {s:g} m cell centre falls inside the study area; use a smaller cell_size_m")
    density = density[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
    return KDESurface(
        density=density,
        x0=(c0 + cols[0]) * s,
        y0=(r0 + rows[0]) * s,
        cell_size_m=s,
        bandwidth_m=float(bandwidth_m),
        bandwidth_rule=rule,
        weighted=weights is not None,
    )


# --------------------------------------------------------------------------- concentration


@dataclass(frozen=True)
class ConcentrationResult:
    """How concentrated harm is among places.

    The top p % of places is the ``ceil(p * n_places)`` places with most harm, counted
    over *all* places of the scope including those with no harm (a neighbourhood of 200
    cells has a top 1 % of 2 cells). The power few is the smallest number of places
    whose harm reaches half the total.

    Attributes
    ----------
    n_places, n_places_with_harm : int
    total_harm : float
    fractions : tuple of float
        The top fractions of places (0.01, 0.05, 0.10 by default).
    top_places : tuple of int
        ``ceil(p * n_places)`` for each fraction.
    top_harm_shares : tuple of float
        Share of the total harm they hold (NaN when there is no harm).
    power_few_places : int
    power_few_place_share : float
        ``power_few_places / n_places``.
    power_few_harm_share : float
        Share of harm the power few actually hold (at least 0.5).
    """

    n_places: int
    n_places_with_harm: int
    total_harm: float
    fractions: tuple[float, ...]
    top_places: tuple[int, ...]
    top_harm_shares: tuple[float, ...]
    power_few_places: int
    power_few_place_share: float
    power_few_harm_share: float

    def to_dict(self) -> dict[str, Any]:
        """Flat mapping: ``top_1pct_places``, ``top_1pct_harm_share``, ... ``power_few_*``."""
        out: dict[str, Any] = {
            "n_places": self.n_places,
            "n_places_with_harm": self.n_places_with_harm,
            "total_harm": self.total_harm,
        }
        for f, k, share in zip(self.fractions, self.top_places, self.top_harm_shares):
            label = f"top_{f * 100:g}pct".replace(".", "_")
            out[f"{label}_places"] = k
            out[f"{label}_harm_share"] = share
        out["power_few_places"] = self.power_few_places
        out["power_few_place_share"] = self.power_few_place_share
        out["power_few_harm_share"] = self.power_few_harm_share
        return out

    def to_frame(self) -> pd.DataFrame:
        """One-row frame of :meth:`to_dict`."""
        return pd.DataFrame([self.to_dict()])


def concentration(
    harm_per_place: Any, *, fractions: Sequence[float] = (0.01, 0.05, 0.10), half: float = 0.5
) -> ConcentrationResult:
    """Share of harm in the top places and the "power few".

    Parameters
    ----------
    harm_per_place : array-like
        Harm of every place in the scope, zeros included.
    fractions : sequence of float
        Top fractions of places; the top ``p`` is ``ceil(p * n)`` places (rounded to 9
        decimals first so 0.07 * 100 is 7, not 8).
    half : float
        Share of harm the power few must hold.

    Returns
    -------
    ConcentrationResult
    """
    h = np.asarray(harm_per_place, dtype=float).ravel()
    if h.size and (not np.all(np.isfinite(h)) or (h < 0).any()):
        raise InputError("harm_per_place: expected finite, non-negative harm values")
    n = h.size
    ordered = np.sort(h)[::-1]
    cum = np.cumsum(ordered)
    total = float(cum[-1]) if n else 0.0
    tops = tuple(int(min(n, math.ceil(round(f * n, 9)))) for f in fractions)
    if total > 0:
        shares = tuple(float(cum[k - 1] / total) if k > 0 else 0.0 for k in tops)
        # A relative tolerance keeps 0.5 * total reachable despite summation rounding.
        k_few = int(np.searchsorted(cum, half * total * (1 - 1e-12), side="left") + 1)
        few_share = float(cum[k_few - 1] / total)
    else:
        shares = tuple(float("nan") for _ in tops)
        k_few, few_share = 0, float("nan")
    return ConcentrationResult(
        n_places=n,
        n_places_with_harm=int((h > 0).sum()),
        total_harm=total,
        fractions=tuple(float(f) for f in fractions),
        top_places=tops,
        top_harm_shares=shares,
        power_few_places=k_few,
        power_few_place_share=(k_few / n) if n else float("nan"),
        power_few_harm_share=few_share,
    )


# --------------------------------------------------------------------------- plan


@dataclass(frozen=True)
class PatrolPlan:
    """Micro-places, hot spots, concentration and the patrol plan.

    Attributes
    ----------
    places : GeoDataFrame
        Every micro-place (EPSG:27700), indexed by ``place_id``: grid cells (polygons,
        ``place_kind`` "grid" or "hex") and police.uk snap points (points, "snap").
        Columns ``place_kind``, ``neighbourhood_rank`` (0 = outside every priority
        neighbourhood), ``neighbourhood``, ``cell_id`` (the grid cell holding the
        place), ``easting``, ``northing``, ``lon``, ``lat``, ``area_share``,
        ``location``, ``count``, ``harm``, ``count_<type>``, ``harm_<type>``, ``gi_z``,
        ``gi_p``, ``gi_q``, ``gi_p_sim``, ``gi_bin``, ``gi_label`` (snap places take
        their cell's Gi*).
    plan : DataFrame
        The places that clear the floor, best first in each neighbourhood (see
        :func:`plan_patrols`): ``neighbourhood_rank``, ``neighbourhood``,
        ``neighbourhood_slug``, ``place_rank``, ``place_id``, ``place_kind``,
        ``location``, ``lon``, ``lat``, ``easting``, ``northing``, ``count``, ``harm``,
        ``harm_share`` (of the neighbourhood's harm), ``count_<type>``, ``harm_<type>``,
        ``gi_z``, ``gi_q``, ``gi_bin``, ``gi_label``, ``power_few`` (in the
        neighbourhood's power few), ``evidence`` (why the place qualified),
        ``events_per_month``, ``window_months``, ``visits_per_day``,
        ``visit_minutes``, ``suggested_times``, ``period`` ("2024-03 to 2025-02") and
        ``categories`` ("Burglary"; several joined by "; ").
    concentration : DataFrame
        One row per scope (each neighbourhood, then ``"Borough-wide"`` with rank 0) and
        place kind, columns of :meth:`ConcentrationResult.to_dict`.
    profiles : DataFrame or None
        When records carry times: counts and harm by ``day_of_week`` (0 = Monday, -1 when
        no date) and ``hour``, per scope; None otherwise.
    kde : KDESurface or None
    hotspots : GiStarResult
        Gi* of the grid cells.
    categories : tuple of str
        Crime types selected (sorted).
    start_month, end_month : str or None
        First and last month present among the selected records.
    window_months : int or None
        Months from ``start_month`` to ``end_month`` inclusive (the divisor of
        ``events_per_month``).
    categories_label : str
        The crime types in the order asked for, joined by "; ".
    n_records, n_outside : int
        Records used, and selected records dropped outside the study area.
    neighbourhoods_without_places : tuple of str
        Neighbourhoods where no place cleared the floor.
    """

    places: gpd.GeoDataFrame
    plan: pd.DataFrame
    concentration: pd.DataFrame
    profiles: Optional[pd.DataFrame]
    kde: Optional[KDESurface]
    hotspots: GiStarResult
    categories: tuple[str, ...]
    start_month: Optional[str]
    end_month: Optional[str]
    cell_size_m: float
    grid: str
    plan_place_kind: str
    n_records: int
    n_outside: int
    seed: int
    options: dict = field(default_factory=dict, compare=False)
    window_months: Optional[int] = None
    categories_label: str = ""
    neighbourhoods_without_places: tuple[str, ...] = ()

    @property
    def period_label(self) -> str:
        """``"2024-03 to 2025-02"``, or ``"2024-06"`` for a single month."""
        if self.start_month is None or self.end_month is None:
            return "period not stated"
        if self.start_month == self.end_month:
            return self.start_month
        return f"{self.start_month} to {self.end_month}"

    def to_frame(self) -> pd.DataFrame:
        """A copy of :attr:`plan`."""
        return self.plan.copy()

    def to_geojson_frame(self, *, geometry: Literal["place", "centroid"] = "place") -> gpd.GeoDataFrame:
        """The plan as an EPSG:4326 GeoDataFrame (cell polygons, or centroid points)."""
        geoms = self.places.geometry.reindex(self.plan["place_id"].to_numpy())
        if geometry == "centroid":
            geoms = geoms.centroid
        out = gpd.GeoDataFrame(self.plan.reset_index(drop=True), geometry=geoms.to_numpy(), crs=METRIC_CRS)
        return out.to_crs("EPSG:4326")

    def kde_frame(self) -> Optional[gpd.GeoDataFrame]:
        """The kernel density surface as EPSG:27700 square cells, or None without ``kde=True``.

        One polygon per raster cell whose centre lies in the study area, with
        ``density`` (harm days per km2 over the whole window when harm-weighted, which
        :func:`plan_patrols` always is), ``bandwidth_m``, ``period`` and ``categories``.
        Suitable for a GeoPackage layer (e.g. ``kde_surface``).
        """
        if self.kde is None:
            return None
        frame = self.kde.to_frame()
        frame.index.name = "kde_cell"
        frame.insert(1, "bandwidth_m", float(self.kde.bandwidth_m))
        frame.insert(2, "period", self.period_label)
        frame.insert(3, "categories", self.categories_label)
        return frame

    def to_manifest(self) -> dict[str, Any]:
        """JSON-ready summary of what was planned from which records, for the run manifest.

        Keys: ``categories``, ``period``, ``start_month``, ``end_month``,
        ``window_months``, ``records_selected`` (chosen types and months, with a
        point), ``records_outside_area``, ``records_used``, ``grid``, ``cell_size_m``,
        ``cells``, ``snap_places``, ``plan_place_kind``, ``places_planned``,
        ``visits_per_day``, ``neighbourhoods_without_places``, ``hotspot_method``,
        ``permutations``, ``seed``, ``alpha``, ``fdr``, ``hot_cells``, ``floor`` (the
        planning options), ``concentration_borough_wide`` and ``kde``.
        """
        kinds = self.places["place_kind"].to_numpy()
        cell_kind = "grid" if self.grid == "square" else "hex"
        plan_kind = cell_kind if self.plan_place_kind == "grid" else "snap"
        conc = self.concentration
        borough = conc.loc[(conc["neighbourhood_rank"] == 0) & (conc["place_kind"] == plan_kind)]
        hot = self.hotspots.table
        opts = self.options
        return _jsonable({
            "categories": [c.strip() for c in self.categories_label.split(";")] if self.categories_label
            else list(self.categories),
            "period": self.period_label,
            "start_month": self.start_month,
            "end_month": self.end_month,
            "window_months": self.window_months,
            "records_selected": self.n_records + self.n_outside,
            "records_outside_area": self.n_outside,
            "records_used": self.n_records,
            "grid": self.grid,
            "cell_size_m": self.cell_size_m,
            "cells": int((kinds == cell_kind).sum()),
            "snap_places": int((kinds == "snap").sum()),
            "plan_place_kind": plan_kind,
            "places_planned": len(self.plan),
            "visits_per_day": int(self.plan["visits_per_day"].sum()) if len(self.plan) else 0,
            "neighbourhoods_without_places": list(self.neighbourhoods_without_places),
            "hotspot_method": self.hotspots.method,
            "permutations": self.hotspots.permutations,
            "seed": self.seed,
            "alpha": self.hotspots.alpha,
            "fdr": self.hotspots.fdr,
            "hot_cells": int(((hot["gi_q"] <= self.hotspots.alpha) & (hot["gi_z"] > 0)).sum()),
            "floor": {k: opts.get(k) for k in (
                "min_events", "events_per_daily_visit", "min_records_for_a_visit", "top_places",
                "visit_minutes", "max_visits_per_day", "daily_minutes_budget",
            )},
            "concentration_borough_wide": borough.iloc[0].drop(["neighbourhood_rank", "neighbourhood"]).to_dict()
            if len(borough) else None,
            "kde": None if self.kde is None else {
                "bandwidth_m": self.kde.bandwidth_m, "bandwidth_rule": self.kde.bandwidth_rule,
                "cell_size_m": self.kde.cell_size_m, "weighted": self.kde.weighted,
            },
        })


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, (np.bool_, bool)):
        return bool(value)
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        return None if not math.isfinite(float(value)) else float(value)
    return value


def patrol_options(spec: Any) -> dict[str, Any]:
    """Keyword arguments of :func:`plan_patrols` taken from a :class:`pli.config.PatrolSpec`.

    Fields the spec does not (yet) have keep the function's defaults; an empty
    ``categories`` means the default violence, robbery and weapons set.
    """
    names = (
        "cell_size_m", "grid", "categories", "top_places", "permutations", "alpha", "fdr",
        "contiguity", "hotspot_method", "max_permutation_cells", "start_month", "end_month",
        "window_months", "kde", "kde_bandwidth_m", "kde_cell_size_m", "visit_minutes",
        "max_visits_per_day", "min_events", "events_per_daily_visit", "daily_minutes_budget",
        "plan_place_kind", "scheme", "snap",
    )
    out = {n: getattr(spec, n) for n in names if hasattr(spec, n)}
    if not out.get("categories"):
        out.pop("categories", None)
    return out


def _assign_scopes(
    x: np.ndarray, y: np.ndarray, neighbourhoods: gpd.GeoDataFrame, polys: Optional[np.ndarray] = None
) -> np.ndarray:
    """Row position (in rank order) of the neighbourhood holding each point, -1 if none."""
    out = np.full(len(x), -1, dtype=np.int64)
    for k, geom in enumerate(neighbourhoods.geometry.to_numpy()):
        shapely.prepare(geom)
        hit = (out < 0) & shapely.contains_xy(geom, x, y)
        out[hit] = k
        if polys is not None and not hit.any():
            # A neighbourhood smaller than a cell holds no cell centre: take the cells it touches.
            touch = (out < 0) & shapely.intersects(geom, polys)
            out[touch] = k
            if touch.any():
                logger.warning(
                    "neighbourhood %r holds no cell centre; using the %d cells it touches",
                    neighbourhoods["name"].iloc[k], int(touch.sum()),
                )
    return out


def _check_neighbourhoods(neighbourhoods: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    if not isinstance(neighbourhoods, gpd.GeoDataFrame):
        raise InputError(f"neighbourhoods: expected a GeoDataFrame, got {type(neighbourhoods).__name__}")
    _require_metric(neighbourhoods, "neighbourhoods")
    missing = [c for c in ("rank", "name") if c not in neighbourhoods.columns]
    if missing:
        raise InputError(
            f"neighbourhoods: missing column(s) {', '.join(missing)}; found {', '.join(map(str, neighbourhoods.columns))}. "
            "Expected the priorities stage's frame (rank, name, slug, geometry)"
        )
    nb = neighbourhoods.sort_values("rank", kind="stable")
    if nb["rank"].duplicated().any() or (pd.to_numeric(nb["rank"], errors="coerce") < 1).any():
        raise InputError(f"neighbourhoods column 'rank': expected unique ranks from 1, got {nb['rank'].tolist()}")
    return nb


def _peak_hours(hours: np.ndarray, n_peaks: int, min_gap: int = 3) -> list[int]:
    """Busiest hours of a 24-hour profile, at least ``min_gap`` hours apart (circular)."""
    counts = np.bincount(hours[hours >= 0], minlength=24)[:24].astype(float)
    # A three-hour circular window keeps one noisy hour from deciding the plan.
    smooth = counts + np.roll(counts, 1) + np.roll(counts, -1)
    chosen: list[int] = []
    avail = np.ones(24, dtype=bool)
    for _ in range(n_peaks):
        if not avail.any() or smooth[avail].max() <= 0:
            break
        h = int(np.flatnonzero(avail)[np.argmax(smooth[avail])])
        chosen.append(h)
        gap = (np.arange(24) - h) % 24
        avail &= np.minimum(gap, 24 - gap) >= min_gap
    return chosen


def _times_text(peaks: list[int], visits: int) -> str:
    use = sorted(peaks[:visits])
    if not use:
        return DEFAULT_TIMES_TEXT
    windows = ", ".join(f"{h:02d}:00-{(h + 1) % 24:02d}:00" for h in use)
    return f"within {windows}; vary the exact time each day"


def plan_patrols(
    points: gpd.GeoDataFrame,
    neighbourhoods: gpd.GeoDataFrame,
    area: Any,
    *,
    harm_weights: HarmWeightSource,
    scheme: str = "police_uk",
    categories: Optional[Sequence[str]] = None,
    cell_size_m: float = 150.0,
    grid: Literal["square", "hex"] = "square",
    top_places: int = 10,
    permutations: int = 999,
    seed: int = 0,
    alpha: float = 0.05,
    fdr: bool = True,
    contiguity: Literal["queen", "rook"] = "queen",
    hotspot_method: Literal["auto", "permutation", "analytic"] = "auto",
    max_permutation_cells: int = 20_000,
    start_month: Optional[str] = None,
    end_month: Optional[str] = None,
    window_months: Optional[int] = None,
    kde: bool = False,
    kde_bandwidth_m: Optional[float] = None,
    kde_cell_size_m: float = 50.0,
    visit_minutes: int = 15,
    max_visits_per_day: int = 3,
    min_events: int = 3,
    events_per_daily_visit: float = 1.0,
    daily_minutes_budget: Optional[float] = None,
    plan_place_kind: Literal["grid", "snap"] = "grid",
    snap: Optional[bool] = None,
) -> PatrolPlan:
    """Plan micro-patrols in each priority neighbourhood.

    Parameters
    ----------
    points : GeoDataFrame
        EPSG:27700 records: ``month`` (YYYY-MM; or ``date``), ``category``, optional
        ``location``, ``time`` (HH:MM) and ``date`` (YYYY-MM-DD).
    neighbourhoods : GeoDataFrame
        EPSG:27700 priority neighbourhoods with ``rank``, ``name`` (and ``slug``).
    area : GeoDataFrame, GeoSeries or geometry
        Study area (the LSOA polygons); records outside it are dropped.
    harm_weights : object
        ``weight_for(categories, scheme)`` (:class:`pli.harm.HarmWeights`).
    scheme : str
        Harm scheme of the categories.
    categories : sequence of str, optional
        Crime types (wildcards allowed); default :data:`DEFAULT_CATEGORIES`.
    cell_size_m, grid
        Grid cell size and kind (``"square"`` or ``"hex"``).
    top_places : int
        At most this many places per neighbourhood.
    permutations, seed, alpha, fdr, contiguity, hotspot_method, max_permutation_cells
        Gi* options, see :func:`grid_hotspots`; ``alpha`` is also the level at which a
        cell counts as a hot spot for the floor.
    start_month, end_month, window_months
        Month window, see :func:`select_points`.
    kde, kde_bandwidth_m, kde_cell_size_m
        Also compute a harm-weighted :func:`kde_surface` (:meth:`PatrolPlan.kde_frame`).
    visit_minutes, max_visits_per_day
        Length of a visit and the most visits a place gets in a day.
    min_events : int
        A place needs at least this many records in the window to be planned.
    events_per_daily_visit : float
        Recorded events a month that earn one daily visit; visits per day are
        ``events_per_month / events_per_daily_visit`` rounded half up, capped at
        ``max_visits_per_day``. A place rounding to 0 visits is not planned.
    daily_minutes_budget : float, optional
        Patrol minutes a day per neighbourhood. When the plan asks for more, visits are
        taken away from the lowest-ranked places first (logged). None: no cap.
    plan_place_kind : {"grid", "snap"}
        Which micro-places the plan ranks: grid cells (default) or police.uk snap points.
    snap : bool, optional
        Build snap places. Default: from the records whose ``location`` reads like
        police.uk's ("On or near ..."), which police.uk has moved to anonymised map
        points by construction; for other sources only when the records look snapped
        (at most half as many distinct coordinates, to the metre, as records). The
        choice is logged.

    Returns
    -------
    PatrolPlan

    Notes
    -----
    **The floor.** Patrol time is scarce, so a place is planned only when all of these
    hold (for the place kind the plan ranks, in one neighbourhood):

    1. it holds at least ``min_events`` records in the window, so no place is chosen
       on one or two incidents, which recur at random (guards short windows);
    2. there is evidence it is a hot place, not just the busiest of a quiet area: it is
       a Gi* hot spot after FDR (``gi_q <= alpha``, ``gi_z > 0``; snap places take
       their cell's Gi*) **or** it is in the neighbourhood's *power few*, the fewest
       places holding half its harm (places tied with the last of them included; the
       law of crime concentration, Weisburd 2015). Both arms are needed: Gi* under
       conditional permutation holds the cell's own value fixed and asks whether its
       surroundings are unusually harmed, so it finds clusters but not an isolated
       busy cell, which the power few catches;
    3. its absolute rate earns at least one daily visit: ``events_per_month = count /
       window_months`` (the months from the first to the last month present among the
       selected records) and ``visits_per_day = min(max_visits_per_day,
       round_half_up(events_per_month / events_per_daily_visit))`` is at least 1. With
       the default of one daily visit per recorded event a month, a place needs about
       one event every two months (6 in a 12-month window) for a daily visit, 1.5 a
       month for two and 2.5 a month for three.

    Dosage is thus absolute, not relative to the other places in the neighbourhood: a
    quiet neighbourhood gets no micro-places (logged: patrol it by the neighbourhood plan
    instead) rather than its least-quiet cells at full dose. ``events_per_daily_visit``
    is a planning convention to set locally, not a published constant; the 15-minute
    visit length follows Koper (1995), see the module notes.

    **Ranking.** Places that clear the floor are ranked by harm, then Gi* bin (so of two
    equally harmed places the significant hot spot comes first), then count, Gi* z and
    id. The top ``top_places`` are kept; ``daily_minutes_budget`` then trims visits from
    the bottom of the ranking. A grid cell belongs to the neighbourhood containing its
    centre; a snap place to the one containing its point.
    """
    if top_places < 1:
        raise InputError(f"top_places: expected 1 or more, got {top_places}")
    if not 1 <= max_visits_per_day <= 24 or visit_minutes < 1:
        raise InputError(
            f"dosage: expected 1-24 visits a day of 1 minute or more, got {max_visits_per_day} x {visit_minutes} min"
        )
    if isinstance(min_events, bool) or not isinstance(min_events, numbers.Integral) or min_events < 1:
        raise InputError(f"min_events: expected a whole number of records, 1 or more, got {min_events!r}")
    if (isinstance(events_per_daily_visit, bool) or not isinstance(events_per_daily_visit, numbers.Real)
            or not math.isfinite(events_per_daily_visit) or events_per_daily_visit <= 0):
        raise InputError(
            f"events_per_daily_visit: expected a positive number of records a month per daily visit "
            f"(e.g. 1.0), got {events_per_daily_visit!r}"
        )
    if daily_minutes_budget is not None and (
        isinstance(daily_minutes_budget, bool) or not isinstance(daily_minutes_budget, numbers.Real)
        or not daily_minutes_budget >= visit_minutes
    ):
        raise InputError(
            f"daily_minutes_budget: expected minutes a day per neighbourhood, at least one visit of "
            f"{visit_minutes} min, got {daily_minutes_budget!r}; leave it empty for no cap"
        )
    if plan_place_kind not in ("grid", "snap"):
        raise InputError(f"plan_place_kind: expected 'grid' or 'snap', got {plan_place_kind!r}")
    nb = _check_neighbourhoods(neighbourhoods)
    geom = _area_geometry(area)
    selection = _select_mask(
        points, categories=categories, start_month=start_month, end_month=end_month, window_months=window_months
    )
    chosen = selection.categories
    categories_label = "; ".join(selection.requested_order)
    rec = _records(points, selection, harm_weights, scheme)
    if len(rec) and selection.first_month is None:
        raise InputError(
            "points column 'month': the selected records carry no month, so events per month (the patrol "
            "dosage) cannot be computed; fill month as YYYY-MM (or date as YYYY-MM-DD)"
        )
    cells = build_grid(geom, cell_size_m=cell_size_m, kind=grid)
    cell_kind = "grid" if grid == "square" else "hex"
    pos = _cells_of(rec.x, rec.y, cells)
    inside = _inside_area(rec.x, rec.y, pos, cells, geom)
    n_outside = int((~inside).sum())
    if n_outside:
        logger.info("patrol points: %s records outside the study area were dropped", f"{n_outside:,}")
    rec, pos = rec.take(inside), pos[inside]
    if len(rec) == 0:
        raise InputError(
            "points: no selected record falls inside the study area; check the CRS of the points "
            f"(expected {METRIC_CRS}), the crime types and the month window"
        )
    first_month, last_month = selection.first_month, selection.last_month
    n_months = _months_between(first_month, last_month)
    period = first_month if first_month == last_month else f"{first_month} to {last_month}"

    # --- grid places
    cell_counts = _count_frame(cells.index, pos, rec)
    hot = grid_hotspots(
        cell_counts["harm"], cells, permutations=permutations, seed=seed, alpha=alpha, fdr=fdr,
        contiguity=contiguity, method=hotspot_method, max_permutation_cells=max_permutation_cells,
    )
    cx, cy = _cell_centres(cells["cell_i"].to_numpy(), cells["cell_j"].to_numpy(), cell_size_m, grid)
    cell_scope = _assign_scopes(cx, cy, nb, polys=cells.geometry.to_numpy())
    grid_places = pd.concat(
        [cells[["place_kind", "area_share"]], cell_counts, hot.table], axis=1
    ).assign(cell_id=cells.index.to_numpy(), easting=cx, northing=cy)

    # --- snap places
    snap_mask = _snap_mask(rec, snap)
    if plan_place_kind == "snap" and not snap_mask.any():
        raise InputError("plan_place_kind='snap' needs snap places; pass snap=True")
    snap_rec = rec.take(snap_mask)
    snaps, snap_pos = _snap_places(snap_rec)
    snap_counts = _count_frame(snaps.index, snap_pos, snap_rec).drop(columns="location")
    snap_cell = _cells_of(snaps["easting"].to_numpy(), snaps["northing"].to_numpy(), cells)
    # A snap point rounded onto a cell edge can land in the neighbouring cell (or just
    # outside the grid); take the cell of one of its records instead.
    rec_cell = np.full(len(snaps), -1, dtype=np.int64)
    rec_cell[snap_pos] = pos[snap_mask]
    snap_cell = np.where(snap_cell >= 0, snap_cell, rec_cell)
    snap_scope = _assign_scopes(snaps["easting"].to_numpy(), snaps["northing"].to_numpy(), nb)
    snap_places = pd.concat([snaps.drop(columns="geometry"), snap_counts], axis=1).assign(
        area_share=np.nan, cell_id=cells.index.to_numpy()[snap_cell]
    )
    for col in hot.table.columns:
        snap_places[col] = hot.table[col].to_numpy()[snap_cell]

    scope = np.concatenate([cell_scope, snap_scope])
    ranks = nb["rank"].to_numpy()
    names = nb["name"].astype(str).to_numpy()
    table = pd.concat([grid_places, snap_places], axis=0)
    table.index.name = "place_id"
    table.insert(1, "neighbourhood_rank", np.where(scope >= 0, ranks[np.maximum(scope, 0)], 0).astype(np.int64))
    table.insert(2, "neighbourhood", np.where(scope >= 0, names[np.maximum(scope, 0)], None))
    lonlat = gpd.GeoSeries(shapely.points(table["easting"], table["northing"]), crs=METRIC_CRS).to_crs("EPSG:4326")
    table["lon"] = np.round(lonlat.x.to_numpy(), 6)
    table["lat"] = np.round(lonlat.y.to_numpy(), 6)
    type_cols = [c for c in cell_counts.columns if c.startswith(("count_", "harm_"))]
    order = [
        "place_kind", "neighbourhood_rank", "neighbourhood", "cell_id", "easting", "northing", "lon", "lat",
        "area_share", "location", "count", "harm", *type_cols, *hot.table.columns,
    ]
    table = table[order]
    table["gi_bin"] = table["gi_bin"].astype(np.int64)
    places = gpd.GeoDataFrame(
        table,
        geometry=np.concatenate([cells.geometry.to_numpy(), snaps.geometry.to_numpy()]),
        crs=METRIC_CRS,
    )

    # --- concentration
    rows = []
    has_snaps = len(snaps) > 0
    for kind in (cell_kind, "snap") if has_snaps else (cell_kind,):
        sub = table.loc[table["place_kind"] == kind]
        scopes = [(int(r), n, sub["harm"].to_numpy()[sub["neighbourhood_rank"].to_numpy() == r]) for r, n in zip(ranks, names)]
        scopes.append((0, BOROUGH, sub["harm"].to_numpy()))
        for r, n, h in scopes:
            rows.append({"neighbourhood_rank": r, "neighbourhood": n, "place_kind": kind, **concentration(h).to_dict()})
    conc = pd.DataFrame(rows)

    # --- profiles and peak hours
    plan_kind = cell_kind if plan_place_kind == "grid" else "snap"
    if plan_place_kind == "grid":
        profiles, peaks = _profiles(rec, cell_scope[pos], ranks, names, max_visits_per_day)
    else:
        profiles, peaks = _profiles(snap_rec, snap_scope[snap_pos], ranks, names, max_visits_per_day)

    # --- plan
    slug_of = dict(zip(ranks, nb["slug"].astype(str) if "slug" in nb.columns else [_slug(n) for n in names]))
    plan, min_records = _floor_and_dose(
        table.loc[(table["place_kind"] == plan_kind) & (table["neighbourhood_rank"] > 0)],
        n_months=n_months, alpha=alpha, min_events=int(min_events), events_per_daily_visit=float(events_per_daily_visit),
        max_visits_per_day=int(max_visits_per_day), top_places=int(top_places),
    )
    if daily_minutes_budget is not None:
        plan = _apply_budget(plan, float(daily_minutes_budget), int(visit_minutes))
    scope_harm = table.loc[table["place_kind"] == plan_kind].groupby("neighbourhood_rank")["harm"].sum()
    plan["harm_share"] = plan["harm"] / plan["neighbourhood_rank"].map(scope_harm).to_numpy()
    plan["window_months"] = np.int64(n_months)
    plan["visit_minutes"] = int(visit_minutes)
    plan["neighbourhood_slug"] = plan["neighbourhood_rank"].map(slug_of)
    peak_lists = plan["neighbourhood_rank"].map(peaks)
    plan["suggested_times"] = [
        _times_text(p, v) for p, v in zip(peak_lists, plan["visits_per_day"])
    ]  # one short string per planned place (at most top_places per neighbourhood)
    plan["period"] = period
    plan["categories"] = categories_label
    plan_cols = [
        "neighbourhood_rank", "neighbourhood", "neighbourhood_slug", "place_rank", "place_id", "place_kind",
        "location", "lon", "lat", "easting", "northing", "count", "harm", "harm_share", *type_cols,
        "gi_z", "gi_q", "gi_bin", "gi_label", "power_few", "evidence", "events_per_month", "window_months",
        "visits_per_day", "visit_minutes", "suggested_times", "period", "categories",
    ]
    plan = plan[plan_cols].reset_index(drop=True)
    planned = set(plan["neighbourhood"])
    empty = tuple(n for n in names if n not in planned)
    for name in empty:
        logger.warning(
            "no micro-place in %s clears the floor of %d events (%s records in %s, a Gi* hot spot or in the "
            "power few, and %.2g a month for one daily visit); patrol by the neighbourhood plan instead",
            name, min_records, f"{min_records:,}", period, 0.5 * float(events_per_daily_visit),
        )

    kde_result = None
    if kde:
        kde_result = kde_surface((rec.x, rec.y), geom, bandwidth_m=kde_bandwidth_m, cell_size_m=kde_cell_size_m,
                                 weights=rec.harm)
    logger.info(
        "patrol plan (%s; %s): %s records, %s %s cells, %s snap places, %d places planned in %d of %d "
        "neighbourhoods, %d visits a day",
        categories_label, _period_text(first_month, last_month), f"{len(rec):,}", f"{len(cells):,}", cell_kind,
        f"{len(snaps):,}", len(plan), len(planned), len(names), int(plan["visits_per_day"].sum()),
    )
    return PatrolPlan(
        places=places,
        plan=plan,
        concentration=conc,
        profiles=profiles,
        kde=kde_result,
        hotspots=hot,
        categories=chosen,
        start_month=first_month,
        end_month=last_month,
        cell_size_m=float(cell_size_m),
        grid=grid,
        plan_place_kind=plan_place_kind,
        n_records=len(rec),
        n_outside=n_outside,
        seed=seed,
        options={
            "top_places": top_places, "permutations": permutations, "alpha": alpha, "fdr": fdr,
            "contiguity": contiguity, "hotspot_method": hot.method, "visit_minutes": visit_minutes,
            "max_visits_per_day": max_visits_per_day, "scheme": scheme, "min_events": int(min_events),
            "events_per_daily_visit": float(events_per_daily_visit), "min_records_for_a_visit": min_records,
            "daily_minutes_budget": daily_minutes_budget, "requested_start_month": start_month,
            "requested_end_month": end_month, "window_months": window_months,
        },
        window_months=n_months,
        categories_label=categories_label,
        neighbourhoods_without_places=empty,
    )


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
        f"{n_coords:,}", f"{len(rec):,}",
    )
    return np.full(len(rec), snapped)


def _power_few_mask(group: pd.Series, harm: pd.Series, half: float = 0.5) -> np.ndarray:
    """Rows in their group's power few; rows must be sorted by group, then harm descending.

    The power few are the fewest places holding ``half`` of the group's harm (as
    :func:`concentration`), plus any place tied with the last of them, so that the
    choice between equal places never rests on their ids.
    """
    total = harm.groupby(group).transform("sum")
    before = harm.groupby(group).cumsum() - harm
    core = (before < half * total * (1 - 1e-12)) & (harm > 0)
    cutoff = harm.where(core).groupby(group).transform("min")
    return ((harm > 0) & (harm >= cutoff)).to_numpy(dtype=bool)


def _floor_and_dose(
    cand: pd.DataFrame,
    *,
    n_months: int,
    alpha: float,
    min_events: int,
    events_per_daily_visit: float,
    max_visits_per_day: int,
    top_places: int,
) -> tuple[pd.DataFrame, int]:
    """Places clearing the floor, ranked and dosed (see :func:`plan_patrols`)."""
    cand = cand.reset_index().sort_values(
        ["neighbourhood_rank", "harm", "gi_bin", "count", "gi_z", "place_id"],
        ascending=[True, False, False, False, False, True],
        kind="stable",
    )
    cand["power_few"] = _power_few_mask(cand["neighbourhood_rank"], cand["harm"])
    hot = ((cand["gi_q"] <= alpha) & (cand["gi_z"] > 0)).to_numpy(dtype=bool)
    cand["events_per_month"] = cand["count"] / float(n_months)
    # Round half up (not numpy's half to even) after trimming float noise, so 0.5 a
    # month is one visit and 2.5 is three.
    ratio = np.round(cand["events_per_month"].to_numpy() / events_per_daily_visit, 9)
    cand["visits_per_day"] = np.minimum(np.floor(ratio + 0.5), max_visits_per_day).astype(np.int64)
    few = cand["power_few"].to_numpy()
    clears = (
        (cand["count"].to_numpy() >= min_events) & (hot | few) & (cand["visits_per_day"].to_numpy() >= 1)
        & (cand["harm"].to_numpy() > 0)
    )
    label = cand["gi_label"].astype(str).to_numpy()
    cand["evidence"] = np.select([hot & few, hot, few], [np.char.add(label.astype(str), "; power few"), label, "power few"],
                                 default="")
    plan = cand.loc[clears].copy()
    plan["place_rank"] = plan.groupby("neighbourhood_rank").cumcount() + 1
    plan = plan.loc[plan["place_rank"] <= top_places].copy()
    min_records = max(min_events, math.ceil(round(0.5 * events_per_daily_visit * n_months, 9)))
    return plan, int(min_records)


def _apply_budget(plan: pd.DataFrame, budget_minutes: float, visit_minutes: int) -> pd.DataFrame:
    """Trim visits from the lowest-ranked places until each neighbourhood fits the budget."""
    cap = int(budget_minutes // visit_minutes)
    visits = plan["visits_per_day"].to_numpy()
    before = plan.groupby("neighbourhood_rank")["visits_per_day"].cumsum().to_numpy() - visits
    allowed = np.clip(cap - before, 0, visits).astype(np.int64)
    over = plan.assign(cut=visits - allowed, dropped=allowed == 0).groupby("neighbourhood", sort=False)[["cut", "dropped"]].sum()
    for name, row in over.loc[over["cut"] > 0].iterrows():
        logger.info(
            "patrol plan: %s asks for more than the daily budget of %g minutes (%d visits of %d min); "
            "%d visits trimmed from its lowest-ranked places, %d places dropped",
            name, budget_minutes, cap, visit_minutes, int(row["cut"]), int(row["dropped"]),
        )
    out = plan.assign(visits_per_day=allowed)
    return out.loc[allowed > 0].copy()


def _profiles(
    rec: _Records, rec_scope: np.ndarray, ranks: np.ndarray, names: np.ndarray, n_peaks: int
) -> tuple[Optional[pd.DataFrame], dict[int, list[int]]]:
    if rec.hour is None or not (rec.hour >= 0).any():
        return None, {int(r): [] for r in ranks}
    timed = rec.hour >= 0
    dow = rec.dow if rec.dow is not None else np.full(len(rec), -1, dtype=np.int64)
    harm = rec.harm
    n_scope = len(ranks) + 1
    # Scope n_scope-1 is the borough; every record also counts there.
    scope_all = np.concatenate([np.where(rec_scope >= 0, rec_scope, -1)[timed], np.full(int(timed.sum()), n_scope - 1)])
    hour_all = np.tile(rec.hour[timed], 2)
    dow_all = np.tile(dow[timed], 2) + 1  # shift so "no date" (-1) becomes bin 0
    harm_all = np.tile(harm[timed], 2)
    ok = scope_all >= 0
    key = (scope_all[ok] * 8 + dow_all[ok]) * 24 + hour_all[ok]
    size = n_scope * 8 * 24
    counts = np.bincount(key, minlength=size)
    harms = np.bincount(key, weights=harm_all[ok], minlength=size)
    nz = np.flatnonzero(counts)
    s, rem = np.divmod(nz, 8 * 24)
    d, h = np.divmod(rem, 24)
    scope_rank = np.append(ranks, 0)[s]
    scope_name = np.append(names, BOROUGH)[s]
    frames = pd.DataFrame(
        {
            "neighbourhood_rank": scope_rank.astype(np.int64),
            "neighbourhood": scope_name,
            "day_of_week": (d - 1).astype(np.int64),
            "day_name": np.where(d > 0, _DAY_NAMES[np.maximum(d - 1, 0)], "all"),
            "hour": h.astype(np.int64),
            "count": counts[nz],
            "harm": harms[nz],
        }
    )
    borough_hours = rec.hour[timed]
    peaks: dict[int, list[int]] = {}
    for k, r in enumerate(ranks):
        hours = rec.hour[timed & (rec_scope == k)]
        if len(hours) < 20:
            # Too few timed records to trust a local profile; borrow the borough's.
            logger.info("neighbourhood %r: %d timed records; using the borough hour profile", names[k], len(hours))
            hours = borough_hours
        peaks[int(r)] = _peak_hours(hours, n_peaks)
    return frames, peaks
