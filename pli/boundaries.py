"""LSOA polygons, the upper layer they sit in, and LSOA-vintage reconciliation.

The boundaries stage reads the LSOA layer and the upper layer (wards, or an upper
layer dissolved from a code table), reprojects both to EPSG:27700, repairs invalid
geometries, assigns every LSOA to the ward holding the largest share of its area, and
reads the ONS LSOA 2011 <-> 2021 lookup used to bring tables of either (or mixed)
vintage onto the boundary vintage.

Examples
--------
>>> from pli.config import load_config
>>> from pli.boundaries import load_boundaries
>>> cfg = load_config("configs/croydon-demo.yml")          # doctest: +SKIP
>>> b = load_boundaries(cfg)                                # doctest: +SKIP
>>> b                                                       # doctest: +SKIP
Boundaries(220 LSOAs (2011), 44 wards, 0 geometries repaired, lookup 229 rows)
"""

from __future__ import annotations

import difflib
import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import shapely
from pyproj import CRS

from pli._codes import normalise_codes
from pli.config import BoundaryLayerSpec, StudyConfig, UpperFromTableSpec, VintageLookupSpec
from pli.errors import InputError

__all__ = [
    "Boundaries",
    "Coverage",
    "Reconciled",
    "assign_to_wards",
    "check_coverage",
    "dissolve_upper_layer",
    "find_overlaps",
    "load_boundaries",
    "read_polygons",
    "read_vintage_lookup",
    "reconcile_codes",
    "unmatched_codes",
]

logger = logging.getLogger(__name__)

METRIC_CRS = "EPSG:27700"
SPLIT_SHARE = 0.9
# British National Grid with a generous margin: anything outside is not in Great
# Britain, which for LSOAs means a wrong or missing CRS.
_BNG_BOUNDS = (-100_000.0, -100_000.0, 800_000.0, 1_400_000.0)
_POLYGON, _MULTIPOLYGON = 3, 6
_CHANGE_CODES = {"U": "unchanged", "S": "split", "M": "merged", "X": "complex"}
_WARD_COLUMNS = ("ward_code", "ward_name", "ward_overlap_share")
# Generalised boundaries overlap their neighbours by slivers; more than this share of
# the smaller polygon is a duplicated or misdrawn area, which would count events twice.
OVERLAP_SHARE = 0.01


# --------------------------------------------------------------------------- results


@dataclass(frozen=True, eq=False)
class Boundaries:
    """The LSOA layer, the upper layer and the vintage lookup of one study area.

    Attributes
    ----------
    lsoa : GeoDataFrame
        Index ``lsoa_code``; columns ``lsoa_name``, ``ward_code``, ``ward_name``,
        ``ward_overlap_share`` (share of the LSOA's area in its ward, 0-1) and
        ``geometry`` in EPSG:27700.
    wards : GeoDataFrame
        Index ``ward_code``; columns ``ward_name`` and ``geometry`` in EPSG:27700.
        When the upper layer is dissolved from a table these are not electoral wards;
        ``cfg.area.upper_layer_label`` says what they are.
    lsoa_vintage : int
        2011 or 2021: the vintage of ``lsoa.index``.
    lookup : DataFrame or None
        LSOA11 -> LSOA21 lookup (columns ``lsoa11``, ``lsoa21``, ``change``).
    files : tuple of Path
        Every file read, for the manifest.
    repaired_codes : tuple of str
        LSOA and ward codes whose geometry was invalid and repaired.
    overlaps : DataFrame or None
        LSOA pairs overlapping by more than ``OVERLAP_SHARE`` of the smaller polygon
        (see :func:`find_overlaps`).
    """

    lsoa: gpd.GeoDataFrame
    wards: gpd.GeoDataFrame
    lsoa_vintage: int
    lookup: pd.DataFrame | None
    files: tuple[Path, ...]
    repaired_codes: tuple[str, ...] = ()
    overlaps: pd.DataFrame | None = None

    def to_frame(self) -> pd.DataFrame:
        """The LSOA table without geometry (one row per LSOA)."""
        return pd.DataFrame(self.lsoa.drop(columns=self.lsoa.geometry.name))

    def __repr__(self) -> str:
        lookup = "no lookup" if self.lookup is None else f"lookup {len(self.lookup)} rows"
        return (
            f"Boundaries({len(self.lsoa)} LSOAs ({self.lsoa_vintage}), {len(self.wards)} wards, "
            f"{len(self.repaired_codes)} geometries repaired, {lookup})"
        )


@dataclass(frozen=True, eq=False)
class Reconciled:
    """A table brought onto the boundary vintage by :func:`reconcile_codes`.

    Attributes
    ----------
    table : DataFrame
        Indexed ``lsoa_code`` in the target vintage (only codes that received a
        value, in the order of ``target_codes``); same columns as the input.
    dropped_codes : tuple of str
        Input codes found neither among the target codes nor in the lookup (or that
        map only to LSOAs outside the target set); their rows are not in ``table``.
    mapped_codes : int
        Number of input codes translated through the lookup.
    totals_before, totals_after, totals_dropped : Series
        Column sums of the input, the output and the dropped rows. For
        ``aggregation="sum"`` ``totals_before == totals_after + totals_dropped``.
    aggregation : str
        ``"sum"`` or ``"mean"``.
    target_vintage : int
        2011 or 2021.
    """

    table: pd.DataFrame
    dropped_codes: tuple[str, ...]
    mapped_codes: int
    totals_before: pd.Series
    totals_after: pd.Series
    totals_dropped: pd.Series
    aggregation: str = "sum"
    target_vintage: int = 2011

    def to_frame(self) -> pd.DataFrame:
        """Column totals before, after and dropped: one row per column of the table."""
        return pd.DataFrame(
            {"before": self.totals_before, "after": self.totals_after, "dropped": self.totals_dropped}
        )

    def __repr__(self) -> str:
        return (
            f"Reconciled({len(self.table)} LSOAs ({self.target_vintage}), {self.mapped_codes} mapped, "
            f"{len(self.dropped_codes)} dropped, aggregation={self.aggregation!r})"
        )


