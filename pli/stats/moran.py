"""Global Moran's I and Local Moran (LISA) with seeded permutations and FDR."""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import Any, Callable

import esda
import numpy as np
import pandas as pd
from libpysal.graph import Graph

from pli.stats.fdr import benjamini_hochberg, check_alpha, exact_pseudo_p
from pli.stats.permutation import PERMUTATION_BLOCK, global_rng_preserved
from pli.stats.weights import SpatialWeights, _align, _as_graph

__all__ = [
    "GlobalMoranResult",
    "LocalMoranResult",
    "NOT_SIGNIFICANT",
    "QUADRANT_LABELS",
    "global_moran",
    "local_moran",
]

logger = logging.getLogger(__name__)


QUADRANT_LABELS = {1: "High-High", 2: "Low-High", 3: "Low-Low", 4: "High-Low"}


NOT_SIGNIFICANT = "Not significant"


@dataclass(frozen=True)
class GlobalMoranResult:
    """Global Moran's I with analytical and permutation inference.

    Attributes
    ----------
    I : float
        Moran's I on row-standardised weights.
    expected_I : float
        -1 / (n - 1).
    variance_I : float
        Variance under the normality assumption.
    z : float
        (I - E[I]) / sd under normality (esda ``z_norm``).
    p_norm : float
        Two-sided p-value of ``z``.
    z_sim, p_sim : float
        z against the permutation distribution and esda's directed pseudo p-value,
        (min(#>=I, #<I) + 1) / (permutations + 1). NaN when ``permutations == 0``.
    permutations, seed : int
    n : int
    weights : str
        One-line description of the weights.
    """

    I: float  # noqa: E741 - the statistic's name
    expected_I: float
    variance_I: float
    z: float
    p_norm: float
    z_sim: float
    p_sim: float
    permutations: int
    seed: int
    n: int
    weights: str

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict for the manifest (NaN becomes None)."""
        out: dict[str, Any] = {}
        for key, value in self.__dict__.items():
            if isinstance(value, float):
                out[key] = None if math.isnan(value) else float(value)
            else:
                out[key] = value
        return out


def global_moran(
    y: pd.Series | np.ndarray,
    weights: SpatialWeights | Graph,
    *,
    permutations: int = 999,
    seed: int = 0,
) -> GlobalMoranResult:
    """Global Moran's I with seeded permutation inference.

    Parameters
    ----------
    y : Series or array
        One value per LSOA; a Series is aligned to the weights by its index.
    weights : SpatialWeights or libpysal Graph
        Row-standardised internally (on a copy).
    permutations : int, default 999
        Random permutations of ``y`` for the pseudo p-value (0 skips them).
    seed : int, default 0
        Seed of the local generator used for the permutations.

    Returns
    -------
    GlobalMoranResult
        ``I``, ``expected_I``, ``variance_I``, ``z`` and ``p_norm`` equal esda's
        ``Moran(y, w)``; ``p_sim`` follows esda's definition with seeded draws.

    Examples
    --------
    >>> from pli.examples import lattice
    >>> lsoa = lattice()  # 6 x 6 squares, score rising to the north-east
    >>> from pli.stats.moran import global_moran
    >>> from pli.stats.weights import build_weights
    >>> result = global_moran(lsoa["score"], build_weights(lsoa), permutations=99, seed=0)
    >>> round(result.I, 3), result.p_sim
    (0.822, 0.01)
    """
    graph = _as_graph(weights)
    values, _ = _align(y, graph)
    row = graph.transform("R")
    moran = esda.Moran(values, row.copy(), transformation="r", permutations=0)
    z_sim = p_sim = float("nan")
    if permutations:
        sims = _moran_permutations(values, row, permutations, seed)
        larger = int((sims >= moran.I).sum())
        larger = min(larger, permutations - larger)
        p_sim = (larger + 1.0) / (permutations + 1.0)
        sd = sims.std()
        z_sim = float((moran.I - sims.mean()) / sd) if sd > 0 else float("nan")
    desc = repr(weights) if isinstance(weights, SpatialWeights) else f"libpysal Graph of {graph.n} units"
    result = GlobalMoranResult(
        I=float(moran.I),
        expected_I=float(moran.EI),
        variance_I=float(moran.VI_norm),
        z=float(moran.z_norm),
        p_norm=float(moran.p_norm),
        z_sim=z_sim,
        p_sim=float(p_sim),
        permutations=int(permutations),
        seed=int(seed),
        n=int(len(values)),
        weights=desc,
    )
    logger.info(
        "Moran's I = %.4f (E[I] = %.4f, z = %.2f, pseudo p = %.2g, %s permutations)",
        result.I, result.expected_I, result.z, result.p_sim, f"{permutations:,}",
    )
    return result


def _moran_permutations(values: np.ndarray, row: Graph, permutations: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    z = values - values.mean()
    matrix = row.sparse.tocsr()
    s0 = matrix.sum()
    scale = len(z) / s0 / (z @ z)
    sims = np.empty(permutations)
    for start in range(0, permutations, PERMUTATION_BLOCK):
        size = min(PERMUTATION_BLOCK, permutations - start)
        block = rng.permuted(np.broadcast_to(z, (size, len(z))), axis=1)
        lagged = (matrix @ block.T).T
        sims[start : start + size] = scale * np.einsum("ij,ij->i", block, lagged)
    return sims


@dataclass(frozen=True, eq=False)
class LocalMoranResult:
    """Local Moran's I (LISA) per LSOA.

    Attributes
    ----------
    index : pandas.Index
        LSOA codes (weights order).
    I : ndarray
        Local Moran's I (esda ``Is``, row-standardised weights).
    quadrant : ndarray of int
        esda quadrant: 1 High-High, 2 Low-High, 3 Low-Low, 4 High-Low.
    p_directed : ndarray
        esda's directed (folded) pseudo p-value ``p_sim``.
    p : ndarray
        Two-sided pseudo p-value, ``min(1, 2 * p_directed)``. With ``permutations == 0``
        the two-sided normal p-value of esda's total-randomisation moments instead.
    p_fdr : ndarray
        Benjamini-Hochberg adjusted ``p``.
    alpha : float
    permutations, seed : int
    """

    index: pd.Index
    I: np.ndarray  # noqa: E741
    quadrant: np.ndarray
    p_directed: np.ndarray
    p: np.ndarray
    p_fdr: np.ndarray
    alpha: float
    permutations: int
    seed: int

    @property
    def cluster(self) -> np.ndarray:
        """Quadrant label where ``p <= alpha``, else "Not significant"."""
        return _labels(self.quadrant, self.p <= self.alpha)

    @property
    def cluster_fdr(self) -> np.ndarray:
        """Quadrant label where ``p_fdr <= alpha``, else "Not significant"."""
        return _labels(self.quadrant, self.p_fdr <= self.alpha)

    def counts(self, *, fdr: bool = False) -> dict[str, int]:
        """Number of LSOAs per cluster label (all five labels present)."""
        labels = pd.Series(self.cluster_fdr if fdr else self.cluster)
        order = [*QUADRANT_LABELS.values(), NOT_SIGNIFICANT]
        return {k: int(v) for k, v in labels.value_counts().reindex(order, fill_value=0).items()}

    def to_frame(self) -> pd.DataFrame:
        """Columns ``lisa_I, lisa_p, lisa_p_fdr, lisa_quadrant, lisa_cluster, lisa_cluster_fdr``."""
        return pd.DataFrame(
            {
                "lisa_I": self.I,
                "lisa_p": self.p,
                "lisa_p_fdr": self.p_fdr,
                "lisa_quadrant": pd.array(_labels(self.quadrant, np.ones(len(self.I), bool)), dtype="string"),
                "lisa_cluster": pd.array(self.cluster, dtype="string"),
                "lisa_cluster_fdr": pd.array(self.cluster_fdr, dtype="string"),
            },
            index=self.index,
        )


def _labels(quadrant: np.ndarray, significant: np.ndarray) -> np.ndarray:
    names = np.array([NOT_SIGNIFICANT, *QUADRANT_LABELS.values()], dtype=object)
    return names[np.where(significant, quadrant, 0)]


def local_moran(
    y: pd.Series | np.ndarray,
    weights: SpatialWeights | Graph,
    *,
    alpha: float = 0.05,
    permutations: int = 999,
    seed: int = 0,
    fdr: bool = True,
    log: bool = True,
    parallel: Callable | None = None,
) -> LocalMoranResult:
    """Local Moran's I with two-sided conditional-permutation pseudo p-values.

    Parameters
    ----------
    y : Series or array
        One value per LSOA; a Series is aligned to the weights by its index.
    weights : SpatialWeights or libpysal Graph
        Row-standardised internally (on a copy).
    alpha : float, default 0.05
        Significance level for the cluster labels (uncorrected and FDR).
    permutations : int, default 999
        Conditional permutations per unit (esda ``Moran_Local``).
    seed : int, default 0
        Passed to esda; NumPy's global generator is restored afterwards.
    fdr : bool, default True
        Which labels the log line quotes: FDR-corrected (True) or uncorrected. Both are
        always on the result.
    log : bool, default True
        False keeps the summary out of the log (the seed-stability reruns).
    parallel : pli.parallel.SeededMap, optional
        Run the permutations in chunks of :data:`LISA_CHUNK`, each an esda call seeded by
        its position from ``seed`` (:func:`pli.parallel.task_seeds`), on that backend; the
        counts of simulated I at or above the observed one are summed over the chunks and
        folded as esda folds them. Any backend and worker count gives the same result;
        without it one esda call draws all permutations (another random stream).

    Returns
    -------
    LocalMoranResult

    Examples
    --------
    >>> from pli.examples import lattice
    >>> lsoa = lattice()  # 6 x 6 squares, score rising to the north-east
    >>> from pli.stats.moran import local_moran
    >>> from pli.stats.weights import build_weights
    >>> result = local_moran(lsoa["score"], build_weights(lsoa), permutations=99, seed=0)
    >>> frame = result.to_frame()
    >>> round(float(frame.loc["E01000035", "lisa_I"]), 3), frame.loc["E01000035", "lisa_cluster"]
    (3.056, 'High-High')
    """
    check_alpha(alpha)
    graph = _as_graph(weights)
    values, ids = _align(y, graph)
    chunked = parallel is not None and permutations > 0
    with global_rng_preserved():
        lm = esda.Moran_Local(
            values,
            graph.transform("R"),
            transformation="r",
            permutations=0 if chunked else permutations,
            n_jobs=1,
            keep_simulations=False,
            seed=seed,
        )
    if chunked:
        assert parallel is not None
        sizes = [min(LISA_CHUNK, permutations - start) for start in range(0, permutations, LISA_CHUNK)]
        larger = np.sum(parallel(_LisaChunk(values, graph.transform("R")), sizes, seed=seed), axis=0)
        folded = np.minimum(larger, permutations - larger)
        p_directed = exact_pseudo_p((folded + 1.0) / (permutations + 1.0), permutations)
        p = np.minimum(1.0, 2.0 * p_directed)
    elif permutations:
        p_directed = exact_pseudo_p(lm.p_sim, permutations)
        p = np.minimum(1.0, 2.0 * p_directed)
    else:
        from scipy import stats

        logger.info("local Moran: no permutations requested; using normal-approximation p-values")
        z = (lm.Is - lm.EI) / np.sqrt(lm.VI)
        p_directed = stats.norm.sf(np.abs(z))
        p = np.minimum(1.0, 2.0 * p_directed)
    result = LocalMoranResult(
        index=ids,
        I=np.asarray(lm.Is, dtype=float),
        quadrant=np.asarray(lm.q, dtype=int),
        p_directed=p_directed,
        p=p,
        p_fdr=benjamini_hochberg(p),
        alpha=float(alpha),
        permutations=int(permutations),
        seed=int(seed),
    )
    if log:
        _log_lisa(result, fdr=fdr)
    return result


LISA_CHUNK = 1_000
"""Permutations per task when LISA runs in seeded chunks (``parallel``)."""


class _LisaChunk:
    """One chunk of conditional permutations: per unit, how many simulated I reach the observed I.

    A picklable callable (sent once to every dask worker) holding the values and the
    row-standardised graph.
    """

    def __init__(self, values: np.ndarray, graph: Graph):
        self.values = values
        self.graph = graph

    def __call__(self, size: int, rng: np.random.Generator) -> np.ndarray:
        # esda's z of the simulations divides by their spread, 0 for a unit without variation.
        with global_rng_preserved(), np.errstate(invalid="ignore", divide="ignore"):
            lm = esda.Moran_Local(self.values, self.graph, transformation="r", permutations=int(size), n_jobs=1,
                                  keep_simulations=True, seed=int(rng.integers(2**31 - 1)))
        return (np.asarray(lm.sim) >= np.asarray(lm.Is)).sum(axis=0).astype(np.int64)


def _log_lisa(result: LocalMoranResult, *, fdr: bool) -> None:
    counts = result.counts(fdr=fdr)
    other = int(((result.p if fdr else result.p_fdr) <= result.alpha).sum())
    logger.info(
        "LISA at alpha %.2f%s: %s (%s: %s significant)",
        result.alpha,
        " (FDR-corrected)" if fdr else " (uncorrected)",
        ", ".join(f"{k} {v:,}" for k, v in counts.items()),
        "uncorrected" if fdr else "after FDR correction",
        f"{other:,}",
    )
