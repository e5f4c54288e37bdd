"""Batches of tensors from an :class:`~amccl.data.types.MMSASplit` (keys: :func:`make_batch`):
:class:`BatchLoader` indexes each array once per batch; :class:`MMSADataset` is the per-sample
``Dataset`` whose default-collated batches equal them.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

import numpy as np
import torch
from torch import Tensor

from amccl.data.types import MMSASplit


def make_batch(split: MMSASplit, index: Tensor, trim: bool = False) -> dict[str, Tensor]:
    """The batch of rows ``index`` (B,) long.

    Returns:
        ``text`` (B, 3, Lt) long, ``audio`` (B, La', Da) and ``vision`` (B, Lv', Dv) float32
        (La' = La, or the batch's longest audio length with ``trim``), ``audio_lengths``,
        ``vision_lengths`` (B,) long, ``labels`` (B,) float32, ``index`` (B,) long, and
        ``text_feats`` (B, 3, H) when the split has them.
    """
    rows = index.numpy()
    audio_lengths, vision_lengths = split.audio_lengths[rows], split.vision_lengths[rows]
    la = int(audio_lengths.max()) if trim and len(rows) else split.audio.shape[1]
    lv = int(vision_lengths.max()) if trim and len(rows) else split.vision.shape[1]
    arrays = {"text": split.text[rows], "audio": split.audio[rows, :la], "vision": split.vision[rows, :lv],
              "audio_lengths": audio_lengths, "vision_lengths": vision_lengths, "labels": split.labels[rows]}
    batch = {key: torch.from_numpy(np.ascontiguousarray(array)) for key, array in arrays.items()}
    batch["index"] = index
    feats = split.text_feats
    if isinstance(feats, Tensor):
        batch["text_feats"] = feats[index.to(feats.device)]
    elif feats is not None:
        batch["text_feats"] = torch.from_numpy(np.ascontiguousarray(feats[rows]))
    return batch


class BatchLoader:
    """Iterates a split in batches of whole-batch tensors (see :func:`make_batch`).

    Args:
        split: the rows to serve.
        batch_size: B; the last batch may be short; ``len()`` = ceil(N / B).
        shuffle: a new row order on every pass (iteration); else rows in order.
        generator: ``None`` (the reference's): each pass draws its order from torch's global
            generator as ``DataLoader(dataset, B, shuffle=True)`` does (docs/model.md §8.1);
            a ``torch.Generator``: ``torch.randperm(N, generator=generator)`` once per pass.
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
