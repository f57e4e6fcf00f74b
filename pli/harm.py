"""Crime-harm weights: days per offence, from the Cambridge Crime Harm Index.

Harm is the sum over recorded offences of a weight per crime category (Sherman, Neyroud
& Neyroud 2016, "The Cambridge Crime Harm Index", *Policing* 10(3):171-183). The shipped
table ``indicators/harm_weights.csv`` (scheme ``cchi2026``) takes the CCHI 2026 value of
each Home Office offence subgroup (the median over its active offence codes, from a
third-party summary of the Cambridge Centre for Evidence-Based Policing values sheet):
each Met (MPS) ``"MAJOR/MINOR"`` category gets its subgroup's value, and each police.uk
``Crime type`` the mean of its subgroups weighted by their national 2024/25 counts.
``indicators/HARM_WEIGHTS.md`` states the source and arithmetic of every number.

Named tables (:data:`WEIGHT_SCHEMES`, chosen by ``index.harm_scheme`` in a config):
``cchi2026`` (default), ``counts`` (every offence weighs 1, so harm is the offence count)
and ``sentencing_legacy`` (pli's earlier reading of Sentencing Council starting points,
documented in ``indicators/HARM_WEIGHTS_LEGACY.md``). ``index.harm_weights`` points at any
other table with the same columns, for example Crime Severity Score weights.

Rows that fill ``sentence_type`` (the legacy table, and anti-social behaviour's
``nominal`` floor) are checked against :data:`NON_CUSTODIAL_DAYS`, pli's conversion of
non-custodial starting points to days, so those rows cannot drift from their
documentation. A replacement table needs only ``scheme``, ``category`` and ``weight_days``.

Examples
--------
>>> from pli.harm import NON_CUSTODIAL_DAYS, load_harm_weights, sentence_days
>>> NON_CUSTODIAL_DAYS["community_order_medium"]
15.3
>>> sentence_days("custody", custody_days=365)
365.0
>>> hw = load_harm_weights()
>>> hw.weight_for(["Robbery", "Anti-social behaviour"], "police_uk")
array([365.,   1.])
>>> hw.scheme_for(["ROBBERY/ROBBERY OF PERSONAL PROPERTY"])
'mps'
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Literal, Optional

import numpy as np
import pandas as pd

from pli.errors import InputError

__all__ = [
    "COMMUNITY_ORDER_UNPAID_WORK_HOURS",
    "DEFAULT_HARM_WEIGHTS",
    "FINE_BAND_WEEKLY_INCOME_SHARE",
    "NON_CUSTODIAL_DAYS",
    "SCHEMES",
    "SENTENCE_TYPES",
    "WEIGHT_SCHEMES",
    "HarmWeights",
    "harm_table",
    "load_harm_weights",
    "sentence_days",
    "weight_scheme_path",
]

logger = logging.getLogger(__name__)

#: police.uk's anti-social behaviour category: incidents, not recorded crimes.
ANTI_SOCIAL_BEHAVIOUR = "Anti-social behaviour"

Scheme = Literal["police_uk", "mps"]
SCHEMES: tuple[str, ...] = ("police_uk", "mps")
_INDICATORS_DIR = Path(__file__).resolve().parent.parent / "indicators"
DEFAULT_HARM_WEIGHTS = _INDICATORS_DIR / "harm_weights.csv"

#: Harm weight tables shipped with pli, by the name ``index.harm_scheme`` takes. Another
#: scheme (ONS Crime Severity Score weights, say) is a CSV with the same columns, named by
#: ``index.harm_weights`` or added here.
WEIGHT_SCHEMES: Mapping[str, Path] = MappingProxyType(
    {
        "cchi2026": DEFAULT_HARM_WEIGHTS,
        "counts": _INDICATORS_DIR / "harm_weights_counts.csv",
        "sentencing_legacy": _INDICATORS_DIR / "harm_weights_sentencing_legacy.csv",
    }
)
DEFAULT_WEIGHT_SCHEME = "cchi2026"

#: Working days in a week and paid hours in a working day used by the conversion.
WORKING_DAYS_PER_WEEK = 5.0
HOURS_PER_WORKING_DAY = 7.5

#: Sentencing Council fine bands A-C: the starting point as a share of the offender's
#: relevant weekly income (Magistrates' Court Sentencing Guidelines, fine band table).
FINE_BAND_WEEKLY_INCOME_SHARE: Mapping[str, float] = MappingProxyType(
    {"fine_band_a": 0.5, "fine_band_b": 1.0, "fine_band_c": 1.5}
)

#: Unpaid-work hours the Sentencing Council's community-order table gives for each level
#: (Imposition of Community and Custodial Sentences guideline, 2017).
COMMUNITY_ORDER_UNPAID_WORK_HOURS: Mapping[str, tuple[float, float]] = MappingProxyType(
    {
        "community_order_low": (40.0, 80.0),
        "community_order_medium": (80.0, 150.0),
        "community_order_high": (150.0, 300.0),
    }
)

#: Anti-social behaviour has no sentencing guideline; its nominal weight sits below the
#: smallest crime weight (a Band A fine, 2.5 days) so an incident never outweighs a crime.
NOMINAL_DAYS = 1.0


def _non_custodial_days() -> dict[str, float]:
    # Fines: share of a week's income, as working days. Community orders: midpoint of the
    # unpaid-work hours, as 7.5-hour working days. Rounded to 0.1 day so the CSV can
    # state the figure exactly.
    days = {band: share * WORKING_DAYS_PER_WEEK for band, share in FINE_BAND_WEEKLY_INCOME_SHARE.items()}
    days |= {
        level: (lo + hi) / 2 / HOURS_PER_WORKING_DAY for level, (lo, hi) in COMMUNITY_ORDER_UNPAID_WORK_HOURS.items()
    }
    days["nominal"] = NOMINAL_DAYS
    return {k: round(v, 1) for k, v in days.items()}


#: Day equivalents of non-custodial starting points: pli's approximation of the CCHI rule,
#: not the CCHI's own figures (which convert fines at minimum-wage earnings).
#: ``fine_band_a`` 2.5, ``fine_band_b`` 5.0, ``fine_band_c`` 7.5 (50/100/150 % of a week's
#: income at 5 days a week); ``community_order_low`` 8.0 (60 h), ``community_order_medium``
#: 15.3 (115 h), ``community_order_high`` 30.0 (225 h) at 7.5 h a day; ``nominal`` 1.0 (ASB).
NON_CUSTODIAL_DAYS: Mapping[str, float] = MappingProxyType(_non_custodial_days())

#: Every value the ``sentence_type`` column may take.
SENTENCE_TYPES: tuple[str, ...] = ("custody", *NON_CUSTODIAL_DAYS)

_REQUIRED = ("scheme", "category", "weight_days")
_OPTIONAL = (
    "basis", "subgroup", "mixed", "proactive", "source", "starting_point", "sentence_type", "custody_days", "guideline",
)
# A weight may differ from its conversion by rounding in a hand-edited file (15.33 for
# 15.3), never by a whole band.
_CONVERSION_TOLERANCE = 0.05
_TRUE = {"true", "yes", "1", "t", "y"}
_FALSE = {"false", "no", "0", "f", "n", ""}


@dataclass(frozen=True, eq=False)
class HarmWeights:
    """A validated harm weight table.

    Attributes
    ----------
    table : pandas.DataFrame
        Columns ``scheme``, ``category``, ``weight_days`` (float), ``basis`` (str),
        ``subgroup`` (str, the Home Office offence subgroup(s) the weight comes from),
        ``source`` (str), ``mixed`` (bool), ``proactive`` (bool: offences mostly found by
        police activity, which the CCHI leaves out of harm totals), ``starting_point``
        (str, the guideline starting point in words), ``sentence_type`` (str, one of
        :data:`SENTENCE_TYPES`), ``custody_days`` (float, custody only) and ``guideline``
        (str). Text columns are ``""`` and ``custody_days`` NaN when a table leaves them
        out.
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
                f"{', '.join(repr(k) for k in lookup)}. If the category is misspelt in the crime data, "
                "correct the data; if it is a real category the table lacks, add a row to a copy of the "
                "table and point index.harm_weights at it",
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
                "values or MPS 'MAJOR/MINOR' pairs: correct categories misspelt in the crime data, or add rows "
                "for real ones to a copy of the table",
                path=self.path,
            )
        logger.info("harm weights: %d categories recognised as scheme %r", len(cats), best)
        return best

    def to_frame(self) -> pd.DataFrame:
        """The table (a copy)."""
        return self.table.copy()

    def left_out_of_harm(self, scheme: str) -> frozenset[str]:
        """Categories a harm total leaves out by default, as the Cambridge Crime Harm Index does.

        Proactively detected offences (drugs, weapons possession; flagged ``proactive``)
        measure police activity rather than harm to victims; nominal weights (``sentence_type``
        ``nominal``) and anti-social behaviour are not crimes. The index, ``pli track`` and any
        other harm total leave them out unless a config names them.
        """
        frame = self.table[self.table["scheme"] == scheme] if "scheme" in self.table.columns else self.table
        flagged: set[str] = set()
        if "proactive" in frame.columns:
            flagged |= set(frame.loc[frame["proactive"].astype(str).str.lower().isin(("true", "1")), "category"])
        if "sentence_type" in frame.columns:
            flagged |= set(frame.loc[frame["sentence_type"] == "nominal", "category"])
        flagged.add(ANTI_SOCIAL_BEHAVIOUR)
        return frozenset(flagged)


