"""Spatial weights for LSOAs: contiguity, k-nearest or distance band, islands repaired.

Weights are :class:`libpysal.graph.Graph` objects (binary, in the order of the LSOA
frame). Islands and disconnected components never crash the analysis: every island is
joined to its nearest polygon(s) and every other component to the nearest polygon of the
main component. Each added link is logged with both LSOA codes and kept on the result.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

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
    "SpatialWeights",
    "build_weights",
]

logger = logging.getLogger(__name__)


_KIND_LABELS = {
    "queen": "queen contiguity",
    "rook": "rook contiguity",
    "knn": "k-nearest neighbours",
    "distance_band": "distance band",
}


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

    Examples
    --------
    >>> from pli.examples import lattice
    >>> lsoa = lattice()  # 6 x 6 squares, score rising to the north-east
    >>> from pli.stats.weights import build_weights
    >>> build_weights(lsoa)
    queen contiguity: 36 LSOAs, 0 islands, 1 component
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
                raise InputError(
                    f"clustering.distance_m: expected a positive distance in metres, got {spec.distance_m}"
                )
        graph = Graph.build_distance_band(cent, distance_m)
    else:  # pragma: no cover - the config parser already restricts the literal
        raise InputError(f"clustering.weights: expected one of queen, rook, knn, distance_band, got {kind!r}")
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
            f"expected a projected CRS in metres (EPSG:27700), got {geoms.crs!s}; reproject with .to_crs(27700)"
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
        (src, dst), d = tree.query_nearest(geom_arr[islands], return_distance=True, exclusive=True, all_matches=True)
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
        (src, dst), d = main_tree.query_nearest(geom_arr[outside], return_distance=True, all_matches=False)
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


def _as_graph(weights: SpatialWeights | Graph) -> Graph:
    if isinstance(weights, SpatialWeights):
        return weights.graph
    if isinstance(weights, Graph):
        return weights
    raise InputError(
        f"weights: expected SpatialWeights (from build_weights) or a libpysal Graph, got {type(weights).__name__}"
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
