"""pli uncertainty: the model reproduces the index, Sobol' indices have known answers, runs are seeded.

The demo config (real Croydon boundaries and population, simulated crime) is loaded once;
the real snapshot is used where marked ``shared``.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from pli.config import default_data_dir, load_config, parse_config
from pli.config.specs import ConfigError, UncertaintySpec
from pli.errors import InputError
from pli.uncertainty import run_uncertainty
from pli.uncertainty.factors import ChoiceSpace
from pli.uncertainty.model import build_model
from pli.uncertainty.sobol import sobol_design, sobol_indices
from pli.uncertainty.summary import matched_jaccard, rank_intervals

from conftest import SHARED_DATA

DEMO = default_data_dir() / "configs" / "croydon-demo.yml"
CONTRACT = {
    "lsoa_rank_intervals.csv": ["lsoa_code", "lsoa_name", "base_rank", "median_rank", "rank_p05", "rank_p95",
                                "p_top_n"],
    "neighbourhood_frequency.csv": ["neighbourhood", "name", "selection_frequency", "mean_jaccard"],
    "sobol.csv": ["output", "factor", "S1", "S1_conf", "ST", "ST_conf"],
}
# Every factor off: the runs must all be the configured index.
NOTHING_VARIES = dict(weights="off", normalisations=(), outliers=(), harm_schemes=(), window_ends=0,
                      min_score_quantile=(), min_population_spread=0.0)


@pytest.fixture(scope="module")
def cfg():
    return load_config(DEMO)


@pytest.fixture(scope="module")
def demo_model(cfg):
    return build_model(cfg, harm_schemes=("cchi2026", "counts"), window_ends=3)


def _base_index(cfg, model):
    from pli import index, presets

    data = model.inputs[(0, model.base.harm_scheme)]
    spec = presets.resolve_index_spec(cfg.index, raw=cfg.raw.get("index"))
    return index.build_index(data.values, cfg.indicators, spec, seed=cfg.seed, reference_values=data.reference)


def _check_base_run(cfg, model, read):
    from pli.priorities import select_neighbourhoods

    expected = _base_index(cfg, model)
    base = model(model.base)
    np.testing.assert_allclose(base.scores, expected.scores.to_numpy(), rtol=1e-12, atol=1e-12)
    assert (base.ranks == expected.rank.to_numpy()).all()
    lsoa = read["lsoa"].assign(score=base.scores)
    nb = select_neighbourhoods(lsoa, read["weights"], cfg.priorities, seed=cfg.seed)
    members = [sorted(str(codes).split(";")) for codes in nb.neighbourhoods["lsoa_codes"]]
    assert [sorted(model.codes[p]) for p in base.neighbourhoods] == members
    return base


def test_base_run_is_the_configured_index_and_neighbourhoods(cfg, demo_model):
    model, read = demo_model
    base = _check_base_run(cfg, model, read)
    assert len(base.neighbourhoods) == cfg.priorities.count


@pytest.mark.shared
def test_base_run_on_the_real_snapshot(tmp_path):
    if not (SHARED_DATA / "croydon_lsoa11_bgc.geojson").is_file():
        pytest.skip(f"real Croydon snapshot not found at {SHARED_DATA}")
    real = load_config(default_data_dir() / "configs" / "croydon-open-data.yml", data_dir=SHARED_DATA)
    model, read = build_model(real, harm_schemes=("cchi2026", "counts"), window_ends=2)
    base = _check_base_run(real, model, read)
    assert len(base.neighbourhoods) == 9
    # The earlier window is the same length, one month earlier.
    assert model.window_labels == ("2025-03 to 2026-02", "2025-02 to 2026-01")
    for name, (windowed, harmed) in model.depends_on.items():
        spec = next(s for s in real.indicators if s.name == name)
        assert windowed == (spec.source == "crime"), name
        assert harmed == spec.harm, name
    assert not np.array_equal(model(dataclasses.replace(model.base, window=1)).scores, base.scores)


def test_choices_reach_only_the_indicators_they_touch(cfg, demo_model):
    model, _ = demo_model
    by_source = {s.name: s for s in cfg.indicators}
    for name, (_, harmed) in model.depends_on.items():
        assert harmed == by_source[name].harm, name
    counts = dataclasses.replace(model.base, harm_scheme="counts")
    assert not np.array_equal(model(counts).scores, model(model.base).scores)


def test_windows_the_data_cannot_hold_are_dropped(demo_model):
    # The demo's simulated crime covers 12 months: no earlier 12-month window fits.
    model, _ = demo_model
    assert len(model.window_labels) == 1
    space = ChoiceSpace(model, UncertaintySpec(window_ends=3))
    assert "time_window" not in space.names()


def test_dirichlet_draws_centre_on_the_configured_weights(demo_model):
    model, _ = demo_model
    space = ChoiceSpace(model, UncertaintySpec(weight_concentration=40.0))
    rng = np.random.default_rng(0)
    draws = [space.decode(rng.random(space.dims)) for _ in range(2000)]
    ind = np.array([d.indicator_weights for d in draws])
    dom = np.array([d.domain_weights for d in draws])
    np.testing.assert_allclose(dom.sum(axis=1), 1.0)
    for d in model.domains:
        members = [i for i, s in enumerate(model.specs) if s.domain == d]
        np.testing.assert_allclose(ind[:, members].sum(axis=1), 1.0)
    np.testing.assert_allclose(ind.mean(axis=0), model.base.indicator_weights, atol=0.01)
    np.testing.assert_allclose(dom.mean(axis=0), model.base.domain_weights, atol=0.01)
    # Dirichlet(c w): variance w (1 - w) / (c + 1).
    w = np.asarray(model.base.domain_weights)
    np.testing.assert_allclose(dom.var(axis=0), w * (1 - w) / 41, rtol=0.15)
    counts = pd.Series([d.normalisation for d in draws]).value_counts(normalize=True)
    assert set(counts.index) == {"zscore", "minmax", "percentile"}
    assert counts.min() > 0.28


def test_uniform_weights_stay_within_the_spread(demo_model):
    model, _ = demo_model
    space = ChoiceSpace(model, UncertaintySpec(weights="uniform", weight_spread=0.25))
    for u in (np.zeros(space.dims), np.full(space.dims, 0.999999)):
        choices = space.decode(u)
        np.testing.assert_allclose(choices.domain_weights, model.base.domain_weights, atol=1e-6)


def test_sobol_wrapper_reproduces_the_ishigami_indices():
    problem = {"num_vars": 3, "names": ["x1", "x2", "x3"], "bounds": [[0.0, 1.0]] * 3}
    u = sobol_design(problem, 1024, seed=3)
    x = -np.pi + 2 * np.pi * u
    y = np.sin(x[:, 0]) + 7 * np.sin(x[:, 1]) ** 2 + 0.1 * x[:, 2] ** 4 * np.sin(x[:, 0])
    t = sobol_indices(problem, {"ishigami": y}, seed=3).set_index("factor")
    # Analytic values for a = 7, b = 0.1 (Ishigami and Homma 1990; Sobol' 1993).
    var = 0.5 + 7**2 / 8 + 0.1 * np.pi**4 / 5 + 0.1**2 * np.pi**8 / 18
    v1 = 0.5 * (1 + 0.1 * np.pi**4 / 5) ** 2
    v2 = 7**2 / 8
    v13 = 0.1**2 * np.pi**8 * (1 / 18 - 1 / 50)
    s1 = np.array([v1, v2, 0]) / var
    st = np.array([v1 + v13, v2, v13]) / var
    np.testing.assert_allclose(t["S1"].to_numpy(), s1, atol=0.04)
    np.testing.assert_allclose(t["ST"].to_numpy(), st, atol=0.04)
    assert (t["ST_conf"] > 0).all() and (t["ST_conf"] < 0.15).all()


def test_sobol_one_factor_that_decides_the_ranking_has_total_index_one():
    # A ranking of 50 areas decided by group "weights" (two variables); "dummy" changes nothing.
    problem = {"num_vars": 3, "names": ["w0", "w1", "dummy"], "bounds": [[0.0, 1.0]] * 3,
               "groups": ["weights", "weights", "dummy"]}
    u = sobol_design(problem, 256, seed=0)
    a, b = np.linspace(0, 1, 50), np.linspace(1, 0, 50) ** 2
    base = np.argsort(np.argsort(-(a + b)))
    shift = []
    for row in u:
        score = row[0] * a + (1 - row[0]) * b + 0.3 * row[1] * a
        shift.append(np.abs(np.argsort(np.argsort(-score)) - base)[:10].mean())
    t = sobol_indices(problem, {"shift": np.array(shift)}, seed=0).set_index("factor")
    assert t.loc["weights", "ST"] == pytest.approx(1.0, abs=0.05)
    assert t.loc["weights", "S1"] == pytest.approx(1.0, abs=0.1)
    assert t.loc["dummy", "ST"] == pytest.approx(0.0, abs=1e-12)


def test_matched_jaccard_is_one_to_one():
    base = [np.array([0, 1, 2]), np.array([3, 4])]
    # One run neighbourhood overlaps both base ones; it may match only one of them.
    got = matched_jaccard(base, [np.array([0, 1, 2, 3])], 6)
    assert got.tolist() == [0.75, 0.0]
    assert matched_jaccard(base, [], 6).tolist() == [0.0, 0.0]


def test_rank_intervals_are_ordered_run_values():
    codes = pd.Index([f"E{i}" for i in range(4)])
    rng = np.random.default_rng(1)
    ranks = np.array([rng.permutation(4) + 1 for _ in range(200)])
    t = rank_intervals(codes, pd.Series("x", index=codes), np.arange(1, 5), ranks, top_n=2)
    assert (t["rank_p05"] <= t["median_rank"]).all() and (t["median_rank"] <= t["rank_p95"]).all()
    assert set(t["rank_p05"]) | set(t["rank_p95"]) <= {1, 2, 3, 4}
    np.testing.assert_allclose(t["p_top_n"], (ranks <= 2).mean(axis=0))


def test_nothing_varied_gives_the_base_run_every_time(cfg, tmp_path):
    out = tmp_path / "u"
    run = run_uncertainty(cfg, out_dir=out, runs=6, sobol_samples=0, **NOTHING_VARIES)
    t = run.intervals
    assert (t["median_rank"] == t["base_rank"]).all()
    assert (t["rank_p05"] == t["base_rank"]).all() and (t["rank_p95"] == t["base_rank"]).all()
    assert (t["p_top_n"] == (t["base_rank"] <= 20)).all()
    assert (run.neighbourhoods["selection_frequency"] == 1).all()
    assert (run.neighbourhoods["mean_jaccard"] == 1).all()
    assert len(run.neighbourhoods) == cfg.priorities.count


def test_only_normalisation_varies_so_it_explains_everything(cfg, tmp_path):
    """The known answer: one factor varies, so its total index is 1 and the dummy's 0."""
    varied = {**NOTHING_VARIES, "normalisations": ("zscore", "minmax", "percentile")}
    run = run_uncertainty(cfg, out_dir=tmp_path / "u", runs=30, sobol_samples=64, **varied)
    s = run.sobol.set_index(["output", "factor"])
    assert set(run.sobol["factor"]) == {"normalisation", "dummy"}
    for output in ("top_n_rank_shift", "spearman_distance", "neighbourhood_mismatch"):
        assert s.loc[(output, "normalisation"), "ST"] == pytest.approx(1.0, abs=0.15)
        assert s.loc[(output, "dummy"), "ST"] == pytest.approx(0.0, abs=1e-9)
    mc = run.runs[run.runs["design"] == "monte_carlo"]
    assert set(mc["normalisation"]) == {"zscore", "minmax", "percentile"}
    assert mc["harm_scheme"].nunique() == 1 and mc["time_window"].nunique() == 1


