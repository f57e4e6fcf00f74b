"""Tests for pli.clustering: weights, Moran's I, LISA and Gi* against esda on real data."""

from __future__ import annotations

import json
import logging

import esda
import geopandas as gpd
import libpysal
import numpy as np
import pandas as pd
import pytest
import shapely

from pli.clustering import (
    NOT_SIGNIFICANT,
    SpatialWeights,
    benjamini_hochberg,
    build_weights,
    compute_clustering,
    getis_ord,
    global_moran,
    local_moran,
)
from pli.config import ClusteringSpec
from pli.errors import InputError

from conftest import load_croydon_imd_frame

# esda's own warning about its default alternative, raised when the tests call esda directly.
pytestmark = pytest.mark.filterwarnings("ignore:The alternative hypothesis:DeprecationWarning")



def _load_croydon() -> gpd.GeoDataFrame:
    return load_croydon_imd_frame()[["geometry", "score"]]


@pytest.fixture(scope="module")
def croydon() -> gpd.GeoDataFrame:
    return _load_croydon()


@pytest.fixture(scope="module")
def queen(croydon) -> SpatialWeights:
    return build_weights(croydon)


@pytest.fixture(scope="module")
def legacy_w(croydon):
    """Queen weights built independently with the legacy libpysal.weights API."""
    return libpysal.weights.Queen.from_dataframe(croydon, use_index=True)


def _grid(side: int, *, size: float = 100.0, prefix: str = "G", xoff: float = 0.0) -> gpd.GeoDataFrame:
    x, y = np.meshgrid(np.arange(side), np.arange(side))
    x, y = x.ravel() * size + xoff, y.ravel() * size
    idx = pd.Index([f"{prefix}{i:04d}" for i in range(side * side)], name="lsoa_code")
    return gpd.GeoDataFrame(geometry=shapely.box(x, y, x + size, y + size), index=idx, crs=27700)


# --------------------------------------------------------------------------- weights


@pytest.mark.shared
def test_queen_weights_on_croydon_match_legacy_libpysal(croydon, queen, legacy_w):
    assert repr(queen) == "queen contiguity: 220 LSOAs, 0 islands, 1 component"
    assert list(queen.ids) == list(croydon.index)
    ours = queen.graph.sparse.toarray() != 0
    theirs = legacy_w.sparse.toarray() != 0
    order = [legacy_w.id_order.index(c) for c in croydon.index]
    assert (ours == theirs[np.ix_(order, order)]).all()
    # SOURCES.md: mean queen neighbours about 5.5 for LSOAs.
    assert 5.0 < queen.graph.cardinalities.mean() < 6.0


@pytest.mark.shared
def test_other_weight_kinds(croydon, queen, caplog):
    rook = build_weights(croydon, ClusteringSpec(weights="rook"))
    rook_edges = set(rook.graph.adjacency.index)
    assert rook_edges <= set(queen.graph.adjacency.index)
    knn = build_weights(croydon, ClusteringSpec(weights="knn", k=4))
    assert (knn.graph.cardinalities >= 4).all() and knn.graph.cardinalities.min() == 4
    with caplog.at_level(logging.INFO, logger="pli"):
        band = build_weights(croydon, ClusteringSpec(weights="distance_band"))
    assert "set to" in caplog.text and band.distance_m > 0
    assert (band.graph.cardinalities > 0).all()
    assert band.islands_attached == ()


def test_island_is_attached_to_nearest_and_logged(caplog):
    grid = _grid(4)
    far = gpd.GeoDataFrame(
        geometry=[shapely.box(1000, 0, 1100, 50)], index=pd.Index(["ISLAND"], name="lsoa_code"), crs=27700
    )
    units = pd.concat([grid, far])
    with caplog.at_level(logging.WARNING, logger="pli"):
        weights = build_weights(units)
    assert weights.islands_attached == ("ISLAND",)
    assert weights.n_components == 2
    assert weights.graph.n_components == 1
    assert "ISLAND" in caplog.text
    # Only the bottom-right square (x 300-400, y 0-100) is 600 m away; the one above it
    # is further because the island stops at y = 50.
    assert set(weights.graph["ISLAND"].index) == {"G0003"}
    assert set(weights.graph["G0003"].index) >= {"ISLAND"}
    assert "1 island" in repr(weights) and "2 components" in repr(weights)


