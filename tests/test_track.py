"""pli track (issue 13): trend test, Gi*, emerging hot spot classes, series, the command."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from pli.config import ConfigError, load_config, parse_config, read_yaml
from pli.errors import InputError
from pli.track import classify_pattern, emerging_hot_spots, gi_star_z, mann_kendall, read_met_monthly, trend_table
from pli.track.command import run_track
from pli.track.series import period_label
from tests.conftest import ROOT, SHARED_DATA

# --- Mann-Kendall and Sen's slope -------------------------------------------------------


def test_mann_kendall_matches_hand_computed_values_without_ties():
    r = mann_kendall([1, 2, 3, 4, 5])
    assert r.s == 10 and r.var_s == pytest.approx(5 * 4 * 15 / 18)
    assert r.z == pytest.approx(9 / np.sqrt(300 / 18))
    assert r.p == pytest.approx(0.02749, abs=1e-5) and r.tau == 1.0


def test_mann_kendall_tie_correction_shrinks_the_variance():
    # S = 8; var = (5*4*15 - 2 * 2*1*9) / 18 = 264 / 18: two pairs of ties.
    r = mann_kendall([1, 1, 2, 2, 3])
    assert r.s == 8
    assert r.var_s == pytest.approx(264 / 18)
    assert r.p == pytest.approx(2 * stats.norm.sf(7 / np.sqrt(264 / 18)))
    assert r.tau == pytest.approx(8 / 10)


def test_sens_slope_equals_scipy_theilslopes_on_a_noisy_series():
    rng = np.random.default_rng(3)
    y = 0.7 * np.arange(40) + rng.normal(0, 5, 40)
    r = mann_kendall(y)
    assert r.slope == pytest.approx(stats.theilslopes(y, np.arange(40)).slope)
    # tau-a without ties is Kendall's tau against time.
    assert r.tau == pytest.approx(stats.kendalltau(np.arange(40), y).statistic)


def test_seasonal_mann_kendall_matches_hand_computed_values():
    from pli.track import seasonal_mann_kendall

    # Two seasons, each 1, 2, 3 (+9 in the second): S = 3 + 3, var = 2 * (3*2*11/18).
    r = seasonal_mann_kendall([1, 10, 2, 11, 3, 12], period=2)
    assert r.s == 6 and r.var_s == pytest.approx(2 * 66 / 18)
    assert r.p == pytest.approx(2 * stats.norm.sf(5 / np.sqrt(132 / 18)))
    assert r.tau == 1.0 and r.slope == pytest.approx(0.5)  # +1 a cycle of 2 slices


def test_seasonal_test_sees_no_trend_in_a_cycle_and_recovers_a_trend_under_it():
    from pli.track import seasonal_mann_kendall

    cycle = np.array([1, 1, 2, 2, 3, 3, 5, 8, 12, 16, 20, 24], dtype=float) * 10
    assert seasonal_mann_kendall(np.tile(cycle, 5), period=12).p == 1.0
    rng = np.random.default_rng(5)
    x = np.tile(cycle, 5) + 0.5 * np.arange(60) + rng.normal(0, 3, 60)
    r = seasonal_mann_kendall(x, period=12)
    assert r.p < 1e-6 and r.slope == pytest.approx(0.5, abs=0.05)
    # Plain Sen's slope is pulled by the cycle's within-year swings; the seasonal one is not.
    assert abs(mann_kendall(x).slope - 0.5) > abs(r.slope - 0.5)
    with pytest.raises(ValueError, match="two cycles"):
        seasonal_mann_kendall(x[:20], period=12)


def test_mann_kendall_refuses_short_or_missing_series():
    with pytest.raises(ValueError, match="3 or more"):
        mann_kendall([1, 2])
    with pytest.raises(ValueError, match="missing"):
        mann_kendall([1, np.nan, 3])


def test_trend_table_flags_rise_and_fall_after_fdr_and_leaves_noise():
    rng = np.random.default_rng(0)
    t = np.arange(60)
    wide = pd.DataFrame({"up": 10 + 0.5 * t + rng.normal(0, 2, 60), "down": 50 - 0.5 * t + rng.normal(0, 2, 60),
                         "flat": rng.normal(20, 2, 60)})
    out = trend_table(wide, alpha=0.05)
    assert out.loc["up", "direction"] == "up" and out.loc["down", "direction"] == "down"
    assert out.loc["flat", "direction"] == ""
    assert (out["q"] >= out["p"] - 1e-12).all()
    assert out.loc["up", "sen_slope"] == pytest.approx(0.5, abs=0.1)


# --- Gi* -------------------------------------------------------------------------------


def test_gi_star_z_matches_esda_on_a_lattice():
    esda = pytest.importorskip("esda")
    from libpysal.weights import lat2W

    w = lat2W(5, 5)
    rng = np.random.default_rng(1)
    y = rng.poisson(5, 25).astype(float)
    y[:6] += 10
    nb = [np.array(w.neighbors[i]) for i in range(25)]
    ours = gi_star_z(y, nb)
    ref = esda.G_Local(y, w, transform="B", star=True, permutations=0)
    np.testing.assert_allclose(ours, ref.Zs, rtol=1e-6)


# --- Emerging hot spot classes: one hand-built series per class ------------------------

_Z_UP = np.linspace(2, 6, 20)
_Z_FLAT = np.tile([3.0, 3.2], 10)
_Z_DOWN = np.linspace(6, 2, 20)
H, C, N = 1, -1, 0  # hot, cold, neither
CASES = {
    "new hot spot": ([N] * 19 + [H], _Z_FLAT),
    "consecutive hot spot": ([N] * 16 + [H] * 4, _Z_FLAT),
    "intensifying hot spot": ([H] * 20, _Z_UP),
    "persistent hot spot": ([N] + [H] * 19, _Z_FLAT),
    "diminishing hot spot": ([H] * 20, _Z_DOWN),
    "sporadic hot spot": ([N, H, N, N, H, N, H, N, N, N, H, N, N, H, N, N, N, N, N, H], _Z_FLAT),
    "oscillating hot spot": ([N, C, N, N, H, N, C, N, N, N, H, N, N, C, N, N, N, N, N, H], _Z_FLAT),
    "historical hot spot": ([H] * 18 + [N, N], _Z_FLAT),
    "no pattern": ([N, H, N, H] + [N] * 16, _Z_FLAT),
}


@pytest.mark.parametrize("label", list(CASES))
def test_emerging_class_hot(label):
    state, z = CASES[label]
    assert classify_pattern(np.array(state), z) == label


@pytest.mark.parametrize("label", [k for k in CASES if k != "no pattern"])
def test_emerging_class_cold_mirror(label):
    state, z = CASES[label]
    assert classify_pattern(-np.array(state), -z) == label.replace("hot", "cold")


def test_consecutive_needs_a_clean_history_and_a_run_of_two():
    # A hot spot before the final run makes it sporadic; a final run of one after a gap too.
    assert classify_pattern(np.array([N, H] + [N] * 14 + [H] * 4), _Z_FLAT) == "sporadic hot spot"
    assert classify_pattern(np.array([N] * 18 + [H, H]), _Z_FLAT) == "consecutive hot spot"


def test_emerging_hot_spots_finds_a_growing_cluster_on_a_lattice():
    from libpysal.weights import lat2W

    w = lat2W(6, 6)
    rng = np.random.default_rng(2)
    slices = 24
    values = rng.poisson(3, (slices, 36)).astype(float)
    corner = [0, 1, 6, 7]
    values[:, corner] += np.linspace(4, 30, slices)[:, None]   # grows: intensifying
    wide = pd.DataFrame(values, columns=[f"a{i}" for i in range(36)])
    nb = {f"a{i}": [f"a{j}" for j in w.neighbors[i]] for i in range(36)}
    res = emerging_hot_spots(wide, nb, alpha=0.05)
    frame = res.to_frame()
    assert frame.loc["a0", "pattern"] in ("intensifying hot spot", "persistent hot spot")
    assert frame.loc["a35", "pattern"] == "no pattern"
    assert res.counts().sum() == 36
    assert set(res.state.to_numpy().ravel()) <= {-1, 0, 1}


# --- series -----------------------------------------------------------------------------


def _ward_table(path: Path, cells: dict[str, list[str]]) -> Path:
    head = "WardName,WardCode,MajorText,MinorText,BoroughName," + ",".join(cells) + "\n"
    rows = [f"A,E05000001,BURGLARY,BURGLARY - RESIDENTIAL,X,{','.join(v[0] for v in cells.values())}",
            f"A,E05000001,ROBBERY,ROBBERY OF PERSONAL PROPERTY,X,{','.join(v[1] for v in cells.values())}"]
    path.write_text(head + "\n".join(rows) + "\n")
    return path


def test_read_met_monthly_reads_a_ward_table_long(tmp_path):
    p = _ward_table(tmp_path / "w.csv", {"201001": ["3", "1"], "201002": ["0", "2"]})
    long, key = read_met_monthly(p)
    assert key == "ward"
    assert long["n"].sum() == 6 and sorted(long["month"].unique()) == ["2010-01", "2010-02"]
    assert set(long["category"]) == {"BURGLARY/BURGLARY - RESIDENTIAL", "ROBBERY/ROBBERY OF PERSONAL PROPERTY"}


def test_read_met_monthly_refuses_suppressed_cells_and_wrong_layouts(tmp_path):
    p = _ward_table(tmp_path / "w.csv", {"201001": ["3", "*"], "201002": ["0", "2"]})
    with pytest.raises(InputError, match="not numbers.*'\\*'"):
        read_met_monthly(p)
    q = tmp_path / "x.csv"
    q.write_text("code,value\nA,1\n")
    with pytest.raises(InputError, match="WardCode"):
        read_met_monthly(q)


def test_stub_months_at_the_ends_are_left_out_but_a_quiet_month_inside_stays():
    from pli.track.series import _drop_partial_months

    months = ["2020-01", "2020-02", "2020-03", "2020-04", "2020-05"]
    long = pd.DataFrame({"code": "A", "category": "X/Y", "month": months, "n": [3.0, 100, 2, 100, 100]})
    kept = _drop_partial_months(long, "t")
    assert list(kept["month"]) == ["2020-02", "2020-03", "2020-04", "2020-05"]


def test_period_label_quarters():
    assert list(period_label(pd.Index(["2011-01", "2011-03", "2011-04", "2011-12"]), "quarter")) == [
        "2011-Q1", "2011-Q1", "2011-Q2", "2011-Q4"]


# --- config -----------------------------------------------------------------------------


def _demo_raw() -> dict:
    return read_yaml(ROOT / "configs" / "croydon-demo.yml")


def test_track_config_problems_are_listed_together():
    raw = _demo_raw()
    raw["track"] = {"series": [
        {"name": "a", "source": "crime", "path": "x.csv"},
        {"name": "a", "source": "nope"},
        {"name": "b", "path": "x.csv", "level": "grid", "alpha": 1.5},
    ]}
    with pytest.raises(ConfigError) as err:
        parse_config(raw, data_dir=ROOT)
    text = str(err.value)
    for part in ("exactly one of 'source'", "duplicate name 'a'", "unknown source 'nope'", "alpha",
                 "'grid' needs point records"):
        assert part in text


def test_track_config_names_the_allowed_trend_tests():
    raw = _demo_raw()
    raw["track"] = {"series": [{"name": "c", "source": "crime", "trend_test": "sen"}]}
    with pytest.raises(ConfigError, match="trend_test: expected one of 'mann_kendall', 'seasonal', got 'sen'"):
        parse_config(raw, data_dir=ROOT)


# --- the command ------------------------------------------------------------------------


def _demo_track_config(tmp_path: Path, series: list[dict]):
    import yaml

    raw = _demo_raw()
    raw["track"] = {"series": series}
    path = tmp_path / "track.yml"
    path.write_text(yaml.safe_dump(raw))
    return load_config(path, data_dir=ROOT)


def test_run_track_on_the_demo_writes_series_trends_classes_and_verifies(tmp_path):
    from pli.outputs import verify_outputs

    cfg = _demo_track_config(tmp_path, [
        {"name": "crime_ward", "source": "crime", "level": "ward", "period": "month"},
        {"name": "crime_grid", "source": "crime", "level": "grid", "cell_size_m": 1000, "period": "quarter"},
    ])
    out = tmp_path / "track-out"
    run = run_track(cfg, out_dir=out)
    for name in ("series.csv", "trends.csv", "changing_areas.csv", "emerging_hotspots.csv", "manifest.json"):
        assert (out / name).is_file()
    series = pd.read_csv(out / "series.csv")
    # Every record inside the area is counted once per series, in every slice and area.
    ward = series[series["series"] == "crime_ward"]
    assert ward.groupby("period").size().nunique() == 1
    assert int(ward["count"].sum()) == int(run.series[0].counts.to_numpy().sum())
    trends = pd.read_csv(out / "trends.csv")
    assert set(trends["measure"]) == {"count", "harm_days"}
    assert trends["q"].between(0, 1).all()
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["role"] == "track" and set(manifest["series"]) == {"crime_ward", "crime_grid"}
    assert verify_outputs(out).current


def test_run_track_refuses_an_index_output_folder(tmp_path):
    cfg = _demo_track_config(tmp_path, [{"name": "w", "source": "crime", "level": "ward"}])
    out = tmp_path / "output"
    out.mkdir()
    (out / "manifest.json").write_text(json.dumps({"pli_version": "x", "run_id": "r"}))
    (out / "rankings.csv").write_text("kept")
    with pytest.raises(InputError, match="holds a `pli index` run"):
        run_track(cfg, out_dir=out)
    assert (out / "rankings.csv").read_text() == "kept"


def test_run_track_without_a_track_section_says_what_to_add(tmp_path):
    cfg = load_config(ROOT / "configs" / "croydon-demo.yml")
    with pytest.raises(InputError, match="no 'track:' section"):
        run_track(cfg, out_dir=tmp_path / "t")


# --- real data --------------------------------------------------------------------------


@pytest.mark.skipif(not (SHARED_DATA / "croydon_mps_ward_crime_historical_2010-04_2024-02.csv").is_file(),
                    reason="needs the real Croydon snapshot in ../shared/data")
def test_real_ward_history_trends_and_classes(tmp_path):
    import yaml

    raw = read_yaml(ROOT / "configs" / "croydon-open-data.yml")
    raw["track"] = {"series": [s for s in raw["track"]["series"] if s["name"] == "ward_crime"]
                    + [{"name": "met_lsoa", "source": "crime", "level": "lsoa"}],
                    "rolling": {"enabled": False}}  # tests/test_track_rolling.py covers it
    path = tmp_path / "real.yml"
    path.write_text(yaml.safe_dump(raw))
    cfg = load_config(path, data_dir=SHARED_DATA)
    run = run_track(cfg, out_dir=tmp_path / "out")
    s = run.series[0]
    assert s.counts.shape == (167, 28)  # 2010-04 .. 2024-02, the 28 wards of 2018
    assert s.counts.index[0] == "2010-04" and s.counts.index[-1] == "2024-02"
    assert s.dropped == 0
    ward = run.trends[(run.trends["series"] == "ward_crime") & (run.trends["measure"] == "harm_days")]
    # Fairfield (the town centre) has the steepest rise in harm: significant after FDR
    # without the serial-correlation correction; the Hirsch-Slack covariance between
    # months (auto for a monthly seasonal test) inflates its variance several times over.
    top = ward.sort_values("sen_slope_per_year", ascending=False).iloc[0]
    assert top["area_name"] == "Fairfield" and top["autocorrelation"] == "hirsch_slack"
    assert top["significant_uncorrected"] and top["q_uncorrected"] < 1e-6
    assert top["variance_factor"] > 2 and top["p"] < 0.01
    assert (run.patterns["series"] == "ward_crime").sum() == 28
    # The Met LSOA table: its 2024-02 stub month left out, 2021 codes reconciled onto 220 LSOAs.
    lsoa = run.series[1]
    assert lsoa.counts.shape == (24, 220) and lsoa.counts.index[0] == "2024-03"
    # The index's nine neighbourhoods, recomputed: their harm is the sum of their LSOAs'.
    nbt = run.neighbourhood_trends
    assert len(nbt) == 2 * 9 and set(nbt["series"]) == {"met_lsoa"}
    pages = sorted(p.name for p in (tmp_path / "out" / "neighbourhoods").glob("*.html"))
    assert len(pages) == 10 and pages[0].startswith("01-")


def test_harm_chart_draws_dollar_names_as_written(tmp_path):
    from pli.track.charts import plot_harm_chart

    values = pd.Series(np.arange(30, dtype=float), index=[f"2020-{m:02d}" for m in range(1, 13)]
                       + [f"2021-{m:02d}" for m in range(1, 13)] + [f"2022-{m:02d}" for m in range(1, 7)])
    fig = plot_harm_chart(values, title="Price $5$ and $$ ward", period="month")
    assert fig.axes[0].get_title() == "Price $5$ and $$ ward"
    assert not fig.axes[0].title.get_parse_math()
    labels = [line.get_label() for line in fig.axes[0].get_lines()]
    assert any(label.startswith("Sen trend +12 a year") for label in labels)
    fig.savefig(tmp_path / "c.png")  # mathtext would fail to parse "$$"


def test_run_track_charts_are_listed_in_the_manifest(tmp_path):
    # Big grid cells keep the chart count (and the test) small: grids chart only changing cells.
    cfg = _demo_track_config(tmp_path, [{"name": "w", "source": "crime", "level": "grid", "cell_size_m": 4000}])
    out = tmp_path / "t"
    run = run_track(cfg, out_dir=out, charts=True)
    manifest = json.loads((out / "manifest.json").read_text())
    charts = sorted(k for k in manifest["outputs"] if k.startswith("output:charts/w/"))
    changing = run.trends[(run.trends["measure"] == "harm_days") & run.trends["significant"]]
    assert "output:charts/w/study_area.png" in charts
    assert len(charts) == 1 + min(len(changing), 30)


def test_cli_track_reports_a_missing_section_and_writes_nothing(tmp_path, capsys):
    from pli.cli import main

    code = main(["-q", "track", "--config", str(ROOT / "configs" / "croydon-demo.yml"), "--out", str(tmp_path / "t")])
    assert code == 2
    assert "no 'track:' section" in capsys.readouterr().err
    assert not (tmp_path / "t").exists()