def test_outputs_contract_verify_and_serial_equals_dask(cfg, tmp_path):
    """The CLI run (serial) and a LocalCluster run of 2 processes write the same bytes."""
    pytest.importorskip("distributed")
    from pli.cli import main

    serial, dask_out = tmp_path / "serial", tmp_path / "dask"
    assert main(["uncertainty", "--out", str(serial), "--runs", "12", "--sobol-samples", "2", "-q"]) == 0
    run = run_uncertainty(cfg, out_dir=dask_out, runs=12, sobol_samples=2, parallel="dask", workers=2)
    for name, columns in CONTRACT.items():
        frame = pd.read_csv(serial / name)
        assert list(frame.columns) == columns, name
        assert (serial / name).read_bytes() == (dask_out / name).read_bytes(), name
    assert (serial / "runs.csv").read_bytes() == (dask_out / "runs.csv").read_bytes()
    assert (serial / "rank_intervals_top30.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert len(run.runs) == 12 + 2 * (len(run.sobol["factor"].unique()) + 2)
    manifest = json.loads((serial / "manifest.json").read_text())
    assert manifest["role"] == "uncertainty"
    assert set(manifest["headline"]["neighbourhood_selection_frequency"]) == set(run.neighbourhoods["name"])
    assert main(["verify", str(serial)]) == 0
    (serial / "sobol.csv").write_text("tampered\n")
    assert main(["verify", str(serial)]) == 1


def test_refuses_a_folder_of_another_command(cfg, tmp_path):
    from pli import outputs

    out = tmp_path / "output"
    with outputs.OutputTransaction({"output": out}) as tx:  # a folder another pli command wrote
        outputs.write_json({"role": "track", "run_id": tx.run_id, "outputs": outputs.staged_hashes(tx)},
                           tx.path("output", outputs.MANIFEST_NAME))
        tx.commit()
    with pytest.raises(InputError, match="give it a folder of its own"):
        run_uncertainty(cfg, out_dir=out, runs=2, sobol_samples=0)


def test_map_page_escapes_names(demo_model):
    from pli.uncertainty.figures import uncertainty_page

    model, read = demo_model
    lsoa = read["boundaries"].lsoa.head(3)
    t = pd.DataFrame({"lsoa_code": lsoa.index, "lsoa_name": ["<script>alert(1)</script>", "A & B", "ok"],
                      "base_rank": [1, 2, 3], "median_rank": [1, 2, 3], "rank_p05": [1, 1, 2],
                      "rank_p95": [2, 3, 3], "p_top_n": [1.0, 0.5, 0.0]})
    html = uncertainty_page(t, lsoa, None, None, area="Area <b>", runs=10, top_n=2)
    assert "<script>alert(1)" not in html and "Area <b>" not in html
    # Escaped as text, then written into the page's GeoJSON with JSON's \u escapes.
    assert "\\u0026lt;script\\u0026gt;alert(1)" in html
    assert "Area \\u0026lt;b\\u0026gt;" in html


@pytest.mark.parametrize(
    ("section", "message"),
    [
        ({"sobol_samples": 100}, "uncertainty.sobol_samples: expected a power of 2"),
        ({"normalisations": ["zscore", "rank"]}, "uncertainty.normalisations: unknown 'rank'"),
        ({"harm_schemes": ["css"]}, "uncertainty.harm_schemes: unknown 'css'"),
        ({"min_score_quantile": [0.8, 0.7]}, "uncertainty.min_score_quantile: expected [low, high]"),
        ({"weights": "random"}, "uncertainty.weights: expected one of"),
        ({"runs": 0, "sobol_samples": 0}, "runs and sobol_samples are both 0"),
    ],
)
def test_bad_uncertainty_section_names_the_key(section, message):
    import yaml

    data = yaml.safe_load(DEMO.read_text())
    data["uncertainty"] = section
    with pytest.raises(ConfigError) as err:
        parse_config(data, data_dir=default_data_dir())
    assert message in str(err.value)


def test_overrides_are_checked_like_the_config(cfg, tmp_path):
    with pytest.raises(InputError, match="uncertainty.sobol_samples: expected a power of 2"):
        run_uncertainty(cfg, out_dir=tmp_path / "u", sobol_samples=48)
    assert not Path(tmp_path / "u").exists()


@pytest.mark.parametrize("weighting", ["pca", "equal"])
def test_base_run_matches_the_index_under_other_weightings(weighting):
    import yaml

    data = yaml.safe_load(DEMO.read_text())
    data.setdefault("index", {})["weighting"] = weighting
    other = parse_config(data, data_dir=default_data_dir())
    model, read = build_model(other)
    _check_base_run(other, model, read)
    assert model.base_weights["weight"].sum() == pytest.approx(1.0)


def test_too_many_windows_are_announced(cfg, caplog):
    import logging

    with caplog.at_level(logging.WARNING, logger="pli.uncertainty.model"):
        model, _ = build_model(cfg, window_ends=60)
    assert len(model.window_labels) == 1
    expected = "uncertainty.window_ends: 60 window(s) asked, 1 fit the data (source 'crime' holds no 12 months"
    assert expected in caplog.text
