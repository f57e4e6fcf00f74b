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
over the seasons, so a summer peak cannot pass for a trend.

Serial correlation. Neighbouring months of crime are correlated (a busy month is followed
by a busy month), which makes the variance of S too small and p values too small. Two
published corrections, one per test:

* ``hamed_rao`` (Hamed and Rao 1998), for :func:`mann_kendall`: the series is detrended
  with Sen's slope, ranked, and the lag-k autocorrelations ``rho_k`` of the ranks that are
  significant (``|rho_k| > z_{1-alpha/2} / sqrt(n)``) inflate the variance by
  ``n/n* = 1 + 2 / (n(n-1)(n-2)) * sum_k (n-k)(n-k-1)(n-k-2) rho_k``.
* ``hirsch_slack`` (Hirsch and Slack 1984), for :func:`seasonal_mann_kendall`: the
  variance of S adds the covariance of every pair of seasons,
  ``sigma_gh = (K_gh + 4 sum_i R_ig R_ih - n(n+1)^2) / 3`` with
  ``K_gh = sum_{i<j} sign((x_jg - x_ig)(x_jh - x_ih))`` and ``R_ig`` the rank of year ``i``
  within season ``g`` (missing years get the middle rank ``(n+1)/2``).

The corrections only ever widen the variance: a factor below 1 (negative lag correlation,
which a seasonal cycle in a short series produces by chance as often as by cause) keeps
the uncorrected variance, so a correction for serial correlation never makes a trend
significant that the plain test did not. This departs from Hamed and Rao as published
(and pymannkendall) only in that case; :attr:`MannKendall.variance_factor` reports what
was applied.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from pli.stats.fdr import benjamini_hochberg

__all__ = ["AUTOCORRELATION_METHODS", "MannKendall", "mann_kendall", "seasonal_mann_kendall", "trend_table"]

AUTOCORRELATION_METHODS = ("none", "hamed_rao", "hirsch_slack")
"""Serial-correlation corrections: none, for the plain test, for the seasonal test."""


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
    variance_factor : float
        What ``var_s`` was multiplied by for serial correlation (1.0: no correction).
    """

    n: int
    s: float
    var_s: float
    z: float
    p: float
    tau: float
    slope: float
    intercept: float
    variance_factor: float = 1.0


def _rank_autocorrelation(ranks: np.ndarray) -> np.ndarray:
    """Autocorrelation of a series at lags 0..n-1 (the biased estimator, divided by n)."""
    y = ranks - ranks.mean()
    n = len(y)
    acov = np.correlate(y, y, "full")[n - 1:] / n
    return acov / acov[0] if acov[0] > 0 else np.zeros(n)


def hamed_rao_factor(x: np.ndarray, slope: float, *, alpha: float = 0.05) -> float:
    """Hamed and Rao (1998) variance inflation ``n/n*`` for a Mann-Kendall test.

    Parameters
    ----------
    x : ndarray of float
        The series in time order.
    slope : float
        Its Sen's slope per step (the series is detrended with it before ranking).
    alpha : float
        Only lags whose rank autocorrelation lies outside ``+-z_{1-alpha/2}/sqrt(n)`` count.

    Returns
    -------
    float
        The factor (1.0 when no lag is significant).

    Examples
    --------
    >>> round(hamed_rao_factor(np.array([1.0, 2, 3, 4, 5, 6, 7, 8]), 1.0), 6)   # nothing left to correlate
    1.0
    """
    n = len(x)
    ranks = stats.rankdata(x - slope * np.arange(1, n + 1))
    rho = _rank_autocorrelation(ranks)
    bound = stats.norm.ppf(1 - alpha / 2) / np.sqrt(n)
    k = np.arange(1, n)
    significant = np.abs(rho[1:]) > bound
    total = float(((n - k) * (n - k - 1) * (n - k - 2) * rho[1:])[significant].sum())
    return 1.0 + 2.0 / (n * (n - 1) * (n - 2)) * total


def hirsch_slack_variance(x: np.ndarray, period: int) -> tuple[float, float]:
    """Variance of the seasonal S with the covariances between seasons (Hirsch and Slack 1984).

    Parameters
    ----------
    x : ndarray of float
        Evenly spaced values in time order; position ``k`` is season ``k % period`` of year
        ``k // period``.
    period : int

    Returns
    -------
    (float, float)
        The sum of the seasons' own variances (tie-corrected, as
        :func:`seasonal_mann_kendall`) and that sum plus every ``sigma_gh``, g != h.
    """
    years = -(-len(x) // period)
    flat = np.full(years * period, np.nan)
    flat[: len(x)] = x
    grid = flat.reshape(years, period)
    present = ~np.isnan(grid)
    i, j = np.triu_indices(years, k=1)
    # sign(x_j - x_i) per pair of years and season, 0 where either year is missing.
    signs = np.nan_to_num(np.sign(grid[j] - grid[i]))
    # Mid ranks within each season: (n + 1 + sum_j sign(x_i - x_j)) / 2; missing -> (n+1)/2.
    diffs = np.nan_to_num(np.sign(grid[:, None, :] - grid[None, :, :]))
    ranks = (years + 1 + diffs.sum(axis=1)) / 2
    ranks[~present] = (years + 1) / 2
    k_gh = signs.T @ signs
    cov = (k_gh + 4 * ranks.T @ ranks - years * (years + 1) ** 2) / 3
    own = 0.0
    for g in range(period):
        sub = grid[present[:, g], g]
        if len(sub) >= 2:
            own += _s_and_var(sub)[1]
    return own, own + float(cov.sum() - np.trace(cov))


def mann_kendall(x: np.ndarray | pd.Series, *, autocorrelation: str = "none", alpha: float = 0.05) -> MannKendall:
    """Mann-Kendall test with tie correction and Sen's slope for an evenly spaced series.

    Parameters
    ----------
    x : array-like of float
        Values in time order; no missing values.
    autocorrelation : {"none", "hamed_rao"}
        ``hamed_rao``: inflate the variance of S for serial correlation (module docstring).
    alpha : float
        Significance level of the lag autocorrelations (``hamed_rao`` only).

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
    slope = float(np.median(diff / (j - i)))
    if autocorrelation not in ("none", "hamed_rao"):
        raise ValueError(f"mann_kendall: autocorrelation must be 'none' or 'hamed_rao', got {autocorrelation!r}")
    factor = hamed_rao_factor(v, slope, alpha=alpha) if autocorrelation == "hamed_rao" else 1.0
    factor = max(factor, 1.0)
    var_s *= factor
    if var_s <= 0:
        z = 0.0
    else:
        z = (s - np.sign(s)) / np.sqrt(var_s)
    p = float(2 * stats.norm.sf(abs(z)))
    intercept = float(np.median(v) - slope * np.median(np.arange(n)))
    return MannKendall(n=n, s=s, var_s=float(var_s), z=float(z), p=p, tau=s / (n * (n - 1) / 2),
                       slope=slope, intercept=intercept, variance_factor=float(factor))


