"""Tests for pli.maps without a browser: files, weight, escaping, offline assets, figures."""

from __future__ import annotations

import dataclasses
import importlib.util
import json
import re
import sys
from html.parser import HTMLParser
from pathlib import Path

import matplotlib.image as mpimg
import numpy as np
import pandas as pd
import pytest

from pli import maps
from pli._map_assets import escape_text, inline_assets, script_json
from pli.classes import class_colours
from pli.config import AreaSpec, MapSpec, SourceSpec
from pli.errors import InputError, PliError
from pli.maps import figures as map_figures
from pli.maps import prepare as map_prepare
from pli.maps import write_maps
from pli.maps.credits import run_credits

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
PERIOD = "2024-03 to 2025-02"
AREA = AreaSpec(name="Croydon (demo)", simulated=True)


def _fixtures():
    path = Path(__file__).resolve().parent / "fixtures" / "maps" / "bundle.py"
    spec = importlib.util.spec_from_file_location("pli_test_map_bundle", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def fx():
    if not DATA.is_dir():
        pytest.skip(f"real Croydon snapshot not found at {DATA}")
    return _fixtures()


@pytest.fixture(scope="module")
def bundle(fx):
    return fx.build_bundle(DATA)


@pytest.fixture(scope="module")
def hostile(fx):
    return fx.build_bundle(DATA, hostile=True)


def _small(bundle):
    """Two neighbourhoods are enough where the number of pages does not matter."""
    return dataclasses.replace(bundle, neighbourhoods=bundle.neighbourhoods.iloc[:2])


@pytest.fixture(scope="module")
def written(hostile, tmp_path_factory):
    """Online maps of the hostile bundle: the escaping and file tests share them."""
    out = tmp_path_factory.mktemp("maps")
    return out, write_maps(hostile, out, spec=MapSpec(), area=AREA, period=PERIOD, offline=False)


class _Links(HTMLParser):
    """Collects URL-bearing attributes of real elements (not text inside scripts)."""

    def __init__(self):
        super().__init__()
        self.urls: list[tuple[str, str, str]] = []

    def handle_starttag(self, tag, attrs):
        for name, value in attrs:
            if name in ("src", "href", "data", "srcset") and value:
                self.urls.append((tag, name, value))


def _external(html: str) -> list[tuple[str, str, str]]:
    parser = _Links()
    parser.feed(html)
    return [u for u in parser.urls if u[2].lower().startswith(("http://", "https://", "//"))]


# ------------------------------------------------------------------ files


def test_index_page_links_every_page_and_escapes_names(written, hostile):
    import html as html_lib
    import re as re_lib

    out, paths = written
    page = (out / "index.html").read_text(encoding="utf-8")
    links = [html_lib.unescape(h) for h in re_lib.findall(r'href="([^"]+)"', page)]
    assert all((out / link).is_file() for link in links), [link for link in links if not (out / link).is_file()]
    linked = set(links)
    for p in paths:
        rel = p.relative_to(out).as_posix()
        if rel != "index.html":
            assert rel in linked, f"index.html does not link {rel}"
    for name in hostile.neighbourhoods["name"]:
        if "<" in str(name):
            assert str(name) not in page
            assert html_lib.escape(str(name), quote=False).replace("<", "&lt;") in page or "&lt;" in page


def test_writes_every_page_and_figure_atomically(written, hostile):
    out, paths = written
    names = [p.relative_to(out).as_posix() for p in paths]
    assert names[:2] == ["priority_localities.html", "hotspots.html"]
    assert names[-3:] == ["priority_localities.png", "priority_neighbourhoods.png", "index.html"]
    pages = sorted(p.name for p in (out / "neighbourhoods").glob("*.html"))
    assert len(pages) == len(hostile.neighbourhoods) == 9
    ranks = sorted(int(n.split("-", 1)[0]) for n in pages)
    assert ranks == list(range(1, 10))
    # A hostile slug cannot leave the folder or put markup in a file name.
    assert "2-evil-x.html" in pages
    assert all(p.resolve().is_relative_to(out.resolve()) for p in paths)
    assert not [p for p in out.rglob("*") if p.name.endswith(".tmp")]


def test_stale_neighbourhood_pages_are_removed(bundle, tmp_path):
    stale = tmp_path / "neighbourhoods" / "12-old-place.html"
    stale.parent.mkdir(parents=True)
    stale.write_text("old")
    keep = tmp_path / "neighbourhoods" / "notes.html"
    keep.write_text("mine")
    write_maps(_small(bundle), tmp_path, spec=MapSpec(), area=AREA, period=PERIOD)
    assert not stale.exists() and keep.exists()
    assert len(list((tmp_path / "neighbourhoods").glob("[0-9]*-*.html"))) == 2


def test_borough_map_is_light(written):
    out, _ = written
    size = (out / "priority_localities.html").stat().st_size
    assert size < 3_000_000, f"borough map is {size / 1e6:.2f} MB"


# ------------------------------------------------------------------ escaping


def test_hostile_values_never_reach_the_page_as_markup(written, fx):
    out, paths = written
    for page in [p for p in paths if p.suffix == ".html"]:
        text = page.read_text(encoding="utf-8")
        for raw in ("<script>window.__pwned", "<img src=x", "onerror=\"window", "${window.__pwned", "\\x3cimg"):
            assert raw not in text, f"{page.name} carries {raw!r} unescaped"
    main = (out / "priority_localities.html").read_text(encoding="utf-8")
    # The escaped forms are there (JSON-encoded in the page), so names are shown, not dropped.
    assert escape_text(fx.PWN_IMG).replace("&", "\\u0026") in main


def test_escape_text_neutralises_html_and_template_literals():
    for raw in ('"><img src=x onerror=alert(1)>', "<script>x</script>", "${alert(1)}", "`", "\\x3c", "'"):
        safe = escape_text(raw)
        assert not set(safe) & set("<>\"'`$\\"), safe
    assert escape_text(None) == "" and escape_text(float("nan")) == ""
    assert escape_text("Thornton Heath & Norbury") == "Thornton Heath &amp; Norbury"


def test_tooltips_show_formatted_values_and_drivers(bundle):
    prep = map_prepare._prepare(bundle, MapSpec(), public=False)
    code = bundle.lsoa["score"].idxmax()
    row = bundle.lsoa.loc[code]
    tip = prep.lsoa.loc[code, "tip"]
    assert f"{row['score']:.2f}" in tip
    assert f"rank {int(row['rank'])} of {len(bundle.lsoa):,}" in tip
    assert f"{row['population']:,.0f}" in tip
    assert code in tip and row["lsoa_name"] in tip and row["ward_name"] in tip
    for i in (1, 2, 3):
        assert f"{i}. {row[f'driver_{i}']} ({row[f'driver_{i}_value']:+.2f})" in tip


# ------------------------------------------------------------------ classes and colours


def test_quantile_classes_put_the_highest_scores_in_the_darkest_class(bundle):
    prep = map_prepare._prepare(dataclasses.replace(bundle, classes="quintile"), MapSpec(), public=False)
    classes = prep.index_classes
    assert len(classes.colours) == 5 and classes.title.startswith("Priority Localities Index (quintiles")
    top = bundle.lsoa["rank"].idxmin()
    bottom = bundle.lsoa["rank"].idxmax()
    assert prep.lsoa.loc[top, "c_index"] == classes.colours[-1]
    assert prep.lsoa.loc[bottom, "c_index"] == classes.colours[0]
    counts = classes.codes.value_counts()
    assert counts.max() - counts.min() <= 1  # 220 LSOAs split into equal fifths


def test_decile_scheme_follows_the_index_deciles(bundle):
    prep = map_prepare._prepare(dataclasses.replace(bundle, classes="decile"), MapSpec(), public=False)
    classes = prep.index_classes
    assert len(classes.labels) == 10 and classes.legend_items()[0][1].startswith("Decile 1 (highest 10%)")
    first_decile = bundle.lsoa.index[bundle.lsoa["decile"] == 1]
    assert set(prep.lsoa.loc[first_decile, "c_index"]) == {classes.colours[-1]}


def test_cluster_colours_follow_convention(bundle):
    prep = map_prepare._prepare(bundle, MapSpec(), public=False)
    hh = bundle.lsoa.index[bundle.lsoa["lisa_cluster"] == "High-High"]
    assert len(hh) and set(prep.lsoa.loc[hh, "c_lisa_cluster"]) == {maps.LISA_COLOURS["High-High"]}
    hot = bundle.lsoa.index[bundle.lsoa["gi_bin"] == bundle.lsoa["gi_bin"].max()]
    assert set(prep.lsoa.loc[hot, "c_gi"]) == {maps.GI_COLOURS[int(bundle.lsoa["gi_bin"].max())]}


# ------------------------------------------------------------------ offline


def test_offline_page_links_nothing_external(bundle, written, tmp_path):
    pytest.importorskip("offlinefolium", reason="folium-offline is not installed (pip install folium-offline)")
    offline = write_maps(_small(bundle), tmp_path, spec=MapSpec(), area=AREA, period=PERIOD)
    on_html = written[1][0].read_text(encoding="utf-8")
    # The check can fail: the online page links Leaflet from a CDN.
    assert any("leaflet" in u[2] for u in _external(on_html))
    for page in [p for p in offline if p.suffix == ".html"]:
        html = page.read_text(encoding="utf-8")
        assert _external(html) == [], f"{page.name}: {_external(html)}"
        if page.name == "index.html":  # the folder's contents page: plain HTML, no script at all
            assert "<script" not in html
        else:
            assert "Leaflet 1.9" in html and "<script src=" not in html
    size = offline[0].stat().st_size
    assert size < 3_000_000, f"offline borough map is {size / 1e6:.2f} MB"


def test_offline_without_folium_offline_says_what_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "offlinefolium", None)
    with pytest.raises(PliError, match="folium-offline"):
        inline_assets('<script src="https://cdn.jsdelivr.net/npm/leaflet@1.9.3/dist/leaflet.js"></script>')


