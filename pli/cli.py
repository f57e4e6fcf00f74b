"""Command line: parse arguments and wire the stages together; no analysis lives here.

``pli index``  build the index, clusters, neighbourhoods, patrol plan, outputs and maps
``pli verify`` re-hash inputs and outputs and say whether outputs are still current
``pli compare`` compare two runs: rank changes, top-N churn, neighbourhood matches, settings
``pli track``  time series, trends and emerging hot spots in a folder of its own
``pli trial``  design a randomised trial of patrols over a run's places, with power by simulation
``pli evaluate`` did crime fall in the treated areas (vs matched controls), and did it move?
``pli init``   write a commented config for one area (LAD codes or a force) from national files
``pli uncertainty`` how sure is each rank: Monte Carlo intervals and Sobol' indices of the choices
``pli config`` the config reference (``--reference``) or one key explained (``--explain KEY``)
``pli report`` a committee report (HTML printable to A4, and PDF) of an index run

Progress (stage lines with the elapsed time, bars for long loops) goes to stderr through
:mod:`pli.progress`; ``-q`` silences it, ``-v`` adds each stage's duration and debug logs.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path
from typing import ContextManager, Sequence

from pli import progress
from pli.errors import PliError

log = logging.getLogger("pli")

# The embedded demo config shipped in configs/ (its file name says which area it shows).
DEFAULT_CONFIG = "configs/*-demo.yml"


def _default_config() -> Path:
    """The one ``configs/*-demo.yml`` of the project, used when no ``--config`` is given."""
    from pli.config import default_data_dir

    found = sorted((default_data_dir() / "configs").glob("*-demo.yml"))
    if len(found) != 1:
        raise PliError(f"no --config given and {len(found)} demo configs match {DEFAULT_CONFIG}; pass --config")
    return found[0]


def _step(label: str) -> ContextManager[None]:
    """Announce a pipeline step with the elapsed time (silent with ``-q``)."""
    return progress.stage(label)


def _add_logging_options(parser: argparse.ArgumentParser, *, after_command: bool = False) -> None:
    # After the subcommand the defaults are suppressed, so an option given before it stays set.
    default: object = argparse.SUPPRESS if after_command else False
    parser.add_argument("--debug", action="store_true", default=default, help="show tracebacks and debug logging")
    parser.add_argument("-q", "--quiet", action="store_true", default=default, help="only warnings and errors")
    parser.add_argument("-v", "--verbose", action="store_true", default=default, help="debug logging, no tracebacks")


def _add_map_mode_options(parser: argparse.ArgumentParser) -> None:
    # Pages carry Leaflet inline by default (they open with no internet); --online links CDNs.
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--online", dest="offline", action="store_false", default=None,
                      help="link Leaflet from public CDNs instead of inlining it (smaller pages; need internet)")
    mode.add_argument("--offline", dest="offline", action="store_true", default=None,
                      help="inline Leaflet and plugins (the default now; kept so old scripts work)")


def _build_parser() -> argparse.ArgumentParser:
    from pli import __version__

    parser = argparse.ArgumentParser(prog="pli", description="Priority Localities Index toolkit")
    parser.add_argument("--version", action="version", version=f"pli {__version__}")
    _add_logging_options(parser)
    sub = parser.add_subparsers(dest="command", required=True)

    p_index = sub.add_parser("index", help="build rankings, neighbourhoods, patrol plan and maps")
    p_index.add_argument("--config", default=None, help=f"study-area YAML (default {DEFAULT_CONFIG})")
    p_index.add_argument(
        "--data-dir", default=None, help="folder that config paths resolve against (default: project root)"
    )
    p_index.add_argument("--out", default="output", help="output folder (default: output)")
    p_index.add_argument("--maps", default="maps", help="folder for the HTML/PNG maps (default: maps)")
    _add_map_mode_options(p_index)
    p_index.add_argument(
        "--public",
        action="store_true",
        default=None,
        help="suppress small counts and point-level/patrol outputs for publication",
    )
    p_index.add_argument("--seed", default=None, help="override the config seed (a whole number 0..2**32-1)")
    p_index.add_argument("--no-maps", action="store_true", help="skip maps (tables and GeoPackage only)")
    p_index.add_argument("--no-patrols", action="store_true",
                         help="skip the micro-patrol plan (no patrol files; the manifest says so)")
    p_index.add_argument("--parallel", choices=["none", "serial", "dask"], default=None,
                         help="LISA permutations: one esda call (none), or seeded chunks here (serial) or on dask; "
                              "serial and dask give identical results (default: config clustering.parallel)")
    p_index.add_argument("--scheduler", default=None, help="address of a running dask scheduler (implies dask)")
    p_index.add_argument("--workers", type=int, default=None, help="dask LocalCluster worker processes")
    p_index.add_argument("--no-cache", action="store_true", help="read every police.uk file again: no record "
                         "cache is read or written (default: .pli-cache beside the output folder)")

    p_verify = sub.add_parser("verify", help="say whether outputs still match their inputs")
    p_verify.add_argument("out", nargs="?", default="output", help="output folder, or a copy of it")
    p_verify.add_argument(
        "--maps", default=None, help="its maps folder (default: where it was written relative to the output folder)"
    )
    p_verify.add_argument(
        "--data-dir", default=None, help="where the inputs are now (default: the data folder recorded in the manifest)"
    )

    p_compare = sub.add_parser("compare", help="compare two runs: rank changes, top-N churn, neighbourhoods, settings")
    p_compare.add_argument("run_a", help="output folder of the earlier (reference) run")
    p_compare.add_argument("run_b", help="output folder of the later run")
    p_compare.add_argument("--top", type=int, default=20, help="size of the top list to compare (default: 20)")
    p_compare.add_argument("--out", default="comparison", help="folder for the comparison (default: comparison)")
    _add_map_mode_options(p_compare)
    p_track = sub.add_parser("track", help="time series, trends and emerging hot spots (config 'track:' section)")
    p_track.add_argument("--config", default=None, help=f"YAML with a track: section (default {DEFAULT_CONFIG})")
    p_track.add_argument("--data-dir", default=None, help="folder that config paths resolve against")
    p_track.add_argument("--out", default="output-track",
                         help="its own output folder, replaced whole; never the index's (default: output-track)")
    p_track.add_argument("--charts", action="store_true", help="also draw monthly harm charts (PNG)")
    p_track.add_argument("--index-out", default=None,
                         help="output folder of 'pli index' whose priority neighbourhoods get chart pages "
                              "(default: recompute them)")
    _add_map_mode_options(p_track)

    p_trial = sub.add_parser("trial", help="design a randomised trial over a run's places, with power by simulation")
    p_trial.add_argument("run", nargs="?", default="output", help="output folder of 'pli index' (default: output)")
    p_trial.add_argument("--config", default=None, help=f"the run's study-area YAML (default {DEFAULT_CONFIG})")
    p_trial.add_argument("--data-dir", default=None, help="folder that config paths resolve against")
    p_trial.add_argument("--out", default="trial", help="folder for the trial design (default: trial)")
    p_trial.add_argument("--design", choices=["pairs", "blocks", "crossover"], default=None,
                         help="matched pairs, blocks by neighbourhood, or crossover with washout (default: config)")
    p_trial.add_argument("--places", choices=["plan", "lsoa", "cells"], default=None,
                         help="patrol places of the run, its top LSOAs, or the top grid cells (default: config)")
    p_trial.add_argument("--top", type=int, default=None, help="number of LSOAs or cells with --places lsoa/cells")
    p_trial.add_argument("--months", default=None, help="trial lengths to simulate, comma-separated (e.g. 3,6,12)")
    p_trial.add_argument("--effect", type=float, default=None, help="target relative reduction (e.g. 0.2)")
    p_trial.add_argument("--simulations", type=int, default=None, help="simulated trials per power point")
    p_trial.add_argument("--seed", default=None, help="override the config seed (a whole number 0..2**32-1)")
    _add_map_mode_options(p_trial)

    p_eval = sub.add_parser("evaluate", help="did crime fall where the intervention was, and did it move?")
    p_eval.add_argument("--config", required=True, help="study-area YAML with an 'evaluate:' section")
    p_eval.add_argument("--data-dir", default=None, help="folder that config paths resolve against")
    p_eval.add_argument("--run", default=None, help="pli index output folder: its priority neighbourhoods are treated")
    p_eval.add_argument("--start", default=None, help="first month of the intervention, YYYY-MM")
    p_eval.add_argument("--end", default=None, help="last month of the intervention, YYYY-MM (default: last month)")
    p_eval.add_argument("--out", default="output", help="results go to OUT/evaluation (default: output)")
    p_eval.add_argument("--seed", default=None, help="override the config seed (placebo draws)")
    p_init = sub.add_parser("init", help="write a config for one area (LAD codes or a force) from national files")
    p_init.add_argument("--lad", action="append", default=[], help="ONS local-authority code, e.g. E08000035 "
                        "(repeat for several)")
    p_init.add_argument("--force", default=None, help="police force name instead of (or with) --lad, e.g. "
                        "'West Yorkshire'")
    p_init.add_argument("--data-dir", required=True, help="folder holding the national files")
    p_init.add_argument("--out", default=None, help="config file to write (default DATA_DIR/<code>.yml)")
    p_init.add_argument("--name", default=None, help="area name (default: the authority's name in the lookup)")
    p_init.add_argument("--overwrite", action="store_true", help="replace an existing config file")

    p_config = sub.add_parser("config", help="the config reference: every key, or one key explained")
    what = p_config.add_mutually_exclusive_group(required=True)
    what.add_argument("--explain", metavar="KEY", help="one key (e.g. priorities.count, sources.crime.kind)")
    what.add_argument("--reference", action="store_true", help="the whole reference as Markdown (docs/CONFIG.md)")
    p_config.add_argument("--out", default=None, help="with --reference: write to this file instead of stdout")
    _add_uncertainty_parser(sub)
    p_cache = sub.add_parser("cache", help="the police.uk record cache (.pli-cache beside the output folder): clear it")
    p_cache.add_argument("action", choices=["clear"], help="clear: remove the cached records")
    p_cache.add_argument("--out", default="output", help="the output folder the cache is beside (default: output)")
    p_cache.add_argument("--folder", default=None, help="a cache folder named by a source's 'cache' instead")
    p_report = sub.add_parser("report", help="committee report of an index run: HTML printable to A4, and PDF")
    p_report.add_argument("--index", default="output", help="output folder of 'pli index' (default: output)")
    p_report.add_argument("--maps", default="maps", help="its maps folder (default: maps)")
    p_report.add_argument("--out", default="report", help="the report's own folder, replaced whole (default: report)")
    p_report.add_argument("--track", default=None, help="output folder of 'pli track' (trend per neighbourhood)")
    p_report.add_argument("--uncertainty", default=None, help="output folder of 'pli uncertainty'")
    p_report.add_argument("--public", action="store_true",
                          help="public report: needs an index run made with --public (suppressed tables only)")
    p_report.add_argument("--no-pdf", action="store_true", help="write the HTML only")
    # Accept the logging options after the subcommand too (`pli index ... -q`).
    for subparser in sub.choices.values():
        _add_logging_options(subparser, after_command=True)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``pli`` console script."""
    parser = _build_parser()
    args = parser.parse_args(argv)
    level = logging.DEBUG if args.debug or args.verbose else logging.WARNING if args.quiet else logging.INFO
    logging.basicConfig(
        level=level,
        format="%(asctime)s %(levelname)-7s %(name)s: %(message)s",
        datefmt="%H:%M:%S",
        handlers=[progress.ProgressLogHandler(sys.stderr)],
        force=True,
    )
    logging.getLogger("pyogrio").setLevel(logging.WARNING)
    logging.getLogger("fiona").setLevel(logging.WARNING)
    if getattr(args, "offline", None) is True:
        log.info("--offline: pages carry Leaflet inline by default now; the flag is kept so old scripts work")
    reporter = None if args.quiet else progress.Reporter(sys.stderr, verbose=args.verbose or args.debug)
    with progress.reporting(reporter):
        return _run_command(parser, args)


def _run_command(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    try:
        if args.command == "index":
            return _cmd_index(args)
        if args.command == "config":
            return _cmd_config(args)
        if args.command == "verify":
            return _cmd_verify(args)
        if args.command == "compare":
            return _cmd_compare(args)
        if args.command == "track":
            return _cmd_track(args)
        if args.command == "trial":
            return _cmd_trial(args)
        if args.command == "evaluate":
            return _cmd_evaluate(args)
        if args.command == "init":
            from pli.area.init import init_config

            result = init_config(args.data_dir, lad_codes=args.lad, police_force=args.force, name=args.name,
                                 out=args.out, overwrite=args.overwrite)
            print(f"Wrote {result.path}" + "".join(f"\n  not included: {m}" for m in result.missing))
            return 0
        if args.command == "uncertainty":
            return _cmd_uncertainty(args)
        if args.command == "report":
            return _cmd_report(args)
        if args.command == "cache":
            return _cmd_cache(args)
    except PliError as exc:
        if args.debug:
            raise
        print(f"pli: error: {exc}", file=sys.stderr)
        return 2
    parser.error(f"unknown command {args.command}")
    return 2


def _cmd_compare(args: argparse.Namespace) -> int:
    from pli.compare import compare_runs, read_run, write_comparison

    run_a, run_b = read_run(args.run_a), read_run(args.run_b)
    comparison = compare_runs(run_a, run_b, top_n=args.top)
    write_comparison(comparison, Path(args.out), run_a=run_a, run_b=run_b, offline=args.offline is not False)
    print(comparison.summary())
    print(f"Outputs: {args.out} (open {Path(args.out) / 'comparison.html'})")
    return 0


def _cmd_trial(args: argparse.Namespace) -> int:
    import dataclasses

    from pli.config import load_config
    from pli.errors import InputError
    from pli.trial import design_trial, write_trial

    config_path = Path(args.config) if args.config else _default_config()
    cfg = load_config(config_path, data_dir=args.data_dir)
    seed = _parse_seed(args.seed)
    spec = cfg.trial
    months = spec.months
    if args.months is not None:
        try:
            months = tuple(int(m) for m in args.months.split(",") if m.strip())
        except ValueError:
            raise InputError(f"--months: expected whole numbers separated by commas, got {args.months!r}") from None
    options = {k: v for k, v in (("design", args.design), ("places", args.places), ("top", args.top),
                                 ("effect", args.effect), ("simulations", args.simulations)) if v is not None}
    spec = dataclasses.replace(spec, months=months, **options)
    from pli.config.parsing import _trial_problems

    problems = _trial_problems(spec)
    if problems:
        raise InputError(problems)
    run = Path(args.run)
    with _step("trial design and power"):
        trial = design_trial(cfg, run, places=spec.places, top=spec.top, design=spec.design, months=spec.months,
                             effect=spec.effect, simulations=spec.simulations, permutations=spec.permutations,
                             alpha=spec.alpha, target_power=spec.target_power, crossover_weeks=spec.crossover_weeks,
                             period_weeks=spec.period_weeks, washout_weeks=spec.washout_weeks,
                             seed=cfg.seed if seed is None else seed)
    inputs = [config_path, cfg.resolve(cfg.sources[trial.source].path)]
    if spec.places != "cells":
        inputs.append(run / ("patrol_plan.csv" if spec.places == "plan" else "rankings.csv"))
    write_trial(trial, Path(args.out), inputs=tuple(inputs),
                data_dir=cfg.data_dir, config={"trial": dataclasses.asdict(spec), "config_path": str(config_path)},
                offline=args.offline is not False)
    print(trial.summary())
    print(f"Outputs: {args.out} (open {Path(args.out) / 'trial.html'})")
    return 0


def _cmd_evaluate(args: argparse.Namespace) -> int:
    from pli.config import load_config
    from pli.evaluate import run_evaluation, write_evaluation

    cfg = load_config(Path(args.config), data_dir=args.data_dir)
    seed = _parse_seed(args.seed)
    seed = cfg.seed if seed is None else seed
    with _step("Evaluation"):
        evaluation, inputs = run_evaluation(cfg, run_dir=args.run, start=args.start, end=args.end, seed=seed)
    out = Path(args.out) / "evaluation"
    write_evaluation(evaluation, out, cfg=cfg, inputs=inputs, seed=seed, run_dir=args.run)
    cols = ["group", "n_treated", "n_controls", "rate_ratio", "ci_low", "ci_high", "p_placebo", "pretrend_p", "wdq"]
    print(evaluation.effects[cols].to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    print(f"Outputs: {out} (open {out / 'evaluation.html'})")
    return 0


def _cmd_report(args: argparse.Namespace) -> int:
    from pli.report import run_report

    with _step("report"):
        run = run_report(args.index, args.maps, args.out, track_dir=args.track, uncertainty_dir=args.uncertainty,
                         public=args.public, pdf=not args.no_pdf)
    print(run.summary())
    return 0


def _cmd_verify(args: argparse.Namespace) -> int:
    from pli.outputs import verify_outputs

    result = verify_outputs(args.out, maps_dir=args.maps, data_dir=args.data_dir)
    print(result.summary())
    return 0 if result.current else 1


def _cmd_index(args: argparse.Namespace) -> int:
    from pli.config import load_config
    from pli.pipeline import run_index

    config_path = Path(args.config) if args.config else _default_config()
    seed = _parse_seed(args.seed)
    with _step(f"starting: reading {config_path}"):
        cfg = load_config(config_path, data_dir=args.data_dir)
        cfg = _with_parallel(cfg, args)
        from pli.pipeline import run_index  # the whole analysis stack: seconds on a cold start
    run = run_index(
        cfg,
        out_dir=Path(args.out),
        maps_dir=None if args.no_maps else Path(args.maps),
        seed=seed,
        offline=args.offline,
        public=args.public,
        patrols=not args.no_patrols,
        step=_step,
        cache=not args.no_cache,
    )
    progress.note(f"finished: {len(run.files)} files written")
    print(run.summary())
    return 0


def _with_parallel(cfg, args: argparse.Namespace):
    """``cfg`` with ``--parallel/--scheduler/--workers`` applied to ``clustering``."""
    import dataclasses

    from pli.config import ConfigError

    changes = {k: v for k, v in (("parallel", args.parallel), ("scheduler", args.scheduler),
                                 ("workers", args.workers)) if v is not None}
    if args.workers is not None and args.workers < 1:
        raise ConfigError([f"--workers: expected 1 or more, got {args.workers}"])
    if args.scheduler is not None and args.parallel in (None, "none"):
        changes["parallel"] = "dask"
    return dataclasses.replace(cfg, clustering=dataclasses.replace(cfg.clustering, **changes)) if changes else cfg


def _cmd_config(args: argparse.Namespace) -> int:
    from pli.config.reference import explain_key, render_reference

    if args.explain is not None:
        try:
            print(explain_key(args.explain))
        except KeyError as exc:
            print(f"pli: error: {exc.args[0]}", file=sys.stderr)
            return 2
        return 0
    text = render_reference()
    if args.out is None:
        sys.stdout.write(text)
        return 0
    # newline="\n": the same bytes on Windows, so the checked-in reference compares equal.
    with open(args.out, "w", encoding="utf-8", newline="\n") as fh:
        fh.write(text)
    print(f"wrote {args.out}")
    return 0


def _cmd_track(args: argparse.Namespace) -> int:
    from pli.config import load_config
    from pli.track.command import run_track

    config_path = Path(args.config) if args.config else _default_config()
    cfg = load_config(config_path, data_dir=args.data_dir)
    with _step(f"track: {len(cfg.track.series) if cfg.track else 0} series, trends and emerging hot spots"), \
            _record_cache_beside(args.out):
        run = run_track(cfg, out_dir=Path(args.out), charts=args.charts,
                        index_out=Path(args.index_out) if args.index_out else None, offline=args.offline)
    print(run.summary())
    return 0


def _cmd_cache(args: argparse.Namespace) -> int:
    from pli.indicators.record_cache import clear_cache, folder_beside

    folder = Path(args.folder) if args.folder else folder_beside(args.out)
    removed, size = clear_cache(folder)
    print(f"removed {removed} cached record file(s), {size / 2**20:.1f} MiB, from {folder}")
    return 0


def _record_cache_beside(out: str):
    """police.uk records cached in ``.pli-cache`` beside the command's output folder (as ``pli index``)."""
    from pli.indicators.record_cache import folder_beside, using_cache

    return using_cache(folder_beside(out))


def _parse_seed(text: str | None) -> int | None:
    """``--seed`` checked with the config's rule and wording (not argparse's)."""
    from pli.config import check_seed

    if text is None:
        return None
    try:
        seed = int(text.strip())
    except ValueError:
        seed = None
    return check_seed(text if seed is None else seed, source="--seed")


# --------------------------------------------------------------------------- pli uncertainty


def _add_uncertainty_parser(sub) -> None:
    p = sub.add_parser("uncertainty", help="how sure is each rank: Monte Carlo intervals and Sobol' indices")
    p.add_argument("--config", default=None,
                   help=f"study-area YAML, optional 'uncertainty:' section (default {DEFAULT_CONFIG})")
    p.add_argument("--data-dir", default=None, help="folder that config paths resolve against")
    p.add_argument("--out", default="output-uncertainty",
                   help="its own output folder, replaced whole (default: output-uncertainty)")
    p.add_argument("--runs", type=int, default=None, help="Monte Carlo runs (default: config, 1000)")
    p.add_argument("--sobol-samples", type=int, default=None,
                   help="Sobol' base sample, a power of 2 (default: config, 256); 0 skips it")
    p.add_argument("--parallel", choices=["serial", "dask"], default=None, help="backend (default: config, serial)")
    p.add_argument("--scheduler", default=None, help="address of a running dask scheduler (implies --parallel dask)")
    p.add_argument("--workers", type=int, default=None, help="dask LocalCluster worker processes (default: cores)")
    p.add_argument("--seed", default=None, help="override the config seed (a whole number 0..2**32-1)")
    _add_map_mode_options(p)


def _cmd_uncertainty(args: argparse.Namespace) -> int:
    from pli.config import load_config
    from pli.uncertainty import run_uncertainty

    config_path = Path(args.config) if args.config else _default_config()
    cfg = load_config(config_path, data_dir=args.data_dir)
    with _step("uncertainty and sensitivity"), _record_cache_beside(args.out):
        run = run_uncertainty(cfg, out_dir=Path(args.out), seed=_parse_seed(args.seed),
                              offline=args.offline if args.offline is not None else cfg.maps.inline_assets,
                              runs=args.runs, sobol_samples=args.sobol_samples, parallel=args.parallel,
                              scheduler=args.scheduler, workers=args.workers)
    print(run.summary())
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
