"""Randomised allocation of places to treatment: matched pairs, blocks, and a crossover schedule.

All three take the places' pre-period harm (or counts) as a Series indexed by place id and
an explicit ``seed``; the same inputs and seed give the same allocation.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, Optional

import numpy as np
import pandas as pd

from pli.errors import InputError

__all__ = ["TrialAllocation", "allocate_blocks", "allocate_pairs", "crossover_schedule"]


@dataclass(frozen=True)
class TrialAllocation:
    """Which places are treated, and the groups randomisation happened within.

    Attributes
    ----------
    design : {"pairs", "blocks", "crossover"}
        Matched pairs (one treated per pair), blocks (half of each block treated), or a
        crossover (``group`` = sequence, ``arm`` = the arm each place starts in).
    allocation : pandas.DataFrame
        Index ``place_id``; columns ``group`` (pair or block label), ``arm``
        (``"treated"``/``"control"``) and ``pre_harm``.
    excluded : tuple of str
        Places left out (the odd place out of the pairing, the lowest in harm).
    seed : int
        Seed of the draw.
    """

    design: Literal["pairs", "blocks", "crossover"]
    allocation: pd.DataFrame
    excluded: tuple[str, ...] = ()
    seed: int = 0
    notes: tuple[str, ...] = field(default=())

    @property
    def treated(self) -> pd.Index:
        """Place ids of the treated places."""
        return self.allocation.index[self.allocation["arm"] == "treated"]

    def to_frame(self) -> pd.DataFrame:
        """The allocation list, one row per place, with ``place_id`` as a column."""
        return self.allocation.reset_index()

    def balance(self) -> pd.DataFrame:
        """Places, mean and total pre-period harm per arm."""
        return self.allocation.groupby("arm")["pre_harm"].agg(places="size", mean="mean", total="sum")

    def __repr__(self) -> str:
        n_t = int((self.allocation["arm"] == "treated").sum())
        return (f"TrialAllocation({self.design!r}, {len(self.allocation)} places, {n_t} treated, "
                f"{self.allocation['group'].nunique()} groups, seed={self.seed})")


def _check_harm(harm: pd.Series, minimum: int) -> pd.Series:
    if not isinstance(harm, pd.Series):
        raise InputError(f"pre-period harm: expected a pandas Series indexed by place id, got {type(harm).__name__}")
    problems = []
    if harm.index.has_duplicates:
        dupes = sorted(map(str, harm.index[harm.index.duplicated()].unique()))[:5]
        problems.append(f"pre-period harm: place ids must be unique; repeated: {', '.join(dupes)}")
    values = pd.to_numeric(harm, errors="coerce")
    if values.isna().any() or (values < 0).any():
        problems.append("pre-period harm: expected numbers of 0 or more for every place")
    if len(harm) < minimum:
        problems.append(f"pre-period harm: a trial needs at least {minimum} places, got {len(harm)}")
    if problems:
        raise InputError(problems)
    return values.astype(float)


def allocate_pairs(harm: pd.Series, *, seed: int = 0) -> TrialAllocation:
    """Matched-pair randomisation: pair places of similar pre-period harm, treat one of each pair.

    Places are sorted by harm (ties by id) and paired with their neighbour in that order,
    which minimises the total within-pair harm difference for one-dimensional matching.
    With an odd number of places the lowest-harm place is left out. A fair coin per pair
    (``numpy.random.default_rng(seed)``) picks the treated place.

    Parameters
    ----------
    harm : pandas.Series
        Pre-period harm (or counts) indexed by place id.
    seed : int
        Seed of the coin flips.

    Returns
    -------
    TrialAllocation

    Examples
    --------
    >>> import pandas as pd
    >>> from pli.trial import allocate_pairs
    >>> a = allocate_pairs(pd.Series([40, 9, 38, 10, 3], index=list("abcde")), seed=1)
    >>> a.allocation["group"].to_dict(), a.excluded
    ({'a': 'P01', 'c': 'P01', 'd': 'P02', 'b': 'P02'}, ('e',))
    >>> int((a.allocation["arm"] == "treated").sum())
    2
    """
    values = _check_harm(harm, 2)
    order = sorted(values.index, key=lambda k: (-values[k], str(k)))
    excluded: tuple[str, ...] = ()
    if len(order) % 2:
        excluded = (str(order[-1]),)
        order = order[:-1]
    rng = np.random.default_rng(seed)
    flips = rng.integers(0, 2, size=len(order) // 2)
    rows = []
    for k in range(len(order) // 2):
        first, second = order[2 * k], order[2 * k + 1]
        treated = first if flips[k] == 0 else second
        for place in (first, second):
            rows.append((place, f"P{k + 1:02d}", "treated" if place == treated else "control", values[place]))
    frame = pd.DataFrame(rows, columns=["place_id", "group", "arm", "pre_harm"]).set_index("place_id")
    return TrialAllocation("pairs", frame, excluded, int(seed))


def allocate_blocks(harm: pd.Series, blocks: pd.Series, *, seed: int = 0) -> TrialAllocation:
    """Block randomisation: within each block (e.g. neighbourhood) treat a random half.

    Inside a block places are sorted by harm and taken two at a time, one of each two
    treated at random, so the arms stay balanced on harm within blocks too; an odd last
    place is treated with probability one half.

    Parameters
    ----------
    harm : pandas.Series
        Pre-period harm indexed by place id.
    blocks : pandas.Series
        Block label of every place (same index).
    seed : int

    Returns
    -------
    TrialAllocation

    Examples
    --------
    >>> import pandas as pd
    >>> from pli.trial import allocate_blocks
    >>> harm = pd.Series([5, 4, 3, 9, 8, 1], index=list("abcdef"))
    >>> a = allocate_blocks(harm, pd.Series(["x", "x", "x", "y", "y", "y"], index=harm.index), seed=0)
    >>> a.allocation["arm"].value_counts().to_dict()
    {'control': 3, 'treated': 3}
    """
    values = _check_harm(harm, 2)
    if not isinstance(blocks, pd.Series) or not blocks.index.equals(values.index):
        missing = sorted(map(str, set(values.index) - set(getattr(blocks, "index", []))))[:5]
        if missing or not isinstance(blocks, pd.Series):
            raise InputError("blocks: expected a Series with a block label for every place"
                             + (f"; missing for {', '.join(missing)}" if missing else ""))
        blocks = blocks.reindex(values.index)
    rng = np.random.default_rng(seed)
    rows: list[tuple[str, str, str, float]] = []
    odd: list[tuple[str, str]] = []
    for label in sorted(blocks.astype(str).unique()):
        members = sorted(values.index[blocks.astype(str) == label], key=lambda k: (-values[k], str(k)))
        for start in range(0, len(members) - 1, 2):
            two = members[start:start + 2]
            treated = two[int(rng.integers(0, 2))]
            rows.extend((p, label, "treated" if p == treated else "control", values[p]) for p in two)
        if len(members) % 2:
            odd.append((members[-1], label))
    # The odd places of all blocks are split half and half at random, so the arms differ
    # by at most one place overall.
    n_treated = len(odd) // 2 + (len(odd) % 2) * int(rng.integers(0, 2))
    for k, pos in enumerate(rng.permutation(len(odd))):
        place, label = odd[pos]
        rows.append((place, label, "treated" if k < n_treated else "control", values[place]))
    frame = pd.DataFrame(rows, columns=["place_id", "group", "arm", "pre_harm"]).set_index("place_id")
    return TrialAllocation("blocks", frame, (), int(seed))


def crossover_schedule(places: pd.Index | list, *, weeks: int = 8, period_weeks: int = 1, washout_weeks: int = 1,
                       seed: int = 0, start: Optional[str] = None) -> pd.DataFrame:
    """A crossover schedule: every place alternates treated and control periods with a washout.

    Daily patrol trials can use each place as its own control: periods of
    ``period_weeks`` treated, then ``washout_weeks`` not analysed (residual deterrence
    from the patrols fades; Koper 1995, Sherman & Weisburd 1995), then ``period_weeks``
    control, another washout, and so on. A random half of the places (seeded) starts
    treated, the rest start control, so every analysed week has both arms.

    Parameters
    ----------
    places : sequence of str
        Place ids.
    weeks : int
        Length of the trial in weeks.
    period_weeks, washout_weeks : int
        Length of each analysed period and of the washout after it (0 = none).
    seed : int
    start : str, optional
        ``YYYY-MM-DD`` of the first Monday; adds a ``week_start`` column.

    Returns
    -------
    pandas.DataFrame
        One row per place and week: ``place_id``, ``week`` (1-based), ``period``
        (0 in a washout), ``arm`` (``treated``/``control``/``washout``) and ``sequence``
        (``TC...`` or ``CT...``).

    Examples
    --------
    >>> from pli.trial import crossover_schedule
    >>> s = crossover_schedule(["a", "b"], weeks=5, seed=0)
    >>> s.pivot(index="week", columns="place_id", values="arm")["a"].tolist()
    ['treated', 'washout', 'control', 'washout', 'treated']
    """
    problems = []
    if weeks < 2:
        problems.append(f"crossover weeks: expected 2 or more, got {weeks}")
    if period_weeks < 1:
        problems.append(f"crossover period_weeks: expected 1 or more, got {period_weeks}")
    if washout_weeks < 0:
        problems.append(f"crossover washout_weeks: expected 0 or more, got {washout_weeks}")
    ids = [str(p) for p in places]
    if len(ids) < 2:
        problems.append(f"crossover: expected at least 2 places, got {len(ids)}")
    if problems:
        raise InputError(problems)
    rng = np.random.default_rng(seed)
    starts_treated = np.zeros(len(ids), dtype=bool)
    starts_treated[rng.permutation(len(ids))[: len(ids) // 2 + (len(ids) % 2) * int(rng.integers(0, 2))]] = True
    cycle = period_weeks + washout_weeks
    rows = []
    for place, first_treated in zip(ids, starts_treated):
        sequence = "TC" if first_treated else "CT"
        for week in range(1, weeks + 1):
            k, offset = divmod(week - 1, cycle)
            if offset >= period_weeks:
                arm, period = "washout", 0
            else:
                treated = (k % 2 == 0) == bool(first_treated)
                arm, period = ("treated" if treated else "control"), k + 1
            rows.append((place, week, period, arm, sequence))
    frame = pd.DataFrame(rows, columns=["place_id", "week", "period", "arm", "sequence"])
    if start is not None:
        first = pd.Timestamp(start)
        monday = first + pd.to_timedelta(7 * (frame["week"] - 1), unit="D")
        frame.insert(2, "week_start", monday.dt.strftime("%Y-%m-%d"))
    return frame
