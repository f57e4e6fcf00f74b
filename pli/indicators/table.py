"""The indicator table: every source reconciled, aligned and transformed into indicators."""

from __future__ import annotations

import difflib
import fnmatch
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
import pandas as pd

from pli._codes import isin_text, list_codes
from pli.config import ConfigError, IndicatorSpec, StudyConfig
from pli.errors import InputError
from pli.indicators.categories import _reference_categories
from pli.indicators.reading import _check_outside_share
from pli.indicators.sources import _LSOA_INDEX, ALL_CRIME, ASB, COUNT_KINDS, SourceTable

__all__ = [
    "HarmWeightsLike",
    "IndicatorTable",
    "build_indicators",
]

logger = logging.getLogger(__name__)


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

    def harm_total(self) -> pd.Series:
        """Total crime harm (days) per LSOA from the first harm-weighted indicator (NaN if none)."""
        for spec in self.specs:
            col = f"{spec.name}_numerator"
            if spec.harm and col in self.raw.columns:
                return self.raw[col].astype(float).rename("harm")
        return pd.Series(np.nan, index=self.values.index, name="harm")

    def study_area_rates(self) -> dict[str, float]:
        """Study-area value of each indicator: pooled numerator over pooled denominator for
        rates (per 1,000) and shares, the mean of the LSOA values otherwise."""
        out: dict[str, float] = {}
        for spec in self.specs:
            num = self.raw.get(f"{spec.name}_numerator")
            den = self.raw.get(f"{spec.name}_denominator")
            if spec.transform in ("rate", "share") and num is not None and den is not None and den.sum() > 0:
                out[spec.name] = float(num.sum() / den.sum()) * (1000.0 if spec.transform == "rate" else 1.0)
            else:
                out[spec.name] = float(self.values[spec.name].mean())
        return out

    def period_label(self) -> str:
        """The periods the indicators cover, for titles ("period not stated" when none has one)."""
        periods = sorted(set(self.periods.values()))
        return "; ".join(periods) if periods else "period not stated"

    def __repr__(self) -> str:
        n_missing = int(self.values.isna().sum().sum())
        return (
            f"IndicatorTable({len(self.values):,} LSOAs x {self.values.shape[1]} indicators, "
            f"{n_missing} missing values)"
        )


class HarmWeightsLike(Protocol):
    """What :func:`build_indicators` needs from ``pli.harm.HarmWeights``."""

    def weight_for(self, categories: Sequence[str], scheme: str) -> np.ndarray: ...


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
            f"named {spec.name!r}; available: {list_codes(available, 40)}"
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
            f"nothing in source {source.name!r}{hint}; available: {list_codes(available, 40)}"
        )
    return chosen


