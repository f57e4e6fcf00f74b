"""Tests for pli.boundaries: reading polygons, ward assignment, dissolve, vintages.

Real-data tests use the Croydon snapshot in ../shared/data and skip when it is absent;
the broken-input tests build small polygon files in ``tmp_path``.
"""

from __future__ import annotations

import logging
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from shapely.geometry import Point, Polygon, box

from pli.boundaries import (
    Boundaries,
    assign_to_wards,
    dissolve_upper_layer,
    load_boundaries,
    read_polygons,
    read_vintage_lookup,
    reconcile_codes,
)
from pli.config import (
    AreaSpec,
    BoundariesSpec,
    BoundaryLayerSpec,
    StudyConfig,
    UpperFromTableSpec,
    VintageLookupSpec,
)
from pli.errors import InputError

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"

# Croydon lies around here on the British National Grid.
X0, Y0 = 530_000.0, 165_000.0


def _shared(name: str) -> Path:
    path = DATA / name
    if not path.is_file():
        pytest.skip(f"real Croydon snapshot not available: {path} is missing")
    return path


# --------------------------------------------------------------------------- real data


@pytest.fixture(scope="module")
def lsoa_bgc() -> gpd.GeoDataFrame:
    return read_polygons(
        _shared("croydon_lsoa11_bgc.geojson"),
        code_field="lsoa11cd",
        name_field="lsoa11nm",
        index_name="lsoa_code",
        name_column="lsoa_name",
    )


@pytest.fixture(scope="module")
def wards_2018() -> gpd.GeoDataFrame:
    return read_polygons(
        _shared("croydon_wards_2018.geojson"),
        code_field="GSS_CODE",
        name_field="NAME",
        what="ward",
        index_name="ward_code",
        name_column="ward_name",
    )


@pytest.fixture(scope="module")
def lookup_real() -> pd.DataFrame:
    return read_vintage_lookup(VintageLookupSpec(path=str(_shared("croydon_lsoa11_to_lsoa21_lookup.csv"))))


def test_read_real_lsoa_layer(lsoa_bgc):
    raw = gpd.read_file(DATA / "croydon_lsoa11_bgc.geojson")
    assert lsoa_bgc.crs.to_epsg() == 27700
    assert lsoa_bgc.index.name == "lsoa_code"
    assert list(lsoa_bgc.columns) == ["lsoa_name", "geometry"]
    assert set(lsoa_bgc.index) == set(raw["lsoa11cd"])
    assert lsoa_bgc.index.is_unique
    assert shapely.is_valid(lsoa_bgc.geometry.to_numpy()).all()
    # The file's st_areasha holds the ONS polygon area in m2; reprojection to 27700
    # must give back nearly the same areas.
    published = raw.set_index("lsoa11cd")["st_areasha"].reindex(lsoa_bgc.index)
    rel = (lsoa_bgc.area / published - 1).abs()
    assert rel.max() < 0.01


def test_assign_real_lsoas_to_2018_wards(lsoa_bgc, wards_2018):
    out = assign_to_wards(lsoa_bgc, wards_2018)
    derived = pd.read_csv(_shared("croydon_lsoa11_to_ward2018_bestfit_DERIVED.csv"), dtype=str)
    derived = derived.set_index("LSOA11CD")

    assert list(out.columns) == ["lsoa_name", "ward_code", "ward_name", "ward_overlap_share", "geometry"]
    assert out.index.equals(lsoa_bgc.index)
    assert out["ward_code"].notna().all()
    assert set(out["ward_code"]) <= set(wards_2018.index)
    assert out["ward_code"].nunique() == len(wards_2018)
    assert out["ward_overlap_share"].between(0, 1).all()
    assert (out["ward_name"] == wards_2018["ward_name"].reindex(out["ward_code"]).to_numpy()).all()

    agree = int((out["ward_code"] == derived["WD18CD_max_area"].reindex(out.index)).sum())
    assert agree >= 215, f"only {agree} of {len(out)} LSOAs agree with the derived best-fit lookup"
    # Shares were derived from different (full-resolution) geometry, so only roughly equal.
    share_diff = (out["ward_overlap_share"] - derived["share_of_lsoa_area_in_ward"].astype(float)).abs()
    assert share_diff.median() < 0.02
    assert lsoa_bgc.columns.tolist() == ["lsoa_name", "geometry"], "input frame was mutated"


