"""The command line: smoke training end to end, evaluate reproducing fit, one-line errors."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from amccl.cli import build_parser, main
from amccl.metrics import primary_metrics

REPO = Path(__file__).resolve().parent.parent
SMOKE = ["--set", "text_encoder=tiny-random"]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """``python -m amccl train`` on the smoke profile, in a fresh interpreter, its stderr piped
    (not a terminal, as under ``nohup`` or ``2>&1 | tee``) and progress asked for."""
    out = tmp_path_factory.mktemp("cli") / "run"
    env = dict(os.environ, HF_HUB_OFFLINE="1", PYTHONPATH=str(REPO))
    env.pop("CI", None)
    cmd = [sys.executable, "-m", "amccl", "train", "--dataset", "mosi", "--profile", "smoke",
           "--seeds", "1111", *SMOKE, "--out", str(out), "--official-csv"]
    proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    return out, proc


@pytest.mark.slow
def test_train_writes_the_run_and_prints_the_table(trained):
    out, proc = trained
    for name in ("config.json", "results.csv", "summary.csv", "seed_1111/best.pt", "seed_1111/last.pt",
                 "seed_1111/history.csv", "seed_1111/predictions.csv"):
        assert (out / name).is_file(), name
    assert "mean ± std" in proc.stdout and "Has0_acc_2" in proc.stdout
    results = pd.read_csv(out / "results.csv")
    best = torch.load(out / "seed_1111" / "best.pt", weights_only=True)
    test = best["metrics"]["test"]
    assert best["config"]["profile"] == "smoke" and best["config"]["text_encoder"] == "tiny-random"
    # the file holds fractions, exactly as compute_metrics returns them
    assert results.at[0, "MAE"] == test["MAE"] and results.at[0, "MAE"] < 1.5
    assert all(0 <= results.at[0, k] <= 1 for k in primary_metrics("mosi") if k not in ("MAE", "Corr"))
    assert len(pd.read_csv(out / "seed_1111" / "history.csv")) == 2  # smoke: 2 epochs
    # printed for people: accuracies in %, MAE and Corr as fractions (MAE 0.9065 style)
    table = proc.stdout.split("test metrics", 1)[1]
    seed_line = next(line for line in table.splitlines() if line.startswith("1111"))
    assert f"{100 * test['Has0_acc_2']:.2f}" in seed_line and f"{test['MAE']:.4f}" in seed_line
    assert re.search(r"\b0\.\d{4} ± 0\.0000\b", table) and "×100" not in table.split("official layout")[0]


@pytest.mark.slow
def test_train_scores_the_baselines_beside_the_seeds(trained):
    out, proc = trained
    baselines = pd.read_csv(out / "baselines.csv")
    assert list(baselines["baseline"]) == ["constant mean label", "linear probe (text)",
                                           "early-fusion probe (text+audio+vision)"]
    summary = pd.read_csv(out / "summary.csv", index_col="statistic")
    for row in baselines.itertuples():  # summary.csv: a row each, the same fractions
        assert summary.at[f"baseline: {row.baseline}", "MAE"] == pytest.approx(row.MAE)
    printed = proc.stdout.split("baselines on the same test split", 1)[1]
    probe = baselines.iloc[2]
    line = next(x for x in printed.splitlines() if x.startswith("early-fusion probe"))
    assert f"{100 * probe['Non0_acc_2']:.2f}" in line and f"{probe['MAE']:.4f}" in line
    assert "AMCCL against each baseline on the same test split:" in printed
    assert "- linear probe (text), ridge alpha" in printed


@pytest.mark.slow
def test_official_csv_holds_every_metric_times_100(trained):
    out, proc = trained
    official = pd.read_csv(out / "mosi-regression.csv")
    best = torch.load(out / "seed_1111" / "best.pt", weights_only=True)["metrics"]["test"]
    keys = primary_metrics("mosi")
    assert list(official.columns) == ["Model", "Seed", "gamma", *keys, "Loss"]
    assert (official.at[0, "Model"], official.at[0, "Seed"], official.at[0, "gamma"]) == ("amccl", 1111, 0.01)
    for key in keys:
        assert official.at[0, key] == pytest.approx(round(100 * best[key], 2)), key
    assert 1 < official.at[0, "Loss"] < 1000  # the test loss ×100
    assert "mosi-regression.csv" in proc.stdout


@pytest.mark.slow
def test_a_piped_log_has_plain_lines_only(trained):
    _, proc = trained
    err = proc.stderr
    assert "\r" not in err and "\x1b[" not in err, err  # no bar redraws, no cursor escapes
    epochs = [line for line in err.splitlines() if " epoch " in line and "/2:" in line]
    assert len(epochs) == 2 and "valid MAE" in epochs[0] and "best epoch" in epochs[0], err
    assert len(err.splitlines()) <= 2 * 3 + 4, err  # at most a few lines per epoch


@pytest.mark.slow
def test_evaluate_reproduces_fits_test_metrics(trained, tmp_path, capsys):
    out, _ = trained
    best = torch.load(out / "seed_1111" / "best.pt", weights_only=True)
    assert main(["evaluate", "--checkpoint", str(out / "seed_1111" / "best.pt"), "--dataset", "mosi",
                 "--out", str(tmp_path)]) == 0
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    for key in primary_metrics("mosi"):
        assert metrics[key] == pytest.approx(best["metrics"]["test"][key], abs=1e-6), key
    assert "Has0_acc_2" in capsys.readouterr().out
    ours = pd.read_csv(tmp_path / "predictions.csv")
    fits = pd.read_csv(out / "seed_1111" / "predictions.csv")
    assert list(ours.columns) == ["id", "label", "prediction"] and len(ours) == 24
    pd.testing.assert_series_equal(ours.id, fits.id)
    np.testing.assert_allclose(ours.prediction, fits.prediction, atol=1e-5)


@pytest.mark.slow
def test_evaluate_accepts_an_official_state_dict(trained, tmp_path):
    out, _ = trained
    best = torch.load(out / "seed_1111" / "best.pt", weights_only=True)
    official = tmp_path / "amccl_mosi.pth"
    torch.save({f"Model.{k}": v for k, v in best["model"].items()}, official)
    overrides = ["text_encoder=tiny-random", "synthetic_sizes=48,16,24", "batch_size=16"]
    assert main(["evaluate", "--checkpoint", str(official), "--dataset", "mosi", "--set", *overrides,
                 "--out", str(tmp_path / "eval")]) == 0
    metrics = json.loads((tmp_path / "eval" / "metrics.json").read_text())
    assert metrics["MAE"] == pytest.approx(best["metrics"]["test"]["MAE"], abs=1e-6)


def _one_line_error(capsys, argv, code=2):
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == code
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "error" in err and "Traceback" not in err, err
    return err


@pytest.mark.parametrize("argv, words", [
    (["train", "--dataset", "imdb"], "invalid choice"),
    (["train", "--dataset", "mosi", "--set", "gamma=abc"], "gamma"),
    (["train", "--dataset", "mosi", "--set", "gama=0"], "did you mean gamma"),
    (["train", "--dataset", "mosi", "--set", "gamma"], "key=value"),
    (["train", "--dataset", "mosi", "--seeds", "x"], "invalid int"),
    (["train", "--dataset", "mosi", "--resume"], "--out"),
    (["train", "--dataset", "mosi", "--data", "/no/such.pkl"], "no such file"),
    (["train", "--dataset", "mosi", "--device", "tpu"], "device"),
    (["train", "--dataset", "mosi", "--bogus"], "unrecognized"),
    (["evaluate", "--checkpoint", "/no/such.pt", "--dataset", "mosi"], "no such file"),
    (["evaluate", "--dataset", "mosi"], "--checkpoint"),
])
def test_bad_options_are_one_line_errors(capsys, argv, words):
    assert words in _one_line_error(capsys, argv)


def test_help_documents_every_option():
    parser = build_parser()
    commands = parser._subparsers._group_actions[0].choices  # the train / evaluate / ablate parsers
    assert set(commands) == {"train", "evaluate", "predict", "ablate", "tune"}
    for name, sub in commands.items():
        text = sub.format_help()
        for action in sub._actions:
            if action.option_strings and action.dest != "help":
                assert action.help, f"{name} {action.option_strings} has no help"
                assert action.option_strings[-1] in text
    train_help = commands["train"].format_help()
    for option in ("--dataset", "--data", "--profile", "--seeds", "--set", "--out", "--resume", "--device", "--quiet"):
        assert option in train_help
