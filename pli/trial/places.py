"""Eligible places of a trial and their pre-period monthly counts.

Places come from a run of ``pli index``: its patrol places (``patrol_plan.csv``, grid
cells), its top-ranked LSOAs (``rankings.csv``), or straight from the points: the grid
cells with the most records. Counts per place and month come from the config's point
source (``month`` column), assigned to cells arithmetically with
:func:`pli.patrols.locate_cells`; a square cell id ``G150-530550-160650`` is
size-easting-northing of its south-west corner, a hexagon id ``H150-q_r`` its axial
coordinates.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

import geopandas as gpd
import numpy as np
import pandas as pd

from pli.errors import InputError
from pli.patrols import locate_cells

__all__ = ["monthly_counts", "read_places", "top_cells"]

_GRID_ID = re.compile(r"^([GH])(\d+(?:\.\d+)?)-(-?\d+)[-_](-?\d+)$")


def _cell_keys(place_ids: pd.Index) -> tuple[pd.Series, float, str]:
    """``(i, j)`` of every grid place id, with the common cell size and kind."""
    parsed = [(_GRID_ID.match(str(p)), p) for p in place_ids]
    bad = [str(p) for m, p in parsed if m is None]
    if bad:
        raise InputError(f"places: {len(bad)} place ids are not grid cell ids like 'G150-530550-160650' "
                         f"({', '.join(bad[:5])}); snap-point places cannot be counted by cell, plan on "
                         "the grid (patrols.plan_place_kind: grid) or design over LSOAs")
    kinds = {m.group(1) for m, _ in parsed if m}
    sizes = {m.group(2) for m, _ in parsed if m}
    if len(kinds) > 1 or len(sizes) > 1:
        raise InputError(f"places: expected cells of one grid, got kinds {sorted(kinds)} and sizes {sorted(sizes)}")
    size = float(sizes.pop())
    kind = "square" if kinds.pop() == "G" else "hex"
    keys = {}
    for m, p in parsed:
        assert m is not None
        a, b = int(m.group(3)), int(m.group(4))
        keys[p] = (round(a / size), round(b / size)) if kind == "square" else (a, b)
    return pd.Series(keys), size, kind


def _months(points: gpd.GeoDataFrame) -> list[str]:
    if "month" not in points.columns:
        raise InputError("points: expected a 'month' column (YYYY-MM) to count per month")
    return sorted(points["month"].dropna().astype(str).unique())


def monthly_counts(points: gpd.GeoDataFrame, place_ids: pd.Index | list, *,
                   kind: Literal["grid", "lsoa"] = "grid") -> pd.DataFrame:
    """Records per place and month: places x months, zeros where nothing was recorded.

    Parameters
    ----------
    points : geopandas.GeoDataFrame
        EPSG:27700 records with ``month``; ``lsoa_code`` when ``kind="lsoa"``.
    place_ids : sequence of str
        Grid cell ids or LSOA codes.
    kind : {"grid", "lsoa"}

    Examples
    --------
    >>> from pli.examples import clustered_points
    >>> from pli.trial import monthly_counts
    >>> points, _ = clustered_points()
    >>> counts = monthly_counts(points, ["G250-530500-160500", "G250-500000-100000"])
    >>> counts.shape[0], int(counts.iloc[1].sum())
    (2, 0)
    """
    ids = pd.Index([str(p) for p in place_ids], name="place_id")
    months = _months(points)
    if kind == "lsoa":
        if "lsoa_code" not in points.columns:
            raise InputError("points: expected an 'lsoa_code' column to count per LSOA")
        key = points["lsoa_code"].astype(str)
    else:
        keys, size, grid_kind = _cell_keys(ids)
        i, j = locate_cells(points.geometry.x.to_numpy(), points.geometry.y.to_numpy(), cell_size_m=size,
                            kind=grid_kind)  # type: ignore[arg-type]
        lookup = {v: k for k, v in keys.items()}
        key = pd.Series([lookup.get(t) for t in zip(i.tolist(), j.tolist())], index=points.index, dtype=object)
    frame = pd.DataFrame({"place_id": key.to_numpy(), "month": points["month"].astype(str).to_numpy()})
    frame = frame[frame["place_id"].isin(ids)]
    table = frame.groupby(["place_id", "month"]).size().unstack(fill_value=0)
    return table.reindex(index=ids, columns=months, fill_value=0).astype(int)


def top_cells(points: gpd.GeoDataFrame, *, n: int = 20, cell_size_m: float = 150.0) -> pd.DataFrame:
    """The ``n`` square grid cells with the most records (ties by id), as place rows.

    Parameters
    ----------
    points : geopandas.GeoDataFrame
        EPSG:27700 records.
    n : int
        How many cells.
    cell_size_m : float
        Side of the square cells, on the British National Grid origin.

    Returns
    -------
    pandas.DataFrame
        ``place_id``, ``count``, ``easting``, ``northing`` (cell centre).

    Examples
    --------
    >>> from pli.examples import clustered_points
    >>> from pli.trial import top_cells
    >>> points, _ = clustered_points()  # a cluster near (530625, 160625)
    >>> top_cells(points, n=1, cell_size_m=250)[["place_id", "easting", "northing"]].to_dict("records")
    [{'place_id': 'G250-530500-160500', 'easting': 530625.0, 'northing': 160625.0}]
    """
    s = float(cell_size_m)
    i, j = locate_cells(points.geometry.x.to_numpy(), points.geometry.y.to_numpy(), cell_size_m=s)
    size = f"{s:g}"
    ids = [f"G{size}-{round(a * s)}-{round(b * s)}" for a, b in zip(i.tolist(), j.tolist())]
    counts = pd.Series(ids).value_counts()
    top = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:n]
    rows = []
    for pid, c in top:
        m = _GRID_ID.match(pid)
        assert m is not None
        rows.append((pid, int(c), int(m.group(3)) + s / 2, int(m.group(4)) + s / 2))
    return pd.DataFrame(rows, columns=["place_id", "count", "easting", "northing"])


def read_places(run_dir: str | Path, *, source: Literal["plan", "lsoa"] = "plan", top: int = 20) -> pd.DataFrame:
    """Eligible places from a run folder: its patrol places, or its ``top`` ranked LSOAs.

    Returns ``place_id``, ``neighbourhood`` (block; the ward for LSOAs outside any
    neighbourhood), ``easting`` and ``northing`` (None for LSOAs) and ``kind``.
    """
    run = Path(run_dir)
    if source == "plan":
        path = run / "patrol_plan.csv"
        if not path.is_file():
            raise InputError(f"{path}: no patrol plan in this run folder; run 'pli index' with a 'patrols' "
                             "section first, or design over LSOAs (--places lsoa)")
        plan = pd.read_csv(path, dtype={"place_id": str})
        missing = {"place_id", "neighbourhood"} - set(plan.columns)
        if missing:
            raise InputError(f"{path}: expected columns place_id and neighbourhood; "
                             f"missing {', '.join(sorted(missing))}")
        plan = plan.drop_duplicates("place_id")
        cols = [c for c in ("place_id", "neighbourhood", "easting", "northing", "lon", "lat") if c in plan.columns]
        out = plan[cols].copy()
        out["kind"] = "grid"
        return out.reset_index(drop=True)
    path = run / "rankings.csv"
    if not path.is_file():
        raise InputError(f"{path}: no rankings in this run folder; give the output folder of 'pli index'")
    rankings = pd.read_csv(path, dtype={"lsoa_code": str})
    if "rank" not in rankings.columns or "lsoa_code" not in rankings.columns:
        raise InputError(f"{path}: expected columns lsoa_code and rank")
    best = rankings.sort_values(["rank", "lsoa_code"]).head(int(top))
    block = best["ward_name"] if "ward_name" in best.columns else pd.Series("all", index=best.index)
    out = pd.DataFrame({"place_id": best["lsoa_code"].to_numpy(), "neighbourhood": block.astype(str).to_numpy(),
                        "kind": "lsoa"})
    return out


def cell_centres(place_ids: pd.Index | list) -> pd.DataFrame:
    """Centres of grid cells from their ids (``easting``, ``northing``), indexed by id.

    Examples
    --------
    >>> from pli.trial import cell_centres
    >>> cell_centres(["G150-530550-160650"]).iloc[0].tolist()
    [530625.0, 160725.0]
    """
    keys, size, kind = _cell_keys(pd.Index([str(p) for p in place_ids]))
    i = np.array([k[0] for k in keys.to_numpy()])
    j = np.array([k[1] for k in keys.to_numpy()])
    if kind == "square":
        x, y = (i + 0.5) * size, (j + 0.5) * size
    else:
        radius = size * np.sqrt(2 / (3 * np.sqrt(3)))
        x, y = radius * np.sqrt(3) * (i + j / 2.0), radius * 1.5 * j
    return pd.DataFrame({"easting": x, "northing": y}, index=keys.index)
