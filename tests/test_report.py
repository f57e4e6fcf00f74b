"""``pli report``: contents, escaping, public mode, the track and uncertainty contracts, manifest.

Runs the demo index twice (full and ``--public``, with maps) once for the module; the
reports are written without a PDF here (tests/test_report_browser.py prints them).
"""

from __future__ import annotations

import html as html_lib
import re
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from pli.config import AreaSpec, load_config
from pli.errors import InputError
from pli.maps.index_page import index_page
from pli.maps.style import SENSITIVE_BANNER
from pli.outputs import verify_outputs
from pli.pipeline import run_index
from pli.report import profiles, read_report_inputs, run_report
from pli.report.page import css_string

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def demo_runs(tmp_path_factory) -> Path:
    base = tmp_path_factory.mktemp("report_runs")
    cfg = load_config(ROOT / "configs" / "croydon-demo.yml")
    run_index(cfg, out_dir=base / "output", maps_dir=base / "maps")
    run_index(cfg, out_dir=base / "output-public", maps_dir=base / "maps-public", public=True)
    return base


def _sections(page: str) -> dict[str, str]:
    """Each ``<section id=...>`` of the page by its id."""
    return {m.group(1): m.group(2) for m in re.finditer(r'<section[^>]*id="([^"]+)"[^>]*>(.*?)</section>', page, re.S)}


def _links_resolve(page: str, folder: Path) -> list[str]:
    ids = set(re.findall(r'id="([^"]+)"', page))
    broken = []
    for href in (html_lib.unescape(h) for h in re.findall(r'href="([^"]*)"', page)):
        if href.startswith("#"):
            if href[1:] not in ids:
                broken.append(href)
        elif not (folder / href).is_file():
            broken.append(href)
    return broken


def _row_cells(section: str, label: str) -> list[str]:
    """The cells after the first cell reading ``label`` in a table row of ``section``."""
    match = re.search(r"<tr><td>" + re.escape(html_lib.escape(label, quote=True).replace("&#x27;", "&#x27;"))
                      + r"</td>(.*?)</tr>", section, re.S)
    assert match, f"no row {label!r}"
    return [html_lib.unescape(re.sub(r"<[^>]+>", "", c)).strip() for c in re.findall(r"<td[^>]*>(.*?)</td>",
                                                                                       match.group(1), re.S)]


def test_report_is_self_contained_escaped_linked_and_verifies(demo_runs, tmp_path):
    index = tmp_path / "output"
    shutil.copytree(demo_runs / "output", index)
    nb = pd.read_csv(index / "priority_neighbourhoods.csv")
    hostile = "<img src=x onerror=alert(1)>{{7*7}} \"Quote\" & 'co'"
    nb.loc[nb["rank"] == 1, "name"] = hostile
    nb.to_csv(index / "priority_neighbourhoods.csv", index=False)
    report = tmp_path / "report"
    run = run_report(index, demo_runs / "maps", report, pdf=False)

    page = (report / "report.html").read_text(encoding="utf-8")
    assert "<script" not in page.lower() and "<img src=x" not in page and "onerror=alert" not in page.replace(
        "onerror=alert(1)&gt;", "")
    assert html_lib.escape(hostile, quote=True).replace("&#x27;", "&#x27;") in page or "&lt;img src=x" in page
    srcs = re.findall(r'<img[^>]*src="([^"]*)"', page)
    assert srcs and all(s.startswith("data:image/png;base64,") for s in srcs)
    assert not re.search(r'(href|src)="https?:', page), "the report must not load anything from the network"
    assert _links_resolve(page, report) == []
    links = set(re.findall(r'href="([^"]*)"', page))
    assert any(h.endswith("maps/index.html") for h in links)
    assert all(any(h.endswith(f"neighbourhoods/{r}-{s}.html") for h in links) for r, s in zip(nb["rank"], nb["slug"]))
    sections = _sections(page)
    assert {f"n{r}" for r in nb["rank"]} | {"summary", "maps", "uncertainty", "method"} <= set(sections)
    assert SENSITIVE_BANNER in page  # the run holds a patrol plan
    assert "Not run" in sections["uncertainty"] and "Not run" in sections["n1"]  # no uncertainty or track folder
    assert "Why this place" in sections["n1"]  # the patrol places of a restricted report
    assert "Open Government Licence" in sections["method"] and "SIMULATED" in sections["method"]
    assert run.pdf is False and not (report / "report.pdf").exists()
    assert verify_outputs(report).current
    (report / "report.html").write_text(page + "<!-- edited -->", encoding="utf-8")
    assert verify_outputs(report).changed_outputs == ("output:report.html",)


