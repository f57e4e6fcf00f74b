"""Size and time to first render of map pages in headless Chromium.

Time is the wall clock of one ``chromium --headless --screenshot`` run with a virtual
time budget: Chromium exits once the page has parsed, run its scripts and drawn, so the
time covers reading the HTML, building every GeoJSON layer and the first paint. Best of
``--repeat`` runs (the machine is shared). Run on demand, e.g. on the pages of
``bench_national.py``:

    .venv/bin/python benchmarks/bench_map_render.py MAPS/priority_localities.html \\
        MAPS/priority_localities-part-01.html --repeat 2
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import tempfile
import time
from pathlib import Path


def render_seconds(page: Path, *, budget_ms: int = 120_000, timeout_s: float = 600.0) -> float:
    """Seconds for headless Chromium to load, run and screenshot ``page``."""
    chromium = shutil.which("chromium") or "/usr/bin/chromium"
    with tempfile.TemporaryDirectory() as tmp:
        shot = Path(tmp) / "shot.png"
        cmd = [chromium, "--headless", "--no-sandbox", "--disable-gpu", f"--user-data-dir={tmp}/profile",
               f"--screenshot={shot}", "--window-size=1400,900", f"--virtual-time-budget={budget_ms}",
               page.resolve().as_uri()]
        start = time.perf_counter()
        subprocess.run(cmd, check=True, timeout=timeout_s, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        seconds = time.perf_counter() - start
        if not shot.is_file():
            raise RuntimeError(f"chromium wrote no screenshot of {page}")
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("pages", type=Path, nargs="+")
    parser.add_argument("--repeat", type=int, default=1)
    args = parser.parse_args()
    print(f"{'page':60s} {'MB':>8s} {'render s':>9s}")
    for page in args.pages:
        best = min(render_seconds(page) for _ in range(args.repeat))
        print(f"{str(page)[-60:]:60s} {page.stat().st_size / 1e6:8.2f} {best:9.1f}")


if __name__ == "__main__":
    main()
