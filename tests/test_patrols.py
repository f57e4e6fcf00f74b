"""Tests for pli.patrols: grids, counting, Gi*, KDE, concentration and the patrol plan."""

from __future__ import annotations

import logging
import math
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from pli.errors import InputError
from pli.patrols import (
    NO_TIME_TEXT,
    build_grid,
    concentration,
    count_places,
    grid_hotspots,
    kde_surface,
    locate_cells,
    plan_patrols,
    select_points,
    snap_locations,
)

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"
BNG = "EPSG:27700"


class StandInHarm:
    """Stand-in for ``pli.harm.HarmWeights``: illustrative days in the spirit of the
    Cambridge Crime Harm Index (days of imprisonment a first offender would get), not
    the official table. Unknown categories raise, like the real one."""

    DAYS = {
        "Violence and sexual offences": 100.0,
        "Robbery": 365.0,
        "Possession of weapons": 60.0,
        "Burglary": 40.0,
        "Anti-social behaviour": 0.0,
    }

    def weight_for(self, categories, scheme):
        assert scheme == "police_uk"
        missing = [c for c in categories if c not in self.DAYS]
        if missing:
            raise InputError(f"no harm weight for {missing}")
        return np.array([self.DAYS[c] for c in categories], dtype=float)


HARM = StandInHarm()

# --------------------------------------------------------------------------- synthetic data

X0, Y0 = 530_000.0, 160_000.0
HOT = (X0 + 3_675.0, Y0 + 2_475.0)  # centre of cell G150-533600-162450... inside the east half
DECOY = (X0 + 1_200.0, Y0 + 3_300.0)  # west half: burglary and out-of-window violence pile up here


def _disc(rng, centre, n, radius):
    r = radius * np.sqrt(rng.uniform(0, 1, n))
    t = rng.uniform(0, 2 * np.pi, n)
    return centre[0] + r * np.cos(t), centre[1] + r * np.sin(t)


@pytest.fixture(scope="module")
def planted():
    """20,000 background violence/robbery/weapons points over 5 x 5 km, 300 in a 100 m
    cluster (evening times), plus decoys that must be filtered out: 600 burglaries and
    600 violence points from before the window, both piled at one spot in the west."""
    rng = np.random.default_rng(42)
    cats = ["Violence and sexual offences", "Robbery", "Possession of weapons"]
    bx, by = rng.uniform(X0, X0 + 5_000, 20_000), rng.uniform(Y0, Y0 + 5_000, 20_000)
    hx, hy = _disc(rng, HOT, 300, 50.0)
    dx1, dy1 = _disc(rng, DECOY, 600, 40.0)
    dx2, dy2 = _disc(rng, DECOY, 600, 40.0)
    x = np.r_[bx, hx, dx1, dx2]
    y = np.r_[by, hy, dy1, dy2]
    n_main = 20_300
    category = np.r_[
        rng.choice(cats, n_main, p=[0.7, 0.2, 0.1]), ["Burglary"] * 600, ["Violence and sexual offences"] * 600
    ]
    month = np.r_[[f"2024-{m:02d}" for m in rng.integers(1, 13, n_main)], ["2024-06"] * 600, ["2023-06"] * 600]
    hour = np.r_[rng.integers(0, 24, 20_000), rng.choice([21, 22, 23], 300), rng.integers(0, 24, 1_200)]
    day = np.r_[rng.integers(1, 29, n_main + 1_200)]
    points = gpd.GeoDataFrame(
        {
            "month": month,
            "category": category,
            "location": [f"On or near Street {k % 97}" for k in range(len(x))],
            "time": [f"{h:02d}:{m:02d}" for h, m in zip(hour, rng.integers(0, 60, len(x)))],
            "date": [f"{mo}-{d:02d}" for mo, d in zip(month, day)],
            "lsoa_code": "E01000000",
        },
        geometry=gpd.points_from_xy(x, y),
        crs=BNG,
    )
    area = gpd.GeoSeries([shapely.box(X0, Y0, X0 + 5_000, Y0 + 5_000)], crs=BNG)
    neighbourhoods = gpd.GeoDataFrame(
        {"rank": [1, 2], "name": ["West", "East"], "slug": ["west", "east"]},
        geometry=[shapely.box(X0, Y0, X0 + 2_500, Y0 + 5_000), shapely.box(X0 + 2_500, Y0, X0 + 5_000, Y0 + 5_000)],
        crs=BNG,
    )
    return points, neighbourhoods, area


@pytest.fixture(scope="module")
def planted_plan(planted):
    points, neighbourhoods, area = planted
    return plan_patrols(
        points,
        neighbourhoods,
        area,
        harm_weights=HARM,
        start_month="2024-01",
        end_month="2024-12",
        permutations=199,
        seed=7,
    )


# --------------------------------------------------------------------------- concentration


def test_concentration_hand_built_example():
    # total 100; ceil(0.01*10) = ceil(0.05*10) = ceil(0.1*10) = 1 place -> 50 of 100;
    # the single place with 50 reaches half the harm: power few = 1 place = 10 % of places.
    res = concentration([0, 5, 50, 0, 30, 0, 10, 0, 5, 0])
    assert res.n_places == 10 and res.n_places_with_harm == 5 and res.total_harm == 100
    assert res.top_places == (1, 1, 1)
    assert res.top_harm_shares == pytest.approx((0.5, 0.5, 0.5))
    assert res.power_few_places == 1
    assert res.power_few_place_share == pytest.approx(0.1)
    assert res.power_few_harm_share == pytest.approx(0.5)


