"""Design a trial from a config and a run folder, and write its tables, figure, map and manifest."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

import folium
import numpy as np
import pandas as pd

from pli import outputs
from pli._map_assets import (
    Attribution,
    FitView,
    LegendControl,
    MapPanel,
    escape_text,
    inline_assets,
    legend_html,
    stable_element_ids,
)
from pli.errors import InputError
from pli.handling import SENSITIVE, default_marking, marked, write_handling_note
from pli.maps.figures import png_bytes
from pli.maps.pages import plain_map
from pli.maps.rendering import render_page
from pli.trial.design import TrialAllocation, allocate_blocks, allocate_pairs, crossover_schedule
from pli.trial.places import cell_centres, monthly_counts, read_places, top_cells
from pli.trial.power import PowerCurve, crossover_power_curve, power_curve

__all__ = ["TrialDesign", "design_trial", "power_figure", "trial_page", "write_trial"]

log = logging.getLogger(__name__)

_ARM_COLOURS = {"treated": "#d7301f", "control": "#2b8cbe", "excluded": "#969696"}


@dataclass(frozen=True)
class TrialDesign:
    """A designed trial: places, pre-period counts, allocation, power and (optionally) a crossover schedule.

    Attributes
    ----------
    places : pandas.DataFrame
        Eligible places (index ``place_id``): ``neighbourhood``, ``easting``, ``northing``.
    counts : pandas.DataFrame
        Pre-period records per place (rows) and month (columns).
    allocation : TrialAllocation
    power : PowerCurve
    schedule : pandas.DataFrame or None
        The crossover schedule (``design == "crossover"``).
    design : str
    source, period : str
        Point source and months the counts come from.
    seed : int
    credits : str
        Who to credit on the map (:mod:`pli.maps.credits`, from the point source used).
    """

    places: pd.DataFrame
    counts: pd.DataFrame
    allocation: TrialAllocation
    power: PowerCurve
    schedule: Optional[pd.DataFrame]
    design: str
    source: str
    period: str
    seed: int
    credits: str = ""

    def allocation_frame(self) -> pd.DataFrame:
        """The allocation list with each place's block, location and pre-period counts."""
        frame = self.allocation.to_frame().set_index("place_id")
        frame = frame.join(self.places[["neighbourhood", "easting", "northing"]], how="left")
        frame["pre_months"] = self.counts.shape[1]
        frame["pre_per_month"] = self.counts.loc[frame.index].mean(axis=1)
        for place in self.allocation.excluded:
            frame.loc[place, ["group", "arm", "pre_harm"]] = ["", "excluded", float(self.counts.loc[place].sum())]
            frame.loc[place, ["neighbourhood", "easting", "northing"]] = self.places.loc[
                place, ["neighbourhood", "easting", "northing"]].to_numpy()
            frame.loc[place, "pre_months"] = self.counts.shape[1]
            frame.loc[place, "pre_per_month"] = float(self.counts.loc[place].mean())
        return frame.reset_index()

    def summary(self) -> str:
        bal = self.allocation.balance()
        lines = [f"Trial ({self.design}): {len(self.allocation.allocation)} places, "
                 f"{int((self.allocation.allocation['arm'] == 'treated').sum())} treated; pre-period "
                 f"{self.period} from source {self.source!r}, seed {self.seed}"]
        for arm, row in bal.iterrows():
            lines.append(f"  {arm}: {int(row['places'])} places, mean pre-period count {row['mean']:.1f}")
        if self.allocation.excluded:
            lines.append(f"  left out (odd place): {', '.join(self.allocation.excluded)}")
        lines.append(self.power.summary())
        if self.schedule is not None:
            lines.append("  (crossover: every place is its own control; arms above are the arm each place starts in)")
        return "\n".join(lines)


