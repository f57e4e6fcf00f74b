"""Deliberately broken inputs: each must stop with one clear error and change no output.

The demo is run once into a "good" output folder. Every case copies the demo data into
a temporary folder, breaks one thing (a file, or the config mapping), runs the whole
pipeline into a copy of the good outputs and checks

* the error type and an exact fragment of its message (which names the file, column
  or key, what was expected and what arrived), and
* that every output file is byte-identical afterwards, no maps folder appeared and no
  staging folder was left behind.

A few inputs are odd but usable (an island LSOA, a repairable bow-tie polygon, a few
points outside the area): that run must succeed and announce each one in the log.
"""

from __future__ import annotations

import copy
import csv
import json
import logging
import subprocess
import sys
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
import yaml

from pli.config import parse_config
from pli.errors import InputError
from pli.pipeline import run_index

from broken_harness import DEMO, DEP, HARM, LSOA, POP, ROOT, assert_fails_clearly
from broken_harness import lsoa_frame as _lsoa_frame
from broken_harness import police_files as _police_files
from broken_harness import read_rows as _read_rows
from broken_harness import set_column as _set_column
from broken_harness import write_geojson_text as _write_geojson_text
from broken_harness import write_rows as _write_rows
from conftest import copy_demo_data


def _other_area_codes(n: int) -> list[str]:
    # Real 2011 LSOA codes of Barking and Dagenham / Barnet: London, but not Croydon.
    return [f"E01{i:06d}" for i in range(6, 6 + n)]


# --------------------------------------------------------------------------- breakers
# Each takes (data_dir, raw_config) and breaks one thing in place.


def cfg_unknown_key(data, raw):
    crime = raw["sources"]["crime"]
    crime["window_month"] = crime.pop("window_months")


def cfg_wrong_type(data, raw):
    raw["clustering"] = {"permutations": "many"}


def cfg_negative_indicator_weight(data, raw):
    raw["indicators"][1]["weight"] = -1


def cfg_negative_domain_weight(data, raw):
    raw["index"]["domain_weights"] = {"crime": -0.5, "deprivation": 1}


def cfg_misspelt_transform(data, raw):
    raw["indicators"][1]["transform"] = "rates"


def cfg_unknown_source(data, raw):
    raw["indicators"][0]["source"] = "crimes"


def cfg_start_after_end(data, raw):
    raw["sources"]["crime"].update(start_month="2025-09", end_month="2025-03")


def cfg_bad_month_format(data, raw):
    raw["sources"]["crime"]["start_month"] = "2025/03"


def cfg_window_outside_data(data, raw):
    raw["sources"]["crime"].update(start_month="2023-01", end_month="2023-12")


def cfg_bad_outside_shares(data, raw):
    raw["sources"]["deprivation"].update(outside_warn_share=0.5, outside_error_share=0.1)


def cfg_vintage_without_lookup(data, raw):
    raw["sources"]["deprivation"]["vintage"] = 2021


def cfg_missing_file_with_suggestion(data, raw):
    raw["sources"]["deprivation"]["path"] = "indicators/demo/simulated_deprivaton.csv"


def cfg_code_column_wrong(data, raw):
    raw["sources"]["deprivation"]["code_column"] = "lsoa_cd"


def cfg_boundary_code_field_wrong(data, raw):
    raw["boundaries"]["lsoa"]["code_field"] = "LSOA11C"


def file_empty(data, raw):
    (data / DEP).write_bytes(b"")


def file_header_only(data, raw):
    _write_rows(data / DEP, _read_rows(data / DEP)[:1])


def file_binary_garbage(data, raw):
    (data / DEP).write_bytes(b"PK\x03\x04" + np.random.default_rng(0).bytes(4000))


def file_wrong_encoding(data, raw):
    rows = _read_rows(data / DEP)
    rows[0].append("area_note")
    for r in rows[1:]:
        r.append("Caf\u00e9 quarter")
    with open(data / DEP, "w", newline="", encoding="cp1252") as fh:
        csv.writer(fh, lineterminator="\n").writerows(rows)


def police_missing_column(data, raw):
    path = _police_files(data)[5]
    frame = pd.read_csv(path, dtype=str, keep_default_na=False).drop(columns=["Crime type"])
    frame.to_csv(path, index=False)


