"""Design a randomised trial of patrols (or another treatment) across eligible places.

``pli trial`` takes the places of a run (its patrol places, its top LSOAs, or the grid
cells with the most records), counts each place's records per month in the pre-period
from the config's point source, and

1. randomises: matched pairs of places with similar pre-period harm, one of each pair
   treated (:func:`allocate_pairs`), or blocks by neighbourhood, half of each treated
   (:func:`allocate_blocks`), seeded;
2. estimates power by simulation from the places' own monthly counts (negative binomial
   with each place's mean and variance), with a planned reduction in the treated places,
   analysed with a randomisation test of the change from baseline
   (:func:`simulate_power`, :func:`power_curve`): the detectable reduction for each trial
   length and the length needed for a target reduction;
3. optionally lays out a crossover schedule for daily patrol trials: places alternate
   treated and control weeks with a washout between (:func:`crossover_schedule`), with
   its own power by simulation (:func:`simulate_crossover_power`);
4. writes the allocation list, the pre-period counts, the power curve (CSV and PNG), the
   schedule, a map of the arms and a manifest into a folder of its own, all or nothing.

Why these choices: hot-spot patrol trials randomise places, not people, and places
differ a lot in their crime counts, so pairing on the pre-period count removes most of
that variance (Sherman & Weisburd 1995; Ariel, Weinborn & Sherman 2016); a simulation
from the places' own monthly counts keeps their over-dispersion, which a textbook
formula for Poisson counts would ignore and so overstate power.

Examples
--------
>>> import numpy as np, pandas as pd
>>> from pli.trial import allocate_pairs
>>> harm = pd.Series(np.arange(10.0), index=[f"p{i}" for i in range(10)])
>>> allocate_pairs(harm, seed=0)
TrialAllocation('pairs', 10 places, 5 treated, 5 groups, seed=0)
"""

from pli.trial.design import TrialAllocation, allocate_blocks, allocate_pairs, crossover_schedule
from pli.trial.places import cell_centres, monthly_counts, read_places, top_cells
from pli.trial.power import (
    PowerCurve,
    crossover_power_curve,
    draw_counts,
    power_curve,
    simulate_crossover_power,
    simulate_power,
)
from pli.trial.report import TrialDesign, design_trial, power_figure, trial_page, write_trial

__all__ = [
    "PowerCurve",
    "TrialAllocation",
    "TrialDesign",
    "allocate_blocks",
    "allocate_pairs",
    "cell_centres",
    "crossover_power_curve",
    "crossover_schedule",
    "design_trial",
    "draw_counts",
    "monthly_counts",
    "power_curve",
    "power_figure",
    "read_places",
    "simulate_crossover_power",
    "simulate_power",
    "top_cells",
    "trial_page",
    "write_trial",
]
