"""The composite index: treatment, normalisation, weighting, aggregation, contributions.

``build_index`` turns an LSOA x indicator table into one priority score per LSOA, its rank
and decile, a score per domain and each indicator's contribution to the score, so that an
analyst can say "this LSOA is 4th mainly because of violence harm and income deprivation".

Pipeline (each step is also a public function)::

    impute_missing -> treat_outliers -> normalise -> index_weights -> aggregate

Conventions
-----------
* Higher normalised value, domain score and score always mean **higher priority**:
  ``higher_is_better`` indicators are flipped during normalisation.
* Rank 1 is the highest priority; ties share the best rank (``method="min"``) and are
  listed by LSOA code. Decile 1 is the highest-priority 10% of LSOAs
  (``decile = floor((rank - 1) * 10 / N) + 1``).
* Hierarchy: indicator weights are relative *within* their domain, domain weights are
  relative within the index; both are rescaled to sum to 1 (announced in the log) and
  negative weights are rejected. The effective weight of an indicator is the product.

Normalisation methods (``IndexSpec.normalisation``)
---------------------------------------------------
``zscore``
    ``(x - mean) / std`` with the population standard deviation (``ddof=0``); flipped
    indicators are multiplied by -1.
``minmax``
    ``100 * (x - min) / (max - min)``; flipped: ``100 - that``.
``percentile``
    Percentile rank ``100 * rank / N`` (ties averaged), in (0, 100]; flipped indicators are
    ranked on ``-x``.
``ratio``
    Ratio to the study-area value x 100, as in the Vulnerable Localities Index
    (100 = study-area average). The study-area value is the unweighted mean of the LSOA
    values unless ``reference_values`` gives it: for a rate pass the pooled study-area
    rate (total numerator / total denominator x 1,000), which is what the VLI uses.
    Flipped indicators are reflected about the average: ``200 - ratio``.
``exponential``
    The English IMD exponential transformation of ranks (IoD2019 technical report):
    ``X = -23 ln(1 - R (1 - exp(-100/23)))`` where ``R = p / N`` and ``p`` runs from 1
    for the least deprived (lowest priority) to ``N`` for the most deprived, so
    ``X`` is in (0, 100] and the most deprived 10% get X above about 50. Without
    ``exponential_reference_size`` the LSOAs are ranked among themselves (``N`` = number
    of LSOAs, ties averaged). With it, the indicator values must already be ranks on
    that reference (e.g. IoD2019 national ranks, ``N`` = 32,844) and are used as given:
    ``p = value`` for ``higher_is_worse``, ``p = N + 1 - value`` for ``higher_is_better``
    (IoD ranks, where 1 is the most deprived).

Aggregation (``IndexSpec.aggregation``)
---------------------------------------
``arithmetic``
    ``score = sum_i W_d(i) w_i x_i``; the contribution of indicator ``i`` is
    ``W_d(i) w_i x_i`` and contributions sum to the score exactly.
``geometric``
    Needs positive inputs, so every normalised value is shifted by one constant
    ``c = max(0, 1 - min(x))`` (the smallest value over all indicators becomes 1; the shift
    is stored as ``geometric_shift``). Then ``D_d = prod_i y_i ** w_i`` and
    ``score = prod_d D_d ** W_d``. Contributions use the **log-share decomposition**:
    ``c_i = score * W_d(i) w_i ln(y_i) / ln(score)``; because every ``y >= 1`` the shares
    are non-negative, and they sum to the score. Where every ``y_i = 1`` (``ln score = 0``)
    the score (1) is split by effective weight.

Weighting (``IndexSpec.weighting``)
-----------------------------------
``manual`` uses ``IndicatorSpec.weight`` and ``IndexSpec.domain_weights``; ``equal`` gives
every domain and every indicator within a domain the same weight; ``pca`` derives weights
from a principal component analysis of the normalised indicators (standardised): keep the
components with eigenvalue above 1 (at least one), and give each indicator
``sum_k s_k * loading_ik ** 2`` where ``s_k`` is component ``k``'s share of the retained
explained variance. These sum to 1; a domain's weight is the sum of its indicators'.

Data treatment (``IndexSpec.treatment``)
----------------------------------------
Missing values raise by default; ``median`` or ``ward_mean`` imputation is logged with the
LSOAs affected (ward mean falls back to the study-area median where the whole ward is
missing). Outliers: ``winsorise`` clips each indicator to its ``[1 - q, q]`` quantiles;
``skew_kurtosis`` follows composite-indicator practice (JRC/COIN): an indicator with
``|skewness| > skew_threshold`` **and** excess kurtosis ``> kurtosis_threshold`` has its
most extreme value(s), in the direction of the skew, pulled in to the next value, one at
a time, up to 5 values; if that does not bring both statistics under the thresholds the
original values are log-transformed instead (``ln(x - min + 1)`` for positive skew,
``-ln(max - x + 1)`` for negative skew, which keeps the order).

Examples
--------
>>> import pandas as pd
>>> from pli.config import IndexSpec, IndicatorSpec
>>> from pli.index import build_index
>>> x = pd.DataFrame({"harm": [10.0, 2.0, 4.0], "income": [0.3, 0.1, 0.2]},
...                  index=pd.Index(["E1", "E2", "E3"], name="lsoa_code"))
>>> specs = (IndicatorSpec("harm", "crime", domain="crime"),
...          IndicatorSpec("income", "iod", domain="deprivation"))
>>> res = build_index(x, specs, IndexSpec(normalisation="minmax"))
>>> res.rank.tolist()
[1, 3, 2]
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Optional

import numpy as np
import pandas as pd

from pli._codes import list_codes
from pli.config import IndexSpec, IndicatorSpec, TreatmentSpec
from pli.errors import InputError
from pli.presets import resolve_index_spec

__all__ = [
    "IMD_EXPONENTIAL_CONSTANT",
    "IndexResult",
    "PCAWeights",
    "aggregate",
    "build_index",
    "exponential_transform",
    "impute_missing",
    "index_weights",
    "normalise",
    "treat_outliers",
]

logger = logging.getLogger(__name__)

IMD_EXPONENTIAL_CONSTANT = 23.0
_MAX_WINSORISED = 5
_SHOW = 10


# --------------------------------------------------------------------------- results


@dataclass(frozen=True, eq=False)
class PCAWeights:
    """Data-driven weights from a principal component analysis.

    Attributes
    ----------
    explained_variance_ratio : Series
        Share of total variance per component (all components, ``PC1``...).
    eigenvalues : Series
        Variance of each component on standardised indicators (Kaiser rule: keep > 1).
    loadings : DataFrame
        Indicators x components, unit-length columns (sign set so the column sums are
        positive).
    n_components : int
        Number of components retained.
    weights : Series
        Indicator weights, summing to 1.
    """

    explained_variance_ratio: pd.Series
    eigenvalues: pd.Series
    loadings: pd.DataFrame
    n_components: int
    weights: pd.Series

    def to_frame(self) -> pd.DataFrame:
        """Loadings of the retained components plus the derived weight per indicator."""
        out = self.loadings.iloc[:, : self.n_components].copy()
        out["weight"] = self.weights
        return out


@dataclass(frozen=True, eq=False)
class IndexResult:
    """A built composite index. All frames are indexed by ``lsoa_code``.

    Attributes
    ----------
    scores : Series
        Composite score; higher means higher priority.
    rank : Series
        1 = highest priority; ties share the lowest rank number.
    decile : Series
        1 = highest-priority 10% of LSOAs, 10 = lowest.
    domain_scores : DataFrame
        One column per domain (same scale as the score).
    contributions : DataFrame
        One column per indicator; each row sums to ``scores``.
    weights : DataFrame
        Indexed by indicator: ``domain``, ``indicator_weight`` (within domain),
        ``domain_weight`` and ``weight`` (effective = product).
    pca : PCAWeights or None
        Explained variance and loadings when ``weighting="pca"``.
    normalised : DataFrame
        Treated, normalised, direction-aligned indicator values.
    values : DataFrame
        Indicator values as used (after imputation, before outlier treatment).
    treatment : DataFrame
        Per indicator: outlier action, points changed, skewness/kurtosis before/after.
    imputed : dict
        Indicator -> tuple of LSOA codes whose value was imputed.
    spec : IndexSpec
        The resolved spec (preset applied).
    labels : dict
        Indicator -> human-readable label.
    geometric_shift : float or None
        Constant added before geometric aggregation.
    seed : int
    """

    scores: pd.Series
    rank: pd.Series
    decile: pd.Series
    domain_scores: pd.DataFrame
    contributions: pd.DataFrame
    weights: pd.DataFrame
    pca: Optional[PCAWeights]
    normalised: pd.DataFrame
    values: pd.DataFrame
    treatment: pd.DataFrame
    imputed: Mapping[str, tuple[str, ...]]
    spec: IndexSpec
    labels: Mapping[str, str] = field(default_factory=dict)
    geometric_shift: Optional[float] = None
    seed: int = 0

    def __repr__(self) -> str:
        s = self.spec
        return (
            f"<IndexResult {len(self.scores)} LSOAs, {self.contributions.shape[1]} indicators in "
            f"{self.domain_scores.shape[1]} domains; {s.normalisation}/{s.weighting}/{s.aggregation}"
            f"{f', preset {s.preset}' if s.preset else ''}>"
        )

    def top_drivers(self, n: int = 3) -> pd.DataFrame:
        """The ``n`` indicators with the largest positive contributions, per LSOA.

        Returns
        -------
        DataFrame
            Indexed like ``scores``; for ``k = 1..n`` columns ``driver_k`` (indicator
            name), ``driver_k_label``, ``driver_k_contribution`` and ``driver_k_value``
            (the indicator value as used). Missing (NA) where an LSOA has fewer than
            ``k`` positive contributions.
        """
        if n < 1:
            raise ValueError(f"n must be 1 or more, got {n}")
        contrib = self.contributions.to_numpy(dtype=float)
        vals = self.values[self.contributions.columns].to_numpy(dtype=float)
        names = np.asarray(self.contributions.columns, dtype=object)
        labels = np.asarray([self.labels.get(c, c) for c in names], dtype=object)
        masked = np.where(contrib > 0, contrib, -np.inf)
        n_eff = min(n, contrib.shape[1])
        order = np.argsort(-masked, axis=1, kind="stable")[:, :n_eff]
        rows = np.arange(contrib.shape[0])[:, None]
        top_c = contrib[rows, order]
        positive = top_c > 0
        out: dict[str, object] = {}
        for k in range(n):
            if k < n_eff:
                ok = positive[:, k]
                out[f"driver_{k + 1}"] = pd.array(np.where(ok, names[order[:, k]], _NONE), dtype="string")
                out[f"driver_{k + 1}_label"] = pd.array(
                    np.where(ok, labels[order[:, k]], _NONE), dtype="string"
                )
                out[f"driver_{k + 1}_contribution"] = np.where(ok, top_c[:, k], np.nan)
                out[f"driver_{k + 1}_value"] = np.where(ok, vals[rows[:, 0], order[:, k]], np.nan)
            else:
                out[f"driver_{k + 1}"] = pd.array([None] * len(contrib), dtype="string")
                out[f"driver_{k + 1}_label"] = pd.array([None] * len(contrib), dtype="string")
                out[f"driver_{k + 1}_contribution"] = np.full(len(contrib), np.nan)
                out[f"driver_{k + 1}_value"] = np.full(len(contrib), np.nan)
        return pd.DataFrame(out, index=self.scores.index.copy())

    def explain(self, lsoa_code: str, *, n: int = 2) -> str:
        """One sentence: the LSOA's rank and its main drivers."""
        if lsoa_code not in self.scores.index:
            raise KeyError(f"{lsoa_code!r} is not in the index ({len(self.scores)} LSOAs)")
        drivers = self.top_drivers(n).loc[lsoa_code]
        names = [drivers[f"driver_{k}_label"] for k in range(1, n + 1) if not pd.isna(drivers[f"driver_{k}"])]
        r = int(self.rank[lsoa_code])
        because = f" mainly because of {' and '.join(names)}" if names else " with no indicator above its baseline"
        return (
            f"{lsoa_code} ranks {r} of {len(self.scores)} (score {self.scores[lsoa_code]:.3g}, "
            f"decile {int(self.decile[lsoa_code])}){because}"
        )

    def to_frame(self) -> pd.DataFrame:
        """``score``, ``rank``, ``decile``, ``domain_<name>`` and ``contribution_<name>``,
        sorted by rank then LSOA code."""
        out = pd.DataFrame({"score": self.scores, "rank": self.rank, "decile": self.decile})
        out = out.join(self.domain_scores.add_prefix("domain_")).join(self.contributions.add_prefix("contribution_"))
        order = np.lexsort((out.index.astype(str), out["rank"].to_numpy()))
        return out.iloc[order]


