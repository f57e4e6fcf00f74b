"""Tests for pli.indicators: loaders on the real Croydon snapshot and on fixtures,
and the indicator transforms on hand-computed values."""

from __future__ import annotations

import csv
import dataclasses
import logging
import math
from pathlib import Path
from types import SimpleNamespace

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from pyproj import Transformer
from shapely.geometry import box

from pli.config import (
    AreaSpec,
    BoundariesSpec,
    BoundaryLayerSpec,
    ConfigError,
    DenominatorSpec,
    IndicatorSpec,
    SourceSpec,
    StudyConfig,
)
from pli.errors import InputError
from pli.indicators import (
    ALL_CRIME,
    ASB,
    IOD2019_COLUMNS,
    IndicatorTable,
    SourceTable,
    build_indicators,
    load_source,
)

HERE = Path(__file__).resolve().parent
FIXTURES = HERE / "fixtures"
POLICE_FIXTURE = FIXTURES / "police_uk"
IND_FIXTURES = FIXTURES / "indicators"
SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"

POLICE_UK_TYPES = {
    "Anti-social behaviour", "Bicycle theft", "Burglary", "Criminal damage and arson", "Drugs",
    "Other crime", "Other theft", "Possession of weapons", "Public order", "Robbery",
    "Shoplifting", "Theft from the person", "Vehicle crime", "Violence and sexual offences",
}


def shared_file(name: str) -> Path:
    path = SHARED / name
    if not path.exists():
        pytest.skip(f"real Croydon snapshot not available: {path} is absent (see ../shared/data/SOURCES.md)")
    return path


def load(name: str, spec: SourceSpec, base: Path, **kw) -> SourceTable:
    return load_source(name, spec, resolve=lambda p: base / p, **kw)


def assert_source_contract(src: SourceTable) -> None:
    assert src.table.index.name == "lsoa_code"
    assert pd.api.types.is_string_dtype(src.table.index)
    assert src.table.index.is_unique
    assert all(pd.api.types.is_numeric_dtype(t) for t in src.table.dtypes)
    assert all(f.exists() for f in src.files)


# --------------------------------------------------------------------------- real data


@pytest.fixture(scope="module")
def mps_raw() -> pd.DataFrame:
    return pd.read_csv(shared_file("croydon_mps_lsoa_crime_2024-02_2026-02.csv"))


def test_mps_real_drops_stub_and_takes_latest_12_months(mps_raw, caplog):
    spec = SourceSpec(kind="mps_lsoa_crime", path="croydon_mps_lsoa_crime_2024-02_2026-02.csv", vintage=2021)
    with caplog.at_level(logging.WARNING, logger="pli.indicators"):
        src = load("mps", spec, SHARED)
    assert_source_contract(src)
    month_cols = sorted(c for c in mps_raw.columns if c.isdigit())
    totals = mps_raw[month_cols].sum()
    # The stub is the first column, far below a normal month (SOURCES.md quirk 4).
    assert totals[month_cols[0]] < 0.1 * totals.median()
    assert "partial month" in caplog.text and "2024-02" in caplog.text
    expected = month_cols[-12:]
    assert src.months == tuple(f"{m[:4]}-{m[4:]}" for m in expected)
    assert src.period == f"{src.months[0]} to {src.months[-1]}"
    assert src.rows_read == len(mps_raw)
    by_lsoa = mps_raw.groupby("lsoa_code")[expected].sum().sum(axis=1)
    pd.testing.assert_series_equal(
        src.table[ALL_CRIME].sort_index(), by_lsoa.sort_index().astype("int64"),
        check_names=False, check_index_type=False,
    )
    assert src.table[ALL_CRIME].sum() == mps_raw[expected].to_numpy().sum()
    vwi = mps_raw[mps_raw.minor_category == "VIOLENCE WITH INJURY"].groupby("lsoa_code")[expected].sum().sum(axis=1)
    col = src.table["VIOLENCE AGAINST THE PERSON/VIOLENCE WITH INJURY"]
    assert (col.reindex(vwi.index) == vwi).all()
    n_cats = mps_raw[["major_category", "minor_category"]].drop_duplicates().shape[0]
    assert src.table.shape == (mps_raw.lsoa_code.nunique(), n_cats + 1)


def test_mps_real_partial_month_kept_when_asked(mps_raw):
    month_cols = sorted(c for c in mps_raw.columns if c.isdigit())
    spec = SourceSpec(kind="mps_lsoa_crime", path="croydon_mps_lsoa_crime_2024-02_2026-02.csv",
                      window_months=None, drop_partial_months=False)
    src = load("mps", spec, SHARED)
    assert len(src.months) == len(month_cols)
    assert src.table[ALL_CRIME].sum() == mps_raw[month_cols].to_numpy().sum()
    spec24 = SourceSpec(kind="mps_lsoa_crime", path="croydon_mps_lsoa_crime_2024-02_2026-02.csv", window_months=24)
    src24 = load("mps", spec24, SHARED)
    assert src24.months[0] == f"{month_cols[1][:4]}-{month_cols[1][4:]}"  # stub still dropped