# --------------------------------------------------------------------------- helpers


def _preview(items: Iterable[object], n: int = 10) -> str:
    items = [str(i) for i in items]
    head = ", ".join(items[:n])
    return head if len(items) <= n else f"{head} (and {len(items) - n} more)"


def _missing_field(name: str, available: Sequence[str], *, option: str, what: str) -> str:
    available = [str(a) for a in available]
    same_case = [a for a in available if a.lower() == name.lower()]
    close = same_case or difflib.get_close_matches(name, available, n=1, cutoff=0.5)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    return (
        f"{what}: {option} {name!r} is not a field of this file{hint} "
        f"Available fields: {', '.join(available) or 'none'}. Set {option} to one of them."
    )


def _check_columns(frame: pd.DataFrame, wanted: dict[str, str | None], *, what: str, path: Path | str) -> None:
    problems = [
        _missing_field(col, list(frame.columns), option=opt, what=what)
        for opt, col in wanted.items()
        if col is not None and col not in frame.columns
    ]
    if problems:
        raise InputError(problems, path=str(path))


def _clean_codes(values: pd.Series, *, field: str, what: str, path: Path | str) -> pd.Series:
    """Codes as stripped, upper-case strings; null or duplicated codes raise."""
    codes = normalise_codes(values, where=f"{what} ({Path(path).name})", column=field)
    null = codes.isna() | codes.eq("")
    if null.any():
        rows = np.flatnonzero(null.to_numpy())
        raise InputError(
            f"{what}: {int(null.sum())} feature(s) have no code in field {field!r} "
            f"(feature numbers {_preview(rows)}, counting from 0); every feature needs a code",
            path=str(path),
        )
    dup = codes[codes.duplicated(keep=False)]
    if len(dup):
        raise InputError(
            f"{what}: codes in field {field!r} must be unique but {dup.nunique()} appear more than "
            f"once: {_preview(sorted(dup.unique()))}; dissolve the parts into one feature per code "
            "or check that code_field is the right field",
            path=str(path),
        )
    return codes.astype(str)


def _polygonal_parts(geoms: np.ndarray) -> np.ndarray:
    """Keep only the polygonal parts of each geometry (None where nothing is left)."""
    parts, idx = shapely.get_parts(geoms, return_index=True)
    # GeometryCollections from make_valid can hold MultiPolygons: split one level more.
    parts, inner = shapely.get_parts(parts, return_index=True)
    idx = idx[inner]
    keep = (shapely.get_type_id(parts) == _POLYGON) & ~shapely.is_empty(parts)
    parts, idx = parts[keep], idx[keep]
    out = np.full(len(geoms), None, dtype=object)
    if len(parts):
        shapely.multipolygons(parts, indices=idx, out=out)
        counts = np.bincount(idx, minlength=len(geoms))
        single = counts[idx] == 1
        out[idx[single]] = parts[single]
    return out


def _check_extent(
    gdf: gpd.GeoDataFrame,
    *,
    source_crs: CRS,
    source_bounds: tuple[float, ...],
    what: str,
    path: Path,
) -> None:
    if gdf.empty:
        return
    xmin, ymin, xmax, ymax = gdf.total_bounds
    if source_crs.is_projected:
        sxmin, symin, sxmax, symax = source_bounds
        looks_degrees = -180 <= sxmin <= sxmax <= 180 and -90 <= symin <= symax <= 90
        if looks_degrees and (sxmax - sxmin) < 10 and (symax - symin) < 10:
            raise InputError(
                f"{what}: the file says its CRS is {source_crs.to_string()} (metres) but its "
                f"coordinates span only {sxmin:.4f}..{sxmax:.4f}, {symin:.4f}..{symax:.4f}, which looks "
                "like longitude/latitude; fix the .prj/CRS of the file (EPSG:4326 for lon/lat)",
                path=str(path),
            )
    bx0, by0, bx1, by1 = _BNG_BOUNDS
    if not (np.isfinite([xmin, ymin, xmax, ymax]).all() and bx0 <= xmin and xmax <= bx1 and by0 <= ymin and ymax <= by1):
        raise InputError(
            f"{what}: after reprojection from {source_crs.to_string()} to EPSG:27700 the polygons lie "
            f"at x {xmin:.0f}..{xmax:.0f}, y {ymin:.0f}..{ymax:.0f}, outside Great Britain; the CRS "
            "of the file (or the crs: set in the config) is probably wrong",
            path=str(path),
        )


# --------------------------------------------------------------------------- reading


