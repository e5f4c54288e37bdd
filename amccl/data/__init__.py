"""Data (docs/model.md §1): :func:`load_data` (``cfg``) -> :class:`MMSAData`, the MMSA file or
the embedded synthetic default (:mod:`amccl.data.synthetic`); :func:`load_mmsa`, :func:`from_raw`
and :func:`load_clips` (clips to predict); :func:`check_data_for_config`; the published files
(:func:`release_of`); batches (:class:`BatchLoader`, :class:`MMSADataset`, which import torch);
tables (:func:`describe`, :func:`label_counts`, :func:`feature_stats`, :func:`valid_frames`).
"""

from amccl.data.checks import check_data_for_config
from amccl.data.default import load_data
from amccl.data.mmsa import from_raw, load_clips, load_mmsa, register_release, release_of
from amccl.data.overview import describe, feature_stats, label_counts, valid_frames
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
