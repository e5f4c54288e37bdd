"""The baselines beside AMCCL (``amccl.baselines``): the constant, the text and early-fusion ridge
probes equal to scikit-learn called directly, alphas chosen on validation only (poisoned test
labels change nothing), shapes, SIMS names, the verdict's text and ``ablate --baselines``."""

from __future__ import annotations

import copy

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.linear_model import Ridge
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from amccl.baselines import (
    ALPHAS,
    BASELINE_NAMES,
    accuracy_key,
    baseline_table,
    baseline_verdict,
    constant_value,
    fit_probe,
    frame_means,
    probe_features,
    run_baselines,
    same_clips,
    text_features,
)
from amccl.config import AMCCLConfig
from amccl.metrics import MOSI_KEYS, SIMS_KEYS, compute_metrics


def same_metrics(a: dict, b: dict) -> bool:
    """Equal metric dicts, NaN equal to NaN (the constant's Corr)."""
    return list(a) == list(b) and all(a[k] == b[k] or (np.isnan(a[k]) and np.isnan(b[k])) for k in a)


@pytest.fixture(scope="module")
def results(tiny_data, tiny_cfg_module):
    return run_baselines(tiny_cfg_module, tiny_data)


@pytest.fixture(scope="module")
def tiny_cfg_module() -> AMCCLConfig:
    return AMCCLConfig.for_dataset("mosi", profile="smoke", text_encoder="tiny-random")


@pytest.fixture(scope="module")
def features(tiny_data, tiny_cfg_module):
    return probe_features(tiny_cfg_module, tiny_data)


# --- hand-checkable pieces ---------------------------------------------------------------------
def test_constant_value_is_the_mean_or_the_median():
    assert constant_value([1.0, 2.0, 6.0]) == 3.0
    assert constant_value([1.0, 2.0, 6.0], "median") == 2.0
    with pytest.raises(ValueError, match="mean' or 'median"):
        constant_value([1.0], "mode")


def test_frame_means_average_the_valid_frames_with_lengths_clipped():
    x = np.arange(2 * 3 * 3, dtype=np.float32).reshape(3, 3, 2)  # (N=3, L=3, D=2)
    means = frame_means(x, np.array([0, 2, 7]))  # clipped to 1, 2, 3
    np.testing.assert_allclose(means, [x[0, 0], x[1, :2].mean(0), x[2].mean(0)])
    assert means.dtype == np.float64 and means.shape == (3, 2)


def test_alpha_is_chosen_by_validation_mae_by_hand():
    # one standardised feature z = x: ridge slope 2 / (2 + alpha), intercept 0; the valid clip
    # x = 2, y = 1 is predicted 4 / (2 + alpha): exact at alpha = 2 (MAEs 0.6, 0, 0.6)
    fit = fit_probe(np.array([[-1.0], [1.0]]), np.array([-1.0, 1.0]), np.array([[2.0]]), np.array([1.0]),
                    np.array([[1.0], [0.0]]), alphas=(0.5, 2.0, 8.0))
    assert fit.alpha == 2.0
    assert fit.valid_mae == pytest.approx({0.5: 0.6, 2.0: 0.0, 8.0: 0.6})
    np.testing.assert_allclose(fit.predictions, [0.5, 0.0])
    tie = fit_probe(np.array([[-1.0], [1.0]]), np.array([-1.0, 1.0]), np.array([[0.0]]), np.array([0.0]),
                    np.array([[1.0]]), alphas=(4.0, 1.0))  # every alpha predicts 0 there: the first wins
    assert tie.alpha == 4.0


def test_the_alpha_grid_is_a_fixed_log_grid():
    assert ALPHAS[0] == pytest.approx(0.01) and ALPHAS[-1] == pytest.approx(1e5) and len(ALPHAS) == 15
    assert np.allclose(np.diff(np.log10(ALPHAS)), 0.5)


# --- the probes against scikit-learn -------------------------------------------------------------
def test_text_features_are_the_frozen_encoders_masked_token_mean(tiny_data, tiny_cfg_module):
    from amccl.encoders import TextEncoder

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        encoder = TextEncoder("tiny-random", finetune=False).eval()
    text = torch.as_tensor(tiny_data.valid.text)
    with torch.no_grad():
        states = encoder(text)  # (N, Lt, H)
    mask = text[:, 1].double().unsqueeze(2)
    expected = (states.double() * mask).sum(1) / mask.sum(1)
    got = text_features(tiny_cfg_module, tiny_data)
    np.testing.assert_allclose(got["valid"], expected.numpy(), atol=1e-5)
    again = text_features(tiny_cfg_module, tiny_data)  # eval mode: no dropout, same rows
    np.testing.assert_array_equal(got["valid"], again["valid"])


