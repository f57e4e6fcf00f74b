"""data.police.uk street-level CSVs: find the month files, refuse or drop duplicates, read records."""

from __future__ import annotations

import csv
import logging
import re
from collections.abc import Collection, Sequence
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
from pandas.api.types import union_categoricals

from pli import progress
from pli._codes import arrow_array, list_codes
from pli.config import SourceSpec
from pli.errors import InputError
from pli.indicators import record_cache
from pli.indicators.categories import _canonical_categories, _category_key, _category_where, _clean_categories
from pli.indicators.reading import (
    _check_last_record,
    _count_newlines,
    _count_table,
    _csv_encoding,
    _points_frame,
    _read_header,
)
from pli.indicators.sources import _LSOA_INDEX, ALL_CRIME, POLICE_UK_CRIME_TYPES, SourceTable
from pli.indicators.street_files import STREET_NAME_RE, StreetFile, street_files
from pli.indicators.window import _MONTH_RE, _period, _select_window
from pli.progress import track

__all__ = [
    "POLICE_UK_COLUMNS",
]

logger = logging.getLogger(__name__)


POLICE_UK_COLUMNS: dict[str, str] = {
    "Crime ID": "crime_id",
    "Month": "month",
    "Longitude": "lon",
    "Latitude": "lat",
    "Location": "location",
    "LSOA code": "lsoa_code",
    "Crime type": "category",
}


"""police.uk street-file columns read (published name -> internal name)."""


def _duplicate_street_files(
    files: Sequence[StreetFile],
) -> tuple[list[StreetFile], list[tuple[StreetFile, StreetFile]], list[str]]:
    """Split street files into those to read, identical copies, and month/force clashes.

    Returns the files to read (in name order), ``(copy, original)`` pairs of files with
    the same bytes as another (the copy is skipped), and one problem per month and force
    held by two files with different contents. Of identical files the one with
    police.uk's own name, in a folder named for its month (as the download unzips),
    nearest the top of the folder, is read.
    """
    def preference(f: StreetFile) -> tuple[bool, bool, int, str]:
        m = STREET_NAME_RE.fullmatch(f.file_name)
        own_name = m is not None and not m.group(3).strip()
        own_folder = m is not None and f.folder_name == m.group(1)
        return (not own_name, not own_folder, f.depth, f.name)

    ordered = sorted(files, key=preference)
    by_size: dict[int, list[StreetFile]] = {}
    for f in ordered:
        by_size.setdefault(f.size, []).append(f)
    # Only files of equal size can be identical, so most files are never hashed.
    digests = {f: f.sha256() for group in by_size.values() if len(group) > 1 for f in group}
    kept: list[StreetFile] = []
    copies: list[tuple[StreetFile, StreetFile]] = []
    first: dict[str, StreetFile] = {}
    for f in ordered:
        d = digests.get(f)
        if d is not None and d in first:
            copies.append((f, first[d]))
            continue
        if d is not None:
            first[d] = f
        kept.append(f)
    by_key: dict[tuple[str, str], list[StreetFile]] = {}
    for f in kept:
        m = STREET_NAME_RE.fullmatch(f.file_name)
        if m:
            by_key.setdefault((m.group(1), m.group(2).casefold()), []).append(f)
    problems = [
        f"{len(group)} files with different contents hold police.uk street data for {month} from "
        f"force {force!r}: {', '.join(sorted(f.name for f in group))}; counting both would "
        "count that month twice (an older and a newer download, or an edited copy?): keep one and move "
        "the other(s) out of the folder"
        for (month, force), group in by_key.items() if len(group) > 1
    ]
    return sorted(kept, key=lambda f: f.name), copies, problems


# Low-cardinality columns are parsed as categoricals: string work then touches each
# distinct value once instead of every one of millions of rows.
_POLICE_UK_CATEGORICAL = ("month", "category", _LSOA_INDEX)


# Read when present: with the columns above they make a whole row, which is how records
# without a Crime ID (anti-social behaviour) are recognised when two files repeat them.
_POLICE_UK_OPTIONAL = {
    "Reported by": "reported_by", "Falls within": "falls_within",
    "Last outcome category": "outcome", "Context": "context",
}