def test_iod2019_real():
    path = shared_file("croydon_iod2019.csv")
    src = load("imd", SourceSpec(kind="iod2019", path=path.name), SHARED)
    assert_source_contract(src)
    raw = pd.read_csv(path)
    assert len(src.table) == len(raw) == 220
    assert list(src.table.columns) == list(IOD2019_COLUMNS)
    file_value = raw.loc[raw["LSOA code (2011)"] == "E01000975", "Index of Multiple Deprivation (IMD) Score"].item()
    assert src.table.loc["E01000975", "imd_score"] == file_value
    # The working-age header carries a trailing space in the published file.
    trailing = [c for c in raw.columns if c != c.strip()]
    assert len(trailing) == 1
    assert (src.table["population_working_age_2015"].to_numpy() == raw[trailing[0]].to_numpy()).all()
    assert src.table["imd_decile"].between(1, 10).all()
    assert pd.api.types.is_integer_dtype(src.table["imd_rank"])


def test_iod2019_missing_columns_listed(tmp_path):
    path = shared_file("croydon_iod2019.csv")
    raw = pd.read_csv(path, nrows=5)
    broken = raw.drop(columns=["Crime Score", "Indoors Sub-domain Decile (where 1 is most deprived 10% of LSOAs)"])
    broken.to_csv(tmp_path / "iod.csv", index=False)
    with pytest.raises(InputError) as err:
        load("imd", SourceSpec(kind="iod2019", path="iod.csv"), tmp_path)
    msg = str(err.value)
    assert "iod.csv" in msg and "2 expected column(s) missing" in msg
    assert "'Crime Score'" in msg and "Indoors Sub-domain Decile" in msg


def test_census2011_real():
    path = shared_file("croydon_census2011_population.csv")
    src = load("pop", SourceSpec(kind="census2011_population", path=path.name), SHARED)
    assert_source_contract(src)
    assert len(src.table) == 220
    parsed = pd.read_csv(path, thousands=",")
    assert src.table["usual_residents"].sum() == parsed["Persons"].sum()
    assert src.table["communal_residents"].sum() == parsed["Persons.2"].sum()
    with open(path, newline="") as fh:
        rows = {r[6]: r for r in csv.reader(fh)}
    assert src.table.loc["E01001137", "usual_residents"] == int(rows["E01001137"][9].replace(",", ""))
    assert src.table.loc["E01001137", "households"] == int(rows["E01001137"][14].replace(",", ""))


def test_census2021_ts007a_real():
    path = shared_file("croydon_census2021_ts007a_lsoa21.csv")
    src = load("age", SourceSpec(kind="census2021", path=path.name, vintage=2021), SHARED)
    assert_source_contract(src)
    raw = pd.read_csv(path).set_index("geography code")
    assert len(src.table) == 229
    bands = ["Age: Aged 10 to 14 years", "Age: Aged 15 to 19 years", "Age: Aged 20 to 24 years"]
    young = raw[bands].sum(axis=1)
    assert (src.table["young_residents_10_24"] == young.reindex(src.table.index)).all()
    assert (src.table["residents_total"] == raw["Age: Total"].reindex(src.table.index)).all()
    assert "date" not in src.table.columns
    assert set(raw.columns.drop(["date", "geography"])) <= set(src.table.columns)


def test_census2021_selected_columns_skip_derived():
    path = shared_file("croydon_census2021_ts054_lsoa21.csv")
    spec = SourceSpec(kind="census2021", path=path.name, vintage=2021,
                      columns=("Tenure of household: Social rented",))
    src = load("tenure", spec, SHARED)
    assert list(src.table.columns) == ["Tenure of household: Social rented"]


@pytest.fixture(scope="module")
def burglary_raw() -> pd.DataFrame:
    folder = shared_file("police_uk_burglary")
    return pd.concat([pd.read_csv(f) for f in sorted(folder.glob("*.csv"))], ignore_index=True)


def test_police_uk_real_burglary_default_window(burglary_raw):
    folder = shared_file("police_uk_burglary")
    assert len(list(folder.glob("*-street.csv"))) == 171
    months = sorted(burglary_raw["Month"].unique())
    assert len(months) == 171
    src = load("burglary", SourceSpec(kind="police_uk", path=folder.name), SHARED)
    assert_source_contract(src)
    assert src.months == tuple(months[-12:])
    assert len(src.files) == 12  # only the window's files were read
    window = burglary_raw[burglary_raw["Month"].isin(months[-12:])]
    expected = window.dropna(subset=["LSOA code"]).groupby("LSOA code").size()
    got = src.table["Burglary"]
    assert set(got.index) == set(expected.index)
    assert (got.reindex(expected.index) == expected).all()
    assert (src.table[ALL_CRIME] == got).all()
    assert list(src.table.columns) == ["Burglary", ALL_CRIME]
    pts = src.points
    assert pts.crs.to_epsg() == 27700
    assert list(pts.columns) == ["month", "category", "location", "lsoa_code", "crime_id", "geometry"]
    assert len(pts) == window.dropna(subset=["Longitude", "Latitude", "LSOA code"]).shape[0]
    x0, y0, x1, y1 = pts.total_bounds
    assert 520000 < x0 < x1 < 545000 and 155000 < y0 < y1 < 175000  # Croydon


