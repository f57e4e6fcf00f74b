"""Loaders for the input formats analysts really have, and the indicator table.

Each loader reads one published format into a :class:`SourceTable`: a frame indexed by
the LSOA code *as found in the file* (index name ``lsoa_code``, any vintage), holding
numeric columns only. :func:`build_indicators` then reconciles every source to the
boundary vintage, aligns it to the boundary LSOAs and applies each indicator's
transform (value, count, rate per 1,000, share, log).

Source kinds (``SourceSpec.kind``)
----------------------------------
``police_uk``
    data.police.uk street-level CSVs (a folder searched recursively for
    ``*-street.csv``, or one file). One column per ``Crime type`` as published, plus
    ``all_crime`` (every type except anti-social behaviour); ``points`` holds the
    geocoded records in EPSG:27700. Nothing is counted twice: a byte-identical copy of a
    file (``... (1).csv``, ``backup/``) is skipped, two different files for one month and
    force are refused, a repeated Crime ID is counted once, and a row without an ID that
    another file of the same month repeats whole is dropped (each announced with its
    files). Spelling variants of a crime type (case, spaces, dashes) are mapped onto
    police.uk's name; a cut-off last row raises.
``mps_lsoa_crime``
    Met Police "recorded crime by LSOA" (London Datastore): one row per LSOA x major x
    minor category, one column per month ``YYYYMM``. Columns ``"MAJOR/MINOR"`` plus
    ``all_crime``. A repeated LSOA x category row or month column raises, and so does a
    suppression marker (``c``, ``..``, ``[x]``, ...) in a month of the window: a gap read
    as 0 would undercount.
``iod2019``
    English Indices of Deprivation 2019, File 7 layout; short aliases, see
    :data:`IOD2019_COLUMNS`.
``census2011_population``
    The Census 2011 persons / households / hectares file; see :data:`CENSUS2011_COLUMNS`.
``census2021``
    Nomis bulk CSV keyed by ``geography code``; columns as published, plus
    ``residents_total`` and ``young_residents_10_24`` when the TS007A age bands are there.
``lsoa_table``
    Any LSOA-keyed CSV (``code_column`` required, ``columns`` optional).
``points``
    Any point CSV, spatially joined to the LSOA polygons.

Examples
--------
>>> from pli.config import SourceSpec
>>> from pli.indicators import load_source
>>> spec = SourceSpec(kind="iod2019", path="croydon_iod2019.csv")
>>> src = load_source("imd", spec, resolve=lambda p: data_dir / p)   # doctest: +SKIP
>>> src.table["imd_score"].describe()                                # doctest: +SKIP
"""

from __future__ import annotations

import csv
import dataclasses
import difflib
import fnmatch
import functools
import hashlib
import logging
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import geopandas as gpd
import numpy as np
import pandas as pd
from pandas.api.types import union_categoricals
from pyproj import CRS, Transformer

from pli.config import ConfigError, IndicatorSpec, SourceSpec, StudyConfig
from pli.errors import InputError

__all__ = [
    "ALL_CRIME",
    "ASB",
    "CENSUS2011_COLUMNS",
    "COUNT_KINDS",
    "IOD2019_COLUMNS",
    "POLICE_UK_COLUMNS",
    "POLICE_UK_CRIME_TYPES",
    "HarmWeightsLike",
    "IndicatorTable",
    "SourceTable",
    "build_indicators",
    "load_source",
]

logger = logging.getLogger(__name__)

ALL_CRIME = "all_crime"
"""Column holding every recorded crime in a crime source (anti-social behaviour excluded)."""

ASB = "Anti-social behaviour"
"""police.uk's anti-social behaviour category: incidents, not recorded crimes."""

POLICE_UK_CRIME_TYPES: tuple[str, ...] = (
    "Anti-social behaviour", "Bicycle theft", "Burglary", "Criminal damage and arson", "Drugs",
    "Other crime", "Other theft", "Possession of weapons", "Public order", "Robbery", "Shoplifting",
    "Theft from the person", "Vehicle crime", "Violence and sexual offences",
    # Published until May 2013, then split or renamed.
    "Public disorder and weapons", "Violent crime",
)
"""Every ``Crime type`` police.uk has published; spelling variants are mapped onto these."""

COUNT_KINDS = frozenset({"police_uk", "mps_lsoa_crime", "points"})
"""Source kinds holding counts: an LSOA absent from the file had zero events."""

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

_LSOA_INDEX = "lsoa_code"
_MONTH_RE = r"\d{4}-(?:0[1-9]|1[0-2])"
_THOUSANDS_RE = r"[+-]?\d{1,3}(?:,\d{3})+(?:\.\d*)?"
_PARTIAL_MONTH_SHARE = 0.10
# Placeholders official tables print for suppressed or unavailable values (ONS, GLA,
# Home Office), compared case-insensitively: "c" is ONS "confidential", "z" "not
# applicable", the bracketed forms are the newer ONS style, and the N/A spellings are
# what pandas would otherwise quietly turn into blanks.
_MISSING_MARKERS = frozenset({
    ".", "..", "...", ":", "-", "\u2013", "\u2014", "x", "*", "c", "z", "[c]", "[x]", "[z]",
    "n/a", "na", "#n/a", "nan", "null", "none",
})
# A month with fewer records than this share of the window's median month is announced.
_SHORT_MONTH_SHARE = 0.25
# Dashes and underscores that spelling variants of one category swap for each other.
_DASHES_RE = re.compile("[-_\u2010\u2011\u2012\u2013\u2014\u2015\u2212]")
# Files police.uk names YYYY-MM-<force>-street.csv; browsers and file managers save
# copies as "...-street (1).csv" or "...-street - Copy.csv", which must be seen too.
_STREET_GLOB = "*-street*.csv"
_STREET_NAME_RE = re.compile(r"(\d{4}-(?:0[1-9]|1[0-2]))-(.+?)-street(.*)\.csv", re.IGNORECASE)
_SHOW = 8  # codes / rows quoted in one message before "... and N more"

_IOD_RANK = " Rank (where 1 is most deprived)"
_IOD_DECILE = " Decile (where 1 is most deprived 10% of LSOAs)"


def _iod_domain(alias: str, stem: str, score: str = " Score") -> dict[str, str]:
    return {
        f"{alias}_score": f"{stem}{score}",
        f"{alias}_rank": f"{stem}{_IOD_RANK}",
        f"{alias}_decile": f"{stem}{_IOD_DECILE}",
    }


IOD2019_COLUMNS: dict[str, str] = {
    **_iod_domain("imd", "Index of Multiple Deprivation (IMD)"),
    **_iod_domain("income", "Income", " Score (rate)"),
    **_iod_domain("employment", "Employment", " Score (rate)"),
    **_iod_domain("education", "Education, Skills and Training"),
    **_iod_domain("health", "Health Deprivation and Disability"),
    **_iod_domain("crime", "Crime"),
    **_iod_domain("housing", "Barriers to Housing and Services"),
    **_iod_domain("living_environment", "Living Environment"),
    **_iod_domain("idaci", "Income Deprivation Affecting Children Index (IDACI)", " Score (rate)"),
    **_iod_domain("idaopi", "Income Deprivation Affecting Older People (IDAOPI)", " Score (rate)"),
    **_iod_domain("cyp", "Children and Young People Sub-domain"),
    **_iod_domain("adult_skills", "Adult Skills Sub-domain"),
    **_iod_domain("geographical_barriers", "Geographical Barriers Sub-domain"),
    **_iod_domain("wider_barriers", "Wider Barriers Sub-domain"),
    **_iod_domain("indoors", "Indoors Sub-domain"),
    **_iod_domain("outdoors", "Outdoors Sub-domain"),
    "population_total_2015": "Total population: mid 2015 (excluding prisoners)",
    "population_0_15_2015": "Dependent Children aged 0-15: mid 2015 (excluding prisoners)",
    "population_16_59_2015": "Population aged 16-59: mid 2015 (excluding prisoners)",
    "population_60plus_2015": "Older population aged 60 and over: mid 2015 (excluding prisoners)",
    "population_working_age_2015": (
        "Working age population 18-59/64: for use with Employment Deprivation Domain "
        "(excluding prisoners)"
    ),
}
"""IoD2019 File 7 columns: short alias -> published header.

Headers are matched ignoring case, surrounding spaces and repeated spaces, so the
published trailing space in the working-age population header does not matter. Ranks
and deciles are national (1 = most deprived of 32,844 LSOAs); population denominators
are mid-2015 and exclude prisoners. The key column is ``LSOA code (2011)``.

=============================  ======================================================
alias                          published header (score; rank and decile alike)
=============================  ======================================================
imd_score/_rank/_decile        Index of Multiple Deprivation (IMD) Score
income_score/...               Income Score (rate)
employment_score/...           Employment Score (rate)
education_score/...            Education, Skills and Training Score
health_score/...               Health Deprivation and Disability Score
crime_score/...                Crime Score
housing_score/...              Barriers to Housing and Services Score
living_environment_score/...   Living Environment Score
idaci_score/...                Income Deprivation Affecting Children Index (IDACI) Score (rate)
idaopi_score/...               Income Deprivation Affecting Older People (IDAOPI) Score (rate)
cyp_score/...                  Children and Young People Sub-domain Score
adult_skills_score/...         Adult Skills Sub-domain Score
geographical_barriers_score/.. Geographical Barriers Sub-domain Score
wider_barriers_score/...       Wider Barriers Sub-domain Score
indoors_score/...              Indoors Sub-domain Score
outdoors_score/...             Outdoors Sub-domain Score
population_total_2015          Total population: mid 2015 (excluding prisoners)
population_0_15_2015           Dependent Children aged 0-15: mid 2015 (...)
population_16_59_2015          Population aged 16-59: mid 2015 (...)
population_60plus_2015         Older population aged 60 and over: mid 2015 (...)
population_working_age_2015    Working age population 18-59/64: for use with Employment
                               Deprivation Domain (excluding prisoners)
=============================  ======================================================
"""

