"""Emerging hot spot classes: Gi* per time slice, then the ArcGIS pattern of each area.

Each time slice gets the analytic Getis-Ord Gi* z of every area (binary weights with the
area itself included, the statistic of Ord and Getis 1995 that ArcGIS uses); a slice's
area is a significant hot (cold) spot when z > 0 (< 0) and its Benjamini-Hochberg q within
that slice is <= ``alpha`` (ArcGIS applies the same FDR correction by default). The
Mann-Kendall trend of the area's z series (``pli.track.trend``, two-sided p <= ``alpha``)
separates intensifying from persistent from diminishing. Neighbours are spatial only (one
time step: ArcGIS's "neighbourhood time step" of 1).

The classes and their published definitions (ArcGIS Pro, "How Emerging Hot Spot Analysis
works"); "90%" is the share of all slices, "final" the last slice. Cold spots mirror them.

=============  ==============================================================================
class          definition
=============  ==============================================================================
new            hot in the final slice and never a significant hot spot before
consecutive    a single uninterrupted run of 2 or more hot slices ending in the final slice,
               never hot before that run, and fewer than 90% of slices hot
intensifying   hot in at least 90% of slices including the final one, and the Gi* z rises
               significantly (Mann-Kendall)
persistent     hot in at least 90% of slices including the final one, with no significant
               trend in z
diminishing    hot in at least 90% of slices including the final one, and the Gi* z falls
               significantly
sporadic       on-again off-again hot spot, hot in the final slice: fewer than 90% of slices
               hot and never a significant cold spot
oscillating    hot in the final slice, cold in at least one earlier slice, fewer than 90% of
               slices hot
historical     not hot in the final slice but hot in at least 90% of slices
no pattern     none of the above
=============  ==============================================================================

Precedence where the wording overlaps: the 90% classes first (intensifying, diminishing,
persistent, historical), then new, consecutive, oscillating, sporadic. An area that is
both hot and cold at some times is judged on the kind it is in the final slice.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from pli.stats.fdr import benjamini_hochberg
from pli.track.trend import mann_kendall

__all__ = ["CLASSES", "EmergingHotSpots", "classify_pattern", "emerging_hot_spots", "gi_star_z"]

_BASE = ("new", "consecutive", "intensifying", "persistent", "diminishing", "sporadic", "oscillating",
         "historical")
CLASSES: tuple[str, ...] = (
    *(f"{c} hot spot" for c in _BASE), *(f"{c} cold spot" for c in _BASE), "no pattern"
)
"""Every class label, hot first, then the cold mirror, then ``"no pattern"``."""


def gi_star_z(values: np.ndarray, neighbours: list[np.ndarray]) -> np.ndarray:
    """Analytic Gi* z for one slice (binary weights, the area itself included).

    Parameters
    ----------
    values : ndarray of float, shape (n,)
    neighbours : list of int arrays
        ``neighbours[i]``: positions of area ``i``'s neighbours (without ``i``).

    Returns
    -------
    ndarray
        z per area; 0 where the slice is constant (no clustering to measure).

    Examples
    --------
    >>> nb = [np.array([1]), np.array([0, 2]), np.array([1])]   # three areas in a row
    >>> gi_star_z(np.array([5.0, 5.0, 0.0]), nb).round(3).tolist()
    [1.414, 0.0, -0.707]
    """
    x = np.asarray(values, dtype=float)
    n = len(x)
    mean = x.mean()
    s = np.sqrt((x ** 2).mean() - mean ** 2)
    if n < 2 or s <= 0:
        return np.zeros(n)
    z = np.empty(n)
    for i, nb in enumerate(neighbours):
        members = np.append(nb, i)
        w = float(len(members))
        denom = s * np.sqrt((n * w - w ** 2) / (n - 1))
        z[i] = (x[members].sum() - mean * w) / denom if denom > 0 else 0.0
    return z


def classify_pattern(state: np.ndarray, z: np.ndarray, *, alpha: float = 0.05) -> str:
    """The emerging hot spot class of one area.

    Parameters
    ----------
    state : ndarray of int
        Per slice in time order: 1 significant hot spot, -1 significant cold spot, 0 neither.
    z : ndarray of float
        Gi* z per slice (for the trend of the 90% classes).
    alpha : float
        Significance level of the Mann-Kendall trend in z.

    Returns
    -------
    str
        One of :data:`CLASSES`.

    Examples
    --------
    >>> classify_pattern(np.array([0, 0, 0, 0, 1]), np.zeros(5))
    'new hot spot'
    >>> classify_pattern(np.array([0, 0, 0, -1, -1]), np.zeros(5))
    'consecutive cold spot'
    """
    st = np.asarray(state, dtype=int)
    n = len(st)
    final = int(st[-1])
    for sign, kind in ((1, "hot"), (-1, "cold")):
        hits = st == sign
        share = hits.mean()
        if share >= 0.9 and final == sign:
            p = mann_kendall(z).p if n >= 3 else 1.0
            trend = np.sign(mann_kendall(z).s) * sign if p <= alpha else 0
            label = "intensifying" if trend > 0 else "diminishing" if trend < 0 else "persistent"
            return f"{label} {kind} spot"
        if share >= 0.9 and final != sign:
            return f"historical {kind} spot"
    if final == 0:
        return "no pattern"
    kind = "hot" if final == 1 else "cold"
    hits = st == final
    before = hits[:-1]
    if not before.any():
        return f"new {kind} spot"
    # Length of the run of hits ending in the final slice.
    run = n - int(np.flatnonzero(~hits)[-1]) - 1 if (~hits).any() else n
    if run >= 2 and not hits[: n - run].any():
        return f"consecutive {kind} spot"
    if (st[:-1] == -final).any():
        return f"oscillating {kind} spot"
    return f"sporadic {kind} spot"


@dataclass(frozen=True, eq=False)
class EmergingHotSpots:
    """Gi* per slice and the emerging hot spot class of every area.

    Attributes
    ----------
    z, q : DataFrame
        Slices x areas: Gi* z and its BH q within the slice.
    state : DataFrame
        Slices x areas: 1 hot, -1 cold, 0 neither (at ``alpha``).
    alpha : float
    """

    z: pd.DataFrame
    q: pd.DataFrame
    state: pd.DataFrame
    alpha: float

    def to_frame(self) -> pd.DataFrame:
        """One row per area: ``pattern``, hot and cold slice counts, the trend of z, the final z."""
        rows = {}
        for area in self.state.columns:
            st = self.state[area].to_numpy()
            zz = self.z[area].to_numpy()
            mk = mann_kendall(zz) if len(zz) >= 3 else None
            rows[area] = {
                "pattern": classify_pattern(st, zz, alpha=self.alpha),
                "hot_slices": int((st == 1).sum()), "cold_slices": int((st == -1).sum()),
                "slices": len(st), "z_trend_tau": mk.tau if mk else np.nan, "z_trend_p": mk.p if mk else np.nan,
                "final_z": float(zz[-1]),
            }
        out = pd.DataFrame.from_dict(rows, orient="index")
        out.index.name = self.state.columns.name or "area"
        return out

    def counts(self) -> pd.Series:
        """Areas per class, every class listed (zeros included)."""
        return self.to_frame()["pattern"].value_counts().reindex(list(CLASSES), fill_value=0)


def emerging_hot_spots(wide: pd.DataFrame, neighbours: dict[str, list[str]], *,
                       alpha: float = 0.05) -> EmergingHotSpots:
    """Gi* of every slice of a slices x areas frame and the emerging hot spot classes.

    Parameters
    ----------
    wide : DataFrame
        Index: time slices in order; columns: areas (values: counts or harm).
    neighbours : dict
        Area -> its neighbouring areas (not itself); every column must be a key.
    alpha : float
        Significance level for Gi* (after FDR within each slice) and for the z trend.

    Returns
    -------
    EmergingHotSpots
    """
    areas = list(wide.columns)
    missing = [a for a in areas if a not in neighbours]
    if missing:
        raise ValueError(f"emerging_hot_spots: no neighbours given for {len(missing)} area(s): {missing[:5]}")
    pos = {a: i for i, a in enumerate(areas)}
    nb = [np.array([pos[b] for b in neighbours[a] if b in pos and b != a], dtype=int) for a in areas]
    values = wide.to_numpy(dtype=float)
    z = np.vstack([gi_star_z(row, nb) for row in values]) if len(values) else np.zeros((0, len(areas)))
    p = 2 * stats.norm.sf(np.abs(z))
    q = np.vstack([benjamini_hochberg(row) for row in p]) if len(p) else p
    state = np.where(q <= alpha, np.sign(z), 0).astype(int)
    frame = lambda a: pd.DataFrame(a, index=wide.index, columns=wide.columns)  # noqa: E731
    return EmergingHotSpots(z=frame(z), q=frame(q), state=frame(state), alpha=alpha)