def test_police_uk_real_explicit_window(burglary_raw):
    folder = shared_file("police_uk_burglary")
    spec = SourceSpec(kind="police_uk", path=folder.name, start_month="2022-02", end_month="2022-04")
    src = load("burglary", spec, SHARED)
    assert src.months == ("2022-02", "2022-03", "2022-04")
    sel = burglary_raw[burglary_raw["Month"].between("2022-02", "2022-04")]
    # police.uk's own 2022-02 file repeats 3 Crime IDs; a Crime ID is one crime, counted once.
    repeated = sel["Crime ID"].notna() & sel["Crime ID"].duplicated()
    assert repeated.sum() == 3
    expected = sel[~repeated].dropna(subset=["LSOA code"]).groupby("LSOA code").size()
    assert (src.table["Burglary"].reindex(expected.index) == expected).all()
    assert src.table[ALL_CRIME].sum() == expected.sum() == len(sel.dropna(subset=["LSOA code"])) - 3


# --------------------------------------------------------------------------- police.uk fixture


@pytest.fixture(scope="module")
def police_fixture_raw() -> pd.DataFrame:
    return pd.concat(
        [pd.read_csv(f) for f in sorted(POLICE_FIXTURE.rglob("*-street.csv"))], ignore_index=True
    )


def test_police_uk_fixture_all_types(police_fixture_raw, caplog):
    with caplog.at_level(logging.WARNING, logger="pli.indicators"):
        src = load("wy", SourceSpec(kind="police_uk", path="police_uk"), FIXTURES)
    assert_source_contract(src)
    assert src.months == ("2016-07", "2017-07", "2018-07")  # the 12 latest months present
    assert set(src.table.columns) == POLICE_UK_TYPES | {ALL_CRIME}
    non_asb = [c for c in src.table.columns if c not in (ASB, ALL_CRIME)]
    assert (src.table[ALL_CRIME] == src.table[non_asb].sum(axis=1)).all()
    located = police_fixture_raw.dropna(subset=["LSOA code"])
    expected = located.groupby(["LSOA code", "Crime type"]).size().unstack(fill_value=0)
    got = src.table[expected.columns].reindex(expected.index)
    assert (got.to_numpy() == expected.to_numpy()).all()
    blank = police_fixture_raw["LSOA code"].isna().sum()
    assert blank > 0 and f"dropped {blank} of {len(police_fixture_raw)}" in caplog.text
    assert src.rows_read == len(police_fixture_raw)
    assert len(src.points) == len(located)
    assert set(src.points["category"]) == POLICE_UK_TYPES
    x0, _, x1, _ = src.points.total_bounds
    assert 380000 < x0 < x1 < 460000  # West Yorkshire eastings


def test_police_uk_fixture_window_selection(police_fixture_raw, caplog):
    src = load("wy", SourceSpec(kind="police_uk", path="police_uk", window_months=2), FIXTURES)
    assert src.months == ("2017-07", "2018-07")
    assert [f.parent.name for f in src.files] == ["2017-07", "2018-07"]
    expected = police_fixture_raw[police_fixture_raw.Month.isin(src.months)]
    assert src.table[ASB].sum() == (expected["Crime type"] == ASB).sum() - (
        expected["LSOA code"].isna() & (expected["Crime type"] == ASB)
    ).sum()
    with caplog.at_level(logging.WARNING, logger="pli.indicators"):
        explicit = load(
            "wy", SourceSpec(kind="police_uk", path="police_uk", start_month="2016-01", end_month="2017-12"),
            FIXTURES,
        )
    assert explicit.months == ("2016-07", "2017-07")
    assert "no data for" in caplog.text  # the 11 absent months between them are announced
    one = load("wy", SourceSpec(kind="police_uk", path="police_uk/2018-07/2018-07-west-yorkshire-street.csv"), FIXTURES)
    assert one.months == ("2018-07",)
    assert one.table[ALL_CRIME].sum() == explicit_total(police_fixture_raw, "2018-07")
    with pytest.raises(InputError, match="no data inside the window"):
        load("wy", SourceSpec(kind="police_uk", path="police_uk/2018-07", start_month="2019-01"), FIXTURES)
    with pytest.raises(ConfigError, match="YYYY-MM"):
        load("wy", SourceSpec(kind="police_uk", path="police_uk", start_month="2018/07"), FIXTURES)


def explicit_total(raw: pd.DataFrame, month: str) -> int:
    sel = raw[(raw.Month == month) & raw["LSOA code"].notna() & (raw["Crime type"] != ASB)]
    return len(sel)


def test_police_uk_missing_columns_named(tmp_path):
    raw = pd.read_csv(POLICE_FIXTURE / "2016-07" / "2016-07-west-yorkshire-street.csv")
    raw.drop(columns=["LSOA code", "Crime type"]).to_csv(tmp_path / "2016-07-x-street.csv", index=False)
    with pytest.raises(InputError) as err:
        load("x", SourceSpec(kind="police_uk", path="."), tmp_path)
    msg = str(err.value)
    assert "2016-07-x-street.csv" in msg and "'LSOA code'" in msg and "'Crime type'" in msg


