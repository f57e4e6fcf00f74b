"""LSOA codes, coverage, population and row order: broken inputs and tolerated variants.

* ``CASES``: inputs that must stop with one clear error (population columns that are
  not residents, study-area LSOAs missing from the boundary file, truncated IoD,
  census and keyed tables, codes that collide once normalised).
* Variants that must be accepted: lower-case or space-padded codes in every input
  give a warning naming the file and the number of codes, and the same numbers as a
  clean run; shuffled rows of every input give byte-identical outputs.
"""

from __future__ import annotations

import copy
import json
import logging
import random
import shutil
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from pli.boundaries import find_overlaps
from pli.config import parse_config
from pli.pipeline import run_index

from broken_harness import (
    DEMO,
    DEP,
    LSOA,
    POP,
    ROOT,
    assert_fails_clearly,
    hashes,
    police_files,
    read_rows,
    set_column,
    write_rows,
)
from conftest import SHARED_DATA, copy_demo_data

IOD_SNAPSHOT = SHARED_DATA / "croydon_iod2019.csv"
IOD = "indicators/iod2019.csv"
FIRST = "E01001137"  # first LSOA row of the demo's census file


def _needs_snapshot() -> None:
    if not IOD_SNAPSHOT.is_file():
        pytest.skip(f"real Croydon snapshot not found at {SHARED_DATA}")


# --------------------------------------------------------------------------- breakers


def pop_in_thousands(data, raw):
    set_column(data / POP, "Persons", lambda v: [f"{float(x.replace(',', '')) / 1000:.3f}" for x in v])


def pop_as_shares(data, raw):
    set_column(data / POP, "Persons", lambda v: [f"{float(x.replace(',', '')) / 390_000:.5f}" for x in v])


def pop_column_is_hectares(data, raw):
    raw["denominators"]["population"]["column"] = "hectares"


def pop_column_is_area_total(data, raw):
    set_column(data / POP, "Persons", lambda v: [str(int(x.replace(",", "")) * 220) for x in v])


def pop_all_zero(data, raw):
    set_column(data / POP, "Persons", lambda v: ["0"] * len(v))


def pop_zero_with_floor(data, raw):
    # The floor stays in the config: it must not hide an LSOA counted with no residents.
    set_column(data / POP, "Persons", lambda v: ["0"] + v[1:])


def _population_table(data: Path, raw: dict, values) -> None:
    rows = read_rows(data / POP)
    idx = rows[0].index("LSOA Code")
    persons = rows[0].index("Persons")
    codes = [r[idx] for r in rows[1:]]
    counts = [int(r[persons].replace(",", "")) for r in rows[1:]]
    write_rows(data / "population.csv", [["lsoa", "residents"]] + [[c, v] for c, v in zip(codes, values(counts))])
    raw["sources"]["residents"] = {"kind": "lsoa_table", "path": "population.csv", "code_column": "lsoa"}
    raw["denominators"]["population"] = {"source": "residents", "column": "residents", "floor": 1000}


def pop_table_negative(data, raw):
    _population_table(data, raw, lambda c: [-c[0]] + c[1:])


def pop_table_in_thousands(data, raw):
    _population_table(data, raw, lambda c: [round(x / 1000, 2) for x in c])


def pop_table_missing_lsoas(data, raw):
    _population_table(data, raw, lambda c: c)
    rows = read_rows(data / "population.csv")
    write_rows(data / "population.csv", rows[:1] + rows[4:])


def _drop_features(data: Path, n: int) -> None:
    gdf = gpd.read_file(data / LSOA)
    gdf.drop(index=gdf.index[:n]).to_file(data / LSOA)


def boundary_missing_one(data, raw):
    _drop_features(data, 1)


def boundary_missing_five(data, raw):
    _drop_features(data, 5)


def boundary_missing_lowercase(data, raw):
    # Normalisation must not hide a gap: lower-case codes, and one LSOA gone.
    gdf = gpd.read_file(data / LSOA)
    gdf["LSOA11CD"] = gdf["LSOA11CD"].str.lower()
    gdf.drop(index=gdf.index[7:8]).to_file(data / LSOA)


