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
from pli.config import AreaSpec, ConfigError, MapSpec
from pli.maps import write_maps
from pli.maps.credits import run_credits, short_attribution
from pli.maps.split import lsoa_parts, part_of_lsoas

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
    return set(re.findall(r'"id": "([^"]+)", "properties": \{"c_index"', text))


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
    for page in PAGES:
        files = _part_files(out, page)
        assert len(files) == len(np.unique(lsoa_parts(hostile, SPLIT)))
        seen: list[str] = []
        for f in files:
            seen += sorted(_feature_ids(f.read_text(encoding="utf-8")))
        assert len(seen) == len(set(seen)) == len(hostile.lsoa), page
        assert {html_lib.unescape(s.replace("\\u0026", "&")) for s in seen} == {
            html_lib.unescape(e) for e in expected}


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
        for f in _part_files(out, page):
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
