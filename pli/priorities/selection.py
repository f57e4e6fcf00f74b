"""The neighbourhood stage: validation, priority per LSOA, selection, profiles, ward summary.

The method is described in :mod:`pli.priorities`."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field

import geopandas as gpd
import numpy as np
import pandas as pd
from libpysal.graph import Graph
from scipy import sparse

from pli._codes import list_codes
from pli.config import ClusteringSpec, ConfigError, PrioritySpec
from pli.config.parsing import priority_problems
from pli.errors import InputError
from pli.priorities.regions import grow_regions, split_regions
from pli.progress import track
from pli.stats.weights import SpatialWeights, build_weights

__all__ = [
    "EXCLUDED_COLUMNS",
    "NEIGHBOURHOOD_COLUMN_DESCRIPTIONS",
    "NeighbourhoodResult",
    "chosen_regions",
    "contiguity_matrix",
    "select_neighbourhoods",
    "summarise_wards",
]

logger = logging.getLogger("pli.priorities")

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
    "concentration",
    "harm_share",
    "stability",
    "top_drivers",
    "wards",
    "geometry",
]
NEIGHBOURHOOD_COLUMN_DESCRIPTIONS = {
    "rank": "1 = highest concentration of priority (the measure they were chosen by; "
    "ties: more crime harm first)",
    "name": "ward holding most residents, 'A / B' when the second holds a third or more; "
    "compass suffix when names repeat",
    "slug": "name in lower case with hyphens, for file names and URLs",
    "lsoa_codes": "member LSOA codes, ';'-joined",
    "n_lsoas": "number of member LSOAs",
    "population": "residents (sum over member LSOAs)",
    "mean_score": "plain mean of the member LSOAs' index scores",
    "population_weighted_score": "mean index score per resident (member scores weighted by "
    "population)",
    "total_score": "sum of the member LSOAs' index scores",
    "priority_share": "share (0-1) of the study area's priority this neighbourhood covers; an "
    "LSOA's priority is its index score above the candidate cut-off times its share of "
    "the study area's residents (blended with its crime-harm rate share when priorities.harm_weight "
    "> 0; see priority_basis in the log)",
    "concentration": "priority per resident relative to the study-area average (priority_share / "
    "share of the study area's residents; 1 = average): the mean score above the cut-off per resident, "
    "blended with harm per resident when priorities.harm_weight > 0; neighbourhoods are chosen "
    "and ranked by it",
    "harm_share": "share (0-1) of the study area's crime harm recorded in the neighbourhood "
    "(NaN without a harm source)",
    "stability": "share (0-1) of Monte Carlo runs with every indicator weight scaled by a random "
    "factor within +-priorities.stability_spread in which a neighbourhood overlapping this one "
    "by Jaccard >= 0.5 is chosen (NaN when not run)",
    "top_drivers": "the three indicators with the largest positive summed contributions "
    "to the members' scores, '; '-joined",
    "wards": "wards of the member LSOAs, most residents first, '; '-joined",
    "geometry": "dissolved outline of the member LSOAs (EPSG:27700)",
}
EXCLUDED_COLUMNS = ["lsoa_code", "score_rank", "score", "population", "ward_name", "reason"]
# A neighbourhood counts as found again in a perturbed run at this Jaccard overlap.
STABILITY_JACCARD = 0.5
# Second ward named alongside the first when it holds at least this share of residents.
SECOND_WARD_SHARE = 1 / 3


@dataclass(frozen=True, eq=False)
class NeighbourhoodResult:
    """The selected priority neighbourhoods and the ward summary.

    Attributes
    ----------
    neighbourhoods : GeoDataFrame
        One row per neighbourhood, indexed by ``rank`` (1 = highest concentration of
        priority), columns ``rank, name, slug, lsoa_codes`` (";"-joined), ``n_lsoas,
        population, mean_score, population_weighted_score, total_score,
        priority_share, concentration, harm_share, stability, top_drivers`` ("; "-joined),
        ``wards`` ("; "-joined) and the dissolved ``geometry``;
        :data:`NEIGHBOURHOOD_COLUMN_DESCRIPTIONS` says what each column means.
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
    excluded : DataFrame
        The top ``cover_top_share`` LSOAs outside every neighbourhood, one row each with
        the ``reason`` (columns :data:`EXCLUDED_COLUMNS`); empty when all are covered.
    cover_top : Index
        The LSOAs that must be covered or explained (top ``cover_top_share`` by score).
    stability_runs : int
        Monte Carlo runs behind the ``stability`` column (0: not run).
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
    excluded: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=EXCLUDED_COLUMNS))
    cover_top: pd.Index = field(default_factory=lambda: pd.Index([], name="lsoa_code"))
    stability_runs: int = 0