# --------------------------------------------------------------------------- treatment


# A missing label in np.where, typed so the result is an object array.
_NONE = np.array(None, dtype=object)

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


# --------------------------------------------------------------------------- normalisation


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


# --------------------------------------------------------------------------- weights


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


def _pca_weights(normalised: pd.DataFrame, seed: int) -> PCAWeights:
    from sklearn.decomposition import PCA

    if normalised.shape[1] < 2:
        raise InputError("index.weighting 'pca' needs at least 2 indicators")
    if normalised.shape[0] <= normalised.shape[1]:
        raise InputError(
            f"index.weighting 'pca' needs more LSOAs ({normalised.shape[0]}) than indicators ({normalised.shape[1]})"
        )
    x = normalised.to_numpy(dtype=float)
    std = x.std(axis=0, ddof=1)
    if np.any(std == 0):
        raise InputError(
            f"index.weighting 'pca': indicator(s) {list_codes(normalised.columns[std == 0])} are constant; drop them"
        )
    z = (x - x.mean(axis=0)) / std
    pca = PCA(svd_solver="full", random_state=seed).fit(z)
    names = [f"PC{i + 1}" for i in range(pca.n_components_)]
    eig = pd.Series(pca.explained_variance_, index=names)
    evr = pd.Series(pca.explained_variance_ratio_, index=names)
    comps = pca.components_.T
    comps = comps * np.where(comps.sum(axis=0) < 0, -1.0, 1.0)
    loadings = pd.DataFrame(comps, index=normalised.columns, columns=names)
    k = max(1, int((eig > 1.0).sum()))
    share = evr.iloc[:k] / evr.iloc[:k].sum()
    weights = (loadings.iloc[:, :k] ** 2 * share.to_numpy()).sum(axis=1)
    weights = weights / weights.sum()
    logger.info(
        "pca weights: %d component(s) with eigenvalue > 1 kept, explaining %.1f%% of variance",
        k,
        100 * float(evr.iloc[:k].sum()),
    )
    return PCAWeights(evr, eig, loadings, k, weights.rename("weight"))


