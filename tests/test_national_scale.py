"""Large study areas: the sparse patrol grid, arithmetic grid contiguity, skipped stages."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from libpysal.graph import Graph

from pli.examples import clustered_points
from pli.harm import load_harm_weights
from pli.maps.figures import scale_bar_length
from pli.maps.prepare import display_tolerance
from pli.outputs import verify_outputs
from pli.patrols import build_grid, count_places, grid_hotspots, plan_patrols
from pli.patrols.grid import cells_touching, sparse_grid
from pli.patrols.hotspots import _grid_adjacency, sparse_grid_hotspots

ROOT = Path(__file__).resolve().parents[1]


class _OneDayEach:
    def weight_for(self, categories, scheme):
        return np.ones(len(categories))


def test_grid_adjacency_by_arithmetic_matches_libpysal_queen_on_the_cells():
    points, area = clustered_points()
    grid = build_grid(shapely.difference(area, shapely.box(530300, 160300, 530500, 160500)), cell_size_m=100)
    adjacency, islands = _grid_adjacency(grid["cell_i"].to_numpy(), grid["cell_j"].to_numpy(), "square", "queen")
    reference = Graph.build_contiguity(grid.reset_index(drop=True), rook=False).sparse.tocsr()
    assert islands == 0
    assert (adjacency != reference).nnz == 0
    assert adjacency.sum() == reference.sum()


def test_sparse_gi_matches_the_full_grid_away_from_the_edge():
    points, area = clustered_points()
    # Records away from the edge, so the cells next to them are all inside the area.
    points = points.loc[points.within(shapely.box(530100, 160100, 530900, 160900))]
    full = build_grid(area, cell_size_m=50)
    counts = count_places(points, full, harm_weights=_OneDayEach())
    dense = grid_hotspots(counts["harm"], full, method="analytic").table
    occupied = full.loc[counts["count"].to_numpy() > 0]
    sparse = sparse_grid(occupied["cell_i"], occupied["cell_j"], cell_size_m=50)
    result = sparse_grid_hotspots(counts["harm"].reindex(sparse.index), sparse, n_cells=len(full)).table
    i, j = sparse["cell_i"].to_numpy(), sparse["cell_j"].to_numpy()
    interior = (i > full["cell_i"].min()) & (i < full["cell_i"].max()) & (j > full["cell_j"].min()) & (
        j < full["cell_j"].max()
    )
    assert interior.all() and len(sparse) > 50
    np.testing.assert_allclose(result["gi_z"][interior], dense.loc[sparse.index[interior], "gi_z"], rtol=1e-9)
    # BH over every cell of the area, the unbuilt empty ones included, as on the full grid.
    np.testing.assert_allclose(result["gi_q"][interior], dense.loc[sparse.index[interior], "gi_q"], rtol=1e-6)
    assert result.loc[result["gi_z"].idxmax()].name == dense["gi_z"].idxmax()


def test_cells_touching_are_the_cells_of_the_full_grid_over_that_geometry():
    geom = shapely.Point(530620, 160410).buffer(260)
    i, j = cells_touching([geom], cell_size_m=150, kind="square")
    full = build_grid(geom, cell_size_m=150)
    assert set(zip(i.tolist(), j.tolist())) >= set(zip(full["cell_i"], full["cell_j"]))
    hi, hj = cells_touching([geom], cell_size_m=150, kind="hex")
    hexes = build_grid(geom, cell_size_m=150, kind="hex")
    assert set(zip(hi.tolist(), hj.tolist())) >= set(zip(hexes["cell_i"], hexes["cell_j"]))


def test_sparse_plan_finds_the_same_places_as_the_full_grid():
    points, area = clustered_points()
    points = points.assign(month="2025-01")
    area_frame = gpd.GeoDataFrame(geometry=[area], crs=27700)
    nb = gpd.GeoDataFrame({"rank": [1], "name": ["Centre"]}, geometry=[shapely.box(530300, 160300, 530900, 160900)],
                          crs=27700)
    kwargs = dict(harm_weights=load_harm_weights(), categories=["Burglary"], cell_size_m=125, min_events=3,
                  harm_per_weekly_visit=10.0, hotspot_method="analytic", seed=0)
    dense = plan_patrols(points, nb, area_frame, **kwargs)
    sparse = plan_patrols(points, nb, area_frame, max_dense_cells=0, **kwargs)
    assert len(dense.plan) > 0
    assert sparse.plan["place_id"].tolist() == dense.plan["place_id"].tolist()
    assert sparse.plan["visits_per_week"].tolist() == dense.plan["visits_per_week"].tolist()
    grid_cells = sparse.places.loc[sparse.places["place_kind"] == "grid"]
    assert len(grid_cells) < (dense.places["place_kind"] == "grid").sum()
    assert grid_cells["area_share"].isna().all()


def test_sparse_plan_keeps_snap_places_in_the_neighbourhoods_and_the_area_figures():
    points, area = clustered_points()
    # police.uk-like snap points: records rounded to 20 m spots, each with a street text.
    x = (points.geometry.x // 20) * 20
    y = (points.geometry.y // 20) * 20
    points = gpd.GeoDataFrame(
        {"category": points["category"], "month": "2025-01",
         "location": "On or near Street " + (x // 100).astype(int).astype(str)},
        geometry=gpd.points_from_xy(x, y), crs=27700,
    )
    area_frame = gpd.GeoDataFrame(geometry=[area], crs=27700)
    nb = gpd.GeoDataFrame({"rank": [1], "name": ["Centre"]}, geometry=[shapely.box(530300, 160300, 530900, 160900)],
                          crs=27700)
    kwargs = dict(harm_weights=load_harm_weights(), categories=["Burglary"], cell_size_m=125, min_events=3,
                  harm_per_weekly_visit=10.0, hotspot_method="analytic", seed=0, snap=True,
                  plan_place_kind="snap")
    dense = plan_patrols(points, nb, area_frame, **kwargs)
    sparse = plan_patrols(points, nb, area_frame, max_dense_cells=0, **kwargs)
    dense_snaps = dense.places.loc[dense.places["place_kind"] == "snap"]
    sparse_snaps = sparse.places.loc[sparse.places["place_kind"] == "snap"]
    assert (dense_snaps["neighbourhood_rank"] == 0).any()  # the case has snap places outside
    assert (sparse_snaps["neighbourhood_rank"] > 0).all()
    inside = dense_snaps.loc[dense_snaps["neighbourhood_rank"] > 0]
    assert sorted(sparse_snaps.index) == sorted(inside.index)
    assert len(dense.plan) > 0
    assert sparse.plan["place_id"].tolist() == dense.plan["place_id"].tolist()
    assert sparse.plan["visits_per_week"].tolist() == dense.plan["visits_per_week"].tolist()
    # The area-wide concentration of snap places still counts the ones left out.
    pd.testing.assert_frame_equal(
        sparse.concentration.query("place_kind == 'snap'").reset_index(drop=True),
        dense.concentration.query("place_kind == 'snap'").reset_index(drop=True),
    )


def test_map_tolerance_and_scale_bar_follow_the_extent():
    assert display_tolerance((500_000, 150_000, 520_000, 170_000), 5.0) == 5.0
    national = display_tolerance((130_000, 10_000, 660_000, 660_000), 5.0)
    assert 100 < national < 200
    assert scale_bar_length(650_000) == 100_000
    assert scale_bar_length(20_000) == 5_000


def test_no_patrols_and_no_maps_skip_their_outputs_and_say_so(tmp_path):
    out = tmp_path / "output"
    proc = subprocess.run(
        [sys.executable, "-m", "pli", "-q", "index", "--out", str(out), "--no-maps", "--no-patrols"],
        cwd=ROOT, capture_output=True, text=True,
    )
    assert proc.returncode == 0, proc.stderr
    assert "Skipped on request" in proc.stdout and "--no-patrols" in proc.stdout
    assert (out / "rankings.csv").is_file()
    assert not list(out.glob("patrol*")) and not (tmp_path / "maps").exists()
    manifest = json.loads((out / "manifest.json").read_text())
    assert set(manifest["skipped"]) == {"patrols", "maps"}
    assert manifest["patrols"] is None
    assert verify_outputs(out).current
