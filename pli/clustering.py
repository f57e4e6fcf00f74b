"""The clustering stage: Moran's I, Local Moran (LISA) and Getis-Ord Gi* for one score.

The statistics live in :mod:`pli.stats` (one module each); this module runs them
together and re-exports them so ``from pli.clustering import getis_ord`` keeps working.

The stage takes the LSOA polygons and one score per LSOA and answers three questions:
is the score clustered at all (global Moran's I), where are the clusters and outliers
(LISA quadrants), and where are the hot and cold spots (Gi*)?

Design
------
* Weights are :class:`libpysal.graph.Graph` objects (binary, in the order of the LSOA
  frame). Queen contiguity is the default; rook, k-nearest-neighbours (on centroids) and
  distance band (on centroids) are options.
* Islands and disconnected components never crash the analysis: every island is joined
  to its nearest polygon(s) and every other component to the nearest polygon of the main
  component. Each added link is logged with both LSOA codes and kept on the result.
* The statistics are esda's, called on copies of the weights so the caller's objects are
  never changed; esda's Local Moran and Gi* reseed NumPy's *global* generator, so the
  global state is saved and restored around each call. Global Moran's I permutations use
  a local :func:`numpy.random.default_rng` (esda draws from the unseeded global one).
* Local Moran p-values are two-sided conditional-permutation pseudo p-values: esda
  returns the *directed* (folded) pseudo p; doubling it (capped at 1) gives the
  equal-tails two-sided p. Global Moran's I keeps esda's directed ``p_sim`` so it
  matches published values.
* Gi* bins come from the analytic z and its two-sided normal p (ArcGIS, spdep), so a
  bin always agrees with the z beside it. The conditional permutation esda offers for
  Gi* holds the LSOA's own value fixed, which for a statistic that includes that value
  leaves only the neighbours' sum to test: its p equalled the LISA p for 219 of 220
  Croydon LSOAs. ``ClusteringSpec.gi_inference = "permutation"`` uses a total
  permutation instead (own value permuted too). The same core
  (:func:`pli.stats.getis_ord.gi_star`) serves the patrol grid.
* False Discovery Rate: Benjamini-Hochberg adjusted p-values over all units, so a unit
  is significant after correction when ``p_fdr <= alpha`` (the same rejection set as
  ``p <= esda.fdr(p, alpha)`` whenever BH rejects anything). Gi* bins are computed on
  the raw p (``gi_bin``, ``gi_label``) and on the BH-adjusted p (``gi_bin_fdr``,
  ``gi_label_fdr``): 99/95/90% then mean a false discovery rate of 1/5/10%. Both sets
  are always written; ``ClusteringSpec.fdr`` (on by default) chooses which set the log
  lines, the manifest's ``headline`` and the maps' first layers show; the uncorrected
  set stays in the tables and as a map layer labelled "uncorrected".
* Permutations: a two-sided pseudo p bottoms out at ``2 / (R + 1)`` and BH needs the
  smallest p at most ``alpha / n``, so with FDR on the count is raised to
  ``10 n / alpha`` (43,999 for 220 LSOAs at 0.05: an LSOA at that first threshold
  expects 5 permutations as extreme, so labels near it stop moving with the seed) and
  logged (:func:`effective_permutations`). ``seed_stability`` in the manifest reruns the LISA
  permutations with ``stability_seeds`` seeds and counts the LSOAs whose label moves.

Examples
--------
Each function carries a runnable example; see :func:`compute_clustering`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any, Callable

import pandas as pd
from libpysal.graph import Graph

from pli.config import ClusteringSpec
from pli.progress import track
from pli.stats.fdr import benjamini_hochberg
from pli.stats.getis_ord import GetisOrdResult, getis_ord
from pli.stats.moran import (
    NOT_SIGNIFICANT,
    QUADRANT_LABELS,
    GlobalMoranResult,
    LocalMoranResult,
    global_moran,
    local_moran,
)
from pli.stats.permutation import permutations_for_fdr
from pli.stats.weights import SpatialWeights, build_weights

__all__ = [
    "NOT_SIGNIFICANT",
    "QUADRANT_LABELS",
    "ClusteringResult",
    "GetisOrdResult",
    "GlobalMoranResult",
    "LocalMoranResult",
    "SpatialWeights",
    "benjamini_hochberg",
    "build_weights",
    "compute_clustering",
    "effective_permutations",
    "getis_ord",
    "global_moran",
    "local_moran",
    "parallel_for",
]

logger = logging.getLogger(__name__)


@dataclass(frozen=True, eq=False)
class ClusteringResult:
    """Everything the clustering stage produces for one score.

    ``fdr`` (from ``ClusteringSpec.fdr``) says which labels :meth:`headline` and the log
    quote; :meth:`to_frame` always carries both the uncorrected and the FDR-corrected
    LISA and Gi* columns.
    """

    weights: SpatialWeights | Graph
    moran: GlobalMoranResult
    lisa: LocalMoranResult
    gi: GetisOrdResult
    fdr: bool = True
    seed: int = 0
    permutations: int = 0
    seed_stability: dict[str, Any] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)

    def to_frame(self) -> pd.DataFrame:
        """LISA and Gi* columns for the LSOA table, indexed by ``lsoa_code``."""
        return pd.concat([self.lisa.to_frame(), self.gi.to_frame()], axis=1)

    def headline(self) -> dict[str, Any]:
        """The counts quoted in the log: FDR-corrected when ``fdr`` is True.

        Keys ``fdr``, ``lisa`` (LSOAs per cluster label), ``gi`` (LSOAs per bin -3..3),
        ``hotspots`` and ``coldspots`` (Gi* at 90% or more).
        """
        gi = self.gi.bin_fdr if self.fdr else self.gi.bin
        return {
            "fdr": self.fdr,
            "lisa": self.lisa.counts(fdr=self.fdr),
            "gi": self.gi.counts(fdr=self.fdr),
            "hotspots": int((gi > 0).sum()),
            "coldspots": int((gi < 0).sum()),
        }

    def to_dict(self) -> dict[str, Any]:
        """Manifest entry: Moran's I, weights, LISA/Gi* counts (both sets) and the headline."""
        return {
            "weights": repr(self.weights),
            "moran": self.moran.to_dict(),
            "lisa_alpha": self.lisa.alpha,
            "lisa_counts": self.lisa.counts(fdr=False),
            "lisa_counts_fdr": self.lisa.counts(fdr=True),
            "headline_uses_fdr": self.fdr,
            "gi_counts": self.gi.counts(fdr=False),
            "gi_counts_fdr": self.gi.counts(fdr=True),
            "headline": self.headline(),
            "gi_inference": self.gi.inference,
            "permutations": self.permutations,
            "seed_stability": self.seed_stability,
            "seed": self.seed,
        }


