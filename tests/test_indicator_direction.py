"""Indicators of measures pli cannot vouch for must say which way they run, or the run warns."""

from __future__ import annotations

import copy
import logging

import pytest

from pli.config import direction_warnings, parse_config, read_yaml
from pli.errors import InputError

from conftest import ROOT, SHARED_DATA

pytestmark = pytest.mark.shared

PTAL = "croydon_lsoa11_ptal2015.csv"


@pytest.fixture(scope="module")
def open_data_raw() -> dict:
    if not (SHARED_DATA / PTAL).is_file():
        pytest.skip(f"real Croydon snapshot not found at {SHARED_DATA} (needs ../shared/data beside the repo)")
    return read_yaml(ROOT / "configs" / "croydon-open-data.yml")


def _with_transport(raw: dict, **indicator) -> dict:
    """The open-data config plus TfL's public transport access (higher = better) per LSOA."""
    raw = copy.deepcopy(raw)
    raw["sources"]["ptal"] = {"kind": "lsoa_table", "path": PTAL, "code_column": "LSOA2011", "columns": ["AvPTAI2015"]}
    raw["indicators"].append({"name": "transport_access", "source": "ptal", "columns": ["AvPTAI2015"],
                              "domain": "access", **indicator})
    return raw


def test_the_shipped_configs_raise_no_direction_warning(open_data_raw):
    assert direction_warnings(parse_config(open_data_raw, data_dir=SHARED_DATA)) == []
    demo = read_yaml(ROOT / "configs" / "croydon-demo.yml")
    assert direction_warnings(parse_config(demo, data_dir=ROOT)) == []


def test_transport_access_without_a_direction_is_named_with_what_to_write(open_data_raw):
    cfg = parse_config(_with_transport(open_data_raw), data_dir=SHARED_DATA)
    warnings = direction_warnings(cfg)
    assert len(warnings) == 1
    (message,) = warnings
    assert message.startswith("indicators[9] (transport_access): source 'ptal' is of kind lsoa_table")
    assert "counted as higher_is_worse" in message
    assert "'direction: higher_is_better'" in message


@pytest.mark.parametrize("direction", ["higher_is_better", "higher_is_worse"])
def test_an_explicit_direction_silences_the_warning(open_data_raw, direction):
    cfg = parse_config(_with_transport(open_data_raw, direction=direction), data_dir=SHARED_DATA)
    assert direction_warnings(cfg) == []
    assert cfg.indicators[-1].direction == direction


def test_iod_ranks_run_inverted_and_a_wrong_direction_is_flagged(open_data_raw):
    raw = copy.deepcopy(open_data_raw)
    raw["indicators"].append({"name": "imd_rank", "source": "iod", "columns": ["imd_rank"], "domain": "deprivation"})
    raw["indicators"].append({"name": "crime_decile", "source": "iod", "columns": ["crime_decile"],
                              "domain": "deprivation", "direction": "higher_is_better"})
    raw["indicators"].append({"name": "violence_safety", "source": "crime", "transform": "rate", "domain": "crime",
                              "columns": ["VIOLENCE AGAINST THE PERSON/*"], "direction": "higher_is_better"})
    warnings = direction_warnings(parse_config(raw, data_dir=SHARED_DATA))
    assert len(warnings) == 2, warnings
    rank, crime = warnings
    assert rank.startswith("indicators[9] (imd_rank): direction is higher_is_worse (the default)")
    assert "ranks and deciles (1 = most deprived" in rank and "'direction: higher_is_better'" in rank
    assert crime.startswith("indicators[11] (violence_safety): direction is higher_is_better")
    assert "'direction: higher_is_worse'" in crime


def test_the_run_warns_naming_the_indicator(open_data_raw, tmp_path, caplog):
    from pli.pipeline import run_index

    raw = _with_transport(open_data_raw)
    # A missing file stops the run at input validation, just after the config warnings,
    # so the test sees what a real run logs without computing a whole index.
    raw["sources"]["missing"] = {"kind": "lsoa_table", "path": "not_there.csv", "code_column": "LSOA"}
    cfg = parse_config(raw, data_dir=SHARED_DATA)
    with caplog.at_level(logging.WARNING, logger="pli"), pytest.raises(InputError, match="not_there.csv"):
        run_index(cfg, out_dir=tmp_path / "out")
    named = [r.getMessage() for r in caplog.records if "transport_access" in r.getMessage()]
    assert len(named) == 1 and "direction: higher_is_better" in named[0]