_ROW_KEY = ("month", "lon", "lat", "location", _LSOA_INDEX, "category", *_POLICE_UK_OPTIONAL.values())


def _street_header(file: StreetFile, encoding: str) -> list[str]:
    if file.path is not None:
        return _read_header(file.path, encoding)
    with file.open() as fh:
        first = fh.readline()
    try:
        text = first.decode(_csv_encoding(encoding))
    except UnicodeDecodeError as exc:
        raise InputError(
            f"cannot decode the file as {encoding} ({exc.reason}); set the source's 'encoding' (e.g. cp1252)",
            path=file.where(),
        ) from None
    header = next(csv.reader([text.rstrip("\r\n")]), None)
    if not header:
        raise InputError("the file is empty; expected a CSV with a header row", path=file.where())
    return header


def _street_columns(header: Sequence[str], file: StreetFile) -> dict[str, str]:
    """Raw header name -> internal name of the columns read; raises when a column is missing."""
    lookup = {h.strip(): h for h in header}
    missing = [c for c in POLICE_UK_COLUMNS if c not in lookup]
    if missing:
        raise InputError(
            f"not a police.uk street file: missing column(s) {', '.join(repr(m) for m in missing)}; "
            "expected the 12-column header 'Crime ID,Month,Reported by,Falls within,Longitude,"
            "Latitude,Location,LSOA code,LSOA name,Crime type,Last outcome category,Context'",
            path=file.where(),
        )
    wanted = {**POLICE_UK_COLUMNS, **{c: s for c, s in _POLICE_UK_OPTIONAL.items() if c in lookup}}
    return {lookup[c]: short for c, short in wanted.items()}


def _read_street_file(file: StreetFile, header: Sequence[str], raw_names: dict[str, str],
                      encoding: str) -> pd.DataFrame:
    """One street file on disk read whole with pandas."""
    assert file.path is not None
    path = file.path
    _check_last_record(path, len(header), encoding)
    categorical = (*_POLICE_UK_CATEGORICAL, *_POLICE_UK_OPTIONAL.values())
    kinds = {"lon": "float64", "lat": "float64", **{c: "category" for c in categorical}}
    dtype = {raw: kinds.get(short, "str") for raw, short in raw_names.items()}
    try:
        frame = pd.read_csv(
            path, usecols=list(raw_names), dtype=dtype, encoding=_csv_encoding(encoding), engine="c"
        )
    except pd.errors.ParserError as exc:
        raise InputError(
            f"cannot parse the file as CSV ({' '.join(str(exc).split())}); expected one police.uk "
            "record per line with the header's 12 fields",
            path=str(path),
        ) from None
    except ValueError as exc:
        raise InputError(
            f"cannot parse the file as a police.uk street CSV ({exc}); Longitude/Latitude must be "
            "numbers or blank",
            path=str(path),
        ) from None
    frame = frame.rename(columns=raw_names)
    return frame.assign(_line=np.arange(2, len(frame) + 2, dtype=np.int32))


def _tidy_street_frame(frame: pd.DataFrame, file: StreetFile) -> pd.DataFrame:
    """Both readers' frames made alike: optional columns present, labels stripped, months checked."""
    for short in _POLICE_UK_OPTIONAL.values():
        if short not in frame:
            frame[short] = pd.Series(pd.Categorical([None] * len(frame), categories=pd.Index([], dtype="str")),
                                     index=frame.index)
    for col in (c for c in _POLICE_UK_CATEGORICAL if c != "category"):
        frame[col] = _clean_categories(frame[col])
    month = frame["month"]
    odd = [m for m in month.cat.categories if not re.fullmatch(_MONTH_RE, str(m))]
    bad = (month.isin(odd) | month.isna()).to_numpy()
    if bad.any():
        pos = np.flatnonzero(bad)
        shown = ", ".join(f"line {frame['_line'].iloc[p]}: {month.iloc[p]!r}" for p in pos[:5])
        raise InputError(
            f"column 'Month': expected YYYY-MM, found {len(pos)} other value(s) ({shown})",
            path=file.where(),
        )
    columns = [*POLICE_UK_COLUMNS.values(), *_POLICE_UK_OPTIONAL.values()]
    return frame[[*columns, "_line"]]