def test_domain_and_indicator_contributions_add_up_to_the_mean_score(demo_runs):
    inputs = read_report_inputs(demo_runs / "output", demo_runs / "maps")
    catalogue = profiles.indicator_catalogue(inputs.manifest)
    nb = inputs.neighbourhoods.set_index("rank")
    domains = profiles.domain_drivers(inputs.neighbourhoods, inputs.rankings, catalogue)
    indicators = profiles.indicator_drivers(inputs.neighbourhoods, inputs.rankings, catalogue)
    np.testing.assert_allclose(domains.sum(axis=1), nb["mean_score"].reindex(domains.index), atol=1e-3)
    np.testing.assert_allclose(indicators.sum(axis=1), nb["mean_score"].reindex(indicators.index), atol=1e-3)
    assert set(domains.columns) == set(catalogue["domain"])


def test_public_report_shows_no_suppressed_value_patrol_or_coordinate(demo_runs, tmp_path):
    with pytest.raises(InputError, match="--public needs the output of `pli index --public`"):
        run_report(demo_runs / "output", demo_runs / "maps", tmp_path / "nope", public=True, pdf=False)
    report = tmp_path / "public"
    run_report(demo_runs / "output-public", demo_runs / "maps-public", report, public=True, pdf=False)
    page = (report / "report.html").read_text(encoding="utf-8")
    assert "OFFICIAL-SENSITIVE" not in page
    assert "Why this place" not in page and "What crime harm is made of" not in page
    plan = pd.read_csv(demo_runs / "output" / "patrol_plan.csv")
    for location in plan["location"].unique():
        assert html_lib.escape(location) not in page, location
    for value in pd.concat([plan["lon"].map("{:.4f}".format), plan["lat"].map("{:.4f}".format),
                            plan["easting"].astype(int).astype(str), plan["northing"].astype(int).astype(str)]):
        assert value not in page, f"micro-place coordinate {value} in the public report"

    # Every crime count shown is published in full (all member cells), at least the threshold,
    # and equal to the full run's; where a member cell was suppressed the cell says withheld.
    threshold = load_config(ROOT / "configs" / "croydon-demo.yml").output.suppress_below
    full = read_report_inputs(demo_runs / "output", demo_runs / "maps")
    public = read_report_inputs(demo_runs / "output-public", demo_runs / "maps-public")
    catalogue = profiles.indicator_catalogue(full.manifest)
    full_mix = profiles.crime_mix(full.neighbourhoods, full.indicator_inputs, catalogue).set_index(["rank", "label"])
    sections = _sections(page)
    members = profiles.members(public.neighbourhoods)
    withheld_seen = published_seen = 0
    for (rank, label), row in full_mix.iterrows():
        name = catalogue.loc[catalogue["label"] == label].index[0]
        cells = members[members["rank"] == rank].merge(public.indicator_inputs, on="lsoa_code")[f"{name}_numerator"]
        shown = _row_cells(sections[f"n{rank}"].split('class="mix"')[1], label)
        if cells.isna().any():
            assert shown[0] == "withheld" and shown[1] == "withheld", (rank, label, shown)
            assert f"{row['count']:,.0f}" not in shown
            withheld_seen += 1
        else:
            count = float(shown[0].replace(",", ""))
            assert count >= threshold and count == row["count"], (rank, label, shown)
            published_seen += 1
    assert withheld_seen and published_seen  # the demo exercises both branches
    assert verify_outputs(report).current


