"""``pli init`` and the area selection it relies on: forces, missing files, bad codes, IoD2025."""

from __future__ import annotations

import ast
import csv
import dataclasses
import json
import shutil
from pathlib import Path

import pandas as pd
import pytest

from pli.area import area_type, data_notes
from pli.area.init import init_config
from pli.boundaries import load_boundaries
from pli.config import AreaSpec, ConfigError, default_data_dir, load_config, parse_config
from pli.errors import InputError
from pli.indicators import load_source
from pli.pipeline import IndexRun

DATA = Path(__file__).resolve().parent / "fixtures" / "calderdale"
SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
ROOT = Path(__file__).resolve().parents[1]


def _force_table() -> pd.DataFrame:
    return pd.read_csv(DATA / "police_force_lsoa.csv", dtype=str).set_index("LSOA Code")


def test_a_police_force_keeps_its_lsoas_across_authorities(tmp_path):
    result = init_config(DATA, police_force="West Yorkshire Police", out=tmp_path / "wy.yml")
    assert result.used["area_lookup"] == "police_force_lsoa.csv"  # the only lookup with a force column
    cfg = load_config(result.path, data_dir=DATA)
    assert area_type(cfg.area) == "force area"
    b = load_boundaries(cfg)
    forces = _force_table()
    shipped = forces.index
    assert set(b.lsoa.index) == set(shipped[forces["Police_force"] == "West Yorkshire"])
    kept_lads = set(forces.loc[b.lsoa.index, "Local authority code"])
    assert {"E08000032", "E08000033", "E08000034"} <= kept_lads  # Bradford and Kirklees too
    outside = forces["Police_force"] != "West Yorkshire"
    assert b.area is not None and b.area.excluded == int(outside.sum()) > 0
    assert set(b.area.excluded_by_authority) == {"Lancashire", "Greater Manchester"}


def test_init_says_what_is_missing(tmp_path):
    with pytest.raises(InputError, match="no LSOA boundary file"):
        init_config(tmp_path, lad_codes=["E08000033"])
    shutil.copy(DATA / "lsoa11_bsc.geojson", tmp_path)
    with pytest.raises(InputError, match="no LSOA -> local authority lookup .* holds E08000033"):
        init_config(tmp_path, lad_codes=["E08000033"])
    with pytest.raises(InputError, match="holds E08000035"):  # Leeds is not in the test files
        init_config(DATA, lad_codes=["E08000035"], out=tmp_path / "leeds.yml")
    with pytest.raises(InputError, match="--lad CODE"):
        init_config(DATA)


def test_init_without_crime_or_deprivation_says_so(tmp_path):
    for name in ("lsoa11_bsc.geojson", "census_2011_population_hh.csv"):
        shutil.copy(DATA / name, tmp_path)
    # A census table alone holds no indicator: nothing to rank, so no config, and each gap is named.
    with pytest.raises(InputError) as err:
        init_config(tmp_path, lad_codes=["E08000033"], out=tmp_path / "x.yml")
    text = str(err.value)
    assert "nothing to rank" in text and "no crime source: no police.uk street files" in text
    assert "no deprivation source: no IoD2019 or IoD2025 File 7" in text
    assert not (tmp_path / "x.yml").exists()


def test_init_refuses_to_overwrite(tmp_path):
    out = tmp_path / "c.yml"
    out.write_text("keep me\n", encoding="utf-8")
    with pytest.raises(InputError, match="exists already"):
        init_config(DATA, lad_codes=["E08000033"], out=out)
    assert out.read_text(encoding="utf-8") == "keep me\n"


def _calderdale_mapping(tmp_path: Path) -> dict:
    import yaml

    path = init_config(DATA, lad_codes=["E08000033"], out=tmp_path / "c.yml").path
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def test_unknown_lad_code_is_named_with_a_suggestion(tmp_path):
    raw = _calderdale_mapping(tmp_path)
    raw["area"]["lad_codes"] = ["E08000039"]
    cfg = parse_config(raw, data_dir=DATA)
    with pytest.raises(InputError, match=r"E08000039 \(did you mean [E0-9, ]*E08000033"):
        load_boundaries(cfg)