def test_concentration_counts_zero_places_and_rounds_fractions_exactly():
    # 20 places: top 1 % = ceil(0.2) = 1 (40), 5 % = 1 (40), 10 % = 2 (40+20 of 100);
    # 40 < 50 so the power few needs 2 places = 10 % of places, holding 60 %.
    res = concentration([40, 20, 20, 10, 10] + [0] * 15)
    assert res.top_places == (1, 1, 2)
    assert res.top_harm_shares == pytest.approx((0.40, 0.40, 0.60))
    assert (res.power_few_places, res.power_few_place_share, res.power_few_harm_share) == (
        2,
        pytest.approx(0.1),
        pytest.approx(0.6),
    )
    # 0.05 * 300 is 15.000000000000002 in floating point: the top 5 % is 15 places, not 16.
    harm = [10.0] * 15 + [5.0] + [0.0] * 284
    res = concentration(harm)
    assert res.top_places == (3, 15, 30)
    assert res.top_harm_shares[1] == pytest.approx(150 / 155)
    d = res.to_dict()
    assert d["top_5pct_places"] == 15 and d["top_10pct_harm_share"] == pytest.approx(1.0)
    # No harm at all: shares are undefined, nobody is in the power few.
    empty = concentration([0, 0, 0])
    assert math.isnan(empty.top_harm_shares[0]) and empty.power_few_places == 0


def test_concentration_rejects_negative_harm():
    with pytest.raises(InputError, match="non-negative"):
        concentration([1.0, -2.0])


# --------------------------------------------------------------------------- grids


def _blob():
    """An irregular study area: an L-shape with a hole and a ragged edge."""
    shape = shapely.union(
        shapely.box(530_000, 160_000, 533_000, 161_000), shapely.box(530_000, 160_000, 531_000, 163_000)
    )
    shape = shape.difference(shapely.Point(530_500, 162_000).buffer(200)).union(
        shapely.Point(533_000, 160_500).buffer(333)
    )
    return gpd.GeoSeries([shape], crs=BNG)


def test_square_grid_ids_are_lower_left_corners_and_match_arithmetic():
    grid = build_grid(gpd.GeoSeries([shapely.box(533_100, 165_900, 533_400, 166_050)], crs=BNG))
    assert list(grid.index) == ["G150-533100-165900", "G150-533250-165900"]
    assert grid.geometry.iloc[0].bounds == (533_100, 165_900, 533_250, 166_050)
    i, j = locate_cells([533_249.9, 533_250.0], [166_049.9, 165_900.0])
    assert list(zip(i, j)) == [(3554, 1106), (3555, 1106)]


@pytest.mark.parametrize("kind", ["square", "hex"])
def test_grid_covers_area_and_each_point_lands_in_exactly_one_cell(kind):
    area = _blob()
    geom = area.iloc[0]
    grid = build_grid(area, cell_size_m=150, kind=kind)
    cells = grid.geometry.to_numpy()
    # Equal-area cells that together cover the area.
    assert np.allclose(shapely.area(cells), 150.0**2)
    assert geom.difference(shapely.union_all(cells)).area < 1e-6 * geom.area
    assert ((grid["area_share"] > 0) & (grid["area_share"] <= 1)).all()
    # Random points inside the area: the arithmetic cell is the one (and only) polygon holding it.
    rng = np.random.default_rng(3)
    minx, miny, maxx, maxy = geom.bounds
    x, y = rng.uniform(minx, maxx, 6_000), rng.uniform(miny, maxy, 6_000)
    keep = shapely.contains_xy(geom, x, y)
    x, y = x[keep], y[keep]
    i, j = locate_cells(x, y, cell_size_m=150, kind=kind)
    lookup = pd.Series(np.arange(len(grid)), index=list(zip(grid["cell_i"], grid["cell_j"])))
    arithmetic = lookup.reindex(list(zip(i, j))).to_numpy()
    assert not np.isnan(arithmetic).any()
    pts = shapely.points(x, y)
    hit_pt, hit_cell = shapely.STRtree(cells).query(pts, predicate="within")
    assert np.array_equal(np.bincount(hit_pt, minlength=len(pts)), np.ones(len(pts)))
    assert np.array_equal(hit_cell[np.argsort(hit_pt)], arithmetic.astype(int))


def test_grid_rejects_wrong_crs_and_sizes():
    with pytest.raises(InputError, match="EPSG:27700.*EPSG:4326"):
        build_grid(gpd.GeoSeries([shapely.box(0, 51, 0.1, 51.1)], crs="EPSG:4326"))
    with pytest.raises(InputError, match="cell_size_m"):
        build_grid(_blob(), cell_size_m=0)
    with pytest.raises(InputError, match="'square' or 'hex'"):
        build_grid(_blob(), kind="triangle")


# --------------------------------------------------------------------------- Gi*


def test_gi_star_analytic_matches_getis_ord_formula_and_switch_is_logged(caplog):
    grid = build_grid(gpd.GeoSeries([shapely.box(0, 0, 1_500, 1_200)], crs=BNG), cell_size_m=150)
    rng = np.random.default_rng(0)
    y = rng.poisson(2.0, len(grid)).astype(float)
    y[17] += 40
    with caplog.at_level(logging.INFO, logger="pli.patrols"):
        res = grid_hotspots(pd.Series(y, index=grid.index), grid, max_permutation_cells=10)
    assert res.method == "analytic" and "max_permutation_cells" in caplog.text
    # Getis & Ord (1995) Gi* with binary queen weights including the cell itself.
    i, j = grid["cell_i"].to_numpy(), grid["cell_j"].to_numpy()
    w = ((np.abs(i[:, None] - i[None, :]) <= 1) & (np.abs(j[:, None] - j[None, :]) <= 1)).astype(float)
    n, xbar = len(y), y.mean()
    s = np.sqrt((y**2).mean() - xbar**2)
    wi = w.sum(axis=1)
    z = (w @ y - xbar * wi) / (s * np.sqrt((n * (w**2).sum(axis=1) - wi**2) / (n - 1)))
    np.testing.assert_allclose(res.table["gi_z"].to_numpy(), z, rtol=1e-9)
    # Benjamini-Hochberg by hand on the two-sided normal p-values, then ArcGIS-style bins.
    from scipy.stats import norm

    p = 2 * norm.sf(np.abs(z))
    order = np.argsort(p)
    ranked = p[order] * n / np.arange(1, n + 1)
    q = np.empty(n)
    q[order] = np.minimum(1, np.minimum.accumulate(ranked[::-1])[::-1])
    expected = np.sign(z) * np.select([q <= 0.01, q <= 0.05, q <= 0.10], [3, 2, 1], 0)
    np.testing.assert_allclose(res.table["gi_q"], q, rtol=1e-9)
    assert (res.table["gi_bin"].to_numpy() == expected).all()
    assert res.table["gi_bin"].iloc[17] > 0 and res.table["gi_label"].iloc[17].startswith("Hot spot")
    assert res.table["gi_q"].ge(res.table["gi_p"] - 1e-15).all()


