"""The tables and GeoPackage a run publishes, assembled from the stages' frames.

``rankings.csv`` (one row per LSOA), ``indicator_inputs.csv`` (numerators and
denominators), ``wards.csv``, ``priority_neighbourhoods.{csv,geojson}``,
``excluded_high_priority.csv`` (top LSOAs outside every neighbourhood, with the reason), the patrol plan
and totals (marked OFFICIAL-SENSITIVE in a ``classification`` column), ``concentration.csv``,
``DATA_DICTIONARY.csv`` (:mod:`pli.dictionary`), ``HANDLING.txt`` (:mod:`pli.handling`) and
the layers of ``pli.gpkg``, styled for QGIS (:mod:`pli.layer_styles`). Writers come from
:mod:`pli.outputs` (deterministic bytes, formulas defused); this module only decides what
goes where.
"""

from __future__ import annotations

from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

from pli import outputs
from pli.classes import priority_classes
from pli.dictionary import DICTIONARY_NAME, data_dictionary
from pli.handling import SENSITIVE, default_marking, marked, write_handling_note
from pli.layer_styles import style_geopackage

__all__ = ["rankings_table", "write_run_tables"]


def rankings_table(lsoa: gpd.GeoDataFrame, indicator_names: list[str], *, classes: str = "quintile") -> pd.DataFrame:
    """One row per LSOA, sorted by rank then code: the table analysts open first.

    Parameters
    ----------
    lsoa : GeoDataFrame
        The LSOA frame after the index, clustering and neighbourhood stages (index
        ``lsoa_code``; ``score``, ``rank``, ``domain_*``, ``contribution_*``,
        ``driver_*``, ``lisa_*``, ``gi_*`` and ``neighbourhood_rank`` columns).
    indicator_names : list of str
        Indicator columns, in config order.
    classes : {"quintile", "decile"}
        ``output.classes``: the class column after ``rank`` is named for it and holds the
        class of :func:`pli.classes.priority_classes` (1 = highest priority), as on the maps.

    Returns
    -------
    DataFrame
        Without geometry; identity, population and harm first, then indicators, scores,
        domains, contributions, drivers and the spatial statistics.
    """
    front = ["lsoa_name", "ward_code", "ward_name", "ward_overlap_share", "population", "harm"]
    scores = ["score", "rank"]
    domains = [c for c in lsoa.columns if str(c).startswith("domain_")]
    contributions = [c for c in lsoa.columns if str(c).startswith("contribution_")]
    drivers = [c for c in lsoa.columns if str(c).startswith("driver_") and not str(c).endswith("_label")]
    spatial = [c for c in lsoa.columns if str(c).startswith(("lisa_", "gi_"))] + ["neighbourhood_rank"]
    cols = front + list(indicator_names) + scores + domains + contributions + drivers + spatial
    frame = pd.DataFrame(lsoa[cols])
    frame.insert(frame.columns.get_loc("rank") + 1, classes,
                 priority_classes(frame["score"], classes, rank=frame["rank"]).classes)
    frame.index.name = "lsoa_code"
    order = np.lexsort((frame.index.astype(str), frame["rank"].to_numpy()))
    return frame.iloc[order]


def write_run_tables(tx: Any, cfg: Any, lsoa: gpd.GeoDataFrame, rankings: pd.DataFrame, raw: pd.DataFrame,
                     boundaries: Any, nb: Any, plan: Any) -> None:
    """Write every table of a run, ``pli.gpkg``, the data dictionary and the handling note.

    Parameters
    ----------
    tx : OutputTransaction
        Files go to ``tx.path("output", name)``.
    cfg : StudyConfig
        ``output`` (public mode, classes) and the indicators the dictionary describes.
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
    inputs = pd.DataFrame(raw).reindex(rankings.index)
    inputs.index.name = "lsoa_code"
    nbh = nb.neighbourhoods
    tables = {
        "rankings.csv": rankings.reset_index(),
        "indicator_inputs.csv": inputs.reset_index(),
        "wards.csv": pd.DataFrame(nb.wards),
        "priority_neighbourhoods.csv": pd.DataFrame(nbh.drop(columns="geometry")),
        "excluded_high_priority.csv": pd.DataFrame(nb.excluded),
    }
    lsoa_layer = gpd.GeoDataFrame(rankings.join(lsoa[["geometry"]]), geometry="geometry", crs=lsoa.crs)
    wards = boundaries.wards.join(nb.wards.set_index("ward_code").drop(columns=["ward_name"], errors="ignore"))
    # The neighbourhoods' index is their rank, already a column: not written twice.
    layers = [("lsoa", lsoa_layer.reset_index()), ("wards", wards.reset_index()),
              ("priority_neighbourhoods", nbh.reset_index(drop=True))]
    outputs.write_geojson(nbh, tx.path("output", "priority_neighbourhoods.geojson"))
    marks: dict[str, str] = {}
    if plan is not None:
        # Point-level outputs carry their handling marking on every row, not above the header.
        tables["patrol_plan.csv"] = marked(plan.plan, SENSITIVE)
        tables["patrol_totals.csv"] = marked(plan.totals(), SENSITIVE)
        tables["concentration.csv"] = plan.concentration
        outputs.write_geojson(plan.to_geojson_frame(), tx.path("output", "patrol_plan.geojson"),
                              members={"classification": SENSITIVE})
        marks.update({"patrol_plan.csv": SENSITIVE, "patrol_totals.csv": SENSITIVE,
                      "patrol_plan.geojson": SENSITIVE, "pli.gpkg": f"{SENSITIVE} (layer micro_places)"})
        places = plan.places[plan.places["count"] > 0]
        cells = places[places["place_kind"] != "snap"]
        layers.append(("micro_places", cells.reset_index()))
        kde = plan.kde_frame()
        if kde is not None:
            layers.append(("kde_surface", kde.reset_index()))
        snaps = places[places["place_kind"] == "snap"]
        if len(snaps):
            layers.append(("micro_places_snap", snaps.reset_index()))
    for name, frame in tables.items():
        outputs.write_csv(frame, tx.path("output", name))
    described = {**tables, **{f"pli.gpkg:{name}": frame for name, frame in layers}}
    outputs.write_csv(data_dictionary(described, cfg), tx.path("output", DICTIONARY_NAME))
    gpkg = outputs.write_geopackage(layers, tx.path("output", "pli.gpkg"))
    style_geopackage(gpkg, [name for name, _ in layers], rankings, classes=cfg.output.classes,
                     upper_label=cfg.area.upper_layer_label)
    write_handling_note(tx, "output", marks,
                        default=default_marking(public=cfg.output.public, suppress_below=cfg.output.suppress_below),
                        heading=f"Handling of the files of this pli index output folder ({cfg.area.name})")