_IOD2019_CODE = "LSOA code (2011)"

CENSUS2011_COLUMNS: dict[str, str] = {
    "usual_residents": "1st 'Persons' column: all usual residents",
    "household_residents": "2nd 'Persons' column: residents in households",
    "communal_residents": "3rd 'Persons' column: residents in communal establishments",
    "hectares": "Hectares",
    "households": "Households",
}
"""Census 2011 population file: output column -> where it comes from.

The published header names three columns ``Persons`` and leaves the 9th blank, so the
three ``Persons`` columns are taken by position, in this order.
"""

# Nomis TS007A five-year bands summed into the "young residents" indicator.
_TS007A_YOUNG = ("Age: Aged 10 to 14 years", "Age: Aged 15 to 19 years", "Age: Aged 20 to 24 years")
_TS007A_TOTAL = "Age: Total"
_NOMIS_CODE = "geography code"
_NOMIS_NON_DATA = ("date", "geography")


# --------------------------------------------------------------------------- results


@dataclass(frozen=True)
class SourceTable:
    """One input dataset, loaded and keyed by LSOA code.

    Attributes
    ----------
    name : str
        The source's name in the config.
    kind : str
        Loader used (``SourceSpec.kind``).
    table : pandas.DataFrame
        Index ``lsoa_code`` (codes as found in the file, any vintage), numeric columns.
    vintage : int
        LSOA vintage declared for the codes (2011 or 2021).
    period : str or None
        Crime sources: ``"YYYY-MM to YYYY-MM"`` covered by the counts.
    months : tuple of str
        Crime sources: every ``YYYY-MM`` month counted.
    files : tuple of Path
        Files read.
    rows_read : int
        Data rows read from the files, before any filtering.
    points : geopandas.GeoDataFrame or None
        Point sources (``police_uk``, ``points``): one row per geocoded record in the
        window, EPSG:27700.
    category_where : dict
        Crime sources: category column -> where it was first seen (file, line and
        record count), so a message about a category can point into the data.
    """

    name: str
    kind: str
    table: pd.DataFrame
    vintage: int
    period: str | None
    months: tuple[str, ...]
    files: tuple[Path, ...]
    rows_read: int
    points: gpd.GeoDataFrame | None = None
    category_where: dict[str, str] = field(default_factory=dict)

    def to_frame(self) -> pd.DataFrame:
        """A copy of :attr:`table`."""
        return self.table.copy()

    def __repr__(self) -> str:
        period = f", period={self.period!r}" if self.period else ""
        pts = f", {len(self.points):,} points" if self.points is not None else ""
        return (
            f"SourceTable({self.name!r}, kind={self.kind!r}, {len(self.table):,} LSOAs x "
            f"{self.table.shape[1]} columns{period}{pts}, rows_read={self.rows_read:,})"
        )


@dataclass(frozen=True)
class IndicatorTable:
    """Indicators aligned to the boundary LSOAs.

    Attributes
    ----------
    values : pandas.DataFrame
        Index ``lsoa_code`` (boundary LSOAs, boundary order), one column per indicator,
        after its transform. Value sources leave LSOAs they lack as NaN.
    raw : pandas.DataFrame
        Same index; ``<indicator>_numerator`` for every indicator and
        ``<indicator>_denominator`` (after any floor) for rates and shares.
    specs : tuple of IndicatorSpec
        The indicator specs, in config order.
    periods : dict
        Indicator name -> period of its source, for sources that have one.
    harm_by_category : dict
        Harm-weighted indicator -> DataFrame (index category) with ``count``,
        ``weight_days``, ``harm_days`` and ``share`` over the study area, so the
        categories that dominate harm are visible.
    """

    values: pd.DataFrame
    raw: pd.DataFrame
    specs: tuple[IndicatorSpec, ...]
    periods: dict[str, str]
    harm_by_category: dict[str, pd.DataFrame] = field(default_factory=dict)

    def to_frame(self) -> pd.DataFrame:
        """A copy of :attr:`values`."""
        return self.values.copy()

    def __repr__(self) -> str:
        n_missing = int(self.values.isna().sum().sum())
        return (
            f"IndicatorTable({len(self.values):,} LSOAs x {self.values.shape[1]} indicators, "
            f"{n_missing} missing values)"
        )


class HarmWeightsLike(Protocol):
    """What :func:`build_indicators` needs from ``pli.harm.HarmWeights``."""

    def weight_for(self, categories: Sequence[str], scheme: str) -> np.ndarray: ...


# --------------------------------------------------------------------------- helpers


def _listing(items: Sequence[Any], show: int = _SHOW) -> str:
    items = list(items)
    head = ", ".join(str(i) for i in items[:show])
    return head + (f" ... and {len(items) - show} more" if len(items) > show else "")


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
        f"{_listing(header, 12)}{hint}",
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
        logger.info("%s: skipped non-numeric columns %s", path.name, _listing(skipped))
        marked = {c: n for c, n in marked.items() if c not in skipped}
    if marked:
        # Suppressed is unknown, not zero: the cells stay NaN and the caller decides.
        logger.warning(
            "%s: %d cell(s) hold suppression/unavailable markers (%s) and are read as missing, "
            "not 0: %s", path, sum(marked.values()), ", ".join(repr(m) for m in sorted(seen_markers)),
            _listing([f"column {c!r} ({n})" for c, n in marked.items()]),
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
    from pli._codes import normalise_codes

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
            f"repeated codes: {_listing(pairs)}; remove the duplicates or aggregate first",
            path=str(path),
        )
    return pd.Index(kept.to_numpy(), name=_LSOA_INDEX, dtype="str"), keep


def _validate_month(value: str | None, key: str) -> str | None:
    if value is None:
        return None
    value = str(value).strip()
    if not re.fullmatch(_MONTH_RE, value):
        raise ConfigError([f"{key}: expected a month as YYYY-MM, got {value!r}"])
    return value


def _select_window(
    present: Sequence[str], spec: SourceSpec, *, name: str, where: str, announce: bool = True,
    counts: dict[str, float] | None = None, month_files: dict[str, str] | None = None,
) -> list[str]:
    """Months of ``present`` (sorted ``YYYY-MM``) inside the source's time window.

    With ``counts`` (records per month) a month of the window holding fewer than a
    quarter of the window's median month is announced: a stray or partial download
    that the default "latest months" window would otherwise take in silently.
    ``month_files`` names the file(s) of each month in that message.
    """
    start = _validate_month(spec.start_month, f"sources.{name}.start_month")
    end = _validate_month(spec.end_month, f"sources.{name}.end_month")
    months = sorted(set(present))
    if not months:
        raise InputError("no months found in the data", path=where)
    if start and end and start > end:
        raise ConfigError([f"sources.{name}: start_month {start} is after end_month {end}"])
    if start or end:
        candidates = [m for m in months if (start is None or m >= start) and (end is None or m <= end)]
        if start is None and spec.window_months:
            candidates = candidates[-spec.window_months:]
    elif spec.window_months:
        candidates = months[-spec.window_months:]
    else:
        candidates = months
    if not candidates:
        raise InputError(
            f"no data inside the window {start or '...'} to {end or '...'}; the data "
            f"covers {months[0]} to {months[-1]}: move start_month/end_month",
            path=where,
        )
    if announce:
        lo, hi = candidates[0], candidates[-1]
        calendar = pd.period_range(lo, hi, freq="M").strftime("%Y-%m").tolist()
        gaps = sorted(set(calendar) - set(candidates))
        how = "start_month/end_month" if (start or end) else (
            f"latest {spec.window_months} months present" if spec.window_months else "all months"
        )
        logger.info("%s: window %s (%d months, %s)", name, _period(candidates), len(candidates), how)
        if gaps:
            logger.warning("%s: no data for %d month(s) inside the window: %s", name, len(gaps), _listing(gaps))
        if spec.window_months and not (start or end) and len(candidates) < spec.window_months:
            logger.warning(
                "%s: only %d month(s) of data, fewer than window_months=%d",
                name, len(candidates), spec.window_months,
            )
        if counts is not None:
            _warn_short_months(candidates, counts, name=name, how=how, month_files=month_files or {})
    return candidates


