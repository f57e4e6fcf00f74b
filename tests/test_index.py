"""Tests for pli.index and pli.presets: hand-computed normalisations, aggregation,
contributions, IMD exponential transform against the published IoD2019 scores."""

from __future__ import annotations

import logging
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from pli.config import ConfigError, IndexSpec, IndicatorSpec, TreatmentSpec
from pli.errors import InputError
from pli.index import build_index, exponential_transform, normalise, treat_outliers
from pli.presets import PRESETS, recommended_indicators, resolve_index_spec

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def _iod() -> pd.DataFrame:
    path = DATA / "croydon_iod2019.csv"
    if not path.is_file():
        pytest.skip(f"real Croydon snapshot not found at {path}")
    return pd.read_csv(path).set_index("LSOA code (2011)")


CODES = pd.Index(["E01000004", "E01000001", "E01000003", "E01000002"], name="lsoa_code")


@pytest.fixture
def table() -> pd.DataFrame:
    # a: 1,2,3,6 (mean 3); b: 4,3,2,1 (mean 2.5); c (higher is better): 10,20,30,40
    return pd.DataFrame(
        {"a": [1.0, 2.0, 3.0, 6.0], "b": [4.0, 3.0, 2.0, 1.0], "c": [10.0, 20.0, 30.0, 40.0]}, index=CODES
    )


SPECS = (
    IndicatorSpec("a", "crime", domain="crime", label="Harm A"),
    IndicatorSpec("b", "crime", domain="crime", weight=3.0),
    IndicatorSpec("c", "iod", domain="deprivation", direction="higher_is_better"),
)


# --------------------------------------------------------------------------- normalisation


def test_zscore_hand_values(table):
    out = normalise(table, "zscore", higher_is_better=["c"])
    sd_a = math.sqrt((4 + 1 + 0 + 9) / 4)  # population sd of 1,2,3,6
    np.testing.assert_allclose(out["a"], [-2 / sd_a, -1 / sd_a, 0, 3 / sd_a])
    sd_c = math.sqrt((225 + 25 + 25 + 225) / 4)
    np.testing.assert_allclose(out["c"], [15 / sd_c, 5 / sd_c, -5 / sd_c, -15 / sd_c])


def test_minmax_hand_values(table):
    out = normalise(table, "minmax", higher_is_better=["c"])
    np.testing.assert_allclose(out["a"], [0, 20, 40, 100])
    np.testing.assert_allclose(out["b"], [100, 200 / 3, 100 / 3, 0])
    np.testing.assert_allclose(out["c"], [100, 200 / 3, 100 / 3, 0])


def test_percentile_hand_values_with_ties():
    x = pd.DataFrame({"a": [5.0, 1.0, 5.0, 3.0]}, index=CODES)
    out = normalise(x, "percentile")
    # ranks 3.5, 1, 3.5, 2 out of 4
    np.testing.assert_allclose(out["a"], [87.5, 25, 87.5, 50])


def test_ratio_hand_values_and_reference(table):
    out = normalise(table, "ratio", higher_is_better=["c"])
    np.testing.assert_allclose(out["a"], [100 / 3, 200 / 3, 100, 200])
    np.testing.assert_allclose(out["c"], [200 - 40, 200 - 80, 200 - 120, 200 - 160])  # mean 25
    pooled = normalise(table, "ratio", reference_values={"a": 2.0})
    np.testing.assert_allclose(pooled["a"], [50, 100, 150, 300])


def test_ratio_rejects_zero_average():
    x = pd.DataFrame({"a": [0.0, 0.0, 0.0, 0.0]}, index=CODES)
    with pytest.raises(InputError, match="positive study-area value"):
        normalise(x, "ratio")


