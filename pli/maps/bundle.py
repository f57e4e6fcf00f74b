"""What a set of maps is drawn from (:class:`MapBundle`), checked before anything is drawn."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional

import geopandas as gpd
import numpy as np
import pandas as pd

from pli.classes import CLASS_SCHEMES
from pli.config import ConfigError, MapSpec
from pli.errors import InputError
from pli.maps.credits import Credit, run_credits
from pli.maps.style import LISA_COLOURS, MAX_SIMPLIFY_M, METRIC_CRS

__all__ = [
    "MapBundle",
    "bundle_for_run",
]


_LSOA_COLUMNS = (
    "lsoa_name", "ward_code", "ward_name", "score", "rank",
    "lisa_cluster", "lisa_cluster_fdr", "gi_bin", "gi_label", "gi_bin_fdr", "gi_label_fdr",
    "driver_1", "driver_1_value", "driver_2", "driver_2_value", "driver_3", "driver_3_value",
    "population",
)  # fmt: skip


_NEIGHBOURHOOD_COLUMNS = (
    "rank", "name", "slug", "lsoa_codes", "n_lsoas", "population", "mean_score",
    "harm_share", "top_drivers",
)  # fmt: skip


_PLACE_COLUMNS = (
    "neighbourhood_rank", "neighbourhood", "place_rank", "place_id", "location",
    "count", "harm", "gi_label", "visits_per_week",
)  # fmt: skip


@dataclass(frozen=True)
class MapBundle:
    """Everything the maps show, in EPSG:27700.

    Parameters
    ----------
    lsoa : GeoDataFrame
        Index ``lsoa_code``; columns ``lsoa_name, ward_code, ward_name, score, rank``
        (1 = highest priority), ``domain_<name>`` scores,
        ``lisa_cluster``, ``lisa_cluster_fdr``, ``gi_bin`` (-3..3), ``gi_label``,
        ``gi_bin_fdr``, ``gi_label_fdr`` (the FDR-corrected bins the maps show first),
        ``driver_1..3`` and ``driver_1..3_value``, ``population`` and optional ``harm``;
        optional ``lad_code`` and ``lad_name`` (each LSOA's local authority, by which
        big areas' maps are split: :mod:`pli.maps.split_by_area`).
    wards : GeoDataFrame
        Index ``ward_code``; column ``ward_name``.
    neighbourhoods : GeoDataFrame
        Columns ``rank, name, slug, lsoa_codes`` (";"-joined), ``n_lsoas, population,
        mean_score, harm_share`` (0-1), ``top_drivers``.
    patrol_places : GeoDataFrame, optional
        Points or cell polygons with ``neighbourhood_rank, neighbourhood, place_rank,
        place_id, location, count, harm, gi_label, visits_per_week`` (and optionally
        ``place_number``, ``street``, ``ward``: the number shown on the map).
    upper_layer_label : str
        What the upper layer is ("Ward", "MSOA (2011)").
    upper_layer_note : str
        One sentence shown under the title (e.g. why MSOAs stand in for wards).
    indicator_labels : dict
        Readable names for indicator and domain identifiers in drivers and layers.
    lisa_alpha : float
        Significance level the LISA labels were drawn at (shown in the legend).
    classes : {"quintile", "decile"}
        Choropleth classes (``output.classes``), by rank as in the tables (:mod:`pli.classes`).
    credits : tuple of Credit
        Who to credit (:func:`pli.maps.credits.run_credits`); empty credits the
        boundaries only.
    patrol_note : str
        Why the maps show no micro-patrol places when ``patrol_places`` is empty or
        ``None`` (patrols not configured, public output, no crime points, none cleared
        the floor); shown on every neighbourhood page without places.
    patrol_floor : str
        What a place needs to be planned; says why one neighbourhood has none while
        others do.
    area_type : str
        What the study area is ("borough", "district", "force area", "region", "area";
        :func:`pli.area.area_type`), for "0 = district average" and the like.
    """

    lsoa: gpd.GeoDataFrame
    wards: gpd.GeoDataFrame
    neighbourhoods: gpd.GeoDataFrame
    patrol_places: Optional[gpd.GeoDataFrame] = None
    upper_layer_label: str = "Ward"
    upper_layer_note: str = ""
    indicator_labels: dict[str, str] = field(default_factory=dict)
    lisa_alpha: float = 0.05
    classes: str = "quintile"
    credits: tuple[Credit, ...] = ()
    patrol_note: str = ""
    patrol_floor: str = ""
    area_type: str = "area"

    @property
    def domains(self) -> list[str]:
        """Domain score columns (``domain_<name>``), in frame order."""
        return [c for c in self.lsoa.columns if str(c).startswith("domain_")]


def _check_frame(
    frame: object, name: str, columns: tuple[str, ...], problems: list[str]
) -> None:
    if not isinstance(frame, gpd.GeoDataFrame):
        problems.append(f"{name}: expected a GeoDataFrame, got {type(frame).__name__}")
        return
    if frame.crs is None or not frame.crs.equals(METRIC_CRS):
        got = frame.crs.to_string() if frame.crs is not None else "no CRS"
        problems.append(f"{name}: expected CRS {METRIC_CRS}, got {got}; reproject with .to_crs('{METRIC_CRS}')")
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        problems.append(
            f"{name}: missing column(s) {', '.join(missing)}; has {', '.join(map(str, frame.columns))}"
        )


def _check_spec(spec: MapSpec) -> None:
    """Map settings the config parser takes by type only: their ranges are checked here."""
    problems = []
    tol = spec.simplify_m
    # Written so that NaN fails too: it would reach the map as NaN coordinates.
    if isinstance(tol, bool) or not isinstance(tol, (int, float, np.number)) or not 0 <= tol <= MAX_SIMPLIFY_M:
        problems.append(
            f"maps.simplify_m: expected 0 to {MAX_SIMPLIFY_M:g} metres (0 keeps every vertex), got {tol!r}"
        )
    split = spec.split_above
    if isinstance(split, bool) or not isinstance(split, (int, np.integer)) or split < 1:
        problems.append(f"maps.split_above: expected a whole number of LSOAs, 1 or more, got {split!r}")
    if problems:
        raise ConfigError(problems, source="the maps settings")


def _validate(bundle: MapBundle) -> None:
    problems: list[str] = []
    if bundle.classes not in CLASS_SCHEMES:
        problems.append(f"classes: expected one of {', '.join(CLASS_SCHEMES)}, got {bundle.classes!r}")
    _check_frame(bundle.lsoa, "lsoa", _LSOA_COLUMNS, problems)
    _check_frame(bundle.wards, "wards", ("ward_name",), problems)
    _check_frame(bundle.neighbourhoods, "neighbourhoods", _NEIGHBOURHOOD_COLUMNS, problems)
    if bundle.patrol_places is not None:
        _check_frame(bundle.patrol_places, "patrol_places", _PLACE_COLUMNS, problems)
    if not problems:
        lsoa = bundle.lsoa
        if len(lsoa) == 0:
            problems.append("lsoa: the frame is empty; the index produced no LSOAs")
        if not lsoa.index.is_unique:
            dupes = lsoa.index[lsoa.index.duplicated()].unique()[:5]
            problems.append(f"lsoa: index lsoa_code has duplicates ({', '.join(map(str, dupes))})")
        for col in ("score", "rank", "population", "gi_bin", "gi_bin_fdr", *bundle.domains):
            if not pd.api.types.is_numeric_dtype(lsoa[col]):
                problems.append(f"lsoa.{col}: expected numbers, got dtype {lsoa[col].dtype}")
        allowed = set(LISA_COLOURS)
        for col in ("lisa_cluster", "lisa_cluster_fdr"):
            bad = sorted(set(lsoa[col].dropna().astype(str)) - allowed)
            if bad:
                problems.append(
                    f"lsoa.{col}: unexpected categories {', '.join(map(repr, bad))}; "
                    f"expected {', '.join(LISA_COLOURS)}"
                )
        for col in ("gi_bin", "gi_bin_fdr"):
            if not pd.api.types.is_numeric_dtype(lsoa[col]):
                continue
            outside = lsoa[col].dropna()
            outside = outside[(outside < -3) | (outside > 3) | (outside % 1 != 0)]
            if len(outside):
                problems.append(
                    f"lsoa.{col}: expected whole numbers -3..3, got {outside.iloc[0]!r} "
                    f"for {outside.index[0]} ({len(outside)} LSOAs)"
                )
        if lsoa["score"].isna().all():
            problems.append("lsoa.score: every score is missing")
        if not bundle.neighbourhoods["rank"].is_unique:
            problems.append("neighbourhoods.rank: ranks must be unique (one page per rank)")
    if problems:
        raise InputError(problems, path="map bundle")


def bundle_for_run(cfg: Any, lsoa: gpd.GeoDataFrame, published: pd.DataFrame, boundaries: Any, nb: Any,
                   plan: Any, *, source_periods: Optional[dict[str, str]] = None) -> MapBundle:
    """The :class:`MapBundle` of a run: what the tables publish, with geometry.

    In public mode the maps get the suppressed values and no harm totals (with known
    weights they reveal counts), and no patrol places.

    Parameters
    ----------
    cfg : StudyConfig
    lsoa : GeoDataFrame
        LSOA geometry, indexed by ``lsoa_code``.
    published : DataFrame
        The published rankings (suppressed in public mode).
    boundaries : Boundaries
    nb : NeighbourhoodResult
    plan : PatrolPlan or None
    source_periods : dict, optional
        Source name -> the period the run read from it, for the credits.
    """
    from pli.area import area_type

    frame = gpd.GeoDataFrame(published.join(lsoa[["geometry"]]), geometry="geometry", crs=lsoa.crs)
    if cfg.output.public:
        frame = frame.drop(columns=["harm"], errors="ignore")
    labels = {s.name: (s.label or s.name) for s in cfg.indicators}
    for k in (1, 2, 3):
        frame[f"driver_{k}"] = frame[f"driver_{k}"].map(labels).astype(object) if f"driver_{k}" in frame else None
        frame[f"driver_{k}_value"] = frame.get(f"driver_{k}_contribution")
    frame = _with_authorities(frame, cfg)
    places = None
    if plan is not None and not cfg.output.public and len(plan.plan):
        places = plan.plan_frame()
    patrols = cfg.patrols
    used = {s.source for s in cfg.indicators} | {d.source for d in cfg.denominators.values()}
    if places is not None and patrols is not None and patrols.source:
        used.add(patrols.source)
    return MapBundle(
        lsoa=frame, wards=boundaries.wards, neighbourhoods=nb.neighbourhoods, patrol_places=places,
        upper_layer_label=cfg.area.upper_layer_label, upper_layer_note=cfg.area.upper_layer_note,
        indicator_labels=labels, lisa_alpha=cfg.clustering.alpha, classes=cfg.output.classes,
        area_type=area_type(cfg.area),
        credits=run_credits(cfg.sources, periods=source_periods, simulated=cfg.area.simulated,
                            used=[n for n in cfg.sources if n in used]),
        patrol_note=_patrol_note(cfg, plan),
        patrol_floor=_patrol_floor(patrols),
    )


def _with_authorities(frame: gpd.GeoDataFrame, cfg: Any) -> gpd.GeoDataFrame:
    """``frame`` with ``lad_code`` (and ``lad_name``) from ``area.lookup``, when it has a LAD column.

    Only a lookup of the boundaries' LSOA vintage is used: carried across vintages an
    LSOA can land in two authorities. Without one the split maps take the authority
    from the LSOA names (:mod:`pli.maps.split_by_area`).
    """
    spec = cfg.area.lookup
    if spec is None or spec.lad_column is None or (spec.vintage or cfg.boundaries.lsoa_vintage) != \
            cfg.boundaries.lsoa_vintage:
        return frame
    from pli.area.selection import read_area_lookup

    lookup = read_area_lookup(spec, resolve=cfg.resolve).set_index("lsoa")
    out = frame.copy()
    out["lad_code"] = lookup["lad"].reindex(out.index.astype(str)).to_numpy()
    if spec.lad_name_column:
        out["lad_name"] = lookup["lad_name"].reindex(out.index.astype(str)).to_numpy()
    return out


def _patrol_floor(patrols: Any) -> str:
    if patrols is None:
        return ""
    return (
        f"A place is planned only with at least {patrols.min_events} crimes of the patrol types in the "
        "window, as a borough-wide harm spot (2 SD above the mean, the power few or a Gi* hot spot) "
        "and with harm enough for one visit a week."
    )


def _patrol_note(cfg: Any, plan: Any) -> str:
    """Why a run's maps carry no micro-patrol places (``""`` when they do)."""
    patrols = cfg.patrols
    if patrols is None or patrols.source is None:
        return "No micro-patrol places: patrols are not planned in this run (no patrols: source in the config)."
    if cfg.output.public:
        return "No micro-patrol places: public output leaves point-level patrol places off the maps."
    if plan is None:
        return (
            f"No micro-patrol places: the patrol source {patrols.source!r} has no crime points "
            "(patrols need point records, e.g. police.uk street-level crime)."
        )
    if not len(plan.plan):
        return "No micro-patrol places: no place in any neighbourhood cleared the floor. " + _patrol_floor(patrols)
    return ""
