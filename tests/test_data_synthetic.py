"""The embedded synthetic default: deterministic, MMSA-shaped, learnable, read by the real loader."""

from __future__ import annotations

import pickle

import numpy as np
import pandas as pd
import pytest

from amccl.bert import load_tokenizer
from amccl.config import DATASET_SHAPES, DATASETS, AMCCLConfig
from amccl.data import load_data, load_mmsa
from amccl.data import synthetic as syn
from amccl.data.default import synthetic_path
from amccl.data.overview import feature_verdict, truncation_verdict
from amccl.data.types import SPLITS

SMALL = (40, 12, 16)


def split_latents(dataset: str, split: str, n: int, seed: int) -> syn.SplitLatents:
    """The latents behind split ``split`` of ``syn.generate_raw(dataset, ..., seed)`` (same draws)."""
    _, la, lv, _, _ = DATASET_SHAPES[dataset]
    split_seed = syn._seeds(dataset, seed)[SPLITS.index(split)]
    return syn.sample_latents(n, np.random.default_rng(split_seed.spawn(3)[0]), la, lv)


@pytest.fixture(scope="module")
def tokenizer():
    return load_tokenizer("minilm")


@pytest.fixture(scope="module")
def mosi_file(tmp_path_factory, tokenizer):
    path = tmp_path_factory.mktemp("syn") / "mosi.pkl"
    return syn.write_synthetic(path, "mosi", SMALL, seed=3, tokenizer=tokenizer)


def test_same_arguments_same_bytes(tmp_path, tokenizer, mosi_file):
    again = syn.write_synthetic(tmp_path / "again.pkl", "mosi", SMALL, seed=3, tokenizer=tokenizer)
    assert again.read_bytes() == mosi_file.read_bytes()
    other = syn.write_synthetic(tmp_path / "other.pkl", "mosi", SMALL, seed=4, tokenizer=tokenizer)
    assert other.read_bytes() != mosi_file.read_bytes()


def test_file_has_the_real_layout(mosi_file):
    with open(mosi_file, "rb") as handle:
        raw = pickle.load(handle)  # our own freshly written file: plain pickle is fine here
    lt, la, lv, da, dv = DATASET_SHAPES["mosi"]
    train = raw["train"]
    assert set(raw) == {"train", "valid", "test"}
    assert train["text_bert"].shape == (40, 3, lt) and train["text_bert"].dtype == np.float32
    assert train["text"].shape == (40, lt, 768)
    assert train["audio"].shape == (40, la, da) and train["vision"].shape == (40, lv, dv)
    assert np.isneginf(train["audio"]).any(), "some -inf in audio, as in real files"
    assert isinstance(train["audio_lengths"], list) and train["id"][0].count("$_$") == 1


def test_loaded_values_follow_the_recipe(mosi_file, tokenizer):
    data = load_mmsa(mosi_file, "mosi")
    for name, split in data.items():
        labels = split.labels.astype(np.float64)
        assert np.allclose(labels * 5, np.round(labels * 5), atol=1e-4), "MOSI grid is 0.2"
        assert labels.min() >= -3 and labels.max() <= 3
        steps = np.arange(split.audio.shape[1])[None, :, None]
        assert not np.any(split.audio * (steps >= split.audio_lengths[:, None, None])), "padding is zero"
        assert np.isfinite(split.audio).all()
        lat = split_latents("mosi", name, len(split), seed=3)
        np.testing.assert_array_equal(split.labels, syn.labels_of(lat, "mosi"))
        np.testing.assert_array_equal(split.audio_lengths, lat.audio_lengths)
        assert list(split.raw_text) == lat.sentences()
    train = data.train
    assert train.cleaned["audio_neg_inf"] > 0
    assert (train.labels == 0).any() and len(np.unique(train.audio_lengths)) > 5
    assert (train.audio_lengths == 50).any() and (train.audio_lengths < 25).any()
    for row in range(5):  # the tokens are the transcript, by the encoder's own tokenizer
        ids = train.text[row, 0, train.text[row, 1] == 1]
        decoded = tokenizer.decode(ids[1:-1])
        assert decoded.replace(" ", "") == train.raw_text[row].replace(" ", "")


def test_features_carry_the_planted_scores():
    """Mean valid-frame audio / vision recover s_a / s_v linearly (R^2 > 0.8)."""
    data = syn.synthetic_data("mosi", (400, 8, 8), seed=1)
    lat = split_latents("mosi", "train", 400, seed=1)
    for feats, lengths, score in ((data.train.audio, data.train.audio_lengths, lat.s_a),
                                  (data.train.vision, data.train.vision_lengths, lat.s_v)):
        means = feats.sum(axis=1) / lengths[:, None]
        design = np.c_[means, np.ones(len(means))]
        fitted = design @ np.linalg.lstsq(design, score, rcond=None)[0]
        r2 = 1 - np.var(score - fitted) / np.var(score)
        assert r2 > 0.8, r2


def test_fusion_matters():
    """Text alone cannot reach what all three modalities reach, and both beat the constant."""
    for dataset in ("mosi", "sims"):
        maes = syn.reference_maes(dataset, n=50_000)
        assert maes["constant"] > 2 * maes["text_only"] > 4 * maes["all_modalities"] > 0, (dataset, maes)


