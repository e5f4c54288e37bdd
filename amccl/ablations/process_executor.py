"""The process executor of an ablation grid: all cores of one machine, ``num_cpus`` threads per run.

Workers start with ``spawn`` (forking a running OpenMP pool can hang), receive the data once and keep their
frozen-text cache. The pool stays warm for the next grid with the same data object, threads and workers; it closes
when a grid needs another pool, or at exit. Each run is :func:`~amccl.ablations.runs.run_pair`, so rows equal the
local executor's (timing aside).
"""

from __future__ import annotations

import atexit
import logging
import multiprocessing
import os
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from typing import Any

from amccl.ablations.runs import RunSpec, run_pair

_WORKER: dict[str, Any] = {}  # this worker process's data and thread count
_POOL: dict[str, Any] = {}  # the parent's warm pool: {"data", "settings": (threads, workers), "pool"}


def default_workers(num_cpus: int, cores: int | None = None) -> int:
    """How many ``num_cpus``-thread workers fit the machine's cores (at least one)."""
    if cores is None:
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    return max(1, int(cores) // max(1, int(num_cpus)))


def _init_worker(data: Any, num_threads: int) -> None:
    """Keep the grid's data, quiet the logger, and leave Ctrl-C to the parent (which cancels the runs not started)."""
    import signal

    import torch

    from amccl.runtime import get_logger

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    torch.set_num_threads(num_threads)
    get_logger(logging.WARNING)
    _WORKER.update(data=data, threads=num_threads)


def _run(spec: RunSpec, fit_fn: Callable | None) -> dict[str, Any]:
    return run_pair(spec, _WORKER["data"], fit_fn, _WORKER["threads"])


def warm_pool(data: Any, num_threads: int, workers: int) -> ProcessPoolExecutor:
    """The pool for (``data``, threads, workers): the warm one when it matches, else a new one."""
    if "pool" not in _POOL or _POOL["data"] is not data or _POOL["settings"] != (num_threads, workers):
        close_pool()
        pool = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"),
                                   initializer=_init_worker, initargs=(data, num_threads))
        _POOL.update(data=data, settings=(num_threads, workers), pool=pool)
    return _POOL["pool"]


@atexit.register
def close_pool() -> None:
    """Shut the warm pool's workers down (at exit, or before a pool of other settings)."""
    pool = _POOL.pop("pool", None)
    _POOL.clear()
    if pool is not None:
        pool.shutdown(wait=True, cancel_futures=True)


class ProcessExecutor:
    """Runs specs in ``workers`` spawned processes (default: cores // ``num_cpus``), ``num_cpus``
    torch threads each (default 1), and yields rows as runs finish."""

    def __init__(self, num_cpus: float | None = None, workers: int | None = None) -> None:
        self.num_cpus = max(1, int(num_cpus or 1))
        self.workers = workers or default_workers(self.num_cpus)

    def run(self, specs: Sequence[RunSpec], data: Any = None,
            fit_fn: Callable | None = None) -> Iterator[dict[str, Any]]:
        """Rows of ``specs`` in the order they finish (``data=None``: each run loads its config's)."""
        if not specs:
            return
        pool = warm_pool(data, self.num_cpus, self.workers)
        futures = [pool.submit(_run, spec, fit_fn) for spec in specs]
        try:
            for future in as_completed(futures):
                yield future.result()
        except BrokenProcessPool:
            close_pool()  # a worker died (killed, out of memory): the next grid starts afresh
            raise
        finally:
            for future in futures:
                future.cancel()
