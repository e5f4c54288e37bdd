"""Does the contrastive loss align text, audio and vision by sentiment? Numbers for the pictures.

``embeddings`` collects a split's features, ``alignment`` measures them, ``projection`` maps them
to 2-D, ``compare`` puts models side by side with one-line verdicts, ``errors`` shows where the
model fails, and ``gamma_sweep`` measures alignment and test MAE against the contrastive weight.
"""

from amccl.analysis.alignment import alignment_metrics
from amccl.analysis.compare import alignment_verdict, compare_models, modality_separation, separation_verdict
from amccl.analysis.embeddings import Embeddings, extract_embeddings
from amccl.analysis.errors import acc7_confusion, error_table, residuals_by_label, residuals_by_length, worst_clips
from amccl.analysis.gamma_sweep import gamma_sweep, sweep_gammas, sweep_summary, sweep_verdict
from amccl.analysis.projection import project_joint

__all__ = [
    "Embeddings", "alignment_metrics", "alignment_verdict", "compare_models", "extract_embeddings",
    "modality_separation", "project_joint", "separation_verdict",
    "acc7_confusion", "error_table", "residuals_by_label", "residuals_by_length", "worst_clips",
    "gamma_sweep", "sweep_gammas", "sweep_summary", "sweep_verdict",
]
