"""``pli compare``: two real runs of the demo with different weights, compared end to end."""

from __future__ import annotations

import copy
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml

from pli.compare import compare_runs, match_neighbourhoods, read_run
from pli.config import parse_config
from pli.errors import InputError
from pli.outputs import file_sha256
from pli.pipeline import run_index

ROOT = Path(__file__).resolve().parents[1]
DEMO = yaml.safe_load((ROOT / "configs" / "croydon-demo.yml").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory):
    base = tmp_path_factory.mktemp("compare")
    raw_b = copy.deepcopy(DEMO)
    raw_b["indicators"][0]["weight"] = 4.0  # crime harm counts four times as much in run B
    for name, raw in (("a", DEMO), ("b", raw_b)):
        run_index(parse_config(copy.deepcopy(raw), data_dir=ROOT), out_dir=base / name, maps_dir=None)
    return base


def test_rank_changes_and_top_churn_follow_the_two_rankings(two_runs):
    a, b = read_run(two_runs / "a"), read_run(two_runs / "b")
    result = compare_runs(a, b, top_n=20)
    ranks = result.rank_changes
    assert len(ranks) == len(a.rankings) == 220
    pd.testing.assert_series_equal(ranks["rank_a"], a.rankings["rank"].reindex(ranks.index), check_names=False)
    pd.testing.assert_series_equal(ranks["rank_change"], ranks["rank_a"] - ranks["rank_b"], check_names=False)
    assert ranks["rank_change"].abs().max() > 0, "a fourfold harm weight must move some LSOA"
    top_a = set(a.rankings.index[a.rankings["rank"] <= 20])
    top_b = set(b.rankings.index[b.rankings["rank"] <= 20])
    changes = result.top_changes
    assert set(changes.index[changes["change"] == "entered"]) == top_b - top_a
    assert set(changes.index[changes["change"] == "left"]) == top_a - top_b
    assert len(top_b - top_a) == len(top_a - top_b) > 0


def test_config_changes_name_the_changed_weight(two_runs):
    result = compare_runs(read_run(two_runs / "a"), read_run(two_runs / "b"))
    changes = result.config_changes
    first = DEMO["indicators"][0]["name"]
    row = changes[(changes["kind"] == "config") & (changes["key"] == f"indicators[{first}].weight")]
    assert len(row) == 1 and row["run_b"].iloc[0] == "4.0"
    weights = changes[changes["kind"] == "weight"]
    assert first in set(weights["key"]), "the final weight of the indicator changed too"
    assert not (changes["kind"] == "input").any(), "both runs read the same files"


def test_neighbourhoods_are_matched_one_to_one(two_runs):
    a, b = read_run(two_runs / "a"), read_run(two_runs / "b")
    churn = compare_runs(a, b).neighbourhood_churn
    matched = churn.dropna(subset=["rank_a", "rank_b"])
    assert matched["rank_a"].is_unique and matched["rank_b"].is_unique
    assert churn["jaccard"].between(0, 1).all()
    for _, row in matched.iterrows():
        codes_a = set(a.neighbourhoods.set_index("rank").loc[row["rank_a"], "lsoa_codes"])
        codes_b = set(b.neighbourhoods.set_index("rank").loc[row["rank_b"], "lsoa_codes"])
        assert row["jaccard"] == pytest.approx(len(codes_a & codes_b) / len(codes_a | codes_b))


def test_matching_prefers_the_assignment_with_most_overlap():
    a = pd.DataFrame({"rank": [1, 2], "name": ["X", "Y"], "lsoa_codes": [["E1", "E2", "E3"], ["E3", "E4"]]})
    b = pd.DataFrame({"rank": [1, 2], "name": ["P", "Q"], "lsoa_codes": [["E3", "E4"], ["E1", "E2"]]})
    churn = match_neighbourhoods(a, b).set_index("name_a")
    # Greedy on the first row would pair X with P (1/4); the best total pairs X-Q and Y-P.
    assert churn.loc["X", "name_b"] == "Q" and churn.loc["Y", "name_b"] == "P"
    assert churn.loc["Y", "jaccard"] == 1.0


def test_runs_of_other_areas_are_refused(two_runs, tmp_path):
    other = tmp_path / "other"
    (other).mkdir()
    ranks = pd.read_csv(two_runs / "a" / "rankings.csv")
    ranks["lsoa_code"] = "W0" + ranks["lsoa_code"].str[3:]
    ranks.to_csv(other / "rankings.csv", index=False)
    for name in ("priority_neighbourhoods.csv", "manifest.json"):
        (other / name).write_bytes((two_runs / "a" / name).read_bytes())
    with pytest.raises(InputError, match="share no LSOA code"):
        compare_runs(read_run(two_runs / "a"), read_run(other))
    with pytest.raises(InputError, match="is not an output folder of `pli index`"):
        read_run(tmp_path)


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pli", "-q", "compare", *args], capture_output=True, text=True,
                          cwd=ROOT, timeout=300)


def test_cli_writes_tables_and_a_reproducible_escaped_page(two_runs, tmp_path):
    gpkg_names = __import__("geopandas").read_file(two_runs / "a" / "pli.gpkg", layer="lsoa")["lsoa_name"]
    first = _cli(str(two_runs / "a"), str(two_runs / "b"), "--out", str(tmp_path / "one"))
    assert first.returncode == 0, first.stderr
    assert "Comparing a (run" in first.stdout and "top 20:" in first.stdout
    files = sorted(p.name for p in (tmp_path / "one").iterdir())
    assert files == ["comparison.html", "config_changes.csv", "manifest.json", "neighbourhood_churn.csv",
                     "rank_changes.csv", "top_changes.csv"]
    page = (tmp_path / "one" / "comparison.html").read_text(encoding="utf-8")
    assert "Rank change, run A to run B" in page and gpkg_names.iloc[0] in page
    second = _cli(str(two_runs / "a"), str(two_runs / "b"), "--out", str(tmp_path / "two"))
    assert second.returncode == 0, second.stderr
    for name in ("comparison.html", "rank_changes.csv", "neighbourhood_churn.csv", "config_changes.csv"):
        assert file_sha256(tmp_path / "one" / name) == file_sha256(tmp_path / "two" / name), name


def test_cli_refuses_to_write_over_a_run(two_runs):
    before = file_sha256(two_runs / "a" / "rankings.csv")
    proc = _cli(str(two_runs / "a"), str(two_runs / "b"), "--out", str(two_runs / "a"))
    assert proc.returncode == 2 and "pli: error:" in proc.stderr and "Traceback" not in proc.stderr
    assert file_sha256(two_runs / "a" / "rankings.csv") == before


def test_names_in_the_page_are_escaped(two_runs, tmp_path):
    from pli.compare import comparison_page

    a, b = read_run(two_runs / "a"), read_run(two_runs / "b")
    result = compare_runs(a, b)
    code = result.rank_changes.index[0]
    result.rank_changes.loc[code, "lsoa_name"] = "<script>alert(1)</script>{{7*7}}"
    page = comparison_page(result, a.lsoa)
    assert "<script>alert(1)</script>" not in page and "{{7*7}}" not in page
    # Escaped as text, then written into the page's GeoJSON with JSON's \u escapes.
    assert "\\u0026lt;script\\u0026gt;alert(1)\\u0026lt;/script\\u0026gt;" in page