def test_exponential_matches_iod2019_formula():
    c = 1 - math.exp(-100 / 23)
    # R = 1/N for the least deprived, 1 for the most deprived (IoD2019 technical report)
    np.testing.assert_allclose(exponential_transform([1.0]), [100.0])
    np.testing.assert_allclose(exponential_transform([0.5]), [-23 * math.log(1 - 0.5 * c)])
    # the 10% most deprived land at X above about 50, the published property of the transform
    assert 50 < exponential_transform([0.9])[0] < 51
    x = pd.DataFrame({"a": [30.0, 10.0, 40.0, 20.0]}, index=CODES)
    out = normalise(x, "exponential")
    np.testing.assert_allclose(out["a"], [-23 * math.log(1 - r * c) for r in (0.75, 0.25, 1.0, 0.5)])


def test_exponential_with_national_ranks():
    ranks = pd.DataFrame({"r": [1.0, 32844.0, 16422.0, 100.0]}, index=CODES)
    out = normalise(ranks, "exponential", higher_is_better=["r"], reference_size=32844)
    assert out["r"].iloc[0] == pytest.approx(100.0)
    assert out["r"].iloc[1] == pytest.approx(-23 * math.log(1 - (1 / 32844) * (1 - math.exp(-100 / 23))))
    with pytest.raises(InputError, match="whole ranks from 1 to 32844"):
        normalise(ranks * 2, "exponential", reference_size=32844)


def test_imd_preset_reproduces_published_imd_scores():
    iod = _iod()
    specs = recommended_indicators("imd")
    ind = pd.DataFrame({s.name: iod[s.columns[0]] for s in specs})
    res = build_index(ind, specs, IndexSpec(preset="imd"))
    published = iod["Index of Multiple Deprivation (IMD) Score"]
    # official weights sum to 0.999; pli rescales them to 1, so scale back to compare
    np.testing.assert_allclose(res.scores * 0.999, published, atol=1.5e-3)
    pub_local_rank = published.rank(method="min", ascending=False).astype(int)
    assert (res.rank == pub_local_rank).mean() > 0.95


# --------------------------------------------------------------------------- aggregation


def test_arithmetic_hand_computed_with_manual_weights(table):
    spec = IndexSpec(normalisation="minmax", weighting="manual", domain_weights={"crime": 3, "deprivation": 1})
    res = build_index(table, SPECS, spec)
    # within crime: a 1/4, b 3/4; domains 0.75 / 0.25
    np.testing.assert_allclose(res.weights.loc[["a", "b", "c"], "weight"], [0.1875, 0.5625, 0.25])
    a = np.array([0, 20, 40, 100.0])
    b = np.array([100, 200 / 3, 100 / 3, 0])
    c = np.array([100, 200 / 3, 100 / 3, 0])
    np.testing.assert_allclose(res.domain_scores["crime"], 0.25 * a + 0.75 * b)
    np.testing.assert_allclose(res.scores, 0.1875 * a + 0.5625 * b + 0.25 * c)
    np.testing.assert_allclose(res.contributions.sum(axis=1), res.scores, rtol=0, atol=1e-12)


def test_geometric_hand_computed_and_log_share_contributions(table):
    spec = IndexSpec(normalisation="minmax", weighting="equal", aggregation="geometric")
    res = build_index(table, SPECS, spec)
    assert res.geometric_shift == 1.0
    a = np.array([0, 20, 40, 100.0]) + 1
    b = np.array([100, 200 / 3, 100 / 3, 0]) + 1
    c = b.copy()
    expected = a**0.25 * b**0.25 * c**0.5
    np.testing.assert_allclose(res.scores, expected)
    np.testing.assert_allclose(res.domain_scores["crime"], np.sqrt(a * b))
    np.testing.assert_allclose(res.contributions.sum(axis=1), res.scores, rtol=1e-12)
    share_a = 0.25 * np.log(a) / np.log(expected)
    np.testing.assert_allclose(res.contributions["a"], share_a * expected)


