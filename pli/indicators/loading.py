"""One entry point for every source kind: :func:`load_source`."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Collection
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd

from pli._codes import arrow_array
from pli.config import ConfigError, SourceSpec
from pli.errors import InputError
from pli.indicators.census import _load_census2011_population, _load_census2021
from pli.indicators.iod import _load_iod2019, _load_iod2025
from pli.indicators.mps import _load_mps_lsoa_crime
from pli.indicators.points import _load_points
from pli.indicators.police_uk import _load_police_uk
from pli.indicators.reading import _integerise
from pli.indicators.sources import _LSOA_INDEX, SourceTable
from pli.indicators.tables import _load_lsoa_table

__all__ = [
    "load_source",
]


_LOADERS: dict[str, Callable[[str, SourceSpec, Path], SourceTable]] = {
    "police_uk": _load_police_uk,
    "mps_lsoa_crime": _load_mps_lsoa_crime,
    "iod2019": _load_iod2019,
    "iod2025": _load_iod2025,
    "census2011_population": _load_census2011_population,
    "census2021": _load_census2021,
    "lsoa_table": _load_lsoa_table,
}


def load_source(
    name: str,
    spec: SourceSpec,
    *,
    resolve: Callable[[str], Path],
    lsoa: gpd.GeoDataFrame | None = None,
    area_codes: Collection[str] | None = None,
) -> SourceTable:
    """Read one configured source into an LSOA-keyed :class:`SourceTable`.

    Parameters
    ----------
    name : str
        The source's name in the config (used in messages and on the result).
    spec : SourceSpec
        What to read and how; ``spec.kind`` picks the loader.
    resolve : callable
        Turns ``spec.path`` into a real path (``StudyConfig.resolve``).
    lsoa : geopandas.GeoDataFrame, optional
        Boundary LSOA polygons in EPSG:27700 indexed by ``lsoa_code``; required for
        ``points`` sources, ignored otherwise.
    area_codes : collection of str, optional
        LSOA codes (in the source's vintage) of the study area. A ``police_uk`` source
        streamed through DuckDB leaves other LSOAs' records unread; other readers ignore it.

    A ``police_uk`` source's records are read from its record cache when nothing that
    decides them has changed (``sources.<name>.cache``; see
    :mod:`pli.indicators.record_cache`): ``cache: auto`` caches only inside
    :func:`~pli.indicators.record_cache.using_cache`, as the commands set it.

    Returns
    -------
    SourceTable

    Raises
    ------
    InputError
        The file is missing or does not have the layout its kind expects; the message
        names the file, the columns or lines concerned and how to fix it.

    Examples
    --------
    >>> from pli.config import default_data_dir, load_config
    >>> cfg = load_config(default_data_dir() / "configs" / "croydon-demo.yml")
    >>> from pli.boundaries import load_boundaries
    >>> from pli.indicators import load_source
    >>> lsoa = load_boundaries(cfg).lsoa
    >>> crime = load_source("crime", cfg.sources["crime"], resolve=cfg.resolve, lsoa=lsoa)
    >>> crime.table.shape, crime.rows_read
    ((220, 15), 20018)
    """
    path = Path(resolve(spec.path))
    if spec.kind != "police_uk" and not path.is_file():
        raise InputError(
            f"source {name!r}: file not found; check sources.{name}.path and --data-dir", path=str(path)
        )
    if spec.kind == "points":
        return _canonical_order(_load_points(name, spec, path, lsoa), where=path.name)
    if spec.kind == "police_uk":
        from pli.indicators.record_cache import cache_folder

        loaded = _load_police_uk(name, spec, path, area_codes, cache_dir=cache_folder(spec, resolve))
        return _canonical_order(loaded, where=path.name)
    try:
        loader = _LOADERS[spec.kind]
    except KeyError:
        raise ConfigError([f"sources.{name}.kind: unknown kind {spec.kind!r}"]) from None
    return _canonical_order(loader(name, spec, path), where=path.name)


def _text_rank(values: pd.Series) -> np.ndarray:
    """Each row's position in the sorted text of its column (as ``astype("string")`` spells
    it); equal text shares a position and missing values come last."""
    if isinstance(values.dtype, pd.CategoricalDtype):
        codes, uniques = values.cat.codes.to_numpy(), pd.Index(values.cat.categories)
    else:
        codes, uniques = pd.factorize(values, use_na_sentinel=True)
        uniques = pd.Index(uniques)
    text_rank, text = pd.factorize(uniques.astype("string"), sort=True)
    ranks = np.append(text_rank, len(text))  # code -1 (missing) -> after every value
    return ranks[codes]


def _sort_order(columns: list[pd.Series], x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Row order sorting by every column's text, then x and y; missing text last.

    Categorical columns sort by the rank of their categories' text (their distinct values
    ranked once); text columns (Crime IDs, locations: millions of mostly distinct
    strings) are sorted by Arrow's multi-key sort, which compares UTF-8 bytes, the same
    order as Python's code-point order, without turning each string into an object.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    arrays: dict[str, object] = {}
    for k, col in enumerate(columns):
        if pd.api.types.is_string_dtype(col.dtype) and not isinstance(col.dtype, pd.CategoricalDtype):
            arr = arrow_array(col)
            if arr.type in (pa.string(), pa.large_string()):
                arrays[f"k{k}"] = arr
                continue
        arrays[f"k{k}"] = pa.array(_text_rank(col))
    arrays["x"], arrays["y"] = pa.array(x), pa.array(y)
    table = pa.table(arrays)
    sort_keys = [(name, "ascending", "at_end") for name in table.column_names]
    try:
        options = pc.SortOptions(sort_keys=sort_keys)
    except (TypeError, ValueError):  # pyarrow before 25 takes one null placement for all keys
        options = pc.SortOptions(sort_keys=[k[:2] for k in sort_keys], null_placement="at_end")
    return pc.sort_indices(table, options=options).to_numpy()


def _canonical_order(src: SourceTable, *, where: str) -> SourceTable:
    """The source with normalised codes, rows sorted by LSOA code and points by every column.

    Results must not depend on the order of rows or files: seeded draws downstream
    (permutations, sampling, tie-breaks) follow row order.
    """
    from pli._codes import normalise_codes

    table = src.table
    codes = normalise_codes(table.index.to_series(index=range(len(table))), where=where, column="LSOA code")
    if not codes.equals(pd.Series(table.index, dtype="string")):
        table = table.set_axis(pd.Index(codes.astype(str).to_numpy(), name=_LSOA_INDEX, dtype="str"), axis=0)
        if not table.index.is_unique:
            # Counts split over spellings of one code belong together; value tables
            # were already checked for repeats when their codes were read.
            table = _integerise(table.groupby(level=0, sort=False).sum(min_count=1))
    table = table.sort_index(kind="mergesort")
    points = src.points
    if points is not None and len(points):
        if _LSOA_INDEX in points.columns:
            raw_codes = points[_LSOA_INDEX].astype("string")
            pcodes = raw_codes.str.strip().str.upper()
            if not pcodes.equals(raw_codes):
                points = points.assign(**{_LSOA_INDEX: pcodes.astype(str).astype("category")})
        keys = [c for c in points.columns if c != points.geometry.name]
        order = _sort_order([points[c] for c in keys], points.geometry.x.to_numpy(), points.geometry.y.to_numpy())
        points = points.iloc[order].reset_index(drop=True)
    if table is src.table and points is src.points:
        return src
    return dataclasses.replace(src, table=table, points=points)