def test_police_uk_unlocated_rows_counted_not_mapped(tmp_path):
    raw = pd.read_csv(POLICE_FIXTURE / "2016-07" / "2016-07-west-yorkshire-street.csv")
    raw = raw.dropna(subset=["LSOA code"]).head(50).copy()
    raw.loc[raw.index[:3], ["Longitude", "Latitude"]] = np.nan
    raw.to_csv(tmp_path / "f-street.csv", index=False)
    src = load("x", SourceSpec(kind="police_uk", path="f-street.csv"), tmp_path)
    assert src.table.drop(columns=ALL_CRIME).to_numpy().sum() == 50
    assert len(src.points) == 47
    assert set(src.points["crime_id"].dropna()) <= set(raw["Crime ID"].dropna())


def test_police_uk_empty_folder(tmp_path):
    with pytest.raises(InputError, match=r"no police.uk street files"):
        load("x", SourceSpec(kind="police_uk", path="."), tmp_path)


# --------------------------------------------------------------------------- MPS fixture


def test_mps_datastore_headers_fixture(caplog):
    path = IND_FIXTURES / "mps_lsoa_crime_datastore.csv"
    raw = pd.read_csv(path)
    with caplog.at_level(logging.WARNING, logger="pli.indicators"):
        src = load("mps", SourceSpec(kind="mps_lsoa_crime", path=path.name), IND_FIXTURES)
    assert "2022-12" in caplog.text
    months = sorted(c for c in raw.columns if c.isdigit())[1:][-12:]
    assert src.months == tuple(f"{m[:4]}-{m[4:]}" for m in months)
    assert src.period == "2023-02 to 2024-01"
    assert (src.table[ALL_CRIME] == raw.groupby("LSOA Code")[months].sum().sum(axis=1)).all()
    assert "BURGLARY/RES BURGLARY OF A HOME" in src.table.columns


@pytest.mark.parametrize(
    "renames",
    [
        {"Major Category": "MajorText", "Minor Category": "MinorText"},
        {"LSOA Code": "lsoa_code", "Major Category": "major_category", "Minor Category": "minor_category"},
        {"LSOA Code": " lsoa code ", "Major Category": "MAJOR CATEGORY"},
    ],
)
def test_mps_header_variants(tmp_path, renames):
    raw = pd.read_csv(IND_FIXTURES / "mps_lsoa_crime_datastore.csv")
    raw.rename(columns=renames).to_csv(tmp_path / "m.csv", index=False)
    ref = load("m", SourceSpec(kind="mps_lsoa_crime", path="mps_lsoa_crime_datastore.csv"), IND_FIXTURES)
    src = load("m", SourceSpec(kind="mps_lsoa_crime", path="m.csv"), tmp_path)
    pd.testing.assert_frame_equal(src.table, ref.table)


def set_month_total(raw: pd.DataFrame, month: str, total: int) -> pd.DataFrame:
    out = raw.copy()
    out[month] = 0
    out.loc[out.index[:total], month] = 1
    return out


@pytest.mark.parametrize("last_total, dropped", [(9, True), (11, False)])
def test_mps_partial_month_rule_only_at_the_ends(tmp_path, last_total, dropped):
    raw = pd.read_csv(IND_FIXTURES / "mps_lsoa_crime_datastore.csv")
    months = sorted(c for c in raw.columns if c.isdigit())
    edited = set_month_total(set_month_total(raw, months[-1], last_total), months[6], 0)
    median = edited[months].sum().median()
    assert 90 < median < 110  # so 9 is below 10% of the median month and 11 above
    edited.to_csv(tmp_path / "m.csv", index=False)
    src = load("m", SourceSpec(kind="mps_lsoa_crime", path="m.csv", window_months=None), tmp_path)
    kept = months[1:-1] if dropped else months[1:]
    assert src.months == tuple(f"{m[:4]}-{m[4:]}" for m in kept)  # the empty mid-series month stays
    assert src.table[ALL_CRIME].sum() == edited[kept].to_numpy().sum()


def test_mps_missing_columns(tmp_path):
    raw = pd.read_csv(IND_FIXTURES / "mps_lsoa_crime_datastore.csv")
    raw.drop(columns=["Minor Category"]).to_csv(tmp_path / "m.csv", index=False)
    with pytest.raises(InputError, match=r"m\.csv.*Minor Category/MinorText"):
        load("m", SourceSpec(kind="mps_lsoa_crime", path="m.csv"), tmp_path)
    raw = raw.astype({"202305": "str"})
    raw.loc[7, "202305"] = "12x"
    raw.to_csv(tmp_path / "n.csv", index=False)
    with pytest.raises(InputError, match=r"n\.csv: column '202305'.*line 9: '12x'"):
        load("n", SourceSpec(kind="mps_lsoa_crime", path="n.csv"), tmp_path)


# --------------------------------------------------------------------------- lsoa_table


def test_lsoa_table_numeric_columns():
    spec = SourceSpec(kind="lsoa_table", path="lsoa_population.csv", code_column="LSOA11CD")
    src = load("pop", spec, IND_FIXTURES)
    assert_source_contract(src)
    assert list(src.table.columns) == ["Usual residents", "Area (ha)", "Households", "Licensed premises"]
    assert src.table.loc["E01001137", "Usual residents"] == 1769
    assert math.isnan(src.table.loc["E01001139", "Licensed premises"])  # "." marker
    sub = load("pop", SourceSpec(kind="lsoa_table", path="lsoa_population.csv", code_column="LSOA11CD",
                                 columns=("Households",)), IND_FIXTURES)
    assert list(sub.table.columns) == ["Households"]


