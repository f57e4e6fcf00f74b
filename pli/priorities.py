"""Priority neighbourhoods: contiguous, workable groups of high-priority LSOAs.

A community-safety partnership cannot work a list of 220 ranked LSOAs; it works a
handful of places, each small enough for one team and named so residents recognise it.
:func:`select_neighbourhoods` draws those places (nine by default) and profiles them,
and summarises every ward.

Method
------
1. **Candidates.** LSOAs scoring at or above the ``min_score_quantile`` quantile, plus the
   ``top_lsoas`` highest-scoring LSOAs (in case the quantile is set high). The
   *cut-off* is the highest score among the LSOAs that are not candidates.
2. **Priority per LSOA** (the ``priority_basis`` string on the result says the same)::

       need_i     = max(score_i - cut-off, 0) * population_i / borough population
       priority_i = need_i / sum(need)                       (harm_weight = 0, default)
       priority_i = (1 - w) * need_i / sum(need) + w * rate_i / sum(rate)   (w = harm_weight)

   with ``rate_i = harm_i / population_i`` (crime harm per resident). Priority is the
   need *above the priority cut-off*, borne by residents: an LSOA just over the cut-off
   adds almost nothing, one far above it adds a lot, and a neighbourhood cannot climb
   just by holding more ordinary LSOAs. Measuring from the cut-off rather than from the
   borough minimum matters: from the minimum, every candidate carries a large constant
   share and the biggest pieces win whatever their scores. The priorities sum to 1, so
   a neighbourhood's total (``priority_share``) is the share of the borough's priority
   it covers.

   Why harm is *not* blended by default: the index already carries crime harm (the
   standard configs weight a harm-rate indicator double), so adding it again counts it
   twice. Partnerships whose index leaves crime out can set ``harm_weight``; harm then
   enters as its *rate* share, because raw counts follow population and footfall and
   would favour big, busy groups (the town centre) over where residents are most at
   risk.
3. **Contiguous groups.** Connected components of the contiguity graph restricted to the
   candidates.
4. **Regionalisation.** Every group with more than ``max_lsoas`` LSOAs or more than
   ``max_population`` residents is split by spatially constrained agglomerative
   clustering: scikit-learn's :class:`~sklearn.cluster.AgglomerativeClustering` with
   Ward linkage and the contiguity graph as ``connectivity``, on the centroid
   coordinates (scaled to unit spread) and the score standardised within the group
   (weighted like one coordinate axis, ``SCORE_WEIGHT``), into ``ceil(max(n /
   max_lsoas, pop / max_population))`` parts. Pieces that are still too large are
   split again. Giving the score that weight keeps a very high LSOA with similar
   neighbours instead of diluting it among ordinary ones, so the borough's top LSOAs
   land in top-ranked neighbourhoods (on the Croydon open data: hull-area ratio 0.66
   against 0.67 with a weaker score term, 2 points less priority covered).

   Why this method: the connectivity constraint only merges adjacent clusters, so every
   piece is contiguous by construction; Ward linkage on coordinates yields compact,
   similarly sized pieces (walkable patrol areas) while the score term keeps
   high-scoring cores together; it is deterministic (no random starts, so the seed has
   nothing to vary), needs no extra dependency and scales to tens of thousands of
   candidates. Max-p or SKATER (spopt) would also respect contiguity, but max-p
   optimises a floor (minimum size), not the ceiling a partnership needs, and both
   add a dependency and random restarts.
5. **Eligibility.** A piece needs at least ``min_lsoas`` LSOAs and ``min_population``
   residents and at most ``max_population`` (a single LSOA that is too populous cannot
   be split and is skipped with a warning). A single-LSOA piece, e.g. an isolated high
   LSOA, qualifies only when that LSOA is among the ``top_lsoas`` highest scoring.
6. **Selection.** Pieces are disjoint by construction; the ``count`` with the largest
   total priority are kept (ties: higher total score, then first LSOA code), which
   maximises the share of borough priority covered given the pieces.
7. **Ranking.** The chosen neighbourhoods are ranked by their population-weighted mean
   score (``population_weighted_score``, 1 = highest; plain mean when nobody lives
   there), ties broken by total crime harm, then first LSOA code. Selection answers
   "which places cover most of the need", ranking answers "which of them is most
   intense", so rank 1 is the place whose residents score highest on the index, not
   the biggest place.

Names come from the ward holding most of the neighbourhood's residents ("Selhurst"),
"A / B" when the second ward holds at least a third ("Broad Green / Selhurst"), and
neighbourhoods that would share a name get a compass suffix from their centroids
relative to each other ("West Thornton (west)", "West Thornton (east)").

Examples
--------
>>> from pli.clustering import build_weights                          # doctest: +SKIP
>>> from pli.priorities import select_neighbourhoods                  # doctest: +SKIP
>>> result = select_neighbourhoods(lsoa, build_weights(lsoa), cfg.priorities)  # doctest: +SKIP
>>> result.neighbourhoods[["rank", "name", "n_lsoas", "population"]]  # doctest: +SKIP
"""

