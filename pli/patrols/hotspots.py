"""Getis-Ord Gi* hot spots on a micro-place grid, with refined permutation p-values and FDR.

z, p and bins come from the Gi* core shared with the LSOAs (:func:`pli.stats.getis_ord.gi_star`);
this module holds what is grid-specific: the arithmetic contiguity graph, the automatic
choice between permutations and the normal p, and the floor check.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import Any, Literal

import geopandas as gpd
import numpy as np
import pandas as pd
from scipy import sparse, stats

from pli.errors import InputError
from pli.patrols.grid import _cell_keys, _grid_spec
from pli.stats.fdr import benjamini_hochberg
from pli.stats.getis_ord import GiInference, gi_bins, gi_star
from pli.stats.permutation import permutations_for_fdr

__all__ = [
    "GiStarResult",
    "grid_hotspots",
    "sparse_grid_hotspots",
]

logger = logging.getLogger(__name__)


_GI_LABELS = {
    3: "Hot spot (99% confidence)",
    2: "Hot spot (95% confidence)",
    1: "Hot spot (90% confidence)",
    0: "Not significant",
    -1: "Cold spot (90% confidence)",
    -2: "Cold spot (95% confidence)",
    -3: "Cold spot (99% confidence)",
}


@dataclass(frozen=True)
class GiStarResult:
    """Getis-Ord Gi* per grid cell.

    Attributes
    ----------
    table : DataFrame
        Indexed by ``place_id``: ``gi_z`` (analytic z), ``gi_p``
        (two-sided: ``min(1, 2 * gi_p_sim)`` with permutations, normal when analytic),
        ``gi_p_sim`` (one-sided pseudo p in the observation's tail, see
        :func:`grid_hotspots`; NaN when analytic), ``gi_permutations`` (permutations
        behind the cell's p; 0 when analytic), ``gi_q``
        (Benjamini-Hochberg adjusted ``gi_p``, or ``gi_p`` when ``fdr`` is off),
        ``gi_bin`` (-3..3) and ``gi_label``.
    method : {"permutation", "analytic"}
    permutations, seed : int
    alpha : float
    fdr : bool
    contiguity : str
    """

    table: pd.DataFrame
    method: str
    permutations: int
    seed: int
    alpha: float
    fdr: bool
    contiguity: str

    def to_frame(self) -> pd.DataFrame:
        """A copy of :attr:`table`."""
        return self.table.copy()

    @property
    def n_hot(self) -> int:
        """Cells in a hot-spot bin."""
        return int((self.table["gi_bin"] > 0).sum())


def _queen_offsets(kind: str, contiguity: str) -> list[tuple[int, int]]:
    if kind == "hex":
        return [(1, 0), (-1, 0), (0, 1), (0, -1), (1, -1), (-1, 1)]
    if contiguity == "rook":
        return [(1, 0), (-1, 0), (0, 1), (0, -1)]
    return [(di, dj) for di in (-1, 0, 1) for dj in (-1, 0, 1) if (di, dj) != (0, 0)]


def _grid_adjacency(i: np.ndarray, j: np.ndarray, kind: str, contiguity: str) -> tuple[sparse.csr_matrix, int]:
    """Binary contiguity of cells ``(i, j)`` by index arithmetic, and the number of islands.

    Neighbours are found by looking up the keys of the (i + di, j + dj) offsets in the
    sorted keys of the cells: no geometry, and no libpysal Graph (whose per-call index
    checks cost minutes on millions of cells).
    """
    keys = _cell_keys(i, j)
    order = np.argsort(keys, kind="stable")
    sorted_keys = keys[order]
    n = len(keys)
    focal, neighbor = [], []
    for di, dj in _queen_offsets(kind, contiguity):
        target = _cell_keys(i + di, j + dj)
        at = np.minimum(np.searchsorted(sorted_keys, target), max(n - 1, 0))
        hit = sorted_keys[at] == target if n else np.zeros(0, dtype=bool)
        focal.append(np.flatnonzero(hit))
        neighbor.append(order[at[hit]])
    f = np.concatenate(focal)
    nb = np.concatenate(neighbor)
    adjacency = sparse.csr_matrix((np.ones(len(f)), (f, nb)), shape=(n, n))
    n_islands = int((np.diff(adjacency.indptr) == 0).sum())
    return adjacency, n_islands


def grid_hotspots(
    cell_values: Any,
    grid: gpd.GeoDataFrame,
    *,
    permutations: int = 999,
    seed: int = 0,
    alpha: float = 0.05,
    fdr: bool = True,
    contiguity: Literal["queen", "rook"] = "queen",
    method: Literal["auto", "permutation", "analytic"] = "auto",
    max_permutation_cells: int = 20_000,
    max_refine_permutations: int = 199_999,
) -> GiStarResult:
    """Getis-Ord Gi* hot and cold spots on the grid, with FDR control.

    Gi* (esda ``G_Local``, ``star=True``, binary weights with the cell itself included)
    runs over every cell of the grid, zero cells included, on a queen (or rook;
    hexagons always use their six neighbours) contiguity graph built arithmetically from
    the cell indices.

    Parameters
    ----------
    cell_values : Series or array-like
        Value per cell (harm); a Series is aligned on the grid's ``place_id`` index and
        missing cells count as 0.
    grid : GeoDataFrame
        From :func:`build_grid`.
    permutations : int
        Conditional permutations for pseudo p-values (0 means analytic).
    seed : int
        Seed of the permutations.
    alpha : float
        Significance level reported in the log; bins use 0.10/0.05/0.01.
    fdr : bool
        Adjust p-values with Benjamini-Hochberg before binning.
    contiguity : {"queen", "rook"}
    method : {"auto", "permutation", "analytic"}
        ``auto`` uses permutations up to ``max_permutation_cells`` cells and analytic
        (normal) p-values above it, where permutations take minutes; the switch is logged.
    max_permutation_cells : int
        Threshold of the automatic switch (20,000 cells take about 2 s with 999
        permutations on one core; 160,000 take a minute).
    max_refine_permutations : int
        With permutations and ``fdr``, cells whose pseudo p sits at the floor are
        re-tested with up to this many permutations (see Notes).

    Returns
    -------
    GiStarResult

    Notes
    -----
    ``gi_z`` is always the analytic Gi* z (Getis & Ord 1995; esda ``Zs``), from the
    core shared with the LSOAs (:func:`pli.stats.getis_ord.gi_star`). With permutations
    ``gi_p`` is ``min(1, 2 * gi_p_sim)``, where ``gi_p_sim`` is the folded one-sided
    pseudo p of a *total* permutation (every cell's value, its own included, is
    permuted: the null of Gi*; holding the own value fixed would test only the
    neighbours). Cell counts are sparse (most cells hold 0 or 1 record), so the
    permutation p is kept by default up to ``max_permutation_cells``: a normal tail
    would overstate the significance of a skewed window sum. Ties count in both tails,
    so an empty cell among empty cells gets p = 1 rather than becoming a cold spot.
    Analytically (``permutations=0``, or ``auto`` above ``max_permutation_cells``)
    ``gi_p = 2 * sf(|gi_z|)``.

    ``gi_q`` is the Benjamini-Hochberg adjusted ``gi_p``
    (:func:`pli.clustering.benjamini_hochberg`) and the bins use it when ``fdr`` is on.

    The FDR has a floor with permutations: the smallest two-sided pseudo p is
    ``2 / (permutations + 1)`` (0.002 with 999), and BH declares the cells at that floor
    significant only when there are at least about ``0.002 * n_cells / alpha`` of them
    (163 of 4,075 cells at alpha 0.05), so a small, intense cluster in a large grid
    would pass the permutation test cell by cell yet vanish after FDR. With ``fdr`` on,
    cells whose pseudo p is resolution-limited (fewer than 10 permutations as extreme)
    are therefore re-tested with 10, 100, ... times more fresh draws of their
    window (sequential Monte Carlo, Besag & Clifford 1991), up to enough for one
    cell alone to pass BH (``2 * n_cells / alpha``) or ``max_refine_permutations``;
    ``gi_permutations`` records how many each cell's p rests on. Only the few extreme
    cells are re-tested, so this costs seconds; the log says when the floor still binds.

    Bins follow the ArcGIS ``Gi_Bin`` convention: +-3, +-2, +-1 for (FDR-adjusted)
    p <= 0.01, 0.05, 0.10, signed by z. Permutations keep ``n_cells x permutations``
    floats in memory (160 MB at the default cap).

    Examples
    --------
    >>> import numpy as np
    >>> from pli.examples import clustered_points
    >>> points, area = clustered_points()  # a cluster near (530625, 160625)
    >>> from pli.patrols import build_grid, count_places, grid_hotspots
    >>> class OneDayEach:  # any object with weight_for(categories, scheme), e.g. pli.harm.HarmWeights
    ...     def weight_for(self, categories, scheme):
    ...         return np.ones(len(categories))
    >>> grid = build_grid(area, cell_size_m=125)
    >>> counts = count_places(points, grid, harm_weights=OneDayEach())
    >>> result = grid_hotspots(counts["harm"], grid, permutations=999, seed=0)
    >>> frame = result.to_frame()
    >>> frame["gi_z"].idxmax()  # the cell holding the cluster
    'G125-530625-160625'
    """
    _grid_spec(grid)
    if isinstance(cell_values, pd.Series):
        y = cell_values.reindex(grid.index).fillna(0.0).to_numpy(dtype=float)
    else:
        y = np.asarray(cell_values, dtype=float)
        if y.shape != (len(grid),):
            raise InputError(f"cell_values: expected {len(grid)} values (one per grid cell), got shape {y.shape}")
    if not np.all(np.isfinite(y)):
        raise InputError("cell_values: expected finite numbers, got NaN or infinite values")
    if method not in ("auto", "permutation", "analytic"):
        raise InputError(f"method: expected 'auto', 'permutation' or 'analytic', got {method!r}")
    chosen = method
    if method == "auto":
        chosen = "permutation" if permutations > 0 and len(grid) <= max_permutation_cells else "analytic"
        if permutations > 0 and chosen == "analytic":
            logger.info(
                "Gi*: %s cells exceed max_permutation_cells=%s; using analytic p-values instead of %d permutations",
                f"{len(grid):,}", f"{max_permutation_cells:,}", permutations,
            )
    if chosen == "permutation" and permutations < 1:
        raise InputError("permutations: expected 1 or more for method='permutation'")
    _, kind = _grid_spec(grid)
    graph, n_islands = _grid_adjacency(
        grid["cell_i"].to_numpy(dtype=np.int64), grid["cell_j"].to_numpy(dtype=np.int64), kind, contiguity
    )
    n = len(y)
    if y.sum() <= 0 or np.ptp(y) == 0 or n < 3:
        logger.warning("Gi*: the cell values are constant (%s cells); no hot spots can be found", f"{n:,}")
    inference: GiInference = "permutation" if chosen == "permutation" else "normal"
    # Enough permutations that one cell alone could pass BH: 2/(R+1) <= alpha/n.
    refine_to = min(max_refine_permutations, permutations_for_fdr(n, alpha)) if fdr else 0
    core = gi_star(y, graph, inference=inference, permutations=permutations, seed=seed, refine_to=refine_to)
    z, p, p_sim, used = core.z, core.p, core.p_sim, core.used
    q = benjamini_hochberg(p) if fdr else p
    gbin = gi_bins(z, q)
    if chosen == "permutation" and fdr and n > 1 and not (q <= alpha).any() and y.sum() > 0:
        floor = 2.0 / (int(used.max()) + 1)
        at_floor = int((p <= floor * (1 + 1e-9)).sum())
        if at_floor:
            logger.info(
                "Gi*: no cell is significant after FDR: with up to %s permutations the smallest two-sided p "
                "is %.2g, so among %s cells Benjamini-Hochberg needs about %s cells at that floor and %s are; "
                "raise max_refine_permutations or use hotspot_method='analytic' for a finer test",
                f"{int(used.max()):,}", floor, f"{n:,}", f"{math.ceil(floor * n / alpha):,}", f"{at_floor:,}",
            )
    table = pd.DataFrame(
        {
            "gi_z": z,
            "gi_p": p,
            "gi_q": q,
            "gi_p_sim": p_sim,
            "gi_permutations": used,
            "gi_bin": gbin,
            "gi_label": pd.Series(gbin).map(_GI_LABELS).to_numpy(),
        },
        index=grid.index,
    )
    logger.info(
        "Gi* (%s%s, %s contiguity, %s islands): %s cells, %d hot and %d cold at %s <= %.2f",
        chosen,
        f", {permutations} permutations, seed {seed}" if chosen == "permutation" else "",
        contiguity if _grid_spec(grid)[1] == "square" else "hex",
        n_islands,
        f"{n:,}",
        int(((q <= alpha) & (z > 0)).sum()),
        int(((q <= alpha) & (z < 0)).sum()),
        "FDR-adjusted p" if fdr else "p",
        alpha,
    )
    return GiStarResult(
        table=table,
        method=chosen,
        permutations=permutations if chosen == "permutation" else 0,
        seed=seed,
        alpha=alpha,
        fdr=fdr,
        contiguity=contiguity,
    )


def sparse_grid_hotspots(
    cell_values: Any,
    grid: gpd.GeoDataFrame,
    *,
    n_cells: int,
    alpha: float = 0.05,
    fdr: bool = True,
    contiguity: Literal["queen", "rook"] = "queen",
) -> GiStarResult:
    """Analytic Gi* on a sparse grid that stands for ``n_cells`` cells, the rest empty.

    The grid holds the cells that matter (those holding records and those of the planned
    neighbourhoods, :func:`pli.patrols.grid.sparse_grid`); every other cell of the study
    area holds 0. Gi* is computed as on the full grid without building it: the mean and
    SD count the empty cells, each cell's window sums its own and its neighbours' values
    (empty neighbours add 0), and Benjamini-Hochberg runs over all ``n_cells`` p-values,
    the empty cells next to records included and every other empty cell sharing the p of
    an empty window.

    Parameters
    ----------
    cell_values : Series or array-like
        Value per cell of ``grid`` (a Series is aligned on ``place_id``, missing = 0).
    grid : GeoDataFrame
        From :func:`pli.patrols.grid.sparse_grid` (or :func:`build_grid`).
    n_cells : int
        Cells of the whole study area (at least ``len(grid)``).
    alpha, fdr, contiguity
        As :func:`grid_hotspots`.

    Returns
    -------
    GiStarResult
        ``method`` is ``"analytic"``.

    Notes
    -----
    Every cell is taken to have its full set of neighbours (8 queen, 4 rook, 6 hex), as
    an interior cell has; on the full grid, cells on the study area's edge have fewer.
    So near the edge z differs a little from :func:`grid_hotspots`; elsewhere it is the
    same number.
    """
    _, kind = _grid_spec(grid)
    if isinstance(cell_values, pd.Series):
        y = cell_values.reindex(grid.index).fillna(0.0).to_numpy(dtype=float)
    else:
        y = np.asarray(cell_values, dtype=float)
    if not np.all(np.isfinite(y)):
        raise InputError("cell_values: expected finite numbers, got NaN or infinite values")
    i = grid["cell_i"].to_numpy(dtype=np.int64)
    j = grid["cell_j"].to_numpy(dtype=np.int64)
    offsets = _queen_offsets(kind, contiguity)
    adjacency, _ = _grid_adjacency(i, j, kind, contiguity)
    window = adjacency @ y + y
    # Empty cells next to a record lie outside the sparse grid; their windows still
    # need a p-value for the FDR, so sum what their occupied neighbours hold.
    keys = _cell_keys(i, j)
    ring_keys = np.concatenate([_cell_keys(i + di, j + dj) for di, dj in offsets])
    ring_vals = np.tile(y, len(offsets))
    outside = ~np.isin(ring_keys, keys)
    ring_ids, ring_pos = np.unique(ring_keys[outside], return_inverse=True)
    ring_window = np.bincount(ring_pos, weights=ring_vals[outside], minlength=len(ring_ids))
    # Ring cells beyond the area's edge are not among its n_cells; the FDR then runs over
    # a few more p-values than the full grid would (slightly conservative).
    n = max(int(n_cells), len(y))
    total = float(y.sum())
    mean = total / n
    sd = math.sqrt(max(float(np.sum(y * y)) / n - mean * mean, 0.0))
    w_star = len(offsets) + 1.0
    scale = math.sqrt(max(n * w_star - w_star**2, 0.0) / max(n - 1, 1))
    constant = n < 2 or sd <= 1e-12 * max(1.0, abs(mean))

    def z_of(win: np.ndarray) -> np.ndarray:
        if constant or sd * scale <= 0:
            return np.zeros(len(win))
        return (win - mean * w_star) / (sd * scale)

    def p_of(z: np.ndarray) -> np.ndarray:
        return np.ones(len(z)) if constant else np.minimum(1.0, 2.0 * stats.norm.sf(np.abs(z)))

    z = z_of(window)
    p = p_of(z)
    if fdr:
        n_empty = max(n - len(y) - len(ring_ids), 0)
        p_empty = p_of(z_of(np.zeros(1)))
        everything = np.concatenate([p, p_of(z_of(ring_window)), np.full(n_empty, p_empty[0])])
        q = benjamini_hochberg(everything)[: len(y)]
    else:
        q = p
    gbin = gi_bins(z, q)
    table = pd.DataFrame(
        {
            "gi_z": z,
            "gi_p": p,
            "gi_q": q,
            "gi_p_sim": np.full(len(y), np.nan),
            "gi_permutations": np.zeros(len(y), dtype=np.int64),
            "gi_bin": gbin,
            "gi_label": pd.Series(gbin).map(_GI_LABELS).to_numpy(),
        },
        index=grid.index,
    )
    logger.info(
        "Gi* (analytic, %s contiguity, sparse grid of %s cells standing for %s): %d hot and %d cold at %s <= %.2f",
        contiguity if kind == "square" else "hex",
        f"{len(y):,}",
        f"{n:,}",
        int(((q <= alpha) & (z > 0)).sum()),
        int(((q <= alpha) & (z < 0)).sum()),
        "FDR-adjusted p" if fdr else "p",
        alpha,
    )
    return GiStarResult(
        table=table, method="analytic", permutations=0, seed=0, alpha=alpha, fdr=fdr, contiguity=contiguity
    )
