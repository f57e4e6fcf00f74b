"""The upper layer: LSOAs assigned to wards by largest overlap, or dissolved from a table
(e.g. 2011 MSOAs) when no ward boundaries are available."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import CRS

from pli._codes import list_codes, normalise_codes
from pli.boundaries.reading import _check_columns, _read_table
from pli.config import UpperFromTableSpec
from pli.errors import InputError

__all__ = [
    "SPLIT_SHARE",
    "assign_to_wards",
    "dissolve_upper_layer",
]

logger = logging.getLogger(__name__)


SPLIT_SHARE = 0.9


_WARD_COLUMNS = ("ward_code", "ward_name", "ward_overlap_share")


def _check_same_crs(a: gpd.GeoDataFrame, b: gpd.GeoDataFrame, *, names: tuple[str, str]) -> None:
    if a.crs is None or b.crs is None or not CRS.from_user_input(a.crs).equals(CRS.from_user_input(b.crs)):
        sa = a.crs.to_string() if a.crs is not None else "none"
        sb = b.crs.to_string() if b.crs is not None else "none"
        raise InputError(
            f"{names[0]} and {names[1]} must share a CRS but are {sa} and {sb}; "
            "read both with read_polygons (which reprojects to EPSG:27700)"
        )


def assign_to_wards(
    lsoa: gpd.GeoDataFrame,
    wards: gpd.GeoDataFrame,
    *,
    split_share: float = SPLIT_SHARE,
    layer: str = "wards",
) -> gpd.GeoDataFrame:
    """Assign each LSOA to the ward holding the largest share of its area.

    Parameters
    ----------
    lsoa : GeoDataFrame
        LSOA polygons indexed by code.
    wards : GeoDataFrame
        Ward polygons indexed by ward code, with a ``ward_name`` column, in the same CRS.
    split_share : float
        LSOAs whose largest share is below this are counted (and logged) as split
        across wards.
    layer : str
        What the log lines call the upper layer: ``"wards"`` (default), or
        ``"upper areas"`` when it was dissolved from a table (MSOAs, say).

    Returns
    -------
    GeoDataFrame
        A copy of ``lsoa`` with ``ward_code``, ``ward_name`` and ``ward_overlap_share``
        (0-1) added before the geometry column.

    Raises
    ------
    InputError
        CRSs differ, ``wards`` lacks ``ward_name``, or some LSOAs overlap no ward at
        all (named in the message).
    """
    _check_same_crs(lsoa, wards, names=("LSOA layer", "ward layer"))
    if "ward_name" not in wards.columns:
        raise InputError(
            f"ward layer: expected a 'ward_name' column, found {', '.join(map(str, wards.columns))}"
        )
    lsoa_geoms = lsoa.geometry.to_numpy()
    ward_geoms = wards.geometry.to_numpy()
    li, wi = shapely.STRtree(ward_geoms).query(lsoa_geoms, predicate="intersects")
    overlap = shapely.area(shapely.intersection(lsoa_geoms[li], ward_geoms[wi]))
    lsoa_area = shapely.area(lsoa_geoms)

    # Largest overlap per LSOA; ties go to the first ward in row order (code order, as
    # read_polygons sorts), never to whichever came first in the file.
    order = np.lexsort((wi, -overlap, li))
    li_s, wi_s, ov_s = li[order], wi[order], overlap[order]
    first = np.r_[True, li_s[1:] != li_s[:-1]] if len(li_s) else np.zeros(0, bool)
    best_ward = np.full(len(lsoa), -1)
    best_area = np.zeros(len(lsoa))
    best_ward[li_s[first]] = wi_s[first]
    best_area[li_s[first]] = ov_s[first]

    none = best_area <= 0
    if none.any():
        raise InputError(
            f"{int(none.sum())} of {len(lsoa)} LSOAs overlap no ward at all: {list_codes(lsoa.index[none])}. "
            f"The ward layer covers x {wards.total_bounds[0]:.0f}..{wards.total_bounds[2]:.0f}, "
            f"y {wards.total_bounds[1]:.0f}..{wards.total_bounds[3]:.0f}; check that both files cover "
            "the same area and that their CRSs are right"
        )
    share = np.clip(best_area / lsoa_area, 0.0, 1.0)
    covered = np.bincount(li, weights=overlap, minlength=len(lsoa)) / lsoa_area
    partly = covered < 0.5
    if partly.any():
        logger.warning(
            "%d LSOAs lie mostly outside all %s (under half their area covered): %s",
            int(partly.sum()),
            layer,
            list_codes(lsoa.index[partly]),
        )
    n_split = int((share < split_share).sum())
    logger.info(
        "assigned %d LSOAs to %d of %d %s by largest area overlap; %d split across %s (share < %.2f)",
        len(lsoa),
        len(np.unique(best_ward)),
        len(wards),
        layer,
        n_split,
        layer,
        split_share,
    )

    geom_name = lsoa.geometry.name
    out = lsoa.drop(columns=[c for c in _WARD_COLUMNS if c in lsoa.columns])
    ward_codes = wards.index.to_numpy()[best_ward]
    ward_names = wards["ward_name"].to_numpy()[best_ward]
    out = out.assign(
        ward_code=pd.array(ward_codes, dtype="str"),
        ward_name=pd.array(ward_names, dtype="str"),
        ward_overlap_share=share,
    )
    cols = [c for c in out.columns if c != geom_name] + [geom_name]
    return out[cols]


def upper_codes_from_table(
    lsoa: gpd.GeoDataFrame,
    table_spec: UpperFromTableSpec,
    *,
    resolve: Callable[[str], Path] = Path,
) -> pd.DataFrame:
    """Each LSOA's upper-layer code and name, read from a table (MSOA codes, say).

    Parameters
    ----------
    lsoa : GeoDataFrame
        LSOA polygons indexed by code.
    table_spec : UpperFromTableSpec
        The table (CSV) and its LSOA-code, upper-code and optional upper-name columns.
        Columns are selected by name, so duplicate or empty headers elsewhere in the
        file do no harm.
    resolve : callable
        Turns the configured path into a file path (``cfg.resolve``).

    Returns
    -------
    DataFrame
        Indexed like ``lsoa``, columns ``code`` and ``name`` (the name kept for a code is
        that of its first LSOA in code order).

    Raises
    ------
    InputError
        Columns missing (closest suggested), LSOAs missing from the table, or one
        LSOA given two different upper codes.
    """
    path = Path(resolve(table_spec.path))
    what = "upper-layer table"
    table = _read_table(path, what=what, thousands=table_spec.thousands)
    _check_columns(
        table,
        {
            "lsoa_column": table_spec.lsoa_column,
            "code_column": table_spec.code_column,
            "name_column": table_spec.name_column,
        },
        what=what,
        path=path,
    )
    name_col = table_spec.name_column or table_spec.code_column
    sel = pd.DataFrame(
        {
            "lsoa": normalise_codes(table[table_spec.lsoa_column], where=f"{what} ({path.name})",
                                    column=table_spec.lsoa_column),
            "code": table[table_spec.code_column].str.strip(),
            "name": table[name_col].str.strip(),
        }
    ).dropna(subset=["lsoa", "code"])
    # Code order, so the name kept for an upper code does not depend on the file's row order.
    sel = sel.sort_values(["lsoa", "code"], kind="mergesort").drop_duplicates(["lsoa", "code"])
    conflict = sel["lsoa"][sel["lsoa"].duplicated(keep=False)]
    if len(conflict):
        raise InputError(
            f"{what}: {conflict.nunique()} LSOA(s) in column {table_spec.lsoa_column!r} have more than one "
            f"{table_spec.code_column!r}: {list_codes(sorted(conflict.unique()))}; each LSOA must sit in one "
            "upper area",
            path=str(path),
        )
    sel = sel.set_index("lsoa")
    missing = lsoa.index.difference(sel.index)
    if len(missing):
        raise InputError(
            f"{what}: {len(missing)} of {len(lsoa)} LSOAs are not in column {table_spec.lsoa_column!r}: "
            f"{list_codes(missing)}; the table must list every LSOA of the boundary file (same vintage)",
            path=str(path),
        )
    codes = sel["code"].reindex(lsoa.index)
    first_name = sel.drop_duplicates("code").set_index("code")["name"]
    return pd.DataFrame(
        {"code": codes.to_numpy(), "name": first_name.reindex(codes.to_numpy()).to_numpy()}, index=lsoa.index
    )


def dissolve_upper_layer(
    lsoa: gpd.GeoDataFrame,
    table_spec: UpperFromTableSpec,
    *,
    resolve: Callable[[str], Path] = Path,
) -> gpd.GeoDataFrame:
    """Build the upper layer by dissolving LSOAs on a code column of a table.

    Parameters
    ----------
    lsoa : GeoDataFrame
        LSOA polygons indexed by code.
    table_spec : UpperFromTableSpec
        The table (CSV) and its LSOA-code, upper-code and optional upper-name columns
        (read by :func:`upper_codes_from_table`).
    resolve : callable
        Turns the configured path into a file path (``cfg.resolve``).

    Returns
    -------
    GeoDataFrame
        Indexed ``ward_code`` with ``ward_name`` and ``geometry``, one row per upper
        code that holds at least one of the LSOAs.

    Raises
    ------
    InputError
        As :func:`upper_codes_from_table`.
    """
    codes = upper_codes_from_table(lsoa, table_spec, resolve=resolve)
    source = f"{table_spec.code_column!r} from {Path(resolve(table_spec.path)).name}"
    return dissolve_by_code(lsoa, codes, source=source)


def dissolve_by_code(lsoa: gpd.GeoDataFrame, codes: pd.DataFrame, *, source: str = "codes") -> gpd.GeoDataFrame:
    """The upper layer: LSOAs dissolved on ``codes["code"]``, named ``codes["name"]``
    (:func:`upper_codes_from_table`); ``source`` says where the codes came from in the log."""
    parts = gpd.GeoDataFrame(
        {"ward_code": codes["code"].reindex(lsoa.index).to_numpy()},
        geometry=lsoa.geometry.to_numpy(),
        crs=lsoa.crs,
    )
    wards = parts.dissolve(by="ward_code")
    names = codes.drop_duplicates("code").set_index("code")["name"]
    wards.insert(0, "ward_name", pd.array(names.reindex(wards.index).to_numpy(), dtype="str"))
    wards.index = pd.Index(wards.index.astype(str), name="ward_code")
    logger.info("upper layer: dissolved %d LSOAs into %d areas on %s", len(lsoa), len(wards), source)
    return wards[["ward_name", wards.geometry.name]]


def assign_by_code(
    lsoa: gpd.GeoDataFrame, wards: gpd.GeoDataFrame, codes: pd.DataFrame, *, layer: str = "upper areas"
) -> gpd.GeoDataFrame:
    """Each LSOA in the upper-layer area the table names: what :func:`assign_to_wards`
    finds for an upper layer dissolved from these LSOAs, without the overlay.

    An upper layer built by :func:`dissolve_by_code` holds each LSOA whole, so its
    ``ward_overlap_share`` is 1 by construction; at national scale the overlay of
    34,753 LSOAs with 7,201 MSOAs it replaces costs seconds.
    """
    code = codes["code"].reindex(lsoa.index)
    known = code.isin(wards.index).to_numpy()
    if not known.all():
        raise InputError(
            f"{int((~known).sum())} of {len(lsoa)} LSOAs have an upper-layer code with no area: "
            f"{list_codes(lsoa.index[~known])}"
        )
    logger.info("assigned %d LSOAs to %d %s by the table's codes (each LSOA whole in its area)",
                len(lsoa), int(code.nunique()), layer)
    geom_name = lsoa.geometry.name
    out = lsoa.drop(columns=[c for c in _WARD_COLUMNS if c in lsoa.columns])
    out = out.assign(
        ward_code=pd.array(code.astype(str).to_numpy(), dtype="str"),
        ward_name=pd.array(wards["ward_name"].reindex(code.to_numpy()).astype(str).to_numpy(), dtype="str"),
        ward_overlap_share=np.ones(len(out)),
    )
    cols = [c for c in out.columns if c != geom_name] + [geom_name]
    return out[cols]
