"""Hostile text in every labelled field, and map settings that must be refused.

``CASES`` are map settings the run must stop on, with a message naming the key (the
shared harness checks that earlier outputs stay byte-identical).

The success tests put markup, script, template tags, quotes, backslashes and
matplotlib mathtext (``$...$``) into every text field of the demo's inputs that
reaches a map or a figure: LSOA names (boundary file), upper-layer names (the census
table's MSOA names, which also name the neighbourhoods), the area name, the
upper-layer label and note, indicator labels (config) and police.uk ``Location``.
The run must succeed and every field must show literally wherever it is shown: as
HTML text (after the browser decodes the page's JSON and the HTML entities), as
``textContent`` labels, and as matplotlib Text drawn without mathtext.
"""

from __future__ import annotations

import copy
import dataclasses
import html
import io
import json
import re
from types import SimpleNamespace

import geopandas as gpd
import matplotlib.pyplot as plt
import pytest
from matplotlib.text import Text

from pli import maps
from pli.config import AreaSpec, MapSpec, parse_config
from pli.maps import writing as map_writing
from pli.pipeline import run_index

from broken_harness import DEMO, LSOA, POLICE, POP, assert_fails_clearly, set_column
from conftest import copy_demo_data

# --------------------------------------------------------------------------- refused settings


def _maps(**settings):
    def breaker(data, raw):
        raw.setdefault("maps", {}).update(settings)

    return breaker


def _output(**settings):
    def breaker(data, raw):
        raw.setdefault("output", {}).update(settings)

    return breaker


CASES = [
    ("maps-tiles-provider-name", _maps(tiles="stamen"),
     "maps.tiles: expected none, a preset (esri-grey, osm) or a mapping with url and attribution, got 'stamen'"),
    ("maps-tiles-url-without-xyz", _maps(tiles={"url": "https://tiles.example/{z}.png", "attribution": "Us"}),
     "maps.tiles.url: the template lacks {{x}}, {{y}}"),  # the harness formats fragments
    ("maps-online-and-offline", _maps(online=True, offline=True),
     "maps.offline: true contradicts maps.online: true"),
    ("output-classes-unknown", _output(classes="jenks"),
     "output.classes: expected one of 'quintile', 'decile', got 'jenks'"),
    ("maps-classes-moved", _maps(classes=5), "maps.classes: unknown key; it moved to output.classes"),
    ("maps-scheme-moved", _maps(scheme="deciles"), "maps.scheme: unknown key; it moved to output.classes"),
    ("maps-simplify-nan", _maps(simplify_m=float("nan")),
     "maps.simplify_m: expected a finite number, got nan"),
    ("maps-simplify-negative", _maps(simplify_m=-5), "maps.simplify_m: expected 0 to 100 metres"),
    ("maps-simplify-kilometres", _maps(simplify_m=5000), "got 5000"),
]


@pytest.mark.parametrize("case_id, breaker, fragment", CASES, ids=[c[0] for c in CASES])
def test_broken_map_settings_fail_clearly(tmp_path, good_outputs, case_id, breaker, fragment):
    assert_fails_clearly(tmp_path, good_outputs, breaker, fragment)


# --------------------------------------------------------------------------- hostile names

PIECES = {
    "script-close": "</script><script>alert(1)</script>",
    "img-onerror": '<img src=x onerror="alert(2)">',
    "jinja-expression": "{{7*7}}",
    "jinja-statement": "{% if true %}yes{% endif %}",
    "jinja-comment": "{# hidden #}",
    "quotes": "\"double\" 'single' `back`",
    "backslashes": "C:\\new\\table \\u0041 \\",
    "template-literal": "${1+1}",
    "dollars-price": "Price $5$",
    "dollars-frac": "$\\frac{1}{0}$",
    "dollar-lone": "a$b",
    "dollars-double": "$$",
    "dollar-escaped": "\\$",
}
PAYLOAD = " ".join(PIECES.values())
DOLLARS = [k for k in PIECES if "dollar" in k]

#: Field -> the tag written just before the payload in that field.
TAGS = {
    "lsoa-name": "LsoaTag",
    "upper-name": "UpperNameTag",
    "area-name": "AreaTag",
    "upper-label": "UpperLabelTag",
    "upper-note": "NoteTag",
    "indicator-label": "IndicatorTag",
    "patrol-location": "LocationTag",
}
#: Fields drawn on the PNG figures (neighbourhood names are built from upper-layer names).
FIGURE_FIELDS = ("upper-name", "area-name", "upper-label", "upper-note")


