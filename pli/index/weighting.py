"""Indicator and domain weights: manual, equal, or from principal components."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Optional

import numpy as np
import pandas as pd

from pli._codes import list_codes
from pli.config import IndexSpec, IndicatorSpec
from pli.errors import InputError
from pli.index.normalisation import _rescale

__all__ = [
    "PCAWeights",
    "index_weights",
]

logger = logging.getLogger(__name__)


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
