"""The police.uk record cache: hits, misses on every key part, damaged files, atomic writes,
and outputs byte-identical to a run that read the files."""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import os
import shutil
from pathlib import Path

import pandas as pd
import pytest
from geopandas.testing import assert_geodataframe_equal

from pli import outputs
from pli.config import SourceSpec, load_config
from pli.indicators import load_source
from pli.indicators import record_cache as rc
from pli.progress import quieted

from conftest import ROOT, SHARED_DATA

DEMO_STREET = ROOT / "indicators" / "demo" / "police_uk"


@pytest.fixture()
def data(tmp_path) -> Path:
    """A copy of the demo's last four months of street files, free to change."""
    folder = tmp_path / "data"
    for month in sorted(p for p in DEMO_STREET.iterdir() if p.is_dir())[-4:]:
        shutil.copytree(month, folder / "police_uk" / month.name)
    return folder


def load(data: Path, folder: Path | None, *, area=None, name="crime", **spec_args):
    spec = SourceSpec(kind="police_uk", path="police_uk", **{"window_months": 4, **spec_args})
    with rc.using_cache(folder):
        return load_source(name, spec, resolve=lambda p: data / p, area_codes=area)


def cache_files(cache: Path) -> list[Path]:
    return sorted(cache.glob("*.parquet")) if cache.is_dir() else []


def assert_same_source(a, b) -> None:
    pd.testing.assert_frame_equal(a.table, b.table)
    assert_geodataframe_equal(a.points, b.points, check_less_precise=False)
    for col in a.points.columns.drop("geometry"):
        assert a.points[col].dtype == b.points[col].dtype, col
    assert a.points.geometry.to_wkb().equals(b.points.geometry.to_wkb())  # the same doubles, not close ones
    assert (a.months, a.period, a.files, a.rows_read, a.category_where) == (
        b.months, b.period, b.files, b.rows_read, b.category_where)


def test_second_read_comes_from_the_cache_and_equals_reading_the_files(data, tmp_path, caplog):
    cache = tmp_path / "cache"
    plain = load(data, None)
    assert plain.record_cache is None and not cache.exists()
    with caplog.at_level(logging.INFO, logger="pli"):
        cold = load(data, cache)
    cold_messages = [(r.name, r.levelno, r.getMessage()) for r in caplog.records]
    caplog.clear()
    [file] = cache_files(cache)
    assert cold.record_cache.from_cache is False and cold.record_cache.file == file
    assert cold.record_cache.sha256 == hashlib.sha256(file.read_bytes()).hexdigest()
    with caplog.at_level(logging.INFO, logger="pli"):
        warm = load(data, cache)
    warm_messages = [(r.name, r.levelno, r.getMessage()) for r in caplog.records]
    assert warm.record_cache.from_cache is True and warm.record_cache.sha256 == cold.record_cache.sha256
    assert cache_files(cache) == [file]
    assert_same_source(plain, cold)
    assert_same_source(cold, warm)
    # What the reader said (the window chosen) is said again, and the cache named.
    window_line = next(m for m in cold_messages if m[0] == "pli.indicators.window")
    assert window_line in warm_messages
    assert any("read from the record cache" in m[2] and str(file) in m[2] for m in warm_messages)
    assert not any("record cache" in m[2] for m in cold_messages)


def test_the_cache_file_is_geoparquet_of_the_records_in_british_national_grid(data, tmp_path):
    import geopandas as gpd
    import pyarrow.parquet as pq

    cache = tmp_path / "cache"
    src = load(data, cache)
    [file] = cache_files(cache)
    assert b"geo" in pq.read_schema(file).metadata
    frame = gpd.read_parquet(file)
    assert frame.crs.to_epsg() == 27700
    assert len(frame) == src.table["all_crime"].sum() + src.table.get("Anti-social behaviour", 0).sum()
    assert set(frame["month"].astype(str)) == set(src.months)


def test_unchanged_bytes_hit_even_when_the_files_are_touched(data, tmp_path):
    cache = tmp_path / "cache"
    load(data, cache)
    for f in (data / "police_uk").rglob("*.csv"):
        os.utime(f, ns=(1_000_000_000, 1_000_000_000))
    assert load(data, cache).record_cache.from_cache is True


