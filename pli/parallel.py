"""Map a function over seeded tasks, in this process or on a ``dask.distributed`` cluster.

Monte Carlo runs and permutation batches are embarrassingly parallel: every task is
independent once it has its own random stream. :func:`map_seeded` gives task ``i`` the
``i``-th child of ``numpy.random.SeedSequence(seed)`` (``SeedSequence.spawn``), so a task's
draws depend on the master seed and its position only, never on the backend, the number
of workers or how tasks are batched: the serial and the distributed run of the same seed
return identical results.

Backends
--------
``serial``
    A plain loop in this process (the default; nothing to install or start).
``dask``
    ``dask.distributed``: a ``LocalCluster`` of ``workers`` single-threaded processes
    (default: the machine's cores), or an existing scheduler at ``scheduler``
    (``tcp://host:8786``). The function is sent to every worker once (scattered) and the
    tasks travel in a few batches per worker, so small tasks do not drown in scheduling.
    A cluster started here is closed before returning.

Examples
--------
>>> import numpy as np
>>> from pli.parallel import map_seeded
>>> draws = map_seeded(lambda task, rng: task + rng.random(), [10, 20, 30], seed=7)
>>> [int(d) for d in draws]
[10, 20, 30]
>>> draws == map_seeded(lambda task, rng: task + rng.random(), [10, 20, 30], seed=7)
True
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Callable, Sequence
from typing import Any, Literal, TypeVar

import numpy as np

__all__ = ["BACKENDS", "map_seeded", "task_seeds"]

logger = logging.getLogger(__name__)

T = TypeVar("T")
R = TypeVar("R")

BACKENDS: tuple[str, ...] = ("serial", "dask")

# Batches per worker: enough to balance uneven tasks, few enough that scheduling is cheap.
_BATCHES_PER_WORKER = 4


def task_seeds(seed: int, n: int) -> list[np.random.SeedSequence]:
    """The ``n`` independent child seeds of ``seed`` (``SeedSequence(seed).spawn(n)``).

    Child ``i`` is the same whatever ``n`` is, so adding tasks never changes earlier ones.

    Examples
    --------
    >>> a, b = task_seeds(1, 3)[1], task_seeds(1, 5)[1]
    >>> bool(np.random.default_rng(a).random() == np.random.default_rng(b).random())
    True
    """
    return np.random.SeedSequence(int(seed)).spawn(int(n))


def _run_batch(func: Callable[[Any, np.random.Generator], Any], batch: Sequence[tuple[Any, Any]]) -> list:
    return [func(task, np.random.default_rng(child)) for task, child in batch]


def map_seeded(
    func: Callable[[T, np.random.Generator], R],
    tasks: Sequence[T],
    *,
    seed: int,
    backend: Literal["serial", "dask"] | str = "serial",
    scheduler: str | None = None,
    workers: int | None = None,
) -> list[R]:
    """``[func(task, rng_i) for i, task in enumerate(tasks)]``, possibly on many processes.

    Parameters
    ----------
    func : callable
        ``func(task, rng)`` with ``rng`` a ``numpy.random.Generator`` of the task's own
        seed. Must be picklable for ``dask`` (a module-level function, or an object with
        a ``__call__`` method, or a ``functools.partial`` of one).
    tasks : sequence
        One entry per task (picklable for ``dask``).
    seed : int
        Master seed; task ``i`` draws from ``SeedSequence(seed).spawn(len(tasks))[i]``.
    backend : {"serial", "dask"}
    scheduler : str, optional
        ``dask`` only: address of a running scheduler; default start a ``LocalCluster``.
    workers : int, optional
        ``dask`` LocalCluster only: worker processes (default ``os.cpu_count()``).

    Returns
    -------
    list
        Results in task order; the same for every backend and worker count.

    Raises
    ------
    ValueError
        For an unknown backend or fewer than 1 worker.
    """
    if backend not in BACKENDS:
        raise ValueError(f"backend: expected one of {', '.join(BACKENDS)}, got {backend!r}")
    if workers is not None and workers < 1:
        raise ValueError(f"workers: expected 1 or more, got {workers}")
    pairs = list(zip(tasks, task_seeds(seed, len(tasks))))
    if backend == "serial" or not pairs:
        return _run_batch(func, pairs)
    return _map_dask(func, pairs, scheduler=scheduler, workers=workers)


def _map_dask(func: Callable, pairs: list[tuple[Any, Any]], *, scheduler: str | None, workers: int | None) -> list:
    from distributed import Client, LocalCluster

    cluster = None
    if scheduler is None:
        n_workers = workers or os.cpu_count() or 1
        cluster = LocalCluster(n_workers=n_workers, threads_per_worker=1, processes=True, dashboard_address=None,
                               silence_logs=logging.WARNING)
        logger.info("dask: LocalCluster with %d worker process(es)", n_workers)
    try:
        with Client(cluster if cluster is not None else scheduler) as client:
            n_workers = max(1, len(client.scheduler_info().get("workers", {})))
            if scheduler is not None:
                logger.info("dask: scheduler %s with %d worker(s)", scheduler, n_workers)
            size = max(1, math.ceil(len(pairs) / (n_workers * _BATCHES_PER_WORKER)))
            batches = [pairs[i:i + size] for i in range(0, len(pairs), size)]
            [shared] = client.scatter([func], broadcast=True)
            futures = client.map(_run_batch, [shared] * len(batches), batches, pure=False)
            return [result for batch in client.gather(futures) for result in batch]
    finally:
        if cluster is not None:
            cluster.close()