def _data_rows(file: StreetFile) -> int:
    if file.path is not None:
        return max(_count_newlines(file.path) - 1, 0)
    with file.open() as fh:
        return max(sum(chunk.count(b"\n") for chunk in iter(lambda: fh.read(1 << 20), b"")) - 1, 0)


def _concat_records(frames: list[pd.DataFrame]) -> pd.DataFrame:
    """Concatenate street files, keeping categoricals (recoded to shared categories)."""
    if len(frames) == 1:
        return frames[0]
    categorical = [c for c in frames[0].columns if isinstance(frames[0][c].dtype, pd.CategoricalDtype)]
    out = pd.concat([f.drop(columns=categorical) for f in frames], ignore_index=True)
    for col in categorical:
        # One pass over the codes, instead of recoding every file to the shared categories.
        arrays = [f[col].array for f in frames]
        # A column blank throughout a file (Context) has object categories; align them.
        arrays = [a.rename_categories(a.categories.astype("str")) if a.categories.dtype != "str" else a
                  for a in arrays]
        merged = union_categoricals(arrays, sort_categories=True)
        out[col] = pd.Series(merged, index=out.index)
    return out[list(frames[0].columns)]


def _repeated(values: pd.Series) -> np.ndarray:
    """``values.duplicated(keep="first")`` for millions of Crime IDs, hashed by Arrow."""
    import pyarrow.compute as pc

    codes = pc.fill_null(pc.dictionary_encode(arrow_array(values)).indices, -1).to_numpy(zero_copy_only=False)
    repeated = np.ones(len(codes), dtype=bool)
    repeated[np.unique(codes, return_index=True)[1]] = False
    return repeated


def _drop_duplicate_records(records: pd.DataFrame, names: Sequence[str], source: str) -> pd.DataFrame:
    """Records with their repeats removed, each removal announced with its files.

    A Crime ID identifies one crime, so a row repeating an ID already read (in the same
    file or another) is dropped. Rows without an ID (anti-social behaviour, and crimes
    before 2011-12) are dropped only when another file of the same month holds the same
    whole row at least as often: two identical incidents in one file are two incidents.
    """
    ids = records["crime_id"]
    has_id = ids.notna().to_numpy()
    drop = has_id & _repeated(ids)
    notes: list[str] = []
    if drop.any():
        sub = records.loc[has_id, ["crime_id", "_file", "month", "category", _LSOA_INDEX]]
        firsts = sub[~sub["crime_id"].duplicated()].set_index("crime_id")
        rep = records.loc[drop]
        first_file = rep["crime_id"].map(firsts["_file"]).to_numpy()
        differs = np.zeros(len(rep), dtype=bool)
        for col in ("month", "category", _LSOA_INDEX):
            differs |= rep[col].astype("str").to_numpy() != rep["crime_id"].map(firsts[col]).astype("str").to_numpy()
        pairs = pd.DataFrame({"file": rep["_file"].to_numpy(), "first": first_file}).value_counts(sort=False)
        parts = [
            f"{names[f]}: {n:,} repeated within the file"
            if f == g
            else f"{names[f]}: {n:,} already read from {names[g]}"
            for (f, g), n in pairs.items()
        ]
        conflict = (
            (
                f"; {int(differs.sum()):,} of them differ from the first row in month, LSOA or crime type "
                "(the first row is kept)"
            )
            if differs.any()
            else ""
        )
        notes.append(f"{int(drop.sum()):,} record(s) repeating a Crime ID already read ({list_codes(parts)}){conflict}")
    noid = ~has_id
    if noid.any() and records["_file"].nunique() > 1:
        per_month = records.loc[noid].groupby("month", observed=True)["_file"].nunique()
        shared = per_month[per_month > 1].index
        cand = noid & records["month"].isin(shared).to_numpy()
        if cand.any():
            keys = [c for c in _ROW_KEY if c in records.columns]
            sub = records.loc[cand, [*keys, "_file"]]
            # The n-th copy of a row in one file matches only the n-th copy in another.
            occ = sub.groupby(["_file", *keys], dropna=False, observed=True, sort=False).cumcount().to_numpy()
            keyed = sub[keys].assign(_occ=occ)
            again = keyed.duplicated(keep="first").to_numpy()
            if again.any():
                first_file = (
                    keyed.assign(_file=sub["_file"].to_numpy())
                    .groupby([*keys, "_occ"], dropna=False, observed=True, sort=False)["_file"]
                    .transform("first")
                    .to_numpy()
                )
                pairs = pd.DataFrame({"file": sub["_file"].to_numpy()[again], "first": first_file[again]})
                parts = [
                    f"{names[f]}: {n:,} also in {names[g]}" for (f, g), n in pairs.value_counts(sort=False).items()
                ]
                notes.append(
                    f"{int(again.sum()):,} record(s) without a Crime ID that repeat whole rows of another "
                    f"file for the same month ({list_codes(parts)})"
                )
                drop[np.flatnonzero(cand)[again]] = True
    if notes:
        logger.warning(
            "%s: dropped %s, so nothing is counted twice; %d of %d record(s) kept",
            source,
            "; and ".join(notes),
            int((~drop).sum()),
            len(records),
        )
        return records[~drop]
    return records


