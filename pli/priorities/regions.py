"""Regionalisation: contiguous pieces of LSOAs for the priority neighbourhoods.

Two methods share one interface (positions in the LSOA frame in, lists of positions out):

* :func:`grow_regions` (``method: grow``, the default): seeded region growing with a
  population floor, the construction phase of max-p regionalisation (Duque, Anselin and
  Rey 2012) with the seeds and the growth order set by priority instead of at random.
* :func:`split_regions` (``method: ward``): connected groups of candidates split by
  contiguity-constrained Ward clustering until they fit the ceilings (the earlier method,
  kept so the benchmark can compare them on the same data).
"""

from __future__ import annotations

import logging
import math

import numpy as np
from scipy import sparse
from scipy.sparse import csgraph
from sklearn.cluster import AgglomerativeClustering

from pli.config import PrioritySpec

__all__ = ["grow_regions", "split_regions"]

logger = logging.getLogger("pli.priorities")

# Weight of the (group-standardised) score against each standardised centroid axis when
# splitting large groups: 1 keeps high cores together at a small cost in compactness.
SCORE_WEIGHT = 1.0


def grow_regions(
    intensity: np.ndarray,
    s: np.ndarray,
    pop: np.ndarray,
    is_cand: np.ndarray,
    cover: np.ndarray,
    adjacency: sparse.csr_matrix,
    spec: PrioritySpec,
) -> tuple[list[np.ndarray], dict[int, str]]:
    """Grow contiguous regions around the most intense candidates.

    Seeds are the candidates in decreasing ``intensity`` (priority per resident; ties:
    higher score, then row order) not yet in a region. A region first takes its most
    intense unassigned neighbour (any LSOA: ties by score, so the filler is the least
    ordinary one) until it has ``min_population`` residents and ``min_lsoas`` LSOAs; after
    that it takes a neighbouring candidate only while that raises or keeps its
    concentration (priority per resident), so it stays a compact core instead of
    spreading over everything above the cut-off; it never exceeds ``max_lsoas`` or
    ``max_population``. A seed that cannot reach the floor (its neighbours already taken)
    is released, except a ``cover`` seed (a top LSOA that must be covered or explained),
    which joins the adjacent region left with the highest concentration if that fits
    the ceilings, else is noted. Only ``cover`` seeds merge: merging every scrap would
    reshape the best regions with low-priority leftovers.

    Returns the regions (sorted row positions, ordered by first position) and
    ``{row position: reason}`` for seeds that formed no region.
    """
    n = len(s)
    owner = np.full(n, -1)
    indptr, indices = adjacency.indptr, adjacency.indices
    regions: dict[int, list[int]] = {}
    people: dict[int, float] = {}
    notes: dict[int, str] = {}
    weight = np.maximum(pop, 1.0)
    key = np.lexsort((np.arange(n), -s, -intensity))
    for seed in key[is_cand[key]]:
        if owner[seed] >= 0:
            continue
        if pop[seed] > spec.max_population:
            notes[int(seed)] = (
                f"alone has {pop[seed]:,.0f} residents, more than priorities.max_population "
                f"({spec.max_population:,})"
            )
            continue
        rid = int(seed)
        members, total = [int(seed)], float(pop[seed])
        mass, wsum = float(intensity[seed] * weight[seed]), float(weight[seed])
        owner[seed] = rid
        frontier = set(indices[indptr[seed] : indptr[seed + 1]].tolist())
        while len(members) < spec.max_lsoas:
            options = [j for j in frontier if owner[j] < 0 and total + pop[j] <= spec.max_population]
            if not options:
                break
            best = max(options, key=lambda j: (intensity[j], s[j], -j))
            below_floor = total < spec.min_population or len(members) < spec.min_lsoas
            if not below_floor and not (is_cand[best] and intensity[best] * wsum >= mass * (1 - 1e-12)):
                break
            members.append(best)
            owner[best] = rid
            total += float(pop[best])
            mass += float(intensity[best] * weight[best])
            wsum += float(weight[best])
            frontier |= set(indices[indptr[best] : indptr[best + 1]].tolist())
        if total >= spec.min_population and len(members) >= spec.min_lsoas:
            regions[rid], people[rid] = members, total
            continue
        host = None
        if cover[seed]:
            host = _merge_target(members, total, owner, regions, people, intensity, weight, indptr, indices, spec)
        if host is None:
            owner[members] = -1
            notes[int(seed)] = (
                f"could not reach priorities.min_population ({spec.min_population:,}) within "
                f"max_lsoas ({spec.max_lsoas}) and max_population ({spec.max_population:,}): its "
                f"free neighbours hold too few residents and no adjacent neighbourhood had room"
            )
            continue
        regions[host].extend(members)
        people[host] += total
        owner[members] = host
    return sorted((np.sort(np.asarray(m)) for m in regions.values()), key=lambda p: int(p[0])), notes


