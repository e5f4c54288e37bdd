"""Data: MMSA processed pickles and the embedded synthetic default, one loader, one batching path.

* :func:`load_data` (``cfg``) -> :class:`MMSAData`: the synthetic default when
  ``cfg.data_path`` is None, else the MMSA file (spec §1).
* :func:`load_mmsa` (``path, dataset``): restricted unpickle (once), validation, typed arrays,
  optional SHA-256 check and ``.npy`` cache.
* :class:`BatchLoader` / :class:`MMSADataset`: batches of tensors for the model.
* :mod:`amccl.data.synthetic`: the deterministic generator; :func:`summary` for notebooks.

Importing this package does not import torch; ``BatchLoader`` and ``MMSADataset`` do.
"""

from amccl.data.default import cache_root, config_shapes, load_data
from amccl.data.mmsa import from_raw, load_mmsa
from amccl.data.summary import feature_stats, label_counts, summary, valid_frames
from amccl.data.types import SPLITS, DataError, MMSAData, MMSASplit, UnsafePickleError

__all__ = [
    "BatchLoader", "DataError", "MMSAData", "MMSADataset", "MMSASplit", "SPLITS",
    "UnsafePickleError", "cache_root", "config_shapes", "feature_stats", "from_raw", "label_counts",
    "load_data", "load_mmsa", "make_batch", "summary", "valid_frames",
]


def __getattr__(name: str):  # lazy: the loaders need torch, loading files does not
    if name in ("BatchLoader", "MMSADataset", "make_batch"):
        from amccl.data import batching

        return getattr(batching, name)
    raise AttributeError(f"module 'amccl.data' has no attribute {name!r}")
