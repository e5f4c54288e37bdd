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