def test_island_equidistant_from_two_joins_both():
    a = shapely.box(0, 0, 100, 100)
    b = shapely.box(0, 300, 100, 400)
    c = shapely.box(100, 0, 200, 100)  # touches a
    d = shapely.box(100, 300, 200, 400)  # touches b
    island = shapely.box(25, 150, 75, 250)  # 50 m from a and from b, further from c and d
    units = gpd.GeoDataFrame(
        geometry=[a, b, c, d, island], index=pd.Index(list("abcdi"), name="lsoa_code"), crs=27700
    )
    weights = build_weights(units)
    assert weights.islands_attached == ("i",)
    assert set(weights.graph["i"].index) == {"a", "b"}
    assert weights.graph.n_components == 1


def test_disconnected_components_are_joined():
    left = _grid(3, prefix="L")
    right = _grid(3, prefix="R", xoff=2000)
    weights = build_weights(pd.concat([left, right]))
    assert weights.n_components == 2 and weights.islands_attached == ()
    assert weights.graph.n_components == 1
    assert len(weights.links_added) == 1
    a, b, dist = weights.links_added[0]
    assert {a[0], b[0]} == {"L", "R"} and dist == pytest.approx(1700.0)
    raw = build_weights(pd.concat([left, right]), connect=False)
    assert raw.graph.n_components == 2


def test_bad_geometry_inputs_raise_input_error():
    grid = _grid(3)
    with pytest.raises(InputError, match="EPSG:27700"):
        build_weights(grid.to_crs(4326))
    dup = pd.concat([grid, grid.iloc[:1]])
    with pytest.raises(InputError, match="duplicated"):
        build_weights(dup)
    with pytest.raises(InputError, match="between 1 and 8"):
        build_weights(grid, ClusteringSpec(weights="knn", k=20))


# --------------------------------------------------------------------------- global Moran


@pytest.mark.shared
def test_global_moran_equals_esda(croydon, queen, legacy_w):
    result = global_moran(croydon["score"], queen, permutations=999, seed=0)
    w = libpysal.weights.W(legacy_w.neighbors, id_order=legacy_w.id_order)
    y_legacy = croydon["score"].reindex(w.id_order).to_numpy()
    np.random.seed(123)
    ref = esda.Moran(y_legacy, w, permutations=999)
    assert result.I == pytest.approx(ref.I, rel=1e-12)
    assert result.expected_I == pytest.approx(ref.EI, rel=1e-12)
    assert result.z == pytest.approx(ref.z_norm, rel=1e-10)
    assert result.p_norm == pytest.approx(ref.p_norm, rel=1e-6)
    # Croydon's IMD is strongly clustered: no permutation reaches the observed I.
    assert result.p_sim == ref.p_sim == pytest.approx(1 / 1000)
    d = result.to_dict()
    assert d["permutations"] == 999 and d["seed"] == 0 and isinstance(d["I"], float)


@pytest.mark.shared
def test_global_moran_pseudo_p_agrees_with_esda_on_unclustered_values(croydon, queen):
    noise = pd.Series(np.random.default_rng(5).normal(size=len(croydon)), index=croydon.index)
    ours = global_moran(noise, queen, permutations=999, seed=1)
    np.random.seed(2)
    ref = esda.Moran(noise.to_numpy(), queen.graph.copy(), permutations=999)
    assert ours.I == pytest.approx(ref.I)
    # Independent draws of the same null: pseudo p-values agree within Monte Carlo error.
    assert abs(ours.p_sim - ref.p_sim) < 0.07
    assert ours.p_sim > 0.01


def test_global_moran_is_seeded_and_leaves_inputs_alone():
    grid = _grid(12)
    y = pd.Series(np.random.default_rng(3).normal(size=len(grid)), index=grid.index)
    weights = build_weights(grid)
    before = np.random.get_state()[1].copy()
    a = global_moran(y, weights, permutations=199, seed=7)
    b = global_moran(y, weights, permutations=199, seed=7)
    c = global_moran(y, weights, permutations=199, seed=8)
    assert a == b
    assert a.p_sim != c.p_sim or a.z_sim != c.z_sim
    assert weights.graph.transformation == "B"
    assert (np.random.get_state()[1] == before).all()


# --------------------------------------------------------------------------- LISA


