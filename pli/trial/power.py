"""Statistical power of a place-randomised trial, by simulation from the places' own counts.

Each simulated trial

1. draws a fresh allocation from the design (the coin flips of the pairs, or the shuffle
   inside each block), so the analysis is a true randomisation test;
2. draws every place's trial-period monthly counts from a negative binomial with the
   mean and variance of its own pre-period months (Poisson when the months are not
   over-dispersed), the treated places' means cut by the planned relative ``effect``;
3. analyses with the planned test: the change of each place from its own baseline,
   ``log((trial rate + c) / (pre rate + c))`` with ``c = 0.5 / months``, compared between
   arms (treated mean minus control mean), referred to its randomisation distribution
   (``permutations`` re-draws of the allocation, two-sided);

and power is the share of simulated trials rejecting at ``alpha``. Under no effect the
test rejects at most ``alpha`` of the time whatever the counts' distribution, because
the allocation is random and the statistic's reference distribution is the design's own.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Optional, Sequence

import numpy as np
import pandas as pd

from pli.errors import InputError
from pli.trial.design import TrialAllocation

__all__ = ["PowerCurve", "draw_counts", "power_curve", "simulate_power"]

log = logging.getLogger(__name__)


def _check_counts(counts: pd.DataFrame) -> pd.DataFrame:
    if not isinstance(counts, pd.DataFrame) or counts.empty:
        raise InputError("pre-period counts: expected a non-empty DataFrame, places x months")
    values = counts.apply(pd.to_numeric, errors="coerce")
    if values.isna().any().any() or (values < 0).any().any():
        raise InputError("pre-period counts: expected whole numbers of 0 or more in every place and month")
    if values.shape[1] < 2:
        raise InputError(f"pre-period counts: need at least 2 months to see month-to-month variation, "
                         f"got {values.shape[1]}")
    return values.astype(float)


def draw_counts(mean: np.ndarray, variance: np.ndarray, size: tuple[int, ...], rng: np.random.Generator,
                scale: np.ndarray | float = 1.0) -> np.ndarray:
    """Monthly counts from a negative binomial with the given mean and variance (Poisson if not over-dispersed).

    ``scale`` multiplies the mean and keeps the dispersion (the NB size ``r``), as a
    relative reduction would. ``size`` ends with the number of places.

    Examples
    --------
    >>> import numpy as np
    >>> from pli.trial import draw_counts
    >>> x = draw_counts(np.array([4.0, 4.0]), np.array([4.0, 12.0]), (20000, 2), np.random.default_rng(0))
    >>> np.round(x.mean(axis=0), 1).tolist(), np.round(x.var(axis=0)).tolist()
    ([4.0, 4.0], [4.0, 12.0])
    """
    mean = np.asarray(mean, dtype=float)
    variance = np.asarray(variance, dtype=float)
    mu = np.broadcast_to(mean * scale, size)
    over = variance > mean * (1 + 1e-9)
    r = np.where(over, mean**2 / np.where(over, variance - mean, 1.0), np.inf)
    out = rng.poisson(mu).astype(float)
    if over.any():
        r_b = np.broadcast_to(r, size)
        nb = over & (mean > 0)
        nb_b = np.broadcast_to(nb, size)
        p = r_b[nb_b] / (r_b[nb_b] + mu[nb_b])
        out[nb_b] = rng.negative_binomial(r_b[nb_b], p)
    return out


def _allocation_weights(allocation: TrialAllocation, n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` allocations drawn from the design, as weights: +1/n_treated treated, -1/n_control control."""
    frame = allocation.allocation
    groups = frame["group"].to_numpy()
    arms = np.zeros((n, len(frame)), dtype=bool)
    for label in pd.unique(groups):
        idx = np.flatnonzero(groups == label)
        k = int((frame["arm"].to_numpy()[idx] == "treated").sum())
        if allocation.design == "pairs":
            pick = rng.integers(0, len(idx), size=n)
            arms[np.arange(n), idx[pick]] = True
        else:
            keys = rng.random((n, len(idx)))
            chosen = np.argsort(keys, axis=1)[:, :k]
            arms[np.arange(n)[:, None], idx[chosen]] = True
    n_t = arms.sum(axis=1, keepdims=True)
    n_c = arms.shape[1] - n_t
    return np.where(arms, 1.0 / np.maximum(n_t, 1), -1.0 / np.maximum(n_c, 1))


