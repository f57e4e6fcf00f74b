"""Time ``pli.index.build_index`` for 220 and 33,000 synthetic LSOAs with 12 indicators.

Prints wall time (best of ``--repeat``) and peak traced memory (tracemalloc) per
configuration, and the process's peak resident set size at the end.

Run: ``.venv/bin/python benchmarks/bench_index.py [--repeat 3] [--seed 0]``
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
import tracemalloc

import numpy as np
import pandas as pd

from pli.config import IndexSpec, IndicatorSpec, TreatmentSpec
from pli.index import build_index

DOMAINS = {"crime": 6, "deprivation": 4, "demography": 2}


def synthetic(n: int, *, seed: int = 0) -> tuple[pd.DataFrame, tuple[IndicatorSpec, ...]]:
    """Skewed, correlated indicators like crime rates and deprivation scores."""
    rng = np.random.default_rng(seed)
    latent = rng.normal(size=n)
    cols, specs = {}, []
    for domain, k in DOMAINS.items():
        for j in range(k):
            name = f"{domain}_{j}"
            if domain == "crime":
                cols[name] = rng.lognormal(mean=1.0 + 0.5 * latent, sigma=1.0)
            elif domain == "deprivation":
                cols[name] = np.clip(0.15 + 0.08 * latent + rng.normal(0, 0.05, n), 0, 1)
            else:
                cols[name] = rng.uniform(0.05, 0.3, n)
            direction = "higher_is_better" if name == "demography_1" else "higher_is_worse"
            specs.append(IndicatorSpec(name, domain, domain=domain, direction=direction, weight=1.0 + j % 2))
    index = pd.Index([f"E{i:08d}" for i in range(n)], name="lsoa_code")
    return pd.DataFrame(cols, index=index), tuple(specs)


CONFIGS = {
    "zscore/manual/arithmetic": IndexSpec(
        normalisation="zscore", weighting="manual",
        domain_weights={"crime": 0.5, "deprivation": 0.35, "demography": 0.15}),
    "exponential/equal/arithmetic": IndexSpec(normalisation="exponential"),
    "minmax/pca/geometric": IndexSpec(normalisation="minmax", weighting="pca", aggregation="geometric"),
    "percentile/equal/arith+skew_kurtosis": IndexSpec(
        normalisation="percentile", treatment=TreatmentSpec(outliers="skew_kurtosis")),
}


def run(n: int, repeat: int, seed: int) -> None:
    table, specs = synthetic(n, seed=seed)
    for label, spec in CONFIGS.items():
        best = float("inf")
        for _ in range(repeat):
            t0 = time.perf_counter()
            res = build_index(table, specs, spec, seed=seed)
            best = min(best, time.perf_counter() - t0)
        tracemalloc.start()
        res = build_index(table, specs, spec, seed=seed)
        res.top_drivers(3)
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        print(f"{n:>6} LSOAs x {len(specs)} indicators  {label:<38} {best * 1000:8.1f} ms   "
              f"peak traced {peak / 2**20:7.1f} MiB")


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    print(f"python {sys.version.split()[0]}, pandas {pd.__version__}, numpy {np.__version__}")
    for n in (220, 33_000):
        run(n, args.repeat, args.seed)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(f"peak RSS of the process: {rss / 1024:.1f} MiB")


if __name__ == "__main__":
    main()
