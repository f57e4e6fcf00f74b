"""Crime-harm weights: days of imprisonment per offence, after the Cambridge Crime Harm Index.

Harm is the sum over recorded offences of a weight per crime category (Sherman, Neyroud
& Neyroud 2016, "The Cambridge Crime Harm Index", *Policing* 10(3):171-183). The shipped
table ``indicators/harm_weights.csv`` covers the 14 police.uk ``Crime type`` values and
the Met (MPS) ``"MAJOR/MINOR"`` categories; ``indicators/HARM_WEIGHTS.md`` explains every
number. Many categories mix offences of very different seriousness, and for those the
weight is an approximation (``mixed`` is true). A study can replace the table through
``index.harm_weights`` in its config.

Examples
--------
>>> from pli.harm import load_harm_weights
>>> hw = load_harm_weights()
>>> hw.weight_for(["Robbery", "Shoplifting"], "police_uk")
array([365.,   1.])
>>> hw.scheme_for(["ROBBERY/ROBBERY OF PERSONAL PROPERTY"])
'mps'
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, Optional

import numpy as np
import pandas as pd

from pli.errors import InputError

__all__ = ["DEFAULT_HARM_WEIGHTS", "SCHEMES", "HarmWeights", "harm_table", "load_harm_weights"]

logger = logging.getLogger(__name__)

Scheme = Literal["police_uk", "mps"]
SCHEMES: tuple[str, ...] = ("police_uk", "mps")
DEFAULT_HARM_WEIGHTS = Path(__file__).resolve().parent.parent / "indicators" / "harm_weights.csv"

_REQUIRED = ("scheme", "category", "weight_days", "basis", "mixed")
_TRUE = {"true", "yes", "1", "t", "y"}
_FALSE = {"false", "no", "0", "f", "n", ""}


@dataclass(frozen=True, eq=False)
class HarmWeights:
    """A validated harm weight table.

    Attributes
    ----------
    table : pandas.DataFrame
        Columns ``scheme``, ``category``, ``weight_days`` (float), ``basis`` (str),
        ``mixed`` (bool), ``proactive`` (bool: offences mostly found by police activity,
        which the CCHI leaves out of harm totals).
    path : str
        The file the table was read from.
    """

    table: pd.DataFrame
    path: str = field(default=str(DEFAULT_HARM_WEIGHTS))

    def __repr__(self) -> str:
        counts = self.table["scheme"].value_counts()
        parts = ", ".join(f"{s}: {int(counts.get(s, 0))}" for s in SCHEMES)
        return f"<HarmWeights {parts} categories from {Path(self.path).name}>"

    def categories(self, scheme: str) -> tuple[str, ...]:
        """Categories known for one scheme, in table order."""
        _check_scheme(scheme)
        return tuple(self.table.loc[self.table["scheme"] == scheme, "category"])

    def weight_for(self, categories: Iterable[str], scheme: str) -> np.ndarray:
        """Harm weight (days) for each category, in the order given.

        Parameters
        ----------
        categories : iterable of str
            Category names exactly as published (surrounding spaces are ignored).
        scheme : {"police_uk", "mps"}

        Raises
        ------
        InputError
            When a category is not in the table; the message lists the unknown ones and
            the known ones for that scheme.
        """
        _check_scheme(scheme)
        cats = pd.Index(pd.Series(list(categories), dtype="string").str.strip())
        sub = self.table.loc[self.table["scheme"] == scheme]
        lookup = pd.Index(sub["category"])
        pos = lookup.get_indexer(cats)
        if (pos < 0).any():
            unknown = sorted(set(cats[pos < 0].astype(str)))
            raise InputError(
                f"harm weights: {len(unknown)} {scheme} categor{'y' if len(unknown) == 1 else 'ies'} "
                f"not in the table: {', '.join(repr(u) for u in unknown)}. Known {scheme} categories: "
                f"{', '.join(repr(k) for k in lookup)}. Fix the category name, or add a row to a copy "
                "of the table and point index.harm_weights at it",
                path=self.path,
            )
        return sub["weight_days"].to_numpy(dtype=float)[pos]

    def scheme_for(self, categories: Iterable[str]) -> str:
        """Detect whether categories are police.uk crime types or MPS "MAJOR/MINOR" pairs.

        Raises
        ------
        InputError
            When no scheme knows every category.
        """
        cats = pd.Index(pd.Series(list(categories), dtype="string").str.strip()).unique()
        best, best_missing = None, None
        for scheme in SCHEMES:
            known = pd.Index(self.table.loc[self.table["scheme"] == scheme, "category"])
            missing = cats[~cats.isin(known)]
            if best_missing is None or len(missing) < len(best_missing):
                best, best_missing = scheme, missing
        assert best is not None and best_missing is not None
        if len(best_missing):
            raise InputError(
                f"harm weights: cannot tell the crime category scheme; closest is {best!r} but "
                f"{len(best_missing)} categor{'y is' if len(best_missing) == 1 else 'ies are'} unknown: "
                f"{', '.join(repr(str(m)) for m in best_missing)}. Expected police.uk 'Crime type' "
                "values or MPS 'MAJOR/MINOR' pairs; add missing rows to a copy of the table",
                path=self.path,
            )
        logger.info("harm weights: %d categories recognised as scheme %r", len(cats), best)
        return best

    def to_frame(self) -> pd.DataFrame:
        """The table (a copy)."""
        return self.table.copy()


def _check_scheme(scheme: str) -> None:
    if scheme not in SCHEMES:
        raise InputError(f"harm weights: scheme must be one of {', '.join(SCHEMES)}, got {scheme!r}")


def load_harm_weights(path: str | Path | None = None) -> HarmWeights:
    """Read and validate a harm weight CSV.

    Parameters
    ----------
    path : str or Path, optional
        The table; default the shipped ``indicators/harm_weights.csv``.

    Returns
    -------
    HarmWeights

    Raises
    ------
    InputError
        Listing every problem (missing columns, unknown schemes, weights that are not
        non-negative numbers, unreadable ``mixed`` flags, duplicate categories), each
        naming the file row (row 1 is the header).
    """
    p = Path(path) if path is not None else DEFAULT_HARM_WEIGHTS
    if not p.is_file():
        raise InputError("harm weight table not found; check index.harm_weights in the config", path=str(p))
    try:
        raw = pd.read_csv(p, dtype=str, keep_default_na=False, encoding="utf-8")
    except (pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot parse as CSV ({exc}); expected a UTF-8 CSV with a header row", path=str(p)) from None
    raw.columns = [str(c).strip() for c in raw.columns]
    missing = [c for c in _REQUIRED if c not in raw.columns]
    if missing:
        raise InputError(
            f"missing column(s) {', '.join(missing)}; expected {', '.join(_REQUIRED)} "
            f"(optional: proactive), found {', '.join(raw.columns)}",
            path=str(p),
        )
    problems: list[str] = []
    rows = pd.RangeIndex(2, len(raw) + 2)  # file line numbers, header is line 1
    scheme = raw["scheme"].str.strip()
    category = raw["category"].str.strip()
    bad_scheme = ~scheme.isin(SCHEMES)
    problems += [
        f"row {r}: scheme {s!r} is not one of {', '.join(SCHEMES)}" for r, s in zip(rows[bad_scheme], scheme[bad_scheme])
    ]
    empty_cat = category.eq("")
    problems += [f"row {r}: category is empty" for r in rows[empty_cat]]
    weight = pd.to_numeric(raw["weight_days"].str.strip(), errors="coerce")
    bad_w = weight.isna() | (weight < 0) | ~np.isfinite(weight.fillna(0))
    problems += [
        f"row {r}: weight_days must be a non-negative number of days, got {v!r}"
        for r, v in zip(rows[bad_w], raw["weight_days"][bad_w])
    ]
    flags = {}
    for col in ("mixed", "proactive"):
        if col not in raw.columns:
            flags[col] = pd.Series(False, index=raw.index)
            continue
        text = raw[col].str.strip().str.lower()
        bad = ~text.isin(_TRUE | _FALSE)
        problems += [f"row {r}: {col} must be true or false, got {v!r}" for r, v in zip(rows[bad], raw[col][bad])]
        flags[col] = text.isin(_TRUE)
    keys = pd.DataFrame({"scheme": scheme, "category": category, "row": rows})
    dup = keys.duplicated(["scheme", "category"], keep=False).to_numpy() & ~empty_cat.to_numpy()
    if dup.any():
        for (s, c), grp in keys[dup].groupby(["scheme", "category"], sort=False):
            problems.append(f"rows {', '.join(map(str, grp['row']))}: duplicate category {c!r} for scheme {s}")
    if problems:
        raise InputError(problems + ["fix these rows in the harm weight table"], path=str(p))
    table = pd.DataFrame(
        {
            "scheme": scheme.astype(str),
            "category": category.astype(str),
            "weight_days": weight.astype(float),
            "basis": raw["basis"].astype(str),
            "mixed": flags["mixed"].astype(bool),
            "proactive": flags["proactive"].astype(bool),
        }
    )
    logger.info(
        "harm weights: %d categories (%s) from %s",
        len(table),
        ", ".join(f"{s} {int((table['scheme'] == s).sum())}" for s in SCHEMES),
        p.name,
    )
    return HarmWeights(table=table, path=str(p))


def harm_table(
    counts: pd.DataFrame,
    weights: HarmWeights,
    *,
    scheme: Optional[str] = None,
    population: Optional[pd.Series] = None,
    per: float = 1000.0,
) -> pd.DataFrame:
    """Crime counts and harm totals per area, with rates when a population is given.

    Parameters
    ----------
    counts : DataFrame
        One row per area, one column per crime category (offence counts).
    weights : HarmWeights
    scheme : {"police_uk", "mps"}, optional
        Detected from the column names when omitted.
    population : Series, optional
        Denominator aligned on ``counts.index``; adds ``count_rate`` and ``harm_rate``.
    per : float
        Rates are per this many residents (default 1,000).

    Returns
    -------
    DataFrame
        ``count`` (offences), ``harm_days`` (sum of count x weight) and, with a
        population, ``count_rate`` and ``harm_rate`` per ``per`` residents.
    """
    scheme = scheme or weights.scheme_for(counts.columns)
    w = weights.weight_for(counts.columns, scheme)
    values = counts.to_numpy(dtype=float)
    out = pd.DataFrame(
        {"count": values.sum(axis=1), "harm_days": values @ w},
        index=counts.index.copy(),
    )
    if population is not None:
        pop = population.reindex(counts.index).astype(float)
        with np.errstate(divide="ignore", invalid="ignore"):
            out["count_rate"] = out["count"] / pop * per
            out["harm_rate"] = out["harm_days"] / pop * per
    return out