def simulate_power(counts: pd.DataFrame, allocation: TrialAllocation, *, effect: float, months: int,
                   simulations: int = 500, permutations: int = 199, alpha: float = 0.05, seed: int = 0) -> float:
    """Share of simulated trials whose randomisation test rejects at ``alpha``.

    Parameters
    ----------
    counts : pandas.DataFrame
        Pre-period monthly counts, one row per place (index = place id), one column per month.
    allocation : TrialAllocation
        The design (its groups); only its places are simulated.
    effect : float
        Relative reduction in the treated places' mean (0.2 = 20 % fewer crimes), 0 to <1.
    months : int
        Trial length in months.
    simulations, permutations : int
        Simulated trials, and allocation re-draws in each test.
    alpha : float
        Two-sided significance level.
    seed : int

    Returns
    -------
    float
        Estimated power (the rejection rate; its Monte Carlo standard error is
        ``sqrt(p (1 - p) / simulations)``).

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from pli.trial import allocate_pairs, simulate_power
    >>> rng = np.random.default_rng(0)
    >>> counts = pd.DataFrame(rng.poisson(np.linspace(2, 10, 30)[:, None], (30, 12)),
    ...                       index=[f"p{i}" for i in range(30)])
    >>> design = allocate_pairs(counts.sum(axis=1), seed=0)
    >>> simulate_power(counts, design, effect=0.5, months=6, simulations=100, seed=0) > 0.8
    True
    """
    values = _check_counts(counts)
    if not 0 <= effect < 1:
        raise InputError(f"effect: expected a relative reduction from 0 up to (not including) 1, got {effect}")
    if months < 1:
        raise InputError(f"months: expected 1 or more, got {months}")
    if simulations < 1 or permutations < 1:
        raise InputError("simulations and permutations: expected 1 or more")
    if not 0 < alpha < 1:
        raise InputError(f"alpha: expected between 0 and 1, got {alpha}")
    missing = allocation.allocation.index.difference(values.index)
    if len(missing):
        raise InputError(f"pre-period counts: no counts for {len(missing)} allocated places "
                         f"({', '.join(map(str, missing[:5]))})")
    values = values.loc[allocation.allocation.index]
    pre = values.to_numpy()
    mean, variance = pre.mean(axis=1), pre.var(axis=1, ddof=1)
    c = 0.5 / months
    pre_rate = np.log(pre.mean(axis=1) + 0.5 / pre.shape[1])
    rng = np.random.default_rng(seed)
    observed = _allocation_weights(allocation, simulations, rng)           # (sims, places)
    scale = np.where(observed > 0, 1.0 - effect, 1.0)
    trial = np.zeros((simulations, len(mean)))
    for _ in range(months):
        trial += draw_counts(mean, variance, (simulations, len(mean)), rng, scale=scale)
    change = np.log(trial / months + c) - pre_rate                         # (sims, places)
    stat = np.einsum("sp,sp->s", change, observed)
    reference = _allocation_weights(allocation, permutations, rng)         # (perms, places)
    null = change @ reference.T                                            # (sims, perms)
    exceed = (np.abs(null) >= np.abs(stat)[:, None] - 1e-12).sum(axis=1)
    p_value = (1 + exceed) / (permutations + 1)
    return float((p_value <= alpha).mean())


