"""Crime inputs that would count offences twice or lose them without a word.

Every case in ``CASES`` breaks a copy of the demo data (police.uk street files, or a Met
"recorded crime by LSOA" table built from them) and must stop with one clear error that
names the file and the row or column (see ``tests/broken_harness.py``). The tests after
it cover inputs that are repaired with a warning (identical copies, repeated Crime IDs,
spelling variants of a crime type, suppression markers outside the window, a stray short
month): each asserts the warning text and that the numbers equal a clean run's.
"""

from __future__ import annotations

import copy
import logging
import shutil
from pathlib import Path

import pandas as pd
import pytest

from pli.config import SourceSpec, parse_config
from pli.errors import InputError
from pli.indicators import ASB, load_source
from pli.pipeline import run_index

from broken_harness import (
    DEMO,
    DEP,
    POLICE,
    ROOT,
    assert_fails_clearly,
    police_files,
    read_rows,
    write_rows,
)
from conftest import copy_demo_data

MPS = "indicators/demo/mps_lsoa_crime.csv"

# police.uk crime type -> a Met "MAJOR/MINOR" category, to build a Met table from the demo.
_TO_MPS = {
    "Violence and sexual offences": "VIOLENCE AGAINST THE PERSON/VIOLENCE WITH INJURY",
    "Robbery": "ROBBERY/ROBBERY OF PERSONAL PROPERTY",
    "Burglary": "BURGLARY/RES BURGLARY OF A HOME",
    "Criminal damage and arson": "ARSON AND CRIMINAL DAMAGE/CRIMINAL DAMAGE",
    "Drugs": "DRUG OFFENCES/POSSESSION OF DRUGS",
    "Possession of weapons": "POSSESSION OF WEAPONS/POSSESSION OF WEAPONS",
    "Public order": "PUBLIC ORDER OFFENCES/PUBLIC FEAR ALARM OR DISTRESS",
    "Shoplifting": "THEFT/SHOPLIFTING",
    "Other theft": "THEFT/OTHER THEFT",
    "Theft from the person": "THEFT/THEFT FROM THE PERSON",
    "Bicycle theft": "THEFT/BICYCLE THEFT",
    "Vehicle crime": "VEHICLE OFFENCES/THEFT FROM A VEHICLE",
    "Other crime": "MISCELLANEOUS CRIMES AGAINST SOCIETY/MISC CRIMES AGAINST SOCIETY",
}


# --------------------------------------------------------------------------- helpers


def _file(data: Path, month: str) -> Path:
    return data / POLICE / month / f"{month}-simulated-street.csv"


def _copy_with(data: Path, month: str, dest: str, change=None) -> Path:
    """Copy one month's street file to ``dest`` (relative to the police folder), optionally changed."""
    target = data / POLICE / dest
    target.parent.mkdir(parents=True, exist_ok=True)
    if change is None:
        shutil.copyfile(_file(data, month), target)  # byte for byte, as a browser saves it
        return target
    rows = read_rows(_file(data, month))
    change(rows)
    write_rows(target, rows)
    return target


def _drop_last_row(rows):
    rows.pop()


def _change_outcome(rows):
    # An older edition of the same month: outcomes were still "Under investigation".
    for r in rows[1:]:
        if r[0]:
            r[10] = "Under investigation"


def _truncate(path: Path, keep_fields: int | None = None, cut_chars: int | None = None) -> int:
    """Cut the file inside its last line; returns the file line number of that line."""
    text = path.read_text(encoding="utf-8").rstrip("\n")
    head, last = text.rsplit("\n", 1)
    if keep_fields is not None:
        last = ",".join(last.split(",")[:keep_fields])
    if cut_chars is not None:
        last = last[:cut_chars]
    path.write_text(head + "\n" + last, encoding="utf-8")
    return head.count("\n") + 2