def index_weights(
    specs: Sequence[IndicatorSpec],
    index_spec: IndexSpec,
    *,
    normalised: Optional[pd.DataFrame] = None,
    seed: int = 0,
) -> tuple[pd.DataFrame, Optional[PCAWeights]]:
    """Indicator and domain weights for the hierarchy indicators -> domains -> index.

    Returns
    -------
    (DataFrame, PCAWeights or None)
        Indexed by indicator: ``domain``, ``indicator_weight`` (sums to 1 per domain),
        ``domain_weight`` (sums to 1 over domains), ``weight`` (product, sums to 1).
    """
    names = [s.name for s in specs]
    domain = pd.Series([s.domain for s in specs], index=names, name="domain")
    domains = list(dict.fromkeys(domain))
    pca = None
    if index_spec.weighting == "equal":
        if any(s.weight != 1.0 for s in specs) or index_spec.domain_weights:
            logger.info("equal weighting: indicator and domain weights from the config are ignored")
        ind_w = 1.0 / domain.map(domain.value_counts())
        dom_w = pd.Series(1.0 / len(domains), index=domains)
    elif index_spec.weighting == "manual":
        raw = pd.Series([float(s.weight) for s in specs], index=names)
        ind_w = pd.concat([_rescale(raw[domain == d], f"indicator weights in domain {d!r}") for d in domains])
        given = {k: v for k, v in index_spec.domain_weights.items() if v is not None}
        absent = [d for d in domains if d not in given]
        if absent:
            raise InputError(
                f"index.domain_weights has no weight for domain(s) {', '.join(absent)} "
                f"(given: {', '.join(given) or 'none'}); add them or use weighting: equal"
            )
        unused = [d for d in given if d not in domains]
        if unused:
            logger.warning("index.domain_weights: domain(s) %s have no indicators; ignored", ", ".join(unused))
        dom_w = _rescale(pd.Series({d: float(given[d]) for d in domains}), "index.domain_weights")
    elif index_spec.weighting == "pca":
        if normalised is None:
            raise ValueError("pca weighting needs the normalised indicator table")
        pca = _pca_weights(normalised[names], seed)
        dom_w = pca.weights.groupby(domain).sum().reindex(domains)
        ind_w = pca.weights / domain.map(dom_w).where(lambda s: s > 0, 1.0)
    else:
        raise InputError(f"index.weighting must be manual, equal or pca; got {index_spec.weighting!r}")
    out = pd.DataFrame({"domain": domain, "indicator_weight": ind_w.reindex(names)})
    out["domain_weight"] = out["domain"].map(dom_w).astype(float)
    out["weight"] = out["indicator_weight"] * out["domain_weight"]
    out.index.name = "indicator"
    return out, pca


