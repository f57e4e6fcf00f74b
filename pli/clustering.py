"""Spatial weights and clustering statistics: Moran's I, Local Moran (LISA), Getis-Ord Gi*.

The stage takes the LSOA polygons and one score per LSOA and answers three questions:
is the score clustered at all (global Moran's I), where are the clusters and outliers
(LISA quadrants), and where are the hot and cold spots (Gi*)?

Design
------
* Weights are :class:`libpysal.graph.Graph` objects (binary, in the order of the LSOA
  frame). Queen contiguity is the default; rook, k-nearest-neighbours (on centroids) and
  distance band (on centroids) are options.
* Islands and disconnected components never crash the analysis: every island is joined
  to its nearest polygon(s) and every other component to the nearest polygon of the main
  component. Each added link is logged with both LSOA codes and kept on the result.
* The statistics are esda's, called on copies of the weights so the caller's objects are
  never changed; esda's Local Moran and Gi* reseed NumPy's *global* generator, so the
  global state is saved and restored around each call. Global Moran's I permutations use
  a local :func:`numpy.random.default_rng` (esda draws from the unseeded global one).
* Pseudo p-values are two-sided: esda returns the *directed* (folded) pseudo p, the
  share of permutations at least as extreme as the observed value in the tail it falls
  in. Doubling it (capped at 1) gives the equal-tails two-sided p that esda itself will
  switch to ("alternative='two-sided' ... will generally double the p-value returned").
  Global Moran's I keeps esda's directed ``p_sim`` so it matches published values.
* False Discovery Rate: Benjamini-Hochberg adjusted p-values over all units, so a unit
  is significant after correction when ``p_fdr <= alpha``. This is the same rejection set
  as ``p <= esda.fdr(p, alpha)`` whenever BH rejects anything (esda falls back to the
  Bonferroni bound when it rejects nothing). Gi* confidence bins are computed twice, on
  the raw two-sided p (``gi_bin``, ``gi_label``) and on the BH-adjusted p
  (``gi_bin_fdr``, ``gi_label_fdr``): 99/95/90% then mean a false discovery rate of
  1/5/10% among the flagged LSOAs. Both sets of columns are always written (the maps
  read the uncorrected ones); ``ClusteringSpec.fdr`` chooses which set the log lines and
  the manifest's ``headline`` counts quote, and the log says "(FDR-corrected)" when it
  is the corrected set. Permutation p-values bottom out at 2 / (permutations + 1), so
  with 999 permutations an LSOA reaches the FDR 99% bin only when at least one in five
  LSOAs is at that floor; raise ``permutations`` when the 99% FDR bin matters.

Examples
--------
>>> from pli.clustering import build_weights, compute_clustering      # doctest: +SKIP
>>> weights = build_weights(lsoa)                                      # doctest: +SKIP
>>> weights                                                            # doctest: +SKIP
queen contiguity: 220 LSOAs, 0 islands, 1 component
>>> result = compute_clustering(lsoa["score"], weights, seed=0)        # doctest: +SKIP
>>> result.moran.to_dict()["I"]                                        # doctest: +SKIP
0.566
"""

from __future__ import annotations

import contextlib
import logging
import math
import warnings
from dataclasses import dataclass, field
from typing import Any, Iterator

import esda
import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from libpysal.graph import Graph
from scipy import sparse
from scipy.sparse import csgraph
from scipy.spatial import cKDTree

from pli.config import ClusteringSpec
from pli.errors import InputError

__all__ = [
    "ClusteringResult",
    "GetisOrdResult",
    "GlobalMoranResult",
    "LocalMoranResult",
    "SpatialWeights",
    "benjamini_hochberg",
    "build_weights",
    "compute_clustering",
    "getis_ord",
    "global_moran",
    "local_moran",
]

logger = logging.getLogger(__name__)

QUADRANT_LABELS = {1: "High-High", 2: "Low-High", 3: "Low-Low", 4: "High-Low"}
NOT_SIGNIFICANT = "Not significant"
GI_LEVELS = ((3, 0.01, "99%"), (2, 0.05, "95%"), (1, 0.10, "90%"))
_KIND_LABELS = {
    "queen": "queen contiguity",
    "rook": "rook contiguity",
    "knn": "k-nearest neighbours",
    "distance_band": "distance band",
}
# Permutations are run in blocks so memory stays bounded at ~n * block floats.
_PERMUTATION_BLOCK = 64


# --------------------------------------------------------------------------- weights


