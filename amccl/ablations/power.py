"""How many seeds? The power of the seed-paired t-tests of :func:`~amccl.ablations.stats.paired_summary`.

On n pairs whose differences have sample std ``sd``, a true mean difference ``delta`` gives a noncentral t
statistic (``n - 1`` degrees of freedom, noncentrality ``delta / sd · sqrt(n)``). The functions below match
``statsmodels``' ``TTestPower`` where its solver converges (and work at small n, where it turns NaN). The
level is per comparison; Holm's correction asks more. No torch.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import optimize
from scipy import stats as sps

POWER = 0.8  # the conventional 80 % power
ALPHA = 0.05


def _check_levels(alpha: float, power: float) -> None:
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must be in (0, 1), got {alpha}")
    if not alpha < power < 1:
        raise ValueError(f"power must be in (alpha, 1) = ({alpha}, 1), got {power}")


def paired_power(effect: float, n: int, alpha: float = ALPHA) -> float:
    """Power of the two-sided paired t-test with ``n`` pairs at standardised effect
    ``effect = delta / sd`` (Cohen's d of the differences); NaN for n < 2."""
    if n < 2 or not np.isfinite(effect):
        return float("nan")
    df, nc = float(n - 1), abs(float(effect)) * math.sqrt(n)
    crit = sps.t.ppf(1 - alpha / 2, df)
    far = sps.nct.sf(crit, df, -nc)  # = P(T < -crit): by symmetry; scipy's cdf there can be NaN
    return float(sps.nct.sf(crit, df, nc) + np.nan_to_num(far))


def detectable_effect(n: int, alpha: float = ALPHA, power: float = POWER) -> float:
    """The standardised effect ``delta / sd`` the paired t-test finds with probability
    ``power`` at level ``alpha`` with ``n`` pairs; NaN for n < 2."""
    _check_levels(alpha, power)
    if n < 2:
        return float("nan")
    high = 1.0
    while paired_power(high, n, alpha) < power:  # bracket the root; power -> 1 as effect -> inf
        high *= 2.0
    return float(optimize.brentq(lambda d: paired_power(d, n, alpha) - power, 0.0, high, xtol=1e-12, rtol=1e-12))


def detectable_difference(sd_diff: float, n: int, alpha: float = ALPHA, power: float = POWER) -> float:
    """The smallest mean paired difference a two-sided paired t-test on ``n`` pairs finds with
    probability ``power`` at level ``alpha``: ``detectable_effect(n) · sd_diff`` (``sd_diff``:
    sample std of the differences); NaN for n < 2 or a NaN spread; 0 for no spread."""
    _check_levels(alpha, power)
    if n < 2 or not np.isfinite(sd_diff):
        return float("nan")
    if sd_diff == 0:
        return 0.0
    return detectable_effect(n, alpha, power) * abs(float(sd_diff))


def seeds_needed(delta: float, sd_diff: float, alpha: float = ALPHA, power: float = POWER) -> int | float:
    """The fewest pairs (at least 2) with which a two-sided paired t-test finds a true mean
    difference ``delta`` with probability ``power`` (differences' std ``sd_diff``): an ``int``;
    2 when ``sd_diff`` is 0; ``math.inf`` when ``delta`` is 0; NaN when either is NaN."""
    _check_levels(alpha, power)
    if not (np.isfinite(delta) and np.isfinite(sd_diff)):
        return float("nan")
    if delta == 0:
        return math.inf
    if sd_diff == 0:
        return 2
    effect = abs(float(delta)) / abs(float(sd_diff))
    low, high = 1, 2  # power(low) < power <= power(high); power grows with n
    while paired_power(effect, high, alpha) < power:
        low, high = high, high * 2
    while high - low > 1:
        mid = (low + high) // 2
        low, high = (low, mid) if paired_power(effect, mid, alpha) >= power else (mid, high)
    return high


def format_seeds(n: float, cap: int = 1000) -> str:
    """``seeds_needed`` for a table: ``"12"``, ``"> 1000"`` above ``cap``, ``"—"`` for NaN."""
    if n is None or (isinstance(n, float) and math.isnan(n)):
        return "—"
    return f"> {cap}" if n > cap else str(int(n))


def null_reading(detectable: float, n: int, unit: str = "", alpha: float = ALPHA, power: float = POWER,
                 digits: int = 2) -> str:
    """The reading of a not-significant comparison, e.g. ``"no difference larger than ±1.23
    points at 3 seeds (80 % power, two-sided alpha 0.05)"``; says when n is too small or the
    differences were all 0."""
    if n < 2 or not np.isfinite(detectable):
        return f"nothing can be said at {n} seed{'s' if n != 1 else ''}: a paired test needs at least 2"
    if detectable == 0:  # no spread and not significant: the differences were all exactly 0
        return f"no difference at all: identical on all {n} seeds"
    unit = f" {unit}" if unit else ""
    return (f"no difference larger than ±{detectable:.{digits}f}{unit} at {n} seeds "
            f"({power * 100:.0f} % power, two-sided alpha {alpha:g})")
