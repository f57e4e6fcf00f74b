"""Open the generated maps in headless Chromium (Debian's /usr/bin/chromium).

Each page is loaded with the network made unreachable (every host name fails to
resolve and every request goes to a dead proxy), so only offline pages can work.  A
probe script appended to a copy of the page reads the live DOM: layer-control
entries, legends, the title, and every tooltip and popup rendered exactly as Leaflet
would; hostile names must come out as text.

Skips when Chromium or folium-offline is missing, unless the environment variable CI
is set, where that is a failure.
"""

from __future__ import annotations

import dataclasses
import html
import importlib.util
import json
import os
import re
import subprocess
import tempfile
from pathlib import Path

import pytest

from pli.config import AreaSpec, MapSpec
from pli.maps import write_maps

pytestmark = pytest.mark.browser

CHROMIUM = Path("/usr/bin/chromium")
REPO = Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "data"
SCREENSHOTS = REPO / "screenshots"  # kept for people to look at; not a pli output folder
PERIOD = "2024-03 to 2025-02"
AREA = AreaSpec(name="Croydon (demo)", simulated=True)


def _need(condition: bool, reason: str) -> None:
    if condition:
        return
    if os.environ.get("CI"):
        pytest.fail(f"{reason} (CI is set, so this is a failure, not a skip)")
    pytest.skip(reason)


