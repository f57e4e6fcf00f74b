"""Tests for pli.harm: coverage of the real MPS and police.uk categories, validation, totals."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from pli.errors import InputError
from pli.harm import DEFAULT_HARM_WEIGHTS, harm_table, load_harm_weights

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"

# The 14 crime types police.uk publishes in its street-level files.
POLICE_UK_TYPES = (
    "Anti-social behaviour", "Bicycle theft", "Burglary", "Criminal damage and arson", "Drugs",
    "Other crime", "Other theft", "Possession of weapons", "Public order", "Robbery", "Shoplifting",
    "Theft from the person", "Vehicle crime", "Violence and sexual offences",
)


@pytest.fixture(scope="module")
def hw():
    return load_harm_weights()


def _shared(name: str) -> Path:
    path = DATA / name
    if not path.is_file():
        pytest.skip(f"real Croydon snapshot not found at {path}")
    return path


def test_every_real_mps_category_has_a_weight(hw):
    mps = pd.read_csv(_shared("croydon_mps_lsoa_crime_2024-02_2026-02.csv"), usecols=["major_category", "minor_category"])
    cats = (mps["major_category"] + "/" + mps["minor_category"]).unique()
    assert len(cats) == 28
    assert hw.scheme_for(cats) == "mps"
    w = hw.weight_for(cats, "mps")
    assert np.isfinite(w).all() and (w > 0).all()


def test_ward_table_categories_are_covered_too(hw):
    ward = pd.read_csv(_shared("croydon_mps_ward_crime_2024-03_2026-03.csv"), usecols=["MajorText", "MinorText"])
    cats = (ward["MajorText"] + "/" + ward["MinorText"]).unique()
    assert (hw.weight_for(cats, "mps") >= 0).all()


def test_all_police_uk_types_and_real_burglary_file(hw):
    assert set(hw.categories("police_uk")) == set(POLICE_UK_TYPES)
    assert hw.scheme_for(POLICE_UK_TYPES) == "police_uk"
    street = pd.read_csv(_shared("police_uk_burglary/2024-01-croydon-street.csv"))
    assert hw.weight_for(street["Crime type"].unique(), "police_uk").tolist() == [1.0]


def test_hand_computed_harm_total(hw):
    counts = pd.DataFrame(
        {"ROBBERY/ROBBERY OF PERSONAL PROPERTY": [2, 0], "THEFT/SHOPLIFTING": [10, 3],
         "VIOLENCE AGAINST THE PERSON/HOMICIDE": [0, 1]},
        index=pd.Index(["E01000001", "E01000002"], name="lsoa_code"),
    )
    robbery, shop, homicide = hw.weight_for(counts.columns, "mps")
    assert (robbery, shop, homicide) == (365.0, 1.0, 5475.0)
    out = harm_table(counts, hw, population=pd.Series([2000.0, 1000.0], index=counts.index))
    assert out["count"].tolist() == [12, 4]
    assert out["harm_days"].tolist() == [2 * 365 + 10, 3 + 5475]
    np.testing.assert_allclose(out["harm_rate"], [740 / 2, 5478.0])
    np.testing.assert_allclose(out["count_rate"], [6.0, 4.0])


def test_unknown_category_lists_known(hw):
    with pytest.raises(InputError, match="'Robery'.*Known police_uk categories: 'Anti-social behaviour'"):
        hw.weight_for(["Robbery", "Robery"], "police_uk")
    with pytest.raises(InputError, match="cannot tell the crime category scheme"):
        hw.scheme_for(["Robbery", "Jaywalking"])


def test_table_documents_every_number(hw):
    t = hw.to_frame()
    assert t["basis"].str.len().min() > 20
    assert t.loc[t["category"] == "Anti-social behaviour", "mixed"].item()  # nominal weight, flagged
    doc = (DEFAULT_HARM_WEIGHTS.parent / "HARM_WEIGHTS.md").read_text(encoding="utf-8")
    for cat in t["category"]:
        assert cat in doc, f"{cat} is not documented in HARM_WEIGHTS.md"


def test_invalid_table_names_file_and_rows(tmp_path):
    bad = tmp_path / "weights.csv"
    bad.write_text(
        "scheme,category,weight_days,basis,mixed\n"
        "police_uk,Robbery,365,ok,false\n"
        "police_uk,Robbery,300,dup,false\n"
        "met,Burglary,-1,neg,maybe\n",
        encoding="utf-8",
    )
    with pytest.raises(InputError) as err:
        load_harm_weights(bad)
    msg = str(err.value)
    assert str(bad) in msg
    assert "rows 2, 3: duplicate category 'Robbery'" in msg
    assert "row 4: scheme 'met'" in msg and "row 4: weight_days must be a non-negative" in msg
    assert "row 4: mixed must be true or false" in msg
    missing = tmp_path / "short.csv"
    missing.write_text("scheme,category\npolice_uk,Robbery\n", encoding="utf-8")
    with pytest.raises(InputError, match="missing column.*weight_days"):
        load_harm_weights(missing)


def test_replacement_table_without_proactive_column(tmp_path):
    alt = tmp_path / "alt.csv"
    alt.write_text("scheme,category,weight_days,basis,mixed\npolice_uk,Robbery,730,local policy,false\n", encoding="utf-8")
    hw = load_harm_weights(alt)
    assert hw.weight_for(["Robbery"], "police_uk").tolist() == [730.0]
    assert not hw.table["proactive"].any()
