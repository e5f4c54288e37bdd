"""Loading MMSA pickles: round trip, numpy 1.x layout, validation errors, refused code, hash, cache."""

from __future__ import annotations

import hashlib
import os
import pickle
import pickletools
import tracemalloc
from pathlib import Path

import numpy as np
import pytest

from amccl.data import DataError, UnsafePickleError, from_raw, load_mmsa
from amccl.data.cache import cache_dir_for
from amccl.data.pickles import write_mmsa_pickle

SHAPES = (8, 7, 6, 3, 4)  # (Lt, La, Lv, Da, Dv): small, so every test is fast
SIZES = {"train": 6, "valid": 4, "test": 5}


def make_split(n: int, rng: np.random.Generator, with_text: bool = True, shapes: tuple = SHAPES,
               audio_dtype: type = np.float64) -> dict:
    """One split in the real MMSA layout (float64 audio by default) with two -inf in audio."""
    lt, la, lv, da, dv = shapes
    tokens = rng.integers(1, 4, n) + 2  # valid tokens incl. [CLS]/[SEP]
    mask = (np.arange(lt)[None, :] < tokens[:, None]).astype(np.float64)
    ids = np.where(mask > 0, rng.integers(999, 30000, (n, lt)), 0).astype(np.float64)
    audio = rng.standard_normal((n, la, da)).astype(audio_dtype)
    audio[0, 1, 2] = -np.inf
    audio[n - 1, 0, 0] = -np.inf
    split = {
        "text_bert": np.stack([ids, mask, np.zeros_like(mask)], axis=1),
        "audio": audio,
        "vision": rng.standard_normal((n, lv, dv)).astype(np.float32),
        "audio_lengths": [int(x) for x in rng.integers(1, la + 1, n)],
        "vision_lengths": rng.integers(1, lv + 1, n),
        "regression_labels": np.round(rng.uniform(-3, 3, n) * 5) / 5,
        "raw_text": [f"clip {i} was good" for i in range(n)],
        "id": np.array([f"vid{i // 2}$_${i % 2}" for i in range(n)], dtype=object),
        "classification_labels": rng.integers(0, 3, n).astype(np.float64),
    }
    if with_text:
        split["text"] = rng.standard_normal((n, lt, 768)).astype(np.float32)
    return split


def make_raw(seed: int = 0, with_text: bool = True) -> dict:
    rng = np.random.default_rng(seed)
    return {name: make_split(n, rng, with_text) for name, n in SIZES.items()}


def dump(raw: dict, path: Path) -> Path:
    with open(path, "wb") as handle:
        pickle.dump(raw, handle, protocol=4)
    return path


def as_numpy1_layout(data: bytes) -> bytes:
    """Rewrite a numpy-2 protocol-4 pickle as numpy 1.x wrote it: ``numpy.core.*`` globals.

    Opcodes are copied one by one (frames dropped: they only group bytes), and each
    SHORT_BINUNICODE naming a ``numpy._core`` module is re-encoded with the 1.x name.
    """
    ops = list(pickletools.genops(data))
    out = bytearray()
    for (op, arg, pos), (_, _, end) in zip(ops, ops[1:] + [(None, None, len(data))]):
        if op.name == "FRAME":
            continue
        if op.name == "SHORT_BINUNICODE" and arg.startswith("numpy._core"):
            name = arg.replace("numpy._core", "numpy.core", 1).encode()
            out += b"\x8c" + bytes([len(name)]) + name
        else:
            out += data[pos:end]
    return bytes(out)


def expected_split(raw_split: dict) -> dict:
    audio = raw_split["audio"].astype(np.float32)
    audio[np.isneginf(audio)] = 0
    return {
        "text": raw_split["text_bert"].astype(np.int64), "audio": audio,
        "vision": raw_split["vision"], "audio_lengths": np.asarray(raw_split["audio_lengths"]),
        "vision_lengths": raw_split["vision_lengths"],
        "labels": raw_split["regression_labels"].astype(np.float32),
        "raw_text": np.array(raw_split["raw_text"]), "ids": np.array(list(raw_split["id"])),
    }


