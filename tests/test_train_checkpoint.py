"""Checkpoint plumbing: atomic writes, weights_only reads, RNG states, devices."""

from __future__ import annotations

import random

import numpy as np
import pytest
import torch

from amccl import checkpoint as ckpt
from amccl.runtime import preserved_rng, resolve_device, rng_state, seed_everything, set_rng_state


def _draws():
    return (random.random(), float(np.random.rand()), float(torch.rand(())),
            int(torch.randperm(100)[0]))


def test_rng_state_survives_a_weights_only_round_trip(tmp_path):
    seed_everything(5)
    random.gauss(0, 1)  # leave a cached gaussian in python's state
    np.random.randn()
    ckpt.atomic_save({"rng": rng_state()}, tmp_path / "state.pt")
    expected = _draws()
    seed_everything(99)
    set_rng_state(ckpt.load(tmp_path / "state.pt")["rng"])
    assert _draws() == expected


def test_preserved_rng_leaves_every_generator_as_it_was():
    seed_everything(3)
    expected = _draws()
    seed_everything(3)
    with preserved_rng():
        _draws()
    assert _draws() == expected


def test_atomic_save_keeps_the_old_file_when_writing_fails(tmp_path, monkeypatch):
    path = tmp_path / "last.pt"
    ckpt.atomic_save({"epoch": 1}, path)

    def broken_save(obj, handle):
        handle.write(b"half a checkpoint")
        raise KeyboardInterrupt("killed while writing")

    monkeypatch.setattr(torch, "save", broken_save)
    with pytest.raises(KeyboardInterrupt):
        ckpt.atomic_save({"epoch": 2}, path)
    monkeypatch.undo()
    assert ckpt.load(path) == {"epoch": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["last.pt"]  # no temporary file left


def test_to_plain_makes_numpy_values_weights_only_safe(tmp_path):
    value = {"a": np.float64(0.5), "b": (np.int64(3), np.arange(2)), "v": torch.__version__}
    plain = ckpt.to_plain(value)
    assert plain == {"a": 0.5, "b": [3, [0, 1]], "v": str(torch.__version__)}
    ckpt.atomic_save(plain, tmp_path / "x.pt")
    assert ckpt.load(tmp_path / "x.pt") == plain
    with pytest.raises(FileNotFoundError):
        ckpt.load(tmp_path / "missing.pt")


def test_resolve_device():
    assert resolve_device("cpu") == torch.device("cpu")
    expected = "cuda" if torch.cuda.is_available() else ("mps" if torch.backends.mps.is_available() else "cpu")
    assert resolve_device("auto").type == expected and resolve_device(None).type == expected
    with pytest.raises(ValueError, match="device"):
        resolve_device("tpu")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="CUDA is not available"):
            resolve_device("cuda")
