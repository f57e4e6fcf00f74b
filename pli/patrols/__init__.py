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

from pli.patrols.concentration import ConcentrationResult, concentration
from pli.patrols.dosage import DEFAULT_TIMES_TEXT
from pli.patrols.grid import METRIC_CRS, build_grid, locate_cells
from pli.patrols.hotspots import GiStarResult, grid_hotspots
from pli.patrols.kde import KDESurface, kde_surface
from pli.patrols.places import count_places, snap_locations
from pli.patrols.plan import (
    BOROUGH,
    PatrolPlan,
    patrol_options,
    plan_from_config,
    plan_patrols,
    warn_period_mismatch,
)
from pli.patrols.records import DEFAULT_CATEGORIES, select_points

__all__ = [
    "BOROUGH",
    "DEFAULT_CATEGORIES",
    "DEFAULT_TIMES_TEXT",
    "METRIC_CRS",
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
