"""Month windows of crime sources: parse, select the latest complete months, flag short months."""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence

import pandas as pd

from pli._codes import list_codes
from pli.config import ConfigError, SourceSpec
from pli.errors import InputError

__all__ = [
]

logger = logging.getLogger(__name__)


_MONTH_RE = r"\d{4}-(?:0[1-9]|1[0-2])"


_PARTIAL_MONTH_SHARE = 0.10


# A month with fewer records than this share of the window's median month is announced.
_SHORT_MONTH_SHARE = 0.25


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
            logger.warning("%s: no data for %d month(s) inside the window: %s", name, len(gaps), list_codes(gaps))
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
