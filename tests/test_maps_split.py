"""Area maps split into parts above ``maps.split_above`` (pli.maps.split), on the Croydon LSOAs."""

from __future__ import annotations

import dataclasses
import html as html_lib
import importlib.util
import json
import re
from pathlib import Path

import numpy as np
import pytest

from pli._map_assets import escape_text
from pli.area.selection import read_area_lookup
from pli.config import AreaSpec, ConfigError, MapSpec
from pli.config.specs import AreaLookupSpec
from pli.errors import InputError
from pli.maps import write_maps
from pli.maps.credits import run_credits, short_attribution
from pli.maps.split import lsoa_parts, map_parts, part_of_lsoas
from pli.maps.split_by_area import MIN_AUTHORITY_LSOAS, lad_name_from_lsoa_name

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
PERIOD = "2024-03 to 2025-02"
AREA = AreaSpec(name="Croydon (demo)", simulated=True)
# Croydon's 220 LSOAs in 28 wards: a threshold of 60 gives several parts of whole wards.
SPLIT = 60
PAGES = ("priority_localities", "hotspots")

pytestmark = pytest.mark.shared


def _fixtures():
    path = Path(__file__).resolve().parent / "fixtures" / "maps" / "bundle.py"
    spec = importlib.util.spec_from_file_location("pli_test_map_bundle_split", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def fx():
    if not DATA.is_dir():
        pytest.skip(f"real Croydon snapshot not found at {DATA}")
    return _fixtures()


@pytest.fixture(scope="module")
def hostile(fx):
    bundle = fx.build_bundle(DATA, hostile=True)
    return dataclasses.replace(bundle, neighbourhoods=bundle.neighbourhoods.iloc[:2])


@pytest.fixture(scope="module")
def split(hostile, tmp_path_factory):
    out = tmp_path_factory.mktemp("split")
    paths = write_maps(hostile, out, spec=MapSpec(split_above=SPLIT), area=AREA, period=PERIOD, offline=False)
    return out, paths


def _part_files(out: Path, page: str) -> list[Path]:
    return sorted(out.glob(f"{page}-part-*.html"))


def _feature_ids(text: str) -> set[str]:
    # The page's one LSOA collection: its features hold every theme's colour, c_index among them.
    return set(re.findall(r'"id": "([^"]+)", "properties": \{[^}]*"c_index"', text))


def test_parts_hold_whole_wards_of_at_most_the_threshold(hostile):
    parts = lsoa_parts(hostile, SPLIT)
    counts = np.bincount(parts)
    assert len(counts) > 3 and counts.min() > 0 and counts.max() <= SPLIT
    per_ward = hostile.lsoa.assign(part=parts).groupby("ward_code")["part"].nunique()
    assert (per_ward == 1).all()


def test_part_of_lsoas_keeps_an_oversized_area_whole():
    wards = np.array([0, 0, 0, 0, 1])
    xy = np.array([[0, 0], [1, 0], [2, 0], [3, 0], [50, 0]], float)
    assert part_of_lsoas(wards, xy, 2).tolist() == [0, 0, 0, 0, 1]


def test_parts_cover_every_lsoa_exactly_once(split, hostile):
    out, _ = split
    expected = {escape_text(c) for c in hostile.lsoa.index}
    files = _part_files(out, "priority_localities")
    assert len(files) == len(np.unique(lsoa_parts(hostile, SPLIT)))
    seen: list[str] = []
    for f in files:
        seen += sorted(_feature_ids(f.read_text(encoding="utf-8")))
    assert len(seen) == len(set(seen)) == len(hostile.lsoa)
    assert {html_lib.unescape(s.replace("\\u0026", "&")) for s in seen} == {
        html_lib.unescape(e) for e in expected}


def test_a_parts_hotspot_page_opens_its_one_detailed_page_on_the_clusters(split):
    out, _ = split
    detailed = _part_files(out, "priority_localities")
    links = _part_files(out, "hotspots")
    assert [f.name.replace("hotspots", "priority_localities", 1) for f in links] == [f.name for f in detailed]
    for link, page in zip(links, detailed):
        text = link.read_text(encoding="utf-8")
        assert f'content="0; url={page.name}#hotspots"' in text and f'href="{page.name}#hotspots"' in text
        assert "<script" not in text and len(text) < 2000
        body = page.read_text(encoding="utf-8")
        assert '"hotspots"' in body and "window.location.hash" in body


def test_overview_has_no_lsoa_layer_and_links_every_part(split):
    out, _ = split
    for page in PAGES:
        text = (out / f"{page}.html").read_text(encoding="utf-8")
        assert not _feature_ids(text), "the overview carries LSOA polygons"
        for f in _part_files(out, page):
            assert f.name in text
    index = (out / "index.html").read_text(encoding="utf-8")
    for f in _part_files(out, "priority_localities") + _part_files(out, "hotspots"):
        assert f'href="{f.name}"' in index


def test_every_link_resolves(split):
    out, paths = split
    for p in [p for p in paths if p.suffix == ".html"]:
        text = p.read_text(encoding="utf-8").replace("\\u0026", "&").replace('\\"', '"')
        for href in re.findall(r'href="([^"#:]+\.html)"', text):
            target = (p.parent / html_lib.unescape(href)).resolve()
            assert target.is_file(), f"{p.name} links {href}, which is not there"


def _legend_keys(text: str) -> set[str]:
    return set(re.findall(r"setAttribute\('data-legend', \"([^\"]+)\"\)", text))


def _in_script(text: str) -> str:
    """``text`` as Jinja's ``tojson`` writes it into a page's script."""
    return json.dumps(text).replace("&", "\\u0026").replace("<", "\\u003c").replace(">", "\\u003e").replace(
        "'", "\\u0027")


def test_every_part_has_its_legends_and_credits(split, single, hostile):
    out, _ = split
    credit = _in_script(escape_text(short_attribution(hostile.credits or run_credits(None))))
    whole = _legend_keys((single / "priority_localities.html").read_text(encoding="utf-8"))
    assert {"index", "lisa_fdr", "gi_fdr", "lisa", "gi", "neighbourhoods"} <= whole
    for page in PAGES:
        overview = (out / f"{page}.html").read_text(encoding="utf-8")
        assert credit in overview
        context = whole & {"neighbourhoods", "patrol"}
        assert _legend_keys(overview) == context | {"overview"}, "the overview has no LSOA theme"
    for f in _part_files(out, "priority_localities"):
        text = f.read_text(encoding="utf-8")
        assert credit in text, f"{f.name} lacks the credits"
        assert _legend_keys(text) == whole, f.name


def test_hostile_values_stay_escaped_in_every_page(split):
    out, paths = split
    for page in [p for p in paths if p.suffix == ".html"]:
        text = page.read_text(encoding="utf-8")
        for raw in ("<script>window.__pwned", "<img src=x", "onerror=\"window", "${window.__pwned", "\\x3cimg"):
            assert raw not in text, f"{page.name} carries {raw!r} unescaped"


@pytest.fixture(scope="module")
def single(hostile, tmp_path_factory):
    out = tmp_path_factory.mktemp("single")
    write_maps(hostile, out, spec=MapSpec(), area=AREA, period=PERIOD, offline=False)
    return out


def test_below_the_threshold_the_single_page_is_unchanged(hostile, single, tmp_path):
    one = sorted(p for p in single.rglob("*") if p.is_file())
    at = write_maps(hostile, tmp_path / "at", spec=MapSpec(split_above=len(hostile.lsoa)), area=AREA,
                    period=PERIOD, offline=False)
    at = sorted(at)
    assert [p.relative_to(single) for p in one] == [p.relative_to(tmp_path / "at") for p in at]
    for a, b in zip(one, at):
        assert a.read_bytes() == b.read_bytes(), a.name
    assert not list((tmp_path / "at").glob("*-part-*.html"))
    assert _feature_ids((tmp_path / "at" / "priority_localities.html").read_text(encoding="utf-8"))


def test_stale_parts_go_when_the_area_is_one_page_again(hostile, split, tmp_path):
    old = tmp_path / "priority_localities-part-07.html"
    old.write_text("old")
    write_maps(hostile, tmp_path, spec=MapSpec(), area=AREA, period=PERIOD, offline=False)
    assert not old.exists()


def test_split_above_must_be_a_positive_whole_number(hostile, tmp_path):
    for bad in (0, 2.5, True):
        with pytest.raises(ConfigError, match="maps.split_above"):
            write_maps(hostile, tmp_path, spec=MapSpec(split_above=bad), area=AREA, period=PERIOD)


# --- Split by local authority (pli.maps.split_by_area) ------------------------------------------

TINY = "Tiny Town"


def _authorities(bundle, hostile_name: str):
    """Croydon's wards dealt into three authorities west to east, plus one ward alone (a small one).

    The LSOAs are renamed as ONS names them ("<authority> 001A"); the hostile LSOA name of
    the fixture stays, so one LSOA's authority is unknown.
    """
    wards = bundle.wards
    order = list(wards.geometry.representative_point().x.sort_values(kind="stable").index)
    third = len(order) // 3
    names = {w: ("Westborough" if i < third else "Middleham" if i < 2 * third else hostile_name)
             for i, w in enumerate(order)}
    names[order[third + third // 2]] = TINY
    lad = bundle.lsoa["ward_code"].map(names)
    number = lad.groupby(lad).cumcount() + 1
    renamed = lad + " " + number.map("{:03d}".format) + "A"
    lsoa = bundle.lsoa.assign(lsoa_name=renamed.where(~bundle.lsoa["lsoa_name"].str.contains("<"),
                                                      bundle.lsoa["lsoa_name"]))
    return dataclasses.replace(bundle, lsoa=lsoa), lad


@pytest.fixture(scope="module")
def by_lad(fx, hostile, tmp_path_factory):
    bundle, lad = _authorities(hostile, fx.PWN_SCRIPT)
    out = tmp_path_factory.mktemp("by_lad")
    paths = write_maps(bundle, out, spec=MapSpec(split_above=SPLIT), area=AREA, period=PERIOD, offline=False)
    return bundle, lad, out, paths


def _lad_files(out: Path, page: str) -> list[Path]:
    return sorted(p for p in out.glob(f"{page}_*.html"))


def test_lad_names_come_from_the_ons_lsoa_names(hostile):
    found = lad_name_from_lsoa_name(hostile.lsoa["lsoa_name"])
    assert found.isna().sum() == 1, "only the hostile LSOA name is not of the ONS form"
    assert set(found.dropna()) == {"Croydon"}
    # One authority above the threshold is not split by authority: the parts stay by place.
    assert not map_parts(hostile, SPLIT).by_authority


def test_one_page_per_authority_small_one_merged(by_lad, fx):
    bundle, lad, out, _ = by_lad
    assert (lad == TINY).sum() < MIN_AUTHORITY_LSOAS
    for page in PAGES:
        files = _lad_files(out, page)
        assert len(files) == 3, [f.name for f in files]
        assert not _part_files(out, page), "parts by place written beside the authorities"
        for f in files:
            assert re.fullmatch(rf"{page}_[A-Za-z0-9-]+\.html", f.name)
        if page == "hotspots":  # links opening the authority's one page on its clusters
            assert all("#hotspots" in f.read_text(encoding="utf-8") for f in files)
            continue
        seen: dict[str, str] = {}
        for f in files:
            for code in _feature_ids(f.read_text(encoding="utf-8")):
                assert code not in seen, f"{code} on {f.name} and {seen[code]}"
                seen[code] = f.name
        assert len(seen) == len(bundle.lsoa)
        # Every authority is whole on one page, and the small one is on a neighbour's.
        page_of = lad.rename(index=lambda c: escape_text(c)).groupby(level=0).first()
        pages_per_lad = {name: {seen[c] for c in page_of.index[page_of == name]} for name in lad.unique()}
        assert all(len(v) == 1 for v in pages_per_lad.values()), pages_per_lad
        host = pages_per_lad[TINY].pop()
        text = (out / host).read_text(encoding="utf-8")
        assert f"with {TINY}" in text and f"{page}_tiny-town.html" != host


def test_authority_titles_are_escaped(by_lad, fx):
    _, _, out, paths = by_lad
    hostile_page = [f for f in _lad_files(out, "priority_localities") if "script" in f.name]
    assert len(hostile_page) == 1
    text = hostile_page[0].read_text(encoding="utf-8")
    assert escape_text(fx.PWN_SCRIPT) in text
    for p in [p for p in paths if p.suffix == ".html"]:
        assert fx.PWN_SCRIPT not in p.read_text(encoding="utf-8"), p.name


def test_index_lists_every_authority_with_its_map(by_lad, fx):
    bundle, lad, out, _ = by_lad
    index = (out / "index.html").read_text(encoding="utf-8")
    table = index[index.index("Maps by local authority"):index.index("Priority neighbourhoods</h2>")]
    rows = re.findall(r'<tr><td><a href="([^"]+)">([^<]+)</a></td><td class="num">(\d+)</td><td>([^<]*)</td>',
                      table)
    assert {html_lib.unescape(name) for _, name, _, _ in rows} == set(lad.unique())
    counts = lad.value_counts()
    # The hostile LSOA (no authority in its name) joins its nearest neighbour's authority.
    assert sum(int(n) for _, _, n, _ in rows) == len(bundle.lsoa)
    for href, name, n, _ in rows:
        assert (out / html_lib.unescape(href)).is_file()
        assert abs(int(n) - counts[html_lib.unescape(name)]) <= 1
    listed = [int(r) for *_, nbs in rows for r in re.findall(r"\d+", nbs.split("(", 1)[-1]) if "(" in nbs]
    assert sorted(listed) == sorted(bundle.neighbourhoods["rank"].astype(int))
    assert "Code</th>" not in table, "no codes are known from names alone"


def test_overview_draws_authorities_linking_their_pages(by_lad):
    _, lad, out, _ = by_lad
    for page in PAGES:
        text = (out / f"{page}.html").read_text(encoding="utf-8")
        assert not _feature_ids(text)
        assert "Local authorities (overview)" in text
        for f in _lad_files(out, page):
            assert f.name in text
        assert text.count("Open the map of") == lad.nunique(), "one area per authority, each with its link"


def test_lookup_codes_name_the_files(hostile):
    codes = {"Westborough": "E09000901", "Middleham": "E09000902"}
    west = hostile.lsoa.geometry.representative_point().x < hostile.lsoa.geometry.representative_point().x.median()
    lsoa = hostile.lsoa.assign(lad_code=np.where(west, codes["Westborough"], codes["Middleham"]),
                               lad_name=np.where(west, "Westborough", "Middleham"))
    parts = map_parts(dataclasses.replace(hostile, lsoa=lsoa), SPLIT)
    assert parts.by_authority and set(parts.slugs) == set(codes.values())
    assert parts.file("hotspots", 0) == f"hotspots_{parts.slugs[0]}.html"
    assert list(parts.authorities["name"]) == ["Middleham", "Westborough"]


def test_area_lookup_reads_authority_names(tmp_path):
    csv = tmp_path / "lookup.csv"
    csv.write_text("LSOA11CD,LAD22CD,LAD22NM\nE01000001,E09000001,City of London\n", encoding="utf-8")
    spec = AreaLookupSpec(path=str(csv), lsoa_column="LSOA11CD", lad_column="LAD22CD", lad_name_column="LAD22NM")
    frame = read_area_lookup(spec)
    assert frame.loc[0, "lad_name"] == "City of London" and frame.loc[0, "lad"] == "E09000001"
    bad = dataclasses.replace(spec, lad_name_column="LAD22NMW")
    with pytest.raises(InputError, match="lad_name_column"):
        read_area_lookup(bad)


def test_authority_pages_go_when_the_area_is_one_page_again(by_lad, hostile, tmp_path):
    old = tmp_path / "hotspots_E09000901.html"
    old.write_text("old")
    write_maps(hostile, tmp_path, spec=MapSpec(), area=AREA, period=PERIOD, offline=False)
    assert not old.exists()


# --- Names thin with scale (LabelLayer(fit=True)) ------------------------------------------------

THIN_PROBE = r"""
function () {
  var out = {errors: [], pending: true};
  try {
    var map = null;
    Object.keys(window).forEach(function (k) {
      try { if (window[k] instanceof L.Map) { map = window[k]; } } catch (e) {}
    });
    var names = map._pliMarks.filter(function (m) { return m.el.closest('.leaflet-pli-names-pane'); });
    out.total = names.length;
    out.with_extent = names.filter(function (m) { return m.extent; }).length;
    // Shown names, and those wider or taller than their area's box on screen.
    var count = function () {
      var shown = 0, misfit = 0;
      names.forEach(function (m) {
        if (m.el.style.visibility === 'hidden') { return; }
        shown += 1;
        var r = m.el.getBoundingClientRect();
        var nw = map.latLngToContainerPoint([m.extent[3], m.extent[0]]);
        var se = map.latLngToContainerPoint([m.extent[1], m.extent[2]]);
        if (r.width > se.x - nw.x + 1 || r.height > se.y - nw.y + 1) { misfit += 1; }
      });
      return [shown, misfit];
    };
    var a = count();
    out.initial = a[0]; out.initial_misfit = a[1];
    map.once('zoomend', function () {
      setTimeout(function () {
        var b = count(); out.zoomed = b[0]; out.zoomed_misfit = b[1]; out.pending = false;
      }, 300);
    });
    map.setZoom(map.getZoom() + 2, {animate: false});
  } catch (e) { out.errors.push(String(e)); out.pending = false; }
  return out;
}
"""


def _browser():
    path = Path(__file__).resolve().parent / "test_maps_browser.py"
    spec = importlib.util.spec_from_file_location("pli_test_maps_browser_split", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.browser
def test_many_names_thin_with_scale(hostile, tmp_path):
    browser = _browser()
    browser._need(browser.CHROMIUM.exists(), f"{browser.CHROMIUM} is missing")
    # Every LSOA its own named upper-layer area: 220 names on one page, as an MSOA page
    # of a force area would have.
    lsoa = hostile.lsoa.assign(ward_code=hostile.lsoa.index, ward_name=hostile.lsoa["lsoa_name"])
    wards = lsoa[["lsoa_name", "geometry"]].rename(columns={"lsoa_name": "ward_name"})
    wards.index.name = "ward_code"
    bundle = dataclasses.replace(hostile, lsoa=lsoa, wards=wards, upper_layer_label="LSOA area")
    write_maps(bundle, tmp_path, spec=MapSpec(), area=AREA, period=PERIOD, offline=True)
    results, _ = browser.probe([tmp_path / "priority_localities.html"], THIN_PROBE)
    r = next(iter(results.values()))
    assert not r["errors"], r["errors"]
    assert r["total"] == r["with_extent"] == len(lsoa)
    assert 0 < r["initial"] <= 80, r
    assert r["zoomed"] > r["initial"], r
    assert r["initial_misfit"] == r["zoomed_misfit"] == 0, r


def test_names_thin_by_the_count_each_page_shows(hostile, tmp_path):
    """Thinning follows the names a page shows: the overview of 220 names thins, a part
    showing 60 or fewer does not, though the area has more."""
    lsoa = hostile.lsoa.assign(ward_code=hostile.lsoa.index, ward_name=hostile.lsoa["lsoa_name"])
    wards = lsoa[["lsoa_name", "geometry"]].rename(columns={"lsoa_name": "ward_name"})
    wards.index.name = "ward_code"
    bundle = dataclasses.replace(hostile, lsoa=lsoa, wards=wards, upper_layer_label="LSOA area")
    write_maps(bundle, tmp_path, spec=MapSpec(split_above=20), area=AREA, period=PERIOD, offline=False)

    area_names = set(wards["ward_name"].astype(str))

    def shown_names(page: Path) -> list[dict]:
        layers = [json.loads(m)["features"] for m in re.findall(r"var data = (\{.*?\});\n",
                                                                 page.read_text(encoding="utf-8"))]
        names = [f for f in layers if f and all(x["properties"]["label"] in area_names for x in f)]
        assert len(names) == 1, page.name
        return names[0]

    overview = shown_names(tmp_path / "priority_localities.html")
    assert len(overview) == len(lsoa) and all("extent" in f["properties"] for f in overview)
    parts = _part_files(tmp_path, "priority_localities")
    for page in parts:
        names = shown_names(page)
        assert len(names) <= 60, page.name
        assert not any("extent" in f["properties"] for f in names), page.name


def test_a_force_area_run_is_split_by_the_lookups_authorities(tmp_path):
    """``pli index`` on West Yorkshire LSOAs of the Calderdale fixture, authorities from area.lookup."""
    from pli.area.init import init_config
    from pli.config import load_config
    from pli.pipeline import run_index

    data = Path(__file__).resolve().parent / "fixtures" / "calderdale"
    made = init_config(data, police_force="West Yorkshire Police", out=tmp_path / "wy.yml")
    cfg = load_config(made.path, data_dir=data)
    lookup = dataclasses.replace(cfg.area.lookup, lad_column="Local authority code",
                                 lad_name_column="Local authority name")
    cfg = dataclasses.replace(cfg, area=dataclasses.replace(cfg.area, lookup=lookup),
                              maps=dataclasses.replace(cfg.maps, split_above=100))
    run_index(cfg, out_dir=tmp_path / "output", maps_dir=tmp_path / "maps", offline=False, patrols=False)
    maps = tmp_path / "maps"
    # Calderdale (128 LSOAs) and Bradford (31) have pages; Kirklees (29, under 30) shares its neighbour's.
    assert sorted(p.name for p in maps.glob("priority_localities_*.html")) == [
        "priority_localities_E08000032.html", "priority_localities_E08000033.html"]
    calderdale = (maps / "priority_localities_E08000033.html").read_text(encoding="utf-8")
    assert "Calderdale with Kirklees" in calderdale
    index = (maps / "index.html").read_text(encoding="utf-8")
    for code in ("E08000032", "E08000033", "E08000034"):
        assert f"<td>{code}</td>" in index
    assert index.count('href="priority_localities_E08000033.html"') == 2, "Calderdale and Kirklees link it"


@pytest.mark.browser
def test_a_hotspot_link_opens_the_detailed_page_on_the_clusters(hostile, tmp_path):
    browser = _browser()
    browser._need(browser.CHROMIUM.exists(), f"{browser.CHROMIUM} is missing")
    write_maps(hostile, tmp_path, spec=MapSpec(split_above=SPLIT), area=AREA, period=PERIOD, offline=True)
    link = _part_files(tmp_path, "hotspots")[0]
    dom = browser._chromium(link, "--dump-dom", budget_ms=6000).stdout
    legends = {m.group(1): m.group(0) for m in re.finditer(r'<div[^>]*data-legend="([a-z_]+)"[^>]*>', dom)}
    assert "lisa_fdr" in legends and "index" in legends, sorted(legends)
    assert "display: none" not in legends["lisa_fdr"]
    assert "display: none" in legends["index"]
