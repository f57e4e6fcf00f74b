"""Tests for pli.harm: the CCHI 2026 table against its reference, the counts and legacy
schemes, the config key choosing them, the sentence conversion and the legacy table's
traceability, coverage of the real MPS and police.uk categories, validation, totals."""

from __future__ import annotations

import csv
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from pli.config import ConfigError, IndicatorSpec, load_config, parse_config
from pli.errors import InputError
from pli.harm import (
    DEFAULT_HARM_WEIGHTS,
    NON_CUSTODIAL_DAYS,
    SENTENCE_TYPES,
    WEIGHT_SCHEMES,
    harm_table,
    load_harm_weights,
    sentence_days,
    weight_scheme_path,
)
from pli.indicators.table import _harm_exclusions

from conftest import SHARED_DATA as DATA

DOC = DEFAULT_HARM_WEIGHTS.parent / "HARM_WEIGHTS.md"
# The sentencing-guideline table pli shipped before the CCHI 2026 figures; kept as the
# named scheme "sentencing_legacy", and the conversion tests below now run against it.
LEGACY = WEIGHT_SCHEMES["sentencing_legacy"]
LEGACY_DOC = DEFAULT_HARM_WEIGHTS.parent / "HARM_WEIGHTS_LEGACY.md"
REFERENCE = DATA / "reference" / "cchi2026_subgroup_medians.csv"
MET_LSOA = "croydon_mps_lsoa_crime_2024-02_2026-02.csv"
PROACTIVE = {
    "Drugs", "Possession of weapons", "DRUG OFFENCES/POSSESSION OF DRUGS",
    "DRUG OFFENCES/TRAFFICKING OF DRUGS", "POSSESSION OF WEAPONS/POSSESSION OF WEAPONS",
}
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
def legacy():
    return load_harm_weights(LEGACY)


@pytest.fixture(scope="module")
def shipped_rows() -> list[list[str]]:
    """The legacy table's rows: the one shipped table that fills sentence_type throughout."""
    with open(LEGACY, newline="", encoding="utf-8") as fh:
        return list(csv.reader(fh))


@pytest.fixture(scope="module")
def reference() -> pd.DataFrame:
    if not REFERENCE.is_file():
        pytest.skip(f"CCHI 2026 reference not found at {REFERENCE} (needs the shared snapshot beside the repo)")
    return pd.read_csv(REFERENCE)


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
    loaded = load_harm_weights(LEGACY).to_frame()
    assert loaded["sentence_type"].tolist() == t["sentence_type"].tolist()
    in_custody = loaded.loc[custody.to_numpy()]
    assert in_custody["custody_days"].tolist() == in_custody["weight_days"].tolist()


def test_legacy_cchi_anchors_and_harm_ordering(legacy):
    hw = legacy
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


def test_legacy_proactive_flags_and_documented_exclusion(legacy, shipped_rows, tmp_path):
    t = legacy.to_frame()
    proactive = set(t.loc[t["proactive"], "category"])
    assert proactive == PROACTIVE
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


def test_legacy_table_documents_every_number(legacy):
    t = legacy.to_frame()
    assert t["basis"].str.len().min() > 20
    assert t.loc[t["category"] == "Anti-social behaviour", "mixed"].item()  # nominal weight, flagged
    doc = LEGACY_DOC.read_text(encoding="utf-8")
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
    alt.write_text(
        "scheme,category,weight_days,basis,mixed\npolice_uk,Robbery,730,local policy,false\n", encoding="utf-8"
    )
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
    mps = pd.read_csv(
        _shared("croydon_mps_lsoa_crime_2024-02_2026-02.csv"), usecols=["major_category", "minor_category"]
    )
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


