"""How many seeds: the paired t-test's power against statsmodels, closed forms and edge cases."""

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps
from statsmodels.stats.power import TTestPower

from amccl.ablations.power import (
    detectable_difference,
    detectable_effect,
    format_seeds,
    null_reading,
    paired_power,
    seeds_needed,
)
from amccl.ablations.stats import format_paired, paired_summary, power_verdict

SM = TTestPower()  # the one-sample (= paired) t-test


@pytest.mark.parametrize("n", [5, 8, 20, 100])
@pytest.mark.parametrize(("alpha", "power"), [(0.05, 0.8), (0.01, 0.9), (0.1, 0.5)])
def test_detectable_effect_matches_statsmodels(n, alpha, power):
    # (below 5 pairs at alpha 0.01 statsmodels returns NaN power, so its solver stops early)
    expected = SM.solve_power(effect_size=None, nobs=n, alpha=alpha, power=power, alternative="two-sided")
    assert detectable_effect(n, alpha, power) == pytest.approx(expected, rel=1e-5)


@pytest.mark.parametrize("effect", [0.1, 0.3, 0.5, 0.8, 1.0, 1.5, 2.0])
@pytest.mark.parametrize(("alpha", "power"), [(0.05, 0.8), (0.01, 0.9)])
def test_seeds_needed_is_the_ceiling_of_statsmodels_n(effect, alpha, power):
    n = SM.solve_power(effect_size=effect, nobs=None, alpha=alpha, power=power, alternative="two-sided")
    assert seeds_needed(effect * 2.5, 2.5, alpha, power) == math.ceil(n)  # only delta / sd matters


@pytest.mark.parametrize(("effect", "n"), [(0.5, 2), (3.0, 2), (5.67, 2), (1.5, 3), (2.5, 3), (3.7, 4)])
def test_power_matches_statsmodels_where_its_solver_stops_at_two_seeds(effect, n):
    assert paired_power(effect, n) == pytest.approx(SM.power(effect, n, 0.05, alternative="two-sided"), abs=1e-12)


def test_seeds_needed_is_the_first_n_that_reaches_the_power():
    for effect in (0.4, 1.0, 2.6, 5.67, 9.0):
        n = seeds_needed(effect, 1.0)
        assert paired_power(effect, n) >= 0.8
        assert n == 2 or paired_power(effect, n - 1) < 0.8
    assert seeds_needed(5.67, 1.0) == 3  # n = 2 has power 0.47 only (one degree of freedom)


def test_large_n_approaches_the_normal_closed_form():
    # (z_{0.975} + z_{0.8}) · sd / sqrt(n) = 2.8016 · sd / sqrt(n) as the t-test becomes a z-test
    z = sps.norm.ppf(0.975) + sps.norm.ppf(0.8)
    assert detectable_difference(2.0, 10_000) == pytest.approx(z * 2.0 / 100, rel=1e-3)
    assert seeds_needed(0.1, 1.0) == pytest.approx((z / 0.1) ** 2, rel=0.01)


def test_detectable_difference_scales_with_the_spread_and_shrinks_with_n():
    assert detectable_difference(3.0, 5) == pytest.approx(3 * detectable_difference(1.0, 5))
    assert detectable_difference(-3.0, 5) == detectable_difference(3.0, 5)
    values = [detectable_difference(1.0, n) for n in (2, 3, 5, 10, 30)]
    assert all(a > b for a, b in zip(values, values[1:]))
    assert paired_power(detectable_effect(5), 5) == pytest.approx(0.8, abs=1e-9)


def test_edge_cases_give_nan_or_clear_values():
    assert math.isnan(detectable_difference(1.0, 1)) and math.isnan(detectable_difference(1.0, 0))
    assert math.isnan(detectable_difference(float("nan"), 5))
    assert detectable_difference(0.0, 5) == 0.0  # no spread: any constant shift is found
    assert seeds_needed(1.0, 0.0) == 2
    assert seeds_needed(0.0, 1.0) == math.inf  # nothing to find
    assert math.isnan(seeds_needed(1.0, float("nan"))) and math.isnan(seeds_needed(float("nan"), 1.0))
    assert math.isnan(paired_power(1.0, 1))
    with pytest.raises(ValueError, match="power"):
        detectable_difference(1.0, 5, alpha=0.05, power=1.0)
    with pytest.raises(ValueError, match="alpha"):
        seeds_needed(1.0, 1.0, alpha=0.0)