def test_public_maps_leave_patrol_places_off(bundle, tmp_path):
    paths = write_maps(_small(bundle), tmp_path, spec=MapSpec(), area=AREA, period=PERIOD, public=True)
    assert "Micro-patrol places" not in paths[0].read_text(encoding="utf-8")
    private = map_prepare._prepare(bundle, MapSpec(), public=False)
    assert private.places is not None and len(private.places) == len(bundle.patrol_places)


# ------------------------------------------------------------------ validation


def test_bad_bundle_lists_every_problem(bundle):
    broken = dataclasses.replace(
        bundle,
        lsoa=bundle.lsoa.drop(columns=["gi_label"]).to_crs("EPSG:4326"),
        wards=bundle.wards.rename(columns={"ward_name": "NAME"}),
    )
    with pytest.raises(InputError) as err:
        write_maps(broken, Path("/nonexistent"), spec=MapSpec(), area=AREA, period=PERIOD)
    msg = str(err.value)
    assert "gi_label" in msg and "EPSG:4326" in msg and "EPSG:27700" in msg and "ward_name" in msg


def test_unknown_lisa_category_is_rejected(bundle):
    lsoa = bundle.lsoa.copy()
    lsoa.loc[lsoa.index[0], "lisa_cluster"] = "HH"
    with pytest.raises(InputError, match="'HH'"):
        write_maps(
            dataclasses.replace(bundle, lsoa=lsoa), Path("/nonexistent"), spec=MapSpec(), area=AREA, period=PERIOD
        )