def test_changed_file_content_misses_and_reads_the_change(data, tmp_path):
    cache = tmp_path / "cache"
    cold = load(data, cache)
    last = sorted((data / "police_uk").rglob("*-street.csv"))[-1]
    lines = last.read_text(encoding="utf-8").splitlines(keepends=True)
    assert lines[-1].split(",")[7].strip(), "the dropped record has an LSOA code"
    last.write_text("".join(lines[:-1]), encoding="utf-8")
    changed = load(data, cache)
    assert changed.record_cache.from_cache is False
    assert changed.table.drop(columns="all_crime").to_numpy().sum() == cold.table.drop(
        columns="all_crime").to_numpy().sum() - 1
    assert len(cache_files(cache)) == 2


def test_window_change_misses(data, tmp_path):
    cache = tmp_path / "cache"
    load(data, cache)
    two = load(data, cache, window_months=2)
    assert two.record_cache.from_cache is False and two.months == ("2025-11", "2025-12")
    explicit = load(data, cache, start_month="2025-10", end_month="2025-11")
    assert explicit.record_cache.from_cache is False and explicit.months == ("2025-10", "2025-11")
    assert load(data, cache, window_months=2).record_cache.from_cache is True
    assert len(cache_files(cache)) == 3


def test_settings_and_name_changes_miss(data, tmp_path):
    cache = tmp_path / "cache"
    whole = load(data, cache)
    burglary = load(data, cache, categories=("Burglary",))
    assert burglary.record_cache.from_cache is False
    assert list(burglary.table.columns) == ["Burglary", "all_crime"]
    assert (burglary.table["Burglary"] == whole.table["Burglary"].reindex(burglary.table.index)).all()
    assert load(data, cache, encoding="cp1252").record_cache.from_cache is False
    assert load(data, cache, name="crime2").record_cache.from_cache is False  # messages name the source
    # A setting that does not change the records still gives a new key: never a stale hit.
    assert load(data, cache, simulated=True).record_cache.from_cache is False


def test_a_change_to_the_reading_code_misses(data, tmp_path, monkeypatch):
    cache = tmp_path / "cache"
    load(data, cache)
    assert load(data, cache).record_cache.from_cache is True
    monkeypatch.setattr(rc, "_reader_code", lambda: "a fixed reader")
    assert load(data, cache).record_cache.from_cache is False


def test_study_area_change_misses_when_the_reader_keeps_only_the_area(data, tmp_path):
    cache = tmp_path / "cache"
    every = load(data, None).table.index
    area, smaller = list(every), list(every[10:])
    full = load(data, cache, area=area, engine="duckdb")
    part = load(data, cache, area=smaller, engine="duckdb")
    assert part.record_cache.from_cache is False
    assert set(part.table.index) == set(smaller) and set(full.table.index) == set(area)
    assert load(data, cache, area=smaller, engine="duckdb").record_cache.from_cache is True
    # The pandas reader keeps every LSOA whatever the area, so the area does not split its cache.
    load(data, cache, area=area, engine="pandas")
    assert load(data, cache, area=smaller, engine="pandas").record_cache.from_cache is True