def test_all_police_uk_types_and_real_burglary_file(hw, legacy):
    assert set(hw.categories("police_uk")) == set(POLICE_UK_TYPES)
    assert hw.scheme_for(POLICE_UK_TYPES) == "police_uk"
    assert (hw.weight_for(POLICE_UK_TYPES, "police_uk") > 0).all()
    street = pd.read_csv(_shared("police_uk_burglary/2024-01-croydon-street.csv"))
    types = street["Crime type"].unique()
    assert types.tolist() == ["Burglary"]
    # CCHI 2026: residential 273.5 and non-residential 183.5 days, weighted by the 2024/25
    # national counts 166,316 and 78,332 (was 30 days, the legacy domestic-burglary reading).
    assert hw.weight_for(types, "police_uk").tolist() == [244.68]
    assert (273.5 * 166316 + 183.5 * 78332) / (166316 + 78332) == pytest.approx(244.68, abs=0.005)
    row = legacy.to_frame().set_index(["scheme", "category"]).loc[("police_uk", "Burglary")]
    assert legacy.weight_for(types, "police_uk").tolist() == [sentence_days(row["sentence_type"])]


def test_hand_computed_harm_total(hw):
    counts = pd.DataFrame(
        {
            "ROBBERY/ROBBERY OF PERSONAL PROPERTY": [2, 0],
            "THEFT/SHOPLIFTING": [10, 3],
            "VIOLENCE AGAINST THE PERSON/HOMICIDE": [0, 1],
        },
        index=pd.Index(["E01000001", "E01000002"], name="lsoa_code"),
    )
    robbery, shop, homicide = hw.weight_for(counts.columns, "mps")
    # CCHI 2026 subgroup medians (shoplifting was 5 days, a Band B fine, in the legacy table).
    assert (robbery, shop, homicide) == (365.0, 1.0, 5475.0)
    out = harm_table(counts, hw, population=pd.Series([2000.0, 1000.0], index=counts.index))
    assert out["count"].tolist() == [12, 4]
    assert out["harm_days"].tolist() == [2 * 365 + 10 * 1, 3 * 1 + 5475]
    np.testing.assert_allclose(out["harm_rate"], [740 / 2, 5478.0])
    np.testing.assert_allclose(out["count_rate"], [6.0, 4.0])


def test_unknown_category_lists_known(hw):
    with pytest.raises(InputError, match="'Robery'.*Known police_uk categories: 'Anti-social behaviour'"):
        hw.weight_for(["Robbery", "Robery"], "police_uk")
    with pytest.raises(InputError, match="cannot tell the crime category scheme"):
        hw.scheme_for(["Robbery", "Jaywalking"])


# --------------------------------------------------------------------------- CCHI 2026 (the default)

ASB = "Anti-social behaviour"
# Rows flagged mixed, as HARM_WEIGHTS.md defines it: the weight pools Home Office subgroups
# of different CCHI value, or the subgroup's mean over offence codes is over twice its
# median, or (ASB, fraud) there is no CCHI figure at all.
MIXED = {
    ASB,
    "Burglary",
    "Criminal damage and arson",
    "Drugs",
    "Other crime",
    "Other theft",
    "Public order",
    "Violence and sexual offences",
    "ARSON AND CRIMINAL DAMAGE/CRIMINAL DAMAGE",
    "DRUG OFFENCES/POSSESSION OF DRUGS",
    "DRUG OFFENCES/TRAFFICKING OF DRUGS",
    "FRAUD AND FORGERY/FRAUD AND FORGERY",
    "MISCELLANEOUS CRIMES AGAINST SOCIETY/MISC CRIMES AGAINST SOCIETY",
    "PUBLIC ORDER OFFENCES/OTHER OFFENCES PUBLIC ORDER",
    "PUBLIC ORDER OFFENCES/PUBLIC FEAR ALARM OR DISTRESS",
    "PUBLIC ORDER OFFENCES/RACE OR RELIGIOUS AGG PUBLIC FEAR",
    "PUBLIC ORDER OFFENCES/VIOLENT DISORDER",
    "SEXUAL OFFENCES/OTHER SEXUAL OFFENCES",
    "THEFT/OTHER THEFT",
    "VIOLENCE AGAINST THE PERSON/STALKING AND HARASSMENT",
    "VIOLENCE AGAINST THE PERSON/VIOLENCE WITH INJURY",
    "VIOLENCE AGAINST THE PERSON/VIOLENCE WITHOUT INJURY",
}


