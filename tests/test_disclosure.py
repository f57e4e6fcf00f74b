"""Disclosure rules (pli.disclosure) on the demo run in public mode."""

from __future__ import annotations

import copy
from pathlib import Path

import pandas as pd
import pytest
import yaml

from pli.config import parse_config
from pli.disclosure import COUNT_TRANSFORMS
from pli.indicators import COUNT_KINDS
from pli.pipeline import run_index

ROOT = Path(__file__).resolve().parents[1]
DEMO = yaml.safe_load((ROOT / "configs" / "croydon-demo.yml").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def public_and_full(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("disclosure")
    runs = {}
    for public in (False, True):
        cfg = parse_config(copy.deepcopy(DEMO), data_dir=ROOT)
        out = tmp / ("public" if public else "full")
        run_index(cfg, out_dir=out, maps_dir=None, public=public)
        runs[public] = (pd.read_csv(out / "rankings.csv", index_col="lsoa_code"),
                        pd.read_csv(out / "indicator_inputs.csv", index_col="lsoa_code"))
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
