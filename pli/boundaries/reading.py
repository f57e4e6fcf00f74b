"""Reading polygon layers in any format and CRS: GeoJSON, GeoPackage, Shapefile; codes
cleaned, geometries repaired, the extent checked against Great Britain."""

from __future__ import annotations

import difflib
import logging
from collections.abc import Sequence
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import shapely
from pyproj import CRS

from pli._codes import list_codes, normalise_codes
from pli.config import BoundaryLayerSpec, StudyConfig
from pli.errors import InputError

__all__ = [
    "METRIC_CRS",
    "read_polygons",
]

logger = logging.getLogger(__name__)


METRIC_CRS = "EPSG:27700"


# British National Grid with a generous margin: anything outside is not in Great
# Britain, which for LSOAs means a wrong or missing CRS.
_BNG_BOUNDS = (-100_000.0, -100_000.0, 800_000.0, 1_400_000.0)
_POLYGON, _MULTIPOLYGON = 3, 6




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
            f"(feature numbers {list_codes(rows)}, counting from 0); every feature needs a code",
            path=str(path),
        )
    dup = codes[codes.duplicated(keep=False)]
    if len(dup):
        raise InputError(
            f"{what}: codes in field {field!r} must be unique but {dup.nunique()} appear more than "
            f"once: {list_codes(sorted(dup.unique()))}; dissolve the parts into one feature per code "
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
    inside = bx0 <= xmin and xmax <= bx1 and by0 <= ymin and ymax <= by1
    if not (np.isfinite([xmin, ymin, xmax, ymax]).all() and inside):
        raise InputError(
            f"{what}: after reprojection from {source_crs.to_string()} to EPSG:27700 the polygons lie "
            f"at x {xmin:.0f}..{xmax:.0f}, y {ymin:.0f}..{ymax:.0f}, outside Great Britain; the CRS "
            "of the file (or the crs: set in the config) is probably wrong",
            path=str(path),
        )


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
            f"{what}: {int(missing.sum())} feature(s) have no geometry: {list_codes(codes[missing])}",
            path=str(path),
        )
    types = shapely.get_type_id(geoms)
    bad = ~np.isin(types, (_POLYGON, _MULTIPOLYGON))
    if bad.any():
        found = sorted({shapely.GeometryType(t).name.title() for t in np.unique(types[bad])})
        raise InputError(
            f"{what}: expected Polygon or MultiPolygon features, but {int(bad.sum())} are "
            f"{', '.join(found)}: {list_codes(codes[bad])}; this does not look like an area layer",
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
                f"(degenerate polygons): {list_codes(bad_codes[lost])}",
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
            list_codes(repaired),
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


def _read_table(path: Path, *, what: str, thousands: str | None = None) -> pd.DataFrame:
    if not path.is_file():
        raise InputError(f"{what} not found; check the path in the config", path=str(path))
    try:
        # utf-8-sig strips the BOM ONS downloads often carry.
        return pd.read_csv(path, dtype=str, encoding="utf-8-sig", thousands=thousands)
    except (UnicodeDecodeError, pd.errors.ParserError) as exc:
        raise InputError(f"{what}: cannot be read as a UTF-8 CSV ({exc})", path=str(path)) from None


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
