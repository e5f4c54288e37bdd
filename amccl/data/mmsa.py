"""Loading MMSA processed pickles (docs/model.md §1): one restricted unpickle, validation, typing;
:data:`RELEASES` holds the SHA-256 of every file the MMSA project publishes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from amccl.config import DATASET_SHAPES, DATASETS
from amccl.data import cache as npy_cache
from amccl.data import checks
from amccl.data.pickles import restricted_load, sha256_file
from amccl.data.types import (
    OPTIONAL_NUMERIC_KEYS,
    OPTIONAL_TEXT_KEYS,
    REQUIRED_KEYS,
    SPLITS,
    DataError,
    MMSAClips,
    MMSAData,
    MMSASplit,
    Shapes,
)

NONFINITE = ("error", "zero")
FLAT_SPLIT = "clips"  # the split name of a flat {key: array} file of clips to predict
SKIPPED_KEYS = frozenset({"text"})  # (N, Lt, 768) BERT features AMCCL never reads: not even loaded
RELEASES: dict[str, dict[str, str]] = {  # SHA-256 -> record; tests add theirs with register_release
    sha: {"dataset": dataset, "file": f"{stem}.pkl", "label": f"MMSA {dataset.upper()} {stem}"}
    for sha, dataset, stem in (
        ("78e0f8b5ef8ff71558e7307848fc1fa929ecb078203f565ab22b9daab2e02524", "mosi", "unaligned_50"),
        ("d3994fd25681f9c7ad6e9c6596a6fe9b4beb85ff7d478ba978b124139002e5f9", "mosi", "aligned_50"),
        ("ad8b23d50557045e7d47959ce6c5b955d8d983f2979c7d9b7b9226f6dd6fec1f", "mosei", "unaligned_50"),
        ("45eccfb748a87c80ecab9bfac29582e7b1466bf6605ff29d3b338a75120bf791", "mosei", "aligned_50"),
        ("c9e20c13ec0454d98bb9c1e520e490c75146bfa2dfeeea78d84de047dbdd442f", "sims", "unaligned_39"))}


def load_mmsa(
    path: str | Path, dataset: str = "mosi", *, shapes: Shapes | None = None,
    sha256: str | None = None, compute_hash: bool = False, cache: bool = False,
    nonfinite: str = "error",
) -> MMSAData:
    """Load an MMSA processed pickle as three typed, validated splits (docs/model.md §1).

    Every file the reference trains on loads. Odd lengths (kept as int64: fractions toward 0,
    NaN / inf as -1; extra rows dropped; absent from an aligned file: Lt) and finite labels
    out of range are loaded as is, noted in ``data.notes`` with one
    :class:`~amccl.data.types.DataWarning` per split and key. ``data.shapes`` are the file's
    (aligned: La = Lv = Lt); ``data.release`` names the published file the hash matches, and a
    file named like one whose hash matches none gets a warning.

    Args:
        path: the pickle, e.g. ``MOSI/Processed/unaligned_50.pkl``.
        dataset: ``mosi``, ``mosei``, ``sims`` or ``simsv2`` (label range and shapes).
        shapes: (Lt, La, Lv, Da, Dv) to validate against; default the dataset's.
        sha256: the published hash; the file is refused when its SHA-256 differs.
        compute_hash: compute the SHA-256 in the same read pass (the cache manifest keeps it).
        cache: map ``<file>.amccl-cache/`` when fresh, else build it after loading.
        nonfinite: ``"error"`` reports NaN / inf in vision, text ids and audio (other than
            ``-inf``); ``"zero"`` sets them to 0 and counts them in ``split.cleaned``.

    Raises:
        UnsafePickleError: the pickle references anything but numpy's array builders.
        DataError: missing file, split or key, wrong shape, too few rows, NaN / inf labels
            or features, hash mismatch; every problem found is listed.
    """
    dataset, shapes = _arguments(dataset, shapes, nonfinite)
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
    _identify(data, path)
    return data


def _arguments(dataset: str, shapes: Shapes | None, nonfinite: str = "error") -> tuple[str, Shapes]:
    """(dataset, shapes to check: default the dataset's); refuses an unknown dataset or policy."""
    if dataset.lower() not in DATASETS:
        raise ValueError(f"unknown dataset {dataset!r}; expected one of {DATASETS}")
    if nonfinite not in NONFINITE:
        raise ValueError(f"nonfinite must be one of {NONFINITE}, got {nonfinite!r}")
    return dataset.lower(), tuple(shapes or DATASET_SHAPES[dataset.lower()])  # type: ignore[return-value]


def _check_hash(path: str | Path, expected: str | None, found: str | None) -> None:
    if expected is not None and found != expected.strip().lower():
        raise DataError(f"{path}: SHA-256 mismatch: expected {expected.strip().lower()}, found {found}; "
                        "re-download the file, or unset data_sha256 to load it as it is")


def _checked_cache(data: MMSAData, path: str | Path, sha256: str | None, hashing: bool) -> MMSAData:
    """Check a mapped cache's hash (computed once) and labels; warn again about its notes."""
    if hashing and data.sha256 is None:
        data.sha256 = sha256_file(path)
        npy_cache.record_sha256(path, data.sha256)
    _check_hash(path, sha256, data.sha256)
    problems = []
    for name, split in data.items():
        where = f"{npy_cache.cache_dir_for(path)}: split '{name}', key 'regression_labels'"
        problems += checks.check_range(np.asarray(split.labels), -np.inf, np.inf, where)
    if problems:
        raise DataError(problems)
    checks.emit(data.notes, stacklevel=4)
    return data


def from_raw(
    raw: Any, dataset: str = "mosi", shapes: Shapes | None = None, where: str = "<memory>",
    nonfinite: str = "error",
) -> MMSAData:
    """Validate and type an unpickled MMSA dict ``{split: {key: array}}`` as :func:`load_mmsa` does (consumed)."""
    dataset, shapes = _arguments(dataset, shapes)
    splits, found_shapes, notes = _convert_splits(raw, SPLITS, dataset, shapes, where, nonfinite, labels=True)
    return MMSAData(**splits, dataset=dataset, shapes=found_shapes, source="memory", notes=notes)


def load_clips(
    path: str | Path, dataset: str = "mosi", *, shapes: Shapes | None = None, split: str | None = None,
    nonfinite: str = "error",
) -> MMSAClips:
    """Load clips to predict: the checks of :func:`load_mmsa`, but ``regression_labels`` may be
    absent (``labels`` NaN) and the splits are the file's own: ``{split: {key: array}}`` with any
    split names, or a flat ``{key: array}`` dict of one split, named ``clips``.

    Args:
        path: the pickle (e.g. features extracted with MMSA-FET for one's own videos).
        dataset, nonfinite: as in :func:`load_mmsa`.
        shapes: (Lt, La, Lv, Da, Dv) to validate against (a model's config's).
        split: read only this split (default: every split in the file).

    Raises:
        UnsafePickleError, DataError: as :func:`load_mmsa`.
    """
    dataset, shapes = _arguments(dataset, shapes, nonfinite)
    raw, _ = restricted_load(path, skip_keys=SKIPPED_KEYS)
    if isinstance(raw, dict) and any(key in raw for key in REQUIRED_KEYS):
        raw = {FLAT_SPLIT: raw}  # a flat dict: one split
    if isinstance(raw, dict) and not raw:
        raise DataError(f"{path}: expected a dict of splits or of arrays, found an empty dict")
    names = tuple(raw) if isinstance(raw, dict) else SPLITS
    if split is not None and isinstance(raw, dict):  # a missing split: check_structure names it
        names, raw = (split,), ({split: raw[split]} if split in raw else raw)
    splits, found_shapes, notes = _convert_splits(raw, names, dataset, shapes, str(path), nonfinite, labels=False)
    return MMSAClips(splits=splits, dataset=dataset, shapes=found_shapes, path=str(path), notes=notes)


def _convert_splits(
    raw: Any, names: tuple[str, ...], dataset: str, shapes: Shapes, where: str, nonfinite: str, labels: bool,
) -> tuple[dict[str, MMSASplit], Shapes, list[dict[str, Any]]]:
    """(splits, the file's shapes, notes) of ``raw``'s splits ``names``, checked and typed (consumed)."""
    problems = checks.check_structure(raw, where, shapes, names, labels)
    if problems:
        raise DataError(problems)
    found_shapes = checks.file_shapes(raw[names[0]], shapes)
    for name in names:
        raw[name].pop("text", None)  # (N, Lt, 768) features AMCCL never reads: free them now
    splits: dict[str, MMSASplit] = {}
    notes: list[dict[str, Any]] = []
    bound = 1.0 if dataset.startswith("sims") else 3.0
    for name in names:
        splits[name], found, noted = _convert_split(raw[name], name, where, found_shapes, bound, nonfinite)
        problems += found
        notes += noted
    if problems:
        raise DataError(problems)
    checks.merge_missing(notes, where)
    checks.emit(notes, stacklevel=5)
    return splits, found_shapes, notes


def _convert_split(
    raw: dict[str, Any], name: str, where: str, shapes: Shapes, bound: float, nonfinite: str,
) -> tuple[MMSASplit, list[str], list[dict[str, Any]]]:
    """(split, value problems, notes) of one split's arrays, popped from ``raw``; ``shapes``: the file's."""
    prefix = f"{where}: split '{name}'"
    problems = checks.check_token_rows(np.asarray(raw["text_bert"]), f"{prefix}, key 'text_bert'")
    text = np.asarray(raw.pop("text_bert")).astype(np.int64)
    audio, vision = _float32(raw.pop("audio")), _float32(raw.pop("vision"))
    cleaned, found = _clean(audio, vision, prefix, nonfinite)
    labelled = "regression_labels" in raw
    labels = np.asarray(raw.pop("regression_labels"), dtype=np.float32).reshape(-1) if labelled else \
        np.full(len(text), np.nan, np.float32)
    notes: list[dict[str, Any]] = []
    lengths: dict[str, np.ndarray] = {}
    for key, length in (("audio_lengths", shapes[1]), ("vision_lengths", shapes[2])):
        lengths[key], noted = _lengths(raw, key, len(labels), length, where, name)
        notes += noted
    problems += found
    if labelled:
        problems += checks.check_range(labels, -np.inf, np.inf, f"{prefix}, key 'regression_labels'")
    label_note = None if problems or not labelled else \
        checks.range_note(labels, -bound, bound, where, name, "regression_labels")
    split = MMSASplit(
        name=name, text=text, audio=audio, vision=vision, **lengths,
        labels=labels, raw_text=_strings(raw.pop("raw_text")), ids=_strings(raw.pop("id")),
        extras=_extras(raw), cleaned=cleaned,
    )
    return split, problems, notes + ([label_note] if label_note else [])


def _lengths(
    raw: dict[str, Any], key: str, n: int, length: int, where: str, split: str,
) -> tuple[np.ndarray, list[dict[str, Any]]]:
    """(N,) int64 lengths of ``key`` (popped from ``raw``) and the notes on them: absent, the full
    ``length``; the first N rows; odd values kept (fractions toward 0, NaN / inf -1, at most 2**62)."""
    if key not in raw:
        return np.full(n, length, np.int64), [checks.lengths_missing_note(where, split, key, length, n)]
    values = np.asarray(raw.pop(key)).reshape(-1)
    notes = []
    if values.shape[0] > n:
        notes.append(checks.lengths_rows_note(values.shape[0], n, where, split, key))
        values = values[:n]
    note = checks.range_note(values, 1, length, where, split, key)
    if values.dtype.kind == "f":
        values = np.clip(np.nan_to_num(values, nan=-1, posinf=-1, neginf=-1), -(2.0 ** 62), 2.0 ** 62)
    return values.astype(np.int64), notes + ([note] if note else [])


def _clean(audio: np.ndarray, vision: np.ndarray, prefix: str, nonfinite: str) -> tuple[dict[str, int], list[str]]:
    """-inf in audio -> 0 (reference); other non-finite values reported or zeroed."""
    fix = nonfinite == "zero"
    neg_inf, audio_other, audio_first = checks.clean_nonfinite(audio, True, fix)
    vision_neg_inf, vision_other, vision_first = checks.clean_nonfinite(vision, fix, fix)
    cleaned = {"audio_neg_inf": neg_inf}
    if fix:
        cleaned.update(audio_nonfinite=audio_other, vision_nonfinite=vision_other + vision_neg_inf)
    found = (("audio", "finite values or -inf", audio_first, audio_other),
             ("vision", "finite values", vision_first, vision_other + vision_neg_inf))
    return cleaned, [f"{prefix}, key '{key}': expected {want}, found {first} ({count} non-finite values); "
                     "pass nonfinite='zero' to load_mmsa to set them to 0"
                     for key, want, first, count in found if first is not None]


def _float32(value: Any) -> np.ndarray:
    """C-contiguous, writeable float32; no copy when the unpickled array already is one."""
    array = np.ascontiguousarray(value, dtype=np.float32)
    return array if array.flags.writeable else array.copy()


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


def register_release(sha256: str, dataset: str, name: str, label: str | None = None) -> dict[str, str]:
    """Add a known file (``name`` e.g. ``unaligned_50.pkl``) to :data:`RELEASES`; ``label`` defaults to ``"<DATASET> <stem>"``."""
    record = {"dataset": dataset, "file": name, "label": label or f"{dataset.upper()} {Path(name).stem}"}
    RELEASES[sha256.strip().lower()] = record
    return record


def release_of(path: str | Path | None, sha256: str | None) -> dict[str, Any]:
    """Which published file ``sha256`` is: ``{"release": "MMSA MOSI unaligned_50, published hash" |
    "not a published MMSA file" | "not identified (SHA-256 not computed)", "published": bool,
    "dataset": str | None, "file": the published (else the given) base name, "sha256": str | None}``."""
    name = Path(path).name if path is not None else None
    record = RELEASES.get(sha256.strip().lower()) if sha256 else None
    if record is None:
        return {"release": "not a published MMSA file" if sha256 is not None else "not identified (SHA-256 not computed)",
                "published": False, "dataset": None, "file": name, "sha256": sha256}
    return {"release": f"{record['label']}, published hash", "published": True,
            "dataset": record["dataset"], "file": record["file"], "sha256": sha256}


def _identify(data: MMSAData, path: str | Path) -> None:
    """Set ``data.release``; warn (and note) when ``path`` is named like a registered file but its hash differs."""
    data.release = release_of(path, data.sha256)
    name = Path(path).name
    same = [h for h, r in RELEASES.items() if r["file"] == name]
    expected = [h for h in same if RELEASES[h]["dataset"] == data.dataset] or same
    if data.sha256 is None or data.release["published"] or not expected:
        return
    message = (f"{path}: named like the published MMSA file {name} but its SHA-256 matches no published "
               f"release — an incomplete or modified download: expected the published SHA-256 "
               f"{' or '.join(expected)}, found {data.sha256}; re-download from the MMSA project")
    note = checks.make_note(str(path), None, None, "release", message, message, value=data.sha256)
    data.notes = [n for n in data.notes if n["kind"] != "release"] + [note]
    checks.emit([note], stacklevel=4)
