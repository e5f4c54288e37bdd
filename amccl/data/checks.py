"""Checks of an MMSA pickle's layout and values, and notes on the odd values loaded as is.

Checks return lines such as ``unaligned_50.pkl: split 'valid', key 'audio': expected shape
(N, 50, 5), found (229, 50, 6)``. Odd values the reference trains on (docs/model.md §1) are
noted (:func:`make_note`) and warned about once; :func:`check_data_for_config` refuses them
for the variants that read lengths.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from amccl.data.types import OPTIONAL_NUMERIC_KEYS, REQUIRED_KEYS, SPLITS, DataError, DataWarning, MMSAData, Shapes

_NUMERIC_KEYS = (*REQUIRED_KEYS[:6], *OPTIONAL_NUMERIC_KEYS)  # all but raw_text and id
_CHUNK_BYTES = 16 << 20  # scan large arrays in blocks of about this size
LENGTH_VARIANTS = ("padding_mask", "last_valid_step", "masked_means")  # config flags reading lengths
NEVER_READ = ("the default model never reads lengths; the variants padding_mask, last_valid_step "
              "and masked_means refuse this file")


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



def make_note(
    file: str, split: str | None, key: str | None, kind: str, message: str, problem: str, *,
    count: int = 0, rows: int = 0, row: int | None = None, value: str | None = None,
    refused_by: tuple[str, ...] = (),
) -> dict[str, Any]:
    """One finding as a JSON-ready dict: ``file``, ``split``, ``key``, ``kind`` (``lengths_range``,
    ``lengths_extra_rows``, ``lengths_missing``, ``labels_range``, ``release``), ``message`` (the
    warning), ``problem`` (the :class:`DataError` line of a configuration that needs the value),
    ``count`` / ``rows`` / ``row`` / ``value`` (offending rows, rows in all, the first offending
    row and its value) and ``refused_by`` (config flags that cannot use the file)."""
    return {"file": file, "split": split, "key": key, "kind": kind, "message": message,
            "problem": problem, "count": count, "rows": rows, "row": row, "value": value,
            "refused_by": list(refused_by)}


def _where(file: str, split: str, key: str) -> str:
    return f"{file}: split '{split}', key '{key}'"


def range_note(values: np.ndarray, low: float, high: float, file: str, split: str, key: str) -> dict[str, Any] | None:
    """A note when ``values`` (N,) are not in [low, high] (lengths: whole numbers too), else None."""
    values, lengths = np.asarray(values), key.endswith("_lengths")
    where = _where(file, split, key)
    problem = check_range(values, low, high, where, whole=lengths)
    if not problem:
        return None
    as_float = values.astype(np.float64)
    odd = ~np.isfinite(as_float) | (as_float != np.round(as_float)) if lengths else np.zeros(len(values), bool)
    with np.errstate(invalid="ignore"):
        bad = odd | (as_float < low) | (as_float > high)
    value, row = first_bad_at(bad, values)
    count, what = int(bad.sum()), "not whole numbers in" if odd.any() else "outside"
    tail = f"loaded as is — {NEVER_READ}" if lengths else \
        "loaded as is, as the reference does — no variant refuses this file"
    message = f"{where}: {count} of {len(values)} rows {what} [{low:g}, {high:g}] (first: {value} at row {row}); {tail}"
    return make_note(file, split, key, "lengths_range" if lengths else "labels_range", message, problem[0],
                     count=count, rows=len(values), row=row, value=value,
                     refused_by=LENGTH_VARIANTS if lengths else ())


def lengths_rows_note(found: int, n: int, file: str, split: str, key: str) -> dict[str, Any]:
    """A note for a lengths array with ``found`` > N rows (the first N are kept)."""
    where = _where(file, split, key)
    message = (f"{where}: {found} rows for N = {n} clips; the first {n} rows kept, {found - n} dropped "
               f"— {NEVER_READ}")
    problem = f"{where}: expected N = {n} rows (the N of 'regression_labels'), found {found}"
    return make_note(file, split, key, "lengths_extra_rows", message, problem, count=found - n, rows=found,
                     row=n, refused_by=LENGTH_VARIANTS)


def lengths_missing_note(file: str, split: str, key: str, length: int, n: int) -> dict[str, Any]:
    """A note for a lengths key absent from an aligned file (message: :func:`merge_missing`)."""
    problem = (f"{file}: split '{split}': missing key '{key}' (filled with the full length {length}: "
               "the file gives no true lengths)")
    return make_note(file, split, key, "lengths_missing", "", problem, count=n, rows=n,
                     value=str(length), refused_by=LENGTH_VARIANTS)


def merge_missing(notes: list[dict[str, Any]], file: str) -> None:
    """Give every ``lengths_missing`` note of a file one shared message (one warning per file)."""
    missing = [n for n in notes if n["kind"] == "lengths_missing"]
    if not missing:
        return
    keys = sorted({n["key"] for n in missing})
    splits = [s for s in SPLITS if any(n["split"] == s for n in missing)]
    lengths = sorted({int(n["value"]) for n in missing})
    message = (f"{file}: no {' / '.join(keys)} in split(s) {', '.join(splits)} (the aligned layout, as MMSA "
               f"writes aligned files); filled with the full length {' / '.join(map(str, lengths))} — "
               f"{NEVER_READ}")
    for note in missing:
        note["message"] = message


def emit(notes: list[dict[str, Any]], stacklevel: int = 3) -> None:
    """One :class:`DataWarning` per distinct note message, in order."""
    seen: set[str] = set()
    for note in notes:
        if note["message"] not in seen:
            seen.add(note["message"])
            warnings.warn(note["message"], DataWarning, stacklevel=stacklevel)


TEXT_LEN_HINT = ("; AMCCLConfig.for_dataset(dataset, profile, data_path=...) takes the file's Lt "
                 "(the demo profile shortens Lt for the embedded default only)")


def check_data_for_config(data: MMSAData, cfg: Any) -> None:
    """Refuse data ``cfg`` cannot use: shapes that do not fit (Lt, Da, Dv equal; La, Lv at most
    the config's) and, when ``cfg`` reads lengths, noted or out-of-range lengths.

    Raises:
        DataError: every problem, one line each naming file, split, key, the expected range
            and the found value, row and count.
    """
    lt, la, lv, da, dv = data.shapes
    where = data.path or f"<{data.source} data>"
    wants = [("text_len", lt, cfg.text_len, "=="), ("audio_len", la, cfg.audio_len, "<="),
             ("vision_len", lv, cfg.vision_len, "<="), ("audio_dim", da, cfg.audio_dim, "=="),
             ("vision_dim", dv, cfg.vision_dim, "==")]
    problems = [f"{where}: shapes (Lt, La, Lv, Da, Dv) = {tuple(data.shapes)} do not fit the configuration: "
                f"expected {name} {op} {want}, found {found}"
                + (TEXT_LEN_HINT if name == "text_len" else "")
                for name, found, want, op in wants if not (found == want if op == "==" else found <= want)]
    flags = [flag for flag in LENGTH_VARIANTS if getattr(cfg, flag, False)]
    if flags:
        why = f"; this configuration reads lengths ({', '.join(flags)})"
        refused = [n for n in data.notes if set(n["refused_by"]) & set(flags)]
        problems += [n["problem"] + why for n in refused]
        noted = {(n["split"], n["key"]) for n in refused}
        for name, split in data.items():  # data built or changed in memory: no note covers it
            for key, high in (("audio_lengths", la), ("vision_lengths", lv)):
                if (name, key) not in noted:
                    problems += [p + why for p in check_range(np.asarray(getattr(split, key)), 1, high,
                                                              _where(where, name, key), whole=True)]
    if problems:
        raise DataError(problems)