@dataclass(frozen=True, eq=False, repr=False)
class SpatialWeights:
    """Binary spatial weights over the LSOAs, with the repairs that were made.

    Attributes
    ----------
    graph : libpysal.graph.Graph
        Binary weights, ids in the order of the LSOA frame, every unit with at least one
        neighbour (islands and components already joined).
    kind : str
        ``queen``, ``rook``, ``knn`` or ``distance_band``.
    islands_attached : tuple of str
        LSOA codes that had no neighbour and were joined to their nearest polygon(s).
    links_added : tuple of (str, str, float)
        Every link added to connect the graph: (from, to, distance in metres).
    n_components : int
        Connected components *before* the repair (1 means nothing was joined).
    k : int or None
        Neighbours per unit for ``knn``.
    distance_m : float or None
        Threshold for ``distance_band`` (chosen automatically when not given).
    """

    graph: Graph
    kind: str
    islands_attached: tuple[str, ...] = ()
    links_added: tuple[tuple[str, str, float], ...] = ()
    n_components: int = 1
    k: int | None = None
    distance_m: float | None = None

    @property
    def ids(self) -> pd.Index:
        """LSOA codes in weights order."""
        return pd.Index(self.graph.unique_ids, name="lsoa_code")

    @property
    def n(self) -> int:
        """Number of units."""
        return int(self.graph.n)

    @property
    def w(self) -> Any:
        """The weights as a legacy :class:`libpysal.weights.W` (a new object each call)."""
        return self.graph.to_W()

    @property
    def is_contiguity(self) -> bool:
        """True for queen or rook contiguity (neighbourhoods can be drawn on it)."""
        return self.kind in ("queen", "rook")

    def __repr__(self) -> str:
        n_isl = len(self.islands_attached) or len(self.graph.isolates)
        n_comp = self.n_components
        text = (
            f"{_KIND_LABELS.get(self.kind, self.kind)}: {self.n:,} LSOAs, "
            f"{n_isl:,} island{'s' if n_isl != 1 else ''}, "
            f"{n_comp:,} component{'s' if n_comp != 1 else ''}"
        )
        if self.links_added:
            n_links = len(self.links_added)
            text += f" ({n_links:,} link{'s' if n_links != 1 else ''} added)"
        return text


def build_weights(
    lsoa: gpd.GeoDataFrame | gpd.GeoSeries,
    spec: ClusteringSpec | None = None,
    *,
    connect: bool = True,
) -> SpatialWeights:
    """Build binary spatial weights over LSOA polygons.

    Parameters
    ----------
    lsoa : GeoDataFrame or GeoSeries
        LSOA polygons indexed by ``lsoa_code`` in a projected CRS (EPSG:27700).
    spec : ClusteringSpec, optional
        ``weights`` (``queen`` default, ``rook``, ``knn``, ``distance_band``), ``k`` and
        ``distance_m``. With ``distance_band`` and no ``distance_m`` the smallest
        threshold giving every unit a neighbour is used (logged).
    connect : bool, default True
        Join islands to their nearest polygon(s) and other components to the nearest
        polygon of the largest component, logging each link. ``False`` keeps the raw graph
        (islands stay as zero-weight self loops).

    Returns
    -------
    SpatialWeights

    Raises
    ------
    InputError
        For an empty frame, duplicate or missing codes, missing/empty geometries or a
        geographic (degree) CRS.
    """
    spec = spec or ClusteringSpec()
    geoms = _validate_geometry(lsoa)
    ids = geoms.index
    kind = spec.weights
    k = distance_m = None
    if kind in ("queen", "rook"):
        graph = Graph.build_contiguity(geoms, rook=kind == "rook")
    elif kind == "knn":
        k = int(spec.k)
        if not 1 <= k < len(geoms):
            raise InputError(
                f"clustering.k: expected a whole number between 1 and {len(geoms) - 1} "
                f"(one fewer than the {len(geoms)} LSOAs), got {spec.k}; lower k"
            )
        graph = Graph.build_knn(geoms.centroid, k=k, coplanar="clique")
    elif kind == "distance_band":
        cent = geoms.centroid
        if spec.distance_m is None:
            xy = np.column_stack([cent.x.to_numpy(), cent.y.to_numpy()])
            dist, _ = cKDTree(xy).query(xy, k=2)
            distance_m = float(np.ceil(dist[:, 1].max()))
            logger.info(
                "distance band set to %s m automatically (the smallest giving every LSOA a neighbour)",
                f"{distance_m:,.0f}",
            )
        else:
            distance_m = float(spec.distance_m)
            if not distance_m > 0:
                raise InputError(f"clustering.distance_m: expected a positive distance in metres, got {spec.distance_m}")
        graph = Graph.build_distance_band(cent, distance_m)
    else:  # pragma: no cover - the config parser already restricts the literal
        raise InputError(
            f"clustering.weights: expected one of queen, rook, knn, distance_band, got {kind!r}"
        )
    graph = graph.transform("B")
    n_components = int(graph.n_components)
    islands: tuple[str, ...] = ()
    links: tuple[tuple[str, str, float], ...] = ()
    if connect and n_components > 1:
        # Nearest by the same geometry the weights use: polygons for contiguity,
        # centroids for knn and distance band.
        anchor = geoms if kind in ("queen", "rook") else geoms.centroid
        graph, islands, links = _connect_components(graph, anchor)
    weights = SpatialWeights(
        graph=graph,
        kind=kind,
        islands_attached=islands,
        links_added=links,
        n_components=n_components,
        k=k,
        distance_m=distance_m,
    )
    logger.info("%r", weights)
    if not ids.equals(weights.ids):  # pragma: no cover - libpysal keeps input order
        raise RuntimeError("spatial weights lost the LSOA order")
    return weights