def _rename_category(data: Path, month: str, old: str, new: str, *, limit: int | None = None) -> int:
    path = _file(data, month)
    rows = read_rows(path)
    hits = [r for r in rows[1:] if r[9] == old][:limit]
    for r in hits:
        r[9] = new
    write_rows(path, rows)
    return len(hits)


def _demo_records(data: Path) -> pd.DataFrame:
    return pd.concat([pd.read_csv(p, dtype=str) for p in police_files(data)], ignore_index=True)


def make_mps(data: Path, raw: dict) -> Path:
    """Replace the crime source by a Met LSOA table built from the demo's police.uk records."""
    rec = _demo_records(data)
    rec = rec[rec["Crime type"] != ASB].dropna(subset=["LSOA code"])
    rec["category"] = rec["Crime type"].map(_TO_MPS)
    rec["month"] = rec["Month"].str.replace("-", "")
    wide = rec.groupby(["LSOA code", "LSOA name", "category", "month"]).size().unstack("month", fill_value=0)
    wide = wide.reset_index()
    major_minor = wide["category"].str.split("/", n=1, expand=True)
    table = pd.DataFrame({
        "lsoa_code": wide["LSOA code"], "lsoa_name": wide["LSOA name"], "borough": "E09000008",
        "major_category": major_minor[0], "minor_category": major_minor[1],
    })
    months = sorted(c for c in wide.columns if str(c).isdigit())
    table = pd.concat([table, wide[months].astype(int)], axis=1)
    path = data / MPS
    table.to_csv(path, index=False, lineterminator="\n")
    raw["sources"]["crime"] = {"kind": "mps_lsoa_crime", "path": MPS, "window_months": 12}
    columns = {
        "violence_rate": ["VIOLENCE AGAINST THE PERSON/*"], "robbery_rate": ["ROBBERY/*"],
        "weapons_drugs_rate": ["POSSESSION OF WEAPONS/*", "DRUG OFFENCES/*"],
        "arson_damage_rate": ["ARSON AND CRIMINAL DAMAGE/*"],
    }
    raw["indicators"] = [dict(i, columns=columns.get(i["name"], i["columns"]))
                         for i in raw["indicators"] if i["name"] != "asb_rate"]
    raw.pop("patrols", None)
    return path


def _mps_rows(data: Path) -> list[list[str]]:
    return read_rows(data / MPS)


def _row_of(rows: list[list[str]], minor: str, nth: int = 0) -> int:
    return [i for i, r in enumerate(rows) if i and r[4] == minor][nth]


# --------------------------------------------------------------------------- breakers: police.uk


def police_edited_copy_same_month(data, raw):
    _copy_with(data, "2025-03", "2025-03/2025-03-simulated-street (1).csv", _drop_last_row)


def police_older_edition_in_backup(data, raw):
    _copy_with(data, "2025-05", "backup/2025-05/2025-05-simulated-street.csv", _change_outcome)


def police_windows_copy_edited(data, raw):
    _copy_with(data, "2025-07", "2025-07/2025-07-simulated-street - Copy.csv", _drop_last_row)


def police_same_force_other_case(data, raw):
    _copy_with(data, "2025-09", "2025-09/2025-09-SIMULATED-street.csv", _change_outcome)


def police_truncated_few_fields(data, raw):
    _truncate(_file(data, "2025-12"), keep_fields=7)


def police_truncated_in_quote(data, raw):
    path = _file(data, "2025-12")
    text = path.read_text(encoding="utf-8").rstrip("\n")
    path.write_text(text + '\n,2025-12,Simulated (pli demo),Simulated (pli demo),-0.1,51.37,"On or near Sim',
                    encoding="utf-8")


def police_truncated_mid_number(data, raw):
    _truncate(_file(data, "2025-11"), cut_chars=119)  # inside the longitude: "-0.0"


def police_truncated_in_crime_id(data, raw):
    _truncate(_file(data, "2025-10"), cut_chars=30)


def police_unknown_type(data, raw):
    _rename_category(data, "2025-04", "Robbery", "Robery", limit=5)