STREAM_ABOVE_BYTES = 256 * 1024 * 1024
"""``engine: auto`` streams through DuckDB when the files to read exceed this size."""


def _uses_duckdb(spec: SourceSpec, files: Sequence[StreetFile]) -> bool:
    if spec.engine == "duckdb" or any(f.archive is not None for f in files):
        return True
    return spec.engine == "auto" and sum(f.size for f in files) > STREAM_ABOVE_BYTES


def _read_street_frames(
    name: str, spec: SourceSpec, files: Sequence[StreetFile], area_codes: Collection[str] | None
) -> tuple[list[pd.DataFrame], int]:
    """Every file's records (``_file`` numbered in ``files`` order) and the rows parsed."""
    headers = [_street_header(f, spec.encoding) for f in files]
    columns = [_street_columns(h, f) for h, f in zip(headers, files)]
    if not _uses_duckdb(spec, files):
        frames = [_read_street_file(f, h, c, spec.encoding)
                  for f, h, c in track(zip(files, headers, columns), "police.uk files", total=len(files))]
        rows_read = sum(len(f) for f in frames)
    else:
        from pli.indicators.street_stream import connect, read_street_file_streaming

        area = None if area_codes is None else frozenset(str(c).strip().upper() for c in area_codes)
        con, uris = connect(files, area)
        frames, rows_read, outside = [], 0, 0
        with con:
            for f, uri, h, c in track(zip(files, uris, headers, columns), "police.uk files", total=len(files)):
                if f.path is not None:
                    # The same check, and message, as the pandas reader; DuckDB reports a
                    # cut-off zip member itself.
                    _check_last_record(f.path, len(h), spec.encoding)
                got = read_street_file_streaming(con, f, uri, h, c, area_codes=area is not None,
                                                 encoding=spec.encoding)
                frames.append(got.records)
                rows_read += got.rows_read
                outside += got.outside_area
        logger.info(
            "%s: streamed %d file(s), %s row(s), through DuckDB%s",
            name, len(files), f"{rows_read:,}",
            f"; {outside:,} record(s) in LSOAs outside the study area left unread" if area is not None else "",
        )
    frames = [_tidy_street_frame(frame, f).assign(_file=np.int32(i)) for i, (frame, f) in enumerate(zip(frames, files))]
    return frames, rows_read