def assert_round_trip(data, raw: dict) -> None:
    for name, split in data.items():
        want = expected_split(raw[name])
        for key, value in want.items():
            got = getattr(split, key)
            assert got.dtype == {"text": np.int64, "audio": np.float32, "vision": np.float32,
                                 "audio_lengths": np.int64, "vision_lengths": np.int64,
                                 "labels": np.float32}.get(key, got.dtype), key
            np.testing.assert_array_equal(got, value, err_msg=f"{name}.{key}")
        assert split.cleaned["audio_neg_inf"] == 2
        np.testing.assert_array_equal(split.extras["classification_labels"], raw[name]["classification_labels"])
        assert not hasattr(split, "text_features") and split.text.shape[1] == 3  # 768-d features dropped


# --- round trip -----------------------------------------------------------------------------


def test_round_trip_exact(tmp_path):
    raw = make_raw()
    path = dump(make_raw(), tmp_path / "unaligned_50.pkl")
    data = load_mmsa(path, "mosi", shapes=SHAPES)
    assert (data.path, data.source, data.sha256, data.dataset) == (str(path), "mmsa", None, "mosi")
    assert [len(s) for _, s in data.items()] == list(SIZES.values())
    assert_round_trip(data, raw)


def test_numpy1_layout_round_trip(tmp_path):
    raw = make_raw(seed=1)
    old = as_numpy1_layout(pickle.dumps(make_raw(seed=1), protocol=4))
    assert b"numpy.core.multiarray" in old and b"numpy._core" not in old
    path = tmp_path / "numpy1.pkl"
    path.write_bytes(old)
    assert_round_trip(load_mmsa(path, "mosi", shapes=SHAPES), raw)


def test_writer_spells_numpy1_names_and_round_trips(tmp_path):
    raw = make_raw(seed=2)
    path = write_mmsa_pickle(make_raw(seed=2), tmp_path / "written.pkl")
    globals_used = {arg for op, arg, _ in pickletools.genops(path.read_bytes()) if op.name == "SHORT_BINUNICODE"}
    assert "numpy.core.multiarray" in globals_used and "numpy._core.multiarray" not in globals_used
    assert_round_trip(load_mmsa(path, "mosi", shapes=SHAPES), raw)


def test_float32_features_are_not_copied():
    raw = make_raw(with_text=False)
    vision = raw["train"]["vision"]
    data = from_raw(raw, "mosi", SHAPES)
    assert np.shares_memory(data.train.vision, vision)


@pytest.mark.parametrize("numpy1", [False, True])
def test_peak_memory_is_about_the_arrays_kept(tmp_path, numpy1):
    """float32 features are used in place and the 768-d text features are never read:
    peak traced memory stays near the arrays kept (a second full copy, as ``astype``
    makes, or materialising the text features would each add about as much again)."""
    shapes = (8, 400, 300, 16, 32)
    rng = np.random.default_rng(3)
    raw = {name: make_split(60, rng, True, shapes, np.float32) for name in SIZES}
    for split in raw.values():  # text features as big as audio + vision together
        split["text"] = np.zeros((60, 8, 768 * 4), np.float32)
    path = write_mmsa_pickle(raw, tmp_path / "big.pkl", numpy1_names=numpy1)
    del raw
    size = path.stat().st_size
    tracemalloc.start()
    try:
        data = load_mmsa(path, "mosi", shapes=shapes, compute_hash=True)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    kept = data.nbytes()
    assert kept < 0.5 * size  # the skipped text features are the bigger half of the file
    assert peak < 1.15 * kept, f"peak {peak / 1e6:.2f} MB for {kept / 1e6:.2f} MB kept ({size / 1e6:.2f} MB file)"
    assert data.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()  # skipped bytes are hashed


def test_small_text_features_inside_a_frame_are_read_normally(tmp_path):
    raw = make_raw()
    for split in raw.values():
        split["text"] = np.ones((len(split["regression_labels"]), 2, 3), np.float32)  # tiny
    path = dump(raw, tmp_path / "f.pkl")
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    assert load_mmsa(path, "mosi", shapes=SHAPES, sha256=digest).sha256 == digest


# --- validation: each malformed variant gives its own clear error ----------------------------


def _drop_split(raw):
    del raw["valid"]


def _drop_key(raw):
    del raw["train"]["audio"]


def _wrong_shape(raw):
    raw["valid"]["audio"] = np.zeros((4, 7, 4))


def _wrong_rank(raw):
    raw["train"]["regression_labels"] = np.zeros((6, 2))


def _n_mismatch(raw):
    raw["test"]["vision"] = raw["test"]["vision"][:4]


def _length_zero(raw):
    raw["train"]["audio_lengths"][2] = 0


def _length_too_long(raw):
    raw["valid"]["vision_lengths"][1] = 7


