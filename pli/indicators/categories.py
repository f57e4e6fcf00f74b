"""Crime category spellings: map case, spacing and dash variants to the published names."""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence

import numpy as np
import pandas as pd

from pli.indicators.sources import POLICE_UK_CRIME_TYPES

__all__ = [
]


# Dashes and underscores that spelling variants of one category swap for each other.
_DASHES_RE = re.compile("[-_\u2010\u2011\u2012\u2013\u2014\u2015\u2212]")


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


def _category_where(records: pd.DataFrame, names: Sequence[str]) -> dict[str, str]:
    """Category -> "N record(s), first at <file> line L" for messages."""
    if records.empty:
        return {}
    grouped = records.groupby("category", observed=True, sort=False)
    first = grouped[["_file", "_line"]].first()
    size = grouped.size()
    return {str(c): f"{int(size[c]):,} record(s), first at {names[int(r._file)]} line {int(r._line)}"
            for c, r in first.iterrows()}


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
