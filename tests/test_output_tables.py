"""Output tables open cleanly, are described by the data dictionary, and share one class scheme
with the maps and the GeoPackage styles (issue 16, items 3 and 4)."""

from __future__ import annotations

import dataclasses
import re
import sqlite3
import xml.etree.ElementTree as ET
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pyogrio
import pytest

from pli.classes import CLASS_SCHEMES, priority_classes
from pli.config import load_config
from pli.dictionary import DICTIONARY_COLUMNS, DICTIONARY_NAME, undocumented
from pli.handling import CLASSIFICATION_COLUMN, HANDLING_NAME, SENSITIVE
from pli.outputs import file_sha256, verify_outputs
from pli.pipeline import run_index

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
DEMO = ROOT / "configs" / "croydon-demo.yml"


def _run(base: Path, cfg, *, maps: bool = False, public: bool = False) -> Path:
    run_index(cfg, out_dir=base / "output", maps_dir=base / "maps" if maps else None, public=public)
    return base / "output"


@pytest.fixture(scope="module")
def demo_deciles(tmp_path_factory) -> Path:
    """A demo run with ``output.classes: decile`` and its maps."""
    cfg = load_config(DEMO)
    cfg = dataclasses.replace(cfg, output=dataclasses.replace(cfg.output, classes="decile"))
    return _run(tmp_path_factory.mktemp("deciles"), cfg, maps=True)


@pytest.fixture(scope="module")
def demo_public(tmp_path_factory) -> Path:
    return _run(tmp_path_factory.mktemp("public"), load_config(DEMO), public=True)


@pytest.fixture(scope="module")
def open_data(tmp_path_factory) -> Path:
    if not SHARED.is_dir():
        pytest.skip(f"real snapshot not found at {SHARED} (needs ../shared/data beside the repo)")
    cfg = load_config(ROOT / "configs" / "croydon-open-data.yml", data_dir=SHARED)
    return _run(tmp_path_factory.mktemp("open"), cfg)


def _check_tables_open_and_are_described(out: Path) -> dict[str, pd.DataFrame]:
    dictionary = pd.read_csv(out / DICTIONARY_NAME, keep_default_na=False)
    assert list(dictionary.columns) == DICTIONARY_COLUMNS
    assert undocumented(dictionary) == []
    assert not dictionary.duplicated(["file", "column"]).any()
    tables = {}
    for path in sorted(out.glob("*.csv")):
        first = path.read_text(encoding="utf-8").split("\n", 1)[0]
        assert not first.startswith("#"), f"{path.name} starts with a comment line"
        frame = pd.read_csv(path)
        expected = dictionary.loc[dictionary["file"] == path.name, "column"].tolist()
        assert list(frame.columns) == expected, f"{path.name}: header differs from the data dictionary"
        tables[path.name] = frame
    layers = {name: pyogrio.read_info(out / "pli.gpkg", layer=name) for name, _ in pyogrio.list_layers(out / "pli.gpkg")
              if name != "layer_styles"}
    for name, info in layers.items():
        expected = dictionary.loc[dictionary["file"] == f"pli.gpkg:{name}", "column"].tolist()
        assert list(info["fields"]) == expected, f"pli.gpkg layer {name}: fields differ from the data dictionary"
    assert set(dictionary["file"]) == set(tables) | {f"pli.gpkg:{name}" for name in layers}
    return tables


def test_every_demo_csv_opens_with_the_dictionary_header_and_marking_column(demo_deciles):
    tables = _check_tables_open_and_are_described(demo_deciles)
    assert {"rankings.csv", "patrol_plan.csv", "patrol_totals.csv", "concentration.csv"} <= set(tables)
    for name in ("patrol_plan.csv", "patrol_totals.csv"):
        assert tables[name].columns[0] == CLASSIFICATION_COLUMN
        assert set(tables[name][CLASSIFICATION_COLUMN]) == {SENSITIVE}
    for name in ("rankings.csv", "wards.csv", "indicator_inputs.csv"):
        assert CLASSIFICATION_COLUMN not in tables[name].columns
    note = (demo_deciles / HANDLING_NAME).read_text(encoding="utf-8")
    assert f"patrol_plan.csv: {SENSITIVE}" in note and "rankings.csv: default" in note
    assert verify_outputs(demo_deciles, maps_dir=demo_deciles.parent / "maps").current