def _nan_label(raw):
    raw["test"]["regression_labels"][3] = np.nan


def _label_out_of_range(raw):
    raw["train"]["regression_labels"][0] = 3.5


def _nan_vision(raw):
    raw["valid"]["vision"][2, 0, 1] = np.nan


def _fractional_token(raw):
    raw["train"]["text_bert"][1, 0, 0] = 101.5


def _bad_mask(raw):
    raw["test"]["text_bert"][0, 1, 0] = 2


def _text_labels(raw):
    raw["train"]["regression_labels"] = np.array(["x"] * 6, dtype=object)


_IN = "split 'train', key"
MALFORMED = {
    "missing split": (_drop_split, "missing split 'valid' (found splits: ['test', 'train'])"),
    "missing key": (_drop_key, "split 'train': missing key 'audio'"),
    "wrong shape": (_wrong_shape, "split 'valid', key 'audio': expected shape (N, 7, 3), found (4, 7, 4)"),
    "wrong rank": (_wrong_rank, f"{_IN} 'regression_labels': expected shape (N,), found (6, 2)"),
    "N mismatch": (_n_mismatch,
                   "split 'test', key 'vision': expected N = 5 rows (the N of 'regression_labels'), found 4"),
    "NaN label": (_nan_label, "split 'test', key 'regression_labels': expected finite values, found nan at row 3"),
    "NaN vision": (_nan_vision, "split 'valid', key 'vision': expected finite values, found nan at row 2"),
    "fractional id": (_fractional_token, f"{_IN} 'text_bert': expected whole-number token ids, found 101.5 at row 1"),
    "mask not 0/1": (_bad_mask,
                     "split 'test', key 'text_bert': expected attention mask (row 1) 0 or 1, found 2 at row 0"),
    "text labels": (_text_labels, f"{_IN} 'regression_labels': expected numbers, found dtype object"),
}


# Odd values the default model never reads: loaded with one warning and a note; the
# length-reading variants refuse them with a DataError naming the file, split, key and value.
WARNED = {
    "length 0": (_length_zero, f"{_IN} 'audio_lengths': expected values in [1, 7], found 0 at row 2 (1 of 6 rows)",
                 f"{_IN} 'audio_lengths': 1 of 6 rows outside [1, 7] (first: 0 at row 2); loaded as is"),
    "length > L": (_length_too_long,
                   "split 'valid', key 'vision_lengths': expected values in [1, 6], found 7 at row 1",
                   "split 'valid', key 'vision_lengths': 1 of 4 rows outside [1, 6] (first: 7 at row 1)"),
    "label range": (_label_out_of_range,
                    f"{_IN} 'regression_labels': expected values in [-3, 3], found 3.5 at row 0",
                    f"{_IN} 'regression_labels': 1 of 6 rows outside [-3, 3] (first: 3.5 at row 0); loaded as is"),
}


def small_cfg(**flags):
    """An AMCCLConfig with the test files' SHAPES (and the given variant flags)."""
    from amccl.config import AMCCLConfig

    lt, la, lv, da, dv = SHAPES
    shapes = dict(text_len=lt, audio_len=la, vision_len=lv, audio_dim=da, vision_dim=dv)
    return AMCCLConfig.for_dataset("mosi").replace(**{**shapes, **flags})


@pytest.mark.parametrize("variant", list(WARNED))
def test_odd_value_is_warned_noted_and_refused_where_read(tmp_path, variant):
    from amccl.data import DataWarning, check_data_for_config

    corrupt, refusal, warning = WARNED[variant]
    raw = make_raw(with_text=False)
    corrupt(raw)
    path = dump(raw, tmp_path / "unaligned_50.pkl")
    with pytest.warns(DataWarning) as record:
        data = load_mmsa(path, "mosi", shapes=SHAPES)
    messages = [str(w.message) for w in record if issubclass(w.category, DataWarning)]
    assert len(messages) == 1 and messages[0].startswith(f"{path}: {warning}"), messages
    (note,) = data.notes
    assert note["message"] == messages[0] and note["file"] == str(path) and note["count"] == 1
    check_data_for_config(data, small_cfg())  # the default model never reads them
    if variant == "label range":
        check_data_for_config(data, small_cfg(last_valid_step=True))  # no variant reads labels' range
        assert float(data.train.labels[0]) == 3.5
        return
    with pytest.raises(DataError) as info:
        check_data_for_config(data, small_cfg(last_valid_step=True))
    assert info.value.problems[0].startswith(f"{path}: {refusal}")
    assert "last_valid_step" in info.value.problems[0] and len(info.value.problems) == 1


