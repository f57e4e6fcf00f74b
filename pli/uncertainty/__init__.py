"""How sure is the ranking? Monte Carlo uncertainty and Sobol' sensitivity of the index.

A ranking that decides where a partnership spends money rests on choices an analyst
made: indicator and domain weights, the normalisation, the outlier treatment, the harm
weights, the 12 months counted and the neighbourhood rules. ``pli uncertainty`` redraws
those choices many times (the ``uncertainty:`` section of the config says which and how
far; :class:`pli.config.specs.UncertaintySpec`) and reports how far each LSOA's rank and
each neighbourhood move, and which choice moves them most.

Method
------
1. **Inputs read once** (:func:`pli.uncertainty.model.build_model`): boundaries and sources
   are read once; the crime sources that feed indicators are also read for each earlier
   window; the indicator table is built for every (window, harm scheme). A run then
   costs milliseconds (:class:`pli.uncertainty.model.IndexModel`).
2. **Monte Carlo**: ``runs`` independent draws of every factor
   (:mod:`pli.uncertainty.factors`), each run seeded by ``SeedSequence(seed).spawn``
   (:mod:`pli.parallel`), so the serial and the dask runs are identical. Per LSOA:
   median rank and 5-95% interval, P(in the top N). Per neighbourhood of the base run:
   the share of runs in which its one-to-one (Hungarian) match by Jaccard overlap of
   LSOA sets reaches 0.5 (selection frequency), and the mean matched Jaccard index.
3. **Sobol'** (:mod:`pli.uncertainty.sobol`, SALib): first-order (S1) and total (ST)
   indices of each factor with bootstrap intervals on three outputs of each run:
   ``top_n_rank_shift`` (mean absolute rank change of the base top N),
   ``spearman_distance`` (1 - Spearman correlation with the base ranks) and
   ``neighbourhood_mismatch`` (1 - mean matched Jaccard of the base neighbourhoods). A
   ``dummy`` factor that changes nothing shows the estimation noise.

Outputs (its own folder, ``output-uncertainty`` by default; these names are a contract
with the committee report):

* ``lsoa_rank_intervals.csv``: ``lsoa_code, lsoa_name, base_rank, median_rank, rank_p05,
  rank_p95, p_top_n``;
* ``neighbourhood_frequency.csv``: ``neighbourhood, name, selection_frequency,
  mean_jaccard``;
* ``sobol.csv``: ``output, factor, S1, S1_conf, ST, ST_conf``;
* ``runs.csv``: one row per run (``design`` monte_carlo or sobol): the choices drawn and
  the three outputs;
* ``rank_intervals_top30.png``: the top 30 LSOAs' intervals;
* ``rank_uncertainty.html``: map of the interval width, base neighbourhoods outlined;
* ``manifest.json``: inputs, outputs, settings and the headline figures (``pli verify``).
"""

from pli.uncertainty.command import UncertaintyRun, run_uncertainty

__all__ = ["UncertaintyRun", "run_uncertainty"]
