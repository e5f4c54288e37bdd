"""Every file the reference trains on loads: odd lengths and labels are warned
about and noted, the length-reading variants refuse them, aligned files load, and what would
make numbers wrong is still refused."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest

from amccl.data import DataError, DataWarning, check_data_for_config, from_raw, load_data, load_mmsa
from amccl.data.cache import cache_dir_for
from tests.test_data_mmsa import SHAPES, SIZES, assert_one_refusal, dump, make_raw, make_split, small_cfg

ALIGNED_CFG = (4, 9, 7, 3, 4)  # the config's (Lt, La, Lv, Da, Dv): La, Lv longer than Lt
ALIGNED_FILE = (4, 4, 4, 3, 4)  # an aligned file's: audio and vision on the text's Lt steps


def load_warned(path, shapes=SHAPES, **kwargs):
    """(data, DataWarning messages) of one load."""
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        data = load_mmsa(path, "mosi", shapes=shapes, **kwargs)
    return data, [str(w.message) for w in record if issubclass(w.category, DataWarning)]


def aligned_raw(seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    return {name: make_split(n, rng, False, ALIGNED_FILE) for name, n in SIZES.items()}


# --- warned, noted, refused by the variants that read them -----------------------------------


def test_extra_length_row_is_dropped_and_noted(tmp_path):
    raw = make_raw(with_text=False)
    raw["valid"]["audio_lengths"] = [3, 4, 5, 6, 7]  # N = 4 clips
    path = dump(raw, tmp_path / "f.pkl")
    data, messages = load_warned(path)
    assert messages == [f"{path}: split 'valid', key 'audio_lengths': 5 rows for N = 4 clips; the first 4 rows "
                        "kept, 1 dropped — the default model never reads lengths; the variants padding_mask, "
                        "last_valid_step and masked_means refuse this file"]
    np.testing.assert_array_equal(data.valid.audio_lengths, [3, 4, 5, 6])
    assert [(n["split"], n["key"], n["kind"], n["row"]) for n in data.notes] == [
        ("valid", "audio_lengths", "lengths_extra_rows", 4)]
    check_data_for_config(data, small_cfg())
    with pytest.raises(DataError, match=r"split 'valid', key 'audio_lengths': expected N = 4 rows .*found 5; "
                                        r"this configuration reads lengths \(masked_means\)"):
        check_data_for_config(data, small_cfg(masked_means=True))


def test_fractional_and_nan_lengths_are_kept_usable(tmp_path):
    raw = make_raw(with_text=False)
    raw["valid"]["vision_lengths"] = np.array([1.0, 2.5, 3.0, np.nan])
    path = dump(raw, tmp_path / "f.pkl")
    data, messages = load_warned(path)
    assert len(messages) == 1 and messages[0].startswith(
        f"{path}: split 'valid', key 'vision_lengths': 2 of 4 rows not whole numbers in [1, 6] (first: 2.5 at row 1)")
    assert data.valid.vision_lengths.dtype == np.int64
    np.testing.assert_array_equal(data.valid.vision_lengths, [1, 2, 3, -1])
    with pytest.raises(DataError, match=r"split 'valid', key 'vision_lengths': expected finite values, found nan "
                                        r"at row 3 .*\(padding_mask\)"):
        check_data_for_config(data, small_cfg(padding_mask=True))


def test_one_warning_per_split_and_key(tmp_path):
    raw = make_raw(with_text=False)
    raw["train"]["audio_lengths"][0:3] = [0, 0, 0]
    raw["valid"]["audio_lengths"] = [8, 1, 1, 9]
    raw["train"]["vision_lengths"][5] = 99
    raw["test"]["regression_labels"][1:3] = [3.2, -3.4]
    path = dump(raw, tmp_path / "f.pkl")
    data, messages = load_warned(path)
    where = [(n["split"], n["key"], n["count"], n["row"]) for n in data.notes]
    assert where == [("train", "audio_lengths", 3, 0), ("train", "vision_lengths", 1, 5),
                     ("valid", "audio_lengths", 2, 0), ("test", "regression_labels", 2, 1)]
    assert messages == [n["message"] for n in data.notes]
    with pytest.raises(DataError) as info:
        check_data_for_config(data, small_cfg(last_valid_step=True, masked_means=True))
    assert len(info.value.problems) == 3  # labels out of range are no variant's problem
    assert all("(last_valid_step, masked_means)" in p for p in info.value.problems)


def test_lengths_changed_in_memory_are_refused_too():
    data = from_raw(make_raw(with_text=False), "mosi", SHAPES)
    assert data.notes == []
    data.test.vision_lengths[2] = 0
    check_data_for_config(data, small_cfg())
    with pytest.raises(DataError, match=r"<memory data>: split 'test', key 'vision_lengths': expected values in "
                                        r"\[1, 6\], found 0 at row 2"):
        check_data_for_config(data, small_cfg(last_valid_step=True))


def test_config_of_other_shapes_is_refused():
    data = from_raw(make_raw(with_text=False), "mosi", SHAPES)
    with pytest.raises(DataError, match=r"expected audio_dim == 5, found 3"):
        check_data_for_config(data, small_cfg(audio_dim=5))
    with pytest.raises(DataError, match=r"expected audio_len <= 6, found 7"):
        check_data_for_config(data, small_cfg(audio_len=6))


# --- still refused: what would make numbers wrong --------------------------------------------


def _inf_label(raw):
    raw["valid"]["regression_labels"][2] = np.inf


def _neg_inf_label(raw):
    raw["train"]["regression_labels"][4] = -np.inf


def _inf_vision(raw):
    raw["test"]["vision"][1, 2, 3] = np.inf


def _short_lengths(raw):
    raw["test"]["vision_lengths"] = raw["test"]["vision_lengths"][:4]


def _aligned_audio_longer_than_config(raw):
    raw["train"]["audio"] = np.zeros((6, 8, 3))  # Lt = 8 > La = 7: not the aligned layout


REFUSED = {
    "+inf label": (_inf_label, "split 'valid', key 'regression_labels': expected finite values, found inf at row 2"),
    "-inf label": (_neg_inf_label,
                   "split 'train', key 'regression_labels': expected finite values, found -inf at row 4"),
    "inf vision": (_inf_vision, "split 'test', key 'vision': expected finite values, found inf at row 1"),
    "too few lengths": (_short_lengths, "split 'test', key 'vision_lengths': expected N = 5 rows (the N of "
                                        "'regression_labels'), found 4"),
    "audio Lt > La": (_aligned_audio_longer_than_config,
                      "split 'train', key 'audio': expected shape (N, 7, 3), found (6, 8, 3)"),
}


@pytest.mark.parametrize("variant", list(REFUSED))
def test_what_changes_numbers_is_still_refused(tmp_path, variant):
    assert_one_refusal(tmp_path, *REFUSED[variant])


def test_lengths_missing_from_an_unaligned_file_are_refused(tmp_path):
    raw = make_raw(with_text=False)
    del raw["train"]["audio_lengths"]
    path = dump(raw, tmp_path / "f.pkl")
    with pytest.raises(DataError, match=r"split 'train': missing key 'audio_lengths'"):
        load_mmsa(path, "mosi", shapes=SHAPES)


# --- MMSA's aligned_50.pkl layout -------------------------------------------------------------


def test_aligned_file_loads_with_its_own_shapes(tmp_path):
    raw = aligned_raw()
    path = dump(aligned_raw(), tmp_path / "aligned_50.pkl")
    data, messages = load_warned(path, ALIGNED_CFG)
    assert messages == [] and data.notes == []
    assert data.shapes == ALIGNED_FILE and data.train.audio.shape == (6, 4, 3)
    np.testing.assert_array_equal(data.test.vision_lengths, raw["test"]["vision_lengths"])
    lt, la, lv, da, dv = ALIGNED_CFG
    cfg = small_cfg(text_len=lt, audio_len=la, vision_len=lv, audio_dim=da, vision_dim=dv)
    check_data_for_config(data, cfg.replace(last_valid_step=True, padding_mask=True, masked_means=True))


def test_aligned_file_without_lengths_is_filled_and_noted(tmp_path):
    raw = aligned_raw()
    for split in raw.values():
        del split["audio_lengths"], split["vision_lengths"]
    path = dump(raw, tmp_path / "aligned_50.pkl")
    data, messages = load_warned(path, ALIGNED_CFG)
    assert messages == [f"{path}: no audio_lengths / vision_lengths in split(s) train, valid, test (the aligned "
                        "layout, as MMSA writes aligned files); filled with the full length 4 — the default model "
                        "never reads lengths; the variants padding_mask, last_valid_step and masked_means refuse "
                        "this file"]
    assert [n["kind"] for n in data.notes] == ["lengths_missing"] * 6
    assert all((split.audio_lengths == 4).all() and (split.vision_lengths == 4).all() for _, split in data.items())
    lt, la, lv, da, dv = ALIGNED_CFG
    cfg = small_cfg(text_len=lt, audio_len=la, vision_len=lv, audio_dim=da, vision_dim=dv)
    check_data_for_config(data, cfg)
    with pytest.raises(DataError) as info:
        check_data_for_config(data, cfg.replace(padding_mask=True))
    assert len(info.value.problems) == 6 and info.value.problems[0].startswith(
        f"{path}: split 'train': missing key 'audio_lengths' (filled with the full length 4")


def test_one_layout_per_file(tmp_path):
    raw = aligned_raw()
    raw["valid"] = make_split(4, np.random.default_rng(1), False, ALIGNED_CFG)  # unaligned valid split
    path = dump(raw, tmp_path / "aligned_50.pkl")
    with pytest.raises(DataError, match=r"split 'valid', key 'audio': expected the length axis of split 'train' "
                                        r"\(4\), found 9"):
        load_mmsa(path, "mosi", shapes=ALIGNED_CFG)


def test_aligned_file_through_load_data_and_cache(tmp_path):
    path = dump(aligned_raw(), tmp_path / "aligned_50.pkl")
    lt, la, lv, da, dv = ALIGNED_CFG
    cfg = small_cfg(text_len=lt, audio_len=la, vision_len=lv, audio_dim=da, vision_dim=dv, data_path=str(path))
    with pytest.warns(DataWarning, match="incomplete or modified download"):  # named like MOSI's aligned_50
        first = load_data(cfg, cache=True)
    with pytest.warns(DataWarning, match="incomplete or modified download"):
        second = load_data(cfg, cache=True)
    assert (first.source, second.source) == ("mmsa", "cache")
    assert first.shapes == second.shapes == ALIGNED_FILE
    assert second.sha256 == first.sha256 is not None
    check_data_for_config(second, cfg)


# --- notes survive the .npy cache -------------------------------------------------------------


def test_notes_survive_the_cache(tmp_path):
    raw = make_raw(with_text=False)
    raw["train"]["audio_lengths"][2] = 0
    raw["valid"]["vision_lengths"] = list(raw["valid"]["vision_lengths"]) + [3]
    path = dump(raw, tmp_path / "f.pkl")
    first, first_messages = load_warned(path, cache=True)
    second, second_messages = load_warned(path, cache=True)
    assert (first.source, second.source) == ("mmsa", "cache")
    assert len(first_messages) == 2 and second_messages == first_messages
    assert second.notes == first.notes
    manifest = json.loads((cache_dir_for(path) / "manifest.json").read_text())
    assert manifest["notes"] == first.notes and manifest["shapes"] == list(SHAPES)
    with pytest.raises(DataError) as info:
        check_data_for_config(second, small_cfg(last_valid_step=True))
    assert len(info.value.problems) == 2
    assert second.train.audio_lengths[2] == 0 and len(second.valid.vision_lengths) == 4
