"""Typed containers of a loaded MMSA dataset and the data errors (symbols: ``amccl`` legend).

A :class:`MMSASplit` holds one split as typed numpy arrays (``text`` int64 ids / mask /
segments, float32 features, int64 lengths, float32 labels, ``str`` transcripts and ids);
:class:`MMSAData` holds the three splits and where they came from. Nothing here imports
torch.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

SPLITS = ("train", "valid", "test")

# MMSA keys AMCCL needs in every split (spec §1); ``text`` (BERT features) is optional.
REQUIRED_KEYS = ("text_bert", "audio", "vision", "audio_lengths", "vision_lengths", "regression_labels", "raw_text", "id")
# Optional MMSA keys that are small and kept in ``MMSASplit.extras`` when present.
OPTIONAL_NUMERIC_KEYS = ("classification_labels", "regression_labels_T", "regression_labels_A", "regression_labels_V")
OPTIONAL_TEXT_KEYS = ("annotations",)

Shapes = tuple[int, int, int, int, int]  # (Lt, La, Lv, Da, Dv)
# The model's output key of each modality's vector: h_t, h_a, h_v (what the loss aligns) and the fused one.
FEATURE_KEYS: dict[str, str] = {"text": "Feature_t", "audio": "Feature_a", "vision": "Feature_v", "fusion": "Feature_f"}


class DataError(ValueError):
    """A data file that cannot be used; ``problems`` lists every finding (one line each).

    Each line names the file, the split, the key, and the expected and found shape or value.
    """

    def __init__(self, problems: str | list[str]) -> None:
        self.problems = [problems] if isinstance(problems, str) else list(problems)
        many = f"{len(self.problems)} problems:\n  " + "\n  ".join(self.problems)
        super().__init__(self.problems[0] if len(self.problems) == 1 else many)


class DataWarning(UserWarning):
    """An odd value in a data file that was loaded as is (spec §1: the reference trains on it).

    Emitted once per split and key (e.g. lengths outside [1, L], labels slightly out of
    range, a file named like a published MMSA release whose hash differs); the same
    finding is kept in :attr:`MMSAData.notes`.
    """


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
            odd values are kept as loaded (fractions rounded toward 0, NaN / inf as -1) and
            listed in :attr:`MMSAData.notes` (see :func:`amccl.data.check_data_for_config`).
        labels: (N,) float32 sentiment (``regression_labels``); NaN for clips loaded
            without labels (:func:`amccl.data.mmsa.load_clips`).
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
        shapes: (Lt, La, Lv, Da, Dv) of the arrays as loaded: the config's, except that an
            aligned file (MMSA ``aligned_50.pkl``) has La = Lv = Lt, which may be shorter.
        path: the MMSA pickle read (str), or ``None`` for data built in memory.
        sha256: hex digest of that file when it was computed (or checked), else ``None``.
        source: ``"mmsa"`` (pickle read), ``"cache"`` (``.npy`` cache mapped),
            ``"synthetic"`` (the embedded default) or ``"memory"``.
        notes: what was loaded as is though odd, one JSON-ready dict per split and key:
            ``file``, ``split``, ``key``, ``kind`` (``lengths_range``, ``lengths_extra_rows``,
            ``lengths_missing``, ``labels_range``, ``release``), ``message`` (the
            :class:`DataWarning` text), ``problem`` (the :class:`DataError` line a
            configuration that needs the value raises), ``count`` / ``rows`` / ``row`` /
            ``value`` (offending rows, rows in all, first offending row and its value) and
            ``refused_by`` (config flags that cannot use the file, e.g. ``last_valid_step``).
        release: which published MMSA file this is (:func:`amccl.data.mmsa.release_of`),
            e.g. ``{"release": "MMSA MOSI unaligned_50, published hash", "sha256": ...}``;
            ``None`` for data built in memory.
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
    """Clips to predict (:func:`amccl.data.mmsa.load_clips`): the splits a file holds, labels optional.

    Attributes:
        splits: ``{name: MMSASplit}`` in the file's order (``clips`` for a flat file); labels
            NaN where the file has none.
        dataset, shapes, path, notes: as in :class:`MMSAData`; ``source`` is ``"mmsa"``.
    """

    splits: dict[str, MMSASplit]
    dataset: str
    shapes: Shapes
    path: str | None = None
    notes: list[dict[str, Any]] = field(default_factory=list)
    source: str = "mmsa"

    def items(self) -> Iterator[tuple[str, MMSASplit]]:
        """``(name, split)`` in the file's order (what :func:`~amccl.data.notes.check_data_for_config` reads)."""
        return iter(self.splits.items())
