"""Config loading: typed, validated, every problem reported at once with suggestions."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml

from pli.config import ConfigError, IndicatorSpec, SourceSpec, StudyConfig, load_config, parse_config

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = sorted((ROOT / "configs").glob("*.yml"))


@pytest.fixture(scope="module")
def demo_mapping() -> dict:
    return yaml.safe_load((ROOT / "configs" / "croydon-demo.yml").read_text())


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.name)
def test_shipped_configs_parse(path):
    cfg = load_config(path)
    assert isinstance(cfg, StudyConfig)
    assert all(isinstance(s, SourceSpec) for s in cfg.sources.values())
    assert all(isinstance(i, IndicatorSpec) for i in cfg.indicators)
    assert cfg.config_path == path.resolve()


def test_unknown_key_is_named_with_closest_suggestion(demo_mapping):
    bad = copy.deepcopy(demo_mapping)
    bad["sources"]["crime"]["window_month"] = 6
    with pytest.raises(ConfigError) as err:
        parse_config(bad)
    msg = str(err.value)
    assert "sources.crime.window_month: unknown key" in msg
    assert "did you mean 'window_months'" in msg


def test_all_problems_are_collected_in_one_error(demo_mapping):
    bad = copy.deepcopy(demo_mapping)
    bad["seed"] = "zero"
    bad["indicators"][0]["transform"] = "rates"
    bad["clustering"] = {"permutations": 99.5}
    del bad["area"]["name"]
    with pytest.raises(ConfigError) as err:
        parse_config(bad)
    problems = err.value.problems
    assert len(problems) == 4, problems
    text = "\n".join(problems)
    assert "seed: expected a whole number, got 'zero'" in text
    assert "did you mean 'rate'" in text
    assert "clustering.permutations: expected a whole number, got 99.5" in text
    assert "area.name: required key is missing" in text


def test_unknown_source_reference_and_negative_weight(demo_mapping):
    bad = copy.deepcopy(demo_mapping)
    bad["indicators"][1]["source"] = "crimes"
    bad["indicators"][2]["weight"] = -1
    with pytest.raises(ConfigError) as err:
        parse_config(bad)
    text = str(err.value)
    assert "unknown source 'crimes'; did you mean 'crime'?" in text
    assert "weights must not be negative, got -1.0" in text


def test_vintage_mismatch_without_lookup_is_rejected(demo_mapping):
    bad = copy.deepcopy(demo_mapping)
    bad["sources"]["deprivation"]["vintage"] = 2021
    with pytest.raises(ConfigError, match="add boundaries.vintage_lookup"):
        parse_config(bad)


def test_paths_resolve_against_data_dir(demo_mapping, tmp_path):
    cfg = parse_config(demo_mapping, data_dir=tmp_path)
    assert cfg.resolve("boundaries/x.geojson") == tmp_path.resolve() / "boundaries" / "x.geojson"
    assert cfg.resolve("/abs/file.csv") == Path("/abs/file.csv")


def test_default_data_dir_is_project_root(demo_mapping):
    cfg = parse_config(demo_mapping)
    assert cfg.data_dir == ROOT


def test_missing_file_and_bad_yaml(tmp_path):
    with pytest.raises(ConfigError, match="config file not found"):
        load_config(tmp_path / "nope.yml")
    p = tmp_path / "bad.yml"
    p.write_text("area: [unclosed\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(p)


def test_clustering_inference_options_are_checked(demo_mapping):
    bad = copy.deepcopy(demo_mapping)
    bad["clustering"] = {"gi_inference": "conditional", "permutations": 999, "max_permutations": 99,
                         "stability_seeds": -1}
    with pytest.raises(ConfigError) as err:
        parse_config(bad)
    text = "\n".join(err.value.problems)
    assert "clustering.gi_inference" in text and "'normal'" in text
    bad["clustering"]["gi_inference"] = "normal"
    with pytest.raises(ConfigError) as err:
        parse_config(bad)
    text = "\n".join(err.value.problems)
    assert "clustering.max_permutations: expected at least permutations (999) and 1, got 99" in text
    assert "clustering.stability_seeds: expected 0 to 20, got -1" in text
    ok = copy.deepcopy(demo_mapping)
    ok["clustering"] = {"gi_inference": "permutation", "max_permutations": 9999}
    cfg = parse_config(ok)
    assert cfg.clustering.gi_inference == "permutation" and cfg.clustering.max_permutations == 9999