def _harm_exclusions(spec: IndicatorSpec, cols: list[str], harm_weights: Any, scheme: str) -> list[str]:
    """Categories a harm WILDCARD leaves out, as the Cambridge Crime Harm Index does.

    Proactively detected offences (drugs, weapons possession; flagged ``proactive`` in the
    weight table) measure police activity rather than harm to victims, and anti-social
    behaviour is not a crime. Naming a category exactly in ``columns`` keeps it.
    """
    if not hasattr(harm_weights, "left_out_of_harm"):
        return []  # a stand-in weight table without flags leaves nothing out
    flagged = harm_weights.left_out_of_harm(scheme)
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
                        "(name them in 'columns' to include them)", spec.name, list_codes(excluded))
        _warn_missing_harm_categories(spec, cols, table, source, harm_weights, scheme)
    block = table[cols]
    if spec.harm:
        if harm_weights is None:
            raise InputError(
                f"indicator {spec.name!r} asks for harm weighting but no harm weight table was "
                "given; pass harm_weights (pli.harm.load_harm_weights()) or set harm: false"
            )
        found = _HARM_SCHEMES.get(source.kind)
        if found is None:
            raise InputError(
                f"indicator {spec.name!r}: harm weighting needs a crime source (police_uk, "
                f"mps_lsoa_crime or points), source {source.name!r} is {source.kind!r}"
            )
        scheme = found
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
                    source.name, len(absent), what, list_codes(absent))
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

    Examples
    --------
    >>> from pli.config import default_data_dir, load_config
    >>> cfg = load_config(default_data_dir() / "configs" / "croydon-demo.yml")
    >>> from pli.boundaries import CodeReconciler, load_boundaries
    >>> from pli.harm import load_harm_weights
    >>> from pli.indicators import build_indicators, load_source
    >>> boundaries = load_boundaries(cfg)
    >>> sources = {name: load_source(name, spec, resolve=cfg.resolve, lsoa=boundaries.lsoa)
    ...            for name, spec in cfg.sources.items()}
    >>> build_indicators(cfg, boundaries, sources, reconcile=CodeReconciler(boundaries, cfg.sources),
    ...                  harm_weights=load_harm_weights())
    IndicatorTable(220 LSOAs x 9 indicators, 0 missing values)
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
                    f"{int(low.sum())} LSOA(s) below: {list_codes(num.index[low])}"
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
    gone = codes[~isin_text(codes, reconciled.index.astype("str"))]
    if not len(gone):
        return
    spec = cfg.sources[src.name]
    vintage = cfg.boundaries.lsoa_vintage
    lookup = getattr(boundaries, "lookup", None)
    dropped = unmatched_codes(gone, lookup, target_codes=target, target_vintage=vintage)
    if not len(dropped):
        return
    mask = isin_text(codes, dropped)
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
    codes = cfg.area.authority_codes()
    lad = f" (local authority {' + '.join(codes)})" if codes else ""
    _check_outside_share(
        src.name, spec, n_out=n_out, n_all=n_all, unit=unit, where=where,
        path=src.files[0] if len(src.files) == 1 else cfg.resolve(spec.path),
        example=f"{len(dropped)} code(s): {list_codes(dropped, 5)}",
        fix=(f"check that the file covers the study area{lad}, that sources.{src.name}.vintage "
             f"({spec.vintage}) matches the file's codes, and boundaries.vintage_lookup; if the file "
             "deliberately covers a wider area (e.g. a whole police force) name the area by its LAD codes "
             "with an area.lookup (pli init writes both), which cuts other authorities' LSOAs first, or set "
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
            f"available: {list_codes([str(c) for c in table.columns], 30)}"
        )
    den = table[dspec.column].astype("float64")
    missing = den.isna()
    if missing.any():
        raise InputError(
            f"denominator {den_name!r} ({src.name}.{dspec.column}) is missing for {int(missing.sum())} "
            f"LSOA(s): {list_codes(den.index[missing])}; check the source covers every boundary LSOA "
            "and the LSOA vintage lookup"
        )
    negative = den < 0
    if negative.any():
        # A floor would silently hide these, so they are reported before it applies.
        raise InputError(
            f"denominator {den_name!r} ({src.name}.{dspec.column}) is negative for {int(negative.sum())} "
            f"LSOA(s): {list_codes([f'{c} ({v:g})' for c, v in den[negative].items()])}; expected counts of "
            "residents, 0 or more: fix the source"
        )
    if dspec.floor is not None:
        low = den < dspec.floor
        if low.any():
            logger.warning(
                "denominator %r: raised %d LSOA(s) below the floor %s to it: %s",
                den_name, int(low.sum()), f"{dspec.floor:g}", list_codes(den.index[low]),
            )
            den = den.clip(lower=dspec.floor)
    bad = den <= 0
    if bad.any():
        raise InputError(
            f"denominator {den_name!r} ({src.name}.{dspec.column}) is zero or negative for "
            f"{int(bad.sum())} LSOA(s): {list_codes(den.index[bad])}; set denominators.{den_name}.floor "
            "or use another denominator"
        )
    return den