def test_gi_star_permutations_reproducible_with_seed():
    grid = build_grid(gpd.GeoSeries([shapely.box(0, 0, 1_500, 1_500)], crs=BNG), cell_size_m=150)
    y = np.random.default_rng(1).poisson(3.0, len(grid)).astype(float)
    a = grid_hotspots(y, grid, permutations=99, seed=5)
    b = grid_hotspots(y, grid, permutations=99, seed=5)
    c = grid_hotspots(y, grid, permutations=99, seed=6)
    assert a.method == "permutation" and a.permutations == 99
    pd.testing.assert_frame_equal(a.table, b.table)
    assert not np.allclose(a.table["gi_p_sim"], c.table["gi_p_sim"])


# --------------------------------------------------------------------------- planted hotspot


def test_planted_hotspot_ranks_first(planted_plan):
    plan = planted_plan.plan
    east = plan.loc[plan["neighbourhood"] == "East"]
    top = east.iloc[0]
    cell = planted_plan.places.geometry.loc[top["place_id"]]
    assert top["place_rank"] == 1 and cell.contains(shapely.Point(HOT))
    # 300 records of up to 365 days each a year: far above the cap of three visits a day.
    assert top["gi_bin"] == 3 and top["visits_per_week"] == 21 and top["visit_minutes"] == 15
    assert top["officer_hours_per_week"] == pytest.approx(21 * 15 / 60)
    assert top["officer_hours_trial"] == pytest.approx(12 * 21 * 15 / 60) and top["trial_weeks"] == 12
    # Cluster at 21-23 h over a flat background: the 4-hour peak window holds those hours.
    assert top["peak_hours"] in ("20:00-00:00", "21:00-01:00")
    assert top["suggested_times"].startswith(f"peak {top['peak_hours']}")
    assert "2 visits of 15 min in it, one in each 2-hour block" in top["suggested_times"]
    # The decoys (burglary, and violence from 2023) were filtered out of the whole plan.
    assert set(planted_plan.categories) == {"Violence and sexual offences", "Robbery", "Possession of weapons"}
    decoy_cell = planted_plan.places.geometry.contains(shapely.Point(DECOY))
    decoy_count = planted_plan.places.loc[
        decoy_cell.to_numpy() & (planted_plan.places["place_kind"] == "grid"), "count"
    ]
    assert int(decoy_count.iloc[0]) < 60
    assert planted_plan.n_records == 20_300


def test_plan_contract(planted_plan):
    plan, places = planted_plan.plan, planted_plan.places
    for col in (
        "neighbourhood_rank",
        "neighbourhood",
        "place_rank",
        "place_id",
        "place_kind",
        "location",
        "lon",
        "lat",
        "count",
        "harm",
        "count_robbery",
        "harm_violence_and_sexual_offences",
        "gi_bin",
        "gi_label",
        "visits_per_week",
        "visit_minutes",
        "officer_hours_per_week",
        "trial_weeks",
        "officer_hours_trial",
        "suggested_times",
        "peak_hours",
        "peak_days",
        "place_number",
        "street",
        "ward",
        "share_in_neighbourhood",
        "clipped",
        "events_per_month",
        "window_months",
        "period",
        "categories",
        "evidence",
        "power_few",
        "gi_q",
    ):
        assert col in plan.columns, col
    assert plan.groupby("neighbourhood")["place_rank"].apply(lambda r: list(r) == list(range(1, len(r) + 1))).all()
    assert (plan.groupby("neighbourhood").size() <= 10).all()
    assert plan.groupby("neighbourhood")["harm"].apply(lambda h: h.is_monotonic_decreasing).all()
    assert plan["visits_per_week"].between(1, 21).all()
    assert list(plan["place_number"]) == list(range(1, len(plan) + 1))
    assert (plan["share_in_neighbourhood"] >= 0.5).all()
    assert (plan["street"] == plan["location"].str.removeprefix("On or near ")).all()
    totals = planted_plan.totals()
    assert list(totals["neighbourhood"]) == ["West", "East", "Area-wide"]
    assert totals["places"].iloc[-1] == len(plan) and totals["places"].iloc[:-1].sum() == len(plan)
    assert totals["officer_hours_trial"].iloc[-1] == pytest.approx(plan["officer_hours_trial"].sum())
    # Counts by type add up, and harm is count x the stand-in days.
    types = [c.removeprefix("count_") for c in plan.columns if c.startswith("count_")]
    assert (plan[[f"count_{t}" for t in types]].sum(axis=1) == plan["count"]).all()
    np.testing.assert_allclose(
        plan["harm"],
        plan["count_robbery"] * 365
        + plan["count_violence_and_sexual_offences"] * 100
        + plan["count_possession_of_weapons"] * 60,
    )
    # Each planned cell's centre lies in its neighbourhood; lon/lat is that centre.
    cells = places.loc[plan["place_id"]]
    assert (cells["neighbourhood_rank"].to_numpy() == plan["neighbourhood_rank"].to_numpy()).all()
    gj = planted_plan.to_geojson_frame(geometry="centroid")
    assert gj.crs.to_epsg() == 4326 and len(gj) == len(plan)
    np.testing.assert_allclose(gj.geometry.x, plan["lon"], atol=1e-5)
    # Grid totals equal the selected records (all inside the square area).
    grid = places.loc[places["place_kind"] == "grid"]
    assert grid["count"].sum() == 20_300
    # Concentration rows: each neighbourhood and the borough, over all its cells.
    conc = planted_plan.concentration
    conc = conc.loc[conc["place_kind"] == "grid"].set_index("neighbourhood")
    assert conc.loc["Area-wide", "n_places"] == len(grid)
    assert conc.loc["East", "n_places"] == int((grid["neighbourhood"] == "East").sum())
    assert conc.loc["Area-wide", "total_harm"] == pytest.approx(grid["harm"].sum())
    # Profiles: one count per timed record per scope.
    prof = planted_plan.profiles
    assert prof.loc[prof["neighbourhood"] == "Area-wide", "count"].sum() == 20_300
    assert set(prof["day_of_week"]) <= set(range(7))


