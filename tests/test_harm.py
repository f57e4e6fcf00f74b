"""Tests for pli.harm: the sentence conversion, the shipped table's traceability, coverage of
the real MPS and police.uk categories, validation, totals."""

from __future__ import annotations

import csv
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from pli.errors import InputError
from pli.harm import (
    DEFAULT_HARM_WEIGHTS,
    NON_CUSTODIAL_DAYS,
    SENTENCE_TYPES,
    harm_table,
    load_harm_weights,
    sentence_days,
)

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
DOC = DEFAULT_HARM_WEIGHTS.parent / "HARM_WEIGHTS.md"
UNCERTAIN_HEADING = "## Uncertain values — check against the current CCHI spreadsheet and guidelines"

# The 14 crime types police.uk publishes in its street-level files.
POLICE_UK_TYPES = (
    "Anti-social behaviour", "Bicycle theft", "Burglary", "Criminal damage and arson", "Drugs",
    "Other crime", "Other theft", "Possession of weapons", "Public order", "Robbery", "Shoplifting",
    "Theft from the person", "Vehicle crime", "Violence and sexual offences",
)


@pytest.fixture(scope="module")
def hw():
    return load_harm_weights()


@pytest.fixture(scope="module")
def shipped_rows() -> list[list[str]]:
    with open(DEFAULT_HARM_WEIGHTS, newline="", encoding="utf-8") as fh:
        return list(csv.reader(fh))


def _shared(name: str) -> Path:
    path = DATA / name
    if not path.is_file():
        pytest.skip(f"real Croydon snapshot not found at {path}")
    return path


def _write(path: Path, rows: list[list[str]]) -> Path:
    with open(path, "w", newline="", encoding="utf-8") as fh:
        csv.writer(fh, lineterminator="\n").writerows(rows)
    return path


def _file_row(rows: list[list[str]], scheme: str, category: str) -> int:
    """1-based file line of a category (the header is line 1)."""
    return next(i for i, r in enumerate(rows, start=1) if r[:2] == [scheme, category])


# --------------------------------------------------------------------------- the conversion


def test_conversion_table_matches_hand_computation():
    # Fines: share of a week's income x 5 working days. Community orders: midpoint of the
    # unpaid-work hours / 7.5 h a day, to 0.1 day.
    hand = {
        "fine_band_a": 0.5 * 5,                          # 2.5
        "fine_band_b": 1.0 * 5,                          # 5.0
        "fine_band_c": 1.5 * 5,                          # 7.5
        "community_order_low": round((40 + 80) / 2 / 7.5, 1),      # 60 h -> 8.0
        "community_order_medium": round((80 + 150) / 2 / 7.5, 1),  # 115 h -> 15.3
        "community_order_high": round((150 + 300) / 2 / 7.5, 1),   # 225 h -> 30.0
        "nominal": 1.0,
    }
    assert dict(NON_CUSTODIAL_DAYS) == hand
    assert (hand["fine_band_b"], hand["community_order_medium"], hand["community_order_high"]) == (5.0, 15.3, 30.0)
    assert set(SENTENCE_TYPES) == {"custody", *hand}
    # Each step up the ladder weighs more, and ASB's nominal weight sits below every crime type.
    ladder = ["nominal", "fine_band_a", "fine_band_b", "fine_band_c", "community_order_low",
              "community_order_medium", "community_order_high"]
    assert np.all(np.diff([NON_CUSTODIAL_DAYS[k] for k in ladder]) > 0)
    with pytest.raises(TypeError):
        NON_CUSTODIAL_DAYS["fine_band_a"] = 1.0  # a module constant, not a knob to turn at runtime


def test_sentence_days_custody_and_errors():
    assert sentence_days("custody", custody_days=365) == 365.0
    assert sentence_days("community_order_low") == 8.0
    with pytest.raises(InputError, match="'custody' needs custody_days"):
        sentence_days("custody")
    with pytest.raises(InputError, match="custody_days is only for sentence_type 'custody'"):
        sentence_days("fine_band_a", custody_days=10)
    with pytest.raises(InputError, match="sentence_type must be one of custody, fine_band_a"):
        sentence_days("suspended")


# --------------------------------------------------------------------------- the shipped table