def _read_polygons(
    path: str | Path,
    *,
    code_field: str,
    name_field: str | None,
    layer: str | None,
    crs: str | None,
    what: str,
    index_name: str,
    name_column: str,
    target_crs: str,
) -> tuple[gpd.GeoDataFrame, tuple[str, ...]]:
    path = Path(path)
    if not path.exists():
        raise InputError(f"{what} boundary file not found; check the path in the config", path=str(path))
    try:
        layers = pyogrio.list_layers(path)
    except Exception as exc:  # GDAL raises many types; the message is what matters
        raise InputError(f"{what}: GDAL cannot read this file as vector data ({exc})", path=str(path)) from None
    names = [str(n) for n in layers[:, 0]]
    if layer is not None and layer not in names:
        close = difflib.get_close_matches(layer, names, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise InputError(
            f"{what}: layer {layer!r} not found{hint} Layers in the file: {', '.join(names)}; set layer: to one",
            path=str(path),
        )
    if layer is None and len(names) > 1:
        raise InputError(
            f"{what}: the file holds {len(names)} layers ({', '.join(names)}); set layer: to the one "
            "holding the polygons",
            path=str(path),
        )
    gdf = gpd.read_file(path, layer=layer, engine="pyogrio")
    _check_columns(gdf, {"code_field": code_field, "name_field": name_field}, what=what, path=path)

    if gdf.crs is None:
        if crs is None:
            raise InputError(
                f"{what}: the file carries no coordinate reference system; set crs: in the config "
                "(e.g. crs: EPSG:27700 for British National Grid, EPSG:4326 for longitude/latitude)",
                path=str(path),
            )
        logger.info("%s: file has no CRS, using %s from the config", what, crs)
        gdf = gdf.set_crs(crs)
    elif crs is not None and CRS.from_user_input(crs) != gdf.crs:
        logger.info("%s: file declares %s; ignoring crs: %s from the config", what, gdf.crs.to_string(), crs)
    source_crs = CRS.from_user_input(gdf.crs)

    codes = _clean_codes(gdf[code_field], field=code_field, what=what, path=path)
    names_ = codes if name_field is None else gdf[name_field].astype("string").str.strip()

    geoms = gdf.geometry.to_numpy()
    missing = shapely.is_missing(geoms) | shapely.is_empty(geoms)
    if missing.any():
        raise InputError(
            f"{what}: {int(missing.sum())} feature(s) have no geometry: {_preview(codes[missing])}",
            path=str(path),
        )
    types = shapely.get_type_id(geoms)
    bad = ~np.isin(types, (_POLYGON, _MULTIPOLYGON))
    if bad.any():
        found = sorted({shapely.GeometryType(t).name.title() for t in np.unique(types[bad])})
        raise InputError(
            f"{what}: expected Polygon or MultiPolygon features, but {int(bad.sum())} are "
            f"{', '.join(found)}: {_preview(codes[bad])}; this does not look like an area layer",
            path=str(path),
        )

    source_bounds = tuple(gdf.total_bounds)
    out = gpd.GeoDataFrame(
        {name_column: pd.array(names_.to_numpy(), dtype="str")},
        geometry=gpd.GeoSeries(shapely.force_2d(geoms), crs=gdf.crs).to_crs(target_crs).to_numpy(),
        crs=target_crs,
        index=pd.Index(codes.to_numpy(), name=index_name, dtype="str"),
    )
    # Features in code order, whatever the file's order: contiguity weights, permutation
    # draws and tie-breaks downstream follow row order, so results must not depend on it.
    out = out.sort_index(kind="mergesort")
    if CRS.from_user_input(target_crs) == CRS.from_epsg(27700):
        _check_extent(out, source_crs=source_crs, source_bounds=source_bounds, what=what, path=path)

    # Validity is checked in the metric CRS because that is where areas are computed.
    geoms = out.geometry.to_numpy()
    invalid = ~shapely.is_valid(geoms)
    repaired: tuple[str, ...] = ()
    if invalid.any():
        fixed = _polygonal_parts(shapely.make_valid(geoms[invalid]))
        lost = shapely.is_missing(fixed)
        bad_codes = out.index[invalid]
        if lost.any():
            raise InputError(
                f"{what}: {int(lost.sum())} invalid geometries have no area left after repair "
                f"(degenerate polygons): {_preview(bad_codes[lost])}",
                path=str(path),
            )
        geoms = geoms.copy()
        geoms[invalid] = fixed
        out = out.set_geometry(gpd.GeoSeries(geoms, index=out.index, crs=out.crs))
        repaired = tuple(bad_codes)
        logger.warning(
            "%s: repaired %d invalid geometries with shapely.make_valid (kept polygonal parts): %s",
            what,
            len(repaired),
            _preview(repaired),
        )
    logger.info(
        "%s: read %d polygons from %s (%s -> %s)",
        what,
        len(out),
        path.name,
        source_crs.to_string(),
        target_crs,
    )
    return out, repaired


def read_polygons(
    path: str | Path,
    *,
    code_field: str,
    name_field: str | None = None,
    layer: str | None = None,
    crs: str | None = None,
    what: str = "LSOA",
    index_name: str = "code",
    name_column: str = "name",
    target_crs: str = METRIC_CRS,
) -> gpd.GeoDataFrame:
    """Read one polygon layer (any GDAL format), validated and in EPSG:27700.

    Parameters
    ----------
    path : str or Path
        GeoJSON, GeoPackage, Shapefile or any other vector format GDAL reads.
    code_field : str
        Field holding the area code (e.g. ``LSOA11CD``); must be non-null and unique.
    name_field : str, optional
        Field holding the area name; the code is used when omitted.
    layer : str, optional
        Layer to read from a multi-layer source (GeoPackage); required when the
        file holds more than one layer.
    crs : str, optional
        CRS to assume when the file carries none; ignored otherwise.
    what : str
        What the layer holds, used in messages ("LSOA", "ward").
    index_name : str
        Name of the returned index (e.g. ``"lsoa_code"``).
    name_column : str
        Name of the returned name column (e.g. ``"lsoa_name"``).
    target_crs : str
        CRS of the result (default EPSG:27700).

    Returns
    -------
    GeoDataFrame
        Indexed by code, with ``name_column`` and ``geometry`` (Polygon or
        MultiPolygon, valid) in ``target_crs``. Other fields are not kept.

    Raises
    ------
    InputError
        File missing or unreadable, layer ambiguous, no CRS and no ``crs``, fields
        missing (the closest field is suggested), null or duplicated codes, empty or
        non-polygonal geometries, or polygons that land outside Great Britain.

    Notes
    -----
    Invalid geometries (self-intersections such as bow-ties) are repaired with
    :func:`shapely.make_valid`, keeping only polygonal parts, and logged with their
    codes.
    """
    out, _ = _read_polygons(
        path,
        code_field=code_field,
        name_field=name_field,
        layer=layer,
        crs=crs,
        what=what,
        index_name=index_name,
        name_column=name_column,
        target_crs=target_crs,
    )
    return out


# --------------------------------------------------------------------------- upper layer


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
            f"{int(none.sum())} of {len(lsoa)} LSOAs overlap no ward at all: {_preview(lsoa.index[none])}. "
            f"The ward layer covers x {wards.total_bounds[0]:.0f}..{wards.total_bounds[2]:.0f}, "
            f"y {wards.total_bounds[1]:.0f}..{wards.total_bounds[3]:.0f}; check that both files cover "
            "the same area and that their CRSs are right"
        )
    share = np.clip(best_area / lsoa_area, 0.0, 1.0)
    covered = np.bincount(li, weights=overlap, minlength=len(lsoa)) / lsoa_area
    partly = covered < 0.5
    if partly.any():
        logger.warning(
            "%d LSOAs lie mostly outside every ward (under half their area covered): %s",
            int(partly.sum()),
            _preview(lsoa.index[partly]),
        )
    n_split = int((share < split_share).sum())
    logger.info(
        "assigned %d LSOAs to %d of %d wards by largest area overlap; %d split across wards (share < %.2f)",
        len(lsoa),
        len(np.unique(best_ward)),
        len(wards),
        n_split,
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


def _read_table(path: Path, *, what: str, thousands: str | None = None) -> pd.DataFrame:
    if not path.is_file():
        raise InputError(f"{what} not found; check the path in the config", path=str(path))
    try:
        # utf-8-sig strips the BOM ONS downloads often carry.
        return pd.read_csv(path, dtype=str, encoding="utf-8-sig", thousands=thousands)
    except (UnicodeDecodeError, pd.errors.ParserError) as exc:
        raise InputError(f"{what}: cannot be read as a UTF-8 CSV ({exc})", path=str(path)) from None


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
        The table (CSV) and its LSOA-code, upper-code and optional upper-name columns.
        Columns are selected by name, so duplicate or empty headers elsewhere in the
        file do no harm.
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
            f"{table_spec.code_column!r}: {_preview(sorted(conflict.unique()))}; each LSOA must sit in one "
            "upper area",
            path=str(path),
        )
    sel = sel.set_index("lsoa")
    missing = lsoa.index.difference(sel.index)
    if len(missing):
        raise InputError(
            f"{what}: {len(missing)} of {len(lsoa)} LSOAs are not in column {table_spec.lsoa_column!r}: "
            f"{_preview(missing)}; the table must list every LSOA of the boundary file (same vintage)",
            path=str(path),
        )
    codes = sel["code"].reindex(lsoa.index)
    parts = gpd.GeoDataFrame(
        {"ward_code": codes.to_numpy()},
        geometry=lsoa.geometry.to_numpy(),
        crs=lsoa.crs,
    )
    wards = parts.dissolve(by="ward_code")
    names = sel.drop_duplicates("code").set_index("code")["name"]
    wards.insert(0, "ward_name", pd.array(names.reindex(wards.index).to_numpy(), dtype="str"))
    wards.index = pd.Index(wards.index.astype(str), name="ward_code")
    logger.info(
        "upper layer: dissolved %d LSOAs into %d areas on %r from %s",
        len(lsoa),
        len(wards),
        table_spec.code_column,
        path.name,
    )
    return wards[["ward_name", wards.geometry.name]]


