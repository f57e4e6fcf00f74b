"""The permutation core: permutation sums, folded pseudo p-values and how many are needed.

Used by every local statistic pli tests by permutation, so the null distribution is
drawn one way everywhere. Local Moran uses esda's conditional randomisation (the unit's
own value fixed, its neighbours drawn without replacement from the other units). Gi*
includes the unit itself in its window, so holding the own value fixed would leave only
the neighbours' test (Local Moran's p again); its permutation option draws the whole
window, own value included, from all units (``total=True``). A pseudo p-value sitting at
its floor is refined by drawing more permutations for that unit only.
"""

from __future__ import annotations

import contextlib
import logging
import math
import warnings
from typing import Callable, Iterator

import numpy as np

__all__ = [
    "permutations_for_fdr",
]

logger = logging.getLogger(__name__)


def folded_pseudo_p(observed: np.ndarray, simulated: np.ndarray) -> np.ndarray:
    """One-sided pseudo p in the tail the observation lies in, ties counted in both tails.

    esda's folded ("directed") ``p_sim`` counts ties only towards the upper tail, so an
    empty cell among empty cells, whose Gi* equals the smallest value any permutation
    can give, gets the smallest possible p and becomes a "cold spot"; on a sparse grid
    that is most of the map. Counting ties in both tails (``#sim >= obs`` and
    ``#sim <= obs``, within a relative 1e-9 so float noise is a tie) gives such a cell
    p = 1. Without ties this equals esda's value.
    """
    tol = 1e-9 * np.maximum(np.abs(observed), 1e-300)[:, None]
    upper = (simulated >= observed[:, None] - tol).sum(axis=1)
    lower = (simulated <= observed[:, None] + tol).sum(axis=1)
    return (np.minimum(upper, lower) + 1.0) / (simulated.shape[1] + 1.0)


_SEQUENTIAL_HITS = 10  # refine a pseudo p while fewer permutations than this are as extreme


_REFINE_BLOCK = 4_000_000  # drawn neighbour indices per block (32 MB of int64)


def permutations_for_fdr(n: int, alpha: float, *, hits: int = 1) -> int:
    """Permutations with which the most extreme of ``n`` tests can pass BH at ``alpha``.

    A two-sided pseudo p (twice the folded one) cannot fall below ``2 / (R + 1)``, and
    Benjamini-Hochberg rejects anything only when the smallest p is at most
    ``alpha / n``; so ``R + 1 >= 2 n / alpha`` (``hits=1``). With ``hits=h`` a unit
    whose true p sits at that first threshold expects ``h`` permutations as extreme as
    itself, so its pseudo p is resolved rather than at the floor (Besag & Clifford
    1991) and labels near the threshold stop moving with the seed. Rounded up to a
    whole thousand minus one (999, 1,999, ...) so areas of similar size share a count.

    Examples
    --------
    >>> from pli.stats.permutation import permutations_for_fdr
    >>> permutations_for_fdr(220, 0.05)  # 2 * 220 / 0.05 = 8,800 draws
    8999
    >>> permutations_for_fdr(220, 0.05, hits=5)
    43999
    """
    need = math.ceil(2.0 * hits * n / alpha - 1e-9)
    return int(math.ceil(need / 1000.0) * 1000 - 1)


def total_pseudo_p(
    y: np.ndarray, window: Callable[[np.ndarray], np.ndarray], observed: np.ndarray, permutations: int, seed: int
) -> np.ndarray:
    """Folded one-sided pseudo p of ``observed`` against whole-vector permutations of ``y``.

    ``window(block)`` maps an ``(n, b)`` block of permuted columns to the ``(n, b)``
    statistics (for Gi*, the window sums ``(W + I) @ block``). Every value, the unit's
    own included, is permuted, which is the null of Gi* (Getis & Ord 1992: the value
    set is fixed, its arrangement random). Ties count in both tails, as
    :func:`folded_pseudo_p`. Blocks keep memory at ``n * PERMUTATION_BLOCK`` floats.
    """
    rng = np.random.default_rng([int(seed), 0x70A1])
    n = len(y)
    upper = np.zeros(n, dtype=np.int64)
    lower = np.zeros(n, dtype=np.int64)
    tol = 1e-9 * np.maximum(np.abs(observed), 1e-300)
    for start in range(0, permutations, PERMUTATION_BLOCK):
        size = min(PERMUTATION_BLOCK, permutations - start)
        block = rng.permuted(np.broadcast_to(y, (size, n)), axis=1).T
        sims = np.asarray(window(block))
        upper += (sims >= (observed - tol)[:, None]).sum(axis=1)
        lower += (sims <= (observed + tol)[:, None]).sum(axis=1)
    return (np.minimum(upper, lower) + 1.0) / (permutations + 1.0)