def test_plan_is_reproducible_with_seed(planted):
    points, neighbourhoods, area = planted
    kw = dict(harm_weights=HARM, start_month="2024-01", permutations=99)
    a = plan_patrols(points, neighbourhoods, area, seed=3, **kw)
    b = plan_patrols(points, neighbourhoods, area, seed=3, **kw)
    pd.testing.assert_frame_equal(a.places, b.places)
    pd.testing.assert_frame_equal(a.plan, b.plan)
    c = plan_patrols(points, neighbourhoods, area, seed=4, **kw)
    assert not np.allclose(a.places["gi_p_sim"], c.places["gi_p_sim"], equal_nan=True)


def test_hex_plan_and_no_times(planted):
    points, neighbourhoods, area = planted
    res = plan_patrols(
        points.drop(columns=["time", "date"]),
        neighbourhoods,
        area,
        harm_weights=HARM,
        grid="hex",
        start_month="2024-01",
        hotspot_method="analytic",
    )
    top = res.plan.loc[res.plan["neighbourhood"] == "East"].iloc[0]
    assert top["place_kind"] == "hex" and top["place_id"].startswith("H150-")
    assert shapely.Point(HOT).distance(res.places.geometry.loc[top["place_id"]]) < 60
    assert res.profiles is None and res.plan["suggested_times"].str.startswith(NO_TIME_TEXT + ":").all()
    assert (res.plan["peak_hours"] == "").all() and (res.plan["peak_days"] == "").all()


def test_kde_peak_at_planted_cluster_and_clipped(planted, caplog):
    points, _, area = planted
    sel = select_points(points, start_month="2024-01")
    with caplog.at_level(logging.INFO, logger="pli.patrols"):
        surf = kde_surface(sel, area, cell_size_m=50)
    assert "Silverman" in caplog.text and surf.bandwidth_m >= 50
    assert math.dist(surf.peak(), HOT) < 100
    frame = surf.to_frame()
    assert frame.geometry.centroid.within(area.iloc[0]).all()
    # Mass is conserved for a cluster far from the edge.
    hx, hy = _disc(np.random.default_rng(0), HOT, 300, 50.0)
    small = kde_surface((hx, hy), area, bandwidth_m=100, cell_size_m=25)
    assert np.nansum(small.density) * (25 * 25 / 1e6) == pytest.approx(300, rel=1e-3)


# --------------------------------------------------------------------------- errors


def test_bad_inputs_raise_input_errors(planted):
    points, neighbourhoods, area = planted
    with pytest.raises(InputError, match="Arson.*found 'Violence"):
        plan_patrols(points, neighbourhoods, area, harm_weights=HARM, categories=["Arson"])
    with pytest.raises(InputError, match="EPSG:27700.*EPSG:4326"):
        plan_patrols(points.to_crs(4326), neighbourhoods, area, harm_weights=HARM)
    with pytest.raises(InputError, match="missing column.*category"):
        plan_patrols(points.drop(columns="category"), neighbourhoods, area, harm_weights=HARM)
    with pytest.raises(InputError, match="rank"):
        plan_patrols(points, neighbourhoods.drop(columns="rank"), area, harm_weights=HARM)
    bad = points.head(50).copy()
    bad["month"] = "June 2024"
    with pytest.raises(InputError, match="YYYY-MM"):
        select_points(bad)


# --------------------------------------------------------------------------- real police.uk burglary


def _load_burglary():
    folder = SHARED / "police_uk_burglary"
    if not folder.is_dir():
        pytest.skip(f"real police.uk burglary snapshot not found at {folder} (needs ../shared/data beside the repo)")
    files = sorted(folder.glob("*-croydon-street.csv"))
    raw = pd.concat(
        [
            pd.read_csv(f, usecols=["Month", "Longitude", "Latitude", "Location", "LSOA code", "Crime type"])
            for f in files
        ],
        ignore_index=True,
    )
    raw = raw.dropna(subset=["Longitude", "Latitude"])
    points = gpd.GeoDataFrame(
        {
            "month": raw["Month"],
            "category": raw["Crime type"],
            "location": raw["Location"],
            "lsoa_code": raw["LSOA code"],
        },
        geometry=gpd.points_from_xy(raw["Longitude"], raw["Latitude"]),
        crs="EPSG:4326",
    ).to_crs(BNG)
    lsoa = gpd.read_file(SHARED / "croydon_lsoa21.geojson").to_crs(BNG)
    wards = gpd.read_file(SHARED / "croydon_wards_2018.geojson").to_crs(BNG)
    return len(files), points, lsoa, wards


@pytest.fixture(scope="module")
def burglary():
    return _load_burglary()


