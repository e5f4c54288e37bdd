"""The gamma sweep: its rows on tiny data, its summary, and verdicts on hand-made frames."""

import matplotlib

matplotlib.use("Agg")

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
import torch

from amccl.ablations.power import detectable_difference
from amccl.analysis.gamma_sweep import (
    EMBEDDING_COLUMNS,
    SWEEP_COLUMNS,
    constant_mae,
    gamma_sweep,
    sweep_gammas,
    sweep_summary,
    sweep_table,
    sweep_verdict,
)
from amccl.config import AMCCLConfig
from amccl.presets import preset


@pytest.fixture(scope="module")
def tiny():
    cfg = AMCCLConfig.for_dataset("mosi", profile="smoke", **preset("gamma_sweep", "smoke").overrides)
    from amccl.data import load_data

    return cfg, load_data(cfg)


def untrained_fit(cfg, data, seed, **_):
    """A stand-in for ``fit``: the untrained model of ``seed``, a test MAE that encodes gamma."""
    from amccl import AMCCL

    torch.manual_seed(seed)
    return SimpleNamespace(model=AMCCL(cfg).eval(), test_metrics={"MAE": 0.5 + cfg.gamma, "Corr": 0.1},
                           valid_metrics={}, best_epoch=1, epochs=[{}], meta={})


def test_sweep_gammas_are_zero_g_10g_100g():
    assert sweep_gammas(0.01) == [0.0, 0.01, 0.1, 1.0]
    assert sweep_gammas(0.0025) == [0.0, 0.0025, 0.025, 0.25]  # SIMS
    with pytest.raises(ValueError, match="positive"):
        sweep_gammas(0.0)


def test_sweep_has_one_row_per_run_with_the_measures(tiny, tmp_path):
    cfg, data = tiny
    frame = gamma_sweep(cfg, variants=("full", "no_cl"), seeds=(1, 2), data=data, out_dir=tmp_path,
                        fit_fn=untrained_fit, resources={"num_cpus": 1})
    assert list(frame.columns[:len(SWEEP_COLUMNS)]) == list(SWEEP_COLUMNS)
    assert len(frame) == 4 * 2 * 2
    full = frame[frame.variant == "full"]
    assert sorted(full.gamma.unique()) == [0.0, 0.01, 0.1, 1.0]
    assert (frame.loc[frame.variant == "no_cl", "gamma"] == 0).all()  # the variant's own gamma = 0 wins
    np.testing.assert_allclose(full.MAE, 0.5 + full.gamma)  # each run got its gamma
    assert frame[list(EMBEDDING_COLUMNS)].notna().all().all()
    assert frame.alignment.between(0, 4).all() and frame.spearman.between(-1, 1).all()
    labels = (np.asarray(data.test.labels, float), np.asarray(data.train.labels, float))
    assert frame.constant_MAE.iloc[0] == pytest.approx(np.mean(np.abs(labels[0] - np.median(labels[1]))))
    assert constant_mae(data) == frame.constant_MAE.iloc[0]
    # a second call resumes from out_dir: nothing is trained again
    again = gamma_sweep(cfg, variants=("full", "no_cl"), seeds=(1, 2), data=data, out_dir=tmp_path,
                        fit_fn=lambda *a, **k: pytest.fail("resumed runs must not train"))
    pd.testing.assert_frame_equal(again[list(SWEEP_COLUMNS)], frame[list(SWEEP_COLUMNS)])


def test_sweep_trains_for_real_on_tiny_data(tiny):
    cfg, data = tiny
    frame = gamma_sweep(cfg, gammas=[0.0, 1.0], variants=("full",), seeds=(1111,), data=data,
                        resources={"num_cpus": 1})
    assert list(frame.gamma) == [0.0, 1.0] and list(frame.variant) == ["full", "full"]
    assert frame.MAE.between(0, 10).all() and frame.alignment.notna().all()
    assert (frame.epochs_run == cfg.epochs).all()


SEEDS = [1, 2, 3, 4]
OFFSET = np.array([0.00, 0.02, -0.01, 0.03])  # each seed's luck, shared by its runs at every gamma
TINY = np.array([0.001, -0.001, 0.002, -0.002])  # small noise: differences nearly constant
SYM = np.array([0.01, -0.01, 0.02, -0.02])  # zero-mean noise: differences average exactly 0


