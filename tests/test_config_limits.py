"""Config values that would otherwise fail deep inside numpy or publish small counts."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml

from pli.config import ConfigError, parse_config

ROOT = Path(__file__).resolve().parents[1]
DEMO = yaml.safe_load((ROOT / "configs" / "croydon-demo.yml").read_text(encoding="utf-8"))


@pytest.mark.parametrize("seed", [-1, 2**32, 2**40])
def test_seed_outside_numpy_range_is_a_config_error(seed):
    raw = copy.deepcopy(DEMO)
    raw["seed"] = seed
    with pytest.raises(ConfigError) as info:
        parse_config(raw, data_dir=ROOT)
    assert f"seed: expected a whole number from 0 to {2**32 - 1}, got {seed}" in str(info.value)


@pytest.mark.parametrize("seed", [0, 2**32 - 1])
def test_seed_at_the_bounds_is_accepted(seed):
    raw = copy.deepcopy(DEMO)
    raw["seed"] = seed
    assert parse_config(raw, data_dir=ROOT).seed == seed


@pytest.mark.parametrize("threshold", [0, -3])
def test_suppress_below_must_be_at_least_one(threshold):
    raw = copy.deepcopy(DEMO)
    raw.setdefault("output", {})["suppress_below"] = threshold
    with pytest.raises(ConfigError) as info:
        parse_config(raw, data_dir=ROOT)
    assert f"output.suppress_below: expected 1 or more, got {threshold}" in str(info.value)