# --------------------------------------------------------------------------- vintages


def read_vintage_lookup(
    spec: VintageLookupSpec,
    *,
    resolve: Callable[[str], Path] = Path,
) -> pd.DataFrame:
    """Read an ONS LSOA 2011 -> 2021 lookup.

    Parameters
    ----------
    spec : VintageLookupSpec
        The CSV and its LSOA11, LSOA21 and (optional) change-indicator columns.
    resolve : callable
        Turns the configured path into a file path (``cfg.resolve``).

    Returns
    -------
    DataFrame
        Columns ``lsoa11``, ``lsoa21`` and ``change`` (``U`` unchanged, ``S`` split,
        ``M`` merged, ``X`` complex), one row per distinct pair. Without a change
        column the change is derived from how often each code appears.

    Raises
    ------
    InputError
        Columns missing, empty codes, unknown change codes, or one pair given two
        change codes.
    """
    path = Path(resolve(spec.path))
    what = "LSOA vintage lookup"
    raw = _read_table(path, what=what)
    _check_columns(
        raw,
        {
            "from_2011_column": spec.from_2011_column,
            "to_2021_column": spec.to_2021_column,
            "change_column": spec.change_column,
        },
        what=what,
        path=path,
    )
    lk = pd.DataFrame(
        {
            "lsoa11": normalise_codes(raw[spec.from_2011_column], where=f"{what} ({path.name})",
                                      column=spec.from_2011_column),
            "lsoa21": normalise_codes(raw[spec.to_2021_column], where=f"{what} ({path.name})",
                                      column=spec.to_2021_column),
        }
    )
    empty = lk.isna().any(axis=1) | lk.eq("").any(axis=1)
    if empty.any():
        rows = np.flatnonzero(empty.to_numpy()) + 2  # +2: header line and 1-based lines
        raise InputError(
            f"{what}: {int(empty.sum())} row(s) lack an LSOA code (lines {_preview(rows)}); every row "
            f"needs both {spec.from_2011_column!r} and {spec.to_2021_column!r}",
            path=str(path),
        )
    n11 = lk.groupby("lsoa11")["lsoa21"].transform("nunique")
    n21 = lk.groupby("lsoa21")["lsoa11"].transform("nunique")
    derived = np.select(
        [(n11 > 1) & (n21 > 1), n11 > 1, n21 > 1], ["X", "S", "M"], default="U"
    )
    if spec.change_column is None:
        lk["change"] = pd.array(derived, dtype="str")
    else:
        change = raw[spec.change_column].str.strip().str.upper()
        unknown = ~change.isin(list(_CHANGE_CODES))
        if unknown.any():
            raise InputError(
                f"{what}: column {spec.change_column!r} must hold U, S, M or X, found "
                f"{_preview(sorted(change[unknown].fillna('<empty>').unique()))}; or set change_column: null "
                "to derive changes from the codes",
                path=str(path),
            )
        lk["change"] = change
    lk = lk.drop_duplicates()
    clash = lk[lk.duplicated(["lsoa11", "lsoa21"], keep=False)]
    if len(clash):
        raise InputError(
            f"{what}: {len(clash)} rows give the same LSOA pair different change codes: "
            f"{_preview((clash['lsoa11'] + '->' + clash['lsoa21']).unique())}",
            path=str(path),
        )
    counts = lk["change"].value_counts()
    logger.info(
        "vintage lookup: %d pairs (%s) from %s",
        len(lk),
        ", ".join(f"{k} {v}" for k, v in counts.items()),
        path.name,
    )
    # Code order, so sums over several source LSOAs add up in the same order every run.
    return lk.sort_values(["lsoa11", "lsoa21"], kind="mergesort").reset_index(drop=True)