from __future__ import annotations

import logging
import math
import re
from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd
from libpysal.graph import Graph
from scipy import sparse
from scipy.sparse import csgraph
from sklearn.cluster import AgglomerativeClustering

from pli.config import ClusteringSpec, ConfigError, PrioritySpec
from pli.errors import InputError
from pli.stats.weights import SpatialWeights, build_weights

__all__ = [
    "NEIGHBOURHOOD_COLUMN_DESCRIPTIONS",
    "NeighbourhoodResult",
    "select_neighbourhoods",
    "summarise_wards",
]

logger = logging.getLogger(__name__)

NEIGHBOURHOOD_COLUMNS = [
    "rank",
    "name",
    "slug",
    "lsoa_codes",
    "n_lsoas",
    "population",
    "mean_score",
    "population_weighted_score",
    "total_score",
    "priority_share",
    "harm_share",
    "top_drivers",
    "wards",
    "geometry",
]
NEIGHBOURHOOD_COLUMN_DESCRIPTIONS = {
    "rank": "1 = highest population-weighted mean score among the chosen neighbourhoods "
    "(ties: more crime harm first)",
    "name": "ward holding most residents, 'A / B' when the second holds a third or more; "
    "compass suffix when names repeat",
    "slug": "name in lower case with hyphens, for file names and URLs",
    "lsoa_codes": "member LSOA codes, ';'-joined",
    "n_lsoas": "number of member LSOAs",
    "population": "residents (sum over member LSOAs)",
    "mean_score": "plain mean of the member LSOAs' index scores",
    "population_weighted_score": "mean index score per resident (member scores weighted by "
    "population); the ranking key",
    "total_score": "sum of the member LSOAs' index scores",
    "priority_share": "share (0-1) of the borough's priority this neighbourhood covers; an "
    "LSOA's priority is its index score above the candidate cut-off times its share of "
    "borough residents (blended with its crime-harm rate share when priorities.harm_weight "
    "> 0; see priority_basis in the log); the neighbourhoods were chosen to maximise the total",
    "harm_share": "share (0-1) of the borough's crime harm recorded in the neighbourhood "
    "(NaN without a harm source)",
    "top_drivers": "the three indicators with the largest positive summed contributions "
    "to the members' scores, '; '-joined",
    "wards": "wards of the member LSOAs, most residents first, '; '-joined",
    "geometry": "dissolved outline of the member LSOAs (EPSG:27700)",
}
# Weight of the (group-standardised) score against each standardised centroid axis when
# splitting large groups: 1 keeps high cores together at a small cost in compactness.
SCORE_WEIGHT = 1.0
# Second ward named alongside the first when it holds at least this share of residents.
SECOND_WARD_SHARE = 1 / 3


@dataclass(frozen=True, eq=False)
class NeighbourhoodResult:
    """The selected priority neighbourhoods and the ward summary.

    Attributes
    ----------
    neighbourhoods : GeoDataFrame
        One row per neighbourhood, indexed by ``rank`` (1 = highest population-weighted
        mean score), columns ``rank, name, slug, lsoa_codes`` (";"-joined), ``n_lsoas,
        population, mean_score, population_weighted_score, total_score,
        priority_share, harm_share, top_drivers`` ("; "-joined), ``wards`` ("; "-joined)
        and the dissolved ``geometry``; :data:`NEIGHBOURHOOD_COLUMN_DESCRIPTIONS` says
        what each column means.
    membership : Series
        ``lsoa_code`` -> neighbourhood rank (nullable Int64, NA outside), input order.
    wards : DataFrame
        :func:`summarise_wards` output.
    candidates : Index
        LSOAs that passed the score threshold.
    threshold : float
        The score at the ``min_score_quantile`` quantile.
    coverage : float
        Share of the borough's priority inside the neighbourhoods (sum of their
        ``priority_share``).
    spec : PrioritySpec
    seed : int
    priority : Series
        ``lsoa_code`` -> priority (sums to 1; 0 at or below the cut-off when
        ``harm_weight`` is 0), input order.
    cutoff : float
        Score the need is measured from: the highest score among non-candidates.
    priority_basis : str
        One-sentence definition of ``priority`` as used in this run.
    """

    neighbourhoods: gpd.GeoDataFrame
    membership: pd.Series
    wards: pd.DataFrame
    candidates: pd.Index
    threshold: float
    coverage: float
    spec: PrioritySpec
    seed: int
    priority: pd.Series
    cutoff: float
    priority_basis: str


