"""Hyper-parameter search (``python -m amccl tune``): spaces, resumable SQLite studies, the
test split never used by trials, the command's table and errors.

One small study (3 trials resumed to 5, frozen tiny text) is built once for the module; with
the proof that trials never read the test split, those are the ``slow`` tests (7 short fits,
about 15 s on 2 idle cores). The Ray executor's pieces are tested here without Ray (a local Ray
run takes over 30 s): a picklable worker spec, workers sharing one storage, the trial split."""

from __future__ import annotations

import copy
import json
import logging
import pickle

import numpy as np
import optuna
import pandas as pd
import pytest
from optuna.trial import TrialState

from amccl.cli import _Parser
from amccl.config import DATASETS, AMCCLConfig
from amccl.results import History
from amccl.runtime import get_logger
from amccl.tuning import SPACES, best_config, get_space, load_study, run_study, trials_frame
from amccl.tuning.cli import add_tune_parser, run_tune
from amccl.tuning.runner import WorkerSpec, run_worker, split_trials
from amccl.tuning.study import open_study, sampler_seed, storage_url

optuna.logging.set_verbosity(optuna.logging.WARNING)
# The study's base config, and the same as command-line options.
OVERRIDES = {"text_encoder": "tiny-random", "freeze_text": True, "encoder_ff_dim": 256}
CLI_CONFIG = ["--dataset", "mosi", "--profile", "smoke", "--set", *(f"{k}={v}" for k, v in OVERRIDES.items())]


def small_cfg() -> AMCCLConfig:
    return AMCCLConfig.for_dataset("mosi", profile="smoke", **OVERRIDES)


def tune(argv: list[str]) -> int:
    """``amccl tune ARGV`` through a parser built as ``amccl.cli.build_parser`` builds it."""
    parser = _Parser(prog="amccl")
    sub = parser.add_subparsers(dest="command", parser_class=_Parser)
    add_tune_parser(sub)
    return run_tune(parser.parse_args(["tune", *argv]))


@pytest.fixture(scope="module")
def study_db(tmp_path_factory, tiny_data):
    """A 'paper'-space study of 3 trials, then resumed to 5, in SQLite; returns its path."""
    path = tmp_path_factory.mktemp("tune") / "study.db"
    first = run_study(small_cfg(), "paper", trials=3, storage=path, study_name="s", data=tiny_data)
    assert len(first.trials) == 3
    run_study(small_cfg(), "paper", trials=5, storage=path, study_name="s", data=tiny_data)
    return path


@pytest.mark.slow
def test_study_resumes_to_the_total_without_duplicates(study_db):
    study = load_study(study_db)  # the storage's only study
    states = [t.state for t in study.trials]
    assert len(states) == 5 and all(s in (TrialState.COMPLETE, TrialState.PRUNED) for s in states)
    assert [t.number for t in study.trials] == list(range(5))
    drawn = {json.dumps(t.params, sort_keys=True) for t in study.trials}
    assert len(drawn) == 5  # the resumed sampler did not replay the first trials' draws
    for t in study.trials:  # every trial keeps its whole config and its validation metrics only
        cfg = AMCCLConfig.from_dict(t.user_attrs["config"])
        assert all(getattr(cfg, k) == v for k, v in t.params.items())
        assert cfg.freeze_text and cfg.text_encoder == "tiny-random"
        assert not any("test" in key for key in t.user_attrs)
        if t.state == TrialState.COMPLETE:
            assert t.value == pytest.approx(t.user_attrs["valid_metrics"]["MAE"])
            assert t.value == pytest.approx(min(t.intermediate_values.values()))


@pytest.mark.slow
def test_best_trial_is_the_lowest_validation_mae(study_db):
    study = load_study(study_db, "s")
    frame = trials_frame(study)
    complete = frame[frame["state"] == "COMPLETE"]
    assert study.best_trial.number == complete.loc[complete["value"].idxmin(), "number"]
    assert best_config(study).to_dict() == study.best_trial.user_attrs["config"]
    assert {"valid_MAE", "valid_Has0_acc_2", "lr_audio", "post_dim", "duration_s"} <= set(frame.columns)