def unmatched_codes(
    codes: pd.Index | Sequence[str],
    lookup: pd.DataFrame | None,
    *,
    target_codes: pd.Index | Sequence[str],
    target_vintage: Literal[2011, 2021],
) -> pd.Index:
    """The codes :func:`reconcile_codes` drops: neither target codes nor mapped onto one.

    Parameters
    ----------
    codes : Index or sequence of str
        LSOA codes of a source table (either vintage).
    lookup : DataFrame or None
        From :func:`read_vintage_lookup`; ``None`` when there is no lookup, so only
        target codes match.
    target_codes : Index
        The LSOA codes of the boundary layer.
    target_vintage : {2011, 2021}
        Vintage of ``target_codes``.

    Returns
    -------
    Index
        The unmatched codes, in input order (stripped strings).
    """
    codes = pd.Index(pd.Index(codes).astype(str).str.strip())
    target = pd.Index(target_codes).astype(str)
    pending = codes[~codes.isin(target)]
    if lookup is None or not len(pending):
        return pending
    src_col, tgt_col = ("lsoa21", "lsoa11") if target_vintage == 2011 else ("lsoa11", "lsoa21")
    reachable = lookup.loc[lookup[tgt_col].isin(target), src_col]
    return pending[~pending.isin(reachable)]


