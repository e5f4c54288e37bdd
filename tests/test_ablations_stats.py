"""The ablation statistics on crafted grids whose answers are known."""

import matplotlib
import matplotlib.collections

matplotlib.use("Agg")

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps

from amccl.ablations.stats import format_paired, holm, paired_pvalue, paired_summary

SEEDS = list(range(1111, 1119))  # 8 seeds


def crafted_rows() -> pd.DataFrame:
    """full: noisy baseline; shift: +0.02 (2 points) plus small noise; null: full plus
    symmetric zero-mean noise (its differences average to exactly 0)."""
    rng = np.random.default_rng(0)
    base = 0.80 + rng.normal(0, 0.01, len(SEEDS))
    mae = 0.90 + rng.normal(0, 0.01, len(SEEDS))
    shift_noise = rng.normal(0, 0.001, len(SEEDS))
    sym = np.array([0.003, -0.003, 0.005, -0.005, 0.001, -0.001, 0.004, -0.004])
    rows = []
    for i, seed in enumerate(SEEDS):
        rows.append(dict(variant="full", seed=seed, Has0_acc_2=base[i], MAE=mae[i]))
        rows.append(dict(variant="shift", seed=seed, Has0_acc_2=base[i] + 0.02 + shift_noise[i],
                         MAE=mae[i] + 0.02 + shift_noise[i]))
        rows.append(dict(variant="null", seed=seed, Has0_acc_2=base[i] + sym[i], MAE=mae[i] + sym[i]))
    return pd.DataFrame(rows)


def pick(summ: pd.DataFrame, variant: str, metric: str = "Has0_acc_2") -> pd.Series:
    return summ[(summ.variant == variant) & (summ.metric == metric)].iloc[0]


def test_means_and_stds_are_the_crafted_fractions():
    rows = crafted_rows()
    summ = paired_summary(rows)
    assert list(summ.variant.unique()) == ["full", "shift", "null"]
    assert list(summ.metric.unique()) == ["Has0_acc_2", "MAE"]  # display order, not column order
    for variant in ("full", "shift", "null"):
        values = rows.loc[rows.variant == variant, "Has0_acc_2"].to_numpy()
        rec = pick(summ, variant)
        assert rec["n"] == 8
        assert rec["mean"] == pytest.approx(values.mean(), abs=1e-12)
        assert rec["std"] == pytest.approx(values.std(ddof=0), abs=1e-12)  # MMSA's np.std
    assert pick(paired_summary(rows, ddof=1), "full")["std"] == pytest.approx(
        rows.loc[rows.variant == "full", "Has0_acc_2"].std(ddof=1))


def test_constant_shift_is_significant_and_its_interval_holds_the_shift():
    summ = paired_summary(crafted_rows())
    rec = pick(summ, "shift")
    assert rec["diff"] == pytest.approx(0.02, abs=0.001)
    assert rec["diff_ci_low"] < 0.02 < rec["diff_ci_high"]
    assert rec["diff_ci_low"] > 0
    assert rec["significant"] and rec["verdict"] == "better"
    # MAE rose by 2: lower is better, so the same shift is significantly worse.
    mae = pick(summ, "shift", "MAE")
    assert mae["significant"] and mae["verdict"] == "worse"


def test_symmetric_zero_mean_noise_is_not_significant():
    rec = pick(paired_summary(crafted_rows()), "null")
    assert rec["diff"] == pytest.approx(0.0, abs=1e-9)
    assert rec["diff_ci_low"] < 0 < rec["diff_ci_high"]
    assert rec["p_value"] > 0.9 and rec["p_holm"] > 0.9
    assert not rec["significant"] and rec["verdict"] == "n.s."


def test_paired_t_interval_and_p_match_a_hand_computation():
    rows = crafted_rows()
    rec = pick(paired_summary(rows, alpha=0.05), "shift")
    wide = rows.pivot(index="seed", columns="variant", values="Has0_acc_2")
    d = (wide["shift"] - wide["full"]).to_numpy()
    half = sps.t.ppf(0.975, len(d) - 1) * d.std(ddof=1) / np.sqrt(len(d))
    assert rec["diff_ci_low"] == pytest.approx(d.mean() - half)
    assert rec["diff_ci_high"] == pytest.approx(d.mean() + half)
    assert rec["p_value"] == pytest.approx(sps.ttest_rel(wide["shift"], wide["full"]).pvalue)
    base = pick(paired_summary(rows), "full")
    assert np.isnan(base["p_value"]) and base["verdict"] == "baseline" and not base["significant"]