def select_neighbourhoods(
    lsoa: gpd.GeoDataFrame,
    weights: SpatialWeights | Graph | None,
    spec: PrioritySpec | None = None,
    *,
    score: str = "score",
    population: str = "population",
    harm: str | None = "harm",
    drivers: pd.DataFrame | None = None,
    seed: int = 0,
) -> NeighbourhoodResult:
    """Draw the priority neighbourhoods (see the module docstring for the method).

    Parameters
    ----------
    lsoa : GeoDataFrame
        Indexed by ``lsoa_code``, projected CRS (EPSG:27700), with ``ward_code``,
        ``ward_name`` and the ``score``, ``population`` and ``harm`` columns.
    weights : SpatialWeights, libpysal Graph or None
        Contiguity over the same LSOAs (islands already attached). Non-contiguity
        weights (knn, distance band) or None: queen contiguity is built (logged).
    spec : PrioritySpec, optional
        ``count``, ``top_lsoas``, ``min_lsoas``, ``max_lsoas``, ``min_population``,
        ``max_population``, ``min_score_quantile`` and ``harm_weight`` (0-1, default 0:
        share of priority given to the crime-harm rate; read with a default of 0 so
        older specs without the field work).
    score, population : str
        Column names.
    harm : str or None, default "harm"
        Crime-harm column (counts or weighted counts): reported as ``harm_share``,
        breaks ranking ties and, with ``harm_weight > 0``, enters priority as a rate per
        resident. None, or a column with no values at all, leaves harm out
        (``harm_share`` is then NaN). Missing values in a filled column count as 0.
    drivers : DataFrame, optional
        Per-LSOA contribution of each indicator to the score (columns = indicator
        names); a neighbourhood's ``top_drivers`` are the three largest positive sums.
    seed : int, default 0
        Stored on the result; the method is deterministic.

    Returns
    -------
    NeighbourhoodResult

    Raises
    ------
    ConfigError
        For inconsistent spec bounds.
    InputError
        For missing columns, non-numeric or missing values, negative populations or harm,
        a geographic CRS, or weights over different LSOAs.

    Examples
    --------
    >>> import geopandas as gpd, shapely
    >>> from pli.config import PrioritySpec
    >>> from pli.priorities import select_neighbourhoods
    >>> cells = [shapely.box(x, y, x + 500, y + 500) for y in range(0, 3000, 500) for x in range(0, 3000, 500)]
    >>> hot = {0, 1, 6, 34, 35, 29}  # two corners of a 6 x 6 borough score high
    >>> lsoa = gpd.GeoDataFrame(
    ...     {"score": [5.0 if i in hot else float(i % 3) for i in range(36)], "population": 1500,
    ...      "harm": 10.0, "ward_code": [f"W{i // 12}" for i in range(36)],
    ...      "ward_name": [f"Ward {i // 12}" for i in range(36)]},
    ...     geometry=cells, crs=27700, index=[f"E01{i:06d}" for i in range(36)])
    >>> result = select_neighbourhoods(lsoa, None, PrioritySpec(count=2, max_lsoas=3, min_score_quantile=0.8))
    >>> sorted(sorted(group.index) for _, group in lsoa.groupby(result.membership))
    [['E01000000', 'E01000001', 'E01000006'], ['E01000029', 'E01000034', 'E01000035']]
    """
    spec = spec or PrioritySpec()
    _check_spec(spec)
    frame, harm = _validate_lsoa(lsoa, score=score, population=population, harm=harm)
    adjacency = _contiguity_matrix(frame, weights)

    s = frame[score].to_numpy(dtype=float)
    pop = frame[population].to_numpy(dtype=float)
    h = frame[harm].to_numpy(dtype=float) if harm else None

    threshold = float(np.quantile(s, spec.min_score_quantile))
    top_rank = pd.Series(s).rank(ascending=False, method="first").to_numpy()
    is_top = top_rank <= spec.top_lsoas
    is_cand = (s >= threshold) | is_top
    cand = np.flatnonzero(is_cand)
    logger.info(
        "priority candidates: %s LSOAs with score >= %.4g (quantile %.2f) or in the top %s",
        f"{len(cand):,}", threshold, spec.min_score_quantile, f"{spec.top_lsoas:,}",
    )
    cutoff = float(s[~is_cand].max()) if (~is_cand).any() else float(s.min())
    priority, basis = _priority(s, pop, h, cutoff=cutoff, harm_weight=_harm_weight(spec))
    logger.info("priority per LSOA: %s", basis)

    pieces = _regionalise(frame, cand, adjacency, s, pop, spec)
    chosen = _rank(_choose(pieces, s, pop, priority, is_top, frame.index, spec), s, pop, h, frame.index)

    rank_of = np.full(len(frame), 0, dtype=int)
    for r, piece in enumerate(chosen, start=1):
        rank_of[piece] = r
    membership = pd.Series(
        pd.array(np.where(rank_of > 0, rank_of, np.array(None, dtype=object)), dtype="Int64"),
        index=frame.index,
        name="neighbourhood_rank",
    )
    neighbourhoods = _profiles(
        frame, membership, priority, score=score, population=population, harm=harm, drivers=drivers
    )
    wards = summarise_wards(frame, membership, score=score, population=population)
    coverage = float(priority[rank_of > 0].sum())
    logger.info(
        "%s priority neighbourhoods: %s LSOAs, %s residents, %.1f%% of borough priority; "
        "ranked by population-weighted mean score",
        f"{len(chosen):,}", f"{int((rank_of > 0).sum()):,}", f"{pop[rank_of > 0].sum():,.0f}", 100 * coverage,
    )
    return NeighbourhoodResult(
        neighbourhoods=neighbourhoods,
        membership=membership,
        wards=wards,
        candidates=frame.index[cand],
        threshold=threshold,
        coverage=coverage,
        spec=spec,
        seed=int(seed),
        priority=pd.Series(priority, index=frame.index, name="priority"),
        cutoff=cutoff,
        priority_basis=basis,
    )


