"""Hyper-parameter search on the validation split only (optuna): ``python -m amccl tune``.

* :mod:`~amccl.tuning.space` -- the named search spaces (``paper``, the default: every value
  the paper set per dataset; ``contrastive``: gamma, k, T, alpha, lambda_refine), each
  holding the paper's values of every dataset.
* :mod:`~amccl.tuning.study` -- storage, :func:`load_study`, the objective (one seed trained
  with ``fit(..., splits=("train", "valid"))``: no test clip, label or metric reaches the
  sampler or the pruner), :func:`trials_frame`.
* :mod:`~amccl.tuning.runner` -- :func:`run_study` (in this process or as Ray tasks) and
  :func:`retrain_best` (the best config over seeds, scored on test once).
* :mod:`~amccl.tuning.cli` -- the command; the figure is :func:`amccl.plotting.plot_param_importances`.

Storage and resuming: a study lives in an optuna RDB storage, by default the SQLite file
``runs/tune/<dataset>-<space>-<profile>/study.db``. Running again with the same storage and
study name resumes it; ``trials`` is the total of complete + pruned trials the study should
hold (3 stored, ``trials=5``: 2 more). Trials that crashed (state FAIL) are not counted.

Several machines, one study: put the study in PostgreSQL (``pip install 'amccl[postgres]'``,
an empty database, e.g. ``createdb amccl_tune``) and start, on every machine, the same
command with ``--storage postgresql://user:password@dbhost/amccl_tune --study-name NAME``
(the same data file everywhere; ``--no-final`` on all but one). Each process draws trials
from the shared study until it holds ``--trials``; in-flight trials may overshoot by a few.
On a Ray cluster, one command does the same: ``--executor ray --ray-address auto
--workers N`` (SQLite only works when all workers share one machine's disk).
"""

from amccl.tuning.runner import retrain_best, run_study
from amccl.tuning.space import DEFAULT_SPACE, SPACES, SearchSpace, get_space
from amccl.tuning.study import best_config, load_study, trials_frame

__all__ = ["DEFAULT_SPACE", "SPACES", "SearchSpace", "best_config", "get_space", "load_study", "retrain_best",
           "run_study", "trials_frame"]
