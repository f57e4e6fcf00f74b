"""Disclosure rules (pli.disclosure) on the demo run in public mode.

The differencing attack at the end plays someone who holds every published file and
the true ward and borough totals (police.uk publishes neighbourhood and force counts)
and tries to solve for the blanked cells.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from unittest import mock

import numpy as np
import pandas as pd
import pyogrio
import pytest
import yaml

from pli import maps as maps_module
from pli.config import parse_config
from pli.disclosure import (
    COUNT_TRANSFORMS,
    counts_people_or_events,
    secondary_suppression,
)
from pli.indicators import COUNT_KINDS
from pli.pipeline import run_index

ROOT = Path(__file__).resolve().parents[1]
DEMO = yaml.safe_load((ROOT / "configs" / "croydon-demo.yml").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def public_and_full(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("disclosure")
    runs = {}
    bundles = []
    real_write_maps = maps_module.write_maps

    def capture(bundle, *args, **kwargs):
        bundles.append(bundle)
        return real_write_maps(bundle, *args, **kwargs)

    for public in (False, True):
        cfg = parse_config(copy.deepcopy(DEMO), data_dir=ROOT)
        out = tmp / ("public" if public else "full")
        with mock.patch.object(maps_module, "write_maps", capture):
            run_index(cfg, out_dir=out, maps_dir=(tmp / "public_maps") if public else None, public=public)
        runs[public] = (pd.read_csv(out / "rankings.csv", index_col="lsoa_code"),
                        pd.read_csv(out / "indicator_inputs.csv", index_col="lsoa_code"))
    runs["out"] = tmp / "public"
    runs["bundle"] = bundles[-1]
    return runs, cfg


def test_driver_label_is_blank_wherever_its_small_count_is(public_and_full):
    runs, cfg = public_and_full
    full_rank, full_raw = runs[False]
    pub_rank, _ = runs[True]
    threshold = cfg.output.suppress_below
    checked = 0
    for spec in cfg.indicators:
        num = f"{spec.name}_numerator"
        counted = cfg.sources[spec.source].kind in COUNT_KINDS or spec.transform in COUNT_TRANSFORMS
        if spec.harm or not counted or num not in full_raw.columns:
            continue
        small = full_raw[num] < threshold
        for k in (1, 2, 3):
            names_it = full_rank[f"driver_{k}"].eq(spec.name) & small.reindex(full_rank.index, fill_value=False)
            checked += int(names_it.sum())
            # Neither the label nor its value may be published for these LSOAs.
            assert pub_rank.loc[names_it[names_it].index, f"driver_{k}"].isna().all(), (spec.name, k)
            assert pub_rank.loc[names_it[names_it].index, f"driver_{k}_value"].isna().all(), (spec.name, k)
    assert checked > 0, "the demo should have small counts that drive some LSOA"


def test_driver_labels_of_unsuppressed_values_are_kept(public_and_full):
    runs, _ = public_and_full
    full_rank, _ = runs[False]
    pub_rank, _ = runs[True]
    kept = pub_rank["driver_1"].notna()
    assert kept.sum() > len(pub_rank) // 2
    assert (pub_rank.loc[kept, "driver_1"] == full_rank.loc[kept, "driver_1"]).all()


def _count_indicators(cfg) -> list[str]:
    return [s.name for s in cfg.indicators if counts_people_or_events(s, cfg.sources[s.source]) and not s.harm]


def _true_counts(runs, cfg) -> pd.DataFrame:
    _, full_raw = runs[False]
    return pd.DataFrame({n: full_raw[f"{n}_numerator"] for n in _count_indicators(cfg)})


def _published_cells(out: Path, cfg, codes: pd.Index) -> dict[str, pd.DataFrame]:
    """What each public file says about each LSOA's count: numerator, or rate x denominator."""
    ranked = pd.read_csv(out / "rankings.csv", index_col="lsoa_code").reindex(codes)
    raw = pd.read_csv(out / "indicator_inputs.csv", index_col="lsoa_code").reindex(codes)
    gpkg = pyogrio.read_dataframe(out / "pli.gpkg", layer="lsoa").set_index("lsoa_code").reindex(codes)
    found: dict[str, pd.DataFrame] = {}
    for name in _count_indicators(cfg):
        spec = next(s for s in cfg.indicators if s.name == name)
        scale = 1000.0 if spec.transform == "rate" else 1.0
        den = raw.get(f"{name}_denominator", ranked["population"])
        cells = pd.DataFrame(index=codes)
        cells["inputs"] = raw[f"{name}_numerator"]
        cells["rankings"] = ranked[name] * den / scale if spec.transform in ("rate", "share") else ranked[name]
        cells["gpkg"] = gpkg[name] * den / scale if spec.transform in ("rate", "share") else gpkg[name]
        for k in (1, 2, 3):
            # A driver value is the indicator's value in that row.
            named = ranked[f"driver_{k}"].eq(name)
            value = ranked[f"driver_{k}_value"].where(named)
            cells[f"driver_{k}"] = value * den / scale if spec.transform in ("rate", "share") else value
        found[name] = cells
    return found