def police_bad_month(data, raw):
    _set_column(_police_files(data)[5], "Month", lambda v: ["June 2025"] * len(v))


def police_empty_month_file(data, raw):
    _police_files(data)[2].write_bytes(b"")


def police_non_numeric_coordinates(data, raw):
    _set_column(_police_files(data)[0], "Longitude", lambda v: ["west"] + v[1:])


def police_other_area(data, raw):
    for path in _police_files(data):
        codes = sorted(set(r[7] for r in _read_rows(path)[1:]))
        swap = dict(zip(codes, _other_area_codes(len(codes))))
        _set_column(path, "LSOA code", lambda v, swap=swap: [swap[c] for c in v])


def table_renamed_column(data, raw):
    rows = _read_rows(data / DEP)
    rows[0] = ["income_scr" if h == "income_score" else h for h in rows[0]]
    _write_rows(data / DEP, rows)


def table_non_numeric_value(data, raw):
    _set_column(data / DEP, "income_score", lambda v: v[:2] + ["high"] + v[3:])


def table_duplicate_codes(data, raw):
    rows = _read_rows(data / DEP)
    _write_rows(data / DEP, rows + [rows[1]])


def table_all_missing(data, raw):
    _set_column(data / DEP, "income_score", lambda v: [""] * len(v))


def table_constant(data, raw):
    _set_column(data / DEP, "employment_score", lambda v: ["0.1"] * len(v))


def table_wrong_vintage_codes(data, raw):
    # As if keyed by 2021 codes: the new E0103xxxx codes of split/merged LSOAs.
    _set_column(data / DEP, "lsoa_code",
                lambda v: [f"E0103{5000 + i:04d}" if i % 5 < 3 else c for i, c in enumerate(v)])


def table_other_area(data, raw):
    _set_column(data / DEP, "lsoa_code", lambda v: _other_area_codes(len(v)))


def census_non_numeric_count(data, raw):
    _set_column(data / POP, "Persons", lambda v: ["1,5OO"] + v[1:])


def census_negative_count(data, raw):
    _set_column(data / POP, "Persons", lambda v: ["-1769"] + v[1:])


def census_zero_denominator(data, raw):
    _set_column(data / POP, "Persons", lambda v: ["0"] + v[1:])
    raw["denominators"]["population"].pop("floor")


def census_missing_lsoa(data, raw):
    rows = _read_rows(data / POP)
    _write_rows(data / POP, rows[:1] + rows[2:])


def indicator_pattern_matches_nothing(data, raw):
    raw["indicators"][2]["columns"] = ["Robbry"]


def _lookup_rows(data: Path) -> list[list[str]]:
    codes = [r[0] for r in _read_rows(data / DEP)[1:]]
    return [["LSOA11CD", "LSOA21CD", "CHGIND"]] + [[c, c, "U"] for c in codes]


def lookup_missing_columns(data, raw):
    rows = [r[:2] for r in _lookup_rows(data)]
    _write_rows(data / "lookup.csv", rows)
    raw["boundaries"]["vintage_lookup"] = {"path": "lookup.csv"}


def lookup_complex_change(data, raw):
    rows = _lookup_rows(data)
    victim = rows[1][0]
    rows[1] = [victim, "E01035999", "X"]
    _write_rows(data / "lookup.csv", rows)
    raw["boundaries"]["vintage_lookup"] = {"path": "lookup.csv"}
    raw["sources"]["deprivation"]["vintage"] = 2021
    _set_column(data / DEP, "lsoa_code", lambda v: ["E01035999" if c == victim else c for c in v])


def harm_missing_category(data, raw):
    rows = [r for r in _read_rows(data / HARM) if r[:2] != ["police_uk", "Robbery"]]
    _write_rows(data / "harm.csv", rows)
    raw["index"]["harm_weights"] = "harm.csv"


def harm_negative_weight(data, raw):
    rows = _read_rows(data / HARM)
    for r in rows:
        if r[:2] == ["police_uk", "Robbery"]:
            r[2] = "-365"
    _write_rows(data / "harm.csv", rows)
    raw["index"]["harm_weights"] = "harm.csv"