def test_lsoa_table_non_numeric_values_named():
    spec = SourceSpec(kind="lsoa_table", path="lsoa_population_bad.csv", code_column="LSOA11CD",
                      columns=("Households", "Licensed premises"))
    with pytest.raises(InputError) as err:
        load("pop", spec, IND_FIXTURES)
    msg = str(err.value)
    assert "lsoa_population_bad.csv" in msg
    assert "'Households'" in msg and "line 4: 'approx 900'" in msg
    assert "'Licensed premises'" in msg and "line 3: 'n/k'" in msg and "line 5: '15 (est)'" in msg
    assert len(err.value.problems) == 2


def test_lsoa_table_config_errors(tmp_path):
    with pytest.raises(ConfigError, match="code_column"):
        load("pop", SourceSpec(kind="lsoa_table", path="lsoa_population.csv"), IND_FIXTURES)
    with pytest.raises(InputError, match=r"'Houshold'.*did you mean 'Households'"):
        load("pop", SourceSpec(kind="lsoa_table", path="lsoa_population.csv", code_column="LSOA11CD",
                               columns=("Houshold",)), IND_FIXTURES)
    with pytest.raises(InputError, match="LSOA code column"):
        load("pop", SourceSpec(kind="lsoa_table", path="lsoa_population.csv", code_column="lsoa21cd"),
             IND_FIXTURES)
    with pytest.raises(InputError, match="file not found"):
        load("pop", SourceSpec(kind="lsoa_table", path="nope.csv", code_column="x"), IND_FIXTURES)
    text = (IND_FIXTURES / "lsoa_population.csv").read_text().splitlines()
    (tmp_path / "dup.csv").write_text("\n".join([*text, text[2]]) + "\n")
    with pytest.raises(InputError, match=r"E01001138 \(line 3\), E01001138 \(line 7\)"):
        load("pop", SourceSpec(kind="lsoa_table", path="dup.csv", code_column="LSOA11CD"), tmp_path)


# --------------------------------------------------------------------------- points

X0, Y0, SIZE = 532000.0, 165000.0, 500.0
BOX_CODES = ["E01001137", "E01001138", "E01001139", "E01001140"]


@pytest.fixture(scope="module")
def boxes() -> gpd.GeoDataFrame:
    geoms = [box(X0 + c * SIZE, Y0 + r * SIZE, X0 + (c + 1) * SIZE, Y0 + (r + 1) * SIZE)
             for r in range(2) for c in range(2)]
    return gpd.GeoDataFrame(
        {"lsoa_name": ["box SW", "box SE", "box NW", "box NE"]},
        geometry=geoms, crs="EPSG:27700", index=pd.Index(BOX_CODES, name="lsoa_code"),
    )


@pytest.fixture(scope="module")
def incidents() -> pd.DataFrame:
    raw = pd.read_csv(IND_FIXTURES / "incidents_bng.csv")
    raw["month"] = pd.to_datetime(raw["Date"], format="%d/%m/%Y").dt.strftime("%Y-%m")
    col = np.floor((raw["Easting"] - X0) / SIZE)
    row = np.floor((raw["Northing"] - Y0) / SIZE)
    inside = col.between(0, 1) & row.between(0, 1)
    raw["box"] = None
    raw.loc[inside, "box"] = [BOX_CODES[int(r * 2 + c)] for r, c in zip(row[inside], col[inside])]
    return raw


def expected_counts(raw: pd.DataFrame, months: set[str]) -> pd.DataFrame:
    sel = raw[raw["box"].notna() & raw["month"].isin(months)]
    return sel.groupby(["box", "Offence"]).size().unstack(fill_value=0)


POINT_SPEC = dict(kind="points", path="incidents_bng.csv", x_column="Easting", y_column="Northing",
                  crs="EPSG:27700", category_column="Offence", date_column="Date", date_format="%d/%m/%Y",
                  time_column="Time", location_column="Street")


def test_points_bng(boxes, incidents, caplog):
    spec = SourceSpec(**POINT_SPEC, window_months=6)
    with caplog.at_level(logging.WARNING, logger="pli.indicators"):
        src = load("inc", spec, IND_FIXTURES, lsoa=boxes)
    assert_source_contract(src)
    months = sorted(incidents["month"].unique())[-6:]
    assert src.months == tuple(months)
    exp = expected_counts(incidents, set(months))
    edge = incidents["Easting"] == X0 + SIZE  # on the SW/SE shared edge
    assert edge.sum() == 1
    assert incidents.loc[edge, "month"].isin(months).item()
    # The arithmetic puts the edge point in the eastern box; the loader may pick either
    # neighbour, but must keep it: at most one point moves between those two boxes.
    got = src.table[exp.columns].reindex(exp.index, fill_value=0)
    diff = got - exp
    assert diff.to_numpy().sum() == 0 and np.abs(diff.to_numpy()).sum() <= 2
    assert set(diff.index[(diff != 0).any(axis=1)]) <= {"E01001137", "E01001138"}
    in_window = incidents["month"].isin(months) & incidents["Easting"].notna()
    n_out = int((in_window & incidents["box"].isna()).sum())
    assert n_out == 2 and f"dropped {n_out} of {int(in_window.sum())} point(s) outside every LSOA" in caplog.text
    assert "dropped 1 row(s) without usable coordinates" in caplog.text
    non_asb = [c for c in src.table.columns if c not in (ASB, ALL_CRIME)]
    assert (src.table[ALL_CRIME] == src.table[non_asb].sum(axis=1)).all()
    pts = src.points
    assert pts.crs.to_epsg() == 27700
    assert list(pts.columns) == ["month", "category", "location", "time", "lsoa_code", "geometry"]
    assert len(pts) == src.table.drop(columns=ALL_CRIME).to_numpy().sum()
    assert pts["time"].str.fullmatch(r"\d\d:\d\d").all()
    assert set(pts["lsoa_code"]) <= set(BOX_CODES)


