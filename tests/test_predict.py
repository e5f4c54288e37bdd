"""Predictions for new clips: label-less MMSA pickles, the loader's named errors, the command."""

from __future__ import annotations

import argparse

import numpy as np
import pandas as pd
import pytest

from amccl.cli import CLIError
from amccl.config import AMCCLConfig
from amccl.data import DataError, load_mmsa
from amccl.data.pickles import write_mmsa_pickle
from amccl.predict import COLUMNS, add_predict_parser, predict


def clip_dict(split, labels: bool = False) -> dict:
    """One split in the MMSA layout, as a user's feature extractor would write it."""
    raw = {"text_bert": split.text.astype(np.float64), "audio": split.audio.copy(), "vision": split.vision.copy(),
           "audio_lengths": split.audio_lengths.copy(), "vision_lengths": split.vision_lengths.copy(),
           "raw_text": [str(t) for t in split.raw_text], "id": [str(i) for i in split.ids]}
    if labels:
        raw["regression_labels"] = split.labels.astype(np.float64)
    return raw


@pytest.fixture(scope="module")
def trained(tmp_path_factory, tiny_data):
    """A smoke-profile model (tiny random BERT, one epoch) trained by ``fit``; returns (best.pt, history)."""
    from amccl.train import fit

    out = tmp_path_factory.mktemp("predict") / "run"
    cfg = AMCCLConfig.for_dataset("mosi", profile="smoke", text_encoder="tiny-random", device="cpu", epochs=1)
    history = fit(cfg, tiny_data, seed=1111, out_dir=out, progress=False)
    return out / "best.pt", history


@pytest.mark.slow
def test_scores_equal_evaluates_predictions_on_label_less_clips(trained, tiny_data, tmp_path):
    best, history = trained
    path = write_mmsa_pickle({"test": clip_dict(tiny_data.test)}, tmp_path / "mine.pkl")
    table = predict(best, path, out_dir=tmp_path / "out")
    assert list(table.columns) == list(COLUMNS)  # no labels in the file: no label column
    assert len(table) == len(tiny_data.test) == 24 and set(table["split"]) == {"test"}
    assert list(table["id"]) == list(history.test_predictions["id"])
    np.testing.assert_allclose(table["score"], history.test_predictions["prediction"], atol=1e-5)
    expected_polarity = np.where(table["score"] > 0, "positive", np.where(table["score"] < 0, "negative", "neutral"))
    assert list(table["polarity"]) == list(expected_polarity)
    assert list(table["acc7_bin"]) == list(np.round(np.clip(table["score"].astype(np.float32), -3, 3)).astype(int))
    written = pd.read_csv(tmp_path / "out" / "predictions.csv")
    pd.testing.assert_frame_equal(written, table, check_dtype=False)


@pytest.mark.slow
def test_flat_file_with_labels_gets_a_label_column(trained, tiny_data, tmp_path):
    best, _ = trained
    path = write_mmsa_pickle(clip_dict(tiny_data.valid, labels=True), tmp_path / "flat.pkl")
    table = predict(best, path)
    assert list(table.columns) == [*COLUMNS, "label"] and set(table["split"]) == {"clips"}
    np.testing.assert_allclose(table["label"], tiny_data.valid.labels, atol=1e-6)


@pytest.mark.slow
def test_every_split_by_default_and_one_with_split(trained, tiny_data, tmp_path):
    best, _ = trained
    raw = {"mine": clip_dict(tiny_data.valid), "test": clip_dict(tiny_data.test)}
    path = write_mmsa_pickle(raw, tmp_path / "two.pkl")
    both = predict(best, path)
    assert list(both["split"]) == ["mine"] * 16 + ["test"] * 24
    one = predict(best, path, split="test")
    np.testing.assert_allclose(one["score"], both.loc[both["split"] == "test", "score"], atol=1e-6)
    with pytest.raises(DataError, match=r"two\.pkl: missing split 'train' \(found splits: \['mine', 'test'\]\)"):
        predict(best, path, split="train")


@pytest.mark.slow
def test_wrong_shapes_get_the_loaders_named_error(trained, tiny_data, tmp_path):
    best, _ = trained
    raw = clip_dict(tiny_data.test)
    raw["audio"] = np.zeros((24, 50, 6), np.float32)  # MOSI has Da = 5
    path = write_mmsa_pickle({"test": raw}, tmp_path / "shapes.pkl")
    with pytest.raises(DataError) as err:
        predict(best, path)
    assert err.value.problems == [f"{path}: split 'test', key 'audio': expected shape (N, 50, 5), found (24, 50, 6)"]


@pytest.mark.slow
def test_missing_key_and_foreign_tokens_are_named_errors(trained, tiny_data, tmp_path):
    best, _ = trained
    raw = clip_dict(tiny_data.test)
    del raw["vision"]
    path = write_mmsa_pickle({"test": raw}, tmp_path / "missing.pkl")
    with pytest.raises(DataError, match=r"missing\.pkl: split 'test': missing key 'vision'"):
        predict(best, path)
    raw = clip_dict(tiny_data.test)
    raw["text_bert"][3, 0, 1] = 10 ** 6  # beyond any vocabulary
    path = write_mmsa_pickle({"test": raw}, tmp_path / "tokens.pkl")
    with pytest.raises(DataError, match=r"split 'test', key 'text_bert': expected token ids < \d+ .* found 1000000 "
                                        r"at row 3"):
        predict(best, path)


def test_training_data_still_needs_labels(tiny_data, tmp_path):
    raw = {name: clip_dict(split) for name, split in tiny_data.items()}
    path = write_mmsa_pickle(raw, tmp_path / "unlabelled.pkl")
    with pytest.raises(DataError, match="split 'train': missing key 'regression_labels'"):
        load_mmsa(path, "mosi", shapes=tiny_data.shapes)


@pytest.mark.slow
def test_the_command_writes_the_csv(trained, tiny_data, tmp_path, capsys):
    best, _ = trained
    path = write_mmsa_pickle({"test": clip_dict(tiny_data.test)}, tmp_path / "cli.pkl")
    parser = argparse.ArgumentParser(prog="amccl")
    add_predict_parser(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["predict", "--checkpoint", str(best), "--data", str(path), "--out", str(tmp_path / "o")])
    assert args.func(args) == 0
    table = pd.read_csv(tmp_path / "o" / "predictions.csv")
    assert list(table.columns) == list(COLUMNS) and len(table) == 24
    out = capsys.readouterr().out
    assert "test: 24 clips" in out and "predictions.csv" in out
    args = parser.parse_args(["predict", "--checkpoint", str(best), "--data", str(tmp_path / "none.pkl")])
    with pytest.raises(CLIError, match=r"--data .*none\.pkl: no such file"):
        args.func(args)
