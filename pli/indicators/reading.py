"""Reading and checking the CSV files of every loader: encodings, headers, numbers,
suppression markers, complete rows, LSOA keys and counts."""

from __future__ import annotations

import csv
import difflib
import logging
from collections.abc import Sequence
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
from pyproj import CRS, Transformer

from pli._codes import list_codes
from pli.config import SourceSpec
from pli.errors import InputError
from pli.indicators.sources import _LSOA_INDEX, ALL_CRIME, ASB

__all__ = [
]

logger = logging.getLogger(__name__)


_THOUSANDS_RE = r"[+-]?\d{1,3}(?:,\d{3})+(?:\.\d*)?"


# Placeholders official tables print for suppressed or unavailable values (ONS, GLA,
# Home Office), compared case-insensitively: "c" is ONS "confidential", "z" "not
# applicable", the bracketed forms are the newer ONS style, and the N/A spellings are
# what pandas would otherwise quietly turn into blanks.
_MISSING_MARKERS = frozenset({
    ".", "..", "...", ":", "-", "\u2013", "\u2014", "x", "*", "c", "z", "[c]", "[x]", "[z]",
    "n/a", "na", "#n/a", "nan", "null", "none",
})


_SHOW = 8  # rows quoted in one message before " and N more"

_TAIL_BYTES = 1 << 16




def _norm(name: str) -> str:
    return " ".join(str(name).split()).casefold()


def _csv_encoding(encoding: str) -> str:
    # Excel-saved CSVs often start with a byte-order mark that would glue onto the
    # first header name; utf-8-sig reads plain UTF-8 unchanged.
    return "utf-8-sig" if encoding.lower().replace("_", "-") in ("utf-8", "utf8") else encoding


def _read_header(path: Path, encoding: str) -> list[str]:
    try:
        with open(path, newline="", encoding=_csv_encoding(encoding)) as fh:
            header = next(csv.reader(fh), None)
    except UnicodeDecodeError as exc:
        raise InputError(
            f"cannot decode the file as {encoding} ({exc.reason}); set the source's "
            "'encoding' (e.g. cp1252)",
            path=str(path),
        ) from None
    if not header:
        raise InputError("the file is empty; expected a CSV with a header row", path=str(path))
    return header


def _find_column(header: Sequence[str], wanted: str | Sequence[str], *, path: Path, what: str) -> str:
    """The raw header name matching one of ``wanted`` (case/space-insensitive)."""
    options = [wanted] if isinstance(wanted, str) else list(wanted)
    lookup = {_norm(h): h for h in header}
    for opt in options:
        if _norm(opt) in lookup:
            return lookup[_norm(opt)]
    close = difflib.get_close_matches(_norm(options[0]), list(lookup), n=1)
    hint = f"; did you mean {lookup[close[0]]!r}?" if close else ""
    raise InputError(
        f"no {what} column: expected {' or '.join(repr(o) for o in options)}, found columns "
        f"{list_codes(header, 12)}{hint}",
        path=str(path),
    )


def _parse_numbers(frame: pd.DataFrame, *, path: Path, strict: bool = True) -> pd.DataFrame:
    """Numeric version of a frame of text columns; thousands separators tolerated.

    With ``strict`` a value that is neither blank nor a number raises one InputError
    per column listing the first offending file lines (header = line 1, taken from the
    frame's read_csv row numbers); otherwise text columns are dropped (announced in
    the log), but a column whose values are mostly numbers still raises.
    """
    out: dict[str, pd.Series] = {}
    problems: list[str] = []
    skipped: list[str] = []
    marked: dict[str, int] = {}
    seen_markers: set[str] = set()
    for col in frame.columns:
        s = frame[col]
        if pd.api.types.is_numeric_dtype(s):
            out[col] = s
            continue
        text = s.astype("str").str.strip()
        marker = _marker_mask(text)
        if marker.any():
            marked[str(col)] = int(marker.sum())
            seen_markers |= set(text[marker])
        text = text.where((text != "") & ~marker)
        grouped = text.str.fullmatch(_THOUSANDS_RE).fillna(False).astype(bool)
        cleaned = text.where(~grouped, text.str.replace(",", "", regex=False))
        num = pd.to_numeric(cleaned, errors="coerce")
        bad = text.notna() & num.isna()
        if bad.any():
            # A mostly numeric column with a few stray values is a broken data column, not
            # a text column to skip: skipping it would only surface later as "no such column".
            mostly_numeric = int(num.notna().sum()) >= int(bad.sum())
            if not strict and not mostly_numeric:
                skipped.append(str(col))
                continue
            pos = np.flatnonzero(bad.to_numpy())
            # The index is read_csv's row number (rows may have been filtered since).
            shown = ", ".join(f"line {frame.index[p] + 2}: {text.iloc[p]!r}" for p in pos[:5])
            more = f" and {len(pos) - 5} more" if len(pos) > 5 else ""
            problems.append(
                f"column {col!r}: expected numbers, found {len(pos)} non-numeric value(s) "
                f"({shown}{more}); fix or blank them, or drop the column from 'columns'"
            )
            continue
        out[col] = num
    if problems:
        raise InputError(problems, path=str(path))
    if skipped:
        logger.info("%s: skipped non-numeric columns %s", path.name, list_codes(skipped))
        marked = {c: n for c, n in marked.items() if c not in skipped}
    if marked:
        # Suppressed is unknown, not zero: the cells stay NaN and the caller decides.
        logger.warning(
            "%s: %d cell(s) hold suppression/unavailable markers (%s) and are read as missing, "
            "not 0: %s", path, sum(marked.values()), ", ".join(repr(m) for m in sorted(seen_markers)),
            list_codes([f"column {c!r} ({n})" for c, n in marked.items()]),
        )
    return pd.DataFrame(out, index=frame.index)


