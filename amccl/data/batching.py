"""Batches of tensors from an :class:`~amccl.data.types.MMSASplit` (keys: :func:`make_batch`).

:class:`BatchLoader` builds each whole batch by indexing the split's arrays with the batch's
row indices (one ``torch.from_numpy(array[rows])`` per key, no per-sample Python dicts),
optionally trimming audio / vision to the batch's longest valid length. :class:`MMSADataset`
is the per-sample ``torch.utils.data.Dataset`` for users who want a ``DataLoader``; its
default-collated batches equal :class:`BatchLoader`'s.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

import numpy as np
import torch
from torch import Tensor

from amccl.data.types import MMSASplit


def _rows_tensor(split: MMSASplit, key: str, rows: np.ndarray, index: Tensor) -> Tensor:
    """``split.<key>[rows]`` as a tensor, for numpy arrays or tensors (``text_feats``)."""
    values = getattr(split, key)
    if isinstance(values, Tensor):
        return values[index.to(values.device)]
    return torch.from_numpy(np.ascontiguousarray(values[rows]))


def make_batch(split: MMSASplit, index: Tensor, trim: bool = False) -> dict[str, Tensor]:
    """The batch of rows ``index`` (B,) long.

    Returns:
        ``text`` (B, 3, Lt) long, ``audio`` (B, La', Da) and ``vision`` (B, Lv', Dv) float32
        (La' = La, or the batch's longest audio length with ``trim``), ``audio_lengths``,
        ``vision_lengths`` (B,) long, ``labels`` (B,) float32, ``index`` (B,) long, and
        ``text_feats`` (B, 3, H) when the split has them.
    """
    rows = index.numpy()
    audio_lengths = split.audio_lengths[rows]
    vision_lengths = split.vision_lengths[rows]
    la = int(audio_lengths.max()) if trim and len(rows) else split.audio.shape[1]
    lv = int(vision_lengths.max()) if trim and len(rows) else split.vision.shape[1]
    batch = {
        "text": torch.from_numpy(np.ascontiguousarray(split.text[rows])),
        "audio": torch.from_numpy(np.ascontiguousarray(split.audio[rows, :la])),
        "vision": torch.from_numpy(np.ascontiguousarray(split.vision[rows, :lv])),
        "audio_lengths": torch.from_numpy(np.ascontiguousarray(audio_lengths)),
        "vision_lengths": torch.from_numpy(np.ascontiguousarray(vision_lengths)),
        "labels": torch.from_numpy(np.ascontiguousarray(split.labels[rows])),
        "index": index,
    }
    if split.text_feats is not None:
        batch["text_feats"] = _rows_tensor(split, "text_feats", rows, index)
    return batch


class BatchLoader:
    """Iterates a split in batches of whole-batch tensors (see :func:`make_batch`).

    Args:
        split: the rows to serve.
        batch_size: B; the last batch may be short; ``len()`` = ceil(N / B).
        shuffle: a new row order on every pass (iteration); else rows in order.
        generator: ``None`` (the default, the reference's): each pass draws its order from
            torch's global generator exactly as ``DataLoader(dataset, B, shuffle=True)``
            does (spec §8.1) -- the row indices come from a ``DataLoader`` over ``range(N)``,
            and every batch is then one whole-batch index into the arrays. A dedicated
            ``torch.Generator`` instead draws ``torch.randperm(N, generator=generator)`` once
            per pass and leaves the global generator alone.
        trim: cut audio / vision to each batch's longest length; only valid when padding
            cannot change results (``cfg.padding_irrelevant``).
    """

    def __init__(self, split: MMSASplit, batch_size: int, shuffle: bool = False,
                 generator: torch.Generator | None = None, trim: bool = False) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be positive, got {batch_size}")
        self.split, self.batch_size, self.shuffle = split, batch_size, shuffle
        self.generator, self.trim = generator, trim

    def __len__(self) -> int:
        return math.ceil(len(self.split) / self.batch_size)

    def index_batches(self) -> Iterator[Tensor]:
        """This pass's batches of row indices, each (B,) long (draws when shuffling)."""
        n = len(self.split)
        if self.shuffle and self.generator is None and n > 0:
            yield from torch.utils.data.DataLoader(range(n), batch_size=self.batch_size, shuffle=True)
            return
        order = torch.randperm(n, generator=self.generator) if self.shuffle else torch.arange(n)
        yield from order.split(self.batch_size)

    def order(self) -> Tensor:
        """(N,) long: one pass's row order (draws as a pass does when shuffling)."""
        batches = list(self.index_batches())
        return torch.cat(batches) if batches else torch.zeros(0, dtype=torch.long)

    def __iter__(self) -> Iterator[dict[str, Tensor]]:
        for index in self.index_batches():
            yield make_batch(self.split, index, self.trim)


class MMSADataset(torch.utils.data.Dataset):
    """Per-sample view of a split for ``torch.utils.data.DataLoader``.

    ``dataset[i]`` is a dict of tensors: ``text`` (3, Lt) long, ``audio`` (La, Da),
    ``vision`` (Lv, Dv) float32, ``audio_lengths``, ``vision_lengths``, ``index`` () long,
    ``labels`` () float32 (and ``text_feats`` (3, H)); default collation stacks them into
    the same batch :class:`BatchLoader` yields.
    """

    def __init__(self, split: MMSASplit) -> None:
        self.split = split

    def __len__(self) -> int:
        return len(self.split)

    def __getitem__(self, i: int) -> dict[str, Tensor]:
        s = self.split
        item = {
            "text": torch.from_numpy(np.array(s.text[i])),
            "audio": torch.from_numpy(np.array(s.audio[i])),
            "vision": torch.from_numpy(np.array(s.vision[i])),
            "audio_lengths": torch.tensor(int(s.audio_lengths[i])),
            "vision_lengths": torch.tensor(int(s.vision_lengths[i])),
            "labels": torch.tensor(float(s.labels[i]), dtype=torch.float32),
            "index": torch.tensor(int(i)),
        }
        if s.text_feats is not None:
            feats = s.text_feats[i]
            item["text_feats"] = feats if isinstance(feats, Tensor) else torch.from_numpy(np.array(feats))
        return item