def test_real_burglary_counts_equal_points_inside_area_in_window(burglary):
    n_files, points, lsoa, wards = burglary
    assert n_files == 171 and len(points) > 40_000
    area = lsoa.union_all()
    start, end = "2023-03", "2025-02"
    in_window = points.loc[(points["month"] >= start) & (points["month"] <= end)]
    expected = int(shapely.contains_xy(area, in_window.geometry.x.to_numpy(), in_window.geometry.y.to_numpy()).sum())
    assert expected > 3_000
    grid = build_grid(lsoa, cell_size_m=150)
    counts = count_places(in_window, grid, harm_weights=HARM, area=lsoa)
    assert counts["count"].sum() == expected
    assert counts["harm"].sum() == pytest.approx(expected * 40.0)

    # The three wards with most burglary in the window: the floor plans places there.
    xs, ys = in_window.geometry.x.to_numpy(), in_window.geometry.y.to_numpy()
    per_ward = np.array([shapely.contains_xy(g, xs, ys).sum() for g in wards.geometry])
    neighbourhoods = wards.iloc[np.argsort(-per_ward)[:3]].assign(rank=[1, 2, 3]).rename(columns={"NAME": "name"})
    res = plan_patrols(
        points,
        neighbourhoods,
        lsoa,
        harm_weights=HARM,
        categories=["burglary"],
        start_month=start,
        end_month=end,
        permutations=999,
        seed=0,
        harm_per_weekly_visit=10.0,
    )
    grid_places = res.places.loc[res.places["place_kind"] == "grid"]
    snap_places = res.places.loc[res.places["place_kind"] == "snap"]
    assert grid_places["count"].sum() == expected == res.n_records
    # police.uk records ("On or near ...") are snapped to map points by construction, so
    # snap places were built from every record and add up too.
    assert 0 < len(snap_places) < expected and snap_places["count"].sum() == expected
    # 24 months, 40 stand-in days a burglary, one weekly visit per 10 days a month: a
    # place needs 5 days a month (3 records) to round to a visit.
    assert res.window_months == 24
    assert (res.plan["count"] >= 3).all() and (res.plan["period"] == "2023-03 to 2025-02").all()
    # Every planned place has at least half of its records inside its neighbourhood,
    # counted afresh from the points inside the place's own geometry.
    geoms = res.plan_frame().geometry.to_numpy()
    for k, row in res.plan.iterrows():
        in_place = shapely.contains_xy(geoms[k], xs, ys) & shapely.contains_xy(area, xs, ys)
        nb_geom = neighbourhoods.loc[neighbourhoods["rank"] == row["neighbourhood_rank"]].geometry.iloc[0]
        share = shapely.contains_xy(nb_geom, xs[in_place], ys[in_place]).mean()
        assert share >= 0.5, (row["place_id"], share)
    # The top place's location text is the most common Location among its records.
    top = res.plan.iloc[0]
    cell = grid_places.geometry.loc[top["place_id"]]
    inside_cell = shapely.contains_xy(cell, xs, ys) & shapely.contains_xy(area, xs, ys)
    assert inside_cell.sum() == top["count"]
    modal = in_window.loc[inside_cell, "location"].value_counts()
    assert top["location"] in set(modal[modal == modal.max()].index)
    assert res.profiles is None and set(res.plan["neighbourhood_rank"]) == {1, 2, 3}
    snaps = snap_locations(in_window)
    assert snaps["records"].sum() == len(in_window) and snaps.index.is_unique
    by_snap = count_places(in_window, snaps, harm_weights=HARM)
    assert (by_snap["count"].to_numpy() == snaps["records"].to_numpy()).all()
    # window_months keeps the latest N months present: 2025-02 back to 2024-03.
    latest = plan_patrols(
        points,
        neighbourhoods,
        lsoa,
        harm_weights=HARM,
        categories=["Burglary"],
        window_months=12,
        hotspot_method="analytic",
    )
    assert (latest.start_month, latest.end_month) == ("2024-03", "2025-02")


# --------------------------------------------------------------------------- floor and dosage


def _cells_with_counts(counts_at: dict[tuple[float, float], int], months=12, category="Robbery"):
    """Points piled at the centres of chosen 150 m cells, spread evenly over ``months`` months."""
    xs, ys, month = [], [], []
    for (x, y), n in counts_at.items():
        xs += [x] * n
        ys += [y] * n
        month += [f"2024-{1 + (k % months):02d}" for k in range(n)]
    return gpd.GeoDataFrame(
        {"month": month, "category": category, "location": "On or near Test Street"},
        geometry=gpd.points_from_xy(xs, ys),
        crs=BNG,
    )


def _centre(i, j):
    return (X0 + 150 * i + 75, Y0 + 150 * j + 75)


@pytest.fixture(scope="module")
def dosage_case():
    # 12 months in a 3 x 3 km square. Isolated busy cells of 60, 30 and 18 records, a 6
    # and a 5, and 80 single-record cells: 199 records, so the power few (half the
    # records) is the 60, 30 and 18. "Quiet" is a corner holding only cells of 2 records.
    counts = {_centre(2, 2): 60, _centre(8, 12): 30, _centre(15, 4): 18, _centre(4, 16): 6, _centre(12, 9): 5}
    counts.update({_centre(i, j): 1 for i in range(16) for j in (0, 6, 10, 14, 19)})
    counts.update({_centre(17 + d, 17): 2 for d in range(3)})
    points = _cells_with_counts(counts)
    area = gpd.GeoSeries([shapely.box(X0, Y0, X0 + 3_000, Y0 + 3_000)], crs=BNG)
    nb = gpd.GeoDataFrame(
        {"rank": [1, 2], "name": ["Quiet", "All"]},
        geometry=[
            shapely.box(X0 + 2_400, Y0 + 2_400, X0 + 3_000, Y0 + 3_000),
            shapely.box(X0, Y0, X0 + 3_000, Y0 + 3_000).difference(
                shapely.box(X0 + 2_400, Y0 + 2_400, X0 + 3_000, Y0 + 3_000)
            ),
        ],
        crs=BNG,
    )
    return points, nb, area