def design_trial(cfg: Any, run_dir: str | Path, *, places: str = "plan", top: int = 20, design: str = "pairs",
                 months: tuple[int, ...] = (3, 6, 12), effect: float = 0.2, simulations: int = 500,
                 permutations: int = 199, alpha: float = 0.05, target_power: float = 0.8,
                 crossover_weeks: int = 8, period_weeks: int = 1, washout_weeks: int = 1,
                 seed: int = 0, boundaries: Any = None) -> TrialDesign:
    """Design a trial over the places of a run, with counts from the config's point source.

    Parameters
    ----------
    cfg : StudyConfig
        The config of the run; its ``patrols.source`` (else the first points source)
        gives the records, filtered to ``patrols.categories``.
    run_dir : path
        Output folder of ``pli index``.
    places : {"plan", "lsoa", "cells"}
        The run's patrol places, its ``top`` ranked LSOAs, or the ``top`` grid cells
        (``patrols.cell_size_m``) with the most records.
    design : {"pairs", "blocks", "crossover"}
        Matched pairs, blocks by neighbourhood, or matched pairs plus a crossover schedule.
    """
    from pli.boundaries import load_boundaries
    from pli.indicators import load_source
    from pli.patrols import select_points

    if design not in ("pairs", "blocks", "crossover"):
        raise InputError(f"design: expected pairs, blocks or crossover, got {design!r}")
    if places not in ("plan", "lsoa", "cells"):
        raise InputError(f"places: expected plan, lsoa or cells, got {places!r}")
    patrols = cfg.patrols
    source = patrols.source if patrols is not None and patrols.source else None
    if source is None:
        source = next((n for n, s in cfg.sources.items() if s.kind in ("police_uk", "points")), None)
    if source is None:
        raise InputError("trial: the config has no point source (a police_uk or points source) to count "
                         "pre-period records per place")
    lsoa = boundaries if boundaries is not None else load_boundaries(cfg).lsoa
    table = load_source(source, cfg.sources[source], resolve=cfg.resolve, lsoa=lsoa)
    if table.points is None or table.points.empty:
        raise InputError(f"sources.{source}: no point records to count")
    categories = list(patrols.categories) if patrols is not None and patrols.categories else None
    points = select_points(table.points, categories=categories)
    cell_size = patrols.cell_size_m if patrols is not None else 150.0
    if places == "cells":
        eligible = top_cells(points, n=top, cell_size_m=cell_size)
        eligible["neighbourhood"] = "all"
        eligible["kind"] = "grid"
    else:
        eligible = read_places(run_dir, source="plan" if places == "plan" else "lsoa", top=top)
    eligible = eligible.set_index("place_id")
    kind = "lsoa" if places == "lsoa" else "grid"
    counts = monthly_counts(points, eligible.index, kind=kind)  # type: ignore[arg-type]
    if kind == "grid":
        centres = cell_centres(eligible.index)
        eligible["easting"], eligible["northing"] = centres["easting"], centres["northing"]
    else:
        centroids = lsoa.geometry.centroid.reindex(eligible.index)
        eligible["easting"], eligible["northing"] = centroids.x, centroids.y
    harm = counts.sum(axis=1).astype(float)
    log.info("trial: %d eligible places, %d pre-period months (%s to %s), %d records", len(counts),
             counts.shape[1], counts.columns[0], counts.columns[-1], int(harm.sum()))
    schedule = None
    if design == "crossover":
        schedule = crossover_schedule(list(counts.index), weeks=crossover_weeks, period_weeks=period_weeks,
                                      washout_weeks=washout_weeks, seed=seed)
        allocation = _crossover_allocation(schedule, harm, seed)
        curve = crossover_power_curve(counts, weeks=sorted({8, 26, 52, int(crossover_weeks)}),
                                      period_weeks=period_weeks, washout_weeks=washout_weeks, target_effect=effect,
                                      target_power=target_power, simulations=simulations,
                                      permutations=permutations, alpha=alpha, seed=seed)
    else:
        if design == "blocks":
            allocation = allocate_blocks(harm, eligible["neighbourhood"].astype(str), seed=seed)
        else:
            allocation = allocate_pairs(harm, seed=seed)
        curve = power_curve(counts, allocation, months=months, target_effect=effect, target_power=target_power,
                            simulations=simulations, permutations=permutations, alpha=alpha, seed=seed)
    period = f"{counts.columns[0]} to {counts.columns[-1]}"
    from pli.maps.credits import run_credits, short_attribution

    credits = short_attribution(run_credits({source: cfg.sources[source]}, periods={source: period},
                                            simulated=cfg.area.simulated)) if source in cfg.sources else ""
    return TrialDesign(eligible, counts, allocation, curve, schedule, design, source, period, int(seed), credits)


def _crossover_allocation(schedule: pd.DataFrame, harm: pd.Series, seed: int) -> TrialAllocation:
    """The crossover as an allocation list: every place, grouped by sequence, ``arm`` = its first arm."""
    first = schedule[schedule["week"] == 1].set_index("place_id")
    frame = pd.DataFrame({"group": first["sequence"], "arm": first["arm"], "pre_harm": harm.reindex(first.index)})
    return TrialAllocation("crossover", frame.rename_axis("place_id"), (), int(seed))


