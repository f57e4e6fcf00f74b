"""What the runs say: rank intervals, neighbourhood matches and the scalar outputs Sobol' explains."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy.optimize import linear_sum_assignment

__all__ = [
    "OUTPUTS",
    "SELECTED_JACCARD",
    "matched_jaccard",
    "neighbourhood_frequency",
    "rank_intervals",
    "run_outputs",
]

# A base neighbourhood counts as selected in a run when its one-to-one match overlaps it
# by at least this Jaccard index (the rule of the neighbourhoods' ``stability`` column).
SELECTED_JACCARD = 0.5

#: The scalar outputs of every run (the Sobol' analysis explains their variance).
OUTPUTS: dict[str, str] = {
    "top_n_rank_shift": "mean absolute rank change of the base run's top N LSOAs",
    "spearman_distance": "1 - Spearman correlation of the run's ranks with the base ranks",
    "neighbourhood_mismatch": "1 - mean Jaccard index of the base neighbourhoods with their one-to-one matches",
}


def matched_jaccard(base: Sequence[np.ndarray], other: Sequence[np.ndarray], n: int) -> np.ndarray:
    """Jaccard index of each base neighbourhood with its one-to-one match in ``other``.

    Neighbourhoods are arrays of row positions out of ``n``; the pairing maximises the
    summed Jaccard index (Hungarian algorithm); an unmatched neighbourhood scores 0.

    Examples
    --------
    >>> import numpy as np
    >>> base = [np.array([0, 1]), np.array([2, 3])]
    >>> matched_jaccard(base, [np.array([2, 3, 4]), np.array([0, 1])], 6).round(3).tolist()
    [1.0, 0.667]
    """
    out = np.zeros(len(base))
    if not len(base) or not len(other):
        return out
    a = np.zeros((len(base), n), dtype=np.int32)
    b = np.zeros((len(other), n), dtype=np.int32)
    for k, piece in enumerate(base):
        a[k, piece] = 1
    for k, piece in enumerate(other):
        b[k, piece] = 1
    inter = a @ b.T
    union = a.sum(axis=1)[:, None] + b.sum(axis=1)[None, :] - inter
    jac = np.divide(inter, union, out=np.zeros(inter.shape), where=union > 0)
    rows, cols = linear_sum_assignment(-jac)
    out[rows] = jac[rows, cols]
    return out


def run_outputs(base_ranks: np.ndarray, ranks: np.ndarray, jaccard: np.ndarray | None, *, top_n: int) -> dict:
    """The scalar outputs (:data:`OUTPUTS`) of one run against the base run."""
    top = base_ranks <= top_n
    shift = float(np.abs(ranks[top] - base_ranks[top]).mean()) if top.any() else 0.0
    rho = np.corrcoef(base_ranks.astype(float), ranks.astype(float))[0, 1]
    out = {"top_n_rank_shift": shift, "spearman_distance": float(1.0 - rho) if np.isfinite(rho) else 0.0}
    if jaccard is not None:
        out["neighbourhood_mismatch"] = float(1.0 - jaccard.mean()) if len(jaccard) else 0.0
    return out


def rank_intervals(
    codes: pd.Index, names: pd.Series, base_ranks: np.ndarray, ranks: np.ndarray, *, top_n: int
) -> pd.DataFrame:
    """Per LSOA: base rank, median rank, 5-95% rank interval and P(in the top N).

    Parameters
    ----------
    codes : Index
        LSOA codes in row order.
    names : Series
        LSOA names indexed by code.
    base_ranks : ndarray
        Ranks of the configured index.
    ranks : ndarray
        Runs x LSOAs.
    top_n : int

    Returns
    -------
    DataFrame
        ``lsoa_code, lsoa_name, base_rank, median_rank, rank_p05, rank_p95, p_top_n``,
        by base rank then code. Percentiles are run values (inverted CDF), so whole ranks.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> codes = pd.Index(["E1", "E2", "E3"])
    >>> ranks = np.array([[1, 2, 3], [2, 1, 3], [1, 2, 3], [1, 3, 2]])
    >>> t = rank_intervals(codes, pd.Series(["a", "b", "c"], index=codes), np.array([1, 2, 3]), ranks, top_n=1)
    >>> t[["lsoa_code", "median_rank", "p_top_n"]].values.tolist()
    [['E1', 1.0, 0.75], ['E2', 2.0, 0.25], ['E3', 3.0, 0.0]]
    """
    ranks = np.asarray(ranks, dtype=float)
    # Run values at those shares (inverted CDF): whole ranks that some run gave.
    p05, median, p95 = np.percentile(ranks, [5, 50, 95], axis=0, method="inverted_cdf")
    out = pd.DataFrame({
        "lsoa_code": np.asarray(codes, dtype=str),
        "lsoa_name": names.reindex(codes).fillna("").astype(str).to_numpy(),
        "base_rank": np.asarray(base_ranks, dtype=int),
        "median_rank": np.round(median, 3),
        "rank_p05": np.round(p05, 3),
        "rank_p95": np.round(p95, 3),
        "p_top_n": np.round((ranks <= top_n).mean(axis=0), 6),
    })
    return out.sort_values(["base_rank", "lsoa_code"], kind="stable").reset_index(drop=True)


def neighbourhood_frequency(neighbourhoods: pd.DataFrame, jaccard: np.ndarray) -> pd.DataFrame:
    """Per base neighbourhood: selection frequency and mean Jaccard over the runs.

    Parameters
    ----------
    neighbourhoods : DataFrame
        The base neighbourhoods with ``rank`` and ``name``, in rank order.
    jaccard : ndarray
        Runs x neighbourhoods: :func:`matched_jaccard` of each run.

    Returns
    -------
    DataFrame
        ``neighbourhood`` (rank), ``name``, ``selection_frequency`` (share of runs whose
        one-to-one match overlaps it by Jaccard >= 0.5), ``mean_jaccard``.
    """
    jaccard = np.asarray(jaccard, dtype=float).reshape(-1, len(neighbourhoods))
    return pd.DataFrame({
        "neighbourhood": neighbourhoods["rank"].astype(int).to_numpy(),
        "name": neighbourhoods["name"].astype(str).to_numpy(),
        "selection_frequency": np.round((jaccard >= SELECTED_JACCARD).mean(axis=0), 6),
        "mean_jaccard": np.round(jaccard.mean(axis=0), 6),
    })
