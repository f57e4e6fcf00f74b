"""pli evaluate: planted effects, displacement and pre-trends are recovered; placebo size holds."""

from __future__ import annotations

import json

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from shapely.geometry import box

from pli.evaluate import Design, EvaluationError, evaluate_panel, match_controls
from pli.evaluate.design import pre_features, read_ward_history, touching, treated_from_run
from pli.evaluate.displacement import weighted_displacement
from pli.evaluate.effects import did_log_ratio, fit_poisson_fe, placebo_test, pretrend_test

MONTHS = pd.period_range("2019-01", periods=36, freq="M")
START = pd.Period("2021-01", "M")


def _grid(side: int = 8) -> gpd.GeoSeries:
    """side x side square areas; codes a00.. row by row."""
    geoms = [box(c * 100, r * 100, (c + 1) * 100, (r + 1) * 100) for r in range(side) for c in range(side)]
    return gpd.GeoSeries(geoms, index=[f"a{i:02d}" for i in range(side * side)], crs="EPSG:27700")


def _panel(seed: int, *, effect: float = 1.0, spill: float = 1.0, trend: float = 0.0, side: int = 8,
           scale: float = 1.0):
    """Poisson monthly counts on a grid with a 2x2 treated block in the middle.

    ``effect`` multiplies treated post-period rates, ``spill`` the buffer ring's, ``trend``
    adds a log-linear rise per month to the treated areas before the start only.
    """
    rng = np.random.default_rng(seed)
    geoms = _grid(side)
    mid = side // 2
    treated = [f"a{r * side + c:02d}" for r in (mid - 1, mid) for c in (mid - 1, mid)]
    buffer = touching(geoms, treated)
    base = rng.uniform(30, 60, len(geoms)) * scale
    lam = np.repeat(base[:, None], len(MONTHS), axis=1)
    post = np.array([m >= START for m in MONTHS])
    rel = np.array([(m - START).n for m in MONTHS], dtype=float)
    t_rows = geoms.index.isin(treated)
    b_rows = geoms.index.isin(buffer)
    lam[np.ix_(t_rows, ~post)] *= np.exp(trend * rel[~post])
    lam[np.ix_(t_rows, post)] *= effect
    lam[np.ix_(b_rows, post)] *= spill
    series = pd.DataFrame(rng.poisson(lam).astype(float), index=geoms.index, columns=MONTHS)
    return series, lam, geoms, treated, buffer


def _design(series, treated, buffer, per=3):
    f = pre_features(series, START, pre_months=24)
    return match_controls(f, {"centre": treated}, per_treated=per, exclude=buffer, buffers={"centre": buffer})


def test_buffer_is_the_ring_of_touching_areas():
    geoms = _grid(8)
    ring = touching(geoms, ["a27", "a28", "a35", "a36"])
    assert len(ring) == 12  # a 4x4 block minus its 2x2 centre
    assert not {"a27", "a28", "a35", "a36"} & set(ring)


def test_planted_effect_is_recovered():
    series, lam, _, treated, buffer = _panel(1, effect=0.7)
    ev = evaluate_panel(series, _design(series, treated, buffer), start=START, permutations=499, seed=0)
    row = ev.effects.iloc[0]
    assert row["rate_ratio"] == pytest.approx(0.7, abs=0.04)
    assert row["ci_low"] < 0.7 < row["ci_high"]
    assert row["p_placebo"] <= 0.01  # 4 treated, 12 controls: 1,820 possible assignments
    assert row["pretrend_p"] > 0.05 and row["pretrend_slope_p"] > 0.05
    lags = ev.event_study[ev.event_study["kind"] == "lag"]
    assert (lags["rate_ratio"] < 0.85).all()


def test_no_effect_is_rarely_significant_by_placebo():
    # Over 20 null panels: estimates centre on 1 and the placebo test rarely rejects. (The
    # clustered interval excludes 1 about twice as often as it should with 4 treated
    # areas, which is why the report leads with the placebo p-value.)
    rows = []
    for seed in range(20):
        series, _, _, treated, buffer = _panel(100 + seed, effect=1.0)
        ev = evaluate_panel(series, _design(series, treated, buffer), start=START, permutations=199, seed=seed)
        rows.append(ev.effects.iloc[0])
    table = pd.DataFrame(rows)
    assert abs(np.log(table["rate_ratio"]).mean()) < 0.02
    assert (table["p_placebo"] <= 0.05).sum() <= 3


