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

import numpy as np
import pandas as pd
import pytest

from broken_harness import DEMO, DEP, POLICE, ROOT, assert_fails_clearly, police_files, read_rows, write_rows
from conftest import copy_demo_data
from pli.config import SourceSpec, parse_config
from pli.errors import InputError
from pli.indicators import ALL_CRIME, ASB, load_source
from pli.pipeline import run_index

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
    rows = read_rows(_file(data, month))
    if change is not None:
        change(rows)
    target = data / POLICE / dest
    target.parent.mkdir(parents=True, exist_ok=True)
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