def test_dosage_scales_with_harm_and_quiet_places_are_not_planned(dosage_case, caplog):
    points, nb, area = dosage_case
    kw = dict(harm_weights=HARM, categories=["Robbery"], hotspot_method="analytic")
    with caplog.at_level(logging.INFO, logger="pli.patrols"):
        res = plan_patrols(points, nb, area, harm_per_weekly_visit=365.0, **kw)
    plan = res.plan.set_index("count")
    # 60, 30 and 18 robberies (365 days each) a year are 5, 2.5 and 1.5 robberies' harm
    # a month: one weekly visit per 365 days a month gives 5, 3 and 2 (half up).
    assert list(plan.loc[[60, 30, 18], "visits_per_week"]) == [5, 3, 2]
    np.testing.assert_allclose(res.plan["events_per_month"], res.plan["count"] / 12)
    np.testing.assert_allclose(res.plan["harm_per_month"], res.plan["count"] * 365 / 12)
    np.testing.assert_allclose(res.plan["officer_hours_per_week"], res.plan["visits_per_week"] * 0.25)
    assert (res.plan["window_months"] == 12).all()
    # Borough-wide harm-spot tests: the 60, 30 and 18 are > 2 SD above the mean cell
    # and hold half the harm; the 6 and 5 pass neither, singles and 2s fail min_events.
    assert set(res.plan["count"]) == {60, 30, 18}
    assert res.plan["power_few"].all()
    assert res.plan["evidence"].str.contains(r"SD above the study-area mean \(>= 2 SD\)").all()
    assert res.plan["evidence"].str.contains("power few").all()
    # The quiet neighbourhood gets nothing and the log says to patrol it by the neighbourhood plan.
    assert "Quiet" not in set(res.plan["neighbourhood"]) and res.neighbourhoods_without_places == ("Quiet",)
    assert "no micro-place in Quiet clears the floor (3 records" in caplog.text
    assert "neighbourhood plan instead" in caplog.text
    # The default (100 days a month a visit) doses more; the cap is three visits a day.
    default = plan_patrols(points, nb, area, **kw).plan.set_index("count")
    assert list(default.loc[[60, 30, 18], "visits_per_week"]) == [18, 9, 5]
    capped = plan_patrols(points, nb, area, harm_per_weekly_visit=10.0, **kw).plan
    assert (capped["visits_per_week"] == 21).all()
    # A place whose harm rounds to no weekly visit is not planned.
    sparse = plan_patrols(points, nb, area, harm_per_weekly_visit=1200.0, **kw).plan
    # 18 a year is 547.5 days a month: 0.46 of a weekly visit rounds to none.
    assert set(sparse["count"]) == {60, 30} and list(sparse["visits_per_week"]) == [2, 1]
    # min_events binds.
    strict = plan_patrols(points, nb, area, min_events=20, harm_per_weekly_visit=365.0, **kw)
    assert set(strict.plan["count"]) == {60, 30}


def test_daily_minutes_budget_trims_lowest_ranked_visits(dosage_case, caplog):
    points, nb, area = dosage_case
    kw = dict(harm_weights=HARM, categories=["Robbery"], hotspot_method="analytic", harm_per_weekly_visit=365.0)
    full = plan_patrols(points, nb, area, **kw).plan
    with caplog.at_level(logging.INFO, logger="pli.patrols"):
        cut = plan_patrols(points, nb, area, daily_minutes_budget=15, **kw).plan  # seven 15-minute visits a week
    assert full["visits_per_week"].sum() == 10 and cut["visits_per_week"].sum() == 7
    assert list(cut["visits_per_week"]) == [5, 2] and list(cut["place_id"]) == list(full["place_id"][:2])
    assert "trimmed from its lowest-ranked places" in caplog.text
    with pytest.raises(InputError, match="daily_minutes_budget"):
        plan_patrols(points, nb, area, daily_minutes_budget=10, **kw)
    with pytest.raises(InputError, match="min_events"):
        plan_patrols(points, nb, area, min_events=0, **kw)
    with pytest.raises(InputError, match="harm_per_weekly_visit"):
        plan_patrols(points, nb, area, **{**kw, "harm_per_weekly_visit": 0})
    with pytest.raises(InputError, match="trial_weeks"):
        plan_patrols(points, nb, area, trial_weeks=0, **kw)
    with pytest.raises(InputError, match="peak_window_hours"):
        plan_patrols(points, nb, area, peak_window_hours=25, **kw)


def test_plan_says_which_crimes_and_period_and_manifest(planted_plan, planted, caplog):
    import json

    plan = planted_plan
    assert plan.period_label == "2024-01 to 2024-12" and plan.window_months == 12
    assert (plan.plan["period"] == "2024-01 to 2024-12").all()
    assert (plan.plan["categories"] == "Violence and sexual offences; Robbery; Possession of weapons").all()
    gj = plan.to_geojson_frame()
    assert {"period", "categories", "events_per_month"} <= set(gj.columns)
    man = json.loads(json.dumps(plan.to_manifest()))  # JSON-ready
    assert man["categories"] == ["Violence and sexual offences", "Robbery", "Possession of weapons"]
    assert (man["start_month"], man["end_month"], man["period"]) == ("2024-01", "2024-12", "2024-01 to 2024-12")
    assert man["records_selected"] == 20_300 and man["records_outside_area"] == 0 and man["records_used"] == 20_300
    assert man["places_planned"] == len(plan.plan) and man["visits_per_week"] == plan.plan["visits_per_week"].sum()
    assert man["officer_hours_trial"] == pytest.approx(plan.plan["officer_hours_trial"].sum())
    assert man["hotspot_method"] == "permutation" and man["permutations"] == 199 and man["seed"] == 7
    conc = plan.concentration
    borough = conc.loc[(conc["neighbourhood"] == "Area-wide") & (conc["place_kind"] == "grid")].iloc[0]
    assert man["concentration_borough_wide"]["power_few_places"] == borough["power_few_places"]
    assert man["cells"] == int((plan.places["place_kind"] == "grid").sum())
    # The selection log names the real months, not "first to last".
    points, neighbourhoods, area = planted
    with caplog.at_level(logging.INFO, logger="pli.patrols"):
        select_points(points, start_month="2024-01")
    assert "2024-01 to 2024-12 (12 months)" in caplog.text and "first" not in caplog.text


