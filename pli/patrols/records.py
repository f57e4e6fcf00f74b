"""Point records for patrol planning: select by crime type and month window, weight by harm."""

from __future__ import annotations

import fnmatch
import logging
import re
from dataclasses import dataclass
from typing import Iterable, Optional, Protocol, Sequence

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from pli.errors import InputError
from pli.patrols.grid import METRIC_CRS, _require_metric

__all__ = [
    "DEFAULT_CATEGORIES",
    "HarmWeightSource",
    "select_points",
]

logger = logging.getLogger(__name__)


#: police.uk crime types planned for by default: violence, robbery, weapons.
DEFAULT_CATEGORIES: tuple[str, ...] = (
    "Violence and sexual offences",
    "Robbery",
    "Possession of weapons",
)


class HarmWeightSource(Protocol):
    """Anything with ``weight_for(categories, scheme) -> ndarray`` (see :mod:`pli.harm`)."""

    def weight_for(self, categories: Sequence[str], scheme: str) -> np.ndarray: ...


@dataclass(frozen=True)
class _Records:
    """Column arrays of the selected point records (no frame copies)."""

    x: np.ndarray
    y: np.ndarray
    cat: np.ndarray  # codes into categories
    categories: tuple[str, ...]
    weight: np.ndarray  # harm weight per category code
    loc: np.ndarray  # codes into locations, -1 for blank
    locations: np.ndarray
    hour: Optional[np.ndarray]  # -1 when unknown
    dow: Optional[np.ndarray]  # -1 when unknown

    def take(self, mask: np.ndarray) -> "_Records":
        return _Records(
            x=self.x[mask],
            y=self.y[mask],
            cat=self.cat[mask],
            categories=self.categories,
            weight=self.weight,
            loc=self.loc[mask],
            locations=self.locations,
            hour=None if self.hour is None else self.hour[mask],
            dow=None if self.dow is None else self.dow[mask],
        )

    @property
    def harm(self) -> np.ndarray:
        return self.weight[self.cat]

    def __len__(self) -> int:
        return len(self.x)


def _match_categories(present: Iterable[str], patterns: Sequence[str]) -> list[str]:
    pats = [p.strip().lower() for p in patterns]
    return [c for c in present if any(fnmatch.fnmatchcase(str(c).strip().lower(), p) for p in pats)]


def _codes(values: pd.Series) -> tuple[np.ndarray, pd.Series]:
    """Factorise a text column, cleaning only its distinct values (strip, blank -> NA).

    Text work on the few distinct months, crime types or streets instead of on millions
    of rows is what keeps the stage fast. Returns codes (-1 for missing) and the cleaned
    distinct values.
    """
    raw_codes, raw_uniques = pd.factorize(values, use_na_sentinel=True)
    clean = pd.Series(np.asarray(raw_uniques, dtype=object), dtype="string").str.strip()
    clean = clean.where(clean != "", pd.NA)
    codes2, uniques2 = pd.factorize(clean, use_na_sentinel=True)
    raw_codes = np.asarray(raw_codes, dtype=np.int64)
    if len(codes2) == 0:
        return np.full(len(raw_codes), -1, dtype=np.int64), pd.Series([], dtype="string")
    codes = np.where(raw_codes >= 0, np.asarray(codes2, dtype=np.int64)[np.maximum(raw_codes, 0)], -1)
    return codes, pd.Series(np.asarray(uniques2, dtype=object), dtype="string")


def _bad_rows(points: pd.DataFrame, codes: np.ndarray, bad_uniques: np.ndarray) -> tuple[list, int]:
    hit = np.isin(codes, np.flatnonzero(bad_uniques))
    return list(points.index[hit][:5]), int(hit.sum())


@dataclass(frozen=True)
class _Selection:
    mask: np.ndarray
    categories: tuple[str, ...]
    cat_codes: np.ndarray  # per row, into cat_uniques
    cat_uniques: pd.Series
    start_month: Optional[str]
    end_month: Optional[str]
    # Crime types in the order they were asked for (for labels), and the first and last
    # month actually present among the selected records.
    requested_order: tuple[str, ...] = ()
    first_month: Optional[str] = None
    last_month: Optional[str] = None