def test_area_keys_are_checked_when_parsed(tmp_path):
    raw = _calderdale_mapping(tmp_path)
    del raw["area"]["lookup"]
    raw["area"]["lad_codes"] = ["E0800003"]
    with pytest.raises(ConfigError) as err:
        parse_config(raw, data_dir=DATA)
    text = str(err.value)
    assert "'E0800003' is not an ONS local-authority code" in text and "area.lookup: required" in text


def test_area_type_follows_the_code_or_the_config():
    assert area_type(AreaSpec(name="Croydon", lad_codes=("E09000008",))) == "borough"
    assert area_type(AreaSpec(name="Leeds", lad_code="E08000035")) == "district"
    assert area_type(AreaSpec(name="W Yorks", lad_codes=("E08000035", "E08000032"))) == "area"
    assert area_type(AreaSpec(name="VRU", lad_codes=("E08000035",), type="region")) == "region"


def test_a_run_without_crime_says_what_is_absent_not_nan():
    cfg = load_config(default_data_dir() / "configs" / "croydon-demo.yml")
    no_crime = dataclasses.replace(
        cfg, sources={k: v for k, v in cfg.sources.items() if k != "crime"},
        indicators=tuple(i for i in cfg.indicators if i.source != "crime"), patrols=None,
    )
    notes = data_notes(no_crime)
    assert notes.simulated == ("source 'deprivation' (lsoa_table: deprivation domain)",)
    assert notes.absent == ("no crime source, so no crime domain and no share of crime harm per neighbourhood",)
    assert notes.short() == "SIMULATED: deprivation"
    nb = pd.DataFrame({"rank": [1], "name": ["North"], "n_lsoas": [3], "population": [5200.0],
                       "harm_share": [float("nan")]})
    ranks = pd.DataFrame({"rank": [1], "lsoa_name": ["A"], "ward_name": ["W"], "score": [1.0]}, index=["E01"])
    text = IndexRun(Path("out"), None, (), ranks, nb, {}, True, data_notes=tuple(notes.sentences())).summary()
    assert "nan" not in text.lower() and "1. North: 3 LSOAs, population 5,200\n" in text + "\n"
    assert "NOTE: SIMULATED data: source 'deprivation'" in text and "NOTE: Absent: no crime source" in text


def test_no_croydon_in_pli_outside_docstrings():
    """``grep -ri croydon pli/`` finds nothing but docstring examples."""
    found = []
    for path in sorted((ROOT / "pli").rglob("*")):
        if not path.is_file() or "__pycache__" in path.parts:
            continue
        text = path.read_text(encoding="utf-8", errors="replace")
        if path.suffix != ".py":
            found += [str(path)] if "croydon" in text.lower() else []
            continue
        docstrings: set[int] = set()
        for node in ast.walk(ast.parse(text)):
            value = getattr(node, "value", None)
            if isinstance(node, ast.Expr) and isinstance(value, ast.Constant) and isinstance(value.value, str):
                docstrings.update(range(node.lineno, (node.end_lineno or node.lineno) + 1))
        found += [f"{path.relative_to(ROOT)}:{i}: {line.strip()}" for i, line in enumerate(text.splitlines(), 1)
                  if "croydon" in line.lower() and i not in docstrings]
    assert not found, "Croydon outside docstrings:\n" + "\n".join(found)


@pytest.mark.shared
def test_iod2025_file7_layout_loads(tmp_path):
    """The IoD2025 File 7 headers (checked against published readers of the file) on real values."""
    src = SHARED / "croydon_iod2019.csv"
    if not src.is_file():
        pytest.skip(f"real data snapshot not found at {src}")
    with open(src, newline="", encoding="utf-8") as fh:
        rows = list(csv.reader(fh))
    renames = {"LSOA code (2011)": "LSOA code (2021)", "LSOA name (2011)": "LSOA name (2021)",
               "Total population: mid 2015 (excluding prisoners)": "Total population: mid 2022",
               "Dependent Children aged 0-15: mid 2015 (excluding prisoners)": "Dependent Children aged 0-15: mid 2022"}
    keep = [i for i, h in enumerate(rows[0]) if "mid 2015" not in h or h in renames]
    out = tmp_path / "File_7_IoD2025.csv"
    with open(out, "w", newline="", encoding="utf-8") as fh:
        csv.writer(fh).writerows([[renames.get(rows[0][i], rows[0][i]) for i in keep],
                                  *([r[i] for i in keep] for r in rows[1:])])
    cfg = load_config(default_data_dir() / "configs" / "croydon-demo.yml")
    spec19 = dataclasses.replace(cfg.sources["population"], kind="iod2019", path=str(src))
    spec25 = dataclasses.replace(spec19, kind="iod2025", path=str(out), vintage=2021)
    old = load_source("iod", spec19, resolve=Path)
    new = load_source("iod", spec25, resolve=Path)
    assert len(new.table) == len(old.table) == 220
    for col in ("imd_score", "income_score", "idaci_score", "living_environment_decile"):
        pd.testing.assert_series_equal(new.table[col], old.table[col])
    assert new.table["population_total_2022"].equals(old.table["population_total_2015"])
    assert "population_16_59_2022" not in new.table.columns  # optional, and absent here
    with pytest.raises(InputError, match="set kind: iod2025"):
        load_source("iod", dataclasses.replace(spec19, path=str(out)), resolve=Path)


