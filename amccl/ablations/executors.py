"""Where a grid's runs execute: in this process, one after another, or as Ray tasks.

Both executors take the same :class:`~amccl.ablations.runner.RunSpec` list and yield each
run's row as soon as it finishes (in completion order), so the grid can write it at once.

* :class:`LocalExecutor` runs every spec in this process.
* :class:`RayExecutor` submits one Ray task per spec. Without an address it starts a local
  Ray (and stops it afterwards; an already initialised Ray is reused and left running);
  with ``address="ray://head:10001"`` or ``"auto"`` it joins a cluster. Each task asks for
  ``num_cpus`` cores and ``num_gpus`` of a GPU: fractional, so ``num_gpus=0.25`` packs four
  small MOSI runs on one GPU. Ray is an optional extra: ``pip install "amccl[ray]"``.

Equal numbers: a run depends only on its config, seed, data and torch's thread count. Both
executors set the thread count to ``num_cpus`` when it is given, so the local executor and
Ray tasks with the same ``num_cpus`` produce identical rows (timing columns aside) on the
same device. The thread count does matter on CPU: the smoke grid's test Corr moved in the
4th decimal between 1 and 2 threads. The local executor's default (``num_cpus=None``) keeps
torch's own setting (all cores, fastest for one run at a time); Ray's default is 1 core per
task (several runs side by side), so pass ``num_cpus`` explicitly when comparing them.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from amccl.ablations.runner import RunSpec, run_pair

EXECUTORS = ("local", "ray")
_RESOURCE_KEYS = {"num_cpus", "num_gpus", "memory", "resources"}


def check_resources(resources: dict[str, Any] | None) -> dict[str, Any]:
    """Validate a per-run resource request: ``num_cpus``, ``num_gpus`` (fractions allowed),
    ``memory`` (bytes, Ray only) and ``resources`` (custom Ray resources)."""
    resources = dict(resources or {})
    unknown = set(resources) - _RESOURCE_KEYS
    if unknown:
        raise ValueError(f"unknown resource keys {sorted(unknown)}; expected some of {sorted(_RESOURCE_KEYS)}")
    for key in ("num_cpus", "num_gpus"):
        if resources.get(key) is not None and float(resources[key]) < 0:
            raise ValueError(f"{key} must be >= 0, got {resources[key]}")
    return resources


def threads_for(num_cpus: float | None) -> int | None:
    """Torch threads for a run granted ``num_cpus`` cores (at least 1; None = leave alone)."""
    return None if num_cpus is None else max(1, int(num_cpus))


class LocalExecutor:
    """Runs each spec in this process, in order.

    Args:
        num_cpus: torch threads per run (``None``: torch's current setting).
    """

    name = "local"

    def __init__(self, num_cpus: float | None = None) -> None:
        self.num_threads = threads_for(num_cpus)

    def run(self, specs: Sequence[RunSpec], data: Any = None,
            fit_fn: Callable | None = None) -> Iterator[dict[str, Any]]:
        for spec in specs:
            yield run_pair(spec, data, fit_fn, self.num_threads)


def _ray_task(spec: RunSpec, data: Any, fit_fn: Callable | None, num_threads: int | None) -> dict[str, Any]:
    """The body of one Ray task (module level, so workers import it by name)."""
    return run_pair(spec, data, fit_fn, num_threads)


def _package_root() -> str:
    """The directory holding the ``amccl`` package (put on the local workers' PYTHONPATH)."""
    import amccl

    return str(Path(amccl.__file__).resolve().parent.parent)


class RayExecutor:
    """Runs each spec as a Ray task and yields rows as tasks finish.

    Args:
        address: a Ray cluster (``"auto"``, ``"ray://host:10001"``); ``None`` starts a
            local Ray with ``local_cpus`` CPUs (default: all) and stops it when done.
        num_cpus: cores per task (default 1); also the task's torch thread count.
        num_gpus: GPU share per task; ``None`` = 0.25 when the cluster has GPUs and the
            config's device is not ``"cpu"``, else 0.
        memory, resources: passed to the task's Ray options.
        runtime_env: Ray runtime environment. Default: locally, ``PYTHONPATH`` points the
            workers at this ``amccl``; on a cluster, this ``amccl`` directory is shipped as a
            ``py_modules`` entry unless a runtime_env is given (install amccl on the nodes
            and pass ``{}`` to skip it).
        local_cpus: CPUs of a locally started Ray.
    """

    name = "ray"

    def __init__(self, address: str | None = None, num_cpus: float | None = None,
                 num_gpus: float | None = None, memory: int | None = None,
                 resources: dict[str, float] | None = None, runtime_env: dict | None = None,
                 local_cpus: int | None = None) -> None:
        try:
            import ray  # noqa: F401
        except ImportError as err:
            raise ImportError(
                "the Ray executor needs Ray, an optional extra: pip install 'amccl[ray]' "
                "(or pip install 'ray[default]')"
            ) from err
        self.address, self.num_cpus, self.num_gpus = address, 1.0 if num_cpus is None else num_cpus, num_gpus
        self.memory, self.custom, self.runtime_env, self.local_cpus = memory, resources, runtime_env, local_cpus

    def _init(self):
        import ray

        if ray.is_initialized():
            return False
        if self.address:
            env = self.runtime_env if self.runtime_env is not None else {
                "py_modules": [str(Path(_package_root()) / "amccl")]}
            ray.init(address=self.address, runtime_env=env, logging_level=logging.WARNING)
        else:
            env = dict(self.runtime_env or {})
            env_vars = dict(env.get("env_vars", {}))
            existing = env_vars.get("PYTHONPATH", os.environ.get("PYTHONPATH", ""))
            env_vars["PYTHONPATH"] = os.pathsep.join(p for p in (_package_root(), existing) if p)
            env["env_vars"] = env_vars
            ray.init(num_cpus=self.local_cpus, include_dashboard=False, runtime_env=env,
                     logging_level=logging.WARNING)
        return True

    def gpus_per_task(self, specs: Sequence[RunSpec]) -> float:
        """The GPU share each task asks for (see the class docstring)."""
        import ray

        if self.num_gpus is not None:
            return float(self.num_gpus)
        wants_gpu = any(spec.config.get("device", "auto") != "cpu" for spec in specs)
        return 0.25 if wants_gpu and ray.cluster_resources().get("GPU", 0) > 0 else 0.0

    def run(self, specs: Sequence[RunSpec], data: Any = None,
            fit_fn: Callable | None = None) -> Iterator[dict[str, Any]]:
        import ray

        if not specs:
            return
        started = self._init()
        try:
            options: dict[str, Any] = {"num_cpus": self.num_cpus, "num_gpus": self.gpus_per_task(specs)}
            if self.memory is not None:
                options["memory"] = self.memory
            if self.custom:
                options["resources"] = dict(self.custom)
            task = ray.remote(_ray_task).options(**options)
            data_ref = ray.put(data) if data is not None else None
            threads = threads_for(self.num_cpus)
            pending = [task.remote(spec, data_ref, fit_fn, threads) for spec in specs]
            try:
                while pending:
                    done, pending = ray.wait(pending, num_returns=1)
                    yield ray.get(done[0])
            finally:
                for ref in pending:  # an error or an interrupted consumer: stop the rest
                    ray.cancel(ref, force=True)
        finally:
            if started:
                ray.shutdown()


def make_executor(name: str = "local", ray_address: str | None = None,
                  resources: dict[str, Any] | None = None, **ray_kwargs: Any):
    """An executor by name: ``local`` or ``ray`` (with ``ray_address`` and ``resources``)."""
    resources = check_resources(resources)
    if name == "local":
        return LocalExecutor(resources.get("num_cpus"))
    if name == "ray":
        return RayExecutor(ray_address, resources.get("num_cpus"), resources.get("num_gpus"),
                           resources.get("memory"), resources.get("resources"), **ray_kwargs)
    raise ValueError(f"unknown executor {name!r}; expected one of {EXECUTORS}")
