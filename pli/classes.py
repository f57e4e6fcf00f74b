"""Priority classes: the quintile or decile of the index each LSOA falls in.

One classification serves every output of a run (``output.classes``): the class column of
``rankings.csv`` (named ``quintile`` or ``decile``), the choropleth classes and legend of
the web and static maps, and the graduated style of the GeoPackage's ``lsoa`` layer all
come from :func:`priority_classes`, so a reader never sees an LSOA in one class on the map
and another in the table.

Classes follow the rank (1 = highest priority) rather than breaks in the score: with
``k`` classes and ``n`` ranked LSOAs, ``class = floor((rank - 1) * k / n) + 1``. Class 1
holds the highest-priority ``1/k`` of LSOAs, LSOAs with tied scores share a rank and so a
class, and with ``k = 10`` this is exactly the index's own decile (:mod:`pli.index`).
Ranks are published exactly even in public mode, where scores are rounded, so the maps
(which receive the published frame) reproduce the table's classes from the rank.

Examples
--------
>>> import pandas as pd
>>> from pli.classes import priority_classes
>>> score = pd.Series([3.0, 2.0, 1.0, 0.5, 0.0, -1.0, -2.0, -3.0, -4.0, -5.0])
>>> priority_classes(score, "quintile").classes.tolist()
[1, 1, 2, 2, 3, 3, 4, 4, 5, 5]
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import matplotlib
import numpy as np
import pandas as pd

__all__ = ["CLASS_SCHEMES", "PriorityClasses", "class_colours", "priority_classes"]

#: Class schemes ``output.classes`` may name, with their number of classes.
CLASS_SCHEMES: dict[str, int] = {"quintile": 5, "decile": 10}


def class_colours(k: int) -> list[str]:
    """``k`` colours of the YlOrRd scale, lowest class first (hex, lower case).

    The palest end is skipped so the lowest class still reads on a light base map.
    """
    cmap = matplotlib.colormaps["YlOrRd"]
    return [matplotlib.colors.to_hex(cmap(x)) for x in np.linspace(0.12, 0.95, k)]


@dataclass(frozen=True)
class PriorityClasses:
    """The class of every LSOA, and what each class spans.

    Attributes
    ----------
    scheme : str
        ``"quintile"`` or ``"decile"``: also the name of the class column in tables.
    classes : Series
        Class per LSOA, 1 = highest priority (nullable integers; missing where there is no rank).
    lows, highs : tuple of float
        Lowest and highest score in classes 1..k (NaN for a class with no LSOA, which
        happens only when there are fewer LSOAs than classes).
    """

    scheme: str
    classes: pd.Series
    lows: tuple[float, ...]
    highs: tuple[float, ...]

    @property
    def k(self) -> int:
        """Number of classes."""
        return CLASS_SCHEMES[self.scheme]

    def colours(self) -> list[str]:
        """Fill colour of classes 1..k (class 1, the highest priority, darkest)."""
        return class_colours(self.k)[::-1]

    def labels(self) -> list[str]:
        """Legend text of classes 1..k, e.g. ``"Quintile 1 (highest 20%): 1.52 to 3.73"``."""
        share = f"{100 / self.k:.0f}%"
        out = []
        for position, (lo, hi) in enumerate(zip(self.lows, self.highs), start=1):
            tag = f" (highest {share})" if position == 1 else (f" (lowest {share})" if position == self.k else "")
            span = f"{lo:.2f} to {hi:.2f}" if np.isfinite(hi) else "none"
            out.append(f"{self.scheme.capitalize()} {position}{tag}: {span}")
        return out

    def graduated_ranges(self) -> list[tuple[float, float, int]]:
        """``(lower, upper, class)`` score ranges, lowest class first, for a graduated renderer.

        Ranges meet: each lower bound is the upper bound of the class below, and a score
        belongs to the range with ``lower < score <= upper`` (the lowest range also takes
        its lower bound), as QGIS reads them. Because tied scores share a class, these
        ranges put every LSOA in the class of the table. Empty classes are left out.
        """
        ranges = []
        lower = None
        for cls in range(self.k, 0, -1):
            lo, hi = self.lows[cls - 1], self.highs[cls - 1]
            if not np.isfinite(hi):
                continue
            ranges.append((lo if lower is None else lower, hi, cls))
            lower = hi
        return ranges


def priority_classes(score: pd.Series, scheme: str, *, rank: Optional[pd.Series] = None) -> PriorityClasses:
    """Classes of the score by rank (see the module docstring).

    Parameters
    ----------
    score : Series
        The score (higher = higher priority), indexed by LSOA.
    scheme : {"quintile", "decile"}
        ``output.classes``.
    rank : Series, optional
        The published rank (1 = highest); default the rank of ``score`` with ties at their
        lowest rank, after rounding to 10 decimals as the index does. Give it when the
        scores at hand are rounded (public mode) so classes match the unrounded ranking.

    Returns
    -------
    PriorityClasses

    Raises
    ------
    ValueError
        When ``scheme`` is not one of :data:`CLASS_SCHEMES`.
    """
    if scheme not in CLASS_SCHEMES:
        raise ValueError(f"class scheme: expected one of {', '.join(CLASS_SCHEMES)}, got {scheme!r}")
    k = CLASS_SCHEMES[scheme]
    values = pd.to_numeric(score, errors="coerce").astype("float64")
    if rank is None:
        rank = values.round(10).rank(method="min", ascending=False)
    rank = pd.to_numeric(rank.reindex(values.index), errors="coerce")
    n = int(rank.notna().sum())
    classes = ((rank - 1) * k // max(n, 1) + 1).astype("Int64").rename(scheme)
    spans = values.groupby(classes).agg(["min", "max"]).reindex(range(1, k + 1))
    return PriorityClasses(scheme=scheme, classes=classes,
                           lows=tuple(float(v) for v in spans["min"]),
                           highs=tuple(float(v) for v in spans["max"]))
