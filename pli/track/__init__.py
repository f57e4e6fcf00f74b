"""Change over time (issue 13): series per place, trends, emerging hot spots, changing areas.

``series`` (counts and harm per area and month or quarter), ``trend`` (Mann-Kendall,
Sen's slope, serial-correlation corrections, FDR), ``emerging`` (Gi* per slice and the
ArcGIS emerging hot spot classes), ``rolling`` (the index on rolling windows),
``hotspot_map`` and ``pages`` (the map and the chart pages), ``charts`` (monthly harm PNGs)
and ``command`` (the ``pli track`` entry point).
"""

from pli.track.command import TrackRun, run_track
from pli.track.emerging import CLASSES, EmergingHotSpots, classify_pattern, emerging_hot_spots, gi_star_z
from pli.track.rolling import RollingIndex, rolling_index
from pli.track.series import TrackSeries, build_series, read_met_monthly
from pli.track.trend import MannKendall, mann_kendall, seasonal_mann_kendall, trend_table

__all__ = [
    "CLASSES",
    "EmergingHotSpots",
    "MannKendall",
    "RollingIndex",
    "TrackRun",
    "TrackSeries",
    "build_series",
    "classify_pattern",
    "emerging_hot_spots",
    "gi_star_z",
    "mann_kendall",
    "read_met_monthly",
    "rolling_index",
    "run_track",
    "seasonal_mann_kendall",
    "trend_table",
]
