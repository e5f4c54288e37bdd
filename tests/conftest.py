"""Shared fixtures. Tests never reach the network: the hub is offline for the whole session."""

from __future__ import annotations

import os

os.environ["HF_HUB_OFFLINE"] = "1"  # before anything imports transformers
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import pytest  # noqa: E402

from amccl.config import AMCCLConfig  # noqa: E402


@pytest.fixture(autouse=True)
def _amccl_log_level():
    """Each test starts and ends with the package logger's level as it was: a CLI run in-process
    with ``--quiet`` (``get_logger(WARNING)``) must not hide the INFO lines a later test reads."""
    from amccl.runtime import get_logger

    logger = get_logger()  # configured first (its default INFO), so a test that configures it cannot undo that
    level = logger.level
    yield
    logger.setLevel(level)


@pytest.fixture
def tiny_cfg() -> AMCCLConfig:
    """MOSI shapes, smoke sizes (48/16/24 synthetic clips, 2 epochs, batch 16), tiny random BERT."""
    return AMCCLConfig.for_dataset("mosi", profile="smoke", text_encoder="tiny-random")


@pytest.fixture(scope="session")
def tiny_data():
    """The smoke-size embedded default of ``tiny_cfg``, built once per session (do not mutate)."""
    from amccl.data import load_data

    return load_data(AMCCLConfig.for_dataset("mosi", profile="smoke", text_encoder="tiny-random"))


def random_batch(cfg: AMCCLConfig, b: int = 4, seed: int = 0, padded: bool = True, lengths: str = "any") -> dict:
    """Random model inputs at ``cfg``'s shapes, reproducible from ``seed``.

    ``text`` (B, 3, Lt) float (as MMSA stores it): ids in [1000, 2000), the second half of
    every row padding when ``padded``; ``audio`` (B, La, Da) and ``vision`` (B, Lv, Dv) normal;
    lengths (B,): full without ``padded``, else drawn in [1, L] (``lengths="any"``) or in
    [2, L // 2) (``"short"``: every clip padded).
    """
    import torch

    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(1000, 2000, (b, cfg.text_len), generator=g)
    mask = torch.ones(b, cfg.text_len, dtype=torch.long)
    if padded:
        mask[:, cfg.text_len // 2:] = 0
    batch = dict(
        text=torch.stack([ids * mask, mask, torch.zeros_like(ids)], 1).float(),
        audio=torch.randn(b, cfg.audio_len, cfg.audio_dim, generator=g),
        vision=torch.randn(b, cfg.vision_len, cfg.vision_dim, generator=g),
    )
    for key, full in (("audio_lengths", cfg.audio_len), ("vision_lengths", cfg.vision_len)):
        if not padded:
            batch[key] = torch.full((b,), full)
        else:
            low, high = (1, full + 1) if lengths == "any" else (2, full // 2)
            batch[key] = torch.randint(low, high, (b,), generator=g)
    return batch