def test_pairing_finds_a_small_consistent_shift_that_seed_spread_hides():
    rng = np.random.default_rng(1)
    base = 0.8 + rng.normal(0, 0.02, len(SEEDS))  # seed luck of ±2 points
    rows = pd.DataFrame(
        [dict(variant="full", seed=s, Corr=b) for s, b in zip(SEEDS, base)]
        + [dict(variant="tiny", seed=s, Corr=b + 0.004 + 0.0005 * (-1) ** i)
           for i, (s, b) in enumerate(zip(SEEDS, base))]
    )
    rec = pick(paired_summary(rows), "tiny", "Corr")
    unpaired = sps.ttest_ind(rows[rows.variant == "tiny"].Corr, rows[rows.variant == "full"].Corr).pvalue
    assert unpaired > 0.5  # an unpaired test sees nothing
    assert rec["significant"] and rec["diff"] == pytest.approx(0.004, abs=1e-11)


def test_holm_matches_a_hand_computation():
    # sorted 0.01, 0.03, 0.04 -> 3·0.01 = 0.03, 2·0.03 = 0.06, max(0.06, 1·0.04) = 0.06
    np.testing.assert_allclose(holm([0.01, 0.04, 0.03]), [0.03, 0.06, 0.06])
    np.testing.assert_allclose(holm([np.nan, 0.01, 0.04, 0.03]), [np.nan, 0.03, 0.06, 0.06])
    np.testing.assert_allclose(holm([0.5, 0.6]), [1.0, 1.0])  # capped at 1
    assert holm([]).size == 0


def test_holm_is_applied_across_variants_per_metric():
    summ = paired_summary(crafted_rows())
    for metric in ("Has0_acc_2", "MAE"):
        block = summ[(summ.metric == metric) & (summ.variant != "full")]
        np.testing.assert_allclose(block.p_holm, holm(block.p_value))


def test_bootstrap_interval_is_seeded_and_independent_of_other_variants():
    rows = crafted_rows()
    a = pick(paired_summary(rows, method="bootstrap", n_boot=2000), "shift")
    b = pick(paired_summary(rows[rows.variant != "null"], method="bootstrap", n_boot=2000), "shift")
    assert a["diff_ci_low"] == b["diff_ci_low"] and a["diff_ci_high"] == b["diff_ci_high"]
    assert a["diff_ci_low"] < 0.02 < a["diff_ci_high"] and a["diff_ci_low"] > 0.015
    c = pick(paired_summary(rows, method="bootstrap", n_boot=2000, random_state=7), "shift")
    assert c["diff_ci_low"] != a["diff_ci_low"]


def test_wilcoxon_option():
    summ = paired_summary(crafted_rows(), test="wilcoxon")
    assert pick(summ, "shift")["p_value"] == pytest.approx(2 / 2**8)  # exact: all 8 signs positive
    assert not pick(summ, "null")["significant"]


def test_fewer_than_two_seeds_give_nan_not_errors():
    rows = crafted_rows()
    one = rows[rows.seed == SEEDS[0]]
    summ = paired_summary(one)
    rec = pick(summ, "shift")
    assert rec["n"] == 1 and rec["n_pairs"] == 1
    assert np.isnan(rec["diff_ci_low"]) and np.isnan(rec["p_value"]) and not rec["significant"]
    assert rec["diff"] == pytest.approx(one[one.variant == "shift"].Has0_acc_2.iloc[0]
                                               - one[one.variant == "full"].Has0_acc_2.iloc[0])


def test_pairs_use_only_the_seeds_both_variants_have():
    rows = crafted_rows()
    rows = rows[~((rows.variant == "shift") & rows.seed.isin(SEEDS[:3]))]
    rec = pick(paired_summary(rows), "shift")
    assert rec["n"] == 5 and rec["n_pairs"] == 5


def test_constant_differences_have_p_zero_or_one():
    assert paired_pvalue(np.array([2.0, 2.0, 2.0])) == 0.0
    assert paired_pvalue(np.zeros(4)) == 1.0
    assert np.isnan(paired_pvalue(np.array([1.0])))


def test_bad_inputs_raise_clear_errors():
    rows = crafted_rows()
    with pytest.raises(ValueError, match="same \\(variant, seed\\)"):
        paired_summary(pd.concat([rows, rows.iloc[:1]]))
    with pytest.raises(ValueError, match="baseline 'nope'"):
        paired_summary(rows, baseline="nope")
    with pytest.raises(KeyError, match="metrics not in rows"):
        paired_summary(rows, metrics=["Mult_acc_7"])
    with pytest.raises(ValueError, match="method"):
        paired_summary(rows, method="jackknife")


