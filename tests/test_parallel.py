"""pli.parallel: seeded tasks give the same results whatever the backend and worker count."""

from __future__ import annotations

import numpy as np
import pytest

from pli.parallel import SeededMap, map_seeded, task_seeds


def _draws(task: int, rng: np.random.Generator) -> tuple[int, list[float]]:
    # Module level, so dask workers can import it by name.
    return task, rng.normal(size=3).tolist()


def test_each_task_gets_its_own_child_of_the_master_seed():
    got = map_seeded(_draws, [5, 6, 7], seed=42)
    children = np.random.SeedSequence(42).spawn(3)
    expected = [(t, np.random.default_rng(c).normal(size=3).tolist()) for t, c in zip([5, 6, 7], children)]
    assert got == expected
    # A task's stream depends on its position only, not on how many tasks there are.
    assert map_seeded(_draws, [5, 6, 7, 8, 9], seed=42)[:3] == got
    assert map_seeded(_draws, [5, 6, 7], seed=43) != got
    assert len({tuple(d) for _, d in got}) == 3


def test_task_seeds_are_independent_streams():
    rngs = [np.random.default_rng(s) for s in task_seeds(0, 4)]
    draws = np.array([r.random(2000) for r in rngs])
    corr = np.corrcoef(draws)
    assert np.abs(corr[np.triu_indices(4, 1)]).max() < 0.1


def test_bad_backend_and_workers_are_refused():
    with pytest.raises(ValueError, match="backend: expected one of serial, dask"):
        map_seeded(_draws, [1], seed=0, backend="threads")
    with pytest.raises(ValueError, match="workers: expected 1 or more"):
        SeededMap("dask", workers=0)


def test_dask_needs_to_be_entered():
    with pytest.raises(RuntimeError, match="must be entered"):
        SeededMap("dask")(_draws, [1], seed=0)


def test_dask_local_cluster_of_two_processes_matches_serial():
    pytest.importorskip("distributed")
    tasks = list(range(23))  # uneven batches
    serial = map_seeded(_draws, tasks, seed=7)
    with SeededMap("dask", workers=2) as run:
        first = run(_draws, tasks, seed=7)
        second = run(lambda task, rng: float(rng.random()) + task, tasks[:5], seed=7)  # cloudpickled lambda
        cluster = run._cluster
    assert first == serial
    assert second == map_seeded(lambda task, rng: float(rng.random()) + task, tasks[:5], seed=7)
    assert cluster.status.name == "closed"
