"""Tests for the demo generator (pli.simulate) and the shipped Croydon demo files."""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from esda.moran import Moran
from libpysal.graph import Graph

from pli.errors import InputError
from pli.simulate import (
    CRIME_TYPES,
    DEFAULT_CRIME_SHARES,
    POLICE_UK_COLUMNS,
    SIMULATED_FORCE,
    build_demo_inputs,
    read_census2011_population,
    read_demo_lsoa,
    simulate_demo_inputs,
)

ROOT = Path(__file__).resolve().parents[1]
BOUNDARY = ROOT / "boundaries" / "croydon_lsoa11_bsc.geojson"
CENSUS = ROOT / "indicators" / "demo" / "croydon_census2011_population.csv"
DEMO = ROOT / "indicators" / "demo"
CENSUS_HEADER = (
    b"Region code,Region name,Local authority code,Local authority name,MSOA Code,MSOA Name,"
    b"LSOA Code,LSOA Name,,Persons,Persons,Persons,Hectares,Persons per hectare,Households,"
    b"Persons per household\r\n"
)


@pytest.fixture(scope="module")
def lsoa() -> gpd.GeoDataFrame:
    return read_demo_lsoa(BOUNDARY)


@pytest.fixture(scope="module")
def population() -> pd.Series:
    return read_census2011_population(CENSUS)


@pytest.fixture(scope="module")
def sim(lsoa, population):
    return simulate_demo_inputs(lsoa, population, seed=0)


def _rate(sim, population) -> pd.Series:
    counts = sim.crime_points["LSOA code"].value_counts().reindex(sim.deprivation.index, fill_value=0)
    return counts / population.reindex(counts.index) * 1000


# --------------------------------------------------------------------------- generator


def test_same_seed_gives_identical_frames_and_other_seed_differs(lsoa, population, sim):
    again = simulate_demo_inputs(lsoa, population, seed=0)
    pd.testing.assert_frame_equal(again.crime_points, sim.crime_points)
    pd.testing.assert_frame_equal(again.deprivation, sim.deprivation)
    other = simulate_demo_inputs(lsoa, population, seed=1)
    assert not other.deprivation.equals(sim.deprivation)
    assert len(other.crime_points) != len(sim.crime_points) or not other.crime_points.equals(sim.crime_points)
    assert other.town_centre != sim.town_centre or other.hotspot != sim.hotspot
    assert sim.seed == 0 and other.seed == 1


def test_map_points_put_records_on_shared_places_like_police_uk(lsoa, population, sim):
    snapped = simulate_demo_inputs(lsoa, population, seed=0, map_point_spacing_m=100.0)
    pd.testing.assert_frame_equal(snapped.deprivation, sim.deprivation)
    assert len(snapped.crime_points) == len(sim.crime_points)
    points = snapped.crime_points
    xy = gpd.GeoSeries(gpd.points_from_xy(points["Longitude"], points["Latitude"]), crs=4326).to_crs(27700)
    # On the lattice to within the rounding of 6-decimal degrees (about 0.1 m).
    for v in (xy.x.to_numpy(), xy.y.to_numpy()):
        assert np.abs(v - np.round(v / 100.0) * 100.0).max() < 0.5
    places = points.groupby(["Longitude", "Latitude"]).ngroups
    own = sim.crime_points.groupby(["Longitude", "Latitude"]).ngroups
    assert places < 0.5 * own
    with pytest.raises(InputError, match="map_point_spacing_m"):
        simulate_demo_inputs(lsoa, population, seed=0, map_point_spacing_m=0)


def test_inputs_are_not_mutated(lsoa, population):
    lsoa_before, pop_before = lsoa.copy(), population.copy()
    simulate_demo_inputs(lsoa, population, seed=3, months=2)
    pd.testing.assert_frame_equal(lsoa, lsoa_before)
    pd.testing.assert_series_equal(population, pop_before)


def test_crime_rate_is_spatially_clustered(lsoa, population, sim):
    rate = _rate(sim, population).reindex(lsoa.index)
    w = Graph.build_contiguity(lsoa, rook=False).transform("r").to_W()
    np.random.seed(12345)  # esda draws permutations from the global RNG
    mi = Moran(rate.to_numpy(), w, permutations=999)
    assert mi.I > 0.2
    assert mi.p_sim < 0.01
    # Control: the same values shuffled over LSOAs lose the structure.
    shuffled = np.random.default_rng(7).permutation(rate.to_numpy())
    assert abs(Moran(shuffled, w, permutations=0).I) < 0.1