def _validate_geometry(lsoa: gpd.GeoDataFrame | gpd.GeoSeries) -> gpd.GeoSeries:
    if not isinstance(lsoa, (gpd.GeoDataFrame, gpd.GeoSeries)):
        raise InputError(
            f"LSOA polygons: expected a GeoDataFrame indexed by lsoa_code, got {type(lsoa).__name__}; "
            "pass Boundaries.lsoa"
        )
    geoms = lsoa.geometry if isinstance(lsoa, gpd.GeoDataFrame) else lsoa
    problems: list[str] = []
    if len(geoms) < 2:
        problems.append(f"expected at least 2 LSOAs, got {len(geoms)}")
    idx = geoms.index
    if idx.hasnans:
        problems.append("the lsoa_code index has missing values; drop or fill them")
    dupes = idx[idx.duplicated()].unique()
    if len(dupes):
        problems.append(
            f"lsoa_code is duplicated for {len(dupes)} code(s) ({', '.join(map(str, dupes[:5]))}); "
            "dissolve or drop the duplicates"
        )
    bad = geoms.isna() | geoms.is_empty
    if bad.any():
        codes = ", ".join(map(str, idx[bad.to_numpy()][:5]))
        problems.append(f"{int(bad.sum())} LSOA(s) have no geometry ({codes}); check the boundary file")
    if geoms.crs is None or not geoms.crs.is_projected:
        problems.append(
            f"expected a projected CRS in metres (EPSG:27700), got {geoms.crs!s}; "
            "reproject with .to_crs(27700)"
        )
    if problems:
        raise InputError(problems, path="LSOA polygons")
    return geoms


def _connect_components(
    graph: Graph, geoms: gpd.GeoSeries
) -> tuple[Graph, tuple[str, ...], tuple[tuple[str, str, float], ...]]:
    """Join islands to their nearest polygon(s), then other components to the main one."""
    ids = np.asarray(graph.unique_ids)
    geom_arr = geoms.to_numpy()
    islands = np.asarray(graph.cardinalities.to_numpy() == 0)
    tree = shapely.STRtree(geom_arr)
    heads: list[np.ndarray] = []
    tails: list[np.ndarray] = []
    dists: list[np.ndarray] = []
    if islands.any():
        # Every equally-near polygon is kept: an island between two neighbours joins both.
        (src, dst), d = tree.query_nearest(
            geom_arr[islands], return_distance=True, exclusive=True, all_matches=True
        )
        src = np.flatnonzero(islands)[src]
        heads.append(src)
        tails.append(dst)
        dists.append(d)
    adj = graph.sparse.tocsr().astype(bool)
    for _ in range(len(ids)):
        pairs = np.concatenate(heads) if heads else np.empty(0, int)
        extra = sparse.coo_matrix(
            (np.ones(len(pairs), bool), (pairs, np.concatenate(tails) if tails else pairs)),
            shape=adj.shape,
        )
        full = adj + extra + extra.T
        n_comp, labels = csgraph.connected_components(full, directed=False)
        if n_comp == 1:
            break
        main = np.bincount(labels).argmax()
        in_main = labels == main
        main_tree = shapely.STRtree(geom_arr[in_main])
        outside = np.flatnonzero(~in_main)
        (src, dst), d = main_tree.query_nearest(
            geom_arr[outside], return_distance=True, all_matches=False
        )
        src = outside[src]
        dst = np.flatnonzero(in_main)[dst]
        # One link per component: its closest polygon pair (first by position on ties).
        best = (
            pd.DataFrame({"comp": labels[src], "d": d, "src": src, "dst": dst})
            .sort_values(["comp", "d", "src", "dst"], kind="stable")
            .drop_duplicates("comp")
        )
        heads.append(best["src"].to_numpy())
        tails.append(best["dst"].to_numpy())
        dists.append(best["d"].to_numpy())
    h, t, d = np.concatenate(heads), np.concatenate(tails), np.concatenate(dists)
    links = tuple((str(ids[a]), str(ids[b]), round(float(x), 1)) for a, b, x in zip(h, t, d))
    island_codes = tuple(str(c) for c in ids[islands])
    if island_codes:
        logger.warning(
            "spatial weights: %s island(s) attached to their nearest neighbour(s): %s",
            f"{len(island_codes):,}",
            ", ".join(island_codes),
        )
    logger.warning(
        "spatial weights: %s link(s) added to connect %s components: %s",
        f"{len(links):,}",
        f"{graph.n_components:,}",
        ", ".join(f"{a}-{b} ({x:,.0f} m)" for a, b, x in links),
    )
    adjacency = graph.adjacency
    adjacency = adjacency[adjacency != 0]
    new = pd.Series(
        1,
        index=pd.MultiIndex.from_arrays(
            [np.concatenate([ids[h], ids[t]]), np.concatenate([ids[t], ids[h]])],
            names=["focal", "neighbor"],
        ),
        name="weight",
    )
    combined = pd.concat([adjacency.astype(float), new.astype(float)])
    combined = combined[~combined.index.duplicated()]
    combined = combined.reindex(ids, level=0).reindex(ids, level=1)
    repaired = Graph(combined, transformation="B", is_sorted=True)
    return repaired, island_codes, links