def test_planted_displacement_gives_the_expected_wdq():
    # WDQ is a ratio of differences, so noisy; ten times the counts keep the check sharp.
    series, lam, _, treated, buffer = _panel(3, effect=0.6, spill=1.25, scale=10)
    design = _design(series, treated, buffer)
    row = evaluate_panel(series, design, start=START, permutations=99).effects.iloc[0]
    pre = np.array([m < START for m in MONTHS])
    idx = {c: i for i, c in enumerate(series.index)}

    def total(codes, cols):
        return lam[[idx[c] for c in codes]][:, cols].sum()

    c = design.controls["centre"]
    expected = weighted_displacement(
        r_before=total(treated, pre), r_after=total(treated, ~pre), d_before=total(buffer, pre),
        d_after=total(buffer, ~pre), c_before=total(c, pre), c_after=total(c, ~pre))
    assert expected.wdq < 0
    assert row["wdq"] == pytest.approx(expected.wdq, rel=0.1)
    assert row["wdq_reading"].startswith("displacement")
    assert row["buffer_post"] / row["buffer_pre"] > row["control_post"] / row["control_pre"]


def test_wdq_readings_follow_bowers_and_johnson():
    base = dict(r_before=100, r_after=70, c_before=1000, c_after=1000)
    assert weighted_displacement(d_before=100, d_after=80, **base).reading.startswith("diffusion of benefits")
    assert weighted_displacement(d_before=100, d_after=150, **base).wdq < -1
    no_success = weighted_displacement(r_before=100, r_after=120, d_before=100, d_after=100, c_before=1000,
                                       c_after=1000)
    assert no_success.reading.startswith("not applicable")
    # Total net effect: 30 fewer in the treated area, 20 more in the buffer = 10 prevented.
    assert weighted_displacement(d_before=100, d_after=120, **base).total_net_effect == pytest.approx(10)


def test_planted_pre_trend_is_flagged():
    series, _, _, treated, buffer = _panel(4, effect=1.0, trend=0.02)
    # A fixed control list: matching on trend would pick controls that hide the planted one.
    controls = [c for c in series.index if c not in treated and c not in buffer][:16]
    design = match_controls(pre_features(series, START, pre_months=24), {"centre": treated}, given=controls,
                            buffers={"centre": buffer})
    ev = evaluate_panel(series, design, start=START, permutations=999)
    assert ev.effects.iloc[0]["pretrend_p"] <= 0.01
    # 2% a month planted = 0.24 a year on the log scale.
    assert ev.effects.iloc[0]["pretrend_slope_per_year"] == pytest.approx(0.24, abs=0.05)
    assert ev.effects.iloc[0]["pretrend_slope_p"] < 0.01
    leads = ev.event_study[ev.event_study["kind"] == "lead"].sort_values("bin")
    assert leads["rate_ratio"].iloc[0] < leads["rate_ratio"].iloc[-1]


def test_matching_picks_similar_areas_without_replacement():
    series, _, _, treated, buffer = _panel(5)
    design = _design(series, treated, buffer, per=3)
    chosen = design.controls["centre"]
    assert len(chosen) == len(set(chosen)) == 12
    assert not set(chosen) & (set(buffer) | set(treated))
    f = pre_features(series, START, pre_months=24)
    others = f.drop(index=list(treated) + list(buffer) + list(chosen))
    # Matched controls sit closer in pre-period level to the treated areas than the rest.
    t_level = f.loc[treated, "level"].mean()
    assert abs(f.loc[list(chosen), "level"] - t_level).mean() < abs(others["level"] - t_level).mean()
    assert set(design.matches.columns) >= {"group", "treated", "control", "distance", "treated_level"}


def test_poisson_fe_matches_the_closed_form_on_two_periods():
    rng = np.random.default_rng(0)
    y = rng.poisson(40, size=(10, 2)).astype(float)
    treated = np.arange(10) < 4
    area, month = np.repeat(np.arange(10), 2), np.tile([0, 1], 10)
    d = pd.DataFrame({"did": (treated[area] & (month == 1)).astype(float)})
    fit = fit_poisson_fe(y.ravel(), area, month, d)
    assert fit.params["did"] == pytest.approx(float(did_log_ratio(y[:, 0], y[:, 1], treated)), abs=1e-8)