@pytest.mark.parametrize("method", ["zscore", "minmax", "percentile", "ratio", "exponential"])
@pytest.mark.parametrize("aggregation", ["arithmetic", "geometric"])
@pytest.mark.parametrize("weighting", ["equal", "pca"])
def test_contributions_sum_to_score_everywhere(method, aggregation, weighting):
    rng = np.random.default_rng(3)
    n = 60
    x = pd.DataFrame(
        {
            "h": rng.lognormal(2, 1, n),
            "v": rng.poisson(5, n).astype(float),
            "i": rng.uniform(0.05, 0.4, n),
            "y": rng.uniform(0.1, 0.2, n),
        },
        index=pd.Index([f"E{i:08d}" for i in range(n)], name="lsoa_code"),
    )
    x["v"] = x["v"] + x["h"] * 0.2  # correlated, as crime indicators are
    specs = (
        IndicatorSpec("h", "c", domain="crime"),
        IndicatorSpec("v", "c", domain="crime"),
        IndicatorSpec("i", "d", domain="dep"),
        IndicatorSpec("y", "p", domain="demo", direction="higher_is_better"),
    )
    res = build_index(x, specs, IndexSpec(normalisation=method, aggregation=aggregation, weighting=weighting))
    np.testing.assert_allclose(res.contributions.sum(axis=1), res.scores, rtol=1e-10, atol=1e-10)
    assert res.weights["weight"].sum() == pytest.approx(1.0)
    assert set(res.rank) <= set(range(1, n + 1)) and res.rank.min() == 1


def test_direction_flip_makes_low_values_high_priority(table):
    one = (IndicatorSpec("c", "iod", domain="d", direction="higher_is_better"),)
    res = build_index(table, one, IndexSpec(normalisation="zscore"))
    assert res.rank.idxmin() == table["c"].idxmin()


def test_rank_ties_min_and_deciles():
    codes = pd.Index([f"E{i:08d}" for i in range(20)], name="lsoa_code")
    x = pd.DataFrame({"a": [50.0, 50.0] + list(range(18))}, index=codes)
    res = build_index(x, (IndicatorSpec("a", "s"),), IndexSpec(normalisation="minmax"))
    assert res.rank.iloc[:2].tolist() == [1, 1]
    assert res.rank.max() == 20
    # decile 1 = highest-priority 10%: ranks 1-2 of 20
    assert (res.decile[res.rank <= 2] == 1).all() and (res.decile[res.rank == 20] == 10).all()
    frame = res.to_frame()
    assert frame.index[:2].tolist() == ["E00000000", "E00000001"]  # tie listed by code
    assert frame["rank"].is_monotonic_increasing


# --------------------------------------------------------------------------- weights


def test_weights_rescaled_with_log_and_negative_rejected(table, caplog):
    spec = IndexSpec(weighting="manual", domain_weights={"crime": 2, "deprivation": 2})
    with caplog.at_level(logging.INFO, logger="pli.index"):
        res = build_index(table, SPECS, spec)
    assert "rescaled" in caplog.text
    assert res.weights.groupby("domain")["domain_weight"].first().tolist() == [0.5, 0.5]
    with pytest.raises(InputError, match="must not be negative"):
        build_index(table, SPECS, IndexSpec(weighting="manual", domain_weights={"crime": -1, "deprivation": 2}))
    with pytest.raises(InputError, match="no weight for domain"):
        build_index(table, SPECS, IndexSpec(weighting="manual", domain_weights={"crime": 1}))


def test_pca_reports_variance_and_loadings():
    iod = _iod()
    specs = recommended_indicators("imd")
    ind = pd.DataFrame({s.name: iod[s.columns[0]] for s in specs})
    res = build_index(ind, specs, IndexSpec(normalisation="zscore", weighting="pca"), seed=7)
    pca = res.pca
    assert pca is not None and res.seed == 7
    assert pca.explained_variance_ratio.sum() == pytest.approx(1.0)
    assert (pca.eigenvalues.iloc[: pca.n_components] > 1).all()
    np.testing.assert_allclose((pca.loadings**2).sum(axis=0), 1.0)
    assert pca.weights.sum() == pytest.approx(1.0)
    # income and employment deprivation are highly correlated in Croydon: both load heavily
    assert pca.weights["imd_income_rank"] > pca.weights["imd_barriers_rank"]