def _scheme(hw, scheme: str) -> pd.DataFrame:
    t = hw.to_frame()
    return t[t["scheme"] == scheme].set_index("category")


def test_default_table_is_the_cchi2026_scheme(hw):
    assert WEIGHT_SCHEMES["cchi2026"] == DEFAULT_HARM_WEIGHTS
    assert set(WEIGHT_SCHEMES) == {"cchi2026", "counts", "sentencing_legacy"}
    assert all(p.is_file() for p in WEIGHT_SCHEMES.values())
    t = hw.to_frame()
    assert t["source"].str.contains("isthisben/cbl-realcrime@5591939").sum() == len(t) - 2  # not ASB, fraud
    assert t["basis"].str.len().min() > 40 and t["subgroup"].str.strip().ne("").all()


def test_met_categories_equal_their_subgroup_median(hw, reference):
    mps = _scheme(hw, "mps")
    days = reference.set_index("prc_subgroup")["cchi_days"]
    mapped = mps[mps["subgroup"].isin(days.index)]
    # One subgroup per Met minor category; fraud is the one category the reference lacks.
    assert set(mps.index) - set(mapped.index) == {"FRAUD AND FORGERY/FRAUD AND FORGERY"}
    np.testing.assert_array_equal(mapped["weight_days"].to_numpy(), days.loc[mapped["subgroup"]].to_numpy())
    assert set(days.index) == set(mapped["subgroup"])  # every subgroup reaches some Met category
    # The audit's examples (issue 12): legacy 15.3 / 30 / 30 / 15.3 / 5 days.
    assert mps.loc["VIOLENCE AGAINST THE PERSON/VIOLENCE WITH INJURY", "weight_days"] == 365
    assert mps.loc["BURGLARY/RES BURGLARY OF A HOME", "weight_days"] == 273.5
    assert mps.loc["POSSESSION OF WEAPONS/POSSESSION OF WEAPONS", "weight_days"] == 273.75
    assert mps.loc["ARSON AND CRIMINAL DAMAGE/ARSON", "weight_days"] == 185
    assert mps.loc["THEFT/SHOPLIFTING", "weight_days"] == 1
    # Every category of the real Met LSOA table is covered by a reference subgroup.
    lsoa = DATA / MET_LSOA
    if lsoa.is_file():
        met = pd.read_csv(lsoa, usecols=["major_category", "minor_category"])
        cats = set(met["major_category"] + "/" + met["minor_category"])
        assert len(cats) == 28 and cats <= set(mapped.index)


def test_police_uk_types_equal_the_volume_weighted_mean(hw, reference):
    pol = _scheme(hw, "police_uk")
    assert set(pol.index) == set(reference["category"]) | {ASB}
    for cat, grp in reference.groupby("category"):
        n = grp["national_count_2024_25"]
        expected = (grp["cchi_days"] * n).sum() / n.sum()
        assert pol.loc[cat, "weight_days"] == pytest.approx(expected, abs=0.005), cat
        assert pol.loc[cat, "subgroup"].split("; ") == grp["prc_subgroup"].tolist(), cat
    # By hand, from the reference rows: (273.5 x 166,316 + 183.5 x 78,332) / 244,648.
    assert pol.loc["Burglary", "weight_days"] == 244.68
    assert pol.loc["Violence and sexual offences", "weight_days"] == 194.21
    assert pol.loc["Criminal damage and arson", "weight_days"] == 11.18


def test_proactive_mixed_and_asb_flags_as_documented(hw):
    t = hw.to_frame()
    assert set(t.loc[t["proactive"], "category"]) == PROACTIVE
    assert set(t.loc[t["mixed"], "category"]) == MIXED
    asb = t.set_index("category").loc[ASB]
    assert (asb["weight_days"], asb["sentence_type"], asb["proactive"]) == (1.0, "nominal", False)
    crimes = t.loc[t["category"] != ASB, "weight_days"]
    assert asb["weight_days"] <= crimes.min()  # the floor: no crime weighs less than an ASB incident
    assert t.loc[t["category"] != ASB, "sentence_type"].eq("").all()


