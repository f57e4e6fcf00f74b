"""End to end: the embedded demo and the real Croydon snapshot through every stage."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest

from pli.config import load_config
from pli.errors import InputError
from pli.outputs import file_sha256, verify_outputs
from pli.pipeline import run_index

from conftest import copy_demo_data

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
needs_shared = pytest.mark.skipif(not SHARED.is_dir(), reason=f"real snapshot not found at {SHARED}")


def _hashes(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): file_sha256(p) for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory):
    base = tmp_path_factory.mktemp("demo")
    cfg = load_config(ROOT / "configs" / "croydon-demo.yml")
    run = run_index(cfg, out_dir=base / "output", maps_dir=base / "maps")
    return base, run


@pytest.fixture(scope="module")
def open_run(tmp_path_factory):
    if not SHARED.is_dir():
        pytest.skip(f"real snapshot not found at {SHARED}")
    base = tmp_path_factory.mktemp("open")
    cfg = load_config(ROOT / "configs" / "croydon-open-data.yml", data_dir=SHARED)
    run = run_index(cfg, out_dir=base / "output", maps_dir=None)
    return base, run


def test_demo_writes_every_output(demo_run):
    base, run = demo_run
    out = base / "output"
    for name in ("rankings.csv", "pli.gpkg", "manifest.json", "priority_neighbourhoods.csv",
                 "priority_neighbourhoods.geojson", "wards.csv", "patrol_plan.csv", "patrol_plan.geojson",
                 "indicator_inputs.csv", "DATA_DICTIONARY.csv", "HANDLING.txt"):
        assert (out / name).is_file(), name
    rankings = pd.read_csv(out / "rankings.csv")
    assert len(rankings) == 220
    assert sorted(rankings["rank"]) == list(range(1, 221))
    assert rankings["rank"].is_monotonic_increasing
    assert rankings["ward_code"].notna().all()
    import pyogrio

    layers = {name for name, _ in pyogrio.list_layers(out / "pli.gpkg")}
    assert {"lsoa", "wards", "priority_neighbourhoods", "micro_places"} <= layers
    assert (base / "maps" / "priority_localities.html").is_file()


def test_demo_says_simulated_everywhere(demo_run):
    base, _ = demo_run
    manifest = json.loads((base / "output" / "manifest.json").read_text())
    assert manifest["simulated"] is True and "SIMULATED" in manifest["simulated_note"]
    html = (base / "maps" / "priority_localities.html").read_text()
    assert "simulated" in html.lower()
    assert "MSOA" in html


def test_demo_upper_layer_is_the_real_2011_msoas(demo_run):
    base, _ = demo_run
    wards = gpd.read_file(base / "output" / "pli.gpkg", layer="wards")
    census = pd.read_csv(ROOT / "indicators" / "demo" / "croydon_census2011_population.csv")
    assert len(wards) == census["MSOA Code"].nunique() == 44
    assert set(wards["ward_code"]) == set(census["MSOA Code"])


def test_manifest_records_config_inputs_versions_and_seed(demo_run):
    base, _ = demo_run
    manifest = json.loads((base / "output" / "manifest.json").read_text())
    assert manifest["seed"] == 0
    assert manifest["config"]["area"]["name"] == "Croydon (demo)"
    assert any(k.endswith("croydon_lsoa11_bsc.geojson") for k in manifest["inputs"])
    assert sum("simulated-street.csv" in k for k in manifest["inputs"]) == 12
    assert all(len(v) == 64 for v in manifest["inputs"].values())
    assert manifest["row_counts"]["lsoa"] == 220
    assert manifest["packages"]["esda"] != "not installed"
    moran = manifest["clustering"]["moran"]
    # 999 is raised so FDR can reject among 220 LSOAs (10 n / alpha, pli.clustering.effective_permutations).
    assert manifest["clustering"]["permutations"] == 43_999 == moran["permutations"]
    assert moran["seed"] == 0 and moran["I"] > 0
    stability = manifest["clustering"]["seed_stability"]
    assert stability["seeds"] == [0, 1, 2, 3, 4] and len(stability["high_high_fdr"]) == 5
    assert manifest["clustering"]["gi_inference"] == "normal"
    assert verify_outputs(base / "output").current


def test_published_gi_bins_follow_the_normal_p_of_the_published_z(demo_run):
    from scipy import stats

    from pli.stats.fdr import benjamini_hochberg

    base, _ = demo_run
    r = pd.read_csv(base / "output" / "rankings.csv", index_col="lsoa_code")
    p = 2 * stats.norm.sf(r["gi_z"].abs())
    assert (abs(r["gi_p"] - p) <= 1e-4 * p + 1e-9).all()  # z and p are written to 6 significant digits
    for col, q in (("gi_bin", p), ("gi_bin_fdr", benjamini_hochberg(p))):
        level = pd.Series(q, index=r.index).map(lambda v: 3 if v <= 0.01 else 2 if v <= 0.05 else 1 if v <= 0.10 else 0)
        # A p right at a cut may round either way in the CSV; nowhere else may the bin disagree.
        near_cut = pd.Series(q, index=r.index).apply(lambda v: min(abs(v - c) for c in (0.01, 0.05, 0.10)) < 1e-5)
        expected = (r["gi_z"].apply(lambda z: (z > 0) - (z < 0)) * level)
        assert (r.loc[~near_cut, col] == expected[~near_cut]).all(), col


def test_same_seed_gives_byte_identical_tables(demo_run, tmp_path):
    base, _ = demo_run
    cfg = load_config(ROOT / "configs" / "croydon-demo.yml")
    run_index(cfg, out_dir=tmp_path / "output", maps_dir=None)
    for name in ("rankings.csv", "priority_neighbourhoods.csv", "priority_neighbourhoods.geojson",
                 "wards.csv", "patrol_plan.csv", "patrol_plan.geojson", "indicator_inputs.csv",
                 "DATA_DICTIONARY.csv", "HANDLING.txt", "pli.gpkg"):
        assert file_sha256(tmp_path / "output" / name) == file_sha256(base / "output" / name), name


def test_failed_run_leaves_previous_outputs_byte_identical(demo_run, tmp_path):
    base, _ = demo_run
    out = tmp_path / "output"
    shutil.copytree(base / "output", out)
    before = _hashes(out)
    # A copy of the demo data with one monthly crime file corrupted.
    data = tmp_path / "data"
    copy_demo_data(data)
    victim = sorted((data / "indicators" / "demo" / "police_uk").rglob("*.csv"))[-1]
    victim.write_text("this,is,not\na,police.uk,file\n")
    cfg = load_config(ROOT / "configs" / "croydon-demo.yml", data_dir=data)
    with pytest.raises(InputError, match="no column 'Month'"):
        run_index(cfg, out_dir=out, maps_dir=tmp_path / "maps")
    assert _hashes(out) == before
    assert not (tmp_path / "maps").exists() or not any((tmp_path / "maps").iterdir())


def test_cli_reports_user_errors_without_traceback(tmp_path):
    bad = tmp_path / "bad.yml"
    bad.write_text((ROOT / "configs" / "croydon-demo.yml").read_text().replace("window_months: 12", "window_month: 12"))
    proc = subprocess.run([sys.executable, "-m", "pli", "index", "--config", str(bad), "--out", str(tmp_path / "o")],
                          capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 2
    assert "did you mean 'window_months'" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert not (tmp_path / "o").exists()


@needs_shared
def test_open_data_ranks_all_220_lsoas_in_28_wards(open_run):
    base, run = open_run
    rankings = pd.read_csv(base / "output" / "rankings.csv")
    assert len(rankings) == 220 and rankings["lsoa_code"].is_unique
    assert rankings["ward_code"].notna().all()
    assert rankings["ward_code"].nunique() == 28
    wards = gpd.read_file(SHARED / "croydon_wards_2018.geojson")
    assert set(rankings["ward_code"]) == set(wards["GSS_CODE"])


@needs_shared
def test_open_data_crime_totals_survive_2021_to_2011_reconciliation(open_run):
    base, _ = open_run
    raw = pd.read_csv(base / "output" / "indicator_inputs.csv")
    mps = pd.read_csv(SHARED / "croydon_mps_lsoa_crime_2024-02_2026-02.csv")
    manifest = json.loads((base / "output" / "manifest.json").read_text())
    start, end = manifest["periods"]["violence_rate"].split(" to ")
    months = [c for c in mps.columns if c.isdigit() and start.replace("-", "") <= c <= end.replace("-", "")]
    assert len(months) == 12
    violence = mps.loc[mps["major_category"] == "VIOLENCE AGAINST THE PERSON", months].to_numpy().sum()
    robbery = mps.loc[mps["major_category"] == "ROBBERY", months].to_numpy().sum()
    assert raw["violence_rate_numerator"].sum() == violence
    assert raw["robbery_rate_numerator"].sum() == robbery
    # The five split 2011 LSOAs receive their 2021 children's crime.
    lookup = pd.read_csv(SHARED / "croydon_lsoa11_to_lsoa21_lookup.csv")
    split = lookup[lookup["CHGIND"] == "S"]
    parent = split["LSOA11CD"].iloc[0]
    children = split.loc[split["LSOA11CD"] == parent, "LSOA21CD"]
    expected = mps.loc[mps["lsoa_code"].isin(children) & (mps["major_category"] == "VIOLENCE AGAINST THE PERSON"),
                       months].to_numpy().sum()
    assert raw.set_index("lsoa_code").loc[parent, "violence_rate_numerator"] == expected


@needs_shared
def test_open_data_nine_disjoint_neighbourhoods(open_run):
    base, run = open_run
    nb = pd.read_csv(base / "output" / "priority_neighbourhoods.csv")
    assert list(nb["rank"]) == list(range(1, 10))
    codes = [c for s in nb["lsoa_codes"] for c in s.split(";")]
    assert len(codes) == len(set(codes))
    assert run.moran["I"] > 0


def test_point_level_outputs_carry_the_handling_marking(demo_run):
    base, _ = demo_run
    out = base / "output"
    plan = pd.read_csv(out / "patrol_plan.csv")
    assert set(plan["classification"]) == {"OFFICIAL-SENSITIVE: not for publication"}
    assert {"place_number", "place_rank", "lon", "lat", "visits_per_week", "officer_hours_trial"} <= set(plan.columns)
    totals = pd.read_csv(out / "patrol_totals.csv")
    assert set(totals["classification"]) == {"OFFICIAL-SENSITIVE: not for publication"}
    assert "patrol_plan.csv: OFFICIAL-SENSITIVE: not for publication" in (out / "HANDLING.txt").read_text()
    assert totals["neighbourhood"].iloc[-1] == "Area-wide"
    assert totals["officer_hours_per_week"].iloc[-1] == pytest.approx(plan["officer_hours_per_week"].sum())
    geo = json.loads((out / "patrol_plan.geojson").read_text())
    assert geo["classification"] == "OFFICIAL-SENSITIVE: not for publication"
    assert "OFFICIAL-SENSITIVE: not for publication" in (base / "maps" / "priority_localities.html").read_text()


@pytest.mark.parametrize("flags", [["-q", "index"], ["index", "-q"], ["index", "--quiet"]])
def test_quiet_is_accepted_before_or_after_the_command(tmp_path, flags):
    import subprocess
    import sys

    cmd, rest = flags, ["--out", str(tmp_path / "out"), "--no-maps"]
    proc = subprocess.run([sys.executable, "-m", "pli", *cmd, *rest], capture_output=True, text=True, cwd=ROOT,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert " INFO " not in proc.stderr  # quiet: warnings and errors only
    assert (tmp_path / "out" / "rankings.csv").is_file()


def test_verbose_is_accepted_after_the_command(demo_run):
    import subprocess
    import sys

    base, _ = demo_run
    proc = subprocess.run([sys.executable, "-m", "pli", "verify", str(base / "output"), "-v"], capture_output=True,
                          text=True, cwd=ROOT, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("outputs are current")
