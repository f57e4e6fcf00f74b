"""Micro-patrol planning: micro-places, Gi* hot spots, harm concentration, patrol plan.

Crime concentrates at a few street segments and corners (Sherman, Gartin & Buerger 1989;
Weisburd 2015, "the law of crime concentration"), so patrol time goes furthest when it is
spent at a handful of *micro-places* inside each priority neighbourhood. This package

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
5. writes a patrol plan: the harm spots of every priority neighbourhood (borough-wide
   tests: 2 SD above the mean harm, the power few, Gi* after FDR), each credited to the
   neighbourhood holding most of its records, numbered 1..n across the borough with its
   street and ward, dosed by its harm (15-minute visits a week), with officer-hours per
   week and over the trial, and timing taken only from the data.

Every step is vectorised with numpy/pandas: points are assigned to cells arithmetically
(never a spatial join), so two million records take seconds.

The selection, dose and timing rules and their sources (Koper 1995; Sherman & Weisburd
1995; Ariel, Weinborn & Sherman 2016; Eck et al. 2005; Weisburd 2015) are set out in
:mod:`pli.patrols.dosage`; the neighbourhood and floor rules in :func:`plan_patrols`.

Examples
--------
>>> from pli.patrols import build_grid, concentration
>>> concentration([50, 30, 10, 5, 5, 0, 0, 0, 0, 0]).power_few_places
1
"""

from pli.patrols.concentration import ConcentrationResult, concentration
from pli.patrols.dosage import NO_TIME_TEXT
from pli.patrols.grid import METRIC_CRS, build_grid, locate_cells
from pli.patrols.hotspots import GiStarResult, grid_hotspots
from pli.patrols.kde import KDESurface, kde_surface
from pli.patrols.places import count_places, snap_locations
from pli.patrols.plan import patrol_options, plan_patrols
from pli.patrols.records import DEFAULT_CATEGORIES, select_points
from pli.patrols.result import BOROUGH, PatrolPlan
from pli.patrols.wiring import plan_from_config, warn_period_mismatch

__all__ = [
    "BOROUGH",
    "DEFAULT_CATEGORIES",
    "METRIC_CRS",
    "NO_TIME_TEXT",
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
    "plan_from_config",
    "plan_patrols",
    "select_points",
    "snap_locations",
    "warn_period_mismatch",
]