def refine_pseudo_p(
    y: np.ndarray,
    window: np.ndarray,
    card: np.ndarray,
    p_sim: np.ndarray,
    permutations: int,
    target: int,
    seed: int,
    *,
    total: bool = False,
) -> tuple[np.ndarray, np.ndarray]:
    """Sequential Monte Carlo: more permutations for cells whose pseudo p is at the floor.

    A pseudo p built from ``R`` permutations cannot fall below ``1 / (R + 1)``, so with
    thousands of cells Benjamini-Hochberg can never reach it. A cell whose observed Gi*
    was matched or beaten by fewer than ``_SEQUENTIAL_HITS`` permutations (its p is
    resolution-limited; Besag & Clifford 1991) is re-tested with ten times as many fresh
    conditional permutations, and again, until ``target`` permutations or until its
    p is resolved. Each round draws the cell's ``card`` neighbours without replacement
    from the other cells (rejection of repeated draws), exactly as esda's conditional
    randomisation, so the refined p tests the same null. With ``total`` the whole
    window (``card + 1`` values, the cell's own slot included) is drawn from all cells,
    the null of :func:`total_pseudo_p`.

    Returns the one-sided p per cell and the permutations behind it.
    """
    n = len(y)
    rng = np.random.default_rng([int(seed), 0x6A1])  # a stream apart from esda's seed
    used = np.full(n, permutations, dtype=np.int64)
    p_out = p_sim.copy()
    r = permutations
    while r < target:
        r = min(10 * (r + 1) - 1, target)
        hits = np.rint(p_out * (used + 1)) - 1
        todo = np.flatnonzero((hits < _SEQUENTIAL_HITS) & (card > 0))
        if len(todo) == 0:
            break
        tol = 1e-9 * np.maximum(np.abs(window), 1e-300)
        for k in np.unique(card[todo]).tolist():
            cells = todo[card[todo] == k]
            per_block = max(1, _REFINE_BLOCK // (r * k))
            for start in range(0, len(cells), per_block):
                block = cells[start : start + per_block]
                chunk = max(1, _REFINE_BLOCK // (len(block) * k))
                upper = np.zeros(len(block), dtype=np.int64)
                lower = np.zeros(len(block), dtype=np.int64)
                for r0 in range(0, r, chunk):
                    if total:
                        sims = total_sums(y, len(block), k + 1, min(chunk, r - r0), rng)
                    else:
                        sims = conditional_sums(y, block, k, min(chunk, r - r0), rng)
                    upper += (sims >= (window[block] - tol[block])[:, None]).sum(axis=1)
                    lower += (sims <= (window[block] + tol[block])[:, None]).sum(axis=1)
                p_out[block] = (np.minimum(upper, lower) + 1.0) / (r + 1.0)
                used[block] = r
        logger.info(
            "Gi*: %s cells with a resolution-limited pseudo p re-tested with %s fresh permutations",
            f"{len(todo):,}",
            f"{r:,}",
        )
    return p_out, used


def conditional_sums(y: np.ndarray, cells: np.ndarray, k: int, r: int, rng: np.random.Generator) -> np.ndarray:
    """Window sums of ``cells`` with ``k`` neighbours drawn, ``r`` times, from the other cells."""
    n = len(y)
    focal = cells.astype(np.int32)
    # int32 draws are several times faster than int64 ones; grids stay far below 2**31 cells.
    idx = rng.integers(0, n - 1, size=(len(cells), r, k), dtype=np.int32)
    idx += idx >= focal[:, None, None]  # skip the cell itself
    while True:
        dup = np.zeros(idx.shape[:2], dtype=bool)
        for a in range(k):
            for b in range(a + 1, k):
                dup |= idx[:, :, a] == idx[:, :, b]
        if not dup.any():
            break
        redo = rng.integers(0, n - 1, size=(int(dup.sum()), k), dtype=np.int32)
        redo += redo >= np.broadcast_to(focal[:, None], dup.shape)[dup][:, None]
        idx[dup] = redo
    return y[idx.astype(np.intp)].sum(axis=2) + y[cells][:, None]


def total_sums(y: np.ndarray, cells: int, m: int, r: int, rng: np.random.Generator) -> np.ndarray:
    """Sums of ``m`` values drawn without replacement from all of ``y``, ``r`` times for ``cells`` cells."""
    n = len(y)
    idx = rng.integers(0, n, size=(cells, r, m), dtype=np.int32)
    while True:
        dup = np.zeros(idx.shape[:2], dtype=bool)
        for a in range(m):
            for b in range(a + 1, m):
                dup |= idx[:, :, a] == idx[:, :, b]
        if not dup.any():
            break
        idx[dup] = rng.integers(0, n, size=(int(dup.sum()), m), dtype=np.int32)
    return y[idx.astype(np.intp)].sum(axis=2)


# Permutations are run in blocks so memory stays bounded at ~n * block floats.
PERMUTATION_BLOCK = 64


@contextlib.contextmanager
def global_rng_preserved() -> Iterator[None]:
    """esda's conditional randomisation calls ``np.random.seed``; undo that side effect."""
    state = np.random.get_state()
    try:
        with warnings.catch_warnings():
            # esda warns that its default alternative will change; we document ours.
            warnings.simplefilter("ignore", DeprecationWarning)
            yield
    finally:
        np.random.set_state(state)
