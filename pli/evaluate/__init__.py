"""``pli evaluate``: did crime (or harm) fall where the intervention was, and did it move?

Stages: monthly series per area (:mod:`~pli.evaluate.design` readers), treated groups and
matched controls with buffer rings (:func:`~pli.evaluate.design.match_controls`), the
difference-in-differences, pre-trend and placebo tests (:mod:`~pli.evaluate.effects`,
:func:`~pli.evaluate.analysis.evaluate_panel`), displacement
(:mod:`~pli.evaluate.displacement`), and the report (:mod:`~pli.evaluate.report`), written
into ``<out>/evaluation/`` all or nothing with a manifest.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import geopandas as gpd
import pandas as pd

from pli.config.specs import EvaluateSpec, StudyConfig
from pli.evaluate.analysis import Evaluation, evaluate_panel
from pli.evaluate.design import (
    Design,
    EvaluationError,
    match_controls,
    points_series,
    pre_features,
    read_ward_history,
    touching,
    treated_from_run,
)

__all__ = ["Design", "Evaluation", "EvaluationError", "evaluate_panel", "match_controls", "run_evaluation",
           "write_evaluation"]


def _series(cfg: StudyConfig, spec: EvaluateSpec, boundaries, harm) -> tuple[pd.DataFrame, list[Path]]:
    if spec.ward_history is not None:
        weights = None
        if harm is not None:
            cats = harm.categories("mps")
            weights = dict(zip(cats, harm.weight_for(cats, "mps")))
        path = cfg.resolve(spec.ward_history)
        if not path.is_file():
            raise EvaluationError(f"evaluate.ward_history: file not found: {spec.ward_history}")
        return read_ward_history(path, weights=weights, categories=spec.categories), [path]
    from pli.indicators import load_source

    assert spec.source is not None
    src = load_source(spec.source, cfg.sources[spec.source], resolve=cfg.resolve, lsoa=boundaries.lsoa)
    pts = src.points
    if pts is None or "month" not in pts.columns:
        raise EvaluationError(f"evaluate.source: {spec.source!r} has no records with a month (use a police_uk source)")
    if spec.categories:
        keep = {c.lower() for c in spec.categories}
        pts = pts[pts["category"].astype(str).str.lower().isin(keep)]
    polys = gpd.GeoDataFrame({"_area": boundaries.lsoa.index.astype(str)}, geometry=boundaries.lsoa.geometry.to_numpy(),
                             crs=boundaries.lsoa.crs)
    placed = gpd.sjoin(pts.to_crs(polys.crs), polys, how="inner", predicate="intersects")
    placed = placed[~placed.index.duplicated()]
    if spec.level == "ward":
        placed = placed.assign(_area=placed["_area"].map(boundaries.lsoa["ward_code"]))
    w = harm.weight_for(placed["category"].astype(str), "police_uk") if harm is not None else None
    return points_series(placed, "_area", weights=w), list(src.files)


def run_evaluation(cfg: StudyConfig, *, run_dir: str | Path | None = None, start: str | None = None,
                   end: str | None = None, seed: int | None = None) -> tuple[Evaluation, list[Path]]:
    """Load the data a config names and evaluate its ``evaluate:`` section.

    Returns the evaluation and the input files read (for the manifest).
    """
    from pli.boundaries import load_boundaries
    from pli.harm import load_harm_weights

    spec = cfg.evaluate
    if spec is None:
        raise EvaluationError("the config has no 'evaluate:' section (see README: Evaluating what was done)")
    spec = dataclasses.replace(spec, start_month=start or spec.start_month, end_month=end or spec.end_month)
    if spec.start_month is None:
        raise EvaluationError("no start month: set evaluate.start_month or pass --start YYYY-MM")
    boundaries = load_boundaries(cfg)
    harm = load_harm_weights(cfg.index.harm_weights) if spec.harm else None
    series, files = _series(cfg, spec, boundaries, harm)
    geoms = boundaries.wards.geometry if spec.level == "ward" else boundaries.lsoa.geometry
    series = series.reindex(geoms.index.astype(str), fill_value=0.0)
    if run_dir is not None:
        rankings = pd.read_csv(Path(run_dir) / "rankings.csv", dtype=str, usecols=["lsoa_code", "ward_code"])
        groups = treated_from_run(run_dir, level=spec.level, ward_of=dict(zip(rankings.lsoa_code, rankings.ward_code)))
        if spec.run_neighbourhoods is not None:
            groups = dict(list(groups.items())[:spec.run_neighbourhoods])
    elif spec.treated:
        groups = {g: tuple(codes) for g, codes in spec.treated.items()}
    else:
        raise EvaluationError("no treated areas: set evaluate.treated or pass --run OUTPUT_FOLDER")
    unknown = sorted({c for codes in groups.values() for c in codes} - set(series.index))
    if unknown:
        raise EvaluationError(f"treated areas not in the study area's {spec.level}s: {', '.join(unknown[:10])}")
    buffers = {g: tuple(touching(geoms, codes)) for g, codes in groups.items()}
    exclude = {c for b in buffers.values() for c in b}
    start_p = pd.Period(spec.start_month, "M")
    features = pre_features(series, start_p, pre_months=spec.pre_months)
    if spec.deprivation_source is not None:
        from pli.indicators import load_source

        dep = load_source(spec.deprivation_source, cfg.sources[spec.deprivation_source], resolve=cfg.resolve,
                          lsoa=boundaries.lsoa).table
        if spec.deprivation_column not in dep.columns:
            raise EvaluationError(f"evaluate.deprivation_column: {spec.deprivation_column!r} is not a column of "
                                  f"{spec.deprivation_source!r}")
        values = pd.to_numeric(dep[spec.deprivation_column], errors="coerce")
        if spec.level == "ward":
            values = values.groupby(boundaries.lsoa["ward_code"].reindex(values.index)).mean()
        features = features.assign(deprivation=values.reindex(features.index))
        if features["deprivation"].isna().any():
            raise EvaluationError("evaluate: deprivation is missing for some areas (different LSOA vintage?)")
    design = match_controls(features, groups, per_treated=spec.controls_per_treated, exclude=exclude,
                            given=spec.controls, buffers=buffers)
    evaluation = evaluate_panel(
        series, design, start=start_p, end=pd.Period(spec.end_month, "M") if spec.end_month else None,
        pre_months=spec.pre_months, bin_months=spec.bin_months, permutations=spec.permutations,
        seed=cfg.seed if seed is None else seed, alpha=spec.alpha)
    layer = boundaries.wards["ward_name"] if spec.level == "ward" else boundaries.lsoa["lsoa_name"]
    names = {str(k): str(v) for k, v in layer.dropna().items()}
    return dataclasses.replace(evaluation, names=names), [*boundaries.files, *files]


def write_evaluation(evaluation: Evaluation, out_dir: str | Path, *, cfg: StudyConfig, inputs: list[Path],
                     seed: int, run_dir: str | Path | None = None) -> tuple[Path, ...]:
    """Write ``effects.csv``, the tables, charts, ``evaluation.html`` and a manifest into ``out_dir``."""
    from pli import outputs, transaction
    from pli.evaluate.report import write_report

    spec = cfg.evaluate
    assert spec is not None
    target = {"evaluation": Path(out_dir)}
    if run_dir is not None:
        inputs = [*inputs, Path(run_dir) / "priority_neighbourhoods.csv", Path(run_dir) / "rankings.csv"]
    transaction.check_output_paths(target, data_dir=cfg.data_dir, inputs=inputs)
    outcome = ("crime harm (CCHI days)" if spec.harm else "recorded offences")
    with outputs.OutputTransaction(target) as tx:
        write_report(evaluation, tx, "evaluation", title=f"{cfg.area.name}: evaluation", outcome=outcome,
                     alpha=spec.alpha)
        manifest = {
            "command": "pli evaluate",
            "run_id": tx.run_id,
            "config": str(cfg.config_path) if cfg.config_path else None,
            "evaluate": {k: (list(v) if isinstance(v, tuple) else v)
                         for k, v in dataclasses.asdict(spec).items()},
            "start": str(evaluation.start), "end": str(evaluation.end), "seed": seed,
            "treated_from_run": str(Path(run_dir).resolve()) if run_dir else None,
            "inputs": outputs.hash_inputs(inputs, relative_to=cfg.data_dir),
            "versions": outputs.package_versions(),
            "outputs": outputs.staged_hashes(tx),
        }
        outputs.write_json(manifest, tx.path("evaluation", outputs.MANIFEST_NAME))
        return tuple(tx.commit())