def power_figure(curve: PowerCurve) -> bytes:
    """PNG of power against relative reduction, one line per trial length."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    with matplotlib.rc_context({"text.parse_math": False, "text.usetex": False}):
        fig, ax = plt.subplots(figsize=(7, 4.5))
        for m, g in curve.table.groupby(curve.unit):
            ax.errorbar(g["effect"] * 100, g["power"], yerr=1.96 * g["mc_se"], marker="o", capsize=2,
                        label=f"{m} {curve.unit}")
        ax.axhline(curve.target_power, color="grey", ls="--", lw=1)
        ax.axhline(curve.alpha, color="grey", ls=":", lw=1)
        ax.set_xlabel("Reduction in treated places (%)")
        ax.set_ylabel("Power")
        ax.set_ylim(0, 1.02)
        ax.set_title(f"Power by simulation ({curve.simulations} trials per point, alpha {curve.alpha})")
        ax.legend(title="Trial length")
        fig.tight_layout()
        return png_bytes(fig, dpi=150)


def trial_page(trial: TrialDesign, *, offline: bool = True) -> str:
    """HTML map of the places, coloured by arm, with group and pre-period counts in the tooltips."""
    import geopandas as gpd

    frame = trial.allocation_frame().dropna(subset=["easting", "northing"])
    if frame.empty:
        raise InputError("trial map: no place has a location")
    geo = gpd.GeoDataFrame(frame, geometry=gpd.points_from_xy(frame["easting"], frame["northing"]),
                           crs=27700).to_crs(4326)
    west, south, east, north = geo.total_bounds
    with stable_element_ids("trial.html"):
        m = plain_map((west, south, east, north), zoom_start=13)
        for _, row in geo.iterrows():
            tip = (f"<b>{escape_text(row['place_id'])}</b> {escape_text(row['arm'])}<br>"
                   f"{escape_text(row['neighbourhood'])}, group {escape_text(row['group'])}<br>"
                   f"pre-period {escape_text(f'{row.pre_per_month:.1f}')} a month")
            folium.CircleMarker([row.geometry.y, row.geometry.x], radius=7, weight=1, color="#222222",
                                fill=True, fill_color=_ARM_COLOURS.get(row["arm"], "#969696"), fill_opacity=0.9,
                                tooltip=folium.Tooltip(tip, sticky=True)).add_to(m)
        LegendControl(legend_html("Trial arm", [(c, arm) for arm, c in _ARM_COLOURS.items()]),
                      layer=None, key="arm", position="bottomleft").add_to(m)
        heading = (f"<b>Trial design ({escape_text(trial.design)})</b><br>pre-period {escape_text(trial.period)}"
                   f"<br>seed {trial.seed}")
        MapPanel(heading, key="title", position="topleft", css_class="pli-panel pli-title").add_to(m)
        Attribution(escape_text((trial.credits or "Crime: police.uk (OGL v3).") + " Allocation: pli trial.")).add_to(m)
        FitView([[float(south), float(west)], [float(north), float(east)]]).add_to(m)
        html = render_page(m)
    return inline_assets(html) if offline else html


def write_trial(trial: TrialDesign, out_dir: str | Path, *, inputs: tuple[Path, ...] = (),
                data_dir: Optional[Path] = None, config: Optional[dict] = None, offline: bool = True,
                maps: bool = True) -> tuple[Path, ...]:
    """Write the allocation, counts, power curve (CSV, PNG), schedule, map and a manifest, all or nothing."""
    from pli import transaction

    target = {"output": Path(out_dir)}
    transaction.check_output_paths(target, inputs=inputs)
    with outputs.OutputTransaction(target) as tx:
        outputs.write_csv(marked(trial.allocation_frame(), SENSITIVE), tx.path("output", "allocation.csv"))
        outputs.write_csv(marked(trial.counts.reset_index(), SENSITIVE), tx.path("output", "pre_period_counts.csv"))
        outputs.write_csv(trial.power.table, tx.path("output", "power_curve.csv"))
        tx.path("output", "power_curve.png").write_bytes(power_figure(trial.power))
        if trial.schedule is not None:
            outputs.write_csv(marked(trial.schedule, SENSITIVE), tx.path("output", "crossover_schedule.csv"))
        if maps:
            tx.path("output", "trial.html").write_text(trial_page(trial, offline=offline), encoding="utf-8")
        sensitive = ("allocation.csv", "pre_period_counts.csv", "crossover_schedule.csv", "trial.html")
        marks = {name: SENSITIVE for name in sensitive if (tx.staging_dir("output") / name).is_file()}
        write_handling_note(tx, "output", marks, default=default_marking(public=False),
                            heading="Handling of the files of this pli trial folder")
        manifest = {
            "command": "pli trial",
            "run_id": tx.run_id,
            "design": trial.design,
            "seed": trial.seed,
            "source": trial.source,
            "pre_period": trial.period,
            "places": int(len(trial.allocation.allocation)),
            "excluded": list(trial.allocation.excluded),
            "power": {"simulations": trial.power.simulations, "permutations": trial.power.permutations,
                      "alpha": trial.power.alpha, "target_power": trial.power.target_power,
                      "target_effect": trial.power.target_effect,
                      "unit": trial.power.unit, "length_needed": trial.power.length_needed,
                      "detectable_effect": {str(k): (None if np.isnan(v) else round(v, 4))
                                            for k, v in trial.power.detectable_effect.items()}},
            "config": config or {},
            "inputs": outputs.hash_inputs(inputs, relative_to=data_dir),
            "packages": outputs.package_versions(),
            "outputs": outputs.staged_hashes(tx),
        }
        outputs.write_json(manifest, tx.path("output", outputs.MANIFEST_NAME))
        return tuple(tx.commit())
