"""A study: its storage, the objective (best validation MAE), the trials table, the best config."""

from __future__ import annotations

import json
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import optuna
import pandas as pd
from optuna.trial import TrialState

from amccl.checkpoint import MAY_DIFFER_ON_RESUME, config_differences
from amccl.config import AMCCLConfig
from amccl.tuning.space import SearchSpace

COUNTED = (TrialState.COMPLETE, TrialState.PRUNED)  # what --trials counts; failed trials are retried
ATTR = "amccl"  # the study's user attribute holding what it was made with
# Config fields that may differ between the processes of one study (another GPU, another mount).
MAY_DIFFER = (*MAY_DIFFER_ON_RESUME, "data_path")


def storage_url(storage: str | Path) -> str:
    """A storage URL: ``sqlite:///`` paths made absolute (Ray workers run elsewhere), a bare
    ``*.db`` path turned into one; other URLs (``postgresql://...``) as given."""
    text = str(storage)
    if "://" not in text:
        return f"sqlite:///{Path(text).expanduser().resolve()}"
    if text.startswith("sqlite:///") and not text.startswith("sqlite:////") and text != "sqlite:///:memory:":
        return f"sqlite:///{Path(text[len('sqlite:///'):]).resolve()}"
    return text


def redact(url: str) -> str:
    """``url`` without its password (for files and messages)."""
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # noqa: BLE001 -- not an SQLAlchemy URL: show it as is
        return url


def open_storage(storage: str | Path, must_exist: bool = False) -> optuna.storages.RDBStorage:
    """The optuna storage at ``storage``, with heartbeats (a dead process's trial fails after 3 minutes, then
    is retried); SQLite files get their folder and a 60 s lock timeout, ``must_exist`` refuses a missing one."""
    url = storage_url(storage)
    kwargs: dict[str, Any] = {}
    if url.startswith("sqlite:///") and url != "sqlite:///:memory:":
        path = Path(url[len("sqlite:///"):])
        if must_exist and not path.is_file():
            raise FileNotFoundError(f"{path}: no such study file")
        path.parent.mkdir(parents=True, exist_ok=True)
        kwargs["engine_kwargs"] = {"connect_args": {"timeout": 60}}
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)  # heartbeats: stable in use
            return optuna.storages.RDBStorage(url, heartbeat_interval=60, grace_period=180, **kwargs)
    except ImportError as err:  # the database driver, e.g. psycopg2 for postgresql://
        raise ImportError(f"storage {redact(url)} needs a database driver ({err}); for PostgreSQL: "
                          "pip install 'amccl[postgres]'") from err


def load_study(storage: str | Path, name: str | None = None) -> optuna.Study:
    """An existing study for reading (tables, figures): ``name`` or the storage's only study."""
    names = optuna.study.get_all_study_names(open_storage(storage, must_exist=True))
    if name is None:
        if len(names) != 1:
            raise ValueError(f"{redact(storage_url(storage))} holds {len(names)} studies "
                             f"({', '.join(names) or 'none'}); name one (--study-name)")
        name = names[0]
    elif name not in names:
        raise KeyError(f"no study {name!r} in {redact(storage_url(storage))}; it holds: {', '.join(names) or 'none'}")
    return optuna.load_study(study_name=name, storage=open_storage(storage))


def make_pruner(name: str | optuna.pruners.BasePruner) -> optuna.pruners.BasePruner:
    """``median`` (prune below the median of earlier trials at the same epoch, from the 5th
    epoch of the 6th trial on) or ``none``; a pruner object is returned as is."""
    if not isinstance(name, str):
        return name
    pruners = {"median": lambda: optuna.pruners.MedianPruner(n_startup_trials=5, n_warmup_steps=5),
               "none": optuna.pruners.NopPruner}
    if name not in pruners:
        raise KeyError(f"unknown pruner {name!r}; expected one of {', '.join(pruners)}")
    return pruners[name]()