def test_crime_type_shares_follow_configuration(sim):
    types = sim.crime_points["Crime type"]
    assert set(types) == set(CRIME_TYPES) and len(CRIME_TYPES) == 14
    observed = types.value_counts(normalize=True)
    n = len(types)
    for crime_type, expected in DEFAULT_CRIME_SHARES.items():
        sd = np.sqrt(expected * (1 - expected) / n)
        # 0.005 allows for the planted violence cluster diluting the other shares.
        assert abs(observed[crime_type] - expected) < 4 * sd + 0.005, crime_type
    assert observed["Violence and sexual offences"] / observed.drop("Anti-social behaviour").sum() == pytest.approx(
        0.32, abs=0.02
    )


def test_custom_shares_are_honoured(lsoa, population):
    shares = {"Burglary": 3.0, "Anti-social behaviour": 1.0}
    out = simulate_demo_inputs(lsoa, population, seed=2, months=3, crime_shares=shares)
    observed = out.crime_points["Crime type"].value_counts(normalize=True)
    assert set(observed.index) <= {"Burglary", "Anti-social behaviour", "Violence and sexual offences"}
    assert observed["Burglary"] / (observed["Burglary"] + observed["Anti-social behaviour"]) == pytest.approx(
        0.75, abs=0.02
    )


def test_points_fall_inside_their_lsoa(sim):
    raw = gpd.read_file(BOUNDARY).set_index("LSOA11CD")  # source lon/lat polygons, no reprojection
    cp = sim.crime_points
    pts = gpd.GeoSeries(gpd.points_from_xy(cp["Longitude"], cp["Latitude"]), crs=raw.crs)
    inside = pts.within(gpd.GeoSeries(raw.geometry.loc[cp["LSOA code"]].to_numpy(), crs=raw.crs))
    assert inside.all(), f"{(~inside).sum()} of {len(cp)} points outside their LSOA"
    names = raw["LSOA11NM"].loc[cp["LSOA code"]].to_numpy()
    assert (cp["LSOA name"].to_numpy() == names).all()


def test_police_uk_layout(sim):
    cp = sim.crime_points
    assert tuple(cp.columns) == POLICE_UK_COLUMNS
    assert (cp["Reported by"] == SIMULATED_FORCE).all() and (cp["Falls within"] == SIMULATED_FORCE).all()
    assert sorted(cp["Month"].unique()) == [f"2025-{m:02d}" for m in range(1, 13)] == list(sim.months)
    asb = cp["Crime type"] == "Anti-social behaviour"
    assert (cp.loc[asb, "Crime ID"] == "").all() and (cp.loc[asb, "Last outcome category"] == "").all()
    assert cp.loc[~asb, "Crime ID"].str.fullmatch(r"[0-9a-f]{64}").all()
    assert cp.loc[~asb, "Crime ID"].is_unique
    assert (cp.loc[~asb, "Last outcome category"] != "").all()
    assert cp["Location"].str.fullmatch(r"On or near Simulated Street \d{2}").all()
    for col in ("Longitude", "Latitude"):
        assert (cp[col] == cp[col].round(6)).all()


def test_planted_hotspot_and_town_centre(lsoa, population, sim):
    cp = sim.crime_points
    viol = cp[cp["Crime type"] == "Violence and sexual offences"]
    xy = gpd.GeoSeries(gpd.points_from_xy(viol["Longitude"], viol["Latitude"]), crs=4326).to_crs(27700)
    d = np.hypot(xy.x - sim.hotspot[0], xy.y - sim.hotspot[1])
    in_disc = int((d <= sim.hotspot_radius_m).sum())
    background = len(viol) / lsoa.area.sum() * np.pi * sim.hotspot_radius_m**2
    assert in_disc >= 40 and in_disc > 10 * background

    centre = lsoa.index[lsoa.contains(gpd.points_from_xy([sim.town_centre[0]], [sim.town_centre[1]])[0])]
    assert len(centre) == 1
    rate = _rate(sim, population)
    assert population[centre[0]] <= population.reindex(lsoa.index).quantile(0.25)
    assert rate[centre[0]] >= rate.quantile(0.9)


def test_deprivation_scores(lsoa, sim):
    dep = sim.deprivation
    assert list(dep.columns) == ["income_score", "employment_score", "idaci_score", "imd_score"]
    assert dep.index.name == "lsoa_code" and dep.index.equals(lsoa.index)
    for col in ("income_score", "employment_score"):
        assert dep[col].between(0, 0.5).all()
    assert dep["idaci_score"].between(0, 1).all()
    assert dep["imd_score"].between(0, 70).all()
    # Roughly lognormal: right-skewed, log nearly symmetric.
    assert dep["imd_score"].skew() > 0.3 and abs(np.log(dep["imd_score"]).skew()) < 0.5
    for col in dep.columns:
        assert dep[col].corr(sim.disadvantage, method="spearman") > 0.7, col