def test_every_shipped_row_equals_its_conversion(shipped_rows):
    header, body = shipped_rows[0], shipped_rows[1:]
    assert header[:6] == ["scheme", "category", "weight_days", "basis", "mixed", "proactive"]
    t = pd.DataFrame(body, columns=header)
    assert {"starting_point", "sentence_type", "custody_days", "guideline"} <= set(t.columns)
    for col in ("starting_point", "sentence_type", "guideline", "basis"):
        assert t[col].str.strip().ne("").all(), f"some shipped rows leave {col} empty"
    assert t["sentence_type"].isin(SENTENCE_TYPES).all()
    custody = t["sentence_type"].eq("custody")
    assert t.loc[custody, "custody_days"].ne("").all() and t.loc[~custody, "custody_days"].eq("").all()
    expected = np.where(
        custody,
        pd.to_numeric(t["custody_days"].where(custody, "0")),
        t["sentence_type"].map(lambda s: NON_CUSTODIAL_DAYS.get(s, np.nan)),
    )
    np.testing.assert_allclose(t["weight_days"].astype(float), expected, atol=1e-9)
    # The loaded table carries the same traceability columns.
    loaded = load_harm_weights().to_frame()
    assert loaded["sentence_type"].tolist() == t["sentence_type"].tolist()
    in_custody = loaded.loc[custody.to_numpy()]
    assert in_custody["custody_days"].tolist() == in_custody["weight_days"].tolist()


def test_cchi_anchors_and_harm_ordering(hw):
    mps = dict(zip(hw.categories("mps"), hw.weight_for(hw.categories("mps"), "mps")))
    pol = dict(zip(hw.categories("police_uk"), hw.weight_for(hw.categories("police_uk"), "police_uk")))
    homicide = mps["VIOLENCE AGAINST THE PERSON/HOMICIDE"]
    rape = mps["SEXUAL OFFENCES/RAPE"]
    robbery = mps["ROBBERY/ROBBERY OF PERSONAL PROPERTY"]
    burglary_home = mps["BURGLARY/RES BURGLARY OF A HOME"]
    common_assault = mps["VIOLENCE AGAINST THE PERSON/VIOLENCE WITHOUT INJURY"]
    asb = pol["Anti-social behaviour"]
    # Anchors reported by Sherman et al. (2016): murder 15 years, rape 5 years, robbery 1 year.
    assert (homicide, rape, robbery) == (15 * 365, 5 * 365, 365)
    assert homicide > rape > robbery > burglary_home > common_assault > asb
    assert pol["Robbery"] > pol["Burglary"] > pol["Violence and sexual offences"] > asb
    # ASB's nominal weight is below every crime, in both schemes.
    crimes = [w for c, w in pol.items() if c != "Anti-social behaviour"] + list(mps.values())
    assert asb < min(crimes)
    # Volume offences no longer collapse to a flat 1 day.
    assert mps["VIOLENCE AGAINST THE PERSON/VIOLENCE WITH INJURY"] > common_assault > asb
    assert len(set(mps.values())) >= 8


def test_proactive_flags_and_documented_exclusion(hw, shipped_rows, tmp_path):
    t = hw.to_frame()
    proactive = set(t.loc[t["proactive"], "category"])
    assert proactive == {
        "Drugs", "Possession of weapons", "DRUG OFFENCES/POSSESSION OF DRUGS",
        "DRUG OFFENCES/TRAFFICKING OF DRUGS", "POSSESSION OF WEAPONS/POSSESSION OF WEAPONS",
    }
    header = shipped_rows[0]
    st, cd = header.index("sentence_type"), header.index("custody_days")
    proactive_col = header.index("proactive")
    # The recipe HARM_WEIGHTS.md gives: weight 0 and an empty sentence_type on proactive rows.
    rows = [list(r) for r in shipped_rows]
    for r in rows[1:]:
        if r[proactive_col] == "true":
            r[2], r[st], r[cd] = "0", "", ""
    excluded = load_harm_weights(_write(tmp_path / "no_proactive.csv", rows))
    assert excluded.weight_for(["Drugs", "Possession of weapons"], "police_uk").tolist() == [0.0, 0.0]
    assert excluded.weight_for(["Robbery"], "police_uk").tolist() == [365.0]
    # Keeping the sentence_type while zeroing the weight is the drift the loader stops.
    rows = [list(r) for r in shipped_rows]
    for r in rows[1:]:
        if r[:2] == ["police_uk", "Drugs"]:
            r[2] = "0"
    with pytest.raises(InputError, match=r"'Drugs'\): weight_days 0 does not match sentence_type fine_band_b = 5 days"):
        load_harm_weights(_write(tmp_path / "drift.csv", rows))