def sentence_days(sentence_type: str, *, custody_days: float | None = None) -> float:
    """Day equivalent of a guideline starting point.

    Parameters
    ----------
    sentence_type : str
        One of :data:`SENTENCE_TYPES`.
    custody_days : float, optional
        The custodial starting point in days; required for ``"custody"`` and only for it.

    Returns
    -------
    float
        ``custody_days`` for custody, else :data:`NON_CUSTODIAL_DAYS` of the type.

    Raises
    ------
    InputError
        For an unknown type, or custody days missing, negative or given for a
        non-custodial type.

    Examples
    --------
    >>> sentence_days("fine_band_b")
    5.0
    >>> sentence_days("custody", custody_days=1825)
    1825.0
    """
    if sentence_type == "custody":
        if custody_days is None or not np.isfinite(custody_days) or custody_days <= 0:
            raise InputError(
                f"sentence_type 'custody' needs custody_days, a positive number of days "
                f"(365 for 1 year), got {custody_days!r}"
            )
        return float(custody_days)
    if sentence_type not in NON_CUSTODIAL_DAYS:
        raise InputError(f"sentence_type must be one of {', '.join(SENTENCE_TYPES)}, got {sentence_type!r}")
    if custody_days is not None:
        raise InputError(
            f"custody_days is only for sentence_type 'custody', got custody_days={custody_days!r} "
            f"with sentence_type {sentence_type!r}"
        )
    return NON_CUSTODIAL_DAYS[sentence_type]


