"""Streaming police.uk street files through DuckDB: rows kept, not rows read, reach memory.

The pandas reader parses every row of every file into a frame before anything is thrown
away. A force-wide download or the all-forces bulk archive holds millions of rows of
which a study area keeps a few thousand, so here DuckDB (in-process, no server) parses
each CSV, the study area's LSOA codes are tested inside DuckDB, and pandas only receives record
batches of the rows kept. Memory then follows the rows kept and one batch, not the size
of the files; the window's months are chosen from the file names before any is opened,
as the pandas reader does, so adding months to the folder adds nothing either.

Each file becomes the same frame as the pandas reader's, with the same column types, the
same checks and the same messages (missing columns, an unparseable coordinate or month
named by line), so the rest of the police.uk loader does not know which reader ran.
Line numbers are data-row positions plus 2, as in the pandas reader; DuckDB keeps the
rows of one file in file order (``preserve_insertion_order``), which is what makes them
right.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from pli.errors import InputError
from pli.indicators.street_files import StreetFile

__all__ = ["StreamedFile", "connect", "read_street_file_streaming"]


_COORDINATES = ("lon", "lat")

BATCH_ROWS = 262_144
"""Rows per record batch handed from DuckDB to pandas (bounds the reader's own memory)."""


@dataclass(frozen=True)
class StreamedFile:
    """One street file read by DuckDB.

    Attributes
    ----------
    records : pandas.DataFrame
        The rows kept, typed as the pandas reader types them, with ``_line``.
    rows_read : int
        Every data row in the file.
    outside_area : int
        Rows left behind because their LSOA is not one of the
        area codes given (0 without area codes).
    """

    records: pd.DataFrame
    rows_read: int
    outside_area: int


def _sql_text(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _sql_literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _duckdb_encoding(encoding: str) -> str:
    key = encoding.lower().replace("_", "-")
    if key in ("utf-8", "utf8", "utf-8-sig"):
        return "utf-8"
    if key in ("latin-1", "latin1", "iso-8859-1", "cp1252", "windows-1252"):
        # DuckDB reads Latin-1; cp1252 differs only in 0x80-0x9F (curly quotes, the euro
        # sign), which police.uk street files do not use in the columns read.
        return "latin-1"
    raise InputError(f"the DuckDB reader cannot decode {encoding!r}; use engine: pandas for this source")


_MONTH_SQL = r"^\d{4}-(0[1-9]|1[0-2])$"


def read_street_file_streaming(
    con,
    file: StreetFile,
    uri: str,
    header: Sequence[str],
    columns: dict[str, str],
    *,
    area_codes: bool,
    encoding: str,
) -> StreamedFile:
    """Read one street file with DuckDB, keeping the study area's LSOAs.

    Parameters
    ----------
    con : duckdb.DuckDBPyConnection
        The connection (with the archive's file system registered for zip members).
    file : StreetFile
        The file, for messages.
    uri : str
        What DuckDB opens (a path, or ``zip://member``).
    header : sequence of str
        The file's raw header names, in order (read and checked by the caller).
    columns : dict
        Raw header name -> internal name of the columns to read.
    area_codes : bool
        Keep only the LSOA codes given to :func:`connect` (records with a blank LSOA
        code are kept too, so the loader can report them); False keeps every LSOA.
    encoding : str
        The source's encoding.

    Returns
    -------
    StreamedFile

    Raises
    ------
    InputError
        The CSV cannot be parsed, or a coordinate or month is malformed; the message
        names the file and lines.
    """
    short = {v: k for k, v in columns.items()}
    month_raw = f"trim({_sql_text(short['month'])})"
    lsoa_raw = f"upper(trim({_sql_text(short['lsoa_code'])}))"
    if area_codes:
        in_area = f"(coalesce({lsoa_raw}, '') = '' OR {lsoa_raw} IN (SELECT code FROM _area))"
    else:
        in_area = "TRUE"
    bad_month = f"({month_raw} IS NULL OR NOT regexp_matches({month_raw}, {_sql_literal(_MONTH_SQL)}))"
    keep_expr = f"{in_area} OR {bad_month}"
    outside_expr = f"(NOT {in_area} AND NOT {bad_month})"
    parts = []
    for raw, internal in columns.items():
        if internal in _COORDINATES:
            # Parsed here rather than in pandas: two million coordinates a year nationally.
            text = f"NULLIF(trim({_sql_text(raw)}), '')"
            number = f"TRY_CAST({text} AS DOUBLE)"
            parts.append(f"CASE WHEN _keep THEN {number} END AS {_sql_text(internal)}")
            parts.append(f"CASE WHEN _keep AND {text} IS NOT NULL AND {number} IS NULL THEN {text} END "
                         f"AS {_sql_text('_bad_' + internal)}")
        else:
            parts.append(f"CASE WHEN _keep THEN {_sql_text(raw)} END AS {_sql_text(internal)}")
    selected = ", ".join(parts)
    column_types = ", ".join(_sql_literal(raw) + ": 'VARCHAR'" for raw in header)
    sql = (
        f"SELECT _keep, _outside, {selected} FROM ("
        f"SELECT *, {keep_expr} AS _keep, {outside_expr} AS _outside "
        f"FROM read_csv({_sql_literal(uri)}, header = true, all_varchar = true, auto_detect = false, "
        f"columns = {{{column_types}}}, "
        f"encoding = {_sql_literal(_duckdb_encoding(encoding))}, strict_mode = true, null_padding = false, "
        "quote = '\"', escape = '\"', delim = ','))"
    )
    try:
        relation = con.sql(sql)
        # DuckDB 2 names it to_arrow_reader; 1.x fetch_arrow_reader.
        to_reader = getattr(relation, "to_arrow_reader", None) or relation.fetch_arrow_reader
        reader = to_reader(BATCH_ROWS)
        kept: list[pa.RecordBatch] = []
        rows_read = 0
        outside = 0
        for batch in reader:
            keep = batch.column(0)
            outside += int(pc.sum(batch.column(1)).as_py() or 0)
            if pc.any(keep).as_py():
                lines = np.flatnonzero(keep.to_numpy(zero_copy_only=False)) + rows_read + 2
                rows = batch.filter(keep).drop_columns(["_keep", "_outside"])
                kept.append(rows.append_column("_line", pa.array(lines.astype(np.int32))))
            rows_read += batch.num_rows
    except duckdb.Error as exc:
        raise InputError(
            f"cannot parse the file as a police.uk street CSV ({_duckdb_reason(exc)}); expected one "
            "police.uk record per line with the header's fields",
            path=file.where(),
        ) from None
    if kept:
        table = pa.Table.from_batches(kept)
    else:
        table = reader.schema.empty_table().drop_columns(["_keep", "_outside"])
        table = table.append_column("_line", pa.array([], type=pa.int32()))
    return StreamedFile(records=_typed(table, columns, file), rows_read=rows_read, outside_area=outside)


def _duckdb_reason(exc: Exception) -> str:
    """DuckDB's CSV error cut to the line and the problem (its "possible fixes" are for SQL users)."""
    text = str(exc)
    line = re.search(r"CSV Error on Line: (\d+)", text)
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    after = [ln for i, ln in enumerate(lines) if i and lines[i - 1].startswith("Original Line:")]
    problem = (after[0] if after else lines[0] if lines else type(exc).__name__).rstrip(".")
    problem = problem[:1].lower() + problem[1:]
    return f"line {line.group(1)}: {problem}" if line else problem[:300]


def _typed(table: pa.Table, columns: dict[str, str], file: StreetFile) -> pd.DataFrame:
    """The pandas reader's column types: float coordinates, categorical codes.

    Coordinates arrive parsed by DuckDB, with the text of any that would not parse;
    text columns other than the Crime ID and location become categoricals through
    Arrow's dictionary encoding, with categories in text order as ``astype("category")``
    gives them.
    """
    out: dict[str, object] = {}
    lines = table.column("_line").to_numpy()
    for internal in columns.values():
        if internal in _COORDINATES:
            bad = table.column("_bad_" + internal)
            if bad.null_count < len(bad):
                pos = np.flatnonzero(pc.is_valid(bad).to_numpy(zero_copy_only=False))[:5]
                shown = ", ".join(f"line {lines[p]}: {text!r}" for p, text in zip(pos, bad.take(pos).to_pylist()))
                raise InputError(
                    f"cannot parse the file as a police.uk street CSV (column {internal!r}: {shown}); "
                    "Longitude/Latitude must be numbers or blank",
                    path=file.where(),
                )
            out[internal] = table.column(internal).to_numpy().astype("float64")
        elif internal in ("crime_id", "location"):
            values = table.column(internal).to_pandas()
            out[internal] = values.astype("str").where(values.notna(), np.nan)
        else:
            encoded = pc.dictionary_encode(table.column(internal)).combine_chunks().to_pandas()
            categories = encoded.cat.categories
            out[internal] = encoded.cat.reorder_categories(sorted(categories)) if len(categories) else encoded
    frame = pd.DataFrame(out, index=pd.RangeIndex(len(lines)))
    frame["_line"] = lines.astype(np.int32)
    return frame


def connect(files: Sequence[StreetFile], area_codes: Collection[str] | None = None):
    """A DuckDB connection able to open ``files``, and the URI of each.

    Zip members are opened through fsspec's zip file system, registered with DuckDB, so
    the archive is never unpacked to disk. ``area_codes`` (upper case) become the
    ``_area`` table the reader filters on.
    """
    con = duckdb.connect(config={"preserve_insertion_order": True})
    archives = {f.archive for f in files if f.archive is not None}
    if len(archives) > 1:
        raise InputError("one source may name one zip archive; give each archive its own source")
    uris = []
    if archives:
        from fsspec.implementations.zip import ZipFileSystem

        con.register_filesystem(ZipFileSystem(str(next(iter(archives)))))
    for f in files:
        uris.append(f"zip://{f.name}" if f.archive is not None else str(Path(f.path or "")))
    if area_codes is not None:
        import pyarrow as pa

        codes = pa.table({"code": sorted(area_codes)})  # noqa: F841 - DuckDB reads it by name
        con.execute("CREATE TEMP TABLE _area AS SELECT code FROM codes")
    return con, uris