def police_unknown_type_split_word(data, raw):
    _rename_category(data, "2025-10", "Shoplifting", "Shop lifting", limit=3)


def police_unknown_type_ampersand(data, raw):
    _rename_category(data, "2025-02", "Criminal damage and arson", "Criminal damage & arson")


def police_clash_and_truncation_together(data, raw):
    # Validation reports both problems at once.
    police_edited_copy_same_month(data, raw)
    _copy_with(data, "2025-06", "2025-06/2025-06-simulated-street (2).csv", _change_outcome)


# --------------------------------------------------------------------------- breakers: Met table


def mps_duplicate_row(data, raw):
    make_mps(data, raw)
    rows = _mps_rows(data)
    i = _row_of(rows, "ROBBERY OF PERSONAL PROPERTY", 3)
    write_rows(data / MPS, rows + [list(rows[i])])


def mps_duplicate_row_other_case(data, raw):
    make_mps(data, raw)
    rows = _mps_rows(data)
    i = _row_of(rows, "VIOLENCE WITH INJURY", 10)
    twin = list(rows[i])
    twin[3], twin[4] = "Violence Against the Person", "Violence with Injury"
    write_rows(data / MPS, rows + [twin])


def mps_duplicate_row_padded(data, raw):
    make_mps(data, raw)
    rows = _mps_rows(data)
    i = _row_of(rows, "SHOPLIFTING", 0)
    twin = list(rows[i])
    twin[0], twin[4] = f" {twin[0]} ", "SHOPLIFTING  "
    write_rows(data / MPS, rows[:5] + [twin] + rows[5:])


def mps_repeated_month_column(data, raw):
    make_mps(data, raw)
    rows = _mps_rows(data)
    col = rows[0].index("202507")
    write_rows(data / MPS, [r + [r[col]] for r in rows])


def mps_repeated_month_column_padded(data, raw):
    make_mps(data, raw)
    rows = _mps_rows(data)
    col = rows[0].index("202503")
    out = [r[:col + 1] + [r[col]] + r[col + 1:] for r in rows]
    out[0][col + 1] = " 202503 "
    write_rows(data / MPS, out)


def _mps_cell(data: Path, month: str, value: str, nth: int = 7) -> None:
    rows = _mps_rows(data)
    rows[nth][rows[0].index(month)] = value
    write_rows(data / MPS, rows)


def mps_marker_c(data, raw):
    make_mps(data, raw)
    _mps_cell(data, "202506", "c")


def mps_marker_dots(data, raw):
    make_mps(data, raw)
    _mps_cell(data, "202509", "..", nth=12)


def mps_marker_na(data, raw):
    make_mps(data, raw)
    _mps_cell(data, "202511", "N/A", nth=20)


def mps_marker_bracket_x(data, raw):
    make_mps(data, raw)
    _mps_cell(data, "202512", "[x]", nth=30)


def mps_marker_dash(data, raw):
    make_mps(data, raw)
    _mps_cell(data, "202504", "-", nth=40)


def mps_truncated_last_line(data, raw):
    make_mps(data, raw)
    _truncate(data / MPS, keep_fields=9)


def mps_truncated_in_quote(data, raw):
    make_mps(data, raw)
    path = data / MPS
    path.write_text(path.read_text(encoding="utf-8") + 'E01000975,"Croydon 0', encoding="utf-8")


def mps_unknown_category(data, raw):
    make_mps(data, raw)
    rows = _mps_rows(data)
    for r in rows[1:]:
        if r[4] == "ROBBERY OF PERSONAL PROPERTY":
            r[4] = "ROBBERY OF PERSONL PROPERTY"
    write_rows(data / MPS, rows)


def mps_two_code_columns(data, raw):
    make_mps(data, raw)
    rows = _mps_rows(data)
    rows[0][2] = "LSOA Code"  # the borough column, mislabelled
    write_rows(data / MPS, rows)