def _fixtures():
    path = Path(__file__).resolve().parent / "fixtures" / "maps" / "bundle.py"
    spec = importlib.util.spec_from_file_location("pli_test_map_bundle", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def browser_ready() -> None:
    _need(CHROMIUM.exists(), f"{CHROMIUM} is missing: install Debian's chromium (apt-get install -y chromium)")
    _need(
        importlib.util.find_spec("offlinefolium") is not None,
        "folium-offline is not installed (pip install folium-offline); offline maps need it",
    )
    if not DATA.is_dir():
        pytest.skip(f"real Croydon snapshot not found at {DATA}")


@pytest.fixture(scope="module")
def offline_maps(browser_ready, tmp_path_factory) -> list[Path]:
    bundle = _fixtures().build_bundle(DATA)
    out = tmp_path_factory.mktemp("maps_offline")
    return write_maps(bundle, out, spec=MapSpec(), area=AREA, period=PERIOD, offline=True)


@pytest.fixture(scope="module")
def hostile_maps(browser_ready, tmp_path_factory) -> list[Path]:
    bundle = _fixtures().build_bundle(DATA, hostile=True)
    # Neighbourhood 1 carries the hostile name; the other pages add nothing here.
    bundle = dataclasses.replace(bundle, neighbourhoods=bundle.neighbourhoods.iloc[:1])
    out = tmp_path_factory.mktemp("maps_hostile")
    return write_maps(bundle, out, spec=MapSpec(), area=AREA, period=PERIOD, offline=True)


# Run inside each loaded page; returns what a reader would see.
PROBE = r"""
function () {
  var out = {leaflet: typeof L !== 'undefined', errors: [], base: [], overlays: [], legends: [],
             panels: {}, tips: 0, popups: 0, labels: [], texts: []};
  try {
    var map = null;
    var layers = [];
    Object.keys(window).forEach(function (k) {
      try {
        if (window[k] instanceof L.Map) { map = window[k]; }
        if (window[k] instanceof L.Layer && layers.indexOf(window[k]) < 0) { layers.push(window[k]); }
      } catch (e) {}
    });
    document.querySelectorAll('.leaflet-control-layers-base label').forEach(function (e) { out.base.push(e.textContent.trim()); });
    document.querySelectorAll('.leaflet-control-layers-overlays label').forEach(function (e) { out.overlays.push(e.textContent.trim()); });
    document.querySelectorAll('[data-legend]').forEach(function (e) {
      out.legends.push({key: e.getAttribute('data-legend'), visible: e.style.display !== 'none', text: e.textContent});
    });
    document.querySelectorAll('[data-panel]').forEach(function (e) { out.panels[e.getAttribute('data-panel')] = e.textContent; });
    document.querySelectorAll('.pli-label, .pli-number').forEach(function (e) { out.labels.push(e.textContent); });
    out.attribution = (document.querySelector('.leaflet-control-attribution') || {}).textContent || '';
    // Render every tooltip and popup exactly as Leaflet would, into a sink in the page.
    var sink = document.createElement('div');
    document.body.appendChild(sink);
    map.eachLayer(function (l) { if (layers.indexOf(l) < 0) { layers.push(l); } });
    layers.forEach(function (group) {
      var children = [group];
      if (group.eachLayer) { group.eachLayer(function (c) { children.push(c); }); }
      children.forEach(function (child) {
        [['tips', group.getTooltip && group.getTooltip()], ['popups', group.getPopup && group.getPopup()],
         ['tips', child !== group && child.getTooltip && child.getTooltip()],
         ['popups', child !== group && child.getPopup && child.getPopup()]]
        .forEach(function (pair) {
          var bound = pair[1];
          if (!bound) { return; }
          var content = bound._content;
          if (typeof content === 'function') {
            if (!child.feature) { return; }
            content = content(child);
          }
          var box = document.createElement('div');
          if (content instanceof HTMLElement) { box.appendChild(content); } else { box.innerHTML = content; }
          sink.appendChild(box);
          out[pair[0]] += 1;
          out.texts.push(box.textContent);
        });
      });
    });
    out.dangerous = sink.querySelectorAll('img, script, iframe, svg, object, [onerror], [onload]').length
      + document.querySelectorAll('img[src="x"], [onerror]').length;
  } catch (e) { out.errors.push(String(e)); }
  return out;
}
"""

# Loads each page in turn into one iframe (one browser start for all pages).
HARNESS = r"""<!DOCTYPE html><html><body>
<iframe id="frame" width="%(width)d" height="%(height)d"></iframe>
<script>
var pages = %(pages)s;
var probe = %(probe)s;
var results = {};
var i = 0;
var frame = document.getElementById('frame');
function finish() {
  var pre = document.createElement('pre');
  pre.id = 'pli-results';
  pre.textContent = JSON.stringify(results);
  document.body.appendChild(pre);
}
function next() { if (i >= pages.length) { finish(); } else { frame.src = pages[i]; } }
frame.addEventListener('load', function () {
  var page = pages[i];
  setTimeout(function () {
    var w = frame.contentWindow, r;
    try { r = w.eval('(' + probe + ')()'); } catch (e) { r = {leaflet: false, errors: [String(e)]}; }
    var waited = 0;
    // A probe that acts on the page (hover, switch layers) sets r.pending until done.
    var collect = function () {
      if (r.pending && waited < 8000) { waited += 100; setTimeout(collect, 100); return; }
      try { r.pwned = w.__pwned || 0; } catch (e) { r.pwned = -1; }
      results[page] = JSON.parse(JSON.stringify(r));
      i += 1;
      next();
    };
    setTimeout(collect, 300);
  }, 300);
});
next();
</script></body></html>
"""

_CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
    # Network unreachable: no name resolves and everything else goes to a dead proxy.
    "--host-resolver-rules=MAP * ~NOTFOUND",
    "--proxy-server=127.0.0.1:9",
    "--enable-logging=stderr",
    "--v=0",
    "--window-size=1400,1000",
]


def _chromium(page: Path, *extra: str, budget_ms: int = 4000) -> subprocess.CompletedProcess:
    with tempfile.TemporaryDirectory() as profile:
        return subprocess.run(
            [str(CHROMIUM), *_CHROMIUM_FLAGS, f"--virtual-time-budget={budget_ms}", f"--user-data-dir={profile}",
             *extra, page.resolve().as_uri()],
            capture_output=True,
            text=True,
            timeout=300,
        )  # fmt: skip