# --------------------------------------------------------------------------- validation


def _check_spec(spec: PrioritySpec) -> None:
    problems = []
    if spec.count < 1:
        problems.append(f"priorities.count: expected 1 or more, got {spec.count}")
    if spec.min_lsoas < 1:
        problems.append(f"priorities.min_lsoas: expected 1 or more, got {spec.min_lsoas}")
    if spec.max_lsoas < spec.min_lsoas:
        problems.append(
            f"priorities.max_lsoas: expected at least min_lsoas ({spec.min_lsoas}), got {spec.max_lsoas}"
        )
    if spec.min_population < 0:
        problems.append(f"priorities.min_population: expected 0 or more, got {spec.min_population}")
    if spec.max_population <= spec.min_population:
        problems.append(
            f"priorities.max_population: expected more than min_population ({spec.min_population}), "
            f"got {spec.max_population}"
        )
    if not 0 <= spec.min_score_quantile < 1:
        problems.append(
            f"priorities.min_score_quantile: expected a quantile in [0, 1), got {spec.min_score_quantile}"
        )
    if spec.top_lsoas < 0:
        problems.append(f"priorities.top_lsoas: expected 0 or more, got {spec.top_lsoas}")
    harm_weight = _harm_weight(spec)
    if not 0 <= harm_weight <= 1:
        problems.append(f"priorities.harm_weight: expected a share in [0, 1], got {harm_weight}")
    if problems:
        raise ConfigError(problems)


