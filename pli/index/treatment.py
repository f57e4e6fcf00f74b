"""Treating indicators before they are combined: missing values imputed (and reported),
outliers winsorised or logged by the skew and kurtosis rule."""

from __future__ import annotations

import logging
from typing import Optional

import numpy as np
import pandas as pd

from pli._codes import list_codes
from pli.config import TreatmentSpec
from pli.errors import InputError

__all__ = [
    "impute_missing",
    "treat_outliers",
]

logger = logging.getLogger(__name__)


_MAX_WINSORISED = 5


def impute_missing(
    values: pd.DataFrame,
    treatment: TreatmentSpec,
    *,
    wards: Optional[pd.Series] = None,
) -> tuple[pd.DataFrame, dict[str, tuple[str, ...]]]:
    """Fill missing indicator values as the treatment says, or raise.

    Returns
    -------
    (DataFrame, dict)
        The filled table (a copy) and indicator -> LSOA codes imputed.

    Raises
    ------
    InputError
        With ``missing="error"`` (the default) when any value is missing, naming each
        indicator and its LSOAs; with ``ward_mean`` and no ``wards``.
    """
    out = values.copy()
    na = out.isna()
    if not na.to_numpy().any():
        return out, {}
    missing = {c: tuple(str(i) for i in out.index[na[c].to_numpy()]) for c in out.columns if na[c].any()}
    if treatment.missing == "error":
        raise InputError(
            [
                f"indicator {c!r} is missing for {len(codes)} LSOA(s): {list_codes(codes)}"
                for c, codes in missing.items()
            ]
            + ["check the join key and LSOA vintage, or set index.treatment.missing to 'median' or 'ward_mean'"]
        )
    medians = out.median()
    if treatment.missing == "ward_mean":
        if wards is None:
            raise InputError(
                "index.treatment.missing is 'ward_mean' but no LSOA -> ward lookup was given; "
                "pass wards= (Series lsoa_code -> ward_code) or use 'median'"
            )
        ward = wards.reindex(out.index)
        fill = out.groupby(ward.to_numpy(), dropna=True).transform("mean")
        fill = fill.set_axis(out.index).fillna(medians)
        no_ward = ward.isna() & na.any(axis=1)
        if no_ward.any():
            logger.warning(
                "ward_mean imputation: %d LSOA(s) have no ward, used the study-area median: %s",
                int(no_ward.sum()),
                list_codes(out.index[no_ward]),
            )
    else:
        fill = pd.DataFrame({c: np.full(len(out), medians[c]) for c in out.columns}, index=out.index)
    out = out.where(~na, fill)
    for c, codes in missing.items():
        logger.warning("imputed %s for %r in %d LSOA(s): %s", treatment.missing, c, len(codes), list_codes(codes))
    return out, missing


def _skew_kurt(x: pd.Series) -> tuple[float, float]:
    return float(x.skew()), float(x.kurt())


def _fails(skew: float, kurt: float, t: TreatmentSpec) -> bool:
    return bool(abs(skew) > t.skew_threshold and kurt > t.kurtosis_threshold)


def treat_outliers(values: pd.DataFrame, treatment: TreatmentSpec) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Winsorise or log-transform outlying indicators.

    Returns
    -------
    (DataFrame, DataFrame)
        The treated values (a copy) and a report indexed by indicator with columns
        ``action`` (``none``, ``winsorised``, ``log``), ``n_changed``, ``skew_before``,
        ``kurtosis_before``, ``skew_after``, ``kurtosis_after`` (sample skewness and
        excess kurtosis, as pandas computes them).
    """
    out = values.astype(float).copy()
    report = []
    for col in out.columns:
        x = out[col]
        s0, k0 = _skew_kurt(x)
        action, changed = "none", 0
        if treatment.outliers == "winsorise":
            q = treatment.winsorise_quantile
            if not 0.5 < q < 1:
                raise InputError(f"index.treatment.winsorise_quantile must be between 0.5 and 1, got {q}")
            lo, hi = x.quantile(1 - q), x.quantile(q)
            clipped = x.clip(lo, hi)
            changed = int((clipped != x).sum())
            if changed:
                action, x = "winsorised", clipped
        elif treatment.outliers == "skew_kurtosis" and _fails(s0, k0, treatment):
            upper = s0 > 0
            trial = x
            distinct = np.unique(x.to_numpy())
            if not upper:
                distinct = distinct[::-1]
            # distinct[-1] is the most extreme value on the skewed side; pull it in one step at a time.
            for step in range(1, len(distinct)):
                target = distinct[-1 - step]
                trial = x.clip(upper=target) if upper else x.clip(lower=target)
                n = int((trial != x).sum())
                if n > _MAX_WINSORISED:
                    break
                changed = n
                if not _fails(*_skew_kurt(trial), treatment):
                    action, x = "winsorised", trial
                    break
            if action == "none":
                changed = len(x)
                action = "log"
                x = np.log(x - x.min() + 1.0) if upper else -np.log(x.max() - x + 1.0)
        out[col] = x
        s1, k1 = _skew_kurt(x)
        report.append((col, action, changed, s0, k0, s1, k1))
        if action != "none":
            logger.info(
                "outliers: %s %r (%d value(s)); skew %.2f -> %.2f, kurtosis %.2f -> %.2f",
                action,
                col,
                changed,
                s0,
                s1,
                k0,
                k1,
            )
    rep = pd.DataFrame(
        report,
        columns=["indicator", "action", "n_changed", "skew_before", "kurtosis_before", "skew_after", "kurtosis_after"],
    ).set_index("indicator")
    return out, rep
