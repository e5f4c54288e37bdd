"""Odd values loaded as is, as the reference does (docs/model.md §1), noted and warned about once;
:func:`check_data_for_config` refuses them for the variants that read lengths."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from amccl.data.checks import check_range, first_bad_at
from amccl.data.types import SPLITS, DataError, DataWarning, MMSAData

LENGTH_VARIANTS = ("padding_mask", "last_valid_step", "masked_means")  # config flags reading lengths
NEVER_READ = ("the default model never reads lengths; the variants padding_mask, last_valid_step "
              "and masked_means refuse this file")


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