def deprivation_suppressed_cells(data, raw):
    rows = read_rows(data / DEP)
    col = rows[0].index("income_score")
    for r in rows[3:6]:
        r[col] = "c"
    write_rows(data / DEP, rows)


CASES = [
    # police.uk: two different files for one month and force
    ("crime-police-edited-copy-same-month", police_edited_copy_same_month,
     "2 files with different contents hold police.uk street data for 2025-03 from force 'simulated': "
     "2025-03/2025-03-simulated-street (1).csv, 2025-03/2025-03-simulated-street.csv"),
    ("crime-police-older-edition-in-backup", police_older_edition_in_backup,
     "police.uk street data for 2025-05 from force 'simulated': 2025-05/2025-05-simulated-street.csv, "
     "backup/2025-05/2025-05-simulated-street.csv"),
    ("crime-police-windows-copy-edited", police_windows_copy_edited,
     "2025-07/2025-07-simulated-street - Copy.csv"),
    ("crime-police-same-force-other-case", police_same_force_other_case,
     "2025-09/2025-09-SIMULATED-street.csv, 2025-09/2025-09-simulated-street.csv"),
    ("crime-police-two-clashes-at-once", police_clash_and_truncation_together,
     "police.uk street data for 2025-06 from force 'simulated'"),
    # police.uk: cut-off and malformed files
    ("crime-police-truncated-few-fields", police_truncated_few_fields,
     "2025-12-simulated-street.csv: line 1553: the last row has 7 of the header's 12 fields; "
     "the file looks cut off"),
    ("crime-police-truncated-in-quote", police_truncated_in_quote,
     "2025-12-simulated-street.csv: line 1554: the last row ends inside a quoted field"),
    ("crime-police-truncated-mid-number", police_truncated_mid_number,
     "2025-11-simulated-street.csv: line 1565: the last row has 5 of the header's 12 fields"),
    ("crime-police-truncated-in-crime-id", police_truncated_in_crime_id,
     "2025-10-simulated-street.csv: line 1686: the last row has 1 of the header's 12 fields"),
    # police.uk: a crime type the harm table cannot know is the data's problem
    ("crime-police-unknown-type", police_unknown_type,
     "has crime type 'Robery' (5 record(s), first at 2025-04/2025-04-simulated-street.csv line"),
    ("crime-police-unknown-type-split-word", police_unknown_type_split_word,
     "crime type 'Shop lifting' (3 record(s), first at 2025-10/2025-10-simulated-street.csv line"),
    ("crime-police-unknown-type-ampersand", police_unknown_type_ampersand,
     "This is a problem in the crime data, not the harm table"),
    # Met LSOA table
    ("crime-mps-duplicate-row", mps_duplicate_row,
     "expected one row per LSOA code x major/minor category, found 1 key(s) on 2 rows"),
    ("crime-mps-duplicate-row-other-case", mps_duplicate_row_other_case,
     "'VIOLENCE AGAINST THE PERSON/VIOLENCE WITH INJURY' (lines"),
    ("crime-mps-duplicate-row-padded", mps_duplicate_row_padded, "'THEFT/SHOPLIFTING' (lines 6, "),
    ("crime-mps-repeated-month-column", mps_repeated_month_column,
     "month column '202507' appears 2 times (columns 12, 18)"),
    ("crime-mps-repeated-month-column-padded", mps_repeated_month_column_padded,
     "month column '202503' appears 2 times (columns 8, 9)"),
    ("crime-mps-marker-c", mps_marker_c,
     "1 count cell(s) inside the window 2025-01 to 2025-12 are suppressed or unavailable markers, "
     "not numbers: line 8"),
    ("crime-mps-marker-dots", mps_marker_dots, "2025-09: '..')"),
    ("crime-mps-marker-na", mps_marker_na, "2025-11: 'N/A')"),
    ("crime-mps-marker-bracket-x", mps_marker_bracket_x, "2025-12: '[x]')"),
    ("crime-mps-marker-dash", mps_marker_dash, "2025-04: '-')"),
    ("crime-mps-truncated-last-line", mps_truncated_last_line,
     "mps_lsoa_crime.csv: line {last}: the last row has 9 of the header's 17 fields"),
    ("crime-mps-truncated-in-quote", mps_truncated_in_quote,
     "mps_lsoa_crime.csv: line {last}: the last row ends inside a quoted field"),
    ("crime-mps-unknown-category", mps_unknown_category,
     "has major/minor category 'ROBBERY/ROBBERY OF PERSONL PROPERTY'"),
    ("crime-mps-two-code-columns", mps_two_code_columns, "2 columns could be the LSOA Code column (columns 1, 3"),
    ("crime-suppressed-cells-in-deprivation", deprivation_suppressed_cells,
     "indicator 'income_deprivation' is missing for 3 LSOA(s)"),
]


