"""Broken and hostile configs: each stops with one clear ConfigError/InputError.

Cases in ``CASES`` go through the shared harness (a copy of the demo data, the whole
pipeline, earlier outputs byte-identical afterwards). YAML-level cases (alias bombs,
duplicate keys, tabs, oversized files) need a file on disk, so they are run through
:func:`pli.config.load_config` and the CLI further down.
"""

from __future__ import annotations

import copy
import logging
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from pli.config import (
    MAX_ALIASES,
    MAX_CONFIG_BYTES,
    ConfigError,
    load_config,
    parse_config,
)
from pli.errors import InputError
from pli.pipeline import run_index

from broken_harness import (
    DEMO,
    DEMO_CONFIG,
    DEP,
    HARM,
    LSOA,
    ROOT,
    assert_fails_clearly,
    police_files,
)
from conftest import copy_demo_data

#: A file outside the data directory whose content must never reach a message.
SECRET_LINES = ["root:x:0:0:root:/root:/bin/bash", "daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin",
                "svc-backup:$6$Zq9secretHASHvalue$abc:19000:0:99999:7:::"]


def _outside(data: Path) -> Path:
    """A folder beside the data directory (inside the test's tmp_path, outside --data-dir)."""
    out = data.parent / "elsewhere"
    out.mkdir(exist_ok=True)
    return out


def _secret_file(data: Path) -> Path:
    path = _outside(data) / "passwd"
    path.write_text("\n".join(SECRET_LINES) + "\n", encoding="utf-8")
    return path


# --------------------------------------------------------------------------- breakers


def path_absolute_outside(data, raw):
    target = _outside(data) / "deprivation.csv"
    shutil.copy(data / DEP, target)
    raw["sources"]["deprivation"]["path"] = str(target)


def path_dotdot_outside(data, raw):
    shutil.copy(data / DEP, _outside(data) / "deprivation.csv")
    raw["sources"]["deprivation"]["path"] = "indicators/../../elsewhere/deprivation.csv"


def path_symlink_outside(data, raw):
    target = _outside(data) / "deprivation.csv"
    shutil.copy(data / DEP, target)
    (data / "indicators" / "demo" / "linked.csv").symlink_to(target)
    raw["sources"]["deprivation"]["path"] = "indicators/demo/linked.csv"


def path_symlink_in_police_folder(data, raw):
    month = police_files(data)[0]
    target = _outside(data) / month.name
    shutil.move(month, target)
    month.symlink_to(target)


def path_harm_weights_outside(data, raw):
    shutil.copy(data / HARM, _outside(data) / "harm.csv")
    raw["index"]["harm_weights"] = "../elsewhere/harm.csv"


def path_boundary_outside(data, raw):
    target = _outside(data) / "lsoa.geojson"
    shutil.copy(data / LSOA, target)
    raw["boundaries"]["lsoa"]["path"] = str(target)


def path_outside_allowed_secret_table(data, raw):
    raw["allow_outside_data_dir"] = True
    raw["sources"]["deprivation"]["path"] = str(_secret_file(data))


def path_outside_allowed_secret_police(data, raw):
    raw["allow_outside_data_dir"] = True
    raw["sources"]["crime"]["path"] = str(_secret_file(data))


def allow_outside_not_boolean(data, raw):
    raw["allow_outside_data_dir"] = "yes please"


def weight_nan(data, raw):
    raw["indicators"][1]["weight"] = float("nan")


def domain_weight_inf(data, raw):
    raw["index"]["domain_weights"] = {"crime": float("inf"), "deprivation": 0.35}


def yes_as_number(data, raw):
    raw["clustering"] = {"permutations": True}  # `permutations: yes` in YAML


def no_as_text(data, raw):
    raw["indicators"][2]["label"] = False  # `label: no` in YAML


def huge_whole_number(data, raw):
    raw["clustering"] = {"permutations": 10**30}


def huge_float(data, raw):
    raw["patrols"]["cell_size_m"] = 1e300


def empty_indicators(data, raw):
    raw["indicators"] = []


def indicators_not_list(data, raw):
    raw["indicators"] = {"name": "violence_rate", "source": "crime"}


def sources_not_mapping(data, raw):
    raw["sources"] = ["crime", "deprivation"]