def test_points_lonlat_and_categories(boxes, incidents, tmp_path):
    raw = pd.read_csv(IND_FIXTURES / "incidents_bng.csv")
    lon, lat = Transformer.from_crs(27700, 4326, always_xy=True).transform(
        raw["Easting"].to_numpy(), raw["Northing"].to_numpy()
    )
    blank = raw["Easting"].isna().to_numpy()
    lon, lat = np.where(blank, np.nan, lon), np.where(blank, np.nan, lat)
    ll = raw.drop(columns=["Easting", "Northing"]).assign(lon=np.round(lon, 7), lat=np.round(lat, 7))
    ll.to_csv(tmp_path / "ll.csv", index=False)
    spec = SourceSpec(kind="points", path="ll.csv", x_column="lon", y_column="lat", category_column="Offence",
                      date_column="Date", date_format="%d/%m/%Y", start_month="2023-01", end_month="2023-07",
                      categories=("Burglary", "Robbery"))
    src = load("inc", spec, tmp_path, lsoa=boxes)
    # Independent assignment: back to grid coordinates, then arithmetic on the boxes.
    x, y = Transformer.from_crs(4326, 27700, always_xy=True).transform(ll["lon"].to_numpy(), ll["lat"].to_numpy())
    x, y = np.where(blank, np.nan, x), np.where(blank, np.nan, y)
    check = incidents.assign(Easting=x, Northing=y)
    col, row = np.floor((x - X0) / SIZE), np.floor((y - Y0) / SIZE)
    inside = (col >= 0) & (col <= 1) & (row >= 0) & (row <= 1)
    check["box"] = [BOX_CODES[int(r * 2 + c)] if ok else None for r, c, ok in zip(row, col, inside)]
    check = check[check["Offence"].isin(["Burglary", "Robbery"])]
    exp = expected_counts(check, {f"2023-{m:02d}" for m in range(1, 8)})
    got = src.table[exp.columns].reindex(exp.index, fill_value=0)
    assert (got.to_numpy() == exp.to_numpy()).all()
    assert set(src.table.columns) == {"Burglary", "Robbery", ALL_CRIME}
    assert src.period == "2023-01 to 2023-07"


def test_points_input_errors(boxes, tmp_path):
    with pytest.raises(InputError, match="EPSG:27700"):
        load("inc", SourceSpec(kind="points", path="incidents_bng.csv", x_column="Easting", y_column="Northing"),
             IND_FIXTURES, lsoa=boxes)
    with pytest.raises(InputError, match="needs the LSOA polygons"):
        load("inc", SourceSpec(**POINT_SPEC), IND_FIXTURES)
    with pytest.raises(InputError, match=r"must be in EPSG:27700, got EPSG:4326"):
        load("inc", SourceSpec(**POINT_SPEC), IND_FIXTURES, lsoa=boxes.to_crs(4326))
    text = (IND_FIXTURES / "incidents_bng.csv").read_text().splitlines()
    text[4] = text[4].replace("/2023", "/2023x", 1)
    (tmp_path / "bad.csv").write_text("\n".join(text) + "\n")
    with pytest.raises(InputError, match=r"bad\.csv.*'Date'.*line 5"):
        load("inc", SourceSpec(**{**POINT_SPEC, "path": "bad.csv"}), tmp_path, lsoa=boxes)
    with pytest.raises(ConfigError, match="EPSG:4326 .lon/lat. or EPSG:27700"):
        load("inc", SourceSpec(**{**POINT_SPEC, "crs": "EPSG:3857"}), IND_FIXTURES, lsoa=boxes)
    with pytest.raises(InputError, match=r"x_column 'X'"):
        load("inc", SourceSpec(**{**POINT_SPEC, "x_column": "X"}), IND_FIXTURES, lsoa=boxes)


# --------------------------------------------------------------------------- build_indicators

CODES = ["E01000001", "E01000002", "E01000003", "E01000004"]


def make_source(name: str, kind: str, table: dict, *, period: str | None = None) -> SourceTable:
    frame = pd.DataFrame(table)
    frame.index = pd.Index(frame.index, name="lsoa_code", dtype="str")
    return SourceTable(name=name, kind=kind, table=frame, vintage=2011, period=period,
                       months=(), files=(), rows_read=len(frame))


