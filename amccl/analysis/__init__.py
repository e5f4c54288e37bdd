"""Does the contrastive loss align text, audio and vision by sentiment? Numbers and pictures.

* :func:`extract_embeddings` -> :class:`Embeddings`: ``Feature_t/a/v/f``, predictions, ids
  and labels of every clip of a split (``amccl.analysis.embeddings``);
* :func:`alignment_metrics`: cross-modal retrieval recall@k, Wang and Isola's alignment and
  uniformity, the modality gap, polarity silhouette and distance/label Spearman, as a tidy
  DataFrame (``amccl.analysis.alignment``);
* :func:`project_joint`, :func:`plot_joint`, :func:`plot_models_side_by_side`: UMAP (t-SNE /
  PCA) maps of the joint space (``amccl.analysis.projection``; umap-learn is imported only
  when a UMAP is drawn);
* :func:`compare_models`, :func:`alignment_verdict`, :func:`modality_separation`: several
  models' numbers side by side, a one-line verdict on two of them, and how mixed the
  modalities are in a 2-D map (``amccl.analysis.compare``).
"""

from amccl.analysis.alignment import (
    alignment,
    alignment_metrics,
    l2_normalize,
    modality_gap,
    polarity,
    polarity_silhouette,
    retrieval,
    sentiment_spearman,
    uniformity,
)
from amccl.analysis.compare import (
    alignment_verdict,
    compare_models,
    modality_separation,
    separation_verdict,
    summary_row,
)
from amccl.analysis.embeddings import MODALITIES, Embeddings, extract_embeddings, modality_name
from amccl.analysis.projection import plot_joint, plot_models_side_by_side, project_joint

__all__ = [
    "MODALITIES",
    "Embeddings",
    "alignment",
    "alignment_metrics",
    "alignment_verdict",
    "compare_models",
    "extract_embeddings",
    "l2_normalize",
    "modality_gap",
    "modality_name",
    "modality_separation",
    "plot_joint",
    "plot_models_side_by_side",
    "polarity",
    "polarity_silhouette",
    "project_joint",
    "retrieval",
    "sentiment_spearman",
    "separation_verdict",
    "summary_row",
    "uniformity",
]