def _load_police_uk(
    name: str,
    spec: SourceSpec,
    path: Path,
    area_codes: Collection[str] | None = None,
    *,
    cache_dir: Path | None = None,
) -> SourceTable:
    """The police.uk source at ``path``; with ``cache_dir``, its records come from the record
    cache when nothing deciding them has changed (:mod:`pli.indicators.record_cache`)."""
    listed = _window_files(name, spec, path)
    if cache_dir is None:
        records, details = _read_records(name, spec, path, listed, area_codes)
        return _records_table(name, spec, records, details, listed, None)
    # The pandas reader keeps every LSOA, so the area's codes would only split the cache.
    key_area = area_codes if area_codes is not None and _uses_duckdb(spec, listed) else None
    key = record_cache.records_key(name, spec, path, listed, key_area)
    cached = record_cache.read_records(cache_dir, key, source=name)
    if cached is not None:
        logger.info("%s: %s record(s) read from the record cache %s (the files are unchanged; what the "
                    "reader said when it read them follows)", name, f"{len(cached.records):,}", cached.use.file)
        record_cache.replay_messages(cached.messages)
        if logger.isEnabledFor(logging.INFO):  # not for each window `pli track` re-reads quietly
            progress.note(f"{name}: records from cache ({cached.use.file.name})")
        return _records_table(name, spec, cached.records, cached.details, listed, cached.use)
    with record_cache.recording_messages() as messages:
        records, details = _read_records(name, spec, path, listed, area_codes)
    use = record_cache.write_records(cache_dir, key, records, details, messages, source=name)
    return _records_table(name, spec, records, details, listed, use)


def _window_files(name: str, spec: SourceSpec, path: Path) -> list[StreetFile]:
    """The street files at ``path`` of the window's months, chosen by file name when all are named."""
    files = street_files(path)
    name_months = [re.match(rf"({_MONTH_RE})-", f.file_name) for f in files]
    if len(files) > 1 and all(name_months):
        # police.uk names files YYYY-MM-force-street.csv: picking the window from the names
        # first avoids parsing years of data that the window would throw away.
        by_month = [m.group(1) for m in name_months if m]
        keep = set(_select_window(by_month, spec, name=name, where=str(path), announce=False))
        files = [f for f, m in zip(files, by_month) if m in keep]
    return files


def _read_records(
    name: str, spec: SourceSpec, path: Path, files: list[StreetFile], area_codes: Collection[str] | None
) -> tuple[gpd.GeoDataFrame, dict]:
    """The records kept (window, LSOA code present, categories) with EPSG:27700 points, and
    what the table needs besides (``names`` of the files read, ``window``, ``rows_read``).

    Rows without coordinates have no geometry; rows are numbered from 0.
    """
    files, copies, clashes = _duplicate_street_files(files)
    if clashes:
        raise InputError(clashes, path=str(path))
    if copies:
        logger.warning(
            "%s: skipped %d file(s) identical to another file (same SHA-256), so their records are "
            "not counted twice: %s",
            name,
            len(copies),
            list_codes([f"{c.name} (same as {o.name}, {_data_rows(c):,} rows)" for c, o in copies]),
        )
    names = [f.name for f in files]
    frames, rows_read = _read_street_frames(name, spec, files, area_codes)
    records = _concat_records(frames)
    category, renamed = _canonical_categories(records["category"], POLICE_UK_CRIME_TYPES)
    if renamed:
        logger.warning(
            "%s: normalised %d record(s) whose 'Crime type' differs from a crime type's usual spelling "
            "only in case, spaces or dashes: %s",
            name,
            sum(n for _, n in renamed.values()),
            list_codes([f"{raw!r} -> {new!r} ({n:,})" for raw, (new, n) in renamed.items()]),
        )
        records = records.assign(category=category)
    records = _drop_duplicate_records(records, names, name)
    month_counts = records["month"].value_counts(sort=False)
    present = list(month_counts.index[month_counts.to_numpy() > 0].astype("str"))
    month_files = {
        str(m): ", ".join(names[i] for i in sorted(set(g))) for m, g in records.groupby("month", observed=True)["_file"]
    }
    window = _select_window(
        present,
        spec,
        name=name,
        where=str(path),
        counts={str(k): float(v) for k, v in month_counts.items()},
        month_files=month_files,
    )

    blank = records[_LSOA_INDEX].isna().to_numpy()
    in_window = records["month"].isin(window).to_numpy()
    if (blank & in_window).any():
        n_blank = int((blank & in_window).sum())
        no_xy = int((blank & in_window & records["lon"].isna().to_numpy()).sum())
        logger.warning(
            "%s: dropped %d of %d record(s) with a blank 'LSOA code' (%d of them without "
            "coordinates: police.uk could not place them)",
            name,
            n_blank,
            int(in_window.sum()),
            no_xy,
        )
    keep_rows = in_window & ~blank
    if spec.categories:
        present_cats = {_category_key(c): str(c) for c in records.loc[keep_rows, "category"].dropna().unique()}
        wanted = [present_cats.get(_category_key(c), c) for c in spec.categories]
        unknown = sorted(c for c, w in zip(spec.categories, wanted) if _category_key(w) not in present_cats)
        if unknown:
            logger.warning("%s: categories not found in the window: %s", name, list_codes(unknown))
        keep_rows &= records["category"].isin(wanted).to_numpy()
    records = records[keep_rows]
    records = records.reset_index(drop=True)
    located = (records["lon"].notna() & records["lat"].notna()).to_numpy()
    geometry = np.full(len(records), None, dtype=object)
    if located.any():
        lon, lat = records["lon"].to_numpy()[located], records["lat"].to_numpy()[located]
        geometry[located] = np.asarray(_points_frame(records[located], lon, lat, [], crs="EPSG:4326").geometry)
    frame = gpd.GeoDataFrame(records, geometry=gpd.GeoSeries(geometry, crs="EPSG:27700"), crs="EPSG:27700")
    return frame, {"names": names, "window": list(window), "rows_read": int(rows_read)}