def test_bad_inputs_raise_input_error(lsoa, population):
    with pytest.raises(InputError, match="EPSG:27700"):
        simulate_demo_inputs(lsoa.to_crs(4326), population)
    with pytest.raises(InputError, match=r"no value for 1 LSOAs \(e\.g\. E01000975\)"):
        simulate_demo_inputs(lsoa, population.drop("E01000975"))
    with pytest.raises(InputError, match="non-negative"):
        simulate_demo_inputs(lsoa, population.where(population.index != "E01000976", -1))
    with pytest.raises(InputError, match="end_month"):
        simulate_demo_inputs(lsoa, population, end_month="December")


# --------------------------------------------------------------------------- shipped files


def test_shipped_boundaries():
    doc = json.loads(BOUNDARY.read_text(encoding="utf-8"))
    feats = doc["features"]
    assert len(feats) == 220
    assert all(set(f["properties"]) == {"LSOA11CD", "LSOA11NM"} for f in feats)
    assert all(f["properties"]["LSOA11NM"].startswith("Croydon ") for f in feats)
    gdf = gpd.read_file(BOUNDARY)
    assert gdf.crs.to_epsg() == 4326 and gdf["LSOA11CD"].is_unique and gdf.is_valid.all()
    # Croydon is about 86.5 km2.
    assert 80e6 < gdf.to_crs(27700).area.sum() < 93e6


def test_shipped_census_file():
    raw = CENSUS.read_bytes()
    assert raw.startswith(CENSUS_HEADER)
    lines = raw.splitlines(keepends=True)
    assert all(line.endswith(b"\r\n") for line in lines)
    rows = list(csv.reader(line.decode("utf-8") for line in lines[1:]))
    assert len(rows) == 220
    assert {r[2] for r in rows} == {"E09000008"}
    assert len({r[6] for r in rows}) == 220
    msoa = {r[4] for r in rows}
    assert len(msoa) == 44 and all(m.startswith("E02") for m in msoa)
    pop = read_census2011_population(CENSUS)
    assert pop.sum() == sum(int(r[9].replace(",", "")) for r in rows)
    boundary_codes = set(gpd.read_file(BOUNDARY)["LSOA11CD"])
    assert set(pop.index) == boundary_codes


def test_shipped_simulated_files():
    months = sorted(p.name for p in (DEMO / "police_uk").iterdir() if p.is_dir())
    assert len(months) == 12
    boundary_codes = set(gpd.read_file(BOUNDARY)["LSOA11CD"])
    frames = []
    for m in months:
        path = DEMO / "police_uk" / m / f"{m}-simulated-street.csv"
        assert path.read_bytes().startswith((",".join(POLICE_UK_COLUMNS) + "\r\n").encode())
        frame = pd.read_csv(path, dtype=str, keep_default_na=False)
        assert (frame["Month"] == m).all()
        frames.append(frame)
    crimes = pd.concat(frames)
    assert set(crimes["LSOA code"]) <= boundary_codes and crimes["LSOA code"].nunique() == 220
    assert 15_000 < len(crimes) < 40_000
    dep = pd.read_csv(DEMO / "simulated_deprivation.csv", dtype={"lsoa_code": str})
    assert len(dep) == 220 and set(dep["lsoa_code"]) == boundary_codes

    shipped = [BOUNDARY, CENSUS, DEMO / "simulated_deprivation.csv", *(DEMO / "police_uk").glob("*/*.csv")]
    assert sum(p.stat().st_size for p in shipped) < 5_000_000


def test_shipped_simulated_files_are_reproduced_byte_for_byte(tmp_path):
    written = build_demo_inputs(BOUNDARY, CENSUS, tmp_path)
    assert len(written) == 13
    for path in written:
        rel = path.relative_to(tmp_path)
        assert path.read_bytes() == (DEMO / rel).read_bytes(), f"{rel} differs from the shipped file"


def test_to_frame_summarises_per_lsoa(sim):
    frame = sim.to_frame()
    assert len(frame) == 220 and frame.index.name == "lsoa_code"
    assert frame[list(CRIME_TYPES)].to_numpy().sum() == len(sim.crime_points)
    assert re.fullmatch(r"E01\d{6}", frame.index[0])