@dataclass(frozen=True)
class _Draw:
    """One draw of the neighbourhoods from one score vector (row positions)."""

    chosen: list[np.ndarray]
    concentration: np.ndarray
    regions: list[np.ndarray]
    region_concentration: np.ndarray
    eligible: np.ndarray
    notes: dict[int, str]
    priority: np.ndarray
    basis: str
    cutoff: float
    threshold: float
    cand: np.ndarray
    cover: np.ndarray


def select_neighbourhoods(
    lsoa: gpd.GeoDataFrame,
    weights: SpatialWeights | Graph | None,
    spec: PrioritySpec | None = None,
    *,
    score: str = "score",
    population: str = "population",
    harm: str | None = "harm",
    drivers: pd.DataFrame | None = None,
    score_runs: pd.DataFrame | None = None,
    seed: int = 0,
) -> NeighbourhoodResult:
    """Draw the priority neighbourhoods (see :mod:`pli.priorities` for the method).

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
        ``max_population``, ``min_score_quantile``, ``harm_weight`` (0-1, default 0:
        share of priority given to the crime-harm rate), ``cover_top_share`` and
        ``method``.
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
    score_runs : DataFrame, optional
        Scores of the same LSOAs under perturbed indicator weights, one row per run, one
        column per LSOA (:func:`pli.priorities.perturbed_scores`). Each run is drawn with
        the same rules; a neighbourhood's ``stability`` is the share of runs that choose a
        neighbourhood overlapping it by Jaccard >= 0.5. None: ``stability`` is NaN.
    seed : int, default 0
        Stored on the result; the method itself is deterministic.

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
    >>> spec = PrioritySpec(count=2, max_lsoas=3, min_population=4000, min_score_quantile=0.8)
    >>> result = select_neighbourhoods(lsoa, None, spec)
    >>> sorted(sorted(group.index) for _, group in lsoa.groupby(result.membership))
    [['E01000000', 'E01000001', 'E01000006'], ['E01000029', 'E01000034', 'E01000035']]
    """
    spec = spec or PrioritySpec()
    _check_spec(spec)
    frame, harm = _validate_lsoa(lsoa, score=score, population=population, harm=harm)
    adjacency = _contiguity_matrix(frame, weights)
    cent = frame.geometry.centroid
    coords = np.column_stack([cent.x.to_numpy(), cent.y.to_numpy()])

    s = frame[score].to_numpy(dtype=float)
    pop = frame[population].to_numpy(dtype=float)
    h = frame[harm].to_numpy(dtype=float) if harm else None

    draw = _draw(s, pop, h, adjacency, coords, frame.index, spec)
    logger.info(
        "priority candidates: %s LSOAs with score >= %.4g (quantile %.2f) or in the top %s",
        f"{len(draw.cand):,}", draw.threshold, spec.min_score_quantile, f"{spec.top_lsoas:,}",
    )
    logger.info("priority per LSOA: %s", draw.basis)
    chosen, priority = draw.chosen, draw.priority

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
    n_runs = 0
    stability = np.full(len(chosen), np.nan)
    if score_runs is not None and len(score_runs) and chosen:
        runs = _check_runs(score_runs, frame.index)
        n_runs = len(runs)
        stability = _stability(chosen, runs, pop, h, adjacency, coords, frame.index, spec)
    if len(neighbourhoods):
        neighbourhoods["concentration"] = draw.concentration
        neighbourhoods["stability"] = stability
    excluded = _excluded(frame, draw, rank_of, spec, score=score, population=population)
    wards = summarise_wards(frame, membership, score=score, population=population)
    coverage = float(priority[rank_of > 0].sum())
    logger.info(
        "%s priority neighbourhoods: %s LSOAs, %s residents, %.1f%% of the study area's priority; "
        "chosen and ranked by concentration of priority; %d of the top %d LSOAs outside (listed with reasons)",
        f"{len(chosen):,}", f"{int((rank_of > 0).sum()):,}", f"{pop[rank_of > 0].sum():,.0f}", 100 * coverage,
        len(excluded), int(draw.cover.sum()),
    )
    return NeighbourhoodResult(
        neighbourhoods=neighbourhoods,
        membership=membership,
        wards=wards,
        candidates=frame.index[draw.cand],
        threshold=draw.threshold,
        coverage=coverage,
        spec=spec,
        seed=int(seed),
        priority=pd.Series(priority, index=frame.index, name="priority"),
        cutoff=draw.cutoff,
        priority_basis=draw.basis,
        excluded=excluded,
        cover_top=frame.index[draw.cover],
        stability_runs=n_runs,
    )


