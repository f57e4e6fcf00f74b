"""Output integrity: CSV formula injection."""

import pandas as pd

from pli.outputs import write_csv


def test_csv_formula_injection_is_defused(tmp_path):
    frame = pd.DataFrame({
        "name": ["=HYPERLINK(\"http://x\")", "+1", "-2+3", "@SUM(A1)", "\tx", "\rx", "plain", None],
        "value": [-1.5, 2.0, -3.0, 4.0, 5.0, 6.0, 7.0, -8.25],
        "count": [-1, 2, 3, 4, 5, 6, 7, 8],
    })
    path = write_csv(frame, tmp_path / "t.csv")
    text = path.read_text(encoding="utf-8")
    assert b"'\rx" in path.read_bytes()  # a bare CR cell is prefixed too (pandas may split it when reading back)
    back = pd.read_csv(path, keep_default_na=False, nrows=5)
    assert list(back["name"][:5]) == ["'=HYPERLINK(\"http://x\")", "'+1", "'-2+3", "'@SUM(A1)", "'\tx"]
    assert "plain" in text
    assert back["value"].tolist() == [-1.5, 2.0, -3.0, 4.0, 5.0]
    assert back["count"].tolist() == [-1, 2, 3, 4, 5]
    assert text.rstrip("\n").endswith(",-8.25,8")  # negative numbers are written as numbers
    # the caller's frame is untouched
    assert frame["name"][0].startswith("=")


def test_formula_in_a_boundary_name_is_defused_in_every_table(tmp_path):
    import copy
    from pathlib import Path

    import geopandas as gpd
    import yaml

    from pli.config import parse_config
    from pli.pipeline import run_index

    from conftest import copy_demo_data

    root = Path(__file__).resolve().parents[1]
    data = tmp_path / "data"
    copy_demo_data(data)
    path = data / "boundaries" / "croydon_lsoa11_bsc.geojson"
    lsoa = gpd.read_file(path)
    lsoa.loc[0, "LSOA11NM"] = '=HYPERLINK("http://evil.example","x")'
    lsoa.loc[1, "LSOA11NM"] = "@SUM(1+1)"
    lsoa.to_file(path, driver="GeoJSON")
    raw = copy.deepcopy(yaml.safe_load((root / "configs" / "croydon-demo.yml").read_text(encoding="utf-8")))
    run_index(parse_config(raw, data_dir=data), out_dir=tmp_path / "out", maps_dir=None)
    ranked = pd.read_csv(tmp_path / "out" / "rankings.csv", index_col="lsoa_code")
    assert ranked.loc[lsoa.loc[0, "LSOA11CD"], "lsoa_name"] == "'=HYPERLINK(\"http://evil.example\",\"x\")"
    assert ranked.loc[lsoa.loc[1, "LSOA11CD"], "lsoa_name"] == "'@SUM(1+1)"
    assert pd.api.types.is_float_dtype(ranked["score"]) and (ranked["score"] < 0).any()
    for csv_file in (tmp_path / "out").glob("*.csv"):
        for line in csv_file.read_text(encoding="utf-8").splitlines():
            for cell in line.split(","):
                assert not cell.startswith(("=", "@", "+")), (csv_file.name, cell)