def _track_fixture(folder: Path, inputs) -> None:
    """LSOA-level monthly series: neighbourhood 1 rising, 2 falling, the rest flat."""
    folder.mkdir()
    members = profiles.members(inputs.neighbourhoods)
    rank_of = dict(zip(members["lsoa_code"], members["rank"]))
    months = [f"{y}-{m:02d}" for y in (2023, 2024, 2025) for m in range(1, 13)]
    rows = []
    for code, name in zip(inputs.rankings["lsoa_code"], inputs.rankings["lsoa_name"]):
        for t, month in enumerate(months):
            harm = {1: 100 + 10 * t, 2: 500 - 10 * t}.get(rank_of.get(code, 0), 200)
            rows.append({"series": "lsoa_crime", "period": month, "area_name": name, "area_code": code,
                         "count": harm // 10, "harm_days": harm})
    pd.DataFrame(rows).to_csv(folder / "series.csv", index=False)
    pd.DataFrame({"series": ["lsoa_crime"], "measure": ["harm_days"], "area_code": [inputs.rankings["lsoa_code"][0]],
                  "test": ["mann_kendall"]}).to_csv(folder / "trends.csv", index=False)


def _uncertainty_fixture(folder: Path, inputs) -> None:
    folder.mkdir()
    r = inputs.rankings.sort_values("rank")
    rank = r["rank"].to_numpy()
    pd.DataFrame({"lsoa_code": r["lsoa_code"], "lsoa_name": r["lsoa_name"], "base_rank": rank,
                  "median_rank": rank + 1, "rank_p05": np.maximum(1, rank - 3), "rank_p95": rank + 7,
                  "p_top_n": np.clip(1 - rank / 40, 0, 1)}).to_csv(folder / "lsoa_rank_intervals.csv", index=False)
    nb = inputs.neighbourhoods
    pd.DataFrame({"neighbourhood": nb["rank"], "name": nb["name"],
                  "selection_frequency": np.linspace(0.97, 0.41, len(nb)),
                  "mean_jaccard": np.linspace(0.9, 0.5, len(nb))}).to_csv(folder / "neighbourhood_frequency.csv",
                                                                         index=False)
    pd.DataFrame({"output": ["rank", "rank"], "factor": ["weights", "harm_scheme"], "S1": [0.61, 0.12],
                  "S1_conf": [0.05, 0.03], "ST": [0.74, 0.2], "ST_conf": [0.06, 0.04]}).to_csv(folder / "sobol.csv",
                                                                                              index=False)


def test_track_and_uncertainty_folders_fill_their_sections(demo_runs, tmp_path):
    inputs = read_report_inputs(demo_runs / "output", demo_runs / "maps")
    _track_fixture(tmp_path / "track", inputs)
    _uncertainty_fixture(tmp_path / "uncertainty", inputs)
    report = tmp_path / "report"
    run_report(demo_runs / "output", demo_runs / "maps", report, track_dir=tmp_path / "track",
               uncertainty_dir=tmp_path / "uncertainty", pdf=False)
    page = (report / "report.html").read_text(encoding="utf-8")
    sections = _sections(page)
    # 36 months, harm 100 + 10 t per LSOA: the last 12 months sum to 4,740, the 12 before to 3,300 (+44%).
    assert "rising" in sections["n1"] and "+44%" in sections["n1"]
    assert "falling" in sections["n2"] and "no clear trend" in sections["n3"]
    assert sections["n1"].count("data:image/png") == 2  # locator and trend chart
    unc = sections["uncertainty"]
    assert "Not run" not in unc and "data:image/png" in unc
    assert _row_cells(unc, "rank")[0] == "weights" or "weights" in unc
    first = inputs.neighbourhoods.iloc[0]
    assert "97% of the uncertainty analysis" in sections["n1"]
    assert re.search(r"<td>" + re.escape(html_lib.escape(str(first["name"]))) + r"</td><td class=\"num\">97</td>", unc)
    assert "0.74" in unc and "0.61" in unc
    assert "selected in at least 80%" in sections["summary"]
    assert verify_outputs(report).current
    # Same inputs, same bytes (the links are relative, so a sibling folder gives the same page).
    again = tmp_path / "report-again"
    run_report(demo_runs / "output", demo_runs / "maps", again, track_dir=tmp_path / "track",
               uncertainty_dir=tmp_path / "uncertainty", pdf=False)
    assert (again / "report.html").read_bytes() == (report / "report.html").read_bytes()


def test_without_chromium_the_html_is_written_and_the_pdf_skipped(demo_runs, tmp_path, monkeypatch):
    monkeypatch.setenv("PLI_CHROMIUM", str(tmp_path / "no-such-browser"))
    run = run_report(demo_runs / "output-public", demo_runs / "maps-public", tmp_path / "r")
    assert not run.pdf and not (tmp_path / "r" / "report.pdf").exists()
    assert "PDF skipped" in run.summary()
    page = (tmp_path / "r" / "report.html").read_text(encoding="utf-8")
    assert "report.pdf" not in page and "<section" in page
    assert verify_outputs(tmp_path / "r").current


def test_trend_summary_of_a_known_series():
    periods = [f"2024-{m:02d}" for m in range(1, 13)] + [f"2025-{m:02d}" for m in range(1, 13)]
    frame = pd.DataFrame({"rank": 1, "series": "s", "level": "lsoa", "test": "mann_kendall", "areas": "A",
                          "period": periods, "count": 1, "harm_days": np.arange(24) * 2.0 + 10})
    t = profiles.trend_summary(frame).iloc[0]
    assert t["direction"] == "rising" and t["tau"] == pytest.approx(1.0)
    assert t["slope_per_year"] == pytest.approx(24.0)
    # last year 12*10 + 2*sum(12..23) = 540; the year before 120 + 2*66 = 252
    assert t["change"] == pytest.approx(540 / 252 - 1)


def test_maps_of_another_run_and_the_index_folder_as_output_are_refused(demo_runs, tmp_path):
    with pytest.raises(InputError, match="holds run"):
        run_report(demo_runs / "output", demo_runs / "maps-public", tmp_path / "r", pdf=False)
    with pytest.raises(InputError):
        run_report(demo_runs / "output", demo_runs / "maps", demo_runs / "output", pdf=False)
    assert verify_outputs(demo_runs / "output").current


def test_css_string_cannot_leave_its_string():
    text = css_string('x"; } </style><script>alert(1)</script>\\')
    inner = text[1:-1]
    assert '"' not in inner and "<" not in inner and ";" not in inner and "}" not in inner
    assert text.startswith('"') and text.endswith('"')


def test_index_page_links_the_report_only_when_it_exists():
    nb = pd.DataFrame({"rank": [1], "name": ["A"], "slug": ["a"], "n_lsoas": [3], "population": [5000]})
    with_report = index_page(nb, area=AreaSpec(name="X"), period="p", upper_label="Ward", sensitive=False,
                             figures=[], report_href="../report/report.html")
    without = index_page(nb, area=AreaSpec(name="X"), period="p", upper_label="Ward", sensitive=False, figures=[])
    assert 'href="../report/report.html"' in with_report
    assert "report.html" not in without and "pli report" in without


def test_borough_map_numbers_link_each_neighbourhood_page(demo_runs):
    maps = demo_runs / "maps"
    nb = pd.read_csv(demo_runs / "output" / "priority_neighbourhoods.csv")
    borough = (maps / "priority_localities.html").read_text(encoding="utf-8")
    for rank, slug in zip(nb["rank"], nb["slug"]):
        assert f"neighbourhoods/{rank}-{slug}.html" in borough.replace("\\/", "/")
        assert (maps / "neighbourhoods" / f"{rank}-{slug}.html").is_file()
    own = (maps / "neighbourhoods" / f"1-{nb.loc[0, 'slug']}.html").read_text(encoding="utf-8")
    assert "../priority_localities.html" in own.replace("\\/", "/")
    assert f"{2}-{nb.loc[1, 'slug']}.html" in own


def test_cli_report_writes_its_folder_and_verify_accepts_it(demo_runs, tmp_path, capsys):
    from pli.cli import main

    out = tmp_path / "report"
    code = main(["report", "--index", str(demo_runs / "output-public"), "--maps", str(demo_runs / "maps-public"),
                 "--out", str(out), "--public", "--no-pdf", "-q"])
    assert code == 0 and "public report" in capsys.readouterr().out
    assert main(["verify", str(out)]) == 0
    assert main(["report", "--index", str(demo_runs / "output"), "--maps", str(demo_runs / "maps"), "--out",
                 str(out), "--public", "--no-pdf", "-q"]) == 2  # a clear error, the old report kept
    assert "--public needs" in capsys.readouterr().err
    assert main(["verify", str(out)]) == 0


def test_report_names_the_area_with_the_word_the_maps_use():
    from pli.report.command import _area_type

    # The manifest keeps the config as written (lists, not tuples); the maps say "district" for a
    # metropolitan district's code and take area.type when it is given.
    assert _area_type({"name": "Leeds", "lad_codes": ["E08000035"]}) == "district"
    assert _area_type({"name": "Croydon", "lad_codes": ["E09000008"], "type": "borough",
                       "lookup": {"path": "lookup.csv"}}) == "borough"
    assert _area_type({"name": "Somewhere", "unknown_key_from_a_newer_pli": 1}) == "area"


def test_summary_says_when_the_patrol_plan_covers_another_period(demo_runs, tmp_path):
    import dataclasses

    from pli.report.command import build_report
    from pli.report.page import render_report

    content = build_report(read_report_inputs(demo_runs / "output", demo_runs / "maps"), tmp_path)
    # The demo plans patrols on the index's own window: nothing to say.
    assert content.patrol_period == content.period
    assert "not the index's data period" not in html_lib.unescape(render_report(content))
    other = dataclasses.replace(content, patrol_period="2019-01 to 2019-12")
    summary = html_lib.unescape(_sections(render_report(other))["summary"])
    assert f"records of 2019-01 to 2019-12, not the index's data period ({content.period})" in summary