# ------------------------------------------------------------------ figures


def test_figures_are_print_sized_and_drawn(written):
    out, _ = written
    for name, (w, h) in {"priority_localities.png": (1654, 1840), "priority_neighbourhoods.png": (2338, 1654)}.items():
        img = mpimg.imread(out / name)
        assert img.shape[:2] == (h, w), name  # A4 width or landscape at 200 dpi
        rgb = img[..., :3]
        assert rgb.std() > 0.1, f"{name} looks blank"
        # The index figure uses the darkest YlOrRd class somewhere.
    dark = np.asarray([int(class_colours(5)[-1][i : i + 2], 16) / 255 for i in (1, 3, 5)])
    img = mpimg.imread(out / "priority_localities.png")[..., :3]
    assert (np.abs(img - dark).sum(axis=2) < 0.05).sum() > 500


# ------------------------------------------------------------------ wording and keys


def test_profile_names_driver_identifiers(bundle):
    nb = bundle.neighbourhoods.copy()
    nb.loc[nb.index[0], "top_drivers"] = "income_rate;crime_harm_rate"
    readable = map_prepare._readable_drivers(nb["top_drivers"], bundle.indicator_labels)
    # Known identifiers take their label; unknown ones are made readable, not dropped.
    assert readable.iloc[0] == "Income deprivation; Crime harm rate"
    assert "_" not in "".join(readable)


