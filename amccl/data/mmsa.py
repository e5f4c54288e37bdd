"""Loading MMSA processed pickles (spec §1): one restricted unpickle, validation, typing.

``load_mmsa(path, dataset)`` reads the file once (the reference reads it three times),
never materialises the unused 768-d ``text`` features (their bytes are skipped), checks
the layout against the dataset's (Lt, La, Lv, Da, Dv), converts in place where the dtype
already fits (float32 features stay the unpickled buffers: no second full copy), replaces
``-inf`` in audio by 0 as the reference does, and checks lengths, labels, token rows and
non-finite features. Peak memory is therefore about the size of the arrays kept.
``cache=True`` writes (or maps) an ``.npy`` cache beside the file.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from amccl.config import DATASET_SHAPES, DATASETS
from amccl.data import cache as npy_cache
from amccl.data.types import (
    OPTIONAL_NUMERIC_KEYS,
    OPTIONAL_TEXT_KEYS,
    SPLITS,
    DataError,
    MMSAData,
    MMSASplit,
    Shapes,
)
from amccl.data.unpickle import restricted_load, sha256_file
from amccl.data.validate import check_range, check_structure, check_token_rows, clean_nonfinite

NONFINITE = ("error", "zero")
SKIPPED_KEYS = frozenset({"text"})  # (N, Lt, 768) BERT features AMCCL never reads: not even loaded


def load_mmsa(
    path: str | Path, dataset: str = "mosi", *, shapes: Shapes | None = None,
    sha256: str | None = None, compute_hash: bool = False, cache: bool = False,
    nonfinite: str = "error",
) -> MMSAData:
    """Load an MMSA processed pickle as three typed, validated splits.

    Args:
        path: the pickle, e.g. ``MOSI/Processed/unaligned_50.pkl``.
        dataset: ``mosi``, ``mosei``, ``sims`` or ``simsv2`` (label range and shapes).
        shapes: (Lt, La, Lv, Da, Dv) to validate against; default the dataset's (spec §1).
        sha256: the published hash; the file is refused when its SHA-256 differs.
        compute_hash: compute the SHA-256 (in the same read pass) even without ``sha256``.
        cache: map ``<file>.amccl-cache/`` when fresh, else build it after loading.
        nonfinite: ``"error"`` reports NaN / inf in vision, text ids and audio (other than
            ``-inf``); ``"zero"`` sets them to 0 and counts them in ``split.cleaned``.

    Raises:
        UnsafePickleError: the pickle references anything but numpy's array builders.
        DataError: missing file, split or key, wrong shape, bad lengths or labels, hash
            mismatch; every problem found is listed.
    """
    dataset = _dataset(dataset)
    shapes = tuple(shapes or DATASET_SHAPES[dataset])  # type: ignore[assignment]
    if nonfinite not in NONFINITE:
        raise ValueError(f"nonfinite must be one of {NONFINITE}, got {nonfinite!r}")
    if cache and Path(path).is_file():
        cached = npy_cache.read_cache(path, dataset, shapes, nonfinite)
        if cached is not None:
            return _checked_cache(cached, path, sha256)
    hashing = compute_hash or sha256 is not None
    raw, digest = restricted_load(path, compute_hash=hashing, skip_keys=SKIPPED_KEYS)
    _check_hash(path, sha256, digest)
    data = from_raw(raw, dataset, shapes, where=str(path), nonfinite=nonfinite)
    data.path, data.sha256, data.source = str(path), digest, "mmsa"
    if cache:
        npy_cache.write_cache(data, path, nonfinite)
    return data


def _dataset(name: str) -> str:
    if name.lower() not in DATASETS:
        raise ValueError(f"unknown dataset {name!r}; expected one of {DATASETS}")
    return name.lower()


def _check_hash(path: str | Path, expected: str | None, found: str | None) -> None:
    if expected is not None and found != expected.strip().lower():
        raise DataError(f"{path}: SHA-256 mismatch: expected {expected.strip().lower()}, found {found}")


def _checked_cache(data: MMSAData, path: str | Path, sha256: str | None) -> MMSAData:
    """Verify a mapped cache: the hash (computed once if the manifest lacks it) and cheap values."""
    if sha256 is not None and data.sha256 is None:
        data.sha256 = sha256_file(path)
        npy_cache.record_sha256(path, data.sha256)
    _check_hash(path, sha256, data.sha256)
    bound = _label_bound(data.dataset)
    problems = []
    for name, split in data.items():
        prefix = f"{npy_cache.cache_dir_for(path)}: split '{name}'"
        problems += _value_checks(
            split.audio_lengths, split.vision_lengths, split.labels, prefix, data.shapes, bound)
    if problems:
        raise DataError(problems)
    return data


def _label_bound(dataset: str) -> float:
    return 1.0 if dataset.startswith("sims") else 3.0


def from_raw(
    raw: Any, dataset: str = "mosi", shapes: Shapes | None = None, where: str = "<memory>",
    nonfinite: str = "error",
) -> MMSAData:
    """Validate and type an unpickled MMSA dict ``{split: {key: array}}``.

    The dict is consumed: arrays are moved out of it (float32 ones are used and cleaned in
    place, not copied) and ``text`` features are dropped first.
    """
    dataset = _dataset(dataset)
    shapes = tuple(shapes or DATASET_SHAPES[dataset])  # type: ignore[assignment]
    problems = check_structure(raw, where, shapes)
    if problems:
        raise DataError(problems)
    for name in SPLITS:
        raw[name].pop("text", None)  # (N, Lt, 768) features AMCCL never reads: free them now
    splits: dict[str, MMSASplit] = {}
    for name in SPLITS:
        prefix = f"{where}: split '{name}'"
        splits[name], found = convert_split(raw[name], name, prefix, shapes, _label_bound(dataset), nonfinite)
        problems += found
    if problems:
        raise DataError(problems)
    return MMSAData(**splits, dataset=dataset, shapes=shapes, source="memory")


def convert_split(
    raw: dict[str, Any], name: str, prefix: str, shapes: Shapes, bound: float, nonfinite: str,
) -> tuple[MMSASplit, list[str]]:
    """One split's arrays typed (popped from ``raw``); returns (split, value problems)."""
    problems = check_token_rows(np.asarray(raw["text_bert"]), f"{prefix}, key 'text_bert'")
    text = np.asarray(raw.pop("text_bert")).astype(np.int64)
    audio = _float32(raw.pop("audio"))
    vision = _float32(raw.pop("vision"))
    cleaned, found = _clean(audio, vision, prefix, nonfinite)
    lengths = {key: np.asarray(raw.pop(key)).reshape(-1) for key in ("audio_lengths", "vision_lengths")}
    labels = np.asarray(raw.pop("regression_labels"), dtype=np.float32).reshape(-1)
    problems += found + _value_checks(
        lengths["audio_lengths"], lengths["vision_lengths"], labels, prefix, shapes, bound)
    split = MMSASplit(
        name=name, text=text, audio=audio, vision=vision,
        audio_lengths=_int64(lengths["audio_lengths"]), vision_lengths=_int64(lengths["vision_lengths"]),
        labels=labels, raw_text=_strings(raw.pop("raw_text")), ids=_strings(raw.pop("id")),
        extras=_extras(raw), cleaned=cleaned,
    )
    return split, problems