# --------------------------------------------------------------------------- helpers


@contextlib.contextmanager
def _global_rng_preserved() -> Iterator[None]:
    """esda's conditional randomisation calls ``np.random.seed``; undo that side effect."""
    state = np.random.get_state()
    try:
        with warnings.catch_warnings():
            # esda warns that its default alternative will change; we document ours.
            warnings.simplefilter("ignore", DeprecationWarning)
            yield
    finally:
        np.random.set_state(state)


def _as_graph(weights: SpatialWeights | Graph) -> Graph:
    if isinstance(weights, SpatialWeights):
        return weights.graph
    if isinstance(weights, Graph):
        return weights
    raise InputError(
        f"weights: expected SpatialWeights (from build_weights) or a libpysal Graph, "
        f"got {type(weights).__name__}"
    )


def _align(y: pd.Series | np.ndarray, graph: Graph, *, name: str = "y") -> tuple[np.ndarray, pd.Index]:
    """Return y as float64 in weights order, checking codes and values."""
    ids = pd.Index(graph.unique_ids, name="lsoa_code")
    if isinstance(y, pd.Series):
        label = f"{name} ({y.name})" if y.name is not None else name
        missing = ids.difference(y.index)
        extra = y.index.difference(ids)
        if len(missing) or len(extra):
            raise InputError(
                f"{label}: expected one value per LSOA in the weights ({len(ids)}); "
                f"{len(missing)} LSOA(s) have no value ({', '.join(map(str, missing[:5]))}) and "
                f"{len(extra)} value(s) have no LSOA ({', '.join(map(str, extra[:5]))}); "
                "build the weights from the same LSOA frame"
            )
        if y.index.has_duplicates:
            raise InputError(f"{label}: the index has duplicate LSOA codes; aggregate them first")
        values = pd.to_numeric(y.reindex(ids), errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    else:
        label = name
        values = np.asarray(y, dtype=float).ravel()
        if values.shape[0] != len(ids):
            raise InputError(
                f"{label}: expected {len(ids)} values (one per LSOA in the weights), got {values.shape[0]}"
            )
    bad = ~np.isfinite(values)
    if bad.any():
        raise InputError(
            f"{label}: expected finite numbers, got {int(bad.sum())} missing or infinite value(s) "
            f"(LSOAs {', '.join(map(str, ids[bad][:5]))}); fill or drop them before clustering"
        )
    if np.ptp(values) == 0:
        raise InputError(f"{label}: all {len(values)} values are equal; spatial statistics need variation")
    return values, ids


def benjamini_hochberg(p: np.ndarray) -> np.ndarray:
    """Benjamini-Hochberg adjusted p-values (q-values), capped at 1.

    A unit is significant at false discovery rate ``alpha`` when its adjusted value is
    ``<= alpha``.
    """
    p = np.asarray(p, dtype=float)
    n = p.size
    if n == 0:
        return p.copy()
    order = np.argsort(p, kind="stable")
    scaled = p[order] * n / np.arange(1, n + 1)
    adjusted = np.minimum.accumulate(scaled[::-1])[::-1]
    out = np.empty(n)
    out[order] = np.minimum(adjusted, 1.0)
    return out


def _exact_pseudo_p(p: np.ndarray, permutations: int) -> np.ndarray:
    """Undo esda's float32 storage: pseudo p-values are multiples of 1/(permutations+1)."""
    return np.round(np.asarray(p, dtype=float) * (permutations + 1)) / (permutations + 1)


# --------------------------------------------------------------------------- global Moran


@dataclass(frozen=True)
class GlobalMoranResult:
    """Global Moran's I with analytical and permutation inference.

    Attributes
    ----------
    I : float
        Moran's I on row-standardised weights.
    expected_I : float
        -1 / (n - 1).
    variance_I : float
        Variance under the normality assumption.
    z : float
        (I - E[I]) / sd under normality (esda ``z_norm``).
    p_norm : float
        Two-sided p-value of ``z``.
    z_sim, p_sim : float
        z against the permutation distribution and esda's directed pseudo p-value,
        (min(#>=I, #<I) + 1) / (permutations + 1). NaN when ``permutations == 0``.
    permutations, seed : int
    n : int
    weights : str
        One-line description of the weights.
    """

    I: float  # noqa: E741 - the statistic's name
    expected_I: float
    variance_I: float
    z: float
    p_norm: float
    z_sim: float
    p_sim: float
    permutations: int
    seed: int
    n: int
    weights: str

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict for the manifest (NaN becomes None)."""
        out: dict[str, Any] = {}
        for key, value in self.__dict__.items():
            if isinstance(value, float):
                out[key] = None if math.isnan(value) else float(value)
            else:
                out[key] = value
        return out


def global_moran(
    y: pd.Series | np.ndarray,
    weights: SpatialWeights | Graph,
    *,
    permutations: int = 999,
    seed: int = 0,
) -> GlobalMoranResult:
    """Global Moran's I with seeded permutation inference.

    Parameters
    ----------
    y : Series or array
        One value per LSOA; a Series is aligned to the weights by its index.
    weights : SpatialWeights or libpysal Graph
        Row-standardised internally (on a copy).
    permutations : int, default 999
        Random permutations of ``y`` for the pseudo p-value (0 skips them).
    seed : int, default 0
        Seed of the local generator used for the permutations.

    Returns
    -------
    GlobalMoranResult
        ``I``, ``expected_I``, ``variance_I``, ``z`` and ``p_norm`` equal esda's
        ``Moran(y, w)``; ``p_sim`` follows esda's definition with seeded draws.
    """
    graph = _as_graph(weights)
    values, _ = _align(y, graph)
    row = graph.transform("R")
    moran = esda.Moran(values, row.copy(), transformation="r", permutations=0)
    z_sim = p_sim = float("nan")
    if permutations:
        sims = _moran_permutations(values, row, permutations, seed)
        larger = int((sims >= moran.I).sum())
        larger = min(larger, permutations - larger)
        p_sim = (larger + 1.0) / (permutations + 1.0)
        sd = sims.std()
        z_sim = float((moran.I - sims.mean()) / sd) if sd > 0 else float("nan")
    desc = repr(weights) if isinstance(weights, SpatialWeights) else f"libpysal Graph of {graph.n} units"
    result = GlobalMoranResult(
        I=float(moran.I),
        expected_I=float(moran.EI),
        variance_I=float(moran.VI_norm),
        z=float(moran.z_norm),
        p_norm=float(moran.p_norm),
        z_sim=z_sim,
        p_sim=float(p_sim),
        permutations=int(permutations),
        seed=int(seed),
        n=int(len(values)),
        weights=desc,
    )
    logger.info(
        "Moran's I = %.4f (E[I] = %.4f, z = %.2f, pseudo p = %.4f, %s permutations)",
        result.I, result.expected_I, result.z, result.p_sim, f"{permutations:,}",
    )
    return result


def _moran_permutations(values: np.ndarray, row: Graph, permutations: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    z = values - values.mean()
    matrix = row.sparse.tocsr()
    s0 = matrix.sum()
    scale = len(z) / s0 / (z @ z)
    sims = np.empty(permutations)
    for start in range(0, permutations, _PERMUTATION_BLOCK):
        size = min(_PERMUTATION_BLOCK, permutations - start)
        block = rng.permuted(np.broadcast_to(z, (size, len(z))), axis=1)
        lagged = (matrix @ block.T).T
        sims[start : start + size] = scale * np.einsum("ij,ij->i", block, lagged)
    return sims


# --------------------------------------------------------------------------- Local Moran


@dataclass(frozen=True, eq=False)
class LocalMoranResult:
    """Local Moran's I (LISA) per LSOA.

    Attributes
    ----------
    index : pandas.Index
        LSOA codes (weights order).
    I : ndarray
        Local Moran's I (esda ``Is``, row-standardised weights).
    quadrant : ndarray of int
        esda quadrant: 1 High-High, 2 Low-High, 3 Low-Low, 4 High-Low.
    p_directed : ndarray
        esda's directed (folded) pseudo p-value ``p_sim``.
    p : ndarray
        Two-sided pseudo p-value, ``min(1, 2 * p_directed)``. With ``permutations == 0``
        the two-sided normal p-value of esda's total-randomisation moments instead.
    p_fdr : ndarray
        Benjamini-Hochberg adjusted ``p``.
    alpha : float
    permutations, seed : int
    """

    index: pd.Index
    I: np.ndarray  # noqa: E741
    quadrant: np.ndarray
    p_directed: np.ndarray
    p: np.ndarray
    p_fdr: np.ndarray
    alpha: float
    permutations: int
    seed: int

    @property
    def cluster(self) -> np.ndarray:
        """Quadrant label where ``p <= alpha``, else "Not significant"."""
        return _labels(self.quadrant, self.p <= self.alpha)

    @property
    def cluster_fdr(self) -> np.ndarray:
        """Quadrant label where ``p_fdr <= alpha``, else "Not significant"."""
        return _labels(self.quadrant, self.p_fdr <= self.alpha)

    def counts(self, *, fdr: bool = False) -> dict[str, int]:
        """Number of LSOAs per cluster label (all five labels present)."""
        labels = pd.Series(self.cluster_fdr if fdr else self.cluster)
        order = [*QUADRANT_LABELS.values(), NOT_SIGNIFICANT]
        return {k: int(v) for k, v in labels.value_counts().reindex(order, fill_value=0).items()}

    def to_frame(self) -> pd.DataFrame:
        """Columns ``lisa_I, lisa_p, lisa_p_fdr, lisa_quadrant, lisa_cluster, lisa_cluster_fdr``."""
        return pd.DataFrame(
            {
                "lisa_I": self.I,
                "lisa_p": self.p,
                "lisa_p_fdr": self.p_fdr,
                "lisa_quadrant": pd.array(_labels(self.quadrant, np.ones(len(self.I), bool)), dtype="string"),
                "lisa_cluster": pd.array(self.cluster, dtype="string"),
                "lisa_cluster_fdr": pd.array(self.cluster_fdr, dtype="string"),
            },
            index=self.index,
        )


def _labels(quadrant: np.ndarray, significant: np.ndarray) -> np.ndarray:
    names = np.array([NOT_SIGNIFICANT, *QUADRANT_LABELS.values()], dtype=object)
    return names[np.where(significant, quadrant, 0)]


def local_moran(
    y: pd.Series | np.ndarray,
    weights: SpatialWeights | Graph,
    *,
    alpha: float = 0.05,
    permutations: int = 999,
    seed: int = 0,
    fdr: bool = True,
) -> LocalMoranResult:
    """Local Moran's I with two-sided conditional-permutation pseudo p-values.

    Parameters
    ----------
    y : Series or array
        One value per LSOA; a Series is aligned to the weights by its index.
    weights : SpatialWeights or libpysal Graph
        Row-standardised internally (on a copy).
    alpha : float, default 0.05
        Significance level for the cluster labels (uncorrected and FDR).
    permutations : int, default 999
        Conditional permutations per unit (esda ``Moran_Local``).
    seed : int, default 0
        Passed to esda; NumPy's global generator is restored afterwards.
    fdr : bool, default True
        Which labels the log line quotes: FDR-corrected (True) or uncorrected. Both are
        always on the result.

    Returns
    -------
    LocalMoranResult
    """
    _check_alpha(alpha)
    graph = _as_graph(weights)
    values, ids = _align(y, graph)
    with _global_rng_preserved():
        lm = esda.Moran_Local(
            values,
            graph.transform("R"),
            transformation="r",
            permutations=permutations,
            n_jobs=1,
            keep_simulations=False,
            seed=seed,
        )
    if permutations:
        p_directed = _exact_pseudo_p(lm.p_sim, permutations)
        p = np.minimum(1.0, 2.0 * p_directed)
    else:
        from scipy import stats

        logger.info("local Moran: no permutations requested; using normal-approximation p-values")
        z = (lm.Is - lm.EI) / np.sqrt(lm.VI)
        p_directed = stats.norm.sf(np.abs(z))
        p = np.minimum(1.0, 2.0 * p_directed)
    result = LocalMoranResult(
        index=ids,
        I=np.asarray(lm.Is, dtype=float),
        quadrant=np.asarray(lm.q, dtype=int),
        p_directed=p_directed,
        p=p,
        p_fdr=benjamini_hochberg(p),
        alpha=float(alpha),
        permutations=int(permutations),
        seed=int(seed),
    )
    _log_lisa(result, fdr=fdr)
    return result


def _log_lisa(result: LocalMoranResult, *, fdr: bool) -> None:
    counts = result.counts(fdr=fdr)
    other = int(((result.p if fdr else result.p_fdr) <= result.alpha).sum())
    logger.info(
        "LISA at alpha %.2f%s: %s (%s: %s significant)",
        result.alpha,
        " (FDR-corrected)" if fdr else " (uncorrected)",
        ", ".join(f"{k} {v:,}" for k, v in counts.items()),
        "uncorrected" if fdr else "after FDR correction",
        f"{other:,}",
    )


def _check_alpha(alpha: float) -> None:
    if not 0 < alpha < 1:
        raise InputError(f"clustering.alpha: expected a significance level between 0 and 1, got {alpha}")


# --------------------------------------------------------------------------- Getis-Ord Gi*


@dataclass(frozen=True, eq=False)
class GetisOrdResult:
    """Getis-Ord Gi* per LSOA (binary weights including the unit itself).

    Attributes
    ----------
    index : pandas.Index
    G : ndarray
        Gi* statistic (esda ``Gs``).
    z : ndarray
        Analytical z-score (esda ``Zs``).
    p_directed : ndarray
        esda's directed pseudo p-value.
    p : ndarray
        Two-sided pseudo p-value, ``min(1, 2 * p_directed)`` (normal p without
        permutations).
    bin : ndarray of int
        -3..3: sign of ``z`` times 3, 2, 1 where ``p <= 0.01, 0.05, 0.10`` (99/95/90%).
    p_fdr : ndarray
        Benjamini-Hochberg adjusted ``p`` over all units.
    bin_fdr : ndarray of int
        As ``bin`` but on ``p_fdr``: a 99/95/90% bin then holds LSOAs significant at a
        false discovery rate of 1/5/10%.
    shift : float
        Constant added to ``y`` so it is non-negative (Gi* is defined for non-negative
        values; z and p are unchanged by a shift).
    permutations, seed : int
    """

    index: pd.Index
    G: np.ndarray
    z: np.ndarray
    p_directed: np.ndarray
    p: np.ndarray
    bin: np.ndarray
    p_fdr: np.ndarray
    bin_fdr: np.ndarray
    shift: float
    permutations: int
    seed: int

    @property
    def label(self) -> np.ndarray:
        """"Hotspot 99%" ... "Not significant" ... "Coldspot 99%"."""
        return _gi_labels(self.bin)

    @property
    def label_fdr(self) -> np.ndarray:
        """As :attr:`label`, on the FDR-corrected bins."""
        return _gi_labels(self.bin_fdr)

    def counts(self, *, fdr: bool = False) -> dict[str, int]:
        """Number of LSOAs per bin, keys "-3" ... "3" (all seven present)."""
        bins = pd.Series(self.bin_fdr if fdr else self.bin)
        return {str(k): int(v) for k, v in bins.value_counts().reindex(range(-3, 4), fill_value=0).items()}

    def to_frame(self) -> pd.DataFrame:
        """Columns ``gi_z, gi_p, gi_bin, gi_label, gi_p_fdr, gi_bin_fdr, gi_label_fdr``."""
        return pd.DataFrame(
            {
                "gi_z": self.z,
                "gi_p": self.p,
                "gi_bin": self.bin.astype("int64"),
                "gi_label": pd.array(self.label, dtype="string"),
                "gi_p_fdr": self.p_fdr,
                "gi_bin_fdr": self.bin_fdr.astype("int64"),
                "gi_label_fdr": pd.array(self.label_fdr, dtype="string"),
            },
            index=self.index,
        )


def _gi_labels(bins: np.ndarray) -> np.ndarray:
    names = {0: NOT_SIGNIFICANT}
    for level, _, conf in GI_LEVELS:
        names[level] = f"Hotspot {conf}"
        names[-level] = f"Coldspot {conf}"
    return pd.Series(bins).map(names).to_numpy(dtype=object)


def _gi_bins(z: np.ndarray, p: np.ndarray) -> np.ndarray:
    level = np.zeros(len(z), dtype=int)
    for lvl, cut, _ in reversed(GI_LEVELS):
        level[p <= cut] = lvl
    return (np.sign(z).astype(int) * level).astype(int)


def getis_ord(
    y: pd.Series | np.ndarray,
    weights: SpatialWeights | Graph,
    *,
    permutations: int = 999,
    seed: int = 0,
    fdr: bool = True,
) -> GetisOrdResult:
    """Getis-Ord Gi* hot and cold spots with confidence bins.

    Uses binary weights with the unit itself included (the classic Gi* of Ord and Getis
    1995, as in ArcGIS Hot Spot Analysis). The bin's sign comes from the z-score and
    its level from the two-sided permutation p-value, so skewed inputs (crime counts)
    are not judged against a normal curve they do not follow.

    Parameters
    ----------
    y : Series or array
        One value per LSOA. Negative values are shifted to start at 0 (logged).
    weights : SpatialWeights or libpysal Graph
    permutations : int, default 999
    seed : int, default 0
    fdr : bool, default True
        Which bins the log line quotes: FDR-corrected (True) or uncorrected. Both are
        always on the result.

    Returns
    -------
    GetisOrdResult
    """
    graph = _as_graph(weights)
    values, ids = _align(y, graph)
    shift = 0.0
    if values.min() < 0:
        shift = float(-values.min())
        logger.info("Gi*: values shifted by %.4g to be non-negative (z and p do not change)", shift)
        values = values + shift
    with _global_rng_preserved():
        gi = esda.G_Local(
            values,
            graph.transform("B"),
            transform="B",
            permutations=permutations,
            star=True,
            keep_simulations=False,
            n_jobs=1,
            seed=seed,
        )
    z = np.asarray(gi.Zs, dtype=float)
    if permutations:
        p_directed = _exact_pseudo_p(gi.p_sim, permutations)
    else:
        p_directed = np.asarray(gi.p_norm, dtype=float)
    p = np.minimum(1.0, 2.0 * p_directed)
    p_fdr = benjamini_hochberg(p)
    result = GetisOrdResult(
        index=ids,
        G=np.asarray(gi.Gs, dtype=float),
        z=z,
        p_directed=p_directed,
        p=p,
        bin=_gi_bins(z, p),
        p_fdr=p_fdr,
        bin_fdr=_gi_bins(z, p_fdr),
        shift=shift,
        permutations=int(permutations),
        seed=int(seed),
    )
    _log_gi(result, fdr=fdr)
    return result


def _log_gi(result: GetisOrdResult, *, fdr: bool) -> None:
    bins, other = (result.bin_fdr, result.bin) if fdr else (result.bin, result.bin_fdr)
    logger.info(
        "Gi*%s: %s hotspot and %s coldspot LSOAs at 90%% or more (%s: %s and %s)",
        " (FDR-corrected)" if fdr else " (uncorrected)",
        f"{int((bins > 0).sum()):,}",
        f"{int((bins < 0).sum()):,}",
        "uncorrected" if fdr else "after FDR correction",
        f"{int((other > 0).sum()):,}",
        f"{int((other < 0).sum()):,}",
    )


# --------------------------------------------------------------------------- all together


@dataclass(frozen=True, eq=False)
class ClusteringResult:
    """Everything the clustering stage produces for one score.

    ``fdr`` (from ``ClusteringSpec.fdr``) says which labels :meth:`headline` and the log
    quote; :meth:`to_frame` always carries both the uncorrected and the FDR-corrected
    LISA and Gi* columns.
    """

    weights: SpatialWeights | Graph
    moran: GlobalMoranResult
    lisa: LocalMoranResult
    gi: GetisOrdResult
    fdr: bool = True
    seed: int = 0
    extra: dict[str, Any] = field(default_factory=dict)

    def to_frame(self) -> pd.DataFrame:
        """LISA and Gi* columns for the LSOA table, indexed by ``lsoa_code``."""
        return pd.concat([self.lisa.to_frame(), self.gi.to_frame()], axis=1)

    def headline(self) -> dict[str, Any]:
        """The counts quoted in the log: FDR-corrected when ``fdr`` is True.

        Keys ``fdr``, ``lisa`` (LSOAs per cluster label), ``gi`` (LSOAs per bin -3..3),
        ``hotspots`` and ``coldspots`` (Gi* at 90% or more).
        """
        gi = self.gi.bin_fdr if self.fdr else self.gi.bin
        return {
            "fdr": self.fdr,
            "lisa": self.lisa.counts(fdr=self.fdr),
            "gi": self.gi.counts(fdr=self.fdr),
            "hotspots": int((gi > 0).sum()),
            "coldspots": int((gi < 0).sum()),
        }

    def to_dict(self) -> dict[str, Any]:
        """Manifest entry: Moran's I, weights, LISA/Gi* counts (both sets) and the headline."""
        return {
            "weights": repr(self.weights),
            "moran": self.moran.to_dict(),
            "lisa_alpha": self.lisa.alpha,
            "lisa_counts": self.lisa.counts(fdr=False),
            "lisa_counts_fdr": self.lisa.counts(fdr=True),
            "headline_uses_fdr": self.fdr,
            "gi_counts": self.gi.counts(fdr=False),
            "gi_counts_fdr": self.gi.counts(fdr=True),
            "headline": self.headline(),
            "seed": self.seed,
        }


def compute_clustering(
    y: pd.Series,
    weights: SpatialWeights | Graph,
    spec: ClusteringSpec | None = None,
    *,
    seed: int = 0,
) -> ClusteringResult:
    """Moran's I, LISA and Gi* for one score with the options of a :class:`ClusteringSpec`.

    Parameters
    ----------
    y : Series
        Score indexed by ``lsoa_code``.
    weights : SpatialWeights or libpysal Graph
    spec : ClusteringSpec, optional
        ``permutations``, ``alpha`` and ``fdr`` (True: the log lines and the
        manifest's ``headline`` quote the FDR-corrected LISA clusters and Gi* bins; both
        sets of columns are always in :meth:`ClusteringResult.to_frame`).
    seed : int, default 0
        Used by all three statistics.
    """
    spec = spec or ClusteringSpec()
    moran = global_moran(y, weights, permutations=spec.permutations, seed=seed)
    lisa = local_moran(y, weights, alpha=spec.alpha, permutations=spec.permutations, seed=seed, fdr=spec.fdr)
    gi = getis_ord(y, weights, permutations=spec.permutations, seed=seed, fdr=spec.fdr)
    return ClusteringResult(weights=weights, moran=moran, lisa=lisa, gi=gi, fdr=spec.fdr, seed=int(seed))
