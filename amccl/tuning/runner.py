"""A study run here or as Ray tasks sharing one storage (:func:`run_study`; workers never get the
test split), then the best config retrained over seeds and scored on test once (:func:`retrain_best`)."""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import Any

import optuna
import pandas as pd

from amccl.config import AMCCLConfig
from amccl.tuning.space import get_space
from amccl.tuning.study import best_config, finished, make_objective, open_storage, open_study, optimize, storage_url

TUNE_DIR = Path("runs/tune")  # TUNE_DIR / <study name>: the command's files and, by default, the study


@dataclasses.dataclass(frozen=True)
class WorkerSpec:
    """What one optimising process needs (picklable: sent to Ray tasks)."""

    storage: str
    study_name: str
    space: str
    config: dict[str, Any]  # the base AMCCLConfig.to_dict()
    trial_seed: int
    total: int  # complete + pruned trials the study should hold
    seed: int = 0  # sampler seed (see amccl.tuning.study.sampler_seed)
    pruner: Any = "median"
    worker: int = 0
    most: int | None = None  # this worker's share of the trials left (None: all)


def run_worker(spec: WorkerSpec, data: Any = None, num_threads: int | None = None,
               fit_fn: Callable | None = None, progress: bool = False) -> int:
    """Optimise ``spec``'s study until it is full (``data=None``: the config's; ``num_threads``:
    torch's; ``progress``: a bar over the trials); returns the trials this worker ran."""
    import torch

    from amccl.data import load_data

    cfg = AMCCLConfig.from_dict(spec.config)
    if num_threads is not None:
        torch.set_num_threads(max(1, int(num_threads)))
    data = load_data(cfg) if data is None else data  # the trials' fit never reads its test split
    space = get_space(spec.space, cfg)
    study = open_study(spec.storage, spec.study_name, cfg, space, spec.trial_seed, spec.seed, spec.pruner, spec.worker)
    return optimize(study, make_objective(cfg, space, data, spec.trial_seed, fit_fn), spec.total, spec.most,
                    progress=progress)


def run_on_ray(spec: WorkerSpec, workers: int | None = None, data: Any = None, address: str | None = None,
               num_cpus: float | None = None, num_gpus: float | None = None) -> list[int]:
    """Run ``workers`` (default: what the cluster's CPUs fit) copies of :func:`run_worker` as Ray
    tasks, at most one per trial left; returns each one's trial count."""
    import ray

    from amccl.ablations.ray_executor import RayExecutor

    executor = RayExecutor(address, num_cpus, num_gpus)
    started = executor.start()  # start or join Ray as the ablation grid does
    try:
        if workers is None:
            workers = max(1, int(ray.cluster_resources().get("CPU", 1) // executor.num_cpus))
        left = spec.total - finished(optuna.load_study(study_name=spec.study_name, storage=open_storage(spec.storage)))
        shares = split_trials(left, workers)
        task = ray.remote(run_worker).options(num_cpus=executor.num_cpus, num_gpus=executor.gpus_per_task([spec]),
                                              **executor.options)
        data_ref = ray.put(data) if data is not None and shares else None
        refs = [task.remote(dataclasses.replace(spec, worker=i, most=share), data_ref, max(1, int(executor.num_cpus)))
                for i, share in enumerate(shares)]
        return list(ray.get(refs))
    finally:
        if started:
            ray.shutdown()


def split_trials(left: int, workers: int) -> list[int]:
    """Each worker's share of ``left`` trials: as even as can be, none empty (failed trials: a rerun's)."""
    workers = max(0, min(workers, left))
    return [left // workers + (i < left % workers) for i in range(workers)]


def run_study(cfg: AMCCLConfig, space: str = "paper", trials: int = 50, storage: str | Path | None = None,
              study_name: str | None = None, data: Any = None, trial_seed: int | None = None, seed: int = 0,
              pruner: Any = "median", executor: str = "local", workers: int | None = None,
              ray_address: str | None = None, num_cpus: float | None = None, num_gpus: float | None = None,
              fit_fn: Callable | None = None, progress: bool = False) -> optuna.Study:
    """Create or resume a study and run it until it holds ``trials`` complete or pruned trials.

    Args:
        cfg: the base config, some of whose fields ``space`` (:data:`~amccl.tuning.space.SPACES`) draws.
        trials: the *total* the study should hold (a resumed study with 3 and ``trials=5`` runs 2).
        storage, study_name: default ``runs/tune/<study name>/study.db``, ``<dataset>-<space>-<profile>``.
        data: an ``MMSAData`` (``None``: the config's); trials never read its test split.
        trial_seed: every trial's training seed (default ``cfg.seeds[0]``); seed: the sampler's.
        pruner: ``median``, ``none`` or an optuna pruner; fit_fn: stands in for ``fit`` (tests).
        executor: ``local`` (``progress``: a bar or a log line per trial) or ``ray`` (``workers``
            tasks of ``num_cpus`` / ``num_gpus`` each, on ``ray_address`` or a local Ray).
    """
    name = study_name or default_study_name(cfg, space)
    url = storage_url(storage or TUNE_DIR / name / "study.db")
    spec = WorkerSpec(url, name, space, cfg.to_dict(), int(cfg.seeds[0] if trial_seed is None else trial_seed),
                      int(trials), int(seed), pruner)
    # create the study or check its settings; an unknown space name fails before any work
    study = open_study(url, name, cfg, get_space(space, cfg), spec.trial_seed, seed, pruner)
    if data is not None:  # the trials never read the test split: it is not handed to them
        data = copy.copy(data)
        data.test = None
    if executor == "local":
        run_worker(spec, data, fit_fn=fit_fn, progress=progress)
    elif executor == "ray":
        run_on_ray(spec, workers, data, ray_address, num_cpus, num_gpus)
    else:
        raise ValueError(f"unknown executor {executor!r}; expected local or ray")
    return optuna.load_study(study_name=study.study_name, storage=open_storage(url))


def default_study_name(cfg: AMCCLConfig, space: str) -> str:
    """``<dataset>-<space>-<profile>``: one study per dataset, space and profile."""
    return f"{cfg.dataset}-{space}-{cfg.profile}"


def retrain_best(study: optuna.Study, seeds: list[int] | None = None, data: Any = None,
                 out_dir: str | Path | None = None, progress: bool = False) -> pd.DataFrame:
    """:func:`amccl.train.run_seeds` of the best trial's config (default seeds: its own), scored on
    test: the only place a study's outcome meets the test split."""
    from amccl.train import run_seeds

    return run_seeds(best_config(study), seeds=seeds, data=data, out_dir=out_dir, progress=progress)