def test_patrol_tooltip_gives_units_types_and_period(bundle):
    places = bundle.patrol_places.copy()
    places["categories"] = "Burglary; Robbery"
    places["period"] = "2024-03 to 2025-02"
    places.loc[places.index[0], "categories"] = None
    prep = map_prepare._prepare(dataclasses.replace(bundle, patrol_places=places), MapSpec(), public=False)
    tips = prep.places["tip"]
    assert tips.str.contains("days of prison-equivalent harm").all()
    assert tips.str.contains("Crimes recorded: ").all()
    assert "Crime types" not in tips.iloc[0] and "Crime types: Burglary; Robbery" in tips.iloc[1]
    assert tips.str.contains("Period: 2024-03 to 2025-02").all()
    plain = map_prepare._prepare(bundle, MapSpec(), public=False).places["tip"]
    assert not plain.str.contains("Crime types|Period:").any()


def test_tooltip_states_the_map_class_and_score_meaning(bundle):
    prep = map_prepare._prepare(bundle, MapSpec(), public=False)
    top = bundle.lsoa["rank"].idxmin()
    bottom = bundle.lsoa["rank"].idxmax()
    assert "Map class: quintile 1 of 5 (highest 20%)" in prep.lsoa.loc[top, "tip"]
    assert "Map class: quintile 5 of 5 (lowest 20%)" in prep.lsoa.loc[bottom, "tip"]
    assert "(0 = borough average)" in prep.lsoa.loc[top, "tip"] and "(1 = highest)" in prep.lsoa.loc[top, "tip"]
    assert "Priority score" in prep.lsoa.loc[top, "tip_gi"]


def test_line_legend_rows_carry_width_dash_and_weight():
    from pli._map_assets import legend_html

    html = legend_html(
        "Key",
        [("#000000", "This <b>one</b>", {"width": 5, "bold": True}), ("#333333", "Others", {"dash": "dashed"}),
         ("#333333", "Hostile", {"dash": "solid;background:url(x)", "width": 99})],
        kind="line",
    )  # fmt: skip
    assert "border-top:5px solid #000000" in html and 'class="pli-strong">This &lt;b&gt;one&lt;/b&gt;' in html
    assert "border-top:3px dashed #333333" in html
    # Styles are built only from checked values.
    assert "url(" not in html and "border-top:8px solid #333333" in html