def test_dictionary_describes_config_columns_from_the_config(demo_deciles):
    cfg = load_config(DEMO)
    d = pd.read_csv(demo_deciles / DICTIONARY_NAME, keep_default_na=False).set_index(["file", "column"])
    for spec in cfg.indicators:
        row = d.loc[("rankings.csv", spec.name)]
        assert (spec.label or spec.name) in row["meaning"] and spec.source in row["source"]
        if spec.transform == "rate":
            assert row["unit"] == f"per 1,000 {spec.denominator or 'population'}"
        assert ("higher = higher priority" in row["meaning"]) == (spec.direction == "higher_is_worse")
        assert (spec.label or spec.name) in d.loc[("rankings.csv", f"contribution_{spec.name}"), "meaning"]
        assert ("indicator_inputs.csv", f"{spec.name}_numerator") in d.index
    assert "1..10" in d.loc[("rankings.csv", "decile"), "unit"]


def test_public_run_tables_open_and_are_described(demo_public):
    tables = _check_tables_open_and_are_described(demo_public)
    assert "patrol_plan.csv" not in tables and "harm" not in tables["rankings.csv"].columns
    assert "quintile" in tables["rankings.csv"].columns, "the default class scheme is quintiles"
    note = (demo_public / HANDLING_NAME).read_text(encoding="utf-8")
    assert "OFFICIAL: public version, small numbers suppressed" in note and SENSITIVE not in note
    # Rounded public scores tie across class breaks: the style still draws the table's classes.
    renderer = _styles(demo_public / "pli.gpkg")["lsoa"]["qml_root"].find("renderer-v2")
    _check_style_draws_the_table_classes(demo_public, renderer, "quintile")


@pytest.mark.shared
def test_open_data_tables_open_and_are_described(open_data):
    tables = _check_tables_open_and_are_described(open_data)
    assert len(tables["rankings.csv"]) == 220
    assert "young_residents_share" in tables["rankings.csv"].columns


