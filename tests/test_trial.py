"""``pli trial``: randomisation, power by simulation and the crossover schedule.

On the demo run (its patrol places and their police.uk-format points) and on planted counts.
"""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from pli.cli import main
from pli.config import ConfigError, parse_config
from pli.errors import InputError
from pli.pipeline import run_index
from pli.trial import (
    allocate_blocks,
    allocate_pairs,
    crossover_schedule,
    design_trial,
    monthly_counts,
    power_curve,
    read_places,
    simulate_power,
)

ROOT = Path(__file__).resolve().parents[1]
DEMO = yaml.safe_load((ROOT / "configs" / "croydon-demo.yml").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("trial") / "run"
    cfg = parse_config(copy.deepcopy(DEMO), data_dir=ROOT)
    run_index(cfg, out_dir=out, maps_dir=None, seed=0)
    return cfg, out


@pytest.fixture(scope="module")
def demo_trial(demo_run):
    cfg, out = demo_run
    return design_trial(cfg, out, places="plan", design="pairs", months=(6,), simulations=40, permutations=49,
                        seed=3)


def planted_counts(n_places: int = 40, months: int = 12, seed: int = 0, dispersion: float = 3.0) -> pd.DataFrame:
    """Over-dispersed monthly counts (negative binomial, size ``dispersion``) of places with means 1 to 12."""
    rng = np.random.default_rng(seed)
    mean = np.geomspace(1, 12, n_places)
    p = dispersion / (dispersion + mean)
    counts = rng.negative_binomial(dispersion, p[:, None], size=(n_places, months))
    return pd.DataFrame(counts, index=[f"p{i:02d}" for i in range(n_places)])


# --- places and counts -------------------------------------------------------------------


def test_monthly_counts_add_up_to_the_plan_counts(demo_run, demo_trial):
    _, out = demo_run
    plan = pd.read_csv(out / "patrol_plan.csv").drop_duplicates("place_id").set_index("place_id")
    totals = demo_trial.counts.sum(axis=1)
    assert demo_trial.counts.shape[1] == 12
    assert (totals == plan["count"].reindex(totals.index)).all()


def test_lsoa_places_are_the_top_of_the_rankings(demo_run):
    cfg, out = demo_run
    places = read_places(out, source="lsoa", top=12)
    rankings = pd.read_csv(out / "rankings.csv")
    assert places["place_id"].tolist() == rankings.sort_values("rank")["lsoa_code"].head(12).tolist()
    trial = design_trial(cfg, out, places="lsoa", top=12, design="blocks", months=(3,), simulations=20,
                         permutations=19)
    points = trial.counts.sum(axis=1)
    assert (points > 0).all() and len(trial.allocation.allocation) == 12


def test_top_cells_are_the_busiest_and_counted_in_full(demo_run):
    cfg, out = demo_run
    trial = design_trial(cfg, out, places="cells", top=16, months=(3,), simulations=10, permutations=9)
    totals = trial.counts.sum(axis=1)
    assert len(totals) == 16 and totals.is_monotonic_decreasing
    # No cell outside the chosen 16 has more records than the least busy chosen one.
    from pli.patrols import select_points
    from pli.trial import top_cells

    points = select_points(trial_points(cfg), categories=list(cfg.patrols.categories))
    wider = top_cells(points, n=40, cell_size_m=cfg.patrols.cell_size_m).set_index("place_id")["count"]
    assert (wider.drop(totals.index) <= totals.min()).all()
    assert (wider.reindex(totals.index) == totals).all()


def trial_points(cfg):
    from pli.boundaries import load_boundaries
    from pli.indicators import load_source

    lsoa = load_boundaries(cfg).lsoa
    return load_source(cfg.patrols.source, cfg.sources[cfg.patrols.source], resolve=cfg.resolve, lsoa=lsoa).points


def test_a_run_without_a_patrol_plan_is_refused(demo_run, tmp_path):
    cfg, _ = demo_run
    with pytest.raises(InputError, match="no patrol plan in this run folder"):
        design_trial(cfg, tmp_path, places="plan")


def test_snap_place_ids_are_refused_with_a_reason():
    from pli.examples import clustered_points

    points, _ = clustered_points()
    with pytest.raises(InputError, match="not grid cell ids.*snap"):
        monthly_counts(points, ["S-530600-160600", "G250-530500-160500"])


# --- randomisation -------------------------------------------------------------------------


def test_pairs_are_balanced_and_reproducible(demo_trial):
    harm = demo_trial.counts.sum(axis=1).astype(float)
    a, b, c = allocate_pairs(harm, seed=7), allocate_pairs(harm, seed=7), allocate_pairs(harm, seed=8)
    pd.testing.assert_frame_equal(a.allocation, b.allocation)
    assert not a.allocation["arm"].equals(c.allocation["arm"])
    assert (a.allocation.groupby("group")["arm"].apply(sorted).map(tuple) == ("control", "treated")).all()
    assert len(a.excluded) == len(harm) % 2


def test_pairs_are_really_matched(demo_trial):
    harm = demo_trial.counts.sum(axis=1).astype(float)
    a = allocate_pairs(harm, seed=0).allocation
    gap = a.groupby("group")["pre_harm"].agg(lambda s: s.max() - s.min())
    # Random pairs would differ by about the mean absolute difference of two places.
    values = harm.loc[a.index].to_numpy()
    random_gap = np.abs(values[:, None] - values[None, :]).mean()
    assert gap.mean() < 0.2 * random_gap
    bal = a.groupby("arm")["pre_harm"].mean()
    assert abs(bal["treated"] - bal["control"]) <= 0.05 * bal.mean()


def test_blocks_treat_half_of_every_neighbourhood(demo_trial):
    harm = demo_trial.counts.sum(axis=1).astype(float)
    blocks = demo_trial.places["neighbourhood"].reindex(harm.index)
    a = allocate_blocks(harm, blocks, seed=1)
    b = allocate_blocks(harm, blocks, seed=1)
    pd.testing.assert_frame_equal(a.allocation, b.allocation)
    assert not a.allocation["arm"].equals(allocate_blocks(harm, blocks, seed=2).allocation["arm"])
    arms = a.allocation["arm"]
    per_block = ((arms == "treated").astype(int) - (arms == "control").astype(int)).groupby(a.allocation["group"]).sum()
    assert per_block.abs().max() <= 1
    assert abs(int(per_block.sum())) <= 1
    assert set(a.allocation["group"]) == set(blocks)


def test_too_few_places_are_refused():
    with pytest.raises(InputError, match="at least 2 places"):
        allocate_pairs(pd.Series([3.0], index=["a"]))


# --- power -----------------------------------------------------------------------------------


def test_power_is_alpha_without_an_effect():
    counts = planted_counts(dispersion=1.5)  # strongly over-dispersed: a Poisson test would over-reject
    design = allocate_pairs(counts.sum(axis=1), seed=0)
    size = simulate_power(counts, design, effect=0.0, months=6, simulations=600, permutations=99, seed=1)
    assert abs(size - 0.05) < 3 * np.sqrt(0.05 * 0.95 / 600)


def test_power_rises_with_effect_and_length():
    counts = planted_counts()
    design = allocate_pairs(counts.sum(axis=1), seed=0)
    curve = power_curve(counts, design, effects=(0.0, 0.15, 0.3, 0.5), months=(3, 12), target_effect=0.3,
                        length_grid=(1, 3, 6, 12), simulations=150, permutations=99, seed=2)
    table = curve.table.set_index(["months", "effect"])["power"]
    for m in (3, 12):
        assert table[(m, 0.0)] < table[(m, 0.15)] < table[(m, 0.3)] <= table[(m, 0.5)]
    assert table[(12, 0.15)] > table[(3, 0.15)] + 0.1
    assert table[(12, 0.5)] > 0.9
    assert curve.detectable_effect[12] < curve.detectable_effect[3]
    assert curve.length_needed is not None and 1 < curve.length_needed <= 12


def test_power_is_reproducible_on_its_seed():
    counts = planted_counts(n_places=20)
    design = allocate_pairs(counts.sum(axis=1), seed=0)
    kw = dict(effect=0.3, months=6, simulations=50, permutations=49)
    assert simulate_power(counts, design, seed=4, **kw) == simulate_power(counts, design, seed=4, **kw)


def test_power_checks_its_inputs():
    counts = planted_counts(n_places=10)
    design = allocate_pairs(counts.sum(axis=1), seed=0)
    with pytest.raises(InputError, match="effect"):
        simulate_power(counts, design, effect=1.2, months=6)
    with pytest.raises(InputError, match="at least 2 months"):
        simulate_power(counts.iloc[:, :1], design, effect=0.2, months=6)


# --- crossover -------------------------------------------------------------------------------


@pytest.mark.parametrize("period, washout", [(1, 1), (2, 1), (1, 2), (2, 0)])
def test_crossover_respects_the_washout(period, washout):
    places = [f"p{i}" for i in range(9)]
    s = crossover_schedule(places, weeks=14, period_weeks=period, washout_weeks=washout, seed=5)
    assert len(s) == 9 * 14
    for _, weeks in s.sort_values("week").groupby("place_id"):
        arms = weeks["arm"].tolist()
        analysed = [(w, a) for w, a in zip(weeks["week"], arms) if a != "washout"]
        for (w1, a1), (w2, a2) in zip(analysed, analysed[1:]):
            if a1 != a2:
                assert w2 - w1 - 1 >= washout  # at least the washout between a switch of arm
        runs = pd.Series(arms).ne(pd.Series(arms).shift()).cumsum()
        for _, run in pd.Series(arms).groupby(runs):
            if run.iloc[0] != "washout":
                assert len(run) <= period or washout == 0
    arm = s["arm"]
    difference = ((arm == "treated").astype(int) - (arm == "control").astype(int)).groupby(s["week"]).sum()
    assert difference.abs().max() <= 1  # every analysed week has both arms, balanced
    assert s.equals(crossover_schedule(places, weeks=14, period_weeks=period, washout_weeks=washout, seed=5))


def test_crossover_power_is_alpha_without_an_effect_and_rises_with_effect_and_length():
    from pli.trial import simulate_crossover_power

    counts = planted_counts(n_places=30, dispersion=1.5)
    kw = dict(simulations=400, permutations=99, seed=3)
    size = simulate_crossover_power(counts, effect=0.0, weeks=8, **kw)
    assert abs(size - 0.05) < 3 * np.sqrt(0.05 * 0.95 / 400)
    small, large = (simulate_crossover_power(counts, effect=e, weeks=8, **kw) for e in (0.2, 0.5))
    longer = simulate_crossover_power(counts, effect=0.2, weeks=24, **kw)
    assert size < small < large and longer > small + 0.1


# --- command line and files ----------------------------------------------------------------


def test_cli_writes_a_reproducible_design(demo_run, tmp_path, capsys):
    _, out = demo_run
    args = ["-q", "trial", str(out), "--design", "crossover", "--months", "3,6", "--simulations", "30", "--seed", "11"]
    assert main([*args, "--out", str(tmp_path / "t1")]) == 0
    assert main([*args, "--out", str(tmp_path / "t2")]) == 0
    assert main([*args, "--out", str(tmp_path / "t2")]) == 0  # a trial folder may be replaced by the next design
    names = {"allocation.csv", "pre_period_counts.csv", "power_curve.csv", "power_curve.png",
             "crossover_schedule.csv", "trial.html", "manifest.json"}
    assert names <= {p.name for p in (tmp_path / "t1").iterdir()}
    for name in ("allocation.csv", "crossover_schedule.csv", "power_curve.csv", "trial.html"):
        assert (tmp_path / "t1" / name).read_bytes() == (tmp_path / "t2" / name).read_bytes(), name
    allocation = pd.read_csv(tmp_path / "t1" / "allocation.csv")
    assert set(allocation["classification"]) == {"OFFICIAL-SENSITIVE: not for publication"}
    assert "allocation.csv: OFFICIAL-SENSITIVE" in (tmp_path / "t1" / "HANDLING.txt").read_text()
    arms = allocation["arm"].value_counts()
    assert abs(arms["treated"] - arms["control"]) <= 1  # crossover: every place, half start treated
    assert "detectable reduction" in capsys.readouterr().out


def test_cli_refuses_bad_options(demo_run, tmp_path):
    _, out = demo_run
    assert main(["-q", "trial", str(out), "--effect", "1.5", "--out", str(tmp_path / "t")]) == 2
    assert not (tmp_path / "t").exists()


def test_names_on_the_map_are_escaped(demo_run, tmp_path):
    cfg, out = demo_run
    run = tmp_path / "run"
    run.mkdir()
    plan = pd.read_csv(out / "patrol_plan.csv")
    plan["neighbourhood"] = "<script>alert(1)</script> & co"
    (run / "patrol_plan.csv").write_text(plan.to_csv(index=False), encoding="utf-8")
    from pli.trial import trial_page

    trial = design_trial(cfg, run, places="plan", design="blocks", months=(3,), simulations=10, permutations=9)
    html = trial_page(trial)
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;" in html


def test_config_trial_section_is_checked():
    raw = copy.deepcopy(DEMO)
    raw["trial"] = {"effect": 1.5, "months": [0, 6], "design": "pairs"}
    with pytest.raises(ConfigError) as err:
        parse_config(raw, data_dir=ROOT)
    assert "trial.effect" in str(err.value) and "trial.months" in str(err.value)
    raw["trial"] = {"design": "crossover", "washout_weeks": 2}
    assert parse_config(raw, data_dir=ROOT).trial.washout_weeks == 2