def _check_scheme(scheme: str) -> None:
    if scheme not in SCHEMES:
        raise InputError(f"harm weights: scheme must be one of {', '.join(SCHEMES)}, got {scheme!r}")


def weight_scheme_path(name: str) -> Path:
    """The shipped table of a named harm weight scheme.

    Parameters
    ----------
    name : str
        A key of :data:`WEIGHT_SCHEMES`.

    Raises
    ------
    InputError
        For an unknown name; the message lists the choices.

    Examples
    --------
    >>> weight_scheme_path("counts").name
    'harm_weights_counts.csv'
    """
    if name not in WEIGHT_SCHEMES:
        raise InputError(
            f"harm weight scheme {name!r} is unknown; choose one of {', '.join(WEIGHT_SCHEMES)}, "
            "or point index.harm_weights at a CSV with the same columns"
        )
    return WEIGHT_SCHEMES[name]


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
        non-negative numbers, unreadable ``mixed`` flags, duplicate categories, unknown
        ``sentence_type`` values, and weights that differ from the conversion of their
        ``sentence_type``/``custody_days``), each naming the file row (row 1 is the header).

    Notes
    -----
    Only ``scheme``, ``category`` and ``weight_days`` are required; ``basis`` defaults to
    ``""`` and ``mixed``/``proactive`` to false. When a table has a ``sentence_type``
    column, every row that fills it must have ``weight_days`` equal to
    :func:`sentence_days` of it (within 0.05 day), so the documented starting point and
    the weight cannot drift apart. Rows that leave ``sentence_type`` empty, and tables
    without the column, use ``weight_days`` as given.

    Examples
    --------
    >>> from pli.harm import load_harm_weights
    >>> weights = load_harm_weights()  # the shipped CCHI 2026 table
    >>> weights.weight_for(["Robbery", "Burglary"], "police_uk").tolist()
    [365.0, 244.68]
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
            f"(optional: {', '.join(_OPTIONAL)}), found {', '.join(raw.columns)}",
            path=str(p),
        )
    problems: list[str] = []
    rows = pd.RangeIndex(2, len(raw) + 2)  # file line numbers, header is line 1
    scheme = raw["scheme"].str.strip()
    category = raw["category"].str.strip()
    bad_scheme = ~scheme.isin(SCHEMES)
    problems += [
        f"row {r}: scheme {s!r} is not one of {', '.join(SCHEMES)}"
        for r, s in zip(rows[bad_scheme], scheme[bad_scheme])
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
    sentence_type, custody_days, conversion_problems = _check_conversion(raw, rows, category, weight, bad_w)
    problems += conversion_problems
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
            "basis": _text_column(raw, "basis"),
            "subgroup": _text_column(raw, "subgroup"),
            "source": _text_column(raw, "source"),
            "mixed": flags["mixed"].astype(bool),
            "proactive": flags["proactive"].astype(bool),
            "starting_point": _text_column(raw, "starting_point"),
            "sentence_type": sentence_type.astype(str),
            "custody_days": custody_days.astype(float),
            "guideline": _text_column(raw, "guideline"),
        }
    )
    logger.info(
        "harm weights: %d categories (%s) from %s",
        len(table),
        ", ".join(f"{s} {int((table['scheme'] == s).sum())}" for s in SCHEMES),
        p.name,
    )
    return HarmWeights(table=table, path=str(p))