def _validate_lsoa(
    lsoa: gpd.GeoDataFrame, *, score: str, population: str, harm: str | None
) -> tuple[gpd.GeoDataFrame, str | None]:
    """Checked copy of the needed columns, and the harm column actually usable."""
    where = "LSOA table"
    if not isinstance(lsoa, gpd.GeoDataFrame):
        raise InputError(
            f"expected a GeoDataFrame indexed by lsoa_code, got {type(lsoa).__name__}", path=where
        )
    needed = ["ward_code", "ward_name", score, population] + ([harm] if harm else [])
    missing = [c for c in needed if c not in lsoa.columns]
    if missing:
        raise InputError(
            f"missing column(s) {', '.join(missing)}; columns present: {', '.join(map(str, lsoa.columns))}. "
            "Join the index, population and ward columns first (or pass harm=None)",
            path=where,
        )
    problems = []
    if lsoa.index.has_duplicates:
        dupes = lsoa.index[lsoa.index.duplicated()].unique()
        problems.append(f"lsoa_code is duplicated ({', '.join(map(str, dupes[:5]))})")
    if lsoa.crs is None or not lsoa.crs.is_projected:
        problems.append(f"expected a projected CRS in metres (EPSG:27700), got {lsoa.crs!s}; use .to_crs(27700)")
    frame = lsoa[[*needed, lsoa.geometry.name]].copy()
    if harm:
        raw = pd.to_numeric(frame[harm], errors="coerce")
        if raw.isna().all():
            logger.info("column %r is empty (no crime source): neighbourhoods ranked by score alone", harm)
            frame = frame.drop(columns=harm)
            harm = None
        elif raw.isna().any():
            codes = ", ".join(map(str, frame.index[raw.isna().to_numpy()][:5]))
            logger.warning(
                "column %r: %d LSOA(s) have no harm value (%s); counted as 0 (no recorded crime)",
                harm, int(raw.isna().sum()), codes,
            )
            frame[harm] = raw.fillna(0.0)
    for col in [score, population] + ([harm] if harm else []):
        values = pd.to_numeric(frame[col], errors="coerce")
        bad = values.isna() | ~np.isfinite(values.astype(float))
        if bad.any():
            codes = ", ".join(map(str, frame.index[bad.to_numpy()][:5]))
            problems.append(f"column {col!r}: expected numbers, got {int(bad.sum())} missing/non-numeric ({codes})")
            continue
        if col != score and (values < 0).any():
            codes = ", ".join(map(str, frame.index[(values < 0).to_numpy()][:5]))
            problems.append(f"column {col!r}: expected values >= 0, got negatives ({codes})")
        frame[col] = values.astype(float)
    if frame["ward_code"].isna().any():
        codes = ", ".join(map(str, frame.index[frame["ward_code"].isna().to_numpy()][:5]))
        problems.append(f"column 'ward_code': missing for {codes}; check the ward lookup")
    if problems:
        raise InputError(problems, path=where)
    frame["ward_name"] = frame["ward_name"].fillna(frame["ward_code"]).astype("string")
    frame["ward_code"] = frame["ward_code"].astype("string")
    return frame, harm


def _contiguity_matrix(frame: gpd.GeoDataFrame, weights: SpatialWeights | Graph | None) -> sparse.csr_matrix:
    """Symmetric boolean adjacency in the frame's row order."""
    if isinstance(weights, SpatialWeights) and weights.is_contiguity:
        graph = weights.graph
    elif isinstance(weights, Graph):
        graph = weights
    else:
        what = "no weights" if weights is None else f"{weights.kind} weights"
        logger.info("priority neighbourhoods need contiguity (%s given): building queen contiguity", what)
        graph = build_weights(frame, ClusteringSpec(weights="queen")).graph
    ids = pd.Index(graph.unique_ids)
    pos = ids.get_indexer(frame.index)
    if (pos < 0).any() or len(ids) != len(frame):
        missing = frame.index[pos < 0]
        raise InputError(
            f"the weights cover {len(ids)} LSOAs but the table has {len(frame)}; "
            f"{len(missing)} table LSOA(s) are not in the weights ({', '.join(map(str, missing[:5]))}). "
            "Build the weights from the same LSOA frame",
            path="LSOA table",
        )
    matrix = graph.sparse.tocsr()[pos][:, pos]
    matrix = ((matrix != 0) + (matrix != 0).T).tocsr()
    matrix.setdiag(False)
    matrix.eliminate_zeros()
    return matrix


def _harm_weight(spec: PrioritySpec) -> float:
    # PrioritySpec gains harm_weight in pli.config; older specs mean "index only".
    return float(getattr(spec, "harm_weight", 0.0))


