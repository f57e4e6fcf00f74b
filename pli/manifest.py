"""The run manifest written beside every output (``manifest.json``).

It records the config, the SHA-256 of every input and output, row counts, the method
choices the stages made (index weights, clustering headline, neighbourhood cut-off,
patrol options), package versions, the seed and a run id, so a run can be reproduced
and a copied output folder verified (:func:`pli.outputs.verify_outputs`).
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from pli import __version__, outputs, priorities
from pli import harm as harm_mod
from pli.config import StudyConfig

__all__ = ["build_manifest"]


def build_manifest(cfg: StudyConfig, *, boundaries: Any, sources: Mapping[str, Any], table: Any,
                   rankings: pd.DataFrame, nb: Any, plan: Any, clusters: Any, result: Any, index_spec: Any,
                   reconciliations: dict, tx: Any) -> dict:
    """The run manifest: config, input and output hashes, row counts, method choices, versions.

    Written as ``manifest.json`` beside the outputs so any reader can check they are
    current (:func:`pli.outputs.verify_outputs`) and see how they were made. Built last,
    inside the transaction, from the staged files.

    Parameters
    ----------
    cfg : StudyConfig
    boundaries, sources, table, nb, plan, clusters, result, index_spec
        The frames and results of the stages (see ``docs/ARCHITECTURE.md``).
    rankings : DataFrame
        The full (unsuppressed) rankings.
    reconciliations : dict
        :attr:`pli.boundaries.CodeReconciler.records_`.
    tx : OutputTransaction
        Supplies the staged files, the run id and the target folders.

    Returns
    -------
    dict
        JSON-ready.
    """

    from pli.area import area_type, data_notes

    notes = data_notes(cfg).sentences()
    input_paths = list(boundaries.files)
    for src in sources.values():
        input_paths.extend(src.files)
    for extra in (cfg.boundaries.vintage_lookup, cfg.boundaries.upper_from_table):
        if extra is not None:
            input_paths.append(cfg.resolve(extra.path))
    harm_path = cfg.resolve(cfg.index.harm_weights) if cfg.index.harm_weights else None
    default_harm = harm_mod.DEFAULT_HARM_WEIGHTS if harm_path is None else None
    inputs = outputs.hash_inputs(input_paths, relative_to=cfg.data_dir)
    for p in (harm_path, default_harm, cfg.config_path):
        if p is not None and Path(p).is_file():
            inputs[outputs.input_key(p, cfg.data_dir)] = outputs.file_sha256(p)
    output_hashes = outputs.staged_hashes(tx)
    weights = result.weights.reset_index().to_dict(orient="records")
    return {
        "pli_version": __version__,
        "created_utc": _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0).isoformat(),
        "area": cfg.area.name,
        "simulated": cfg.area.simulated,
        "simulated_note": next((n for n in notes if n.startswith("SIMULATED")), None),
        "data_notes": notes,
        "area_type": area_type(cfg.area),
        "area_selection": boundaries.area.to_dict() if getattr(boundaries, "area", None) is not None else None,
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
        # police.uk sources: read from the record cache, or read from the files (and cached).
        "record_cache": {name: src.record_cache.to_manifest() for name, src in sources.items()
                         if getattr(src, "record_cache", None) is not None},
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


def _jsonable(value: Any) -> Any:
    if isinstance(value, (np.floating, np.integer)):
        return value.item()
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    return value
