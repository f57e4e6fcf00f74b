"""Same inputs, config and seed give byte-identical outputs; the manifest lets
``pli verify`` say whether outputs are still current.

Runs use a copy of the demo data in a temporary folder, so one input can be edited
afterwards without touching the repository.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pyogrio
import pytest

from conftest import copy_demo_data
from pli.config import load_config
from pli.outputs import file_sha256
from pli.pipeline import run_index

ROOT = Path(__file__).resolve().parents[1]
DEP = "indicators/demo/simulated_deprivation.csv"


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    base = tmp_path_factory.mktemp("repro")
    data = base / "data"
    copy_demo_data(data)
    cfg = load_config(ROOT / "configs" / "croydon-demo.yml", data_dir=data)
    for name, seed in (("a", 7), ("b", 7), ("c", 8)):
        run_index(cfg, out_dir=base / name, maps_dir=None, seed=seed)
    return base


def _tables(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.suffix in (".csv", ".geojson"))


def test_same_seed_gives_identical_tables_and_geojson(runs):
    a, b = runs / "a", runs / "b"
    names = _tables(a)
    assert names == _tables(b)
    assert {"rankings.csv", "indicator_inputs.csv", "priority_neighbourhoods.geojson",
            "patrol_plan.geojson", "patrol_plan.csv"} <= set(names)
    differing = [n for n in names if file_sha256(a / n) != file_sha256(b / n)]
    assert not differing


def test_same_seed_gives_identical_geopackage_layers(runs):
    a, b = runs / "a" / "pli.gpkg", runs / "b" / "pli.gpkg"
    layers = [name for name, _ in pyogrio.list_layers(a)]
    assert layers == [name for name, _ in pyogrio.list_layers(b)]
    for layer in layers:
        left, right = gpd.read_file(a, layer=layer), gpd.read_file(b, layer=layer)
        pd.testing.assert_frame_equal(pd.DataFrame(left.drop(columns="geometry")),
                                      pd.DataFrame(right.drop(columns="geometry")))
        assert left.geometry.geom_equals_exact(right.geometry, tolerance=0).all(), layer


def test_seed_changes_only_the_permutation_results(runs):
    a = pd.read_csv(runs / "a" / "rankings.csv", index_col="lsoa_code")
    c = pd.read_csv(runs / "c" / "rankings.csv", index_col="lsoa_code").reindex(a.index)
    # The index itself has no randomness ...
    pd.testing.assert_series_equal(a["score"], c["score"])
    pd.testing.assert_series_equal(a["lisa_I"], c["lisa_I"])
    # ... but the pseudo p-values come from seeded permutations.
    assert (a["lisa_p"] != c["lisa_p"]).any()
    assert (a["gi_p"] != c["gi_p"]).any()
    ma = json.loads((runs / "a" / "manifest.json").read_text())
    mc = json.loads((runs / "c" / "manifest.json").read_text())
    assert (ma["seed"], mc["seed"]) == (7, 8)
    assert ma["clustering"]["moran"]["seed"] == 7


def test_manifest_records_what_made_the_outputs(runs):
    manifest = json.loads((runs / "a" / "manifest.json").read_text())
    data = runs / "data"
    assert manifest["inputs"][DEP] == file_sha256(data / DEP)
    assert manifest["config"]["sources"]["deprivation"]["path"] == DEP
    assert manifest["seed"] == 7 and manifest["public_mode"] is False
    assert manifest["packages"]["pandas"] == pd.__version__
    rankings = pd.read_csv(runs / "a" / "rankings.csv")
    assert manifest["row_counts"]["lsoa"] == len(rankings)
    plan = pd.read_csv(runs / "a" / "patrol_plan.csv", skiprows=1)  # line 1: handling marking
    assert manifest["row_counts"]["patrol_plan"] == len(plan)
    assert manifest["outputs"]["output:rankings.csv"] == file_sha256(runs / "a" / "rankings.csv")


def _verify(out: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pli", "verify", str(out)],
                          capture_output=True, text=True, cwd=ROOT, timeout=120)


def test_verify_says_current_then_names_the_changed_input(runs, tmp_path):
    ok = _verify(runs / "b")
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "outputs are current" in ok.stdout
    victim = runs / "data" / DEP
    original = victim.read_bytes()
    try:
        victim.write_bytes(original.replace(b"0.139", b"0.193", 1))
        stale = _verify(runs / "b")
    finally:
        victim.write_bytes(original)
    assert stale.returncode == 1
    assert "outputs are NOT current" in stale.stdout and f"changed inputs: {DEP}" in stale.stdout
    assert "changed outputs" not in stale.stdout
    assert _verify(runs / "b").returncode == 0