def _value_checks(
    audio_lengths: np.ndarray, vision_lengths: np.ndarray, labels: np.ndarray, prefix: str,
    shapes: Shapes, bound: float,
) -> list[str]:
    """Lengths whole numbers in [1, L]; labels finite and in [-bound, bound]."""
    _, la, lv, _, _ = shapes
    return (
        check_range(audio_lengths, 1, la, f"{prefix}, key 'audio_lengths'", whole=True)
        + check_range(vision_lengths, 1, lv, f"{prefix}, key 'vision_lengths'", whole=True)
        + check_range(labels, -bound, bound, f"{prefix}, key 'regression_labels'")
    )


def _clean(audio: np.ndarray, vision: np.ndarray, prefix: str, nonfinite: str) -> tuple[dict[str, int], list[str]]:
    """-inf in audio -> 0 (reference); other non-finite values reported or zeroed."""
    fix = nonfinite == "zero"
    neg_inf, audio_other, audio_first = clean_nonfinite(audio, True, fix)
    vision_neg_inf, vision_other, vision_first = clean_nonfinite(vision, fix, fix)
    cleaned = {"audio_neg_inf": neg_inf}
    if fix:
        cleaned.update(audio_nonfinite=audio_other, vision_nonfinite=vision_other + vision_neg_inf)
    problems = []
    hint = "; pass nonfinite='zero' to load_mmsa to set them to 0"
    if audio_first is not None:
        problems.append(f"{prefix}, key 'audio': expected finite values or -inf, found {audio_first} "
                        f"({audio_other} non-finite values){hint}")
    if vision_first is not None:
        problems.append(f"{prefix}, key 'vision': expected finite values, found {vision_first} "
                        f"({vision_other + vision_neg_inf} non-finite values){hint}")
    return cleaned, problems


def _float32(value: Any) -> np.ndarray:
    """C-contiguous, writeable float32; no copy when the unpickled array already is one."""
    array = np.ascontiguousarray(value, dtype=np.float32)
    return array if array.flags.writeable else array.copy()


def _int64(array: np.ndarray) -> np.ndarray:
    """(N,) int64 lengths; non-finite floats (already reported) become -1 without warnings."""
    if array.dtype.kind == "f":
        array = np.nan_to_num(array, nan=-1, posinf=-1, neginf=-1)
    return array.astype(np.int64)


def _strings(values: Any) -> np.ndarray:
    """(N,) ``str`` array from a list / object array of str or bytes."""
    flat = np.asarray(values, dtype=object).reshape(-1)
    items = [v.decode("utf-8", "replace") if isinstance(v, bytes) else str(v) for v in flat]
    return np.array(items, dtype=str) if items else np.zeros(0, dtype="<U1")


def _extras(raw: dict[str, Any]) -> dict[str, np.ndarray]:
    """Optional small MMSA keys kept as (N,) arrays; anything else is left behind."""
    extras: dict[str, np.ndarray] = {}
    for key in OPTIONAL_NUMERIC_KEYS:
        if key in raw:
            array = np.asarray(raw.pop(key)).reshape(-1)
            extras[key] = array.astype(np.float32 if array.dtype.kind == "f" else np.int64)
    for key in OPTIONAL_TEXT_KEYS:
        if key in raw and len(np.shape(raw[key])) == 1:
            extras[key] = _strings(raw.pop(key))
    return extras