def contiguity_matrix(lsoa: gpd.GeoDataFrame, weights: SpatialWeights | Graph | None) -> sparse.csr_matrix:
    """The symmetric boolean adjacency :func:`select_neighbourhoods` grows regions on.

    In the row order of ``lsoa``; contiguity weights are used as given, anything else (or
    None) is replaced by queen contiguity, as in :func:`select_neighbourhoods`.
    """
    return _contiguity_matrix(lsoa, weights)


def chosen_regions(
    score: np.ndarray,
    population: np.ndarray,
    harm: np.ndarray | None,
    adjacency: sparse.csr_matrix,
    spec: PrioritySpec,
    *,
    ids: pd.Index,
    coords: np.ndarray | None = None,
) -> list[np.ndarray]:
    """Row positions of the neighbourhoods :func:`select_neighbourhoods` would choose for one score vector.

    The same rules without profiles, geometry or logging, for Monte Carlo runs
    (``pli uncertainty``): milliseconds per draw on a borough. ``ids`` (the LSOA codes in
    row order) break ties as in the full selection; ``coords`` (centroids) are needed
    only by ``method: ward``. ``harm`` None leaves harm out; missing values must be 0.
    """
    xy = coords if coords is not None else np.zeros((len(score), 2))
    return _draw(np.asarray(score, dtype=float), np.asarray(population, dtype=float), harm, adjacency, xy, ids,
                 spec).chosen


