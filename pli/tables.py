"""The tables and GeoPackage a run publishes, assembled from the stages' frames.

``rankings.csv`` (one row per LSOA), ``indicator_inputs.csv`` (numerators and
denominators), ``wards.csv``, ``priority_neighbourhoods.{csv,geojson}``,
``excluded_high_priority.csv`` (top LSOAs outside every neighbourhood, with the reason), the patrol plan
(marked OFFICIAL-SENSITIVE inside the file) and ``concentration.csv``, and the layers of
``pli.gpkg``. Writers come from :mod:`pli.outputs` (deterministic bytes, formulas
defused); this module only decides what goes where.
"""

from __future__ import annotations

from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

from pli import outputs
from pli.maps import SENSITIVE_BANNER

__all__ = ["rankings_table", "write_run_tables"]


def rankings_table(lsoa: gpd.GeoDataFrame, indicator_names: list[str]) -> pd.DataFrame:
    """One row per LSOA, sorted by rank then code: the table analysts open first.

    Parameters
    ----------
    lsoa : GeoDataFrame
        The LSOA frame after the index, clustering and neighbourhood stages (index
        ``lsoa_code``; ``score``, ``rank``, ``decile``, ``domain_*``, ``contribution_*``,
        ``driver_*``, ``lisa_*``, ``gi_*`` and ``neighbourhood_rank`` columns).
    indicator_names : list of str
        Indicator columns, in config order.

    Returns
    -------
    DataFrame
        Without geometry; identity, population and harm first, then indicators, scores,
        domains, contributions, drivers and the spatial statistics.
    """
    front = ["lsoa_name", "ward_code", "ward_name", "ward_overlap_share", "population", "harm"]
    scores = ["score", "rank", "decile"]
    domains = [c for c in lsoa.columns if str(c).startswith("domain_")]
    contributions = [c for c in lsoa.columns if str(c).startswith("contribution_")]
    drivers = [c for c in lsoa.columns if str(c).startswith("driver_") and not str(c).endswith("_label")]
    spatial = [c for c in lsoa.columns if str(c).startswith(("lisa_", "gi_"))] + ["neighbourhood_rank"]
    cols = front + list(indicator_names) + scores + domains + contributions + drivers + spatial
    frame = pd.DataFrame(lsoa[cols])
    frame.index.name = "lsoa_code"
    order = np.lexsort((frame.index.astype(str), frame["rank"].to_numpy()))
    return frame.iloc[order]


def write_run_tables(tx: Any, lsoa: gpd.GeoDataFrame, rankings: pd.DataFrame, raw: pd.DataFrame,
                     boundaries: Any, nb: Any, plan: Any) -> None:
    """Write every table of a run, and ``pli.gpkg``, into the transaction's output folder.

    Parameters
    ----------
    tx : OutputTransaction
        Files go to ``tx.path("output", name)``.
    lsoa : GeoDataFrame
        LSOA geometry (joined onto ``rankings`` for the GeoPackage).
    rankings, raw : DataFrame
        The published rankings and indicator inputs (suppressed in public mode).
    boundaries : Boundaries
        Ward (upper-layer) polygons.
    nb : NeighbourhoodResult
        Neighbourhoods and the ward summary.
    plan : PatrolPlan or None
        The patrol plan; None writes no point-level outputs.
    """
    outputs.write_csv(rankings.reset_index(), tx.path("output", "rankings.csv"))
    inputs = pd.DataFrame(raw).reindex(rankings.index)
    inputs.index.name = "lsoa_code"
    outputs.write_csv(inputs.reset_index(), tx.path("output", "indicator_inputs.csv"))
    lsoa_layer = gpd.GeoDataFrame(rankings.join(lsoa[["geometry"]]), geometry="geometry", crs=lsoa.crs)
    wards = boundaries.wards.join(nb.wards.set_index("ward_code").drop(columns=["ward_name"], errors="ignore"))
    layers = [("lsoa", lsoa_layer.reset_index()), ("wards", wards.reset_index())]
    outputs.write_csv(pd.DataFrame(nb.wards), tx.path("output", "wards.csv"))
    nbh = nb.neighbourhoods
    layers.append(("priority_neighbourhoods", nbh))
    outputs.write_csv(pd.DataFrame(nbh.drop(columns="geometry")), tx.path("output", "priority_neighbourhoods.csv"))
    outputs.write_geojson(nbh, tx.path("output", "priority_neighbourhoods.geojson"))
    outputs.write_csv(pd.DataFrame(nb.excluded), tx.path("output", "excluded_high_priority.csv"))
    if plan is not None:
        # Point-level outputs carry their handling marking inside the file itself.
        outputs.write_csv(plan.plan, tx.path("output", "patrol_plan.csv"), comment=SENSITIVE_BANNER)
        outputs.write_geojson(plan.to_geojson_frame(), tx.path("output", "patrol_plan.geojson"),
                              members={"classification": SENSITIVE_BANNER})
        places = plan.places[plan.places["count"] > 0]
        cells = places[places["place_kind"] != "snap"]
        layers.append(("micro_places", cells.reset_index()))
        kde = plan.kde_frame()
        if kde is not None:
            layers.append(("kde_surface", kde.reset_index()))
        snaps = places[places["place_kind"] == "snap"]
        if len(snaps):
            layers.append(("micro_places_snap", snaps.reset_index()))
        outputs.write_csv(plan.concentration, tx.path("output", "concentration.csv"))
        outputs.write_csv(plan.totals(), tx.path("output", "patrol_totals.csv"), comment=SENSITIVE_BANNER)
    outputs.write_geopackage(layers, tx.path("output", "pli.gpkg"))
