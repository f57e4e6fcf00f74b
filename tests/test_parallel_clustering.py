"""LISA permutations in seeded chunks: the same result on any backend and worker count.

``clustering.parallel: serial`` and ``dask`` split the permutations into chunks seeded
by position from the config seed (:mod:`pli.parallel`), so the single-process and the
distributed run of one seed agree exactly; the chunked pseudo p estimates the same null
as one esda call.
"""

from __future__ import annotations

import copy
import dataclasses

import numpy as np
import pandas as pd
import pytest

from pli.clustering import parallel_for
from pli.config import ClusteringSpec, ConfigError, parse_config
from pli.examples import lattice
from pli.parallel import SeededMap
from pli.pipeline import run_index
from pli.stats.moran import LISA_CHUNK, local_moran
from pli.stats.weights import build_weights

from broken_harness import DEMO, ROOT


@pytest.fixture(scope="module")
def grid():
    lsoa = lattice()
    return lsoa["score"], build_weights(lsoa)


def test_chunks_identical_whatever_the_backend_or_workers(grid):
    y, w = grid
    perms = 2 * LISA_CHUNK + 499  # three chunks, the last one short
    with SeededMap("serial") as serial:
        a = local_moran(y, w, permutations=perms, seed=11, parallel=serial)
    with SeededMap("dask", workers=2) as dask2:
        b = local_moran(y, w, permutations=perms, seed=11, parallel=dask2)
    with SeededMap("dask", workers=1) as dask1:
        c = local_moran(y, w, permutations=perms, seed=11, parallel=dask1)
    for other in (b, c):
        np.testing.assert_array_equal(a.p, other.p)
        np.testing.assert_array_equal(a.cluster_fdr, other.cluster_fdr)
    with SeededMap("serial") as serial:
        d = local_moran(y, w, permutations=perms, seed=12, parallel=serial)
    assert not np.array_equal(a.p, d.p), "another seed must draw other permutations"


def test_chunked_p_estimates_the_same_null_as_one_esda_call(grid):
    y, w = grid
    perms = 9_999
    whole = local_moran(y, w, permutations=perms, seed=3)
    with SeededMap("serial") as serial:
        chunked = local_moran(y, w, permutations=perms, seed=3, parallel=serial)
    np.testing.assert_array_equal(whole.I, chunked.I)
    # Two Monte Carlo estimates of one p with 10,000 draws: within a few standard errors.
    se = np.sqrt(np.maximum(whole.p_directed * (1 - whole.p_directed), 1e-4) / perms)
    assert np.all(np.abs(whole.p_directed - chunked.p_directed) <= 5 * se + 2 / perms)
    assert chunked.p_directed.min() >= 1 / (perms + 1)
    assert (whole.cluster != chunked.cluster).sum() <= 2


def test_parallel_for_reads_the_spec():
    assert parallel_for(ClusteringSpec()) is None
    assert parallel_for(ClusteringSpec(parallel="serial")).backend == "serial"
    assert parallel_for(ClusteringSpec(scheduler="tcp://127.0.0.1:8786")).backend == "dask"
    with pytest.raises(ConfigError, match="clustering.workers: expected 1 or more, got 0"):
        parse_config(dict(copy.deepcopy(DEMO), clustering={"parallel": "dask", "workers": 0}), data_dir=ROOT)


def test_index_run_identical_in_one_process_and_on_a_local_cluster(tmp_path):
    raw = copy.deepcopy(DEMO)
    raw.pop("patrols", None)
    raw["clustering"] = dict(raw.get("clustering") or {}, stability_seeds=2)
    cfg = parse_config(raw, data_dir=ROOT)
    outputs = {}
    for backend in ("serial", "dask"):
        run_cfg = dataclasses.replace(cfg, clustering=dataclasses.replace(cfg.clustering, parallel=backend, workers=2))
        out = tmp_path / backend
        run_index(run_cfg, out_dir=out, maps_dir=None)
        outputs[backend] = {p.name: p.read_bytes() for p in sorted(out.glob("*.csv"))}
    assert outputs["serial"].keys() == outputs["dask"].keys() and "rankings.csv" in outputs["serial"]
    for name, data in outputs["serial"].items():
        assert data == outputs["dask"][name], name
    rankings = pd.read_csv(tmp_path / "serial" / "rankings.csv", comment="#")
    assert rankings["lisa_cluster"].notna().all()