def _marker_mask(text: pd.Series) -> pd.Series:
    """True where a stripped text cell is a suppression/unavailable marker."""
    return text.str.casefold().isin(_MISSING_MARKERS).fillna(False).astype(bool)


def _integerise(frame: pd.DataFrame) -> pd.DataFrame:
    """Whole-number float columns without gaps back to int64 (counts, ranks)."""
    out = frame.copy()
    for col in out.columns:
        s = out[col]
        if pd.api.types.is_float_dtype(s) and s.notna().all() and np.all(np.mod(s.to_numpy(), 1) == 0):
            out[col] = s.astype("int64")
    return out


def _check_counts(values: pd.DataFrame, *, path: Path) -> None:
    """Counts must not be negative; one problem per column, quoting file lines."""
    problems = []
    for col in values.columns:
        neg = (values[col] < 0).to_numpy()
        if neg.any():
            pos = np.flatnonzero(neg)
            # The index is read_csv's row number, so +2 gives the file line (header = 1).
            shown = ", ".join(f"line {values.index[p] + 2}: {values[col].iloc[p]:g}" for p in pos[:5])
            more = f" and {len(pos) - 5} more" if len(pos) > 5 else ""
            problems.append(
                f"column {col!r}: expected counts of 0 or more, found {len(pos)} negative value(s) "
                f"({shown}{more}); fix or blank them"
            )
    if problems:
        raise InputError(problems, path=str(path))


def _check_outside_share(
    name: str, spec: SourceSpec, *, n_out: float, n_all: float, unit: str, where: str,
    path: Path | str, example: str, fix: str,
) -> None:
    """Records outside the study area: info, warning above ``outside_warn_share``, error above
    ``outside_error_share`` (an extract for another area or LSOA vintage)."""
    share = n_out / n_all if n_all else 1.0
    warn_share, error_share = spec.outside_shares()
    summary = f"{n_out:,.0f} of {n_all:,.0f} {unit} {where} ({share:.1%})"
    if share > error_share or (n_all > 0 and n_out >= n_all):
        limit = ("none is inside the study area" if n_out >= n_all
                 else f"above outside_error_share {error_share:.0%}")
        raise InputError(
            f"source {name!r}: {summary}, {limit} "
            f"(e.g. {example}); the file is probably for another area or LSOA vintage: {fix}",
            path=str(path),
        )
    if share > warn_share:
        logger.warning("%s: dropped %s (above outside_warn_share %.0f%%), e.g. %s",
                       name, summary, 100 * warn_share, example)
    else:
        logger.info("%s: dropped %s, e.g. %s", name, summary, example)


def _check_complete_rows(path: Path, encoding: str, *, code_position: int) -> None:
    """Rows with an LSOA code but fewer fields than the header: a cut-off or damaged file.

    pandas fills missing trailing fields with NaN, which the index stage would then
    impute as if the data were merely missing.
    """
    with open(path, newline="", encoding=_csv_encoding(encoding)) as fh:
        rows = csv.reader(fh)
        width = len(next(rows, []))
        short: list[tuple[int, int]] = []
        for line, row in enumerate(rows, start=2):
            if len(row) < width and len(row) > code_position and row[code_position].strip():
                short.append((line, len(row)))
    if not short:
        return
    with open(path, "rb") as fh:
        fh.seek(0, 2)
        size = fh.tell()
        fh.seek(max(0, size - 1))
        ends_cleanly = fh.read(1) in (b"\n", b"\r")
    last_line, n = short[-1]
    if len(short) == 1 and not ends_cleanly:
        raise InputError(
            f"the file looks truncated: its last line ({last_line}) stops after {n} of the header's "
            f"{width} fields, with no line ending; download the file again",
            path=str(path),
        )
    shown = ", ".join(f"line {ln} ({k} fields)" for ln, k in short[:5])
    more = f" and {len(short) - 5} more" if len(short) > 5 else ""
    tail = "; the last one has no line ending, so the file looks truncated" if not ends_cleanly else ""
    raise InputError(
        f"{len(short)} row(s) have fewer fields than the header's {width}: {shown}{more}{tail}; the rows "
        "are incomplete (a cut-off download or a damaged edit): download or export the file again",
        path=str(path),
    )