@pytest.mark.shared
def test_local_moran_equals_esda_on_legacy_weights(croydon, queen, legacy_w):
    lisa = local_moran(croydon["score"], queen, alpha=0.05, permutations=999, seed=0)
    y_legacy = croydon["score"].reindex(legacy_w.id_order).to_numpy()
    ref = esda.Moran_Local(y_legacy, legacy_w, permutations=999, seed=0, n_jobs=1)
    ref_I = pd.Series(ref.Is, index=legacy_w.id_order).reindex(croydon.index).to_numpy()
    ref_q = pd.Series(ref.q, index=legacy_w.id_order).reindex(croydon.index).to_numpy()
    ref_p = pd.Series(ref.p_sim, index=legacy_w.id_order).reindex(croydon.index).to_numpy()
    np.testing.assert_allclose(lisa.I, ref_I, rtol=1e-10)
    assert (lisa.quadrant == ref_q).all()
    np.testing.assert_allclose(lisa.p_directed, ref_p)
    np.testing.assert_allclose(lisa.p, np.minimum(1, 2 * ref_p))


@pytest.mark.shared
def test_lisa_frame_labels_and_fdr(croydon, queen):
    lisa = local_moran(croydon["score"], queen, alpha=0.05, permutations=999, seed=0)
    frame = lisa.to_frame()
    assert list(frame.columns) == [
        "lisa_I", "lisa_p", "lisa_p_fdr", "lisa_quadrant", "lisa_cluster", "lisa_cluster_fdr"
    ]
    assert frame.index.equals(croydon.index)
    sig = frame["lisa_p"] <= 0.05
    assert (frame.loc[sig, "lisa_cluster"] == frame.loc[sig, "lisa_quadrant"]).all()
    assert (frame.loc[~sig, "lisa_cluster"] == NOT_SIGNIFICANT).all()
    # FDR never finds more than the uncorrected test, and agrees with esda's cut-off.
    sig_fdr = frame["lisa_p_fdr"] <= 0.05
    assert sig_fdr.sum() <= sig.sum() and (sig_fdr <= sig).all()
    cut = esda.fdr(frame["lisa_p"].to_numpy(), 0.05)
    assert (sig_fdr == (frame["lisa_p"] <= cut)).all()
    assert (frame.loc[~sig_fdr, "lisa_cluster_fdr"] == NOT_SIGNIFICANT).all()
    # Deprived north Croydon and affluent south: both cluster types must be present.
    counts = lisa.counts()
    assert counts["High-High"] > 10 and counts["Low-Low"] > 10


def test_benjamini_hochberg_matches_definition():
    p = np.random.default_rng(0).uniform(size=60) ** 3
    q = benjamini_hochberg(p)
    n = len(p)
    ranked = np.sort(p)
    for alpha in (0.01, 0.05, 0.2):
        passing = np.flatnonzero(ranked <= np.arange(1, n + 1) * alpha / n)
        expected = p <= ranked[passing.max()] if len(passing) else np.zeros(n, bool)
        assert ((q <= alpha) == expected).all()
    assert (q >= p).all() and q.max() <= 1


def test_local_moran_and_gi_are_reproducible_and_restore_global_rng():
    grid = _grid(10)
    y = pd.Series(np.random.default_rng(9).gamma(2.0, size=len(grid)), index=grid.index)
    weights = build_weights(grid)
    state = np.random.get_state()[1].copy()
    a = compute_clustering(y, weights, ClusteringSpec(permutations=199), seed=4).to_frame()
    b = compute_clustering(y, weights, ClusteringSpec(permutations=199), seed=4).to_frame()
    pd.testing.assert_frame_equal(a, b)
    assert (np.random.get_state()[1] == state).all()


def test_values_misaligned_or_missing_raise():
    grid = _grid(4)
    weights = build_weights(grid)
    y = pd.Series(np.arange(16.0), index=grid.index)
    with pytest.raises(InputError, match="have no value"):
        local_moran(y.iloc[:-1], weights)
    with pytest.raises(InputError, match="G0003"):
        global_moran(y.where(y.index != "G0003"), weights)
    with pytest.raises(InputError, match="all 16 values are equal"):
        getis_ord(pd.Series(1.0, index=grid.index), weights)
    shuffled = y.sample(frac=1, random_state=0)
    np.testing.assert_allclose(
        local_moran(shuffled, weights, permutations=0).I, local_moran(y, weights, permutations=0).I
    )