def hand_frame(variant="full", const=0.9, seeds=SEEDS) -> pd.DataFrame:
    """alignment falls 1.2 -> 0.7 with gamma, Spearman stays put, MAE rises from gamma 0.1 on."""
    means = {0.0: (1.20, 0.10, 0.60), 0.01: (1.10, 0.10, 0.60), 0.1: (0.90, 0.10, 0.70), 1.0: (0.70, 0.10, 0.80)}
    rows = []
    for gamma, (align, rho, mae) in means.items():
        jitter = 0 * TINY if gamma == 0 else TINY
        wobble = 0 * SYM if gamma == 0 else SYM
        for i, seed in enumerate(seeds):
            rows.append(dict(variant=variant, gamma=gamma, seed=seed, alignment=align + OFFSET[i] + jitter[i],
                             spearman=rho + OFFSET[i] + wobble[i],
                             MAE=mae + OFFSET[i] + (wobble[i] if gamma == 0.01 else jitter[i]), constant_MAE=const))
    return pd.DataFrame(rows)


def test_sweep_summary_means_and_intervals():
    summ = sweep_summary(hand_frame())
    rec = summ[(summ.gamma == 0.1) & (summ.metric == "alignment")].iloc[0]
    values = 0.9 + OFFSET + TINY
    half = 3.182446305284263 * values.std(ddof=1) / 2  # t_{0.975, 3} · s / sqrt(4)
    assert rec["n"] == 4 and rec["mean"] == pytest.approx(values.mean())
    assert (rec["ci_low"], rec["ci_high"]) == pytest.approx((values.mean() - half, values.mean() + half))
    assert list(summ.gamma.unique()) == [0.0, 0.01, 0.1, 1.0]
    one = sweep_summary(hand_frame(seeds=[1]))
    assert one["ci_low"].isna().all()
    table = sweep_table(summ)
    assert list(table.columns) == ["alignment", "spearman", "MAE"] and len(table) == 4
    assert table.loc[("full", 0.1), "alignment"] == (f"{values.mean():.3f} [{values.mean() - half:.3f}, "
                                                     f"{values.mean() + half:.3f}]")
    assert sweep_table(one).loc[("full", 0.0), "MAE"] == "0.600"
    with pytest.raises(KeyError, match="spearman"):
        sweep_summary(hand_frame().drop(columns="spearman"))


def test_verdict_reads_a_clear_trend_a_null_and_a_degradation():
    det = detectable_difference(SYM.std(ddof=1), 4)
    text = sweep_verdict(hand_frame())
    assert text.startswith("Seed-paired against γ = 0 (t-test, Holm over the gammas, alpha 0.05; ")
    assert text.endswith(
        "full: alignment tightens significantly from γ = 0.01 on (1.210 at γ = 0 → 0.710 at γ = 1); "
        "distance/label Spearman shows no significant change (0.110 at γ = 0 → 0.110 at γ = 1; "
        f"rules out changes beyond ±{det:.2f}); test MAE degrades significantly from γ = 0.1 on "
        "(0.610 at γ = 0 → 0.810 at γ = 1, 69 % of the way to the constant predictor's 0.900).")


def test_verdict_with_one_seed_and_with_an_untrained_model():
    one = sweep_verdict(hand_frame(seeds=[1]))
    assert "alignment 1.200 at γ = 0 → 0.701 at γ = 1 (one seed: no test)" in one
    assert "test MAE 0.600 at γ = 0 → 0.801 at γ = 1, 67 % of the way" in one
    poor = sweep_verdict(hand_frame(const=0.6))
    assert "γ = 0 itself is no better than the constant predictor's 0.600" in poor
    close = sweep_verdict(hand_frame(const=0.62))  # 0.62 lies inside gamma = 0's interval
    assert "at these seeds γ = 0 is not clearly better than the constant predictor's 0.620" in close
    assert "of the way" not in close  # a share of a gap within the noise would be noise
    both = sweep_verdict(pd.concat([hand_frame(), hand_frame("positives_mean")]))
    assert both.count("alignment tightens significantly") == 2 and "positives_mean: alignment" in both


def test_plot_gamma_sweep_shows_every_gamma_and_the_constant():
    from amccl.plotting import plot_gamma_sweep

    fig = plot_gamma_sweep(pd.concat([hand_frame(), hand_frame("positives_mean")]))
    axes = fig.axes
    assert len(axes) == 3
    assert [t.get_text() for t in axes[0].get_xticklabels()] == ["0", "0.01", "0.1", "1"]
    assert axes[0].get_xlim()[0] < 0  # gamma = 0 is on the axis
    assert any(line.get_label() == "constant predictor" for line in axes[2].get_lines())
    assert axes[2].get_ylabel().startswith("test MAE")
