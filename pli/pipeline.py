"""The wiring: run every stage in order and hand the frames to the writers.

No analysis lives here; each step calls one stage module. All outputs go through one
:class:`~pli.outputs.OutputTransaction`, so a failed run leaves earlier outputs intact.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, ContextManager

import pandas as pd

from pli.config import StudyConfig, direction_warnings
from pli.maps import SENSITIVE_BANNER  # one wording for maps and files
from pli.validate import withhold_outside_content

__all__ = ["SENSITIVE_BANNER", "IndexRun", "run_index"]

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
    skipped: tuple[str, ...] = ()
    data_notes: tuple[str, ...] = ()

    def summary(self) -> str:
        lines = [f"NOTE: {note}" for note in self.data_notes]
        top = self.rankings.sort_values("rank").head(10)
        lines.append("Top 10 LSOAs:")
        for code, row in top.iterrows():
            lines.append(
                f"  {int(row['rank']):>3}  {code}  {row['lsoa_name']:<16} {row['ward_name']:<28} "
                f"score {row['score']:.3f}"
            )
        if len(self.neighbourhoods):
            lines.append("Priority neighbourhoods:")
            for _, nb in self.neighbourhoods.iterrows():
                harm_share = float(nb["harm_share"])
                harm_text = f", {100 * harm_share:.1f}% of crime harm" if harm_share == harm_share else ""
                lines.append(
                    f"  {int(nb['rank'])}. {nb['name']}: {int(nb['n_lsoas'])} LSOAs, "
                    f"population {int(nb['population']):,}{harm_text}"
                )
        m = self.moran
        if m:
            lines.append(
                f"Global Moran's I = {m['I']:.3f} (pseudo p = {m['p_sim']:.2g}, {m['permutations']:,} permutations)"
            )
        lines.append(f"Outputs: {self.out_dir}" + (f"; maps: {self.maps_dir}" if self.maps_dir else ""))
        if self.skipped:
            lines.append(f"Skipped on request: {', '.join(self.skipped)}")
        first = self.open_first()
        if first:
            width = max(len(str(path)) for path, _ in first)
            lines.append("Open first:")
            lines.extend(f"  {str(path):<{width}}  {what}" for path, what in first)
        return "\n".join(lines)

    def open_first(self) -> list[tuple[Path, str]]:
        """The files a reader should open first, with what each is for (those written)."""
        written = {Path(p).resolve() for p in self.files}
        wanted = []
        if self.maps_dir is not None:
            wanted.append((self.maps_dir / "index.html", "every map, starting with the priority neighbourhoods"))
        wanted += [
            (self.out_dir / "patrol_plan.csv", "where and when to patrol (handle as sensitive)"),
            (self.out_dir / "rankings.csv", "every LSOA ranked, with its indicators and drivers"),
        ]
        return [(path, what) for path, what in wanted if path.resolve() in written]


def _skipped_stages(*, run_patrols: bool, maps: bool) -> dict[str, str]:
    """What the run left out on request, for the manifest (empty when nothing was)."""
    skipped = {}
    if not run_patrols:
        skipped["patrols"] = "--no-patrols: no patrol plan, micro-places or patrol totals"
    if not maps:
        skipped["maps"] = "--no-maps: no HTML or PNG maps"
    return skipped


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
    patrols: bool = True,
    step: StepFactory = _null_step,
    cache: bool = True,
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
    offline : bool, optional
        ``True``: maps carry Leaflet inline (the default anyway); ``False``: they link it
        from CDNs (``maps.online: true``). ``None`` keeps the config's choice.
    public : bool, optional
        Overrides ``cfg.output.public``.
    patrols : bool, default True
        False skips the micro-patrol stage (``pli index --no-patrols``): no patrol files
        are written and the manifest's ``skipped`` says so. Skipping maps is
        ``maps_dir=None``.
    step : callable
        Context-manager factory used to announce progress of each step.
    cache : bool, default True
        Keep police.uk records read in ``.pli-cache`` beside ``out_dir`` (sources with
        ``cache: auto``) and read them from there while their files, area and settings
        are unchanged; False (``pli index --no-cache``) reads every file and caches
        nothing. The manifest's ``record_cache`` says which sources came from the cache.

    Raises
    ------
    ConfigError, InputError
        Bad seed, or output folders that clash with inputs or each other.
    OutputError
        Another run holds the folders, or the outputs could not be written.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> from pli.config import default_data_dir, load_config
    >>> from pli.pipeline import run_index
    >>> cfg = load_config(default_data_dir() / "configs" / "croydon-demo.yml")
    >>> out = Path(tempfile.mkdtemp()) / "output"
    >>> run = run_index(cfg, out_dir=out, maps_dir=None)
    >>> len(run.rankings), len(run.neighbourhoods)
    (220, 9)
    """
    from pli import transaction
    from pli.config import check_seed

    if seed is not None:
        check_seed(seed, source="--seed")
    targets = {"output": Path(out_dir)}
    if maps_dir is not None:
        targets["maps"] = Path(maps_dir)
    transaction.check_output_paths(
        targets,
        data_dir=cfg.data_dir,
        config_path=cfg.config_path,
        inputs=[cfg.resolve(path) for _, path in cfg.input_paths()],
    )
    from pli.indicators.record_cache import folder_beside, using_cache

    cache_dir = folder_beside(out_dir)
    with transaction.TargetLock(targets) as lock, using_cache(cache_dir, enabled=cache):
        return _run_index(
            cfg, targets=targets, lock=lock, seed=seed, offline=offline, public=public, run_patrols=patrols, step=step
        )


