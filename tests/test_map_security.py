"""Text from input files must never execute or become markup in the maps.

Folium and branca render every page through Jinja2, so a name holding ``{{ ... }}``
would be evaluated as a template expression. Payloads go into every text field of the
demo's inputs (LSOA names in the boundary file, the area name in the config, police.uk
``Location``); the run must succeed, no payload may run, and each must show as text.
"""

from __future__ import annotations

import copy
import csv
from pathlib import Path

import geopandas as gpd
import pytest
import yaml

from pli.config import parse_config
from pli.pipeline import run_index

from conftest import copy_demo_data

ROOT = Path(__file__).resolve().parents[1]
DEMO = yaml.safe_load((ROOT / "configs" / "croydon-demo.yml").read_text(encoding="utf-8"))
LSOA = "boundaries/croydon_lsoa11_bsc.geojson"


def _payload(flag: Path) -> str:
    return ("{{ cycler.__init__.__globals__.os.popen('touch " + str(flag) + "').read() }}"
            "{{7*7}}{% raw %}{# note #}<script>alert(1)</script><img src=x onerror=alert(2)>$x^2$`${1+1}`")


@pytest.fixture(scope="module")
def poisoned_run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("poisoned")
    data = tmp / "data"
    copy_demo_data(data)
    flag = tmp / "PWNED"
    payload = _payload(flag)
    lsoa = gpd.read_file(data / LSOA)
    lsoa["LSOA11NM"] = lsoa["LSOA11NM"] + " " + payload
    lsoa.to_file(data / LSOA, driver="GeoJSON")
    for street in sorted((data / "indicators" / "demo" / "police_uk").rglob("*-street.csv")):
        with open(street, newline="", encoding="utf-8") as fh:
            rows = list(csv.reader(fh))
        col = rows[0].index("Location")
        for row in rows[1:]:
            row[col] = "On or near " + payload
        with open(street, "w", newline="", encoding="utf-8") as fh:
            csv.writer(fh, lineterminator="\n").writerows(rows)
    raw = copy.deepcopy(DEMO)
    raw["area"]["name"] = "Croydon " + payload
    cfg = parse_config(raw, data_dir=data)
    run_index(cfg, out_dir=tmp / "out", maps_dir=tmp / "maps")
    pages = {p.relative_to(tmp / "maps").as_posix(): p.read_text(encoding="utf-8")
             for p in sorted((tmp / "maps").rglob("*.html"))}
    return flag, pages, tmp / "out"


def test_no_payload_executes(poisoned_run):
    flag, pages, _ = poisoned_run
    assert len(pages) >= 3  # borough, hotspot and neighbourhood pages were all written
    assert not flag.exists(), "a template expression from a data file ran a shell command"


@pytest.mark.parametrize("fragment", ["{{7*7}}", "{% raw %}", "{# note #}", "{{ cycler",
                                      "<script>alert(1)</script>", "<img src=x onerror"])
def test_payload_never_reaches_a_page_as_source(poisoned_run, fragment):
    _, pages, _ = poisoned_run
    leaked = [name for name, text in pages.items() if fragment in text]
    assert not leaked, f"{fragment!r} reached {leaked} unescaped"


def test_payload_shows_literally_as_escaped_text(poisoned_run):
    _, pages, _ = poisoned_run
    page = pages["priority_localities.html"]
    # The area name is in the title: braces as entities, never the evaluated 49.
    assert "&#123;&#123;7*7&#125;&#125;" in page
    assert "Croydon 49" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page


def test_tables_keep_names_verbatim(poisoned_run):
    _, _, out = poisoned_run
    text = (out / "rankings.csv").read_text(encoding="utf-8")
    assert "{{7*7}}" in text  # CSV is data, not a template: the name is kept as published
