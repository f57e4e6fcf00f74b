"""Every page a real run writes draws its map with the network cut (issue 16).

``pli index`` runs on the demo config (and, marked ``shared``, on the open-data config);
``pli compare`` and ``pli trial`` add their pages. Each page opens in headless Chromium
with every host unresolvable and every request sent to a dead proxy, and the live DOM
must hold a drawn map: Leaflet's panes, the areas on the canvas, the numbered
neighbourhoods, the legends, the credits, and no visible failure message. A page with a
broken script must show that message instead of a blank page. Screenshots (desktop and
phone) go to ``screenshots/`` for people to look at.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from test_maps_browser import CHROMIUM, SCREENSHOTS, _chromium, _need, probe

from pli.config import load_config
from pli.pipeline import run_index

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"

# Reads what a reader would see of the map; ES5 so any browser pli supports runs it.
DRAWN = r"""
function () {
  var out = {errors: [], leaflet: typeof L !== 'undefined'};
  try {
    var box = document.getElementById('pli-load-error');
    out.error_box = box ? !box.hidden : null;
    out.title = document.title;
    out.headings = [].map.call(document.querySelectorAll('h1, h2'), function (e) { return e.textContent; });
    if (!out.leaflet) { return out; }
    var map = null;
    Object.keys(window).forEach(function (k) { try { if (window[k] instanceof L.Map) { map = window[k]; } } catch (e) {} });
    out.map = !!map;
    out.panes = [].map.call(document.querySelectorAll('.leaflet-pane'), function (e) { return e.className; }).length;
    out.canvas = document.querySelectorAll('.leaflet-overlay-pane canvas').length;
    var drawn = 0;
    if (map && map._renderer) { for (var o = map._renderer._drawFirst; o; o = o.next) { drawn += 1; } }
    out.paths = drawn;
    out.numbers = [].map.call(document.querySelectorAll('.pli-number'), function (e) { return e.textContent; });
    var boxes = [].map.call(document.querySelectorAll('.pli-number'), function (e) { return e.getBoundingClientRect(); });
    out.number_overlaps = 0;
    boxes.forEach(function (a, i) {
      boxes.slice(i + 1).forEach(function (b) {
        // Circles: they overlap when their centres are closer than a diameter.
        var dx = (a.left + a.right - b.left - b.right) / 2, dy = (a.top + a.bottom - b.top - b.bottom) / 2;
        if (Math.sqrt(dx * dx + dy * dy) < a.width) { out.number_overlaps += 1; }
      });
    });
    out.names_shown = [].filter.call(document.querySelectorAll('.leaflet-pli-names-pane .pli-label'), function (e) {
      return e.style.visibility !== 'hidden';
    }).length;
    out.names_total = document.querySelectorAll('.leaflet-pli-names-pane .pli-label').length;
    var shownNames = function () {
      return [].filter.call(document.querySelectorAll('.leaflet-pli-names-pane .pli-label'), function (e) {
        return e.style.visibility !== 'hidden';
      }).length;
    };
    // Switch the numbered neighbourhoods off and on again: how many names do they cost?
    var toggle = null;
    document.querySelectorAll('.leaflet-control-layers-overlays label').forEach(function (l) {
      if (l.textContent.indexOf('Priority neighbourhoods') >= 0) { toggle = l.querySelector('input'); }
    });
    if (toggle) {
      toggle.click();
      out.names_without_numbers = shownNames();
      toggle.click();
      out.names_with_numbers = shownNames();
    }
    out.names_listed = [].filter.call(document.querySelectorAll('.leaflet-pli-names-pane .pli-label'), function (e) {
      return e.style.visibility !== 'hidden';
    }).map(function (e) { return e.textContent; });
    var z = function (sel) { var e = document.querySelector(sel); return e ? Number(getComputedStyle(e).zIndex) : -1; };
    out.names_above_outlines = z('.leaflet-pli-names-pane') > z('.leaflet-overlay-pane');
    out.numbers_above_names = z('.leaflet-marker-pane') > z('.leaflet-pli-names-pane');
    out.legends = [].filter.call(document.querySelectorAll('[data-legend]'), function (e) {
      return e.style.display !== 'none';
    }).map(function (e) { return e.getAttribute('data-legend'); });
    out.scale = !!document.querySelector('.leaflet-control-scale');
    out.attribution = (document.querySelector('.leaflet-control-attribution') || {}).textContent || '';
    var size = map ? map.getSize() : {x: 0, y: 0};
    out.size = [size.x, size.y];
  } catch (e) { out.errors.push(String(e)); }
  return out;
}
"""


@pytest.fixture(scope="module")
def chromium() -> None:
    _need(CHROMIUM.exists(), f"{CHROMIUM} is missing: install Debian's chromium (apt-get install -y chromium)")


def _run(config: Path, base: Path, *, data_dir: Path | None = None) -> tuple[Path, list[Path]]:
    cfg = load_config(config, data_dir=data_dir)
    run = run_index(cfg, out_dir=base / "output", maps_dir=base / "maps")
    maps = base / "maps"
    pages = [maps / "index.html", maps / "priority_localities.html", maps / "hotspots.html",
             *sorted((maps / "neighbourhoods").glob("*.html"))]
    assert len(pages) == 3 + len(run.neighbourhoods)
    return base / "output", pages


def _priority_area_names(out: Path) -> list[str]:
    """Names of the upper-layer areas (wards, or the demo's MSOAs) that hold a priority neighbourhood."""
    import geopandas as gpd

    wards = gpd.read_file(out / "pli.gpkg", layer="wards")
    nb = gpd.read_file(out / "pli.gpkg", layer="priority_neighbourhoods").to_crs(wards.crs)
    name = next(c for c in ("ward_name", "name") if c in wards.columns)
    return sorted(wards.loc[wards.intersects(nb.buffer(-1).union_all()), name].astype(str))


def _check_pages(pages: list[Path], *, n_neighbourhoods: int, credits: tuple[str, ...],
                 priority_names: list[str], max_missing: int = 0) -> dict[str, dict]:
    results, console = probe(pages, DRAWN)
    for page in pages:
        r, uri = results[page.as_uri()], page.as_uri()
        assert r["errors"] == [], (page.name, r["errors"])
        assert console[uri] == [], (page.name, console[uri])
        if page.name == "index.html":  # the plain page that links the maps: no script at all
            assert "Sources and credits" in r["headings"] and "Maps" in r["headings"], r["headings"]
            continue
        assert r["leaflet"] and r["map"], page.name
        assert r["error_box"] is False, f"{page.name}: the failure message shows"
        assert r["panes"] >= 6 and r["canvas"] == 1, (page.name, r["panes"], r["canvas"])
        assert r["paths"] >= 20, (page.name, r["paths"])  # LSOAs, ward outlines, neighbourhood outlines
        assert r["scale"] and r["names_shown"] >= 1, page.name
        # Upper-layer names sit above the areas and outlines, below the numbers.
        assert r["names_above_outlines"] and r["numbers_above_names"], page.name
        if page.parent.name == "neighbourhoods":
            assert "index" in r["legends"] and "neighbourhoods" in r["legends"], r["legends"]
            # Its own number and those of neighbours in view; never more than the run has.
            assert page.name.split("-", 1)[0] in r["numbers"] and len(r["numbers"]) <= n_neighbourhoods
        else:
            assert sorted(r["numbers"], key=int) == [str(i) for i in range(1, n_neighbourhoods + 1)], r["numbers"]
            assert r["number_overlaps"] == 0, f"{page.name}: numbered markers cover each other"
            # With the neighbourhoods on, the names of the areas holding them stay (moved beside
            # a number if need be), and few others give way.
            missing = sorted(set(priority_names) - set(r["names_listed"]))
            assert len(missing) <= max_missing, (page.name, missing)
            assert r["names_with_numbers"] >= r["names_without_numbers"] - n_neighbourhoods, (
                page.name, r["names_with_numbers"], r["names_without_numbers"], r["names_total"])
            assert ("lisa_fdr" if page.name == "hotspots.html" else "index") in r["legends"], r["legends"]
        for credit in credits:
            assert credit in r["attribution"], (page.name, credit, r["attribution"])
    return results


PHONE, DESKTOP = "390,844", "1400,900"


def _screens(shots: list[tuple[Path, str, str]]) -> list[Path]:
    """Screenshots ``(page, size, file name)`` under ``screenshots/`` for people to look at."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    written = []
    for page, size, name in shots:
        target = SCREENSHOTS / name
        run = _chromium(page, f"--screenshot={target}", f"--window-size={size}")
        assert target.is_file() and target.stat().st_size > 10_000, f"no screenshot of {page.name}: {run.stderr[-300:]}"
        written.append(target)
    return written


def test_demo_run_pages_draw_their_maps_with_the_network_cut(chromium, tmp_path):
    out, pages = _run(ROOT / "configs" / "croydon-demo.yml", tmp_path)
    # The demo's credits: its simulated crime and deprivation say so, its real Census table is credited.
    _check_pages(pages, n_neighbourhoods=9, credits=("SIMULATED by pli", "Census 2011 (ONS)", "Crown copyright"),
                 # The demo's MSOAs are small and crowded at the borough view: a few names wait for zooming in.
                 priority_names=_priority_area_names(out), max_missing=4)
    index = (pages[0]).read_text(encoding="utf-8")
    assert "Census 2011 usual residents (Office for National Statistics)" in index

    # pli compare and pli trial: their pages are offline by default too.
    from pli.compare import compare_runs, read_run, write_comparison

    run = read_run(out)
    written = write_comparison(compare_runs(run, run, top_n=20), tmp_path / "comparison", run_a=run, run_b=run)
    comparison = next(p for p in written if p.name == "comparison.html")
    from pli.trial import design_trial, write_trial

    cfg = load_config(ROOT / "configs" / "croydon-demo.yml")
    trial = design_trial(cfg, out, months=(6,), simulations=20, permutations=19, seed=0)
    trial_page = next(p for p in write_trial(trial, tmp_path / "trial") if p.name == "trial.html")
    results, console = probe([comparison, trial_page], DRAWN)
    for page in (comparison, trial_page):
        r = results[page.as_uri()]
        assert console[page.as_uri()] == [] and r["errors"] == [], (page.name, console[page.as_uri()], r["errors"])
        assert r["leaflet"] and r["map"] and r["error_box"] is False, page.name
        assert r["paths"] >= 10 and r["legends"], (page.name, r["paths"], r["legends"])
    assert results[comparison.as_uri()]["paths"] == 220  # every LSOA of the demo
    assert results[trial_page.as_uri()]["paths"] == len(trial.allocation_frame().dropna(subset=["easting"]))

    nb1 = next(p for p in pages if p.name.startswith("1-"))
    _screens([(pages[1], DESKTOP, "demo-priority_localities-desktop.png"),
              (pages[1], PHONE, "demo-priority_localities-phone.png"),
              (nb1, PHONE, "demo-neighbourhood-1-phone.png")])


@pytest.mark.shared
def test_open_data_run_pages_draw_their_maps_with_the_network_cut(chromium, tmp_path):
    if not SHARED.is_dir():
        pytest.skip(f"real Croydon snapshot not found at {SHARED}")
    out, pages = _run(ROOT / "configs" / "croydon-open-data.yml", tmp_path, data_dir=SHARED)
    # Crime came from the Met table (index) and police.uk burglary points (patrols);
    # deprivation from IoD2019, residents from Census 2021: each credited with its period.
    results = _check_pages(pages, n_neighbourhoods=9, credits=(
        "Metropolitan Police (London Datastore)", "IoD2019 (MHCLG)", "Census 2021 (ONS)", "police.uk",
    ), priority_names=_priority_area_names(out))
    attribution = results[pages[1].as_uri()]["attribution"]
    assert "Crime: Metropolitan Police (London Datastore), 2025-03 to 2026-02" in attribution
    _screens([(pages[1], DESKTOP, "open-data-priority_localities-desktop.png"),
              (next(p for p in pages if p.name.startswith("1-")), PHONE, "open-data-neighbourhood-1-phone.png")])


BROKEN_LEAFLET = "window.L = undefined; throw new Error('pli test: Leaflet broken on purpose');"


def test_a_page_whose_script_fails_says_so(chromium, tmp_path):
    from test_maps_browser import _fixtures

    if not SHARED.is_dir():
        pytest.skip(f"real Croydon snapshot not found at {SHARED}")
    from pli.config import AreaSpec, MapSpec
    from pli.maps import write_maps

    bundle = _fixtures().build_bundle(SHARED, places=False)
    bundle = dataclasses.replace(bundle, neighbourhoods=bundle.neighbourhoods.iloc[:1])
    area = AreaSpec(name="Croydon (test)", simulated=True)
    good = write_maps(bundle, tmp_path / "good", spec=MapSpec(), area=area, period="2025")
    online = write_maps(bundle, tmp_path / "online", spec=MapSpec(online=True, tiles="none"), area=area, period="2025")
    page = next(p for p in good if p.name == "priority_localities.html")
    html = page.read_text(encoding="utf-8")
    # Break the page the way a damaged copy or a blocked script would: Leaflet's own code throws.
    start = html.index("<script>", html.index("</title>")) + len("<script>")
    broken = tmp_path / "broken.html"
    broken.write_text(html[:start] + BROKEN_LEAFLET + html[start:], encoding="utf-8")
    cdn = next(p for p in online if p.name == "priority_localities.html")
    results, _ = probe([page, broken, cdn], r"""
    function () {
      var box = document.getElementById('pli-load-error');
      var hint = box.querySelector('.pli-online-hint');
      var r = box.getBoundingClientRect();
      return {shown: !box.hidden && r.width > 200 && r.height > 50, text: box.textContent,
              hint: !hint.hidden, details: box.querySelector('code').textContent};
    }
    """)
    ok, bad, blocked = (results[p.as_uri()] for p in (page, broken, cdn))
    assert not ok["shown"]
    assert bad["shown"] and "The map could not be drawn" in bad["text"], bad
    assert "Leaflet broken on purpose" in bad["details"] and not bad["hint"], bad
    # The CDN page in a network that blocks CDNs: says which file failed and how to fix it.
    assert blocked["shown"] and blocked["hint"], blocked
    assert "could not load https://cdn.jsdelivr.net/npm/leaflet@1.9.3/dist/leaflet.js" in blocked["details"], blocked
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    _chromium(broken, f"--screenshot={SCREENSHOTS / 'broken-script-message.png'}", "--window-size=1000,700")
