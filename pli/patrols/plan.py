"""The patrol plan: places of every priority neighbourhood that clear the floor, ranked,
with their dosage, evidence and period, and per-neighbourhood profiles.

See :mod:`pli.patrols` for the floor and dosage rule and the evidence behind it.
"""

from __future__ import annotations

import logging
import math
import numbers
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Optional, Sequence

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from pli.errors import InputError
from pli.patrols.concentration import concentration
from pli.patrols.dosage import (
    _DAY_NAMES,
    _apply_budget,
    _floor_and_dose,
    _peak_hours,
    _times_text,
)
from pli.patrols.grid import (
    METRIC_CRS,
    _area_geometry,
    _cell_centres,
    _require_metric,
    build_grid,
)
from pli.patrols.hotspots import GiStarResult, grid_hotspots
from pli.patrols.kde import KDESurface, kde_surface
from pli.patrols.places import (
    _cells_of,
    _count_frame,
    _inside_area,
    _slug,
    _snap_mask,
    _snap_places,
)
from pli.patrols.records import (
    HarmWeightSource,
    _months_between,
    _period_text,
    _Records,
    _records,
    _select_mask,
)

__all__ = [
    "plan_from_config",
    "warn_period_mismatch",
    "BOROUGH",
    "PatrolPlan",
    "patrol_options",
    "plan_patrols",
]

logger = logging.getLogger(__name__)