def test_real_lookup_change_codes_match_structure(lookup_real):
    derived = read_vintage_lookup(
        VintageLookupSpec(path=str(DATA / "croydon_lsoa11_to_lsoa21_lookup.csv"), change_column=None)
    )
    raw = pd.read_csv(DATA / "croydon_lsoa11_to_lsoa21_lookup.csv", dtype=str)
    assert list(lookup_real.columns) == ["lsoa11", "lsoa21", "change"]
    assert len(lookup_real) == len(raw)
    merged = lookup_real.merge(derived, on=["lsoa11", "lsoa21"], suffixes=("_ons", "_derived"))
    assert len(merged) == len(raw)
    assert (merged["change_ons"] == merged["change_derived"]).all()


def test_reconcile_real_mps_crime_to_2011(lsoa_bgc, lookup_real):
    crime = pd.read_csv(_shared("croydon_mps_lsoa_crime_2024-02_2026-02.csv"), dtype={"lsoa_code": str})
    months = [c for c in crime.columns if c.isdigit()]
    table = crime.groupby("lsoa_code")[months].sum()

    res = reconcile_codes(
        table, lookup_real, target_codes=lsoa_bgc.index, target_vintage=2011, aggregation="sum", source="mps"
    )
    assert res.dropped_codes == ()
    assert set(res.table.index) == set(lsoa_bgc.index)
    assert res.table.index.name == "lsoa_code"
    assert list(res.table.columns) == months
    assert res.mapped_codes == len(table.index.difference(lsoa_bgc.index))
    # Counts are integers: totals must be preserved exactly, month by month.
    pd.testing.assert_series_equal(res.table.sum(), table.sum())
    pd.testing.assert_series_equal(res.totals_before, res.totals_after)

    # A split 2011 LSOA gets the sum of its 2021 children, computed here from the raw rows.
    split = lookup_real[lookup_real["change"] == "S"]
    parent = split["lsoa11"].iloc[0]
    children = split.loc[split["lsoa11"] == parent, "lsoa21"]
    expected = crime.loc[crime["lsoa_code"].isin(children), months].sum()
    np.testing.assert_array_equal(res.table.loc[parent].to_numpy(), expected.to_numpy())


def test_dissolve_real_lsoas_to_2011_msoas():
    lsoa = read_polygons(
        _shared("croydon_lsoa11.geojson"),
        code_field="LSOA11CD",
        name_field="LSOA11NM",
        index_name="lsoa_code",
        name_column="lsoa_name",
    )
    census_path = _shared("croydon_census2011_population.csv")
    spec = UpperFromTableSpec(
        path=census_path.name,
        lsoa_column="LSOA Code",
        code_column="MSOA Code",
        name_column="MSOA Name",
        thousands=",",
    )
    msoa = dissolve_upper_layer(lsoa, spec, resolve=lambda p: DATA / p)
    census = pd.read_csv(census_path, dtype=str)

    assert len(msoa) == census["MSOA Code"].nunique()
    assert msoa.index.name == "ward_code"
    assert list(msoa.columns) == ["ward_name", "geometry"]
    names = census.drop_duplicates("MSOA Code").set_index("MSOA Code")["MSOA Name"]
    assert (msoa["ward_name"] == names.reindex(msoa.index)).all()
    # LSOAs tile their MSOA, so areas add up.
    table_msoa = census.set_index("LSOA Code")["MSOA Code"].reindex(lsoa.index)
    lsoa_area = lsoa.area.groupby(table_msoa.to_numpy()).sum()
    np.testing.assert_allclose(msoa.area.to_numpy(), lsoa_area.reindex(msoa.index).to_numpy(), rtol=1e-6)

    assigned = assign_to_wards(lsoa, msoa)
    assert (assigned["ward_code"] == table_msoa).all()
    assert assigned["ward_overlap_share"].min() > 0.999