@pytest.mark.shared
def test_a_2021_lookup_places_2011_boundaries_through_the_vintage_lookup():
    """Area lookup on LSOA 2021 codes, boundaries on 2011: codes carried over by the ONS lookup."""
    if not (SHARED / "croydon_lsoa21_to_ward2024_lookup.csv").is_file():
        pytest.skip(f"real data snapshot not found at {SHARED}")
    cfg = load_config(ROOT / "configs" / "croydon-open-data.yml", data_dir=SHARED)
    lookup = dataclasses.replace(cfg.area.lookup, path="croydon_lsoa21_to_ward2024_lookup.csv",
                                 lsoa_column="LSOA21CD", lad_column="LAD24CD", vintage=2021)
    b = load_boundaries(dataclasses.replace(cfg, area=dataclasses.replace(cfg.area, lookup=lookup)))
    assert len(b.lsoa) == 220 and b.area is not None and b.area.excluded == 0
    # The 2021 codes of the five split 2011 LSOAs count as inside the area too.
    assert len(b.area.area_codes) == len(set(b.lsoa.index) | set(
        pd.read_csv(SHARED / "croydon_lsoa21_to_ward2024_lookup.csv", dtype=str)["LSOA21CD"]))


@pytest.mark.shared
def test_a_london_wide_iod_table_is_cut_to_the_borough_without_outside_share(tmp_path):
    """IoD2019 for all 4,835 London LSOAs as source and area lookup: no outside_error_share needed."""
    london = SHARED / "london_iod2019.csv"
    if not london.is_file():
        pytest.skip(f"real data snapshot not found at {london}")
    from pli.pipeline import run_index

    cfg = load_config(ROOT / "configs" / "croydon-open-data.yml", data_dir=SHARED)
    lookup = dataclasses.replace(cfg.area.lookup, path="london_iod2019.csv", lsoa_column="LSOA code (2011)",
                                 lad_column="Local Authority District code (2019)", vintage=2011)
    sources = {**cfg.sources, "iod": dataclasses.replace(cfg.sources["iod"], path="london_iod2019.csv")}
    assert sources["iod"].outside_error_share is None
    cfg = dataclasses.replace(
        cfg, area=dataclasses.replace(cfg.area, lookup=lookup), sources=sources, patrols=None,
        priorities=dataclasses.replace(cfg.priorities, stability_runs=0),
        clustering=dataclasses.replace(cfg.clustering, stability_seeds=0, permutations=99, fdr=False),
    )
    run = run_index(cfg, out_dir=tmp_path / "out")
    assert len(run.rankings) == 220
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text(encoding="utf-8"))
    cut = manifest["area_selection"]["sources_excluded"]["iod"]
    n_london = sum(1 for _ in open(london, encoding="utf-8")) - 1
    assert cut == {"lsoas": n_london - 220, "records": n_london - 220}
    assert manifest["area_type"] == "borough"