@pytest.mark.parametrize("variant", list(MALFORMED))
def test_malformed_variant_has_clear_error(tmp_path, variant):
    assert_one_refusal(tmp_path, *MALFORMED[variant])


def assert_one_refusal(tmp_path, corrupt, message: str) -> None:
    """A test file changed by ``corrupt`` is refused with exactly one problem, ``message``."""
    raw = make_raw(with_text=False)
    corrupt(raw)
    path = dump(raw, tmp_path / "unaligned_50.pkl")
    with pytest.raises(DataError) as info:
        load_mmsa(path, "mosi", shapes=SHAPES)
    assert len(info.value.problems) == 1 and info.value.problems[0].startswith(f"{path}: {message}"), \
        info.value.problems


def test_every_problem_is_reported_at_once(tmp_path):
    raw = make_raw(with_text=False)
    _length_zero(raw)
    _nan_label(raw)
    _wrong_shape(raw)
    path = dump(raw, tmp_path / "f.pkl")
    with pytest.raises(DataError) as info:
        load_mmsa(path, "mosi", shapes=SHAPES)
    assert len(info.value.problems) == 1 and "key 'audio': expected shape" in str(info.value)  # layout first
    raw = make_raw(with_text=False)
    _fractional_token(raw)  # the length-0 row is loaded (and warned about), not refused
    _nan_label(raw)
    _nan_vision(raw)
    with pytest.raises(DataError) as info:
        load_mmsa(dump(raw, tmp_path / "g.pkl"), "mosi", shapes=SHAPES)
    assert len(info.value.problems) == 3 and str(info.value).startswith("3 problems:")


def test_dataset_shapes_are_the_default(tmp_path):
    path = dump(make_raw(with_text=False), tmp_path / "f.pkl")
    with pytest.raises(DataError, match=r"key 'text_bert': expected shape \(N, 3, 50\), found \(6, 3, 8\)"):
        load_mmsa(path, "mosi")


def test_nonfinite_zero_option_cleans_and_counts(tmp_path):
    raw = make_raw(with_text=False)
    _nan_vision(raw)
    raw["train"]["audio"][1, 1, 1] = np.nan
    data = load_mmsa(dump(raw, tmp_path / "f.pkl"), "mosi", shapes=SHAPES, nonfinite="zero")
    assert data.valid.vision[2, 0, 1] == 0 and data.valid.cleaned["vision_nonfinite"] == 1
    assert data.train.audio[1, 1, 1] == 0 and data.train.cleaned == {
        "audio_neg_inf": 2, "audio_nonfinite": 1, "vision_nonfinite": 0}


def test_not_a_pickle_and_missing_file(tmp_path):
    junk = tmp_path / "junk.pkl"
    junk.write_bytes(b"this is not a pickle at all")
    with pytest.raises(DataError, match=f"{junk}: not a readable MMSA pickle"):
        load_mmsa(junk, "mosi")
    truncated = tmp_path / "truncated.pkl"
    truncated.write_bytes(pickle.dumps(make_raw(), protocol=4)[:5000])
    with pytest.raises(DataError, match=f"{truncated}: not a readable MMSA pickle"):
        load_mmsa(truncated, "mosi")
    with pytest.raises(DataError, match="no such file"):
        load_mmsa(tmp_path / "absent.pkl", "mosi")
    with pytest.raises(DataError, match="expected a dict with splits"):
        load_mmsa(dump([1, 2], tmp_path / "list.pkl"), "mosi")


# --- a pickle that would run code is refused and leaves no trace -----------------------------


class _Reduce:
    """Pickles as ``func(*args)``: what a malicious file does."""

    def __init__(self, func, *args):
        self.func, self.args = func, args

    def __reduce__(self):
        return self.func, self.args


def _payloads(marker: Path) -> dict:
    return {
        "os.system": _Reduce(os.system, f"touch {marker}"),
        "exec": _Reduce(exec, f"open({str(marker)!r}, 'w').close()"),
        "numpy.save": _Reduce(np.save, str(marker), np.zeros(1)),
    }