def boundary_shapefile_without_prj(data, raw):
    shp = data / "boundaries" / "lsoa.shp"
    _lsoa_frame(data).to_crs(27700).to_file(shp)
    shp.with_suffix(".prj").unlink()
    raw["boundaries"]["lsoa"]["path"] = "boundaries/lsoa.shp"


def boundary_metres_as_lonlat(data, raw):
    _write_geojson_text(data / LSOA, _lsoa_frame(data).to_crs(27700), crs_member=None)


def boundary_lonlat_declared_metres(data, raw):
    bng = {"type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::27700"}}
    _write_geojson_text(data / LSOA, _lsoa_frame(data), crs_member=bng)


def boundary_duplicate_codes(data, raw):
    gdf = _lsoa_frame(data)
    gdf.loc[1, "LSOA11CD"] = gdf.loc[0, "LSOA11CD"]
    gdf.to_file(data / LSOA)


def boundary_degenerate_geometry(data, raw):
    gdf = _lsoa_frame(data)
    x0, y0 = gdf.geometry.iloc[3].centroid.coords[0]
    # A "polygon" that runs out and back along one segment: no area in any CRS, so
    # nothing of it survives make_valid.
    a, b = (x0, y0), (x0 + 0.002, y0 + 0.001)
    gdf.loc[3, "geometry"] = shapely.Polygon([a, b, a, b, a])
    gdf.to_file(data / LSOA)


def boundary_single_lsoa(data, raw):
    _lsoa_frame(data).iloc[:1].to_file(data / LSOA)


def boundary_not_gis(data, raw):
    (data / LSOA).write_text("LSOA11CD,geometry\nE01000975,somewhere\n", encoding="utf-8")


def _points_source(data: Path, raw: dict, *, shift_share: float, crs: str = "EPSG:4326") -> None:
    """A 'points' source made from the police.uk records, a share of them moved away."""
    frame = pd.concat([pd.read_csv(p, dtype=str) for p in _police_files(data)], ignore_index=True)
    frame = frame.dropna(subset=["Longitude", "Latitude"])[["Month", "Crime type", "Longitude", "Latitude"]]
    lon = frame["Longitude"].astype(float).to_numpy()
    lat = frame["Latitude"].astype(float).to_numpy()
    moved = np.arange(len(frame)) < int(round(shift_share * len(frame)))
    lon = np.where(moved, lon + 0.6, lon)  # ~40 km east: Kent, not Croydon
    if crs == "EPSG:27700-as-4326":
        from pyproj import Transformer

        lon, lat = Transformer.from_crs(4326, 27700, always_xy=True).transform(lon, lat)
        crs = "EPSG:4326"
    frame = frame.assign(Longitude=np.round(lon, 6), Latitude=np.round(lat, 6))
    frame.to_csv(data / "incidents.csv", index=False)
    raw["sources"]["incidents"] = {
        "kind": "points", "path": "incidents.csv", "x_column": "Longitude", "y_column": "Latitude",
        "crs": crs, "category_column": "Crime type", "date_column": "Month", "date_format": "%Y-%m",
    }


def points_outside_area(data, raw):
    _points_source(data, raw, shift_share=0.4)


def points_eastings_declared_lonlat(data, raw):
    _points_source(data, raw, shift_share=0.0, crs="EPSG:27700-as-4326")


# --------------------------------------------------------------------------- the cases

