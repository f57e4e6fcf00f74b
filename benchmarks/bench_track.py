"""Time ``pli track`` on the real Croydon snapshot: the whole command, then its parts.

The open-data config's ``track:`` section: 14 years of monthly ward crime, 171 months of
burglary points (wards, LSOAs, a 500 m grid by quarter), 24 months of the Met LSOA table
and the index on five rolling windows. Skipped when ../shared/data is absent.

Usage::

    .venv/bin/python benchmarks/bench_track.py [--out /tmp/bench-track]
"""

from __future__ import annotations

import argparse
import logging
import resource
import shutil
import time
from pathlib import Path

from pli import boundaries as bnd
from pli import harm
from pli.config import load_config
from pli.track.command import run_track
from pli.track.rolling import read_index_sources, rolling_index
from pli.track.trend import trend_table

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="/tmp/bench-track", help="scratch output folder (replaced)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    if not (DATA / "croydon_mps_lsoa_crime_2024-02_2026-02.csv").is_file():
        print(f"skipped: real snapshot not found at {DATA}")
        return
    cfg = load_config(ROOT / "configs" / "croydon-open-data.yml", data_dir=DATA)
    out = Path(args.out)
    shutil.rmtree(out, ignore_errors=True)
    t0 = time.perf_counter()
    run = run_track(cfg, out_dir=out, offline=True)
    print(f"pli track, whole command: {time.perf_counter() - t0:.1f} s")
    for s in run.series:
        t0 = time.perf_counter()
        trend_table(s.harm, autocorrelation="hamed_rao")
        print(f"  trends with Hamed-Rao, {s.name} ({s.harm.shape[1]} areas x {s.harm.shape[0]}): "
              f"{time.perf_counter() - t0:.2f} s")
    b = bnd.load_boundaries(cfg)
    rec, hw = bnd.CodeReconciler(b, cfg.sources), harm.load_harm_weights(None)
    t0 = time.perf_counter()
    sources = read_index_sources(cfg, b)
    t1 = time.perf_counter()
    r = rolling_index(cfg, b, rec, hw, sources=sources)
    t2 = time.perf_counter()
    n = len(r.windows) if r is not None else 0
    print(f"  rolling index: sources {t1 - t0:.1f} s, {n} windows {t2 - t1:.1f} s")
    print(f"peak memory {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")


if __name__ == "__main__":
    main()
