"""The data dictionary of a run: what every column of every output table means.

``output/DATA_DICTIONARY.csv`` has one row per column of every CSV the run writes
(``file, column, meaning, unit, source``), and of every layer of ``pli.gpkg`` (``file``
``pli.gpkg:<layer>``). This module owns the definitions: fixed
columns are described here once, and the columns that depend on the config (one per
indicator, domain, contribution, crime type or concentration share) are described from
the config itself: the indicator's label, numerator and denominator, unit (e.g. per
1,000 residents), direction, domain and weight, and the source it was read from.

A column this module does not know is listed with an empty meaning and a warning, so a
run never fails for want of a description but the gap is visible (and a test fails).

Examples
--------
>>> import pandas as pd
>>> from pli.config import default_data_dir, load_config
>>> from pli.dictionary import data_dictionary
>>> cfg = load_config(default_data_dir() / "configs" / "croydon-demo.yml")
>>> table = pd.DataFrame(columns=["lsoa_code", "violence_rate", "quintile"])
>>> d = data_dictionary({"rankings.csv": table}, cfg)
>>> d.loc[1, "unit"]
'per 1,000 population'
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from typing import Any, Optional

import geopandas as gpd
import pandas as pd

from pli.classes import CLASS_SCHEMES
from pli.handling import CLASSIFICATION_COLUMN
from pli.maps.style import HARM_UNIT

__all__ = ["DICTIONARY_COLUMNS", "DICTIONARY_NAME", "data_dictionary", "describe_column", "undocumented"]

log = logging.getLogger(__name__)

DICTIONARY_NAME = "DATA_DICTIONARY.csv"
DICTIONARY_COLUMNS = ["file", "column", "meaning", "unit", "source"]

_BOUNDARIES = "boundaries (config boundaries)"
_INDEX = "pli.index (composite index of the configured indicators)"
_CLUSTERING = "pli.clustering (spatial statistics of the index score)"
_PRIORITIES = "pli.priorities (priority neighbourhoods)"
_PATROLS = "pli.patrols (crime points of patrols.source)"
_SCORE_UNIT = "index score (0 = study-area average)"

# Columns that mean the same in every table that has them: (meaning, unit, source).
_COMMON: dict[str, tuple[str, str, str]] = {
    CLASSIFICATION_COLUMN: ("handling marking of this table (see HANDLING.txt)", "text", "pli.handling"),
    "lsoa_code": ("LSOA code (ONS), the boundary vintage", "code", _BOUNDARIES),
    "lsoa_name": ("LSOA name (ONS)", "text", _BOUNDARIES),
    "ward_code": ("code of the upper-layer area (ward, or the stand-in layer); in LSOA tables the one holding "
                  "most of the LSOA", "code", _BOUNDARIES),
    "ward_name": ("name of the upper-layer area (ward, or the stand-in layer)", "text", _BOUNDARIES),
    "population": ("residents (the population denominator)", "people", "config denominators.population"),
    "neighbourhood_rank": ("rank of the priority neighbourhood (1 = highest concentration of priority; "
                           "0 = the whole study area in totals; blank = none)", "rank", _PRIORITIES),
    "neighbourhood": ("name of the priority neighbourhood", "text", _PRIORITIES),
    "trial_weeks": ("length of the patrol trial officer-hours are totalled over (patrols.trial_weeks)",
                    "weeks", "config patrols.trial_weeks"),
    "visits_per_week": ("patrol visits a week", "visits per week", "pli.patrols.dosage"),
    "officer_hours_per_week": ("officer-hours a week (visits x visit length)", "hours per week", "pli.patrols.dosage"),
    "officer_hours_trial": ("officer-hours over the whole trial", "hours", "pli.patrols.dosage"),
}

_RANKINGS: dict[str, tuple[str, str, str]] = {
    "ward_overlap_share": ("share of the LSOA's area inside its upper-layer area", "share (0-1)", _BOUNDARIES),
    "harm": (f"total crime harm in the window ({HARM_UNIT})", "days", "the harm-weighted indicator's numerator"),
    "score": ("composite index score: weighted sum of the domain scores (higher = higher priority)",
              _SCORE_UNIT, _INDEX),
    "rank": ("rank of the score (1 = highest priority; ties share the lowest rank)", "rank", _INDEX),
    "lisa_I": ("local Moran's I of the score", "statistic", _CLUSTERING),
    "lisa_p": ("two-sided conditional-permutation pseudo p-value of local Moran's I", "p-value", _CLUSTERING),
    "lisa_p_fdr": ("lisa_p adjusted for false discovery rate (Benjamini-Hochberg)", "p-value", _CLUSTERING),
    "lisa_quadrant": ("Moran scatterplot quadrant whatever the significance (High-High, Low-Low, ...)",
                      "category", _CLUSTERING),
    "lisa_cluster": ("LISA cluster at clustering.alpha on lisa_p (Not significant otherwise)", "category",
                     _CLUSTERING),
    "lisa_cluster_fdr": ("LISA cluster at clustering.alpha on lisa_p_fdr", "category", _CLUSTERING),
    "gi_z": ("Getis-Ord Gi* z-score of the score (LSOA with its neighbours)", "z-score", _CLUSTERING),
    "gi_p": ("two-sided p-value of gi_z", "p-value", _CLUSTERING),
    "gi_bin": ("Gi* hot (+) / cold (-) spot bin: 3/2/1 = 99/95/90% confidence on gi_p, 0 = not significant",
               "bin (-3..3)", _CLUSTERING),
    "gi_label": ("text of gi_bin", "category", _CLUSTERING),
    "gi_p_fdr": ("gi_p adjusted for false discovery rate (Benjamini-Hochberg)", "p-value", _CLUSTERING),
    "gi_bin_fdr": ("Gi* bin on gi_p_fdr (3/2/1 = false discovery rate of 1/5/10%)", "bin (-3..3)", _CLUSTERING),
    "gi_label_fdr": ("text of gi_bin_fdr", "category", _CLUSTERING),
}
for _k in (1, 2, 3):
    _RANKINGS[f"driver_{_k}"] = (f"indicator with the {_k}{'st' if _k == 1 else 'nd' if _k == 2 else 'rd'} "
                                 "largest positive contribution to the score", "indicator name", _INDEX)
    _RANKINGS[f"driver_{_k}_contribution"] = (f"contribution of driver_{_k} to the score", _SCORE_UNIT, _INDEX)
    _RANKINGS[f"driver_{_k}_value"] = (f"value of driver_{_k} as used by the index (unit of that indicator)",
                                       "see the indicator", _INDEX)

_WARDS = {
    "population_weighted_score": ("mean index score of the area's LSOAs weighted by residents", _SCORE_UNIT,
                                  _PRIORITIES),
    "rank": ("rank of population_weighted_score (1 = highest)", "rank", _PRIORITIES),
    "n_lsoas": ("LSOAs in the area", "count", _BOUNDARIES),
    "n_priority_lsoas": ("LSOAs of the area inside a priority neighbourhood", "count", _PRIORITIES),
}

_EXCLUDED = {
    "score_rank": ("rank of the LSOA's score (1 = highest)", "rank", _INDEX),
    "score": ("composite index score", _SCORE_UNIT, _INDEX),
    "reason": ("why the LSOA is in no priority neighbourhood", "text", _PRIORITIES),
}

_PLAN = {
    "place_number": ("number of the place on every map and list, 1..n across the study area", "number", _PATROLS),
    "neighbourhood_slug": ("neighbourhood name for file names (its map page)", "text", _PRIORITIES),
    "place_rank": ("rank of the place within its neighbourhood (1 = most harm)", "rank", _PATROLS),
    "place_id": ("stable id of the place (grid cell: size and south-west corner in metres)", "id", _PATROLS),
    "place_kind": ("grid (a cell) or snap (a police.uk snap point)", "category", _PATROLS),
    "street": ("street of the place's records (police.uk Location, most frequent)", "text", _PATROLS),
    "location": ("location text as in the records", "text", _PATROLS),
    "ward": ("upper-layer area holding the place", "text", _BOUNDARIES),
    "lon": ("longitude of the place's centre (WGS84)", "degrees (EPSG:4326)", _PATROLS),
    "lat": ("latitude of the place's centre (WGS84)", "degrees (EPSG:4326)", _PATROLS),
    "easting": ("easting of the place's centre", "metres (EPSG:27700)", _PATROLS),
    "northing": ("northing of the place's centre", "metres (EPSG:27700)", _PATROLS),
    "share_in_neighbourhood": ("share of the cell's records inside its neighbourhood", "share (0-1)", _PATROLS),
    "clipped": ("true when the place is the part of the cell inside the neighbourhood", "true/false", _PATROLS),
    "count": ("records at the place in the window", "count", _PATROLS),
    "harm": (f"crime harm at the place in the window ({HARM_UNIT})", "days", _PATROLS),
    "harm_share": ("share of the neighbourhood's harm at the place", "share (0-1)", _PATROLS),
    "gi_z": ("Getis-Ord Gi* z-score of harm on the grid", "z-score", _PATROLS),
    "gi_q": ("Gi* p-value adjusted for false discovery rate (Benjamini-Hochberg)", "p-value", _PATROLS),
    "gi_bin": ("Gi* hot spot bin (3/2/1 = 99/95/90% confidence)", "bin (-3..3)", _PATROLS),
    "gi_label": ("text of gi_bin", "category", _PATROLS),
    "power_few": ("true when the place is among the fewest places holding half the harm", "true/false", _PATROLS),
    "evidence": ("borough-wide harm-spot tests the place passed, with the numbers", "text", _PATROLS),
    "events_per_month": ("records a month", "records per month", _PATROLS),
    "harm_per_month": ("harm a month", "days per month", _PATROLS),
    "window_months": ("months in the record window", "months", _PATROLS),
    "visit_minutes": ("length of one visit (patrols.visit_minutes; Koper curve)", "minutes", "config patrols"),
    "peak_hours": ("busiest hours of the day (blank without times of day in the data)", "hours", _PATROLS),
    "peak_days": ("busiest days of the week (blank without dates)", "days", _PATROLS),
    "suggested_times": ("when to visit, from the data only", "text", _PATROLS),
    "period": ("months of records used", "YYYY-MM to YYYY-MM", _PATROLS),
    "categories": ("crime types planned on", "text", _PATROLS),
}

_TOTALS = {"places": ("planned places", "count", _PATROLS)}

# The GeoPackage's micro-place layers: every place with records, not only the planned ones.
_PLACES = {
    **{k: v for k, v in _PLAN.items() if k not in ("harm_share", "place_rank")},
    "cell_id": ("grid cell holding the place", "id", _PATROLS),
    "area_share": ("share of the cell's area inside the study area", "share (0-1)", _PATROLS),
    "gi_p": ("two-sided p-value of gi_z (normal, or 2 x gi_p_sim with permutations)", "p-value", _PATROLS),
    "gi_p_sim": ("one-sided permutation pseudo p-value (blank when analytic)", "p-value", _PATROLS),
    "gi_permutations": ("permutations behind the cell's p (0 when analytic)", "count", _PATROLS),
}

_KDE = {
    "kde_cell": ("raster cell of the density surface", "id", _PATROLS),
    "density": ("kernel density of crime harm over the window", "harm days per km2", _PATROLS),
    "bandwidth_m": ("kernel bandwidth", "metres", _PATROLS),
    "period": _PLAN["period"],
    "categories": _PLAN["categories"],
}

#: GeoPackage layers (``pli.gpkg:<layer>``) described like the table they repeat.
_LAYER_AS = {"pli.gpkg:lsoa": "rankings.csv", "pli.gpkg:wards": "wards.csv",
             "pli.gpkg:priority_neighbourhoods": "priority_neighbourhoods.csv",
             "pli.gpkg:micro_places": "micro_places", "pli.gpkg:micro_places_snap": "micro_places",
             "pli.gpkg:kde_surface": "kde_surface"}

_CONCENTRATION = {
    "place_kind": _PLAN["place_kind"],
    "n_places": ("places of this kind in the neighbourhood", "count", _PATROLS),
    "n_places_with_harm": ("places with any harm", "count", _PATROLS),
    "total_harm": (f"harm in the neighbourhood ({HARM_UNIT})", "days", _PATROLS),
    "power_few_places": ("fewest places holding half the harm", "count", _PATROLS),
    "power_few_place_share": ("share of places that hold half the harm", "share (0-1)", _PATROLS),
    "power_few_harm_share": ("share of harm in the power few places", "share (0-1)", _PATROLS),
}

_DICTIONARY = {
    "file": ("output file the column belongs to", "file name", "pli.dictionary"),
    "column": ("column name", "text", "pli.dictionary"),
    "meaning": ("what the column holds", "text", "pli.dictionary"),
    "unit": ("unit or kind of value", "text", "pli.dictionary"),
    "source": ("where the value comes from (config source, stage of pli)", "text", "pli.dictionary"),
}

_NEIGHBOURHOOD_UNITS = {
    "rank": "rank", "name": "text", "slug": "text", "lsoa_codes": "codes", "n_lsoas": "count",
    "population": "people", "mean_score": _SCORE_UNIT, "population_weighted_score": _SCORE_UNIT,
    "total_score": "index score", "priority_share": "share (0-1)", "concentration": "ratio (1 = average)",
    "harm_share": "share (0-1)", "stability": "share (0-1)", "top_drivers": "indicator names", "wards": "text",
}


def _source_text(cfg: Any, name: str) -> str:
    src = cfg.sources.get(name)
    return f"config source {name!r}" + (f" ({src.kind}: {src.path})" if src is not None else "")


def _denominator_text(cfg: Any, name: str) -> str:
    den = cfg.denominators.get(name)
    return f"{name} ({den.column} of source {den.source!r})" if den is not None else name


def _indicator_unit(spec: Any) -> str:
    den = spec.denominator or "population"
    count = "harm days" if spec.harm else "count"
    return {"rate": f"per 1,000 {den}", "share": "share (0-1)", "count": count,
            "log": f"log(1 + {count})", "value": "as published by the source"}[spec.transform]


def _columns_text(spec: Any) -> str:
    if spec.columns in ((), ("*",)):
        return "every crime type" if spec.columns else spec.name
    return " + ".join(spec.columns)


def _weight_text(spec: Any, cfg: Any) -> str:
    if cfg.index.weighting == "manual":
        return f"weight {spec.weight:g} in domain {spec.domain!r}"
    return f"in domain {spec.domain!r} (weights: index.weighting {cfg.index.weighting})"


def _score_unit(cfg: Any) -> str:
    if cfg.index.normalisation == "zscore" and cfg.index.aggregation == "arithmetic":
        return _SCORE_UNIT
    return f"index score ({cfg.index.normalisation} normalisation, {cfg.index.aggregation} aggregation)"


def _indicator_meaning(spec: Any, cfg: Any) -> str:
    what = ("harm-weighted " if spec.harm else "") + _columns_text(spec)
    den = _denominator_text(cfg, spec.denominator or "population")
    how = {"rate": f"{what} per 1,000 of {den}", "share": f"{what} / {den}", "count": what,
           "log": f"log(1 + {what})", "value": what}[spec.transform]
    direction = ("higher = higher priority" if spec.direction == "higher_is_worse"
                 else "higher = lower priority (counted in reverse)")
    return f"{spec.label or spec.name}: {how}; {direction}; {_weight_text(spec, cfg)}"


def _dynamic(file: str, column: str, cfg: Any) -> Optional[tuple[str, str, str]]:
    """Columns named after the config: indicators, domains, contributions, crime types."""
    specs = {s.name: s for s in cfg.indicators}
    if file in ("rankings.csv",):
        if column in specs:
            s = specs[column]
            return _indicator_meaning(s, cfg), _indicator_unit(s), _source_text(cfg, s.source)
        if column in CLASS_SCHEMES:
            k = CLASS_SCHEMES[column]
            return (f"priority {column} of the rank (1 = highest-priority {100 / k:g}% of LSOAs; output.classes; "
                    "the same classes as the maps and the GeoPackage style)", f"class (1..{k})", "pli.classes")
        if column.startswith("domain_"):
            domain = column.removeprefix("domain_")
            members = [s.name for s in cfg.indicators if s.domain == domain]
            weight = cfg.index.domain_weights.get(domain)
            return (f"score of domain {domain!r} (from {', '.join(members) or 'its indicators'}"
                    + (f"; weight {weight:g} in the index" if weight is not None else "") + ")",
                    _SCORE_UNIT, _INDEX)
        if column.startswith("contribution_") and column.removeprefix("contribution_") in specs:
            s = specs[column.removeprefix("contribution_")]
            how = ("its normalised value times its weight and its domain's weight" if cfg.index.aggregation ==
                   "arithmetic" else "its log-share of the geometric mean")
            return (f"contribution of {s.label or s.name} to the score ({how}; the contributions of an LSOA "
                    "add up to its score)",
                    _SCORE_UNIT, _INDEX)
    if file == "indicator_inputs.csv":
        for suffix in ("_numerator", "_denominator"):
            name = column.removesuffix(suffix)
            if column.endswith(suffix) and name in specs:
                s = specs[name]
                if suffix == "_denominator":
                    den = _denominator_text(cfg, s.denominator or "population")
                    return (f"denominator of {s.label or s.name}: {den} (after reconciliation and floors)",
                            "as the denominator's source (residents for population)", "config denominators")
                unit = "harm days" if s.harm else ("count" if s.transform in ("rate", "share", "count")
                                                   else "as published by the source")
                return (f"numerator of {s.label or s.name}: {('harm-weighted ' if s.harm else '')}"
                        f"{_columns_text(s)} (after reconciliation to the boundary LSOAs)",
                        unit, _source_text(cfg, s.source))
    if file in ("patrol_plan.csv", "micro_places"):
        for prefix, unit in (("count_", "count"), ("harm_", "days")):
            if column.startswith(prefix) and column not in _FIXED[file]:
                crime = column.removeprefix(prefix).replace("_", " ")
                kind = "records" if prefix == "count_" else f"crime harm ({HARM_UNIT})"
                return f"{kind} of type '{crime}' at the place in the window", unit, _PATROLS
    if file == "concentration.csv":
        match = re.fullmatch(r"top_(\d+(?:_\d+)?)pct_(places|harm_share)", column)
        if match:
            pct = match.group(1).replace("_", ".")
            if match.group(2) == "places":
                return f"places in the top {pct}% by harm", "count", _PATROLS
            return f"share of harm in the top {pct}% of places", "share (0-1)", _PATROLS
    return None


_FIXED: dict[str, Mapping[str, tuple[str, str, str]]] = {
    "rankings.csv": _RANKINGS,
    "wards.csv": _WARDS,
    "excluded_high_priority.csv": _EXCLUDED,
    "patrol_plan.csv": _PLAN,
    "patrol_totals.csv": _TOTALS,
    "concentration.csv": _CONCENTRATION,
    "micro_places": _PLACES,
    "kde_surface": _KDE,
    DICTIONARY_NAME: _DICTIONARY,
}


def describe_column(file: str, column: str, cfg: Any) -> Optional[tuple[str, str, str]]:
    """``(meaning, unit, source)`` of one column of one output table, or None when unknown.

    Parameters
    ----------
    file : str
        Output file name, e.g. ``"rankings.csv"``, or ``"pli.gpkg:<layer>"`` for a GeoPackage layer.
    column : str
        Column name.
    cfg : StudyConfig
        The run's config (indicators, sources, denominators, domain weights).
    """
    file = _LAYER_AS.get(file, file)
    if file == "priority_neighbourhoods.csv":
        from pli.priorities.selection import NEIGHBOURHOOD_COLUMN_DESCRIPTIONS

        if column in NEIGHBOURHOOD_COLUMN_DESCRIPTIONS and column in _NEIGHBOURHOOD_UNITS:
            return NEIGHBOURHOOD_COLUMN_DESCRIPTIONS[column], _NEIGHBOURHOOD_UNITS[column], _PRIORITIES
    fixed = _FIXED.get(file, {})
    if column in fixed:
        return fixed[column]
    found = _dynamic(file, column, cfg)
    if found is not None:
        return found
    return _COMMON.get(column)


def data_dictionary(tables: Mapping[str, pd.DataFrame], cfg: Any) -> pd.DataFrame:
    """One row per column of every table, in file then column order.

    Parameters
    ----------
    tables : mapping
        Output file name (``"pli.gpkg:<layer>"`` for a GeoPackage layer) -> the frame as
        written (its columns, index excluded; a layer's geometry column is left out).
    cfg : StudyConfig

    Returns
    -------
    DataFrame
        Columns :data:`DICTIONARY_COLUMNS`; its own columns are described too.
        Columns this module does not know have an empty meaning (and are logged).
    """
    rows = []
    files = dict(tables)
    files[DICTIONARY_NAME] = pd.DataFrame(columns=DICTIONARY_COLUMNS)
    for file, frame in files.items():
        geometry = frame.geometry.name if isinstance(frame, gpd.GeoDataFrame) else None
        for column in (str(c) for c in frame.columns if c != geometry):
            meaning, unit, source = describe_column(file, column, cfg) or ("", "", "")
            unit = _score_unit(cfg) if unit == _SCORE_UNIT else unit
            rows.append({"file": file, "column": column, "meaning": meaning, "unit": unit, "source": source})
    out = pd.DataFrame(rows, columns=DICTIONARY_COLUMNS)
    missing = undocumented(out)
    if missing:
        log.warning("data dictionary: no description for %s", ", ".join(missing))
    return out


def undocumented(dictionary: pd.DataFrame) -> list[str]:
    """``"file:column"`` of every row of a dictionary with no meaning."""
    empty = dictionary[dictionary["meaning"].fillna("").eq("")]
    return [f"{f}:{c}" for f, c in zip(empty["file"], empty["column"])]