CASES = [
    # config
    ("unknown-config-key", cfg_unknown_key,
     "sources.crime.window_month: unknown key; did you mean 'window_months'?"),
    ("wrong-type", cfg_wrong_type, "clustering.permutations: expected a whole number, got 'many'"),
    ("negative-indicator-weight", cfg_negative_indicator_weight,
     "indicators[1] (violence_rate).weight: weights must not be negative, got -1"),
    ("negative-domain-weight", cfg_negative_domain_weight,
     "index.domain_weights.crime: weights must not be negative, got -0.5"),
    ("misspelt-transform", cfg_misspelt_transform, "got 'rates'; did you mean 'rate'?"),
    ("unknown-indicator-source", cfg_unknown_source, "unknown source 'crimes'; did you mean 'crime'?"),
    ("start-month-after-end-month", cfg_start_after_end,
     "sources.crime: start_month 2025-09 is after end_month 2025-03; swap them"),
    ("bad-month-format", cfg_bad_month_format,
     "sources.crime.start_month: expected a month as YYYY-MM (e.g. 2025-01), got '2025/03'"),
    ("window-outside-data", cfg_window_outside_data,
     "no data inside the window 2023-01 to 2023-12; the data covers 2025-01 to 2025-12"),
    ("bad-outside-shares", cfg_bad_outside_shares,
     "expected 0 <= outside_warn_share <= outside_error_share <= 1, got 0.5 and 0.1"),
    ("2021-codes-without-lookup", cfg_vintage_without_lookup,
     "sources.deprivation: uses 2021 LSOA codes but boundaries are 2011; add boundaries.vintage_lookup"),
    ("missing-file-with-suggestion", cfg_missing_file_with_suggestion,
     "simulated_deprivaton.csv; did you mean 'simulated_deprivation.csv'?"),
    ("code-column-wrong", cfg_code_column_wrong, "has no column 'lsoa_cd' (closest: 'lsoa_code')"),
    ("boundary-code-field-wrong", cfg_boundary_code_field_wrong,
     "boundaries.lsoa.code_field: {data}/boundaries/croydon_lsoa11_bsc.geojson has no field 'LSOA11C' "
     "(closest: 'LSOA11CD')"),
    # unusable files
    ("empty-file", file_empty, "sources.deprivation: {data}/" + DEP + " is empty (0 bytes)"),
    ("header-only-file", file_header_only, DEP + " has a header row but no data rows"),
    ("binary-garbage-file", file_binary_garbage, DEP + " is not a text CSV (it holds binary data"),
    ("wrong-encoding", file_wrong_encoding, DEP + " cannot be decoded as utf-8"),
    # police.uk street files
    ("police-missing-column", police_missing_column, "2025-06-simulated-street.csv has no column 'Crime type'"),
    ("police-bad-month", police_bad_month, "column 'Month': expected YYYY-MM, found"),
    ("police-empty-month-file", police_empty_month_file, "2025-03-simulated-street.csv is empty (0 bytes)"),
    ("police-non-numeric-coordinates", police_non_numeric_coordinates,
     "Longitude/Latitude must be numbers or blank"),
    ("police-codes-of-another-area", police_other_area,
     "recorded crimes carry LSOA codes not among the study area's 220 2011 LSOAs, "
     "with no vintage lookup (100.0%), none is inside the study area"),
    # LSOA-keyed tables
    ("renamed-indicator-column", table_renamed_column,
     "has no column 'income_score' (closest: 'income_scr')"),
    ("non-numeric-value", table_non_numeric_value,
     "column 'income_score': expected numbers, found 1 non-numeric value(s) (line 4: 'high')"),
    ("duplicate-codes-in-table", table_duplicate_codes, "expected one row per LSOA, found 2 rows with repeated codes"),
    ("all-missing-indicator", table_all_missing,
     "indicator 'income_deprivation' has no value in any of the 220 LSOAs"),
    ("zero-variance-indicator", table_constant,
     "indicator 'employment_deprivation' has the same value (0.1) in every LSOA"),
    ("wrong-vintage-codes", table_wrong_vintage_codes,
     "132 of 220 rows carry LSOA codes not among the study area's 220 2011 LSOAs, with no vintage lookup "
     "(60.0%), above outside_error_share 25%"),
    ("codes-of-another-local-authority", table_other_area,
     "check that the file covers the study area (local authority E09000008)"),
    # Census 2011 population (the denominator)
    ("non-numeric-count", census_non_numeric_count,
     "column 'Persons (usual_residents)': expected numbers, found 1 non-numeric value(s) (line 2: '1,5OO')"),
    ("negative-count", census_negative_count,
     "column 'Persons (usual_residents)': expected counts of 0 or more, found 1 negative value(s) (line 2: -1769)"),
    ("zero-denominator", census_zero_denominator,
     "denominator 'population' (population.usual_residents) is zero or negative for 1 LSOA(s): E01001137"),
    ("lsoa-missing-from-upper-table", census_missing_lsoa,
     "1 of 220 LSOAs are not in column 'LSOA Code': E01001137"),
    # indicators, lookup, harm table
    ("indicator-pattern-matches-nothing", indicator_pattern_matches_nothing,
     "column pattern(s) 'Robbry' match nothing in source 'crime' (close: 'Robbery')"),
    ("lookup-missing-columns", lookup_missing_columns, "lookup.csv has no column 'CHGIND'"),
    ("lookup-complex-change", lookup_complex_change,
     "1 LSOA code(s) changed in a complex way between 2011 and 2021 (CHGIND X or many-to-many)"),
    ("harm-table-missing-category", harm_missing_category,
     "harm weights: 1 police_uk category not in the table: 'Robbery'"),
    ("harm-table-negative-weight", harm_negative_weight,
     "weight_days must be a non-negative number of days, got '-365'"),
    # boundaries
    ("shapefile-without-prj", boundary_shapefile_without_prj,
     "boundaries.lsoa: {data}/boundaries/lsoa.shp has no CRS (e.g. a Shapefile without its .prj); "
     "set boundaries.lsoa.crs"),
    ("geojson-metres-read-as-lonlat", boundary_metres_as_lonlat,
     "declares EPSG:4326 (longitude/latitude) but its coordinates span x 5"),
    ("geojson-lonlat-declared-metres", boundary_lonlat_declared_metres,
     "the file says its CRS is EPSG:27700 (metres) but its coordinates span only"),
    ("duplicate-boundary-codes", boundary_duplicate_codes,
     "codes in field 'LSOA11CD' must be unique but 1 appear more than once"),
    ("degenerate-geometry", boundary_degenerate_geometry,
     "1 invalid geometries have no area left after repair (degenerate polygons)"),
    ("single-lsoa-study-area", boundary_single_lsoa,
     "has 1 feature; a study area needs at least 2 LSOAs"),
    ("boundary-file-not-gis", boundary_not_gis, "as a GIS layer"),
    # point sources
    ("points-outside-study-area", points_outside_area,
     "outside every LSOA polygon (40.0%), above outside_error_share 25%"),
    ("points-eastings-declared-lonlat", points_eastings_declared_lonlat,
     "coordinates in 'Longitude'/'Latitude' are outside lon/lat ranges"),
]


