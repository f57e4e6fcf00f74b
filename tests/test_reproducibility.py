"""Same inputs, config and seed give byte-identical outputs (tables, GeoPackage, HTML
maps online and offline, PNG figures); the manifest lets ``pli verify`` say whether
outputs are still current.

Runs use a copy of the demo data in a temporary folder, so one input can be edited
afterwards without touching the repository.
"""

from __future__ import annotations

import json
import re
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path

import branca.element
import folium
import geopandas as gpd
import pandas as pd
import pyogrio
import pytest
import shapely

from pli._map_assets import stable_element_ids
from pli.config import load_config
from pli.maps import LISA_COLOURS
from pli.outputs import file_sha256, write_geopackage
from pli.pipeline import run_index

from conftest import copy_demo_data

ROOT = Path(__file__).resolve().parents[1]
DEP = "indicators/demo/simulated_deprivation.csv"


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Runs a and b (seed 7) and c (seed 8) with online maps; d and e (seed 7) offline."""
    base = tmp_path_factory.mktemp("repro")
    data = base / "data"
    copy_demo_data(data)
    cfg = load_config(ROOT / "configs" / "croydon-demo.yml", data_dir=data)
    for name, seed, offline in (("a", 7, False), ("b", 7, False), ("c", 8, False), ("d", 7, True), ("e", 7, True)):
        run_index(cfg, out_dir=base / name, maps_dir=base / f"{name}-maps", seed=seed, offline=offline)
    return base


def _files(folder: Path) -> dict[str, Path]:
    return {p.relative_to(folder).as_posix(): p for p in sorted(folder.rglob("*")) if p.is_file()}


def _comparable_manifest(path: Path) -> dict:
    manifest = json.loads(path.read_text(encoding="utf-8"))
    # The only fields that may differ: when the run happened, where it wrote, and the run
    # id (also inside the maps folder's own manifest, whose hash is listed).
    manifest.pop("created_utc", None)
    manifest.pop("output_roots", None)
    manifest.pop("run_id", None)
    # Whether the police.uk records were read from the files or the record cache (the
    # first run writes it, the next reads it): how, not what, the run read.
    manifest.pop("record_cache", None)
    manifest["outputs"] = {k: v for k, v in manifest["outputs"].items() if not k.endswith("manifest.json")}
    return manifest


@pytest.mark.parametrize("first, second", [("a", "b"), ("d", "e")], ids=["online", "offline"])
def test_same_seed_gives_byte_identical_files_everywhere(runs, first, second):
    for suffix in ("", "-maps"):
        left, right = _files(runs / (first + suffix)), _files(runs / (second + suffix))
        assert sorted(left) == sorted(right)
        differing = [n for n in left if n != "manifest.json" and file_sha256(left[n]) != file_sha256(right[n])]
        if suffix:  # the maps folder's manifest differs only by the run id
            assert _comparable_manifest(left["manifest.json"]) == _comparable_manifest(right["manifest.json"])
        assert not differing, f"{first}{suffix} and {second}{suffix} differ in {differing}"
    maps = _files(runs / f"{first}-maps")
    pages = [n for n in maps if n.endswith(".html")]
    assert {"priority_localities.html", "hotspots.html", "priority_localities.png",
            "priority_neighbourhoods.png"} <= set(maps)
    assert sum(n.startswith("neighbourhoods/") for n in pages) >= 5
    assert "pli.gpkg" in _files(runs / first)
    assert _comparable_manifest(runs / first / "manifest.json") == _comparable_manifest(runs / second / "manifest.json")


def _element_names(page: str) -> set[str]:
    # JavaScript names such as geo_json_<32 hex>, also inside geo_json_<hex>_styler.
    return set(re.findall(r"(?<![A-Za-z0-9_])[a-z_]+?_[0-9a-f]{32}(?![0-9a-f])", page))


def test_element_ids_are_per_page_not_random(runs):
    # index.html is plain HTML without folium elements; every map page has its own.
    pages = {n: p.read_text(encoding="utf-8") for n, p in _files(runs / "a-maps").items()
             if n.endswith(".html") and n != "index.html"}
    names = {n: _element_names(text) for n, text in pages.items()}
    assert all(len(v) >= 10 for v in names.values())
    # Each page seeds its own ids, so no two pages share an element name.
    first, *rest = names
    for other in rest:
        assert not names[first] & names[other], (first, other)


def _gpkg_stamps(path: Path) -> list[tuple[str, str]]:
    with sqlite3.connect(path) as con:
        return con.execute("SELECT table_name, last_change FROM gpkg_contents ORDER BY table_name").fetchall()


def test_geopackage_last_change_is_fixed_not_the_clock(runs):
    stamps = _gpkg_stamps(runs / "a" / "pli.gpkg")
    assert {name for name, _ in stamps} >= {"lsoa", "wards", "priority_neighbourhoods", "micro_places"}
    assert {stamp for _, stamp in stamps} == {"1970-01-01T00:00:00.000Z"}


def test_write_geopackage_honours_source_date_epoch_and_restores_gdal(tmp_path, monkeypatch):
    frame = gpd.GeoDataFrame({"v": [1, 2]}, geometry=[shapely.Point(0, 0), shapely.Point(1, 1)], crs=27700)
    pyogrio.set_gdal_config_options({"OGR_CURRENT_DATE": "2001-02-03T04:05:06.000Z"})
    try:
        monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
        write_geopackage([("one", frame), ("two", frame)], tmp_path / "x.gpkg")
        assert pyogrio.get_gdal_config_option("OGR_CURRENT_DATE") == "2001-02-03T04:05:06.000Z"
    finally:
        pyogrio.set_gdal_config_options({"OGR_CURRENT_DATE": None})
    assert _gpkg_stamps(tmp_path / "x.gpkg") == [("one", "2023-11-14T22:13:20.000Z"),
                                                  ("two", "2023-11-14T22:13:20.000Z")]
    assert [name for name, _ in pyogrio.list_layers(tmp_path / "x.gpkg")] == ["one", "two"]
    monkeypatch.delenv("SOURCE_DATE_EPOCH")
    write_geopackage([("one", frame)], tmp_path / "y.gpkg")
    write_geopackage([("one", frame)], tmp_path / "z.gpkg")
    assert file_sha256(tmp_path / "y.gpkg") == file_sha256(tmp_path / "z.gpkg")


def _tiny_page() -> str:
    m = folium.Map(location=[51.37, -0.1], zoom_start=12, tiles=None)
    folium.GeoJson({"type": "Point", "coordinates": [-0.1, 51.37]}, name="point").add_to(m)
    folium.LayerControl().add_to(m)
    return m.get_root().render()


def test_stable_element_ids_repeat_inside_and_stay_random_outside():
    original = branca.element.Element.__dict__["_generate_id"]
    with stable_element_ids("p.html"):
        first = _tiny_page()
    with stable_element_ids("p.html"):
        again = _tiny_page()
    with stable_element_ids("q.html"):
        other = _tiny_page()
    assert first == again
    assert other != first and not _element_names(other) & _element_names(first)
    assert branca.element.Element.__dict__["_generate_id"] is original
    assert _tiny_page() != _tiny_page()  # branca's random ids are back


def test_stable_element_ids_leave_other_threads_random():
    seen: list[str] = []
    ready, done = threading.Event(), threading.Event()

    def elsewhere():
        ready.wait()
        seen.extend(branca.element.Element()._id for _ in range(3))
        done.set()

    worker = threading.Thread(target=elsewhere)
    worker.start()
    with stable_element_ids("p.html"):
        ours = [branca.element.Element()._id for _ in range(3)]
        ready.set()
        done.wait(timeout=60)
        ours += [branca.element.Element()._id for _ in range(3)]
    worker.join()
    with stable_element_ids("p.html"):
        expected = [branca.element.Element()._id for _ in range(6)]
    assert ours == expected  # the other thread did not advance this page's counter
    assert len(seen) == 3 and not set(seen) & set(expected)


def _lisa_colours(page: str) -> dict[str, str]:
    """LSOA code -> LISA fill colour, read from the page's LSOA features (shared by the themes)."""
    pairs = re.findall(r'"id": "(E0\d{7})", "properties": \{[^}]*?"c_lisa_cluster": "(#[0-9a-f]{6})"', page)
    return dict(pairs)


