"""The permutation core: conditional permutation sums and folded pseudo p-values.

Used by every local statistic pli tests by permutation, so the null distribution is
drawn one way everywhere: neighbour values are drawn without replacement from the other
units (esda's conditional randomisation), and a pseudo p-value sitting at its floor is
refined by drawing more permutations for that unit only.
"""

from __future__ import annotations

import contextlib
import logging
import warnings
from typing import Iterator

import numpy as np

__all__ = [
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


def refine_pseudo_p(
    y: np.ndarray,
    window: np.ndarray,
    card: np.ndarray,
    p_sim: np.ndarray,
    permutations: int,
    target: int,
    seed: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Sequential Monte Carlo: more permutations for cells whose pseudo p is at the floor.

    A pseudo p built from ``R`` permutations cannot fall below ``1 / (R + 1)``, so with
    thousands of cells Benjamini-Hochberg can never reach it. A cell whose observed Gi*
    was matched or beaten by fewer than ``_SEQUENTIAL_HITS`` permutations (its p is
    resolution-limited; Besag & Clifford 1991) is re-tested with ten times as many fresh
    conditional permutations, and again, until ``target`` permutations or until its
    p is resolved. Each round draws the cell's ``card`` neighbours without replacement
    from the other cells (rejection of repeated draws), exactly as esda's conditional
    randomisation, so the refined p tests the same null.

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