@pytest.mark.parametrize("breaker, fragment", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_broken_input_fails_clearly_and_keeps_outputs(tmp_path, good_outputs, breaker, fragment):
    assert_fails_clearly(tmp_path, good_outputs, breaker, fragment)


def test_broken_suites_hold_enough_distinct_cases():
    """Every ``tests/test_broken_*.py`` suite counts; case ids are unique across all of them."""
    import importlib

    ids: list[str] = []
    for path in sorted(Path(__file__).parent.glob("test_broken_*.py")):
        ids.extend(c[0] for c in importlib.import_module(path.stem).CASES)
    assert len(set(ids)) == len(ids) >= 120, sorted(i for i in ids if ids.count(i) > 1)


def test_validation_reports_every_problem_at_once(tmp_path):
    data = copy_demo_data(tmp_path / "data")
    raw = copy.deepcopy(DEMO)
    file_empty(data, raw)
    cfg_bad_month_format(data, raw)
    harm_negative_weight(data, raw)
    cfg = parse_config(raw, data_dir=data)
    with pytest.raises(InputError) as info:
        run_index(cfg, out_dir=tmp_path / "out", maps_dir=None)
    text = str(info.value)
    assert text.startswith(f"{len(info.value.problems)} problems:\n  - ")
    for fragment in ("is empty (0 bytes)", "expected a month as YYYY-MM", "weight_days must be a non-negative"):
        assert fragment in text
    assert not (tmp_path / "out").exists()


# --------------------------------------------------------------------------- odd but usable


def _make_island(data: Path) -> str:
    gdf = _lsoa_frame(data)
    metric = gdf.to_crs(27700)
    victim = 10
    metric.loc[victim, "geometry"] = metric.geometry.iloc[victim].buffer(-40)
    gdf.loc[victim, "geometry"] = metric.to_crs(4326).geometry.iloc[victim]
    gdf.to_file(data / LSOA)
    return str(gdf.loc[victim, "LSOA11CD"])


def _make_bowtie(data: Path) -> str:
    gdf = _lsoa_frame(data)
    for i in range(len(gdf)):
        ring = np.asarray(gdf.geometry.iloc[i].exterior.coords)
        for j in range(1, len(ring) - 2):
            swapped = ring.copy()
            swapped[[j, j + 1]] = swapped[[j + 1, j]]
            poly = shapely.Polygon(swapped)
            fixed = shapely.make_valid(poly)
            if not poly.is_valid and fixed.area > 0.9 * gdf.geometry.iloc[i].area:
                gdf.loc[i, "geometry"] = poly
                gdf.to_file(data / LSOA)
                return str(gdf.loc[i, "LSOA11CD"])
    raise AssertionError("no vertex swap makes a bow-tie")


def test_odd_but_usable_inputs_run_and_are_announced(tmp_path, caplog):
    data = copy_demo_data(tmp_path / "data")
    raw = copy.deepcopy(DEMO)
    island = _make_island(data)
    bowtie = _make_bowtie(data)
    assert island != bowtie
    _points_source(data, raw, shift_share=0.05)
    cfg = parse_config(raw, data_dir=data)
    with caplog.at_level(logging.INFO):
        run = run_index(cfg, out_dir=tmp_path / "output", maps_dir=None)
    warnings = "\n".join(r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING)
    assert f"repaired 1 invalid geometries with shapely.make_valid (kept polygonal parts): {bowtie}" in warnings
    assert "island(s) attached to their nearest neighbour(s)" in warnings and island in warnings
    # Expected drops, counted independently: points touching no (repaired) LSOA polygon.
    pts = pd.read_csv(data / "incidents.csv")
    n = len(pts)
    polys = gpd.read_file(data / LSOA).to_crs(27700)
    union = shapely.union_all(shapely.make_valid(polys.geometry.to_numpy()))
    xy = gpd.GeoSeries(gpd.points_from_xy(pts["Longitude"], pts["Latitude"]), crs=4326).to_crs(27700)
    n_out = int((~xy.intersects(union)).sum())
    assert 0.05 * n <= n_out < 0.06 * n  # the 5% moved away, plus the strip the island lost
    assert (f"incidents: dropped {n_out:,} of {n:,} point(s) outside every LSOA polygon "
            f"({n_out / n:.1%}) (above outside_warn_share 1%)") in warnings
    assert len(run.rankings) == 220 and run.rankings.loc[island, "rank"] >= 1
    manifest = json.loads((tmp_path / "output" / "manifest.json").read_text())
    assert manifest["row_counts"]["sources"]["incidents"] == n


# --------------------------------------------------------------------------- CLI


def _broken_cli(tmp_path: Path, *flags: str) -> subprocess.CompletedProcess:
    data = copy_demo_data(tmp_path / "data")
    raw = copy.deepcopy(DEMO)
    file_empty(data, raw)
    config = tmp_path / "broken.yml"
    config.write_text(yaml.safe_dump(raw), encoding="utf-8")
    return subprocess.run(
        [sys.executable, "-m", "pli", *flags, "index", "--config", str(config), "--data-dir", str(data),
         "--out", str(tmp_path / "out"), "--no-maps"],
        capture_output=True, text=True, cwd=ROOT, timeout=120,
    )


def test_cli_user_error_is_one_paragraph_without_traceback(tmp_path):
    proc = _broken_cli(tmp_path, "-q")
    assert proc.returncode == 2
    err = proc.stderr.strip()
    assert err.startswith("pli: error: sources.deprivation: ") and "is empty (0 bytes)" in err
    assert "Traceback" not in err and "\n\n" not in err
    assert proc.stdout == ""
    assert not (tmp_path / "out").exists()


def test_cli_debug_shows_the_traceback(tmp_path):
    proc = _broken_cli(tmp_path, "--debug")
    assert proc.returncode != 0
    assert "Traceback (most recent call last)" in proc.stderr
    assert "pli.errors.InputError" in proc.stderr and "is empty (0 bytes)" in proc.stderr
