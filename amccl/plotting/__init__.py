"""Every figure of the package (:mod:`~amccl.plotting.training`, :mod:`~amccl.plotting.ablations`,
:mod:`~amccl.plotting.embeddings`); each function returns a ``Figure``, which only :func:`save_figure`
writes. The statistics drawn come from :mod:`amccl.analysis` and :mod:`amccl.ablations.stats`."""

from amccl.plotting.ablations import plot_grid
from amccl.plotting.embeddings import plot_alignment_table, plot_gamma_sweep, plot_joint, plot_models_side_by_side
from amccl.plotting.figure import save_figure
from amccl.plotting.training import (
    plot_confusion,
    plot_learning_curves,
    plot_param_importances,
    plot_residuals_by_bin,
    plot_test_vs_constant,
)

__all__ = ["plot_alignment_table", "plot_confusion", "plot_gamma_sweep", "plot_grid", "plot_joint",
           "plot_learning_curves", "plot_models_side_by_side", "plot_param_importances",
           "plot_residuals_by_bin", "plot_test_vs_constant", "save_figure"]
