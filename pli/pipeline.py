"""The wiring: run every stage in order and hand the frames to the writers.

No analysis lives here; each step calls one stage module. All outputs go through one
:class:`~pli.outputs.OutputTransaction`, so a failed run leaves earlier outputs intact.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as _dt
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, ContextManager

import geopandas as gpd
import numpy as np
import pandas as pd

from pli import __version__
from pli.config import StudyConfig

__all__ = ["IndexRun", "run_index"]

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
    """Run the whole chain for one study area and write every output atomically.

    Parameters
    ----------
    cfg : StudyConfig
        Validated configuration.
    out_dir, maps_dir : Path
        Output folders; ``maps_dir=None`` skips maps.
    seed : int, optional
        Overrides ``cfg.seed``.
    offline, public : bool, optional
        Override ``cfg.maps.offline`` and ``cfg.output.public``.
    step : callable
        Context-manager factory used to announce progress of each step.
    """
    from pli import boundaries as bnd_stage
    from pli import clustering, harm, indicators, index, outputs, priorities

    if seed is not None:
        cfg = dataclasses.replace(cfg, seed=seed)
    if offline is not None:
        cfg = dataclasses.replace(cfg, maps=dataclasses.replace(cfg.maps, offline=offline))
    if public is not None:
        cfg = dataclasses.replace(cfg, output=dataclasses.replace(cfg.output, public=public))

    with step("validating config and inputs"):
        from pli.validate import validate_inputs

        validate_inputs(cfg)

    with step("boundaries"):
        boundaries = bnd_stage.load_boundaries(cfg)

    with step("loading sources"):
        sources = {
            name: indicators.load_source(name, spec, resolve=cfg.resolve, lsoa=boundaries.lsoa)
            for name, spec in cfg.sources.items()
        }

    reconciliations: dict[str, dict] = {}

    def reconcile(table: pd.DataFrame, *, aggregation: str = "sum", source: str = "") -> pd.DataFrame:
        result = bnd_stage.reconcile_codes(
            table,
            boundaries.lookup,
            target_codes=boundaries.lsoa.index,
            target_vintage=boundaries.lsoa_vintage,
            aggregation=aggregation,
            source=source,
        )
        reconciliations[source] = {
            "mapped_codes": int(result.mapped_codes),
            "dropped_codes": list(result.dropped_codes),
        }
        return result.table

    with step("indicators"):
        weights_path = cfg.resolve(cfg.index.harm_weights) if cfg.index.harm_weights else None
        harm_weights = harm.load_harm_weights(weights_path)
        table = indicators.build_indicators(
            cfg, boundaries, sources, reconcile=reconcile, harm_weights=harm_weights
        )

    with step("composite index"):
        index_spec = index.resolve_index_spec(cfg.index, raw=cfg.raw.get("index"))
        result = index.build_index(
            table.values, cfg.indicators, index_spec, seed=cfg.seed, wards=boundaries.lsoa["ward_code"]
        )

    lsoa = boundaries.lsoa.join(table.values).join(result.to_frame())
    lsoa["population"] = table.population.reindex(lsoa.index)
    lsoa["harm"] = table.harm.reindex(lsoa.index) if table.harm is not None else np.nan

    with step(f"spatial clustering ({cfg.clustering.permutations} permutations)"):
        weights = clustering.build_weights(lsoa, cfg.clustering)
        c = cfg.clustering
        moran = clustering.global_moran(lsoa["score"], weights, permutations=c.permutations, seed=cfg.seed)
        lisa = clustering.local_moran(lsoa["score"], weights, alpha=c.alpha, permutations=c.permutations, seed=cfg.seed)
        gi = clustering.getis_ord(lsoa["score"], weights, permutations=c.permutations, seed=cfg.seed)
        lsoa = lsoa.join(lisa.to_frame()).join(gi.to_frame())

    with step("priority neighbourhoods"):
        nb = priorities.select_neighbourhoods(
            lsoa, weights, cfg.priorities, drivers=result.contributions, seed=cfg.seed,
        )
        lsoa["neighbourhood_rank"] = nb.membership.reindex(lsoa.index)

    plan = None
    if cfg.patrols is not None and cfg.patrols.source is not None and not cfg.output.public:
        from pli import patrols

        points = sources[cfg.patrols.source].points
        if points is None or len(points) == 0:
            log.warning("patrols: source %r has no point records; no patrol plan written", cfg.patrols.source)
        else:
            with step(f"micro-patrol plan ({len(points):,} points)"):
                plan = patrols.plan_patrols(
                    points, nb.neighbourhoods, boundaries.lsoa,
                    harm_weights=harm_weights, spec=cfg.patrols, seed=cfg.seed,
                )

    with outputs.OutputTransaction({"output": out_dir, **({"maps": maps_dir} if maps_dir else {})}) as tx:
        with step("writing outputs"):
            rankings = _rankings_frame(lsoa, result)
            written = _write_tables(tx, cfg, lsoa, rankings, boundaries, nb, plan, moran)
        if maps_dir is not None:
            with step("maps"):
                from pli import maps

                bundle = maps.MapBundle.from_run(lsoa, boundaries.wards, nb.neighbourhoods,
                                                 plan.places_for_map() if plan is not None else None, cfg, result)
                maps.write_maps(bundle, tx.staging_dir("maps"), spec=cfg.maps, area=cfg.area,
                                period=table.period_label(), public=cfg.output.public)
        manifest = _manifest(cfg, boundaries, sources, table, lsoa, nb, moran, reconciliations, tx,
                             out_dir=out_dir, maps_dir=maps_dir, plan=plan)
        outputs.write_json(manifest, tx.path("output", outputs.MANIFEST_NAME))
        files = tuple(tx.commit())
    return IndexRun(out_dir, maps_dir, files, rankings, pd.DataFrame(nb.neighbourhoods.drop(columns="geometry")),
                    moran.to_dict(), cfg.area.simulated)
