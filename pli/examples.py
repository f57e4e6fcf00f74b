"""Small synthetic frames for the docstring examples and quick experiments.

Real data needs files; these need nothing, so every example in the documentation runs
as written (they are collected as doctests).
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import shapely

__all__ = ["clustered_points", "lattice"]


def lattice(side: int = 6, cell_m: float = 100.0) -> gpd.GeoDataFrame:
    """A ``side`` x ``side`` grid of square "LSOAs" whose ``score`` rises to the north-east.

    Parameters
    ----------
    side : int
        Cells per side.
    cell_m : float
        Cell width in metres (EPSG:27700).

    Returns
    -------
    GeoDataFrame
        Indexed by made-up codes ``E01000000``...; column ``score`` = column + row.

    Examples
    --------
    >>> from pli.examples import lattice
    >>> lsoa = lattice()
    >>> len(lsoa), float(lsoa["score"].max())
    (36, 10.0)
    """
    cells = [shapely.box(x * cell_m, y * cell_m, (x + 1) * cell_m, (y + 1) * cell_m)
             for y in range(side) for x in range(side)]
    score = [float(i % side + i // side) for i in range(side * side)]
    return gpd.GeoDataFrame({"score": score}, geometry=cells, crs=27700,
                            index=[f"E01{i:06d}" for i in range(side * side)])


def clustered_points(seed: int = 0) -> tuple[gpd.GeoDataFrame, shapely.Polygon]:
    """300 burglaries spread over a 1 km square plus 100 around (530625, 160625), and the square.

    Half the records are dated 2025-01, half 2025-02.

    Parameters
    ----------
    seed : int
        Seed of the generator.

    Returns
    -------
    (GeoDataFrame, Polygon)
        Points in EPSG:27700 with ``month`` and ``category``, and the study area.

    Examples
    --------
    >>> from pli.examples import clustered_points
    >>> points, area = clustered_points()
    >>> len(points), area.area
    (300, 1000000.0)
    """
    rng = np.random.default_rng(seed)
    x = np.r_[rng.uniform(530000, 531000, 200), rng.normal(530625, 30, 100)]
    y = np.r_[rng.uniform(160000, 161000, 200), rng.normal(160625, 30, 100)]
    points = gpd.GeoDataFrame({"month": ["2025-01"] * 150 + ["2025-02"] * 150, "category": ["Burglary"] * 300},
                              geometry=gpd.points_from_xy(x, y), crs=27700)
    return points, shapely.box(530000, 160000, 531000, 161000)