@pytest.mark.filterwarnings("ignore:The alternative hypothesis:DeprecationWarning")
def test_gi_star_permutation_p_is_pseudo_p_and_empty_cells_are_not_cold():
    import esda

    grid = build_grid(gpd.GeoSeries([shapely.box(0, 0, 3_000, 3_000)], crs=BNG), cell_size_m=150)
    # Continuous values: z is esda's analytic Zs; the p is a total-permutation pseudo p
    # (own value permuted too), doubled, which for a 9-cell window of gamma values
    # tracks the normal p of that z. (A conditional permutation, esda's p_sim, would
    # test only the 8 neighbours.)
    y = np.random.default_rng(2).gamma(2.0, 1.0, len(grid))
    res = grid_hotspots(y, grid, permutations=4999, seed=1, fdr=False, method="permutation")
    from libpysal.graph import Graph

    from pli.patrols.hotspots import _grid_adjacency

    adjacency, _ = _grid_adjacency(grid["cell_i"].to_numpy(), grid["cell_j"].to_numpy(), "square", "queen")
    g = esda.G_Local(y, Graph.from_sparse(adjacency), transform="B", star=True, permutations=0)
    np.testing.assert_allclose(res.table["gi_z"], g.Zs, atol=1e-9)
    np.testing.assert_allclose(res.table["gi_p"], np.minimum(1, 2 * res.table["gi_p_sim"]))
    normal = grid_hotspots(y, grid, permutations=0, fdr=False).table["gi_p"]
    assert np.corrcoef(res.table["gi_p"], normal)[0, 1] > 0.97
    assert (res.table["gi_p"] - normal).abs().max() < 0.15
    # Sparse counts: an empty cell among empty cells is the smallest Gi* any permutation
    # can give; ties count in both tails, so it is not a "cold spot".
    sparse = np.zeros(len(grid))
    sparse[np.random.default_rng(3).choice(len(grid), 40, replace=False)] = 1.0
    sparse[[210, 211, 230, 231]] = 12.0
    hot = grid_hotspots(sparse, grid, permutations=99, seed=1)
    t = hot.table
    assert (t["gi_bin"] >= 0).all()
    # 400 cells, 99 permutations: the floor 2/100 could never pass BH at alpha/400, so
    # the planted block's p was re-tested with more permutations and is significant.
    assert t["gi_bin"].iloc[[210, 211, 230, 231]].min() >= 2 and (t["gi_q"].iloc[[210, 211, 230, 231]] <= 0.05).all()
    assert t["gi_permutations"].iloc[210] > 99 and t["gi_p"].iloc[210] < 2 / 100
    assert t.loc[t["gi_permutations"] == 99, "gi_p"].min() >= 2 / 100 - 1e-12


def test_snap_places_from_police_uk_text_or_shared_coordinates(planted, caplog):
    points, neighbourhoods, area = planted
    kw = dict(harm_weights=HARM, start_month="2024-01", hotspot_method="analytic")
    sub = points.iloc[:3_000]
    with caplog.at_level(logging.INFO, logger="pli.patrols"):
        res = plan_patrols(sub, neighbourhoods, area, **kw)
    assert "police.uk 'On or near" in caplog.text
    assert (res.places["place_kind"] == "snap").sum() > 0
    # Exact, unshared coordinates without police.uk text: not snapped.
    plain = sub.drop(columns="location")
    assert (plan_patrols(plain, neighbourhoods, area, **kw).places["place_kind"] == "snap").sum() == 0
    assert (plan_patrols(sub, neighbourhoods, area, snap=False, **kw).places["place_kind"] == "snap").sum() == 0


def test_kde_frame_is_exposed(planted):
    points, neighbourhoods, area = planted
    res = plan_patrols(
        points,
        neighbourhoods,
        area,
        harm_weights=HARM,
        start_month="2024-01",
        hotspot_method="analytic",
        kde=True,
        kde_cell_size_m=100,
    )
    frame = res.kde_frame()
    assert frame.crs.to_epsg() == 27700 and (frame.geom_type == "Polygon").all()
    assert {"density", "bandwidth_m", "period", "categories"} <= set(frame.columns)
    peak = frame.geometry.iloc[int(frame["density"].to_numpy().argmax())].centroid
    assert peak.distance(shapely.Point(HOT)) < 150
    assert res.to_manifest()["kde"]["bandwidth_m"] == pytest.approx(res.kde.bandwidth_m)
    assert (
        plan_patrols(
            points.iloc[:2_000],
            neighbourhoods,
            area,
            harm_weights=HARM,
            start_month="2024-01",
            hotspot_method="analytic",
        ).kde_frame()
        is None
    )


# --------------------------------------------------------------------------- neighbourhood membership and timing


