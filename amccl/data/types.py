"""Typed containers of a loaded MMSA dataset (docs/model.md §1) and the data errors; no torch."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

SPLITS = ("train", "valid", "test")

# MMSA keys AMCCL needs in every split (docs/model.md §1); ``text`` (BERT features) is optional.
REQUIRED_KEYS = ("text_bert", "audio", "vision", "audio_lengths", "vision_lengths", "regression_labels", "raw_text", "id")
# Optional MMSA keys that are small and kept in ``MMSASplit.extras`` when present.
OPTIONAL_NUMERIC_KEYS = ("classification_labels", "regression_labels_T", "regression_labels_A", "regression_labels_V")
OPTIONAL_TEXT_KEYS = ("annotations",)

Shapes = tuple[int, int, int, int, int]  # (Lt, La, Lv, Da, Dv)
# The model's output key of each modality's vector: h_t, h_a, h_v (what the loss aligns) and the fused one.
FEATURE_KEYS: dict[str, str] = {"text": "Feature_t", "audio": "Feature_a", "vision": "Feature_v", "fusion": "Feature_f"}


class DataError(ValueError):
    """A data file that cannot be used; ``problems``: one line per finding (file, split, key, expected, found)."""

    def __init__(self, problems: str | list[str]) -> None:
        self.problems = [problems] if isinstance(problems, str) else list(problems)
        many = f"{len(self.problems)} problems:\n  " + "\n  ".join(self.problems)
        super().__init__(self.problems[0] if len(self.problems) == 1 else many)


class DataWarning(UserWarning):
    """An odd value loaded as is, as the reference does (docs/model.md §1); kept in :attr:`MMSAData.notes`."""


class UnsafePickleError(DataError):
    """A pickle that references a global outside the allow-list; nothing of it was run."""

    def __init__(self, path: str, global_name: str) -> None:
        self.global_name = global_name
        super().__init__(
            f"{path}: refused to unpickle the forbidden global '{global_name}': MMSA files "
            "hold only numpy arrays, dtypes, strings, lists and dicts, so this file is not "
            "one (or was tampered with); nothing from it was executed"
        )


@dataclass(eq=False)
class MMSASplit:
    """One split of an MMSA dataset as typed arrays (N clips).

    Attributes:
        name: ``train``, ``valid`` or ``test``.
        text: (N, 3, Lt) int64, rows token ids / attention mask / segment ids.
        audio: (N, La, Da) float32, ``-inf`` already replaced by 0.
        vision: (N, Lv, Dv) float32.
        audio_lengths, vision_lengths: (N,) int64, normally in [1, L] (padding at the end);
            odd values are kept and listed in :attr:`MMSAData.notes`.
        labels: (N,) float32 ``regression_labels``; NaN for clips loaded without labels.
        raw_text: (N,) str transcripts. ids: (N,) str ``videoid$_$clipid``.
        extras: optional MMSA keys kept as loaded (e.g. SIMS's ``regression_labels_T``), (N,).
        cleaned: what loading changed, e.g. ``{"audio_neg_inf": 12}`` values set to 0.
        text_feats: (N, 3, H) float32 attached later by the trainer's frozen-text cache.
    """

    name: str
    text: np.ndarray
    audio: np.ndarray
    vision: np.ndarray
    audio_lengths: np.ndarray
    vision_lengths: np.ndarray
    labels: np.ndarray
    raw_text: np.ndarray
    ids: np.ndarray
    extras: dict[str, np.ndarray] = field(default_factory=dict)
    cleaned: dict[str, int] = field(default_factory=dict)
    text_feats: Any = None

    def __len__(self) -> int:
        return int(self.labels.shape[0])


@dataclass(eq=False)
class MMSAData:
    """The three splits of one dataset and their provenance.

    Attributes:
        train, valid, test: the splits.
        dataset: ``mosi``, ``mosei``, ``sims`` or ``simsv2``.
        shapes: (Lt, La, Lv, Da, Dv) as loaded (an aligned file has La = Lv = Lt).
        path: the MMSA pickle read, or ``None`` for data built in memory.
        sha256: hex digest of that file when computed, else ``None``.
        source: ``"mmsa"``, ``"cache"`` (``.npy`` cache), ``"synthetic"`` or ``"memory"``.
        notes: odd values loaded as is, one dict per split and key
            (:func:`amccl.data.checks.make_note`).
        release: :func:`amccl.data.mmsa.release_of` of the file; ``None`` in memory.
    """

    train: MMSASplit
    valid: MMSASplit
    test: MMSASplit
    dataset: str
    shapes: Shapes
    path: str | None = None
    sha256: str | None = None
    source: str = "mmsa"
    notes: list[dict[str, Any]] = field(default_factory=list)
    release: dict[str, Any] | None = None

    def split(self, name: str) -> MMSASplit:
        """The split called ``name`` (``train``, ``valid`` or ``test``)."""
        if name not in SPLITS:
            raise KeyError(f"unknown split {name!r}; expected one of {SPLITS}")
        return getattr(self, name)

    def items(self) -> Iterator[tuple[str, MMSASplit]]:
        """``(name, split)`` for train, valid, test in that order."""
        return ((name, self.split(name)) for name in SPLITS)

    def nbytes(self) -> int:
        """Bytes held by all splits' arrays (what loading keeps)."""
        return int(sum(a.nbytes for _, s in self.items() for a in (
            s.text, s.audio, s.vision, s.audio_lengths, s.vision_lengths, s.labels, s.raw_text, s.ids,
            *s.extras.values())))


@dataclass(eq=False)
class MMSAClips:
    """Clips to predict (:func:`amccl.data.mmsa.load_clips`): ``splits`` in the file's order, else as :class:`MMSAData`."""

    splits: dict[str, MMSASplit]
    dataset: str
    shapes: Shapes
    path: str | None = None
    notes: list[dict[str, Any]] = field(default_factory=list)
    source: str = "mmsa"

    def items(self) -> Iterator[tuple[str, MMSASplit]]:
        """``(name, split)`` in the file's order."""
        return iter(self.splits.items())
