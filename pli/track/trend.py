"""Monotonic trend per area: Mann-Kendall test (tie-corrected) and Sen's slope, FDR across areas.

The Mann-Kendall statistic is ``S = sum_{i<j} sign(x_j - x_i)``; under no trend its
variance is ``n(n-1)(2n+5)/18`` less ``sum_t t(t-1)(2t+5)/18`` over groups of ``t`` tied
values (Kendall 1975), and ``z = (S - sign(S)) / sqrt(var)`` (continuity correction) gives
a two-sided normal p. ``tau = S / (n(n-1)/2)`` (Kendall's tau-a, as ``pymannkendall``
reports it). Sen's slope is the median of all pairwise slopes ``(x_j - x_i) / (j - i)``
(units per time step). Implemented here (30 lines of numpy) rather than adding
``pymannkendall``: the package is small but little maintained, and the results below are
checked against hand-computed values in ``tests/test_track.py``.

Monthly crime is seasonal; :func:`seasonal_mann_kendall` (Hirsch, Slack and Smith 1982)
compares each month only with the same month of other years, summing S and its variance
over the seasons, so a summer peak cannot pass for a trend. Neither test corrects for
serial correlation between neighbouring slices, which makes p values too small.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from pli.stats.fdr import benjamini_hochberg

__all__ = ["MannKendall", "mann_kendall", "seasonal_mann_kendall", "trend_table"]


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


def _s_and_var(v: np.ndarray) -> tuple[float, float, np.ndarray]:
    n = len(v)
    i, j = np.triu_indices(n, k=1)
    _, ties = np.unique(v, return_counts=True)
    var = (n * (n - 1) * (2 * n + 5) - float((ties * (ties - 1) * (2 * ties + 5)).sum())) / 18.0
    return float(np.sign(v[j] - v[i]).sum()), var, (v[j] - v[i]) / (j - i)


def seasonal_mann_kendall(x: np.ndarray | pd.Series, *, period: int = 12) -> MannKendall:
    """Seasonal Mann-Kendall test (Hirsch et al. 1982) and seasonal Sen's slope.

    Parameters
    ----------
    x : array-like of float
        Evenly spaced values in time order; position ``k`` is season ``k % period``.
    period : int
        Slices per cycle (12 for months, 4 for quarters).

    Returns
    -------
    MannKendall
        ``s`` and ``var_s`` summed over the seasons; ``tau`` = S over the number of
        within-season pairs; ``slope`` the median within-season slope, per slice.

    Examples
    --------
    >>> seasonal = np.tile([10.0, 30.0, 20.0, 5.0], 6)            # a cycle, no trend
    >>> round(seasonal_mann_kendall(seasonal, period=4).p, 3), mann_kendall(seasonal).p < 1
    (1.0, True)
    >>> r = seasonal_mann_kendall(seasonal + np.arange(24), period=4)
    >>> r.slope, r.tau
    (1.0, 1.0)
    """
    v = np.asarray(x, dtype=float)
    if period < 2 or len(v) < 2 * period:
        raise ValueError(f"seasonal_mann_kendall: expected period >= 2 and at least two cycles "
                         f"({2 * period} values), got period {period} and {len(v)} values")
    if not np.isfinite(v).all():
        raise ValueError("seasonal_mann_kendall: the series has missing or infinite values")
    s_total, var_total, pairs, slopes = 0.0, 0.0, 0, []
    for k in range(period):
        sub = v[k::period]
        if len(sub) < 2:
            continue
        s_k, var_k, sl = _s_and_var(sub)
        s_total += s_k
        var_total += var_k
        pairs += len(sub) * (len(sub) - 1) // 2
        slopes.append(sl / period)
    z = (s_total - np.sign(s_total)) / np.sqrt(var_total) if var_total > 0 else 0.0
    slope = float(np.median(np.concatenate(slopes)))
    return MannKendall(n=len(v), s=s_total, var_s=var_total, z=float(z), p=float(2 * stats.norm.sf(abs(z))),
                       tau=s_total / pairs, slope=slope,
                       intercept=float(np.median(v) - slope * np.median(np.arange(len(v)))))


def trend_table(wide: pd.DataFrame, *, alpha: float = 0.05, seasonal_period: int | None = None) -> pd.DataFrame:
    """Mann-Kendall and Sen's slope for every column of a periods x areas frame.

    Parameters
    ----------
    wide : DataFrame
        Index: time slices in order; one column per area.
    alpha : float
        Significance level applied to the Benjamini-Hochberg q values across areas.
    seasonal_period : int, optional
        Use :func:`seasonal_mann_kendall` with this period (12 for months, 4 for quarters).

    Returns
    -------
    DataFrame
        Indexed by area: ``n``, ``mk_s``, ``mk_z``, ``tau``, ``p``, ``q`` (BH FDR across the
        areas), ``sen_slope`` (per slice), ``intercept``, ``significant`` (q <= alpha) and
        ``direction`` (``"up"``, ``"down"`` or ``""``, significant ones only).
    """
    rows = {}
    for area in wide.columns:
        v = wide[area].to_numpy(dtype=float)
        r = seasonal_mann_kendall(v, period=seasonal_period) if seasonal_period else mann_kendall(v)
        rows[area] = {"n": r.n, "mk_s": r.s, "mk_z": r.z, "tau": r.tau, "p": r.p,
                      "sen_slope": r.slope, "intercept": r.intercept}
    out = pd.DataFrame.from_dict(rows, orient="index")
    out.index.name = wide.columns.name or "area"
    out.insert(out.columns.get_loc("p") + 1, "q", benjamini_hochberg(out["p"].to_numpy()))
    out["significant"] = out["q"] <= alpha
    out["direction"] = np.where(out["significant"], np.where(out["mk_s"] > 0, "up", "down"), "")
    return out