def _draw(
    s: np.ndarray,
    pop: np.ndarray,
    h: np.ndarray | None,
    adjacency: sparse.csr_matrix,
    coords: np.ndarray,
    ids: pd.Index,
    spec: PrioritySpec,
) -> _Draw:
    """Candidates, priority, regions and the chosen neighbourhoods for one score vector."""
    n = len(s)
    threshold = float(np.quantile(s, spec.min_score_quantile))
    # Rank by score, ties in row (= code) order, so draws never depend on the sort.
    order = np.lexsort((np.arange(n), -s))
    top_rank = np.empty(n, dtype=int)
    top_rank[order] = np.arange(1, n + 1)
    cover = top_rank <= int(np.ceil(spec.cover_top_share * n - 1e-9))
    is_cand = (s >= threshold) | (top_rank <= spec.top_lsoas) | cover
    cand = np.flatnonzero(is_cand)
    cutoff = float(s[~is_cand].max()) if (~is_cand).any() else float(s.min())
    priority, basis = _priority(s, pop, h, cutoff=cutoff, harm_weight=spec.harm_weight)
    people = np.maximum(pop, 1.0)
    # Priority per resident relative to the borough's: the concentration measure.
    intensity = priority / people * people.sum()
    notes: dict[int, str] = {}
    if spec.method == "grow":
        regions, notes = grow_regions(intensity, s, pop, is_cand, cover, adjacency, spec)
    else:
        regions = split_regions(cand, adjacency, coords, s, pop, spec)
    conc = np.array([intensity[r] @ people[r] / people[r].sum() for r in regions])
    harm_sum = np.array([h[r].sum() if h is not None else 0.0 for r in regions])
    sizes = np.array([len(r) for r in regions])
    residents = np.array([pop[r].sum() for r in regions])
    eligible = (
        (sizes >= spec.min_lsoas)
        & (residents >= spec.min_population)
        & (residents <= spec.max_population)
    )
    if spec.method == "ward":
        # The earlier rule: a lone LSOA only when among the top_lsoas.
        eligible &= (sizes > 1) | np.array([top_rank[r[0]] <= spec.top_lsoas for r in regions], dtype=bool)
    first = [str(ids[r[0]]) for r in regions]
    # Rounded so floating-point noise cannot outrank the harm tie-break.
    table = pd.DataFrame({"conc": np.round(conc, 10), "harm": harm_sum, "first": first})
    ranked = table[eligible].sort_values(["conc", "harm", "first"], ascending=[False, False, True], kind="stable")
    picked = list(ranked.index[: spec.count])
    if regions and len(picked) < spec.count:
        logger.warning(
            "only %d of %d priority neighbourhoods could be drawn within the size rules; "
            "lower priorities.min_score_quantile or min_population to get more",
            len(picked), spec.count,
        )
    if not regions:
        logger.warning("no LSOA passed the score threshold: no priority neighbourhoods drawn")
    return _Draw(
        chosen=[regions[i] for i in picked],
        concentration=conc[picked] if picked else np.array([]),
        regions=regions,
        region_concentration=conc,
        eligible=np.asarray(eligible, dtype=bool),
        notes=notes,
        priority=priority,
        basis=basis,
        cutoff=cutoff,
        threshold=threshold,
        cand=cand,
        cover=cover,
    )


def _excluded(
    frame: gpd.GeoDataFrame, draw: _Draw, rank_of: np.ndarray, spec: PrioritySpec, *, score: str, population: str
) -> pd.DataFrame:
    """Every top LSOA outside the chosen neighbourhoods, with the reason."""
    s = frame[score].to_numpy(dtype=float)
    pop = frame[population].to_numpy(dtype=float)
    order = np.lexsort((np.arange(len(s)), -s))
    score_rank = np.empty(len(s), dtype=int)
    score_rank[order] = np.arange(1, len(s) + 1)
    region_of = {int(i): k for k, r in enumerate(draw.regions) for i in r}
    # Rank of every region by the selection key, to say how far below the cut a region fell.
    # Standing among the regions that met the size rules, in the order selection used.
    ok = np.flatnonzero(draw.eligible)
    by_conc = ok[np.argsort(-np.round(draw.region_concentration[ok], 10), kind="stable")]
    standing = {int(k): pos for pos, k in enumerate(by_conc, start=1)}
    rows = []
    for i in map(int, np.flatnonzero(draw.cover & (rank_of == 0))):
        if i in draw.notes:
            reason = draw.notes[i]
        elif i in region_of:
            k = region_of[i]
            r = draw.regions[k]
            people = pop[r].sum()
            if people < spec.min_population or len(r) < spec.min_lsoas:
                reason = (
                    f"its contiguous group ({len(r)} LSOAs, {people:,.0f} residents) is below "
                    f"priorities.min_population ({spec.min_population:,}) or min_lsoas ({spec.min_lsoas})"
                )
            elif people > spec.max_population:
                reason = f"alone has more residents than priorities.max_population ({spec.max_population:,})"
            elif not draw.eligible[k]:
                reason = (
                    f"its contiguous group of candidates is this LSOA alone, and method: ward allows a "
                    f"one-LSOA neighbourhood only for the priorities.top_lsoas ({spec.top_lsoas}) highest"
                )
            else:
                reason = (
                    f"its best neighbourhood ({len(r)} LSOAs, {people:,.0f} residents, concentration "
                    f"{draw.region_concentration[k]:.2f}x the study-area average) comes {standing[k]} of "
                    f"{len(ok)} by concentration, outside the {spec.count} chosen"
                )
        else:
            reason = "in no contiguous group of candidates"
        rows.append(
            {
                "lsoa_code": str(frame.index[i]),
                "score_rank": int(score_rank[i]),
                "score": float(s[i]),
                "population": int(round(pop[i])),
                "ward_name": str(frame["ward_name"].iloc[i]),
                "reason": reason,
            }
        )
    out = pd.DataFrame(rows, columns=EXCLUDED_COLUMNS)
    if len(out):
        logger.warning(
            "%d of the top %d LSOAs are in no priority neighbourhood (see excluded_high_priority.csv): %s",
            len(out), int(draw.cover.sum()),
            list_codes(f"{c} (rank {r})" for c, r in zip(out["lsoa_code"], out["score_rank"])),
        )
    return out.sort_values("score_rank", kind="stable").reset_index(drop=True)