@pytest.mark.slow
def test_trials_never_read_the_test_split(tmp_path, tiny_data):
    class Poison:
        def __getattr__(self, name):
            raise AssertionError(f"a trial read the test split (.{name})")

        def __len__(self):
            raise AssertionError("a trial read the test split (len)")

    data = copy.copy(tiny_data)
    data.test = Poison()
    histories = []

    def spy_fit(*args, **kwargs):
        from amccl.train import fit

        assert kwargs["splits"] == ("train", "valid")
        histories.append(fit(*args, **kwargs))
        return histories[-1]

    study = run_study(small_cfg(), "contrastive", trials=2, storage=tmp_path / "p.db", data=data,
                      fit_fn=spy_fit, pruner="none")
    assert [t.state for t in study.trials] == [TrialState.COMPLETE] * 2
    for trial, history in zip(study.trials, histories):
        assert history.test_metrics == {} and len(history.test_predictions) == 0
        curve = np.minimum.accumulate([e["valid_MAE"] for e in history.epochs])  # the pruner's feed
        assert list(trial.intermediate_values.values()) == pytest.approx(list(curve))
        assert trial.value == pytest.approx(history.valid_metrics["MAE"])


def fake_fit(cfg, data, seed, progress, on_epoch_end, splits):
    """Instant stand-in: three epochs whose validation MAE falls with gamma."""
    assert splits == ("train", "valid")
    history = History(config=cfg.to_dict(), seed=seed)
    for epoch in (1, 2, 3):
        record = {"epoch": epoch, "valid_MAE": 1.0 + cfg.gamma - 0.01 * epoch}
        history.epochs.append(record)
        on_epoch_end(record, None)
    history.best_epoch, history.valid_metrics = 3, {"MAE": history.epochs[-1]["valid_MAE"]}
    return history


def test_pruned_trials_count_towards_the_total(tmp_path, tiny_data):
    study = run_study(small_cfg(), "contrastive", trials=3, storage=tmp_path / "p.db", data=tiny_data,
                      fit_fn=fake_fit, pruner=optuna.pruners.ThresholdPruner(upper=0.5))
    assert [t.state for t in study.trials] == [TrialState.PRUNED] * 3
    assert all(t.user_attrs["epochs_run"] == 1 and list(t.intermediate_values) == [1] for t in study.trials)


def test_workers_sharing_a_storage_fill_one_study(tmp_path, tiny_data):
    """What each Ray task does (and each machine sharing a PostgreSQL study): two workers, one total."""
    cfg, url = small_cfg(), storage_url(tmp_path / "shared.db")
    spec = WorkerSpec(url, "shared", "contrastive", cfg.to_dict(), 1111, total=4, pruner="none")
    spec = pickle.loads(pickle.dumps(spec))  # what Ray ships
    open_study(url, "shared", cfg, get_space("contrastive"), 1111)
    ran = [run_worker(spec, data=tiny_data, fit_fn=fake_fit, num_threads=1)]
    ran.append(run_worker(WorkerSpec(**{**spec.__dict__, "total": 6, "worker": 1}), data=tiny_data, fit_fn=fake_fit))
    assert ran == [4, 2] and len(load_study(url).trials) == 6
    assert sampler_seed(0, 4, 1) != sampler_seed(0, 4, 0) != sampler_seed(0, 0, 0)
    assert split_trials(5, 2) == [3, 2] and split_trials(2, 4) == [1, 1] and split_trials(0, 3) == []


def test_a_study_refuses_other_settings(tmp_path, tiny_data):
    run_study(small_cfg(), "contrastive", trials=1, storage=tmp_path / "p.db", study_name="x", data=tiny_data,
              fit_fn=fake_fit)
    with pytest.raises(ValueError, match="other settings.*epochs"):
        run_study(small_cfg().replace(epochs=3), "contrastive", trials=2, storage=tmp_path / "p.db",
                  study_name="x", data=tiny_data, fit_fn=fake_fit)


@pytest.mark.parametrize("dataset", DATASETS)
@pytest.mark.parametrize("name", list(SPACES))
def test_spaces_hold_the_paper_values(name, dataset):
    cfg = AMCCLConfig.for_dataset(dataset)
    space = get_space(name, cfg)
    assert space.outside(cfg.to_dict()) == []
    assert space.params["gamma"].low < 0.0025 and space.params["lambda_refine"].high > 4.0


def test_space_fits_the_shapes_and_lists_paper_values():
    mosi = get_space("paper", AMCCLConfig.for_dataset("mosi"))  # Da = 5: r = 8 cannot build
    assert mosi.params["skip_net_reduction"].choices == (2, 4)
    assert get_space("paper", AMCCLConfig.for_dataset("mosei")).params["skip_net_reduction"].choices == (2, 4, 8)
    table = get_space("paper").table().set_index("field")
    assert table.loc["lr_other", "mosei"] == 2.5e-3 and table.loc["wd_audio", "range"] == "{0.0, 0.001, 0.01}"
    assert get_space("paper").outside({"gamma": 0.0, "alpha": 0.5}) == ["gamma=0.0"]
    with pytest.raises(KeyError, match="unknown search space 'nope'; expected one of paper, contrastive"):
        get_space("nope")


