"""A file's shapes (Lt, La, Lv, Da, Dv), from a fresh ``.npy`` cache manifest or one header-only
pass (:func:`~amccl.data.pickles.probe_arrays`), kept per process by path, size and mtime."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from amccl.data.cache import cached_file_shapes
from amccl.data.checks import shape_of
from amccl.data.pickles import probe_arrays
from amccl.data.types import SPLITS, DataError, Shapes

_PROBED: dict[tuple[str, int, int], Shapes | None] = {}


def probe_shapes(path: str | Path) -> Shapes | None:
    """(Lt, La, Lv, Da, Dv) of the MMSA pickle ``path``'s first split, or ``None`` when its layout
    gives none (missing keys, wrong ranks: the loader then reports each problem).

    Raises:
        DataError: no such file; UnsafePickleError: a forbidden global (as the loader).
    """
    try:
        stat = os.stat(path)
    except FileNotFoundError:
        raise DataError(f"{path}: no such file") from None
    key = (str(Path(path).resolve()), stat.st_size, stat.st_mtime_ns)
    if key not in _PROBED:
        _PROBED[key] = cached_file_shapes(path) or shapes_of_raw(probe_arrays(path))
    return _PROBED[key]


def shapes_of_raw(raw: Any) -> Shapes | None:
    """(Lt, La, Lv, Da, Dv) of an unpickled (or probed) MMSA dict's first split; ``None`` unless rank 3."""
    if not isinstance(raw, dict):
        return None
    split = next((raw[name] for name in SPLITS if isinstance(raw.get(name), dict)), None)
    if split is None or not all(k in split for k in ("text_bert", "audio", "vision")):
        return None
    text, audio, vision = (shape_of(split[k]) for k in ("text_bert", "audio", "vision"))
    if len(text) != 3 or len(audio) != 3 or len(vision) != 3 or min(*text[1:], *audio[1:], *vision[1:]) < 1:
        return None
    return (int(text[2]), int(audio[1]), int(vision[1]), int(audio[2]), int(vision[2]))