# --------------------------------------------------------------------------- Gi*


@pytest.mark.shared
def test_getis_ord_equals_esda_and_bins(croydon, queen, legacy_w):
    gi = getis_ord(croydon["score"], queen, permutations=999, seed=0)
    w = libpysal.weights.W(legacy_w.neighbors, id_order=legacy_w.id_order)
    y_legacy = croydon["score"].reindex(w.id_order).to_numpy()
    ref = esda.G_Local(y_legacy, w, transform="B", star=True, permutations=999, seed=0, n_jobs=1)
    ref_z = pd.Series(ref.Zs, index=w.id_order).reindex(croydon.index).to_numpy()
    np.testing.assert_allclose(gi.z, ref_z, rtol=1e-10)
    frame = gi.to_frame()
    assert list(frame.columns) == ["gi_z", "gi_p", "gi_bin", "gi_label", "gi_p_fdr", "gi_bin_fdr", "gi_label_fdr"]
    assert frame["gi_bin"].between(-3, 3).all()
    assert (np.sign(frame["gi_bin"]) * np.sign(frame["gi_z"]) >= 0).all()
    assert (frame.loc[frame["gi_p"] <= 0.01, "gi_bin"].abs() == 3).all()
    assert (frame.loc[frame["gi_p"] > 0.10, "gi_bin"] == 0).all()
    assert set(frame.loc[frame["gi_bin"] == 3, "gi_label"]) <= {"Hotspot 99%"}
    assert set(frame.loc[frame["gi_bin"] == -2, "gi_label"]) <= {"Coldspot 95%"}
    # Strongly clustered deprivation: both 99% hot and cold spots exist.
    assert (frame["gi_bin"] == 3).any() and (frame["gi_bin"] == -3).any()


def test_getis_ord_shift_invariance_for_negative_scores():
    grid = _grid(8)
    rng = np.random.default_rng(2)
    y = pd.Series(rng.normal(size=len(grid)), index=grid.index)
    weights = build_weights(grid)
    shifted = getis_ord(y, weights, permutations=99, seed=1)
    positive = getis_ord(y - y.min(), weights, permutations=99, seed=1)
    assert shifted.shift == pytest.approx(-y.min())
    np.testing.assert_allclose(shifted.z, positive.z)
    np.testing.assert_array_equal(shifted.bin, positive.bin)


@pytest.mark.shared
def test_getis_ord_fdr_bins_on_adjusted_p(croydon, queen):
    gi = getis_ord(croydon["score"], queen, permutations=999, seed=0)
    frame = gi.to_frame()
    np.testing.assert_allclose(frame["gi_p_fdr"], benjamini_hochberg(frame["gi_p"].to_numpy()))
    # Same sign, never a higher confidence level than the uncorrected bin.
    assert (frame["gi_bin_fdr"].abs() <= frame["gi_bin"].abs()).all()
    assert (np.sign(frame["gi_bin_fdr"]) * np.sign(frame["gi_z"]) >= 0).all()
    assert (frame.loc[frame["gi_p_fdr"] > 0.10, "gi_bin_fdr"] == 0).all()
    assert (frame.loc[frame["gi_p_fdr"] <= 0.01, "gi_bin_fdr"].abs() == 3).all()
    assert (frame.loc[frame["gi_bin_fdr"] == 0, "gi_label_fdr"] == NOT_SIGNIFICANT).all()
    assert set(frame.loc[frame["gi_bin_fdr"] == 2, "gi_label_fdr"]) <= {"Hotspot 95%"}
    # On real data correction removes some uncorrected flags, but not all.
    n_raw, n_fdr = int((frame["gi_bin"] != 0).sum()), int((frame["gi_bin_fdr"] != 0).sum())
    assert 0 < n_fdr < n_raw
    assert sum(gi.counts(fdr=True).values()) == len(croydon)