def test_format_table_prints_mean_std_and_starred_differences():
    summ = paired_summary(crafted_rows())
    means = format_paired(summ, "mean")
    diffs = format_paired(summ, "diff")
    assert list(means.index) == ["full", "shift", "null"] and list(means.columns) == ["Has0_acc_2", "MAE"]
    rec = pick(summ, "full")
    assert means.loc["full", "Has0_acc_2"] == f"{100 * rec['mean']:.2f} ± {100 * rec['std']:.2f}"  # in %
    mae = pick(summ, "full", "MAE")
    assert means.loc["full", "MAE"] == f"{mae['mean']:.4f} ± {mae['std']:.4f}"  # a fraction
    assert diffs.loc["full", "MAE"] == "—"
    assert diffs.loc["shift", "Has0_acc_2"].startswith("+2.") and diffs.loc["shift", "Has0_acc_2"].endswith(" *")
    assert diffs.loc["shift", "MAE"].startswith("+0.02") and diffs.loc["shift", "MAE"].endswith(" *")  # 4 decimals
    assert not diffs.loc["null", "Has0_acc_2"].endswith("*")


def test_plot_grid_draws_every_seed_and_labels_axes(tmp_path):
    from amccl.plotting import plot_grid

    rows = crafted_rows()
    fig = plot_grid(rows, "Has0_acc_2")
    ax = fig.axes[0]
    scatters = [c for c in ax.collections if isinstance(c, matplotlib.collections.PathCollection)]
    assert sum(len(c.get_offsets()) for c in scatters) == len(rows)  # one dot per run
    assert [t.get_text() for t in ax.get_yticklabels()] == ["full", "shift", "null"]
    assert list(ax.get_yticks()) == [2, 1, 0]  # baseline on top
    assert any(t.get_text().startswith("Δ +2.") and t.get_text().endswith("*") for t in ax.texts)
    assert ax.get_xlabel().startswith("Has0_acc_2 (%)") and ax.get_ylabel() == "variant"
    assert 75 < ax.get_xlim()[0] < ax.get_xlim()[1] < 90  # percent, not fractions
    mae_ax = plot_grid(rows, "MAE").axes[0]
    assert mae_ax.get_xlabel().startswith("MAE —") and mae_ax.get_xlim()[1] < 1.5  # a fraction
    assert any(t.get_text().startswith("Δ +0.02") for t in mae_ax.texts)
    fig.savefig(tmp_path / "fig.png")
    assert (tmp_path / "fig.png").stat().st_size > 0


def test_grid_verdict_names_the_significant_variants_or_says_none():
    import pandas as pd

    from amccl.ablations.stats import grid_verdict

    rows = [dict(variant="full", metric="MAE", significant=False, verdict="baseline", diff=0.0),
            dict(variant="no_se", metric="MAE", significant=True, verdict="worse", diff=0.025),
            dict(variant="no_se", metric="Corr", significant=False, verdict="n.s.", diff=-0.01),
            dict(variant="no_cl", metric="MAE", significant=False, verdict="n.s.", diff=0.004),
            dict(variant="no_cl", metric="Corr", significant=True, verdict="better", diff=0.0325),
            dict(variant="no_cl", metric="Has0_acc_2", significant=True, verdict="worse", diff=-0.0125)]
    summ = pd.DataFrame(rows)
    assert grid_verdict(summ, 5) == ("Significant after Holm correction at 5 seeds: no_se worse on MAE (Δ +0.0250); "
                                     "no_cl better on Corr (Δ +0.0325); no_cl worse on Has0_acc_2 (Δ -1.25 points); "
                                     "everything else n.s.")
    none = summ.assign(significant=False)
    assert grid_verdict(none, 3) == ("No difference to `full` is significant after Holm correction at 3 seeds "
                                     "on this data (2 variants × 3 metrics).")


def test_seed_budget_verdict_reads_the_median_spread_in_display_units():
    from amccl.ablations.power import detectable_difference, seeds_needed
    from amccl.ablations.stats import seed_budget_verdict

    summ = pd.DataFrame({"metric": ["Has0_acc_2"] * 4, "variant": ["full", "a", "b", "c"],
                         "diff_sd": [np.nan, 0.01, 0.02, 0.05]})  # fractions: median 0.02 = 2 points
    assert seed_budget_verdict(summ, "Has0_acc_2", 3) == (
        f"Has0_acc_2: with the median spread of the paired differences (s = 2.00 points), 3 seeds detect "
        f"±{detectable_difference(2.0, 3):.2f} points, five seeds (MMSA) ±{detectable_difference(2.0, 5):.2f}; "
        f"finding a 1-point change takes {seeds_needed(1.0, 2.0)} seeds.")
    mae = summ.assign(metric="MAE")
    assert "(s = 0.02)" in seed_budget_verdict(mae, "MAE", 3, step=0.05)
    assert f"a change of 0.05 takes {seeds_needed(0.05, 0.02)} seeds" in seed_budget_verdict(mae, "MAE", 3, step=0.05)
    with pytest.raises(ValueError, match="no comparison for metric 'Corr'"):
        seed_budget_verdict(summ, "Corr", 3)
