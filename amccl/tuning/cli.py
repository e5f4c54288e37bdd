"""The ``tune`` command (``python -m amccl tune --help``): a study on the validation split, then the
best config over seeds on test; ``study.db``, ``trials.csv``, ``best.json`` and ``final/`` in ``--out``."""

from __future__ import annotations

import argparse
import logging
import textwrap
import time
from pathlib import Path

from amccl.tuning.space import DEFAULT_SPACE, SPACES

EPILOG = """search spaces (--space):
{spaces}

runtime on 2 CPU cores, embedded default: --profile smoke --trials 3 --no-final about 28 s
(5-8 s a trial); each final seed adds a run of the profile's length.

--trials is the study's total: a study of 3 trials rerun with --trials 5 runs 2 more. Trials
never see the test split; only the final retraining (skip it with --no-final) is scored on test.

Sharing one study between machines: give every process the same --storage and --study-name.
SQLite (the default) suits the processes of one machine (--executor ray on a local Ray).
For several machines use PostgreSQL (pip install 'amccl[postgres]'):
  createdb amccl_tune            # once, on the database host
  python -m amccl tune --dataset mosi --data MOSI/Processed/unaligned_50.pkl --trials 50 \\
      --storage postgresql://user:password@dbhost/amccl_tune --study-name mosi-paper
Run that command on each machine (or once with --executor ray --ray-address auto on a Ray
cluster): they draw trials from the same study until it holds 50. Use the same data file
everywhere; --no-final on all but one machine."""


