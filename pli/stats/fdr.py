"""Multiple testing: Benjamini-Hochberg adjusted p-values and the alpha check."""

from __future__ import annotations

import numpy as np

from pli.errors import InputError

__all__ = [
    "benjamini_hochberg",
]


def benjamini_hochberg(p: np.ndarray) -> np.ndarray:
    """Benjamini-Hochberg adjusted p-values (q-values), capped at 1.

    A unit is significant at false discovery rate ``alpha`` when its adjusted value is
    ``<= alpha``.

    Parameters
    ----------
    p : array-like
        One p-value per test.

    Returns
    -------
    ndarray
        Adjusted p-values in the order of ``p``.

    Examples
    --------
    >>> from pli.stats.fdr import benjamini_hochberg
    >>> benjamini_hochberg([0.01, 0.04, 0.03, 0.20]).round(4).tolist()
    [0.04, 0.0533, 0.0533, 0.2]
    """
    p = np.asarray(p, dtype=float)
    n = p.size
    if n == 0:
        return p.copy()
    order = np.argsort(p, kind="stable")
    scaled = p[order] * n / np.arange(1, n + 1)
    adjusted = np.minimum.accumulate(scaled[::-1])[::-1]
    out = np.empty(n)
    out[order] = np.minimum(adjusted, 1.0)
    return out


def exact_pseudo_p(p: np.ndarray, permutations: int) -> np.ndarray:
    """Undo esda's float32 storage: pseudo p-values are multiples of 1/(permutations+1)."""
    return np.round(np.asarray(p, dtype=float) * (permutations + 1)) / (permutations + 1)


def check_alpha(alpha: float) -> None:
    if not 0 < alpha < 1:
        raise InputError(f"clustering.alpha: expected a significance level between 0 and 1, got {alpha}")