def test_figures_credit_sources_and_key_the_neighbourhoods(bundle):
    real = AreaSpec(name="Croydon", simulated=False, type="borough")
    sources = {
        "crime": SourceSpec(kind="mps_lsoa_crime", path="mps.csv", vintage=2021),
        "iod": SourceSpec(kind="iod2019", path="iod.csv"),
        "unused": SourceSpec(kind="police_uk", path="police_uk"),
    }
    credits = run_credits(sources, periods={"crime": "2025-03 to 2026-02"}, used=["crime", "iod"])
    fig = maps.plot_neighbourhoods_figure(
        dataclasses.replace(_small(bundle), credits=credits), area=real, period=PERIOD
    )
    try:
        texts = " ".join(t.get_text() for t in fig.texts).replace("\n", " ")
        # The sources the run used, with the period read and the licence; not police.uk.
        assert "Metropolitan Police Service" in texts and "2025-03 to 2026-02" in texts
        assert "English Indices of Deprivation 2019" in texts and "Open Government Licence v3.0" in texts
        assert "police.uk" not in texts
        assert "% of borough crime harm" in texts
        labels = [t.get_text() for leg in fig.legends for t in leg.get_texts()]
        assert "Priority neighbourhood outline" in labels and "Ward boundary" in labels
    finally:
        map_figures.plt.close(fig)
    fig = maps.plot_index_figure(_small(bundle), spec=MapSpec(), area=AREA, period=PERIOD)
    try:
        texts = " ".join(t.get_text() for t in fig.texts)
        assert "SIMULATED" in texts and "police.uk" not in texts
        names = [t for t in fig.axes[0].texts if t.get_fontsize() == 6.5]
        assert names and len(names) <= len(bundle.wards)
    finally:
        map_figures.plt.close(fig)


# ------------------------------------------------------------------ significance layers


def _base_layers(html: str) -> tuple[list[str], set[str]]:
    """Layer-switcher names of the base layers, in order, and the names added to the map at load."""
    block = re.search(r"base_layers : \{(.*?)\}", html, re.S)
    assert block, "no layer control on the page"
    pairs = re.findall(r'"([^"]+)" : ((?:geo_json|theme_layer)_[0-9a-f]+)', block.group(1))
    shown = {name for name, var in pairs if re.search(rf"{var}\.addTo\(map_", html)}
    return [name for name, _ in pairs], shown


def test_maps_lead_with_fdr_results_and_label_the_uncorrected_layers(written, bundle):
    out, paths = written
    for page in [p for p in paths if p.suffix == ".html" and p.name != "index.html"]:  # index.html has no map
        html = page.read_text(encoding="utf-8")
        names, shown = _base_layers(html)
        stats = [n for n in names if "LISA" in n or "Gi*" in n]
        # Corrected layers come first in the switcher; every other one says "uncorrected".
        assert stats == [
            "Clusters (LISA, FDR-corrected)", "Hotspots and coldspots (Gi*, FDR-corrected)",
            "Clusters (LISA), uncorrected", "Hotspots and coldspots (Gi*), uncorrected",
        ], (page.name, stats)
        expected = {"Clusters (LISA, FDR-corrected)"} if page.name == "hotspots.html" else {names[0]}
        assert shown == expected, (page.name, shown)
        text = re.sub(r"\\u([0-9a-fA-F]{4})", lambda m: chr(int(m.group(1), 16)), html)
        assert "Clusters (LISA), uncorrected: pseudo p &lt; 0.05" in text
        assert "Hotspots and coldspots (Gi*), uncorrected confidence" in text
        assert "Clusters (LISA, FDR-corrected, q &lt; 0.05)" in text
        assert "Uncorrected: each area tested on its own" in text
    # Each layer colours its own bins: here 6 LSOAs are 99% hot spots uncorrected, 2 after FDR.
    lsoa = bundle.lsoa.copy()
    lsoa["gi_bin"], lsoa["gi_bin_fdr"] = 0, 0
    lsoa.iloc[:6, lsoa.columns.get_loc("gi_bin")] = 3
    lsoa.iloc[:2, lsoa.columns.get_loc("gi_bin_fdr")] = 3
    lsoa["gi_label"] = lsoa["gi_bin"].map({3: "Hotspot 99%", 0: "Not significant"})
    lsoa["gi_label_fdr"] = lsoa["gi_bin_fdr"].map({3: "Hotspot 99%", 0: "Not significant"})
    prep = map_prepare._prepare(dataclasses.replace(bundle, lsoa=lsoa), MapSpec(), public=False)
    hot = maps.GI_COLOURS[3]
    assert (prep.lsoa["c_gi"] == hot).sum() == 6 and (prep.lsoa["c_gi_fdr"] == hot).sum() == 2
    code = lsoa.index[4]
    assert "Gi* (uncorrected): <b>Hotspot 99%" in prep.lsoa.loc[code, "tip_gi"]
    assert "Gi* (FDR-corrected): <b>Not significant" in prep.lsoa.loc[code, "tip_gi_fdr"]


