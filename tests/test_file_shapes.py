"""Shapes from the file: a real file whose (Lt, La, Lv, Da, Dv) are not MMSA's trains without --set.

The header-only probe, the head-count rule, the note every result carries, MMSA-shaped files
unchanged (exactly today's config), ``shapes="paper"`` refusing with the fix, and utterance-level
files (La = Lv = 1, other widths) trained from ``fit`` and from the CLI.
"""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from amccl.config import DATASET_SHAPES, AMCCLConfig, fit_heads, is_mmsa_shapes, shapes_note
from amccl.data import DataError, load_data
from amccl.data.pickles import probe_arrays
from amccl.data.shapes import probe_shapes, shapes_of_raw
from tests.test_data_mmsa import as_numpy1_layout

UTTERANCE = (12, 1, 1, 73, 100)  # (Lt, La, Lv, Da, Dv): one audio and one video vector per clip
SIZES = {"train": 48, "valid": 16, "test": 24}
NOTE = "shapes from the file (Lt=12, La=1, Lv=1, Da=73, Dv=100; audio_heads=1, vision_heads=4): not the paper's"


def mmsa_file(path: Path, shapes: tuple[int, ...], sizes: dict[str, int] = SIZES, seed: int = 0) -> Path:
    """An MMSA-layout pickle (protocol 4) of ``shapes`` with labels that depend on the features."""
    lt, la, lv, da, dv = shapes
    rng = np.random.default_rng(seed)
    raw = {}
    for name, n in sizes.items():
        tokens = rng.integers(3, lt + 1, n)
        mask = (np.arange(lt)[None, :] < tokens[:, None]).astype(np.float32)
        ids = np.where(mask > 0, rng.integers(999, 30000, (n, lt)), 0).astype(np.float32)
        audio = rng.standard_normal((n, la, da)).astype(np.float32)
        vision = rng.standard_normal((n, lv, dv)).astype(np.float32)
        raw[name] = {
            "text_bert": np.stack([ids, mask, np.zeros_like(mask)], axis=1), "audio": audio, "vision": vision,
            "audio_lengths": np.full(n, la), "vision_lengths": np.full(n, lv),
            "regression_labels": np.clip(audio[:, 0, 0] + vision[:, 0, 0], -3, 3).astype(np.float32),
            "raw_text": [f"clip {i}" for i in range(n)], "id": [f"{name}{i}" for i in range(n)],
        }
    with open(path, "wb") as handle:
        pickle.dump(raw, handle, protocol=4)
    return path


@pytest.fixture(scope="module")
def utterance_file(tmp_path_factory) -> Path:
    return mmsa_file(tmp_path_factory.mktemp("utt") / "utterance.pkl", UTTERANCE)


# --- the probe ---------------------------------------------------------------------------
def test_probe_reads_shapes_without_the_large_arrays(tmp_path):
    path = mmsa_file(tmp_path / "big.pkl", (50, 500, 40, 74, 35), sizes={"train": 16, "valid": 4, "test": 4})
    probed = probe_arrays(path)
    audio = probed["train"]["audio"]
    assert not isinstance(audio, np.ndarray) and audio.shape == (16, 500, 74)  # 2.4 MB seeked over
    assert isinstance(probed["train"]["regression_labels"], np.ndarray)  # small arrays are read
    assert probe_shapes(path) == (50, 500, 40, 74, 35)


def test_probe_reads_the_numpy1_layout_and_the_cache_manifest(tmp_path):
    path = mmsa_file(tmp_path / "u.pkl", UTTERANCE)
    old = tmp_path / "numpy1.pkl"
    old.write_bytes(as_numpy1_layout(path.read_bytes()))
    assert probe_shapes(old) == UTTERANCE
    from amccl.data import load_mmsa

    load_mmsa(path, "mosi", shapes=UTTERANCE, cache=True)  # writes the .npy cache and its manifest
    from amccl.data.cache import cached_file_shapes

    assert cached_file_shapes(path) == UTTERANCE


