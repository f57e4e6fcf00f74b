"""Putting indicators on one scale: z-score, min-max, percentile, ratio to the study area,
and the IMD exponential transform."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Optional

import numpy as np
import pandas as pd

from pli._codes import list_codes
from pli.errors import InputError

__all__ = [
    "IMD_EXPONENTIAL_CONSTANT",
    "exponential_transform",
    "normalise",
]

logger = logging.getLogger(__name__)


IMD_EXPONENTIAL_CONSTANT = 23.0


def exponential_transform(r: np.ndarray | pd.Series, *, constant: float = IMD_EXPONENTIAL_CONSTANT) -> np.ndarray:
    """IMD exponential transformation of a scaled rank.

    ``X = -C ln(1 - R (1 - exp(-100 / C)))`` with ``C = 23`` (IoD2019 technical report),
    where ``R`` is the rank scaled to (0, 1]: ``1/N`` for the least deprived and 1 for
    the most deprived. ``X`` runs from near 0 to exactly 100.
    """
    r = np.asarray(r, dtype=float)
    if np.any((r <= 0) | (r > 1)):
        raise InputError(f"exponential transform: scaled ranks must be in (0, 1], got range {r.min()}..{r.max()}")
    return -constant * np.log(1.0 - r * (1.0 - np.exp(-100.0 / constant)))


def normalise(
    values: pd.DataFrame,
    method: str,
    *,
    higher_is_better: Sequence[str] = (),
    reference_size: Optional[int] = None,
    reference_values: Optional[Mapping[str, float]] = None,
) -> pd.DataFrame:
    """Put every indicator on a common scale where higher means higher priority.

    Parameters
    ----------
    values : DataFrame
        LSOAs x indicators, no missing values.
    method : {"zscore", "minmax", "percentile", "ratio", "exponential"}
        See the module docstring for each formula.
    higher_is_better : sequence of str
        Indicators to flip.
    reference_size : int, optional
        ``exponential`` only: the values are ranks out of this many units (national IMD
        ranks: 32,844) and are not re-ranked.
    reference_values : mapping, optional
        ``ratio`` only: study-area value per indicator (e.g. the pooled rate); default the
        mean of the LSOA values.

    Returns
    -------
    DataFrame
        Same shape and index as ``values``.
    """
    x = values.astype(float)
    flip_cols = np.asarray(x.columns.isin(list(higher_is_better)))
    # DataFrame.where aligns a Series on rows, so spell the per-column choice out in full.
    flip = pd.DataFrame(np.broadcast_to(flip_cols, x.shape), index=x.index, columns=x.columns)
    sign = np.where(flip_cols, -1.0, 1.0)
    if method == "zscore":
        std = x.std(ddof=0)
        constant = std.index[std.to_numpy() == 0]
        if len(constant):
            logger.warning("zscore: %s constant across LSOAs; normalised to 0", list_codes(constant))
        z = (x - x.mean()) / std.where(std > 0, 1.0)
        return z * sign
    if method == "minmax":
        rng = x.max() - x.min()
        constant = rng.index[rng.to_numpy() == 0]
        if len(constant):
            logger.warning("minmax: %s constant across LSOAs; normalised to 0", list_codes(constant))
        m = 100.0 * (x - x.min()) / rng.where(rng > 0, 1.0)
        keep = ~flip | np.broadcast_to((rng == 0).to_numpy(), x.shape)
        return m.where(keep, 100.0 - m)
    if method == "percentile":
        return (x * sign).rank(method="average", pct=True) * 100.0
    if method == "ratio":
        ref = x.mean()
        if reference_values:
            unknown = sorted(set(reference_values) - set(x.columns))
            if unknown:
                raise InputError(f"reference_values: unknown indicator(s) {', '.join(unknown)}")
            ref = ref.copy()
            for k, v in reference_values.items():
                ref[k] = float(v)
        bad = ref.index[~(ref.to_numpy() > 0)]
        if len(bad):
            raise InputError(
                f"ratio normalisation needs a positive study-area value; {list_codes(bad)} has "
                f"{', '.join(f'{ref[b]:g}' for b in bad)}; use another normalisation for indicators that can be "
                "zero or negative on average"
            )
        ratio = 100.0 * x / ref
        return ratio.where(~flip, 200.0 - ratio)
    if method == "exponential":
        if reference_size is None:
            n = len(x)
            p = (x * sign).rank(method="average")
        else:
            n = int(reference_size)
            arr = x.to_numpy()
            bad = (arr < 1) | (arr > n) | (arr != np.round(arr))
            if bad.any():
                cols = x.columns[bad.any(axis=0)]
                raise InputError(
                    f"exponential normalisation with exponential_reference_size={n}: indicator(s) "
                    f"{list_codes(cols)} must hold whole ranks from 1 to {n} (e.g. IoD2019 national ranks), got values "
                    f"{arr[bad].min():g}..{arr[bad].max():g}; drop exponential_reference_size to rank locally"
                )
            p = x.where(~flip, n + 1.0 - x)
        return pd.DataFrame(exponential_transform(p.to_numpy() / n), index=x.index, columns=x.columns)
    raise InputError(
        f"index.normalisation must be one of zscore, minmax, percentile, ratio, exponential; got {method!r}"
    )


def _rescale(w: pd.Series, what: str) -> pd.Series:
    neg = w.index[w.to_numpy() < 0]
    if len(neg):
        raise InputError(
            f"{what}: weights must not be negative, got "
            + ", ".join(f"{k}={w[k]:g}" for k in neg)
            + "; set them to 0 or more"
        )
    total = float(w.sum())
    if not total > 0:
        raise InputError(f"{what}: weights sum to {total:g}; give at least one positive weight")
    if not np.isclose(total, 1.0):
        logger.info("%s: weights sum to %g, rescaled to sum to 1", what, total)
    return w / total
