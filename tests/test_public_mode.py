"""Public mode (``--public``): no small counts, no point-level or patrol outputs, said so.

One demo run in public mode (maps included) is compared with the counts the same
inputs give in the ordinary run: every count below the threshold, and every value
derived from one, must be blank in the published tables, and no record's coordinates
may appear in any map.
"""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pyogrio
import pytest

from pli.config import load_config
from pli.indicators import COUNT_KINDS
from pli.pipeline import run_index

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "configs" / "croydon-demo.yml"


@pytest.fixture(scope="module")
def cfg():
    return load_config(CONFIG)


@pytest.fixture(scope="module")
def public_run(tmp_path_factory, cfg):
    base = tmp_path_factory.mktemp("public")
    run_index(cfg, out_dir=base / "output", maps_dir=base / "maps", public=True)
    return base


@pytest.fixture(scope="module")
def counts(tmp_path_factory, cfg) -> pd.DataFrame:
    """Numerators of the count indicators, from an ordinary (non-public) run."""
    out = tmp_path_factory.mktemp("private") / "output"
    run_index(cfg, out_dir=out, maps_dir=None)
    raw = pd.read_csv(out / "indicator_inputs.csv", index_col="lsoa_code")
    ranked = pd.read_csv(out / "rankings.csv", index_col="lsoa_code")
    names = [s.name for s in cfg.indicators
             if cfg.sources[s.source].kind in COUNT_KINDS and not s.harm]
    frame = raw[[f"{n}_numerator" for n in names]].set_axis(names, axis=1)
    frame.attrs["values"] = ranked[names]
    return frame


def test_manifest_says_public_mode(public_run, cfg):
    manifest = json.loads((public_run / "output" / "manifest.json").read_text())
    assert manifest["public_mode"] is True
    note = manifest["public_note"]
    assert f"counts below {cfg.output.suppress_below} suppressed" in note and "patrol" in note
    assert manifest["row_counts"]["patrol_plan"] == 0


def test_no_patrol_or_point_level_outputs(public_run):
    out = public_run / "output"
    names = {p.name for p in out.rglob("*")}
    assert not {n for n in names if n.startswith(("patrol_plan", "concentration"))}
    layers = {name for name, _ in pyogrio.list_layers(out / "pli.gpkg")}
    assert "micro_places" not in layers and {"lsoa", "wards", "priority_neighbourhoods"} <= layers
    maps = public_run / "maps"
    assert not [p for p in maps.rglob("*") if "patrol" in p.name.lower()]


def test_small_counts_are_blank_in_every_table(public_run, cfg, counts):
    threshold = cfg.output.suppress_below
    small = counts < threshold
    assert small.to_numpy().any(), "the demo must have some small counts for this test to bite"
    raw = pd.read_csv(public_run / "output" / "indicator_inputs.csv", index_col="lsoa_code")
    ranked = pd.read_csv(public_run / "output" / "rankings.csv", index_col="lsoa_code")
    gpkg = pyogrio.read_dataframe(public_run / "output" / "pli.gpkg", layer="lsoa").set_index("lsoa_code")
    for name in counts.columns:
        hidden = small.index[small[name]]
        assert raw.loc[hidden, f"{name}_numerator"].isna().all(), name
        assert ranked.loc[hidden, name].isna().all(), name
        assert gpkg.loc[hidden, name].isna().all(), name
        shown = raw[f"{name}_numerator"].dropna()
        assert (shown >= threshold).all(), name
        # Values of LSOAs that are not small are kept, unchanged, except the few blanked by
        # secondary suppression (a ward must not hold a single blank: see test_disclosure).
        kept = small.index[~small[name]]
        shown_kept = ranked.loc[kept, name].dropna()
        assert len(shown_kept) >= 0.9 * len(kept), name
        np.testing.assert_allclose(shown_kept, counts.attrs["values"].loc[shown_kept.index, name], rtol=1e-5)
    # Crime harm totals reveal counts through the published weights.
    assert "harm" not in ranked.columns
    assert not [c for c in raw.columns if c.startswith("crime_harm") and c.endswith("_numerator")]


def test_suppressed_rates_do_not_reappear_as_driver_values(public_run, counts, cfg):
    """A rate blanked in its own column must not be printed elsewhere in the same row."""
    small = counts < cfg.output.suppress_below
    rows = {}
    with open(public_run / "output" / "rankings.csv", newline="", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            rows[row["lsoa_code"]] = row
    leaks = []
    for name in counts.columns:
        for code in small.index[small[name]]:
            secret = counts.attrs["values"].loc[code, name]
            text = f"{secret:.6g}"
            if secret != 0 and any(v == text for k, v in rows[code].items() if k != name):
                leaks.append((code, name, text))
    assert not leaks, f"suppressed rate printed in another column: {leaks[:5]}"


def _record_coordinates() -> set[tuple[str, str]]:
    coords = set()
    for path in sorted((ROOT / "indicators" / "demo" / "police_uk").rglob("*-street.csv")):
        frame = pd.read_csv(path, dtype=str).dropna(subset=["Longitude", "Latitude"])
        coords.update(zip(frame["Longitude"].str.strip(), frame["Latitude"].str.strip()))
    return coords


_PAIR = re.compile(r"\[\s*(-?\d+\.\d+)\s*,\s*(-?\d+\.\d+)\s*\]")


def test_maps_hold_no_record_coordinates(public_run):
    records = {(f"{float(x):.6f}", f"{float(y):.6f}") for x, y in _record_coordinates()}
    html = sorted((public_run / "maps").rglob("*.html"))
    assert html
    seen = 0
    for page in html:
        pairs = {(f"{float(x):.6f}", f"{float(y):.6f}") for x, y in _PAIR.findall(page.read_text(encoding="utf-8"))}
        seen += len(pairs)
        assert not pairs & records, page.name
        text = page.read_text(encoding="utf-8")
        assert "Suggested visits per day" not in text, page.name  # the patrol-place tooltip
    assert seen > 1000  # the polygons are there, so the search did look at coordinates


def test_public_map_tooltips_show_no_harm_totals(public_run):
    text = (public_run / "maps" / "priority_localities.html").read_text(encoding="utf-8")
    assert "Crime harm: " not in text


def test_public_gpkg_and_geojson_hold_only_areas(public_run):
    out = public_run / "output"
    for name, _ in pyogrio.list_layers(out / "pli.gpkg"):
        if name == "layer_styles":  # the QGIS styles table: no geometry, no data
            continue
        info = pyogrio.read_info(out / "pli.gpkg", layer=name)
        assert info["geometry_type"] in ("Polygon", "MultiPolygon"), name
    geo = json.loads((out / "priority_neighbourhoods.geojson").read_text())
    assert {f["geometry"]["type"] for f in geo["features"]} <= {"Polygon", "MultiPolygon"}
