"""The public API: every name ``pli`` re-exports resolves, is documented in numpydoc style
and carries a runnable example (the examples themselves run as doctests of ``pli``)."""

from __future__ import annotations

import inspect
import subprocess
import sys

import pytest

import pli

PUBLIC = [name for name in pli.__all__ if name != "__version__"]


def test_public_names_cover_every_stage():
    modules = {inspect.getmodule(getattr(pli, name)).__name__.split(".")[1] for name in PUBLIC}
    assert {"config", "pipeline", "outputs", "boundaries", "indicators", "harm", "index", "clustering",
            "stats", "priorities", "patrols"} <= modules


@pytest.mark.parametrize("name", PUBLIC)
def test_public_function_has_numpydoc_and_a_runnable_example(name):
    obj = getattr(pli, name)
    doc = inspect.getdoc(obj) or ""
    assert doc.splitlines()[0].strip(), f"{name}: no summary line"
    assert "Examples\n--------\n>>> " in doc, f"{name}: no Examples section with a >>> line"
    if inspect.signature(obj).parameters:
        assert "Parameters\n----------" in doc, f"{name}: parameters are not documented"


def test_unknown_name_is_an_attribute_error():
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        pli.nope  # noqa: B018


def test_import_pli_loads_no_heavy_library():
    code = "import sys, pli; print(sorted(m for m in ('geopandas', 'folium', 'matplotlib') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