def boundary_padded_duplicate(data, raw):
    gdf = gpd.read_file(data / LSOA)
    gdf.loc[1, "LSOA11CD"] = f" {gdf.loc[0, 'LSOA11CD'].lower()} "
    gdf.to_file(data / LSOA)


def table_case_duplicate(data, raw):
    set_column(data / DEP, "lsoa_code", lambda v: [v[0], v[0].lower()] + v[2:])


def census_case_duplicate(data, raw):
    set_column(data / POP, "LSOA Code", lambda v: [v[0], f"  {v[0].lower()}"] + v[2:])


def _iod(data: Path, raw: dict) -> Path:
    _needs_snapshot()
    path = data / IOD
    shutil.copyfile(IOD_SNAPSHOT, path)
    raw["sources"]["iod"] = {"kind": "iod2019", "path": IOD}
    return path


def _cut(path: Path, keep: int) -> None:
    """Keep the first ``keep`` bytes of a file."""
    path.write_bytes(path.read_bytes()[:keep])


def iod_cut_mid_row(data, raw):
    path = _iod(data, raw)
    text = path.read_bytes()
    _cut(path, text.rstrip(b"\n").rfind(b"\n") + 200)


def iod_cut_in_code(data, raw):
    path = _iod(data, raw)
    text = path.read_bytes()
    _cut(path, text.rstrip(b"\n").rfind(b"\n") + 6)  # "E0100": half a code, nothing else


def iod_lost_rows(data, raw):
    path = _iod(data, raw)
    lines = path.read_bytes().splitlines(keepends=True)
    path.write_bytes(b"".join(lines[:-10]))


def iod_lost_rows_no_newline(data, raw):
    path = _iod(data, raw)
    lines = path.read_bytes().splitlines(keepends=True)
    path.write_bytes(b"".join(lines[:-25]).rstrip(b"\n"))


def iod_rows_missing_in_middle(data, raw):
    path = _iod(data, raw)
    lines = path.read_bytes().splitlines(keepends=True)
    path.write_bytes(b"".join(lines[:50] + lines[53:]))


def iod_short_row_in_middle(data, raw):
    path = _iod(data, raw)
    rows = read_rows(path)
    rows[40] = rows[40][:20]
    write_rows(path, rows)


def census_cut_mid_row(data, raw):
    text = (data / POP).read_bytes()
    _cut(data / POP, text.rstrip(b"\n").rfind(b"\n") + 80)


def table_cut_mid_row(data, raw):
    text = (data / DEP).read_bytes()
    _cut(data / DEP, text.rstrip(b"\n").rfind(b"\n") + 20)


def lookup_case_complex(data, raw):
    # A lower-case lookup must still be read: its complex change is caught as before.
    codes = [r[0] for r in read_rows(data / DEP)[1:]]
    rows = [["LSOA11CD", "LSOA21CD", "CHGIND"]] + [[c.lower(), c.lower(), "u"] for c in codes]
    victim = codes[0]
    rows[1] = [victim.lower(), "e01035999", "X"]
    write_rows(data / "lookup.csv", rows)
    raw["boundaries"]["vintage_lookup"] = {"path": "lookup.csv"}
    raw["sources"]["deprivation"]["vintage"] = 2021
    set_column(data / DEP, "lsoa_code", lambda v: ["E01035999" if c == victim else c for c in v])


