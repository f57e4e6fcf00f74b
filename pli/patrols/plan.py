"""The patrol plan: places of every priority neighbourhood that clear the floor, ranked,
with their dosage, evidence and period, and per-neighbourhood profiles.

See :mod:`pli.patrols` for the floor and dosage rule and the evidence behind it.
"""

from __future__ import annotations

import logging
import math
import numbers
from typing import Any, Literal, Optional, Sequence

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import shapely

from pli.errors import InputError
from pli.patrols.concentration import concentration
from pli.patrols.dosage import (
    _DAY_NAMES,
    _apply_budget,
    _floor_and_dose,
    _timing,
)
from pli.patrols.grid import (
    METRIC_CRS,
    _area_geometry,
    _cell_centres,
    _require_metric,
    bbox_cells,
    build_grid,
    cells_touching,
    locate_cells,
    sparse_grid,
)
from pli.patrols.hotspots import grid_hotspots, sparse_grid_hotspots
from pli.patrols.kde import kde_surface
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
from pli.patrols.result import BOROUGH, PatrolPlan

__all__ = [
    "patrol_options",
    "plan_patrols",
]

logger = logging.getLogger(__name__)


def patrol_options(spec: Any) -> dict[str, Any]:
    """Keyword arguments of :func:`plan_patrols` taken from a :class:`pli.config.PatrolSpec`.

    Fields the spec does not (yet) have keep the function's defaults; an empty
    ``categories`` means the default violence, robbery and weapons set.
    """
    names = (
        "cell_size_m", "grid", "categories", "top_places", "permutations", "alpha", "fdr",
        "contiguity", "hotspot_method", "max_permutation_cells", "start_month", "end_month",
        "window_months", "kde", "kde_bandwidth_m", "kde_cell_size_m", "visit_minutes",
        "max_visits_per_day", "min_events", "harm_per_weekly_visit", "daily_minutes_budget",
        "plan_place_kind", "scheme", "snap", "trial_weeks", "peak_window_hours",
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
    harm_per_weekly_visit: float = 100.0,
    daily_minutes_budget: Optional[float] = None,
    plan_place_kind: Literal["grid", "snap"] = "grid",
    snap: Optional[bool] = None,
    trial_weeks: int = 12,
    peak_window_hours: int = 4,
    max_dense_cells: int = 1_000_000,
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
        Length of a visit (10-15 minutes: the Koper curve) and the most visits a place
        gets in a day (the weekly cap is seven times this).
    min_events : int
        A place needs at least this many records in the window to be planned.
    harm_per_weekly_visit : float
        Harm a month (days of the harm scheme) that earns one weekly visit;
        ``visits_per_week = round_half_up(harm_per_month / harm_per_weekly_visit)``,
        capped at ``7 * max_visits_per_day``. A place rounding to 0 is not planned.
    daily_minutes_budget : float, optional
        Patrol minutes a day per neighbourhood (seven times that a week). When the plan
        asks for more, weekly visits are taken away from the lowest-ranked places first
        (logged). None: no cap.
    plan_place_kind : {"grid", "snap"}
        Which micro-places the plan ranks: grid cells (default) or police.uk snap points.
    snap : bool, optional
        Build snap places. Default: from the records whose ``location`` reads like
        police.uk's ("On or near ..."), which police.uk has moved to anonymised map
        points by construction; for other sources only when the records look snapped
        (at most half as many distinct coordinates, to the metre, as records). The
        choice is logged.
    trial_weeks : int
        Length of the patrol trial the plan's officer-hours are totalled over.
    peak_window_hours : int
        Width of the peak window, when the records carry times of day.
    max_dense_cells : int
        Above this many candidate cells in the study area's bounding box (a force area,
        a region, a country), the grid is sparse: only the cells holding records and the
        cells of the priority neighbourhoods are built, and Gi* is analytic (see Notes).
        Snap places are then kept only inside the neighbourhoods (the others still count
        in the area-wide concentration and harm floor).

    Returns
    -------
    PatrolPlan

    Notes
    -----
    **Which neighbourhood.** A grid cell belongs to the neighbourhood holding most of
    its records (``share_in_neighbourhood``; the centre decides only for empty cells).
    When fewer than half of its records lie in that neighbourhood (the rest outside
    every priority neighbourhood), the planned place is the part of the cell inside it
    (``clipped``), holding only those records. So every planned place has at least half
    of its records inside its neighbourhood. A snap place belongs to the neighbourhood
    containing its point.

    **The floor.** Patrol time is scarce, so a place is planned only when all of these
    hold (for the place kind the plan ranks):

    1. it holds at least ``min_events`` records in the window, so no place is chosen
       on one or two incidents, which recur at random;
    2. it is a harm spot by a borough-wide test from the literature: harm at least 2
       SD above the mean of all the borough's places of its kind, or in the borough's
       power few (the fewest places holding half the harm), or a Gi* hot spot after FDR
       (``gi_q <= alpha``, ``gi_z > 0``; snap places take their cell's Gi*). The
       ``evidence`` column names the tests passed, with the numbers;
    3. its harm earns at least one weekly visit (see :mod:`pli.patrols.dosage`).

    Dosage is absolute, not relative to the other places in the neighbourhood: a quiet
    neighbourhood gets no micro-places (logged: patrol it by the neighbourhood plan
    instead). Timing comes only from the data: with times of day the plan gives the
    neighbourhood's peak window (and busiest days, with dates); without them it says
    "no time of day in the data" and names no time.

    **Large areas.** Up to ``max_dense_cells`` the grid covers the whole study area
    (:func:`build_grid`). Above it, laying millions of cells to plan a few dozen
    places would take minutes and gigabytes, so the grid holds only the cells with
    records and the cells the neighbourhoods touch (:func:`pli.patrols.grid.sparse_grid`,
    located by arithmetic); the area-wide tests still count every cell of the area (its
    area over the cell's, the other cells holding 0), Gi* is analytic
    (:func:`pli.patrols.hotspots.sparse_grid_hotspots`), ``area_share`` is NaN and the
    places output lists only the cells built. ``hotspot_method="permutation"`` keeps the
    full grid whatever its size.

    **Ranking and numbering.** Places that clear the floor are ranked by harm, then Gi*
    bin, count, Gi* z and id. The top ``top_places`` per neighbourhood are kept;
    ``daily_minutes_budget`` then trims visits from the bottom. ``place_number`` runs
    1..n across the borough in neighbourhood, then place, order, so the same inputs
    give the same numbers on the maps and in the list.

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
        isinstance(harm_per_weekly_visit, bool)
        or not isinstance(harm_per_weekly_visit, numbers.Real)
        or not math.isfinite(harm_per_weekly_visit)
        or harm_per_weekly_visit <= 0
    ):
        raise InputError(
            f"harm_per_weekly_visit: expected a positive harm a month (days of the harm scheme) per weekly "
            f"visit (e.g. 100), got {harm_per_weekly_visit!r}"
        )
    if isinstance(trial_weeks, bool) or not isinstance(trial_weeks, numbers.Integral) or not 1 <= trial_weeks <= 104:
        raise InputError(f"trial_weeks: expected a whole number of weeks, 1-104 (e.g. 12), got {trial_weeks!r}")
    if (
        isinstance(peak_window_hours, bool)
        or not isinstance(peak_window_hours, numbers.Integral)
        or not 1 <= peak_window_hours <= 24
    ):
        raise InputError(
            f"peak_window_hours: expected a whole number of hours, 1-24 (e.g. 4), got {peak_window_hours!r}"
        )
    if not 10 <= visit_minutes <= 15:
        logger.warning(
            "visit_minutes=%s: the Koper curve puts the most residual deterrence at 10-15 minute visits", visit_minutes
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
    cell_kind = "grid" if grid == "square" else "hex"
    sparse = hotspot_method != "permutation" and _bbox_cells_of(area, cell_size_m, grid) > max_dense_cells
    if sparse:
        geom = None
        polygons = _area_polygons(area)
        inside = _points_in(rec.x, rec.y, polygons)
        ri, rj = locate_cells(rec.x[inside], rec.y[inside], cell_size_m=cell_size_m, kind=grid)
        ni, nj = cells_touching(nb.geometry.to_numpy(), cell_size_m=cell_size_m, kind=grid)
        cells = sparse_grid(np.r_[ri, ni], np.r_[rj, nj], cell_size_m=cell_size_m, kind=grid)
        pos = _cells_of(rec.x, rec.y, cells)
        cell_area = float(cells.geometry.iloc[0].area) if len(cells) else float(cell_size_m) ** 2
        n_area_cells = max(len(cells), math.ceil(float(shapely.area(polygons).sum()) / cell_area))
    else:
        geom = _area_geometry(area)
        cells = build_grid(geom, cell_size_m=cell_size_m, kind=grid)
        pos = _cells_of(rec.x, rec.y, cells)
        inside = _inside_area(rec.x, rec.y, pos, cells, geom)
        n_area_cells = len(cells)
    # Cells of the area left out of a sparse grid hold no record: zeros in area-wide tests.
    n_unbuilt = n_area_cells - len(cells)
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
    if sparse:
        hot = sparse_grid_hotspots(
            cell_counts["harm"], cells, n_cells=n_area_cells, alpha=alpha, fdr=fdr, contiguity=contiguity
        )
    else:
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
    # A cell belongs to the neighbourhood holding most of its events (the centre only
    # decides for empty cells): a cell whose centre lies in a neighbourhood but whose
    # records lie outside it must not be credited to it.
    rec_scope = _assign_scopes(rec.x, rec.y, nb)
    centre_scope = _assign_scopes(cx, cy, nb, polys=cells.geometry.to_numpy())
    cell_scope, cell_share = _majority_scopes(pos, rec_scope, centre_scope, len(nb))
    own = (cell_scope[pos] >= 0) & (rec_scope == cell_scope[pos])
    own_counts = _count_frame(cells.index, pos[own], rec.take(own))
    grid_places = pd.concat([cells[["place_kind", "area_share"]], cell_counts, hot.table], axis=1).assign(
        cell_id=cells.index.to_numpy(), easting=cx, northing=cy, share_in_neighbourhood=cell_share
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
    snap_harm_left_out = np.zeros(0)
    n_all_snaps = len(snaps)
    if sparse:
        # As with the sparse grid: a force or a country has hundreds of thousands of snap
        # points, and the plan only ranks those in the neighbourhoods. The others count in
        # the area-wide concentration and harm floor through their harm alone.
        near = snap_scope >= 0
        snap_harm_left_out = snap_counts["harm"].to_numpy(dtype=float)[~near]
        snaps, snap_counts = snaps[near], snap_counts[near]
        snap_cell, snap_scope = snap_cell[near], snap_scope[near]
    snap_places = pd.concat([snaps.drop(columns="geometry"), snap_counts], axis=1).assign(
        area_share=np.nan, cell_id=cells.index.to_numpy()[snap_cell],
        share_in_neighbourhood=np.where(snap_scope >= 0, 1.0, np.nan),
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
    # The transformer geopandas' to_crs uses, on the arrays: no million point objects.
    lon, lat = _TO_LONLAT.transform(table["easting"].to_numpy(dtype=float), table["northing"].to_numpy(dtype=float))
    table["lon"] = np.round(lon, 6)
    table["lat"] = np.round(lat, 6)
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
        "share_in_neighbourhood",
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
    has_snaps = n_all_snaps > 0
    for kind in (cell_kind, "snap") if has_snaps else (cell_kind,):
        sub = table.loc[table["place_kind"] == kind]
        scopes = [
            (int(r), n, sub["harm"].to_numpy()[sub["neighbourhood_rank"].to_numpy() == r]) for r, n in zip(ranks, names)
        ]
        area_harm = sub["harm"].to_numpy()
        if kind == cell_kind and n_unbuilt:
            area_harm = np.concatenate([area_harm, np.zeros(n_unbuilt)])
        if kind == "snap" and len(snap_harm_left_out):
            area_harm = np.concatenate([area_harm, snap_harm_left_out])
        scopes.append((0, BOROUGH, area_harm))
        for r, n, h in scopes:
            rows.append({"neighbourhood_rank": r, "neighbourhood": n, "place_kind": kind, **concentration(h).to_dict()})
    conc = pd.DataFrame(rows)

    # --- plan
    plan_kind = cell_kind if plan_place_kind == "grid" else "snap"
    profiles = _profiles(rec, rec_scope, ranks, names)
    scope_times = _scope_times(rec, rec_scope, names)
    kind_rows = (table["place_kind"] == plan_kind).to_numpy()
    cand = table.loc[kind_rows & (table["neighbourhood_rank"] > 0).to_numpy()].copy()
    clipped = np.zeros(len(cand), dtype=bool)
    if plan_place_kind == "grid":
        # Fewer than half of the cell's records in its neighbourhood: the place is the
        # part of the cell inside it, holding only those records.
        clipped = (cand["share_in_neighbourhood"] < 0.5).to_numpy()
        ids = cand.index[clipped]
        for col in ("location", "count", "harm", *type_cols):
            cand.loc[ids, col] = own_counts.loc[ids, col].to_numpy()
        cand.loc[ids, "share_in_neighbourhood"] = 1.0
    cand["clipped"] = clipped
    slug_of = dict(zip(ranks, nb["slug"].astype(str) if "slug" in nb.columns else [_slug(n) for n in names]))
    plan, tests = _floor_and_dose(
        cand,
        borough_harm=np.concatenate(
            [
                table.loc[kind_rows, "harm"].to_numpy(dtype=float),
                np.zeros(n_unbuilt) if plan_kind == cell_kind else snap_harm_left_out,
            ]
        ),
        n_months=n_months,
        alpha=alpha,
        min_events=int(min_events),
        harm_per_weekly_visit=float(harm_per_weekly_visit),
        max_visits_per_day=int(max_visits_per_day),
        top_places=int(top_places),
    )
    if daily_minutes_budget is not None:
        plan = _apply_budget(plan, float(daily_minutes_budget), int(visit_minutes))
    plan = plan.reset_index(drop=True)
    scope_harm = table.loc[kind_rows].groupby("neighbourhood_rank")["harm"].sum()
    plan["harm_share"] = plan["harm"] / plan["neighbourhood_rank"].map(scope_harm).to_numpy()
    plan["window_months"] = np.int64(n_months)
    plan["visit_minutes"] = int(visit_minutes)
    plan["officer_hours_per_week"] = plan["visits_per_week"] * int(visit_minutes) / 60.0
    plan["trial_weeks"] = int(trial_weeks)
    plan["officer_hours_trial"] = plan["officer_hours_per_week"] * int(trial_weeks)
    plan["neighbourhood_slug"] = plan["neighbourhood_rank"].map(slug_of)
    row_of = {int(r): k for k, r in enumerate(ranks)}
    scope_k = plan["neighbourhood_rank"].map(row_of).to_numpy(dtype=np.int64)
    timing = [
        _timing(
            int(v), int(visit_minutes), hours=scope_times[k][0], dow=scope_times[k][1], width=int(peak_window_hours)
        )
        for k, v in zip(scope_k, plan["visits_per_week"])
    ]
    plan["suggested_times"] = [t[0] for t in timing]
    plan["peak_hours"] = [t[1] for t in timing]
    plan["peak_days"] = [t[2] for t in timing]
    plan["period"] = period
    plan["categories"] = categories_label

    # --- where each planned place is, for the list on paper and the maps
    place_geoms = places.geometry.reindex(plan["place_id"].to_numpy()).to_numpy()
    nb_geoms = nb.geometry.to_numpy()[scope_k] if len(plan) else np.empty(0, dtype=object)
    inside_geoms = shapely.intersection(place_geoms, nb_geoms) if len(plan) else place_geoms
    is_clipped = plan["clipped"].to_numpy(dtype=bool)
    plan_geoms = np.where(is_clipped, inside_geoms, place_geoms)
    if is_clipped.any():
        centre = shapely.centroid(plan_geoms[is_clipped])
        plan.loc[is_clipped, "easting"] = shapely.get_x(centre)
        plan.loc[is_clipped, "northing"] = shapely.get_y(centre)
        lonlat_c = gpd.GeoSeries(centre, crs=METRIC_CRS).to_crs("EPSG:4326")
        plan.loc[is_clipped, "lon"] = np.round(lonlat_c.x.to_numpy(), 6)
        plan.loc[is_clipped, "lat"] = np.round(lonlat_c.y.to_numpy(), 6)
    rep = shapely.point_on_surface(inside_geoms) if len(plan) else np.empty(0, dtype=object)
    plan["ward"] = _ward_of((shapely.get_x(rep), shapely.get_y(rep)), area)
    plan["street"] = plan["location"].astype("string").str.replace(r"(?i)^\s*on or near\s+", "", regex=True)
    plan = plan.sort_values(["neighbourhood_rank", "place_rank"], kind="stable")
    plan_geoms = plan_geoms[plan.index.to_numpy()]
    plan["place_number"] = np.arange(1, len(plan) + 1, dtype=np.int64)
    plan_cols = [
        "place_number",
        "neighbourhood_rank",
        "neighbourhood",
        "neighbourhood_slug",
        "place_rank",
        "place_id",
        "place_kind",
        "street",
        "location",
        "ward",
        "lon",
        "lat",
        "easting",
        "northing",
        "share_in_neighbourhood",
        "clipped",
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
        "harm_per_month",
        "window_months",
        "visits_per_week",
        "visit_minutes",
        "officer_hours_per_week",
        "trial_weeks",
        "officer_hours_trial",
        "peak_hours",
        "peak_days",
        "suggested_times",
        "period",
        "categories",
    ]
    plan = plan[plan_cols].reset_index(drop=True)
    for col in ("count", *[c for c in type_cols if c.startswith("count_")]):
        plan[col] = plan[col].astype(np.int64)
    for col in ("harm", *[c for c in type_cols if c.startswith("harm_")], "share_in_neighbourhood"):
        plan[col] = plan[col].astype(float)
    plan_geometry = gpd.GeoSeries(plan_geoms, index=plan.index, crs=METRIC_CRS)
    planned = set(plan["neighbourhood"])
    empty = tuple(n for n in names if n not in planned)
    for name in empty:
        logger.warning(
            "no micro-place in %s clears the floor (%d records, area-wide harm-spot evidence and a harm that "
            "earns a weekly visit: %g a month); patrol it by the neighbourhood plan instead",
            name,
            int(min_events),
            0.5 * float(harm_per_weekly_visit),
        )

    kde_result = None
    if kde:
        geom = geom if geom is not None else _area_geometry(area)
        kde_result = kde_surface(
            (rec.x, rec.y), geom, bandwidth_m=kde_bandwidth_m, cell_size_m=kde_cell_size_m, weights=rec.harm
        )
    logger.info(
        "patrol plan (%s; %s): %s records, %s %s cells, %s snap places, %d places planned in %d of %d "
        "neighbourhoods, %d visits and %.1f officer-hours a week",
        categories_label,
        _period_text(first_month, last_month),
        f"{len(rec):,}",
        f"{len(cells):,}" + (f" (sparse, of {n_area_cells:,} in the area)" if sparse else ""),
        cell_kind,
        f"{n_all_snaps:,}" + (f" ({len(snaps):,} in the neighbourhoods kept)" if sparse else ""),
        len(plan),
        len(planned),
        len(names),
        int(plan["visits_per_week"].sum()),
        float(plan["officer_hours_per_week"].sum()),
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
            "harm_per_weekly_visit": float(harm_per_weekly_visit),
            "trial_weeks": int(trial_weeks),
            "peak_window_hours": int(peak_window_hours),
            "harm_spot_sd_threshold": tests["sd_threshold"],
            "power_few_harm_cutoff": tests["power_few_cutoff"],
            "daily_minutes_budget": daily_minutes_budget,
            "requested_start_month": start_month,
            "requested_end_month": end_month,
            "window_months": window_months,
        },
        window_months=n_months,
        categories_label=categories_label,
        neighbourhoods_without_places=empty,
        plan_geometry=plan_geometry,
    )


_POINT_BLOCK = 500_000

_TO_LONLAT = pyproj.Transformer.from_crs(METRIC_CRS, "EPSG:4326", always_xy=True)


def _bbox_cells_of(area: Any, cell_size_m: float, grid: str) -> int:
    if isinstance(area, (gpd.GeoDataFrame, gpd.GeoSeries)):
        bounds = tuple(area.total_bounds) if len(area) else (0.0, 0.0, 0.0, 0.0)
    elif isinstance(area, shapely.Geometry):
        bounds = area.bounds
    else:
        return 0  # _area_geometry names what was expected
    if not all(math.isfinite(b) for b in bounds):
        return 0
    return bbox_cells(bounds, cell_size_m=cell_size_m, kind=grid)


def _area_polygons(area: Any) -> np.ndarray:
    """The study area's polygons as they are (no union: that alone takes minutes nationally)."""
    if isinstance(area, (gpd.GeoDataFrame, gpd.GeoSeries)):
        _require_metric(area, "study area")
        return np.asarray(area.geometry.array, dtype=object)
    return np.array([area], dtype=object)


def _points_in(x: np.ndarray, y: np.ndarray, polygons: np.ndarray) -> np.ndarray:
    """Which points lie in (or on the edge of) any of the polygons, through a spatial index."""
    tree = shapely.STRtree(polygons)
    inside = np.zeros(len(x), dtype=bool)
    # In blocks, so millions of records never exist as point objects all at once.
    for start in range(0, len(x), _POINT_BLOCK):
        stop = start + _POINT_BLOCK
        hit = tree.query(shapely.points(x[start:stop], y[start:stop]), predicate="intersects")[0]
        inside[start + hit] = True
    return inside


def _majority_scopes(
    pos: np.ndarray, rec_scope: np.ndarray, centre_scope: np.ndarray, n_scopes: int
) -> tuple[np.ndarray, np.ndarray]:
    """Each cell's neighbourhood (the one holding most of its records; ties to the better
    rank; the centre's for empty cells; -1 when none of its records is in one) and the
    share of its records inside it (NaN for empty cells)."""
    n_cells = len(centre_scope)
    tally = np.bincount(pos * (n_scopes + 1) + rec_scope + 1, minlength=n_cells * (n_scopes + 1))
    tally = tally.reshape(n_cells, n_scopes + 1)
    total = tally.sum(axis=1)
    inside = tally[:, 1:]
    best = inside.argmax(axis=1) if n_scopes else np.zeros(n_cells, dtype=np.int64)
    n_best = inside.max(axis=1) if n_scopes else np.zeros(n_cells, dtype=np.int64)
    scope = np.where(total == 0, centre_scope, np.where(n_best > 0, best, -1)).astype(np.int64)
    share = np.where(total > 0, n_best / np.maximum(total, 1), np.nan)
    return scope, share


def _profiles(
    rec: _Records, rec_scope: np.ndarray, ranks: np.ndarray, names: np.ndarray
) -> Optional[pd.DataFrame]:
    if rec.hour is None or not (rec.hour >= 0).any():
        return None
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
    return pd.DataFrame(
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


def _scope_times(
    rec: _Records, rec_scope: np.ndarray, names: np.ndarray
) -> dict[int, tuple[Optional[np.ndarray], Optional[np.ndarray]]]:
    """Hours and days of week of each neighbourhood's timed records (the borough's when
    it has fewer than 20), keyed by row position; (None, None) without times."""
    if rec.hour is None or not (rec.hour >= 0).any():
        return {k: (None, None) for k in range(len(names))}
    timed = rec.hour >= 0
    out: dict[int, tuple[Optional[np.ndarray], Optional[np.ndarray]]] = {}
    for k in range(len(names)):
        mask = timed & (rec_scope == k)
        if mask.sum() < 20:
            # Too few timed records to trust a local profile; borrow the borough's.
            logger.info("neighbourhood %r: %d timed records; using the study-area hour profile", names[k],
                        int(mask.sum()))
            mask = timed
        out[k] = (rec.hour[mask], None if rec.dow is None else rec.dow[mask])
    return out


def _ward_of(points_xy: tuple[np.ndarray, np.ndarray], area: Any) -> np.ndarray:
    """Ward name of the area polygon holding each point ("" when the area has no
    ``ward_name`` column or no polygon holds it)."""
    out = np.full(len(points_xy[0]), "", dtype=object)
    if not isinstance(area, gpd.GeoDataFrame) or "ward_name" not in area.columns or not len(out):
        return out
    pts = gpd.GeoDataFrame(geometry=shapely.points(*points_xy), crs=METRIC_CRS)
    hit = gpd.sjoin(pts, area[["ward_name", "geometry"]].reset_index(drop=True), how="left", predicate="intersects")
    first = hit[~hit.index.duplicated(keep="first")]["ward_name"].reindex(pts.index)
    return first.fillna("").astype(str).to_numpy(dtype=object)
