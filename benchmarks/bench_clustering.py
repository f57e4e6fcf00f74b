"""Time the clustering stage: weights, Moran's I, LISA, Gi* and neighbourhood selection.

Runs on the real Croydon snapshot (220 LSOAs, IMD 2019 score; skipped when
../shared/data is absent) and on a synthetic grid of 33,000 contiguous squares (about
the number of LSOAs in England) with a spatially smooth score.

Usage::

    .venv/bin/python benchmarks/bench_clustering.py [--permutations 999] [--units 33000]
"""

from __future__ import annotations

import argparse
import logging
import math
import time
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from pli.clustering import build_weights, getis_ord, global_moran, local_moran
from pli.config import PrioritySpec
from pli.priorities import select_neighbourhoods

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def croydon() -> gpd.GeoDataFrame | None:
    """Real LSOAs with IMD score, Census 2011 residents and 2018 wards."""
    if not (DATA / "croydon_lsoa11_bgc.geojson").is_file():
        return None
    lsoa = gpd.read_file(DATA / "croydon_lsoa11_bgc.geojson").to_crs(27700)
    lsoa = lsoa.set_index("lsoa11cd")[["geometry"]].rename_axis("lsoa_code")
    iod = pd.read_csv(DATA / "croydon_iod2019.csv").set_index("LSOA code (2011)")
    pop = pd.read_csv(DATA / "croydon_census2011_population.csv", thousands=",").set_index("LSOA Code")
    wards = pd.read_csv(DATA / "croydon_lsoa11_to_ward2018_bestfit_DERIVED.csv").set_index("LSOA11CD")
    lsoa["score"] = iod["Index of Multiple Deprivation (IMD) Score"].reindex(lsoa.index)
    lsoa["population"] = pop["Persons"].reindex(lsoa.index)
    lsoa["ward_code"] = wards["WD18CD_max_area"].reindex(lsoa.index)
    lsoa["ward_name"] = wards["WD18NM_max_area"].reindex(lsoa.index)
    crime = iod["Crime Score"].reindex(lsoa.index)
    lsoa["harm"] = crime - crime.min()
    return lsoa


def synthetic(units: int, *, seed: int = 0, size: float = 400.0) -> gpd.GeoDataFrame:
    """A near-square grid of ``units`` squares with a smooth score and 10x10-cell wards."""
    cols = int(math.sqrt(units))
    while units % cols:
        cols -= 1
    rows = units // cols
    col, row = np.meshgrid(np.arange(cols), np.arange(rows))
    col, row = col.ravel(), row.ravel()
    rng = np.random.default_rng(seed)
    x, y = col * size, row * size
    score = (
        np.sin(x / 9_000) + np.cos(y / 7_000) + 0.5 * np.sin((x + y) / 3_000) + rng.normal(0, 0.4, units)
    )
    ward = (row // 10) * (cols // 10 + 1) + col // 10
    return gpd.GeoDataFrame(
        {
            "score": score,
            "population": rng.integers(1_200, 2_400, units).astype(float),
            "harm": rng.gamma(2.0, 50.0, units),
            "ward_code": [f"W{w:05d}" for w in ward],
            "ward_name": [f"Ward {w}" for w in ward],
        },
        geometry=shapely.box(x, y, x + size, y + size),
        index=pd.Index([f"U{i:06d}" for i in range(units)], name="lsoa_code"),
        crs=27700,
    )


def run(name: str, lsoa: gpd.GeoDataFrame, permutations: int) -> dict[str, float]:
    """Time each step once; return seconds per step."""
    times: dict[str, float] = {}
    t0 = time.perf_counter()
    weights = build_weights(lsoa)
    times["weights"] = time.perf_counter() - t0
    t = time.perf_counter()
    moran = global_moran(lsoa["score"], weights, permutations=permutations, seed=0)
    times["moran"] = time.perf_counter() - t
    t = time.perf_counter()
    local_moran(lsoa["score"], weights, permutations=permutations, seed=0)
    times["lisa"] = time.perf_counter() - t
    t = time.perf_counter()
    getis_ord(lsoa["score"], weights, permutations=permutations, seed=0)
    times["gi_star"] = time.perf_counter() - t
    t = time.perf_counter()
    result = select_neighbourhoods(lsoa, weights, PrioritySpec(), seed=0)
    times["neighbourhoods"] = time.perf_counter() - t
    times["total"] = time.perf_counter() - t0
    steps = ", ".join(f"{k} {v:.2f}s" for k, v in times.items())
    print(
        f"{name}: {len(lsoa):,} units, {permutations} permutations, I = {moran.I:.3f}, "
        f"{len(result.neighbourhoods)} neighbourhoods -> {steps}"
    )
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--permutations", type=int, default=999)
    parser.add_argument("--units", type=int, default=33_000)
    parser.add_argument("--verbose", action="store_true", help="show the stage's log lines")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO if args.verbose else logging.ERROR)
    real = croydon()
    if real is None:
        print(f"Croydon: skipped (no snapshot at {DATA})")
    else:
        run("Croydon (real)", real, args.permutations)
    run("synthetic grid", synthetic(args.units), args.permutations)


if __name__ == "__main__":
    main()
