"""The config reference: generated from the spec dataclasses, complete, current, explainable."""

from __future__ import annotations

import dataclasses
import inspect
import re
from typing import Literal, Optional

import pytest
import yaml

from pli.cli import main
from pli.config import specs
from pli.config.reference import (
    config_keys,
    explain_key,
    parameter_descriptions,
    render_reference,
    undocumented_keys,
)

from conftest import ROOT

REGENERATE = "python -m pli config --reference --out docs/CONFIG.md"


def _spec_classes() -> list[type]:
    """Every dataclass defined in pli.config.specs, reachable from StudyConfig or not."""
    return [
        cls for _, cls in inspect.getmembers(specs, inspect.isclass)
        if dataclasses.is_dataclass(cls) and cls.__module__ == specs.__name__
    ]


def test_every_field_of_every_spec_dataclass_is_documented():
    missing = [
        f"{cls.__name__}.{f.name}"
        for cls in _spec_classes()
        for f in dataclasses.fields(cls)
        if f.metadata.get("yaml", True) and not parameter_descriptions(cls).get(f.name, "").strip()
    ]
    assert missing == [], (
        f"config keys without a description in their dataclass's Parameters section: {missing}; "
        f"document them in pli/config/specs.py, then run `{REGENERATE}`"
    )
    assert undocumented_keys() == []


def test_every_spec_dataclass_is_reachable_from_the_top_level():
    owners = {k.owner for k in config_keys()}
    unreachable = sorted(cls.__name__ for cls in set(_spec_classes()) - owners)
    assert unreachable == [], f"spec dataclasses no YAML key leads to (so missing from docs/CONFIG.md): {unreachable}"


def test_a_field_added_without_documentation_is_caught():
    Inner = dataclasses.make_dataclass(
        "Inner", [("documented", int, dataclasses.field(default=1)),
                  ("new_key", str, dataclasses.field(default="x"))], frozen=True)
    Inner.__doc__ = """A section.

    Parameters
    ----------
    documented : int
        Has its entry.
    """
    Outer = dataclasses.make_dataclass(
        "Outer", [("name", str), ("inner", Inner, dataclasses.field(default_factory=Inner)),
                  ("items", dict[str, Inner], dataclasses.field(default_factory=dict))], frozen=True)
    Outer.__doc__ = """Top.

    Parameters
    ----------
    name : str
        A name.
    inner : Inner
        A nested section.
    items : dict
        Sections by name.
    """
    assert undocumented_keys(Outer) == ["inner.new_key", "items.<name>.new_key"]
    # An entry with a type line but no text is not documentation either.
    Inner.__doc__ += "    new_key : str\n"
    assert undocumented_keys(Outer) == ["inner.new_key", "items.<name>.new_key"]


def test_keys_carry_type_default_and_allowed_values_from_the_schema():
    keys = {k.path: k for k in config_keys()}
    count = keys["priorities.count"]
    assert (count.type_text, count.default, count.required) == ("whole number", 9, False)
    kind = keys["sources.<name>.kind"]
    assert kind.required and "lsoa_table" in kind.allowed and "points" in kind.allowed
    direction = keys["indicators[].direction"]
    assert direction.allowed == ("higher_is_worse", "higher_is_better")
    aggregation = keys["sources.<name>.aggregation"]
    assert aggregation.allowed == ("sum", "mean", None) and aggregation.type_text == "text, optional"
    assert keys["trial.months"].default == [3, 6, 12]  # a default factory, read as YAML writes it
    assert keys["patrols"].section and keys["patrols"].default is None
    assert "data_dir" not in keys and "raw" not in keys  # filled in by the program, not YAML


def test_shared_entries_document_each_named_field():
    class Window:
        """A window.

        Parameters
        ----------
        start_month, end_month : str, optional
            First and last month, ``YYYY-MM``.
        weeks : int
            Its length
            over two lines.

        Returns
        -------
        nothing : str
            Not a parameter.
        """

    docs = parameter_descriptions(Window)
    assert docs == {"start_month": "First and last month, ``YYYY-MM``.",
                    "end_month": "First and last month, ``YYYY-MM``.", "weeks": "Its length over two lines."}


def test_the_checked_in_reference_is_the_generated_one():
    shipped = (ROOT / "docs" / "CONFIG.md").read_text(encoding="utf-8")
    assert shipped == render_reference(), f"docs/CONFIG.md is stale: run `{REGENERATE}`"


def test_the_reference_lists_every_key_with_a_yaml_example_per_section():
    text = render_reference()
    for key in config_keys():
        assert f"| `{key.path}` |" in text, key.path
    blocks = re.findall(r"```yaml\n(.*?)```", text, re.S)
    sections = re.findall(r"^## `", text, re.M)
    assert len(blocks) == len(sections)
    for block in blocks:
        assert isinstance(yaml.safe_load(block), dict), block


def test_explain_a_real_key(capsys):
    assert main(["config", "--explain", "priorities.count"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("priorities.count\n")
    assert "type:     whole number" in out and "default:  9" in out
    assert "How many priority neighbourhoods to draw" in out
    assert out.rstrip().endswith("example:\n    priorities:\n      count: 9")


@pytest.mark.parametrize("query, path", [
    ("sources.crime.kind", "sources.<name>.kind"),
    ("indicators[2].direction", "indicators[].direction"),
    ("indicators.direction", "indicators[].direction"),
    ("track.series[0].trend_test", "track.series[].trend_test"),
    ("denominators.population.floor", "denominators.<name>.floor"),
])
def test_explain_finds_keys_written_as_in_a_config(query, path):
    assert explain_key(query).startswith(path + "\n")


def test_explain_a_section_lists_its_keys():
    text = explain_key("maps")
    assert "keys: offline, classes" in text


def test_explain_a_misspelt_key_suggests_the_right_one(capsys):
    assert main(["config", "--explain", "priorities.cout"]) == 2
    err = capsys.readouterr().err
    assert "unknown config key 'priorities.cout'" in err
    assert "did you mean 'priorities.count'" in err
    with pytest.raises(KeyError, match="did you mean 'sources.<name>.kind'"):
        explain_key("sources.crime.kidn")


def test_reference_to_a_file(tmp_path, capsys):
    out = tmp_path / "CONFIG.md"
    assert main(["-q", "config", "--reference", "--out", str(out)]) == 0
    assert out.read_bytes() == render_reference().encode("utf-8")


@dataclasses.dataclass(frozen=True)
class _Leaf:
    """Leaf.

    Parameters
    ----------
    mode : {"a", "b"}, optional
        The mode.
    """

    mode: Optional[Literal["a", "b"]] = None


@dataclasses.dataclass(frozen=True)
class _Root:
    """Root.

    Parameters
    ----------
    leaves : tuple of _Leaf
        Leaves.
    """

    leaves: tuple[_Leaf, ...] = ()


def test_optional_literal_and_nested_list_render_in_words():
    keys = {k.path: k for k in config_keys(_Root)}
    assert keys["leaves"].type_text == "list of mappings"
    assert keys["leaves[].mode"].allowed == ("a", "b", None)
    assert "`leaves[].mode`" in render_reference(_Root)