def compute_clustering(
    y: pd.Series,
    weights: SpatialWeights | Graph,
    spec: ClusteringSpec | None = None,
    *,
    seed: int = 0,
    parallel: Callable | None = None,
) -> ClusteringResult:
    """Moran's I, LISA and Gi* for one score with the options of a :class:`ClusteringSpec`.

    Parameters
    ----------
    y : Series
        Score indexed by ``lsoa_code``.
    weights : SpatialWeights or libpysal Graph
    spec : ClusteringSpec, optional
        ``permutations`` (raised when too few for FDR, see :func:`effective_permutations`),
        ``alpha``, ``fdr`` (True: the log lines, the manifest's ``headline`` and the maps
        quote the FDR-corrected LISA clusters and Gi* bins; both sets of columns are always
        in :meth:`ClusteringResult.to_frame`), ``gi_inference`` and ``stability_seeds``.
    seed : int, default 0
        Used by all three statistics; the stability check adds seeds ``seed + 1 ..``.
    parallel : pli.parallel.SeededMap, optional
        Runs the LISA permutations (and the stability reruns) in seeded chunks on that
        backend (see :func:`pli.stats.moran.local_moran`); open one with
        :func:`parallel_for` from ``spec``.

    Examples
    --------
    >>> from pli.examples import lattice
    >>> lsoa = lattice()  # 6 x 6 squares, score rising to the north-east
    >>> from pli.clustering import build_weights, compute_clustering
    >>> result = compute_clustering(lsoa["score"], build_weights(lsoa), seed=0)
    >>> round(result.moran.I, 3), result.permutations  # 999 raised for 36 LSOAs at alpha 0.05
    (0.822, 7999)
    """
    spec = spec or ClusteringSpec()
    graph = weights.graph if isinstance(weights, SpatialWeights) else weights
    n = int(graph.n)
    perms = effective_permutations(spec, n)
    moran = global_moran(y, weights, permutations=perms, seed=seed)
    lisa = local_moran(y, weights, alpha=spec.alpha, permutations=perms, seed=seed, fdr=spec.fdr, parallel=parallel)
    gi = getis_ord(y, weights, inference=spec.gi_inference, permutations=perms, seed=seed, fdr=spec.fdr)
    stability = _seed_stability(y, weights, spec, lisa, perms=perms, seed=int(seed), parallel=parallel)
    return ClusteringResult(
        weights=weights, moran=moran, lisa=lisa, gi=gi, fdr=spec.fdr, seed=int(seed), permutations=perms,
        seed_stability=stability,
    )


#: Permutations as extreme as an LSOA at the first BH threshold that the automatic count aims for.
FDR_HITS = 5


