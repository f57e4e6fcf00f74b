"""Serial-correlation corrections of the trend tests: Hamed and Rao (1998), Hirsch and Slack (1984)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from pli.config import ConfigError, parse_config, read_yaml
from pli.config.specs import TrackSeriesSpec
from pli.track.trend import hamed_rao_factor, hirsch_slack_variance, mann_kendall, seasonal_mann_kendall, trend_table
from tests.conftest import ROOT


def _ar1(n: int, phi: float, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    e = np.zeros(n)
    for t in range(1, n):
        e[t] = phi * e[t - 1] + rng.normal()
    return e


def test_hamed_rao_matches_the_published_formula_on_a_hand_computed_series():
    # x = 1, 3, 2, 5, 4, 6: S = 13 - 2 = 11 (two discordant pairs), no ties, var = 6*5*17/18.
    # Sen's slope: the 8th of the 15 sorted pairwise slopes = 1.0; detrended x - t (t = 1..6)
    # is 0, 1, -1, 1, -1, 0 -> ranks 3.5, 5.5, 1.5, 5.5, 1.5, 3.5; minus the mean: 0, 2, -2, 2, -2, 0.
    # c0 = 16/6; rho_1 = -12/16 = -0.75, rho_2 = 8/16 = 0.5, rho_3 = -4/16 = -0.25, rho_4 = rho_5 = 0.
    x = np.array([1.0, 3, 2, 5, 4, 6])
    r = mann_kendall(x)
    assert r.s == 11 and r.slope == 1.0 and r.var_s == pytest.approx(6 * 5 * 17 / 18)
    # alpha 0.05: bound 1.96/sqrt(6) = 0.80, no lag is significant, no correction.
    assert hamed_rao_factor(x, 1.0) == 1.0
    # alpha 0.5: bound 0.674/sqrt(6) = 0.275, lags 1 and 2 count:
    # n/n* = 1 + 2/(6*5*4) * (5*4*3 * -0.75 + 4*3*2 * 0.5) = 1 + (-45 + 12)/60 = 0.45.
    assert hamed_rao_factor(x, 1.0, alpha=0.5) == pytest.approx(0.45)
    # A factor below 1 would shrink the variance and make the trend more significant than the
    # plain test says; pli keeps the plain variance then.
    corrected = mann_kendall(x, autocorrelation="hamed_rao", alpha=0.5)
    assert corrected.var_s == pytest.approx(6 * 5 * 17 / 18) and corrected.variance_factor == 1.0
    assert corrected.p == pytest.approx(r.p)


def test_strong_ar1_without_trend_gets_a_larger_p_once_corrected():
    x = _ar1(120, 0.8, seed=1)
    plain = mann_kendall(x)
    corrected = mann_kendall(x, autocorrelation="hamed_rao")
    assert corrected.variance_factor > 1.5
    assert corrected.p > plain.p
    assert corrected.s == plain.s and corrected.slope == plain.slope


def test_false_trends_in_ar1_noise_are_much_rarer_once_corrected():
    # 200 AR(1) series (phi 0.7) with no trend: uncorrected MK flags about 40% at 5%;
    # Hamed-Rao brings that down a lot (not to 5%: with 96 values the lag estimates are noisy).
    plain = corrected = 0
    for seed in range(200):
        x = _ar1(96, 0.7, seed=seed)
        plain += mann_kendall(x).p <= 0.05
        corrected += mann_kendall(x, autocorrelation="hamed_rao").p <= 0.05
    assert plain > 40 and corrected < 0.65 * plain


def test_independent_noise_is_left_almost_alone():
    x = np.random.default_rng(7).normal(size=150)
    assert mann_kendall(x, autocorrelation="hamed_rao").variance_factor == pytest.approx(1.0, abs=0.3)


def test_hamed_rao_agrees_with_pymannkendall():
    pmk = pytest.importorskip("pymannkendall", reason="pymannkendall is only a cross-check, not a dependency")
    rng = np.random.default_rng(11)
    for x in (_ar1(120, 0.8, 2), _ar1(120, 0.5, 3) + 0.03 * np.arange(120), rng.poisson(15, 60).astype(float)):
        ours = mann_kendall(x, autocorrelation="hamed_rao")
        theirs = pmk.hamed_rao_modification_test(x)
        assert ours.var_s == pytest.approx(theirs.var_s) and ours.p == pytest.approx(theirs.p)
        assert ours.slope == pytest.approx(theirs.slope)


def test_hirsch_slack_of_perfectly_correlated_seasons_is_the_square_of_their_count():
    # Three seasons rising together over four years: each season's S = 6, var = 4*3*13/18;
    # every pair of seasons covaries fully, so var(S) = 3^2 * 26/3 = 78 rather than 26.
    x = np.tile([1.0, 5, 3], 4) + np.repeat([0.0, 1, 2, 3], 3)
    own, total = hirsch_slack_variance(x, 3)
    assert own == pytest.approx(26.0) and total == pytest.approx(78.0)
    r = seasonal_mann_kendall(x, period=3, autocorrelation="hirsch_slack")
    assert r.var_s == pytest.approx(78.0) and r.variance_factor == pytest.approx(3.0)
    assert r.p > seasonal_mann_kendall(x, period=3).p


def test_hirsch_slack_hand_computed_covariance_with_a_missing_year():
    # Two seasons, years 1-3, season 2 missing in year 3. Season 1: 1, 2, 3; season 2: 2, 1.
    # K_12 over the one pair of years both present: sign((2-1)*(1-2)) = -1.
    # Ranks (n + 1 + sum_j sign(x_i - x_j)) / 2 with n = 3 years: season 1 = 1, 2, 3;
    # season 2 = 2.5, 1.5 and (n+1)/2 = 2 for the missing year.
    # sigma_12 = (K + 4 * (1*2.5 + 2*1.5 + 3*2) - 3 * 16) / 3 = (-1 + 46 - 48) / 3 = -1.
    x = np.array([1.0, 2, 2, 1, 3])
    own, total = hirsch_slack_variance(x, 2)
    assert own == pytest.approx(3 * 2 * 11 / 18 + 2 * 1 * 9 / 18)
    assert total == pytest.approx(own + 2 * -1)


def test_trend_table_reports_the_factor_and_rejects_an_unfitting_method():
    wide = pd.DataFrame({"a": _ar1(60, 0.8, 4), "b": np.arange(60.0)})
    t = trend_table(wide, autocorrelation="hamed_rao")
    assert t.loc["a", "variance_factor"] > 1
    with pytest.raises(ValueError, match="hamed_rao"):
        mann_kendall([1.0, 2, 3, 4], autocorrelation="hirsch_slack")


def test_auto_picks_the_correction_that_fits_the_test_and_period():
    assert TrackSeriesSpec(name="a").autocorrelation_method() == "hamed_rao"
    assert TrackSeriesSpec(name="a", trend_test="seasonal").autocorrelation_method() == "hirsch_slack"
    assert TrackSeriesSpec(name="a", period="quarter").autocorrelation_method() == "none"


def test_config_refuses_a_correction_for_the_other_test():
    raw = read_yaml(ROOT / "configs" / "croydon-demo.yml")
    raw["track"] = {"series": [{"name": "s", "source": "crime", "trend_test": "seasonal",
                                "autocorrelation": "hamed_rao"}]}
    with pytest.raises(ConfigError, match=r"autocorrelation: 'hamed_rao' corrects the 'mann_kendall' test"):
        parse_config(raw, data_dir=ROOT)
