"""Benchmark: reading force-wide police.uk files, pandas reader vs DuckDB streaming.

Builds synthetic force-wide street files (``--rows`` records a month spread over
``--lsoas`` LSOA codes, of which the study area holds 220) for 12, 24 and 36 months, as a
folder of ``YYYY-MM/`` month folders and as one zip archive like the police.uk bulk
archive, then reads the latest 12 months for the study area with each engine in a fresh
child process and reports wall time and peak resident memory (VmHWM).

Memory should stay flat as months are added (both readers choose the window's files by
name first) and the DuckDB reader's should follow the records kept, not the records in
the files.

``--part cache`` then times the record cache (:mod:`pli.indicators.record_cache`): windows
of 12 and 36 months from the 36-month folder and zip, read cold (the files parsed, the
cache written) and warm (the cache read), each in a fresh process, so a warm read pays
for hashing the files as a later ``pli index`` does.

Usage::

    python benchmarks/bench_ingest.py                 # 150,000 records a month
    python benchmarks/bench_ingest.py --rows 500000   # a large force
    python benchmarks/bench_ingest.py --part cache    # cold vs warm reads only
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]

HEADER = ("Crime ID,Month,Reported by,Falls within,Longitude,Latitude,Location,LSOA code,LSOA name,"
          "Crime type,Last outcome category,Context\n")
TYPES = ["Burglary", "Violence and sexual offences", "Anti-social behaviour", "Vehicle crime", "Shoplifting"]


def write_months(folder: Path, n_months: int, rows: int, n_lsoas: int, seed: int = 0) -> list[str]:
    rng = np.random.default_rng(seed)
    codes = np.array([f"E0100{i:04d}" for i in range(n_lsoas)])
    months = [f"{2020 + (m // 12)}-{m % 12 + 1:02d}" for m in range(n_months)]
    for month in months:
        d = folder / month
        d.mkdir(parents=True, exist_ok=True)
        lsoa = codes[rng.integers(0, n_lsoas, rows)]
        lon = rng.uniform(-0.15, -0.05, rows)
        lat = rng.uniform(51.3, 51.42, rows)
        kind = np.array(TYPES)[rng.integers(0, len(TYPES), rows)]
        ids = [f"{month}{i:08d}" if k != "Anti-social behaviour" else "" for i, k in enumerate(kind)]
        with open(d / f"{month}-bench-street.csv", "w", encoding="utf-8") as fh:
            fh.write(HEADER)
            for i in range(rows):
                fh.write(f"{ids[i]},{month},Bench,Bench,{lon[i]:.6f},{lat[i]:.6f},On or near X,{lsoa[i]},"
                         f"Area {lsoa[i]},{kind[i]},,\n")
    return months


CHILD = r"""
import json, sys, time, dataclasses, logging
from pathlib import Path
from pli.config import SourceSpec
from pli.indicators.police_uk import _load_police_uk
path, engine, n_area = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3])
window, cache = int(sys.argv[4]), (Path(sys.argv[5]) if sys.argv[5] else None)
area = [f"E0100{i:04d}" for i in range(n_area)]
spec = SourceSpec(kind="police_uk", path=str(path), engine=engine, window_months=window)
t = time.perf_counter()
src = _load_police_uk("bench", spec, path, area, cache_dir=cache)
wall = time.perf_counter() - t
hwm = next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmHWM"))
use = src.record_cache
print(json.dumps({"wall_s": wall, "peak_mib": hwm / 1024, "rows_read": src.rows_read,
                  "kept": int(src.table["all_crime"].sum()), "from_cache": bool(use and use.from_cache),
                  "cache_bytes": use.file.stat().st_size if use else 0}))
"""


def run_child(path: Path, engine: str, n_area: int, window: int = 12, cache: Path | None = None) -> dict:
    out = subprocess.run([sys.executable, "-c", CHILD, str(path), engine, str(n_area), str(window),
                          str(cache) if cache else ""], check=True,
                         capture_output=True, text=True, cwd=ROOT, env={"PYTHONPATH": str(ROOT)})
    return json.loads(out.stdout.strip().splitlines()[-1])


def bench_cache(folder: Path, archive: Path, cache_root: Path) -> None:
    """Cold (files parsed, cache written) vs warm (cache read) for 12 and 36 months."""
    print(f"\n{'window':>6} {'input':<7} {'read':<5} {'rows read':>11} {'kept':>8} {'wall s':>7} {'peak MiB':>9} "
          f"{'cache MiB':>9}")
    for window in (12, 36):
        for label, path in (("folder", folder), ("zip", archive)):
            cache = cache_root / f"{label}-{window}"
            for read in ("cold", "warm"):
                r = run_child(path, "duckdb", 220, window, cache)
                assert r["from_cache"] is (read == "warm"), r
                print(f"{window:>6} {label:<7} {read:<5} {r['rows_read']:>11,} {r['kept']:>8,} {r['wall_s']:>7.2f} "
                      f"{r['peak_mib']:>9.0f} {r['cache_bytes'] / 2**20:>9.1f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=150_000, help="records a month (default 150,000)")
    ap.add_argument("--lsoas", type=int, default=5_000, help="LSOA codes in the force (default 5,000)")
    ap.add_argument("--part", choices=["all", "engines", "cache"], default="all",
                    help="engines: pandas vs DuckDB; cache: cold vs warm reads (default: both)")
    args = ap.parse_args()
    engines = args.part != "cache"
    print(f"{args.rows:,} records a month over {args.lsoas:,} LSOAs; study area 220 LSOAs")
    if engines:
        print(f"window 12 months\n{'months':>6} {'input':<7} {'engine':<7} {'rows read':>11} {'kept':>8} "
              f"{'wall s':>7} {'peak MiB':>9}")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "force"
        for n_months in (12, 24, 36):
            months = write_months(folder, n_months, args.rows, args.lsoas)  # adds months to the same folder
            if not engines and n_months != 36:
                continue
            archive = Path(tmp) / f"{months[-1]}.zip"
            with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
                for f in sorted(folder.rglob("*.csv")):
                    zf.write(f, f.relative_to(folder).as_posix())
            for label, path, engine in ((("folder", folder, "pandas"), ("folder", folder, "duckdb"),
                                         ("zip", archive, "duckdb")) if engines else ()):
                t0 = time.perf_counter()
                r = run_child(path, engine, 220)
                assert r["wall_s"] <= time.perf_counter() - t0
                print(f"{n_months:>6} {label:<7} {engine:<7} {r['rows_read']:>11,} {r['kept']:>8,} "
                      f"{r['wall_s']:>7.1f} {r['peak_mib']:>9.0f}")
            if n_months == 36 and args.part != "engines":
                bench_cache(folder, archive, Path(tmp) / "cache")
            archive.unlink()


if __name__ == "__main__":
    main()
