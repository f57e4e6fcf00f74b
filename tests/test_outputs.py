"""Outputs: staged writes, atomic commit, deterministic tables, manifest verification."""

from __future__ import annotations

import json

import geopandas as gpd
import pandas as pd
import pytest
from shapely.geometry import box

from pli.errors import InputError
from pli.outputs import (
    OutputTransaction,
    file_sha256,
    hash_inputs,
    verify_outputs,
    write_csv,
    write_geojson,
    write_json,
)


def test_failed_transaction_leaves_previous_outputs_untouched(tmp_path):
    out = tmp_path / "output"
    out.mkdir()
    (out / "rankings.csv").write_text("previous\n")
    before = file_sha256(out / "rankings.csv")
    with pytest.raises(RuntimeError):
        with OutputTransaction({"output": out}) as tx:
            tx.path("output", "rankings.csv").write_text("half-written")
            raise RuntimeError("stage failed")
    assert file_sha256(out / "rankings.csv") == before
    assert [p.name for p in tmp_path.iterdir()] == ["output"], "staging folder was not cleaned up"


def test_commit_moves_every_staged_file_into_each_target(tmp_path):
    out, maps = tmp_path / "output", tmp_path / "maps"
    with OutputTransaction({"output": out, "maps": maps}) as tx:
        tx.path("output", "a.csv").write_text("a")
        tx.path("maps", "neighbourhoods/1-x.html").write_text("<html></html>")
        assert not (out / "a.csv").exists(), "nothing may appear before commit"
        moved = tx.commit()
    assert (out / "a.csv").read_text() == "a"
    assert (maps / "neighbourhoods" / "1-x.html").is_file()
    assert len(moved) == 2


def test_tables_and_geojson_are_byte_reproducible(tmp_path):
    frame = pd.DataFrame({"code": ["E1", "E2"], "score": [1 / 3, 2 / 3]})
    gdf = gpd.GeoDataFrame({"code": ["E1", "E2"]}, geometry=[box(530000, 160000, 530100, 160100),
                                                          box(530100, 160000, 530200, 160100)], crs=27700)
    a1, a2 = write_csv(frame, tmp_path / "a1.csv"), write_csv(frame.copy(), tmp_path / "a2.csv")
    g1, g2 = write_geojson(gdf, tmp_path / "g1.geojson"), write_geojson(gdf.copy(), tmp_path / "g2.geojson")
    assert a1.read_bytes() == a2.read_bytes()
    assert g1.read_bytes() == g2.read_bytes()
    coords = json.loads(g1.read_text())["features"][0]["geometry"]["coordinates"][0][0]
    assert all(len(str(c).split(".")[1]) <= 6 for c in coords)
    assert -1 < coords[0] < 1 and 51 < coords[1] < 52, "GeoJSON must be lon/lat"


def test_verify_detects_changed_input_and_output(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    (data / "in.csv").write_text("x\n1\n")
    out = tmp_path / "out"
    out.mkdir()
    (out / "rankings.csv").write_text("r\n")
    manifest = {
        "data_dir": str(data),
        "inputs": hash_inputs([data / "in.csv"], relative_to=data),
        "output_roots": {"output": str(out)},
        "outputs": {"output:rankings.csv": file_sha256(out / "rankings.csv")},
    }
    write_json(manifest, out / "manifest.json")
    assert verify_outputs(out).current
    (data / "in.csv").write_text("x\n2\n")
    (out / "rankings.csv").write_text("edited\n")
    result = verify_outputs(out)
    assert not result.current
    assert result.changed_inputs == ("in.csv",)
    assert result.changed_outputs == ("output:rankings.csv",)
    assert "Re-run `pli index`" in result.summary()


def test_verify_without_manifest_names_the_folder(tmp_path):
    with pytest.raises(InputError, match="no manifest.json here"):
        verify_outputs(tmp_path)