def _select_mask(
    points: gpd.GeoDataFrame,
    *,
    categories: Optional[Sequence[str]],
    start_month: Optional[str],
    end_month: Optional[str],
    window_months: Optional[int],
) -> _Selection:
    if not isinstance(points, gpd.GeoDataFrame):
        raise InputError(f"points: expected a GeoDataFrame in {METRIC_CRS}, got {type(points).__name__}")
    _require_metric(points, "points")
    missing = [c for c in ("category",) if c not in points.columns]
    if "month" not in points.columns and "date" not in points.columns:
        missing.append("month (or date)")
    if missing:
        raise InputError(
            f"points: missing column(s) {', '.join(missing)}; found {', '.join(map(str, points.columns))}. "
            "Expected the indicators stage's point frame (month YYYY-MM, category, location, optional time/date)"
        )
    month_codes, month_uniques = _months(points)
    cat_codes, cat_uniques = _codes(points["category"])
    patterns = tuple(categories) if categories else DEFAULT_CATEGORIES
    present = [str(c) for c in cat_uniques]
    chosen = _match_categories(present, patterns)
    if not chosen:
        counts = pd.Series(np.bincount(cat_codes[cat_codes >= 0], minlength=len(present)), index=present)
        found = ", ".join(f"{k!r} ({v:,})" for k, v in counts.sort_values(ascending=False).head(12).items())
        raise InputError(
            f"points column 'category': none of the requested crime types {list(patterns)} occur; "
            f"found {found or 'none'}. Set patrols.categories to crime types present in the input "
            "(shell-style wildcards allowed, '*' keeps all)"
        )
    keep_cat = np.append(cat_uniques.isin(chosen).to_numpy(dtype=bool), False)  # code -1 -> False
    mask = keep_cat[cat_codes]
    for bad in [p for p in patterns if not _match_categories(present, [p])]:
        logger.warning("patrol crime type %r matches no record in the input", bad)
    for name, value in (("start_month", start_month), ("end_month", end_month)):
        if value is not None and not re.fullmatch(r"\d{4}-\d{2}", str(value)):
            raise InputError(f"{name}: expected YYYY-MM, got {value!r}")
    if window_months is not None and start_month is None and end_month is None:
        if window_months < 1:
            raise InputError(f"window_months: expected 1 or more, got {window_months}")
        used = np.unique(month_codes[mask & (month_codes >= 0)])
        if len(used):
            end_month = str(month_uniques.iloc[used].max())
            start_month = str(pd.Period(end_month, freq="M") - (window_months - 1))
    in_window = np.ones(len(month_uniques) + 1, dtype=bool)
    in_window[-1] = start_month is None and end_month is None  # rows without a month
    if start_month is not None:
        in_window[:-1] &= (month_uniques >= start_month).to_numpy(dtype=bool)
    if end_month is not None:
        in_window[:-1] &= (month_uniques <= end_month).to_numpy(dtype=bool)
    mask = mask & in_window[month_codes]
    used = np.unique(month_codes[mask & (month_codes >= 0)])
    first = str(month_uniques.iloc[used].min()) if len(used) else None
    last = str(month_uniques.iloc[used].max()) if len(used) else None
    ordered: list[str] = []
    for pattern in patterns:
        ordered.extend(c for c in sorted(_match_categories(present, [pattern])) if c not in ordered)
    logger.info(
        "patrol points: %s of %s records selected (%s; %s)",
        f"{int(mask.sum()):,}",
        f"{len(points):,}",
        "; ".join(ordered),
        _period_text(first, last) if first else "no record in the month window",
    )
    return _Selection(
        mask=mask, categories=tuple(sorted(chosen)), cat_codes=cat_codes, cat_uniques=cat_uniques,
        start_month=start_month, end_month=end_month, requested_order=tuple(ordered),
        first_month=first, last_month=last,
    )


def _months_between(first: str, last: str) -> int:
    return (pd.Period(last, freq="M") - pd.Period(first, freq="M")).n + 1


def _period_text(first: Optional[str], last: Optional[str]) -> str:
    """``"2024-03 to 2025-02 (12 months)"`` for logs."""
    if first is None or last is None:
        return "period unknown"
    n = _months_between(first, last)
    return f"{first} to {last} ({n} month{'s' if n != 1 else ''})"


def _months(points: pd.DataFrame) -> tuple[np.ndarray, pd.Series]:
    if "month" in points.columns:
        codes, uniques = _codes(points["month"])
        column = "month"
        uniques = uniques.str.slice(0, 7)
    else:
        codes, uniques = _codes(points["date"])
        column = "date"
        uniques = pd.to_datetime(uniques, errors="coerce").dt.strftime("%Y-%m").astype("string")
    bad = (uniques.isna() | ~uniques.str.fullmatch(r"\d{4}-\d{2}").fillna(False)).to_numpy(dtype=bool)
    if bad.any():
        rows, n_bad = _bad_rows(points, codes, bad)
        raise InputError(
            f"points column '{column}': expected {'YYYY-MM' if column == 'month' else 'a date YYYY-MM-DD'}, "
            f"got {points[column].iloc[points.index.get_indexer(rows[:1])[0]]!r} in rows {rows} "
            f"({n_bad:,} rows); fix or drop those rows"
        )
    return codes, uniques


