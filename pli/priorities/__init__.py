"""Priority neighbourhoods: contiguous, workable groups of high-priority LSOAs.

A community-safety partnership cannot work a list of 220 ranked LSOAs; it works a
handful of places, each large enough for one team and named so residents recognise it.
:func:`select_neighbourhoods` draws those places (nine by default), profiles them, says
which of the borough's highest-scoring LSOAs fell outside and why, and summarises every
ward; :func:`perturbed_scores` feeds the ``stability`` check.

Method
------
1. **Candidates.** LSOAs scoring at or above the ``min_score_quantile`` quantile, plus the
   ``top_lsoas`` highest and the top ``cover_top_share`` (default 5%). The *cut-off* is
   the highest score among the LSOAs that are not candidates.
2. **Priority per LSOA** (``priority_basis`` on the result says the same)::

       need_i     = max(score_i - cut-off, 0) * population_i / borough population
       priority_i = need_i / sum(need)                       (harm_weight = 0, default)
       priority_i = (1 - w) * need_i / sum(need) + w * rate_i / sum(rate)   (w = harm_weight)

   with ``rate_i = harm_i / population_i``. Harm is not blended by default because the
   standard configs already weight a harm-rate indicator double.
3. **Concentration** of a group of LSOAs = its priority per resident relative to the
   borough's (``priority_share / population_share``): the population-weighted mean score
   above the cut-off, blended with harm per resident when ``harm_weight > 0``. Selection
   and ranking both use it, so rank 1 is the most concentrated place, never just the
   biggest.
4. **Regions** (``method: grow``, default; :func:`pli.priorities.regions.grow_regions`).
   Seeded region growing with a population floor: the most concentrated unassigned
   candidate seeds a region, which takes its most concentrated free neighbour until it
   has ``min_population`` residents (default 5,000, about three LSOAs: enough for a
   team's beat and for rates that do not swing on a few offences), then keeps taking
   neighbouring candidates only while that does not lower its concentration, within
   ``max_lsoas`` and ``max_population``. A seed that cannot reach the floor joins an
   adjacent region with room, or is reported.
5. **Selection.** The ``count`` regions with the highest concentration, ranked by it
   (ties: more crime harm, then first LSOA code).
6. **Accounting.** Every top-``cover_top_share`` LSOA outside the chosen neighbourhoods is
   listed in :attr:`NeighbourhoodResult.excluded` (written as
   ``excluded_high_priority.csv``) with its reason.
7. **Stability.** Given ``score_runs`` (index scores rebuilt under ``stability_runs``
   seeded draws of indicator weights within +-``stability_spread``), steps 1-5 are
   repeated per run; ``stability`` is the share of runs that choose a neighbourhood
   overlapping the published one by Jaccard >= 0.5.

Why this method fits: the task is a *fixed number* of contiguous regions with a
population *floor* (and ceilings) that sit on the *most concentrated* need. Max-p
(Duque, Anselin and Rey 2012; ``spopt.region.MaxPHeuristic``) is the standard method for
contiguous regions above a floor, but it partitions the whole area into as many regions
as possible and starts from random seeds, so the few regions that matter move with the
seed; AZP and SKATER fix k for a full partition, not for k hot spots among 220 LSOAs.
Growing max-p's construction phase from the highest-priority seeds keeps the floor and
contiguity by construction, puts each top LSOA at the heart of a region instead of
leaving it for whatever is left, is deterministic (nothing to seed) and runs in
milliseconds, which the 200-run stability check needs. The earlier method
(``method: ward``: connected candidates split by contiguity-constrained Ward clustering,
:func:`pli.priorities.regions.split_regions`) honours only ceilings, so it produced
two-LSOA neighbourhoods and left isolated top LSOAs out;
``benchmarks/bench_priorities.py`` compares both on the real snapshot.

Names come from the ward holding most of the neighbourhood's residents ("Selhurst"),
"A / B" when the second ward holds at least a third ("Broad Green / Selhurst"), and
neighbourhoods that would share a name get a compass suffix from their centroids
relative to each other ("West Thornton (west)", "West Thornton (east)").
"""

from pli.priorities.selection import (
    EXCLUDED_COLUMNS,
    NEIGHBOURHOOD_COLUMN_DESCRIPTIONS,
    NeighbourhoodResult,
    select_neighbourhoods,
    summarise_wards,
)
from pli.priorities.stability import perturbed_scores

__all__ = [
    "EXCLUDED_COLUMNS",
    "NEIGHBOURHOOD_COLUMN_DESCRIPTIONS",
    "NeighbourhoodResult",
    "perturbed_scores",
    "select_neighbourhoods",
    "summarise_wards",
]