def _warn_short_months(
    window: Sequence[str], counts: dict[str, float], *, name: str, how: str, month_files: dict[str, str]
) -> None:
    per_month = pd.Series([float(counts.get(m, 0.0)) for m in window], index=list(window))
    if len(per_month) < 2:
        return
    median = float(per_month.median())
    short = per_month[per_month < _SHORT_MONTH_SHARE * median]
    for month, n in short.items():
        files = f" ({month_files[month]})" if month in month_files else ""
        logger.warning(
            "%s: month %s has only %s record(s), under %.0f%% of the median month in the window "
            "(%s); the window %s (%s) includes it. If the month is incomplete or a stray file%s, "
            "remove it or set start_month/end_month to leave it out",
            name, month, f"{n:,.0f}", 100 * _SHORT_MONTH_SHARE, f"{median:,.0f}", _period(list(window)),
            how, files,
        )


def _period(months: Sequence[str]) -> str:
    return months[0] if months[0] == months[-1] else f"{months[0]} to {months[-1]}"


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


# --------------------------------------------------------------------------- police.uk


def _street_files(path: Path) -> list[Path]:
    if path.is_dir():
        files = sorted(p for p in path.rglob(_STREET_GLOB) if p.is_file())
        if not files:
            raise InputError(
                "no police.uk street files (*-street.csv) found in this folder or below; "
                "unzip the data.police.uk download here (YYYY-MM/ folders are fine)",
                path=str(path),
            )
        return files
    if path.is_file():
        return [path]
    raise InputError("file or folder not found; check the source's 'path' and --data-dir", path=str(path))


def _relative(path: Path, base: Path) -> str:
    try:
        return str(path.relative_to(base))
    except ValueError:
        return str(path)


def _file_digest(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _count_newlines(path: Path) -> int:
    with open(path, "rb") as fh:
        return sum(chunk.count(b"\n") for chunk in iter(lambda: fh.read(1 << 20), b""))


def _duplicate_street_files(
    files: Sequence[Path], base: Path
) -> tuple[list[Path], list[tuple[Path, Path]], list[str]]:
    """Split street files into those to read, identical copies, and month/force clashes.

    Returns the files to read (in path order), ``(copy, original)`` pairs of files with
    the same bytes as another (the copy is skipped), and one problem per month and force
    held by two files with different contents. Of identical files the one with
    police.uk's own name, in a folder named for its month (as the download unzips),
    nearest the top of the folder, is read.
    """
    def preference(f: Path) -> tuple[bool, bool, int, str]:
        m = _STREET_NAME_RE.fullmatch(f.name)
        own_name = m is not None and not m.group(3).strip()
        own_folder = m is not None and f.parent.name == m.group(1)
        return (not own_name, not own_folder, len(Path(_relative(f, base)).parts), str(f))

    ordered = sorted(files, key=preference)
    by_size: dict[int, list[Path]] = {}
    for f in ordered:
        by_size.setdefault(f.stat().st_size, []).append(f)
    # Only files of equal size can be identical, so most files are never hashed.
    digests = {f: _file_digest(f) for group in by_size.values() if len(group) > 1 for f in group}
    kept: list[Path] = []
    copies: list[tuple[Path, Path]] = []
    first: dict[str, Path] = {}
    for f in ordered:
        d = digests.get(f)
        if d is not None and d in first:
            copies.append((f, first[d]))
            continue
        if d is not None:
            first[d] = f
        kept.append(f)
    by_key: dict[tuple[str, str], list[Path]] = {}
    for f in kept:
        m = _STREET_NAME_RE.fullmatch(f.name)
        if m:
            by_key.setdefault((m.group(1), m.group(2).casefold()), []).append(f)
    problems = [
        f"{len(group)} files with different contents hold police.uk street data for {month} from "
        f"force {force!r}: {', '.join(_relative(f, base) for f in sorted(group))}; counting both would "
        "count that month twice (an older and a newer download, or an edited copy?): keep one and move "
        "the other(s) out of the folder"
        for (month, force), group in by_key.items() if len(group) > 1
    ]
    return sorted(kept), copies, problems


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
_TAIL_BYTES = 1 << 16


def _clean_categories(values: pd.Series) -> pd.Series:
    """Strip category labels; blank labels become missing."""
    cats = values.cat.categories
    stripped = pd.Index(cats.astype("str").str.strip())
    if not stripped.equals(pd.Index(cats.astype("str"))):
        if stripped.is_unique:
            values = values.cat.rename_categories(stripped)
        else:
            values = values.astype("str").str.strip().astype("category")
    if "" in values.cat.categories:
        values = values.cat.remove_categories([""])
    return values


def _category_key(label: str) -> str:
    return " ".join(_DASHES_RE.sub(" ", str(label)).split()).casefold()


def _canonical_categories(
    values: pd.Series, reference: Sequence[str]
) -> tuple[pd.Series, dict[str, tuple[str, int]]]:
    """Map spelling variants of a category (case, spaces, dashes) onto one name.

    A variant of a ``reference`` name becomes that name; variants of other names become
    their most frequent spelling. Returns the recoded categorical and ``raw label ->
    (name, records)`` for every label that changed.
    """
    values = values if isinstance(values.dtype, pd.CategoricalDtype) else values.astype("category")
    cats = [str(c) for c in values.cat.categories]
    if not cats:
        return values, {}
    sizes = values.value_counts(sort=False).reindex(values.cat.categories).to_numpy()
    known = {_category_key(r): r for r in reference}
    groups: dict[str, list[int]] = {}
    for i, c in enumerate(cats):
        groups.setdefault(_category_key(c), []).append(i)
    target: list[str] = [""] * len(cats)
    for key, members in groups.items():
        if not key:
            name = ""
        elif key in known:
            name = known[key]
        else:
            name = cats[max(members, key=lambda i: (sizes[i], -i))]
        for i in members:
            target[i] = name
    changed = {c: (t, int(n)) for c, t, n in zip(cats, target, sizes) if c != t and t}
    if not changed and "" not in target:
        return values, {}
    names = pd.Index(sorted({t for t in target if t}), dtype="str")
    recode = np.append(names.get_indexer(target), -1)  # code -1 (missing) stays missing
    codes = recode[values.cat.codes.to_numpy()]
    out = pd.Series(pd.Categorical.from_codes(codes, categories=names), index=values.index, name=values.name)
    return out, changed


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


def _read_street_file(path: Path, encoding: str) -> pd.DataFrame:
    header = _read_header(path, encoding)
    lookup = {h.strip(): h for h in header}
    missing = [c for c in POLICE_UK_COLUMNS if c not in lookup]
    if missing:
        raise InputError(
            f"not a police.uk street file: missing column(s) {', '.join(repr(m) for m in missing)}; "
            "expected the 12-column header 'Crime ID,Month,Reported by,Falls within,Longitude,"
            "Latitude,Location,LSOA code,LSOA name,Crime type,Last outcome category,Context'",
            path=str(path),
        )
    _check_last_record(path, len(header), encoding)
    wanted = {**POLICE_UK_COLUMNS, **{c: s for c, s in _POLICE_UK_OPTIONAL.items() if c in lookup}}
    raw_names = {lookup[c]: short for c, short in wanted.items()}
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
        shown = ", ".join(f"line {p + 2}: {month.iloc[p]!r}" for p in pos[:5])
        raise InputError(
            f"column 'Month': expected YYYY-MM, found {len(pos)} other value(s) ({shown})",
            path=str(path),
        )
    return frame


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


def _drop_duplicate_records(records: pd.DataFrame, names: Sequence[str], source: str) -> pd.DataFrame:
    """Records with their repeats removed, each removal announced with its files.

    A Crime ID identifies one crime, so a row repeating an ID already read (in the same
    file or another) is dropped. Rows without an ID (anti-social behaviour, and crimes
    before 2011-12) are dropped only when another file of the same month holds the same
    whole row at least as often: two identical incidents in one file are two incidents.
    """
    ids = records["crime_id"]
    has_id = ids.notna().to_numpy()
    drop = has_id & ids.duplicated(keep="first").to_numpy()
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
            f"{names[f]}: {n:,} repeated within the file" if f == g else f"{names[f]}: {n:,} already read from {names[g]}"
            for (f, g), n in pairs.items()
        ]
        conflict = (f"; {int(differs.sum()):,} of them differ from the first row in month, LSOA or crime type "
                    "(the first row is kept)") if differs.any() else ""
        notes.append(f"{int(drop.sum()):,} record(s) repeating a Crime ID already read ({_listing(parts)}){conflict}")
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
                first_file = (keyed.assign(_file=sub["_file"].to_numpy())
                              .groupby([*keys, "_occ"], dropna=False, observed=True, sort=False)["_file"]
                              .transform("first").to_numpy())
                pairs = pd.DataFrame({"file": sub["_file"].to_numpy()[again], "first": first_file[again]})
                parts = [f"{names[f]}: {n:,} also in {names[g]}" for (f, g), n in pairs.value_counts(sort=False).items()]
                notes.append(f"{int(again.sum()):,} record(s) without a Crime ID that repeat whole rows of another "
                             f"file for the same month ({_listing(parts)})")
                drop[np.flatnonzero(cand)[again]] = True
    if notes:
        logger.warning("%s: dropped %s, so nothing is counted twice; %d of %d record(s) kept",
                       source, "; and ".join(notes), int((~drop).sum()), len(records))
        return records[~drop]
    return records