@pytest.fixture
def sources() -> dict[str, SourceTable]:
    crime = make_source("crime", "police_uk", {
        "Burglary": {"E01000001": 4, "E01000002": 0, "E01000003": 6},
        "Robbery": {"E01000001": 1, "E01000002": 2, "E01000003": 0},
        "Violence and sexual offences": {"E01000001": 10, "E01000002": 3, "E01000003": 5},
        ASB: {"E01000001": 7, "E01000002": 1, "E01000003": 0},
        ALL_CRIME: {"E01000001": 15, "E01000002": 5, "E01000003": 11},
    }, period="2023-01 to 2023-12")
    # An LSOA outside the study area, which alignment must ignore.
    elsewhere = pd.DataFrame({c: [99] for c in crime.table.columns}, index=pd.Index(["E01999999"], name="lsoa_code"))
    crime = dataclasses.replace(crime, table=pd.concat([crime.table, elsewhere]))
    pop = make_source("pop", "lsoa_table", {
        "residents": {"E01000001": 2000, "E01000002": 1500, "E01000003": 40, "E01000004": 1000},
        "households": {"E01000001": 800, "E01000002": 600, "E01000003": 20, "E01000004": 0},
    })
    imd = make_source("imd", "iod2019", {"imd_score": {"E01000001": 30.5, "E01000002": 12.25, "E01000004": 8.0}})
    return {"crime": crime, "pop": pop, "imd": imd}


def make_cfg(indicators, denominators=None) -> StudyConfig:
    return StudyConfig(
        area=AreaSpec(name="test"),
        boundaries=BoundariesSpec(lsoa=BoundaryLayerSpec(path="x.geojson", code_field="code")),
        sources={
            "crime": SourceSpec(kind="police_uk", path="crime"),
            "pop": SourceSpec(kind="lsoa_table", path="pop.csv", code_column="code"),
            "imd": SourceSpec(kind="iod2019", path="imd.csv", aggregation="mean"),
        },
        indicators=tuple(indicators),
        denominators=denominators or {"population": DenominatorSpec(source="pop", column="residents")},
    )


BOUNDS = SimpleNamespace(lsoa=pd.DataFrame(index=pd.Index(CODES, name="lsoa_code")))


def identity(table, *, aggregation, source):
    return table


def test_build_indicators_transforms(sources):
    calls = []

    def recording(table, *, aggregation, source):
        calls.append((source, aggregation))
        return table.copy()

    cfg = make_cfg([
        IndicatorSpec(name="crime_count", source="crime", columns=(ALL_CRIME,), transform="count"),
        IndicatorSpec(name="crime_rate", source="crime", columns=("Burglary", "Robbery"), transform="rate"),
        IndicatorSpec(name="violence_share", source="crime", columns=("Violence*",), transform="share",
                      denominator="crime_total"),
        IndicatorSpec(name="asb_log", source="crime", columns=(ASB,), transform="log"),
        IndicatorSpec(name="imd_score", source="imd"),
    ], {"population": DenominatorSpec(source="pop", column="residents"),
        "crime_total": DenominatorSpec(source="pop", column="residents", floor=100)})
    out = build_indicators(cfg, BOUNDS, sources, reconcile=recording)
    assert isinstance(out, IndicatorTable)
    assert sorted(calls) == [("crime", "sum"), ("imd", "mean"), ("pop", "sum")]  # once per source
    v = out.values
    assert list(v.index) == CODES and v.index.name == "lsoa_code"
    assert list(v["crime_count"]) == [15, 5, 11, 0]  # absent from a count source -> 0
    assert v["crime_rate"].tolist() == pytest.approx([5 / 2000 * 1000, 2 / 1500 * 1000, 6 / 40 * 1000, 0.0])
    assert v["violence_share"].tolist() == pytest.approx([10 / 2000, 3 / 1500, 5 / 100, 0.0])  # 40 floored
    assert v["asb_log"].tolist() == pytest.approx([math.log(8), math.log(2), 0.0, 0.0])
    assert v.loc["E01000003", "imd_score"] != v.loc["E01000003", "imd_score"]  # NaN, left for the index stage
    assert v.loc["E01000002", "imd_score"] == 12.25
    assert out.raw["violence_share_denominator"].tolist() == [2000, 1500, 100, 1000]
    assert out.raw["crime_rate_numerator"].tolist() == [5, 2, 6, 0]
    assert out.periods == {n: "2023-01 to 2023-12" for n in ("crime_count", "crime_rate", "violence_share", "asb_log")}
    assert out.specs == cfg.indicators
    assert sources["crime"].table.shape[0] == 4  # input untouched


def test_build_indicators_floor_logged(sources, caplog):
    cfg = make_cfg([IndicatorSpec(name="r", source="crime", columns=("Robbery",), transform="rate")],
                   {"population": DenominatorSpec(source="pop", column="residents", floor=1200)})
    with caplog.at_level(logging.WARNING, logger="pli.indicators"):
        out = build_indicators(cfg, BOUNDS, sources, reconcile=identity)
    assert "raised 2 LSOA(s)" in caplog.text and "E01000003" in caplog.text and "E01000004" in caplog.text
    assert out.values["r"].tolist() == pytest.approx([0.5, 2 / 1500 * 1000, 0.0, 0.0])