def _key_index(codes: pd.Series, *, path: Path, column: str) -> tuple[pd.Index, np.ndarray]:
    """Normalised LSOA codes plus a mask of usable rows; duplicates raise."""
    from pli._codes import list_codes, normalise_codes

    text = normalise_codes(codes, where=path.name, column=column)
    keep = (text.notna() & (text != "")).fillna(False).to_numpy(dtype=bool)
    if not keep.all():
        logger.warning(
            "%s: dropped %d row(s) with a blank %r (footnotes or unassigned records)",
            path.name, int((~keep).sum()), column,
        )
    kept = text[keep]
    dup = kept.duplicated(keep=False).to_numpy()
    if dup.any():
        lines = np.flatnonzero(keep)[dup] + 2
        pairs = [f"{c} (line {ln})" for c, ln in zip(kept[dup], lines)]
        raise InputError(
            f"column {column!r}: expected one row per LSOA, found {int(dup.sum())} rows with "
            f"repeated codes: {list_codes(pairs)}; remove the duplicates or aggregate first",
            path=str(path),
        )
    return pd.Index(kept.to_numpy(), name=_LSOA_INDEX, dtype="str"), keep


def _count_table(records: pd.DataFrame) -> pd.DataFrame:
    """Counts per LSOA and category, plus ``all_crime`` (anti-social behaviour excluded)."""
    if records.empty:
        table = pd.DataFrame(index=pd.Index([], name=_LSOA_INDEX, dtype="str"))
    else:
        table = (
            records.groupby([_LSOA_INDEX, "category"], sort=True, observed=True)
            .size()
            .unstack("category", fill_value=0)
        )
        table.columns = pd.Index([str(c) for c in table.columns])
    table[ALL_CRIME] = table.drop(columns=[ASB], errors="ignore").sum(axis=1)
    table = table.astype("int64")
    table.index = table.index.astype("str").rename(_LSOA_INDEX)
    return table


def _points_frame(
    records: pd.DataFrame, x: np.ndarray, y: np.ndarray, columns: Sequence[str], *, crs: str
) -> gpd.GeoDataFrame:
    """Records as EPSG:27700 points; ``x``/``y`` are in ``crs``."""
    if CRS.from_user_input(crs).to_epsg() != 27700:
        x, y = Transformer.from_crs(crs, "EPSG:27700", always_xy=True).transform(x, y)
    return gpd.GeoDataFrame(
        records[list(columns)].reset_index(drop=True),
        geometry=gpd.points_from_xy(x, y),
        crs="EPSG:27700",
    )


def _check_last_record(path: Path, n_fields: int, encoding: str) -> None:
    """Raise when the file's last row is cut short: too few fields or an open quote."""
    size = path.stat().st_size
    with open(path, "rb") as fh:
        fh.seek(max(0, size - _TAIL_BYTES))
        tail = fh.read()
    whole = size <= _TAIL_BYTES
    text = tail.decode(_csv_encoding(encoding) if whole else encoding, errors="replace")
    if not whole:
        text = text[text.find("\n") + 1:]  # the first line of the tail may be partial
    body = text.rstrip("\r\n")
    if not body:
        return
    lines = body.split("\n")[-50:]
    problem = None
    try:
        rows = list(csv.reader(lines, strict=True))
    except csv.Error as exc:
        if "end of data" not in str(exc):
            return  # other quoting trouble is reported by the parser with its line
        problem = "ends inside a quoted field (an unterminated quote)"
    else:
        if not rows:
            return
        last = rows[-1]
        if len(last) < n_fields:
            problem = f"has {len(last)} of the header's {n_fields} fields"
    if problem is None:
        return
    line = _count_newlines(path) - text[len(body):].count("\n") + 1
    raise InputError(
        f"line {line}: the last row {problem}; the file looks cut off (an interrupted download "
        "or copy): download or export it again",
        path=str(path),
    )


def _count_newlines(path: Path) -> int:
    with open(path, "rb") as fh:
        return sum(chunk.count(b"\n") for chunk in iter(lambda: fh.read(1 << 20), b""))
