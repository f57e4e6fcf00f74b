"""The composite index: weighted aggregation, rank, decile and each indicator's contribution."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Optional

import numpy as np
import pandas as pd

from pli._codes import list_codes
from pli.config import IndexSpec, IndicatorSpec
from pli.errors import InputError
from pli.index.normalisation import normalise
from pli.index.treatment import impute_missing, treat_outliers
from pli.index.weighting import PCAWeights, index_weights
from pli.presets import resolve_index_spec

__all__ = [
    "IndexResult",
    "aggregate",
    "build_index",
]

logger = logging.getLogger(__name__)


_SHOW = 10


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


# A missing label in np.where, typed so the result is an object array.
_NONE = np.array(None, dtype=object)


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