def test_cell_straddling_a_boundary_is_credited_where_its_records_are():
    # The grid is aligned on the BNG origin: the column of cells x 531000-531150
    # straddles A's east edge at x=531100 and each centre (x=531075) lies in A. B covers
    # the north-east corner only (y >= 160950).
    a = shapely.box(X0, Y0, X0 + 1_100, Y0 + 1_300)
    b = shapely.box(X0 + 1_100, Y0 + 950, X0 + 2_000, Y0 + 1_300)
    pile = {
        (X0 + 1_130, Y0 + 400): 8,  # cell 531000-160350: all 8 just outside A, in no neighbourhood ("Campbell Road")
        (X0 + 1_050, Y0 + 700): 3,  # cell 531000-160650: 3 inside A ...
        (X0 + 1_130, Y0 + 705): 5,  # ... and 5 outside every neighbourhood: clipped to A's part
        (X0 + 1_050, Y0 + 1_000): 6,  # cell 531000-160950: 6 in A ...
        (X0 + 1_130, Y0 + 1_005): 2,  # ... 2 in B: A's, 75 % inside
        (X0 + 1_050, Y0 + 1_150): 2,  # cell 531000-161100: 2 in A ...
        (X0 + 1_130, Y0 + 1_155): 5,  # ... 5 in B: B's, though its centre lies in A
    }
    points = _cells_with_counts(pile)
    nb = gpd.GeoDataFrame({"rank": [1, 2], "name": ["A", "B"]}, geometry=[a, b], crs=BNG)
    area = gpd.GeoSeries([shapely.box(X0, Y0, X0 + 2_000, Y0 + 1_300)], crs=BNG)
    res = plan_patrols(
        points, nb, area, harm_weights=HARM, categories=["Robbery"], hotspot_method="analytic",
        harm_per_weekly_visit=1.0,
    )
    plan = res.plan.set_index("place_id")
    cell = {2: "G150-531000-160350", 4: "G150-531000-160650", 6: "G150-531000-160950", 7: "G150-531000-161100"}.get
    assert cell(2) not in plan.index  # all its records lie outside every neighbourhood
    assert res.places.loc[cell(2), "neighbourhood_rank"] == 0 and res.places.loc[cell(2), "count"] == 8
    assert plan.loc[cell(4), ["neighbourhood", "count", "clipped"]].tolist() == ["A", 3, True]
    assert plan.loc[cell(4), "share_in_neighbourhood"] == 1.0
    assert res.plan_frame().set_index("place_id").geometry.loc[cell(4)].area == pytest.approx(100 * 150)
    assert plan.loc[cell(6), ["neighbourhood", "count", "clipped"]].tolist() == ["A", 8, False]
    assert plan.loc[cell(6), "share_in_neighbourhood"] == pytest.approx(0.75)
    assert plan.loc[cell(7), ["neighbourhood", "count", "clipped"]].tolist() == ["B", 7, False]
    assert plan.loc[cell(7), "share_in_neighbourhood"] == pytest.approx(5 / 7)
    # Checked afresh from the points: every planned place holds >= half its records in its neighbourhood.
    xs, ys = points.geometry.x.to_numpy(), points.geometry.y.to_numpy()
    frame = res.plan_frame()
    for geom, rank in zip(frame.geometry, frame["neighbourhood_rank"]):
        inside = shapely.contains_xy(geom, xs, ys)
        nb_geom = nb.loc[nb["rank"] == rank].geometry.iloc[0]
        assert inside.any() and shapely.contains_xy(nb_geom, xs[inside], ys[inside]).mean() >= 0.5
    # Numbered 1..n across the borough: A's places first, then B's.
    assert list(res.plan["place_number"]) == [1, 2, 3] and list(res.plan["neighbourhood"]) == ["A", "A", "B"]


_CLOCK = r"\b([01]?\d|2[0-3]):[0-5]\d\b|\b\d{1,2} ?[ap]m\b"
_PARTS_OF_DAY = r"(?i)\b(morning|afternoon|evening|night|dusk|dawn|lunchtime|overnight)s?\b"


def test_no_output_names_a_time_of_day_the_data_does_not_hold(burglary, planted, tmp_path):
    """police.uk has months only: no file or map tooltip may name an hour or a part of the day."""
    import dataclasses
    import importlib.util
    import re

    from pli import outputs
    from pli.config.specs import AreaSpec, MapSpec
    from pli.maps.pages import _priority_page
    from pli.maps.prepare import _prepare

    _, points, lsoa, wards = burglary
    xs, ys = points.geometry.x.to_numpy(), points.geometry.y.to_numpy()
    per_ward = np.array([shapely.contains_xy(g, xs, ys).sum() for g in wards.geometry])
    neighbourhoods = wards.iloc[np.argsort(-per_ward)[:3]].assign(rank=[1, 2, 3]).rename(columns={"NAME": "name"})
    res = plan_patrols(
        points, neighbourhoods, lsoa, harm_weights=HARM, categories=["Burglary"], window_months=12,
        hotspot_method="analytic", harm_per_weekly_visit=10.0,
    )
    assert len(res.plan) and res.profiles is None
    assert res.plan["suggested_times"].str.startswith("no time of day in the data: ").all()
    outputs.write_csv(res.plan, tmp_path / "patrol_plan.csv")
    outputs.write_csv(res.totals(), tmp_path / "patrol_totals.csv")
    outputs.write_geojson(res.to_geojson_frame(), tmp_path / "patrol_plan.geojson")
    texts = {p.name: p.read_text() for p in tmp_path.iterdir()}
    fixture = Path(__file__).parent / "fixtures" / "maps" / "bundle.py"
    spec = importlib.util.spec_from_file_location("pli_test_map_bundle", fixture)
    fx = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(fx)
    bundle = dataclasses.replace(fx.build_bundle(SHARED), patrol_places=res.plan_frame())
    prep = _prepare(bundle, MapSpec(tiles=False), public=False)
    tips = " ".join(prep.places["tip"])
    assert f"<b>Place {len(res.plan)}</b>" in tips and list(prep.place_points["label"])[:2] == ["1", "2"]
    html = _priority_page(prep, AreaSpec(name="Croydon"), "2024-03 to 2025-02", tiles=False, offline=False)
    assert "Patrol place numbers" in html
    texts["tooltips"] = tips
    for name, text in texts.items():
        assert not re.search(_CLOCK, text), (name, re.search(_CLOCK, text))
        assert not re.search(_PARTS_OF_DAY, text), (name, re.search(_PARTS_OF_DAY, text))
    # With times in the data, the only hours named are window bounds drawn from the data.
    p, nb, area = planted
    timed = plan_patrols(p, nb, area, harm_weights=HARM, start_month="2024-01", hotspot_method="analytic")
    hours_in_data = {int(t[:2]) for t in p["time"]}
    for text in timed.plan["suggested_times"]:
        start = re.search(r"peak (\d\d):00-(\d\d):00", text)
        assert start and int(start.group(1)) in hours_in_data
        assert not re.search(_PARTS_OF_DAY, text)
