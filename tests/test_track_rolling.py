"""The index recomputed on rolling windows (pli.track.rolling)."""

from __future__ import annotations

import logging

import pandas as pd
import pytest

from pli.config import ConfigError, load_config, parse_config, read_yaml
from pli.track.rolling import rolling_index, window_ends
from tests.conftest import ROOT, SHARED_DATA


def test_window_ends_step_back_from_the_last_month_and_stop_at_the_first():
    months = [str(p) for p in pd.period_range("2024-02", "2026-02", freq="M")]
    spans = window_ends(months, length=12, last="2026-02", step_months=3, windows=8)
    assert spans == [("2024-03", "2025-02"), ("2024-06", "2025-05"), ("2024-09", "2025-08"),
                     ("2024-12", "2025-11"), ("2025-03", "2026-02")]
    assert window_ends(months, length=12, last="2026-02", step_months=3, windows=2) == spans[-2:]
    assert window_ends(months[-13:], length=12, last="2026-02", step_months=3, windows=8) == spans[-1:]


def test_rolling_config_is_checked():
    raw = read_yaml(ROOT / "configs" / "croydon-demo.yml")
    raw["track"] = {"series": [{"name": "c", "source": "crime"}], "rolling": {"step_months": 0, "windows": 1}}
    with pytest.raises(ConfigError) as err:
        parse_config(raw, data_dir=ROOT)
    assert "track.rolling.step_months: expected 1-60" in str(err.value)
    assert "track.rolling.windows: expected 2-120" in str(err.value)


def _boundaries(cfg):
    from pli import boundaries, harm

    b = boundaries.load_boundaries(cfg)
    return b, boundaries.CodeReconciler(b, cfg.sources), harm.load_harm_weights(None)


def test_rolling_index_is_off_with_the_reason_when_the_source_holds_one_window(caplog):
    cfg = load_config(ROOT / "configs" / "croydon-demo.yml", data_dir=ROOT)
    b, rec, hw = _boundaries(cfg)
    with caplog.at_level(logging.WARNING, logger="pli.track.rolling"):
        assert rolling_index(cfg, b, rec, hw) is None
    assert "rolling index off: crime holds 12 month(s)" in caplog.text and "needs at least 15" in caplog.text


@pytest.mark.shared
@pytest.mark.skipif(not (SHARED_DATA / "croydon_mps_lsoa_crime_2024-02_2026-02.csv").is_file(),
                    reason="needs the real Croydon snapshot in ../shared/data")
def test_rolling_index_on_the_met_lsoa_table_ends_on_the_index_itself():
    from pli import index, indicators, presets

    cfg = load_config(ROOT / "configs" / "croydon-open-data.yml", data_dir=SHARED_DATA)
    b, rec, hw = _boundaries(cfg)
    r = rolling_index(cfg, b, rec, hw, step_months=3, windows=8)
    # 24 months (2024-03..2026-02 once the 2024-02 stub is dropped): five 12-month windows a quarter apart.
    assert r.windows[0] == ("2024-03", "2025-02") and r.windows[-1] == ("2025-03", "2026-02")
    assert len(r.windows) == 5
    per = r.lsoa.groupby("window")["rank"].agg(["size", "min", "max", "nunique"])
    assert (per["size"] == 220).all() and (per["nunique"] == 220).all() and (per["max"] == 220).all()
    # The latest window is the index's own: same ranks and scores as the index built on the
    # sources read with their configured window (what `pli index` does).
    sources = {n: indicators.load_source(n, s, resolve=cfg.resolve, lsoa=b.lsoa) for n, s in cfg.sources.items()
               if n != "burglary_points"}
    table = indicators.build_indicators(cfg, b, sources, reconcile=rec, harm_weights=hw)
    spec = presets.resolve_index_spec(cfg.index, raw=cfg.raw.get("index"))
    own = index.build_index(table.values, cfg.indicators, spec, seed=cfg.seed, wards=b.lsoa["ward_code"],
                            reference_values=table.study_area_rates()).to_frame()
    latest = r.lsoa[r.lsoa["window"] == "2025-03 to 2026-02"].set_index("lsoa_code")
    assert (latest["rank"] == own["rank"].reindex(latest.index)).all()
    assert latest["score"].to_numpy() == pytest.approx(own["score"].reindex(latest.index).to_numpy())
    # Earlier windows differ (crime moved), so ranks are not all equal.
    first = r.lsoa[r.lsoa["window"] == "2024-03 to 2025-02"].set_index("lsoa_code")["rank"]
    assert (first != latest["rank"].reindex(first.index)).any()
    # Neighbourhoods: the latest window matches itself one to one; members agree with rolling_index.csv.
    nb = r.neighbourhoods
    last = nb[nb["window"] == "2025-03 to 2026-02"]
    assert (last["jaccard_latest"] == 1.0).all() and (last["latest_rank"] == last["neighbourhood_rank"]).all()
    for _, row in last.iterrows():
        members = set(latest.index[latest["neighbourhood_rank"] == row["neighbourhood_rank"]])
        assert members == set(row["lsoa_codes"].split(";"))
    # Movers: the change in mean LSOA rank between the first and latest window, largest first.
    movers = r.movers(n=9)
    top = movers.iloc[0]
    codes = last.loc[last["neighbourhood_rank"] == top["neighbourhood_rank"], "lsoa_codes"].iloc[0].split(";")
    assert top["rank_change"] == pytest.approx(first.reindex(codes).mean() - latest.loc[codes, "rank"].mean())
    assert movers["rank_change"].abs().is_monotonic_decreasing