def _value(field: str) -> str:
    return f"{TAGS[field]} {PAYLOAD}"


@pytest.fixture(scope="module")
def hostile(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("hostile_names")
    data = copy_demo_data(tmp / "data")
    lsoa = gpd.read_file(data / LSOA)
    lsoa["LSOA11NM"] = lsoa["LSOA11NM"] + " " + _value("lsoa-name")
    lsoa.to_file(data / LSOA, driver="GeoJSON")
    set_column(data / POP, "MSOA Name", lambda names: [f"{n} {_value('upper-name')}" for n in names])
    # Codes never show as text, but they become feature ids inside the page's scripts.
    flag = tmp / "TEMPLATE_RAN"
    canary = "{{ cycler.__init__.__globals__.os.popen('touch " + str(flag) + "').read() }}"
    set_column(data / POP, "MSOA Code", lambda codes: [f"{c}{{{{7*7}}}}{canary}" for c in codes])
    for street in sorted((data / POLICE).rglob("*-street.csv")):
        set_column(street, "Location", lambda locs: [f"On or near {_value('patrol-location')}" for _ in locs])
    raw = copy.deepcopy(DEMO)
    raw["area"]["name"] = _value("area-name")
    raw["area"]["upper_layer_label"] = _value("upper-label")
    raw["area"]["upper_layer_note"] = _value("upper-note")
    for ind in raw["indicators"]:
        ind["label"] = f"{ind['label']} {_value('indicator-label')}"
    cfg = parse_config(raw, data_dir=data)

    figures: list[list[Text]] = []
    bundles: list[maps.MapBundle] = []
    save, write = map_writing._save_figure, maps.write_maps

    def recording_save(fig, path):
        figures.append([t for t in fig.findobj(Text) if t.get_text()])
        save(fig, path)

    def recording_write(bundle, *args, **kwargs):
        bundles.append(bundle)
        return write(bundle, *args, **kwargs)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(map_writing, "_save_figure", recording_save)
        mp.setattr(maps, "write_maps", recording_write)
        run_index(cfg, out_dir=tmp / "out", maps_dir=tmp / "maps")
    pages = {p.relative_to(tmp / "maps").as_posix(): p.read_text(encoding="utf-8")
             for p in sorted((tmp / "maps").rglob("*.html"))}
    return SimpleNamespace(pages=pages, figures=figures, bundle=bundles[0], area=cfg.area, flag=flag)


_JS_STRING = re.compile(r'"(?:[^"\\\n]|\\.)*"')
_LABEL_DATA = re.compile(r"var data = (\{.*?\});\n")
_TAG = re.compile(r"<[^>]*>")


def _sinks(page: str) -> tuple[list[str], list[str]]:
    """(text the browser shows from HTML strings and the title, raw textContent labels)."""
    labels, shown = [], []
    for blob in _LABEL_DATA.findall(page):
        for feature in json.loads(blob)["features"]:
            labels.append(feature["properties"]["label"])
            if feature["properties"].get("popup"):
                shown.append(feature["properties"]["popup"])
    rest = _LABEL_DATA.sub("", page)
    for literal in _JS_STRING.findall(rest):
        try:
            value = json.loads(literal)
        except ValueError:
            continue
        shown.append(value)
    shown += re.findall(r"<title>(.*?)</title>", rest, flags=re.DOTALL)
    # What a browser shows: markup removed, then entities decoded (HTML strings only
    # ever reach innerHTML, popups and tooltips, where both happen).
    return [html.unescape(_TAG.sub("", s)) for s in shown], labels


@pytest.fixture(scope="module")
def sinks(hostile):
    return {name: _sinks(text) for name, text in hostile.pages.items()}


def _segments(texts: list[str], tag: str) -> list[str]:
    out = []
    for text in texts:
        start = text.find(tag)
        while start >= 0:
            out.append(text[start:start + len(tag) + 1 + len(PAYLOAD)])
            start = text.find(tag, start + 1)
    return out


HTML_VARIANTS = [(f, p) for f in TAGS for p in PIECES]


@pytest.mark.parametrize("field, piece", HTML_VARIANTS, ids=[f"{f}-{p}" for f, p in HTML_VARIANTS])
def test_hostile_text_shows_literally_on_every_page(sinks, field, piece):
    tag = TAGS[field]
    found = 0
    for name, (shown, labels) in sinks.items():
        for segment in _segments(shown, tag) + _segments(labels, tag):
            found += 1
            assert segment == _value(field), f"{name}: {field} shown as {segment!r}"
            assert PIECES[piece] in segment
    main_shown, _ = sinks["priority_localities.html"]
    assert _segments(main_shown, tag), f"{field} is not shown on the borough page"
    assert found


def test_no_template_from_codes_or_names_runs(hostile):
    assert len(hostile.pages) >= 5
    assert not hostile.flag.exists(), "an upper-layer code was rendered as a Jinja2 template"
    page = hostile.pages["priority_localities.html"]
    # The codes are feature ids: present, escaped (tojson writes & as \u0026), never
    # evaluated ({{7*7}} -> 49).
    assert page.count('E02000194\\u0026#123;\\u0026#123;7*7') == 1
    assert page.count('\\u0026#123;\\u0026#123;7*7\\u0026#125;\\u0026#125;') >= 20
    assert not re.search(r"E02\d{6}49", page)


def test_upper_layer_names_are_plain_text_labels(sinks):
    _, labels = sinks["priority_localities.html"]
    names = [label for label in labels if TAGS["upper-name"] in label]
    assert len(names) >= 20  # one label per MSOA of the demo
    assert all(label.endswith(" " + _value("upper-name")) for label in names)


@pytest.mark.parametrize("fragment", ["{{7*7}}", "{% if", "{# hidden", "</script><script>alert(1)",
                                      '<img src=x onerror="alert(2)">'])
def test_no_hostile_fragment_reaches_page_source(hostile, fragment):
    leaked = [name for name, text in hostile.pages.items() if fragment in text]
    assert not leaked, f"{fragment!r} appears raw in {leaked}"


def _squash(text: str) -> str:
    # Figures wrap long names onto several lines; compare without the whitespace.
    return re.sub(r"\s+", "", text)


FIGURE_VARIANTS = [(f, p) for f in FIGURE_FIELDS for p in DOLLARS]


@pytest.mark.parametrize("field, piece", FIGURE_VARIANTS, ids=[f"png-{f}-{p}" for f, p in FIGURE_VARIANTS])
def test_hostile_text_is_drawn_literally_on_the_figures(hostile, field, piece):
    figures = hostile.figures
    assert len(figures) == 2
    for texts in figures:
        assert all(not t.get_parse_math() and not t.get_usetex() for t in texts)
    drawn = _squash(" ".join(t.get_text() for texts in figures for t in texts))
    assert _squash(_value(field)) in drawn
    assert _squash(PIECES[piece]) in drawn


def _poisoned_bundle(bundle: maps.MapBundle, text: str) -> maps.MapBundle:
    lsoa = bundle.lsoa.assign(lsoa_name=bundle.lsoa["lsoa_name"] + " " + text,
                              ward_name=bundle.lsoa["ward_name"] + " " + text)
    return dataclasses.replace(
        bundle, lsoa=lsoa,
        wards=bundle.wards.assign(ward_name=bundle.wards["ward_name"] + " " + text),
        neighbourhoods=bundle.neighbourhoods.assign(name=text + " " + bundle.neighbourhoods["name"]),
        upper_layer_label=text, upper_layer_note=text,
    )


@pytest.mark.parametrize("piece", DOLLARS)
def test_each_dollar_name_alone_is_drawn_and_saved(hostile, piece):
    bundle, area = hostile.bundle, hostile.area
    text = PIECES[piece]
    clean = dataclasses.replace(bundle, lsoa=bundle.lsoa.assign(
        lsoa_name="A", ward_name="W"), wards=bundle.wards.assign(ward_name="W"),
        neighbourhoods=bundle.neighbourhoods.assign(name="N"))
    poisoned = _poisoned_bundle(clean, text)
    named = AreaSpec(name=text, simulated=area.simulated)
    for fig in (maps.plot_index_figure(poisoned, spec=MapSpec(), area=named, period=text),
                maps.plot_neighbourhoods_figure(poisoned, area=named, period=text)):
        try:
            texts = [t for t in fig.findobj(Text) if text in t.get_text()]
            assert texts, "the name was not drawn at all"
            # Drawn as written: matplotlib keeps the string and does not parse it as maths.
            assert all(t._preprocess_math(t.get_text()) == (t.get_text(), False) for t in texts)
            fig.savefig(io.BytesIO(), format="png", dpi=30)
        finally:
            plt.close(fig)