def _run_index(
    cfg: StudyConfig,
    *,
    targets: dict[str, Path],
    lock,
    seed: int | None = None,
    offline: bool | None = None,
    public: bool | None = None,
    run_patrols: bool = True,
    step: StepFactory = _null_step,
) -> IndexRun:
    """:func:`run_index` once the target folders are checked and ``lock`` is held."""
    from pli import boundaries as bnd_stage
    from pli import (
        clustering,
        disclosure,
        harm,
        index,
        indicators,
        manifest,
        maps,
        outputs,
        patrols,
        presets,
        priorities,
        tables,
    )
    from pli.area import data_notes, restrict_sources, with_data_notes
    from pli.validate import validate_inputs

    if seed is not None:
        cfg = dataclasses.replace(cfg, seed=seed)
    if offline is not None:  # offline=False: the maps link Leaflet from CDNs (--online)
        cfg = dataclasses.replace(cfg, maps=dataclasses.replace(cfg.maps, online=not offline, offline=None))
    if public is not None:
        cfg = dataclasses.replace(cfg, output=dataclasses.replace(cfg.output, public=public))
    cfg = with_data_notes(cfg)  # the sources as run decide what maps call simulated or absent

    with step("validating config and inputs"):
        for warning in direction_warnings(cfg):
            log.warning(warning)
        validate_inputs(cfg)

    with step("boundaries: LSOAs and their upper layer"):
        boundaries = bnd_stage.load_boundaries(cfg)

    with step(f"loading {len(cfg.sources)} source(s): {', '.join(cfg.sources)}"):
        area_codes = bnd_stage.study_area_codes(boundaries)
        sources = {
            name: indicators.load_source(name, spec, resolve=cfg.resolve, lsoa=boundaries.lsoa, area_codes=area_codes)
            for name, spec in cfg.sources.items()
        }
        sources, area_cut = restrict_sources(boundaries.area, sources)  # other authorities' LSOAs out
        boundaries = dataclasses.replace(boundaries, area=area_cut)
        bnd_stage.check_source_coverage(cfg, boundaries, sources)
    reconcile = bnd_stage.CodeReconciler(boundaries, cfg.sources)

    with step(f"indicators: {len(cfg.indicators)}"):
        harm_weights = harm.load_harm_weights(cfg.resolve(cfg.index.harm_weights) if cfg.index.harm_weights else None)
        # Population first: a column that is not residents must stop the run before any
        # denominator floor hides it.
        population = indicators.population_denominator(cfg, sources, reconcile, boundaries.lsoa.index)
        table = indicators.build_indicators(cfg, boundaries, sources, reconcile=reconcile, harm_weights=harm_weights)

    with step("composite index"):
        index_spec = presets.resolve_index_spec(cfg.index, raw=cfg.raw.get("index"))
        result = index.build_index(
            table.values,
            cfg.indicators,
            index_spec,
            seed=cfg.seed,
            wards=boundaries.lsoa["ward_code"],
            reference_values=table.study_area_rates(),
        )
    lsoa = boundaries.lsoa.join(table.values).join(result.to_frame()).join(result.top_drivers(3))
    lsoa = lsoa.assign(population=population, harm=table.harm_total())

    perms = clustering.effective_permutations(cfg.clustering, len(lsoa), log=False)
    with step(f"clustering: Moran's I, LISA and Gi* on {len(lsoa):,} LSOAs, {perms:,} permutations"):
        weights = clustering.build_weights(lsoa, cfg.clustering)
        backend = clustering.parallel_for(cfg.clustering)
        with backend if backend is not None else contextlib.nullcontext():
            clusters = clustering.compute_clustering(lsoa["score"], weights, cfg.clustering, seed=cfg.seed,
                                                     parallel=backend)
        lsoa = lsoa.join(clusters.to_frame())

    runs_text = f", {cfg.priorities.stability_runs:,} Monte Carlo runs" if cfg.priorities.stability_runs else ""
    with step(f"priority neighbourhoods: up to {cfg.priorities.count}{runs_text}"):
        runs = priorities.perturbed_scores(table.values, cfg.indicators, index_spec, runs=cfg.priorities.stability_runs, spread=cfg.priorities.stability_spread, seed=cfg.seed, wards=boundaries.lsoa["ward_code"], reference_values=table.study_area_rates()) if cfg.priorities.stability_runs else None  # noqa: E501
        nb = priorities.select_neighbourhoods(
            lsoa, weights, cfg.priorities, drivers=result.contributions, score_runs=runs, seed=cfg.seed
        )
        lsoa = lsoa.assign(neighbourhood_rank=nb.membership.reindex(lsoa.index))

    plan = None
    if run_patrols:
        with step("micro-patrol plan"):
            plan = patrols.plan_from_config(
                cfg, sources, nb.neighbourhoods, boundaries.lsoa, harm_weights=harm_weights
            )
            if plan is not None:
                patrols.warn_period_mismatch(plan, table.periods)
    else:
        log.info("micro-patrol plan skipped (--no-patrols): no patrol files are written")

    rankings = tables.rankings_table(lsoa, list(table.values.columns), classes=cfg.output.classes)
    published, published_raw = (
        disclosure.suppress(rankings, table, cfg, sources) if cfg.output.public else (rankings, table.raw)
    )
    out_dir, maps_dir = targets["output"], targets.get("maps")
    with outputs.OutputTransaction(targets, lock=lock) as tx:
        with step("writing tables and GeoPackage"):
            tables.write_run_tables(tx, cfg, lsoa, published, published_raw, boundaries, nb, plan)
        if maps_dir is not None:
            with step("maps"):
                maps.write_maps(
                    maps.bundle_for_run(cfg, lsoa, published, boundaries, nb, plan,
                                        source_periods={n: s.period for n, s in sources.items() if s.period}),
                    tx.staging_dir("maps"),
                    spec=cfg.maps,
                    area=cfg.area,
                    period=table.period_label(),
                    public=cfg.output.public,
                )
            outputs.write_json(outputs.folder_manifest(tx, "maps"), tx.path("maps", outputs.MANIFEST_NAME))
        run_manifest = manifest.build_manifest(
            cfg,
            boundaries=boundaries,
            sources=sources,
            table=table,
            rankings=rankings,
            nb=nb,
            plan=plan,
            clusters=clusters,
            result=result,
            index_spec=index_spec,
            reconciliations=reconcile.records_,
            tx=tx,
        )
        skipped = _skipped_stages(run_patrols=run_patrols, maps=maps_dir is not None)
        run_manifest["skipped"] = skipped
        outputs.write_json(run_manifest, tx.path("output", outputs.MANIFEST_NAME))
        files = tuple(tx.commit())
    return IndexRun(
        Path(out_dir),
        Path(maps_dir) if maps_dir else None,
        files,
        rankings,
        pd.DataFrame(nb.neighbourhoods.drop(columns="geometry")),
        clusters.moran.to_dict(),
        cfg.area.simulated,
        skipped=tuple(skipped.values()),
        data_notes=tuple(data_notes(cfg).sentences()),
    )
