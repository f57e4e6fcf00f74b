"""Compare the priority-neighbourhood methods side by side on the real Croydon config.

Builds the real index (``configs/croydon-open-data.yml`` on ../shared/data; skipped when
absent), then draws the nine neighbourhoods with:

* ``ward, as shipped``: connected candidates split by contiguity-constrained Ward
  clustering, no population floor, chosen by total priority and ranked by
  population-weighted score (the method before issue 12);
* ``ward + floor``: the same pieces, a 5,000-resident floor, chosen and ranked by
  concentration of priority;
* ``grow`` (the default): seeded region growing with the floor (see
  :mod:`pli.priorities`).

For each: coverage of the top 5% and top 22 LSOAs, neighbourhoods meeting the floor,
share of borough priority and harm covered, concentration (min and mean), the smallest
neighbourhood, stability (share of 200 +-20% weight runs re-finding each neighbourhood at
Jaccard >= 0.5: mean and min; and the share of runs choosing the identical nine), time
per draw, and the time to rebuild the index 200 times.

* ``max-p (spopt)``, only when spopt is importable (it is not a dependency): spopt's
  ``MaxPHeuristic`` partitions the whole borough into contiguous regions of at least
  5,000 residents (homogeneous in score), and the nine most concentrated regions within
  the ceilings are chosen. One solve takes seconds, so its stability uses only the first
  ``--maxp-runs`` runs (default 10). AZP and SKATER are left out: they fix k for a full
  partition with no population floor.

Run: ``.venv/bin/python benchmarks/bench_priorities.py [--runs 200] [--maxp-runs 10]``
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import time
from pathlib import Path

import numpy as np
import pandas as pd

from pli import boundaries as bnd_stage
from pli import clustering, harm, index, indicators, presets
from pli.config import load_config
from pli.priorities import perturbed_scores, select_neighbourhoods
from pli.priorities import selection as sel
from pli.priorities.regions import split_regions

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
CONFIG = ROOT / "configs" / "croydon-open-data.yml"


def real_inputs(runs: int):
    """The LSOA frame, weights and perturbed score runs of the real config (pipeline order)."""
    cfg = load_config(CONFIG, data_dir=DATA)
    boundaries = bnd_stage.load_boundaries(cfg)
    sources = {
        name: indicators.load_source(name, spec, resolve=cfg.resolve, lsoa=boundaries.lsoa)
        for name, spec in cfg.sources.items()
    }
    reconcile = bnd_stage.CodeReconciler(boundaries, cfg.sources)
    harm_weights = harm.load_harm_weights(cfg.resolve(cfg.index.harm_weights) if cfg.index.harm_weights else None)
    population = indicators.population_denominator(cfg, sources, reconcile, boundaries.lsoa.index)
    table = indicators.build_indicators(cfg, boundaries, sources, reconcile=reconcile, harm_weights=harm_weights)
    index_spec = presets.resolve_index_spec(cfg.index, raw=cfg.raw.get("index"))
    kwargs = dict(wards=boundaries.lsoa["ward_code"], reference_values=table.study_area_rates())
    result = index.build_index(table.values, cfg.indicators, index_spec, seed=cfg.seed, **kwargs)
    lsoa = boundaries.lsoa.join(result.to_frame()).assign(population=population, harm=table.harm_total())
    weights = clustering.build_weights(lsoa, cfg.clustering)
    t0 = time.perf_counter()
    score_runs = perturbed_scores(table.values, cfg.indicators, index_spec, runs=runs, seed=cfg.seed, **kwargs)
    return cfg, lsoa, weights, score_runs, time.perf_counter() - t0


def draw_as_shipped(s, pop, h, adjacency, coords, ids, spec):
    """The pre-issue-12 rule: Ward pieces, no floor, most total priority, ranked by score."""
    d = sel._draw(s, pop, h, adjacency, coords, ids, dataclasses.replace(spec, method="ward", min_population=0))
    n = len(s)
    order = np.lexsort((np.arange(n), -s))
    top = np.empty(n, dtype=int)
    top[order] = np.arange(1, n + 1)
    pieces = split_regions(d.cand, adjacency, coords, s, pop, spec)
    ok = [p for p in pieces if len(p) > 1 or top[p[0]] <= spec.top_lsoas]
    ok = [p for p in ok if pop[p].sum() <= spec.max_population]
    ok.sort(key=lambda p: (-d.priority[p].sum(), -s[p].sum(), str(ids[p[0]])))
    chosen = ok[: spec.count]
    chosen.sort(key=lambda p: (-(s[p] @ pop[p]) / pop[p].sum(), str(ids[p[0]])))
    return chosen, d.priority


def draw_spec(spec):
    def draw(s, pop, h, adjacency, coords, ids, _spec):
        d = sel._draw(s, pop, h, adjacency, coords, ids, spec)
        return d.chosen, d.priority

    return draw


def draw_maxp(spec):
    """spopt max-p over the whole borough, then the nine most concentrated regions."""
    from libpysal.weights import WSP
    from spopt.region import MaxPHeuristic

    def draw(s, pop, h, adjacency, coords, ids, _spec):
        priority = sel._draw(s, pop, h, adjacency, coords, ids, spec).priority
        frame = pd.DataFrame({"score": s, "population": pop})
        w = WSP(adjacency.astype(float)).to_W(silence_warnings=True)
        np.random.seed(0)  # spopt's construction phase draws from the global state
        model = MaxPHeuristic(frame, w, attrs_name=["score"], threshold_name="population",
                              threshold=spec.min_population, top_n=2)
        model.solve()
        labels = np.asarray(model.labels_, dtype=int)
        people = np.maximum(pop, 1.0)
        regions = [np.flatnonzero(labels == k) for k in np.unique(labels) if k > 0]
        regions = [r for r in regions if len(r) <= spec.max_lsoas and pop[r].sum() <= spec.max_population]
        regions.sort(key=lambda r: (-(priority[r].sum() / people[r].sum()), str(ids[r[0]])))
        return regions[: spec.count], priority

    return draw


def evaluate(name, draw, lsoa, weights, score_runs, spec):
    frame, _ = sel._validate_lsoa(lsoa, score="score", population="population", harm="harm")
    adjacency = sel._contiguity_matrix(frame, weights)
    cent = frame.geometry.centroid
    coords = np.column_stack([cent.x.to_numpy(), cent.y.to_numpy()])
    s, pop, h = (frame[c].to_numpy(dtype=float) for c in ("score", "population", "harm"))
    ids = frame.index
    t0 = time.perf_counter()
    chosen, priority = draw(s, pop, h, adjacency, coords, ids, spec)
    per_draw = time.perf_counter() - t0
    n = len(s)
    order = np.lexsort((np.arange(n), -s))
    inside = np.zeros(n, dtype=bool)
    for p in chosen:
        inside[p] = True
    top5 = order[: int(np.ceil(0.05 * n))]
    top22 = order[:22]
    people = np.maximum(pop, 1.0)
    conc = np.array([(priority[p].sum() / people[p].sum()) * people.sum() for p in chosen])
    runs = score_runs[ids].to_numpy(dtype=float)
    base = np.zeros((len(chosen), n), dtype=bool)
    for k, p in enumerate(chosen):
        base[k, p] = True
    hits, same = np.zeros(len(chosen)), 0
    t0 = time.perf_counter()
    for run in runs:
        picked, _ = draw(run, pop, h, adjacency, coords, ids, spec)
        other = np.zeros((len(picked), n), dtype=bool)
        for k, p in enumerate(picked):
            other[k, p] = True
        inter = base.astype(int) @ other.T.astype(int)
        union = base.sum(1)[:, None] + other.sum(1)[None, :] - inter
        hits += (inter / union >= 0.5).any(axis=1)
        same += {frozenset(p.tolist()) for p in picked} == {frozenset(p.tolist()) for p in chosen}
    mc = time.perf_counter() - t0
    stab = hits / len(runs)
    return {
        "method": name,
        "top 5% covered": f"{inside[top5].sum()}/{len(top5)}",
        "top 22 covered": f"{inside[top22].sum()}/22",
        "floor met": f"{sum(pop[p].sum() >= 5000 for p in chosen)}/{len(chosen)}",
        "2-LSOA": sum(len(p) <= 2 for p in chosen),
        "min pop": int(min(pop[p].sum() for p in chosen)),
        "priority %": round(100 * priority[inside].sum(), 1),
        "harm %": round(100 * h[inside].sum() / h.sum(), 1),
        "conc min": round(conc.min(), 2),
        "conc mean": round(conc.mean(), 2),
        "rank by conc": bool(np.all(np.diff(conc) <= 1e-9)),
        "stab mean": round(stab.mean(), 2),
        "stab min": round(stab.min(), 2),
        "same nine %": round(100 * same / len(runs), 0),
        "ms/draw": round(1000 * per_draw, 1),
        f"{len(runs)} draws s": round(mc, 2),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--maxp-runs", type=int, default=10, help="stability runs for spopt max-p (slow)")
    args = parser.parse_args()
    if not (DATA / "croydon_lsoa11_bgc.geojson").is_file():
        print(f"skipped: real Croydon snapshot not found at {DATA}")
        return 0
    logging.basicConfig(level=logging.ERROR)
    cfg, lsoa, weights, score_runs, t_index = real_inputs(args.runs)
    spec = cfg.priorities
    print(f"index rebuilt {args.runs} times with +-{spec.stability_spread:.0%} weights: {t_index:.2f} s")
    methods = {
        "ward, as shipped": draw_as_shipped,
        "ward + floor": draw_spec(dataclasses.replace(spec, method="ward")),
        "grow (default)": draw_spec(dataclasses.replace(spec, method="grow")),
    }
    rows = [evaluate(name, draw, lsoa, weights, score_runs, spec) for name, draw in methods.items()]
    try:
        import spopt  # noqa: F401
    except ImportError:
        print("spopt not installed: the max-p column is left out")
    else:
        maxp_runs = score_runs.iloc[: args.maxp_runs]
        rows.append(evaluate(f"max-p (spopt), {len(maxp_runs)} runs", draw_maxp(spec), lsoa, weights, maxp_runs, spec))
    with pd.option_context("display.width", 250, "display.max_columns", 30):
        print(pd.DataFrame(rows).set_index("method").T.to_string())
    t0 = time.perf_counter()
    select_neighbourhoods(lsoa, weights, spec, score_runs=score_runs, seed=cfg.seed)
    print(f"select_neighbourhoods with {args.runs}-run stability: {time.perf_counter() - t0:.2f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
