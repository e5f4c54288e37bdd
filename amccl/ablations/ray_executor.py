"""The Ray executor of an ablation grid (``pip install "amccl[ray]"``): one Ray task per run.

Tasks run :func:`~amccl.ablations.runs.run_pair` with ``num_cpus`` torch threads, so rows equal
the local executor's (timing aside) on the same device.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from amccl.ablations.runs import RunSpec, run_pair


def _package_root() -> str:
    """The directory holding the ``amccl`` package (put on the local workers' PYTHONPATH)."""
    import amccl

    return str(Path(amccl.__file__).resolve().parent.parent)


class RayExecutor:
    """Runs each spec as a Ray task and yields rows as tasks finish.

    Args:
        address: a Ray cluster (``"auto"``, ``"ray://host:10001"``); ``None`` starts a local Ray
            (``local_cpus`` CPUs) and stops it when done; a running Ray is reused and left running.
        num_cpus: cores (and torch threads) per task, default 1.
        num_gpus: GPU share per task; ``None`` = 0.25 when the cluster has GPUs and the config's
            device is not ``"cpu"``, else 0.
        memory, resources: the task's Ray options.
        runtime_env: default: ``PYTHONPATH`` to this ``amccl`` locally, ``py_modules`` on a cluster.
    """

    def __init__(self, address: str | None = None, num_cpus: float | None = None,
                 num_gpus: float | None = None, memory: int | None = None,
                 resources: dict[str, float] | None = None, runtime_env: dict | None = None,
                 local_cpus: int | None = None) -> None:
        try:
            import ray  # noqa: F401
        except ImportError as err:
            raise ImportError("the Ray executor needs Ray, an optional extra: pip install 'amccl[ray]' "
                              "(or pip install 'ray[default]')") from err
        self.address, self.num_cpus, self.num_gpus = address, 1.0 if num_cpus is None else num_cpus, num_gpus
        self.options = {**({"memory": memory} if memory is not None else {}),
                        **({"resources": dict(resources)} if resources else {})}
        self.runtime_env, self.local_cpus = runtime_env, local_cpus

    def start(self) -> bool:
        """Start or join Ray unless it runs already; True when this call started it."""
        import ray

        if ray.is_initialized():
            return False
        if self.address:
            env = self.runtime_env if self.runtime_env is not None else {
                "py_modules": [str(Path(_package_root()) / "amccl")]}
            ray.init(address=self.address, runtime_env=env, logging_level=logging.WARNING)
            return True
        env = dict(self.runtime_env or {})
        env_vars = dict(env.get("env_vars", {}))
        existing = env_vars.get("PYTHONPATH", os.environ.get("PYTHONPATH", ""))
        env_vars["PYTHONPATH"] = os.pathsep.join(p for p in (_package_root(), existing) if p)
        ray.init(num_cpus=self.local_cpus, include_dashboard=False, runtime_env={**env, "env_vars": env_vars},
                 logging_level=logging.WARNING)
        return True

    def gpus_per_task(self, specs: Sequence[Any]) -> float:
        """The GPU share each task asks for (see the class docstring). ``specs``: anything with a
        ``config`` dict (``AMCCLConfig.to_dict()``), a grid's ``RunSpec`` or a study's ``WorkerSpec``."""
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
        started = self.start()
        try:
            task = ray.remote(run_pair).options(num_cpus=self.num_cpus, num_gpus=self.gpus_per_task(specs),
                                                **self.options)
            data_ref = ray.put(data) if data is not None else None
            pending = [task.remote(spec, data_ref, fit_fn, max(1, int(self.num_cpus))) for spec in specs]
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