CASES = [
    # population denominators that are not residents
    ("codes-population-in-thousands", pop_in_thousands,
     "column 'usual_residents' does not hold residents per LSOA: its median is 1.6"),
    ("codes-population-as-shares", pop_as_shares, "its median is 0.004"),
    ("codes-population-column-is-hectares", pop_column_is_hectares,
     "column 'hectares' does not hold residents per LSOA: its median is"),
    ("codes-population-area-total", pop_column_is_area_total, "it looks like a total over many LSOAs"),
    ("codes-population-all-zero", pop_all_zero, "its median is 0 per LSOA"),
    ("codes-population-zero-despite-floor", pop_zero_with_floor,
     "is zero or negative for 1 LSOA(s): E01001137 (0)"),
    ("codes-population-table-negative", pop_table_negative,
     "denominator 'population' (residents.residents) is zero or negative for 1 LSOA(s): E01001137 (-1769)"),
    ("codes-population-table-in-thousands", pop_table_in_thousands,
     "source 'residents' (population.csv), column 'residents' does not hold residents per LSOA"),
    ("codes-population-table-missing-lsoas", pop_table_missing_lsoas,
     "column 'residents' has no value for 3 boundary LSOA(s)"),
    # coverage of the study area by the boundary file
    ("codes-boundary-missing-one-lsoa", boundary_missing_one,
     ("coverage: 1 of the study area's 220 LSOAs (those named in croydon_census2011_population.csv, "
      "source 'population') have no polygon in croydon_lsoa11_bsc.geojson")),
    ("codes-boundary-missing-five-lsoas", boundary_missing_five,
     "coverage: 5 of the study area's 220 LSOAs"),
    ("codes-boundary-missing-lowercase", boundary_missing_lowercase,
     "set boundaries.allow_coverage_gaps: true"),
    # codes that collide once normalised
    ("codes-boundary-padded-duplicate", boundary_padded_duplicate,
     "codes in field 'LSOA11CD' must be unique but 1 appear more than once"),
    ("codes-table-case-duplicate", table_case_duplicate,
     "expected one row per LSOA, found 2 rows with repeated codes"),
    ("codes-census-case-duplicate", census_case_duplicate,
     # The census file is also the demo's area lookup, which meets the gap first.
     "area lookup (area.lookup): 1 of 220 LSOAs are not in column 'LSOA Code': E01001138"),
    ("codes-lookup-lowercase-complex", lookup_case_complex,
     "changed in a complex way between 2011 and 2021"),
    # truncated files
    ("codes-iod-cut-mid-row", iod_cut_mid_row, "the file looks truncated: its last line (221) stops after"),
    ("codes-iod-cut-in-code", iod_cut_in_code, "the file looks truncated: its last line (221) stops after 1 of"),
    ("codes-iod-lost-rows", iod_lost_rows,
     "10 of the 220 boundary LSOAs are missing from iod2019.csv"),
    ("codes-iod-lost-rows-no-newline", iod_lost_rows_no_newline,
     "the file looks truncated: it stops at line 196 without a line ending"),
    ("codes-iod-rows-missing-in-middle", iod_rows_missing_in_middle,
     "3 of the 220 boundary LSOAs are missing from iod2019.csv"),
    ("codes-iod-short-row-in-middle", iod_short_row_in_middle,
     "1 row(s) have fewer fields than the header's 57: line 41 (20 fields)"),
    ("codes-census-cut-mid-row", census_cut_mid_row, "croydon_census2011_population.csv: the file looks truncated"),
    ("codes-table-cut-mid-row", table_cut_mid_row, "simulated_deprivation.csv: the file looks truncated"),
]