def reconcile_codes(
    table: pd.DataFrame,
    lookup: pd.DataFrame,
    *,
    target_codes: pd.Index | Sequence[str],
    target_vintage: Literal[2011, 2021],
    aggregation: Literal["sum", "mean"] = "sum",
    source: str = "table",
) -> Reconciled:
    """Bring an LSOA-keyed table onto the target LSOA vintage.

    Parameters
    ----------
    table : DataFrame
        Numeric columns, indexed by unique LSOA codes of either vintage or a mix of
        both (police.uk 2022-23 uses 2011 and 2021 codes side by side).
    lookup : DataFrame
        From :func:`read_vintage_lookup` (``lsoa11``, ``lsoa21``, ``change``).
    target_codes : Index
        The LSOA codes of the boundary layer.
    target_vintage : {2011, 2021}
        Vintage of ``target_codes``.
    aggregation : {"sum", "mean"}
        ``sum`` for counts, ``mean`` for intensive values (scores, rates).
    source : str
        Name of the table, used in messages.

    Returns
    -------
    Reconciled

    Raises
    ------
    InputError
        Duplicated codes or non-numeric columns in ``table``; a code whose change is
        complex (CHGIND ``X`` or many-to-many); a count (``sum``) that would have to
        be split between several target LSOAs.

    Notes
    -----
    Codes already in ``target_codes`` pass through. Other codes go through the
    lookup: several source LSOAs forming one target LSOA (a split going 2021 -> 2011,
    a merge going 2011 -> 2021) are summed or averaged (unweighted); one source LSOA
    covering several target LSOAs has its value copied to each for ``mean`` and
    raises for ``sum``. When a target code has both its own value and values mapped
    to it (mixed vintages), ``sum`` adds them and ``mean`` keeps its own value.
    Codes found nowhere are dropped and logged.
    """
    if aggregation not in ("sum", "mean"):
        raise ValueError(f"aggregation must be 'sum' or 'mean', got {aggregation!r}")
    if target_vintage not in (2011, 2021):
        raise ValueError(f"target_vintage must be 2011 or 2021, got {target_vintage!r}")
    missing_cols = {"lsoa11", "lsoa21", "change"} - set(lookup.columns)
    if missing_cols:
        raise ValueError(f"lookup lacks columns {sorted(missing_cols)}; read it with read_vintage_lookup")

    codes = pd.Index(table.index.astype(str).str.strip(), name="lsoa_code")
    dup = codes[codes.duplicated()]
    if len(dup):
        raise InputError(
            f"source {source!r}: LSOA codes must be unique before reconciliation but "
            f"{dup.nunique()} repeat: {_preview(sorted(dup.unique()))}"
        )
    non_numeric = [str(c) for c, t in table.dtypes.items() if not pd.api.types.is_numeric_dtype(t)]
    if non_numeric:
        raise InputError(
            f"source {source!r}: columns must be numeric to reconcile LSOA vintages, but "
            f"{_preview(non_numeric)} are not"
        )
    values = table.set_axis(codes, axis=0)
    target = pd.Index(pd.Index(target_codes).astype(str), name="lsoa_code")
    src_col, tgt_col = ("lsoa21", "lsoa11") if target_vintage == 2011 else ("lsoa11", "lsoa21")

    direct = codes.isin(target)
    pending = codes[~direct]
    # Degrees over the whole lookup describe the real relationship between vintages.
    lk = lookup.assign(
        n_targets=lookup.groupby(src_col)[tgt_col].transform("nunique"),
        n_sources=lookup.groupby(tgt_col)[src_col].transform("nunique"),
    )
    rel = lk[lk[src_col].isin(pending) & lk[tgt_col].isin(target)]

    # Many-to-many taints every pair touching it, so a code mapped cleanly into a
    # target that also receives part of another code is caught too.
    tangled = lk["change"].eq("X") | ((lk["n_targets"] > 1) & (lk["n_sources"] > 1))
    complex_ = rel[
        rel[src_col].isin(lk.loc[tangled, src_col]) | rel[tgt_col].isin(lk.loc[tangled, tgt_col])
    ]
    if len(complex_):
        pairs = (complex_[src_col] + "->" + complex_[tgt_col]).unique()
        raise InputError(
            f"source {source!r}: {complex_[src_col].nunique()} LSOA code(s) changed in a complex way "
            f"between 2011 and 2021 (CHGIND X or many-to-many), so their values cannot be moved to "
            f"{target_vintage} LSOAs exactly: {_preview(pairs)}; supply this source in the "
            f"{target_vintage} vintage or use best-fit boundaries"
        )
    spread = rel[rel["n_targets"] > 1]
    if len(spread) and aggregation == "sum":
        src = sorted(spread[src_col].unique())
        raise InputError(
            f"source {source!r}: {len(src)} LSOA code(s) each became several {target_vintage} LSOAs and "
            f"hold counts (aggregation: sum), which cannot be split without extra data: "
            f"{_preview(src)}; supply the source in the {target_vintage} vintage, or use "
            f"aggregation: mean if the values are rates or scores"
        )

    mapped_src = pd.Index(rel[src_col].unique())
    dropped = pending.difference(mapped_src, sort=False)
    direct_part = values[direct]
    mapped_part = values.iloc[codes.get_indexer(rel[src_col])].set_axis(
        pd.Index(rel[tgt_col].to_numpy(), name="lsoa_code"), axis=0
    )
    if aggregation == "sum":
        combined = pd.concat([direct_part, mapped_part]).groupby(level=0, sort=False).sum(min_count=1)
    else:
        mapped_mean = mapped_part.groupby(level=0, sort=False).mean()
        both = mapped_mean.index.intersection(direct_part.index)
        if len(both):
            logger.info(
                "%s: %d LSOAs have values under both vintages; kept their own %d values: %s",
                source,
                len(both),
                target_vintage,
                _preview(both),
            )
        combined = pd.concat([direct_part, mapped_mean.drop(index=both)])

    # A target assembled from only some of its source LSOAs understates sums.
    assembled = rel[(rel["n_sources"] > 1) & ~rel[tgt_col].isin(codes)][tgt_col].unique()
    if len(assembled):
        expected = lk[lk[tgt_col].isin(assembled)]
        absent = expected[~expected[src_col].isin(codes)]
        if len(absent):
            logger.warning(
                "%s: %d %d LSOAs built from only some of their source LSOAs (missing %s)",
                source,
                absent[tgt_col].nunique(),
                target_vintage,
                _preview(absent[src_col].unique()),
            )

    combined = combined.reindex(target[target.isin(combined.index)])
    combined.index.name = "lsoa_code"
    if len(dropped):
        logger.warning(
            "%s: dropped %d LSOA code(s) found neither among the %d %d LSOAs nor in the vintage lookup: %s",
            source,
            len(dropped),
            len(target),
            target_vintage,
            _preview(dropped),
        )
    logger.info(
        "%s: %d codes -> %d %d LSOAs (%d mapped through the lookup, %d dropped, aggregation %s)",
        source,
        len(codes),
        len(combined),
        target_vintage,
        len(mapped_src),
        len(dropped),
        aggregation,
    )
    return Reconciled(
        table=combined,
        dropped_codes=tuple(dropped),
        mapped_codes=len(mapped_src),
        totals_before=values.sum(),
        totals_after=combined.sum(),
        totals_dropped=values.loc[dropped].sum(),
        aggregation=aggregation,
        target_vintage=target_vintage,
    )


# --------------------------------------------------------------------------- stage


def _layer_files(path: Path) -> list[Path]:
    """The main file plus a Shapefile's sidecars, for the manifest."""
    if path.suffix.lower() != ".shp":
        return [path]
    sidecars = [path.with_suffix(ext) for ext in (".shx", ".dbf", ".prj", ".cpg")]
    return [path, *(p for p in sidecars if p.is_file())]


def _read_layer(
    spec: BoundaryLayerSpec, cfg: StudyConfig, *, what: str, index_name: str, name_column: str
) -> tuple[gpd.GeoDataFrame, tuple[str, ...], Path]:
    path = cfg.resolve(spec.path)
    gdf, repaired = _read_polygons(
        path,
        code_field=spec.code_field,
        name_field=spec.name_field,
        layer=spec.layer,
        crs=spec.crs,
        what=what,
        index_name=index_name,
        name_column=name_column,
        target_crs=cfg.boundaries.metric_crs,
    )
    return gdf, repaired, path


