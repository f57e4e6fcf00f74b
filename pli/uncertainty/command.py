"""``pli uncertainty``: Monte Carlo rank intervals and Sobol' indices in a folder of its own.

The folder (``--out``, default ``output-uncertainty``) is replaced all-or-nothing; a
folder holding another command's run is refused. It holds the files listed in
:mod:`pli.uncertainty` and a ``manifest.json`` (inputs, outputs, settings and the headline
figures) that ``pli verify`` checks.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import logging
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from pli.config.specs import StudyConfig, UncertaintySpec
from pli.errors import InputError
from pli.parallel import SeededMap
from pli.uncertainty.factors import ChoiceSpace
from pli.uncertainty.model import Choices, IndexModel, build_model
from pli.uncertainty.sobol import sobol_design, sobol_indices
from pli.uncertainty.summary import (
    OUTPUTS,
    matched_jaccard,
    neighbourhood_frequency,
    rank_intervals,
    run_outputs,
)

__all__ = ["UncertaintyRun", "run_uncertainty"]

logger = logging.getLogger(__name__)

ROLE = "uncertainty"
CHART_TOP = 30


@dataclass(frozen=True)
class UncertaintyRun:
    """What ``pli uncertainty`` found and wrote.

    Attributes
    ----------
    out_dir : Path
    files : tuple of Path
    intervals : DataFrame
        ``lsoa_rank_intervals.csv``.
    neighbourhoods : DataFrame
        ``neighbourhood_frequency.csv``.
    sobol : DataFrame
        ``sobol.csv`` (empty without a Sobol' analysis).
    runs : DataFrame
        ``runs.csv``.
    spec : UncertaintySpec
        The settings used (command-line overrides applied).
    seconds : dict
        Wall time of ``setup``, ``monte_carlo`` and ``sobol``.
    """

    out_dir: Path
    files: tuple[Path, ...]
    intervals: pd.DataFrame
    neighbourhoods: pd.DataFrame
    sobol: pd.DataFrame
    runs: pd.DataFrame
    spec: UncertaintySpec
    seconds: dict

    def summary(self) -> str:
        s = self.spec
        n_mc = int((self.runs["design"] == "monte_carlo").sum()) if len(self.runs) else 0
        n_sobol = len(self.runs) - n_mc
        lines = [f"{n_mc:,} Monte Carlo runs, {n_sobol:,} Sobol' runs ({s.parallel}); "
                 + ", ".join(f"{k} {v:.1f} s" for k, v in self.seconds.items())]
        if n_mc:
            top = self.intervals.head(CHART_TOP)
            width = top["rank_p95"] - top["rank_p05"]
            lines.append(f"Top {len(top)} LSOAs: 5-95% rank interval width median {width.median():g} "
                         f"(range {width.min():g}-{width.max():g}); the base top {s.top_n} stay in the top "
                         f"{s.top_n} in {100 * self.intervals.head(s.top_n)['p_top_n'].mean():.0f}% of runs on average")
            for _, r in top.head(10).iterrows():
                lines.append(f"  {int(r['base_rank']):>3}  {r['lsoa_code']}  {r['lsoa_name']:<18} median "
                             f"{r['median_rank']:>5g}  5-95% {r['rank_p05']:g}-{r['rank_p95']:g}  "
                             f"P(top {s.top_n}) {r['p_top_n']:.2f}")
        if len(self.neighbourhoods):
            lines.append("Neighbourhoods (selection frequency, mean Jaccard):")
            for _, r in self.neighbourhoods.iterrows():
                lines.append(f"  {int(r['neighbourhood'])}. {r['name']}: {r['selection_frequency']:.2f}, "
                             f"{r['mean_jaccard']:.2f}")
        if len(self.sobol):
            lines.append("Sobol' total indices (ST +- conf):")
            for output, g in self.sobol.groupby("output", sort=False):
                lines.append(f"  {output}: " + ", ".join(f"{r['factor']} {r['ST']:.2f}+-{r['ST_conf']:.2f}"
                                                        for _, r in g.iterrows()))
        lines.append(f"Outputs: {self.out_dir}")
        return "\n".join(lines)


@dataclass(frozen=True)
class _Evaluate:
    """One run: uniforms (drawn, or a design row) -> choices -> ranks, matches, outputs."""

    model: IndexModel
    space: ChoiceSpace
    base_ranks: np.ndarray
    base_members: tuple[np.ndarray, ...]
    top_n: int
    draw: bool

    def __call__(self, task: object, rng: np.random.Generator) -> tuple[Choices, np.ndarray, np.ndarray | None, dict]:
        u = rng.random(self.space.dims) if self.draw else np.asarray(task, dtype=float)
        choices = self.space.decode(u)
        outcome = self.model(choices)
        jac = None
        if self.model.neighbourhoods and self.base_members:
            jac = matched_jaccard(self.base_members, outcome.neighbourhoods, len(self.base_ranks))
        ranks = outcome.ranks.astype(np.int32)
        return choices, ranks, jac, run_outputs(self.base_ranks, ranks, jac, top_n=self.top_n)


def _refuse_other_folder(out_dir: Path) -> None:
    from pli.outputs import manifest_role

    role = manifest_role(out_dir)
    if role is not None and role != ROLE:
        raise InputError(f"{out_dir} holds a `pli index` run (or another command's folder); `pli uncertainty` "
                         "replaces its whole output folder, so give it a folder of its own "
                         "(--out, default output-uncertainty)", path=str(out_dir))


def run_uncertainty(
    cfg: StudyConfig,
    *,
    out_dir: Path,
    seed: int | None = None,
    offline: bool = True,
    **overrides,
) -> UncertaintyRun:
    """Run the Monte Carlo and Sobol' analysis of the config's index and write its folder.

    Parameters
    ----------
    cfg : StudyConfig
        The study area; ``cfg.uncertainty`` (an ``uncertainty:`` section, or the defaults)
        says what varies.
    out_dir : Path
        Output folder of its own (replaced all-or-nothing).
    seed : int, optional
        Overrides ``cfg.seed``: the master seed of the Monte Carlo draws, the Sobol'
        scrambling and the bootstrap.
    offline : bool
        Inline every script and style of the map page.
    **overrides
        Fields of :class:`~pli.config.specs.UncertaintySpec` to replace (``runs``,
        ``sobol_samples``, ``parallel``, ``scheduler``, ``workers``, ...), checked like
        the config.

    Returns
    -------
    UncertaintyRun
    """
    from pli import outputs, transaction
    from pli.config.parsing import uncertainty_problems

    spec = dataclasses.replace(cfg.uncertainty, **{k: v for k, v in overrides.items() if v is not None})
    if spec.scheduler and spec.parallel != "dask":
        spec = dataclasses.replace(spec, parallel="dask")
    problems = uncertainty_problems(spec)
    if problems:
        raise InputError(problems)
    seed = cfg.seed if seed is None else int(seed)
    out_dir = Path(out_dir)
    targets = {"output": out_dir}
    transaction.check_output_paths(targets, data_dir=cfg.data_dir, config_path=cfg.config_path,
                                   inputs=[cfg.resolve(p) for _, p in cfg.input_paths()])
    _refuse_other_folder(out_dir)

    t0 = time.perf_counter()
    model, read = build_model(cfg, harm_schemes=spec.harm_schemes, window_ends=spec.window_ends,
                              neighbourhoods=spec.neighbourhoods)
    base = model(model.base)
    lsoa = read["lsoa"].assign(score=base.scores)
    nb_table, base_members = _base_neighbourhoods(cfg, lsoa, read["weights"], model, base.neighbourhoods, seed)
    model.prepare(normalisations=tuple(dict.fromkeys((*spec.normalisations, model.base.normalisation))),
                  outliers=tuple(dict.fromkeys((*spec.outliers, model.base.outliers))))
    seconds = {"setup": time.perf_counter() - t0}
    with SeededMap(spec.parallel, scheduler=spec.scheduler, workers=spec.workers) as run_all:
        run_rows, ranks, jaccard, sobol, sobol_space = _run_designs(run_all, model, spec, base, base_members,
                                                                    seed, seconds)
    interval_table, freq = _empty_intervals(), _empty_frequency()
    if ranks is not None:
        lsoa_table = read["boundaries"].lsoa
        names = lsoa_table["lsoa_name"] if "lsoa_name" in lsoa_table else pd.Series(dtype=str)
        interval_table = rank_intervals(model.codes, names, base.ranks, ranks, top_n=spec.top_n)
        if jaccard is not None:
            freq = neighbourhood_frequency(nb_table, jaccard)
    runs = pd.DataFrame(run_rows)
    for col in ("S1", "S1_conf", "ST", "ST_conf"):
        sobol[col] = pd.to_numeric(sobol[col]).round(6)

    with transaction.TargetLock(targets) as lock, outputs.OutputTransaction(targets, lock=lock) as tx:
        outputs.write_csv(interval_table, tx.path("output", "lsoa_rank_intervals.csv"))
        outputs.write_csv(freq, tx.path("output", "neighbourhood_frequency.csv"))
        outputs.write_csv(sobol, tx.path("output", "sobol.csv"))
        outputs.write_csv(runs, tx.path("output", "runs.csv"))
        if spec.runs:
            _write_figures(tx, cfg, interval_table, read, nb_table, freq, spec, offline=offline)
        manifest = _manifest(cfg, read["files"], tx, spec=spec, seed=seed, model=model,
                             spaces=[s for s in (ChoiceSpace(model, spec), sobol_space) if s is not None],
                             intervals=interval_table, freq=freq, sobol=sobol)
        outputs.write_json(manifest, tx.path("output", outputs.MANIFEST_NAME))
        files = tuple(tx.commit())
    return UncertaintyRun(out_dir=out_dir, files=files, intervals=interval_table, neighbourhoods=freq,
                          sobol=sobol, runs=runs, spec=spec, seconds=seconds)


def _run_designs(run_all: SeededMap, model: IndexModel, spec: UncertaintySpec, base, base_members, seed: int,
                 seconds: dict):
    """The Monte Carlo and the Sobol' design through one backend."""
    run_rows: list[dict] = []
    ranks = jaccard = None
    if spec.runs:
        t0 = time.perf_counter()
        space = ChoiceSpace(model, spec)
        evaluate = _Evaluate(model, space, base.ranks, base_members, spec.top_n, draw=True)
        results = run_all(evaluate, list(range(spec.runs)), seed=seed)
        seconds["monte_carlo"] = time.perf_counter() - t0
        ranks = np.stack([r[1] for r in results])
        if base_members:
            jaccard = np.stack([r[2] for r in results if r[2] is not None])
        run_rows += [{"design": "monte_carlo", "run": i, **space.describe(r[0]), **r[3]}
                     for i, r in enumerate(results)]
    sobol = pd.DataFrame(columns=["output", "factor", "S1", "S1_conf", "ST", "ST_conf"])
    sobol_space = None
    if spec.sobol_samples:
        t0 = time.perf_counter()
        sobol_space = ChoiceSpace(model, spec, dummy=spec.sobol_dummy)
        problem = sobol_space.problem()
        design = sobol_design(problem, spec.sobol_samples, seed=seed)
        evaluate = _Evaluate(model, sobol_space, base.ranks, base_members, spec.top_n, draw=False)
        results = run_all(evaluate, list(design), seed=seed)
        values = {k: np.array([r[3][k] for r in results]) for k in OUTPUTS if k in results[0][3]}
        sobol = sobol_indices(problem, values, resamples=spec.sobol_resamples, conf_level=spec.conf_level,
                              seed=seed)
        seconds["sobol"] = time.perf_counter() - t0
        run_rows += [{"design": "sobol", "run": i, **sobol_space.describe(r[0]), **r[3]}
                     for i, r in enumerate(results)]
    return run_rows, ranks, jaccard, sobol, sobol_space


def _base_neighbourhoods(cfg, lsoa, weights, model: IndexModel, drawn, seed: int):
    """The configured neighbourhoods (names from the full selection) as row positions."""
    if not model.neighbourhoods:
        return _empty_frequency(), ()
    from pli.priorities import select_neighbourhoods

    quiet = logging.getLogger("pli.priorities")
    level = quiet.level
    quiet.setLevel(logging.ERROR)
    try:
        nb = select_neighbourhoods(lsoa, weights, cfg.priorities, seed=seed)
    finally:
        quiet.setLevel(level)
    table = nb.neighbourhoods
    members = tuple(np.sort(model.codes.get_indexer(str(codes).split(";"))) for codes in table["lsoa_codes"])
    if len(members) != len(drawn) or any(not np.array_equal(a, b) for a, b in zip(members, drawn)):
        raise RuntimeError("the fast neighbourhood draw disagrees with select_neighbourhoods on the base run")
    return table, members


def _empty_intervals() -> pd.DataFrame:
    return pd.DataFrame(columns=["lsoa_code", "lsoa_name", "base_rank", "median_rank", "rank_p05", "rank_p95",
                                 "p_top_n"])


def _empty_frequency() -> pd.DataFrame:
    return pd.DataFrame(columns=["neighbourhood", "name", "selection_frequency", "mean_jaccard"])


def _write_figures(tx, cfg: StudyConfig, intervals, read, nb_table, freq, spec: UncertaintySpec, *,
                   offline: bool) -> None:
    from pli.maps.figures import png_bytes
    from pli.uncertainty.figures import plot_rank_intervals, uncertainty_page

    title = (f"{cfg.area.name}: rank of the top {CHART_TOP} LSOAs over {spec.runs:,} Monte Carlo runs "
             f"of the analyst's choices")
    fig = plot_rank_intervals(intervals, top=CHART_TOP, title=title, top_n=spec.top_n)
    tx.path("output", "rank_intervals_top30.png").write_bytes(png_bytes(fig, dpi=150))
    geo = nb_table if "geometry" in getattr(nb_table, "columns", ()) and len(nb_table) else None
    page = uncertainty_page(intervals, read["boundaries"].lsoa, geo, freq, area=cfg.area.name, runs=spec.runs,
                            top_n=spec.top_n, offline=offline)
    tx.path("output", "rank_uncertainty.html").write_text(page, encoding="utf-8")


def _manifest(cfg: StudyConfig, files, tx, *, spec: UncertaintySpec, seed: int, model: IndexModel, spaces,
              intervals: pd.DataFrame, freq: pd.DataFrame, sobol: pd.DataFrame) -> dict:
    from pli import __version__, outputs

    inputs = outputs.hash_inputs(sorted(files), relative_to=cfg.data_dir)
    harm = cfg.resolve(cfg.index.harm_weights) if cfg.index.harm_weights else None
    for p in (harm, cfg.config_path):
        if p is not None and Path(p).is_file():
            inputs[outputs.input_key(p, cfg.data_dir)] = outputs.file_sha256(p)
    top = intervals.head(CHART_TOP)
    headline: dict = {}
    if len(intervals):
        width = (top["rank_p95"] - top["rank_p05"]).astype(float)
        headline = {
            f"top_{CHART_TOP}_interval_width_median": float(width.median()),
            f"top_{CHART_TOP}_interval_width_max": float(width.max()),
            f"base_top_{spec.top_n}_mean_p_top_n": round(float(intervals.head(spec.top_n)["p_top_n"].mean()), 6),
        }
    headline["neighbourhood_selection_frequency"] = {str(r["name"]): float(r["selection_frequency"])
                                                     for _, r in freq.iterrows()}
    headline["sobol_total"] = {f"{r['output']}/{r['factor']}": [float(r["ST"]), float(r["ST_conf"])]
                               for _, r in sobol.iterrows()}
    return {
        "pli_version": __version__,
        "role": ROLE,
        "run_id": tx.run_id,
        "created_utc": _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0).isoformat(),
        "area": cfg.area.name,
        "config_path": str(cfg.config_path) if cfg.config_path else None,
        "config": cfg.raw,
        "data_dir": str(cfg.data_dir),
        "inputs": inputs,
        "seed": seed,
        "settings": {k: (list(v) if isinstance(v, tuple) else v) for k, v in dataclasses.asdict(spec).items()},
        "base": {"normalisation": model.base.normalisation, "outliers": model.base.outliers,
                 "harm_scheme": model.base.harm_scheme, "time_window": model.window_labels[0],
                 "min_score_quantile": model.base.min_score_quantile, "min_population": model.base.min_population},
        "factors": {f.name: f.description for space in spaces for f in space.factors},
        "outputs_explained": dict(OUTPUTS),
        "headline": headline,
        "outputs": outputs.staged_hashes(tx),
    }