def test_load_boundaries_real_wards(caplog):
    _shared("croydon_lsoa11_bgc.geojson")
    cfg = StudyConfig(
        area=AreaSpec(name="Croydon test"),
        boundaries=BoundariesSpec(
            lsoa=BoundaryLayerSpec(path="croydon_lsoa11_bgc.geojson", code_field="lsoa11cd", name_field="lsoa11nm"),
            wards=BoundaryLayerSpec(path="croydon_wards_2018.geojson", code_field="GSS_CODE", name_field="NAME"),
            vintage_lookup=VintageLookupSpec(path="croydon_lsoa11_to_lsoa21_lookup.csv"),
        ),
        sources={},
        indicators=(),
        data_dir=DATA,
    )
    with caplog.at_level(logging.INFO, logger="pli.boundaries"):
        b = load_boundaries(cfg)
    assert isinstance(b, Boundaries)
    assert b.lsoa_vintage == 2011
    assert b.lsoa.index.name == "lsoa_code" and b.wards.index.name == "ward_code"
    assert list(b.lsoa.columns) == ["lsoa_name", "ward_code", "ward_name", "ward_overlap_share", "geometry"]
    assert list(b.wards.columns) == ["ward_name", "geometry"]
    assert b.lsoa.crs.to_epsg() == 27700 and b.wards.crs.to_epsg() == 27700
    assert b.lookup is not None and list(b.lookup.columns) == ["lsoa11", "lsoa21", "change"]
    assert all(p.is_file() for p in b.files) and len(b.files) == 3
    assert "geometry" not in b.to_frame().columns
    summary = f"boundaries: {len(b.lsoa)} LSOAs, {len(b.wards)} wards, 0 geometries repaired"
    assert summary in caplog.text
    assert "220 LSOAs" in repr(b)


# --------------------------------------------------------------------------- synthetic files


def _grid(n: int = 4, *, size: float = 500.0, prefix: str = "E0100") -> gpd.GeoDataFrame:
    geoms = [box(X0 + i * size, Y0, X0 + (i + 1) * size, Y0 + size) for i in range(n)]
    return gpd.GeoDataFrame(
        {"LSOA11CD": [f"{prefix}{i:04d}" for i in range(n)], "LSOA11NM": [f"Area {i}" for i in range(n)]},
        geometry=geoms,
        crs="EPSG:27700",
    )


@pytest.mark.parametrize(("suffix", "epsg"), [(".shp", 4326), (".gpkg", 3857), (".geojson", 4326)])
def test_round_trip_other_crs(tmp_path, suffix, epsg):
    grid = _grid()
    path = tmp_path / f"lsoa{suffix}"
    grid.to_crs(epsg=epsg).to_file(path)
    out = read_polygons(path, code_field="LSOA11CD", name_field="LSOA11NM", index_name="lsoa_code")
    assert out.crs.to_epsg() == 27700
    assert list(out.index) == list(grid["LSOA11CD"])
    assert list(out["name"]) == list(grid["LSOA11NM"])
    np.testing.assert_allclose(out.area.to_numpy(), grid.area.to_numpy(), rtol=1e-6)
    np.testing.assert_allclose(out.total_bounds, grid.total_bounds, atol=0.01)


def test_geopackage_layers(tmp_path):
    path = tmp_path / "areas.gpkg"
    _grid(3).to_crs(epsg=3857).to_file(path, layer="lsoa")
    _grid(2, prefix="E0500").to_file(path, layer="wards")

    with pytest.raises(InputError, match=r"2 layers \(.*lsoa.*wards|2 layers \(.*wards.*lsoa"):
        read_polygons(path, code_field="LSOA11CD")
    with pytest.raises(InputError, match="did you mean 'lsoa'"):
        read_polygons(path, code_field="LSOA11CD", layer="lsoas")
    wards = read_polygons(path, code_field="LSOA11CD", layer="wards")
    assert list(wards.index) == ["E05000000", "E05000001"]
    assert read_polygons(path, code_field="LSOA11CD", layer="lsoa").crs.to_epsg() == 27700


@pytest.mark.filterwarnings("ignore:'crs' was not provided")
def test_missing_crs(tmp_path):
    path = tmp_path / "nocrs.shp"
    _grid().set_crs(None, allow_override=True).to_file(path)
    assert not path.with_suffix(".prj").exists()
    with pytest.raises(InputError, match="set crs: in the config") as err:
        read_polygons(path, code_field="LSOA11CD")
    assert str(path) in str(err.value)
    out = read_polygons(path, code_field="LSOA11CD", crs="EPSG:27700")
    np.testing.assert_allclose(out.total_bounds, _grid().total_bounds)


@pytest.mark.filterwarnings("ignore:'crs' was not provided")
def test_degrees_declared_as_metres(tmp_path):
    path = tmp_path / "lonlat.shp"
    _grid().to_crs(epsg=4326).set_crs(None, allow_override=True).to_file(path)
    with pytest.raises(InputError, match="longitude/latitude"):
        read_polygons(path, code_field="LSOA11CD", crs="EPSG:27700")


