"""The wiring: run every stage in order and hand the frames to the writers.

No analysis lives here; each step calls one stage module. All outputs go through one
:class:`~pli.outputs.OutputTransaction`, so a failed run leaves earlier outputs intact.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as _dt
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, ContextManager

import geopandas as gpd
import numpy as np
import pandas as pd

from pli import __version__
from pli.config import StudyConfig
from pli.validate import withhold_outside_content

__all__ = ["SENSITIVE_BANNER", "IndexRun", "run_index"]

from pli.maps import SENSITIVE_BANNER  # one wording for maps and files

log = logging.getLogger(__name__)

StepFactory = Callable[[str], ContextManager[None]]


@dataclass(frozen=True)
class IndexRun:
    """What a run produced (paths and headline results)."""

    out_dir: Path
    maps_dir: Path | None
    files: tuple[Path, ...]
    rankings: pd.DataFrame
    neighbourhoods: pd.DataFrame
    moran: dict
    simulated: bool

    def summary(self) -> str:
        lines = []
        if self.simulated:
            lines.append("NOTE: this run uses SIMULATED crime and deprivation data (demo config).")
        top = self.rankings.sort_values("rank").head(10)
        lines.append("Top 10 LSOAs:")
        for code, row in top.iterrows():
            lines.append(f"  {int(row['rank']):>3}  {code}  {row['lsoa_name']:<16} {row['ward_name']:<28} score {row['score']:.3f}")
        if len(self.neighbourhoods):
            lines.append("Priority neighbourhoods:")
            for _, nb in self.neighbourhoods.iterrows():
                lines.append(
                    f"  {int(nb['rank'])}. {nb['name']}: {int(nb['n_lsoas'])} LSOAs, "
                    f"population {int(nb['population']):,}, {100 * float(nb['harm_share']):.1f}% of crime harm"
                )
        m = self.moran
        if m:
            lines.append(f"Global Moran's I = {m['I']:.3f} (pseudo p = {m['p_sim']:.4f}, {m['permutations']} permutations)")
        lines.append(f"Outputs: {self.out_dir}" + (f"; maps: {self.maps_dir}" if self.maps_dir else ""))
        return "\n".join(lines)


def _null_step(label: str) -> ContextManager[None]:
    return contextlib.nullcontext()


@withhold_outside_content
def run_index(
    cfg: StudyConfig,
    *,
    out_dir: Path,
    maps_dir: Path | None = None,
    seed: int | None = None,
    offline: bool | None = None,
    public: bool | None = None,
    step: StepFactory = _null_step,
) -> IndexRun:
    """Run the whole chain for one study area and replace the output folders all-or-nothing.

    The folders are checked (no input inside, not each other, writable) and locked before
    any work; a commit interrupted by an earlier run is finished first.

    Parameters
    ----------
    cfg : StudyConfig
        Validated configuration.
    out_dir, maps_dir : Path
        Output folders; ``maps_dir=None`` skips maps. Each ends up holding exactly this run.
    seed : int, optional
        Overrides ``cfg.seed`` (checked like the config's seed).
    offline, public : bool, optional
        Override ``cfg.maps.offline`` and ``cfg.output.public``.
    step : callable
        Context-manager factory used to announce progress of each step.

    Raises
    ------
    ConfigError, InputError
        Bad seed, or output folders that clash with inputs or each other.
    OutputError
        Another run holds the folders, or the outputs could not be written.
    """
    from pli import transaction
    from pli.config import ConfigError

    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < 2**32):
        raise ConfigError([f"seed: expected a whole number from 0 to {2**32 - 1}, got {seed!r}"], source="--seed")
    targets = {"output": Path(out_dir)}
    if maps_dir is not None:
        targets["maps"] = Path(maps_dir)
    transaction.check_output_paths(targets, data_dir=cfg.data_dir, config_path=cfg.config_path,
                                   inputs=_config_input_paths(cfg))
    with transaction.TargetLock(targets) as lock:
        return _run_index(cfg, targets=targets, lock=lock, seed=seed, offline=offline, public=public, step=step)


def _config_input_paths(cfg: StudyConfig) -> list[Path]:
    """Every file or folder the config names (fields called ``path`` and harm weights)."""
    found: list[Path] = []

    def walk(obj) -> None:
        if dataclasses.is_dataclass(obj):
            for f in dataclasses.fields(obj):
                value = getattr(obj, f.name)
                if f.name in ("path", "harm_weights") and isinstance(value, (str, Path)) and str(value):
                    found.append(cfg.resolve(value))
                elif f.metadata.get("yaml", True):
                    walk(value)
        elif isinstance(obj, dict):
            for value in obj.values():
                walk(value)
        elif isinstance(obj, (list, tuple)):
            for value in obj:
                walk(value)

    walk(cfg)
    return found


def _run_index(
    cfg: StudyConfig,
    *,
    targets: dict[str, Path],
    lock,
    seed: int | None = None,
    offline: bool | None = None,
    public: bool | None = None,
    step: StepFactory = _null_step,
) -> IndexRun:
    """:func:`run_index` once the target folders are checked and ``lock`` is held."""
    from pli import boundaries as bnd_stage
    from pli import clustering, disclosure, harm, index, indicators, outputs, presets, priorities
    from pli.validate import validate_inputs

    if seed is not None:
        cfg = dataclasses.replace(cfg, seed=seed)
    if offline is not None:
        cfg = dataclasses.replace(cfg, maps=dataclasses.replace(cfg.maps, offline=offline))
    if public is not None:
        cfg = dataclasses.replace(cfg, output=dataclasses.replace(cfg.output, public=public))

    with step("validating config and inputs"):
        validate_inputs(cfg)

    with step("boundaries"):
        boundaries = bnd_stage.load_boundaries(cfg)

    with step("loading sources"):
        sources = {
            name: indicators.load_source(name, spec, resolve=cfg.resolve, lsoa=boundaries.lsoa)
            for name, spec in cfg.sources.items()
        }
        _check_coverage(cfg, boundaries, sources)

    reconciliations: dict[str, dict] = {}
    # Without a vintage lookup, codes must already match the boundaries; an empty lookup
    # makes reconcile_codes drop (and report) any that do not.
    lookup = boundaries.lookup
    if lookup is None:
        lookup = pd.DataFrame({"lsoa11": pd.Series(dtype=str), "lsoa21": pd.Series(dtype=str),
                               "change": pd.Series(dtype=str)})

    def reconcile(table: pd.DataFrame, *, aggregation: str = "sum", source: str = "") -> pd.DataFrame:
        result = bnd_stage.reconcile_codes(
            table, lookup, target_codes=boundaries.lsoa.index,
            target_vintage=boundaries.lsoa_vintage, aggregation=aggregation, source=source,
        )
        src_spec = cfg.sources.get(source)
        if (src_spec is not None and src_spec.kind == "lsoa_table" and src_spec.aggregation is None
                and result.mapped_codes > 0):
            from pli.errors import InputError

            raise InputError(
                f"sources.{source}.aggregation: {int(result.mapped_codes)} of the table's LSOA codes had to be "
                f"mapped to {boundaries.lsoa_vintage} LSOAs through the vintage lookup; set aggregation: sum if "
                "its columns are counts, or mean if they are scores or rates"
            )
        reconciliations[source] = {
            "mapped_codes": int(result.mapped_codes),
            "dropped_codes": list(result.dropped_codes),
        }
        return result.table

    with step("indicators"):
        weights_path = cfg.resolve(cfg.index.harm_weights) if cfg.index.harm_weights else None
        harm_weights = harm.load_harm_weights(weights_path)
        # Population first: a column that is not residents must stop the run before any
        # denominator floor hides it.
        population = _population(cfg, sources, reconcile, boundaries.lsoa.index)
        table = indicators.build_indicators(cfg, boundaries, sources, reconcile=reconcile, harm_weights=harm_weights)
        harm_total = _harm_total(cfg, table)

    with step("composite index"):
        index_spec = presets.resolve_index_spec(cfg.index, raw=cfg.raw.get("index"))
        result = index.build_index(
            table.values, cfg.indicators, index_spec, seed=cfg.seed,
            wards=boundaries.lsoa["ward_code"], reference_values=_study_area_rates(cfg, table),
        )

    drivers = result.top_drivers(3)
    lsoa = boundaries.lsoa.join(table.values).join(result.to_frame()).join(drivers)
    lsoa["population"] = population
    lsoa["harm"] = harm_total

    with step(f"spatial clustering ({cfg.clustering.permutations} permutations)"):
        weights = clustering.build_weights(lsoa, cfg.clustering)
        clusters = clustering.compute_clustering(lsoa["score"], weights, cfg.clustering, seed=cfg.seed)
        lsoa = lsoa.join(clusters.to_frame())

    with step("priority neighbourhoods"):
        nb = priorities.select_neighbourhoods(
            lsoa, weights, cfg.priorities, drivers=result.contributions, seed=cfg.seed,
        )
        lsoa["neighbourhood_rank"] = nb.membership.reindex(lsoa.index)

    plan = None
    if cfg.patrols is not None and cfg.patrols.source is not None:
        if cfg.output.public:
            log.info("patrols: public mode writes no point-level or patrol outputs")
        else:
            plan = _plan_patrols(cfg, sources, nb, boundaries, harm_weights, step)
            if plan is not None:
                _warn_period_mismatch(plan, table)

    rankings = _rankings_frame(lsoa, table, result)
    published, published_raw = (disclosure.suppress(rankings, table, cfg, sources) if cfg.output.public
                                else (rankings, table.raw))
    out_dir, maps_dir = targets["output"], targets.get("maps")
    with outputs.OutputTransaction(targets, lock=lock) as tx:
        with step("writing tables and GeoPackage"):
            _write_tables(tx, cfg, lsoa, published, published_raw, boundaries, nb, plan)
        if maps_dir is not None:
            with step("maps"):
                from pli import maps

                bundle = _map_bundle(cfg, lsoa, published, boundaries, nb, plan)
                maps.write_maps(bundle, tx.staging_dir("maps"), spec=cfg.maps, area=cfg.area,
                                period=_period_label(table), public=cfg.output.public)
            outputs.write_json(outputs.folder_manifest(tx, "maps"), tx.path("maps", outputs.MANIFEST_NAME))
        manifest = _manifest(cfg, boundaries, sources, table, rankings, nb, plan, clusters, result,
                             index_spec, reconciliations, tx)
        outputs.write_json(manifest, tx.path("output", outputs.MANIFEST_NAME))
        files = tuple(tx.commit())
    return IndexRun(
        Path(out_dir), Path(maps_dir) if maps_dir else None, files, rankings,
        pd.DataFrame(nb.neighbourhoods.drop(columns="geometry")), clusters.moran.to_dict(), cfg.area.simulated,
    )


# --------------------------------------------------------------------------- helpers


def _population(cfg: StudyConfig, sources, reconcile, codes: pd.Index) -> pd.Series:
    from pli.errors import InputError

    den = cfg.denominators.get("population")
    if den is None:
        raise InputError("denominators.population is required: residents per LSOA set the neighbourhood "
                         "population bounds and the population shown on maps; add e.g. "
                         "{source: census, column: usual_residents}")
    src = sources[den.source]
    if den.column not in src.table.columns:
        raise InputError(f"denominators.population: source {den.source!r} has no column {den.column!r}; "
                         f"columns are: {', '.join(map(str, src.table.columns[:12]))}")
    col = src.table[[den.column]]
    if src.vintage != cfg.boundaries.lsoa_vintage or not col.index.isin(codes).all():
        col = reconcile(col, aggregation="sum", source=den.source)
    population = col[den.column].reindex(codes).astype(float).rename("population")
    _check_residents(population, den, src)
    return population


# An LSOA was designed for 1,000-3,000 residents (a few reach about 10,000); a median far
# outside that is a column in thousands, a density, a share or a total, not residents.
_RESIDENTS_MEDIAN = (100.0, 25_000.0)


def _check_residents(population: pd.Series, den, src) -> None:
    """Residents per LSOA must be present, positive and of a plausible size."""
    from pli.errors import InputError

    files = ", ".join(p.name for p in src.files)
    where = f"denominators.population: source {den.source!r} ({files}), column {den.column!r}"
    missing = population.isna()
    if missing.any():
        raise InputError(f"{where} has no value for {int(missing.sum())} boundary LSOA(s): "
                         f"{', '.join(population.index[missing][:10])}; every LSOA needs its residents: "
                         "check the source covers the boundary LSOAs (same vintage, or a vintage lookup)")
    median = float(population.median())
    low, high = _RESIDENTS_MEDIAN
    if not low <= median <= high:
        unit = "thousands, a density or a share" if median < low else "a total over many LSOAs"
        raise InputError(f"{where} does not hold residents per LSOA: its median is {median:,.4g} per LSOA, "
                         f"expected about 1,000-3,000 ({low:,.0f} to {high:,.0f} accepted); it looks like {unit}: choose "
                         "the column of usual residents (a count of people)")
    bad = population <= 0
    if bad.any():
        shown = ", ".join(f"{c} ({v:g})" for c, v in population[bad].head(10).items())
        raise InputError(f"denominator 'population' ({den.source}.{den.column}) is zero or negative for "
                         f"{int(bad.sum())} LSOA(s): {shown}; {where} must count the residents of every LSOA "
                         "(about 1,000-3,000 each): fix the source rather than relying on a floor")


def _check_coverage(cfg: StudyConfig, boundaries, sources) -> None:
    """Boundary file against the study area (the population source's LSOAs); see check_coverage."""
    from pli import boundaries as bnd_stage

    den = cfg.denominators.get("population")
    codes = {
        name: (src.table.index, src.files[0] if len(src.files) == 1 else None)
        for name, src in sources.items() if src.kind != "points"
    }
    if den is None or den.source not in codes:
        return
    complete = [name for name, src in sources.items() if src.kind == "iod2019"]
    bnd_stage.check_coverage(boundaries, codes, study_area=den.source, complete=complete,
                             allow_gaps=cfg.boundaries.allow_coverage_gaps)


def _harm_total(cfg: StudyConfig, table) -> pd.Series:
    """Total crime harm (days) per LSOA from the first harm-weighted indicator."""
    for spec in cfg.indicators:
        col = f"{spec.name}_numerator"
        if spec.harm and col in table.raw.columns:
            return table.raw[col].astype(float).rename("harm")
    return pd.Series(np.nan, index=table.values.index, name="harm")


def _study_area_rates(cfg: StudyConfig, table) -> dict[str, float]:
    """Study-area rate of each indicator (sum of numerators over sum of denominators)."""
    out: dict[str, float] = {}
    for spec in cfg.indicators:
        num = table.raw.get(f"{spec.name}_numerator")
        den = table.raw.get(f"{spec.name}_denominator")
        if spec.transform in ("rate", "share") and num is not None and den is not None and den.sum() > 0:
            out[spec.name] = float(num.sum() / den.sum()) * (1000.0 if spec.transform == "rate" else 1.0)
        else:
            out[spec.name] = float(table.values[spec.name].mean())
    return out


def _warn_period_mismatch(plan, table) -> None:
    """Patrol points from another period than the index's crime deserve a loud note."""
    start, end = getattr(plan, "start_month", None), getattr(plan, "end_month", None)
    if not start or not end:
        return
    for name, period in table.periods.items():
        lo, _, hi = period.partition(" to ")
        if hi and (end < lo or start > hi):
            log.warning("patrols: the patrol points cover %s to %s but indicator %s covers %s; "
                        "the patrol plan and the index describe different periods", start, end, name, period)
            return


def _period_label(table) -> str:
    periods = sorted(set(table.periods.values()))
    return "; ".join(periods) if periods else "period not stated"


def _plan_patrols(cfg, sources, nb, boundaries, harm_weights, step):
    from pli import patrols

    spec = cfg.patrols
    src_spec = cfg.sources[spec.source]
    points = sources[spec.source].points
    if points is None or len(points) == 0:
        log.warning("patrols: source %r has no point records; no patrol plan written", spec.source)
        return None
    scheme = "mps" if src_spec.kind == "mps_lsoa_crime" else "police_uk"
    with step(f"micro-patrol plan ({len(points):,} points, {spec.cell_size_m:g} m {spec.grid} grid)"):
        options = patrols.patrol_options(spec)
        options.pop("scheme", None)
        return patrols.plan_patrols(
            points, nb.neighbourhoods, boundaries.lsoa, harm_weights=harm_weights, scheme=scheme,
            seed=cfg.seed, **options,
        )


def _rankings_frame(lsoa: gpd.GeoDataFrame, table, result) -> pd.DataFrame:
    """One row per LSOA, sorted by rank then code: the table analysts open first."""
    front = ["lsoa_name", "ward_code", "ward_name", "ward_overlap_share", "population", "harm"]
    indicators_ = list(table.values.columns)
    scores = ["score", "rank", "decile"]
    domains = [c for c in lsoa.columns if str(c).startswith("domain_")]
    contributions = [c for c in lsoa.columns if str(c).startswith("contribution_")]
    drivers = [c for c in lsoa.columns if str(c).startswith("driver_") and not str(c).endswith("_label")]
    spatial = [c for c in lsoa.columns if str(c).startswith(("lisa_", "gi_"))] + ["neighbourhood_rank"]
    cols = front + indicators_ + scores + domains + contributions + drivers + spatial
    frame = pd.DataFrame(lsoa[cols])
    frame.index.name = "lsoa_code"
    order = np.lexsort((frame.index.astype(str), frame["rank"].to_numpy()))
    return frame.iloc[order]


def _write_tables(tx, cfg, lsoa, table_out, raw_out, boundaries, nb, plan) -> None:
    from pli import outputs

    public = cfg.output.public
    outputs.write_csv(table_out.reset_index(), tx.path("output", "rankings.csv"))
    raw = pd.DataFrame(raw_out).reindex(table_out.index)
    raw.index.name = "lsoa_code"
    outputs.write_csv(raw.reset_index(), tx.path("output", "indicator_inputs.csv"))
    lsoa_layer = gpd.GeoDataFrame(table_out.join(lsoa[["geometry"]]), geometry="geometry", crs=lsoa.crs)
    wards = boundaries.wards.join(nb.wards.set_index("ward_code").drop(columns=["ward_name"], errors="ignore"))
    layers = [("lsoa", lsoa_layer.reset_index()), ("wards", wards.reset_index())]
    outputs.write_csv(pd.DataFrame(nb.wards), tx.path("output", "wards.csv"))
    nbh = nb.neighbourhoods
    layers.append(("priority_neighbourhoods", nbh))
    outputs.write_csv(pd.DataFrame(nbh.drop(columns="geometry")), tx.path("output", "priority_neighbourhoods.csv"))
    outputs.write_geojson(nbh, tx.path("output", "priority_neighbourhoods.geojson"))
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
    outputs.write_geopackage(layers, tx.path("output", "pli.gpkg"))


def _map_bundle(cfg, lsoa, published, boundaries, nb, plan):
    from pli import maps

    # Maps show what the tables publish: in public mode the suppressed values and no
    # harm totals (with known weights they reveal counts).
    frame = gpd.GeoDataFrame(published.join(lsoa[["geometry"]]), geometry="geometry", crs=lsoa.crs)
    if cfg.output.public:
        frame = frame.drop(columns=["harm"], errors="ignore")
    labels = {s.name: (s.label or s.name) for s in cfg.indicators}
    for k in (1, 2, 3):
        frame[f"driver_{k}"] = frame[f"driver_{k}"].map(labels).astype(object) if f"driver_{k}" in frame else None
        frame[f"driver_{k}_value"] = frame.get(f"driver_{k}_contribution")
    places = None
    if plan is not None and not cfg.output.public and len(plan.plan):
        geometry = plan.places.geometry.reindex(plan.plan["place_id"]).to_numpy()
        places = gpd.GeoDataFrame(plan.plan.reset_index(drop=True), geometry=geometry, crs=plan.places.crs)
    return maps.MapBundle(
        lsoa=frame, wards=boundaries.wards, neighbourhoods=nb.neighbourhoods, patrol_places=places,
        upper_layer_label=cfg.area.upper_layer_label, upper_layer_note=cfg.area.upper_layer_note,
        indicator_labels=labels, lisa_alpha=cfg.clustering.alpha,
    )


def _manifest(cfg, boundaries, sources, table, rankings, nb, plan, clusters, result, index_spec,
              reconciliations, tx) -> dict:
    from pli import outputs, priorities

    input_paths = list(boundaries.files)
    for src in sources.values():
        input_paths.extend(src.files)
    for extra in (cfg.boundaries.vintage_lookup, cfg.boundaries.upper_from_table):
        if extra is not None:
            input_paths.append(cfg.resolve(extra.path))
    harm_path = cfg.resolve(cfg.index.harm_weights) if cfg.index.harm_weights else None
    from pli import harm as harm_mod

    default_harm = harm_mod.DEFAULT_HARM_WEIGHTS if harm_path is None else None
    inputs = outputs.hash_inputs(input_paths, relative_to=cfg.data_dir)
    for p in (harm_path, default_harm, cfg.config_path):
        if p is not None and Path(p).is_file():
            inputs[outputs.input_key(p, cfg.data_dir)] = outputs.file_sha256(p)
    staged = tx.staged_files()
    output_hashes = {
        f"{name}:{rel.as_posix()}": outputs.file_sha256(tx.staging_dir(name) / rel)
        for name, rels in staged.items() for rel in rels
    }
    weights = result.weights.reset_index().to_dict(orient="records")
    return {
        "pli_version": __version__,
        "created_utc": _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0).isoformat(),
        "area": cfg.area.name,
        "simulated": cfg.area.simulated,
        "simulated_note": ("SIMULATED crime and deprivation values: demo only, not facts about the area"
                           if cfg.area.simulated else None),
        "public_mode": cfg.output.public,
        "public_note": (f"public mode: counts below {cfg.output.suppress_below} suppressed; no point-level "
                        "or patrol outputs written" if cfg.output.public else None),
        "seed": cfg.seed,
        "config_path": str(cfg.config_path) if cfg.config_path else None,
        "config": cfg.raw,
        "data_dir": str(cfg.data_dir),
        "inputs": inputs,
        "periods": table.periods,
        "row_counts": {
            "lsoa": int(len(rankings)),
            "wards": int(len(boundaries.wards)),
            "priority_neighbourhoods": int(len(nb.neighbourhoods)),
            "patrol_plan": int(len(plan.plan)) if plan is not None else 0,
            "sources": {name: int(src.rows_read) for name, src in sources.items()},
        },
        "reconciliation": reconciliations,
        "harm_by_category": ({} if cfg.output.public else {
            name: frame.reset_index().to_dict(orient="records") for name, frame in table.harm_by_category.items()
        }),
        "patrols": plan.to_manifest() if plan is not None else None,
        "index": {
            "preset": cfg.index.preset,
            "resolved": dataclasses.asdict(index_spec),
            "weights": weights,
            "pca": (result.pca.to_frame().reset_index().to_dict(orient="records") if result.pca is not None else None),
            "imputed": {k: list(v) for k, v in result.imputed.items()},
        },
        "clustering": clusters.to_dict(),
        "priorities": {
            "threshold": _jsonable(nb.threshold), "coverage": _jsonable(nb.coverage),
            "cutoff": _jsonable(getattr(nb, "cutoff", None)), "priority_basis": getattr(nb, "priority_basis", None),
            "columns": getattr(priorities, "NEIGHBOURHOOD_COLUMN_DESCRIPTIONS", None),
        },
        "packages": outputs.package_versions(),
        "run_id": tx.run_id,
        # Relative to the output folder, so a copied pair of folders still verifies.
        "output_roots": {name: os.path.relpath(Path(root).resolve(), Path(tx.targets["output"]).resolve())
                         for name, root in tx.targets.items()},
        "outputs": output_hashes,
    }


def _jsonable(value):
    if isinstance(value, (np.floating, np.integer)):
        return value.item()
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    return value
