"""Sobol' sensitivity indices through SALib: the design and the analysis, seeded.

The design is SALib's Saltelli extension of the scrambled Sobol' sequence without second
order terms (``N x (groups + 2)`` rows); the indices are Saltelli et al. (2010)'s first
order (S1) and Jansen's total (ST) estimators as SALib computes them, with bootstrap
confidence intervals (``conf`` is the half-width at ``conf_level``). Factors with several
variables (a set of weights) are SALib groups: one index per group.

Examples
--------
The Ishigami function, whose indices are known (S1 = 0.314, 0.442, 0; ST = 0.558, 0.442,
0.244):

>>> import numpy as np
>>> from pli.uncertainty.sobol import sobol_design, sobol_indices
>>> problem = {"num_vars": 3, "names": ["x1", "x2", "x3"], "bounds": [[0, 1]] * 3}
>>> u = sobol_design(problem, 1024, seed=1)
>>> x = -np.pi + 2 * np.pi * u
>>> y = np.sin(x[:, 0]) + 7 * np.sin(x[:, 1]) ** 2 + 0.1 * x[:, 2] ** 4 * np.sin(x[:, 0])
>>> t = sobol_indices(problem, {"ishigami": y}, seed=1)
>>> t["ST"].round(1).tolist()
[0.6, 0.4, 0.2]
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

__all__ = ["SOBOL_COLUMNS", "sobol_design", "sobol_indices"]

SOBOL_COLUMNS = ["output", "factor", "S1", "S1_conf", "ST", "ST_conf"]


def _salib_seed(seed: int) -> int:
    # SALib's analyze treats seed 0 as "no seed"; a derived non-zero seed keeps it seeded.
    return int(np.random.SeedSequence(int(seed)).generate_state(1)[0]) or 1


def sobol_design(problem: dict, n: int, *, seed: int) -> np.ndarray:
    """Rows to evaluate: SALib's Saltelli/Sobol' design without second order, scrambled with ``seed``.

    Parameters
    ----------
    problem : dict
        SALib problem (``num_vars``, ``names``, ``bounds``, optional ``groups``).
    n : int
        Base sample size, a power of 2.
    seed : int

    Returns
    -------
    ndarray
        ``n x (groups + 2)`` rows, one column per variable.
    """
    from SALib.sample import sobol as sobol_sample

    if n < 1 or n & (n - 1):
        raise ValueError(f"n: expected a power of 2, got {n}")
    return sobol_sample.sample(problem, n, calc_second_order=False, scramble=True, seed=_salib_seed(seed))


def sobol_indices(
    problem: dict,
    outputs: dict[str, np.ndarray],
    *,
    resamples: int = 500,
    conf_level: float = 0.95,
    seed: int = 0,
) -> pd.DataFrame:
    """First-order and total Sobol' indices of each factor (group) on each output.

    Parameters
    ----------
    problem : dict
        As given to :func:`sobol_design`.
    outputs : dict of str to ndarray
        Output name -> values at the design's rows, in row order.
    resamples : int
        Bootstrap resamples for the confidence intervals.
    conf_level : float
    seed : int
        Seed of the bootstrap.

    Returns
    -------
    DataFrame
        :data:`SOBOL_COLUMNS`, one row per output and factor. An output that does not vary
        over the design has no variance to share: its indices are NaN.
    """
    from SALib.analyze import sobol as sobol_analyze

    names = list(dict.fromkeys(problem.get("groups") or problem["names"]))
    frames = []
    for output, values in outputs.items():
        y = np.asarray(values, dtype=float)
        if not np.isfinite(y).all():
            raise ValueError(f"output {output!r}: expected finite values at every design row")
        if np.ptp(y) == 0:
            frames.append(pd.DataFrame({"output": output, "factor": names, "S1": np.nan, "S1_conf": np.nan,
                                        "ST": np.nan, "ST_conf": np.nan}))
            continue
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            si = sobol_analyze.analyze(problem, y, calc_second_order=False, num_resamples=resamples,
                                       conf_level=conf_level, seed=_salib_seed(seed))
        frames.append(pd.DataFrame({"output": output, "factor": names, "S1": si["S1"], "S1_conf": si["S1_conf"],
                                    "ST": si["ST"], "ST_conf": si["ST_conf"]}))
    out = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=SOBOL_COLUMNS)
    return out[SOBOL_COLUMNS]
