"""Hyper-parameter search on the validation split only (optuna): ``python -m amccl tune``.

:mod:`~amccl.tuning.space` holds the named search spaces, :mod:`~amccl.tuning.study` the
storage and the objective (one seed trained with ``fit(..., splits=("train", "valid"))``: no
test clip, label or metric reaches the sampler or the pruner), :mod:`~amccl.tuning.runner`
:func:`run_study` (here or as Ray tasks, resumable: ``trials`` is the total the study should
hold) and :func:`retrain_best` (the best config over seeds, scored on test once). Sharing one
study between processes or machines (SQLite, PostgreSQL, Ray): ``python -m amccl tune --help``.
"""

from amccl.tuning.runner import retrain_best, run_study
from amccl.tuning.space import DEFAULT_SPACE, SPACES, SearchSpace, get_space
from amccl.tuning.study import best_config, load_study, trials_frame

__all__ = ["DEFAULT_SPACE", "SPACES", "SearchSpace", "best_config", "get_space", "load_study", "retrain_best",
           "run_study", "trials_frame"]