@dataclass(frozen=True)
class PowerCurve:
    """Power over a grid of effects and trial lengths, with the detectable effect and the length needed.

    Attributes
    ----------
    table : pandas.DataFrame
        ``months``, ``effect``, ``power``, ``mc_se`` (Monte Carlo standard error).
    target_power, alpha : float
    detectable_effect : dict
        Trial length (months) -> smallest relative reduction with power >= target
        (linear interpolation on the grid; NaN when no effect on the grid reaches it).
    months_needed : int or None
        Shortest length on the grid with power >= target for ``target_effect``.
    target_effect : float
    simulations, permutations, seed : int
    """

    table: pd.DataFrame
    target_power: float
    alpha: float
    detectable_effect: dict[int, float]
    months_needed: Optional[int]
    target_effect: float
    simulations: int
    permutations: int
    seed: int

    def to_frame(self) -> pd.DataFrame:
        """A copy of :attr:`table`."""
        return self.table.copy()

    def summary(self) -> str:
        """Detectable effect by length, and the length needed for the target effect."""
        lines = [f"Power (alpha {self.alpha}, {self.simulations} simulations): detectable reduction "
                 f"at {self.target_power:.0%} power"]
        for m, e in self.detectable_effect.items():
            lines.append(f"  {m:>2} months: " + ("beyond the grid" if np.isnan(e) else f"{e:.0%}"))
        need = "not within the grid" if self.months_needed is None else f"{self.months_needed} months"
        lines.append(f"  a {self.target_effect:.0%} reduction needs {need}")
        return "\n".join(lines)


def _first_crossing(x: np.ndarray, y: np.ndarray, target: float) -> float:
    above = np.flatnonzero(y >= target)
    if not len(above):
        return float("nan")
    k = int(above[0])
    if k == 0 or y[k] == y[k - 1]:
        return float(x[k])
    return float(x[k - 1] + (target - y[k - 1]) * (x[k] - x[k - 1]) / (y[k] - y[k - 1]))


def power_curve(counts: pd.DataFrame, allocation: TrialAllocation, *,
                effects: Sequence[float] = (0.0, 0.05, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5),
                months: Sequence[int] = (3, 6, 12), target_effect: float = 0.2,
                length_grid: Sequence[int] = (1, 2, 3, 4, 6, 9, 12, 18, 24), target_power: float = 0.8,
                simulations: int = 500, permutations: int = 199, alpha: float = 0.05, seed: int = 0) -> PowerCurve:
    """Power on a grid of effects and lengths, the detectable effect per length and the length needed.

    Every grid point uses its own stream from ``seed`` so points are reproducible one by one.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from pli.trial import allocate_pairs, power_curve
    >>> rng = np.random.default_rng(0)
    >>> counts = pd.DataFrame(rng.poisson(np.linspace(2, 10, 30)[:, None], (30, 12)),
    ...                       index=[f"p{i}" for i in range(30)])
    >>> curve = power_curve(counts, allocation=allocate_pairs(counts.sum(axis=1)), effects=(0, 0.3, 0.6),
    ...                     months=(6,), length_grid=(1, 6), simulations=60, permutations=99)
    >>> curve.table.shape
    (3, 4)
    """
    rows = []
    streams = iter(np.random.SeedSequence(seed).spawn(len(months) * len(effects) + len(length_grid)))
    for m in months:
        for e in effects:
            s = int(next(streams).generate_state(1)[0])
            p = simulate_power(counts, allocation, effect=e, months=int(m), simulations=simulations,
                               permutations=permutations, alpha=alpha, seed=s)
            rows.append((int(m), float(e), p, float(np.sqrt(p * (1 - p) / simulations))))
        log.info("power: %d months done (%d effects)", m, len(effects))
    table = pd.DataFrame(rows, columns=["months", "effect", "power", "mc_se"])
    detectable = {int(m): _first_crossing(g["effect"].to_numpy(), g["power"].to_numpy(), target_power)
                  for m, g in table.groupby("months")}
    needed: Optional[int] = None
    for m in sorted(length_grid):
        s = int(next(streams).generate_state(1)[0])
        p = simulate_power(counts, allocation, effect=target_effect, months=int(m), simulations=simulations,
                           permutations=permutations, alpha=alpha, seed=s)
        if p >= target_power:
            needed = int(m)
            break
    return PowerCurve(table, target_power, alpha, detectable, needed, target_effect, simulations, permutations,
                      int(seed))
