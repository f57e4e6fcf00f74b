"""The DuckDB streaming reader of police.uk street files against the pandas reader.

Both engines must give the same records, tables, points and messages (real burglary
files, the demo, every broken police.uk case of ``tests/test_broken_crime.py``); the
streaming one also reads zip archives as police.uk publishes them and leaves records
outside the study area unread.
"""

from __future__ import annotations

import dataclasses
import logging
import shutil
import zipfile
from pathlib import Path

import pandas as pd
import pytest
import test_broken_crime as broken

from pli.config import SourceSpec, load_config, parse_config
from pli.errors import InputError
from pli.indicators import load_source
from pli.indicators.police_uk import _load_police_uk
from pli.indicators.street_files import street_files
from pli.pipeline import run_index

from broken_harness import DEMO, POLICE, ROOT
from conftest import SHARED_DATA, copy_demo_data

DEMO_POLICE = ROOT / POLICE


def _zip_folder(folder: Path, archive: Path, prefix: str = "") -> Path:
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        for f in sorted(folder.rglob("*.csv")):
            zf.write(f, prefix + f.relative_to(folder).as_posix())
    return archive


def _load(path: Path, engine: str, area=None, **kw) -> object:
    spec = SourceSpec(kind="police_uk", path=str(path), engine=engine, **kw)
    return _load_police_uk("crime", spec, path, area)


def _assert_same(a, b) -> None:
    pd.testing.assert_frame_equal(a.table, b.table)
    pd.testing.assert_frame_equal(pd.DataFrame(a.points), pd.DataFrame(b.points))
    assert (a.months, a.period, a.rows_read, a.category_where) == (b.months, b.period, b.rows_read, b.category_where)


def test_demo_folder_same_with_both_engines(caplog):
    with caplog.at_level(logging.INFO):
        pandas_read = _load(DEMO_POLICE, "pandas")
        pandas_log = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
        caplog.clear()
        duck = _load(DEMO_POLICE, "duckdb")
        duck_log = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    _assert_same(pandas_read, duck)
    assert pandas_read.rows_read == 20018
    assert pandas_log == duck_log


def test_zip_archive_reads_like_the_folder(tmp_path):
    # The bulk archive's layout: YYYY-MM/YYYY-MM-<force>-street.csv inside one zip.
    archive = _zip_folder(DEMO_POLICE, tmp_path / "2025-12.zip")
    folder = _load(DEMO_POLICE, "pandas")
    zipped = _load(archive, "auto")
    _assert_same(folder, zipped)
    assert zipped.files == (archive,)
    assert [f.name for f in street_files(archive)][:1] == ["2025-01/2025-01-simulated-street.csv"]


def test_area_codes_leave_other_lsoas_unread(caplog):
    whole = _load(DEMO_POLICE, "pandas")
    area = list(whole.table.index[::2])
    with caplog.at_level(logging.INFO):
        part = _load(DEMO_POLICE, "duckdb", area=[c.lower() for c in area])
    assert list(part.table.index) == area
    pd.testing.assert_frame_equal(part.table, whole.table.loc[area, part.table.columns])
    outside = int(whole.table.drop(index=area).sum(axis=None) - whole.table.drop(index=area)["all_crime"].sum())
    assert any(f"{outside:,} record(s) in LSOAs outside the study area left unread" in r.getMessage()
               for r in caplog.records), outside
    assert set(part.points["lsoa_code"].astype(str)) <= set(area)


_POLICE_CASES = [c for c in broken.CASES if c[0].startswith("crime-police")]


@pytest.mark.parametrize("breaker", [c[1] for c in _POLICE_CASES], ids=[c[0] for c in _POLICE_CASES])
def test_broken_police_files_same_outcome_with_both_engines(tmp_path, breaker, caplog):
    # The same error message, or (for what later stages reject) the same records and warnings.
    data = copy_demo_data(tmp_path)
    breaker(data, {})
    outcome = {}
    for engine in ("pandas", "duckdb"):
        caplog.clear()
        try:
            got = _load(data / POLICE, engine)
        except InputError as exc:
            outcome[engine] = ("error", str(exc))
        else:
            warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
            outcome[engine] = ("read", got, warnings)
    if outcome["pandas"][0] == "error":
        assert outcome["duckdb"] == outcome["pandas"]
    else:
        assert outcome["duckdb"][0] == "read", outcome["duckdb"]
        _assert_same(outcome["pandas"][1], outcome["duckdb"][1])
        assert outcome["pandas"][2] == outcome["duckdb"][2] != []


def test_truncated_zip_member_named(tmp_path):
    data = copy_demo_data(tmp_path)
    broken.police_truncated_in_quote(data, {})
    archive = _zip_folder(data / POLICE, tmp_path / "archive.zip")
    with pytest.raises(InputError) as err:
        _load(archive, "auto")
    assert f"{archive}!2025-12/2025-12-simulated-street.csv" in str(err.value)
    assert "line 1554: value with unterminated quote found" in str(err.value)


def test_zip_without_street_files_or_not_a_zip(tmp_path):
    archive = tmp_path / "outcomes.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("2025-01/2025-01-metropolitan-outcomes.csv", "Crime ID,Month\n")
    with pytest.raises(InputError, match=r"holds no police.uk street files .*outcomes.csv"):
        _load(archive, "auto")
    fake = tmp_path / "2025-01-x-street.csv"
    fake.write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(InputError, match="not a police.uk street file"):
        _load(fake, "duckdb")


def test_pipeline_runs_on_a_zip_archive_source(tmp_path, good_outputs):
    # Validation and the whole run accept the archive; the ranking is the folder's.
    data = copy_demo_data(tmp_path)
    _zip_folder(data / POLICE, data / "indicators" / "demo" / "police_uk.zip")
    shutil.rmtree(data / POLICE)
    raw = dict(DEMO, sources={**DEMO["sources"], "crime": {**DEMO["sources"]["crime"],
                                                          "path": "indicators/demo/police_uk.zip"}})
    result = run_index(parse_config(raw, data_dir=data), out_dir=tmp_path / "out", maps_dir=None)
    reference = pd.read_csv(good_outputs / "rankings.csv", comment="#", index_col="lsoa_code")
    assert result.rankings["rank"].to_dict() == reference["rank"].to_dict()


@pytest.mark.shared
def test_real_burglary_files_same_with_both_engines():
    if not SHARED_DATA.is_dir():
        pytest.skip("needs ../shared/data (the real Croydon snapshot)")
    cfg = load_config(ROOT / "configs" / "croydon-open-data.yml", data_dir=SHARED_DATA)
    spec = dataclasses.replace(cfg.sources["burglary_points"], window_months=None)
    got = {e: load_source("b", dataclasses.replace(spec, engine=e), resolve=cfg.resolve) for e in ("pandas", "duckdb")}
    _assert_same(got["pandas"], got["duckdb"])
    assert got["duckdb"].rows_read == 40326