def _text_column(raw: pd.DataFrame, name: str) -> pd.Series:
    if name not in raw.columns:
        return pd.Series("", index=raw.index, dtype=str)
    return raw[name].str.strip().astype(str)


def _check_conversion(
    raw: pd.DataFrame, rows: pd.Index, category: pd.Series, weight: pd.Series, bad_weight: pd.Series
) -> tuple[pd.Series, pd.Series, list[str]]:
    """Parse ``sentence_type``/``custody_days`` and check ``weight_days`` against them."""
    problems: list[str] = []
    if "custody_days" in raw.columns:
        text = raw["custody_days"].str.strip()
        custody_days = pd.to_numeric(text, errors="coerce")
        bad_cd = text.ne("") & (custody_days.isna() | ~(custody_days > 0) | ~np.isfinite(custody_days.fillna(0)))
        problems += [
            f"row {r}: custody_days must be empty or a positive number of days (365 for 1 year), got {v!r}"
            for r, v in zip(rows[bad_cd], text[bad_cd])
        ]
        custody_days = custody_days.where(~bad_cd)
    else:
        custody_days = pd.Series(np.nan, index=raw.index, dtype=float)
        bad_cd = pd.Series(False, index=raw.index)
    if "sentence_type" not in raw.columns:
        return pd.Series("", index=raw.index, dtype=str), custody_days, problems

    stype = raw["sentence_type"].str.strip().str.lower()
    given = stype.ne("")
    unknown = given & ~stype.isin(SENTENCE_TYPES)
    problems += [
        f"row {r}: sentence_type {t!r} is not one of {', '.join(SENTENCE_TYPES)} (or empty)"
        for r, t in zip(rows[unknown], raw["sentence_type"][unknown])
    ]
    custody = stype.eq("custody")
    no_days = custody & custody_days.isna() & ~bad_cd
    problems += [
        f"row {r} ({c!r}): sentence_type custody needs custody_days, the starting point in days (365 for 1 year)"
        for r, c in zip(rows[no_days], category[no_days])
    ]
    stray = given & ~custody & ~unknown & custody_days.notna()
    problems += [
        f"row {r} ({c!r}): custody_days is only for sentence_type custody, got {d:g} with sentence_type {t!r}; "
        "clear custody_days or set sentence_type to custody"
        for r, c, d, t in zip(rows[stray], category[stray], custody_days[stray], stype[stray])
    ]
    expected = stype.map(dict(NON_CUSTODIAL_DAYS)).astype(float).where(~custody, custody_days)
    checked = given & ~unknown & ~stray & expected.notna() & ~bad_weight
    off = checked & ((weight - expected).abs() > _CONVERSION_TOLERANCE)
    problems += [
        f"row {r} ({c!r}): weight_days {w:g} does not match sentence_type {t} = {e:g} days"
        + (" (custody_days)" if t == "custody" else f" (pli conversion, NON_CUSTODIAL_DAYS[{t!r}])")
        + f"; set weight_days to {e:g} or correct sentence_type/custody_days"
        for r, c, w, t, e in zip(rows[off], category[off], weight[off], stype[off], expected[off])
    ]
    return stype.astype(str), custody_days, problems


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
