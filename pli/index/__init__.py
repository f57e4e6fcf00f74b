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

Modules: ``treatment`` (missing values, outliers), ``normalisation``, ``weighting``
and ``composite`` (:func:`build_index`).

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

from pli.index.composite import IndexResult, aggregate, build_index
from pli.index.normalisation import IMD_EXPONENTIAL_CONSTANT, exponential_transform, normalise
from pli.index.treatment import impute_missing, treat_outliers
from pli.index.weighting import PCAWeights, index_weights

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