@pytest.mark.parametrize("damage", ["truncated", "one byte changed", "not parquet"])
def test_damaged_cache_file_warns_names_it_and_reads_the_files(data, tmp_path, caplog, damage):
    cache = tmp_path / "cache"
    cold = load(data, cache)
    [file] = cache_files(cache)
    raw = file.read_bytes()
    if damage == "truncated":
        file.write_bytes(raw[: len(raw) // 2])
    elif damage == "one byte changed":
        middle = bytearray(raw)
        middle[len(raw) // 2] ^= 0x01
        file.write_bytes(bytes(middle))
    else:
        file.write_text("rankings,not,records\n")
    with caplog.at_level(logging.WARNING, logger="pli"):
        again = load(data, cache)
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any(str(file) in w and "unusable" in w for w in warnings), warnings
    assert again.record_cache.from_cache is False
    assert_same_source(cold, again)
    assert cache_files(cache) == [again.record_cache.file]  # replaced; the damaged file is gone
    assert load(data, cache).record_cache.from_cache is True


def test_cache_file_of_another_key_is_not_used(data, tmp_path, caplog):
    cache = tmp_path / "cache"
    load(data, cache)
    six = load(data, cache, window_months=2)
    [twelve_file] = [f for f in cache_files(cache) if f != six.record_cache.file]
    # A file copied over another key's name (digest and all) is refused by its stored key.
    stem = six.record_cache.file.name.rsplit("-", 1)[0]
    digest = hashlib.sha256(twelve_file.read_bytes()).hexdigest()[:24]
    six.record_cache.file.unlink()
    shutil.copy(twelve_file, cache / f"{stem}-{digest}.parquet")
    with caplog.at_level(logging.WARNING, logger="pli"):
        again = load(data, cache, window_months=2)
    assert again.record_cache.from_cache is False and len(again.months) == 2
    assert any("key does not match" in r.getMessage() for r in caplog.records)


def test_write_is_atomic_and_a_failed_write_never_stops_the_load(data, tmp_path, monkeypatch, caplog):
    cache = tmp_path / "cache"
    seen = {}
    real_replace = os.replace

    def replace(src, dst):
        # At the rename the temporary file is whole, and the final name does not exist yet.
        seen["temp"] = Path(src).name
        seen["whole"] = hashlib.sha256(Path(src).read_bytes()).hexdigest()
        seen["final_existed"] = Path(dst).exists()
        real_replace(src, dst)

    monkeypatch.setattr(rc.os, "replace", replace)
    cold = load(data, cache)
    assert seen["temp"].startswith(".") and seen["temp"].endswith(".tmp") and not seen["final_existed"]
    assert seen["whole"] == cold.record_cache.sha256
    assert [p.name for p in cache.iterdir()] == [cold.record_cache.file.name]  # no temporary file left

    def full_disk(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(rc.os, "replace", full_disk)
    with caplog.at_level(logging.WARNING, logger="pli"):
        six = load(data, cache, window_months=2)
    assert six.record_cache is None and len(six.months) == 2
    assert any("cannot write the record cache" in r.getMessage() for r in caplog.records)
    assert [p.name for p in cache.iterdir()] == [cold.record_cache.file.name]


def test_a_cache_written_quietly_is_not_used_by_a_louder_run(data, tmp_path, caplog):
    cache = tmp_path / "cache"
    with quieted(["pli.indicators"]):
        first = load(data, cache)
    assert first.record_cache.from_cache is False
    with caplog.at_level(logging.INFO, logger="pli"):
        loud = load(data, cache)
    assert loud.record_cache.from_cache is False  # re-read, so its messages are all said
    assert any(r.name == "pli.indicators.window" for r in caplog.records)
    with quieted(["pli.indicators"]):
        assert load(data, cache).record_cache.from_cache is True  # a complete file serves quiet runs too


def test_cache_setting_off_auto_folder_and_no_cache(data, tmp_path):
    cache = tmp_path / "cache"
    assert load(data, cache, cache="off").record_cache is None
    with rc.using_cache(cache, enabled=False):
        spec = SourceSpec(kind="police_uk", path="police_uk", cache="mine")
        assert rc.cache_folder(spec, lambda p: data / p) is None
    assert load(data, None).record_cache is None  # auto without a command's folder: nothing cached
    named = load(data, None, cache="mine")
    assert named.record_cache.file.parent == data / "mine"  # relative to the data folder
    assert not cache.exists()


def test_config_key_is_checked_and_cli_has_no_cache(tmp_path):
    from pli.cli import _build_parser
    from pli.config import ConfigError

    text = (ROOT / "configs" / "croydon-demo.yml").read_text(encoding="utf-8")
    bad = tmp_path / "bad.yml"
    bad.write_text(text.replace("    window_months: 12\n    simulated: true", "    window_months: 12\n"
                                "    simulated: true\n    cache: ' '", 1), encoding="utf-8")
    with pytest.raises(ConfigError, match=r"sources\.crime\.cache"):
        load_config(bad, data_dir=ROOT)
    assert _build_parser().parse_args(["index", "--no-cache"]).no_cache is True


def test_cache_clear_removes_cache_files_only(data, tmp_path, capsys):
    from pli.cli import main

    cache = tmp_path / rc.FOLDER_NAME
    load(data, cache)
    load(data, cache, window_months=2)
    (cache / "notes.txt").write_text("mine")
    assert main(["-q", "cache", "clear", "--out", str(tmp_path / "output")]) == 0
    assert "removed 2 cached record file(s)" in capsys.readouterr().out
    assert [p.name for p in cache.iterdir()] == ["notes.txt"]  # not a cache file: kept
    (cache / "notes.txt").unlink()
    assert rc.clear_cache(cache) == (0, 0) and not cache.exists()
    assert load(data, cache).record_cache.from_cache is False


def _fast(cfg):
    """The config with few permutations and runs: the test compares two runs, not results."""
    return dataclasses.replace(
        cfg,
        clustering=dataclasses.replace(cfg.clustering, permutations=99, max_permutations=99),
        priorities=dataclasses.replace(cfg.priorities, stability_runs=0),
    )


def _runs(cfg, tmp_path, monkeypatch, *, patrols: bool, uncached: bool = True):
    """Cold and warm runs sharing one cache (beside both output folders), and one with --no-cache."""
    from pli.pipeline import run_index

    monkeypatch.setattr(outputs, "_INPUT_HASHES", {})
    hashed: list[Path] = []
    real = outputs.file_sha256
    monkeypatch.setattr(outputs, "file_sha256", lambda p, **kw: hashed.append(Path(p).resolve()) or real(p, **kw))
    cold = run_index(cfg, out_dir=tmp_path / "runs" / "cold", maps_dir=None, patrols=patrols)
    warm = run_index(cfg, out_dir=tmp_path / "runs" / "warm", maps_dir=None, patrols=patrols)
    nocache = (run_index(cfg, out_dir=tmp_path / "nocache" / "output", maps_dir=None, patrols=patrols, cache=False)
               if uncached else None)
    return cold, warm, nocache, hashed


def _assert_identical_runs(cold, warm, nocache, hashed, source: str) -> None:
    import json

    csvs = sorted(p.name for p in cold.out_dir.glob("*.csv"))
    assert "rankings.csv" in csvs
    for name in [*csvs, "pli.gpkg"]:
        assert (cold.out_dir / name).read_bytes() == (warm.out_dir / name).read_bytes(), name
        if nocache is not None:
            assert (cold.out_dir / name).read_bytes() == (nocache.out_dir / name).read_bytes(), name
    manifests = [json.loads((r.out_dir / "manifest.json").read_text()) for r in (cold, warm, nocache or warm)]
    cold_use, warm_use = manifests[0]["record_cache"][source], manifests[1]["record_cache"][source]
    assert cold_use["from_cache"] is False and warm_use["from_cache"] is True
    assert cold_use["sha256"] == warm_use["sha256"] == outputs.file_sha256(warm_use["file"])
    assert Path(warm_use["file"]).parent.name == rc.FOLDER_NAME
    if nocache is not None:
        assert manifests[2]["record_cache"] == {}
        assert not (nocache.out_dir.parent / rc.FOLDER_NAME).exists()
    assert manifests[0]["inputs"] == manifests[1]["inputs"]
    # Each street file was hashed once, for the cache key and the manifest together, per run.
    street = [p for p in hashed if p.name.endswith("-street.csv")]
    assert street and max(street.count(p) for p in set(street)) == 1


def test_index_outputs_identical_cold_warm_and_uncached_demo(tmp_path, monkeypatch):
    # No patrols here (their plan takes most of a demo run); the real-data test below plans them.
    cfg = _fast(load_config(ROOT / "configs" / "croydon-demo.yml"))
    _assert_identical_runs(*_runs(cfg, tmp_path, monkeypatch, patrols=False), source="crime")


@pytest.mark.shared
def test_index_outputs_identical_cold_warm_and_uncached_real_burglary(tmp_path, monkeypatch):
    if not (SHARED_DATA / "police_uk_burglary").is_dir():
        pytest.skip(f"real Croydon snapshot not found at {SHARED_DATA} (needs ../shared/data beside the repo)")
    cfg = _fast(load_config(ROOT / "configs" / "croydon-open-data.yml", data_dir=SHARED_DATA))
    cold, warm, nocache, hashed = _runs(cfg, tmp_path, monkeypatch, patrols=True, uncached=False)
    assert (cold.out_dir / "patrol_plan.csv").is_file()  # the plan is built from the cached points
    _assert_identical_runs(cold, warm, nocache, hashed, source="burglary_points")
