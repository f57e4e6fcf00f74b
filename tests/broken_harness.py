"""Shared harness for the broken-input suites (``tests/test_broken_*.py``).

Every suite module defines ``CASES``: ``(id, breaker, message_fragment)`` triples. A
breaker takes ``(data_dir, raw_config)`` and breaks one thing in place. :func:`run_broken`
copies the demo data, applies the breaker, runs the whole pipeline into a copy of the
good outputs and returns the error; :func:`assert_fails_clearly` checks the message and
that no output or input outside the breaker's change was touched.
"""

from __future__ import annotations

import copy
import csv
import json
import shutil
from pathlib import Path
from typing import Callable

import geopandas as gpd
import pytest
import yaml

from pli.config import ConfigError, parse_config
from pli.errors import InputError
from pli.outputs import file_sha256
from pli.pipeline import run_index

from conftest import copy_demo_data

ROOT = Path(__file__).resolve().parents[1]
DEMO_CONFIG = ROOT / "configs" / "croydon-demo.yml"
DEMO = yaml.safe_load(DEMO_CONFIG.read_text(encoding="utf-8"))

LSOA = "boundaries/croydon_lsoa11_bsc.geojson"
DEP = "indicators/demo/simulated_deprivation.csv"
POP = "indicators/demo/croydon_census2011_population.csv"
POLICE = "indicators/demo/police_uk"
HARM = "indicators/harm_weights.csv"

Breaker = Callable[[Path, dict], None]


def hashes(folder: Path) -> dict[str, str]:
    """SHA-256 of every file under ``folder``, keyed by relative path.

    The record cache (``.pli-cache``, :mod:`pli.indicators.record_cache`) is left out:
    it is not an output, and a run adds to it when it reads sources, before it may fail.
    """
    return {str(p.relative_to(folder)): file_sha256(p) for p in sorted(folder.rglob("*"))
            if p.is_file() and ".pli-cache" not in p.relative_to(folder).parts}


def read_rows(path: Path) -> list[list[str]]:
    with open(path, newline="", encoding="utf-8-sig") as fh:
        return list(csv.reader(fh))


def write_rows(path: Path, rows: list[list[str]]) -> None:
    with open(path, "w", newline="", encoding="utf-8") as fh:
        csv.writer(fh, lineterminator="\n").writerows(rows)


def set_column(path: Path, column: str, values: Callable[[list[str]], list[str]], *, nth: int = 0) -> None:
    """Replace the values of one column (the nth of that name) through a function."""
    rows = read_rows(path)
    idx = [i for i, h in enumerate(rows[0]) if h == column][nth]
    new = values([r[idx] for r in rows[1:]])
    for r, v in zip(rows[1:], new):
        r[idx] = v
    write_rows(path, rows)


def police_files(data: Path) -> list[Path]:
    return sorted((data / POLICE).rglob("*-street.csv"))


def lsoa_frame(data: Path) -> gpd.GeoDataFrame:
    return gpd.read_file(data / LSOA)


def write_geojson_text(path: Path, gdf: gpd.GeoDataFrame, *, crs_member: dict | None) -> None:
    """GeoJSON with the coordinates as given and a chosen (or no) 'crs' member."""
    data = json.loads(gdf.to_json(drop_id=True, to_wgs84=False))
    data.pop("crs", None)
    if crs_member is not None:
        data["crs"] = crs_member
    path.write_text(json.dumps(data), encoding="utf-8")


def make_good_outputs(base: Path) -> Path:
    """One clean demo run (no maps) that every broken case starts from."""
    out = base / "output"
    cfg = parse_config(copy.deepcopy(DEMO), data_dir=ROOT)
    run_index(cfg, out_dir=out, maps_dir=None)
    return out


def run_broken(tmp_path: Path, good: Path, breaker: Breaker) -> tuple[pytest.ExceptionInfo, Path, dict]:
    """Break a copy of the demo data and run; returns (error info, data dir, output hashes before).

    Also asserts the failed run left every input file as the breaker made it.
    """
    data = copy_demo_data(tmp_path / "data")
    raw = copy.deepcopy(DEMO)
    breaker(data, raw)
    inputs_before = hashes(data)
    out = tmp_path / "runs" / "output"
    shutil.copytree(good, out)
    before = hashes(out)
    with pytest.raises((InputError, ConfigError)) as info:
        cfg = parse_config(raw, data_dir=data, source="broken.yml")
        run_index(cfg, out_dir=out, maps_dir=tmp_path / "runs" / "maps")
    assert hashes(data) == inputs_before, "a failed run changed its inputs"
    return info, data, before


def assert_fails_clearly(tmp_path: Path, good: Path, breaker: Breaker, fragment: str) -> str:
    """Run a broken case; assert the message fragment and that earlier outputs are intact."""
    info, data, before = run_broken(tmp_path, good, breaker)
    message = str(info.value)
    assert fragment.format(data=data) in message, message
    assert "Traceback" not in message
    out = tmp_path / "runs" / "output"
    assert hashes(out) == before
    assert not (tmp_path / "runs" / "maps").exists()
    leftovers = sorted(p.name for p in (tmp_path / "runs").iterdir() if not p.name.startswith(".pli"))
    assert leftovers == ["output"], leftovers  # no staging left
    return message