@pytest.mark.shared
def test_compute_clustering_frame_and_manifest(croydon, queen):
    result = compute_clustering(croydon["score"], queen, ClusteringSpec(permutations=99), seed=0)
    frame = result.to_frame()
    assert frame.index.equals(croydon.index)
    assert {"gi_bin", "gi_label", "lisa_cluster", "lisa_cluster_fdr", "gi_p_fdr", "gi_bin_fdr", "gi_label_fdr"} <= set(
        frame.columns
    )
    assert len(frame.columns) == 13
    manifest = result.to_dict()
    assert manifest["moran"]["I"] == pytest.approx(result.moran.I)
    assert sum(manifest["lisa_counts"].values()) == len(croydon)
    assert sum(manifest["gi_counts_fdr"].values()) == len(croydon)
    json.dumps(manifest)


@pytest.mark.shared
@pytest.mark.parametrize("fdr", [True, False])
def test_headline_log_and_manifest_follow_spec_fdr(croydon, queen, caplog, fdr):
    with caplog.at_level("INFO", logger="pli"):
        result = compute_clustering(croydon["score"], queen, ClusteringSpec(permutations=199, fdr=fdr), seed=0)
    frame = result.to_frame()
    lisa_col, gi_col = ("lisa_cluster_fdr", "gi_bin_fdr") if fdr else ("lisa_cluster", "gi_bin")
    headline = result.to_dict()["headline"]
    assert headline["fdr"] is fdr
    assert headline["lisa"]["High-High"] == int((frame[lisa_col] == "High-High").sum())
    assert headline["hotspots"] == int((frame[gi_col] > 0).sum())
    assert headline["coldspots"] == int((frame[gi_col] < 0).sum())
    # FDR changes the numbers on real data, so the test can tell the two sets apart.
    assert (frame["lisa_cluster"] != frame["lisa_cluster_fdr"]).any()
    lisa_line = next(r.getMessage() for r in caplog.records if r.getMessage().startswith("LISA"))
    gi_line = next(r.getMessage() for r in caplog.records if r.getMessage().startswith("Gi* ("))
    assert ("(FDR-corrected)" in lisa_line) is fdr and ("(FDR-corrected)" in gi_line) is fdr
    assert f"High-High {headline['lisa']['High-High']}," in lisa_line
    assert f": {headline['hotspots']} hotspot and {headline['coldspots']} coldspot" in gi_line


# --------------------------------------------------------------------------- inference (issue 12, item 2)


@pytest.mark.shared
def test_gi_bins_agree_with_the_normal_p_of_the_reported_z_for_every_lsoa(croydon, queen):
    from scipy import stats

    lisa = local_moran(croydon["score"], queen, permutations=999, seed=0)
    frame = getis_ord(croydon["score"], queen, seed=0).to_frame()
    p = 2 * stats.norm.sf(frame["gi_z"].abs())
    np.testing.assert_allclose(frame["gi_p"], p, rtol=1e-12)
    for bins, q in (("gi_bin", p), ("gi_bin_fdr", benjamini_hochberg(p))):
        level = np.select([q <= 0.01, q <= 0.05, q <= 0.10], [3, 2, 1], 0)
        np.testing.assert_array_equal(frame[bins], np.sign(frame["gi_z"]).astype(int) * level, err_msg=bins)
    # Every |z| >= 2.58 is a 99% spot (the audit found the top LSOA "not significant").
    assert (frame.loc[frame["gi_z"].abs() >= 2.5758, "gi_bin"].abs() == 3).all()
    assert frame.loc[frame["gi_z"].idxmax(), "gi_bin_fdr"] == 3
    # No longer Local Moran's p under another name (219 of 220 were equal before).
    assert int(np.isclose(frame["gi_p"], lisa.p).sum()) < 10


@pytest.mark.shared
def test_gi_total_permutation_option_tracks_the_normal_p_not_the_lisa_p(croydon, queen):
    normal = getis_ord(croydon["score"], queen, seed=0)
    perm = getis_ord(croydon["score"], queen, inference="permutation", permutations=4999, seed=0)
    lisa = local_moran(croydon["score"], queen, permutations=4999, seed=0)
    assert perm.inference == "permutation" and perm.permutations == 4999 and normal.permutations == 0
    np.testing.assert_allclose(perm.z, normal.z)
    np.testing.assert_allclose(perm.p, np.minimum(1, 2 * perm.p_directed))
    # The pseudo p lives on the 1/5000 lattice and follows the normal p of the same z.
    assert np.allclose(perm.p_directed * 5000, np.rint(perm.p_directed * 5000))
    assert np.corrcoef(perm.p, normal.p)[0, 1] > 0.99 and np.abs(perm.p - normal.p).max() < 0.08
    assert int(np.isclose(perm.p, lisa.p).sum()) < 20
    result = compute_clustering(
        croydon["score"], queen, ClusteringSpec(gi_inference="permutation", stability_seeds=0), seed=0
    )
    assert result.to_dict()["gi_inference"] == "permutation" and result.gi.permutations == result.permutations