def test_build_indicators_harm(sources):
    class Weights:
        table = {"Burglary": 100.0, "Robbery": 365.0, "Violence and sexual offences": 50.0, ASB: 0.0}

        def __init__(self):
            self.calls = []

        def weight_for(self, categories, scheme):
            self.calls.append((tuple(categories), scheme))
            return np.array([self.table[c] for c in categories])

    cfg = make_cfg([IndicatorSpec(name="harm", source="crime", harm=True, transform="value")])
    with pytest.raises(InputError, match="harm weight table"):
        build_indicators(cfg, BOUNDS, sources, reconcile=identity)
    w = Weights()
    out = build_indicators(cfg, BOUNDS, sources, reconcile=identity, harm_weights=w)
    cats = w.calls[0][0]
    assert w.calls[0][1] == "police_uk" and ALL_CRIME not in cats and len(cats) == 4
    assert out.values["harm"].tolist() == pytest.approx([4 * 100 + 365 + 500, 730 + 150, 600 + 250, 0.0])
    cfg2 = make_cfg([IndicatorSpec(name="h", source="imd", columns=("imd_score",), harm=True)])
    with pytest.raises(InputError, match="needs a crime source"):
        build_indicators(cfg2, BOUNDS, sources, reconcile=identity, harm_weights=w)


def test_build_indicators_errors(sources):
    cfg = make_cfg([IndicatorSpec(name="x", source="crime", columns=("Burglary", "Theft*"))])
    with pytest.raises(InputError) as err:
        build_indicators(cfg, BOUNDS, sources, reconcile=identity)
    msg = str(err.value)
    assert "'x'" in msg and "'Theft*'" in msg and "Robbery" in msg and "Violence and sexual offences" in msg
    cfg = make_cfg([IndicatorSpec(name="hh", source="crime", columns=("Robbery",), transform="share",
                                  denominator="hh")],
                   {"hh": DenominatorSpec(source="pop", column="households")})
    with pytest.raises(InputError, match=r"zero or negative for 1 LSOA\(s\): E01000004"):
        build_indicators(cfg, BOUNDS, sources, reconcile=identity)
    cfg = make_cfg([IndicatorSpec(name="per_imd", source="crime", columns=("Robbery",), transform="rate")],
                   {"population": DenominatorSpec(source="imd", column="imd_score")})
    with pytest.raises(InputError, match=r"missing for 1 LSOA\(s\): E01000003"):
        build_indicators(cfg, BOUNDS, sources, reconcile=identity)
    cfg = make_cfg([IndicatorSpec(name="nope", source="crime")])
    with pytest.raises(InputError, match="no 'columns' given"):
        build_indicators(cfg, BOUNDS, sources, reconcile=identity)


def test_build_indicators_wildcard_skips_all_crime(sources):
    cfg = make_cfg([IndicatorSpec(name="everything", source="crime", columns=("*",), transform="count")])
    out = build_indicators(cfg, BOUNDS, sources, reconcile=identity)
    # every category once (ASB included by "*"), never all_crime on top
    assert out.values["everything"].tolist() == [22, 6, 11, 0]


def test_build_indicators_real_mps_rate():
    mps_path = shared_file("croydon_mps_lsoa_crime_2024-02_2026-02.csv")
    age_path = shared_file("croydon_census2021_ts007a_lsoa21.csv")
    mps = load("mps", SourceSpec(kind="mps_lsoa_crime", path=mps_path.name, vintage=2021), SHARED)
    age = load("age", SourceSpec(kind="census2021", path=age_path.name, vintage=2021), SHARED)
    cfg = StudyConfig(
        area=AreaSpec(name="Croydon"),
        boundaries=BoundariesSpec(lsoa=BoundaryLayerSpec(path="x", code_field="c"), lsoa_vintage=2021),
        sources={"mps": SourceSpec(kind="mps_lsoa_crime", path="m"), "age": SourceSpec(kind="census2021", path="a")},
        indicators=(
            IndicatorSpec(name="violence_rate", source="mps", columns=("VIOLENCE AGAINST THE PERSON/*",),
                          transform="rate"),
            IndicatorSpec(name="young_share", source="age", columns=("young_residents_10_24",), transform="share"),
        ),
        denominators={"population": DenominatorSpec(source="age", column="residents_total")},
    )
    bounds = SimpleNamespace(lsoa=pd.DataFrame(index=age.table.index))
    out = build_indicators(cfg, bounds, {"mps": mps, "age": age}, reconcile=identity)
    raw = pd.read_csv(mps_path)
    months = [m.replace("-", "") for m in mps.months]
    vap = raw[raw.major_category == "VIOLENCE AGAINST THE PERSON"].groupby("lsoa_code")[months].sum().sum(axis=1)
    pop = pd.read_csv(age_path).set_index("geography code")["Age: Total"]
    expected = (vap.reindex(pop.index, fill_value=0) / pop * 1000).reindex(out.values.index)
    assert np.allclose(out.values["violence_rate"].to_numpy(), expected.to_numpy())
    assert out.values["young_share"].between(0, 1).all()
    assert out.periods == {"violence_rate": mps.period}
