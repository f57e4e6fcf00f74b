"""Getis-Ord Gi* for LSOAs: z-scores, two-sided pseudo p-values and confidence bins."""

from __future__ import annotations

import logging
from dataclasses import dataclass

import esda
import numpy as np
import pandas as pd
from libpysal.graph import Graph

from pli.stats.fdr import benjamini_hochberg, exact_pseudo_p
from pli.stats.moran import NOT_SIGNIFICANT
from pli.stats.permutation import global_rng_preserved
from pli.stats.weights import SpatialWeights, _align, _as_graph

__all__ = [
    "GI_LEVELS",
    "GetisOrdResult",
    "getis_ord",
]

logger = logging.getLogger(__name__)


GI_LEVELS = ((3, 0.01, "99%"), (2, 0.05, "95%"), (1, 0.10, "90%"))


@dataclass(frozen=True, eq=False)
class GetisOrdResult:
    """Getis-Ord Gi* per LSOA (binary weights including the unit itself).

    Attributes
    ----------
    index : pandas.Index
    G : ndarray
        Gi* statistic (esda ``Gs``).
    z : ndarray
        Analytical z-score (esda ``Zs``).
    p_directed : ndarray
        esda's directed pseudo p-value.
    p : ndarray
        Two-sided pseudo p-value, ``min(1, 2 * p_directed)`` (normal p without
        permutations).
    bin : ndarray of int
        -3..3: sign of ``z`` times 3, 2, 1 where ``p <= 0.01, 0.05, 0.10`` (99/95/90%).
    p_fdr : ndarray
        Benjamini-Hochberg adjusted ``p`` over all units.
    bin_fdr : ndarray of int
        As ``bin`` but on ``p_fdr``: a 99/95/90% bin then holds LSOAs significant at a
        false discovery rate of 1/5/10%.
    shift : float
        Constant added to ``y`` so it is non-negative (Gi* is defined for non-negative
        values; z and p are unchanged by a shift).
    permutations, seed : int
    """

    index: pd.Index
    G: np.ndarray
    z: np.ndarray
    p_directed: np.ndarray
    p: np.ndarray
    bin: np.ndarray
    p_fdr: np.ndarray
    bin_fdr: np.ndarray
    shift: float
    permutations: int
    seed: int

    @property
    def label(self) -> np.ndarray:
        """"Hotspot 99%" ... "Not significant" ... "Coldspot 99%"."""
        return _gi_labels(self.bin)

    @property
    def label_fdr(self) -> np.ndarray:
        """As :attr:`label`, on the FDR-corrected bins."""
        return _gi_labels(self.bin_fdr)

    def counts(self, *, fdr: bool = False) -> dict[str, int]:
        """Number of LSOAs per bin, keys "-3" ... "3" (all seven present)."""
        bins = pd.Series(self.bin_fdr if fdr else self.bin)
        return {str(k): int(v) for k, v in bins.value_counts().reindex(range(-3, 4), fill_value=0).items()}

    def to_frame(self) -> pd.DataFrame:
        """Columns ``gi_z, gi_p, gi_bin, gi_label, gi_p_fdr, gi_bin_fdr, gi_label_fdr``."""
        return pd.DataFrame(
            {
                "gi_z": self.z,
                "gi_p": self.p,
                "gi_bin": self.bin.astype("int64"),
                "gi_label": pd.array(self.label, dtype="string"),
                "gi_p_fdr": self.p_fdr,
                "gi_bin_fdr": self.bin_fdr.astype("int64"),
                "gi_label_fdr": pd.array(self.label_fdr, dtype="string"),
            },
            index=self.index,
        )


def _gi_labels(bins: np.ndarray) -> np.ndarray:
    names = {0: NOT_SIGNIFICANT}
    for level, _, conf in GI_LEVELS:
        names[level] = f"Hotspot {conf}"
        names[-level] = f"Coldspot {conf}"
    return pd.Series(bins).map(names).to_numpy(dtype=object)


def _gi_bins(z: np.ndarray, p: np.ndarray) -> np.ndarray:
    level = np.zeros(len(z), dtype=int)
    for lvl, cut, _ in reversed(GI_LEVELS):
        level[p <= cut] = lvl
    return (np.sign(z).astype(int) * level).astype(int)


def getis_ord(
    y: pd.Series | np.ndarray,
    weights: SpatialWeights | Graph,
    *,
    permutations: int = 999,
    seed: int = 0,
    fdr: bool = True,
) -> GetisOrdResult:
    """Getis-Ord Gi* hot and cold spots with confidence bins.

    Uses binary weights with the unit itself included (the classic Gi* of Ord and Getis
    1995, as in ArcGIS Hot Spot Analysis). The bin's sign comes from the z-score and
    its level from the two-sided permutation p-value, so skewed inputs (crime counts)
    are not judged against a normal curve they do not follow.

    Parameters
    ----------
    y : Series or array
        One value per LSOA. Negative values are shifted to start at 0 (logged).
    weights : SpatialWeights or libpysal Graph
    permutations : int, default 999
    seed : int, default 0
    fdr : bool, default True
        Which bins the log line quotes: FDR-corrected (True) or uncorrected. Both are
        always on the result.

    Returns
    -------
    GetisOrdResult

    Examples
    --------
    >>> from pli.examples import lattice
    >>> lsoa = lattice()  # 6 x 6 squares, score rising to the north-east
    >>> from pli.stats.getis_ord import getis_ord
    >>> from pli.stats.weights import build_weights
    >>> result = getis_ord(lsoa["score"], build_weights(lsoa), permutations=99, seed=0)
    >>> round(float(result.to_frame().loc["E01000035", "gi_z"]), 3)
    3.464
    """
    graph = _as_graph(weights)
    values, ids = _align(y, graph)
    shift = 0.0
    if values.min() < 0:
        shift = float(-values.min())
        logger.info("Gi*: values shifted by %.4g to be non-negative (z and p do not change)", shift)
        values = values + shift
    with global_rng_preserved():
        gi = esda.G_Local(
            values,
            graph.transform("B"),
            transform="B",
            permutations=permutations,
            star=True,
            keep_simulations=False,
            n_jobs=1,
            seed=seed,
        )
    z = np.asarray(gi.Zs, dtype=float)
    if permutations:
        p_directed = exact_pseudo_p(gi.p_sim, permutations)
    else:
        p_directed = np.asarray(gi.p_norm, dtype=float)
    p = np.minimum(1.0, 2.0 * p_directed)
    p_fdr = benjamini_hochberg(p)
    result = GetisOrdResult(
        index=ids,
        G=np.asarray(gi.Gs, dtype=float),
        z=z,
        p_directed=p_directed,
        p=p,
        bin=_gi_bins(z, p),
        p_fdr=p_fdr,
        bin_fdr=_gi_bins(z, p_fdr),
        shift=shift,
        permutations=int(permutations),
        seed=int(seed),
    )
    _log_gi(result, fdr=fdr)
    return result


def _log_gi(result: GetisOrdResult, *, fdr: bool) -> None:
    bins, other = (result.bin_fdr, result.bin) if fdr else (result.bin, result.bin_fdr)
    logger.info(
        "Gi*%s: %s hotspot and %s coldspot LSOAs at 90%% or more (%s: %s and %s)",
        " (FDR-corrected)" if fdr else " (uncorrected)",
        f"{int((bins > 0).sum()):,}",
        f"{int((bins < 0).sum()):,}",
        "uncorrected" if fdr else "after FDR correction",
        f"{int((other > 0).sum()):,}",
        f"{int((other < 0).sum()):,}",
    )
