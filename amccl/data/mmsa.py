"""Loading MMSA processed pickles (spec §1): one restricted unpickle, validation, typing.

``load_mmsa(path, dataset)`` reads the file once (the reference reads it three times),
never materialises the unused 768-d ``text`` features (their bytes are skipped), checks
the layout against the dataset's (Lt, La, Lv, Da, Dv) (or the aligned layout), converts in
place where the dtype already fits (float32 features stay the unpickled buffers: no second
full copy), replaces ``-inf`` in audio by 0 as the reference does, refuses what would make
numbers wrong (NaN / inf labels or features, bad token rows) and notes, with a warning,
odd values the default model never reads (lengths, labels slightly out of range). Peak
memory is therefore about the size of the arrays kept. ``cache=True`` writes (or maps) an
``.npy`` cache beside the file.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from amccl.config import DATASET_SHAPES, DATASETS
from amccl.data import cache as npy_cache
from amccl.data.notes import (
    emit,
    labels_range_note,
    lengths_missing_note,
    lengths_range_note,
    lengths_rows_note,
    missing_lengths_message,
)
from amccl.data.releases import identify
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
from amccl.data.validate import check_range, check_structure, check_token_rows, clean_nonfinite, file_shapes

NONFINITE = ("error", "zero")
SKIPPED_KEYS = frozenset({"text"})  # (N, Lt, 768) BERT features AMCCL never reads: not even loaded


def load_mmsa(
    path: str | Path, dataset: str = "mosi", *, shapes: Shapes | None = None,
    sha256: str | None = None, compute_hash: bool = False, cache: bool = False,
    nonfinite: str = "error",
) -> MMSAData:
    """Load an MMSA processed pickle as three typed, validated splits.

    Every file the reference trains on loads (spec §1): values the default model never
    reads are loaded as is, each finding recorded in ``data.notes`` with one
    :class:`~amccl.data.types.DataWarning` per split and key:

    * lengths outside [1, L], not whole, or NaN (kept as int64: fractions rounded toward 0,
      NaN / inf as -1); a lengths array with more than N rows (the first N rows kept);
    * lengths missing from an aligned file (filled with the full length L' = Lt);
    * labels finite but outside [-3, 3] (MOSI / MOSEI) or [-1, 1] (SIMS).

    :func:`~amccl.data.notes.check_data_for_config` refuses the lengths findings for the
    variants that read lengths. The aligned layout (MMSA ``aligned_50.pkl``: audio and
    vision length axes equal to Lt and at most the configured La, Lv) is accepted, and
    ``data.shapes`` gives the file's real (Lt, La', Lv', Da, Dv). ``data.release`` names
    the published MMSA file the hash matches (:mod:`amccl.data.releases`); a file named
    like one whose hash matches none gets a warning.

    Args:
        path: the pickle, e.g. ``MOSI/Processed/unaligned_50.pkl``.
        dataset: ``mosi``, ``mosei``, ``sims`` or ``simsv2`` (label range and shapes).
        shapes: (Lt, La, Lv, Da, Dv) to validate against; default the dataset's (spec §1).
        sha256: the published hash; the file is refused when its SHA-256 differs.
        compute_hash: compute the SHA-256 (in the same read pass) even without ``sha256``;
            kept in the cache manifest, so a cached load never hashes again.
            ``load_data`` always sets it for files it reads.
        cache: map ``<file>.amccl-cache/`` when fresh, else build it after loading.
        nonfinite: ``"error"`` reports NaN / inf in vision, text ids and audio (other than
            ``-inf``); ``"zero"`` sets them to 0 and counts them in ``split.cleaned``.

    Raises:
        UnsafePickleError: the pickle references anything but numpy's array builders.
        DataError: missing file, split or key, wrong shape, too few rows, NaN / inf labels
            or features, hash mismatch; every problem found is listed.
    """
    dataset = _dataset(dataset)
    shapes = tuple(shapes or DATASET_SHAPES[dataset])  # type: ignore[assignment]
    if nonfinite not in NONFINITE:
        raise ValueError(f"nonfinite must be one of {NONFINITE}, got {nonfinite!r}")
    hashing = compute_hash or sha256 is not None
    cached = npy_cache.read_cache(path, dataset, shapes, nonfinite) if cache and Path(path).is_file() else None
    if cached is not None:
        data = _checked_cache(cached, path, sha256, hashing)
    else:
        raw, digest = restricted_load(path, compute_hash=hashing, skip_keys=SKIPPED_KEYS)
        _check_hash(path, sha256, digest)
        data = from_raw(raw, dataset, shapes, where=str(path), nonfinite=nonfinite)
        data.path, data.sha256, data.source = str(path), digest, "mmsa"
        if cache:
            npy_cache.write_cache(data, path, nonfinite, requested=shapes)
    identify(data, path)
    return data


def _dataset(name: str) -> str:
    if name.lower() not in DATASETS:
        raise ValueError(f"unknown dataset {name!r}; expected one of {DATASETS}")
    return name.lower()


def _check_hash(path: str | Path, expected: str | None, found: str | None) -> None:
    if expected is not None and found != expected.strip().lower():
        raise DataError(f"{path}: SHA-256 mismatch: expected {expected.strip().lower()}, found {found}")


def _checked_cache(data: MMSAData, path: str | Path, sha256: str | None, hashing: bool) -> MMSAData:
    """Verify a mapped cache (the hash, computed once if the manifest lacks it; finite labels)
    and warn again about the notes its manifest kept."""
    if hashing and data.sha256 is None:
        data.sha256 = sha256_file(path)
        npy_cache.record_sha256(path, data.sha256)
    _check_hash(path, sha256, data.sha256)
    problems = []
    for name, split in data.items():
        where = f"{npy_cache.cache_dir_for(path)}: split '{name}', key 'regression_labels'"
        problems += check_range(np.asarray(split.labels), -np.inf, np.inf, where)
    if problems:
        raise DataError(problems)
    emit(data.notes, stacklevel=4)
    return data


def _label_bound(dataset: str) -> float:
    return 1.0 if dataset.startswith("sims") else 3.0


def from_raw(
    raw: Any, dataset: str = "mosi", shapes: Shapes | None = None, where: str = "<memory>",
    nonfinite: str = "error",
) -> MMSAData:
    """Validate and type an unpickled MMSA dict ``{split: {key: array}}``.

    The dict is consumed: arrays are moved out of it (float32 ones are used and cleaned in
    place, not copied) and ``text`` features are dropped first. Odd values are noted and
    warned about (see :func:`load_mmsa`); ``shapes`` of the result are the file's.
    """
    dataset = _dataset(dataset)
    shapes = tuple(shapes or DATASET_SHAPES[dataset])  # type: ignore[assignment]
    problems = check_structure(raw, where, shapes)
    if problems:
        raise DataError(problems)
    found_shapes = file_shapes(raw["train"], shapes)
    for name in SPLITS:
        raw[name].pop("text", None)  # (N, Lt, 768) features AMCCL never reads: free them now
    splits: dict[str, MMSASplit] = {}
    notes: list[dict[str, Any]] = []
    for name in SPLITS:
        splits[name], found, noted = convert_split(
            raw[name], name, where, found_shapes, _label_bound(dataset), nonfinite)
        problems += found
        notes += noted
    if problems:
        raise DataError(problems)
    _merge_missing(notes, where)
    emit(notes, stacklevel=4)
    return MMSAData(**splits, dataset=dataset, shapes=found_shapes, source="memory", notes=notes)


def convert_split(
    raw: dict[str, Any], name: str, where: str, shapes: Shapes, bound: float, nonfinite: str,
) -> tuple[MMSASplit, list[str], list[dict[str, Any]]]:
    """One split's arrays typed (popped from ``raw``); returns (split, value problems, notes).

    ``shapes`` are the file's (Lt, La', Lv', Da, Dv): lengths are checked against La', Lv'.
    """
    prefix = f"{where}: split '{name}'"
    problems = check_token_rows(np.asarray(raw["text_bert"]), f"{prefix}, key 'text_bert'")
    text = np.asarray(raw.pop("text_bert")).astype(np.int64)
    audio = _float32(raw.pop("audio"))
    vision = _float32(raw.pop("vision"))
    cleaned, found = _clean(audio, vision, prefix, nonfinite)
    labels = np.asarray(raw.pop("regression_labels"), dtype=np.float32).reshape(-1)
    notes: list[dict[str, Any]] = []
    lengths: dict[str, np.ndarray] = {}
    for key, length in (("audio_lengths", shapes[1]), ("vision_lengths", shapes[2])):
        lengths[key], noted = _lengths(raw, key, len(labels), length, where, name)
        notes += noted
    problems += found + check_range(labels, -np.inf, np.inf, f"{prefix}, key 'regression_labels'")
    label_note = None if problems else labels_range_note(labels, bound, where, name)
    split = MMSASplit(
        name=name, text=text, audio=audio, vision=vision, **lengths,
        labels=labels, raw_text=_strings(raw.pop("raw_text")), ids=_strings(raw.pop("id")),
        extras=_extras(raw), cleaned=cleaned,
    )
    return split, problems, notes + ([label_note] if label_note else [])


def _lengths(
    raw: dict[str, Any], key: str, n: int, length: int, where: str, split: str,
) -> tuple[np.ndarray, list[dict[str, Any]]]:
    """(N,) int64 lengths of ``key`` (popped from ``raw``) and the notes on them.

    Absent (an aligned file): the full ``length``. More than N rows: the first N. Values
    outside [1, length] or not whole: kept (fractions toward 0, NaN / inf as -1).
    """
    if key not in raw:
        message = missing_lengths_message(where, [(split, key, length)])  # merged per file later
        return np.full(n, length, np.int64), [lengths_missing_note(where, split, key, length, n, message)]
    values = np.asarray(raw.pop(key)).reshape(-1)
    notes = []
    if values.shape[0] > n:
        notes.append(lengths_rows_note(values.shape[0], n, where, split, key))
        values = values[:n]
    note = lengths_range_note(values, length, where, split, key)
    return _int64(values), notes + ([note] if note else [])


def _merge_missing(notes: list[dict[str, Any]], where: str) -> None:
    """Give every ``lengths_missing`` note of a file one shared message (one warning per file)."""
    missing = [n for n in notes if n["kind"] == "lengths_missing"]
    if missing:
        message = missing_lengths_message(where, [(n["split"], n["key"], int(n["value"])) for n in missing])
        for note in missing:
            note["message"] = message


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
    """(N,) int64 lengths; non-finite floats (already noted) become -1, fractions are rounded
    toward 0, huge values saturate at 2**62, all without numpy warnings."""
    if array.dtype.kind == "f":
        array = np.clip(np.nan_to_num(array, nan=-1, posinf=-1, neginf=-1), -(2.0 ** 62), 2.0 ** 62)
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