@pytest.mark.parametrize("kind, name", [("text", BASELINE_NAMES[1]), ("fusion", BASELINE_NAMES[2])])
def test_probes_equal_scikit_learn_called_directly(kind, name, features, results, tiny_data):
    x = features[kind]
    y = {s: np.asarray(getattr(tiny_data, s).labels, dtype=np.float64) for s in ("train", "valid")}
    maes = {}
    for alpha in ALPHAS:
        model = Pipeline([("s", StandardScaler()), ("r", Ridge(alpha=alpha))]).fit(x["train"], y["train"])
        maes[alpha] = np.mean(np.abs(model.predict(x["valid"]) - y["valid"]))
    alpha = min(maes, key=maes.get)
    direct = Pipeline([("s", StandardScaler()), ("r", Ridge(alpha=alpha))]).fit(x["train"], y["train"])
    result = next(r for r in results if r.name == name)
    assert result.alpha == alpha and result.valid_MAE == pytest.approx(maes[alpha])
    np.testing.assert_allclose(result.predictions, direct.predict(x["test"]), atol=1e-6)
    assert same_metrics(result.metrics, compute_metrics(direct.predict(x["test"]), tiny_data.test.labels, "mosi"))


def test_the_constant_row_predicts_the_mean_training_label(results, tiny_data):
    const = results[0]
    mean = float(np.mean(np.asarray(tiny_data.train.labels, dtype=np.float64)))
    np.testing.assert_array_equal(const.predictions, np.full(len(tiny_data.test), mean))
    assert same_metrics(const.metrics, compute_metrics(np.full(len(tiny_data.test), mean), tiny_data.test.labels, "mosi"))
    assert np.isnan(const.alpha) and const.n_features == 0 and np.isnan(const.metrics["Corr"])


# --- the test split is read only by the final scoring --------------------------------------------
@pytest.mark.parametrize("poison", [np.nan, 1e6, -1e6])
def test_poisoned_test_labels_change_neither_alphas_nor_predictions(poison, results, tiny_data, tiny_cfg_module):
    data = copy.copy(tiny_data)
    data.test = copy.copy(tiny_data.test)
    data.test.labels = np.full_like(tiny_data.test.labels, poison)
    poisoned = run_baselines(tiny_cfg_module, data)
    for clean, bad in zip(results, poisoned):
        assert (bad.name, bad.n_features) == (clean.name, clean.n_features)
        assert bad.alpha == clean.alpha or (np.isnan(bad.alpha) and np.isnan(clean.alpha))
        assert bad.valid_MAE == clean.valid_MAE
        np.testing.assert_array_equal(bad.predictions, clean.predictions)
        assert not same_metrics(bad.metrics, clean.metrics)  # the scoring did read the (poisoned) labels


# --- shapes and tables ---------------------------------------------------------------------------
def test_feature_and_table_shapes(features, tiny_data, tiny_cfg_module):
    lt, la, lv, da, dv = tiny_data.shapes
    for name, split in tiny_data.items():
        assert features["text"][name].shape == (len(split), 32)  # tiny-random: H = 32
        assert features["fusion"][name].shape == (len(split), 32 + da + dv)
        np.testing.assert_array_equal(features["fusion"][name][:, :32], features["text"][name])
    table = baseline_table(tiny_cfg_module, tiny_data)
    assert list(table["baseline"]) == list(BASELINE_NAMES)
    assert list(table.columns) == ["baseline", *MOSI_KEYS, "alpha", "n_features", "valid_MAE"]
    assert list(table["n_features"]) == [0, 32, 32 + da + dv]
    assert table[list(MOSI_KEYS)].drop(columns="Corr").le(1.0).all().all()  # fractions, never x100


def test_sims_data_get_sims_metric_names():
    cfg = AMCCLConfig.for_dataset("sims", profile="smoke", text_encoder="tiny-random",
                                  synthetic_sizes=(24, 12, 12))
    from amccl.data import load_data

    table = baseline_table(cfg, load_data(cfg), alphas=(1.0, 100.0))
    assert list(table.columns) == ["baseline", *SIMS_KEYS, "alpha", "n_features", "valid_MAE"]
    assert accuracy_key("sims") == "Mult_acc_2" and accuracy_key("mosei") == "Non0_acc_2"
    verdict = baseline_verdict({"MAE": 0.1, "Mult_acc_2": 0.99}, table, "sims")
    assert "Mult_acc_2" in verdict and "Non0_acc_2" not in verdict