def _check_runs(score_runs: pd.DataFrame, ids: pd.Index) -> np.ndarray:
    missing = ids.difference(pd.Index(score_runs.columns))
    if len(missing):
        raise InputError(
            f"score_runs: expected one column per LSOA; {len(missing)} LSOA(s) missing "
            f"({', '.join(map(str, missing[:5]))})",
            path="score_runs",
        )
    runs = score_runs[ids].to_numpy(dtype=float)
    if not np.isfinite(runs).all():
        raise InputError("score_runs: expected finite scores in every run", path="score_runs")
    return runs


def _stability(
    chosen: list[np.ndarray],
    runs: np.ndarray,
    pop: np.ndarray,
    h: np.ndarray | None,
    adjacency: sparse.csr_matrix,
    coords: np.ndarray,
    ids: pd.Index,
    spec: PrioritySpec,
) -> np.ndarray:
    """Share of runs choosing a neighbourhood with Jaccard >= 0.5 to each chosen one."""
    n = len(pop)
    base = np.zeros((len(chosen), n), dtype=bool)
    for k, piece in enumerate(chosen):
        base[k, piece] = True
    hits = np.zeros(len(chosen))
    for run in track(runs, "Monte Carlo runs (neighbourhood stability)"):
        picked = _draw(run, pop, h, adjacency, coords, ids, spec).chosen
        if not picked:
            continue
        other = np.zeros((len(picked), n), dtype=bool)
        for k, piece in enumerate(picked):
            other[k, piece] = True
        inter = base.astype(np.int32) @ other.T.astype(np.int32)
        union = base.sum(axis=1)[:, None] + other.sum(axis=1)[None, :] - inter
        hits += ((inter / union) >= STABILITY_JACCARD).any(axis=1)
    return hits / len(runs)


# --------------------------------------------------------------------------- validation


def _check_spec(spec: PrioritySpec) -> None:
    problems = priority_problems(spec)
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


def _priority(
    s: np.ndarray, pop: np.ndarray, h: np.ndarray | None, *, cutoff: float, harm_weight: float
) -> tuple[np.ndarray, str]:
    """Per-LSOA priority summing to 1, and a sentence saying how it was built."""
    people = pop / pop.sum() if pop.sum() > 0 else np.full(len(s), 1 / len(s))
    need = np.clip(s - cutoff, 0.0, None) * people
    basis = (
        f"score above the candidate cut-off ({cutoff:.4g}, the highest score of an LSOA that is not a "
        "candidate) times the LSOA's share of the study area's residents, as a share of the study-area total"
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
        "study area's summed crime-harm rates (harm per resident)"
    )
    return (1 - harm_weight) * need + harm_weight * rate / rate.sum(), basis


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
    # Filled by the caller: they need the draw and the Monte Carlo runs.
    table["concentration"] = np.nan
    table["stability"] = np.nan
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


def _most_common_name(frame: pd.DataFrame) -> pd.Series:
    """Each ward's most common ``ward_name`` among its LSOAs (ties: the first in text order,
    as ``Series.mode`` picks), without a Python call per ward."""
    counts = frame.groupby(["ward_code", "ward_name"], sort=False, observed=True).size().rename("n").reset_index()
    counts = counts.sort_values(["ward_code", "n", "ward_name"], ascending=[True, False, True], kind="stable")
    return counts.drop_duplicates("ward_code").set_index("ward_code")["ward_name"]


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
            "ward_name": _most_common_name(frame),
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