BOROUGH = "Borough-wide"


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
            f"neighbourhoods: missing column(s) {', '.join(missing)}; "
            f"found {', '.join(map(str, neighbourhoods.columns))}. "
            "Expected the priorities stage's frame (rank, name, slug, geometry)"
        )
    nb = neighbourhoods.sort_values("rank", kind="stable")
    if nb["rank"].duplicated().any() or (pd.to_numeric(nb["rank"], errors="coerce") < 1).any():
        raise InputError(f"neighbourhoods column 'rank': expected unique ranks from 1, got {nb['rank'].tolist()}")
    return nb


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

    Examples
    --------
    >>> import geopandas as gpd, numpy as np, shapely
    >>> from pli.harm import load_harm_weights
    >>> from pli.patrols import plan_patrols
    >>> rng = np.random.default_rng(0)
    >>> x = np.r_[rng.uniform(530000, 532000, 300), rng.normal(530625, 20, 120)]  # a hot spot
    >>> y = np.r_[rng.uniform(160000, 162000, 300), rng.normal(160725, 20, 120)]
    >>> points = gpd.GeoDataFrame({"month": [f"2025-{m:02d}" for m in rng.integers(1, 13, 420)],
    ...                            "category": "Robbery"}, geometry=gpd.points_from_xy(x, y), crs=27700)
    >>> area = gpd.GeoSeries([shapely.box(530000, 160000, 532000, 162000)], crs=27700)
    >>> neighbourhoods = gpd.GeoDataFrame({"rank": [1], "name": ["West"]},
    ...                                   geometry=[shapely.box(530000, 160000, 531000, 162000)], crs=27700)
    >>> plan = plan_patrols(points, neighbourhoods, area, harm_weights=load_harm_weights(), seed=0)
    >>> first = plan.plan.iloc[0]
    >>> first["neighbourhood"], first["place_id"]
    ('West', 'G150-530550-160650')
    """
    if top_places < 1:
        raise InputError(f"top_places: expected 1 or more, got {top_places}")
    if not 1 <= max_visits_per_day <= 24 or visit_minutes < 1:
        raise InputError(
            f"dosage: expected 1-24 visits a day of 1 minute or more, got {max_visits_per_day} x {visit_minutes} min"
        )
    if isinstance(min_events, bool) or not isinstance(min_events, numbers.Integral) or min_events < 1:
        raise InputError(f"min_events: expected a whole number of records, 1 or more, got {min_events!r}")
    if (
        isinstance(events_per_daily_visit, bool)
        or not isinstance(events_per_daily_visit, numbers.Real)
        or not math.isfinite(events_per_daily_visit)
        or events_per_daily_visit <= 0
    ):
        raise InputError(
            f"events_per_daily_visit: expected a positive number of records a month per daily visit "
            f"(e.g. 1.0), got {events_per_daily_visit!r}"
        )
    if daily_minutes_budget is not None and (
        isinstance(daily_minutes_budget, bool)
        or not isinstance(daily_minutes_budget, numbers.Real)
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
        cell_counts["harm"],
        cells,
        permutations=permutations,
        seed=seed,
        alpha=alpha,
        fdr=fdr,
        contiguity=contiguity,
        method=hotspot_method,
        max_permutation_cells=max_permutation_cells,
    )
    cx, cy = _cell_centres(cells["cell_i"].to_numpy(), cells["cell_j"].to_numpy(), cell_size_m, grid)
    cell_scope = _assign_scopes(cx, cy, nb, polys=cells.geometry.to_numpy())
    grid_places = pd.concat([cells[["place_kind", "area_share"]], cell_counts, hot.table], axis=1).assign(
        cell_id=cells.index.to_numpy(), easting=cx, northing=cy
    )

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
        "place_kind",
        "neighbourhood_rank",
        "neighbourhood",
        "cell_id",
        "easting",
        "northing",
        "lon",
        "lat",
        "area_share",
        "location",
        "count",
        "harm",
        *type_cols,
        *hot.table.columns,
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
        scopes = [
            (int(r), n, sub["harm"].to_numpy()[sub["neighbourhood_rank"].to_numpy() == r]) for r, n in zip(ranks, names)
        ]
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
        n_months=n_months,
        alpha=alpha,
        min_events=int(min_events),
        events_per_daily_visit=float(events_per_daily_visit),
        max_visits_per_day=int(max_visits_per_day),
        top_places=int(top_places),
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
        "neighbourhood_rank",
        "neighbourhood",
        "neighbourhood_slug",
        "place_rank",
        "place_id",
        "place_kind",
        "location",
        "lon",
        "lat",
        "easting",
        "northing",
        "count",
        "harm",
        "harm_share",
        *type_cols,
        "gi_z",
        "gi_q",
        "gi_bin",
        "gi_label",
        "power_few",
        "evidence",
        "events_per_month",
        "window_months",
        "visits_per_day",
        "visit_minutes",
        "suggested_times",
        "period",
        "categories",
    ]
    plan = plan[plan_cols].reset_index(drop=True)
    planned = set(plan["neighbourhood"])
    empty = tuple(n for n in names if n not in planned)
    for name in empty:
        logger.warning(
            "no micro-place in %s clears the floor of %d events (%s records in %s, a Gi* hot spot or in the "
            "power few, and %.2g a month for one daily visit); patrol by the neighbourhood plan instead",
            name,
            min_records,
            f"{min_records:,}",
            period,
            0.5 * float(events_per_daily_visit),
        )

    kde_result = None
    if kde:
        kde_result = kde_surface(
            (rec.x, rec.y), geom, bandwidth_m=kde_bandwidth_m, cell_size_m=kde_cell_size_m, weights=rec.harm
        )
    logger.info(
        "patrol plan (%s; %s): %s records, %s %s cells, %s snap places, %d places planned in %d of %d "
        "neighbourhoods, %d visits a day",
        categories_label,
        _period_text(first_month, last_month),
        f"{len(rec):,}",
        f"{len(cells):,}",
        cell_kind,
        f"{len(snaps):,}",
        len(plan),
        len(planned),
        len(names),
        int(plan["visits_per_day"].sum()),
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
            "top_places": top_places,
            "permutations": permutations,
            "alpha": alpha,
            "fdr": fdr,
            "contiguity": contiguity,
            "hotspot_method": hot.method,
            "visit_minutes": visit_minutes,
            "max_visits_per_day": max_visits_per_day,
            "scheme": scheme,
            "min_events": int(min_events),
            "events_per_daily_visit": float(events_per_daily_visit),
            "min_records_for_a_visit": min_records,
            "daily_minutes_budget": daily_minutes_budget,
            "requested_start_month": start_month,
            "requested_end_month": end_month,
            "window_months": window_months,
        },
        window_months=n_months,
        categories_label=categories_label,
        neighbourhoods_without_places=empty,
    )


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


def plan_from_config(
    cfg: Any,
    sources: Mapping[str, Any],
    neighbourhoods: gpd.GeoDataFrame,
    lsoa: gpd.GeoDataFrame,
    *,
    harm_weights: HarmWeightSource,
) -> PatrolPlan | None:
    """:func:`plan_patrols` on the points of the source ``cfg.patrols`` names, with its options.

    Returns None (and logs why) when the config plans no patrols, the run is public (no
    point-level outputs) or the source has no point records. Warns when the points cover
    another period than the index's crime indicators.
    """
    spec = cfg.patrols
    if spec is None or spec.source is None:
        return None
    if cfg.output.public:
        logger.info("patrols: public mode writes no point-level or patrol outputs")
        return None
    points = sources[spec.source].points
    if points is None or len(points) == 0:
        logger.warning("patrols: source %r has no point records; no patrol plan written", spec.source)
        return None
    scheme = "mps" if cfg.sources[spec.source].kind == "mps_lsoa_crime" else "police_uk"
    logger.info("micro-patrol plan: %s points, %g m %s grid", f"{len(points):,}", spec.cell_size_m, spec.grid)
    options = patrol_options(spec)
    options.pop("scheme", None)
    plan = plan_patrols(
        points, neighbourhoods, lsoa, harm_weights=harm_weights, scheme=scheme, seed=cfg.seed, **options
    )
    return plan


def warn_period_mismatch(plan: PatrolPlan, periods: Mapping[str, str]) -> None:
    """Patrol points from another period than the index's crime deserve a loud note."""
    start, end = getattr(plan, "start_month", None), getattr(plan, "end_month", None)
    if not start or not end:
        return
    for name, period in periods.items():
        lo, _, hi = period.partition(" to ")
        if hi and (end < lo or start > hi):
            logger.warning(
                "patrols: the patrol points cover %s to %s but indicator %s covers %s; "
                "the patrol plan and the index describe different periods",
                start,
                end,
                name,
                period,
            )
            return