def _fragment(breaker, fragment: str, data_probe: Path) -> str:
    """Cases whose line number depends on the built Met table fill it in from a probe copy."""
    if "{last}" not in fragment:
        return fragment
    raw = copy.deepcopy(DEMO)
    make_mps(data_probe, raw)
    n_lines = len((data_probe / MPS).read_text(encoding="utf-8").rstrip("\n").split("\n"))
    return fragment.replace("{last}", str(n_lines + (1 if "quote" in fragment else 0)))


@pytest.mark.parametrize("breaker, fragment", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_broken_crime_input_fails_clearly(tmp_path, good_outputs, breaker, fragment):
    probe = copy_demo_data(tmp_path / "probe") if "{last}" in fragment else tmp_path
    assert_fails_clearly(tmp_path, good_outputs, breaker, _fragment(breaker, fragment, probe))


# --------------------------------------------------------------------------- repaired with a warning


def _load_police(base: Path, **options):
    spec = SourceSpec(kind="police_uk", path=POLICE, window_months=12, **options)
    return load_source("crime", spec, resolve=lambda p: base / p)


@pytest.fixture(scope="module")
def clean_police():
    return _load_police(ROOT)


def _warnings(caplog) -> str:
    return "\n".join(r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING)


def _assert_counts_equal(src, clean) -> None:
    pd.testing.assert_frame_equal(src.table, clean.table)
    assert src.months == clean.months
    assert len(src.points) == len(clean.points)
    assert sorted(src.points["crime_id"].dropna()) == sorted(clean.points["crime_id"].dropna())
    by_cat = src.points.groupby("category", observed=True).size()
    pd.testing.assert_series_equal(by_cat, clean.points.groupby("category", observed=True).size())


@pytest.mark.parametrize("month, copy_to", [
    ("2025-03", "2025-03/2025-03-simulated-street (1).csv"),
    ("2025-05", "backup/2025-05/2025-05-simulated-street.csv"),
    ("2025-07", "2025-07/2025-07-simulated-street - Copy.csv"),
    ("2025-12", "2025-12-simulated-street.csv"),  # a loose copy beside the month folders
])
def test_identical_copy_of_a_month_is_read_once(tmp_path, clean_police, caplog, month, copy_to):
    data = copy_demo_data(tmp_path / "data")
    _copy_with(data, month, copy_to)
    rows = len(read_rows(_file(data, month))) - 1
    with caplog.at_level(logging.WARNING):
        src = _load_police(data)
    text = _warnings(caplog)
    assert (f"skipped 1 file(s) identical to another file (same SHA-256), so their records are not counted "
            f"twice: {copy_to} (same as {month}/{month}-simulated-street.csv, {rows:,} rows)") in text
    assert "dropped" not in text
    _assert_counts_equal(src, clean_police)
    assert len(src.files) == 12


def test_repeated_crime_ids_and_asb_rows_of_another_file_are_dropped(tmp_path, clean_police, caplog):
    data = copy_demo_data(tmp_path / "data")
    original = read_rows(_file(data, "2025-03"))
    extract = [original[0]] + original[1:301]  # a hand-made extract of the same month
    write_rows(data / POLICE / "2025-03" / "2025-03-croydon-extract-street.csv", extract)
    n_id = sum(1 for r in extract[1:] if r[0])
    n_asb = len(extract) - 1 - n_id
    assert n_id > 50 and n_asb > 50
    with caplog.at_level(logging.WARNING):
        src = _load_police(data)
    text = _warnings(caplog)
    # The extract sorts first, so the original's rows are the repeats.
    assert (f"dropped {n_id:,} record(s) repeating a Crime ID already read (2025-03/2025-03-simulated-street.csv: "
            f"{n_id:,} already read from 2025-03/2025-03-croydon-extract-street.csv)") in text
    assert (f"{n_asb:,} record(s) without a Crime ID that repeat whole rows of another file for the same month "
            "(2025-03/2025-03-simulated-street.csv: ") in text
    _assert_counts_equal(src, clean_police)


def test_repeated_crime_id_within_one_file_counted_once(tmp_path, clean_police, caplog):
    data = copy_demo_data(tmp_path / "data")
    path = _file(data, "2025-08")
    rows = read_rows(path)
    crimes = [r for r in rows[1:] if r[0]][:4]
    write_rows(path, rows + [list(r) for r in crimes] + [list(crimes[0])])
    with caplog.at_level(logging.WARNING):
        src = _load_police(data)
    assert ("dropped 5 record(s) repeating a Crime ID already read "
            "(2025-08/2025-08-simulated-street.csv: 5 repeated within the file)") in _warnings(caplog)
    _assert_counts_equal(src, clean_police)


def test_identical_asb_rows_within_one_file_are_two_incidents(tmp_path, clean_police, caplog):
    data = copy_demo_data(tmp_path / "data")
    path = _file(data, "2025-09")
    rows = read_rows(path)
    asb = next(r for r in rows[1:] if not r[0] and r[9] == ASB)
    write_rows(path, rows + [list(asb)])
    with caplog.at_level(logging.WARNING):
        src = _load_police(data)
    assert "dropped" not in _warnings(caplog)
    diff = src.table[ASB] - clean_police.table[ASB]
    assert diff.to_dict() == {**dict.fromkeys(diff.index, 0), asb[7]: 1}


def test_two_forces_for_one_month_are_both_counted(tmp_path, clean_police, caplog):
    data = copy_demo_data(tmp_path / "data")
    path = _file(data, "2025-06")
    rows = read_rows(path)
    ours, theirs = [rows[0]], [rows[0]]
    for i, r in enumerate(rows[1:]):
        if i % 3 == 0:
            theirs.append(r[:2] + ["British Transport Police", r[3]] + r[4:])
        else:
            ours.append(r)
    write_rows(path, ours)
    write_rows(path.with_name("2025-06-btp-street.csv"), theirs)
    with caplog.at_level(logging.WARNING):
        src = _load_police(data)
    text = _warnings(caplog)
    assert "dropped" not in text and "skipped" not in text and "only" not in text
    _assert_counts_equal(src, clean_police)
    assert len(src.files) == 13


@pytest.mark.parametrize("variants", [
    {"Robbery": "ROBBERY"},
    {"Robbery": "  Robbery ", "Drugs": "drugs"},
    {ASB: "Anti\u2013social  behaviour", "Violence and sexual offences": "Violence-and-Sexual-Offences"},
    {"Criminal damage and arson": "criminal_damage_and_arson"},
])
def test_crime_type_spelling_variants_are_normalised(tmp_path, clean_police, caplog, variants):
    data = copy_demo_data(tmp_path / "data")
    n = sum(_rename_category(data, "2025-04", old, new, limit=7) for old, new in variants.items())
    with caplog.at_level(logging.WARNING):
        src = _load_police(data)
    text = _warnings(caplog)
    assert (f"normalised {n} record(s) whose 'Crime type' differs from a crime type's usual spelling only in "
            "case, spaces or dashes: ") in text
    for old, new in variants.items():
        assert f"{new!r} -> {old!r} (7)" in text
    _assert_counts_equal(src, clean_police)


@pytest.mark.parametrize("extra_rows, month, where", [
    (3, "2026-01", "latest"),
    (40, "2026-01", "latest"),
    (2, "2025-06", "inside"),
])
def test_short_month_in_the_window_is_announced(tmp_path, caplog, extra_rows, month, where):
    data = copy_demo_data(tmp_path / "data")
    rows = read_rows(_file(data, "2025-12"))
    if where == "latest":
        stray = [rows[0]] + [[r[0][::-1] if r[0] else "", month, *r[2:]] for r in rows[1:extra_rows + 1]]
        (data / POLICE / month).mkdir()
        write_rows(data / POLICE / month / f"{month}-simulated-street.csv", stray)
    else:
        write_rows(_file(data, month), read_rows(_file(data, month))[:extra_rows + 1])
    with caplog.at_level(logging.WARNING):
        src = _load_police(data)
    text = _warnings(caplog)
    window = "2025-02 to 2026-01" if where == "latest" else "2025-01 to 2025-12"
    assert src.period == window
    assert (f"month {month} has only {extra_rows} record(s), under 25% of the median month in the window") in text
    assert f"the window {window} (latest 12 months present) includes it" in text
    assert f"{month}/{month}-simulated-street.csv" in text


def test_normal_months_are_not_announced(clean_police, caplog):
    with caplog.at_level(logging.WARNING):
        _load_police(ROOT)
    assert "has only" not in _warnings(caplog)


def _load_mps(base: Path):
    spec = SourceSpec(kind="mps_lsoa_crime", path=MPS, window_months=12)
    return load_source("crime", spec, resolve=lambda p: base / p)


@pytest.fixture(scope="module")
def clean_mps(tmp_path_factory):
    data = copy_demo_data(tmp_path_factory.mktemp("mps") / "data")
    make_mps(data, copy.deepcopy(DEMO))
    return data, _load_mps(data)


@pytest.mark.parametrize("marker", ["c", "..", "[c]", "N/A"])
def test_mps_markers_outside_the_window_are_missing_not_zero(tmp_path, clean_mps, caplog, marker):
    base, clean = clean_mps
    data = tmp_path / "data"
    (data / MPS).parent.mkdir(parents=True)
    rows = read_rows(base / MPS)
    first = rows[0].index("202501")
    out = [r[:first] + ["202412"] + r[first:] if i == 0 else r[:first] + ["1"] + r[first:] for i, r in enumerate(rows)]
    for r in out[5:9]:
        r[first] = marker
    write_rows(data / MPS, out)
    with caplog.at_level(logging.WARNING):
        src = _load_mps(data)
    text = _warnings(caplog)
    assert (f"mps_lsoa_crime.csv: 4 cell(s) hold suppression/unavailable markers ({marker!r}) and are read as "
            "missing, not 0: column '202412' (4)") in text
    assert src.months == clean.months
    pd.testing.assert_frame_equal(src.table, clean.table)


def test_mps_blank_cells_in_the_window_are_announced_as_zero(tmp_path, clean_mps, caplog):
    base, clean = clean_mps
    data = tmp_path / "data"
    (data / MPS).parent.mkdir(parents=True)
    rows = read_rows(base / MPS)
    zeros = [(i, j) for i, r in enumerate(rows[1:], 1) for j, v in enumerate(r) if j >= 5 and v == "0"][:6]
    for i, j in zeros:
        rows[i][j] = ""
    write_rows(data / MPS, rows)
    with caplog.at_level(logging.WARNING):
        src = _load_mps(data)
    assert f"crime: 6 blank count cell(s) inside the window read as 0 (in {len({i for i, _ in zeros})} row(s))" \
        in _warnings(caplog)
    pd.testing.assert_frame_equal(src.table, clean.table)


def test_mps_category_spelling_variants_are_normalised(tmp_path, clean_mps, caplog):
    base, clean = clean_mps
    data = tmp_path / "data"
    (data / MPS).parent.mkdir(parents=True)
    rows = read_rows(base / MPS)
    changed = 0
    for r in rows[1:]:
        if r[4] == "ROBBERY OF PERSONAL PROPERTY":
            r[3], r[4] = "Robbery", " Robbery of Personal  Property"
            changed += 1
    write_rows(data / MPS, rows)
    with caplog.at_level(logging.WARNING):
        src = _load_mps(data)
    assert (f"normalised {changed} row(s) whose major/minor category differs from the usual spelling only in "
            f"case, spaces or dashes: 'Robbery/Robbery of Personal  Property' -> "
            f"'ROBBERY/ROBBERY OF PERSONAL PROPERTY' ({changed})") in _warnings(caplog)
    pd.testing.assert_frame_equal(src.table, clean.table)


def test_whole_run_with_repeated_and_misspelt_records_equals_the_clean_run(tmp_path, good_outputs, caplog):
    data = copy_demo_data(tmp_path / "data")
    _copy_with(data, "2025-03", "2025-03/2025-03-simulated-street (1).csv")
    _copy_with(data, "2025-05", "backup/2025-05/2025-05-simulated-street.csv")
    rows = read_rows(_file(data, "2025-10"))
    write_rows(data / POLICE / "2025-10" / "2025-10-croydon-extract-street.csv", rows[:400])
    _rename_category(data, "2025-11", "Robbery", "ROBBERY")
    _rename_category(data, "2025-11", "Possession of weapons", "possession of  weapons")
    cfg = parse_config(copy.deepcopy(DEMO), data_dir=data)
    with caplog.at_level(logging.WARNING):
        run_index(cfg, out_dir=tmp_path / "out", maps_dir=None)
    text = _warnings(caplog)
    assert "skipped 2 file(s) identical to another file" in text
    assert "2025-10/2025-10-croydon-extract-street.csv" in text and "repeating a Crime ID" in text
    assert "normalised" in text and "'ROBBERY' -> 'Robbery'" in text
    for name in ("indicator_inputs.csv", "rankings.csv", "priority_neighbourhoods.csv", "patrol_plan.csv"):
        assert (tmp_path / "out" / name).read_bytes() == (good_outputs / name).read_bytes(), name


def test_whole_run_on_the_met_table_runs_clean(tmp_path, caplog):
    data = copy_demo_data(tmp_path / "data")
    raw = copy.deepcopy(DEMO)
    make_mps(data, raw)
    cfg = parse_config(raw, data_dir=data)
    with caplog.at_level(logging.WARNING):
        run = run_index(cfg, out_dir=tmp_path / "out", maps_dir=None)
    text = _warnings(caplog)
    assert "normalised" not in text and "has only" not in text and "markers" not in text
    assert len(run.rankings) == 220
    inputs = pd.read_csv(tmp_path / "out" / "indicator_inputs.csv", index_col="lsoa_code")
    rec = _demo_records(data)
    robbery = rec[rec["Crime type"] == "Robbery"].groupby("LSOA code").size()
    got = inputs["robbery_rate_numerator"]
    assert (got.reindex(robbery.index) == robbery).all() and got.sum() == robbery.sum()


def test_unknown_category_message_is_about_the_data_not_the_table(tmp_path):
    data = copy_demo_data(tmp_path / "data")
    police_unknown_type(data, {})
    cfg = parse_config(copy.deepcopy(DEMO), data_dir=data)
    with pytest.raises(InputError) as info:
        run_index(cfg, out_dir=tmp_path / "out", maps_dir=None)
    text = str(info.value)
    assert f"source 'crime' ({data / POLICE / '2025-01' / '2025-01-simulated-street.csv'}" in text
    assert "Known police_uk categories" not in text  # not the harm table's own message
    assert "known police_uk categories: 'Anti-social behaviour', 'Bicycle theft'" in text
    assert "harm_weights.csv:" not in text