def effective_permutations(spec: ClusteringSpec, n: int, *, log: bool = True) -> int:
    """``spec.permutations``, raised so FDR can reject and labels do not move with the seed.

    A two-sided pseudo p is at least ``2 / (R + 1)`` and Benjamini-Hochberg rejects
    nothing unless the smallest p is at most ``alpha / n``; with fewer permutations the
    FDR-corrected LISA map is empty whatever the data (99 permutations, 220 LSOAs:
    0.02 against 0.00023). Just reaching that floor is not enough either: LSOAs near the
    threshold then flip with the seed. With ``spec.fdr`` on, the count is raised to
    :func:`pli.stats.permutation.permutations_for_fdr` with ``hits=FDR_HITS`` (an LSOA
    at the first threshold expects 5 permutations as extreme; 43,999 for 220 LSOAs at
    0.05) and logged, but not beyond ``spec.max_permutations``; when even the floor
    (``hits=1``) is above that cap it warns that FDR may find nothing for want of
    permutations. 0 (normal approximation) is kept. ``log=False`` only computes the
    count (to announce it before the stage runs).

    Examples
    --------
    >>> from pli.clustering import effective_permutations
    >>> from pli.config import ClusteringSpec
    >>> effective_permutations(ClusteringSpec(permutations=99, alpha=0.05), 220)
    43999
    >>> effective_permutations(ClusteringSpec(permutations=99, max_permutations=9_999), 220)
    9999
    """
    requested = int(spec.permutations)
    if requested == 0 or not spec.fdr:
        return requested
    floor = permutations_for_fdr(n, spec.alpha)
    target = permutations_for_fdr(n, spec.alpha, hits=FDR_HITS)
    if requested >= target:
        return requested
    cap = int(spec.max_permutations)
    if floor > cap:
        if not log:
            return max(requested, cap)
        logger.warning(
            "clustering: %s permutations are needed for the most extreme of %s LSOAs to pass FDR at alpha %g, "
            "but clustering.max_permutations is %s; using %s, so the FDR-corrected clusters may be empty "
            "for lack of permutations, not of evidence (raise max_permutations)",
            f"{floor:,}", f"{n:,}", spec.alpha, f"{cap:,}", f"{max(requested, cap):,}",
        )
        return max(requested, cap)
    chosen = max(requested, min(target, cap))
    if chosen > requested and log:
        logger.info(
            "clustering: permutations raised from %s to %s for %s LSOAs at alpha %g: FDR needs at least %s "
            "(smallest two-sided pseudo p 2/(R+1) <= alpha/n) and %s resolve the LSOAs at that threshold%s",
            f"{requested:,}", f"{chosen:,}", f"{n:,}", spec.alpha, f"{floor:,}", f"{target:,}",
            "" if chosen == target else f" (capped by clustering.max_permutations = {cap:,})",
        )
    return chosen


def parallel_for(spec: ClusteringSpec):
    """The :class:`pli.parallel.SeededMap` that ``spec`` asks for (enter it), or None.

    Examples
    --------
    >>> from pli.config import ClusteringSpec
    >>> parallel_for(ClusteringSpec()) is None, parallel_for(ClusteringSpec(parallel="serial")).backend
    (True, 'serial')
    """
    if spec.parallel == "none" and spec.scheduler is None:
        return None
    from pli.parallel import SeededMap

    backend = "dask" if spec.scheduler is not None else spec.parallel
    return SeededMap(backend, scheduler=spec.scheduler, workers=spec.workers)


def _seed_stability(
    y: pd.Series, weights: SpatialWeights | Graph, spec: ClusteringSpec, lisa: LocalMoranResult, *, perms: int,
    seed: int, parallel: Callable | None = None,
) -> dict[str, Any]:
    """LISA labels under seeds ``seed .. seed + k - 1``: how many LSOAs change label."""
    k = int(spec.stability_seeds)
    if perms == 0 or k < 2:
        return {}
    runs = [lisa] + [
        local_moran(y, weights, alpha=spec.alpha, permutations=perms, seed=seed + i, fdr=spec.fdr, log=False,
                    parallel=parallel)
        for i in track(range(1, k), "LISA reruns with other seeds (seed stability)")
    ]
    out: dict[str, Any] = {"seeds": [seed + i for i in range(k)], "permutations": perms}
    for suffix, attr in (("_fdr", "cluster_fdr"), ("", "cluster")):
        labels = pd.DataFrame({i: getattr(r, attr) for i, r in enumerate(runs)})
        out[f"high_high{suffix}"] = [int((labels[i] == "High-High").sum()) for i in labels]
        out[f"significant{suffix}"] = [int((labels[i] != NOT_SIGNIFICANT).sum()) for i in labels]
        out[f"lsoas_changing_label{suffix}"] = int((labels.nunique(axis=1) > 1).sum())
    out["gi_depends_on_seed"] = spec.gi_inference == "permutation"
    logger.info(
        "LISA across seeds %s-%s (%s permutations): High-High (FDR) %s; %s LSOAs change their FDR label "
        "(%s uncorrected)",
        seed, seed + k - 1, f"{perms:,}", out["high_high_fdr"], out["lsoas_changing_label_fdr"],
        out["lsoas_changing_label"],
    )
    return out
