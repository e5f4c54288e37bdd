"""Checkpoints: atomic writes, ``weights_only`` reads, and loading ours or the official ones.

Two files per run directory (format ``amccl-v1``):

* ``best.pt`` -- the best epoch's model: ``{"format", "kind": "best", "config", "seed",
  "epoch", "model", "metrics": {"valid": ..., "test": ...}, "meta"}``; ``test`` is filled
  in when the run ends.
* ``last.pt`` -- everything needed to resume after the last finished epoch: the model,
  optimizer, scheduler and grad-scaler states, all RNG states, ``epoch``, ``best_epoch``,
  ``best_mae``, the history so far and ``finished``.

Every write goes to a temporary file in the same directory, is fsynced, then renamed over
the old file (``os.replace`` is atomic), so a run killed at any moment leaves the previous
checkpoint intact. ``best.pt`` is written before ``last.pt``: if a run dies between the two,
resuming replays that epoch, which (being deterministic) writes the same ``best.pt`` again.
Resumed runs end with the uninterrupted run's numbers on CPU (tested) and on CUDA as far as
its kernels are deterministic; MPS generator states are not saved.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import torch

FORMAT = "amccl-v1"
BEST, LAST = "best.pt", "last.pt"


def to_plain(value: Any) -> Any:
    """Numpy scalars/arrays and tuples as plain Python, so ``weights_only`` loads accept them."""
    if isinstance(value, dict):
        return {str(k): to_plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_plain(v) for v in value]
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, str):
        return str(value)  # str subclasses (torch's TorchVersion) are not weights_only-safe
    return value


def atomic_save(obj: Any, path: str | os.PathLike) -> Path:
    """``torch.save`` to ``path`` through a fsynced temporary file and an atomic rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            torch.save(obj, handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    try:  # make the rename itself durable; not every platform can open a directory
        dir_fd = os.open(path.parent, os.O_RDONLY)
    except OSError:
        return path
    try:
        os.fsync(dir_fd)
    except OSError:
        pass
    finally:
        os.close(dir_fd)
    return path


def load(path: str | os.PathLike, map_location: str | torch.device = "cpu") -> Any:
    """``torch.load(path, weights_only=True)``; a missing file raises ``FileNotFoundError``."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no checkpoint at {path}")
    return torch.load(path, map_location=map_location, weights_only=True)


def cpu_state_dict(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    """A detached CPU copy of the model's state dict (a snapshot later steps cannot change)."""
    return {k: v.detach().to("cpu", copy=True) for k, v in model.state_dict().items()}


def is_ours(obj: Any) -> bool:
    """True for a checkpoint this package wrote (``best.pt`` or ``last.pt``)."""
    return isinstance(obj, dict) and obj.get("format") == FORMAT


# --- the run directory: what best.pt and last.pt hold, and how a resume reads them -----------
MAY_DIFFER_ON_RESUME = ("device", "compile")


def config_differences(saved: dict[str, Any], now: dict[str, Any], ignore: tuple[str, ...] = MAY_DIFFER_ON_RESUME) -> list[str]:
    """``"key: old -> new"`` for every config value (``to_dict`` form) that differs; the one
    check of whether stored work may be resumed with a config (runs and ablation grids)."""
    keys = sorted(k for k in set(saved) | set(now) if k not in ignore and saved.get(k) != now.get(k))
    return [f"{k}: {saved.get(k)!r} -> {now.get(k)!r}" for k in keys]


def run_header(cfg_dict: dict[str, Any], seed: int, meta: dict[str, Any]) -> dict[str, Any]:
    """The fields both files start with: ``format``, ``config``, ``seed``, ``meta``."""
    return {"format": FORMAT, "config": cfg_dict, "seed": int(seed), "meta": to_plain(meta)}


def save_best(out: Path, header: dict[str, Any], epoch: int, model_state: dict[str, torch.Tensor],
              valid: dict[str, float], test: dict[str, float] | None = None) -> None:
    """``best.pt``: the best epoch's weights and metrics (``test`` once the run has ended)."""
    metrics = {"valid": to_plain(valid), "test": to_plain(test) if test else None}
    atomic_save({**header, "kind": "best", "epoch": epoch, "model": model_state, "metrics": metrics}, out / BEST)


def save_last(out: Path, header: dict[str, Any], state: dict[str, Any]) -> None:
    """``last.pt``: ``state`` holds ``epoch``, ``best_epoch``, ``best_mae``, ``model``,
    ``optimizer``, ``scheduler``, ``scaler``, ``rng`` (every global generator), ``history``
    and ``finished`` (then also the final metrics and test predictions)."""
    atomic_save({**header, "kind": "last", **state}, out / LAST)


def read_resume(out: Path, cfg_dict: dict[str, Any], seed: int) -> tuple[dict[str, Any], dict | None] | None:
    """``(last.pt, best weights or None)`` of the run in ``out``, or ``None`` when there is none.

    Raises:
        ValueError: the run belongs to another seed or config (the message lists what differs).
        RuntimeError: ``best.pt`` is older than ``last.pt`` says.
    """
    path = out / LAST
    if not path.is_file():
        return None
    last = load(path)
    if last.get("seed") != seed:
        raise ValueError(f"resume: {path} belongs to seed {last.get('seed')}, not {seed}")
    changes = config_differences(last["config"], cfg_dict)
    if changes:
        raise ValueError(f"resume: the config differs from the one in {path} ({', '.join(changes)}); use a new out_dir")
    if last["best_epoch"] == 0:
        return last, None
    best = load(out / BEST)
    if best["epoch"] < last["best_epoch"]:
        raise RuntimeError(f"{out / BEST} holds epoch {best['epoch']}, but {path} says the best epoch is {last['best_epoch']}")
    return last, best["model"]  # a newer best.pt: the run died between the two writes; that epoch is replayed


def load_model(path: str | os.PathLike, cfg=None, device: str | torch.device = "cpu"):
    """Load a model from any checkpoint ``evaluate`` accepts.

    Args:
        path: our ``best.pt`` / ``last.pt``, the official code's state dict (``Model.*``
            keys) or a bare state dict of :class:`amccl.model.AMCCL`.
        cfg: the :class:`~amccl.config.AMCCLConfig`: required for state dicts, which carry
            none; for our checkpoints ``None`` means the config saved inside (pass one to
            change e.g. ``data_path``; the architecture must still match).

    Returns:
        ``(model, cfg, checkpoint)``: the model in eval mode on ``device``, the config it was
        built from and the loaded object (our dict or the raw state dict).
    """
    from amccl.compat import model_from_checkpoint
    from amccl.config import AMCCLConfig

    obj = load(path)
    if is_ours(obj):
        cfg = cfg if cfg is not None else AMCCLConfig.from_dict(obj["config"])
    elif cfg is None:
        raise ValueError(f"{path} is a bare state dict; a config (dataset, encoder) is needed to load it")
    model = model_from_checkpoint(obj, cfg, source=str(path))  # no pretrained encoder needed
    return model.to(device).eval(), cfg, obj