def test_grid_and_lsoa_gi_share_one_core():
    from pli.patrols import build_grid, grid_hotspots

    grid = build_grid(gpd.GeoSeries([shapely.box(0, 0, 1_500, 1_500)], crs=27700), cell_size_m=150)
    y = pd.Series(np.random.default_rng(5).gamma(2.0, 1.0, len(grid)), index=grid.index)
    cells = grid_hotspots(y, grid, permutations=0, fdr=False).table
    polygons = gpd.GeoDataFrame(geometry=grid.geometry, index=grid.index.rename("lsoa_code"))
    lsoa = getis_ord(y, build_weights(polygons), seed=0)
    np.testing.assert_allclose(cells["gi_z"], lsoa.z, rtol=1e-10)
    np.testing.assert_allclose(cells["gi_p"], lsoa.p, rtol=1e-10)
    np.testing.assert_array_equal(cells["gi_bin"], lsoa.bin)


@pytest.mark.shared
def test_too_few_permutations_are_raised_for_fdr_and_logged(croydon, queen, caplog):
    spec = ClusteringSpec(permutations=99, alpha=0.05, stability_seeds=0)
    with caplog.at_level(logging.INFO, logger="pli.clustering"):
        result = compute_clustering(croydon["score"], queen, spec, seed=0)
    # 2 / (R + 1) <= 0.05 / 220 needs R >= 8,799; five times that resolves the threshold.
    assert result.permutations == 43999 and result.lisa.permutations == 43999 and result.moran.permutations == 43999
    assert 2 / (result.permutations + 1) <= 0.05 / len(croydon)
    assert "permutations raised from 99 to 43,999" in caplog.text and "at least 8,999" in caplog.text
    # With 99 the FDR LISA map was empty whatever the data; now the strongest clusters pass.
    assert (local_moran(croydon["score"], queen, permutations=99, seed=0).p_fdr > 0.05).all()
    assert (result.lisa.p_fdr <= 0.05).sum() > 0
    assert result.to_dict()["permutations"] == 43999
    # A cap above the floor limits the raise quietly; below the floor it warns and stops there.
    assert compute_clustering(
        croydon["score"], queen, ClusteringSpec(permutations=99, max_permutations=9999, stability_seeds=0)
    ).permutations == 9999
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="pli.clustering"):
        capped = compute_clustering(
            croydon["score"], queen, ClusteringSpec(permutations=99, max_permutations=999, stability_seeds=0)
        )
    assert capped.permutations == 999
    assert any(r.levelno == logging.WARNING and "max_permutations" in r.getMessage() for r in caplog.records)
    plain = compute_clustering(croydon["score"], queen, ClusteringSpec(permutations=99, fdr=False, stability_seeds=0))
    assert plain.permutations == 99


@pytest.mark.shared
def test_seed_stability_reruns_lisa_with_five_seeds(croydon, queen):
    result = compute_clustering(croydon["score"], queen, ClusteringSpec(), seed=3)
    stab = json.loads(json.dumps(result.to_dict()))["seed_stability"]
    assert stab["seeds"] == [3, 4, 5, 6, 7] and stab["permutations"] == result.permutations
    assert stab["high_high_fdr"][0] == result.lisa.counts(fdr=True)["High-High"]
    for seed, hh in zip(stab["seeds"][1:], stab["high_high_fdr"][1:]):
        rerun = local_moran(croydon["score"], queen, permutations=result.permutations, seed=seed)
        assert hh == rerun.counts(fdr=True)["High-High"]
    assert len(stab["high_high"]) == 5 and stab["gi_depends_on_seed"] is False
    assert 0 <= stab["lsoas_changing_label_fdr"] <= stab["significant_fdr"][0] + max(stab["significant_fdr"])
    off = compute_clustering(croydon["score"], queen, ClusteringSpec(stability_seeds=0), seed=3)
    assert off.to_dict()["seed_stability"] == {}