# --------------------------------------------------------------------------- treatment


def test_missing_values_error_names_lsoas(table):
    t = table.copy()
    t.loc["E01000003", "a"] = np.nan
    with pytest.raises(InputError, match="'a' is missing for 1 LSOA.*E01000003"):
        build_index(t, SPECS, IndexSpec())


def test_median_and_ward_mean_imputation_logged(table, caplog):
    t = table.copy()
    t.loc["E01000003", "a"] = np.nan
    with caplog.at_level(logging.WARNING, logger="pli.index"):
        res = build_index(t, SPECS, IndexSpec(treatment=TreatmentSpec(missing="median")))
    assert res.values.loc["E01000003", "a"] == 2.0  # median of 1, 2, 6
    assert res.imputed == {"a": ("E01000003",)} and "E01000003" in caplog.text
    wards = pd.Series(["W1", "W1", "W2", "W2"], index=CODES)
    res = build_index(t, SPECS, IndexSpec(treatment=TreatmentSpec(missing="ward_mean")), wards=wards)
    assert res.values.loc["E01000003", "a"] == 6.0  # the other W2 LSOA
    with pytest.raises(InputError, match="wards="):
        build_index(t, SPECS, IndexSpec(treatment=TreatmentSpec(missing="ward_mean")))
    assert np.isnan(t.loc["E01000003", "a"])  # input untouched


def test_winsorise_clips_to_quantiles():
    x = pd.DataFrame({"a": np.arange(1.0, 101.0)})
    out, rep = treat_outliers(x, TreatmentSpec(outliers="winsorise", winsorise_quantile=0.9))
    assert out["a"].max() == pytest.approx(np.quantile(np.arange(1.0, 101.0), 0.9))
    assert out["a"].min() == pytest.approx(np.quantile(np.arange(1.0, 101.0), 0.1))
    assert rep.loc["a", "action"] == "winsorised" and rep.loc["a", "n_changed"] == 20


def test_skew_kurtosis_winsorises_few_outliers_then_falls_back_to_log():
    base = np.linspace(0, 10, 200)
    one = pd.DataFrame({"a": np.append(base, 500.0)})
    out, rep = treat_outliers(one, TreatmentSpec(outliers="skew_kurtosis"))
    assert rep.loc["a", "action"] == "winsorised" and rep.loc["a", "n_changed"] == 1
    assert out["a"].max() == 10.0
    heavy = pd.DataFrame({"a": np.random.default_rng(0).lognormal(0, 1.5, 400)})
    out, rep = treat_outliers(heavy, TreatmentSpec(outliers="skew_kurtosis"))
    assert rep.loc["a", "action"] == "log"
    np.testing.assert_allclose(out["a"], np.log(heavy["a"] - heavy["a"].min() + 1))
    assert out["a"].rank().equals(heavy["a"].rank())  # order kept
    calm = pd.DataFrame({"a": base})
    _, rep = treat_outliers(calm, TreatmentSpec(outliers="skew_kurtosis"))
    assert rep.loc["a", "action"] == "none"


# --------------------------------------------------------------------------- results


def test_top_drivers_and_explain(table):
    spec = IndexSpec(normalisation="minmax", weighting="manual", domain_weights={"crime": 3, "deprivation": 1})
    res = build_index(table, SPECS, spec)
    drivers = res.top_drivers(3)
    contrib = res.contributions
    for code in table.index:
        positive = contrib.loc[code][contrib.loc[code] > 0].sort_values(ascending=False)
        assert drivers.loc[code, "driver_1"] == positive.index[0]
        assert drivers.loc[code, "driver_1_contribution"] == pytest.approx(positive.iloc[0])
        assert drivers.loc[code, "driver_1_value"] == table.loc[code, positive.index[0]]
        assert drivers.loc[code, [f"driver_{k}" for k in range(1, 4)]].notna().sum() == len(positive)
    top = res.rank.idxmin()
    assert res.explain(top).startswith(f"{top} ranks 1 of 4")