def _load_police_uk(name: str, spec: SourceSpec, path: Path) -> SourceTable:
    files = _street_files(path)
    base = path if path.is_dir() else path.parent
    name_months = [re.match(rf"({_MONTH_RE})-", f.name) for f in files]
    if len(files) > 1 and all(name_months):
        # police.uk names files YYYY-MM-force-street.csv: picking the window from the names
        # first avoids parsing years of data that the window would throw away.
        by_month = [m.group(1) for m in name_months if m]
        keep = set(_select_window(by_month, spec, name=name, where=str(path), announce=False))
        files = [f for f, m in zip(files, by_month) if m in keep]
    files, copies, clashes = _duplicate_street_files(files, base)
    if clashes:
        raise InputError(clashes, path=str(path))
    if copies:
        logger.warning(
            "%s: skipped %d file(s) identical to another file (same SHA-256), so their records are "
            "not counted twice: %s", name, len(copies),
            _listing([f"{_relative(c, base)} (same as {_relative(o, base)}, {max(_count_newlines(c) - 1, 0):,} rows)"
                      for c, o in copies]),
        )
    names = [_relative(f, base) for f in files]
    frames = [
        frame.assign(_file=np.int32(i), _line=np.arange(2, len(frame) + 2, dtype=np.int32))
        for i, frame in enumerate(_read_street_file(f, spec.encoding) for f in files)
    ]
    records = _concat_records(frames)
    rows_read = len(records)
    category, renamed = _canonical_categories(records["category"], POLICE_UK_CRIME_TYPES)
    if renamed:
        logger.warning(
            "%s: normalised %d record(s) whose 'Crime type' differs from a crime type's usual spelling "
            "only in case, spaces or dashes: %s", name, sum(n for _, n in renamed.values()),
            _listing([f"{raw!r} -> {new!r} ({n:,})" for raw, (new, n) in renamed.items()]),
        )
        records = records.assign(category=category)
    records = _drop_duplicate_records(records, names, name)
    month_counts = records["month"].value_counts(sort=False)
    present = list(month_counts.index[month_counts.to_numpy() > 0].astype("str"))
    month_files = {
        str(m): ", ".join(names[i] for i in sorted(set(g)))
        for m, g in records.groupby("month", observed=True)["_file"]
    }
    window = _select_window(present, spec, name=name, where=str(path),
                            counts={str(k): float(v) for k, v in month_counts.items()}, month_files=month_files)

    blank = records[_LSOA_INDEX].isna().to_numpy()
    in_window = records["month"].isin(window).to_numpy()
    if (blank & in_window).any():
        n_blank = int((blank & in_window).sum())
        no_xy = int((blank & in_window & records["lon"].isna().to_numpy()).sum())
        logger.warning(
            "%s: dropped %d of %d record(s) with a blank 'LSOA code' (%d of them without "
            "coordinates: police.uk could not place them)",
            name, n_blank, int(in_window.sum()), no_xy,
        )
    keep_rows = in_window & ~blank
    if spec.categories:
        present_cats = {_category_key(c): str(c) for c in records.loc[keep_rows, "category"].dropna().unique()}
        wanted = [present_cats.get(_category_key(c), c) for c in spec.categories]
        unknown = sorted(c for c, w in zip(spec.categories, wanted) if _category_key(w) not in present_cats)
        if unknown:
            logger.warning("%s: categories not found in the window: %s", name, _listing(unknown))
        keep_rows &= records["category"].isin(wanted).to_numpy()
    records = records[keep_rows]
    table = _count_table(records)
    where = _category_where(records, names)
    odd = [c for c in table.columns if c != ALL_CRIME and c not in POLICE_UK_CRIME_TYPES]
    if odd:
        logger.warning("%s: %d 'Crime type' value(s) are not police.uk crime types: %s", name, len(odd),
                       _listing([f"{c!r} ({where.get(c, '?')})" for c in odd]))

    located = (records["lon"].notna() & records["lat"].notna()).to_numpy()
    if not located.all():
        logger.info(
            "%s: %d record(s) without coordinates are counted but left out of the points",
            name, int((~located).sum()),
        )
    geo = records[located]
    points = _points_frame(
        geo, geo["lon"].to_numpy(), geo["lat"].to_numpy(),
        ["month", "category", "location", _LSOA_INDEX, "crime_id"], crs="EPSG:4326",
    )
    for col in ("month", "category", _LSOA_INDEX):
        points[col] = points[col].cat.remove_unused_categories()
    logger.info(
        "%s: %d police.uk record(s) in %d LSOAs over %s, %d crime type(s): %s",
        name, len(records), len(table), _period(window), table.shape[1] - 1,
        _listing([c for c in table.columns if c != ALL_CRIME], 14),
    )
    return SourceTable(
        name=name, kind=spec.kind, table=table, vintage=spec.vintage, period=_period(window),
        months=tuple(window), files=tuple(files), rows_read=rows_read, points=points,
        category_where=where,
    )


def _category_where(records: pd.DataFrame, names: Sequence[str]) -> dict[str, str]:
    """Category -> "N record(s), first at <file> line L" for messages."""
    if records.empty:
        return {}
    grouped = records.groupby("category", observed=True, sort=False)
    first = grouped[["_file", "_line"]].first()
    size = grouped.size()
    return {str(c): f"{int(size[c]):,} record(s), first at {names[int(r._file)]} line {int(r._line)}"
            for c, r in first.iterrows()}


# --------------------------------------------------------------------------- MPS LSOA


@functools.lru_cache(maxsize=4)
def _reference_categories(scheme: str) -> tuple[str, ...]:
    """Category names of the shipped harm table for one scheme (the published spellings)."""
    from pli.harm import DEFAULT_HARM_WEIGHTS

    if scheme == "police_uk":
        return POLICE_UK_CRIME_TYPES
    try:
        table = pd.read_csv(DEFAULT_HARM_WEIGHTS, dtype="str", usecols=["scheme", "category"])
    except (OSError, ValueError):
        return ()
    return tuple(table.loc[table["scheme"].str.strip() == scheme, "category"].str.strip())


