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
* Pseudo p-values are two-sided: esda returns the *directed* (folded) pseudo p, the
  share of permutations at least as extreme as the observed value in the tail it falls
  in. Doubling it (capped at 1) gives the equal-tails two-sided p that esda itself will
  switch to ("alternative='two-sided' ... will generally double the p-value returned").
  Global Moran's I keeps esda's directed ``p_sim`` so it matches published values.
* False Discovery Rate: Benjamini-Hochberg adjusted p-values over all units, so a unit
  is significant after correction when ``p_fdr <= alpha``. This is the same rejection set
  as ``p <= esda.fdr(p, alpha)`` whenever BH rejects anything (esda falls back to the
  Bonferroni bound when it rejects nothing). Gi* confidence bins are computed twice, on
  the raw two-sided p (``gi_bin``, ``gi_label``) and on the BH-adjusted p
  (``gi_bin_fdr``, ``gi_label_fdr``): 99/95/90% then mean a false discovery rate of
  1/5/10% among the flagged LSOAs. Both sets of columns are always written (the maps
  read the uncorrected ones); ``ClusteringSpec.fdr`` chooses which set the log lines and
  the manifest's ``headline`` counts quote, and the log says "(FDR-corrected)" when it
  is the corrected set. Permutation p-values bottom out at 2 / (permutations + 1), so
  with 999 permutations an LSOA reaches the FDR 99% bin only when at least one in five
  LSOAs is at that floor; raise ``permutations`` when the 99% FDR bin matters.

Examples
--------
Each function carries a runnable example; see :func:`compute_clustering`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pandas as pd
from libpysal.graph import Graph

from pli.config import ClusteringSpec
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
    "getis_ord",
    "global_moran",
    "local_moran",
]


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
            "seed": self.seed,
        }


def compute_clustering(
    y: pd.Series,
    weights: SpatialWeights | Graph,
    spec: ClusteringSpec | None = None,
    *,
    seed: int = 0,
) -> ClusteringResult:
    """Moran's I, LISA and Gi* for one score with the options of a :class:`ClusteringSpec`.

    Parameters
    ----------
    y : Series
        Score indexed by ``lsoa_code``.
    weights : SpatialWeights or libpysal Graph
    spec : ClusteringSpec, optional
        ``permutations``, ``alpha`` and ``fdr`` (True: the log lines and the
        manifest's ``headline`` quote the FDR-corrected LISA clusters and Gi* bins; both
        sets of columns are always in :meth:`ClusteringResult.to_frame`).
    seed : int, default 0
        Used by all three statistics.

    Examples
    --------
    >>> from pli.examples import lattice
    >>> lsoa = lattice()  # 6 x 6 squares, score rising to the north-east
    >>> from pli.clustering import build_weights, compute_clustering
    >>> result = compute_clustering(lsoa["score"], build_weights(lsoa), seed=0)
    >>> round(result.moran.I, 3)
    0.822
    """
    spec = spec or ClusteringSpec()
    moran = global_moran(y, weights, permutations=spec.permutations, seed=seed)
    lisa = local_moran(y, weights, alpha=spec.alpha, permutations=spec.permutations, seed=seed, fdr=spec.fdr)
    gi = getis_ord(y, weights, permutations=spec.permutations, seed=seed, fdr=spec.fdr)
    return ClusteringResult(weights=weights, moran=moran, lisa=lisa, gi=gi, fdr=spec.fdr, seed=int(seed))
