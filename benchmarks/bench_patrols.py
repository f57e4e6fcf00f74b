"""Benchmark the patrol stage (``pli.patrols.plan_patrols``) for 40,000 and 2,000,000 points.

Points are police.uk-like: drawn onto a fixed set of snap points (map points) with a
skewed popularity, so places concentrate as real crime does, with four crime types (one
filtered out), twelve months plus older records outside the window, times and dates.
The study area is Croydon's LSOA 2021 outline when ../shared/data is present (nine
wards stand in for the priority neighbourhoods), otherwise a 10 x 10 km square.

Each size runs in its own subprocess. The peak resident memory of the planning call is
measured by resetting the kernel's high-water mark (``/proc/self/clear_refs``) just
before the call and reading ``VmHWM`` after it; "added" is that peak minus the resident
memory before the call (the input frame and imported libraries).

Usage::

    .venv/bin/python benchmarks/bench_patrols.py            # 40,000 and 2,000,000
    .venv/bin/python benchmarks/bench_patrols.py --sizes 40000 --permutations 99
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"


class _Harm:
    DAYS = {"Violence and sexual offences": 100.0, "Robbery": 365.0, "Possession of weapons": 60.0, "Burglary": 40.0}

    def weight_for(self, categories, scheme):
        import numpy as np

        return np.array([self.DAYS[c] for c in categories], dtype=float)


def _status(field: str) -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024.0
    return float("nan")


def _study_area():
    import geopandas as gpd
    import shapely

    if (SHARED / "croydon_lsoa21.geojson").is_file():
        lsoa = gpd.read_file(SHARED / "croydon_lsoa21.geojson").to_crs("EPSG:27700")
        wards = gpd.read_file(SHARED / "croydon_wards_2018.geojson").to_crs("EPSG:27700")
        nb = wards.iloc[:9].assign(rank=range(1, 10)).rename(columns={"NAME": "name"})[["rank", "name", "geometry"]]
        return lsoa, nb, "Croydon LSOA 2021 outline, 9 wards as neighbourhoods"
    x0, y0 = 530_000.0, 160_000.0
    area = gpd.GeoSeries([shapely.box(x0, y0, x0 + 10_000, y0 + 10_000)], crs="EPSG:27700")
    boxes = [
        shapely.box(
            x0 + 1_000 * (1 + 3 * c), y0 + 1_000 * (1 + 3 * r), x0 + 1_000 * (3 + 3 * c), y0 + 1_000 * (3 + 3 * r)
        )
        for r in range(3)
        for c in range(3)
    ]
    nb = gpd.GeoDataFrame(
        {"rank": range(1, 10), "name": [f"N{k}" for k in range(1, 10)]}, geometry=boxes, crs="EPSG:27700"
    )
    return area, nb, "synthetic 10 x 10 km square, 9 neighbourhoods"


def _points(n: int, area, *, seed: int = 0, n_snaps: int = 15_000):
    import geopandas as gpd
    import numpy as np
    import pandas as pd
    import shapely

    rng = np.random.default_rng(seed)
    geom = area.union_all()
    minx, miny, maxx, maxy = geom.bounds
    sx, sy = rng.uniform(minx, maxx, 4 * n_snaps), rng.uniform(miny, maxy, 4 * n_snaps)
    keep = shapely.contains_xy(geom, sx, sy)
    sx, sy = sx[keep][:n_snaps], sy[keep][:n_snaps]
    popularity = rng.pareto(1.2, len(sx)) + 1.0
    pick = rng.choice(len(sx), n, p=popularity / popularity.sum())
    cats = np.array(["Violence and sexual offences", "Robbery", "Possession of weapons", "Burglary"])
    months = np.array([f"2024-{m:02d}" for m in range(1, 13)] + ["2023-06"])
    month = months[rng.choice(13, n, p=[0.075] * 12 + [0.1])]
    day = rng.integers(1, 29, n)
    hour, minute = rng.integers(0, 24, n), rng.integers(0, 60, n)
    frame = pd.DataFrame(
        {
            "month": pd.array(month, dtype="string"),
            "category": pd.array(cats[rng.choice(4, n, p=[0.6, 0.15, 0.05, 0.2])], dtype="string"),
            "location": pd.array(np.char.add("On or near Street ", (pick % 4_000).astype(str)), dtype="string"),
            "time": pd.Series(hour).astype(str).str.zfill(2) + ":" + pd.Series(minute).astype(str).str.zfill(2),
            "date": pd.Series(month).str.cat(pd.Series(day).astype(str).str.zfill(2), sep="-"),
        }
    )
    return gpd.GeoDataFrame(frame, geometry=gpd.points_from_xy(sx[pick], sy[pick]), crs="EPSG:27700")


def run_one(n: int, permutations: int) -> dict:
    """Time one planning call in this process and measure its peak memory."""
    import gc

    import esda  # noqa: F401  -- imported up front so the timing is the stage, not a 3 s import
    from libpysal.graph import Graph  # noqa: F401

    from pli.patrols import plan_patrols

    area, nb, label = _study_area()
    t0 = time.perf_counter()
    points = _points(n, area)
    t_gen = time.perf_counter() - t0
    gc.collect()
    before = _status("VmRSS")
    Path("/proc/self/clear_refs").write_text("5")  # reset VmHWM to the current RSS
    t0 = time.perf_counter()
    plan = plan_patrols(
        points,
        nb,
        area,
        harm_weights=_Harm(),
        start_month="2024-01",
        end_month="2024-12",
        permutations=permutations,
        seed=0,
    )
    seconds = time.perf_counter() - t0
    peak = _status("VmHWM")
    return {
        "points": n,
        "records_planned": plan.n_records,
        "grid_cells": int((plan.places["place_kind"] == "grid").sum()),
        "snap_places": int((plan.places["place_kind"] == "snap").sum()),
        "plan_rows": len(plan.plan),
        "visits_per_day": int(plan.plan["visits_per_day"].sum()),
        "hot_cells": plan.to_manifest()["hot_cells"],
        "max_gi_permutations": int(plan.hotspots.table["gi_permutations"].max()),
        "gi_method": plan.hotspots.method,
        "seconds": round(seconds, 2),
        "rss_before_mb": round(before, 1),
        "peak_rss_mb": round(peak, 1),
        "peak_added_mb": round(peak - before, 1),
        "generate_seconds": round(t_gen, 2),
        "area": label,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[40_000, 2_000_000])
    parser.add_argument("--permutations", type=int, default=999)
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.one is not None:
        print(json.dumps(run_one(args.one, args.permutations)))
        return 0
    rows = []
    for n in args.sizes:
        out = subprocess.run(
            [sys.executable, __file__, "--one", str(n), "--permutations", str(args.permutations)],
            check=True,
            capture_output=True,
            text=True,
            cwd=ROOT,
        )
        rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
    print(f"patrol stage ({rows[0]['area']}; Gi* {args.permutations} permutations when <= 20,000 cells)")
    print(
        f"{'points':>10} {'planned':>10} {'cells':>6} {'snaps':>6} {'hot':>5} {'max perms':>10} {'places':>6} "
        f"{'visits':>6} {'seconds':>8} {'peak MB':>8} {'added MB':>9}"
    )
    for r in rows:
        print(
            f"{r['points']:>10,} {r['records_planned']:>10,} {r['grid_cells']:>6,} {r['snap_places']:>6,} "
            f"{r['hot_cells']:>5,} {r['max_gi_permutations']:>10,} {r['plan_rows']:>6,} {r['visits_per_day']:>6,} "
            f"{r['seconds']:>8.2f} {r['peak_rss_mb']:>8.0f} {r['peak_added_mb']:>9.0f}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