def test_table_classes_follow_the_rank_and_match_the_index_deciles(demo_deciles):
    rankings = pd.read_csv(demo_deciles / "rankings.csv")
    assert "decile" in rankings.columns and "quintile" not in rankings.columns
    n = len(rankings)
    assert (rankings["decile"] == (rankings["rank"] - 1) * 10 // n + 1).all()
    counts = rankings["decile"].value_counts()
    assert set(counts.index) == set(range(1, 11)) and counts.max() - counts.min() <= 1
    # Higher class numbers never hold a higher score than lower ones.
    spans = rankings.groupby("decile")["score"].agg(["min", "max"])
    assert (spans["min"].iloc[:-1].to_numpy() >= spans["max"].iloc[1:].to_numpy()).all()


def _legend(html: str, scheme: str) -> list[tuple[str, str, str]]:
    """``(colour, class, score span)`` of the map's first class legend (the index), top row first."""
    text = html.encode().decode("unicode_escape")
    rows = re.findall(rf'background:(#[0-9a-f]{{6}})[^>]*></span><span>{scheme.capitalize()} (\d+)[^:<]*: ([^<]*)<',
                      text)
    return rows[:CLASS_SCHEMES[scheme]]


def test_map_legend_classes_equal_the_table_and_geopackage_classes(demo_deciles):
    rankings = pd.read_csv(demo_deciles / "rankings.csv")
    html = (demo_deciles.parent / "maps" / "priority_localities.html").read_text(encoding="utf-8")
    legend = _legend(html, "decile")
    assert [cls for _, cls, _ in legend] == [str(d) for d in range(1, 11)], "no decile legend on the map"
    spans = rankings.groupby("decile")["score"].agg(["min", "max"])
    assert {cls: span for _, cls, span in legend} == {
        str(d): f"{row['min']:.2f} to {row['max']:.2f}" for d, row in spans.iterrows()}
    # The GeoPackage style fills each class with the colour of the map's legend.
    renderer = _styles(demo_deciles / "pli.gpkg")["lsoa"]["qml_root"].find("renderer-v2")
    symbol_of = {r.get("label").split(":")[0].split(" (")[0]: r.get("symbol") for r in renderer.iter("range")}
    fill_of = {s.get("name"): s.find("layer/Option/Option[@name='color']").get("value")
               for s in renderer.iter("symbol")}
    for colour, cls, _ in legend:
        rgb = ",".join(str(int(colour[i:i + 2], 16)) for i in (1, 3, 5))
        assert fill_of[symbol_of[f"Decile {cls}"]].startswith(rgb + ","), cls


def test_map_colours_per_lsoa_follow_the_table_class(demo_deciles):
    from pli.config import MapSpec
    from pli.maps.bundle import MapBundle
    from pli.maps.prepare import _prepare

    gpkg = demo_deciles / "pli.gpkg"
    lsoa = gpd.read_file(gpkg, layer="lsoa").set_index("lsoa_code")
    for k in (1, 2, 3):
        lsoa[f"driver_{k}_value"] = lsoa[f"driver_{k}_contribution"]
    bundle = MapBundle(lsoa=lsoa, wards=gpd.read_file(gpkg, layer="wards").set_index("ward_code"),
                       neighbourhoods=gpd.read_file(gpkg, layer="priority_neighbourhoods"), classes="decile")
    prep = _prepare(bundle, MapSpec(), public=False)
    colours = prep.index_classes.colours  # lowest class first
    expected = lsoa["decile"].map(lambda d: colours[10 - d])
    assert (prep.lsoa["c_index"] == expected.reindex(prep.lsoa.index)).all()


def _styles(gpkg: Path) -> dict[str, dict]:
    with sqlite3.connect(gpkg) as con:
        con.row_factory = sqlite3.Row
        rows = [dict(r) for r in con.execute("SELECT * FROM layer_styles WHERE useAsDefault = 1")]
        described = dict(con.execute("SELECT table_name, description FROM gpkg_contents"))
    styles = {}
    for row in rows:
        assert row["f_table_name"] not in styles, "one default style per layer"
        row["qml_root"] = ET.fromstring(row["styleQML"].split("\n", 1)[1])
        row["sld_root"] = ET.fromstring(row["styleSLD"].split("\n", 1)[1].encode())
        row["description_of_layer"] = described[row["f_table_name"]]
        styles[row["f_table_name"]] = row
    return styles


def _check_style_draws_the_table_classes(out: Path, renderer: ET.Element, scheme: str) -> pd.DataFrame:
    """Every LSOA falls in the QML range labelled with its class in rankings.csv."""
    # The layer's own (unrounded) values, as QGIS reads them; the CSV rounds to 6 digits.
    layer = gpd.read_file(out / "pli.gpkg", layer="lsoa", ignore_geometry=True)
    table = pd.read_csv(out / "rankings.csv", index_col="lsoa_code")[scheme]
    assert (layer.set_index("lsoa_code")[scheme] == table).all()
    ranges = [(float(r.get("lower")), float(r.get("upper")), r.get("label")) for r in renderer.iter("range")]
    values = layer[renderer.get("attr")]
    for value, cls in zip(values, layer[scheme]):
        hits = [label for i, (lo, hi, label) in enumerate(ranges) if (lo < value or i == 0 and lo == value)
                and value <= hi]
        assert len(hits) == 1 and hits[0].startswith(f"{scheme.capitalize()} {cls}"), (value, cls, hits)
    return layer


def test_geopackage_layers_carry_default_qgis_styles(demo_deciles):
    styles = _styles(demo_deciles / "pli.gpkg")
    assert {"lsoa", "wards", "priority_neighbourhoods", "micro_places"} <= set(styles)
    for row in styles.values():
        assert row["f_geometry_column"] == "geom" and row["styleName"] and row["description_of_layer"]
        assert row["update_time"] == "1970-01-01T00:00:00.000Z"
    lsoa = styles["lsoa"]["qml_root"].find("renderer-v2")
    assert lsoa.get("type") == "graduatedSymbol" and lsoa.get("attr") == "score"
    _check_style_draws_the_table_classes(demo_deciles, lsoa, "decile")
    for layer, field in (("wards", "ward_name"), ("priority_neighbourhoods", '"name"')):
        root = styles[layer]["qml_root"]
        assert root.get("labelsEnabled") == "1" and field in root.find("labeling/settings/text-style").get("fieldName")
        assert root.find("renderer-v2").get("type") == "singleSymbol"
    micro = styles["micro_places"]["qml_root"].find("renderer-v2")
    assert micro.get("attr") == "harm" and len(list(micro.iter("range"))) >= 2
    assert micro.find(".//layer[@class='CentroidFill']") is not None


def test_geopackage_with_styles_is_byte_reproducible(tmp_path):
    cfg = load_config(DEMO)
    cfg = dataclasses.replace(cfg, patrols=None, clustering=dataclasses.replace(cfg.clustering, permutations=99,
                                                                               fdr=False, stability_seeds=0),
                              priorities=dataclasses.replace(cfg.priorities, stability_runs=0))
    first = _run(tmp_path / "a", cfg)
    second = _run(tmp_path / "b", cfg)
    assert file_sha256(first / "pli.gpkg") == file_sha256(second / "pli.gpkg")
    assert set(_styles(first / "pli.gpkg")) == {"lsoa", "wards", "priority_neighbourhoods"}


def test_class_scheme_is_validated():
    with pytest.raises(ValueError, match="expected one of quintile, decile"):
        priority_classes(pd.Series([1.0, 2.0]), "tercile")
    assert set(CLASS_SCHEMES) == {"quintile", "decile"}


_QGIS_PROBE = """
import os, sys
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
from qgis.core import QgsApplication, QgsVectorLayer
app = QgsApplication([], False)
app.initQgis()
for name in sys.argv[2:]:
    layer = QgsVectorLayer(sys.argv[1] + "|layername=" + name, name, "ogr")
    r = layer.renderer()
    attr = r.classAttribute() if hasattr(r, "classAttribute") else ""
    colours = [rg.symbol().color().name() for rg in r.ranges()] if hasattr(r, "ranges") else []
    print(name, r.type(), attr, int(layer.labelsEnabled()), ",".join(colours), flush=True)
os._exit(0)  # QGIS can crash while tearing down; the answers are printed
"""


def _system_qgis() -> str | None:
    import shutil
    import subprocess

    python = shutil.which("python3", path="/usr/bin")
    if python is None:
        return None
    probe = subprocess.run([python, "-c", "import qgis.core"], capture_output=True, timeout=60)
    return python if probe.returncode == 0 else None


def test_qgis_loads_the_default_styles(demo_deciles):
    """Optional: QGIS itself (Debian's python3-qgis) opens the layers with pli's styles."""
    import subprocess

    python = _system_qgis()
    if python is None:
        pytest.skip("QGIS (python3-qgis) is not installed")
    proc = subprocess.run([python, "-c", _QGIS_PROBE, str(demo_deciles / "pli.gpkg"), "lsoa", "wards",
                           "priority_neighbourhoods", "micro_places"], capture_output=True, text=True, timeout=300,
                          env={"PATH": "/usr/bin:/bin", "HOME": str(demo_deciles.parent)})
    assert proc.returncode == 0, proc.stderr[-2000:]
    seen = {line.split(" ")[0]: line.split(" ")[1:] for line in proc.stdout.splitlines() if line.strip()}
    rankings = pd.read_csv(demo_deciles / "rankings.csv")
    colours = priority_classes(rankings["score"], "decile", rank=rankings["rank"]).colours()[::-1]
    assert seen["lsoa"] == ["graduatedSymbol", "score", "0", ",".join(colours)]
    for outlined in ("wards", "priority_neighbourhoods"):  # labelled outlines
        assert seen[outlined] == ["singleSymbol", "", "1", ""], outlined
    assert seen["micro_places"][:2] == ["graduatedSymbol", "harm"]