@pytest.mark.filterwarnings("ignore:'crs' was not provided")
def test_metres_declared_as_degrees(tmp_path):
    path = tmp_path / "wrong.shp"
    _grid().set_crs(None, allow_override=True).to_file(path)
    with pytest.raises(InputError, match="outside Great Britain"):
        read_polygons(path, code_field="LSOA11CD", crs="EPSG:4326")


def test_duplicate_codes(tmp_path):
    grid = _grid(5)
    grid.loc[[1, 3], "LSOA11CD"] = grid.loc[0, "LSOA11CD"]
    grid.loc[4, "LSOA11CD"] = grid.loc[2, "LSOA11CD"]
    path = tmp_path / "dupes.gpkg"
    grid.to_file(path)
    with pytest.raises(InputError, match="2 appear more than once") as err:
        read_polygons(path, code_field="LSOA11CD")
    assert "E01000000, E01000002" in str(err.value)


def test_missing_field_suggests_closest(tmp_path):
    path = tmp_path / "lsoa.gpkg"
    _grid().to_file(path)
    with pytest.raises(InputError, match="did you mean 'LSOA11CD'") as err:
        read_polygons(path, code_field="lsoa11cd")
    assert "LSOA11NM" in str(err.value)  # lists what is available
    with pytest.raises(InputError, match="name_field 'LSOA11NAME'.*did you mean 'LSOA11NM'"):
        read_polygons(path, code_field="LSOA11CD", name_field="LSOA11NAME")


def test_null_code(tmp_path):
    grid = _grid()
    grid["LSOA11CD"] = grid["LSOA11CD"].astype(object)
    grid.loc[2, "LSOA11CD"] = None
    path = tmp_path / "nullcode.gpkg"
    grid.to_file(path)
    with pytest.raises(InputError, match="1 feature.*no code.*feature numbers 2"):
        read_polygons(path, code_field="LSOA11CD")


def test_bowtie_is_repaired(tmp_path, caplog):
    grid = _grid(3)
    bowtie = Polygon([(X0, Y0 + 1000), (X0 + 200, Y0 + 1200), (X0 + 200, Y0 + 1000), (X0, Y0 + 1200)])
    assert not bowtie.is_valid
    grid.loc[1, "geometry"] = bowtie
    path = tmp_path / "bowtie.gpkg"
    grid.to_file(path)
    with caplog.at_level(logging.WARNING, logger="pli.boundaries"):
        out = read_polygons(path, code_field="LSOA11CD")
    assert shapely.is_valid(out.geometry.to_numpy()).all()
    assert set(out.geom_type) <= {"Polygon", "MultiPolygon"}
    fixed = out.geometry.loc["E01000001"]
    # The two triangles of the bow-tie, each a quarter of its 200 m square.
    assert fixed.geom_type == "MultiPolygon" and len(fixed.geoms) == 2
    assert fixed.area == pytest.approx(2 * 200 * 200 / 4, rel=1e-6)
    assert "repaired 1 invalid" in caplog.text and "E01000001" in caplog.text
    assert out.area.loc["E01000000"] == pytest.approx(500 * 500)


def test_points_are_rejected(tmp_path):
    pts = gpd.GeoDataFrame({"code": ["A", "B"]}, geometry=[Point(X0, Y0), Point(X0 + 1, Y0)], crs=27700)
    path = tmp_path / "points.gpkg"
    pts.to_file(path)
    with pytest.raises(InputError, match="expected Polygon or MultiPolygon.*2 are Point"):
        read_polygons(path, code_field="code")


def test_missing_file(tmp_path):
    with pytest.raises(InputError, match="not found"):
        read_polygons(tmp_path / "nope.gpkg", code_field="x")


# --------------------------------------------------------------------------- ward assignment


def _wards(n: int = 2, *, size: float = 1000.0, x0: float = X0) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {"ward_name": [f"Ward {i}" for i in range(n)]},
        geometry=[box(x0 + i * size, Y0 - 500, x0 + (i + 1) * size, Y0 + 1500) for i in range(n)],
        index=pd.Index([f"E0500{i:04d}" for i in range(n)], name="ward_code"),
        crs="EPSG:27700",
    )


def _lsoa(geoms) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {"lsoa_name": [f"L{i}" for i in range(len(geoms))]},
        geometry=list(geoms),
        index=pd.Index([f"E0100{i:04d}" for i in range(len(geoms))], name="lsoa_code"),
        crs="EPSG:27700",
    )