def test_table_documents_every_number(hw):
    t = hw.to_frame()
    assert t["basis"].str.len().min() > 20
    assert t.loc[t["category"] == "Anti-social behaviour", "mixed"].item()  # nominal weight, flagged
    doc = DOC.read_text(encoding="utf-8")
    assert UNCERTAIN_HEADING in doc
    for key, days in NON_CUSTODIAL_DAYS.items():
        assert re.search(rf"`{key}` \|.*\| {days:.1f} \|", doc), f"conversion row for {key} missing from the doc"
    for cat, w in zip(t["category"], t["weight_days"]):
        assert re.search(rf"\| {re.escape(cat)} \| {w:g} \|", doc), f"{cat} ({w:g} days) is not in HARM_WEIGHTS.md"
    # Every row whose basis says it is uncertain is named in the uncertainty section.
    uncertain_text = doc.split(UNCERTAIN_HEADING, 1)[1].split("\n## ", 1)[0].lower()
    flagged = t.loc[t["basis"].str.contains("uncertain", case=False), "category"]
    assert len(flagged) >= 10
    missing = [c for c in flagged if c.split("/")[-1].lower() not in uncertain_text]
    assert not missing, f"uncertain rows not listed in the uncertainty section: {missing}"


# --------------------------------------------------------------------------- validation


def test_weight_disagreeing_with_sentence_type_is_rejected_naming_rows(shipped_rows, tmp_path):
    header = shipped_rows[0]
    st, cd = header.index("sentence_type"), header.index("custody_days")
    rows = [list(r) for r in shipped_rows]
    edits = {
        ("police_uk", "Burglary"): lambda r: r.__setitem__(2, "1"),  # the old flat weight
        ("police_uk", "Robbery"): lambda r: r.__setitem__(2, "300"),  # custody_days says 365
        ("mps", "THEFT/SHOPLIFTING"): lambda r: r.__setitem__(st, "fine_band_z"),
        ("mps", "SEXUAL OFFENCES/RAPE"): lambda r: r.__setitem__(cd, ""),
        ("mps", "THEFT/OTHER THEFT"): lambda r: r.__setitem__(cd, "30"),
    }
    for r in rows[1:]:
        if tuple(r[:2]) in edits:
            edits[tuple(r[:2])](r)
    bad = _write(tmp_path / "drifted.csv", rows)
    with pytest.raises(InputError) as err:
        load_harm_weights(bad)
    msg = str(err.value)
    assert str(bad) in msg and len(err.value.problems) == len(edits) + 1  # plus the "fix these rows" line
    line = {k: _file_row(rows, *k) for k in edits}
    assert (f"row {line['police_uk', 'Burglary']} ('Burglary'): weight_days 1 does not match sentence_type "
            "community_order_high = 30 days") in msg
    assert "set weight_days to 30" in msg
    assert (f"row {line['police_uk', 'Robbery']} ('Robbery'): weight_days 300 does not match sentence_type "
            "custody = 365 days (custody_days)") in msg
    assert f"row {line['mps', 'THEFT/SHOPLIFTING']}: sentence_type 'fine_band_z' is not one of custody" in msg
    rape, other = line["mps", "SEXUAL OFFENCES/RAPE"], line["mps", "THEFT/OTHER THEFT"]
    assert f"row {rape} ('SEXUAL OFFENCES/RAPE'): sentence_type custody needs custody_days" in msg
    assert f"row {other} ('THEFT/OTHER THEFT'): custody_days is only for sentence_type custody" in msg


def test_rounding_within_tolerance_is_accepted(tmp_path):
    ok = _write(tmp_path / "ok.csv", [
        ["scheme", "category", "weight_days", "sentence_type", "custody_days"],
        ["mps", "VIOLENCE AGAINST THE PERSON/VIOLENCE WITH INJURY", "15.33", "community_order_medium", ""],
        ["police_uk", "Robbery", "365", "custody", "365"],
        ["police_uk", "Shoplifting", "3", "", ""],  # no sentence_type: used as given
    ])
    hw = load_harm_weights(ok)
    assert hw.weight_for(["Robbery", "Shoplifting"], "police_uk").tolist() == [365.0, 3.0]
    assert hw.to_frame()["sentence_type"].tolist() == ["community_order_medium", "custody", ""]


