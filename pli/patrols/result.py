"""The :class:`PatrolPlan` result: the plan, the places, concentration and totals, with its frames for output."""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass, field
from typing import Any, Literal, Optional

import geopandas as gpd
import numpy as np
import pandas as pd

from pli.patrols.grid import (
    METRIC_CRS,
)
from pli.patrols.hotspots import GiStarResult
from pli.patrols.kde import KDESurface

__all__ = [
    "BOROUGH",
    "PatrolPlan",
]


BOROUGH = "Area-wide"  # the totals row for the whole study area, whatever its kind


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
        :func:`plan_patrols`): ``place_number`` (1..n across the borough, in
        neighbourhood then place rank: the number on the maps), ``neighbourhood_rank``,
        ``neighbourhood``, ``neighbourhood_slug``, ``place_rank``, ``place_id``,
        ``place_kind``, ``street`` (police.uk ``Location`` without "On or near"),
        ``location``, ``ward``, ``lon``, ``lat``, ``easting``, ``northing`` (the
        place's centroid), ``share_in_neighbourhood`` (of the place's records, >= 0.5),
        ``clipped`` (the place is the part of its cell inside the neighbourhood),
        ``count``, ``harm``, ``harm_share`` (of the neighbourhood's harm),
        ``count_<type>``, ``harm_<type>``, ``gi_z``, ``gi_q``, ``gi_bin``, ``gi_label``,
        ``power_few`` (in the borough's power few), ``evidence`` (which harm-spot tests
        it passed, with numbers), ``events_per_month``, ``harm_per_month``,
        ``window_months``, ``visits_per_week``, ``visit_minutes``,
        ``officer_hours_per_week``, ``trial_weeks``, ``officer_hours_trial``,
        ``peak_hours`` and ``peak_days`` (empty without times or dates in the data),
        ``suggested_times``, ``period`` ("2024-03 to 2025-02") and ``categories``
        ("Burglary"; several joined by "; ").
    concentration : DataFrame
        One row per scope (each neighbourhood, then ``"Area-wide"`` (the whole study area) with rank 0) and
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
    plan_geometry : GeoSeries or None
        EPSG:27700 geometry of each plan row (the cell, the part of it inside the
        neighbourhood when ``clipped``, or the snap point).
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
    plan_geometry: Optional[gpd.GeoSeries] = field(default=None, compare=False)

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

    def plan_frame(self) -> gpd.GeoDataFrame:
        """The plan as an EPSG:27700 GeoDataFrame of the planned places' geometry."""
        if self.plan_geometry is not None:
            geoms = np.asarray(self.plan_geometry.to_numpy(), dtype=object)
        else:
            geoms = self.places.geometry.reindex(self.plan["place_id"].to_numpy()).to_numpy()
        return gpd.GeoDataFrame(self.plan.reset_index(drop=True), geometry=geoms, crs=METRIC_CRS)

    def to_geojson_frame(self, *, geometry: Literal["place", "centroid"] = "place") -> gpd.GeoDataFrame:
        """The plan as an EPSG:4326 GeoDataFrame (place polygons, or centroid points)."""
        out = self.plan_frame()
        if geometry == "centroid":
            out = out.set_geometry(out.geometry.centroid)
        return out.to_crs("EPSG:4326")

    def totals(self) -> pd.DataFrame:
        """Places, weekly visits and officer-hours per neighbourhood, then the borough.

        Columns ``neighbourhood_rank`` (0 for the borough row), ``neighbourhood``,
        ``places``, ``visits_per_week``, ``officer_hours_per_week``, ``trial_weeks``,
        ``officer_hours_trial``; every neighbourhood with places, in rank order.
        """
        cols = ["places", "visits_per_week", "officer_hours_per_week", "officer_hours_trial"]
        p = self.plan.assign(places=1)
        by = p.groupby(["neighbourhood_rank", "neighbourhood"], sort=True)[cols].sum().reset_index()
        borough = pd.DataFrame([{"neighbourhood_rank": 0, "neighbourhood": BOROUGH, **p[cols].sum().to_dict()}])
        out = pd.concat([by, borough], ignore_index=True) if len(by) else borough
        out["places"] = out["places"].astype(np.int64)
        out["visits_per_week"] = out["visits_per_week"].astype(np.int64)
        out.insert(5, "trial_weeks", int(self.options.get("trial_weeks", 12)))
        return out

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
        ``visits_per_week``, ``officer_hours_per_week``, ``trial_weeks``,
        ``officer_hours_trial``, ``neighbourhoods_without_places``, ``hotspot_method``,
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
            "visits_per_week": int(self.plan["visits_per_week"].sum()) if len(self.plan) else 0,
            "officer_hours_per_week": float(self.plan["officer_hours_per_week"].sum()) if len(self.plan) else 0.0,
            "trial_weeks": opts.get("trial_weeks"),
            "officer_hours_trial": float(self.plan["officer_hours_trial"].sum()) if len(self.plan) else 0.0,
            "neighbourhoods_without_places": list(self.neighbourhoods_without_places),
            "hotspot_method": self.hotspots.method,
            "permutations": self.hotspots.permutations,
            "seed": self.seed,
            "alpha": self.hotspots.alpha,
            "fdr": self.hotspots.fdr,
            "hot_cells": int(((hot["gi_q"] <= self.hotspots.alpha) & (hot["gi_z"] > 0)).sum()),
            "floor": {k: opts.get(k) for k in (
                "min_events", "harm_per_weekly_visit", "top_places", "visit_minutes", "max_visits_per_day",
                "daily_minutes_budget", "trial_weeks", "peak_window_hours", "harm_spot_sd_threshold",
                "power_few_harm_cutoff",
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