def sampler_seed(seed: int, existing: int, worker: int = 0) -> int:
    """The TPE seed of one optimising process: distinct for each resume (``existing`` trials)
    and worker, so no two draw the same start-up points, and reproducible from ``seed``."""
    return int(np.random.SeedSequence([int(seed), int(existing), int(worker)]).generate_state(1)[0])


def open_study(storage: str | Path, name: str, cfg: AMCCLConfig, space: SearchSpace, trial_seed: int,
               seed: int = 0, pruner: str | optuna.pruners.BasePruner = "median", worker: int = 0) -> optuna.Study:
    """Create the study ``name`` in ``storage`` or resume it (minimise; TPE seeded by :func:`sampler_seed`;
    ``pruner`` as :func:`make_pruner`). Raises ``ValueError`` when the stored study was made with
    another space, trial seed or base config."""
    study = optuna.create_study(storage=open_storage(storage), study_name=name, direction="minimize",
                                load_if_exists=True, pruner=make_pruner(pruner))
    base = {k: v for k, v in cfg.to_dict().items() if k not in space.params}  # what the study is made with
    now = {"space": space.name, "dataset": cfg.dataset, "profile": cfg.profile, "trial_seed": int(trial_seed),
           "base_config": base}
    saved = study.user_attrs.get(ATTR)
    if saved is None:
        study.set_user_attr(ATTR, now)
    else:
        changes = [f"{k}: {saved.get(k)!r} -> {now[k]!r}" for k in ("space", "trial_seed") if saved.get(k) != now[k]]
        changes += config_differences(saved["base_config"], now["base_config"], ignore=MAY_DIFFER)
        if changes:
            raise ValueError(f"study {name!r} in {redact(storage_url(storage))} was made with other settings "
                             f"({'; '.join(changes)}); use another --study-name or --storage")
    study.sampler = optuna.samplers.TPESampler(seed=sampler_seed(seed, len(study.trials), worker))
    return study


def finished(study: optuna.Study) -> int:
    """Trials that count towards ``--trials``: complete or pruned."""
    return len(study.get_trials(deepcopy=False, states=COUNTED))


def make_objective(cfg: AMCCLConfig, space: SearchSpace, data: Any, trial_seed: int,
                   fit_fn: Callable | None = None) -> Callable[[optuna.Trial], float]:
    """The objective: draw ``space`` on top of ``cfg``, ``fit`` ``trial_seed`` with ``MODEL_SELECTION``, report
    each epoch's running best validation MAE, return the best. Trials keep their config, seed, metrics
    and data as user attributes (``diverged``: why a pruned trial's loss diverged)."""
    from amccl.train import MODEL_SELECTION, NonFiniteLossError, fit

    fit_fn = fit_fn or fit

    def objective(trial: optuna.Trial) -> float:
        run_cfg = cfg.replace(**space.suggest(trial))
        trial.set_user_attr("config", run_cfg.to_dict())
        trial.set_user_attr("seed", int(trial_seed))
        best = [float("inf")]

        def on_epoch_end(record: dict[str, Any], model: Any) -> None:
            best[0] = min(best[0], float(record["valid_MAE"]))
            trial.report(best[0], step=int(record["epoch"]))
            if trial.should_prune():
                trial.set_user_attr("epochs_run", int(record["epoch"]))
                raise optuna.TrialPruned(f"epoch {record['epoch']}: best valid MAE {best[0]:.4f}")

        try:
            history = fit_fn(run_cfg, data, seed=trial_seed, progress=False, on_epoch_end=on_epoch_end,
                             splits=MODEL_SELECTION)
        except NonFiniteLossError as err:
            trial.set_user_attr("diverged", str(err))
            raise optuna.TrialPruned(str(err)) from err
        if history.test_metrics:  # cannot happen without the test split; never let one through
            raise RuntimeError("a tuning trial produced test metrics")
        trial.set_user_attr("valid_metrics", {k: float(v) for k, v in history.valid_metrics.items()})
        trial.set_user_attr("best_epoch", int(history.best_epoch))
        trial.set_user_attr("epochs_run", len(history.epochs))
        trial.set_user_attr("data_path", history.meta.get("data_path"))
        trial.set_user_attr("data_sha256", history.meta.get("data_sha256"))
        return float(history.valid_metrics["MAE"])

    return objective