def test_same_clips(tiny_data, tiny_cfg_module):
    from amccl.data import load_data

    assert same_clips(tiny_data, tiny_data) and same_clips(tiny_data, load_data(tiny_cfg_module))
    other = load_data(tiny_cfg_module.replace(synthetic_sizes=(40, 16, 24)))
    assert not same_clips(tiny_data, other)


# --- the verdict ---------------------------------------------------------------------------------
TABLE = pd.DataFrame({"baseline": ["constant mean label", "linear probe (text)"], "MAE": [0.9, 0.7],
                      "Non0_acc_2": [0.5, 0.8], "alpha": [np.nan, 100.0]})


def test_verdict_of_one_run():
    text = baseline_verdict({"MAE": 0.75, "Non0_acc_2": 0.7}, TABLE, "mosi")
    assert text == (
        "AMCCL against each baseline on the same test split:\n"
        "- constant mean label: AMCCL beats it on MAE and Non0_acc_2. MAE 0.7500 against 0.9000, lower by "
        "0.1500; Non0_acc_2 70.00 % against 50.00 %, higher by 20.00 points.\n"
        "- linear probe (text), ridge alpha 100: AMCCL does not beat it. MAE 0.7500 against 0.7000, higher by "
        "0.0500; Non0_acc_2 70.00 % against 80.00 %, lower by 10.00 points.")


def test_verdict_of_seeds_reports_the_spread():
    seeds = pd.DataFrame({"seed": [1, 2, 3], "MAE": [0.6, 0.7, 0.8], "Non0_acc_2": [0.78, 0.80, 0.85]})
    text = baseline_verdict(seeds, TABLE, "mosi", label="AMCCL full")
    lines = text.splitlines()
    assert lines[0] == "AMCCL full, 3 seeds (mean ± std) against each baseline on the same test split:"
    assert lines[1].startswith("- constant mean label: AMCCL beats it on MAE and Non0_acc_2. "
                               "MAE 0.7000 ± 0.0816 against 0.9000, lower by 0.2000 (3 of 3 seeds lower; "
                               "the gap is larger than one seed std)")
    # the probe: MAE equal on average (not beaten), accuracy 81 % vs 80 % within the spread
    assert lines[2] == (
        "- linear probe (text), ridge alpha 100: AMCCL beats it on Non0_acc_2 only. MAE 0.7000 ± 0.0816 "
        "against 0.7000, equal at this precision (1 of 3 seeds lower; the gap is within one seed std); Non0_acc_2 "
        "81.00 ± 2.94 % against 80.00 %, higher by 1.00 points (1 of 3 seeds higher; the gap is within one "
        "seed std).")


def test_verdict_with_an_undefined_baseline_metric():
    table = TABLE.assign(Non0_acc_2=[np.nan, 0.8])
    text = baseline_verdict({"MAE": 0.75, "Non0_acc_2": 0.7}, table, "mosi")
    assert "AMCCL beats it on MAE only. MAE 0.7500 against 0.9000, lower by 0.1500; Non0_acc_2 not comparable" in text


# --- ablate --baselines --------------------------------------------------------------------------
def test_ablate_writes_and_prints_the_baselines(tmp_path, capsys, monkeypatch):
    from amccl.ablations import grid
    from amccl.cli import main

    def fake_grid(variants, seeds, cfg, **kwargs):  # two crafted runs per variant, fractions
        values = {"full": (0.70, 0.72), "no_cl": (0.75, 0.77)}
        return pd.DataFrame([{"variant": v, "seed": s, "dataset": "mosi", **{k: 0.6 for k in MOSI_KEYS},
                              "MAE": values[v][i], "Non0_acc_2": 0.7 + 0.01 * i}
                             for v in variants for i, s in enumerate(seeds)])

    monkeypatch.setattr(grid, "run_grid", fake_grid)
    argv = ["ablate", "--profile", "smoke", "--set", "text_encoder=tiny-random", "--variants", "no_cl",
            "--seeds", "1111", "1112", "--out", str(tmp_path), "--plot", "--baselines"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    table = pd.read_csv(tmp_path / "baselines.csv")
    assert list(table["baseline"]) == list(BASELINE_NAMES)
    assert table["Has0_acc_2"].max() <= 1.0  # fractions in the file
    shown = f"{100 * table.at[1, 'Non0_acc_2']:.2f}"  # accuracies x100 on screen, MAE as it is
    assert "baselines on the same test split" in out and shown in out and f"{table.at[1, 'MAE']:.4f}" in out
    assert "AMCCL full, 2 seeds (mean ± std) against each baseline" in out
    assert "MAE 0.7100 ± 0.0100" in out and str(tmp_path / "baselines.csv") in out
