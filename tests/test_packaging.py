"""The project's own files must install everything: pyproject and environment.yml agree."""

from __future__ import annotations

import re
from pathlib import Path

import tomllib
import yaml

ROOT = Path(__file__).resolve().parents[1]

# conda-forge names that differ from PyPI names.
CONDA_NAMES = {"pyyaml": "pyyaml", "scikit-learn": "scikit-learn"}


def _name(requirement: str) -> str:
    return re.split(r"[<>=!~ \[;]", requirement.strip(), maxsplit=1)[0].lower()


def test_environment_yml_lists_the_same_packages_as_pyproject():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    pip_names = {_name(r) for r in project["dependencies"]}
    pip_names |= {_name(r) for r in project["optional-dependencies"]["test"]}
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    conda_names = {_name(d) for d in env["dependencies"] if isinstance(d, str)} - {"python", "pip"}
    for d in env["dependencies"]:
        if isinstance(d, dict):
            conda_names |= {_name(r) for r in d.get("pip", [])}
    expected = {CONDA_NAMES.get(n, n) for n in pip_names}
    assert conda_names == expected, (
        f"only in environment.yml: {sorted(conda_names - expected)}; "
        f"only in pyproject.toml: {sorted(expected - conda_names)}"
    )


def test_console_script_and_module_entry_points_exist():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert project["scripts"]["pli"] == "pli.cli:main"
    assert (ROOT / "pli" / "__main__.py").is_file()


def test_readme_states_the_two_commands():
    text = (ROOT / "README.md").read_text()
    assert "make index" in text and "make test" in text