@pytest.mark.parametrize("breaker, fragment", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_broken_codes_fail_clearly_and_keep_outputs(tmp_path, good_outputs, breaker, fragment):
    message = assert_fails_clearly(tmp_path, good_outputs, breaker, fragment)
    assert "imput" not in message.lower()  # a damaged file is not "missing data" to fill in


def test_lost_iod_rows_are_called_truncated_not_imputed(tmp_path, good_outputs):
    message = assert_fails_clearly(tmp_path, good_outputs, iod_lost_rows, "looks truncated: it stops at line 211")
    assert "every missing code sorts after that one" in message


# --------------------------------------------------------------------------- accepted variants


def _run(data: Path, raw: dict, out: Path, **kw):
    cfg = parse_config(raw, data_dir=data)
    return run_index(cfg, out_dir=out, maps_dir=None, **kw)


def _mess_up(code: str, i: int) -> str:
    return [code.lower(), f" {code}", f"{code}  ", f" {code.lower()}\t"][i % 4]


def test_lowercase_and_padded_codes_everywhere_warn_and_match_a_clean_run(tmp_path, good_outputs, caplog):
    data = copy_demo_data(tmp_path / "data")
    raw = copy.deepcopy(DEMO)
    gdf = gpd.read_file(data / LSOA)
    gdf["LSOA11CD"] = [_mess_up(c, i) if i % 3 == 0 else c for i, c in enumerate(gdf["LSOA11CD"])]
    n_boundary = sum(1 for i in range(len(gdf)) if i % 3 == 0)
    gdf.to_file(data / LSOA)
    set_column(data / DEP, "lsoa_code", lambda v: [_mess_up(c, i) if i % 2 else c for i, c in enumerate(v)])
    n_dep = sum(1 for i in range(220) if i % 2)
    set_column(data / POP, "LSOA Code", lambda v: [_mess_up(c, i) for i, c in enumerate(v)])
    codes = [r[0] for r in read_rows(ROOT / DEP)[1:]]
    write_rows(data / "lookup.csv", [["LSOA11CD", "LSOA21CD", "CHGIND"]]
               + [[c.lower(), f" {c} ", "U"] for c in codes])
    raw["boundaries"]["vintage_lookup"] = {"path": "lookup.csv"}
    street = police_files(data)[-1]
    set_column(street, "LSOA code", lambda v: [c.lower() if i % 2 else c for i, c in enumerate(v)])
    with caplog.at_level(logging.WARNING):
        _run(data, raw, tmp_path / "out")
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    expected = [
        f"LSOA 2011 (croydon_lsoa11_bsc.geojson): normalised {n_boundary} LSOA/area code(s) in 'LSOA11CD'",
        f"simulated_deprivation.csv: normalised {n_dep} LSOA/area code(s) in 'lsoa_code'",
        "croydon_census2011_population.csv: normalised 220 LSOA/area code(s) in 'LSOA Code'",
        "upper-layer table (croydon_census2011_population.csv): normalised 220 LSOA/area code(s) in 'LSOA Code'",
        "LSOA vintage lookup (lookup.csv): normalised 220 LSOA/area code(s) in 'LSOA11CD'",
        "LSOA vintage lookup (lookup.csv): normalised 220 LSOA/area code(s) in 'LSOA21CD'",
        "police_uk: normalised ",  # distinct codes in one month's file, spelt both ways
    ]
    for text in expected:
        assert any(w.startswith(text) for w in warnings), (text, warnings)
    for name in ("rankings.csv", "indicator_inputs.csv", "wards.csv", "priority_neighbourhoods.csv",
                 "patrol_plan.csv", "concentration.csv", "priority_neighbourhoods.geojson"):
        assert (tmp_path / "out" / name).read_bytes() == (good_outputs / name).read_bytes(), name


def test_clean_codes_give_no_normalisation_warning(tmp_path, caplog):
    data = copy_demo_data(tmp_path / "data")
    with caplog.at_level(logging.WARNING):
        _run(data, copy.deepcopy(DEMO), tmp_path / "out")
    assert not [r for r in caplog.records if "normalised" in r.getMessage()]


def test_allow_coverage_gaps_runs_with_a_warning_naming_the_lsoa(tmp_path, caplog):
    data = copy_demo_data(tmp_path / "data")
    raw = copy.deepcopy(DEMO)
    gdf = gpd.read_file(data / LSOA)
    victim = str(gdf.loc[0, "LSOA11CD"])
    gdf.drop(index=[0]).to_file(data / LSOA)
    raw["boundaries"]["allow_coverage_gaps"] = True
    with caplog.at_level(logging.WARNING):
        run = _run(data, raw, tmp_path / "out")
    gap = [r.getMessage() for r in caplog.records if r.getMessage().startswith("coverage: 1 of the study area")]
    assert gap and victim in gap[0] and "allow_coverage_gaps is set" in gap[0]
    assert len(run.rankings) == 219 and victim not in run.rankings.index


def test_extra_boundary_lsoa_named_by_no_source_is_reported_by_code(tmp_path, caplog):
    from pli.boundaries import check_coverage, load_boundaries

    data = copy_demo_data(tmp_path / "data")
    cfg = parse_config(copy.deepcopy(DEMO), data_dir=data)
    b = load_boundaries(cfg)
    codes = b.lsoa.index
    sources = {"population": (codes[2:], None), "deprivation": (codes[1:], None)}
    with caplog.at_level(logging.WARNING):
        cov = check_coverage(b, sources, study_area="population")
    assert cov.extra == (codes[0],) and cov.outside_study_area == tuple(codes[:2]) and cov.gaps == ()
    text = "\n".join(r.getMessage() for r in caplog.records)
    assert f"1 boundary LSOA(s) are named by no data source (population, deprivation): {codes[0]}" in text
    assert "2 boundary LSOA(s) are not in the study-area source 'population'" in text


def test_overlapping_lsoa_polygons_are_found_by_code(tmp_path):
    data = copy_demo_data(tmp_path / "data")
    lsoa = gpd.read_file(data / LSOA).to_crs(27700).set_index("LSOA11CD")
    assert find_overlaps(lsoa).empty  # generalised neighbours only touch (or overlap by slivers)
    a, b = lsoa.index[10], lsoa.index[11]
    moved = lsoa.copy()
    # B swallows a third of A: a duplicated area, well above the 1% tolerance.
    geom_a = lsoa.geometry[a]
    minx, miny, maxx, maxy = geom_a.bounds
    part = geom_a.intersection(shapely.box(minx, miny, minx + (maxx - minx) / 3, maxy))
    moved.loc[b, "geometry"] = lsoa.geometry[b].union(part)
    found = find_overlaps(moved)
    assert list(zip(found["code_a"], found["code_b"])) == [tuple(sorted((a, b)))]
    expected = part.area / min(geom_a.area, moved.geometry[b].area)
    assert found["share"].iloc[0] == pytest.approx(expected, rel=1e-6)


def test_overlaps_are_reported_in_the_run_log(tmp_path, caplog):
    data = copy_demo_data(tmp_path / "data")
    gdf = gpd.read_file(data / LSOA)
    metric = gdf.to_crs(27700)
    a, b = 20, 21
    grown = metric.geometry.iloc[b].union(metric.geometry.iloc[a].buffer(-30))
    gdf.loc[b, "geometry"] = gpd.GeoSeries([grown], crs=27700).to_crs(gdf.crs).iloc[0]
    gdf.to_file(data / LSOA)
    with caplog.at_level(logging.WARNING):
        _run(data, copy.deepcopy(DEMO), tmp_path / "out")
    pair = "/".join(sorted((gdf.loc[a, "LSOA11CD"], gdf.loc[b, "LSOA11CD"])))
    assert any("pair(s) of LSOA polygons overlap by more than 1%" in r.getMessage() and pair in r.getMessage()
               for r in caplog.records)


# --------------------------------------------------------------------------- row order


def _shuffle_csv(path: Path, rng: random.Random) -> None:
    rows = read_rows(path)
    body = rows[1:]
    rng.shuffle(body)
    write_rows(path, rows[:1] + body)


def _shuffle_every_input(data: Path, raw: dict) -> None:
    rng = random.Random(20261204)
    gdf = gpd.read_file(data / LSOA)
    gdf.sample(frac=1, random_state=3).to_file(data / LSOA)
    for path in (data / POP, data / DEP, *police_files(data)):
        _shuffle_csv(path, rng)
    # Files are found by walking the folder; renaming the month folders changes the
    # order the walk meets them in without changing what they hold.
    for i, path in enumerate(sorted((data / "indicators/demo/police_uk").iterdir(), reverse=True)):
        path.rename(path.with_name(f"{i:02d}-{path.name}"))


def _manifest_without_run_details(path: Path) -> dict:
    manifest = json.loads(path.read_text(encoding="utf-8"))
    for key in ("created_utc", "inputs", "data_dir", "config_path", "output_roots", "run_id", "record_cache"):
        manifest.pop(key, None)
    # The maps folder's own manifest holds the run id, so its hash differs by run.
    manifest["outputs"] = {k: v for k, v in manifest.get("outputs", {}).items() if not k.endswith("manifest.json")}
    return manifest


def test_shuffled_rows_of_every_input_give_identical_outputs(tmp_path):
    """Every output byte (tables, GeoPackage, HTML maps, PNG figures) is the same after
    shuffling the rows of every input; manifests differ only by the run's identity."""
    runs = {}
    for name, shuffle in (("clean", False), ("shuffled", True)):
        data = copy_demo_data(tmp_path / name / "data")
        raw = copy.deepcopy(DEMO)
        if shuffle:
            _shuffle_every_input(data, raw)
            assert gpd.read_file(data / LSOA)["LSOA11CD"].tolist() != gpd.read_file(ROOT / LSOA)["LSOA11CD"].tolist()
        out, maps_dir = tmp_path / name / "output", tmp_path / name / "maps"
        run_index(parse_config(raw, data_dir=data), out_dir=out, maps_dir=maps_dir)
        runs[name] = (out, maps_dir)
    for (a, b) in zip(runs["clean"], runs["shuffled"]):
        got, want = hashes(b), hashes(a)
        assert sorted(got) == sorted(want)
        differing = sorted(k for k in want if k != "manifest.json" and got[k] != want[k])
        assert not differing, differing
        assert _manifest_without_run_details(b / "manifest.json") == _manifest_without_run_details(a / "manifest.json")
    assert any(k.endswith(".html") for k in hashes(runs["clean"][1]))
    assert "pli.gpkg" in hashes(runs["clean"][0])


def test_shuffled_real_boundaries_keep_every_gi_and_lisa_label(tmp_path):
    if not (SHARED_DATA / "croydon_lsoa11_bgc.geojson").is_file():
        pytest.skip(f"real Croydon snapshot not found at {SHARED_DATA}")
    import yaml

    raw = yaml.safe_load((ROOT / "configs" / "croydon-open-data.yml").read_text(encoding="utf-8"))
    shuffled = tmp_path / "lsoa_shuffled.geojson"
    gpd.read_file(SHARED_DATA / "croydon_lsoa11_bgc.geojson").sample(frac=1, random_state=11).to_file(shuffled)
    wards = tmp_path / "wards_shuffled.geojson"
    gpd.read_file(SHARED_DATA / "croydon_wards_2018.geojson").sample(frac=1, random_state=12).to_file(wards)
    runs = []
    for name, path in (("plain", None), ("shuffled", shuffled)):
        cfg_raw = copy.deepcopy(raw)
        cfg_raw.pop("patrols")  # the burglary points are not what this test is about; it saves time
        if path is not None:
            cfg_raw["boundaries"]["lsoa"]["path"] = str(path)
            cfg_raw["boundaries"]["wards"]["path"] = str(wards)
            cfg_raw["allow_outside_data_dir"] = True  # the shuffled copies live in tmp_path
        cfg = parse_config(cfg_raw, data_dir=SHARED_DATA)
        runs.append(run_index(cfg, out_dir=tmp_path / name, maps_dir=None).rankings.sort_index())
    labels = [c for c in runs[0].columns if c.startswith(("gi_label", "lisa_cluster"))]
    assert len(labels) >= 4
    pd.testing.assert_frame_equal(runs[0][labels], runs[1][labels])
    assert np.array_equal(runs[0]["gi_p"].to_numpy(), runs[1]["gi_p"].to_numpy())
    assert runs[0]["neighbourhood_rank"].equals(runs[1]["neighbourhood_rank"])


def test_lowercase_iod_codes_load_like_the_published_file(tmp_path, caplog):
    from pli.config import SourceSpec
    from pli.indicators import load_source

    _needs_snapshot()
    rows = read_rows(IOD_SNAPSHOT)
    rows[1:] = [[f" {r[0].lower()} ", *r[1:]] for r in rows[1:]][::-1]  # and in reverse order
    write_rows(tmp_path / "iod.csv", rows)
    spec = SourceSpec(kind="iod2019", path="iod.csv")
    with caplog.at_level(logging.WARNING):
        messy = load_source("iod", spec, resolve=lambda p: tmp_path / p)
    clean = load_source("iod", spec, resolve=lambda p: IOD_SNAPSHOT.parent / IOD_SNAPSHOT.name)
    assert any(r.getMessage().startswith("iod.csv: normalised 220 LSOA/area code(s) in 'LSOA code (2011)'")
               for r in caplog.records)
    pd.testing.assert_frame_equal(messy.table, clean.table)
    assert clean.table.index.is_monotonic_increasing


def test_study_area_in_2021_codes_names_the_missing_2011_lsoa(tmp_path):
    """A 2021 population file maps onto 2011 boundaries: a split LSOA's 2011 parent is needed."""
    import yaml

    from pli.boundaries import check_coverage, load_boundaries
    from pli.errors import InputError

    if not (SHARED_DATA / "croydon_lsoa11_bgc.geojson").is_file():
        pytest.skip(f"real Croydon snapshot not found at {SHARED_DATA}")
    lookup = pd.read_csv(SHARED_DATA / "croydon_lsoa11_to_lsoa21_lookup.csv")
    split = lookup.loc[lookup["CHGIND"] == "S", "LSOA11CD"]
    assert len(split)
    parent = str(split.iloc[0])
    lsoa = gpd.read_file(SHARED_DATA / "croydon_lsoa11_bgc.geojson")
    lsoa[lsoa["lsoa11cd"] != parent].to_file(tmp_path / "lsoa.geojson")
    raw = yaml.safe_load((ROOT / "configs" / "croydon-open-data.yml").read_text(encoding="utf-8"))
    raw["boundaries"]["lsoa"]["path"] = str(tmp_path / "lsoa.geojson")
    raw["allow_outside_data_dir"] = True  # the trimmed boundary copy lives in tmp_path
    cfg = parse_config(raw, data_dir=SHARED_DATA)
    b = load_boundaries(cfg)
    census = pd.read_csv(SHARED_DATA / "croydon_census2021_ts007a_lsoa21.csv")
    codes = pd.Index(census["geography code"].astype(str))
    children = lookup.loc[lookup["LSOA11CD"] == parent, "LSOA21CD"]
    assert len(children) >= 2 and children.isin(codes).all()  # the children are in the file, not the parent
    with pytest.raises(InputError) as info:
        check_coverage(b, {"census": (codes, SHARED_DATA / "croydon_census2021_ts007a_lsoa21.csv")},
                       study_area="census")
    assert (f"coverage: 1 of the study area's 220 LSOAs (those named in croydon_census2021_ts007a_lsoa21.csv, "
            f"source 'census') have no polygon in lsoa.geojson: {parent}") in str(info.value)
    cov = check_coverage(b, {"census": (codes, None)}, study_area="census", allow_gaps=True)
    assert cov.gaps == (parent,) and len(cov.study_area) == 220 and cov.extra == ()


def test_population_check_runs_before_any_floor_hides_it(tmp_path, caplog):
    data = copy_demo_data(tmp_path / "data")
    raw = copy.deepcopy(DEMO)
    pop_in_thousands(data, raw)
    cfg = parse_config(raw, data_dir=data)
    from pli.errors import InputError

    with caplog.at_level(logging.INFO), pytest.raises(InputError, match="does not hold residents per LSOA"):
        run_index(cfg, out_dir=tmp_path / "out", maps_dir=None)
    assert not [r for r in caplog.records if "below the floor" in r.getMessage()]
    assert not (tmp_path / "out").exists()