CASES = [
    ("config-absolute-path-outside-data-dir", path_absolute_outside,
     "elsewhere/deprivation.csv' resolves to"),
    ("config-dotdot-path-outside-data-dir", path_dotdot_outside,
     "sources.deprivation.path: 'indicators/../../elsewhere/deprivation.csv' resolves to"),
    ("config-symlink-outside-data-dir", path_symlink_outside,
     "sources.deprivation.path: 'indicators/demo/linked.csv' resolves to"),
    ("config-symlink-inside-police-folder", path_symlink_in_police_folder,
     "outside the data directory"),
    ("config-harm-weights-outside-data-dir", path_harm_weights_outside,
     "index.harm_weights: '../elsewhere/harm.csv' resolves to"),
    ("config-boundary-outside-data-dir", path_boundary_outside,
     "elsewhere/lsoa.geojson' resolves to"),
    ("config-outside-allowed-secret-as-table", path_outside_allowed_secret_table,
     "does not look like a CSV table (its first line has no commas)"),
    ("config-outside-allowed-secret-as-police", path_outside_allowed_secret_police,
     "content not shown: the file is outside --data-dir"),
    ("config-allow-outside-not-boolean", allow_outside_not_boolean,
     "allow_outside_data_dir: expected true or false, got 'yes please'"),
    ("config-nan-weight", weight_nan, "indicators[1].weight: expected a finite number, got nan"),
    ("config-inf-domain-weight", domain_weight_inf,
     "index.domain_weights.crime: expected a finite number, got inf"),
    ("config-yes-where-number", yes_as_number,
     "clustering.permutations: expected a whole number, got True (YAML reads unquoted yes/no/on/off"),
    ("config-no-where-text", no_as_text,
     "indicators[2].label: expected text, got False (YAML reads unquoted yes/no/on/off"),
    ("config-huge-whole-number", huge_whole_number,
     "clustering.permutations: a 31-digit number is too large"),
    ("config-huge-float", huge_float, "patrols.cell_size_m: 1e+300 is too large"),
    ("config-empty-indicators", empty_indicators, "indicators: at least one indicator is required"),
    ("config-indicators-not-a-list", indicators_not_list, "indicators: expected a list, got {{"),
    ("config-sources-not-a-mapping", sources_not_mapping, "sources: expected a mapping, got ['crime'"),
]


