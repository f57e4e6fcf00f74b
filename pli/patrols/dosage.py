"""Patrol dosage: the floor a place must clear, visits per day, budgets and timing."""

from __future__ import annotations

import logging
import math

import numpy as np
import pandas as pd

from pli.patrols.concentration import _power_few_mask

__all__ = [
    "DEFAULT_TIMES_TEXT",
]

logger = logging.getLogger(__name__)


#: ``suggested_times`` when the records carry no time of day.
DEFAULT_TIMES_TEXT = "varied, unpredictable times, focus on evenings"


_DAY_NAMES = np.array(["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"])


def _peak_hours(hours: np.ndarray, n_peaks: int, min_gap: int = 3) -> list[int]:
    """Busiest hours of a 24-hour profile, at least ``min_gap`` hours apart (circular)."""
    counts = np.bincount(hours[hours >= 0], minlength=24)[:24].astype(float)
    # A three-hour circular window keeps one noisy hour from deciding the plan.
    smooth = counts + np.roll(counts, 1) + np.roll(counts, -1)
    chosen: list[int] = []
    avail = np.ones(24, dtype=bool)
    for _ in range(n_peaks):
        if not avail.any() or smooth[avail].max() <= 0:
            break
        h = int(np.flatnonzero(avail)[np.argmax(smooth[avail])])
        chosen.append(h)
        gap = (np.arange(24) - h) % 24
        avail &= np.minimum(gap, 24 - gap) >= min_gap
    return chosen


def _times_text(peaks: list[int], visits: int) -> str:
    use = sorted(peaks[:visits])
    if not use:
        return DEFAULT_TIMES_TEXT
    windows = ", ".join(f"{h:02d}:00-{(h + 1) % 24:02d}:00" for h in use)
    return f"within {windows}; vary the exact time each day"


def _floor_and_dose(
    cand: pd.DataFrame,
    *,
    n_months: int,
    alpha: float,
    min_events: int,
    events_per_daily_visit: float,
    max_visits_per_day: int,
    top_places: int,
) -> tuple[pd.DataFrame, int]:
    """Places clearing the floor, ranked and dosed (see :func:`plan_patrols`)."""
    cand = cand.reset_index().sort_values(
        ["neighbourhood_rank", "harm", "gi_bin", "count", "gi_z", "place_id"],
        ascending=[True, False, False, False, False, True],
        kind="stable",
    )
    cand["power_few"] = _power_few_mask(cand["neighbourhood_rank"], cand["harm"])
    hot = ((cand["gi_q"] <= alpha) & (cand["gi_z"] > 0)).to_numpy(dtype=bool)
    cand["events_per_month"] = cand["count"] / float(n_months)
    # Round half up (not numpy's half to even) after trimming float noise, so 0.5 a
    # month is one visit and 2.5 is three.
    ratio = np.round(cand["events_per_month"].to_numpy() / events_per_daily_visit, 9)
    cand["visits_per_day"] = np.minimum(np.floor(ratio + 0.5), max_visits_per_day).astype(np.int64)
    few = cand["power_few"].to_numpy()
    clears = (
        (cand["count"].to_numpy() >= min_events) & (hot | few) & (cand["visits_per_day"].to_numpy() >= 1)
        & (cand["harm"].to_numpy() > 0)
    )
    label = cand["gi_label"].astype(str).to_numpy()
    cand["evidence"] = np.select(
        [hot & few, hot, few], [np.char.add(label.astype(str), "; power few"), label, "power few"], default=""
    )
    plan = cand.loc[clears].copy()
    plan["place_rank"] = plan.groupby("neighbourhood_rank").cumcount() + 1
    plan = plan.loc[plan["place_rank"] <= top_places].copy()
    min_records = max(min_events, math.ceil(round(0.5 * events_per_daily_visit * n_months, 9)))
    return plan, int(min_records)


def _apply_budget(plan: pd.DataFrame, budget_minutes: float, visit_minutes: int) -> pd.DataFrame:
    """Trim visits from the lowest-ranked places until each neighbourhood fits the budget."""
    cap = int(budget_minutes // visit_minutes)
    visits = plan["visits_per_day"].to_numpy()
    before = plan.groupby("neighbourhood_rank")["visits_per_day"].cumsum().to_numpy() - visits
    allowed = np.clip(cap - before, 0, visits).astype(np.int64)
    over = (
        plan.assign(cut=visits - allowed, dropped=allowed == 0)
        .groupby("neighbourhood", sort=False)[["cut", "dropped"]]
        .sum()
    )
    for name, row in over.loc[over["cut"] > 0].iterrows():
        logger.info(
            "patrol plan: %s asks for more than the daily budget of %g minutes (%d visits of %d min); "
            "%d visits trimmed from its lowest-ranked places, %d places dropped",
            name,
            budget_minutes,
            cap,
            visit_minutes,
            int(row["cut"]),
            int(row["dropped"]),
        )
    out = plan.assign(visits_per_day=allowed)
    return out.loc[allowed > 0].copy()
