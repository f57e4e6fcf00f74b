"""Residents per LSOA: the population denominator, checked before any floor can hide a bad column."""

from __future__ import annotations

from collections.abc import Callable, Mapping

import pandas as pd

from pli._codes import isin_text, list_codes
from pli.config import DenominatorSpec, StudyConfig
from pli.errors import InputError
from pli.indicators.sources import SourceTable

__all__ = ["population_denominator"]

# An LSOA was designed for 1,000-3,000 residents (a few reach about 10,000); a median far
# outside that is a column in thousands, a density, a share or a total, not residents.
_RESIDENTS_MEDIAN = (100.0, 25_000.0)


def population_denominator(
    cfg: StudyConfig,
    sources: Mapping[str, SourceTable],
    reconcile: Callable[..., pd.DataFrame],
    codes: pd.Index,
) -> pd.Series:
    """Usual residents of every boundary LSOA, from ``denominators.population``.

    Parameters
    ----------
    cfg : StudyConfig
        Names the source and column (``denominators.population``).
    sources : mapping of str to SourceTable
        Loaded sources.
    reconcile : callable
        ``reconcile(table, *, aggregation, source)`` bringing a table onto the boundary
        vintage (see :class:`pli.boundaries.CodeReconciler`).
    codes : Index
        The boundary LSOA codes.

    Returns
    -------
    Series
        ``population`` indexed like ``codes``.

    Raises
    ------
    InputError
        No population denominator, a missing column, an LSOA without residents, or a
        column whose median is not a count of residents per LSOA (thousands, a share, a
        density or a total).
    """
    den = cfg.denominators.get("population")
    if den is None:
        raise InputError("denominators.population is required: residents per LSOA set the neighbourhood "
                         "population bounds and the population shown on maps; add e.g. "
                         "{source: census, column: usual_residents}")
    src = sources[den.source]
    if den.column not in src.table.columns:
        raise InputError(f"denominators.population: source {den.source!r} has no column {den.column!r}; "
                         f"columns are: {', '.join(map(str, src.table.columns[:12]))}")
    col = src.table[[den.column]]
    if src.vintage != cfg.boundaries.lsoa_vintage or not isin_text(col.index, codes).all():
        col = reconcile(col, aggregation="sum", source=den.source)
    population = col[den.column].reindex(codes).astype(float).rename("population")
    _check_residents(population, den, src)
    return population


def _check_residents(population: pd.Series, den: DenominatorSpec, src: SourceTable) -> None:
    """Residents per LSOA must be present, positive and of a plausible size."""
    files = ", ".join(p.name for p in src.files)
    where = f"denominators.population: source {den.source!r} ({files}), column {den.column!r}"
    missing = population.isna()
    if missing.any():
        raise InputError(f"{where} has no value for {int(missing.sum())} boundary LSOA(s): "
                         f"{list_codes(population.index[missing])}; every LSOA needs its residents: "
                         "check the source covers the boundary LSOAs (same vintage, or a vintage lookup)")
    median = float(population.median())
    low, high = _RESIDENTS_MEDIAN
    if not low <= median <= high:
        unit = "thousands, a density or a share" if median < low else "a total over many LSOAs"
        raise InputError(f"{where} does not hold residents per LSOA: its median is {median:,.4g} per LSOA, "
                         f"expected about 1,000-3,000 ({low:,.0f} to {high:,.0f} accepted); it looks like "
                         f"{unit}: choose the column of usual residents (a count of people)")
    bad = population <= 0
    if bad.any():
        shown = list_codes(f"{c} ({v:g})" for c, v in population[bad].items())
        raise InputError(f"denominator 'population' ({den.source}.{den.column}) is zero or negative for "
                         f"{int(bad.sum())} LSOA(s): {shown}; {where} must count the residents of every LSOA "
                         "(about 1,000-3,000 each): fix the source rather than relying on a floor")
