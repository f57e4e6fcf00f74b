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
    A cluster started here is closed before returning. Worker processes are started with
    ``spawn``, which imports the calling script again: a script (not ``python -m pli``)
    must keep its work under ``if __name__ == "__main__":``.

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

__all__ = ["BACKENDS", "SeededMap", "map_seeded", "task_seeds"]

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


class SeededMap:
    """A backend to map over seeded tasks, open for several maps (one cluster for all).

    Parameters
    ----------
    backend : {"serial", "dask"}
    scheduler : str, optional
        ``dask`` only: address of a running scheduler; default start a ``LocalCluster``.
    workers : int, optional
        ``dask`` LocalCluster only: worker processes (default ``os.cpu_count()``).

    Examples
    --------
    >>> with SeededMap("serial") as run:
    ...     first = run(lambda task, rng: rng.integers(100), ["a", "b"], seed=3)
    >>> first == map_seeded(lambda task, rng: rng.integers(100), ["a", "b"], seed=3)
    True
    """

    def __init__(self, backend: str = "serial", *, scheduler: str | None = None, workers: int | None = None):
        if backend not in BACKENDS:
            raise ValueError(f"backend: expected one of {', '.join(BACKENDS)}, got {backend!r}")
        if workers is not None and workers < 1:
            raise ValueError(f"workers: expected 1 or more, got {workers}")
        self.backend, self.scheduler, self.workers = backend, scheduler, workers
        self._cluster: Any = None
        self._client: Any = None
        self._levels: dict[str, int] = {}

    def __enter__(self) -> SeededMap:
        if self.backend == "dask":
            from distributed import Client, LocalCluster

            # The scheduler's start-up chatter says nothing an analyst needs.
            for name in ("distributed", "tornado"):
                self._levels[name] = logging.getLogger(name).level
                logging.getLogger(name).setLevel(max(logging.WARNING, self._levels[name]))
            if self.scheduler is None:
                n_workers = self.workers or os.cpu_count() or 1
                self._cluster = LocalCluster(n_workers=n_workers, threads_per_worker=1, processes=True,
                                             dashboard_address=None, silence_logs=logging.CRITICAL)
                logger.info("dask: LocalCluster with %d worker process(es)", n_workers)
            self._client = Client(self._cluster if self._cluster is not None else self.scheduler)
            if self.scheduler is not None:
                logger.info("dask: scheduler %s with %d worker(s)", self.scheduler, self._n_workers())
        return self

    def __exit__(self, *exc: object) -> None:
        # Workers killed at close are expected, not worth a warning.
        logging.getLogger("distributed").setLevel(max(logging.ERROR, logging.getLogger("distributed").level))
        try:
            if self._client is not None:
                self._client.close()
            if self._cluster is not None:
                self._cluster.close()
        finally:
            self._client = self._cluster = None
            for name, level in self._levels.items():
                logging.getLogger(name).setLevel(level)

    def _n_workers(self) -> int:
        return max(1, len(self._client.scheduler_info().get("workers", {})))

    def __call__(self, func: Callable[[T, np.random.Generator], R], tasks: Sequence[T], *, seed: int) -> list[R]:
        """``[func(task, rng_i) for i, task in enumerate(tasks)]`` on this backend.

        ``func`` and the tasks must be picklable for ``dask`` (cloudpickle: lambdas and
        callable objects are fine). Results come back in task order.
        """
        pairs = list(zip(tasks, task_seeds(seed, len(tasks))))
        if self.backend == "serial" or not pairs:
            return _run_batch(func, pairs)
        if self._client is None:
            raise RuntimeError("SeededMap('dask') must be entered (with SeededMap(...) as run:) before use")
        size = max(1, math.ceil(len(pairs) / (self._n_workers() * _BATCHES_PER_WORKER)))
        batches = [pairs[i:i + size] for i in range(0, len(pairs), size)]
        [shared] = self._client.scatter([func], broadcast=True)
        futures = self._client.map(_run_batch, [shared] * len(batches), batches, pure=False)
        return [result for batch in self._client.gather(futures) for result in batch]


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

    One map on a backend opened and closed for it (:class:`SeededMap` keeps one open for
    several maps).

    Parameters
    ----------
    func : callable
        ``func(task, rng)`` with ``rng`` a ``numpy.random.Generator`` of the task's own
        seed. Must be picklable for ``dask`` (cloudpickle: a lambda, a function or an
        object with ``__call__``).
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
    with SeededMap(backend, scheduler=scheduler, workers=workers) as run:
        return run(func, tasks, seed=seed)
