"""Known files: the MMSA feature files whose SHA-256 the MMSA project publishes (spec §1).

:data:`RELEASES` maps a hex SHA-256 to a record ``{"dataset", "file", "label"}``;
:func:`release_of` identifies a loaded file by its hash, and :func:`identify` stores that
on an :class:`~amccl.data.types.MMSAData` (``data.release``), warning when a file carries a
published file's name but none of the published hashes (an incomplete or modified download).
Tests add their own files with :func:`register_release` (or by patching :data:`RELEASES`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from amccl.data.notes import emit, make_note
from amccl.data.types import MMSAData

PUBLISHED: dict[str, dict[str, str]] = {
    "78e0f8b5ef8ff71558e7307848fc1fa929ecb078203f565ab22b9daab2e02524":
        {"dataset": "mosi", "file": "unaligned_50.pkl", "label": "MMSA MOSI unaligned_50"},
    "d3994fd25681f9c7ad6e9c6596a6fe9b4beb85ff7d478ba978b124139002e5f9":
        {"dataset": "mosi", "file": "aligned_50.pkl", "label": "MMSA MOSI aligned_50"},
    "ad8b23d50557045e7d47959ce6c5b955d8d983f2979c7d9b7b9226f6dd6fec1f":
        {"dataset": "mosei", "file": "unaligned_50.pkl", "label": "MMSA MOSEI unaligned_50"},
    "45eccfb748a87c80ecab9bfac29582e7b1466bf6605ff29d3b338a75120bf791":
        {"dataset": "mosei", "file": "aligned_50.pkl", "label": "MMSA MOSEI aligned_50"},
    "c9e20c13ec0454d98bb9c1e520e490c75146bfa2dfeeea78d84de047dbdd442f":
        {"dataset": "sims", "file": "unaligned_39.pkl", "label": "MMSA SIMS unaligned_39"},
}
RELEASES: dict[str, dict[str, str]] = {digest: dict(record) for digest, record in PUBLISHED.items()}
NOT_PUBLISHED = "not a published MMSA file"
NOT_HASHED = "not identified (SHA-256 not computed)"


def register_release(sha256: str, dataset: str, name: str, label: str | None = None) -> dict[str, str]:
    """Add a known file to :data:`RELEASES` (tests, private mirrors); returns its record.

    Args:
        sha256: hex digest. dataset: ``mosi`` ... name: the file's base name, e.g.
            ``unaligned_50.pkl``. label: shown in ``data.release``; default
            ``"<DATASET> <name without .pkl>"``.
    """
    record = {"dataset": dataset, "file": name, "label": label or f"{dataset.upper()} {Path(name).stem}"}
    RELEASES[sha256.strip().lower()] = record
    return record


def release_of(path: str | Path | None, sha256: str | None) -> dict[str, Any]:
    """Which published file ``sha256`` is.

    Returns:
        ``{"release": "MMSA MOSI unaligned_50, published hash" | "not a published MMSA file"
        | "not identified (SHA-256 not computed)", "published": bool, "dataset": str | None,
        "file": the published (or else the given) base name, "sha256": str | None}``.
    """
    name = Path(path).name if path is not None else None
    record = RELEASES.get(sha256.strip().lower()) if sha256 else None
    if record is None:
        return {"release": NOT_HASHED if sha256 is None else NOT_PUBLISHED, "published": False,
                "dataset": None, "file": name, "sha256": sha256}
    return {"release": f"{record['label']}, published hash", "published": True,
            "dataset": record["dataset"], "file": record["file"], "sha256": sha256}


def expected_hashes(name: str, dataset: str | None = None) -> list[str]:
    """The registered hashes of files called ``name`` (those of ``dataset`` first, if any)."""
    same = [h for h, r in RELEASES.items() if r["file"] == name]
    of_dataset = [h for h in same if RELEASES[h]["dataset"] == dataset]
    return of_dataset or same


def identify(data: MMSAData, path: str | Path) -> None:
    """Set ``data.release``; warn (and note) when ``path`` is named like a published file
    whose hash it does not have."""
    data.release = release_of(path, data.sha256)
    name = Path(path).name
    expected = expected_hashes(name, data.dataset)
    if data.sha256 is None or data.release["published"] or not expected:
        return
    message = (f"{path}: named like the published MMSA file {name} but its SHA-256 matches no published "
               f"release — an incomplete or modified download: expected the published SHA-256 "
               f"{' or '.join(expected)}, found {data.sha256}; re-download from the MMSA project")
    note = make_note(str(path), None, None, "release", message, message, value=data.sha256)
    data.notes = [n for n in data.notes if n["kind"] != "release"] + [note]
    emit([note], stacklevel=4)