def test_placebo_false_positive_rate_is_near_alpha():
    # No effect anywhere; the treated areas are a random choice. At alpha 0.05 the test
    # should reject about 5% of the time (1,000 data sets, so 3-8% is a loose band).
    rejections = 0
    n_sets = 1000
    for seed in range(n_sets):
        rng = np.random.default_rng(seed)
        base = rng.uniform(10, 80, 24)
        pre = rng.poisson(base * 12).astype(float)
        post = rng.poisson(base * 6 * rng.lognormal(0, 0.15, 24)).astype(float)
        treated = np.zeros(24, dtype=bool)
        treated[rng.choice(24, 4, replace=False)] = True
        rejections += placebo_test(pre, post, treated, permutations=199, seed=seed).p_value <= 0.05
    assert 0.03 <= rejections / n_sets <= 0.08


def test_pretrend_tests_keep_their_size_on_sparse_null_panels():
    # Few areas, small counts, 12 baseline bins: where a clustered Wald test of the leads
    # rejects nearly always, the permutation tests should reject about 5% of the time.
    dep = slope = 0
    n_sets = 400
    for seed in range(n_sets):
        rng = np.random.default_rng(seed)
        lam = rng.gamma(4, 2.0, 12)[:, None] * 3  # ~6 a quarter per area
        bins = rng.poisson(np.repeat(lam, 12, axis=1)).astype(float)
        treated = np.arange(12) < 3
        r = pretrend_test(bins, treated, permutations=199, seed=seed)
        dep += r.departure_p <= 0.05
        slope += r.slope_p <= 0.05
    assert 0.02 <= dep / n_sets <= 0.09
    assert 0.02 <= slope / n_sets <= 0.09


def test_too_few_controls_and_unknown_areas_are_refused():
    series, _, _, treated, buffer = _panel(6, side=4)
    f = pre_features(series, START, pre_months=24)
    with pytest.raises(EvaluationError, match="candidate controls"):
        match_controls(f, {"g": treated}, per_treated=3, exclude=buffer)
    with pytest.raises(EvaluationError, match="not in the monthly series"):
        match_controls(f, {"g": ["nowhere"]})
    with pytest.raises(EvaluationError, match="also treated"):
        match_controls(f, {"g": treated}, given=[treated[0]])


def test_ward_history_reader_weights_and_filters(tmp_path):
    path = tmp_path / "wards.csv"
    path.write_text(
        "wardname,wardcode,majortext,minortext,lookup_boroughname,202001,202002\n"
        "A,W1,ROBBERY,ROBBERY OF PERSONAL PROPERTY,X,2,1\n"
        "A,W1,BURGLARY,DOMESTIC BURGLARY,X,1,0\n"
        "B,W2,ROBBERY,ROBBERY OF PERSONAL PROPERTY,X,0,3\n", encoding="utf-8")
    counts = read_ward_history(path)
    assert counts.loc["W1"].tolist() == [3.0, 1.0]
    assert str(counts.columns[1]) == "2020-02"
    harm = read_ward_history(path, weights={"ROBBERY/ROBBERY OF PERSONAL PROPERTY": 10.0,
                                            "BURGLARY/DOMESTIC BURGLARY": 2.0})
    assert harm.loc["W1"].tolist() == [22.0, 10.0]
    assert read_ward_history(path, categories=["robbery"]).loc["W1"].tolist() == [2.0, 1.0]
    with pytest.raises(EvaluationError, match="no harm weight"):
        read_ward_history(path, weights={})


def test_treated_from_run_maps_neighbourhoods_to_wards_without_overlap(tmp_path):
    (tmp_path / "priority_neighbourhoods.csv").write_text(
        "rank,name,lsoa_codes\n1,North,L1;L2\n2,South,L3;L4\n", encoding="utf-8")
    ward_of = {"L1": "W1", "L2": "W2", "L3": "W2", "L4": "W3"}
    assert treated_from_run(tmp_path, level="lsoa") == {"North": ("L1", "L2"), "South": ("L3", "L4")}
    assert treated_from_run(tmp_path, level="ward", ward_of=ward_of) == {"North": ("W1", "W2"), "South": ("W3",)}


