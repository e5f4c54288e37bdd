"""Hyper-parameter search on the validation split only (optuna): ``python -m amccl tune``.

Search spaces (:mod:`~amccl.tuning.space`), the storage and objective (:mod:`~amccl.tuning.study`:
no test clip, label or metric reaches the sampler or the pruner), :func:`run_study` (resumable,
here or as Ray tasks) and :func:`retrain_best` (the best config over seeds, on test once).
Sharing a study between machines: ``python -m amccl tune --help``.
"""

from amccl.tuning.runner import retrain_best, run_study
from amccl.tuning.space import DEFAULT_SPACE, SPACES, SearchSpace, get_space
from amccl.tuning.study import best_config, load_study, trials_frame

__all__ = ["DEFAULT_SPACE", "SPACES", "SearchSpace", "best_config", "get_space", "load_study", "retrain_best",
           "run_study", "trials_frame"]