@pytest.mark.parametrize("dataset", DATASETS)
def test_every_dataset_shape(dataset):
    data = syn.synthetic_data(dataset, (3, 2, 2), seed=0)
    lt, la, lv, da, dv = DATASET_SHAPES[dataset]
    assert data.train.text.shape == (3, 3, lt) and data.test.audio.shape == (2, la, da)
    assert data.valid.vision.shape == (2, lv, dv)
    bound = 1 if dataset.startswith("sims") else 3
    assert np.abs(data.train.labels).max() <= bound
    if dataset.startswith("sims"):
        assert set(data.train.extras) == {"regression_labels_T", "regression_labels_A", "regression_labels_V"}
    if dataset == "mosei":
        thirds = syn.quantise(np.array([0.3, 1.0, -2.9]), "mosei")
        np.testing.assert_allclose(thirds, [1 / 3, 1.0, -3.0], rtol=1e-6)


def test_load_data_default_is_generated_once(tmp_path, monkeypatch):
    monkeypatch.setenv("AMCCL_DATA_CACHE", str(tmp_path))
    cfg = AMCCLConfig.for_dataset("mosi", profile="smoke")
    data = load_data(cfg)
    assert data.source == "synthetic" and data.path.startswith(str(tmp_path))
    assert [len(s) for _, s in data.items()] == list(cfg.synthetic_sizes)
    first = (tmp_path / data.path.split("/")[-1]).stat().st_mtime_ns
    again = load_data(cfg)
    assert again.sha256 == data.sha256 and (tmp_path / again.path.split("/")[-1]).stat().st_mtime_ns == first
    np.testing.assert_array_equal(again.train.audio, data.train.audio)
    tokenizer = load_tokenizer(cfg.text_encoder)
    assert synthetic_path(cfg.replace(synthetic_seed=1), tokenizer) != synthetic_path(cfg, tokenizer)


def test_load_data_reads_a_real_path(tmp_path, mosi_file):
    cfg = AMCCLConfig.for_dataset("mosi", data_path=str(mosi_file))
    data = load_data(cfg)
    assert data.source == "mmsa" and data.path == str(mosi_file) and len(data.train) == SMALL[0]
    with pytest.raises(ValueError, match="SHA-256 mismatch"):
        load_data(cfg.replace(data_sha256="0" * 64))


def test_feature_stats_use_valid_frames_only():
    import pandas as pd

    from amccl.data import feature_stats, valid_frames
    from amccl.data.types import MMSASplit

    split = MMSASplit.__new__(MMSASplit)  # only the fields feature_stats reads
    split.audio = np.array([[[1.0], [3.0], [99.0]], [[0.0], [-99.0], [-99.0]]], dtype=np.float32)
    split.audio_lengths = np.array([2, 1])
    assert valid_frames(split.audio, split.audio_lengths).ravel().tolist() == [1.0, 3.0, 0.0]
    stats = feature_stats(split, "audio")
    expected = pd.DataFrame({"mean": [4 / 3], "std": [np.std([1.0, 3.0, 0.0])], "min": [0.0], "max": [3.0],
                             "exact zeros": [1]})
    pd.testing.assert_frame_equal(stats.reset_index(drop=True), expected, check_dtype=False)
    assert stats.index.name == "audio feature"
    with pytest.raises(ValueError, match="audio' or 'vision"):
        feature_stats(split, "text")


def test_truncation_verdict_counts_full_transcripts():
    data = syn.synthetic_data("mosi", (3, 2, 2), seed=0)
    assert truncation_verdict(data) == "No transcript reaches Lt = 50 tokens, so truncation never cuts text here."
    data.train.text[0, 1] = 1
    assert truncation_verdict(data) == "1 transcript fills all Lt = 50 token slots: they may be truncated."
    data.test.text[:, 1] = 1
    assert truncation_verdict(data) == "3 transcripts fill all Lt = 50 token slots: they may be truncated."


def test_truncation_verdict_with_the_tokenizer_counts_only_what_was_cut():
    class Words:  # a tokenizer of whitespace words between [CLS] and [SEP]
        def __call__(self, text):
            return {"input_ids": [101, *range(len(text.split())), 102]}

    data = syn.synthetic_data("mosi", (2, 2, 2), seed=0)
    data.train.text[:, 1] = 1  # both train rows fill the 50 slots
    data.train.raw_text = np.array(["w " * 48, "w " * 49], dtype=object)  # 50 and 51 tokens
    assert truncation_verdict(data, Words()) == (
        "2 transcripts fill all Lt = 50 token slots; 1 of them lost tokens to truncation.")
    data.train.raw_text = np.array(["w " * 48, "w"], dtype=object)
    assert truncation_verdict(data, Words()) == (
        "2 transcripts fill all Lt = 50 token slots, and none is longer: truncation cuts no text here.")


def test_feature_verdict_reads_the_measured_ranges():
    def frame(means, stds):
        return pd.DataFrame({"mean": means, "std": stds})

    good = {"audio": frame([0.1, -0.5], [1.0, 1.3]), "vision": frame([0.0, 1.0], [0.2, 5.0])}
    verdict = feature_verdict(good, 8)
    assert verdict.startswith("features are finite after loading (8 non-finite value(s) set to 0")
    assert "roughly centred with unit-scale spread" in verdict and "not" not in verdict
    assert "audio: means -0.50 to 0.10, stds 1.00 to 1.30" in verdict
    off_centre = dict(good, audio=frame([0.1, -1.5], [1.0, 1.3]))
    assert "audio is not roughly centred" in feature_verdict(off_centre, 0)
    both = {"audio": frame([0.0], [0.1]), "vision": frame([0.0], [6.0])}
    assert "audio and vision are not roughly centred" in feature_verdict(both, 0)
    assert "vision: means 0.00 to 0.00, stds 6.00 to 6.00" in feature_verdict(both, 0)
