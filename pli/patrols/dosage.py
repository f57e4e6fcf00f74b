"""Patrol dosage: which places qualify as harm spots, how often to visit them, when, and
what it costs in officer time.

Selection (harm spots)
----------------------
A place of the planned kind qualifies when it holds at least ``min_events`` records
and at least one of these borough-wide tests holds (the plan's ``evidence`` column says
which, with the numbers):

* its harm is at least two standard deviations above the mean harm of all the
  borough's places of that kind (zeros included): the standard-deviation rule of hot-spot
  mapping (Eck, Chainey, Cameron, Leitner & Wilson 2005, *Mapping Crime: Understanding
  Hot Spots*, NIJ);
* it is in the borough's *power few*, the fewest places holding half of all harm
  (Weisburd 2015, "the law of crime concentration"; Sherman, Gartin & Buerger 1989);
* it is a Getis-Ord Gi* hot spot after Benjamini-Hochberg FDR (Chainey 2014).

Both thresholds are borough-wide, so a quiet neighbourhood's least-quiet cells do not
qualify just for being the busiest of a quiet area.

Dose
----
* **Visit length**: ``visit_minutes`` (default 15). Koper (1995, *Justice Quarterly*
  12(4): 649-672) found that residual deterrence after a police stop at a Minneapolis hot
  spot grew with the stop's length up to about 10-15 minutes, then fell away ("the Koper
  curve"); visits outside 10-15 minutes are allowed but logged.
* **Pattern**: intermittent visits at unpredictable times, as in the Minneapolis Hot
  Spots Patrol Experiment (Sherman & Weisburd 1995, *Justice Quarterly* 12(4):
  625-648). When the records carry times of day, the visits fall in the neighbourhood's
  peak window (the busiest ``peak_window_hours`` consecutive hours of its timed records,
  and its busiest days when dates are known), one in every two-hour block of it, so that
  no more than about two hours pass between visits in the peak period (the residual
  deterrence Koper measured fades well before that). Without times of day (police.uk
  publishes the month only) the plan says "no time of day in the data" and names no
  time: none may be invented.
* **Number of visits** scales with harm:
  ``visits_per_week = min(7 * max_visits_per_day, round_half_up(harm_per_month /
  harm_per_weekly_visit))``, one weekly visit per ``harm_per_weekly_visit`` harm (days
  of the harm scheme, CCHI by default) a month; a place rounding to 0 is not planned.
  The cap of three visits a day is about the dose of the UK hot-spot trials run with the
  Cambridge Institute of Criminology (Ariel, Weinborn & Sherman 2016, *J. Exp.
  Criminol.* 12: 277-317: 15-minute visits about three times a day in Peterborough).
  ``harm_per_weekly_visit`` (default 100 days a month) is a local planning convention,
  not a published constant: with CCHI 2026 a place with one burglary a month (245 days)
  gets two visits a week, one with three a month seven. With ``harm_scheme: counts``
  harm is a count, so set it to about 0.5 (one weekly visit per two crimes a month).
* **Trial**: the plan runs ``trial_weeks`` (default 12, the length of the Peterborough
  and Sacramento trials' treatment blocks); ``officer_hours_per_week = visits_per_week
  * visit_minutes / 60`` per place (one officer; double it for double crewing), times
  ``trial_weeks`` for the trial, totalled per neighbourhood and for the borough.
"""

from __future__ import annotations

import logging
import math
from typing import Optional

import numpy as np
import pandas as pd

from pli.patrols.concentration import concentration

__all__ = [
    "NO_TIME_TEXT",
]

logger = logging.getLogger(__name__)


#: What ``suggested_times`` starts with when the records carry no time of day.
NO_TIME_TEXT = "no time of day in the data"


_DAY_NAMES = np.array(["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"])


def _peak_window(hours: np.ndarray, width: int) -> tuple[int, float]:
    """Start hour of the busiest ``width`` consecutive hours (circular) and their share."""
    counts = np.bincount(hours[hours >= 0], minlength=24)[:24].astype(float)
    if counts.sum() <= 0:
        return -1, 0.0
    window = np.zeros(24)
    for k in range(width):  # window[h] counts hours h .. h + width - 1
        window += np.roll(counts, -k)
    start = int(np.argmax(window))  # ties: the earliest start, for a stable plan
    return start, float(window[start] / counts.sum())


def _peak_days(dow: Optional[np.ndarray], n_days: int) -> list[int]:
    """The ``n_days`` busiest days of the week (0 = Monday), or [] without dates."""
    if dow is None or not (dow >= 0).any() or n_days >= 7:
        return []
    counts = np.bincount(dow[dow >= 0], minlength=7)[:7]
    order = np.lexsort((np.arange(7), -counts))
    return sorted(int(d) for d in order[:n_days])


def _visits_per_peak_day(width: int) -> int:
    # One visit in every two-hour block of the peak window.
    return max(1, math.ceil(width / 2))


