"""Met Police "recorded crime by LSOA" tables (London Datastore): one column per month."""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from pli._codes import list_codes
from pli.config import SourceSpec
from pli.errors import InputError
from pli.indicators.categories import _canonical_categories, _reference_categories
from pli.indicators.reading import (
    _SHOW,
    _check_counts,
    _check_last_record,
    _csv_encoding,
    _integerise,
    _marker_mask,
    _parse_numbers,
    _read_header,
)
from pli.indicators.sources import _LSOA_INDEX, ALL_CRIME, SourceTable
from pli.indicators.window import _PARTIAL_MONTH_SHARE, _period, _select_window

__all__ = [
    "read_met_monthly",
]

logger = logging.getLogger(__name__)


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
            f"{list_codes(header, 12)}",
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
            list_codes([f"{r!r} -> {new!r} ({n:,})" for r, (new, n) in renamed.items()]),
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
            f"{int(dup.sum())} rows: {list_codes(shown)}; a repeated row would count its offences twice: "
            "remove the repeats (or sum them first if they are parts of one count)",
            path=str(path),
        )
    gaps = (marker[window].to_numpy() & ~no_code[:, None])
    if gaps.any():
        r, c = np.nonzero(gaps)
        shown = [f"line {lines.iloc[i]} ({codes.iloc[i]} {category.iloc[i]!r}, {window[j]}: "
                 f"{text.iloc[i][_month_col(month_cols, window[j])]!r})"
                 for i, j in zip(r[:_SHOW], c[:_SHOW])]
        more = f" and {len(r) - _SHOW} more" if len(r) > _SHOW else ""
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


# Met monthly tables keyed by LSOA or ward, read whole (no month window).
_MONTH = re.compile(r"\d{4}(?:0[1-9]|1[0-2])")
_KEYS = {"lsoacode": "lsoa", "wardcode": "ward"}


def read_met_monthly(path: Path, *, what: str = "Met monthly table") -> tuple[pd.DataFrame, str]:
    """Read a Met monthly crime table (LSOA or ward keyed) into a long frame.

    Used by ``pli track`` and ``pli evaluate`` for whole histories (every month, no
    window); a suppressed or non-numeric cell is an error, never a silent 0.

    Parameters
    ----------
    path : Path
    what : str
        How messages name the table's user, e.g. ``"track series 'ward_crime'"``.

    Returns
    -------
    (DataFrame, str)
        Columns ``code``, ``category`` (``"MAJOR/MINOR"``), ``month`` (``YYYY-MM``), ``n``;
        and the key level, ``"lsoa"`` or ``"ward"``.
    """
    if not path.is_file():
        raise InputError(f"{what}: file not found; check its path and --data-dir",
                         path=str(path))
    raw = pd.read_csv(path, dtype=str, keep_default_na=False)
    squeezed = {re.sub(r"[\s_]+", "", c.casefold()): c for c in raw.columns}
    key = [k for k in _KEYS if k in squeezed]
    major = squeezed.get("majortext") or squeezed.get("majorcategory")
    minor = squeezed.get("minortext") or squeezed.get("minorcategory")
    months = [c for c in raw.columns if _MONTH.fullmatch(c.strip())]
    missing = [label for label, ok in (("an 'LSOA Code' or 'WardCode' column", len(key) == 1),
                                       ("'MajorText'", major), ("'MinorText'", minor),
                                       ("monthly columns named YYYYMM", months)) if not ok]
    if missing:
        raise InputError(f"{what}: not a Met monthly crime table: expected {', '.join(missing)}; "
                         f"found columns {list_codes(list(raw.columns), 12)}", path=str(path))
    assert major is not None and minor is not None
    text = raw[months].apply(lambda s: s.str.strip())
    numbers = text.apply(pd.to_numeric, errors="coerce")
    bad = numbers.isna() & text.ne("")
    if bad.to_numpy().any():
        r, c = np.nonzero(bad.to_numpy())
        shown = [f"line {i + 2} column {months[j]!r}: {text.iat[i, j]!r}" for i, j in zip(r[:5], c[:5])]
        raise InputError(f"{what}: {len(r)} count cell(s) are not numbers ({', '.join(shown)}); "
                         "a gap cannot be read as 0 in a time series: get the unsuppressed table",
                         path=str(path))
    if (numbers < 0).to_numpy().any():
        raise InputError(f"{what}: negative counts; expected offence counts of 0 or more",
                         path=str(path))
    numbers = numbers.fillna(0)
    numbers.columns = [f"{c.strip()[:4]}-{c.strip()[4:]}" for c in months]
    numbers["code"] = raw[squeezed[key[0]]].str.strip().str.upper()
    numbers["category"] = raw[major].str.strip() + "/" + raw[minor].str.strip()
    numbers = numbers[numbers["code"] != ""]
    long = numbers.melt(id_vars=["code", "category"], var_name="month", value_name="n")
    long = long.groupby(["code", "category", "month"], sort=True, as_index=False)["n"].sum()
    return long, _KEYS[key[0]]