def _parse_optional(
    points: pd.DataFrame, column: str, formats: Sequence[str], what: str, attr: str
) -> Optional[np.ndarray]:
    """One integer field (hour, day of week) of an optional time/date column, -1 if blank."""
    if column not in points.columns:
        return None
    raw = points[column]
    if pd.api.types.is_datetime64_any_dtype(raw):
        out = getattr(raw.dt, attr).to_numpy(dtype=float, na_value=np.nan)
        return np.where(np.isfinite(out), out, -1).astype(np.int64) if np.isfinite(out).any() else None
    codes, uniques = _codes(raw.astype("string") if raw.dtype == object else raw)
    if len(uniques) == 0:
        return None
    parsed = pd.Series(pd.NaT, index=uniques.index, dtype="datetime64[ns]")
    for fmt in formats:
        todo = parsed.isna()
        if todo.any():
            parsed[todo] = pd.to_datetime(uniques[todo], format=fmt, errors="coerce")
    bad = parsed.isna().to_numpy(dtype=bool)
    if bad.any():
        rows, n_bad = _bad_rows(points, codes, bad)
        raise InputError(
            f"points column '{column}': expected {what}, got {uniques[bad].iloc[0]!r} in rows {rows} "
            f"({n_bad:,} rows); fix them or blank them out"
        )
    field_values = np.append(getattr(parsed.dt, attr).to_numpy(dtype=np.int64), -1)
    return field_values[codes]


def _records(
    points: gpd.GeoDataFrame,
    selection: _Selection,
    harm_weights: HarmWeightSource,
    scheme: str,
) -> _Records:
    mask, categories = selection.mask, selection.categories
    geoms = points.geometry.array[mask]
    x = shapely.get_x(np.asarray(geoms, dtype=object)) if len(geoms) else np.empty(0)
    y = shapely.get_y(np.asarray(geoms, dtype=object)) if len(geoms) else np.empty(0)
    ok = np.isfinite(x) & np.isfinite(y)
    if not ok.all():
        logger.warning("patrol points: %s records without a usable point were dropped", f"{int((~ok).sum()):,}")
    sel = np.flatnonzero(mask)[ok]
    x, y = x[ok], y[ok]
    to_chosen = np.append(pd.Index(categories).get_indexer(selection.cat_uniques.astype(object)), -1)
    cat = to_chosen[selection.cat_codes[sel]]
    weight = np.asarray(harm_weights.weight_for(list(categories), scheme), dtype=float)
    if weight.shape != (len(categories),) or not np.all(np.isfinite(weight)) or (weight < 0).any():
        bad = [c for c, w in zip(categories, np.atleast_1d(weight)) if not (np.isfinite(w) and w >= 0)]
        raise InputError(
            f"harm weights: expected a non-negative number of days for each of {list(categories)} "
            f"(scheme {scheme!r}), got {weight.tolist()}; missing or invalid for {bad}"
        )
    if "location" in points.columns:
        loc_codes, loc_uniques = _codes(points["location"])
        loc = loc_codes[sel]
        locations = loc_uniques.to_numpy(dtype=object)
    else:
        loc, locations = np.full(len(sel), -1, dtype=np.int64), np.empty(0, dtype=object)
    hour = dow = None
    hours = _parse_optional(points, "time", ("%H:%M", "%H:%M:%S"), "a time of day HH:MM", "hour")
    if hours is not None:
        hour = hours[sel]
        days = _parse_optional(points, "date", ("%Y-%m-%d",), "a date YYYY-MM-DD", "day_of_week")
        dow = None if days is None else days[sel]
    return _Records(
        x=x, y=y, cat=cat.astype(np.int64), categories=categories, weight=weight,
        loc=np.asarray(loc, dtype=np.int64), locations=locations, hour=hour, dow=dow,
    )


def select_points(
    points: gpd.GeoDataFrame,
    *,
    categories: Optional[Sequence[str]] = None,
    start_month: Optional[str] = None,
    end_month: Optional[str] = None,
    window_months: Optional[int] = None,
) -> gpd.GeoDataFrame:
    """Records of the chosen crime types inside a month window.

    Parameters
    ----------
    points : GeoDataFrame
        EPSG:27700 points with ``month`` (YYYY-MM) or ``date`` and ``category``.
    categories : sequence of str, optional
        Crime types as published, matched case-insensitively with shell-style wildcards
        (``"*"`` keeps all). Default :data:`DEFAULT_CATEGORIES`.
    start_month, end_month : str, optional
        Inclusive ``YYYY-MM`` bounds.
    window_months : int, optional
        When no bounds are given: keep the latest N months present.

    Returns
    -------
    GeoDataFrame
        A new frame holding the selected rows.

    Examples
    --------
    >>> from pli.examples import clustered_points
    >>> points, area = clustered_points()  # a cluster near (530625, 160625)
    >>> from pli.patrols import select_points
    >>> len(select_points(points, categories=["Burglary"], window_months=1))  # the latest month
    150
    """
    selection = _select_mask(
        points, categories=categories, start_month=start_month, end_month=end_month, window_months=window_months
    )
    return points.loc[selection.mask].copy()
