"""Getis-Ord Gi*: the one core (z, p, bins) shared by LSOAs and the patrol grid.

:func:`gi_star` computes the analytic z (Getis & Ord 1995) and either its two-sided
normal p (the default, as ArcGIS and spdep) or a total-permutation pseudo p;
:func:`gi_bins` turns z and p into the 90/95/99% bins; :func:`getis_ord` wraps both for
LSOAs, :func:`pli.patrols.hotspots.grid_hotspots` for grid cells.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd
from libpysal.graph import Graph
from scipy import sparse, stats

from pli.errors import InputError
from pli.stats.fdr import benjamini_hochberg
from pli.stats.moran import NOT_SIGNIFICANT
from pli.stats.permutation import refine_pseudo_p, total_pseudo_p
from pli.stats.weights import SpatialWeights, _align, _as_graph

__all__ = [
    "GI_LEVELS",
    "GetisOrdResult",
    "GiStar",
    "getis_ord",
    "gi_bins",
    "gi_star",
]

logger = logging.getLogger(__name__)


GI_LEVELS = ((3, 0.01, "99%"), (2, 0.05, "95%"), (1, 0.10, "90%"))


GiInference = Literal["normal", "permutation"]


@dataclass(frozen=True, eq=False)
class GetisOrdResult:
    """Getis-Ord Gi* per LSOA (binary weights including the unit itself).

    Attributes
    ----------
    index : pandas.Index
    G : ndarray
        Gi* statistic (esda ``Gs``).
    z : ndarray
        Analytic z-score (equals esda ``Zs``, spdep ``localG``).
    p_directed : ndarray
        One-sided p in the tail of ``z``: ``sf(|z|)`` (normal) or the folded
        total-permutation pseudo p.
    p : ndarray
        Two-sided p, ``min(1, 2 * p_directed)``; the bins read it.
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
    inference : {"normal", "permutation"}
    permutations, seed : int
        ``permutations`` is 0 with normal inference.
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
    inference: str
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


def gi_bins(z: np.ndarray, p: np.ndarray) -> np.ndarray:
    """ArcGIS ``Gi_Bin``: sign of ``z`` times 3, 2, 1 where ``p <= 0.01, 0.05, 0.10``.

    Examples
    --------
    >>> import numpy as np
    >>> from pli.stats.getis_ord import gi_bins
    >>> gi_bins(np.array([2.7, 2.0, -1.7, 1.0]), np.array([0.007, 0.046, 0.089, 0.32])).tolist()
    [3, 2, -1, 0]
    """
    z = np.asarray(z, dtype=float)
    p = np.asarray(p, dtype=float)
    level = np.zeros(len(z), dtype=int)
    for lvl, cut, _ in reversed(GI_LEVELS):
        level[p <= cut] = lvl
    return (np.sign(z).astype(int) * level).astype(int)


@dataclass(frozen=True, eq=False)
class GiStar:
    """The shared Gi* core's output, one entry per unit in the graph's order.

    Attributes
    ----------
    G : ndarray
        Window sum over the sum of all values (Gi*; NaN when the values sum to 0).
    z : ndarray
        Analytic z-score (Getis & Ord 1995, binary weights, the unit itself included),
        what ArcGIS and spdep's ``localG`` report; 0 where the values are constant.
    p : ndarray
        Two-sided p used for the bins: ``2 * sf(|z|)`` (``inference="normal"``) or
        ``min(1, 2 * p_sim)`` (``"permutation"``).
    p_sim : ndarray
        Folded one-sided total-permutation pseudo p (NaN with ``"normal"``).
    used : ndarray of int
        Permutations behind each unit's ``p_sim`` (0 with ``"normal"``).
    inference : str
    """

    G: np.ndarray
    z: np.ndarray
    p: np.ndarray
    p_sim: np.ndarray
    used: np.ndarray
    inference: str