def _s_and_var(v: np.ndarray) -> tuple[float, float, np.ndarray]:
    n = len(v)
    i, j = np.triu_indices(n, k=1)
    _, ties = np.unique(v, return_counts=True)
    var = (n * (n - 1) * (2 * n + 5) - float((ties * (ties - 1) * (2 * ties + 5)).sum())) / 18.0
    return float(np.sign(v[j] - v[i]).sum()), var, (v[j] - v[i]) / (j - i)


def seasonal_mann_kendall(x: np.ndarray | pd.Series, *, period: int = 12,
                          autocorrelation: str = "none") -> MannKendall:
    """Seasonal Mann-Kendall test (Hirsch et al. 1982) and seasonal Sen's slope.

    Parameters
    ----------
    x : array-like of float
        Evenly spaced values in time order; position ``k`` is season ``k % period``.
    period : int
        Slices per cycle (12 for months, 4 for quarters).
    autocorrelation : {"none", "hirsch_slack"}
        ``hirsch_slack``: add the covariances between seasons to the variance of S.

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
    if autocorrelation not in ("none", "hirsch_slack"):
        raise ValueError(f"seasonal_mann_kendall: autocorrelation must be 'none' or 'hirsch_slack', "
                         f"got {autocorrelation!r}")
    factor = 1.0
    if autocorrelation == "hirsch_slack" and var_total > 0:
        own, with_cov = hirsch_slack_variance(v, period)
        factor = max(with_cov / own, 1.0) if with_cov > 0 and own > 0 else 1.0
        var_total *= factor
    z = (s_total - np.sign(s_total)) / np.sqrt(var_total) if var_total > 0 else 0.0
    slope = float(np.median(np.concatenate(slopes)))
    return MannKendall(n=len(v), s=s_total, var_s=var_total, z=float(z), p=float(2 * stats.norm.sf(abs(z))),
                       tau=s_total / pairs, slope=slope,
                       intercept=float(np.median(v) - slope * np.median(np.arange(len(v)))),
                       variance_factor=float(factor))


def trend_table(wide: pd.DataFrame, *, alpha: float = 0.05, seasonal_period: int | None = None,
                autocorrelation: str = "none") -> pd.DataFrame:
    """Mann-Kendall and Sen's slope for every column of a periods x areas frame.

    Parameters
    ----------
    wide : DataFrame
        Index: time slices in order; one column per area.
    alpha : float
        Significance level applied to the Benjamini-Hochberg q values across areas.
    seasonal_period : int, optional
        Use :func:`seasonal_mann_kendall` with this period (12 for months, 4 for quarters).
    autocorrelation : {"none", "hamed_rao", "hirsch_slack"}
        Serial-correlation correction (``hirsch_slack`` with ``seasonal_period`` only,
        ``hamed_rao`` without); also at ``alpha``.

    Returns
    -------
    DataFrame
        Indexed by area: ``n``, ``mk_s``, ``mk_z``, ``tau``, ``p``, ``q`` (BH FDR across the
        areas), ``sen_slope`` (per slice), ``intercept``, ``variance_factor`` (serial
        correlation), ``significant`` (q <= alpha) and ``direction`` (``"up"``, ``"down"`` or
        ``""``, significant ones only).
    """
    rows = {}
    for area in wide.columns:
        v = wide[area].to_numpy(dtype=float)
        if seasonal_period:
            r = seasonal_mann_kendall(v, period=seasonal_period, autocorrelation=autocorrelation)
        else:
            r = mann_kendall(v, autocorrelation=autocorrelation, alpha=alpha)
        rows[area] = {"n": r.n, "mk_s": r.s, "mk_z": r.z, "tau": r.tau, "p": r.p,
                      "sen_slope": r.slope, "intercept": r.intercept, "variance_factor": r.variance_factor}
    out = pd.DataFrame.from_dict(rows, orient="index")
    out.index.name = wide.columns.name or "area"
    out.insert(out.columns.get_loc("p") + 1, "q", benjamini_hochberg(out["p"].to_numpy()))
    out["significant"] = out["q"] <= alpha
    out["direction"] = np.where(out["significant"], np.where(out["mk_s"] > 0, "up", "down"), "")
    return out