def _group_totals(out: Path, cfg, ranked_full: pd.DataFrame, counts: pd.DataFrame) -> list[tuple[str, pd.Index]]:
    """Groups whose totals the attacker holds: every ward, the study area, and any group file column."""
    groups = [(f"ward {w}", members.index) for w, members in ranked_full.groupby("ward_code")]
    groups.append(("study area", ranked_full.index))
    # Group-level files publish no count totals today; if one ever does, it joins the attack.
    neighbourhoods = pd.read_csv(out / "priority_neighbourhoods.csv")
    geo = json.loads((out / "priority_neighbourhoods.geojson").read_text(encoding="utf-8"))
    wards = pd.read_csv(out / "wards.csv")
    layers = {name: pyogrio.read_dataframe(out / "pli.gpkg", layer=name, read_geometry=False)
              for name, _ in pyogrio.list_layers(out / "pli.gpkg") if name != "lsoa"}
    group_columns = set(neighbourhoods.columns) | set(wards.columns)
    group_columns |= {k for f in geo["features"] for k in f["properties"]}
    for frame in layers.values():
        group_columns |= set(frame.columns)
    leaked = {c for c in group_columns for n in counts.columns if c.startswith(n)}
    assert not leaked, f"group-level files publish count columns {sorted(leaked)}: add them to the attack"
    return groups


def _recoverable(hidden: pd.DataFrame, groups: list[tuple[str, pd.Index]]) -> list[tuple[str, str]]:
    """Hidden cells that the group totals pin down exactly (unit vector in the row space)."""
    recovered = []
    for name in hidden.columns:
        cells = hidden.index[hidden[name]]
        if not len(cells):
            continue
        a = np.array([[1.0 if c in set(members) else 0.0 for c in cells] for _, members in groups])
        for j, code in enumerate(cells):
            target = np.zeros(len(cells))
            target[j] = 1.0
            coef, *_ = np.linalg.lstsq(a.T, target, rcond=None)
            if np.allclose(a.T @ coef, target, atol=1e-9):
                recovered.append((code, name))
    return recovered


def test_differencing_attack_recovers_no_small_count(public_and_full):
    runs, cfg = public_and_full
    out = runs["out"]
    threshold = cfg.output.suppress_below
    full_rank, _ = runs[False]
    counts = _true_counts(runs, cfg)
    small = counts < threshold
    assert small.to_numpy().sum() > 100, "the demo must have small counts for the attack to bite"
    published = _published_cells(out, cfg, counts.index)
    # 1. Direct reads: no published figure gives a small count back.
    for name, cells in published.items():
        for where, values in cells.items():
            hit = small[name] & values.notna()
            assert not hit.any(), (name, where, list(hit.index[hit])[:5])
    # 2. Differencing: known ward and borough totals minus every published cell.
    hidden = pd.DataFrame({n: published[n].notna().sum(axis=1).eq(0) for n in counts.columns})
    groups = _group_totals(out, cfg, full_rank, counts)
    recovered = [(code, n) for code, n in _recoverable(hidden, groups) if small.loc[code, n]]
    assert not recovered, f"small counts recoverable by differencing: {recovered[:5]}"
    # Every blank the attacker sees holds at least two cells in its ward.
    for name in counts.columns:
        per_ward = hidden[name].groupby(full_rank["ward_code"].reindex(hidden.index)).agg(["sum", "size"])
        assert not ((per_ward["sum"] == 1) & (per_ward["size"] > 1)).any(), name


def test_the_attack_bites_on_primary_suppression_alone(public_and_full):
    """Without secondary suppression the same attack recovers small counts exactly."""
    runs, cfg = public_and_full
    full_rank, _ = runs[False]
    counts = _true_counts(runs, cfg)
    primary = counts < cfg.output.suppress_below
    groups = [(w, m.index) for w, m in full_rank.groupby("ward_code")] + [("area", full_rank.index)]
    recovered = _recoverable(primary, groups)
    assert len(recovered) >= 5, recovered
    # ... and exactly: total minus the published cells is the count itself.
    code, name = recovered[0]
    ward = full_rank.loc[code, "ward_code"]
    members = full_rank.index[full_rank["ward_code"] == ward]
    shown = counts.loc[members, name][~primary.loc[members, name]]
    assert counts.loc[members, name].sum() - shown.sum() == counts.loc[code, name] < cfg.output.suppress_below


