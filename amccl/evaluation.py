"""Scoring a split: predictions in eval mode, gathered on the device, and MMSA's metrics.

``evaluate_split(model, split, cfg)`` is what the trainer runs on the validation and test
splits and what ``python -m amccl evaluate`` runs on a checkpoint.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Callable

import numpy as np
import torch
from torch import nn

from amccl.config import AMCCLConfig
from amccl.metrics import compute_metrics

MODEL_INPUTS = ("text", "audio", "vision", "audio_lengths", "vision_lengths", "text_feats")


@dataclasses.dataclass
class EvalResult:
    """One split's evaluation: ``loss`` (mean over batches of the batch L1), ``metrics``
    (``compute_metrics``, fractions) and ``predictions`` (N,) in the split's row order."""

    loss: float
    metrics: dict[str, float]
    predictions: np.ndarray


def batch_to(batch: dict[str, torch.Tensor], device: torch.device):
    """A ``BatchLoader`` batch on ``device`` as ``(model inputs, labels (B,), index (B,))``."""
    inputs = {k: batch[k].to(device, non_blocking=True) for k in MODEL_INPUTS if k in batch}
    return inputs, batch["labels"].to(device, non_blocking=True), batch["index"].to(device, non_blocking=True)


def autocast(device: torch.device, amp: str):
    """bf16/fp16 autocast on CUDA when ``amp`` asks for it; fp32 (no context) otherwise."""
    if amp == "off" or device.type != "cuda":
        return contextlib.nullcontext()
    return torch.autocast("cuda", dtype=torch.bfloat16 if amp == "bf16" else torch.float16)


def make_loader(split, cfg: AMCCLConfig, shuffle: bool, generator: torch.Generator | None):
    """``BatchLoader`` of ``cfg.batch_size``; trims padding only where it cannot matter."""
    from amccl.data import BatchLoader

    trim = bool(cfg.trim_padding and cfg.padding_irrelevant)
    return BatchLoader(split, cfg.batch_size, shuffle=shuffle, generator=generator, trim=trim)


@torch.no_grad()
def evaluate_split(
    model: nn.Module, split, cfg: AMCCLConfig, device: str | torch.device | None = None,
    generator: torch.Generator | None = None, shuffle: bool = False, forward: Callable | None = None,
) -> EvalResult:
    """Predict a whole split in eval mode and score it (spec §4-5).

    Args:
        model: the model (its device is used when ``device`` is None).
        split: an ``MMSASplit``; its ``text_feats`` are used when present.
        generator, shuffle: the batch order (the trainer shuffles, as the reference does;
            the metrics do not depend on it, the mean batch loss slightly does).
        forward: a callable to use instead of ``model`` (a ``torch.compile`` wrapper).
    """
    device = torch.device(device) if device is not None else next(model.parameters()).device
    forward = forward or model
    model.eval()
    loader = make_loader(split, cfg, shuffle, generator)
    preds = torch.zeros(len(split), device=device)
    loss_sum = torch.zeros((), device=device)
    for batch in loader:
        inputs, labels, index = batch_to(batch, device)
        with autocast(device, cfg.amp):
            out = forward(**inputs)["M"].reshape(-1).float()
        preds[index] = out
        loss_sum += (out - labels.float()).abs().mean()
    predictions = preds.cpu().numpy()
    loss = float(loss_sum.item() / max(len(loader), 1))
    return EvalResult(loss, compute_metrics(predictions, np.asarray(split.labels), cfg.dataset), predictions)