@pytest.mark.parametrize("kind", ["os.system", "exec", "numpy.save"])
def test_code_running_pickle_is_refused_without_trace(tmp_path, kind):
    marker = tmp_path / "marker"
    payload = _payloads(marker)[kind]
    raw = make_raw(with_text=False)
    raw["train"]["raw_text"][3] = payload  # hidden deep inside a valid-looking file
    path = dump(raw, tmp_path / "evil.pkl")
    forbidden = f"{payload.func.__module__}.{payload.func.__name__}"
    with pytest.raises(UnsafePickleError) as info:
        load_mmsa(path, "mosi", shapes=SHAPES, cache=True)
    assert str(path) in str(info.value) and f"'{forbidden}'" in str(info.value)
    assert info.value.global_name == forbidden
    assert not list(tmp_path.glob("marker*")), "the payload ran"
    assert not cache_dir_for(path).exists()


def test_the_payload_is_live(tmp_path):
    """Control: the same bytes do run under plain pickle, so the test above can fail."""
    marker = tmp_path / "marker"
    pickle.loads(pickle.dumps(_payloads(marker)["os.system"]))
    assert marker.exists()


# --- integrity: the published hash -----------------------------------------------------------


def test_sha256_checked(tmp_path):
    path = dump(make_raw(), tmp_path / "f.pkl")
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    data = load_mmsa(path, "mosi", shapes=SHAPES, sha256=digest.upper())
    assert data.sha256 == digest
    assert load_mmsa(path, "mosi", shapes=SHAPES, compute_hash=True).sha256 == digest
    with pytest.raises(DataError, match=f"{path}: SHA-256 mismatch: expected {'0' * 64}, found {digest}"):
        load_mmsa(path, "mosi", shapes=SHAPES, sha256="0" * 64)


# --- the .npy cache ---------------------------------------------------------------------------


def test_cache_written_then_memory_mapped(tmp_path):
    raw = make_raw()
    path = dump(make_raw(), tmp_path / "f.pkl")
    first = load_mmsa(path, "mosi", shapes=SHAPES, cache=True, compute_hash=True)
    folder = cache_dir_for(path)
    assert first.source == "mmsa" and (folder / "manifest.json").is_file()
    assert (folder / "train_audio.npy").is_file() and not list(folder.glob("*text_bert*"))
    second = load_mmsa(path, "mosi", shapes=SHAPES, cache=True)
    assert second.source == "cache" and isinstance(second.train.audio, np.memmap)
    assert not second.train.audio.flags.writeable and second.sha256 == first.sha256
    assert_round_trip(second, raw)
    assert second.train.cleaned == first.train.cleaned
    with pytest.raises(DataError, match="SHA-256 mismatch"):
        load_mmsa(path, "mosi", shapes=SHAPES, cache=True, sha256="f" * 64)


def test_stale_cache_is_rebuilt(tmp_path):
    path = dump(make_raw(seed=0), tmp_path / "f.pkl")
    load_mmsa(path, "mosi", shapes=SHAPES, cache=True)
    raw = make_raw(seed=5)
    dump(make_raw(seed=5), path)
    os.utime(path, ns=(1, 1))  # a different mtime even on coarse clocks
    rebuilt = load_mmsa(path, "mosi", shapes=SHAPES, cache=True)
    assert rebuilt.source == "mmsa"
    assert_round_trip(rebuilt, raw)
    again = load_mmsa(path, "mosi", shapes=SHAPES, cache=True)
    assert again.source == "cache"
    assert_round_trip(again, raw)
    assert not [p for p in tmp_path.iterdir() if ".tmp-" in p.name or ".old-" in p.name]


def test_cache_is_per_nonfinite_policy(tmp_path):
    raw = make_raw(with_text=False)
    _nan_vision(raw)
    path = dump(raw, tmp_path / "f.pkl")
    assert load_mmsa(path, "mosi", shapes=SHAPES, cache=True, nonfinite="zero").source == "mmsa"
    assert load_mmsa(path, "mosi", shapes=SHAPES, cache=True, nonfinite="zero").source == "cache"
    with pytest.raises(DataError, match="key 'vision': expected finite values"):
        load_mmsa(path, "mosi", shapes=SHAPES, cache=True)  # the zeroed cache is not served


def test_cache_hash_computed_once_when_asked_later(tmp_path):
    path = dump(make_raw(), tmp_path / "f.pkl")
    load_mmsa(path, "mosi", shapes=SHAPES, cache=True)  # no hash computed
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    assert load_mmsa(path, "mosi", shapes=SHAPES, cache=True, sha256=digest).sha256 == digest
    assert load_mmsa(path, "mosi", shapes=SHAPES, cache=True).sha256 == digest  # the manifest keeps it