def test_null_reading_and_seed_formatting():
    assert null_reading(1.234, 3, "points") == ("no difference larger than ±1.23 points at 3 seeds "
                                                "(80 % power, two-sided alpha 0.05)")
    assert null_reading(float("nan"), 1).startswith("nothing can be said at 1 seed:")
    assert null_reading(0.0, 3) == "no difference at all: identical on all 3 seeds"
    assert [format_seeds(x) for x in (12, 1000, 1001, math.inf, float("nan"))] == ["12", "1000", "> 1000",
                                                                                   "> 1000", "—"]


def _rows() -> pd.DataFrame:
    """full and two variants on 5 seeds; differences (fractions) known exactly."""
    seeds = [1, 2, 3, 4, 5]
    base = np.array([0.80, 0.82, 0.78, 0.81, 0.79])
    shift = np.array([2.0, 2.2, 1.8, 2.1, 1.9]) / 100  # mean 2, sd ~0.158: clearly found
    null = np.array([1.0, -1.0, 0.5, -0.5, 0.0]) / 100  # mean 0, sd 0.79
    return pd.DataFrame([dict(variant=v, seed=s, Corr=b + d) for v, ds in (("full", 0 * base), ("shift", shift),
                                                                           ("null", null))
                         for s, b, d in zip(seeds, base, ds)])


def test_summary_adds_detectable_and_seeds_needed_per_comparison():
    summ = paired_summary(_rows(), ["Corr"])
    rec = summ.set_index("variant")
    d_null = np.array([1.0, -1.0, 0.5, -0.5, 0.0]) / 100
    assert rec.loc["null", "diff_sd"] == pytest.approx(d_null.std(ddof=1))
    assert rec.loc["null", "detectable"] == pytest.approx(detectable_effect(5) * d_null.std(ddof=1))
    assert rec.loc["null", "seeds_needed"] == math.inf  # mean difference exactly 0
    d_shift = np.array([2.0, 2.2, 1.8, 2.1, 1.9]) / 100
    assert rec.loc["shift", "seeds_needed"] == seeds_needed(d_shift.mean(), d_shift.std(ddof=1)) == 2
    assert np.isnan(rec.loc["full", "detectable"]) and np.isnan(rec.loc["full", "seeds_needed"])
    assert paired_summary(_rows(), ["Corr"], power=0.9).set_index("variant").loc["null", "detectable"] > rec.loc[
        "null", "detectable"]
    assert format_paired(summ, "detectable").loc["null", "Corr"] == f"±{rec.loc['null', 'detectable']:.4f}"  # a fraction
    assert format_paired(summ, "seeds_needed").loc["null", "Corr"] == "> 1000"
    assert format_paired(summ, "seeds_needed").loc["full", "Corr"] == "—"


def test_power_verdict_reads_the_null_results():
    summ = paired_summary(_rows(), ["Corr"])
    det = summ.set_index("variant").loc["null", "detectable"]
    assert power_verdict(summ, "Corr") == (
        f"Corr: 1 of 2 variants n.s. against `full`; no difference larger than ±{det:.4f} at 5 seeds "
        "(80 % power, two-sided alpha 0.05).")
    two = summ.assign(significant=False)
    low, high = sorted(two.loc[two.variant != "full", "detectable"])
    assert power_verdict(two, "Corr").startswith(
        f"Corr: 2 of 2 variants n.s. against `full`; no difference larger than ±{low:.4f} to ±{high:.4f} (median")
    acc = paired_summary(_rows().rename(columns={"Corr": "Has0_acc_2"}), ["Has0_acc_2"])  # accuracies: in points
    det_acc = acc.set_index("variant").loc["null", "detectable"]
    assert f"no difference larger than ±{100 * det_acc:.2f} points at 5 seeds" in power_verdict(acc, "Has0_acc_2")
    assert power_verdict(summ.assign(significant=summ.variant != "full"), "Corr") == (
        "Corr: every variant differs significantly from `full`.")
    with pytest.raises(ValueError, match="MAE"):
        power_verdict(summ, "MAE")
