"""pli track's pages in headless Chromium: the emerging-hot-spot map and the chart pages.

Reuses the harness of ``tests/test_maps_browser.py`` (network unreachable, one browser
for all pages, a probe reading the live DOM). Screenshots go to ``screenshots/``.
"""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest
import yaml
from shapely.geometry import box

from pli.config import load_config, read_yaml
from pli.track.command import run_track
from pli.track.hotspot_map import emerging_hotspot_page
from tests.conftest import ROOT
from tests.test_maps_browser import browser_ready, probe, screenshot  # noqa: F401 (fixture)
from tests.test_track_pages import _lattice_series

pytestmark = pytest.mark.browser

PWN_IMG = '<img src=x onerror="window.__pwned=1">'
PWN_SCRIPT = "<script>window.__pwned=1</script>"

# Run in a chart page: what the charts draw and what hovering a point would show.
CHART_PROBE = r"""
function () {
  var out = {errors: [], charts: 0, drawn: 0, points: 0, tips: [], windows: 0, trends: 0, rolling: 0};
  try {
    var charts = document.querySelectorAll('svg.pli-chart');
    out.charts = charts.length;
    charts.forEach(function (svg) {
      var box = svg.getBoundingClientRect();
      var line = svg.querySelector('polyline.pli-series');
      if (box.width > 300 && box.height > 80 && line && line.getBBox().width > 100) { out.drawn += 1; }
    });
    out.points = document.querySelectorAll('circle.pli-point').length;
    document.querySelectorAll('circle.pli-point title').forEach(function (t, i) {
      if (i < 3) { out.tips.push(t.textContent); }
    });
    out.windows = document.querySelectorAll('rect.pli-window').length;
    out.trends = document.querySelectorAll('line.pli-trend').length;
    out.rolling = document.querySelectorAll('polyline.pli-rolling').length;
    out.links = Array.prototype.map.call(document.querySelectorAll('nav a'),
                                         function (a) { return a.getAttribute('href'); });
  } catch (e) { out.errors.push(String(e)); }
  return out;
}
"""


@pytest.fixture(scope="module")
def track_out(browser_ready, tmp_path_factory) -> Path:  # noqa: F811
    tmp = tmp_path_factory.mktemp("track_browser")
    raw = read_yaml(ROOT / "configs" / "croydon-demo.yml")
    raw["track"] = {"series": [{"name": "crime_lsoa", "source": "crime", "level": "lsoa"},
                               {"name": "crime_ward", "source": "crime", "level": "ward"}]}
    path = tmp / "track.yml"
    path.write_text(yaml.safe_dump(raw))
    out = tmp / "track-out"
    run_track(load_config(path, data_dir=ROOT), out_dir=out, offline=True)
    return out


def test_emerging_hotspot_map_shows_layers_legend_and_tooltips(track_out):
    page = track_out / "maps" / "emerging_hotspots.html"
    results, console = probe([page])
    report = results[page.as_uri()]
    assert console[page.as_uri()] == [], console[page.as_uri()]
    assert report["errors"] == [] and report["leaflet"]
    overlays = report["overlays"]
    assert "crime_lsoa: emerging hot spots (lsoa, by month)" in overlays
    assert "crime_ward: emerging hot spots (ward, by month)" in overlays
    assert "Priority neighbourhoods (click for charts)" in overlays
    legends = {leg["key"]: leg for leg in report["legends"]}
    assert legends["emerging-classes"]["visible"] and "no pattern" in legends["emerging-classes"]["text"]
    assert "deteriorating" in legends["changing-areas"]["text"]
    # 220 LSOAs + 44 upper areas get a class tooltip; every neighbourhood a popup with its page link.
    assert report["tips"] >= 220 + 44 and report["popups"] >= 1
    texts = "\n".join(report["texts"])
    assert "monthly harm and counts" in texts and ("no pattern" in texts or "hot spot" in texts)
    assert "harm days a year" in texts
    assert "study area charts" in report["panels"]["title"]
    assert report["dangerous"] == 0 and report["pwned"] == 0
    screenshot(page, "track_emerging_hotspots.png")


def test_neighbourhood_and_study_area_charts_draw(track_out):
    pages = sorted((track_out / "neighbourhoods").glob("*.html"))
    chosen = [p for p in pages if p.name == "study_area.html"] + [p for p in pages if p.name.startswith("01-")]
    assert len(chosen) == 2
    results, console = probe(chosen, CHART_PROBE)
    study, first = (results[p.as_uri()] for p in chosen)
    for page in chosen:
        assert console[page.as_uri()] == [], console[page.as_uri()]
    assert study["errors"] == [] and first["errors"] == []
    # Study area: harm and counts for each of the two series; the neighbourhood: its LSOA series.
    assert study["charts"] == study["drawn"] == 4
    assert first["charts"] == first["drawn"] == 2
    # 12 months: a trend line, but no 12-month rolling mean to draw (it would be one point).
    assert first["points"] == 2 * 12 and first["trends"] == 2 and first["rolling"] == 0
    assert study["rolling"] == 0
    # The demo's index window is its whole year: shaded on every chart.
    assert first["windows"] == 2
    assert first["tips"][0].startswith("2025-01: ") and "harm days" in first["tips"][0]
    assert first["links"] == ["../maps/emerging_hotspots.html", "study_area.html"]
    screenshot(chosen[1], "track_neighbourhood_1.png")


def test_hostile_area_names_stay_text_on_the_map(browser_ready, tmp_path):  # noqa: F811
    names = [PWN_IMG, PWN_SCRIPT] + [f"Area {i}" for i in range(2, 9)]
    series = _lattice_series("s", names)
    patterns = pd.DataFrame({"series": "s", "area_code": [f"A{i}" for i in range(9)],
                             "pattern": ["persistent hot spot"] + ["no pattern"] * 8})
    trends = pd.DataFrame({"series": ["s"], "measure": ["harm_days"], "area_code": ["A1"], "direction": ["down"],
                           "sen_slope_per_year": [-3.0], "q": [0.02]})
    changing = pd.DataFrame({"series": ["s"], "area_code": ["A1"], "change": ["improving"]})
    nb = gpd.GeoDataFrame({"neighbourhood_rank": [1], "neighbourhood": [PWN_SCRIPT], "lsoa_codes": ["A0"]},
                          geometry=[box(530000, 160000, 530500, 160500)], crs=27700)
    page = tmp_path / "maps" / "emerging_hotspots.html"
    page.parent.mkdir()
    page.write_text(emerging_hotspot_page([series], patterns, trends, changing, neighbourhoods=nb,
                                          pages={1: "../neighbourhoods/01-x.html"}, offline=True), encoding="utf-8")
    results, _ = probe([page])
    report = results[page.as_uri()]
    assert report["errors"] == [] and report["dangerous"] == 0 and report["pwned"] == 0
    texts = "\n".join(report["texts"])
    assert PWN_IMG in texts and PWN_SCRIPT in texts
