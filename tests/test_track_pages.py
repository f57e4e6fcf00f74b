"""pli track's emerging-hot-spot map and neighbourhood chart pages (HTML built in Python)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import yaml
from shapely.geometry import box

from pli.config import load_config, read_yaml
from pli.track.command import run_track
from pli.track.hotspot_map import CLASS_COLOURS, emerging_hotspot_page
from pli.track.pages import ChartSpec, neighbourhood_file, svg_chart, track_page
from pli.track.series import TrackSeries
from tests.conftest import ROOT

HOSTILE = '<script>alert("x")</script>{{ 7*7 }}'


def _monthly(n: int = 30, start: str = "2024-01") -> pd.Series:
    months = pd.period_range(start, periods=n, freq="M").strftime("%Y-%m")
    rng = np.random.default_rng(0)
    return pd.Series(100 + 2.0 * np.arange(n) + rng.normal(0, 5, n), index=months)


def test_svg_chart_draws_every_point_trend_rolling_mean_and_the_index_window():
    values = _monthly(30)
    svg = svg_chart(values, title="Harm", unit="harm days",
                    spec=ChartSpec(period="month", index_window=("2025-03", "2026-02")))
    assert svg.count('<circle class="pli-point"') == 30
    rolling = re.search(r'<polyline class="pli-rolling" points="([^"]+)"', svg).group(1)
    assert len(rolling.split()) == 30 - 11  # a 12-month mean needs 12 months
    assert '<line class="pli-trend"' in svg and "Sen trend +" in svg
    # Window 2025-03..2026-02 overlaps months 15..29 of a series from 2024-01: one shaded band.
    assert svg.count('class="pli-window"') == 1 and "index window 2025-03 to 2026-02" in svg
    # Each point's tooltip says its month and value.
    first = re.search(r"<circle[^>]*><title>([^<]+)</title>", svg).group(1)
    assert first.startswith("2024-01: ") and "harm days" in first


def test_svg_chart_leaves_out_a_window_outside_the_series_and_its_legend_entry():
    svg = svg_chart(_monthly(30, "2010-01"), title="t", unit="offences",
                    spec=ChartSpec(index_window=("2025-03", "2026-02")))
    assert "pli-window" not in svg and "index window" not in svg


def test_quarterly_chart_marks_the_quarters_of_the_window():
    quarters = pd.Series(np.arange(12, dtype=float) + 10, index=[f"{y}-Q{q}" for y in (2023, 2024, 2025)
                                                                  for q in (1, 2, 3, 4)])
    svg = svg_chart(quarters, title="t", unit="harm days",
                    spec=ChartSpec(period="quarter", index_window=("2025-01", "2025-12")))
    band = re.search(r'<rect class="pli-window" x="([\d.]+)" y="\d+" width="([\d.]+)"', svg)
    x0, width = float(band.group(1)), float(band.group(2))
    assert width > 0 and x0 > 64 + 0.6 * (900 - 80)  # the last four of twelve quarters


def test_svg_chart_and_page_escape_names():
    values = _monthly(14)
    values.index = [HOSTILE if i == 0 else v for i, v in enumerate(values.index)]
    svg = svg_chart(values, title=HOSTILE, unit="harm days", spec=ChartSpec())
    page = track_page(HOSTILE, [HOSTILE], [(HOSTILE, svg)], nav=[("study_area.html", HOSTILE)],
                      lsoas=pd.DataFrame({"LSOA": ["E1"], "name": [HOSTILE]}))
    assert "<script>" not in page and "{{" not in page
    assert "&lt;script&gt;" in page


def test_neighbourhood_file_names_are_plain_and_ranked():
    assert neighbourhood_file(1, "Waddon / Broad Green") == "01-waddon-broad-green.html"
    assert neighbourhood_file(12, '../../etc/passwd<x>') == "12-etc-passwd-x.html"
    assert neighbourhood_file(3, "???") == "03-neighbourhood.html"


def _lattice_series(name: str, names: list[str]) -> TrackSeries:
    geoms = [box(530000 + 500 * (i % 3), 160000 + 500 * (i // 3), 530500 + 500 * (i % 3), 160500 + 500 * (i // 3))
             for i in range(len(names))]
    codes = [f"A{i}" for i in range(len(names))]
    areas = gpd.GeoDataFrame({"area_name": names}, geometry=geoms, index=pd.Index(codes, name="area_code"),
                             crs=27700)
    months = pd.Index([f"2024-{m:02d}" for m in range(1, 13)], name="period")
    counts = pd.DataFrame(np.arange(12 * len(names)).reshape(12, -1), index=months, columns=areas.index)
    return TrackSeries(name=name, level="lsoa", period="month", counts=counts, harm=counts.astype(float),
                       areas=areas, files=())


def test_emerging_hotspot_page_has_a_layer_per_series_a_legend_of_present_classes_and_escapes():
    names = [HOSTILE] + [f"Area {i}" for i in range(1, 9)]
    a, b = _lattice_series("first", names), _lattice_series("second", names)
    patterns = pd.DataFrame({"series": ["first"] * 9 + ["second"] * 9, "area_code": [f"A{i}" for i in range(9)] * 2,
                             "pattern": ["intensifying hot spot", "new cold spot"] + ["no pattern"] * 16})
    trends = pd.DataFrame({"series": "first", "measure": "harm_days", "area_code": "A0", "direction": "up",
                           "sen_slope_per_year": 12.5, "q": 0.01}, index=[0])
    changing = pd.DataFrame({"series": ["first"], "area_code": ["A0"], "change": ["deteriorating"]})
    nb = gpd.GeoDataFrame({"neighbourhood_rank": [1], "neighbourhood": [HOSTILE], "lsoa_codes": ["A0;A1"]},
                          geometry=[box(530000, 160000, 531000, 160500)], crs=27700)
    html = emerging_hotspot_page([a, b], patterns, trends, changing, neighbourhoods=nb,
                                 pages={1: "../neighbourhoods/01-x.html"}, study_area_page="../neighbourhoods/s.html")
    for layer in ("first: emerging hot spots", "second: emerging hot spots", "first: deteriorating and improving",
                  "Priority neighbourhoods"):
        assert layer in html
    legend = re.search(r'"emerging-classes".*?</script>', html, re.S) or re.search(r"Emerging hot spot class.*", html)
    assert legend is not None
    assert "intensifying hot spot" in html and "new cold spot" in html
    assert "persistent cold spot" not in html  # only classes present are listed
    assert CLASS_COLOURS["intensifying hot spot"] in html
    assert "<script>alert" not in html and "{{ 7*7 }}" not in html
    assert "../neighbourhoods/01-x.html" in html and "+12.5 harm days a year" in html


def _demo_config(tmp_path: Path, series: list[dict], **track):
    raw = read_yaml(ROOT / "configs" / "croydon-demo.yml")
    raw["track"] = {"series": series, **track}
    path = tmp_path / "track.yml"
    path.write_text(yaml.safe_dump(raw))
    return load_config(path, data_dir=ROOT)


def test_run_track_writes_the_map_and_a_page_per_index_neighbourhood(tmp_path, good_outputs):
    from pli.outputs import verify_outputs

    cfg = _demo_config(tmp_path, [{"name": "crime_lsoa", "source": "crime", "level": "lsoa"}])
    out = tmp_path / "track-out"
    run = run_track(cfg, out_dir=out, index_out=good_outputs, offline=True)
    index_nb = gpd.read_file(good_outputs / "priority_neighbourhoods.geojson")
    pages = sorted(p.name for p in (out / "neighbourhoods").glob("*.html"))
    assert pages == sorted([neighbourhood_file(r, n) for r, n in zip(index_nb["rank"], index_nb["name"])]
                           + ["study_area.html"])
    first = (out / "neighbourhoods" / neighbourhood_file(1, index_nb.loc[index_nb["rank"] == 1, "name"].iloc[0]))
    text = first.read_text(encoding="utf-8")
    # Harm and count charts of the LSOA series, summed over the neighbourhood's LSOAs.
    assert text.count('<svg class="pli-chart"') == 2
    codes = index_nb.loc[index_nb["rank"] == 1, "lsoa_codes"].iloc[0].split(";")
    total = run.series[0].harm[codes].sum(axis=1)
    tip = f"{total.index[0]}: {total.iloc[0]:,.0f} harm days"
    assert tip in text
    page = (out / "maps" / "emerging_hotspots.html").read_text(encoding="utf-8")
    assert "../neighbourhoods/" + first.name in page and "crime_lsoa: emerging hot spots" in page
    assert "cdn.jsdelivr" not in page  # offline
    manifest = json.loads((out / "manifest.json").read_text())
    assert "output:maps/emerging_hotspots.html" in manifest["outputs"]
    assert manifest["neighbourhoods"]["source"].endswith("priority_neighbourhoods.geojson")
    assert manifest["rolling"] is None  # 12 months of demo crime: no second window
    assert verify_outputs(out).current
    assert any(k.endswith("priority_neighbourhoods.geojson") for k in manifest["inputs"])


def test_run_track_refuses_an_index_out_without_neighbourhoods(tmp_path):
    from pli.errors import InputError

    cfg = _demo_config(tmp_path, [{"name": "w", "source": "crime", "level": "ward"}])
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="priority_neighbourhoods.geojson"):
        run_track(cfg, out_dir=tmp_path / "out", index_out=tmp_path / "empty")
    assert not (tmp_path / "out").exists()