def add_tune_parser(subparsers) -> argparse.ArgumentParser:
    """Add the ``tune`` sub-command to an ``argparse`` sub-parsers object and return it."""
    from amccl.cli_options import config_options

    spaces = "\n".join(f"  {s.name:<12} {s.doc}\n" + textwrap.fill(", ".join(s.params), 92, initial_indent=" " * 15,
                                                                  subsequent_indent=" " * 15)
                       for s in SPACES.values())
    p = subparsers.add_parser(
        "tune", help="search hyper-parameters on the validation split (optuna), then test the best",
        description="Run an optuna study (seeded TPE, median pruning on the per-epoch validation MAE)\n"
                    "whose objective is a trial's best validation MAE, stored in --storage (resumable);\n"
                    "then train the best config over --seeds and score it on test once.",
        epilog=EPILOG.format(spaces=spaces), formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    config_options(p, default="mosi", required=False)
    p.add_argument("--trials", type=int, default=50,
                   help="complete + pruned trials the study should hold in all (default 50)")
    p.add_argument("--space", choices=tuple(SPACES), default=DEFAULT_SPACE,
                   help=f"search space (default {DEFAULT_SPACE}; see below)")
    p.add_argument("--storage", metavar="URL", default=None,
                   help="optuna storage: sqlite:///path/study.db or postgresql://user:pw@host/db "
                        "(default: sqlite under --out)")
    p.add_argument("--study-name", metavar="NAME", default=None, help="default: <dataset>-<space>-<profile>")
    p.add_argument("--out", metavar="DIR", default=None, help="default: runs/tune/<study name>")
    p.add_argument("--seeds", type=int, nargs="+", metavar="SEED", default=None,
                   help="seeds of the final retraining (default: the config's 1111-1115)")
    p.add_argument("--trial-seed", type=int, default=None, metavar="SEED", help="training seed of every trial (default: first of --seeds)")
    p.add_argument("--sampler-seed", type=int, default=0, metavar="SEED", help="seed of the TPE sampler (default 0)")
    p.add_argument("--pruner", choices=("median", "none"), default="median", help="trial pruner (default median)")
    p.add_argument("--no-final", action="store_true", help="skip retraining the best config on the seeds")
    p.add_argument("--executor", default="local", choices=("local", "ray"),
                   help="run trials in this process (local, the default) or as Ray tasks sharing the storage")
    p.add_argument("--workers", type=int, default=None, metavar="N", help="Ray tasks (default: what the cluster's CPUs fit)")
    p.add_argument("--ray-address", default=None, metavar="ADDRESS", help="a Ray cluster (auto, ray://host:10001); default: local Ray")
    p.add_argument("--num-cpus", type=float, default=None, metavar="N", help="cores per Ray task (default 1)")
    p.add_argument("--num-gpus", type=float, default=None, metavar="SHARE", help="GPU share per Ray task (default 0.25 with GPUs)")
    p.add_argument("--show", metavar="STORAGE", default=None,
                   help="print the trials table of the study in STORAGE (URL or .db path) and exit")
    p.add_argument("--quiet", action="store_true", help="no per-trial lines or progress bars")
    p.set_defaults(func=run_tune)
    return p


def show_table(study, note: str = "") -> str:
    """The ``--show`` text: a header line (``note`` at its end), then per trial its number, state,
    value (best valid MAE), params and duration."""
    import pandas as pd

    from amccl.tuning.study import ATTR, trials_frame

    made, frame = study.user_attrs.get(ATTR, {}), trials_frame(study)
    header = (f"study {study.study_name} (space {made.get('space')}, {made.get('dataset')}, profile "
              f"{made.get('profile')}): {len(study.trials)} trial(s); value = best validation MAE{note}\n")
    if frame.empty:
        return header + "(no trials)"
    params = [c for c in frame.columns if c not in ("number", "state", "value", "duration_s", "best_epoch",
                                                    "epochs_run") and not c.startswith("valid_")]
    with pd.option_context("display.width", 250, "display.max_columns", 60, "display.float_format", "{:.4g}".format):
        return header + frame[["number", "state", "value", *params, "duration_s"]].to_string(index=False)


def run_tune(args: argparse.Namespace) -> int:
    """Run the ``tune`` command for parsed ``args``; returns the exit status."""
    import optuna

    from amccl.bert import check_run_encoder
    from amccl.cli_options import CLIError, config_from_args
    from amccl.data import load_data
    from amccl.metrics import DISPLAY_NOTE
    from amccl.results import seed_table
    from amccl.runtime import get_logger
    from amccl.tuning.runner import TUNE_DIR, default_study_name, retrain_best, run_study
    from amccl.tuning.study import load_study, storage_url, write_study_files

    if args.show:  # the trials table of a stored study, nothing run
        try:
            study = load_study(args.show, args.study_name)
        except (FileNotFoundError, KeyError, ValueError) as err:
            raise CLIError(f"--show {args.show}: {err.args[0] if err.args else err}") from err
        print(show_table(study))
        return 0
    cfg = config_from_args(args)
    drawn = sorted({item.split("=", 1)[0].strip() for item in args.overrides} & set(SPACES[args.space].params))
    if drawn:
        raise CLIError(f"--set {', '.join(drawn)}: the {args.space!r} space draws it; drop the --set or pick "
                       f"another --space")
    if args.trials < 1:
        raise CLIError(f"--trials must be at least 1, got {args.trials}")
    check_run_encoder(cfg)  # before any work: the encoder is there and fits --data's language
    get_logger(logging.WARNING if args.quiet else logging.INFO)
    optuna.logging.set_verbosity(optuna.logging.WARNING if args.quiet else optuna.logging.INFO)
    name = args.study_name or default_study_name(cfg, args.space)
    out = Path(args.out) if args.out else TUNE_DIR / name
    storage = storage_url(args.storage or out / "study.db")
    seeds = args.seeds or list(cfg.seeds)
    data = load_data(cfg)

    start = time.perf_counter()
    study = run_study(cfg, args.space, args.trials, storage, name, data=data,
                      trial_seed=seeds[0] if args.trial_seed is None else args.trial_seed, seed=args.sampler_seed,
                      pruner=args.pruner, executor=args.executor, workers=args.workers,
                      ray_address=args.ray_address, num_cpus=args.num_cpus, num_gpus=args.num_gpus)
    paths = write_study_files(study, storage, out)
    print(show_table(study, f"; {time.perf_counter() - start:.1f} s"))
    if not study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,)):
        print("no complete trial yet: nothing to retrain")
        return 0
    best = study.best_trial
    print(f"best trial {best.number}: valid MAE {best.value:.4f}, params {best.params}")
    if not args.no_final:
        results = retrain_best(study, seeds, data, out / "final", progress=not args.quiet)
        table = seed_table(results, cfg.dataset)  # accuracies and F1 in %, MAE and Corr as fractions
        print(f"best config on {cfg.dataset} test ({len(results)} seed(s), profile {cfg.profile}; {DISPLAY_NOTE}):")
        print(table.to_string() + "".join(f"\nnote: {note}" for note in table.attrs.get("notes", [])))
        paths += [out / "final" / "results.csv", out / "final" / "summary.csv"]
    print("wrote " + ", ".join(map(str, paths)))
    return 0

