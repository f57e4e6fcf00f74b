"""A second real area outside London: Calderdale (E08000033), from force-wide files.

The fixture (``tests/fixtures/calderdale``, rebuilt by ``scripts/build_test_area.py``)
holds real ONS 2011 LSOAs, Census 2011 population and one month of West Yorkshire
police.uk records for Calderdale *and* every LSOA of another authority within 1 km
of it, so the LAD filter has something to cut. The test runs ``pli init`` and then
``pli index`` on the config it wrote, and checks the result against the raw files.
"""

from __future__ import annotations

import csv
import json
from collections import Counter
from pathlib import Path

import pandas as pd
import pytest

from pli.cli import main

DATA = Path(__file__).resolve().parent / "fixtures" / "calderdale"
LAD = "E08000033"
STREET = DATA / "police_uk" / "2018-07" / "2018-07-west-yorkshire-street.csv"


def _rows(path: Path) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8-sig") as fh:
        return list(csv.DictReader(fh))


@pytest.fixture(scope="module")
def census() -> pd.DataFrame:
    """The Census 2011 rows, read independently of pli (the three 'Persons' columns by position)."""
    with open(DATA / "census_2011_population_hh.csv", newline="", encoding="utf-8") as fh:
        rows = list(csv.reader(fh))
    head = rows[0]
    frame = pd.DataFrame(rows[1:], columns=[f"{h}_{i}" for i, h in enumerate(head)])
    return pd.DataFrame({
        "lsoa": frame["LSOA Code_6"], "lad": frame["Local authority code_2"], "msoa": frame["MSOA Code_4"],
        "residents": frame["Persons_9"].str.replace(",", "").astype(int),
    }).set_index("lsoa")


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> dict[str, Path]:
    tmp = tmp_path_factory.mktemp("calderdale")
    config = tmp / "calderdale.yml"
    assert main(["init", "--lad", LAD, "--data-dir", str(DATA), "--out", str(config), "-q"]) == 0
    code = main(["index", "--config", str(config), "--data-dir", str(DATA), "--out", str(tmp / "out"),
                 "--maps", str(tmp / "maps"), "-q"])
    assert code == 0
    return {"config": config, "out": tmp / "out", "maps": tmp / "maps"}


def test_init_writes_a_commented_config_for_the_district(run):
    text = run["config"].read_text(encoding="utf-8")
    assert f"lad_codes: [{LAD}]" in text and 'name: "Calderdale"' in text
    assert "# NOT INCLUDED: no deprivation source" in text  # no IoD in the folder, and it says so
    assert "upper_from_table:" in text and '"MSOA Code"' in text  # no wards: 2011 MSOAs stand in


def test_rankings_hold_every_district_lsoa_and_no_other(run, census):
    ranked = pd.read_csv(run["out"] / "rankings.csv", dtype={"lsoa_code": str})
    district = set(census.index[census["lad"] == LAD])
    assert len(district) == 128
    assert set(ranked["lsoa_code"]) == district


def test_nine_neighbourhoods_inside_the_district(run, census):
    nb = pd.read_csv(run["out"] / "priority_neighbourhoods.csv")
    assert len(nb) == 9
    members = nb["lsoa_codes"].str.split(";").explode()
    assert members.is_unique
    assert (census.loc[members, "lad"] == LAD).all()
    population = members.groupby(level=0).agg(lambda codes: census.loc[list(codes), "residents"].sum())
    assert (population.to_numpy() == nb["population"].to_numpy()).all()


def test_upper_layer_is_the_district_msoas(run, census):
    wards = pd.read_csv(run["out"] / "wards.csv", dtype=str)
    code = "ward_code" if "ward_code" in wards.columns else wards.columns[0]
    assert set(wards[code]) == set(census.loc[census["lad"] == LAD, "msoa"])


def test_crime_counts_match_the_police_uk_records(run, census):
    inputs = pd.read_csv(run["out"] / "indicator_inputs.csv", dtype={"lsoa_code": str}).set_index("lsoa_code")
    records = [r for r in _rows(STREET) if r["LSOA code"] in inputs.index and r["Month"] == "2018-07"]
    by_type = Counter((r["LSOA code"], r["Crime type"]) for r in records)

    def counted(*types: str) -> pd.Series:
        return pd.Series({code: sum(by_type[(code, t)] for t in types) for code in inputs.index})

    assert len(records) > 2000
    pd.testing.assert_series_equal(inputs["violence_rate_numerator"], counted("Violence and sexual offences"),
                                   check_names=False, check_dtype=False)
    pd.testing.assert_series_equal(inputs["weapons_drugs_rate_numerator"],
                                   counted("Possession of weapons", "Drugs"), check_names=False, check_dtype=False)
    pd.testing.assert_series_equal(inputs["asb_rate_numerator"], counted("Anti-social behaviour"),
                                   check_names=False, check_dtype=False)
    residents = census.loc[inputs.index, "residents"].clip(lower=1000)
    assert (inputs["violence_rate_denominator"] == residents).all()


def test_manifest_counts_what_other_authorities_lost(run, census):
    manifest = json.loads((run["out"] / "manifest.json").read_text(encoding="utf-8"))
    sel = manifest["area_selection"]
    features = json.loads((DATA / "lsoa11_bsc.geojson").read_text(encoding="utf-8"))["features"]
    assert sel["lad_codes"] == [LAD] and sel["lsoas_kept"] == 128
    assert sel["lsoas_excluded"] == len(features) - 128 == 75
    others = census.index[census["lad"] != LAD]
    assert sum(sel["lsoas_excluded_by_authority"].values()) == 75
    assert sel["lsoas_excluded_by_authority"]["E08000032"] == sum(census.loc[others, "lad"] == "E08000032")
    street = [r for r in _rows(STREET) if r["LSOA code"] in set(others)]
    crimes = [r for r in street if r["Crime type"] != "Anti-social behaviour"]
    cut = sel["sources_excluded"]["crime"]
    assert cut["lsoas"] == len({r["LSOA code"] for r in street})
    assert cut["records"] == len(crimes) and cut["points"] == sum(1 for r in street if r["Longitude"])
    assert sel["sources_excluded"]["population"]["lsoas"] == 75
    assert manifest["area_type"] == "district"
    assert any("no deprivation" in note for note in manifest["data_notes"])
    assert manifest["simulated_note"] is None


def test_maps_speak_of_the_district(run):
    page = (run["maps"] / "priority_localities.html").read_text(encoding="utf-8")
    assert "0 = district average" in page
    assert "borough" not in page.lower() and "croydon" not in page.lower()
    assert "no deprivation indicator" in (run["maps"] / "index.html").read_text(encoding="utf-8")