def _load_mps_lsoa_crime(name: str, spec: SourceSpec, path: Path) -> SourceTable:
    header = _read_header(path, spec.encoding)
    # Matching ignores case, spaces and underscores: the Datastore CSV says "LSOA Code",
    # "Major Category" (newer editions "MajorText"), re-exports say "major_category".
    squeezed: dict[str, list[int]] = {}
    for i, h in enumerate(header):
        squeezed.setdefault(re.sub(r"[\s_]+", "", h.casefold()), []).append(i)
    wanted = {
        "LSOA Code": ("lsoacode",),
        "Major Category/MajorText": ("majorcategory", "majortext"),
        "Minor Category/MinorText": ("minorcategory", "minortext"),
    }
    problems = []
    found: dict[str, str | None] = {}
    for label, keys in wanted.items():
        hits = [i for k in keys for i in squeezed.get(k, [])]
        found[label] = header[hits[0]] if hits else None
        if len(hits) > 1:
            problems.append(f"{len(hits)} columns could be the {label} column (columns "
                            f"{', '.join(str(i + 1) for i in hits)}: {', '.join(repr(header[i]) for i in hits)}); "
                            "keep one")
    missing = [label for label, col in found.items() if col is None]
    code_col, major_col, minor_col = found.values()
    month_pos = [i for i, h in enumerate(header) if re.fullmatch(r"\d{4}(?:0[1-9]|1[0-2])", h.strip())]
    month_cols = [header[i] for i in month_pos]
    if not month_cols:
        missing.append("monthly columns named YYYYMM")
    if missing:
        raise InputError(
            f"not an MPS LSOA crime table: missing {', '.join(missing)}; found columns "
            f"{_listing(header, 12)}",
            path=str(path),
        )
    stripped = [h.strip() for h in month_cols]
    for month in sorted({m for m in stripped if stripped.count(m) > 1}):
        cols = [str(i + 1) for i, h in zip(month_pos, stripped) if h == month]
        problems.append(f"month column {month!r} appears {len(cols)} times (columns {', '.join(cols)}); "
                        "a month must have one column, or its offences would be counted twice: remove the repeat")
    if problems:
        raise InputError(problems, path=str(path))
    _check_last_record(path, len(header), spec.encoding)
    enc = _csv_encoding(spec.encoding)
    try:
        # All text, with pandas' own NA spellings left alone: "N/A" in a count cell is a
        # marker to announce, not a blank to read as zero.
        raw = pd.read_csv(path, usecols=[code_col, major_col, minor_col, *month_cols], dtype="str",
                          keep_default_na=False, encoding=enc)
    except pd.errors.ParserError as exc:
        raise InputError(f"cannot parse the file as CSV ({' '.join(str(exc).split())}); expected one "
                         "row per LSOA and category with the header's fields", path=str(path)) from None
    rows_read = len(raw)
    text = raw[month_cols].apply(lambda s: s.str.strip())
    marker = text.apply(_marker_mask)
    blank = text.eq("")
    counts = _parse_numbers(raw[month_cols], path=path)
    _check_counts(counts, path=path)
    labels = {c: f"{c.strip()[:4]}-{c.strip()[4:]}" for c in month_cols}
    counts, marker, blank = (f.rename(columns=labels) for f in (counts, marker, blank))
    order = sorted(counts.columns)
    counts = counts[order]

    if spec.drop_partial_months:
        totals = counts.sum(axis=0)
        floor = _PARTIAL_MONTH_SHARE * float(totals.median())
        low = (totals < floor).to_numpy()
        # Only stubs at either end are dropped: a quiet month inside the series is real.
        lead = int(np.argmin(low)) if not low.all() else len(low)
        trail = int(np.argmin(low[::-1])) if not low.all() else 0
        dropped = order[:lead] + (order[len(order) - trail:] if trail else [])
        if dropped:
            logger.warning(
                "%s: dropped partial month(s) %s (totals %s, below 10%% of the median month %s)",
                name, ", ".join(dropped), ", ".join(f"{int(totals[m]):,}" for m in dropped),
                f"{totals.median():,.0f}",
            )
            order = [m for m in order if m not in dropped]
    window = _select_window(order, spec, name=name, where=str(path),
                            counts={m: float(counts[m].sum()) for m in order})

    codes = raw[code_col].str.strip()
    no_code = (codes == "").to_numpy()
    if no_code.any():
        logger.warning("%s: dropped %d row(s) with a blank LSOA code", name, int(no_code.sum()))
    key = pd.Series(
        [f"{a}/{b}" for a, b in zip(raw[major_col].str.strip(), raw[minor_col].str.strip())], index=raw.index
    )
    category, renamed = _canonical_categories(key, _reference_categories("mps"))
    if renamed:
        logger.warning(
            "%s: normalised %d row(s) whose major/minor category differs from the usual spelling only in "
            "case, spaces or dashes: %s", name, sum(n for _, n in renamed.values()),
            _listing([f"{r!r} -> {new!r} ({n:,})" for r, (new, n) in renamed.items()]),
        )
    category = category.astype("str")
    lines = pd.Series(np.arange(2, rows_read + 2), index=raw.index)
    keyed = pd.DataFrame({"code": codes, "category": category})[~no_code]
    dup = keyed.duplicated(keep=False).to_numpy()
    if dup.any():
        shown = [f"{c} x {k!r} (lines {', '.join(map(str, lines[g.index]))})"
                 for (c, k), g in keyed[dup].groupby(["code", "category"], sort=False)]
        raise InputError(
            f"expected one row per LSOA code x major/minor category, found {len(shown)} key(s) on "
            f"{int(dup.sum())} rows: {_listing(shown)}; a repeated row would count its offences twice: "
            "remove the repeats (or sum them first if they are parts of one count)",
            path=str(path),
        )
    gaps = (marker[window].to_numpy() & ~no_code[:, None])
    if gaps.any():
        r, c = np.nonzero(gaps)
        shown = [f"line {lines.iloc[i]} ({codes.iloc[i]} {category.iloc[i]!r}, {window[j]}: "
                 f"{text.iloc[i][_month_col(month_cols, window[j])]!r})"
                 for i, j in zip(r[:_SHOW], c[:_SHOW])]
        more = f" ... and {len(r) - _SHOW} more" if len(r) > _SHOW else ""
        raise InputError(
            f"{len(r)} count cell(s) inside the window {_period(window)} are suppressed or unavailable "
            f"markers, not numbers: {', '.join(shown)}{more}; a count with a gap cannot be summed (reading "
            "the gap as 0 would undercount): get the unsuppressed table, or move start_month/end_month "
            "to leave those months out",
            path=str(path),
        )
    empty = blank[window].to_numpy() & ~no_code[:, None]
    if empty.any():
        logger.warning("%s: %d blank count cell(s) inside the window read as 0 (in %d row(s))",
                       name, int(empty.sum()), int(empty.any(axis=1).sum()))
    long = pd.DataFrame(
        {_LSOA_INDEX: codes.to_numpy(), "category": category.to_numpy(),
         "n": counts[window].fillna(0).sum(axis=1).to_numpy()}
    )[~no_code]
    table = long.groupby([_LSOA_INDEX, "category"], sort=True)["n"].sum().unstack("category", fill_value=0)
    table.columns = pd.Index([str(c) for c in table.columns])
    table[ALL_CRIME] = table.sum(axis=1)
    table = _integerise(table)
    table.index = table.index.astype("str").rename(_LSOA_INDEX)
    firsts = keyed.assign(line=lines[~no_code]).groupby("category", sort=False)["line"].agg(["first", "size"])
    where = {str(c): f"{int(r['size']):,} row(s), first at {path.name} line {int(r['first'])}"
             for c, r in firsts.iterrows()}
    logger.info(
        "%s: %s recorded offences in %d LSOAs over %s, %d categories",
        name, f"{table[ALL_CRIME].sum():,.0f}", len(table), _period(window), table.shape[1] - 1,
    )
    return SourceTable(
        name=name, kind=spec.kind, table=table, vintage=spec.vintage, period=_period(window),
        months=tuple(window), files=(path,), rows_read=rows_read, category_where=where,
    )


def _month_col(month_cols: Sequence[str], month: str) -> str:
    return next(c for c in month_cols if c.strip() == month.replace("-", ""))


# --------------------------------------------------------------------------- IoD 2019


def _load_iod2019(name: str, spec: SourceSpec, path: Path) -> SourceTable:
    header = _read_header(path, spec.encoding)
    lookup = {_norm(h): h for h in header}
    wanted = {_IOD2019_CODE: _IOD2019_CODE, **IOD2019_COLUMNS}
    missing = [pub for pub in wanted.values() if _norm(pub) not in lookup]
    if missing:
        raise InputError(
            f"not an IoD2019 File 7 table: {len(missing)} expected column(s) missing: "
            + "; ".join(repr(m) for m in missing)
            + ". Use File 7 (all scores, ranks, deciles and population denominators) or a "
            "'lsoa_table' source for other layouts",
            path=str(path),
        )
    raw_names = {lookup[_norm(pub)]: alias for alias, pub in IOD2019_COLUMNS.items()}
    code_raw = lookup[_norm(_IOD2019_CODE)]
    _check_complete_rows(path, spec.encoding, code_position=header.index(code_raw))
    raw = pd.read_csv(
        path, usecols=[code_raw, *raw_names], dtype="str", encoding=_csv_encoding(spec.encoding)
    )
    index, keep = _key_index(raw[code_raw], path=path, column=code_raw)
    values = _parse_numbers(raw.loc[keep, list(raw_names)], path=path).rename(columns=raw_names)
    table = _integerise(values[list(IOD2019_COLUMNS)]).set_axis(index, axis=0)
    logger.info("%s: IoD2019 for %d LSOAs, %d columns", name, len(table), table.shape[1])
    return SourceTable(
        name=name, kind=spec.kind, table=table, vintage=spec.vintage, period=None,
        months=(), files=(path,), rows_read=len(raw),
    )


# --------------------------------------------------------------------------- Census 2011


