"""LSOA polygons, the upper layer they sit in, and LSOA-vintage reconciliation.

The boundaries stage reads the LSOA layer and the upper layer (wards, or an upper
layer dissolved from a code table), reprojects both to EPSG:27700, repairs invalid
geometries, assigns every LSOA to the ward holding the largest share of its area, and
reads the ONS LSOA 2011 <-> 2021 lookup used to bring tables of either (or mixed)
vintage onto the boundary vintage.

Modules: ``reading`` (polygon layers in any format and CRS), ``wards`` (the upper
layer), ``vintage`` (the 2011 <-> 2021 lookup and reconciliation), ``coverage`` (gaps,
extras and overlaps) and ``loading`` (the stage itself, :func:`load_boundaries`).
"""

from pli.boundaries.coverage import OVERLAP_SHARE, Coverage, check_coverage, check_source_coverage, find_overlaps
from pli.boundaries.loading import Boundaries, load_boundaries
from pli.boundaries.reading import METRIC_CRS, read_polygons
from pli.boundaries.vintage import (
    CodeReconciler,
    Reconciled,
    read_vintage_lookup,
    reconcile_codes,
    study_area_codes,
    unmatched_codes,
)
from pli.boundaries.wards import SPLIT_SHARE, assign_to_wards, dissolve_upper_layer

__all__ = [
    "METRIC_CRS",
    "OVERLAP_SHARE",
    "SPLIT_SHARE",
    "Boundaries",
    "CodeReconciler",
    "Coverage",
    "Reconciled",
    "assign_to_wards",
    "check_coverage",
    "check_source_coverage",
    "dissolve_upper_layer",
    "find_overlaps",
    "load_boundaries",
    "read_polygons",
    "read_vintage_lookup",
    "reconcile_codes",
    "study_area_codes",
    "unmatched_codes",
]