@pytest.mark.parametrize("breaker, fragment", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_broken_config_fails_clearly_and_keeps_outputs(tmp_path, good_outputs, breaker, fragment):
    message = assert_fails_clearly(tmp_path, good_outputs, breaker, fragment)
    for line in SECRET_LINES:
        assert line.split(":")[0] + ":x" not in message and line not in message


@pytest.mark.parametrize("kind, extra", [
    ("lsoa_table", {"code_column": SECRET_LINES[0]}),      # names the first line: the rest must stay hidden
    ("lsoa_table", {"code_column": "lsoa_code"}),
    ("police_uk", {}),
    ("mps_lsoa_crime", {}),
    ("census2011_population", {}),
    ("points", {"x_column": "x", "y_column": "y"}),
], ids=["table-naming-line-1", "table", "police", "mps", "census", "points"])
def test_outside_file_content_never_reaches_the_message(tmp_path, kind, extra):
    """A source aimed at a passwd-like file fails without quoting any of its lines."""
    data = copy_demo_data(tmp_path / "data")
    secret = _secret_file(data)
    raw = copy.deepcopy(DEMO)
    raw["allow_outside_data_dir"] = True
    raw["sources"]["leak"] = {"kind": kind, "path": str(secret), **extra}
    raw["indicators"].append({"name": "leak_value", "source": "leak", "columns": ["value"], "domain": "crime"})
    cfg = parse_config(raw, data_dir=data)
    with pytest.raises((InputError, ConfigError)) as info:
        run_index(cfg, out_dir=tmp_path / "out", maps_dir=None)
    message = str(info.value)
    assert "sources.leak" in message and str(secret) in message
    for line in SECRET_LINES[1:]:
        for part in line.split(":"):
            if len(part) > 3:
                assert part not in message, (part, message)
    if "code_column" not in extra or extra["code_column"] == "lsoa_code":
        assert "root:x" not in message
    assert not (tmp_path / "out").exists()


CREDENTIALS = "user,password,x,y\nalice,hunter2,531000,165000\nbob,s3cr3tpw,532000,166000\n"


@pytest.mark.parametrize("kind, extra", [
    ("lsoa_table", {"code_column": "user", "columns": ["password"]}),
    ("lsoa_table", {"code_column": "password", "columns": ["x"]}),
    ("census2021", {"code_column": "user", "columns": ["x"]}),
    ("points", {"x_column": "x", "y_column": "y", "crs": "EPSG:27700", "category_column": "password"}),
], ids=["password-as-number", "password-as-code", "census-user-as-code", "points-password-category"])
def test_loader_errors_on_outside_csv_quote_nothing(tmp_path, caplog, kind, extra):
    """A CSV-shaped outside file passes validation; the loaders' value-quoting errors are withheld."""
    caplog.set_level(logging.DEBUG)
    data = copy_demo_data(tmp_path / "data")
    creds = _outside(data) / "creds.csv"
    creds.write_text(CREDENTIALS, encoding="utf-8")
    raw = copy.deepcopy(DEMO)
    raw["allow_outside_data_dir"] = True
    raw["sources"]["leak"] = {"kind": kind, "path": str(creds), **extra}
    raw["indicators"].append({"name": "leak_value", "source": "leak", "columns": extra.get("columns", ["x"]),
                              "domain": "crime", "transform": "count" if kind == "points" else "value"})
    with pytest.raises(InputError) as info:
        run_index(parse_config(raw, data_dir=data), out_dir=tmp_path / "out", maps_dir=None)
    message = str(info.value)
    assert (str(creds) in message or "source 'leak'" in message) and "details are not shown" in message, message
    logged = "\n".join(r.getMessage() for r in caplog.records)
    for secret in ("alice", "bob", "hunter2", "s3cr3tpw"):
        assert secret not in message, message
        assert secret not in logged, logged


def test_inside_data_dir_loader_errors_keep_their_details(tmp_path):
    """The same file inside --data-dir gets the loader's full message (the values are the user's data)."""
    data = copy_demo_data(tmp_path / "data")
    (data / "creds.csv").write_text(CREDENTIALS, encoding="utf-8")
    raw = copy.deepcopy(DEMO)
    raw["sources"]["leak"] = {"kind": "lsoa_table", "path": "creds.csv", "code_column": "user",
                              "columns": ["password"]}
    raw["indicators"].append({"name": "leak_value", "source": "leak", "columns": ["password"], "domain": "crime"})
    with pytest.raises(InputError, match="line 2: 'hunter2'"):
        run_index(parse_config(raw, data_dir=data), out_dir=tmp_path / "out", maps_dir=None)


def test_outside_paths_are_accepted_when_allowed(tmp_path):
    """The opt-in works: the same outside file runs, with the same numbers as inside."""
    data = copy_demo_data(tmp_path / "data")
    raw = copy.deepcopy(DEMO)
    path_absolute_outside(data, raw)
    with pytest.raises(ConfigError, match="sources.deprivation.path"):
        parse_config(copy.deepcopy(raw), data_dir=data)
    raw["allow_outside_data_dir"] = True
    cfg = parse_config(raw, data_dir=data)
    assert not cfg.is_inside_data_dir(cfg.sources["deprivation"].path)
    assert cfg.is_inside_data_dir(cfg.sources["crime"].path)


def test_every_outside_path_is_listed_at_once(tmp_path):
    data = copy_demo_data(tmp_path / "data")
    raw = copy.deepcopy(DEMO)
    path_dotdot_outside(data, raw)
    path_harm_weights_outside(data, raw)
    path_boundary_outside(data, raw)
    with pytest.raises(ConfigError) as info:
        parse_config(raw, data_dir=data, source="two.yml")
    assert len(info.value.problems) == 3
    assert all("allow_outside_data_dir: true" in p for p in info.value.problems)
    assert "in two.yml" in str(info.value)


# --------------------------------------------------------------------------- YAML level


def _bomb(levels: int = 9, width: int = 9) -> str:
    lines = ["area: {name: x}", "lol0: &l0 [" + ", ".join(["lol"] * width) + "]"]
    for i in range(1, levels):
        lines.append(f"lol{i}: &l{i} [" + ", ".join([f"*l{i - 1}"] * width) + "]")
    return "\n".join(lines) + "\n"


def _many_aliases(n: int) -> str:
    return "anchor: &a 1\nlist: [" + ", ".join(["*a"] * n) + "]\n"


DEMO_TEXT = DEMO_CONFIG.read_text(encoding="utf-8")

YAML_CASES = [
    ("yaml-billion-laughs", _bomb(), "expands to more than 100,000 values once aliases are followed"),
    ("yaml-deep-doubling-bomb", "a0: &a0 [x, x]\n" + "".join(
        f"a{i}: &a{i} [*a{i - 1}, *a{i - 1}]\n" for i in range(1, 40)),
     "expands to more than 100,000 values"),
    ("yaml-too-many-aliases", _many_aliases(MAX_ALIASES + 1), f"more than {MAX_ALIASES} aliases (*name) by line 2"),
    ("yaml-recursive-alias", "a: &a [1, *a]\n", "an alias refers to the node that contains it (line 1)"),
    ("yaml-duplicate-key", DEMO_TEXT.replace("seed: 0\n", "seed: 0\nseed: 7\n"),
     "key 'seed' appears twice in one mapping (lines 15 and 16)"),
    ("yaml-duplicate-nested-key", DEMO_TEXT.replace("    window_months: 12\n",
                                                    "    window_months: 12\n    window_months: 6\n"),
     "key 'window_months' appears twice in one mapping"),
    ("yaml-tab-indent", DEMO_TEXT.replace("  name: Croydon (demo)", "\tname: Croydon (demo)"),
     "not valid YAML at line 8, column 1"),
    ("yaml-unclosed-bracket", "area: {name: x\nseed: 0\n", "not valid YAML at line 2, column 5"),
    ("yaml-top-level-list", "- area\n- seed\n", "expected a mapping (key: value lines) at the top level, got a list"),
    ("yaml-top-level-text", "just some words\n", "at the top level, got a str"),
    ("yaml-empty-file", "", "at the top level, got an empty file"),
    ("yaml-oversized", "# " + "x" * MAX_CONFIG_BYTES + "\n", f"a config may be at most {MAX_CONFIG_BYTES:,} bytes"),
]


@pytest.mark.parametrize("text, fragment", [c[1:] for c in YAML_CASES], ids=[c[0] for c in YAML_CASES])
def test_hostile_yaml_is_refused_with_the_file_named(tmp_path, text, fragment):
    path = tmp_path / "study.yml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_config(path, data_dir=ROOT)
    message = str(info.value)
    assert fragment in message, message
    assert f"in {path}" in message


def test_tab_error_says_yaml_wants_spaces(tmp_path):
    path = tmp_path / "tabs.yml"
    path.write_text("area:\n\tname: x\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="never tabs"):
        load_config(path)


def test_non_utf8_config_is_refused(tmp_path):
    path = tmp_path / "latin1.yml"
    path.write_bytes(DEMO_TEXT.replace("Croydon (demo)", "Croydon (d\u00e9mo)").encode("latin-1"))
    with pytest.raises(ConfigError, match="not UTF-8 text"):
        load_config(path)


def test_merge_keys_and_a_few_aliases_still_load(tmp_path):
    """Legitimate YAML reuse (an anchor and a '<<' merge) is not mistaken for an attack."""
    text = DEMO_TEXT.replace(
        "  population: {kind: census2011_population",
        "  deprivation2: &dep2\n    kind: lsoa_table\n    path: indicators/demo/simulated_deprivation.csv\n"
        "    code_column: lsoa_code\n    simulated: true\n  deprivation3:\n    <<: *dep2\n    vintage: 2011\n"
        "  population: {kind: census2011_population")
    path = tmp_path / "merge.yml"
    path.write_text(text, encoding="utf-8")
    cfg = load_config(path, data_dir=ROOT)
    assert cfg.sources["deprivation3"] == cfg.sources["deprivation2"] == cfg.sources["deprivation"]


def test_cli_refuses_a_bomb_in_one_paragraph(tmp_path):
    path = tmp_path / "bomb.yml"
    path.write_text(_bomb(), encoding="utf-8")
    proc = subprocess.run([sys.executable, "-m", "pli", "index", "--config", str(path), "--out",
                           str(tmp_path / "out"), "--no-maps"], capture_output=True, text=True, cwd=ROOT, check=False,
                          timeout=120)
    assert proc.returncode != 0
    assert "expands to more than 100,000 values" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert not (tmp_path / "out").exists()


def test_parsed_yaml_equals_safe_load_on_shipped_configs():
    for path in sorted((ROOT / "configs").glob("*.yml")):
        from pli.config import read_yaml

        assert read_yaml(path) == yaml.safe_load(path.read_text(encoding="utf-8")), path.name
