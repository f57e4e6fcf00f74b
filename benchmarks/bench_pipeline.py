"""Wall time and peak memory of a whole `pli index` run on each shipped config.

Each run is a fresh process (``python -m pli index``); its own peak RSS comes from
``os.wait4``, which returns the resource usage of exactly that child.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"


def run(config: str, *extra: str) -> tuple[float, float]:
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        proc = subprocess.Popen([sys.executable, "-m", "pli", "-q", "index", "--config", config,
                                 "--out", f"{tmp}/output", "--maps", f"{tmp}/maps", *extra],
                                cwd=ROOT, stdout=subprocess.DEVNULL)
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - t0
        proc.returncode = os.waitstatus_to_exitcode(status)
        if proc.returncode != 0:
            raise SystemExit(f"{config}: pli index failed with exit code {proc.returncode}")
    return seconds, usage.ru_maxrss / 1024  # KiB on Linux


def main() -> None:
    runs = [("configs/croydon-demo.yml",)]
    if SHARED.is_dir():
        runs.append(("configs/croydon-open-data.yml", "--data-dir", str(SHARED)))
    else:
        print(f"skipping open-data config: {SHARED} not found")
    for args in runs:
        seconds, peak_mib = run(*args)
        print(f"{args[0]}: {seconds:.1f} s wall, peak RSS {peak_mib:.0f} MiB (incl. maps)")


if __name__ == "__main__":
    main()
