"""Shared fixtures. Tests never reach the network: the hub is offline for the whole session."""

from __future__ import annotations

import os

os.environ["HF_HUB_OFFLINE"] = "1"  # before anything imports transformers
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import pytest  # noqa: E402

from amccl.config import AMCCLConfig  # noqa: E402


@pytest.fixture
def tiny_cfg() -> AMCCLConfig:
    """MOSI shapes, smoke sizes (48/16/24 synthetic clips, 2 epochs, batch 16), tiny random BERT."""
    return AMCCLConfig.for_dataset("mosi", profile="smoke", text_encoder="tiny-random")


@pytest.fixture(scope="session")
def tiny_data():
    """The smoke-size embedded default of ``tiny_cfg``, built once per session (do not mutate)."""
    from amccl.data import load_data

    return load_data(AMCCLConfig.for_dataset("mosi", profile="smoke", text_encoder="tiny-random"))