def test_harm_wildcard_leaves_out_proactive_and_asb_unless_named(hw):
    spec = IndicatorSpec(name="h", source="crime", columns=("*",), harm=True)
    cols = list(POLICE_UK_TYPES)
    assert set(_harm_exclusions(spec, cols, hw, "police_uk")) == {ASB, "Drugs", "Possession of weapons"}
    mps_cols = list(hw.categories("mps"))
    assert set(_harm_exclusions(spec, mps_cols, hw, "mps")) == PROACTIVE - {"Drugs", "Possession of weapons"}
    # A config opts ASB in by naming it; it then counts at its 1-day floor.
    opt_in = IndicatorSpec(name="h", source="crime", columns=("*", ASB), harm=True)
    assert set(_harm_exclusions(opt_in, cols, hw, "police_uk")) == {"Drugs", "Possession of weapons"}
    assert hw.weight_for([ASB, "Robbery"], "police_uk").tolist() == [1.0, 365.0]


def test_counts_scheme_weighs_every_offence_one(hw):
    counts = load_harm_weights(weight_scheme_path("counts"))
    a, b = counts.to_frame(), hw.to_frame()
    same = ["scheme", "category", "subgroup", "mixed", "proactive", "sentence_type"]
    pd.testing.assert_frame_equal(a[same], b[same])
    assert a["weight_days"].eq(1.0).all()
    frame = pd.DataFrame({"ROBBERY/ROBBERY OF PERSONAL PROPERTY": [2, 0], "THEFT/SHOPLIFTING": [10, 3]})
    out = harm_table(frame, counts)
    assert out["harm_days"].tolist() == out["count"].tolist() == [12, 3]


def test_unknown_weight_scheme_lists_choices():
    with pytest.raises(InputError, match="'css' is unknown; choose one of cchi2026, counts, sentencing_legacy"):
        weight_scheme_path("css")


def _demo_raw() -> dict:
    import yaml

    return yaml.safe_load((DEFAULT_HARM_WEIGHTS.parents[1] / "configs" / "croydon-demo.yml").read_text())


def test_config_harm_scheme_selects_a_shipped_table(tmp_path):
    root = DEFAULT_HARM_WEIGHTS.parents[1]
    raw = _demo_raw()
    raw["index"].pop("harm_scheme", None)
    assert parse_config(raw, data_dir=root).index.harm_weights is None  # the pipeline's default: cchi2026
    for name, path in WEIGHT_SCHEMES.items():
        raw["index"]["harm_scheme"] = name
        cfg = parse_config(raw, data_dir=root)
        assert cfg.resolve(cfg.index.harm_weights) == path and cfg.raw["index"]["harm_scheme"] == name
    raw["index"]["harm_scheme"] = "ons_css"
    with pytest.raises(ConfigError) as err:
        parse_config(raw, data_dir=root)
    assert (
        "index.harm_scheme: unknown scheme 'ons_css'; choose one of cchi2026, counts, sentencing_legacy, "
        "or set index.harm_weights to a CSV with the same columns"
    ) in str(err.value)
    real = load_config(root / "configs" / "croydon-open-data.yml", data_dir=tmp_path)
    assert real.index.harm_scheme == "cchi2026" and Path(real.index.harm_weights) == DEFAULT_HARM_WEIGHTS
    raw["index"].update(harm_scheme="counts", harm_weights="my_weights.csv")
    with pytest.raises(ConfigError, match="give harm_scheme .'counts'. or harm_weights .'my_weights.csv'., not both"):
        parse_config(raw, data_dir=root)


def test_a_table_with_the_same_columns_drops_in_by_path(tmp_path):
    # How a Crime Severity Score table would arrive: the cchi2026 columns, other weights.
    rows = list(csv.reader(DEFAULT_HARM_WEIGHTS.open(encoding="utf-8", newline="")))
    for r in rows[1:]:
        r[2] = "2" if r[1] != ASB else "1"
    _write(tmp_path / "css.csv", rows)
    raw = _demo_raw()
    raw["index"].pop("harm_scheme", None)
    raw["index"]["harm_weights"] = "css.csv"
    cfg = parse_config(raw, data_dir=tmp_path)
    css = load_harm_weights(cfg.resolve(cfg.index.harm_weights))
    assert css.weight_for(["Robbery", ASB], "police_uk").tolist() == [2.0, 1.0]
    assert set(css.to_frame().query("proactive")["category"]) == PROACTIVE