def test_result_frame_and_immutability(table):
    before = table.copy()
    res = build_index(table, SPECS, IndexSpec())
    pd.testing.assert_frame_equal(table, before)
    frame = res.to_frame()
    assert {"score", "rank", "decile", "domain_crime", "contribution_c"} <= set(frame.columns)
    assert frame.index.name == "lsoa_code" and len(frame) == 4
    with pytest.raises(AttributeError):
        res.scores = None  # type: ignore[misc]


def test_bad_input_errors_list_every_problem(table):
    bad = table.rename(columns={"a": "harm"}).assign(c=lambda d: d["c"].astype(str))
    with pytest.raises(InputError) as err:
        build_index(bad, SPECS, IndexSpec())
    msg = str(err.value)
    assert "column(s) a not in the indicator table (columns: harm, b, c)" in msg
    assert "'c' is not numeric" in msg


# --------------------------------------------------------------------------- presets


def test_resolve_preset_explicit_values_win():
    resolved = resolve_index_spec(IndexSpec(preset="imd", normalisation="percentile"))
    assert resolved.normalisation == "percentile" and resolved.preset is None
    assert resolved.domain_weights == PRESETS["imd"].index.domain_weights
    assert resolved.exponential_reference_size == 32844
    # raw YAML lets a default value win too
    raw = resolve_index_spec(IndexSpec(preset="imd"), raw={"preset": "imd", "normalisation": "zscore"})
    assert raw.normalisation == "zscore"
    assert resolve_index_spec(raw) == raw  # idempotent
    pli = resolve_index_spec(
        IndexSpec(preset="pli", treatment=TreatmentSpec(missing="median")),
        raw={"preset": "pli", "treatment": {"missing": "median"}},
    )
    assert pli.treatment.outliers == "skew_kurtosis" and pli.treatment.missing == "median"
    with pytest.raises(ConfigError, match="did you mean 'imd'"):
        resolve_index_spec(IndexSpec(preset="imdd"))


def test_presets_are_consistent():
    for name, preset in PRESETS.items():
        for scheme, specs in preset.indicators.items():
            domains = {s.domain for s in specs}
            if preset.index.weighting == "manual":
                assert domains == set(preset.index.domain_weights), (name, scheme)
            assert len({s.name for s in specs}) == len(specs)
    imd = PRESETS["imd"].index.domain_weights
    assert imd["income"] == 0.225 and imd["crime"] == 0.093 and sum(imd.values()) == pytest.approx(0.999)


def test_ratio_reference_follows_a_log_transform_by_the_outlier_rule():
    """A pooled raw-scale rate must not be divided into log-transformed values."""
    from pli.config import IndexSpec, IndicatorSpec, TreatmentSpec
    from pli.index import build_index

    rng = np.random.default_rng(3)
    codes = [f"E0100{i:04d}" for i in range(200)]
    skewed = pd.Series(rng.lognormal(3.0, 1.2, size=200), index=codes)
    mild = pd.Series(rng.normal(50, 5, size=200), index=codes)
    frame = pd.DataFrame({"harm": skewed, "income": mild})
    specs = (IndicatorSpec("harm", "crime", domain="crime"), IndicatorSpec("income", "iod", domain="deprivation"))
    spec = IndexSpec(normalisation="ratio", treatment=TreatmentSpec(outliers="skew_kurtosis"))
    pooled = {"harm": float(skewed.mean()), "income": float(mild.mean())}
    result = build_index(frame, specs, spec, reference_values=pooled)
    assert result.treatment.loc["harm", "action"] == "log"
    # Ratios of the logged indicator centre on 100, as ratios to an average should.
    assert result.normalised["harm"].mean() == pytest.approx(100.0)
    assert result.normalised["income"].mean() == pytest.approx(100.0)