def test_assign_largest_overlap(caplog):
    # L0 inside ward 0; L1 70% in ward 1; L2 straddles 40/60 -> ward 1.
    lsoa = _lsoa(
        [
            box(X0 + 100, Y0, X0 + 300, Y0 + 200),
            box(X0 + 900, Y0, X0 + 1900, Y0 + 100),
            box(X0 + 600, Y0, X0 + 1600, Y0 + 100),
        ]
    )
    with caplog.at_level(logging.INFO, logger="pli.boundaries"):
        out = assign_to_wards(lsoa, _wards())
    assert list(out["ward_code"]) == ["E05000000", "E05000001", "E05000001"]
    np.testing.assert_allclose(out["ward_overlap_share"], [1.0, 0.9, 0.6])
    assert "1 split across wards" in caplog.text


def test_assign_no_overlap_names_lsoas():
    far = box(X0 + 50_000, Y0, X0 + 50_100, Y0 + 100)
    lsoa = _lsoa([box(X0 + 100, Y0, X0 + 300, Y0 + 200), far, far.buffer(-10)])
    with pytest.raises(InputError, match="2 of 3 LSOAs overlap no ward at all: E01000001, E01000002"):
        assign_to_wards(lsoa, _wards())


def test_assign_crs_mismatch():
    lsoa = _lsoa([box(X0 + 100, Y0, X0 + 300, Y0 + 200)]).to_crs(4326)
    with pytest.raises(InputError, match="EPSG:4326 and EPSG:27700"):
        assign_to_wards(lsoa, _wards())


def test_dissolve_missing_lsoas(tmp_path):
    lsoa = _lsoa([box(X0 + i * 100, Y0, X0 + (i + 1) * 100, Y0 + 100) for i in range(4)])
    table = pd.DataFrame(
        {"LSOA": ["E01000000", "E01000001", "E09999999"], "MSOA": ["M1", "M1", "M2"], "": ["x", "y", "z"]}
    )
    path = tmp_path / "upper.csv"
    table.to_csv(path, index=False)
    spec = UpperFromTableSpec(path=str(path), lsoa_column="LSOA", code_column="MSOA")
    with pytest.raises(InputError, match="2 of 4 LSOAs are not in column 'LSOA': E01000002, E01000003"):
        dissolve_upper_layer(lsoa, spec)
    bad = UpperFromTableSpec(path=str(path), lsoa_column="LSOA", code_column="MSOA_CODE")
    with pytest.raises(InputError, match="did you mean 'MSOA'"):
        dissolve_upper_layer(lsoa, bad)


# --------------------------------------------------------------------------- reconciliation

# P split into C1, C2 (2011 -> 2021); M1, M2 merged into N; Q -> Y1, Y2 and R -> Y2 is
# many-to-many and ONS marks it X.
LOOKUP = pd.DataFrame(
    [
        ("A", "A", "U"),
        ("B", "B", "U"),
        ("P", "C1", "S"),
        ("P", "C2", "S"),
        ("M1", "N", "M"),
        ("M2", "N", "M"),
        ("Q", "Y1", "X"),
        ("Q", "Y2", "X"),
        ("R", "Y2", "X"),
    ],
    columns=["lsoa11", "lsoa21", "change"],
)
TARGET_2011 = pd.Index(["A", "B", "P", "M1", "M2", "Q", "R"])
TARGET_2021 = pd.Index(["A", "B", "C1", "C2", "N", "Y1", "Y2"])


def _table(values: dict[str, float]) -> pd.DataFrame:
    return pd.DataFrame(
        {"count": list(values.values()), "other": [2.0 * v for v in values.values()]},
        index=pd.Index(list(values), name="lsoa_code"),
    )


def test_mixed_vintage_sum_to_2011():
    table = _table({"A": 1, "P": 5, "C1": 2, "C2": 3, "B": 4})
    res = reconcile_codes(table, LOOKUP, target_codes=TARGET_2011, target_vintage=2011, aggregation="sum")
    assert res.table.loc["P", "count"] == 5 + 2 + 3
    assert list(res.table.index) == ["A", "B", "P"]
    assert res.mapped_codes == 2 and res.dropped_codes == ()
    pd.testing.assert_series_equal(res.totals_before, res.totals_after)
    assert (table.index == pd.Index(["A", "P", "C1", "C2", "B"])).all(), "input mutated"


def test_split_mean_to_2011_is_unweighted_mean():
    res = reconcile_codes(
        _table({"A": 1, "C1": 2, "C2": 6}), LOOKUP, target_codes=TARGET_2011, target_vintage=2011, aggregation="mean"
    )
    assert res.table.loc["P", "count"] == 4
    assert res.table.loc["A", "count"] == 1