@pytest.mark.shared
def test_init_on_2021_files_with_iod2025_runs(tmp_path):
    """LSOA 2021 boundaries, an LSOA21 -> ward -> LAD lookup, IoD2025 File 7 and Census 2021: init, then index."""
    needed = ["croydon_lsoa21_generalised.geojson", "croydon_lsoa21_to_ward2024_lookup.csv",
              "croydon_census2021_ts007a_lsoa21.csv", "croydon_iod2019.csv", "croydon_lsoa11_to_lsoa21_lookup.csv"]
    if not all((SHARED / n).is_file() for n in needed):
        pytest.skip(f"real data snapshot not found at {SHARED}")
    from pli.pipeline import run_index

    data = tmp_path / "data"
    data.mkdir()
    for name in needed[:3]:
        shutil.copy(SHARED / name, data)
    shutil.copytree(SHARED / "police_uk_burglary", data / "police_uk")
    # IoD2025 File 7 layout on 2021 codes (values of each 2011 parent: a stand-in for the real file).
    iod = pd.read_csv(SHARED / "croydon_iod2019.csv", dtype=str)
    link = pd.read_csv(SHARED / "croydon_lsoa11_to_lsoa21_lookup.csv", dtype=str)[["LSOA11CD", "LSOA21CD"]]
    iod25 = link.merge(iod, left_on="LSOA11CD", right_on="LSOA code (2011)").drop(
        columns=["LSOA11CD", "LSOA code (2011)"]).rename(columns={"LSOA21CD": "LSOA code (2021)"})
    iod25.columns = [c.replace("mid 2015 (excluding prisoners)", "mid 2022") for c in iod25.columns]
    iod25.to_csv(data / "File_7_IoD2025_All_Ranks_Scores_Deciles_Population_Denominators.csv", index=False)

    result = init_config(data, lad_codes=["E09000008"], out=tmp_path / "croydon21.yml")
    assert result.missing == ()
    text = result.text
    assert "lsoa_vintage: 2021" in text and "kind: iod2025" in text and "WD24CD" in text
    cfg = load_config(result.path, data_dir=data)
    assert area_type(cfg.area) == "borough"
    cfg = dataclasses.replace(
        cfg, patrols=None, priorities=dataclasses.replace(cfg.priorities, stability_runs=0),
        clustering=dataclasses.replace(cfg.clustering, stability_seeds=0, permutations=99, fdr=False))
    run = run_index(cfg, out_dir=tmp_path / "out")
    assert len(run.rankings) == 229 and len(run.neighbourhoods) == 9
    wards = pd.read_csv(tmp_path / "out" / "wards.csv", dtype=str)
    assert len(wards) == 28  # Croydon's 2018 wards, from the LSOA21 -> WD24 lookup
    inputs = pd.read_csv(tmp_path / "out" / "indicator_inputs.csv", dtype={"lsoa_code": str}).set_index("lsoa_code")
    assert {"crime_harm_rate_numerator", "income_deprivation_numerator",
            "young_residents_share_numerator"} <= set(inputs.columns)


def test_a_broken_area_lookup_is_named_before_the_run(tmp_path):
    from pli.validate import validate_inputs

    raw = _calderdale_mapping(tmp_path)
    raw["area"]["lookup"]["lad_column"] = "Local authority cod"
    with pytest.raises(InputError, match=r"area.lookup: .*no column 'Local authority cod' \(closest: 'Local authority "
                                         r"code'\)"):
        validate_inputs(parse_config(raw, data_dir=DATA))
    raw["area"]["lookup"]["path"] = "nope.csv"
    with pytest.raises(InputError, match="area.lookup: file not found"):
        validate_inputs(parse_config(raw, data_dir=DATA))


def test_init_reads_a_police_uk_zip_as_downloaded(tmp_path):
    import zipfile

    for name in ("lsoa11_bsc.geojson", "census_2011_population_hh.csv"):
        shutil.copy(DATA / name, tmp_path)
    street = DATA / "police_uk" / "2018-07" / "2018-07-west-yorkshire-street.csv"
    with zipfile.ZipFile(tmp_path / "police-download.zip", "w") as zf:
        zf.write(street, "2018-07/2018-07-west-yorkshire-street.csv")
    result = init_config(tmp_path, lad_codes=["E08000033"], out=tmp_path / "z.yml")
    assert result.used["crime"] == "police-download.zip" and result.missing[0].startswith("no deprivation")
    from_zip = load_config(result.path, data_dir=tmp_path)
    from_folder = load_config(init_config(DATA, lad_codes=["E08000033"], out=tmp_path / "f.yml").path, data_dir=DATA)
    tables = [load_source("crime", c.sources["crime"], resolve=c.resolve, lsoa=load_boundaries(c).lsoa).table
              for c in (from_zip, from_folder)]
    pd.testing.assert_frame_equal(tables[0], tables[1])
    assert int(tables[0]["all_crime"].sum()) > 2000
