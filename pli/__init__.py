"""pli: the Priority Localities Index toolkit.

Rank small areas by crime harm, deprivation and demography, test for spatial
clustering, pick priority neighbourhoods and plan micro-patrols. See
``docs/ARCHITECTURE.md`` for the stages and the frames that flow between them.

The public functions are re-exported here, one per step of the flow; each has a
runnable example in its docstring. They are imported on first use, so ``import pli``
(and ``pli --version``) stays fast.

=====================  ==========================================================
step                   functions
=====================  ==========================================================
config                 :func:`load_config`
whole run              :func:`run_index`, :func:`verify_outputs`
boundaries             :func:`load_boundaries`
indicators             :func:`load_source`, :func:`build_indicators`, :func:`load_harm_weights`
index                  :func:`build_index`
clustering             :func:`build_weights`, :func:`compute_clustering`, :func:`global_moran`,
                       :func:`local_moran`, :func:`getis_ord`, :func:`benjamini_hochberg`
priorities             :func:`select_neighbourhoods`
patrols                :func:`plan_patrols`, :func:`build_grid`, :func:`select_points`,
                       :func:`count_places`, :func:`snap_locations`, :func:`grid_hotspots`,
                       :func:`kde_surface`, :func:`concentration`
=====================  ==========================================================

Examples
--------
>>> import pli
>>> cfg = pli.load_config(pli.default_data_dir() / "configs" / "croydon-demo.yml")
>>> pli.load_boundaries(cfg)
Boundaries(220 LSOAs (2011), 44 wards, 0 geometries repaired, no lookup)
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

#: Public name -> module that defines it.
_EXPORTS: dict[str, str] = {
    "default_data_dir": "pli.config",
    "load_config": "pli.config",
    "run_index": "pli.pipeline",
    "verify_outputs": "pli.outputs",
    "load_boundaries": "pli.boundaries",
    "load_source": "pli.indicators",
    "build_indicators": "pli.indicators",
    "load_harm_weights": "pli.harm",
    "build_index": "pli.index",
    "build_weights": "pli.stats.weights",
    "compute_clustering": "pli.clustering",
    "global_moran": "pli.stats.moran",
    "local_moran": "pli.stats.moran",
    "getis_ord": "pli.stats.getis_ord",
    "benjamini_hochberg": "pli.stats.fdr",
    "select_neighbourhoods": "pli.priorities",
    "plan_patrols": "pli.patrols",
    "build_grid": "pli.patrols",
    "select_points": "pli.patrols",
    "count_places": "pli.patrols",
    "snap_locations": "pli.patrols",
    "grid_hotspots": "pli.patrols",
    "kde_surface": "pli.patrols",
    "concentration": "pli.patrols",
}

__all__ = [
    "__version__",
    "benjamini_hochberg",
    "build_grid",
    "build_index",
    "build_indicators",
    "build_weights",
    "compute_clustering",
    "concentration",
    "count_places",
    "default_data_dir",
    "getis_ord",
    "global_moran",
    "grid_hotspots",
    "kde_surface",
    "load_boundaries",
    "load_config",
    "load_harm_weights",
    "load_source",
    "local_moran",
    "plan_patrols",
    "run_index",
    "select_neighbourhoods",
    "select_points",
    "snap_locations",
    "verify_outputs",
]

if TYPE_CHECKING:  # real imports for type checkers and IDEs
    from pli.boundaries import load_boundaries
    from pli.clustering import compute_clustering
    from pli.config import default_data_dir, load_config
    from pli.harm import load_harm_weights
    from pli.index import build_index
    from pli.indicators import build_indicators, load_source
    from pli.outputs import verify_outputs
    from pli.patrols import (
        build_grid,
        concentration,
        count_places,
        grid_hotspots,
        kde_surface,
        plan_patrols,
        select_points,
        snap_locations,
    )
    from pli.pipeline import run_index
    from pli.priorities import select_neighbourhoods
    from pli.stats.fdr import benjamini_hochberg
    from pli.stats.getis_ord import getis_ord
    from pli.stats.moran import global_moran, local_moran
    from pli.stats.weights import build_weights


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'pli' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))