@pytest.mark.slow
def test_show_prints_the_trials_table(study_db, capsys):
    assert tune(["--show", str(study_db)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("study s (space paper, mosi, profile smoke): 5 trial(s)")
    header = lines[1].split()
    assert header[:3] == ["number", "state", "value"] and header[-1] == "duration_s" and "gamma" in header
    assert len(lines) == 2 + 5


@pytest.mark.slow
def test_cli_writes_the_table_and_retrains_the_best(study_db, tmp_path, capsys):
    out = tmp_path / "out"
    code = tune([*CLI_CONFIG, "--storage", f"sqlite:///{study_db}", "--study-name", "s", "--trials", "5",
                 "--seeds", "1111", "--out", str(out), "--quiet"])
    assert code == 0
    text = capsys.readouterr().out
    assert "best config on mosi test" in text and "mean ± std" in text
    trials = pd.read_csv(out / "trials.csv")
    assert len(trials) == 5  # the study was full: no new trial
    best = json.loads((out / "best.json").read_text())
    assert best["best_trial"] == load_study(study_db).best_trial.number and best["space"] == "paper"
    results = pd.read_csv(out / "final" / "results.csv")
    assert list(results["seed"]) == [1111] and "MAE" in results.columns
    assert json.loads(results["config"][0]) == best["config"]


@pytest.mark.parametrize("argv, message", [
    (["--space", "nope"], "amccl tune: error: argument --space: invalid choice: 'nope'"),
    (["--set", "gamma=0.1"], "amccl tune: error: --set gamma: the 'paper' space draws it"),
    (["--show", "missing.db"], "amccl tune: error: --show missing.db:"),
])
def test_cli_errors_are_one_line(argv, message, capsys, tmp_path, monkeypatch):
    from amccl.cli import CLIError

    monkeypatch.chdir(tmp_path)
    try:
        tune(argv)
    except CLIError as err:  # amccl.cli.main prints it as one "amccl tune: error: ..." line
        err_text = f"amccl tune: error: {err}\n"
    except SystemExit as exit_:
        assert exit_.code == 2
        err_text = capsys.readouterr().err
    assert err_text.startswith(message) and err_text.count("\n") == 1
    assert not (tmp_path / "missing.db").exists()


def test_param_importances_figure(tmp_path, tiny_data):
    import matplotlib

    matplotlib.use("Agg")
    from amccl.plotting import plot_param_importances

    study = run_study(small_cfg(), "contrastive", trials=4, storage=tmp_path / "p.db", data=tiny_data,
                      fit_fn=fake_fit, pruner="none")
    fig = plot_param_importances(study)
    bars = fig.axes[0].patches
    assert len(bars) == len(SPACES["contrastive"].params)
    assert sum(b.get_width() for b in bars) == pytest.approx(1.0)
    assert "4 complete trials" in fig.axes[0].get_title()


@pytest.mark.parametrize("ci", [None, "true"])
def test_progress_bar_counts_the_trials_with_the_best_value_and_stays_off_under_ci(tmp_path, tiny_data, capsys,
                                                                                   monkeypatch, ci):
    if ci is None:
        monkeypatch.delenv("CI", raising=False)
    else:
        monkeypatch.setenv("CI", ci)
    monkeypatch.setattr("amccl.runtime.can_draw_bars", lambda stream=None: True)  # stderr a terminal
    get_logger(logging.INFO)  # the lines are INFO (conftest restores the level after each test)
    run_study(small_cfg(), "contrastive", trials=2, storage=tmp_path / "bar.db", data=tiny_data, fit_fn=fake_fit,
              pruner="none", progress=True)
    err = capsys.readouterr().err
    if ci is None:
        assert "trials: 100%" in err and "2/2" in err and "best_valid_MAE=" in err
    else:  # no bar: one plain log line per trial instead
        lines = [line for line in err.splitlines() if "trials: " in line]
        assert len(lines) == 2 and "trials: 2/2 done: trial 1 valid MAE" in lines[1] and "best " in lines[1], err
        assert "%" not in err and "\r" not in err