def test_shapes_of_raw_needs_the_three_feature_keys():
    assert shapes_of_raw({"train": {"audio": np.zeros((2, 3, 4))}}) is None
    assert shapes_of_raw([1, 2]) is None
    split = {"text_bert": np.zeros((2, 3, 9)), "audio": np.zeros((2, 1, 7)), "vision": np.zeros((2, 5, 6))}
    assert shapes_of_raw({"train": split}) == (9, 1, 5, 7, 6)


# --- the rules ---------------------------------------------------------------------------
@pytest.mark.parametrize("heads, width, expected", [(4, 100, 4), (1, 73, 1), (2, 73, 1), (3, 10, 2), (5, 35, 5),
                                                    (4, 2, 2), (3, 25, 1)])
def test_heads_are_the_papers_where_they_divide_else_the_largest_divisor_below(heads, width, expected):
    assert fit_heads(heads, width) == expected
    assert width % fit_heads(heads, width) == 0


def test_mmsa_shapes_unaligned_and_aligned():
    for name, shapes in DATASET_SHAPES.items():
        assert is_mmsa_shapes(name, shapes)
    assert is_mmsa_shapes("mosei", (50, 50, 50, 74, 35))  # aligned_50.pkl
    assert not is_mmsa_shapes("mosei", (50, 50, 50, 74, 36))
    assert not is_mmsa_shapes("mosi", UTTERANCE)


def test_with_file_shapes_keeps_values_set_by_hand():
    base = AMCCLConfig.for_dataset("mosi")
    fitted = base.with_file_shapes(UTTERANCE)
    assert (fitted.text_len, fitted.audio_len, fitted.vision_len, fitted.audio_dim, fitted.vision_dim) == UTTERANCE
    assert (fitted.audio_heads, fitted.vision_heads) == (1, 4)
    kept = base.replace(audio_len=3).with_file_shapes(UTTERANCE)
    assert kept.audio_len == 3 and kept.audio_dim == 73
    assert base.replace(shapes="paper").with_file_shapes(UTTERANCE) == base.replace(shapes="paper")
    mosei = AMCCLConfig.for_dataset("mosei").with_file_shapes((50, 1, 1, 73, 21))
    assert (mosei.audio_heads, mosei.vision_heads) == (1, 3)  # paper: 2 and 5
    tiny = AMCCLConfig.for_dataset("mosei").with_file_shapes((50, 1, 1, 4, 6))
    assert tiny.skip_net_reduction == 4  # paper 8: W1 maps Da -> Da // r, which must be >= 1


def test_the_note_names_what_differs_and_only_for_a_file():
    cfg = AMCCLConfig.for_dataset("mosi").with_file_shapes(UTTERANCE)
    assert shapes_note(cfg.to_dict()) == ""  # no file: the embedded default's shapes are ours to pick
    assert shapes_note(cfg.replace(data_path="x.pkl").to_dict()) == NOTE
    assert AMCCLConfig.for_dataset("mosi", data_path=None).replace(data_path="x.pkl").shapes_note == ""
    aligned = AMCCLConfig.for_dataset("mosei").replace(data_path="x.pkl")
    assert aligned.shapes_note == ""


# --- configs from files ------------------------------------------------------------------
def test_an_mmsa_shaped_file_gives_exactly_todays_config(tmp_path):
    path = mmsa_file(tmp_path / "mosi.pkl", DATASET_SHAPES["mosi"], sizes={"train": 4, "valid": 2, "test": 2})
    for profile in ("paper", "demo", "smoke"):
        probed = AMCCLConfig.for_dataset("mosi", profile=profile, data_path=str(path))
        plain = AMCCLConfig.for_dataset("mosi", profile=profile, data_path=str(path), shapes="paper").replace(
            shapes="file")  # "paper": the file is never probed
        assert probed == plain, profile
        assert probed.shapes_note == ""


def test_for_dataset_takes_the_files_shapes_and_set_wins(utterance_file):
    cfg = AMCCLConfig.for_dataset("mosi", profile="smoke", data_path=str(utterance_file))
    assert (cfg.text_len, cfg.audio_len, cfg.vision_len, cfg.audio_dim, cfg.vision_dim) == UTTERANCE
    assert cfg.shapes_note == NOTE
    wins = AMCCLConfig.for_dataset("mosi", profile="smoke", data_path=str(utterance_file), vision_heads=2)
    assert wins.vision_heads == 2 and wins.vision_dim == 100