def _priority(
    s: np.ndarray, pop: np.ndarray, h: np.ndarray | None, *, cutoff: float, harm_weight: float
) -> tuple[np.ndarray, str]:
    """Per-LSOA priority summing to 1, and a sentence saying how it was built."""
    people = pop / pop.sum() if pop.sum() > 0 else np.full(len(s), 1 / len(s))
    need = np.clip(s - cutoff, 0.0, None) * people
    basis = (
        f"score above the candidate cut-off ({cutoff:.4g}) times the LSOA's share of "
        "borough residents, as a share of the borough total"
    )
    if need.sum() <= 0:
        # Every candidate sits on the cut-off (tied scores) or has no residents: share
        # by residents, or equally when there are none.
        at_or_above = s >= cutoff
        need = np.where(at_or_above, people, 0.0)
        if need.sum() <= 0:
            need = at_or_above.astype(float)
        basis = "share of the residents of LSOAs at or above the candidate cut-off (scores are tied)"
    need = need / need.sum()
    if harm_weight <= 0:
        return need, basis
    if h is None:
        logger.warning(
            "priorities.harm_weight is %.2f but there is no harm column: priority from the index alone", harm_weight
        )
        return need, basis
    rate = np.divide(h, pop, out=np.zeros(len(h)), where=pop > 0)
    if rate.sum() <= 0:
        logger.warning("crime harm sums to 0: priority from the index alone")
        return need, basis
    basis = (
        f"{1 - harm_weight:.2f} x ({basis}) + {harm_weight:.2f} x the LSOA's share of the "
        "borough's summed crime-harm rates (harm per resident)"
    )
    return (1 - harm_weight) * need + harm_weight * rate / rate.sum(), basis


# --------------------------------------------------------------------------- regionalisation


def _regionalise(
    frame: gpd.GeoDataFrame,
    cand: np.ndarray,
    adjacency: sparse.csr_matrix,
    s: np.ndarray,
    pop: np.ndarray,
    spec: PrioritySpec,
) -> list[np.ndarray]:
    """Contiguous pieces of candidates that fit the size bounds (positions in ``frame``)."""
    if len(cand) == 0:
        return []
    sub = adjacency[cand][:, cand]
    _, labels = csgraph.connected_components(sub, directed=False)
    cent = frame.geometry.centroid
    coords = np.column_stack([cent.x.to_numpy(), cent.y.to_numpy()])[cand]
    score = s[cand]
    order = np.argsort(labels, kind="stable")
    stack = np.split(order, np.flatnonzero(np.diff(labels[order])) + 1)
    done: list[np.ndarray] = []
    n_split = 0
    while stack:
        piece = stack.pop()
        n, people = len(piece), pop[cand[piece]].sum()
        if (n <= spec.max_lsoas and people <= spec.max_population) or n == 1:
            done.append(piece)
            continue
        k = min(n, max(2, math.ceil(n / spec.max_lsoas), math.ceil(people / spec.max_population)))
        xy = coords[piece] - coords[piece].mean(axis=0)
        spread = np.sqrt((xy**2).mean()) or 1.0
        # Score standardised within the group and weighted like one coordinate axis:
        # with the borough-wide z the coordinates dominated, so the top LSOA was split
        # off with ordinary neighbours and its neighbourhood ranked below tighter cores.
        z = score[piece] - score[piece].mean()
        features = np.column_stack([xy / spread, SCORE_WEIGHT * z / (z.std() or 1.0)])
        model = AgglomerativeClustering(n_clusters=k, connectivity=sub[piece][:, piece], linkage="ward")
        parts = model.fit_predict(features)
        stack.extend(piece[parts == p] for p in range(k))
        n_split += 1
    if n_split:
        logger.info(
            "priority candidates: groups too large for one neighbourhood were split %d time(s) "
            "(spatially constrained Ward clustering), giving %d contiguous pieces",
            n_split, len(done),
        )
    return sorted((np.sort(cand[p]) for p in done), key=lambda p: p[0])


def _choose(
    pieces: list[np.ndarray],
    s: np.ndarray,
    pop: np.ndarray,
    priority: np.ndarray,
    is_top: np.ndarray,
    ids: pd.Index,
    spec: PrioritySpec,
) -> list[np.ndarray]:
    if not pieces:
        logger.warning("no LSOA passed the score threshold: no priority neighbourhoods drawn")
        return []
    table = pd.DataFrame(
        {
            "n": [len(p) for p in pieces],
            "population": [pop[p].sum() for p in pieces],
            "priority": [priority[p].sum() for p in pieces],
            "total_score": [s[p].sum() for p in pieces],
            "first_code": [str(ids[p[0]]) for p in pieces],
            "top_single": [len(p) == 1 and bool(is_top[p[0]]) for p in pieces],
        }
    )
    too_big = table["population"] > spec.max_population
    for code in table.loc[too_big, "first_code"]:
        logger.warning(
            "LSOA %s alone has more residents than priorities.max_population (%d): skipped",
            code, spec.max_population,
        )
    eligible = (
        (table["n"] >= spec.min_lsoas)
        & (table["population"] >= spec.min_population)
        & ~too_big
        & ((table["n"] > 1) | table["top_single"])
    )
    ranked = table[eligible].sort_values(
        ["priority", "total_score", "first_code"], ascending=[False, False, True], kind="stable"
    )
    picked = ranked.index[: spec.count]
    if len(picked) < spec.count:
        logger.warning(
            "only %d of %d priority neighbourhoods could be drawn within the size rules; "
            "lower priorities.min_score_quantile or min_lsoas to get more",
            len(picked), spec.count,
        )
    return [pieces[i] for i in picked]