def test_secondary_suppression_blanks_the_next_smallest_in_the_ward():
    counts = pd.Series([3, 12, 8, 40, 2, 1, 50, 60], index=[f"L{i}" for i in range(8)])
    ward = pd.Series(["A", "A", "A", "A", "B", "B", "C", "C"], index=counts.index)
    area = pd.Series("all", index=counts.index)
    primary = counts < 5
    mask = secondary_suppression(primary, counts, [ward, area])
    # Ward A had one blank (L0): its smallest published cell (L2, 8) goes too; B has two already.
    assert list(mask[mask].index) == ["L0", "L2", "L4", "L5"]
    assert primary.equals(counts < 5)  # input untouched
    lone = secondary_suppression(pd.Series([False] * 7 + [True], index=counts.index), counts, [ward, area])
    assert list(lone[lone].index) == ["L6", "L7"]


def test_secondary_blanks_only_where_a_ward_held_one_small_cell(public_and_full):
    runs, cfg = public_and_full
    full_rank, _ = runs[False]
    pub_rank, pub_raw = runs[True]
    counts = _true_counts(runs, cfg)
    small = counts < cfg.output.suppress_below
    wards = full_rank["ward_code"].reindex(counts.index)
    extra_total = 0
    for name in counts.columns:
        blank = pub_raw[f"{name}_numerator"].reindex(counts.index).isna()
        extra = blank & ~small[name]
        extra_total += int(extra.sum())
        small_per_ward = small[name].groupby(wards).sum()
        # A secondary blank sits in a ward with exactly one small cell, or fixes the borough total.
        assert (small_per_ward.reindex(wards[extra]).to_numpy() <= 1).all(), name
        kept = ~blank
        np.testing.assert_allclose(pub_rank.loc[kept[kept].index, name],
                                   full_rank.loc[kept[kept].index, name], rtol=1e-5)
    assert 0 < extra_total < small.to_numpy().sum()


def test_maps_get_the_blanked_frame(public_and_full):
    runs, cfg = public_and_full
    bundle = runs["bundle"]
    pub_rank, pub_raw = runs[True]
    frame = bundle.lsoa
    assert "harm" not in frame.columns
    for name in _count_indicators(cfg):
        blank = pub_raw[f"{name}_numerator"].isna()
        assert blank.any()
        assert frame.loc[blank[blank].index, name].isna().all(), name
        assert frame[name].isna().equals(pub_rank[name].reindex(frame.index).isna()), name
    assert frame["score"].round(2).equals(frame["score"])


@pytest.mark.parametrize("kind, transform, aggregation, counted", [
    ("census2021", "value", None, True),
    ("census2011_population", "log", None, True),
    ("points", "value", None, True),
    ("mps_lsoa_crime", "value", None, True),
    ("lsoa_table", "value", "sum", True),
    ("lsoa_table", "share", None, True),
    ("lsoa_table", "value", None, False),
    ("iod2019", "value", None, False),
])
def test_counts_are_recognised_by_nature_from_any_source(kind, transform, aggregation, counted):
    from pli.config import IndicatorSpec, SourceSpec

    src = SourceSpec(kind=kind, path="x.csv", aggregation=aggregation)
    spec = IndicatorSpec(name="x", source="s", transform=transform)
    assert counts_people_or_events(spec, src) is counted


def test_table_counts_below_threshold_are_blanked_in_public_mode(tmp_path):
    """A non-crime count (an LSOA table declared as counts) is suppressed like a crime count."""
    from conftest import copy_demo_data

    data = copy_demo_data(tmp_path / "data")
    pop = data / "indicators" / "demo" / "croydon_census2011_population.csv"
    frame = pd.read_csv(pop, dtype=str)
    raw = copy.deepcopy(DEMO)
    # Real resident counts are never below 5 per LSOA, so a sparse count (0-12 carers) stands in.
    codes = frame["LSOA Code"]
    sparse = pd.DataFrame({"lsoa_code": codes, "carers": [(i * 7) % 13 for i in range(len(codes))]})
    sparse.to_csv(data / "indicators" / "demo" / "carers.csv", index=False)
    raw["sources"]["carers"] = {"kind": "lsoa_table", "path": "indicators/demo/carers.csv",
                                "code_column": "lsoa_code", "aggregation": "sum"}
    raw["indicators"].append({"name": "carers", "source": "carers", "columns": ["carers"],
                              "domain": "deprivation"})
    cfg = parse_config(raw, data_dir=data)
    run_index(cfg, out_dir=tmp_path / "out", maps_dir=None, public=True)
    ranked = pd.read_csv(tmp_path / "out" / "rankings.csv", index_col="lsoa_code")
    inputs = pd.read_csv(tmp_path / "out" / "indicator_inputs.csv", index_col="lsoa_code")
    truth = sparse.set_index("lsoa_code")["carers"].reindex(ranked.index)
    assert ranked.loc[truth < 5, "carers"].isna().all()
    assert inputs.loc[truth < 5, "carers_numerator"].isna().all()
    assert (inputs["carers_numerator"].dropna() >= 5).all()
    assert ranked["carers"].notna().sum() > len(ranked) // 2
