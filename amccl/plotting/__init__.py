"""Every figure of the package; each function returns the matplotlib ``Figure``.

Nothing is shown or saved implicitly: :func:`save_figure` writes one. Inputs are pandas frames
whose columns each docstring lists; the statistics drawn come from :mod:`amccl.analysis` and
:mod:`amccl.ablations.stats`, never from here.

* :mod:`~amccl.plotting.training`: learning curves, test metrics beside a constant, Acc-7
  confusion, residuals per bin, a tuning study's parameter importances;
* :mod:`~amccl.plotting.ablations`: an ablation grid as a forest plot;
* :mod:`~amccl.plotting.embeddings`: alignment table, joint maps, alignment against gamma.
"""

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