# ------------------------------------------------------------------ offline by default, basemaps, credits


def _config_with_maps(maps_section):
    import yaml

    from pli.config import parse_config

    data = yaml.safe_load((Path(__file__).resolve().parents[1] / "configs" / "croydon-demo.yml").read_text())
    data["maps"] = maps_section
    return parse_config(data)


def test_pages_are_offline_by_default_and_online_only_when_asked(bundle, tmp_path):
    pytest.importorskip("offlinefolium", reason="folium-offline is not installed (pip install folium-offline)")
    small = dataclasses.replace(_small(bundle), neighbourhoods=bundle.neighbourhoods.iloc[:1])
    default = write_maps(small, tmp_path / "default", spec=MapSpec(tiles="none"), area=AREA, period=PERIOD)
    online = write_maps(small, tmp_path / "online", spec=MapSpec(online=True, tiles="none"), area=AREA, period=PERIOD)
    for page in [p for p in default if p.suffix == ".html"]:
        html = page.read_text(encoding="utf-8")
        assert _external(html) == [], page.name
        if page.name != "index.html":
            # The failure message is in the page, shown unless the map's script hides it.
            assert 'id="pli-load-error"' in html and "The map could not be drawn" in html
            assert html.index("window.pliMapFailed") < html.index("Leaflet"), "the guard must run before Leaflet"
    linked = {u[2] for u in _external((tmp_path / "online" / "priority_localities.html").read_text(encoding="utf-8"))}
    assert "https://cdn.jsdelivr.net/npm/leaflet@1.9.3/dist/leaflet.js" in linked
    assert [p.name for p in online] == [p.name for p in default]


def test_maps_offline_and_online_keys_parse_and_contradictions_are_named():
    from pli.config import ConfigError

    assert _config_with_maps({}).maps.inline_assets
    assert _config_with_maps({"offline": True}).maps.inline_assets  # old configs keep working
    assert not _config_with_maps({"offline": False}).maps.inline_assets
    assert not _config_with_maps({"online": True}).maps.inline_assets
    with pytest.raises(ConfigError, match="maps.offline: true contradicts maps.online: true"):
        _config_with_maps({"online": True, "offline": True})


@pytest.mark.parametrize("tiles, message", [
    ("esri-gray", "did you mean 'esri-grey'"),
    ("https://tiles.example/{z}/{x}/{y}.png", "a tile URL needs its attribution"),
    ({"url": "ftp://tiles.example/{z}/{x}/{y}.png", "attribution": "Us"}, "expected an http:// or https:// address"),
    ({"url": "https://tiles.example/{z}/{y}.png", "attribution": "Us"}, "the template lacks {x}"),
    ({"url": "https://tiles.example/{z}/{x}/{y}.png"}, "maps.tiles.attribution: required"),
    ({"url": "https://{s}.tiles.example/{z}/{x}/{y}.png", "attribution": "Us"}, "maps.tiles.subdomains"),
    ({"url": "https://tiles.example/{z}/{x}/{y}.png?k={{7*7}}", "attribution": "Us"}, "unknown placeholder"),
    ({"url": "https://tiles.example/{z}/{x}/{y}.png", "attribution": "Us", "max_zoom": 30}, "expected 1 to 22"),
    ({"url": "https://tiles.example/{z}/{x}/{y}.png", "atribution": "Us"}, "did you mean 'attribution'"),
])  # fmt: skip
def test_bad_tile_settings_say_what_is_wrong(tiles, message):
    from pli.config import ConfigError

    with pytest.raises(ConfigError) as err:
        _config_with_maps({"tiles": tiles})
    assert message in str(err.value)