def _rank(
    chosen: list[np.ndarray], s: np.ndarray, pop: np.ndarray, h: np.ndarray | None, ids: pd.Index
) -> list[np.ndarray]:
    """Order pieces by population-weighted mean score, then total harm, then first code."""
    if not chosen:
        return chosen
    people = np.array([pop[p].sum() for p in chosen])
    plain = np.array([s[p].mean() for p in chosen])
    weighted = np.array([(s[p] * pop[p]).sum() for p in chosen])
    key = pd.DataFrame(
        {
            "score": np.divide(weighted, people, out=plain.copy(), where=people > 0),
            "harm": [h[p].sum() if h is not None else 0.0 for p in chosen],
            "first_code": [str(ids[p[0]]) for p in chosen],
        }
    )
    order = key.sort_values(["score", "harm", "first_code"], ascending=[False, False, True], kind="stable").index
    return [chosen[i] for i in order]


# --------------------------------------------------------------------------- profiles


def _profiles(
    frame: gpd.GeoDataFrame,
    membership: pd.Series,
    priority: np.ndarray,
    *,
    score: str,
    population: str,
    harm: str | None,
    drivers: pd.DataFrame | None,
) -> gpd.GeoDataFrame:
    geometry = frame.geometry.name
    members = frame.assign(rank=membership, _priority=priority)
    members = members[members["rank"].notna()]
    if members.empty:
        empty = gpd.GeoDataFrame(
            {c: pd.Series(dtype=object) for c in NEIGHBOURHOOD_COLUMNS if c != "geometry"},
            geometry=gpd.GeoSeries([], crs=frame.crs),
        )
        return empty.set_index(pd.Index([], name="neighbourhood", dtype="int64"), drop=False)
    members["rank"] = members["rank"].astype("int64")
    members = members.sort_index()
    members["_weighted"] = members[score] * members[population]
    grouped = members.groupby("rank", sort=True)
    people = grouped[population].sum()
    mean_score = grouped[score].mean()
    total_harm = frame[harm].sum() if harm else np.nan
    table = pd.DataFrame(
        {
            "lsoa_codes": grouped.apply(lambda g: ";".join(map(str, g.index)), include_groups=False),
            "n_lsoas": grouped.size(),
            "population": grouped[population].sum().round().astype("int64"),
            "mean_score": mean_score,
            "population_weighted_score": (grouped["_weighted"].sum() / people.where(people > 0)).fillna(mean_score),
            "total_score": grouped[score].sum(),
            "priority_share": grouped["_priority"].sum(),
            "harm_share": grouped[harm].sum() / total_harm if harm and total_harm > 0 else np.nan,
        }
    )
    table["top_drivers"] = _top_drivers(members["rank"], drivers)
    ward_pop = (
        members.groupby(["rank", "ward_name"], sort=True)[population].sum().rename("people").reset_index()
    )
    ward_pop["share"] = ward_pop["people"] / ward_pop.groupby("rank")["people"].transform("sum")
    ward_pop["share"] = ward_pop["share"].fillna(1 / ward_pop.groupby("rank")["people"].transform("size"))
    ward_pop = ward_pop.sort_values(["rank", "share", "ward_name"], ascending=[True, False, True], kind="stable")
    table["wards"] = ward_pop.groupby("rank")["ward_name"].agg(lambda w: "; ".join(map(str, w))).astype("str")
    dissolved = members[[geometry, "rank"]].dissolve(by="rank", sort=True)
    table["name"] = _names(ward_pop, dissolved.geometry.centroid)
    table["slug"] = [re.sub(r"[^a-z0-9]+", "-", n.lower()).strip("-") for n in table["name"]]
    table["rank"] = table.index.astype("int64")
    out = gpd.GeoDataFrame(table, geometry=dissolved.geometry, crs=frame.crs)
    out.index.name = "neighbourhood"
    out = out.rename_geometry("geometry") if out.geometry.name != "geometry" else out
    return out[NEIGHBOURHOOD_COLUMNS]


