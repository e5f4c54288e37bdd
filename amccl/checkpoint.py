"""Checkpoints (format ``amccl-v1``): atomic writes, ``weights_only`` reads, resuming, loading ours
or the official ones. A run folder holds ``best.pt`` (the best epoch's weights and metrics) and
``last.pt`` (the :class:`Run`'s states, every RNG state, the history), each replaced atomically,
``best.pt`` first. A resumed run ends with the uninterrupted run's numbers (on CUDA as far as its
kernels are deterministic; MPS generator states are not saved)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from amccl.runtime import atomic_write, get_logger, rng_state, set_rng_state

FORMAT = "amccl-v1"
BEST, LAST = "best.pt", "last.pt"
MAY_DIFFER_ON_RESUME = ("device", "compile")  # config fields a resumed run may change


def to_plain(value: Any) -> Any:
    """Numpy scalars/arrays and tuples as plain Python, so ``weights_only`` loads accept them."""
    if isinstance(value, dict):
        return {str(k): to_plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_plain(v) for v in value]
    if isinstance(value, (np.ndarray, np.generic)):
        return value.tolist()  # a numpy scalar's tolist() is its Python value
    if isinstance(value, str):
        return str(value)  # str subclasses (torch's TorchVersion) are not weights_only-safe
    return value


def atomic_save(obj: Any, path: str | os.PathLike) -> Path:
    """``torch.save`` to ``path`` through :func:`~amccl.runtime.atomic_write`."""
    return atomic_write(path, lambda handle: torch.save(obj, handle))


def load(path: str | os.PathLike, map_location: str | torch.device = "cpu") -> Any:
    """``torch.load(path, weights_only=True)``; a missing file raises ``FileNotFoundError``."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no checkpoint at {path}")
    return torch.load(path, map_location=map_location, weights_only=True)