def test_minimal_user_table_loads(tmp_path):
    alt = _write(tmp_path / "alt.csv", [["scheme", "category", "weight_days"],
                                        ["police_uk", "Robbery", "730"], ["mps", "THEFT/SHOPLIFTING", "2"]])
    hw = load_harm_weights(alt)
    assert hw.weight_for(["Robbery"], "police_uk").tolist() == [730.0]
    assert hw.weight_for(["THEFT/SHOPLIFTING"], "mps").tolist() == [2.0]
    t = hw.to_frame()
    assert not t["mixed"].any() and not t["proactive"].any()
    assert t["basis"].eq("").all() and t["sentence_type"].eq("").all() and t["custody_days"].isna().all()


def test_replacement_table_without_proactive_column(tmp_path):
    alt = tmp_path / "alt.csv"
    alt.write_text("scheme,category,weight_days,basis,mixed\npolice_uk,Robbery,730,local policy,false\n", encoding="utf-8")
    hw = load_harm_weights(alt)
    assert hw.weight_for(["Robbery"], "police_uk").tolist() == [730.0]
    assert not hw.table["proactive"].any()


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


def test_negative_weight_is_reported_once(shipped_rows, tmp_path):
    # A bad number is one problem, not also a conversion mismatch.
    rows = [list(r) for r in shipped_rows]
    for r in rows[1:]:
        if r[:2] == ["police_uk", "Robbery"]:
            r[2] = "-365"
    with pytest.raises(InputError) as err:
        load_harm_weights(_write(tmp_path / "neg.csv", rows))
    row = _file_row(rows, "police_uk", "Robbery")
    assert err.value.problems[0] == f"row {row}: weight_days must be a non-negative number of days, got '-365'"
    assert len(err.value.problems) == 2


# --------------------------------------------------------------------------- coverage and totals


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
    assert (hw.weight_for(cats, "mps") > 0).all()
    assert len(hw.categories("mps")) == 32


def test_all_police_uk_types_and_real_burglary_file(hw):
    assert set(hw.categories("police_uk")) == set(POLICE_UK_TYPES)
    assert hw.scheme_for(POLICE_UK_TYPES) == "police_uk"
    assert (hw.weight_for(POLICE_UK_TYPES, "police_uk") > 0).all()
    street = pd.read_csv(_shared("police_uk_burglary/2024-01-croydon-street.csv"))
    types = street["Crime type"].unique()
    assert types.tolist() == ["Burglary"]
    row = hw.to_frame().set_index(["scheme", "category"]).loc[("police_uk", "Burglary")]
    assert hw.weight_for(types, "police_uk").tolist() == [sentence_days(row["sentence_type"])]


def test_hand_computed_harm_total(hw):
    counts = pd.DataFrame(
        {"ROBBERY/ROBBERY OF PERSONAL PROPERTY": [2, 0], "THEFT/SHOPLIFTING": [10, 3],
         "VIOLENCE AGAINST THE PERSON/HOMICIDE": [0, 1]},
        index=pd.Index(["E01000001", "E01000002"], name="lsoa_code"),
    )
    robbery, shop, homicide = hw.weight_for(counts.columns, "mps")
    assert (robbery, shop, homicide) == (365.0, 5.0, 5475.0)  # 1 year, Band B fine, 15 years
    out = harm_table(counts, hw, population=pd.Series([2000.0, 1000.0], index=counts.index))
    assert out["count"].tolist() == [12, 4]
    assert out["harm_days"].tolist() == [2 * 365 + 10 * 5, 3 * 5 + 5475]
    np.testing.assert_allclose(out["harm_rate"], [780 / 2, 5490.0])
    np.testing.assert_allclose(out["count_rate"], [6.0, 4.0])


def test_unknown_category_lists_known(hw):
    with pytest.raises(InputError, match="'Robery'.*Known police_uk categories: 'Anti-social behaviour'"):
        hw.weight_for(["Robbery", "Robery"], "police_uk")
    with pytest.raises(InputError, match="cannot tell the crime category scheme"):
        hw.scheme_for(["Robbery", "Jaywalking"])