def test_tile_presets_none_and_own_server_reach_the_page(bundle, tmp_path):
    small = dataclasses.replace(_small(bundle), neighbourhoods=bundle.neighbourhoods.iloc[:1])
    own = {"url": "https://tiles.council.example/os/{z}/{x}/{y}.png", "attribution": "Contains OS data <b>2025</b>",
           "max_zoom": 20, "name": "OS Light"}
    cases = {"none": "none", "osm": "osm", "own": _config_with_maps({"tiles": own}).maps.tiles, "legacy": False}
    pages = {}
    for key, tiles in cases.items():
        written = write_maps(small, tmp_path / key, spec=MapSpec(tiles=tiles), area=AREA, period=PERIOD, offline=False)
        pages[key] = next(p for p in written if p.name == "priority_localities.html").read_text(encoding="utf-8")
    assert "L.tileLayer" not in pages["none"] and "L.tileLayer" not in pages["legacy"]
    for html in (pages["none"], pages["legacy"]):  # no basemap: names and a scale still give bearings
        assert "L.control.scale" in html and '"pane": "pli-names"' not in html and "pli-names" in html
    assert "https://tile.openstreetmap.org/{z}/{x}/{y}.png" in pages["osm"] and "OpenStreetMap" in pages["osm"]
    own_html = pages["own"]
    assert "https://tiles.council.example/os/{z}/{x}/{y}.png" in own_html
    # The attribution is text: its markup is escaped, never drawn.
    assert "Contains OS data \\u0026lt;b\\u0026gt;2025" in own_html and "<b>2025</b>" not in own_html
    assert '"maxZoom": 20' in own_html and "tileerror" in own_html


def test_credits_name_the_sources_the_run_used_with_periods_and_licences():
    from pli.maps.credits import long_attribution, short_attribution

    sources = {
        "crime": SourceSpec(kind="mps_lsoa_crime", path="data/mps.csv", vintage=2021),
        "iod": SourceSpec(kind="iod2019", path="iod.csv"),
        "ages": SourceSpec(kind="census2021", path="ts007.csv", vintage=2021),
        "points": SourceSpec(kind="police_uk", path="police_uk"),
        "local": SourceSpec(kind="lsoa_table", path="council/asb_cases.csv"),
        "track_only": SourceSpec(kind="police_uk", path="other"),
    }
    periods = {"crime": "2025-03 to 2026-02", "points": "2024-03 to 2025-02"}
    credits = run_credits(sources, periods=periods, used=["crime", "iod", "ages", "points", "local"], year=2026)
    short = short_attribution(credits)
    assert short.startswith("Boundaries: ONS, OS \u00a9 Crown copyright and database right 2026")
    assert "Crime: Metropolitan Police (London Datastore), 2025-03 to 2026-02" in short
    assert "Crime: police.uk, 2024-03 to 2025-02" in short
    assert "Deprivation: IoD2019 (MHCLG)" in short and "Population: Census 2021 (ONS)" in short
    assert "Local: asb_cases.csv" in short and "other" not in short
    full = long_attribution(credits)
    assert "Local: asb_cases.csv (local data). Licence as supplied." in full
    assert all(line.endswith("Open Government Licence v3.0.") for line in full if "asb_cases" not in line)
    demo = short_attribution(run_credits(sources, used=["crime", "ages"], simulated=True))
    assert "Crime: SIMULATED by pli (demo)" in demo and "Population: Census 2021 (ONS)" in demo
    assert "Metropolitan" not in demo
    # Two sources of one publisher are told apart by their names; a Met table and police.uk by publisher.
    twice = short_attribution(run_credits(sources, periods=periods, used=["points", "track_only"], year=2026))
    assert "Crime (points): police.uk, 2024-03 to 2025-02" in twice and "Crime (track_only): police.uk" in twice
    assert "(crime)" not in short