def _records_table(
    name: str,
    spec: SourceSpec,
    records: gpd.GeoDataFrame,
    details: dict,
    listed: Sequence[StreetFile],
    use: record_cache.RecordCacheUse | None,
) -> SourceTable:
    """The source table of the records kept: counts per LSOA and crime type, and the points.

    The same for records just read and records from the cache, so both give the same table.
    """
    names, window = list(details["names"]), list(details["window"])
    by_name = {f.name: f for f in listed}
    files = [by_name[n] for n in names]
    table = _count_table(records)
    where = _category_where(records, names)
    odd = [c for c in table.columns if c != ALL_CRIME and c not in POLICE_UK_CRIME_TYPES]
    if odd:
        logger.warning(
            "%s: %d 'Crime type' value(s) are not police.uk crime types: %s",
            name,
            len(odd),
            list_codes([f"{c!r} ({where.get(c, '?')})" for c in odd]),
        )

    located = (records["lon"].notna() & records["lat"].notna()).to_numpy()
    if not located.all():
        logger.info(
            "%s: %d record(s) without coordinates are counted but left out of the points",
            name,
            int((~located).sum()),
        )
    geo = records[located]
    points = gpd.GeoDataFrame(
        geo[["month", "category", "location", _LSOA_INDEX, "crime_id"]].reset_index(drop=True),
        geometry=geo.geometry.reset_index(drop=True),
        crs="EPSG:27700",
    )
    for col in ("month", "category", _LSOA_INDEX):
        points[col] = points[col].cat.remove_unused_categories()
    logger.info(
        "%s: %d police.uk record(s) in %d LSOAs over %s, %d crime type(s): %s",
        name,
        len(records),
        len(table),
        _period(window),
        table.shape[1] - 1,
        list_codes([c for c in table.columns if c != ALL_CRIME], 14),
    )
    return SourceTable(
        name=name,
        kind=spec.kind,
        table=table,
        vintage=spec.vintage,
        period=_period(window),
        months=tuple(window),
        files=tuple(dict.fromkeys(p for f in files for p in (f.path or f.archive,) if p is not None)),
        rows_read=int(details["rows_read"]),
        points=points,
        category_where=where,
        record_cache=use,
    )
