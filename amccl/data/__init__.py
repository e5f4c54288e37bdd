"""Data: MMSA processed pickles and the embedded synthetic default, one loader, one batching path.

* :func:`load_data` (``cfg``) -> :class:`MMSAData`: the synthetic default when
  ``cfg.data_path`` is None, else the MMSA file (spec §1).
* :func:`load_mmsa` (``path, dataset``) / :func:`from_raw`: restricted unpickle (once),
  validation, typed arrays, optional SHA-256 check and ``.npy`` cache.
* :func:`load_clips` -> :class:`MMSAClips`: the same for clips to predict (labels optional,
  any splits or a flat dict of one).
* :func:`check_data_for_config` (``data, cfg``): refuses odd values (``data.notes``) a
  configuration reads (the length-reading variants) and shapes that do not fit it.
* :func:`release_of` / :func:`register_release`: the published MMSA files by SHA-256
  (``data.release``).
* :class:`BatchLoader` / :class:`MMSADataset`: batches of tensors for the model.
* :func:`describe`, :func:`label_counts`, :func:`feature_stats`, :func:`valid_frames`: tables
  for notebooks; :mod:`amccl.data.synthetic`: the deterministic generator.

Importing this package does not import torch; ``BatchLoader`` and ``MMSADataset`` do.
"""

from amccl.data.default import load_data
from amccl.data.describe import describe, feature_stats, label_counts, valid_frames
from amccl.data.mmsa import from_raw, load_clips, load_mmsa, register_release, release_of
from amccl.data.notes import check_data_for_config
from amccl.data.types import DataError, DataWarning, MMSAClips, MMSAData, MMSASplit, UnsafePickleError

__all__ = [
    "BatchLoader", "DataError", "DataWarning", "MMSAClips", "MMSAData", "MMSADataset", "MMSASplit",
    "UnsafePickleError", "check_data_for_config", "describe", "feature_stats", "from_raw", "label_counts", "load_clips",
    "load_data", "load_mmsa", "register_release", "release_of", "valid_frames",
]


def __getattr__(name: str):  # lazy: the loaders need torch, loading files does not
    if name in ("BatchLoader", "MMSADataset"):
        from amccl.data import batching

        return getattr(batching, name)
    raise AttributeError(f"module 'amccl.data' has no attribute {name!r}")
