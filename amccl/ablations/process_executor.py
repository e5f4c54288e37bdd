"""The process executor of an ablation grid: all cores of one machine, one thread per run.

:func:`amccl.ablations.grid.run_grid` uses it with ``executor="processes"``. Small models (the
demo's, frozen text) gain little from a second torch thread, so on ``C`` cores ``C //
num_cpus`` worker processes each training one run at a time with ``num_cpus`` threads finish
a grid sooner than one process with ``C`` threads. Workers start with ``spawn`` (a fork of a
process whose OpenMP pool is running can hang), receive the data once, and keep their own
frozen-text cache for every run they train. Each run is :func:`~amccl.ablations.grid.run_pair`,
as in the local executor, so a row equals the local executor's with the same ``num_cpus``
(timing aside).
"""

from __future__ import annotations

import logging
import multiprocessing
import os
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from typing import Any

from amccl.ablations.grid import RunSpec, run_pair

_WORKER: dict[str, Any] = {}  # this worker process's data and thread count


def default_workers(num_cpus: int, cores: int | None = None) -> int:
    """How many ``num_cpus``-thread workers fit the machine's cores (at least one)."""
    if cores is None:
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    return max(1, int(cores) // max(1, int(num_cpus)))


def _init_worker(data: Any, num_threads: int) -> None:
    """Keep the grid's data; quiet the package logger (the rows say what each run did)."""
    import torch

    from amccl.runtime import get_logger

    torch.set_num_threads(num_threads)
    get_logger(logging.WARNING)
    _WORKER.update(data=data, threads=num_threads)


def _run(spec: RunSpec, fit_fn: Callable | None) -> dict[str, Any]:
    return run_pair(spec, _WORKER["data"], fit_fn, _WORKER["threads"])


class ProcessExecutor:
    """Runs specs in ``workers`` spawned processes and yields rows as runs finish.

    Args:
        num_cpus: torch threads per run (default 1).
        workers: processes (default: the cores available divided by ``num_cpus``).
    """

    def __init__(self, num_cpus: float | None = None, workers: int | None = None) -> None:
        self.num_cpus = max(1, int(num_cpus or 1))
        self.workers = workers or default_workers(self.num_cpus)

    def run(self, specs: Sequence[RunSpec], data: Any = None, fit_fn: Callable | None = None) -> Iterator[dict[str, Any]]:
        """Rows of ``specs`` in the order they finish (``data=None``: each run loads its config's)."""
        if not specs:
            return
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(min(self.workers, len(specs)), mp_context=context, initializer=_init_worker,
                                 initargs=(data, self.num_cpus)) as pool:
            futures = [pool.submit(_run, spec, fit_fn) for spec in specs]
            try:
                for future in as_completed(futures):
                    yield future.result()
            finally:
                for future in futures:
                    future.cancel()