def probe(
    pages: list[Path], script: str = PROBE, *, size: tuple[int, int] = (1400, 1000)
) -> tuple[dict[str, dict], dict[str, list[str]]]:
    """Open ``pages`` in one browser; return each page's report and its console lines.

    ``script`` is a JavaScript function expression run in each page once loaded;
    ``size`` is the frame the page is shown in (a phone is about 400 wide).

    The harness reaches into the frames, which Chromium only allows between file://
    pages with web security off; that is a test-only setting.
    """
    uris = [p.resolve().as_uri() for p in pages]
    with tempfile.TemporaryDirectory() as tmp:
        harness = Path(tmp) / "harness.html"
        harness.write_text(
            HARNESS % {"pages": json.dumps(uris), "probe": json.dumps(script), "width": size[0], "height": size[1]},
            encoding="utf-8",
        )
        run = _chromium(
            harness,
            "--disable-web-security",
            "--allow-file-access-from-files",
            "--dump-dom",
            budget_ms=5000 * len(pages) + 2000,
        )
    match = re.search(r'<pre id="pli-results">(.*?)</pre>', run.stdout, re.S)
    assert match, f"the probe produced no report; stderr: {run.stderr[-2000:]}"
    results = json.loads(html.unescape(match.group(1)))
    console = {
        uri: [line for line in run.stderr.splitlines() if ":CONSOLE" in line and uri in line] for uri in uris
    }
    stray = [line for line in run.stderr.splitlines() if ":CONSOLE" in line and not any(u in line for u in uris)]
    assert stray == [], f"console messages from the harness itself: {stray}"
    assert set(results) == set(uris), f"pages that did not report: {set(uris) - set(results)}"
    return results, console