def load_boundaries(cfg: StudyConfig) -> Boundaries:
    """Read the LSOA and upper layers of a study area and assign LSOAs to wards.

    Parameters
    ----------
    cfg : StudyConfig
        Uses ``cfg.boundaries`` and resolves paths with ``cfg.resolve``.

    Returns
    -------
    Boundaries

    Raises
    ------
    InputError
        From :func:`read_polygons`, :func:`dissolve_upper_layer`,
        :func:`assign_to_wards` or :func:`read_vintage_lookup`.
    """
    b = cfg.boundaries
    lsoa, repaired, lsoa_path = _read_layer(
        b.lsoa, cfg, what=f"LSOA {b.lsoa_vintage}", index_name="lsoa_code", name_column="lsoa_name"
    )
    files = _layer_files(lsoa_path)
    if b.wards is not None:
        wards, ward_repaired, ward_path = _read_layer(
            b.wards, cfg, what=cfg.area.upper_layer_label, index_name="ward_code", name_column="ward_name"
        )
        repaired += ward_repaired
        files += _layer_files(ward_path)
    elif b.upper_from_table is not None:
        wards = dissolve_upper_layer(lsoa, b.upper_from_table, resolve=cfg.resolve)
        files.append(cfg.resolve(b.upper_from_table.path))
    else:
        raise InputError("boundaries: give either 'wards' (polygons) or 'upper_from_table' in the config")
    lsoa = assign_to_wards(lsoa, wards)
    overlaps = find_overlaps(lsoa)
    if len(overlaps):
        logger.warning(
            "%s: %d pair(s) of LSOA polygons overlap by more than %.0f%% of the smaller one, so "
            "points there fall in two LSOAs: %s; check the boundary file (duplicated or misdrawn areas)",
            lsoa_path.name, len(overlaps), 100 * OVERLAP_SHARE,
            _preview(f"{r.code_a}/{r.code_b} ({r.share:.0%})" for r in overlaps.itertuples()),
        )

    lookup = None
    if b.vintage_lookup is not None:
        lookup = read_vintage_lookup(b.vintage_lookup, resolve=cfg.resolve)
        files.append(cfg.resolve(b.vintage_lookup.path))

    logger.info(
        "boundaries: %d LSOAs, %d %s, %d geometries repaired",
        len(lsoa),
        len(wards),
        "wards" if b.wards is not None else f"upper areas ({cfg.area.upper_layer_label})",
        len(repaired),
    )
    return Boundaries(
        lsoa=lsoa,
        wards=wards,
        lsoa_vintage=b.lsoa_vintage,
        lookup=lookup,
        files=tuple(files),
        repaired_codes=repaired,
        overlaps=overlaps,
    )


# --------------------------------------------------------------------------- coverage


def find_overlaps(lsoa: gpd.GeoDataFrame, *, share: float = OVERLAP_SHARE) -> pd.DataFrame:
    """LSOA pairs whose polygons overlap by more than ``share`` of the smaller one.

    Parameters
    ----------
    lsoa : GeoDataFrame
        Polygons indexed by code, in a metric CRS.
    share : float
        Tolerance: generalised boundaries overlap their neighbours by slivers.

    Returns
    -------
    DataFrame
        Columns ``code_a``, ``code_b`` (``code_a < code_b``), ``overlap_m2`` and
        ``share`` (overlap / area of the smaller polygon), sorted by the codes.
    """
    geoms = lsoa.geometry.to_numpy()
    a, b = shapely.STRtree(geoms).query(geoms, predicate="intersects")
    pair = a < b
    a, b = a[pair], b[pair]
    columns = ["code_a", "code_b", "overlap_m2", "share"]
    if not len(a):
        return pd.DataFrame(columns=columns)
    inter = shapely.area(shapely.intersection(geoms[a], geoms[b]))
    areas = shapely.area(geoms)
    smaller = np.minimum(areas[a], areas[b])
    ratio = np.divide(inter, smaller, out=np.zeros_like(inter), where=smaller > 0)
    big = ratio > share
    codes = lsoa.index.astype(str).to_numpy()
    out = pd.DataFrame(
        {"code_a": codes[a[big]], "code_b": codes[b[big]], "overlap_m2": inter[big], "share": ratio[big]}
    )
    return out.sort_values(["code_a", "code_b"], kind="mergesort").reset_index(drop=True)


@dataclass(frozen=True, eq=False)
class Coverage:
    """How the boundary LSOAs and the study area's LSOAs match.

    Attributes
    ----------
    study_area : tuple of str
        LSOAs (boundary vintage) named by the study-area source.
    gaps : tuple of str
        Study-area LSOAs without a polygon in the boundary file.
    extra : tuple of str
        Boundary LSOAs that no source names at all.
    outside_study_area : tuple of str
        Boundary LSOAs the study-area source does not name.
    """

    study_area: tuple[str, ...]
    gaps: tuple[str, ...]
    extra: tuple[str, ...]
    outside_study_area: tuple[str, ...]

    def __repr__(self) -> str:
        return (
            f"Coverage({len(self.study_area)} study-area LSOAs, {len(self.gaps)} missing from the "
            f"boundaries, {len(self.extra)} boundary LSOAs in no source)"
        )