def gi_star(
    y: np.ndarray,
    graph: Graph | sparse.spmatrix | sparse.sparray,
    *,
    inference: GiInference = "normal",
    permutations: int = 0,
    seed: int = 0,
    refine_to: int = 0,
) -> GiStar:
    """Gi* z, p and pseudo p for values on a graph: the one core of LSOA and grid Gi*.

    Parameters
    ----------
    y : ndarray
        One value per unit, in the graph's order.
    graph : libpysal Graph or scipy sparse matrix
        Any weights; they are read as binary (non-zero = neighbour) and the unit itself
        is added, so the window is the unit plus its neighbours (Gi*, "star").
    inference : {"normal", "permutation"}
        ``normal``: p from the analytic z (ArcGIS, spdep). ``permutation``: every value,
        the unit's own included, is permuted (total randomisation) and ``p`` is twice
        the folded pseudo p. A *conditional* permutation (own value fixed, as for Local
        Moran) would leave only the neighbours' sum to test, which for Gi* is Local
        Moran's test again.
    permutations : int
        Whole-vector permutations with ``"permutation"``.
    seed : int
    refine_to : int
        With ``"permutation"``, units whose pseudo p sits near its floor are re-tested
        with fresh window draws up to this many permutations
        (:func:`pli.stats.permutation.refine_pseudo_p`); 0 turns it off.

    Examples
    --------
    >>> from pli.examples import lattice
    >>> from pli.stats.getis_ord import gi_star
    >>> from pli.stats.weights import build_weights
    >>> lsoa = lattice()
    >>> core = gi_star(lsoa["score"].to_numpy(), build_weights(lsoa).graph)
    >>> round(float(core.z.max()), 3), float(core.p.min()) < 0.001
    (4.243, True)
    """
    if inference not in ("normal", "permutation"):
        raise InputError(f"gi_inference: expected 'normal' or 'permutation', got {inference!r}")
    y = np.asarray(y, dtype=float)
    n = len(y)
    # A scipy matrix is taken as it is, so callers with their own adjacency (the patrol
    # grid) skip building a libpysal Graph.
    adj = (graph if sparse.issparse(graph) else graph.sparse).tocsr().astype(float)
    adj.setdiag(0)
    adj.eliminate_zeros()
    adj.data[:] = 1.0
    card = np.diff(adj.indptr)
    window = adj @ y + y
    w_star = card + 1.0
    mean = y.mean() if n else 0.0
    sd = float(np.sqrt(max(float(np.mean(y * y)) - mean * mean, 0.0))) if n else 0.0
    scale = np.sqrt(np.maximum(n * w_star - w_star**2, 0.0) / max(n - 1, 1))
    den = sd * scale
    constant = n < 2 or sd <= 1e-12 * max(1.0, abs(mean))
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where((den > 0) & (not constant), (window - mean * w_star) / den, 0.0)
        total = y.sum()
        G = window / total if total != 0 else np.full(n, np.nan)
    p_sim = np.full(n, np.nan)
    used = np.zeros(n, dtype=np.int64)
    if inference == "normal" or constant:
        p = np.minimum(1.0, 2.0 * stats.norm.sf(np.abs(z)))
        if constant:
            p = np.ones(n)
    else:
        if permutations < 1:
            raise InputError("permutations: expected 1 or more for gi_inference='permutation'")
        p_sim = total_pseudo_p(y, lambda block: adj @ block + block, window, permutations, seed)
        used = np.full(n, permutations, dtype=np.int64)
        if refine_to > permutations:
            p_sim, used = refine_pseudo_p(y, window, card, p_sim, permutations, refine_to, seed, total=True)
        p = np.minimum(1.0, 2.0 * p_sim)
    return GiStar(G=G, z=z, p=p, p_sim=p_sim, used=used, inference=inference)


def getis_ord(
    y: pd.Series | np.ndarray,
    weights: SpatialWeights | Graph,
    *,
    inference: GiInference = "normal",
    permutations: int = 999,
    seed: int = 0,
    fdr: bool = True,
) -> GetisOrdResult:
    """Getis-Ord Gi* hot and cold spots with confidence bins.

    Uses binary weights with the unit itself included (the classic Gi* of Ord and Getis
    1995, as in ArcGIS Hot Spot Analysis and spdep ``localG``). The bins come from the
    analytic z and its two-sided normal p by default, so a bin always agrees with the
    z-score printed beside it; ``inference="permutation"`` uses a total-permutation
    pseudo p instead (see :func:`gi_star`).

    Parameters
    ----------
    y : Series or array
        One value per LSOA. Negative values are shifted to start at 0 (logged).
    weights : SpatialWeights or libpysal Graph
    inference : {"normal", "permutation"}, default "normal"
    permutations : int, default 999
        Used only with ``inference="permutation"``.
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
    >>> result = getis_ord(lsoa["score"], build_weights(lsoa), seed=0)
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
    core = gi_star(values, graph, inference=inference, permutations=permutations, seed=seed)
    if inference == "permutation":
        p_directed = core.p_sim
    else:
        p_directed = np.asarray(stats.norm.sf(np.abs(core.z)), dtype=float)
    p = core.p
    p_fdr = benjamini_hochberg(p)
    result = GetisOrdResult(
        index=ids,
        G=core.G,
        z=core.z,
        p_directed=p_directed,
        p=p,
        bin=gi_bins(core.z, p),
        p_fdr=p_fdr,
        bin_fdr=gi_bins(core.z, p_fdr),
        shift=shift,
        inference=inference,
        permutations=int(permutations) if inference == "permutation" else 0,
        seed=int(seed),
    )
    _log_gi(result, fdr=fdr)
    return result


def _log_gi(result: GetisOrdResult, *, fdr: bool) -> None:
    bins, other = (result.bin_fdr, result.bin) if fdr else (result.bin, result.bin_fdr)
    logger.info(
        "Gi* (%s p)%s: %s hotspot and %s coldspot LSOAs at 90%% confidence or more (%s: %s and %s)",
        result.inference,
        " (FDR-corrected)" if fdr else " (uncorrected)",
        f"{int((bins > 0).sum()):,}",
        f"{int((bins < 0).sum()):,}",
        "uncorrected" if fdr else "after FDR correction",
        f"{int((other > 0).sum()):,}",
        f"{int((other < 0).sum()):,}",
    )