def screenshot(page: Path, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    target = SCREENSHOTS / name
    run = _chromium(page, f"--screenshot={target}")
    assert target.is_file() and target.stat().st_size > 10_000, f"no screenshot of {page.name}: {run.stderr[-500:]}"
    return target


def _by_name(paths: list[Path], name: str) -> Path:
    return next(p for p in paths if p.name == name)


def test_pages_load_offline_with_layers_legends_and_no_js_errors(offline_maps):
    pages = [p for p in offline_maps if p.suffix == ".html" and p.name != "index.html"]  # index.html: no map
    assert len(pages) == 11
    results, console = probe(pages)
    for page in pages:
        report, uri = results[page.as_uri()], page.as_uri()
        assert console[uri] == [], f"{page.name}: JavaScript console messages {console[uri]}"
        assert report["errors"] == [] and report["leaflet"], f"{page.name}: {report['errors']}"
        assert report["base"][0].startswith("Priority Localities Index (quintiles")
        stats = [n for n in report["base"] if "LISA" in n or "Gi*" in n]
        assert stats == [
            "Clusters (LISA, FDR-corrected)", "Hotspots and coldspots (Gi*, FDR-corrected)",
            "Clusters (LISA), uncorrected", "Hotspots and coldspots (Gi*), uncorrected",
        ], stats
        assert {"Domain: Crime", "Domain: Deprivation", "Domain: Demography"} <= set(report["base"])
        assert {"Ward boundaries", "Ward names", "Priority neighbourhoods (numbered by rank)", "Micro-patrol places"} <= set(
            report["overlays"]
        ), report["overlays"]
        legends = {leg["key"]: leg for leg in report["legends"]}
        assert {"index", "lisa", "lisa_fdr", "gi", "gi_fdr", "neighbourhoods", "patrol", "domain_crime"} <= set(legends)
        # Exactly one theme legend is visible: the theme that is switched on.
        themes = [k for k, leg in legends.items() if leg["visible"] and k not in ("neighbourhoods", "patrol")]
        # The hotspot page opens on the FDR-corrected clusters, never on an uncorrected layer.
        assert themes == (["lisa_fdr"] if page.name == "hotspots.html" else ["index"]), (page.name, themes)
        assert "High-High" in legends["lisa"]["text"] and "Hotspot 99% confidence" in legends["gi"]["text"]
        # Plain-language notes explain the score and each statistic on every page.
        assert "0 = borough average" in legends["index"]["text"]
        assert "chance" in legends["lisa"]["text"] and "false discovery rate" in legends["lisa_fdr"]["text"]
        assert "hotspot is a group" in legends["gi"]["text"] and "hotspot is a group" in legends["gi_fdr"]["text"]
        for key in ("lisa", "gi"):
            assert "uncorrected" in legends[key]["text"] and "Uncorrected:" in legends[key]["text"], key
            assert "uncorrected" not in legends[f"{key}_fdr"]["text"].lower().replace("fdr-corrected", ""), key
        title = report["panels"]["title"]
        assert "Croydon (demo)" in title and PERIOD in title and "simulated data" in title
        assert "Crown copyright" in report["attribution"]
        assert report["tips"] > 0 and report["popups"] > 0
        assert report["dangerous"] == 0 and report["pwned"] == 0
    main = results[_by_name(offline_maps, "priority_localities.html").as_uri()]
    # 220 LSOAs x 7 themes, plus neighbourhood outlines and patrol places.
    assert main["tips"] >= 220 * 7
    # Neighbourhood ranks 1-9 come first; the numbered patrol places follow them.
    assert [str(r) for r in range(1, 10)] == [t for t in main["labels"] if t.isdigit()][:9]
    assert any(re.search(r"Priority score -?\d\.\d\d \(0 = borough average\), rank \d+ of 220 \(1 = highest\)", t) for t in main["texts"])
    assert any("Map class: quintile 1 of 5 (highest 20%)" in t for t in main["texts"])
    assert any("days of prison-equivalent harm" in t and "Crimes recorded" in t for t in main["texts"])
    profile = next(p for p in pages if p.parent.name == "neighbourhoods" and p.name.startswith("1-"))
    panel = results[profile.as_uri()]["panels"]["profile"]
    assert "Share of borough harm" in panel and "% of borough crime harm" in panel
    # Driver identifiers are shown by their labels.
    assert "Income deprivation" in panel or "Crime (IoD2019)" in panel or "Barriers to housing" in panel
    assert "_" not in panel.split("Top drivers", 1)[1].split("LSOAs", 1)[0]
    screenshot(_by_name(offline_maps, "priority_localities.html"), "priority_localities.png")
    screenshot(_by_name(offline_maps, "hotspots.html"), "hotspots.png")
    screenshot(profile, "neighbourhood_1.png")


def test_hostile_names_render_as_text(hostile_maps):
    fx = _fixtures()
    nb_page = next(p for p in hostile_maps if p.parent.name == "neighbourhoods" and p.name.startswith("1-"))
    pages = [_by_name(hostile_maps, "priority_localities.html"), _by_name(hostile_maps, "hotspots.html"), nb_page]
    results, console = probe(pages)
    for page in pages:
        report = results[page.as_uri()]
        assert console[page.as_uri()] == [], console[page.as_uri()]
        assert report["errors"] == [] and report["leaflet"]
        assert report["dangerous"] == 0, f"{page.name}: data became markup"
        assert report["pwned"] == 0, f"{page.name}: data became script"
        texts = "\n".join(report["texts"])
        # The hostile strings are shown literally, as text a reader can see.
        assert fx.PWN_IMG in texts
        assert fx.PWN_SCRIPT in texts
        assert fx.PWN_TEMPLATE in texts
        if page != nb_page:  # the hostile ward lies outside neighbourhood 1's view
            assert fx.PWN_SCRIPT in report["labels"]
    report = results[nb_page.as_uri()]
    assert fx.PWN_SCRIPT in report["panels"]["title"] and fx.PWN_IMG in report["panels"]["profile"]


def test_online_page_cannot_load_when_the_network_is_unreachable(browser_ready, tmp_path):
    """The contrast to the offline test: the same harness breaks a CDN-linked page."""
    bundle = _fixtures().build_bundle(DATA, places=False)
    bundle = dataclasses.replace(bundle, neighbourhoods=bundle.neighbourhoods.iloc[:1])
    online = write_maps(bundle, tmp_path, spec=MapSpec(), area=AREA, period=PERIOD, offline=False)
    page = _by_name(online, "priority_localities.html")
    results, console = probe([page])
    assert not results[page.as_uri()]["leaflet"]
    assert any("L is not defined" in line for line in console[page.as_uri()])


# Acts on the borough page like a reader: reads the layout, switches to Gi*, then
# hovers LSOAs inside priority neighbourhood 1.  HOVER_POINTS is filled in by the test.
INTERACT = r"""
function () {
  var out = {pending: true, errors: [], tips: []};
  try {
    var map = null, named = {};
    Object.keys(window).forEach(function (k) {
      try {
        var v = window[k];
        if (v instanceof L.Map) { map = v; }
        if (!(v instanceof L.GeoJSON) || !v.getLayers().length) { return; }
        var props = v.getLayers()[0].feature.properties;
        if ('c_gi_fdr' in props) { named.gi = v; }
        if ('tip' in props && Object.keys(props).length === 1 && v.options.interactive === false) { named.wards = v; }
      } catch (e) {}
    });
    var box = map.getContainer().getBoundingClientRect();
    var rect = function (el) { var r = el.getBoundingClientRect(); return {left: r.left, right: r.right, top: r.top, bottom: r.bottom}; };
    var clash = function (a, b) { return a.left < b.right && b.left < a.right && a.top < b.bottom && b.top < a.bottom; };

    var names = [].filter.call(document.querySelectorAll('.pli-label'), function (e) {
      return e.style.visibility !== 'hidden' && e.getBoundingClientRect().width > 0;
    }).map(rect);
    var numbers = [].map.call(document.querySelectorAll('.pli-number'), rect);
    out.names_shown = names.length;
    out.names_hidden = document.querySelectorAll('.pli-label').length - names.length;
    out.name_clashes = 0;
    names.forEach(function (a, i) {
      numbers.forEach(function (n) { if (clash(a, n)) { out.name_clashes += 1; } });
      names.slice(i + 1).forEach(function (b) { if (clash(a, b)) { out.name_clashes += 1; } });
    });

    var title = rect(document.querySelector('.pli-title'));
    var wb = named.wards.getBounds();
    var nw = map.latLngToContainerPoint(wb.getNorthWest()), se = map.latLngToContainerPoint(wb.getSouthEast());
    out.area_under_title = clash({left: nw.x + box.left, top: nw.y + box.top, right: se.x + box.left, bottom: se.y + box.top}, title);
    out.layers_expanded = !!document.querySelector('.leaflet-control-layers-expanded');

    document.querySelectorAll('.leaflet-control-layers-base label').forEach(function (l) {
      if (l.textContent.indexOf('Gi*, FDR') >= 0) { l.querySelector('input').click(); }
    });
    var gi = named.gi, wards = named.wards;
    out.gi_on = map.hasLayer(gi);
    var order = [];
    for (var o = map._renderer._drawFirst; o; o = o.next) { order.push(o.layer); }
    var pos = {theme: [], ward: [], outline: []};
    order.forEach(function (layer, i) {
      var p = (layer.feature || {}).properties || {};
      if (gi.hasLayer(layer)) { pos.theme.push(i); }
      else if (wards.hasLayer(layer)) { pos.ward.push(i); }
      else if (Object.keys(p).length === 1 && 'rank' in p) { pos.outline.push(i); }
    });
    out.last_theme = Math.max.apply(null, pos.theme);
    out.first_ward = Math.min.apply(null, pos.ward);
    out.last_ward = Math.max.apply(null, pos.ward);
    out.first_outline = Math.min.apply(null, pos.outline);
    out.n_outline = pos.outline.length;

    var points = HOVER_POINTS;
    var canvas = map.getContainer().querySelector('canvas');
    var step = function (k) {
      if (k >= points.length) { out.pending = false; return; }
      try {
        var p = map.latLngToContainerPoint(points[k]);
        canvas.dispatchEvent(new MouseEvent('mousemove', {clientX: box.left + p.x, clientY: box.top + p.y, bubbles: true}));
        out.tips.push([].map.call(document.querySelectorAll('.leaflet-tooltip'), function (t) { return t.textContent; }).join(' | '));
      } catch (e) { out.errors.push(String(e)); }
      setTimeout(function () { step(k + 1); }, 80);
    };
    setTimeout(function () { step(0); }, 50);
  } catch (e) { out.errors.push(String(e)); out.pending = false; }
  return out;
}
"""

# Read at phone width.
PHONE = r"""
function () {
  var out = {errors: []};
  try {
    out.layers_expanded = !!document.querySelector('.leaflet-control-layers-expanded');
    out.layers_present = !!document.querySelector('.leaflet-control-layers');
    out.title_paragraphs = [].filter.call(document.querySelectorAll('.pli-title p'), function (p) {
      return getComputedStyle(p).display !== 'none' && !p.classList.contains('pli-sensitive') && !p.classList.contains('pli-sim');
    }).length;
    var profile = document.querySelector('[data-panel="profile"]');
    out.profile_height = profile ? profile.getBoundingClientRect().height : 0;
    out.height = window.innerHeight;
    // Panels and legends on top of the map, as a share of its area (overlaps counted twice).
    var covered = 0;
    document.querySelectorAll('.pli-panel, .pli-legend, .leaflet-control-layers').forEach(function (el) {
      var r = el.getBoundingClientRect();
      if (getComputedStyle(el).display !== 'none') { covered += r.width * r.height; }
    });
    out.covered = covered / (window.innerWidth * window.innerHeight);
    if (profile) {
      var toggle = profile.querySelector('.pli-toggle');
      out.profile_toggle = toggle ? toggle.textContent : null;
      toggle.click();
      out.profile_open_height = profile.getBoundingClientRect().height;
      out.profile_open_text = profile.textContent;
    }
    out.legend_toggles = [].map.call(document.querySelectorAll('.pli-legend .pli-toggle'), function (b) {
      return getComputedStyle(b).display !== 'none' ? b.textContent : '';
    }).filter(function (t) { return t; });
  } catch (e) { out.errors.push(String(e)); }
  return out;
}
"""


def _hover_points(bundle, rank: int = 1) -> tuple[list[str], list[list[float]]]:
    nb = bundle.neighbourhoods
    codes = str(nb.loc[nb["rank"] == rank, "lsoa_codes"].iloc[0]).split(";")
    pts = bundle.lsoa.loc[codes].geometry.representative_point().to_crs("EPSG:4326")
    return codes, [[float(y), float(x)] for x, y in zip(pts.x, pts.y)]


def test_theme_switch_hover_and_layout_at_1280(offline_maps):
    bundle = _fixtures().build_bundle(DATA)
    codes, points = _hover_points(bundle)
    page = _by_name(offline_maps, "priority_localities.html")
    results, console = probe([page], INTERACT.replace("HOVER_POINTS", json.dumps(points)), size=(1280, 720))
    r = results[page.as_uri()]
    assert console[page.as_uri()] == [] and r["errors"] == [], (console, r["errors"])
    # Switching the theme keeps boundaries and outlines drawn above the new theme.
    assert r["gi_on"]
    assert r["n_outline"] == len(bundle.neighbourhoods)
    assert r["last_theme"] < r["first_ward"] <= r["last_ward"] < r["first_outline"], r
    # Inside a neighbourhood the LSOA under the mouse answers, not the outline.
    hits = [code for code, tip in zip(codes, r["tips"]) if code in tip]
    assert len(hits) >= max(1, len(codes) // 2), (r["tips"], codes)
    assert all("Gi*" in tip for code, tip in zip(codes, r["tips"]) if code in tip)
    # The title panel leaves the area free; ward names sit on no number or name.
    assert not r["area_under_title"]
    assert r["names_shown"] > 5 and r["name_clashes"] == 0, r
    assert r["layers_expanded"]


def test_phone_width_collapses_layers_and_trims_panels(offline_maps):
    main = _by_name(offline_maps, "priority_localities.html")
    nb_page = next(p for p in offline_maps if p.parent.name == "neighbourhoods" and p.name.startswith("1-"))
    results, console = probe([main, nb_page], PHONE, size=(390, 844))
    for page in (main, nb_page):
        r = results[page.as_uri()]
        assert console[page.as_uri()] == [] and r["errors"] == []
        assert r["layers_present"] and not r["layers_expanded"], page.name
        assert r["title_paragraphs"] == 0, page.name
        # The legends fold behind buttons; what stays on the map leaves most of it free.
        assert "Key" in r["legend_toggles"], r["legend_toggles"]
        assert r["covered"] < 0.25, (page.name, r["covered"])
    nb = results[nb_page.as_uri()]
    # The profile is a button until tapped, then opens with its content.
    assert nb["profile_toggle"] == "Profile" and 0 < nb["profile_height"] <= 40, nb
    assert nb["profile_open_height"] > 100 and "Population" in nb["profile_open_text"], nb


# Switches the theme through the layer control like a reader, then reads the fill colour
# of every LSOA drawn on the canvas and hovers the points. THEMES and HOVER_POINTS are
# filled in by the test.
SWITCH = r"""
function () {
  var out = {pending: true, errors: [], steps: []};
  try {
    var map = null;
    Object.keys(window).forEach(function (k) { try { if (window[k] instanceof L.Map) { map = window[k]; } } catch (e) {} });
    var box = map.getContainer().getBoundingClientRect();
    var canvas = map.getContainer().querySelector('canvas');
    var themes = THEMES, points = HOVER_POINTS;
    var hover = function (k, done) {
      if (k >= points.length) { done(); return; }
      var p = map.latLngToContainerPoint(points[k]);
      canvas.dispatchEvent(new MouseEvent('mousemove', {clientX: box.left + p.x, clientY: box.top + p.y, bubbles: true}));
      out.steps[out.steps.length - 1].tips.push(
        [].map.call(document.querySelectorAll('.leaflet-tooltip.pli-tip'), function (t) { return t.textContent; }).join(' | '));
      setTimeout(function () { hover(k + 1, done); }, 60);
    };
    var step = function (t) {
      if (t >= themes.length) { out.pending = false; return; }
      var clicked = false;
      document.querySelectorAll('.leaflet-control-layers-base label').forEach(function (l) {
        if (l.textContent.trim() === themes[t]) { l.querySelector('input').click(); clicked = true; }
      });
      var fills = {};
      for (var o = map._renderer._drawFirst; o; o = o.next) {
        var layer = o.layer, props = (layer.feature || {}).properties || {};
        if (Object.keys(props).some(function (key) { return key.indexOf('c_') === 0; })) {
          fills[layer.feature.id] = layer.options.fillColor;
        }
      }
      out.steps.push({theme: themes[t], clicked: clicked, fills: fills, tips: []});
      hover(0, function () { setTimeout(function () { step(t + 1); }, 60); });
    };
    step(0);
  } catch (e) { out.errors.push(String(e)); out.pending = false; }
  return out;
}
"""


def test_switching_the_theme_recolours_the_areas_and_changes_the_tooltip(offline_maps):
    from pli.maps.prepare import _prepare  # the page's own colours and tooltips, per LSOA

    bundle = _fixtures().build_bundle(DATA)
    prep = _prepare(bundle, MapSpec(), public=False)
    by_code = {f["id"]: f["properties"] for f in prep.lsoa_features}
    codes, points = _hover_points(bundle)
    themes = [
        ("Domain: Crime", "c_domain_crime", "tip_domain_crime"),
        ("Clusters (LISA, FDR-corrected)", "c_lisa_cluster_fdr", "tip_lisa_cluster_fdr"),
        ("Hotspots and coldspots (Gi*), uncorrected", "c_gi", "tip_gi"),
        (prep.index_classes.title, "c_index", "tip"),
    ]
    page = _by_name(offline_maps, "priority_localities.html")
    script = SWITCH.replace("THEMES", json.dumps([t[0] for t in themes])).replace("HOVER_POINTS", json.dumps(points))
    results, console = probe([page], script, size=(1280, 720))
    r = results[page.as_uri()]
    assert console[page.as_uri()] == [] and r["errors"] == [], (console, r["errors"])
    assert [s["theme"] for s in r["steps"]] == [t[0] for t in themes] and all(s["clicked"] for s in r["steps"])
    previous = None
    for step, (_, colour, tip) in zip(r["steps"], themes):
        # Every LSOA is drawn once, in the colour this theme gives it.
        assert step["fills"] == {code: props[colour] for code, props in by_code.items()}, step["theme"]
        assert step["fills"] != previous, f"{step['theme']}: switching the theme left the colours as they were"
        previous = step["fills"]
        # The tooltip under the mouse is this theme's text for that LSOA, shown as text.
        # (a patrol place under the same point shows its own tooltip beside the LSOA's)
        shown = {code: part for code, text in zip(codes, step["tips"]) for part in text.split(" | ") if code in part}
        assert len(shown) >= max(1, len(codes) // 2), (step["theme"], step["tips"])
        for code, text in shown.items():
            expected = html.unescape(re.sub(r"<[^>]+>", "", by_code[code][tip]))
            assert text == expected, (step["theme"], code)
