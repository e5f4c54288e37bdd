"""BatchLoader and MMSADataset: whole-batch tensors, order, trimming, parity with DataLoader."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from amccl.data import BatchLoader, MMSADataset
from amccl.data.synthetic import synthetic_data


@pytest.fixture(scope="module")
def split():
    return synthetic_data("mosi", (45, 4, 4), seed=2).train


def test_sizes_types_and_contents(split):
    loader = BatchLoader(split, 16)
    batches = list(loader)
    assert len(loader) == 3 and [len(b["labels"]) for b in batches] == [16, 16, 13]
    b = batches[1]
    dtypes = {"text": torch.long, "audio": torch.float32, "vision": torch.float32, "audio_lengths": torch.long,
              "vision_lengths": torch.long, "labels": torch.float32, "index": torch.long}
    assert {k: v.dtype for k, v in b.items()} == dtypes
    assert b["text"].shape == (16, 3, 50) and b["audio"].shape == (16, 50, 5) and b["vision"].shape == (16, 50, 20)
    rows = np.arange(16, 32)
    assert b["index"].tolist() == rows.tolist()
    np.testing.assert_array_equal(b["audio"].numpy(), split.audio[rows])
    np.testing.assert_array_equal(b["text"].numpy(), split.text[rows])
    np.testing.assert_array_equal(b["labels"].numpy(), split.labels[rows])
    assert list(split.ids[b["index"].numpy()]) == list(split.ids[rows])  # the clip ids of a batch


def test_shuffle_is_a_permutation_reproducible_from_the_generator(split):
    gen = torch.Generator().manual_seed(7)
    loader = BatchLoader(split, 10, shuffle=True, generator=gen)
    state = gen.get_state()
    first = torch.cat([b["index"] for b in loader])
    second = torch.cat([b["index"] for b in loader])
    assert sorted(first.tolist()) == list(range(45)) and not torch.equal(first, second)
    gen.set_state(state)
    assert torch.equal(torch.cat([b["index"] for b in loader]), first)
    assert torch.equal(first, torch.randperm(45, generator=torch.Generator().manual_seed(7)))


def test_trim_keeps_every_valid_frame(split):
    for full, cut in zip(BatchLoader(split, 8), BatchLoader(split, 8, trim=True)):
        la, lv = int(full["audio_lengths"].max()), int(full["vision_lengths"].max())
        assert cut["audio"].shape[1] == la and cut["vision"].shape[1] == lv
        assert torch.equal(cut["audio"], full["audio"][:, :la]) and torch.equal(cut["vision"], full["vision"][:, :lv])
        assert not full["audio"][:, la:].any() and not full["vision"][:, lv:].any()


def test_dataloader_of_dataset_gives_the_same_batches(split):
    ours = list(BatchLoader(split, 8))
    theirs = list(DataLoader(MMSADataset(split), batch_size=8, shuffle=False))
    assert len(ours) == len(theirs)
    for a, b in zip(ours, theirs):
        assert a.keys() == b.keys()
        for key in a:
            assert a[key].dtype == b[key].dtype and torch.equal(a[key], b[key]), key


@pytest.mark.parametrize("as_tensor", [False, True])
def test_text_feats_are_served(split, as_tensor):
    feats = np.random.default_rng(0).standard_normal((len(split), 3, 6)).astype(np.float32)
    split.text_feats = torch.from_numpy(feats) if as_tensor else feats
    try:
        batch = next(iter(BatchLoader(split, 5, shuffle=True, generator=torch.Generator().manual_seed(1))))
        np.testing.assert_array_equal(batch["text_feats"].numpy(), feats[batch["index"].numpy()])
        assert torch.equal(MMSADataset(split)[3]["text_feats"], torch.from_numpy(feats[3]))
    finally:
        split.text_feats = None


def test_single_sample_batches_and_bad_size(split):
    batch = next(iter(BatchLoader(split, 1, trim=True)))
    assert batch["audio"].shape[0] == 1 and batch["audio"].shape[1] == int(split.audio_lengths[0])
    with pytest.raises(ValueError, match="batch_size"):
        BatchLoader(split, 0)