def _needed_codes(
    codes: pd.Index, lookup: pd.DataFrame | None, target: pd.Index, target_vintage: int
) -> pd.Index:
    """The boundary-vintage LSOAs a list of codes (either vintage) stands for.

    A code that is a target code, or that the lookup does not map, stands for itself;
    a mapped code stands for every target-vintage LSOA it maps to, present in the
    boundaries or not.
    """
    codes = pd.Index(codes.astype(str)).unique()
    pending = codes[~codes.isin(target)]
    if lookup is None or not len(pending):
        return codes.sort_values()
    src_col, tgt_col = ("lsoa21", "lsoa11") if target_vintage == 2011 else ("lsoa11", "lsoa21")
    rel = lookup[lookup[src_col].isin(pending)]
    unmapped = pending[~pending.isin(rel[src_col])]
    needed = codes[codes.isin(target)].append(pd.Index(rel[tgt_col].astype(str))).append(unmapped)
    return needed.unique().sort_values()


def _cut_off_hint(path: Path, file_codes: pd.Index, missing: pd.Index) -> str:
    """Evidence that a CSV was cut off: no final line ending, or missing codes all past its end."""
    try:
        data = path.read_bytes()
    except OSError:
        return ""
    n_lines = data.count(b"\n") + (0 if data.endswith(b"\n") else 1)
    last = str(file_codes.max()) if len(file_codes) else ""
    if not data.endswith((b"\n", b"\r")):
        return (f"; the file looks truncated: it stops at line {n_lines} without a line ending "
                f"(last LSOA code {last}); download it again")
    if last and (pd.Index(missing.astype(str)) > last).all():
        return (f"; the file looks truncated: it stops at line {n_lines} "
                f"(last LSOA code {last}) and every missing code sorts after that one; download it again")
    return ""


def check_coverage(
    boundaries: Boundaries,
    sources: dict[str, tuple[pd.Index, Path | None]],
    *,
    study_area: str,
    complete: Sequence[str] = (),
    allow_gaps: bool = False,
) -> Coverage:
    """Check that the boundary file covers the study area, and report what it adds.

    The *study area* is the set of LSOAs named by the ``study_area`` source (the
    population denominator's source: a census table lists exactly the LSOAs whose
    residents are counted), each translated to the boundary vintage through the
    vintage lookup. The boundary file must hold a polygon for every one of them.

    Parameters
    ----------
    boundaries : Boundaries
        From :func:`load_boundaries`.
    sources : dict
        Source name -> (LSOA codes as found in the source, file or None). Sources
        whose codes come from the boundaries themselves (point sources) are left out.
    study_area : str
        Name of the source that defines the study area.
    complete : sequence of str
        Sources that publish every LSOA (IoD2019 covers all of England): a boundary
        LSOA missing from one of them means the file is incomplete or truncated.
    allow_gaps : bool
        ``boundaries.allow_coverage_gaps``: warn instead of raising when study-area
        LSOAs have no polygon (e.g. the population file deliberately covers a wider
        area than the boundaries).

    Returns
    -------
    Coverage

    Raises
    ------
    InputError
        Study-area LSOAs missing from the boundary file (unless ``allow_gaps``), or
        boundary LSOAs missing from a ``complete`` source.
    """
    target = pd.Index(boundaries.lsoa.index.astype(str))
    vintage = boundaries.lsoa_vintage
    lookup = boundaries.lookup
    boundary_file = boundaries.files[0].name if boundaries.files else "the boundary file"
    needed = {
        name: _needed_codes(codes, lookup, target, vintage) for name, (codes, _) in sources.items()
    }
    area = needed[study_area]
    gaps = area[~area.isin(target)]
    outside = target[~target.isin(area)]
    named = pd.Index([], dtype=str).append([n for n in needed.values()]).unique() if needed else target[:0]
    extra = target[~target.isin(named)]
    pop_path = sources[study_area][1]
    pop_file = pop_path.name if pop_path is not None else f"source {study_area!r}"
    problems: list[str] = []
    if len(gaps):
        text = (
            f"coverage: {len(gaps)} of the study area's {len(area)} LSOAs (those named in {pop_file}, "
            f"source {study_area!r}) have no polygon in {boundary_file}: {_preview(gaps)}"
        )
        if allow_gaps:
            logger.warning("%s; boundaries.allow_coverage_gaps is set, so they are left out of every result", text)
        else:
            problems.append(
                f"{text}; use a boundary file that covers the whole study area, or, if the population "
                "file deliberately covers a wider area, clip it or set boundaries.allow_coverage_gaps: true"
            )
    for name in complete:
        codes, path = sources[name]
        missing = target[~target.isin(needed[name])]
        if len(missing):
            where = path.name if path is not None else f"source {name!r}"
            hint = _cut_off_hint(path, pd.Index(codes.astype(str)), missing) if path is not None else ""
            problems.append(
                f"source {name!r}: {len(missing)} of the {len(target)} boundary LSOAs are missing from "
                f"{where}: {_preview(missing)}; this kind of file lists every LSOA in England (IoD2019), so it is "
                f"incomplete{hint}"
                + ("" if hint else "; download the full file again")
            )
    if problems:
        raise InputError(problems)
    if len(extra):
        logger.warning(
            "coverage: %d boundary LSOA(s) are named by no data source (%s): %s",
            len(extra), ", ".join(sources), _preview(extra),
        )
    if len(outside):
        logger.warning(
            "coverage: %d boundary LSOA(s) are not in the study-area source %r (%s): %s",
            len(outside), study_area, pop_file, _preview(outside),
        )
    logger.info(
        "coverage: %d study-area LSOAs (from %s), %d boundary LSOAs, %d missing, %d in no source",
        len(area), pop_file, len(target), len(gaps), len(extra),
    )
    return Coverage(tuple(area), tuple(gaps), tuple(extra), tuple(outside))