def _merge_target(
    members: list[int],
    total: float,
    owner: np.ndarray,
    regions: dict[int, list[int]],
    people: dict[int, float],
    intensity: np.ndarray,
    weight: np.ndarray,
    indptr: np.ndarray,
    indices: np.ndarray,
    spec: PrioritySpec,
) -> int | None:
    """The adjacent region that can absorb ``members`` with the highest concentration."""
    touching = {int(owner[j]) for i in members for j in indices[indptr[i] : indptr[i + 1]]}
    touching &= set(regions)
    best, best_conc = None, -math.inf
    for rid in sorted(touching):
        merged = regions[rid] + members
        if len(merged) > spec.max_lsoas or people[rid] + total > spec.max_population:
            continue
        conc = float((intensity[merged] * weight[merged]).sum() / weight[merged].sum())
        if conc > best_conc:
            best, best_conc = rid, conc
    return best


def split_regions(
    cand: np.ndarray,
    adjacency: sparse.csr_matrix,
    coords: np.ndarray,
    s: np.ndarray,
    pop: np.ndarray,
    spec: PrioritySpec,
) -> list[np.ndarray]:
    """Contiguous pieces of candidates that fit the ceilings (the earlier method).

    Connected components of the contiguity graph restricted to the candidates; every group
    with more than ``max_lsoas`` LSOAs or ``max_population`` residents is split by
    scikit-learn's :class:`~sklearn.cluster.AgglomerativeClustering` (Ward linkage, the
    contiguity graph as ``connectivity``) on centroid coordinates (unit spread) and the
    group-standardised score, into ``ceil(max(n / max_lsoas, pop / max_population))``
    parts, again until every piece fits. It honours ceilings only: a floor
    (``min_population``) can then only drop pieces, never build them.
    """
    if len(cand) == 0:
        return []
    sub = adjacency[cand][:, cand]
    _, labels = csgraph.connected_components(sub, directed=False)
    xy_all = coords[cand]
    score = s[cand]
    order = np.argsort(labels, kind="stable")
    stack = np.split(order, np.flatnonzero(np.diff(labels[order])) + 1)
    done: list[np.ndarray] = []
    while stack:
        piece = stack.pop()
        n, residents = len(piece), pop[cand[piece]].sum()
        if (n <= spec.max_lsoas and residents <= spec.max_population) or n == 1:
            done.append(piece)
            continue
        k = min(n, max(2, math.ceil(n / spec.max_lsoas), math.ceil(residents / spec.max_population)))
        xy = xy_all[piece] - xy_all[piece].mean(axis=0)
        spread = np.sqrt((xy**2).mean()) or 1.0
        z = score[piece] - score[piece].mean()
        features = np.column_stack([xy / spread, SCORE_WEIGHT * z / (z.std() or 1.0)])
        model = AgglomerativeClustering(n_clusters=k, connectivity=sub[piece][:, piece], linkage="ward")
        parts = model.fit_predict(features)
        stack.extend(piece[parts == p] for p in range(k))
    return sorted((np.sort(cand[p]) for p in done), key=lambda p: int(p[0]))
