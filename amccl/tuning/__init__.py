"""Hyper-parameter search on the validation split only (optuna; ``python -m amccl tune --help``):
:func:`run_study` (resumable, here or as Ray tasks), then :func:`retrain_best` (on test once)."""

from amccl.tuning.runner import retrain_best, run_study
from amccl.tuning.space import DEFAULT_SPACE, SPACES, SearchSpace, get_space
from amccl.tuning.study import best_config, load_study, trials_frame

__all__ = ["DEFAULT_SPACE", "SPACES", "SearchSpace", "best_config", "get_space", "load_study", "retrain_best",
           "run_study", "trials_frame"]