def test_split_to_2021_copies_means_and_refuses_sums():
    table = _table({"A": 1, "P": 7})
    res = reconcile_codes(table, LOOKUP, target_codes=TARGET_2021, target_vintage=2021, aggregation="mean")
    assert res.table.loc[["C1", "C2"], "count"].tolist() == [7, 7]
    with pytest.raises(InputError, match=r"cannot be split.*: P;"):
        reconcile_codes(table, LOOKUP, target_codes=TARGET_2021, target_vintage=2021, aggregation="sum")


def test_merge_to_2021_sums_and_back_refuses_sums():
    res = reconcile_codes(
        _table({"M1": 1, "M2": 2}), LOOKUP, target_codes=TARGET_2021, target_vintage=2021, aggregation="sum"
    )
    assert res.table.loc["N", "count"] == 3
    with pytest.raises(InputError, match="N"):
        reconcile_codes(_table({"N": 3}), LOOKUP, target_codes=TARGET_2011, target_vintage=2011, aggregation="sum")


def test_complex_change_names_lsoas():
    with pytest.raises(InputError, match="complex") as err:
        reconcile_codes(
            _table({"A": 1, "Y1": 1, "Y2": 2}),
            LOOKUP,
            target_codes=TARGET_2011,
            target_vintage=2011,
            aggregation="mean",
        )
    assert "Y1->Q" in str(err.value) and "Y2->R" in str(err.value)


def test_many_to_many_without_x_flag_is_complex():
    lookup = LOOKUP.assign(change=LOOKUP["change"].replace("X", "S"))
    with pytest.raises(InputError, match="complex"):
        reconcile_codes(_table({"Q": 1}), lookup, target_codes=TARGET_2021, target_vintage=2021, aggregation="mean")


def test_part_of_many_to_many_is_complex():
    # Y1 maps only to Q, but Q also takes part of Y2, which Q shares with R.
    lookup = LOOKUP.assign(change=LOOKUP["change"].replace("X", "M"))
    with pytest.raises(InputError, match="Y1->Q"):
        reconcile_codes(_table({"Y1": 1}), lookup, target_codes=TARGET_2011, target_vintage=2011, aggregation="mean")


def test_partial_children_warn(caplog):
    with caplog.at_level(logging.WARNING, logger="pli.boundaries"):
        res = reconcile_codes(_table({"A": 1, "C1": 2}), LOOKUP, target_codes=TARGET_2011, target_vintage=2011)
    assert res.table.loc["P", "count"] == 2
    assert "built from only some" in caplog.text and "missing C2" in caplog.text


def test_unknown_codes_are_dropped_and_logged(caplog):
    table = _table({"A": 1, "ZZ1": 10, "ZZ2": 20})
    with caplog.at_level(logging.WARNING, logger="pli.boundaries"):
        res = reconcile_codes(table, LOOKUP, target_codes=TARGET_2011, target_vintage=2011, source="burglary")
    assert res.dropped_codes == ("ZZ1", "ZZ2")
    assert res.totals_dropped["count"] == 30
    assert res.totals_before["count"] == res.totals_after["count"] + res.totals_dropped["count"]
    assert "burglary: dropped 2 LSOA code(s)" in caplog.text and "ZZ1, ZZ2" in caplog.text
    assert list(res.to_frame().columns) == ["before", "after", "dropped"]


def test_reconcile_rejects_duplicates_and_text():
    dup = pd.DataFrame({"count": [1, 2]}, index=["A", "A"])
    with pytest.raises(InputError, match="1 repeat: A"):
        reconcile_codes(dup, LOOKUP, target_codes=TARGET_2011, target_vintage=2011)
    text = pd.DataFrame({"label": ["x"]}, index=["A"])
    with pytest.raises(InputError, match="label"):
        reconcile_codes(text, LOOKUP, target_codes=TARGET_2011, target_vintage=2011)


def test_read_lookup_bad_change_code(tmp_path):
    path = tmp_path / "lookup.csv"
    pd.DataFrame({"LSOA11CD": ["A", "B"], "LSOA21CD": ["A", "B"], "CHGIND": ["U", "Q"]}).to_csv(path, index=False)
    with pytest.raises(InputError, match="U, S, M or X, found Q"):
        read_vintage_lookup(VintageLookupSpec(path=str(path)))