# --------------------------------------------------------------------------- aggregation


def aggregate(
    normalised: pd.DataFrame,
    weights: pd.DataFrame,
    method: str,
) -> tuple[pd.Series, pd.DataFrame, pd.DataFrame, Optional[float]]:
    """Combine normalised indicators into domain scores and a composite score.

    Returns
    -------
    (Series, DataFrame, DataFrame, float or None)
        Score, domain scores, contributions (rows sum to the score) and the geometric
        shift (None for arithmetic).
    """
    cols = list(weights.index)
    x = normalised[cols].to_numpy(dtype=float)
    w = weights["weight"].to_numpy(dtype=float)
    w_in = weights["indicator_weight"].to_numpy(dtype=float)
    domains = list(dict.fromkeys(weights["domain"]))
    member = np.stack([(weights["domain"] == d).to_numpy() for d in domains], axis=1).astype(float)
    idx = normalised.index.copy()
    if method == "arithmetic":
        contrib = x * w
        dom = (x * w_in) @ member
        score = contrib.sum(axis=1)
        shift = None
    elif method == "geometric":
        lo = float(x.min())
        shift = max(0.0, 1.0 - lo)
        if shift:
            logger.info("geometric aggregation: normalised values shifted by %+.4g so the smallest is 1", shift)
        logy = np.log(x + shift)
        parts = logy * w
        log_score = parts.sum(axis=1)
        score = np.exp(log_score)
        dom = np.exp((logy * w_in) @ member)
        with np.errstate(invalid="ignore", divide="ignore"):
            share = np.where(log_score[:, None] > 0, parts / log_score[:, None], w[None, :])
        contrib = share * score[:, None]
    else:
        raise InputError(f"index.aggregation must be arithmetic or geometric; got {method!r}")
    return (
        pd.Series(score, index=idx, name="score"),
        pd.DataFrame(dom, index=idx, columns=domains),
        pd.DataFrame(contrib, index=idx, columns=cols),
        shift,
    )