def optimize(study: optuna.Study, objective: Callable[[optuna.Trial], float], total: int,
             most: int | None = None, progress: bool = False) -> int:
    """Run trials until the study holds ``total`` complete or pruned ones (every process sharing it
    counts; trials in flight may overshoot), at most ``most`` here; ``progress``: a bar with the
    best value so far, or a log line per trial where no bar can be drawn. Returns how many ran."""
    from amccl.runtime import get_logger, progress_bar, progress_enabled, progress_lines

    remaining = min(total - finished(study), most if most is not None else total)
    if remaining <= 0:
        return 0
    before = len(study.trials)
    stop = optuna.study.MaxTrialsCallback(total, states=COUNTED)
    with progress_bar(total=remaining, desc="trials", unit="trial", disable=not progress_enabled(progress)) as bar:
        lines, done = progress_lines(progress), [0]

        def tick(study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
            bar.update(1)
            done[0] += 1
            best = study.best_value if any(t.state == TrialState.COMPLETE for t in study.trials) else None
            if best is not None:
                bar.set_postfix(best_valid_MAE=f"{best:.4f}", refresh=False)
            if lines:
                value = f"valid MAE {trial.value:.4f}" if trial.value is not None else trial.state.name.lower()
                seconds = f", {trial.duration.total_seconds():.1f} s" if trial.duration else ""
                get_logger().info("trials: %d/%d done: trial %d %s%s%s", done[0], remaining, trial.number, value,
                                  f", best {best:.4f}" if best is not None else "", seconds)

        study.optimize(objective, n_trials=remaining, callbacks=[stop, tick])
    return len(study.trials) - before


def trials_frame(study: optuna.Study) -> pd.DataFrame:
    """One row per trial: ``number``, ``state``, ``value`` (best valid MAE), ``duration_s``,
    ``best_epoch``, ``epochs_run``, one column per sampled field, ``valid_<metric>``."""
    rows = []
    for t in study.get_trials(deepcopy=False):
        attrs = t.user_attrs
        rows.append({"number": t.number, "state": t.state.name, "value": t.value,
                     "duration_s": round(t.duration.total_seconds(), 2) if t.duration else None,
                     "best_epoch": attrs.get("best_epoch"), "epochs_run": attrs.get("epochs_run"),
                     **t.params, **{f"valid_{k}": v for k, v in (attrs.get("valid_metrics") or {}).items()}})
    return pd.DataFrame(rows)


def best_config(study: optuna.Study) -> AMCCLConfig:
    """The full config of the study's best complete trial (lowest validation MAE)."""
    if not study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)):
        raise ValueError(f"study {study.study_name!r} has no complete trial yet")
    return AMCCLConfig.from_dict(study.best_trial.user_attrs["config"])


def write_study_files(study: optuna.Study, storage: str | Path, out_dir: str | Path) -> list[Path]:
    """``trials.csv`` (:func:`trials_frame`) and, once a trial completed, ``best.json``: the study,
    storage (no password), trial counts by state, best trial's number, value, params, validation
    metrics and full config."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    trials_frame(study).to_csv(out / "trials.csv", index=False)
    if not study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)):
        return [out / "trials.csv"]
    best = study.best_trial
    states = pd.Series([t.state.name for t in study.get_trials(deepcopy=False)]).value_counts()
    record = {"study": study.study_name, "storage": redact(storage_url(storage)),
              "space": study.user_attrs.get(ATTR, {}).get("space"), "trials": states.to_dict(),
              "best_trial": best.number, "best_valid_MAE": best.value, "params": best.params,
              "valid_metrics": best.user_attrs.get("valid_metrics"), "config": best.user_attrs["config"]}
    (out / "best.json").write_text(json.dumps(record, indent=2, default=str) + "\n")
    return [out / "trials.csv", out / "best.json"]
