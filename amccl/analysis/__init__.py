"""Does the contrastive loss align text, audio and vision by sentiment? Numbers and pictures.

* :func:`extract_embeddings` -> :class:`Embeddings`: ``Feature_t/a/v/f``, predictions, ids and
  labels of every clip of a split (``embeddings``);
* :func:`alignment_metrics`: retrieval recall@k, alignment, uniformity, modality gap, polarity
  silhouette and distance/label Spearman as a tidy DataFrame (``alignment``, which also holds
  the single measures);
* :func:`project_joint`: UMAP / t-SNE / PCA maps of the joint space (``projection``; the
  pictures are in :mod:`amccl.plotting`);
* :func:`compare_models`, :func:`alignment_verdict`, :func:`modality_separation`,
  :func:`separation_verdict`: models side by side and one-line verdicts (``compare``);
* :func:`error_table`, :func:`residuals_by_label`, :func:`residuals_by_length`,
  :func:`acc7_confusion`, :func:`worst_clips`: where the model fails (``errors``);
* :func:`gamma_sweep`, :func:`sweep_summary`, :func:`sweep_verdict`: alignment, Spearman and
  test MAE against the contrastive weight gamma over seeds (``gamma_sweep``).
"""

from amccl.analysis.alignment import alignment_metrics
from amccl.analysis.compare import alignment_verdict, compare_models, modality_separation, separation_verdict
from amccl.analysis.embeddings import Embeddings, extract_embeddings
from amccl.analysis.errors import acc7_confusion, error_table, residuals_by_label, residuals_by_length, worst_clips
from amccl.analysis.gamma_sweep import gamma_sweep, sweep_gammas, sweep_summary, sweep_verdict
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
    "acc7_confusion", "error_table", "residuals_by_label", "residuals_by_length", "worst_clips",
    "gamma_sweep", "sweep_gammas", "sweep_summary", "sweep_verdict",
]
