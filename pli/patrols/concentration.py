"""Crime concentration: the share of harm in the top places and the "power few"."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np
import pandas as pd

from pli.errors import InputError

__all__ = [
    "ConcentrationResult",
    "concentration",
]


@dataclass(frozen=True)
class ConcentrationResult:
    """How concentrated harm is among places.

    The top p % of places is the ``ceil(p * n_places)`` places with most harm, counted
    over *all* places of the scope including those with no harm (a neighbourhood of 200
    cells has a top 1 % of 2 cells). The power few is the smallest number of places
    whose harm reaches half the total.

    Attributes
    ----------
    n_places, n_places_with_harm : int
    total_harm : float
    fractions : tuple of float
        The top fractions of places (0.01, 0.05, 0.10 by default).
    top_places : tuple of int
        ``ceil(p * n_places)`` for each fraction.
    top_harm_shares : tuple of float
        Share of the total harm they hold (NaN when there is no harm).
    power_few_places : int
    power_few_place_share : float
        ``power_few_places / n_places``.
    power_few_harm_share : float
        Share of harm the power few actually hold (at least 0.5).
    """

    n_places: int
    n_places_with_harm: int
    total_harm: float
    fractions: tuple[float, ...]
    top_places: tuple[int, ...]
    top_harm_shares: tuple[float, ...]
    power_few_places: int
    power_few_place_share: float
    power_few_harm_share: float

    def to_dict(self) -> dict[str, Any]:
        """Flat mapping: ``top_1pct_places``, ``top_1pct_harm_share``, ... ``power_few_*``."""
        out: dict[str, Any] = {
            "n_places": self.n_places,
            "n_places_with_harm": self.n_places_with_harm,
            "total_harm": self.total_harm,
        }
        for f, k, share in zip(self.fractions, self.top_places, self.top_harm_shares):
            label = f"top_{f * 100:g}pct".replace(".", "_")
            out[f"{label}_places"] = k
            out[f"{label}_harm_share"] = share
        out["power_few_places"] = self.power_few_places
        out["power_few_place_share"] = self.power_few_place_share
        out["power_few_harm_share"] = self.power_few_harm_share
        return out

    def to_frame(self) -> pd.DataFrame:
        """One-row frame of :meth:`to_dict`."""
        return pd.DataFrame([self.to_dict()])


def concentration(
    harm_per_place: Any, *, fractions: Sequence[float] = (0.01, 0.05, 0.10), half: float = 0.5
) -> ConcentrationResult:
    """Share of harm in the top places and the "power few".

    Parameters
    ----------
    harm_per_place : array-like
        Harm of every place in the scope, zeros included.
    fractions : sequence of float
        Top fractions of places; the top ``p`` is ``ceil(p * n)`` places (rounded to 9
        decimals first so 0.07 * 100 is 7, not 8).
    half : float
        Share of harm the power few must hold.

    Returns
    -------
    ConcentrationResult

    Examples
    --------
    >>> from pli.patrols import concentration
    >>> result = concentration([50, 30, 10, 5, 5, 0, 0, 0, 0, 0])
    >>> result.power_few_places, result.power_few_harm_share
    (1, 0.5)
    """
    h = np.asarray(harm_per_place, dtype=float).ravel()
    if h.size and (not np.all(np.isfinite(h)) or (h < 0).any()):
        raise InputError("harm_per_place: expected finite, non-negative harm values")
    n = h.size
    ordered = np.sort(h)[::-1]
    cum = np.cumsum(ordered)
    total = float(cum[-1]) if n else 0.0
    tops = tuple(int(min(n, math.ceil(round(f * n, 9)))) for f in fractions)
    if total > 0:
        shares = tuple(float(cum[k - 1] / total) if k > 0 else 0.0 for k in tops)
        # A relative tolerance keeps 0.5 * total reachable despite summation rounding.
        k_few = int(np.searchsorted(cum, half * total * (1 - 1e-12), side="left") + 1)
        few_share = float(cum[k_few - 1] / total)
    else:
        shares = tuple(float("nan") for _ in tops)
        k_few, few_share = 0, float("nan")
    return ConcentrationResult(
        n_places=n,
        n_places_with_harm=int((h > 0).sum()),
        total_harm=total,
        fractions=tuple(float(f) for f in fractions),
        top_places=tops,
        top_harm_shares=shares,
        power_few_places=k_few,
        power_few_place_share=(k_few / n) if n else float("nan"),
        power_few_harm_share=few_share,
    )


def _power_few_mask(group: pd.Series, harm: pd.Series, half: float = 0.5) -> np.ndarray:
    """Rows in their group's power few; rows must be sorted by group, then harm descending.

    The power few are the fewest places holding ``half`` of the group's harm (as
    :func:`concentration`), plus any place tied with the last of them, so that the
    choice between equal places never rests on their ids.
    """
    total = harm.groupby(group).transform("sum")
    before = harm.groupby(group).cumsum() - harm
    core = (before < half * total * (1 - 1e-12)) & (harm > 0)
    cutoff = harm.where(core).groupby(group).transform("min")
    return ((harm > 0) & (harm >= cutoff)).to_numpy(dtype=bool)