def _timing(
    visits_per_week: int,
    visit_minutes: int,
    *,
    hours: Optional[np.ndarray],
    dow: Optional[np.ndarray],
    width: int,
) -> tuple[str, str, str]:
    """``(suggested_times, peak_hours, peak_days)`` for one place, from its scope's records only."""
    if hours is None or not (hours >= 0).any():
        return (
            f"{NO_TIME_TEXT}: {visits_per_week} visit{'s' if visits_per_week != 1 else ''} a week of "
            f"{visit_minutes} min, on varied days at unpredictable times",
            "",
            "",
        )
    start, share = _peak_window(hours, width)
    per_day = min(_visits_per_peak_day(width), visits_per_week)
    days = min(7, math.ceil(visits_per_week / per_day))
    peak = f"{start:02d}:00-{(start + width) % 24:02d}:00"
    chosen = _peak_days(dow, days)
    day_text = ", ".join(_DAY_NAMES[chosen]) if chosen else ("every day" if days == 7 else f"{days} days a week")
    text = (
        f"peak {peak} ({share:.0%} of timed records): {per_day} visit{'s' if per_day != 1 else ''} of "
        f"{visit_minutes} min in it, one in each 2-hour block, {day_text}; vary the exact times"
    )
    return text, peak, ", ".join(_DAY_NAMES[chosen]) if chosen else ""


def _borough_tests(harm: np.ndarray) -> dict[str, float]:
    """Borough-wide harm-spot thresholds over every place of the kind (zeros included)."""
    harm = np.asarray(harm, dtype=float)
    mean, sd = (float(harm.mean()), float(harm.std())) if harm.size else (0.0, 0.0)
    ordered = np.sort(harm)[::-1]
    conc = concentration(harm)
    few = conc.power_few_places
    return {
        "mean": mean,
        "sd": sd,
        "sd_threshold": mean + 2.0 * sd,
        # Places tied with the last of the power few are in it too: ids never decide.
        "power_few_cutoff": float(ordered[few - 1]) if few > 0 else math.inf,
        "power_few_places": float(few),
        "n_places": float(harm.size),
    }


def _floor_and_dose(
    cand: pd.DataFrame,
    *,
    borough_harm: np.ndarray,
    n_months: int,
    alpha: float,
    min_events: int,
    harm_per_weekly_visit: float,
    max_visits_per_day: int,
    top_places: int,
) -> tuple[pd.DataFrame, dict[str, float]]:
    """Places clearing the floor, ranked and dosed (see the module notes)."""
    cand = cand.reset_index().sort_values(
        ["neighbourhood_rank", "harm", "gi_bin", "count", "gi_z", "place_id"],
        ascending=[True, False, False, False, False, True],
        kind="stable",
    )
    tests = _borough_tests(borough_harm)
    harm = cand["harm"].to_numpy(dtype=float)
    hot = ((cand["gi_q"] <= alpha) & (cand["gi_z"] > 0)).to_numpy(dtype=bool)
    high = (harm >= tests["sd_threshold"] * (1 - 1e-12)) & (harm > 0)
    few = (harm >= tests["power_few_cutoff"] * (1 - 1e-12)) & (harm > 0)
    cand["power_few"] = few
    cand["events_per_month"] = cand["count"] / float(n_months)
    cand["harm_per_month"] = harm / float(n_months)
    # Round half up (not numpy's half to even) after trimming float noise.
    ratio = np.round(cand["harm_per_month"].to_numpy() / harm_per_weekly_visit, 9)
    cand["visits_per_week"] = np.minimum(np.floor(ratio + 0.5), 7 * max_visits_per_day).astype(np.int64)
    clears = (cand["count"].to_numpy() >= min_events) & (hot | high | few) & (cand["visits_per_week"].to_numpy() >= 1)
    sd = tests["sd"]
    z = (harm - tests["mean"]) / sd if sd > 0 else np.zeros(len(harm))
    sd_text = np.array([f"harm {v:.1f} SD above the study-area mean (>= 2 SD)" for v in z], dtype=object)
    few_text = (
        f"in the study area's power few ({int(tests['power_few_places']):,} of {int(tests['n_places']):,} "
        "places hold half the harm)"
    )
    gi_text = ("Gi* " + cand["gi_label"].astype(str) + f" (FDR q <= {alpha:g})").to_numpy(dtype=object)
    parts = [np.where(high, sd_text, ""), np.where(few, few_text, ""), np.where(hot, gi_text, "")]
    cand["evidence"] = ["; ".join(p for p in row if p) for row in zip(*parts)]
    plan = cand.loc[clears].copy()
    plan["place_rank"] = plan.groupby("neighbourhood_rank").cumcount() + 1
    plan = plan.loc[plan["place_rank"] <= top_places].copy()
    return plan, tests


def _apply_budget(plan: pd.DataFrame, budget_minutes: float, visit_minutes: int) -> pd.DataFrame:
    """Trim weekly visits from the lowest-ranked places until each neighbourhood fits
    ``budget_minutes`` a day (seven times that a week)."""
    cap = int(7 * budget_minutes // visit_minutes)
    visits = plan["visits_per_week"].to_numpy()
    before = plan.groupby("neighbourhood_rank")["visits_per_week"].cumsum().to_numpy() - visits
    allowed = np.clip(cap - before, 0, visits).astype(np.int64)
    over = (
        plan.assign(cut=visits - allowed, dropped=allowed == 0)
        .groupby("neighbourhood", sort=False)[["cut", "dropped"]]
        .sum()
    )
    for name, row in over.loc[over["cut"] > 0].iterrows():
        logger.info(
            "patrol plan: %s asks for more than the daily budget of %g minutes (%d visits a week of %d min); "
            "%d weekly visits trimmed from its lowest-ranked places, %d places dropped",
            name,
            budget_minutes,
            cap,
            visit_minutes,
            int(row["cut"]),
            int(row["dropped"]),
        )
    out = plan.assign(visits_per_week=allowed)
    return out.loc[allowed > 0].copy()
