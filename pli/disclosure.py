"""Disclosure control for public outputs (``--public``; issue 10 item 6).

Two rules, applied to every published LSOA table (rankings, indicator inputs, the
GeoPackage layer and the maps' data, which all receive the frames returned here):

* **Primary suppression** by the nature of the value: any count below
  ``output.suppress_below``, or a value derived from one (a rate, share or log of a
  count, from any source kind: police.uk, Met LSOA tables, points, Census tables and
  LSOA tables declared as counts), is blanked together with its contribution, driver
  value and driver label. Crime harm is withheld outright: with the published weights a
  harm total reveals single serious offences.
* **Secondary suppression** against differencing: police.uk and others publish ward and
  borough totals, so a single blank cell in a ward is that total minus the published
  cells. Wherever a ward (upper-layer group), or the whole study area, holds exactly one
  blank cell of an indicator, the next-smallest published cell of the group is blanked
  too, repeatedly until every group holds none or at least two.

Scores, domain scores and contributions are published to 2 decimal places, so a
withheld contribution cannot be recovered exactly as the score minus the others.

Examples
--------
>>> from pli.disclosure import secondary_suppression
>>> import pandas as pd
>>> counts = pd.Series([2, 9, 30, 7], index=list("abcd"))
>>> ward = pd.Series(["w1", "w1", "w1", "w2"], index=list("abcd"))
>>> secondary_suppression(counts < 5, counts, [ward]).tolist()
[True, True, False, False]
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd

__all__ = ["CENSUS_KINDS", "COUNT_TRANSFORMS", "counts_people_or_events", "secondary_suppression", "suppress"]

#: Transforms whose value is a count, or reveals one given the published denominator.
COUNT_TRANSFORMS = ("rate", "share", "count")
#: Census sources hold counts of residents.
CENSUS_KINDS = frozenset({"census2011_population", "census2021"})


def counts_people_or_events(spec, source) -> bool:
    """True when an indicator's numerator is a count (or a value that reveals one).

    Parameters
    ----------
    spec : IndicatorSpec
        The indicator.
    source : SourceSpec
        Its source. Crime, point and Census sources always count; an ``lsoa_table``
        counts when the indicator is a rate, share or count, or the source declares
        ``aggregation: sum`` (its columns add up, so they are counts).
    """
    from pli.indicators import COUNT_KINDS

    return (spec.transform in COUNT_TRANSFORMS or source.kind in COUNT_KINDS or source.kind in CENSUS_KINDS
            or (source.kind == "lsoa_table" and source.aggregation == "sum"))


def secondary_suppression(hidden: pd.Series, values: pd.Series, groupings: Iterable[pd.Series]) -> pd.Series:
    """Blank more cells until no group holds exactly one blank cell.

    Parameters
    ----------
    hidden : Series of bool
        Cells blanked by primary suppression, indexed like ``values``.
    values : Series
        The counts; within a group the smallest published cell is blanked next (ties by
        index order), which loses least information.
    groupings : iterable of Series
        Group labels aligned to ``values`` (e.g. the ward code, or one label for the
        whole study area); NaN labels belong to no group. Groups of one cell are left
        alone: their total is the cell itself, and it is blank already.

    Returns
    -------
    Series of bool
        A new mask, a superset of ``hidden``.
    """
    mask = hidden.reindex(values.index, fill_value=False).astype(bool).copy()
    groupings = [g.reindex(values.index) for g in groupings]
    order = pd.Series(np.arange(len(values)), index=values.index)
    changed = True
    while changed:
        changed = False
        for labels in groupings:
            for _, members in mask.groupby(labels, dropna=True):
                if len(members) < 2 or members.sum() != 1:
                    continue
                candidates = members.index[~members.to_numpy()]
                ranked = pd.DataFrame({"v": values.reindex(candidates).fillna(-np.inf),
                                       "o": order.reindex(candidates)}).sort_values(["v", "o"])
                mask.loc[ranked.index[0]] = True
                changed = True
    return mask


def _mask_indicator(ranked: pd.DataFrame, name: str, hidden: pd.Series, *, label: bool) -> None:
    ranked[name] = ranked[name].mask(hidden)
    # The same value reappears as a driver value, and its contribution inverts to it
    # through the (published) normalisation of the other LSOAs.
    if f"contribution_{name}" in ranked.columns:
        ranked[f"contribution_{name}"] = ranked[f"contribution_{name}"].mask(hidden)
    for k in (1, 2, 3):
        driver = f"driver_{k}"
        if driver not in ranked.columns:
            continue
        driven = hidden & ranked[driver].eq(name).fillna(False)
        for col in (f"{driver}_value", f"{driver}_contribution") + ((driver,) if label else ()):
            if col in ranked.columns:
                ranked[col] = ranked[col].mask(driven)


def suppress(rankings: pd.DataFrame, table, cfg, sources=None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Public mode: the rankings and indicator inputs with small counts blanked.

    Parameters
    ----------
    rankings : DataFrame
        One row per LSOA (with ``ward_code``), as written to ``rankings.csv``.
    table : IndicatorTable
        Its ``raw`` frame holds ``<indicator>_numerator`` / ``_denominator`` columns.
    cfg : StudyConfig
        ``output.suppress_below`` is the threshold.
    sources : dict, optional
        Unused; kept for the pipeline's call.

    Returns
    -------
    (DataFrame, DataFrame)
        New rankings (no ``harm`` column) and indicator inputs; the inputs are not changed.
    """
    threshold = cfg.output.suppress_below
    ranked = rankings.drop(columns=["harm"], errors="ignore").copy()
    raw = table.raw.copy()
    groupings = [pd.Series("study area", index=ranked.index)]
    if "ward_code" in ranked.columns:
        groupings.insert(0, ranked["ward_code"])
    for spec in cfg.indicators:
        if not counts_people_or_events(spec, cfg.sources[spec.source]):
            continue
        num_col, den_col = f"{spec.name}_numerator", f"{spec.name}_denominator"
        if num_col not in raw.columns:
            continue
        if spec.harm:
            # Harm mixes counts with weights of hundreds or thousands of days, so its rate
            # times the published population reveals single serious offences: withhold it.
            raw = raw.drop(columns=[num_col])
            everywhere = pd.Series(True, index=ranked.index)
            _mask_indicator(ranked, spec.name, everywhere, label=False)
            continue
        numerator = raw[num_col].reindex(ranked.index)
        small = numerator < threshold
        if den_col in raw.columns:
            denominator = raw[den_col].reindex(ranked.index)
            small_den = denominator < threshold
            small |= small_den
            raw[den_col] = raw[den_col].mask(small_den.reindex(raw.index, fill_value=False))
        hidden = secondary_suppression(small, numerator, groupings)
        raw[num_col] = raw[num_col].mask(hidden.reindex(raw.index, fill_value=False))
        _mask_indicator(ranked, spec.name, hidden, label=True)
    if "population" in ranked.columns:
        ranked["population"] = ranked["population"].mask(ranked["population"] < threshold)
    # Exact scores minus the published contributions would give a withheld one back:
    # publish scores and contributions to 2 decimal places only.
    rounded = [c for c in ranked.columns if c == "score" or str(c).startswith(("domain_", "contribution_"))
               or (str(c).startswith("driver_") and str(c).endswith(("_value", "_contribution")))]
    ranked[rounded] = ranked[rounded].astype(float).round(2)
    return ranked, raw