def test_doc_states_every_number_and_credits_the_sources(hw):
    doc = DOC.read_text(encoding="utf-8")
    for cat, w in zip(hw.to_frame()["category"], hw.to_frame()["weight_days"]):
        assert re.search(rf"\| {re.escape(cat)} \| {w:g} \|", doc), f"{cat} ({w:g} days) is not in HARM_WEIGHTS.md"
    for credit in (
        "Sherman",
        "Neyroud",
        "Cambridge Centre for Evidence-Based Policing",
        "CCHI 2026 values sheet",
        "isthisben/cbl-realcrime",
        "5591939d942691fec9e9da6349fa7afbde726b7f",
        "2024/25",
    ):
        assert credit in doc, credit


def test_doc_croydon_harm_mix_matches_a_recomputation():
    """The before/after shares HARM_WEIGHTS.md quotes, recomputed from the real Met table."""
    met = pd.read_csv(_shared(MET_LSOA))
    months = sorted(c for c in met.columns if c.isdigit())[-12:]  # the index window, 2025-03 to 2026-02
    assert (months[0], months[-1]) == ("202503", "202602")
    totals = met[months].sum(axis=1).groupby(met["major_category"] + "/" + met["minor_category"]).sum()
    doc = DOC.read_text(encoding="utf-8")
    shares = {}
    for name in ("sentencing_legacy", "cchi2026"):
        t = _scheme(load_harm_weights(WEIGHT_SCHEMES[name]), "mps")
        keep = [c for c in totals.index if not t.loc[c, "proactive"]]
        harm = totals[keep] * t.loc[keep, "weight_days"]
        by_major = harm.groupby(harm.index.str.split("/").str[0]).sum()
        shares[name] = by_major / by_major.sum() * 100
    for major in shares["cchi2026"].index:
        before, after = shares["sentencing_legacy"][major], shares["cchi2026"][major]
        row = f"| {major} | {before:.1f} | {after:.1f} |"
        assert row in doc, f"HARM_WEIGHTS.md should quote {row}"
    assert shares["sentencing_legacy"]["ROBBERY"] > 60 > shares["cchi2026"]["ROBBERY"]


def test_pipeline_uses_the_scheme_the_config_names(tmp_path):
    """index.harm_scheme reaches the run: counts makes crime harm the offence count."""
    import json

    import yaml

    from pli.pipeline import run_index

    root = DEFAULT_HARM_WEIGHTS.parents[1]
    raw = _demo_raw()
    raw["index"]["harm_scheme"] = "counts"
    cfg_path = tmp_path / "counts.yml"
    cfg_path.write_text(yaml.safe_dump(raw), encoding="utf-8")
    cfg = load_config(cfg_path, data_dir=root)
    run_index(cfg, out_dir=tmp_path / "output", maps_dir=None)
    manifest = json.loads((tmp_path / "output" / "manifest.json").read_text(encoding="utf-8"))
    rows = pd.DataFrame(manifest["harm_by_category"]["crime_harm_rate"])
    assert rows["weight_days"].eq(1.0).all() and rows["harm_days"].tolist() == rows["count"].tolist()
    assert not {ASB, "Drugs", "Possession of weapons"} & set(rows["category"])
    assert {"Robbery", "Burglary", "Violence and sexual offences"} <= set(rows["category"])
    from pli.outputs import input_key

    assert input_key(WEIGHT_SCHEMES["counts"], cfg.data_dir) in manifest["inputs"]
    inputs = pd.read_csv(tmp_path / "output" / "indicator_inputs.csv")
    assert inputs["crime_harm_rate_numerator"].sum() == rows["count"].sum()
