"""Monotonic trend per area: Mann-Kendall test (tie-corrected) and Sen's slope, FDR across areas.

The Mann-Kendall statistic is ``S = sum_{i<j} sign(x_j - x_i)``; under no trend its
variance is ``n(n-1)(2n+5)/18`` less ``sum_t t(t-1)(2t+5)/18`` over groups of ``t`` tied
values (Kendall 1975), and ``z = (S - sign(S)) / sqrt(var)`` (continuity correction) gives
a two-sided normal p. ``tau = S / (n(n-1)/2)`` (Kendall's tau-a, as ``pymannkendall``
reports it). Sen's slope is the median of all pairwise slopes ``(x_j - x_i) / (j - i)``
(units per time step). Implemented here (30 lines of numpy) rather than adding
``pymannkendall``: the package is small but little maintained, and the results below are
checked against hand-computed values in ``tests/test_track.py``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from pli.stats.fdr import benjamini_hochberg

__all__ = ["MannKendall", "mann_kendall", "trend_table"]


@dataclass(frozen=True)
class MannKendall:
    """Mann-Kendall trend test of one series.

    Attributes
    ----------
    n : int
        Observations.
    s : float
        Mann-Kendall S.
    var_s : float
        Variance of S under no trend, tie-corrected.
    z, p : float
        Normal score (continuity-corrected) and two-sided p.
    tau : float
        Kendall's tau-a, S / (n(n-1)/2).
    slope, intercept : float
        Sen's slope (per step) and the intercept ``median(x) - slope * median(t)``.
    """

    n: int
    s: float
    var_s: float
    z: float
    p: float
    tau: float
    slope: float
    intercept: float


def mann_kendall(x: np.ndarray | pd.Series) -> MannKendall:
    """Mann-Kendall test with tie correction and Sen's slope for an evenly spaced series.

    Parameters
    ----------
    x : array-like of float
        Values in time order; no missing values.

    Returns
    -------
    MannKendall

    Examples
    --------
    >>> r = mann_kendall([1, 2, 3, 4, 5])
    >>> r.s, r.tau, r.slope
    (10.0, 1.0, 1.0)
    >>> round(r.p, 4)
    0.0275
    """
    v = np.asarray(x, dtype=float)
    if v.ndim != 1 or len(v) < 3:
        raise ValueError(f"mann_kendall: expected a 1-d series of 3 or more values, got shape {v.shape}")
    if not np.isfinite(v).all():
        raise ValueError("mann_kendall: the series has missing or infinite values")
    n = len(v)
    i, j = np.triu_indices(n, k=1)
    diff = v[j] - v[i]
    s = float(np.sign(diff).sum())
    _, ties = np.unique(v, return_counts=True)
    var_s = (n * (n - 1) * (2 * n + 5) - float((ties * (ties - 1) * (2 * ties + 5)).sum())) / 18.0
    if var_s <= 0:
        z = 0.0
    else:
        z = (s - np.sign(s)) / np.sqrt(var_s)
    p = float(2 * stats.norm.sf(abs(z)))
    slope = float(np.median(diff / (j - i)))
    intercept = float(np.median(v) - slope * np.median(np.arange(n)))
    return MannKendall(n=n, s=s, var_s=float(var_s), z=float(z), p=p, tau=s / (n * (n - 1) / 2),
                       slope=slope, intercept=intercept)


def trend_table(wide: pd.DataFrame, *, alpha: float = 0.05) -> pd.DataFrame:
    """Mann-Kendall and Sen's slope for every column of a periods x areas frame.

    Parameters
    ----------
    wide : DataFrame
        Index: time slices in order; one column per area.
    alpha : float
        Significance level applied to the Benjamini-Hochberg q values across areas.

    Returns
    -------
    DataFrame
        Indexed by area: ``n``, ``mk_s``, ``mk_z``, ``tau``, ``p``, ``q`` (BH FDR across the
        areas), ``sen_slope`` (per slice), ``intercept``, ``significant`` (q <= alpha) and
        ``direction`` (``"up"``, ``"down"`` or ``""``, significant ones only).
    """
    rows = {}
    for area in wide.columns:
        r = mann_kendall(wide[area].to_numpy(dtype=float))
        rows[area] = {"n": r.n, "mk_s": r.s, "mk_z": r.z, "tau": r.tau, "p": r.p,
                      "sen_slope": r.slope, "intercept": r.intercept}
    out = pd.DataFrame.from_dict(rows, orient="index")
    out.index.name = wide.columns.name or "area"
    out.insert(out.columns.get_loc("p") + 1, "q", benjamini_hochberg(out["p"].to_numpy()))
    out["significant"] = out["q"] <= alpha
    out["direction"] = np.where(out["significant"], np.where(out["mk_s"] > 0, "up", "down"), "")
    return out
