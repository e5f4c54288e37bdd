"""An ``.npy`` cache of a loaded MMSA file, memory-mapped on later runs: ``<file>.amccl-cache/``
holds one ``<split>_<key>.npy`` per array and ``manifest.json``; a changed source rebuilds it."""

from __future__ import annotations

import json
import os
import shutil
import uuid
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from amccl.data.types import SPLITS, MMSAData, MMSASplit, Shapes
from amccl.runtime import atomic_write

CACHE_FORMAT = 2  # the manifest's layout; a cache of another format is rebuilt
_ARRAYS = ("text", "audio", "vision", "audio_lengths", "vision_lengths", "labels", "raw_text", "ids")


def cache_dir_for(path: str | Path) -> Path:
    """``<file>.amccl-cache`` beside ``path``."""
    path = Path(path)
    return path.with_name(path.name + ".amccl-cache")


def _source_stamp(path: str | Path) -> dict[str, Any]:
    """What identifies a version of the source file: its size and mtime (ns)."""
    stat = os.stat(path)
    return {"size": stat.st_size, "mtime_ns": stat.st_mtime_ns}


def write_cache(
    data: MMSAData, path: str | Path, nonfinite: str = "error", requested: Shapes | None = None,
) -> Path | None:
    """Write the cache of ``data`` (loaded from ``path`` for ``requested`` shapes); ``None`` if not writable."""
    target = cache_dir_for(path)
    temp = target.with_name(f"{target.name}.tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}")
    try:
        temp.mkdir()
        for name, split in data.items():
            arrays = {**{key: getattr(split, key) for key in _ARRAYS},
                      **{f"extra.{key}": value for key, value in split.extras.items()}}
            for key, array in arrays.items():
                np.save(temp / f"{name}_{key}.npy", np.ascontiguousarray(array), allow_pickle=False)
        _write_json(temp / "manifest.json", {
            "format": CACHE_FORMAT, "source": _source_stamp(path), "sha256": data.sha256,
            "dataset": data.dataset, "shapes": list(data.shapes), "requested": list(requested or data.shapes),
            "nonfinite": nonfinite, "notes": [n for n in data.notes if n["kind"] != "release"],  # found per load
            "splits": {name: {"n": len(split), "cleaned": split.cleaned, "extras": sorted(split.extras)}
                       for name, split in data.items()}})
        _replace_dir(temp, target)
    except OSError as err:
        shutil.rmtree(temp, ignore_errors=True)
        warnings.warn(f"{path}: could not write the .npy cache at {target} ({err}); loading without it",
                      stacklevel=3)
        return None
    return target


def _write_json(path: Path, payload: dict[str, Any]) -> None:
    atomic_write(path, lambda handle: handle.write(json.dumps(payload, indent=1, sort_keys=True).encode()))


def _replace_dir(temp: Path, target: Path) -> None:
    """Move ``temp`` to ``target``; an existing (stale) target is moved aside first."""
    old = None
    if target.exists():
        old = target.with_name(f"{target.name}.old-{uuid.uuid4().hex[:8]}")
        os.rename(target, old)
    try:
        os.rename(temp, target)
    except OSError:  # another process put a fresh cache there first: keep theirs
        shutil.rmtree(temp, ignore_errors=True)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def _read_manifest(path: str | Path) -> dict[str, Any] | None:
    """The cache manifest of ``path`` if it exists and matches the source file, else ``None``."""
    try:
        manifest = json.loads((cache_dir_for(path) / "manifest.json").read_text())
    except (OSError, ValueError):
        return None
    if manifest.get("format") != CACHE_FORMAT or manifest.get("source") != _source_stamp(path):
        return None
    return manifest


def cached_file_shapes(path: str | Path) -> Shapes | None:
    """The file's own (Lt, La, Lv, Da, Dv) as a fresh cache manifest of ``path`` records them, else ``None``."""
    manifest = _read_manifest(path)
    return tuple(int(v) for v in manifest["shapes"]) if manifest and len(manifest.get("shapes", ())) == 5 else None  # type: ignore[return-value]


def read_cache(path: str | Path, dataset: str, shapes: Shapes, nonfinite: str = "error") -> MMSAData | None:
    """Memory-map the cache of ``path``; ``None`` when absent, stale, or built for other ``shapes`` or ``nonfinite``."""
    manifest = _read_manifest(path)
    wanted = (dataset, list(shapes), nonfinite)
    if manifest is None or (manifest["dataset"], manifest.get("requested"), manifest.get("nonfinite")) != wanted:
        return None
    folder = cache_dir_for(path)
    try:
        splits = {name: _read_split(folder, name, manifest["splits"][name]) for name in SPLITS}
    except (OSError, ValueError, KeyError):
        return None
    return MMSAData(**splits, dataset=dataset, shapes=tuple(manifest["shapes"]), path=str(path),
                    sha256=manifest.get("sha256"), source="cache", notes=list(manifest.get("notes", [])))


def _read_split(folder: Path, name: str, info: dict[str, Any]) -> MMSASplit:
    def load(key: str) -> np.ndarray:
        text_like = key in ("raw_text", "ids")
        array = np.load(folder / f"{name}_{key}.npy", mmap_mode=None if text_like else "r",
                        allow_pickle=False)
        if array.shape[:1] != (info["n"],):
            raise ValueError(f"cache array {name}_{key} has {array.shape[0]} rows, expected {info['n']}")
        return array

    arrays = {key: load(key) for key in _ARRAYS}
    extras = {key: load(f"extra.{key}") for key in info["extras"]}
    return MMSASplit(name=name, **arrays, extras=extras, cleaned=dict(info["cleaned"]))


def record_sha256(path: str | Path, digest: str) -> None:
    """Store a SHA-256 computed later in the (still fresh) manifest of ``path``'s cache."""
    manifest = _read_manifest(path)
    if manifest is not None:
        manifest["sha256"] = digest
        try:
            _write_json(cache_dir_for(path) / "manifest.json", manifest)
        except OSError:
            pass