def test_another_seed_changes_the_cluster_views_and_nothing_else(runs):
    a_maps, c_maps = _files(runs / "a-maps"), _files(runs / "c-maps")
    assert sorted(a_maps) == sorted(c_maps)
    # The figures show the index and the neighbourhoods, which draw no random numbers.
    for name in ("priority_localities.png", "priority_neighbourhoods.png"):
        assert file_sha256(a_maps[name]) == file_sha256(c_maps[name])
    page_a = a_maps["priority_localities.html"].read_text(encoding="utf-8")
    page_c = c_maps["priority_localities.html"].read_text(encoding="utf-8")
    assert _element_names(page_a) == _element_names(page_c)
    for run, page in (("a", page_a), ("c", page_c)):
        ranks = pd.read_csv(runs / run / "rankings.csv", index_col="lsoa_code")
        colours = _lisa_colours(page)
        assert len(colours) == len(ranks)
        expected = ranks["lisa_cluster"].fillna("Not significant").map(LISA_COLOURS)
        assert colours == expected.to_dict()
    assert _lisa_colours(page_a) != _lisa_colours(page_c)
    assert file_sha256(runs / "a" / "pli.gpkg") != file_sha256(runs / "c" / "pli.gpkg")


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
        if layer == "layer_styles":  # QGIS styles: a table without geometry
            pd.testing.assert_frame_equal(pd.DataFrame(left), pd.DataFrame(right))
            continue
        pd.testing.assert_frame_equal(pd.DataFrame(left.drop(columns="geometry")),
                                      pd.DataFrame(right.drop(columns="geometry")))
        assert left.geometry.geom_equals_exact(right.geometry, tolerance=0).all(), layer


def test_seed_changes_only_the_permutation_results(runs):
    a = pd.read_csv(runs / "a" / "rankings.csv", index_col="lsoa_code")
    c = pd.read_csv(runs / "c" / "rankings.csv", index_col="lsoa_code").reindex(a.index)
    # The index itself has no randomness ...
    pd.testing.assert_series_equal(a["score"], c["score"])
    pd.testing.assert_series_equal(a["lisa_I"], c["lisa_I"])
    # ... but the LISA pseudo p-values come from seeded permutations; Gi* uses the
    # normal p of its analytic z by default, so it does not depend on the seed.
    assert (a["lisa_p"] != c["lisa_p"]).any()
    pd.testing.assert_series_equal(a["gi_p"], c["gi_p"])
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
    plan = pd.read_csv(runs / "a" / "patrol_plan.csv")
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


def test_source_date_epoch_sets_the_copyright_year(monkeypatch):
    from pli import maps
    from pli.config import AreaSpec

    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")  # 2023-11-14
    text = maps.figures._attribution_text_for(AreaSpec(name="Croydon", simulated=False))
    assert "Crown copyright and database right 2023" in text
