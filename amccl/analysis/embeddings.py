"""The features AMCCL aligns, collected for every clip of a split (:func:`extract_embeddings`)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from amccl.config import MODALITIES
from amccl.data.types import FEATURE_KEYS

__all__ = ["MODALITIES", "Embeddings", "extract_embeddings", "modality_name"]

_ALIASES = {"t": "text", "a": "audio", "v": "vision", "f": "fusion", "video": "vision",
            **{key: name for name, key in FEATURE_KEYS.items()}}


def modality_name(name: str) -> str:
    """Canonical modality name: ``t``/``Feature_t``/``text`` -> ``text``; likewise a, v, f."""
    key = _ALIASES.get(name, name)
    if key not in FEATURE_KEYS:
        raise KeyError(f"unknown modality {name!r}; expected one of {tuple(FEATURE_KEYS)} or t/a/v/f")
    return key


@dataclass
class Embeddings:
    """Features, predictions and labels of the N clips of one split (row i = one clip): ``text``,
    ``audio``, ``vision`` (N, d) float32; ``labels`` (N,); ``fusion`` (N, 3f), else (N, 0); ``pred``
    (N,), else NaN; ``ids`` (N,), else the rows as strings; ``index`` (N,) split rows; ``split``."""

    text: np.ndarray
    audio: np.ndarray
    vision: np.ndarray
    labels: np.ndarray
    fusion: np.ndarray | None = None
    pred: np.ndarray | None = None
    ids: np.ndarray | None = None
    index: np.ndarray | None = None
    split: str | None = None

    def __post_init__(self) -> None:
        self.labels = np.asarray(self.labels, dtype=np.float32).reshape(-1)
        n = self.labels.size
        for name in MODALITIES:
            value = np.asarray(getattr(self, name), dtype=np.float32)
            if value.ndim != 2 or value.shape[0] != n:
                raise ValueError(f"{name}: expected shape (N={n}, d), got {value.shape}")
            setattr(self, name, value)
        self.fusion = (np.zeros((n, 0), np.float32) if self.fusion is None
                       else np.asarray(self.fusion, dtype=np.float32).reshape(n, -1))
        self.pred = (np.full(n, np.nan, np.float32) if self.pred is None
                     else np.asarray(self.pred, dtype=np.float32).reshape(-1))
        self.index = np.arange(n) if self.index is None else np.asarray(self.index, dtype=np.int64)
        self.ids = (self.index.astype(str) if self.ids is None else np.asarray(self.ids).astype(str))
        for name in ("pred", "index", "ids"):
            if getattr(self, name).shape != (n,):
                raise ValueError(f"{name}: expected shape ({n},), got {getattr(self, name).shape}")

    def __len__(self) -> int:
        return int(self.labels.size)

    def features(self, modality: str) -> np.ndarray:
        """The (N, d) features of ``modality`` (``text``/``t``/``Feature_t`` ..., ``fusion``)."""
        return getattr(self, modality_name(modality))


def extract_embeddings(
    model: Any,
    data: Any,
    split: str = "test",
    batch_size: int = 256,
    device: Any = None,
    batches: Iterable[Mapping[str, Any]] | Callable[[Any, int], Iterable[Mapping[str, Any]]] | None = None,
) -> Embeddings:
    """``Feature_t/a/v/f`` and predictions of every clip of a split, sorted by split row.

    The model runs in eval mode without gradients on ``device`` (default: its own), its mode restored afterwards.
    ``data`` is an ``MMSAData`` or one split; ``batches`` (batch dicts with ``labels`` and ``index``, or a callable
    ``(split_data, batch_size)``) replace the in-order loader (which trims padding when it cannot matter).
    """
    import torch

    from amccl.data import BatchLoader
    from amccl.evaluation import run_split

    split_data = data.split(split) if hasattr(data, "split") and callable(data.split) else data
    if batches is None:
        cfg = getattr(model, "cfg", None)
        trim = bool(getattr(cfg, "padding_irrelevant", False) and getattr(cfg, "trim_padding", False))
        batches = BatchLoader(split_data, batch_size=batch_size, shuffle=False, generator=None, trim=trim)
    elif callable(batches):
        batches = batches(split_data, batch_size)
    labels: list[np.ndarray] = []

    def with_labels(batches: Iterable[Mapping[str, Any]]):  # the labels of each batch, as it passes
        for batch in batches:
            labels.append(np.asarray(batch["labels"], dtype=np.float32).reshape(-1))
            yield batch

    outputs, order = run_split(model, with_labels(batches), device=device)
    if not order:
        raise ValueError(f"split {split!r} gave no batches")
    index = torch.cat(order).cpu().numpy().astype(np.int64)
    rows = np.argsort(index, kind="stable")  # outputs are in row order already, labels in batch order
    feats = {name: outputs[key].cpu().numpy() for name, key in FEATURE_KEYS.items() if key in outputs}
    ids = getattr(split_data, "ids", None)
    return Embeddings(**feats, labels=np.concatenate(labels)[rows], pred=outputs["M"].cpu().numpy().reshape(-1),
                      index=index[rows], ids=None if ids is None else np.asarray(ids)[index[rows]], split=split)