def test_strict_shapes_refuses_and_names_the_fix(utterance_file):
    cfg = AMCCLConfig.for_dataset("mosi", profile="smoke", data_path=str(utterance_file), shapes="paper",
                                  text_encoder="tiny-random")
    assert cfg.audio_dim == 5  # the paper's, untouched
    with pytest.raises(DataError) as err:
        load_data(cfg)
    text = str(err.value)
    assert "split 'train', key 'audio'" in text and "(N, 50, 5)" in text  # file, split, key, expected shape
    assert "drop --strict-shapes" in text and "La=1, Lv=1, Da=73, Dv=100" in text


def test_load_data_takes_the_files_shapes_for_a_config_made_by_replace(utterance_file):
    cfg = AMCCLConfig.for_dataset("mosi", profile="smoke", text_encoder="tiny-random").replace(
        data_path=str(utterance_file))
    assert load_data(cfg).shapes == UTTERANCE


# --- training on an utterance-level file -------------------------------------------------
@pytest.fixture(scope="module")
def trained_on_utterances(utterance_file, tmp_path_factory):
    from amccl.train import fit

    out = tmp_path_factory.mktemp("fit")
    cfg = AMCCLConfig.for_dataset("mosi", profile="smoke", data_path=str(utterance_file), text_encoder="tiny-random")
    return fit(cfg, seed=1111, out_dir=out, progress=False), out


def test_fit_trains_an_utterance_level_file_and_every_result_carries_the_note(trained_on_utterances):
    from amccl.results import results_frame, summarize

    history, out = trained_on_utterances
    assert history.config["audio_dim"] == 73 and history.meta["data_shapes"] == list(UTTERANCE)
    assert np.isfinite(history.test_metrics["MAE"])
    row = results_frame([history]).iloc[0]
    assert NOTE in row["note"]
    assert NOTE in summarize(results_frame([history]), "mosi").attrs["notes"]
    best = torch.load(out / "best.pt", weights_only=True)
    assert best["meta"]["shapes_note"] == NOTE and best["config"]["vision_dim"] == 100


def test_fit_fits_a_config_made_by_replace_to_the_file(utterance_file, trained_on_utterances):
    from amccl.train import fit

    cfg = AMCCLConfig.for_dataset("mosi", profile="smoke", text_encoder="tiny-random").replace(
        data_path=str(utterance_file))
    history = fit(cfg, seed=1111, progress=False)
    assert history.test_metrics == trained_on_utterances[0].test_metrics


@pytest.mark.slow
def test_the_cli_trains_an_utterance_level_file_without_set_and_evaluate_keeps_the_shapes(
        utterance_file, tmp_path, capsys):
    from amccl.cli import main

    out = tmp_path / "run"
    assert main(["train", "--dataset", "mosi", "--profile", "smoke", "--data", str(utterance_file),
                 "--seeds", "1111", "--out", str(out), "--quiet"]) == 0
    printed = capsys.readouterr().out
    assert f"note: {NOTE}" in printed
    results = pd.read_csv(out / "results.csv")
    assert NOTE in results.at[0, "note"]
    assert main(["evaluate", "--checkpoint", str(out / "seed_1111" / "best.pt"), "--out", str(tmp_path / "ev")]) == 0
    assert f"note: {NOTE}" in capsys.readouterr().out
    assert main(["train", "--dataset", "mosi", "--profile", "smoke", "--data", str(utterance_file), "--strict-shapes",
                 "--seeds", "1111", "--out", str(tmp_path / "strict"), "--quiet"]) == 1
    assert "drop --strict-shapes" in capsys.readouterr().err


def test_presets_leave_a_real_files_sizes_and_shapes_alone():
    from amccl.presets import PRESETS, SHRUNK_FROZEN_TEXT

    grid = PRESETS["ablation_grid"]["demo"]
    assert grid.overrides_for(None) == grid.overrides  # the embedded default: every override
    on_file = grid.overrides_for("x.pkl")
    assert "audio_len" in SHRUNK_FROZEN_TEXT and not {"audio_len", "text_len", "synthetic_sizes"} & set(on_file)
    assert on_file["freeze_text"] is True and on_file["epochs"] == grid.overrides["epochs"]
