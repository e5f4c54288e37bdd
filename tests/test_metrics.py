"""MMSA metrics (docs/model.md §5) on hand-computed cases; every expected value is derived in a comment."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import torch

from amccl.metrics import (
    MOSI_KEYS,
    SIMS_KEYS,
    compute_metrics,
    format_table,
    primary_metrics,
)

SIMS_EDGES_5 = [-1.01, -0.7, -0.1, 0.1, 0.7, 1.01]
SIMS_EDGES_3 = [-1.01, -0.1, 0.1, 1.01]


# ------------------------------------------------------------------ MOSI / MOSEI
def test_acc7_rounds_half_to_even():
    # np.round: 2.5 -> 2, -0.5 -> -0 (== 0), 0.5 -> 0, 1.5 -> 2; labels 2, 0, 0, 2 -> all equal.
    # (half away from zero would give 3, -1, 1, 2 -> only 1 of 4 right.)
    m = compute_metrics([2.5, -0.5, 0.5, 1.5], [2.0, 0.0, 0.0, 2.0], "mosi")
    assert m["Mult_acc_7"] == 1.0
    assert m["Mult_acc_5"] == 1.0


def test_acc7_and_acc5_clip_before_rounding_mae_does_not():
    # pred 4.2 -3.7 2.4 -2.6 ; true 3 -3 3 -3
    # Acc-7: clip [-3,3] -> 3, -3, 2.4, -2.6 -> rounded 3, -3, 2, -3 vs 3, -3, 3, -3 -> 3/4.
    # Acc-5: clip [-2,2] -> 2, -2, 2, -2 (both sides) -> 4/4.
    # MAE unclipped: (1.2 + 0.7 + 0.6 + 0.4) / 4 = 0.725.
    m = compute_metrics([4.2, -3.7, 2.4, -2.6], [3.0, -3.0, 3.0, -3.0], "mosei")
    assert m["Mult_acc_7"] == 0.75
    assert m["Mult_acc_5"] == 1.0
    assert m["MAE"] == 0.725


def test_acc5_clip_at_two():
    # pred 2.6, true 2.4: Acc-7 rounds 3 vs 2 -> wrong; Acc-5 clips both to 2 -> right.
    m = compute_metrics([2.6], [2.4], "mosi")
    assert m["Mult_acc_7"] == 0.0
    assert m["Mult_acc_5"] == 1.0


def test_has0_and_non0_with_zero_labels():
    # true 0 0 1 -1 2 ; pred 0.5 -0.5 1 1 -0.2
    # Has0 classes (>= 0): t T T T F T, p T F T T F -> right at 0, 2 -> acc 2/5 = 0.4.
    #   F1(True): TP 2, predicted True 3, support 4 -> P 2/3, R 1/2, F1 4/7;  F1(False) = 0.
    #   weighted: 4/5 * 4/7 = 16/35 = 0.457142.. -> 0.4571.
    # Non0 keeps t != 0 (rows 2, 3, 4); classes (> 0): t T F T, p T T F -> acc 1/3 -> 0.3333.
    #   F1(True): TP 1, predicted 2, support 2 -> 1/2; F1(False) = 0 -> weighted 2/3 * 1/2 = 1/3.
    m = compute_metrics([0.5, -0.5, 1.0, 1.0, -0.2], [0.0, 0.0, 1.0, -1.0, 2.0], "mosi")
    assert m["Has0_acc_2"] == 0.4
    assert m["Has0_F1_score"] == 0.4571
    assert m["Non0_acc_2"] == 0.3333
    assert m["Non0_F1_score"] == 0.3333


def test_metric_values_rounded_to_4_decimals_predictions_not_rounded():
    # MMSA rounds the metric values (round(acc, 4)), never the predictions.
    # pred 0.00004 -0.00004 1 ; true 1 -1 -1
    # Non0 (> 0): p T F T vs t T F F -> 2/3 -> 0.6667 (predictions rounded to 4 decimals
    #   would make 0.00004 -> 0, not > 0, and give 1/3).
    # Has0 (>= 0): p T F T vs t T F F -> 2/3 -> 0.6667 (with rounded predictions
    #   -0.00004 -> -0.0 >= 0 would flip row 1 and give 1/3).
    # MAE: (0.99996 + 0.99996 + 2) / 3 = 1.3333066.. -> 1.3333.
    m = compute_metrics([0.00004, -0.00004, 1.0], [1.0, -1.0, -1.0], "mosi")
    assert m["Non0_acc_2"] == 0.6667
    assert m["Has0_acc_2"] == 0.6667
    assert m["MAE"] == 1.3333


def test_corr_is_pearson_rounded():
    # p 1 2 3 4, t 1 2 3 5: dp = -1.5 -.5 .5 1.5, dt = -1.75 -.75 .25 2.25
    # sum dp*dt = 6.5, sum dp^2 = 5, sum dt^2 = 8.75 -> r = 6.5 / sqrt(43.75) = 0.98271 -> 0.9827
    m = compute_metrics([1.0, 2.0, 3.0, 4.0], [1.0, 2.0, 3.0, 5.0], "mosi")
    assert m["Corr"] == 0.9827


@pytest.mark.filterwarnings("error")
def test_all_zero_labels_give_nan_non0_and_nan_corr_without_warnings():
    # true all 0 -> Non0 has no sample -> NaN; Corr of a constant -> NaN.
    # Has0: t all T, p (>= 0) T F T T -> 3/4; F1(True) P 3/3 R 3/4 -> 6/7 = 0.857142 -> 0.8571
    # (class False has support 0 -> weight 0).  MAE (0.1+0.1+0.2+0.3)/4 = 0.175.
    m = compute_metrics([0.1, -0.1, 0.2, 0.3], [0.0, 0.0, 0.0, 0.0], "mosi")
    assert math.isnan(m["Non0_acc_2"]) and math.isnan(m["Non0_F1_score"])
    assert math.isnan(m["Corr"])
    assert m["Has0_acc_2"] == 0.75
    assert m["Has0_F1_score"] == 0.8571
    assert m["MAE"] == 0.175


@pytest.mark.filterwarnings("error")
def test_single_sample_batch():
    # B = 1, pred (1, 1) tensor 0.5, true 1: Acc-7 round(0.5) = 0 vs 1 -> 0; Has0 T vs T -> 1;
    # Non0 T vs T -> 1; MAE 0.5; Corr undefined -> NaN.
    m = compute_metrics(torch.tensor([[0.5]]), torch.tensor([1.0]), "mosi")
    assert list(m) == list(MOSI_KEYS)
    assert m["Mult_acc_7"] == 0.0
    assert m["Has0_acc_2"] == 1.0 and m["Non0_acc_2"] == 1.0
    assert m["MAE"] == 0.5
    assert math.isnan(m["Corr"])


def test_torch_and_numpy_inputs_agree():
    rng = np.random.default_rng(0)
    p, t = rng.uniform(-3.5, 3.5, 50), np.round(rng.uniform(-3, 3, 50) * 3) / 3
    from_torch = compute_metrics(torch.tensor(p, requires_grad=True).view(-1, 1), torch.tensor(t).view(-1, 1), "mosi")
    from_numpy = compute_metrics(p, t, "mosi")
    assert from_torch == from_numpy


def test_values_are_fractions_and_keys_in_display_order():
    m = compute_metrics([1.0, -1.0], [1.0, -1.0], "MOSEI")
    assert list(m) == primary_metrics("mosei") == list(MOSI_KEYS)
    assert m["Has0_acc_2"] == 1.0  # a fraction, not 100


def test_bad_inputs_raise():
    with pytest.raises(ValueError):
        compute_metrics([], [], "mosi")
    with pytest.raises(ValueError):
        compute_metrics([1.0, 2.0], [1.0], "mosi")
    with pytest.raises(ValueError):
        compute_metrics([1.0], [1.0], "iemocap")


# ------------------------------------------------------------------ SIMS / SIMS-v2
# class representatives: 5 bins [-1,-.7] (-.7,-.1] (-.1,.1] (.1,.7] (.7,1]; 3 bins [-1,-.1] (-.1,.1] (.1,1]
REP5 = [-0.85, -0.4, 0.0, 0.4, 0.85]
REP3 = [-0.5, 0.0, 0.5]


@pytest.mark.parametrize(
    "value, cls5, cls3, cls2",
    [
        (-1.3, 0, 0, 0),   # clipped to -1 -> first bins
        (-1.0, 0, 0, 0),
        (-0.7, 0, 0, 0),   # right-closed: -0.7 belongs to (-1.01, -0.7]
        (-0.69, 1, 0, 0),
        (-0.1, 1, 0, 0),   # -0.1 belongs to (-0.7, -0.1] and [-1, -0.1]
        (-0.09, 2, 1, 0),
        (0.0, 2, 1, 0),    # 0 belongs to (-0.1, 0.1] and, for 2 classes, to [-1, 0]
        (0.01, 2, 1, 1),
        (0.1, 2, 1, 1),    # 0.1 (float32) belongs to (-0.1, 0.1]
        (0.11, 3, 2, 1),
        (0.7, 3, 2, 1),    # 0.7 belongs to (0.1, 0.7]
        (0.71, 4, 2, 1),
        (1.0, 4, 2, 1),
        (2.0, 4, 2, 1),    # clipped to 1
    ],
)
def test_sims_bin_edges_right_closed(value, cls5, cls3, cls2):
    # one sample: accuracy is 1 only when the label is a representative of the same class.
    # The value comes as float32, as model outputs do: float32(0.1) = 0.10000000149 is still
    # in (-0.1, 0.1] because MMSA compares in float32 (a float64 comparison would say > 0.1).
    pred = np.array([value], dtype=np.float32)
    for k, rep in enumerate(REP5):
        assert compute_metrics(pred, [rep], "sims")["Mult_acc_5"] == float(k == cls5)
    for k, rep in enumerate(REP3):
        assert compute_metrics(pred, [rep], "sims")["Mult_acc_3"] == float(k == cls3)
    for k, rep in enumerate([-0.5, 0.5]):
        assert compute_metrics(pred, [rep], "simsv2")["Mult_acc_2"] == float(k == cls2)


def test_sims_weak_subset_and_all_metrics():
    # true 0.4 -0.4 0.6 -0.2 0 ; pred -0.1 -0.5 -0.9 -0.3 0  (float32, as the data and model give)
    # weak = |t| <= 0.4 compared in float32 (as MMSA's float32 tensors): rows 0, 1, 3, 4.
    #   2 classes: t 1 0 0 0, p 0 0 0 0 -> right at rows 1, 3, 4 -> 3/4
    #   (a float64 comparison would drop float32(+-0.4) = +-0.40000000596 and give 2/2 = 1).
    # Mult_acc_2 (all): t 1 0 1 0 0, p 0 0 0 0 0 -> 3/5 = 0.6
    # Mult_acc_3: t 2 0 2 0 1, p 0 (-0.1 is in [-1, -0.1]) 0 0 0 1 -> rows 1, 3, 4 -> 0.6
    # Mult_acc_5: t 3 1 3 1 2, p 1 1 0 1 2 -> rows 1, 3, 4 -> 0.6
    # F1 weighted (2 classes): class 0 support 3, TP 3, predicted 5 -> P 3/5 R 1 F1 3/4;
    #   class 1 support 2, never predicted -> 0; weighted 3/5 * 3/4 = 0.45.
    # MAE (.5 + .1 + 1.5 + .1 + 0) / 5 = 0.44
    # Corr: dp = .26 -.14 -.54 .06 .36, dt = .32 -.48 .52 -.28 -.08; sum dp*dt = -0.176,
    #   sum dp^2 = 0.512, sum dt^2 = 0.688 -> r = -0.176 / sqrt(0.512 * 0.688) = -0.29654
    # R^2 = 1 - SS_res / SS_tot = 1 - 2.52 / 0.688 = -2.662791
    t = np.array([0.4, -0.4, 0.6, -0.2, 0.0], dtype=np.float32)
    p = np.array([-0.1, -0.5, -0.9, -0.3, 0.0], dtype=np.float32)
    m = compute_metrics(p, t, "sims")
    assert compute_metrics(p.astype(np.float64), t.astype(np.float64), "sims") == m  # cast to float32
    assert list(m) == list(SIMS_KEYS) == primary_metrics("sims")
    assert m["Mult_acc_2_weak"] == 0.75
    assert m["Mult_acc_2"] == 0.6
    assert m["Mult_acc_3"] == 0.6
    assert m["Mult_acc_5"] == 0.6
    assert m["F1_score"] == pytest.approx(0.45)
    assert m["MAE"] == pytest.approx(0.44, abs=1e-6)
    assert m["Corr"] == pytest.approx(-0.176 / math.sqrt(0.512 * 0.688), abs=1e-6)
    assert m["R_squre"] == pytest.approx(1 - 2.52 / 0.688, abs=1e-5)


def test_sims_clips_everything_to_unit_range():
    # pred 1.5 -2, true 1 -1: after the clip both sides are equal -> MAE 0 (0.75 unclipped),
    # every accuracy 1, R^2 1, Corr 1.
    m = compute_metrics([1.5, -2.0], [1.0, -1.0], "sims")
    assert m["MAE"] == 0.0
    assert m["Mult_acc_2"] == m["Mult_acc_3"] == m["Mult_acc_5"] == 1.0
    assert m["R_squre"] == 1.0
    assert m["Corr"] == pytest.approx(1.0)


@pytest.mark.filterwarnings("error")
def test_sims_degenerate_cases_are_nan_without_warnings():
    # no |t| <= 0.4 -> weak subset empty -> NaN; one sample -> R^2 and Corr NaN.
    m = compute_metrics([0.5, -0.5], [0.8, -0.9], "sims")
    assert math.isnan(m["Mult_acc_2_weak"])
    one = compute_metrics([0.2], [0.3], "sims")
    assert math.isnan(one["R_squre"]) and math.isnan(one["Corr"])
    assert one["Mult_acc_2"] == 1.0


def test_sims_values_not_rounded():
    # 1 of 3 right -> exactly 1/3, not 0.3333.
    m = compute_metrics([0.5, 0.5, 0.5], [0.5, -0.5, -0.5], "sims")
    assert m["Mult_acc_2"] == 1 / 3


def test_sims_bins_match_digitize_on_random_values():
    # independent check: np.digitize(right=True) on float32 gives the right-closed class.
    rng = np.random.default_rng(1)
    t = (rng.integers(-5, 6, 400) / 5).astype(np.float32)  # SIMS-like grid of 0.2 incl. edges
    p = rng.uniform(-1.2, 1.2, 400).astype(np.float32)
    p[:40] = t[:40]  # some exact hits
    m = compute_metrics(p, t, "sims")
    pc, tc = np.clip(p, -1, 1), np.clip(t, -1, 1)
    for key, edges in (("Mult_acc_5", SIMS_EDGES_5), ("Mult_acc_3", SIMS_EDGES_3)):
        e = np.asarray(edges, np.float32)
        expected = np.mean(np.digitize(pc, e, right=True) == np.digitize(tc, e, right=True))
        assert m[key] == pytest.approx(expected)


# ------------------------------------------------------------------ display
def test_format_table_scales_accuracies_only_and_aggregates_like_mmsa():
    rows = [
        {"seed": 1111, **compute_metrics([1.0, -1.0, 1.0, 1.0], [1.0, -1.0, 1.0, -1.0], "mosi")},
        {"seed": 1112, **compute_metrics([1.0, -1.0, 1.0, -1.0], [1.0, -1.0, 1.0, -1.0], "mosi")},
    ]
    # seed 1111: 3 of 4 signs right -> Has0_acc_2 0.75 -> 75.0; MAE 2/4 = 0.5 (unscaled)
    table = format_table(rows, "mosi")
    assert list(table.columns) == ["seed", *MOSI_KEYS]
    assert table.loc[0, "Has0_acc_2"] == 75.0
    assert table.loc[0, "MAE"] == 0.5
    # mean of 75 and 100 = 87.5; np.std (ddof 0) = 12.5
    summary = format_table(rows, "mosi", aggregate=True)
    assert summary.loc["mean", "Has0_acc_2"] == 87.5
    assert summary.loc["std", "Has0_acc_2"] == 12.5
    assert isinstance(format_table(rows[0], "mosi"), pd.DataFrame)
    # as text: accuracies in % with 2 decimals, MAE / Corr as fractions with 4
    text = format_table(rows, "mosi", text=True)
    assert (text.loc[0, "Has0_acc_2"], text.loc[0, "MAE"], text.loc[1, "Corr"]) == ("75.00", "0.5000", "1.0000")
    assert format_table(rows, "mosi", aggregate=True, text=True).loc["mean ± std", "Has0_acc_2"] == "87.50 ± 12.50"


def test_one_display_for_people_on_a_hand_made_row():
    from amccl.metrics import display_unit, format_mean_std, format_value

    row = {"Has0_acc_2": 0.85, "Non0_F1_score": 0.93561, "Mult_acc_7": 0.625, "MAE": 0.90654, "Corr": 0.76634,
           "R_squre": 0.5}
    shown = {k: format_value(v, k) for k, v in row.items()}
    assert shown == {"Has0_acc_2": "85.00", "Non0_F1_score": "93.56", "Mult_acc_7": "62.50", "MAE": "0.9065",
                     "Corr": "0.7663", "R_squre": "0.5000"}
    assert format_mean_std(0.85, 0.012, "Has0_acc_2") == "85.00 ± 1.20"
    assert format_mean_std(0.7663, 0.0485, "MAE") == "0.7663 ± 0.0485"
    assert format_value(-0.0608, "MAE", signed=True) == "-0.0608"  # a paired difference, as a fraction
    assert format_value(0.0123, "Has0_acc_2", signed=True) == "+1.23" and display_unit("Has0_acc_2") == "points"
    assert format_value(float("nan"), "Corr") == "nan" and format_value(0.81234, "alignment") == "0.8123"
    sims = format_table({"Mult_acc_2": 0.8, "MAE": 0.4, "R_squre": 0.25}, "sims").iloc[0]
    assert (sims["Mult_acc_2"], sims["MAE"], sims["R_squre"]) == (80.0, 0.4, 0.25)


def test_nan_predictions_propagate_without_crashing():
    # a diverged model: NaN is neither >= 0 nor > 0 (counted wrong), |NaN - t| -> MAE NaN.
    # Has0: row 0 NaN wrong, row 1 (1 vs 1) right -> 1/2.
    m = compute_metrics([float("nan"), 1.0], [1.0, 1.0], "mosi")
    assert math.isnan(m["MAE"]) and math.isnan(m["Corr"])
    assert m["Has0_acc_2"] == 0.5