def test_cli_evaluate_writes_effects_charts_page_and_manifest(tmp_path, monkeypatch):
    """End to end on the demo config with a synthetic ward history (the demo has no months)."""
    from pli.cli import main
    from pli.config import default_data_dir, load_config

    root = default_data_dir()
    cfg = load_config(root / "configs" / "croydon-demo.yml")
    from pli.boundaries import load_boundaries

    wards = load_boundaries(cfg).wards
    rng = np.random.default_rng(0)
    months = [f"{m.year}{m.month:02d}" for m in pd.period_range("2018-01", periods=30, freq="M")]
    rows = []
    for code in wards.index:
        lam = rng.uniform(20, 50)
        rows.append({"wardname": f"Ward $x$ <{code}>", "wardcode": code, "majortext": "ROBBERY",
                     "minortext": "ROBBERY OF PERSONAL PROPERTY", "lookup_boroughname": "Croydon",
                     **{m: rng.poisson(lam) for m in months}})
    history = tmp_path / "history.csv"
    pd.DataFrame(rows).to_csv(history, index=False)
    treated = list(wards.index[:1])
    text = (root / "configs" / "croydon-demo.yml").read_text(encoding="utf-8")
    text += (f"\nallow_outside_data_dir: true\nevaluate:\n  ward_history: {history}\n"
             "  start_month: '2019-07'\n  pre_months: 12\n"
             f"  permutations: 99\n  controls_per_treated: 2\n  treated: {{'Group <b>$1$': [{treated[0]}]}}\n")
    (tmp_path / "eval.yml").write_text(text, encoding="utf-8")
    out = tmp_path / "out"
    assert main(["-q", "evaluate", "--config", str(tmp_path / "eval.yml"), "--data-dir", str(root),
                 "--out", str(out)]) == 0
    folder = out / "evaluation"
    effects = pd.read_csv(folder / "effects.csv")
    assert effects["group"].tolist() == ["Group <b>$1$"]
    assert effects["n_controls"].iloc[0] == 2
    page = (folder / "evaluation.html").read_text(encoding="utf-8")
    assert "<b>$1$" not in page and "&lt;b&gt;" in page
    assert "cannot tell you" in page
    assert f"{wards.loc[treated[0], 'ward_name']} ({treated[0]})" in page  # names, not only codes
    assert len(list(folder.glob("*.png"))) == 1
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["command"] == "pli evaluate"
    assert set(manifest["outputs"]) >= {"evaluation:effects.csv", "evaluation:evaluation.html"}
    assert any(k.endswith("history.csv") for k in manifest["inputs"])


def test_config_checks_for_evaluate():
    from pli.config import ConfigError, default_data_dir, load_config
    from pli.config.parsing import parse_config
    from pli.config.yaml_reading import read_yaml

    raw = read_yaml(default_data_dir() / "configs" / "croydon-demo.yml")
    raw["evaluate"] = {"start_month": "2019-13", "source": "nope", "ward_history": "x.csv", "level": "lsoa",
                       "permutations": 5}
    with pytest.raises(ConfigError) as err:
        parse_config(raw)
    text = str(err.value)
    for part in ("exactly one of", "level", "unknown source 'nope'", "YYYY-MM", "permutations"):
        assert part in text
    assert load_config(default_data_dir() / "configs" / "croydon-demo.yml").evaluate is None
    assert Design  # re-exported for users building designs by hand


def test_verify_treats_a_nested_evaluation_folder_as_its_own_output(tmp_path):
    from pli.outputs import _run_files

    (tmp_path / "rankings.csv").write_text("x\n", encoding="utf-8")
    (tmp_path / "evaluation").mkdir()
    (tmp_path / "evaluation" / "effects.csv").write_text("x\n", encoding="utf-8")
    assert _run_files(tmp_path) == {"rankings.csv", "evaluation/effects.csv"}
    (tmp_path / "evaluation" / "manifest.json").write_text("{}", encoding="utf-8")
    assert _run_files(tmp_path) == {"rankings.csv"}
