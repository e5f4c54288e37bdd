"""Does the contrastive loss align text, audio and vision by sentiment? Numbers and pictures.

* :func:`extract_embeddings` -> :class:`Embeddings`: ``Feature_t/a/v/f``, predictions, ids
  and labels of every clip of a split (``amccl.analysis.embeddings``);
* :func:`alignment_metrics`: cross-modal retrieval recall@k, Wang and Isola's alignment and
  uniformity, the modality gap, polarity silhouette and distance/label Spearman, as a tidy
  DataFrame (``amccl.analysis.alignment``);
* :func:`project_joint`: UMAP (t-SNE / PCA) maps of the joint space
  (``amccl.analysis.projection``; umap-learn is imported only when a UMAP is drawn; the
  pictures are ``amccl.plotting.plot_joint`` and ``plot_models_side_by_side``);
* :func:`compare_models`, :func:`alignment_verdict`, :func:`modality_separation`,
  :func:`separation_verdict`: several models' numbers side by side, a one-line verdict on two
  of them, and how mixed the modalities are in a 2-D map (``amccl.analysis.compare``).

The single measures (``retrieval``, ``alignment``, ``uniformity`` ...) are imported from
``amccl.analysis.alignment``.
"""

from amccl.analysis.alignment import alignment_metrics
from amccl.analysis.compare import alignment_verdict, compare_models, modality_separation, separation_verdict
from amccl.analysis.embeddings import Embeddings, extract_embeddings
from amccl.analysis.projection import project_joint

__all__ = [
    "Embeddings",
    "alignment_metrics",
    "alignment_verdict",
    "compare_models",
    "extract_embeddings",
    "modality_separation",
    "project_joint",
    "separation_verdict",
]
