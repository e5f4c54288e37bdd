"""Checks of an MMSA pickle's layout and values; each returns lines such as
``unaligned_50.pkl: split 'valid', key 'audio': expected shape (N, 50, 5), found (229, 50, 6)``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from amccl.data.types import OPTIONAL_NUMERIC_KEYS, REQUIRED_KEYS, SPLITS, Shapes

_NUMERIC_KEYS = (*REQUIRED_KEYS[:6], *OPTIONAL_NUMERIC_KEYS)  # all but raw_text and id
_CHUNK_BYTES = 16 << 20  # scan large arrays in blocks of about this size


def shape_of(value: Any) -> tuple[int, ...]:
    """Shape of an array (or a probe's stand-in), or of a list / tuple as numpy would build it."""
    if isinstance(value, np.ndarray) or (hasattr(value, "shape") and hasattr(value, "dtype")):
        return tuple(value.shape)
    if isinstance(value, (list, tuple)) and value and isinstance(value[0], (str, bytes)):
        return (len(value),)
    try:
        return tuple(np.shape(value))
    except ValueError:  # a ragged list
        return (len(value),) if isinstance(value, (list, tuple)) else ()


def _is_aligned(value: Any, length: int, lt: int) -> bool:
    """An (N, L', D) audio / vision array in MMSA's aligned layout (``aligned_50.pkl``: L' = Lt <= L)?"""
    shape = shape_of(value)
    return len(shape) == 3 and shape[1] == lt <= length


def file_shapes(split: dict[str, Any], shapes: Shapes) -> Shapes:
    """(Lt, La', Lv', Da, Dv) of a structurally valid split: the config's, or aligned ones."""
    lt, la, lv, da, dv = shapes
    return (lt, lt if _is_aligned(split["audio"], la, lt) else la,
            lt if _is_aligned(split["vision"], lv, lt) else lv, da, dv)


def check_structure(raw: Any, where: str, shapes: Shapes, splits: tuple[str, ...] = SPLITS,
                    labels: bool = True) -> list[str]:
    """Splits and keys present, ranks and sizes right, one N per split, one layout per file.
    ``splits``: those required (the first sets the layout); ``labels=False``: ``regression_labels``
    may be absent."""
    if not isinstance(raw, dict):
        return [f"{where}: expected a dict with splits {list(splits)}, found {type(raw).__name__}"]
    problems: list[str] = []
    for name in splits:
        if name not in raw:
            problems.append(f"{where}: missing split '{name}' (found splits: {sorted(str(k) for k in raw)})")
        else:
            problems += _check_split(raw[name], f"{where}: split '{name}'", shapes, labels)
    return problems or _check_same_lengths(raw, where, splits)


def _check_split(split: Any, prefix: str, shapes: Shapes, labels: bool = True) -> list[str]:
    """Required keys present with the expected ranks, sizes and one N (from the labels)."""
    if not isinstance(split, dict):
        return [f"{prefix}: expected a dict of arrays, found {type(split).__name__}"]
    lt, la, lv, da, dv = shapes
    aligned = {m: m in split and _is_aligned(split[m], length, lt) for m, length in (("audio", la), ("vision", lv))}
    fillable = {f"{m}_lengths" for m in aligned if aligned[m]}  # filled with the full length, noted
    fillable |= set() if labels else {"regression_labels"}  # clips to predict: NaN labels
    problems = [f"{prefix}: missing key '{key}' (found keys: {sorted(str(k) for k in split)})"
                for key in REQUIRED_KEYS if key not in split and key not in fillable]
    present = [k for k in REQUIRED_KEYS if k in split]
    if not present:
        return problems
    n_key = "regression_labels" if "regression_labels" in split else present[0]
    n = shape_of(split[n_key])[0] if shape_of(split[n_key]) else 0
    expected = {"text_bert": ("N", 3, lt), "audio": ("N", lt if aligned["audio"] else la, da),
                "vision": ("N", lt if aligned["vision"] else lv, dv),
                **{k: ("N",) for k in REQUIRED_KEYS[3:] + OPTIONAL_NUMERIC_KEYS}}
    for key, want in expected.items():
        if key in split:
            problems += _check_key(split[key], key, want, n, n_key, prefix)
    return problems


def _check_same_lengths(raw: dict[str, Any], where: str, splits: tuple[str, ...] = SPLITS) -> list[str]:
    """Every split's audio / vision length axis equals the first split's (one layout per file)."""
    problems = []
    for key in ("audio", "vision"):
        want = shape_of(raw[splits[0]][key])[1]
        problems += [f"{where}: split '{name}', key '{key}': expected the length axis of split '{splits[0]}' "
                     f"({want}), found {shape_of(raw[name][key])[1]}"
                     for name in splits[1:] if shape_of(raw[name][key])[1] != want]
    return problems


def _check_key(value: Any, key: str, want: tuple[Any, ...], n: int, n_key: str, prefix: str) -> list[str]:
    where = f"{prefix}, key '{key}'"
    shape = shape_of(value)
    if len(want) == 1 and len(shape) == 2 and shape[1] == 1:
        shape = shape[:1]  # (N, 1) labels are accepted as (N,)
    if len(shape) != len(want) or any(w != "N" and w != s for w, s in zip(want, shape)):
        inner = ", ".join(str(s) for s in want)
        return [f"{where}: expected shape ({inner}{',' if len(want) == 1 else ''}), found {shape}"]
    if shape[0] != n and not (key.endswith("_lengths") and shape[0] > n):  # extra rows: dropped, noted
        return [f"{where}: expected N = {n} rows (the N of '{n_key}'), found {shape[0]}"]
    dtype = value.dtype if isinstance(value, np.ndarray) else np.asarray(value).dtype
    if key in _NUMERIC_KEYS and dtype.kind not in "biuf":
        return [f"{where}: expected numbers, found dtype {dtype}"]
    return []


def first_bad_at(bad: np.ndarray, values: np.ndarray) -> tuple[str, int]:
    """(first value where ``bad`` (N, ...) holds, written ``nan``, ``-inf``, ``3.4``, ``0``; its row)."""
    row = int(np.argmax(bad.reshape(bad.shape[0], -1).any(axis=1)))
    value = values[row][bad[row]].flat[0] if bad.ndim > 1 else values[row]
    value = value.item() if hasattr(value, "item") else value
    return (f"{value:g}" if isinstance(value, float) else repr(value)), row


def first_bad(bad: np.ndarray, values: np.ndarray) -> str:
    """``"nan at row 5 (2 of 229 rows)"`` for the first row where ``bad`` (N, ...) holds."""
    value, row = first_bad_at(bad, values)
    rows = int(bad.reshape(bad.shape[0], -1).any(axis=1).sum())
    return f"{value} at row {row} ({rows} of {bad.shape[0]} rows)"


def check_range(values: np.ndarray, low: float, high: float, where: str, whole: bool = False,
                noun: str = "values") -> list[str]:
    """``values`` (N, ...) numbers, finite, whole (with ``whole``) and in [low, high]: at most one
    line, for the first rule broken; ``noun`` names the values."""
    if values.dtype.kind not in "biuf":
        return [f"{where}: expected numbers, found dtype {values.dtype}"]
    rules = []
    if values.dtype.kind == "f":
        rules += [(f"finite {noun}", lambda: ~np.isfinite(values))]
        if whole:
            rules += [("whole numbers" if noun == "values" else f"whole-number {noun}",
                       lambda: values != np.round(values))]
    rules += [(f"{noun} in [{low:g}, {high:g}]", lambda: (values < low) | (values > high))]
    for want, find in rules:
        bad = find()
        if bad.any():
            return [f"{where}: expected {want}, found {first_bad(bad, values)}"]
    return []


def check_token_rows(text: np.ndarray, where: str) -> list[str]:
    """``text_bert`` (N, 3, Lt): finite whole numbers, ids >= 0, mask in {0, 1}, segments >= 0."""
    problems = check_range(text, -np.inf, np.inf, where, whole=True, noun="token ids")
    if problems:
        return problems
    rows = ((0, "token ids", ">= 0", text[:, 0] < 0),
            (1, "attention mask", "0 or 1", (text[:, 1] != 0) & (text[:, 1] != 1)),
            (2, "segment ids", ">= 0", text[:, 2] < 0))
    return [f"{where}: expected {name} (row {row}) {want}, found {first_bad(bad, text[:, row])}"
            for row, name, want, bad in rows if bad.any()]


def clean_nonfinite(array: np.ndarray, fix_neg_inf: bool, fix_other: bool) -> tuple[int, int, str | None]:
    """Set -inf (``fix_neg_inf``) and NaN / +inf (``fix_other``) of a writeable (N, ...) float array
    to 0 in place, in 16 MiB blocks; returns (-inf count, other non-finite count, ``"nan at row
    12"`` for the first value left in place or None)."""
    counts = [0, 0]
    first: str | None = None
    step = max(1, _CHUNK_BYTES // max(1, array[:1].nbytes))
    for start in range(0, array.shape[0], step):
        block = array[start:start + step]
        bad = ~np.isfinite(block)
        if not bad.any():
            continue
        kinds = (bad & (block == -np.inf), bad & (block != -np.inf))
        for i, (mask, fix) in enumerate(zip(kinds, (fix_neg_inf, fix_other))):
            counts[i] += int(mask.sum())
            if fix:
                block[mask] = 0
            elif first is None and mask.any():
                value, row = first_bad_at(mask, block)
                first = f"{value} at row {start + row}"
    return counts[0], counts[1], first