def test_neighbourhood_numbers_are_placed_apart_inside_their_areas(bundle):
    from pli.maps.placement import MIN_GAP_M, number_positions

    nb = bundle.neighbourhoods
    reps = nb.geometry.representative_point()
    placed = number_positions(nb)
    assert placed.equals(number_positions(nb))  # deterministic
    assert placed.within(nb.geometry).all()
    def nearest(points):
        return pd.Series([points.drop(i).distance(points[i]).min() for i in points.index], index=points.index)

    # On this fixture two representative points lie 568 m apart; placed, every pair is at least 850 m.
    assert nearest(reps).min() < MIN_GAP_M <= nearest(placed).min()
    # Rank 1 keeps its central spot.
    first = nb.index[nb["rank"] == nb["rank"].min()][0]
    assert placed.loc[first].equals(reps.loc[first])


def test_neighbourhood_pages_without_patrol_places_say_why(bundle, tmp_path):
    small = dataclasses.replace(
        _small(bundle), patrol_places=None,
        patrol_note="No micro-patrol places: patrols are not planned in this run (no patrols: source in the config).",
    )
    written = write_maps(small, tmp_path, spec=MapSpec(tiles="none"), area=AREA, period=PERIOD, offline=False)
    for page in [p for p in written if p.parent.name == "neighbourhoods"]:
        text = page.read_text(encoding="utf-8")
        assert "patrols are not planned in this run" in text and "patrol-none" in text, page.name
    # With places elsewhere, a neighbourhood without any names the floor it missed.
    places = bundle.patrol_places
    rank_2 = bundle.neighbourhoods["rank"].sort_values().iloc[1]
    only_first = dataclasses.replace(
        _small(bundle), patrol_places=places[places["neighbourhood_rank"] != rank_2],
        patrol_floor="A place is planned only with at least 3 crimes of the patrol types in the window.",
    )
    written = write_maps(
        only_first, tmp_path / "b", spec=MapSpec(tiles="none"), area=AREA, period=PERIOD, offline=False
    )
    second = next(p for p in written if p.name.startswith(f"{rank_2}-")).read_text(encoding="utf-8")
    assert "none cleared the floor. A place is planned only with at least 3 crimes" in second


# ------------------------------------------------------------------ shared theme geometry


def test_each_lsoa_geometry_is_on_a_page_once_for_all_themes(written, hostile):
    out, paths = written
    page = out / "priority_localities.html"
    html = page.read_text(encoding="utf-8")
    names, _ = _base_layers(html)
    assert len(names) >= 7  # index, the domains, LISA and Gi* with and without FDR
    shared = re.findall(r"var (shared_features_[0-9a-f]+) = (\{.*?\});\n", html, re.S)
    assert len(shared) == 1, "the page should hold one LSOA collection"
    features = json.loads(shared[0][1])["features"]
    codes = [escape_text(c) for c in hostile.lsoa.index]
    assert sorted(f["id"] for f in features) == sorted(codes)
    for f in features:
        # Each LSOA's outline is written once, not once per theme.
        assert html.count(json.dumps(f["geometry"]["coordinates"])) == 1, f["id"]
        assert html.count(f'"id": {script_json(f["id"])}') == 1, f["id"]
        # The feature carries every theme's colour and tooltip.
        themes = {"c_index", "tip", "c_gi_fdr", "tip_gi_fdr", "c_lisa_cluster", "tip_lisa_cluster"}
        assert themes <= set(f["properties"])
    # Every theme in the layer switcher draws from that one collection.
    assert html.count(f"pliThemeLayer({shared[0][0]},") == len(names)