def cpu_state_dict(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    """A detached CPU copy of the model's state dict (later steps cannot change it)."""
    return {k: v.detach().to("cpu", copy=True) for k, v in model.state_dict().items()}


def is_ours(obj: Any) -> bool:
    """True for a checkpoint this package wrote (``best.pt`` or ``last.pt``)."""
    return isinstance(obj, dict) and obj.get("format") == FORMAT


def config_differences(saved: dict[str, Any], now: dict[str, Any], ignore: tuple[str, ...] = MAY_DIFFER_ON_RESUME) -> list[str]:
    """``"key: old -> new"`` for every config value (``to_dict`` form) that differs, ``ignore``
    aside: whether stored work (a run, a grid) may be resumed with a config."""
    keys = sorted(k for k in set(saved) | set(now) if k not in ignore and saved.get(k) != now.get(k))
    return [f"{k}: {saved.get(k)!r} -> {now.get(k)!r}" for k in keys]


def run_header(cfg_dict: dict[str, Any], seed: int, meta: dict[str, Any]) -> dict[str, Any]:
    """The fields both files start with: ``format``, ``config``, ``seed``, ``meta``."""
    return {"format": FORMAT, "config": cfg_dict, "seed": int(seed), "meta": to_plain(meta)}


@dataclass
class Run:
    """What a run's checkpoints save and restore, its folder (``None``: no files) and :func:`run_header`."""

    model: torch.nn.Module
    optimizer: torch.optim.Optimizer
    scheduler: Any
    scaler: torch.amp.GradScaler
    out: Path | None
    header: dict[str, Any]


@dataclass
class Resumed:
    """What :func:`resume` loaded; ``final``: a finished run's other ``History`` fields, else ``None``."""

    epoch: int
    best_epoch: int
    best_mae: float
    best_state: dict[str, torch.Tensor] | None
    epochs: list[dict[str, Any]]
    final: dict[str, Any] | None


def save_best(run: Run, epoch: int, state: dict[str, torch.Tensor] | None, valid: dict[str, float],
              test: dict[str, float] | None = None) -> None:
    """``best.pt``: the best epoch's weights ``state`` and metrics (``test`` once the run has ended)."""
    if run.out is None:
        return
    metrics = {"valid": to_plain(valid), "test": to_plain(test) if test else None}
    atomic_save({**run.header, "kind": "best", "epoch": epoch, "model": state, "metrics": metrics}, run.out / BEST)


def save_last(run: Run, history: Any, epoch: int, best_epoch: int, best_mae: float, finished: bool = False) -> None:
    """``last.pt`` after ``epoch``: the run's states, every RNG state, the history (``finished``: its results)."""
    if run.out is None:
        return
    state = {**run.header, "kind": "last", "epoch": epoch, "best_epoch": best_epoch, "best_mae": best_mae,
             "model": cpu_state_dict(run.model), "optimizer": run.optimizer.state_dict(),
             "scheduler": run.scheduler.state_dict(), "scaler": run.scaler.state_dict(), "rng": rng_state(),
             "history": to_plain(history.epochs), "finished": finished}
    if finished:
        state.update(valid_metrics=to_plain(history.valid_metrics), test_metrics=to_plain(history.test_metrics),
                     test_loss=history.test_loss, stopped_early=history.stopped_early,
                     test_predictions=to_plain(history.test_predictions.to_dict("list")))
    atomic_save(state, run.out / LAST)


def resume(run: Run) -> Resumed | None:
    """Restore ``run.out/last.pt`` into the run's states and the global RNGs; returns the rest of
    what it holds, or ``None`` (a warning) when there is no ``last.pt``. Raises ``ValueError`` for
    another seed or config, ``RuntimeError`` when ``best.pt`` is older than ``last.pt`` says."""
    path, seed = run.out / LAST, run.header["seed"]
    if not path.is_file():
        get_logger().warning("resume: no %s yet; starting seed %d from scratch", path, seed)
        return None
    last = load(path)
    if last.get("seed") != seed:
        raise ValueError(f"resume: {path} belongs to seed {last.get('seed')}, not {seed}")
    changes = config_differences(last["config"], run.header["config"])
    if changes:
        raise ValueError(f"resume: the config differs from the one in {path} ({', '.join(changes)}); use a new out_dir")
    best_state = None
    if last["best_epoch"] > 0:
        best = load(run.out / BEST)
        if best["epoch"] < last["best_epoch"]:
            raise RuntimeError(f"{run.out / BEST} holds epoch {best['epoch']}, but {path} says the best epoch is "
                               f"{last['best_epoch']}")
        best_state = best["model"]  # a newer best.pt: the run died between the two writes; replayed
    for name in ("model", "optimizer", "scheduler", "scaler"):
        getattr(run, name).load_state_dict(last[name])
    set_rng_state(last["rng"])
    final = {"valid_metrics": last["valid_metrics"], "test_metrics": last["test_metrics"],
             "test_loss": last.get("test_loss"), "stopped_early": last["stopped_early"],
             "test_predictions": pd.DataFrame(last["test_predictions"])} if last["finished"] else None
    get_logger().info("resumed seed %d after epoch %d (best epoch %d)", seed, last["epoch"], last["best_epoch"])
    return Resumed(last["epoch"], last["best_epoch"], last["best_mae"], best_state, list(last["history"]), final)


def load_model(path: str | os.PathLike, cfg=None, device: str | torch.device = "cpu"):
    """``(model in eval mode on device, its config, the loaded object)`` from our ``best.pt`` /
    ``last.pt``, the official state dict (``Model.*`` keys) or a bare :class:`~amccl.model.AMCCL`
    one. ``cfg``: needed for a state dict; for ours ``None`` is the one inside (same architecture)."""
    from amccl.compat import model_from_checkpoint
    from amccl.config import AMCCLConfig

    obj = load(path)
    if is_ours(obj):
        cfg = cfg if cfg is not None else AMCCLConfig.from_dict(obj["config"])
    elif cfg is None:
        raise ValueError(f"{path} is a bare state dict; a config (dataset, encoder) is needed to load it")
    model = model_from_checkpoint(obj, cfg, source=str(path))  # no pretrained encoder needed
    return model.to(device).eval(), cfg, obj
