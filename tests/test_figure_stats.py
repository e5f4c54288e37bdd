"""The statistics behind the figures and the verdict after each: every sentence follows its numbers."""

import numpy as np
import pandas as pd
import pytest

from amccl.analysis import figure_stats as fs


def test_row_shares_and_typical_detectable():
    shares = fs.row_shares(pd.DataFrame([[1, 3], [0, 0]]))
    assert shares.iloc[0].tolist() == [0.25, 0.75] and shares.iloc[1].isna().all()
    summ = pd.DataFrame({"detectable": [np.nan, 0.2, 0.4, np.nan], "n_pairs": [3, 3, 5, 3]},
                        index=["full", "a", "b", "c"])
    assert fs.typical_detectable(summ, "full") == (pytest.approx(0.3), ", 3–5 seeds")
    assert np.isnan(fs.typical_detectable(summ.assign(detectable=np.nan), "full")[0])


def test_seeds_per_point_is_the_fewest():
    frame = pd.DataFrame({"variant": ["a"] * 3 + ["b"], "gamma": [0, 0, 1, 0], "seed": [1, 2, 1, 1]})
    assert fs.seeds_per_point(frame) == 1


def test_polarity_verdict_flips_with_the_balance():
    assert "balanced" in fs.polarity_verdict([1, -1, 0.5, -0.5, 0])
    assert "lopsided toward positive" in fs.polarity_verdict([1, 2, 1, -1, 0])


def test_padding_verdict_flips_at_zero():
    assert "never sees padding" in fs.padding_verdict([0.0, 0.0])
    assert "25%" in fs.padding_verdict([0.5, 0.0]) and "last_valid_step" in fs.padding_verdict([0.5, 0.0])


def test_learning_verdict_flips_when_validation_mae_does_not_fall():
    frame = pd.DataFrame({"train_loss": [2.0, 1.0, 0.5], "valid_MAE": [1.4, 1.1, 1.2]}, index=[1, 2, 3])
    assert fs.learning_verdict(frame, 2).endswith("21.4% below epoch 1's.")
    assert fs.learning_verdict(frame.assign(valid_MAE=[1.0, 1.1, 1.2]), 1).endswith("no gain over epoch 1.")


def test_constant_verdict_flips_at_ninety_percent_of_the_constant_mae():
    table = pd.DataFrame({"MAE": [0.85, 1.0], "Non0_acc_2": [70.0, 50.0], "Corr": [0.5, np.nan]},
                         index=["run", "constant"])
    assert "clearly beats" in fs.constant_verdict(table, "run", "constant", "mosi")
    table.loc["run", "MAE"] = 0.95
    assert "no clear gain" in fs.constant_verdict(table, "run", "constant", "mosi")


def test_constant_verdict_reads_the_datasets_binary_accuracy():
    sims = pd.DataFrame({"MAE": [0.3, 0.5], "Mult_acc_2": [80.0, 60.0], "Corr": [0.6, np.nan]},
                        index=["run", "constant"])
    verdict = fs.constant_verdict(sims, "run", "constant", "sims")
    assert "Acc-2 80.0 against 60.0" in verdict and "clearly beats" in verdict


def test_residual_verdict_flips_with_the_pull_toward_the_middle():
    by_label = pd.DataFrame({"count": [2, 2], "mae": [0.5, 1.5]}, index=[-2, 2])
    pulled = pd.DataFrame({"true_bin": [-2, -2, 2, 2], "residual": [0.5, 0.5, -1.5, -1.5]})
    assert "true class 2" in fs.residual_verdict(by_label, pulled) and "are pulled" in fs.residual_verdict(by_label, pulled)
    assert "no pull" in fs.residual_verdict(by_label, pulled.assign(residual=[-0.5, -0.5, 1.5, 1.5]))


def test_length_verdict_flips_with_the_trend():
    assert "grow with" in fs.length_verdict(pd.DataFrame({"mae": [0.5, 0.6, 0.8]}))
    assert "shrink with" in fs.length_verdict(pd.DataFrame({"mae": [0.8, 0.6, 0.5]}))
    assert "hardly change" in fs.length_verdict(pd.DataFrame({"mae": [0.8, 0.6, 0.82]}))


def test_confusion_verdict_reads_the_diagonal_and_the_commonest_confusion():
    classes = list(range(-3, 4))
    near = pd.DataFrame(np.eye(7, dtype=int) * 8, index=classes, columns=classes)
    near.loc[0, 1] = 2
    text = fs.confusion_verdict(near)
    assert "Acc-7 is 96.6%" in text and "mostly near misses" in text and "true 0 predicted as 1 (2 clips)" in text
    far = near.copy()
    far.loc[-3, 3] = 40
    assert "many far misses" in fs.confusion_verdict(far) and "true -3 predicted as 3" in fs.confusion_verdict(far)


def _summary(diffs, significant):
    rows = [dict(variant="full", metric="MAE", mean=1.0, std=0.05, diff=np.nan, significant=False)]
    rows += [dict(variant=f"v{i}", metric="MAE", mean=1.0 + d, std=0.05, diff=d, significant=s)
             for i, (d, s) in enumerate(zip(diffs, significant))]
    return pd.DataFrame(rows)


def test_grid_metric_verdict_counts_the_significant_variants():
    none = fs.grid_metric_verdict(_summary([-0.01, 0.02], [False, False]), "MAE")
    assert "none of the 2 variants" in none and "v0 -0.0100" in none and "v1 +0.0200" in none
    assert "1.0000 ± 0.0500" in none
    assert "1 of 2 variants" in fs.grid_metric_verdict(_summary([-0.01, 0.3], [False, True]), "MAE")


def test_importance_verdict_flips_with_the_number_of_trials():
    frame = pd.DataFrame({"field": ["gamma", "k"], "importance": [0.7, 0.3]})
    frame.attrs["complete"] = 6
    assert fs.importance_verdict(frame).startswith("gamma explains 70%") and "first look" in fs.importance_verdict(frame)
    frame.attrs["complete"] = 30
    assert "tune first" in fs.importance_verdict(frame)


def test_joint_verdict_reads_the_map():
    rng = np.random.default_rng(0)
    islands = pd.DataFrame({"x": np.repeat([0.0, 10.0, 20.0], 20) + rng.normal(0, 0.1, 60), "y": rng.normal(0, 0.1, 60),
                            "modality": np.repeat(["text", "audio", "vision"], 20)})
    assert "still separate" in fs.joint_verdict(islands)
    mixed = islands.assign(x=rng.normal(0, 1, 60), y=rng.normal(0, 1, 60))
    assert "still separate" not in fs.joint_verdict(mixed)