def _rank_and_decile(score: pd.Series) -> tuple[pd.Series, pd.Series]:
    # Rounding stops floating-point noise from splitting genuine ties.
    rank = score.round(10).rank(method="min", ascending=False).astype("int64").rename("rank")
    n = len(score)
    decile = ((rank - 1) * 10 // n + 1).astype("int64").rename("decile")
    return rank, decile


# --------------------------------------------------------------------------- entry point


def _validate(indicators: pd.DataFrame, specs: Sequence[IndicatorSpec]) -> list[str]:
    if not isinstance(indicators, pd.DataFrame):
        raise InputError(f"indicators must be a DataFrame indexed by lsoa_code, got {type(indicators).__name__}")
    problems: list[str] = []
    if not specs:
        problems.append("no indicators specified; list at least one under 'indicators'")
    if len(indicators) < 2:
        problems.append(f"the indicator table has {len(indicators)} LSOA(s); an index needs at least 2")
    dup_idx = indicators.index[indicators.index.duplicated()]
    if len(dup_idx):
        problems.append(f"duplicate LSOA codes in the indicator table: {list_codes(dup_idx.unique())}")
    names = [s.name for s in specs]
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        problems.append(f"duplicate indicator names: {', '.join(dup)}")
    absent = [n for n in dict.fromkeys(names) if n not in indicators.columns]
    if absent:
        problems.append(
            f"indicator column(s) {', '.join(absent)} not in the indicator table "
            f"(columns: {list_codes(list(indicators.columns), 20)})"
        )
    for s in specs:
        if s.weight < 0:
            problems.append(f"indicator {s.name!r}: weight must not be negative, got {s.weight:g}")
        if s.name in indicators.columns and not pd.api.types.is_numeric_dtype(indicators[s.name]):
            problems.append(
                f"indicator {s.name!r} is not numeric (dtype {indicators[s.name].dtype}); "
                "convert it in the indicators stage"
            )
        elif s.name in indicators.columns:
            inf = np.isinf(indicators[s.name].to_numpy(dtype=float))
            if inf.any():
                problems.append(
                    f"indicator {s.name!r} is infinite for {int(inf.sum())} LSOA(s): "
                    f"{list_codes(indicators.index[inf])}; check for zero denominators"
                )
    return problems


def build_index(
    indicators: pd.DataFrame,
    specs: Sequence[IndicatorSpec],
    index_spec: IndexSpec,
    *,
    seed: int = 0,
    wards: Optional[pd.Series] = None,
    reference_values: Optional[Mapping[str, float]] = None,
) -> IndexResult:
    """Build the composite priority index.

    Parameters
    ----------
    indicators : DataFrame
        Indexed by ``lsoa_code``, one numeric column per indicator (already counted,
        rated, shared or logged by the indicators stage). Other columns are ignored.
    specs : sequence of IndicatorSpec
        Which columns to use, with ``domain``, ``direction``, ``weight`` and ``label``.
    index_spec : IndexSpec
        Method options; a ``preset`` is resolved first (see
        :func:`pli.presets.resolve_index_spec`).
    seed : int
        Random state for PCA (stored on the result).
    wards : Series, optional
        ``lsoa_code -> ward_code``, needed for ``missing="ward_mean"``.
    reference_values : mapping, optional
        Study-area value per indicator for ``ratio`` normalisation (e.g. the pooled
        rate); default the mean of the LSOA values.

    Returns
    -------
    IndexResult

    Raises
    ------
    InputError
        Listing every problem with the table or specs at once.

    Examples
    --------
    >>> import pandas as pd
    >>> from pli.config import IndexSpec, IndicatorSpec
    >>> from pli.index import build_index
    >>> values = pd.DataFrame({"harm_rate": [120.0, 40.0, 15.0, 60.0], "income": [0.35, 0.20, 0.05, 0.10]},
    ...                       index=pd.Index(["E01001001", "E01001002", "E01001003", "E01001004"], name="lsoa_code"))
    >>> specs = [IndicatorSpec("harm_rate", "crime", domain="crime"),
    ...          IndicatorSpec("income", "iod", domain="deprivation")]
    >>> spec = IndexSpec(normalisation="minmax", weighting="manual", domain_weights={"crime": 1, "deprivation": 1})
    >>> result = build_index(values, specs, spec)
    >>> # sorted by rank
    >>> result.to_frame()[["score", "rank"]].round(1)  # doctest: +NORMALIZE_WHITESPACE
               score  rank
    lsoa_code
    E01001001  100.0     1
    E01001002   36.9     2
    E01001004   29.8     3
    E01001003    0.0     4
    """
    specs = tuple(specs)
    problems = _validate(indicators, specs)
    if problems:
        raise InputError(problems)
    spec = resolve_index_spec(index_spec)
    names = [s.name for s in specs]
    values = indicators[names].astype(float).copy()
    values.index = values.index.astype(str)
    values.index.name = "lsoa_code"

    values, imputed = impute_missing(values, spec.treatment, wards=wards)
    treated, report = treat_outliers(values, spec.treatment)
    if spec.normalisation == "ratio" and reference_values is not None:
        # A pooled study-area rate is on the raw scale; an indicator the outlier rule
        # log-transformed is compared with the mean of its transformed values instead.
        logged = [c for c in treated.columns if report.loc[c, "action"] == "log"]
        if logged:
            reference_values = {**dict(reference_values), **{c: float(treated[c].mean()) for c in logged}}
            logger.info(
                "ratio: %s log-transformed by the outlier rule; ratio taken to the mean of the transformed values",
                ", ".join(logged),
            )
    better = [s.name for s in specs if s.direction == "higher_is_better"]
    normed = normalise(
        treated,
        spec.normalisation,
        higher_is_better=better,
        reference_size=spec.exponential_reference_size,
        reference_values=reference_values,
    )
    weights, pca = index_weights(specs, spec, normalised=normed, seed=seed)
    score, dom, contrib, shift = aggregate(normed, weights, spec.aggregation)
    rank, decile = _rank_and_decile(score)
    logger.info(
        "index: %d LSOAs, %d indicators in %d domains (%s, %s weights, %s aggregation)",
        len(score),
        len(names),
        dom.shape[1],
        spec.normalisation,
        spec.weighting,
        spec.aggregation,
    )
    return IndexResult(
        scores=score,
        rank=rank,
        decile=decile,
        domain_scores=dom,
        contributions=contrib,
        weights=weights,
        pca=pca,
        normalised=normed,
        values=values,
        treatment=report,
        imputed=dict(imputed),
        spec=spec,
        labels={s.name: (s.label or s.name) for s in specs},
        geometric_shift=shift,
        seed=seed,
    )