def _top_drivers(rank: pd.Series, drivers: pd.DataFrame | None, n: int = 3) -> pd.Series:
    ranks = pd.Index(sorted(rank.unique()), name="rank")
    if drivers is None:
        return pd.Series("", index=ranks, dtype="str")
    missing = rank.index.difference(drivers.index)
    if len(missing):
        raise InputError(
            f"no driver contributions for {len(missing)} neighbourhood LSOA(s) "
            f"({', '.join(map(str, missing[:5]))}); pass IndexResult contributions indexed by lsoa_code",
            path="drivers",
        )
    numeric = drivers.loc[rank.index].apply(pd.to_numeric, errors="coerce").fillna(0.0)
    sums = numeric.groupby(rank.to_numpy()).sum().reindex(ranks)
    values = sums.to_numpy(dtype=float)
    order = np.argsort(-values, axis=1, kind="stable")[:, :n]
    names = np.asarray(sums.columns, dtype=object)[order]
    positive = np.take_along_axis(values, order, axis=1) > 0
    joined = ["; ".join(str(x) for x, keep in zip(row, mask) if keep) for row, mask in zip(names, positive)]
    return pd.Series(joined, index=ranks, dtype="str")


def _names(ward_pop: pd.DataFrame, centroids: gpd.GeoSeries) -> pd.Series:
    """Ward-based names, made unique with compass suffixes."""
    first = ward_pop.groupby("rank").nth(0).set_index("rank")
    second = ward_pop.groupby("rank").nth(1).set_index("rank").reindex(first.index)
    two = second["share"].fillna(0) >= SECOND_WARD_SHARE
    first_name, second_name = first["ward_name"].astype(str), second["ward_name"].astype(str)
    names = first_name.where(~two, first_name + " / " + second_name)
    names = names.reindex(centroids.index)
    xy = pd.DataFrame({"x": centroids.x, "y": centroids.y, "name": names})
    dx = xy["x"] - xy.groupby("name")["x"].transform("mean")
    dy = xy["y"] - xy.groupby("name")["y"].transform("mean")
    horizontal = dx.abs() >= dy.abs()
    compass = np.where(horizontal, np.where(dx < 0, "west", "east"), np.where(dy < 0, "south", "north"))
    shared = xy.groupby("name")["name"].transform("size") > 1
    out = names.where(~shared, names + " (" + pd.Series(compass, index=names.index) + ")")
    # Three or more in a line can still collide; number the repeats so names stay unique.
    repeat = out.groupby(out).cumcount()
    out = out.where(repeat == 0, out.str[:-1] + " " + (repeat + 1).astype(str) + ")")
    return out.astype(str)


def summarise_wards(
    lsoa: pd.DataFrame,
    membership: pd.Series,
    *,
    score: str = "score",
    population: str = "population",
) -> pd.DataFrame:
    """Rank every ward by population-weighted score.

    Parameters
    ----------
    lsoa : DataFrame
        ``ward_code``, ``ward_name``, score and population per LSOA.
    membership : Series
        LSOA -> neighbourhood rank (NA outside any neighbourhood).

    Returns
    -------
    DataFrame
        Columns ``ward_code, ward_name, population_weighted_score, rank, n_lsoas,
        population, n_priority_lsoas``, sorted by ``rank`` (1 = highest score).
        Wards with no residents use the plain mean score.
    """
    frame = pd.DataFrame(
        {
            "ward_code": lsoa["ward_code"].astype("string"),
            "ward_name": lsoa["ward_name"].astype("string"),
            "score": lsoa[score].astype(float),
            "population": lsoa[population].astype(float),
            "priority": membership.reindex(lsoa.index).notna().astype(int),
        }
    )
    frame["weighted"] = frame["score"] * frame["population"]
    g = frame.groupby("ward_code", sort=True)
    out = pd.DataFrame(
        {
            "ward_name": g["ward_name"].agg(lambda w: w.mode().iloc[0]),
            "population_weighted_score": g["weighted"].sum() / g["population"].sum(),
            "n_lsoas": g.size(),
            "population": g["population"].sum().round().astype("int64"),
            "n_priority_lsoas": g["priority"].sum().astype("int64"),
        }
    )
    out["population_weighted_score"] = out["population_weighted_score"].fillna(g["score"].mean())
    out["rank"] = out["population_weighted_score"].rank(ascending=False, method="min").astype("int64")
    out = out.reset_index().sort_values(["rank", "ward_code"], kind="stable").reset_index(drop=True)
    return out[
        ["ward_code", "ward_name", "population_weighted_score", "rank", "n_lsoas", "population", "n_priority_lsoas"]
    ]
