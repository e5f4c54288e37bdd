"""The model over a split: :func:`run_split` (eval mode, no gradients, outputs in row order) serves
scoring (:func:`evaluate_split`), embeddings and the frozen-text cache (:func:`with_text_cache`)."""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import hashlib
from collections import OrderedDict
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import Tensor, nn

from amccl.config import TINY_RANDOM, AMCCLConfig
from amccl.metrics import compute_metrics

MODEL_INPUTS = ("text", "audio", "vision", "audio_lengths", "vision_lengths", "text_feats")


@dataclasses.dataclass
class EvalResult:
    """``loss`` (mean batch L1), ``metrics`` (fractions) and ``predictions`` (N,) in row order."""

    loss: float
    metrics: dict[str, float]
    predictions: np.ndarray


def batch_to(batch: dict[str, Tensor], device: torch.device):
    """A batch on ``device`` as ``(model inputs, labels (B,) or None, index (B,))``."""
    inputs = {k: batch[k].to(device, non_blocking=True) for k in MODEL_INPUTS if batch.get(k) is not None}
    labels = batch["labels"].to(device, non_blocking=True) if "labels" in batch else None
    return inputs, labels, batch["index"].to(device, non_blocking=True)


def autocast(device: torch.device, amp: str):
    """bf16/fp16 autocast on CUDA when ``amp`` asks for it; fp32 (no context) otherwise."""
    if amp == "off" or device.type != "cuda":
        return contextlib.nullcontext()
    return torch.autocast("cuda", dtype=torch.bfloat16 if amp == "bf16" else torch.float16)


def make_loader(split, cfg: AMCCLConfig, shuffle: bool, generator: torch.Generator | None = None):
    """``BatchLoader`` of ``cfg.batch_size``; trims padding only where it cannot matter."""
    from amccl.data.batching import BatchLoader

    trim = bool(cfg.trim_padding and cfg.padding_irrelevant)  # only where it cannot matter
    return BatchLoader(split, cfg.batch_size, shuffle=shuffle, generator=generator, trim=trim)


@torch.no_grad()
def run_split(model: nn.Module, batches: Iterable[dict[str, Tensor]],
              step: Callable[..., dict[str, Tensor]] | None = None, device: str | torch.device | None = None,
              amp: str = "off") -> tuple[dict[str, Tensor], list[Tensor]]:
    """``step(**inputs)`` (default ``model``; a dict of (B, ...) tensors) over ``batches`` (model inputs,
    ``index`` (B,)) in eval mode without gradients, on ``device`` (default the model's), the mode then
    restored. Returns ``({name: (N, ...) float32 in row order}, the batches' (B,) indices as drawn)``."""
    if device is None:  # the model's: its first parameter's or buffer's
        device = next((t.device for t in (*model.parameters(), *model.buffers())), "cpu")
    device = torch.device(device)
    step = step or model
    was_training = model.training
    model.eval()
    gathered: dict[str, list[Tensor]] = {}
    order: list[Tensor] = []
    try:
        for batch in batches:
            inputs, _, index = batch_to(batch, device)
            with autocast(device, amp):
                values = step(**inputs)
            for name, value in values.items():
                gathered.setdefault(name, []).append(value.float())
            order.append(index)
    finally:
        model.train(was_training)
    if not order:
        return {}, []
    rows = torch.argsort(torch.cat(order))
    return {name: torch.cat(parts)[rows] for name, parts in gathered.items()}, order


def evaluate_split(model: nn.Module, split, cfg: AMCCLConfig, device: str | torch.device | None = None,
                   generator: torch.Generator | None = None, shuffle: bool = False,
                   forward: Callable | None = None) -> EvalResult:
    """Predict an ``MMSASplit`` (its ``text_feats`` when present) in eval mode and score it
    (docs/model.md §4-5). ``generator`` / ``shuffle``: the batch order (the mean batch loss
    depends on it, the metrics do not); ``forward``: a ``torch.compile`` wrapper of ``model``."""
    outputs, order = run_split(model, make_loader(split, cfg, shuffle, generator), forward, device, cfg.amp)
    preds = outputs["M"].reshape(-1) if order else torch.zeros(0)
    labels = torch.as_tensor(np.asarray(split.labels), dtype=torch.float32, device=preds.device)
    # the reference's mean over batches of the batch L1
    loss = sum(((preds[i] - labels[i]).abs().mean() for i in order), torch.zeros((), device=preds.device))
    predictions = preds.cpu().numpy()
    metrics = compute_metrics(predictions, np.asarray(split.labels), cfg.dataset)
    return EvalResult(float(loss.item() / max(len(order), 1)), metrics, predictions)


def predictions_frame(split, predictions: np.ndarray) -> pd.DataFrame:
    """``predictions.csv``'s table: ``id``, ``label``, ``prediction`` (float64), one row per clip."""
    return pd.DataFrame({"id": [str(i) for i in split.ids], "label": np.asarray(split.labels, dtype=np.float64),
                         "prediction": np.asarray(predictions, dtype=np.float64)})


def text_cache_rows(model: nn.Module, text: Any, batch_size: int = 256,
                    device: str | torch.device | None = None) -> Tensor:
    """The frozen text encoder's cache rows of ``text`` (N, 3, Lt) ids / mask / segments, in
    eval mode: (N, 3, H) float32 on the CPU, [CLS], mean over all Lt, mean over valid tokens."""
    text = torch.as_tensor(text)
    rows = (torch.arange(i, min(i + batch_size, len(text))) for i in range(0, len(text), batch_size))
    outputs, order = run_split(model, ({"text": text[i], "index": i} for i in rows),
                               lambda text, **_: {"rows": model.text_summary(text)}, device)
    return outputs["rows"].cpu() if order else torch.empty(0, 3, model.text_model.hidden_size)


# A frozen pretrained encoder gives the same rows in every run of a process (a grid's variants and
# seeds): the last few are kept, keyed by encoder, device and token digest; tiny-random's never are.
_TEXT_CACHE: OrderedDict[tuple, Tensor] = OrderedDict()
_TEXT_CACHE_SIZE = 6


def _cached_rows(model: nn.Module, text: np.ndarray, cfg: AMCCLConfig, device) -> Tensor:
    """(N, 3, H) cache rows of ``text`` (N, 3, Lt), once per process for a pretrained encoder."""
    ids = np.ascontiguousarray(text)
    if cfg.text_encoder == TINY_RANDOM:
        return text_cache_rows(model, torch.as_tensor(ids), 256, device)
    key = (cfg.text_encoder, str(device), ids.shape, str(ids.dtype),
           hashlib.blake2b(ids.data, digest_size=16).hexdigest())
    if key not in _TEXT_CACHE:
        _TEXT_CACHE[key] = text_cache_rows(model, torch.as_tensor(ids), 256, device)
        while len(_TEXT_CACHE) > _TEXT_CACHE_SIZE:
            _TEXT_CACHE.popitem(last=False)
    _TEXT_CACHE.move_to_end(key)
    return _TEXT_CACHE[key]


def with_text_cache(model: nn.Module, data, cfg: AMCCLConfig, device) -> dict[str, Any]:
    """``data``'s splits; with a cached frozen BERT in ``cfg.modalities``, copies with ``text_feats`` (N, 3, H)."""
    splits = {name: getattr(data, name) for name in ("train", "valid", "test")}
    if not (cfg.freeze_text and cfg.cache_text) or "text" not in cfg.modalities:
        return splits
    out = {name: copy.copy(split) for name, split in splits.items()}
    for split in out.values():
        split.text_feats = _cached_rows(model, split.text, cfg, device).to(device)
    return out
