"""Disclosure rules of pli.disclosure."""
import pli.disclosure as d


def test_module_exposes_suppress():
    assert callable(d.suppress)
    assert set(d.COUNT_TRANSFORMS) == {"rate", "share", "count"}