def _load_census2011_population(name: str, spec: SourceSpec, path: Path) -> SourceTable:
    header = _read_header(path, spec.encoding)
    norm = [_norm(h) for h in header]
    persons = [i for i, h in enumerate(norm) if h == "persons"]
    problems = []
    if len(persons) != 3:
        problems.append(
            f"expected three 'Persons' columns (usual, household, communal residents), found {len(persons)}"
        )
    positions: dict[str, int] = {}
    for label, wanted in (("lsoa", "lsoa code"), ("hectares", "hectares"), ("households", "households")):
        if wanted in norm:
            positions[label] = norm.index(wanted)
        else:
            problems.append(f"no {wanted!r} column")
    if problems:
        raise InputError(
            [*problems, f"found columns {_listing(header, 16)}; expected the Census 2011 "
             "population/households/hectares layout"],
            path=str(path),
        )
    cols = {
        positions["lsoa"]: _LSOA_INDEX,
        persons[0]: "usual_residents",
        persons[1]: "household_residents",
        persons[2]: "communal_residents",
        positions["hectares"]: "hectares",
        positions["households"]: "households",
    }
    _check_complete_rows(path, spec.encoding, code_position=positions["lsoa"])
    # Read by position: pandas would rename the duplicate and blank headers.
    raw = pd.read_csv(
        path, header=None, skiprows=1, usecols=list(cols), dtype="str",
        encoding=_csv_encoding(spec.encoding),
    ).rename(columns=cols)
    index, keep = _key_index(raw[_LSOA_INDEX], path=path, column="LSOA Code")
    # Messages name the published header; the three 'Persons' columns also say which one.
    published = {c: header[i].strip() + (f" ({c})" if _norm(header[i]) == "persons" else "")
                 for i, c in cols.items() if c != _LSOA_INDEX}
    values = _parse_numbers(raw.loc[keep, list(CENSUS2011_COLUMNS)].rename(columns=published), path=path)
    _check_counts(values, path=path)
    values = values.rename(columns={v: k for k, v in published.items()})[list(CENSUS2011_COLUMNS)]
    table = _integerise(values).set_axis(index, axis=0)
    off = table["usual_residents"] != table["household_residents"] + table["communal_residents"]
    if off.any():
        logger.warning(
            "%s: usual residents differ from household + communal residents in %d LSOA(s): %s",
            name, int(off.sum()), _listing(table.index[off]),
        )
    logger.info("%s: Census 2011 population for %d LSOAs (%s usual residents)",
                name, len(table), f"{table['usual_residents'].sum():,.0f}")
    return SourceTable(
        name=name, kind=spec.kind, table=table, vintage=spec.vintage, period=None,
        months=(), files=(path,), rows_read=len(raw),
    )


# --------------------------------------------------------------------------- keyed CSVs


def _read_keyed_table(
    name: str, spec: SourceSpec, path: Path, *, code_column: str, exclude: Sequence[str] = ()
) -> tuple[pd.DataFrame, int, list[str]]:
    """An LSOA-keyed CSV: numeric columns (all, or ``spec.columns``) indexed by code."""
    header = _read_header(path, spec.encoding)
    code_raw = _find_column(header, code_column, path=path, what="LSOA code")
    if spec.columns:
        missing = [c for c in spec.columns if c not in header]
        if missing:
            hints = []
            for m in missing:
                close = difflib.get_close_matches(m, header, n=1)
                hints.append(f"{m!r}" + (f" (did you mean {close[0]!r}?)" if close else ""))
            raise InputError(
                f"requested column(s) not found: {', '.join(hints)}; available: {_listing(header, 20)}",
                path=str(path),
            )
        data_cols = list(dict.fromkeys(spec.columns))
    else:
        skip = {_norm(e) for e in exclude} | {_norm(code_raw)}
        data_cols = [h for h in header if _norm(h) not in skip and h.strip()]
    _check_complete_rows(path, spec.encoding, code_position=header.index(code_raw))
    raw = pd.read_csv(
        path, usecols=[code_raw, *data_cols], dtype="str", encoding=_csv_encoding(spec.encoding)
    )
    index, keep = _key_index(raw[code_raw], path=path, column=code_raw)
    values = _parse_numbers(raw.loc[keep, data_cols], path=path, strict=bool(spec.columns))
    if values.shape[1] == 0:
        raise InputError(
            f"no numeric columns besides {code_raw!r}; list the wanted columns under 'columns'",
            path=str(path),
        )
    return _integerise(values).set_axis(index, axis=0), len(raw), list(header)


def _load_census2021(name: str, spec: SourceSpec, path: Path) -> SourceTable:
    table, rows_read, _ = _read_keyed_table(
        name, spec, path, code_column=spec.code_column or _NOMIS_CODE, exclude=_NOMIS_NON_DATA
    )
    # Nomis spells the same band with or without "; measures: Value" across editions.
    lookup = {_norm(re.sub(r";\s*measures:\s*value\s*$", "", c, flags=re.I)): c for c in table.columns}
    extra: dict[str, pd.Series] = {}
    if _norm(_TS007A_TOTAL) in lookup:
        extra["residents_total"] = table[lookup[_norm(_TS007A_TOTAL)]]
    if all(_norm(b) in lookup for b in _TS007A_YOUNG):
        extra["young_residents_10_24"] = table[[lookup[_norm(b)] for b in _TS007A_YOUNG]].sum(axis=1)
    if extra:
        table = table.assign(**{k: v for k, v in extra.items() if k not in table.columns})
        logger.info("%s: derived %s from the TS007A age bands", name, ", ".join(extra))
    logger.info("%s: Census 2021 table for %d LSOAs, %d columns", name, len(table), table.shape[1])
    return SourceTable(
        name=name, kind=spec.kind, table=table, vintage=spec.vintage, period=None,
        months=(), files=(path,), rows_read=rows_read,
    )


def _load_lsoa_table(name: str, spec: SourceSpec, path: Path) -> SourceTable:
    if not spec.code_column:
        raise ConfigError([f"sources.{name}.code_column: required for kind 'lsoa_table' (the LSOA code column)"])
    table, rows_read, _ = _read_keyed_table(name, spec, path, code_column=spec.code_column)
    logger.info("%s: %d LSOAs, %d numeric columns", name, len(table), table.shape[1])
    return SourceTable(
        name=name, kind=spec.kind, table=table, vintage=spec.vintage, period=None,
        months=(), files=(path,), rows_read=rows_read,
    )


# --------------------------------------------------------------------------- points


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
            f"column(s) not found: {', '.join(missing)}; available: {_listing(header, 20)}",
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


# --------------------------------------------------------------------------- dispatcher


