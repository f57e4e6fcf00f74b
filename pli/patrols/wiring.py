"""Patrol planning as the pipeline asks for it: the config's source, options and period check."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import geopandas as gpd

from pli.patrols.plan import patrol_options, plan_patrols
from pli.patrols.records import (
    HarmWeightSource,
)
from pli.patrols.result import PatrolPlan

__all__ = [
    "plan_from_config",
    "warn_period_mismatch",
]

logger = logging.getLogger(__name__)


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
