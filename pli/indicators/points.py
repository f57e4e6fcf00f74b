"""Any point CSV (lon/lat or British National Grid), joined to the LSOA polygons."""

from __future__ import annotations

import logging
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
from pyproj import CRS

from pli._codes import list_codes
from pli.config import ConfigError, SourceSpec
from pli.errors import InputError
from pli.indicators.reading import (
    _check_outside_share,
    _count_table,
    _csv_encoding,
    _parse_numbers,
    _points_frame,
    _read_header,
)
from pli.indicators.sources import _LSOA_INDEX, ALL_CRIME, SourceTable
from pli.indicators.window import _period, _select_window

__all__ = [
]

logger = logging.getLogger(__name__)


def _load_points(name: str, spec: SourceSpec, path: Path, lsoa: gpd.GeoDataFrame | None) -> SourceTable:
    if lsoa is None:
        raise InputError(f"source {name!r} (kind 'points') needs the LSOA polygons to count points per LSOA")
    if lsoa.crs is None or CRS.from_user_input(lsoa.crs).to_epsg() != 27700:
        raise InputError(
            f"source {name!r}: LSOA polygons must be in EPSG:27700, got {lsoa.crs}; "
            "reproject them with .to_crs(27700)"
        )
    try:
        epsg = CRS.from_user_input(spec.crs).to_epsg()
    except Exception:  # pyproj raises CRSError for text it cannot read
        epsg = None
    if epsg not in (4326, 27700):
        raise ConfigError(
            [f"sources.{name}.crs: expected EPSG:4326 (lon/lat) or EPSG:27700 (easting/northing), got {spec.crs!r}"]
        )
    header = _read_header(path, spec.encoding)
    roles = {
        "x": spec.x_column, "y": spec.y_column, "category": spec.category_column,
        "date": spec.date_column, "time": spec.time_column, "location": spec.location_column,
    }
    missing = [f"{role}_column {col!r}" for role, col in roles.items() if col and col not in header]
    if missing:
        raise InputError(
            f"column(s) not found: {', '.join(missing)}; available: {list_codes(header, 20)}",
            path=str(path),
        )
    if spec.categories and not spec.category_column:
        raise ConfigError([f"sources.{name}.categories: needs category_column to filter on"])
    used = {col: role for role, col in roles.items() if col}
    raw = pd.read_csv(path, usecols=list(used), dtype="str", encoding=_csv_encoding(spec.encoding))
    raw = raw.rename(columns=used)
    rows_read = len(raw)
    raw["_line"] = np.arange(rows_read) + 2
    xy = _parse_numbers(raw[["x", "y"]], path=path)

    has_xy = pd.Series(np.isfinite(xy["x"].to_numpy(dtype="float64")) & np.isfinite(xy["y"].to_numpy(dtype="float64")),
                       index=xy.index)
    if not has_xy.all():
        logger.warning("%s: dropped %d row(s) without usable coordinates", name, int((~has_xy).sum()))
    records = raw[has_xy].copy()
    x = xy.loc[has_xy, "x"].to_numpy(dtype="float64")
    y = xy.loc[has_xy, "y"].to_numpy(dtype="float64")
    geographic = epsg == 4326
    if len(x):
        looks_geographic = bool(np.all(np.abs(x) <= 180) and np.all(np.abs(y) <= 90))
        if geographic and not looks_geographic:
            raise InputError(
                f"coordinates in {spec.x_column!r}/{spec.y_column!r} are outside lon/lat ranges "
                f"(x {x.min():.0f} to {x.max():.0f}); if they are British National Grid "
                "eastings/northings set crs: EPSG:27700",
                path=str(path),
            )
        if not geographic and looks_geographic:
            raise InputError(
                f"coordinates in {spec.x_column!r}/{spec.y_column!r} look like lon/lat "
                f"(x {x.min():.4f} to {x.max():.4f}), not eastings/northings; set crs: EPSG:4326",
                path=str(path),
            )

    if spec.date_column:
        text = records["date"].str.strip()
        dates = pd.to_datetime(text, format=spec.date_format, errors="coerce")
        bad = text.notna() & dates.isna()
        if bad.any():
            shown = ", ".join(
                f"line {ln}: {v!r}" for ln, v in zip(records.loc[bad, "_line"][:5], text[bad][:5])
            )
            fmt = f"format {spec.date_format!r}" if spec.date_format else "a recognisable date"
            raise InputError(
                f"column {spec.date_column!r}: {int(bad.sum())} value(s) are not dates in {fmt} ({shown}); "
                "set date_format (e.g. '%d/%m/%Y')",
                path=str(path),
            )
        records["month"] = dates.dt.strftime("%Y-%m")
        undated = records["month"].isna()
        if undated.any():
            logger.warning("%s: dropped %d row(s) with a blank date", name, int(undated.sum()))
            keep_idx = ~undated.to_numpy()
            records, x, y = records[keep_idx], x[keep_idx], y[keep_idx]
        window = _select_window(records["month"].unique().tolist(), spec, name=name, where=str(path))
        inside = records["month"].isin(window).to_numpy()
        records, x, y = records[inside], x[inside], y[inside]
        period: str | None = _period(window)
    else:
        if spec.start_month or spec.end_month:
            raise ConfigError([f"sources.{name}: start_month/end_month need date_column"])
        logger.info("%s: no date_column, so every record is counted (no time window)", name)
        records["month"] = pd.Series(pd.NA, index=records.index, dtype="str")
        window, period = [], None

    if spec.category_column:
        records["category"] = records["category"].str.strip()
        if spec.categories:
            keep_cat = records["category"].isin(spec.categories).to_numpy()
            records, x, y = records[keep_cat], x[keep_cat], y[keep_cat]
    else:
        records["category"] = pd.Series(pd.NA, index=records.index, dtype="str")
    for role in ("time", "location"):
        if role not in records:
            records[role] = pd.Series(pd.NA, index=records.index, dtype="str")

    pts = _points_frame(records, x, y, ["month", "category", "location", "time"], crs=spec.crs)
    polygons = gpd.GeoDataFrame(
        {"_lsoa": lsoa.index.astype("str")}, geometry=lsoa.geometry.to_numpy(), crs=lsoa.crs
    )
    joined = gpd.sjoin(pts, polygons, how="left", predicate="within")
    joined = joined[~joined.index.duplicated(keep="first")]
    code = joined["_lsoa"].reindex(pts.index)
    unplaced = code.isna()
    if unplaced.any():
        # police.uk snaps points to street anchors and LSOA edges often run along streets,
        # so a point exactly on a shared edge is "within" neither polygon: take the first
        # polygon it touches.
        edge = gpd.sjoin(pts[unplaced.to_numpy()], polygons, how="inner", predicate="intersects")
        edge = edge[~edge.index.duplicated(keep="first")]
        code = code.fillna(edge["_lsoa"].reindex(code.index))
    outside = code.isna().to_numpy()
    if outside.any():
        _check_outside_share(
            name, spec, n_out=int(outside.sum()), n_all=len(pts), unit="point(s)",
            where="outside every LSOA polygon", path=path,
            example=", ".join(f"({p.x:.0f}, {p.y:.0f})" for p in pts.geometry[outside][:3]) + " (EPSG:27700)",
            fix=(f"check sources.{name}.crs and the x/y columns, or clip the file to the study area; "
                 f"raise sources.{name}.outside_error_share only if the extract is meant to reach further"),
        )
    pts = pts.assign(**{_LSOA_INDEX: code.astype("str")})[~outside].reset_index(drop=True)
    pts = pts[["month", "category", "location", "time", _LSOA_INDEX, "geometry"]]
    for col in ("month", "category", _LSOA_INDEX):
        pts[col] = pts[col].astype("category")  # as police_uk points: compact for millions of rows

    if spec.category_column:
        table = _count_table(pts)
    else:
        table = pts.groupby(_LSOA_INDEX).size().rename(ALL_CRIME).to_frame().astype("int64")
        table.index = table.index.astype("str").rename(_LSOA_INDEX)
    logger.info("%s: %d point(s) in %d LSOAs%s", name, len(pts), len(table), f" over {period}" if period else "")
    return SourceTable(
        name=name, kind=spec.kind, table=table, vintage=spec.vintage, period=period,
        months=tuple(window), files=(path,), rows_read=rows_read, points=pts,
    )