_LOADERS: dict[str, Callable[[str, SourceSpec, Path], SourceTable]] = {
    "police_uk": _load_police_uk,
    "mps_lsoa_crime": _load_mps_lsoa_crime,
    "iod2019": _load_iod2019,
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

    Returns
    -------
    SourceTable

    Raises
    ------
    InputError
        The file is missing or does not have the layout its kind expects; the message
        names the file, the columns or lines concerned and how to fix it.
    """
    path = Path(resolve(spec.path))
    if spec.kind != "police_uk" and not path.is_file():
        raise InputError(
            f"source {name!r}: file not found; check sources.{name}.path and --data-dir", path=str(path)
        )
    if spec.kind == "points":
        return _canonical_order(_load_points(name, spec, path, lsoa), where=path.name)
    try:
        loader = _LOADERS[spec.kind]
    except KeyError:
        raise ConfigError([f"sources.{name}.kind: unknown kind {spec.kind!r}"]) from None
    return _canonical_order(loader(name, spec, path), where=path.name)


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
        xy = pd.DataFrame({"_x": points.geometry.x.to_numpy(), "_y": points.geometry.y.to_numpy()})
        keys = [c for c in points.columns if c != points.geometry.name]
        frame = pd.concat([points[keys].astype("string").reset_index(drop=True), xy], axis=1)
        order = frame.sort_values([*keys, "_x", "_y"], kind="mergesort", na_position="last").index
        points = points.iloc[order.to_numpy()].reset_index(drop=True)
    if table is src.table and points is src.points:
        return src
    return dataclasses.replace(src, table=table, points=points)


# --------------------------------------------------------------------------- indicators

_HARM_SCHEMES = {"police_uk": "police_uk", "points": "police_uk", "mps_lsoa_crime": "mps"}


def _match_columns(spec: IndicatorSpec, table: pd.DataFrame, source: SourceTable) -> list[str]:
    available = [str(c) for c in table.columns]
    if not spec.columns:
        if spec.name in available:
            return [spec.name]
        if spec.harm:
            cats = [c for c in available if c != ALL_CRIME]
            logger.info("indicator %r: no columns given, harm-weighting all %d categories", spec.name, len(cats))
            return cats
        raise InputError(
            f"indicator {spec.name!r}: no 'columns' given and source {source.name!r} has no column "
            f"named {spec.name!r}; available: {_listing(available, 40)}"
        )
    chosen: list[str] = []
    empty: list[str] = []
    for pattern in spec.columns:
        if pattern in available:
            hits = [pattern]
        else:
            # all_crime already sums the categories; a wildcard must not count them twice.
            hits = [c for c in available if c != ALL_CRIME and fnmatch.fnmatchcase(c, pattern)]
        if not hits:
            empty.append(pattern)
        chosen.extend(h for h in hits if h not in chosen)
    if empty:
        close = sorted({m for p in empty for m in difflib.get_close_matches(p, available, n=3)})
        hint = f" (close: {', '.join(repr(c) for c in close)})" if close else ""
        raise InputError(
            f"indicator {spec.name!r}: column pattern(s) {', '.join(repr(p) for p in empty)} match "
            f"nothing in source {source.name!r}{hint}; available: {_listing(available, 40)}"
        )
    return chosen


def _harm_exclusions(spec: IndicatorSpec, cols: list[str], harm_weights: Any, scheme: str) -> list[str]:
    """Categories a harm WILDCARD leaves out, as the Cambridge Crime Harm Index does.

    Proactively detected offences (drugs, weapons possession; flagged ``proactive`` in the
    weight table) measure police activity rather than harm to victims, and anti-social
    behaviour is not a crime. Naming a category exactly in ``columns`` keeps it.
    """
    frame = harm_weights.to_frame() if hasattr(harm_weights, "to_frame") else None
    if frame is None or "category" not in frame.columns:
        return []
    frame = frame[frame["scheme"] == scheme] if "scheme" in frame.columns else frame
    flagged: set[str] = set()
    if "proactive" in frame.columns:
        flagged |= set(frame.loc[frame["proactive"].astype(str).str.lower().isin(("true", "1")), "category"])
    if "sentence_type" in frame.columns:
        flagged |= set(frame.loc[frame["sentence_type"] == "nominal", "category"])
    flagged.add(ASB)
    explicit = set(spec.columns)
    return [c for c in cols if c in flagged and c not in explicit]


def _numerator(
    spec: IndicatorSpec, table: pd.DataFrame, source: SourceTable, harm_weights: HarmWeightsLike | None,
    breakdown: dict[str, pd.DataFrame] | None = None,
) -> pd.Series:
    cols = _match_columns(spec, table, source)
    if spec.harm and harm_weights is not None and _HARM_SCHEMES.get(source.kind):
        scheme = _HARM_SCHEMES[source.kind]
        excluded = _harm_exclusions(spec, cols, harm_weights, scheme)
        if excluded:
            cols = [c for c in cols if c not in excluded]
            logger.info("indicator %s: harm leaves out proactive/non-crime categories %s "
                        "(name them in 'columns' to include them)", spec.name, _listing(excluded))
        _warn_missing_harm_categories(spec, cols, table, source, harm_weights, scheme)
    block = table[cols]
    if spec.harm:
        if harm_weights is None:
            raise InputError(
                f"indicator {spec.name!r} asks for harm weighting but no harm weight table was "
                "given; pass harm_weights (pli.harm.load_harm_weights()) or set harm: false"
            )
        scheme = _HARM_SCHEMES.get(source.kind)
        if scheme is None:
            raise InputError(
                f"indicator {spec.name!r}: harm weighting needs a crime source (police_uk, "
                f"mps_lsoa_crime or points), source {source.name!r} is {source.kind!r}"
            )
        _check_harm_categories(spec, cols, source, harm_weights, scheme)
        weights = np.asarray(harm_weights.weight_for(cols, scheme), dtype="float64")
        if weights.shape != (len(cols),):
            raise ValueError(f"harm weights: expected {len(cols)} weights for {cols}, got shape {weights.shape}")
        if breakdown is not None:
            counts = block.sum(axis=0).to_numpy(dtype="float64")
            harm = counts * weights
            total = harm.sum()
            breakdown[spec.name] = pd.DataFrame(
                {"count": counts, "weight_days": weights, "harm_days": harm,
                 "share": harm / total if total > 0 else np.nan},
                index=pd.Index(cols, name="category"),
            ).sort_values("harm_days", ascending=False, kind="stable")
            top = breakdown[spec.name].head(3)
            logger.info("indicator %s: harm is %s", spec.name, "; ".join(
                f"{100 * r.share:.0f}% {c}" for c, r in top.iterrows()))
        return pd.Series(block.to_numpy(dtype="float64") @ weights, index=table.index)
    # A value source with a gap in any summed column gives a gap, not a partial sum.
    return block.sum(axis=1, skipna=False, min_count=1)


def _check_harm_categories(
    spec: IndicatorSpec, cols: list[str], source: SourceTable, harm_weights: Any, scheme: str
) -> None:
    """Categories in the data that the harm table cannot know are the data's problem.

    A category the publisher uses (a police.uk crime type, an MPS category of the shipped
    table) missing from a replacement harm table is left to the table's own message.
    """
    if not hasattr(harm_weights, "categories"):
        return
    known = [str(c) for c in harm_weights.categories(scheme)]
    published = set(_reference_categories(scheme))
    odd = [c for c in cols if c not in known and c not in published]
    if not odd:
        return
    files = ", ".join(str(f) for f in source.files[:3]) + (" ..." if len(source.files) > 3 else "")
    label = "crime type" if scheme == "police_uk" else "major/minor category"
    problems = [
        f"source {source.name!r} ({files}) has {label} {c!r} ({source.category_where.get(c, 'in the data')}), "
        f"which is not a {scheme} category, so indicator {spec.name!r} cannot weight its harm"
        for c in odd
    ]
    problems.append(
        f"known {scheme} categories: {', '.join(repr(k) for k in known)}. This is a problem in the crime "
        "data, not the harm table: correct the category in the data (case, spaces and dashes are already "
        "forgiven), or leave it out of the indicator's 'columns'; only a genuinely new category needs a row "
        "in a copy of the harm table (index.harm_weights)"
    )
    raise InputError(problems)


def _warn_missing_harm_categories(
    spec: IndicatorSpec, cols: list[str], table: pd.DataFrame, source: SourceTable, harm_weights: Any, scheme: str
) -> None:
    """Warn when whole offence groups of the weight table are absent from the source.

    The Met LSOA table, for one, publishes no sexual offences; harm from such a
    source silently excludes them unless the user is told.
    """
    if not hasattr(harm_weights, "categories") or not spec.columns or "*" not in "".join(spec.columns):
        return
    known = [str(c) for c in harm_weights.categories(scheme)]
    present = {str(c) for c in table.columns}
    absent = [c for c in known if c not in present]
    if scheme == "mps":
        groups_present = {c.split("/", 1)[0] for c in present}
        groups = sorted({c.split("/", 1)[0] for c in absent} - groups_present)
    else:
        groups = sorted(set(absent) - {ASB})
    if groups:
        logger.warning("indicator %s: source %r has no %s; its harm excludes them (say so when "
                       "reporting)", spec.name, source.name, ", ".join(groups))


def _align(table: pd.DataFrame, target: pd.Index, *, source: SourceTable) -> pd.DataFrame:
    fill = 0 if source.kind in COUNT_KINDS else np.nan
    outside = table.index.difference(target)
    absent = target.difference(table.index)
    if len(outside):
        logger.info("%s: %d LSOA(s) outside the study area ignored", source.name, len(outside))
    if len(absent):
        what = "zero events" if fill == 0 else "missing"
        logger.info("%s: %d boundary LSOA(s) not in the source, set to %s: %s",
                    source.name, len(absent), what, _listing(absent))
    return table.reindex(target, fill_value=fill)


def build_indicators(
    cfg: StudyConfig,
    boundaries: Any,
    sources: dict[str, SourceTable],
    *,
    reconcile: Callable[..., pd.DataFrame],
    harm_weights: HarmWeightsLike | None = None,
) -> IndicatorTable:
    """Compute every configured indicator for the boundary LSOAs.

    Parameters
    ----------
    cfg : StudyConfig
        ``cfg.indicators`` and ``cfg.denominators`` are used.
    boundaries : Boundaries
        Anything with ``.lsoa`` indexed by boundary LSOA code.
    sources : dict of str to SourceTable
        Loaded sources by name (see :func:`load_source`).
    reconcile : callable
        ``reconcile(table, aggregation=..., source=name) -> DataFrame`` re-keys a source
        table to the boundary LSOA vintage (``pli.boundaries.reconcile_codes``). Not
        called for ``points`` sources, whose codes come from the boundaries themselves.
    harm_weights : HarmWeights, optional
        Needed when an indicator sets ``harm: true``; ``weight_for(categories, scheme)``
        returns one weight per column (scheme ``police_uk`` or ``mps``).

    Returns
    -------
    IndicatorTable

    Notes
    -----
    LSOAs absent from a count source (police.uk, MPS, points) count zero; absent from
    any other source they are NaN, for the index stage's missing-value policy. Rates
    are per 1,000 of the denominator; denominators below their ``floor`` are raised to
    it (logged). Zero, negative or missing denominators raise :class:`InputError`.
    """
    target = pd.Index(boundaries.lsoa.index.astype("str"), name=_LSOA_INDEX)
    aligned: dict[str, pd.DataFrame] = {}

    def source_table(src_name: str, *, needed_by: str) -> tuple[SourceTable, pd.DataFrame]:
        if src_name not in sources:
            raise InputError(
                f"{needed_by}: source {src_name!r} was not loaded; loaded: {', '.join(sources) or 'none'}"
            )
        src = sources[src_name]
        if src_name not in aligned:
            table = src.table
            if src.kind != "points":
                aggregation = cfg.sources[src_name].resolved_aggregation() if src_name in cfg.sources else "sum"
                table = reconcile(table, aggregation=aggregation, source=src_name)
                if src_name in cfg.sources:
                    _check_dropped(src, table, cfg, boundaries, target)
            aligned[src_name] = _align(table, target, source=src)
        return src, aligned[src_name]

    values: dict[str, pd.Series] = {}
    raw: dict[str, pd.Series] = {}
    periods: dict[str, str] = {}
    breakdown: dict[str, pd.DataFrame] = {}
    for spec in cfg.indicators:
        src, table = source_table(spec.source, needed_by=f"indicator {spec.name!r}")
        num = _numerator(spec, table, src, harm_weights, breakdown).astype("float64")
        raw[f"{spec.name}_numerator"] = num
        if src.period:
            periods[spec.name] = src.period
        if spec.transform in ("value", "count"):
            out = num
        elif spec.transform == "log":
            low = num < -1
            if low.any():
                raise InputError(
                    f"indicator {spec.name!r}: log transform needs values above -1; "
                    f"{int(low.sum())} LSOA(s) below: {_listing(num.index[low])}"
                )
            out = np.log1p(num)
        elif spec.transform in ("rate", "share"):
            den_name = spec.denominator or "population"
            den = _denominator(cfg, den_name, spec.name, source_table)
            raw[f"{spec.name}_denominator"] = den
            out = num / den * (1000.0 if spec.transform == "rate" else 1.0)
        else:
            raise ConfigError([f"indicator {spec.name!r}: unknown transform {spec.transform!r}"])
        values[spec.name] = out.rename(spec.name)
        logger.info(
            "indicator %s: %s of %s (%s), %d missing",
            spec.name, spec.transform, src.name, src.period or "no period", int(out.isna().sum()),
        )
    _check_informative(cfg, values, target)
    return IndicatorTable(
        values=pd.DataFrame(values, index=target),
        raw=pd.DataFrame(raw, index=target),
        specs=tuple(cfg.indicators),
        periods=periods,
        harm_by_category=breakdown,
    )


def _check_dropped(
    src: SourceTable, reconciled: pd.DataFrame, cfg: StudyConfig, boundaries: Any, target: pd.Index
) -> None:
    """Apply the source's outside shares to the codes reconciliation dropped.

    A code counts as dropped when it is absent from the reconciled table and neither a
    boundary code nor mapped onto one by the vintage lookup; counts are weighted by the
    records they hold, value tables by rows.
    """
    from pli.boundaries import unmatched_codes

    before = src.table
    codes = before.index.astype("str")
    gone = codes[~codes.isin(reconciled.index.astype("str"))]
    if not len(gone):
        return
    spec = cfg.sources[src.name]
    vintage = cfg.boundaries.lsoa_vintage
    lookup = getattr(boundaries, "lookup", None)
    dropped = unmatched_codes(gone, lookup, target_codes=target, target_vintage=vintage)
    if not len(dropped):
        return
    mask = codes.isin(dropped)
    if src.kind in COUNT_KINDS:
        crimes = ALL_CRIME in before.columns
        weight = before[ALL_CRIME] if crimes else before.sum(axis=1, numeric_only=True)
        n_out, n_all = float(weight[mask].sum()), float(weight.sum())
        unit = "recorded crimes" if crimes else "counted records"
    else:
        n_out, n_all, unit = float(mask.sum()), float(len(before)), "rows"
    if n_all <= 0:
        n_out, n_all, unit = float(mask.sum()), float(len(before)), "rows"
    if lookup is not None:
        where = (f"carry LSOA codes neither among the study area's {len(target)} {vintage} LSOAs "
                 "nor in the vintage lookup")
    else:
        where = (f"carry LSOA codes not among the study area's {len(target)} {vintage} LSOAs, "
                 "with no vintage lookup")
    lad = f" (local authority {cfg.area.lad_code})" if cfg.area.lad_code else ""
    _check_outside_share(
        src.name, spec, n_out=n_out, n_all=n_all, unit=unit, where=where,
        path=src.files[0] if len(src.files) == 1 else cfg.resolve(spec.path),
        example=f"{len(dropped)} code(s): {_listing(dropped, 5)}",
        fix=(f"check that the file covers the study area{lad}, that sources.{src.name}.vintage "
             f"({spec.vintage}) matches the file's codes, and boundaries.vintage_lookup; if the file "
             "deliberately covers a wider area (e.g. a whole police force) set "
             f"sources.{src.name}.outside_error_share: 1"),
    )


def _check_informative(cfg: StudyConfig, values: dict[str, pd.Series], target: pd.Index) -> None:
    """Indicators with no value at all, or one value everywhere, cannot rank LSOAs."""
    problems = []
    for spec in cfg.indicators:
        v = values[spec.name]
        cols = ", ".join(repr(c) for c in spec.columns) or repr(spec.name)
        if v.isna().all():
            problems.append(
                f"indicator {spec.name!r} has no value in any of the {len(target)} LSOAs: column(s) {cols} "
                f"of source {spec.source!r} are empty or share no LSOA code with the boundaries; fill the "
                "column, or check the source's LSOA vintage and code column"
            )
        elif v.nunique(dropna=True) == 1 and len(target) > 1:
            problems.append(
                f"indicator {spec.name!r} has the same value ({v.dropna().iloc[0]:g}) in every LSOA, so it "
                f"cannot rank them and would only dilute the index: check column(s) {cols} of source "
                f"{spec.source!r}, or remove the indicator from 'indicators'"
            )
    if problems:
        raise InputError(problems)


def _denominator(
    cfg: StudyConfig, den_name: str, indicator: str, source_table: Callable[..., tuple[SourceTable, pd.DataFrame]]
) -> pd.Series:
    if den_name not in cfg.denominators:
        raise ConfigError([f"indicator {indicator!r}: denominator {den_name!r} is not defined under 'denominators'"])
    dspec = cfg.denominators[den_name]
    src, table = source_table(dspec.source, needed_by=f"denominator {den_name!r}")
    if dspec.column not in table.columns:
        raise InputError(
            f"denominator {den_name!r}: column {dspec.column!r} not in source {src.name!r}; "
            f"available: {_listing([str(c) for c in table.columns], 30)}"
        )
    den = table[dspec.column].astype("float64")
    missing = den.isna()
    if missing.any():
        raise InputError(
            f"denominator {den_name!r} ({src.name}.{dspec.column}) is missing for {int(missing.sum())} "
            f"LSOA(s): {_listing(den.index[missing])}; check the source covers every boundary LSOA "
            "and the LSOA vintage lookup"
        )
    negative = den < 0
    if negative.any():
        # A floor would silently hide these, so they are reported before it applies.
        raise InputError(
            f"denominator {den_name!r} ({src.name}.{dspec.column}) is negative for {int(negative.sum())} "
            f"LSOA(s): {_listing([f'{c} ({v:g})' for c, v in den[negative].items()])}; expected counts of "
            "residents, 0 or more: fix the source"
        )
    if dspec.floor is not None:
        low = den < dspec.floor
        if low.any():
            logger.warning(
                "denominator %r: raised %d LSOA(s) below the floor %s to it: %s",
                den_name, int(low.sum()), f"{dspec.floor:g}", _listing(den.index[low]),
            )
            den = den.clip(lower=dspec.floor)
    bad = den <= 0
    if bad.any():
        raise InputError(
            f"denominator {den_name!r} ({src.name}.{dspec.column}) is zero or negative for "
            f"{int(bad.sum())} LSOA(s): {_listing(den.index[bad])}; set denominators.{den_name}.floor "
            "or use another denominator"
        )
    return den
