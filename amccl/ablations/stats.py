"""Seed-paired statistics of an ablation grid: which differences to the baseline are real.

A variant is compared with the baseline on the *same* seeds (docs/model.md §6), so the luck both runs share
cancels. Intervals are per comparison; ``significant`` is Holm-adjusted over the variants. With five seeds the
exact Wilcoxon test cannot go below p = 0.0625: use the t-test (the default) or more seeds. Rows and summaries
hold fractions; :func:`format_paired`, :func:`grid_verdict` and :func:`power_verdict` print through
:mod:`amccl.metrics`' one display. No torch.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable

import numpy as np
import pandas as pd
from scipy import stats as sps

from amccl.ablations.power import ALPHA, POWER, detectable_difference, format_seeds, null_reading, seeds_needed
from amccl.metrics import (
    LOWER_IS_BETTER,
    display_digits,
    display_scale,
    display_unit,
    format_mean_std,
    format_value,
    metric_columns,
)

PAIRED_COLUMNS = ["variant", "metric", "n", "mean", "std", "mean_ci_low", "mean_ci_high",
                   "n_pairs", "diff", "diff_ci_low", "diff_ci_high", "p_value", "p_holm",
                   "significant", "verdict", "diff_sd", "detectable", "seeds_needed"]
FORMATS = ("mean", "diff", "detectable", "seeds_needed")  # the cells format_paired can print


def holm(pvalues: Iterable[float]) -> np.ndarray:
    """Holm's step-down adjusted p-values, in the input order; NaN entries stay NaN."""
    p = np.asarray(list(pvalues), dtype=float)
    out, finite = np.full(p.shape, np.nan), np.flatnonzero(~np.isnan(p))
    order = finite[np.argsort(p[finite], kind="stable")]
    out[order] = np.maximum.accumulate(np.minimum(1.0, (finite.size - np.arange(finite.size)) * p[order]))
    return out


def paired_summary(
    rows: pd.DataFrame,
    metrics: Iterable[str] | None = None,
    baseline: str | None = "full",
    alpha: float = 0.05,
    method: str = "t",
    test: str = "t",
    n_boot: int = 10_000,
    random_state: int = 0,
    ddof: int = 0,
    power: float = POWER,
) -> pd.DataFrame:
    """Mean ± std per variant and metric, and the seed-paired difference to ``baseline``.

    Args:
        rows: one row per (variant, seed), e.g. :func:`amccl.ablations.grid.run_grid`'s output.
        metrics: default every MMSA metric present; baseline: ``None`` fills no comparison.
        alpha: 1 - confidence of the intervals, and the significance level.
        method: ``"t"`` or ``"bootstrap"`` (``n_boot`` resamples seeded by ``random_state``).
        test: ``"t"`` or ``"wilcoxon"``; ddof: of ``std`` (intervals use the sample std).
        power: of ``detectable`` and ``seeds_needed`` (t-test at ``alpha``).

    Returns:
        :data:`PAIRED_COLUMNS`, one row per (variant, metric), baseline first; NaN intervals and
        p-values below two seeds.
    """
    if method not in ("t", "bootstrap"):
        raise ValueError(f"method must be 't' or 'bootstrap', got {method!r}")
    if test not in ("t", "wilcoxon"):
        raise ValueError(f"test must be 't' or 'wilcoxon', got {test!r}")
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must be in (0, 1), got {alpha}")
    for col in ("variant", "seed"):
        if col not in rows.columns:
            raise KeyError(f"rows have no {col!r} column (columns: {list(rows.columns)})")
    metrics = list(metrics) if metrics is not None else metric_columns(rows)
    if not metrics:
        raise ValueError("no metric columns: pass metrics=[...]")
    missing = [m for m in metrics if m not in rows.columns]
    if missing:
        raise KeyError(f"metrics not in rows: {missing}")
    dup = rows.duplicated(["variant", "seed"])
    if dup.any():
        pairs = rows.loc[dup, ["variant", "seed"]].drop_duplicates().values.tolist()
        raise ValueError(f"several rows for the same (variant, seed): {pairs}")
    variants = list(dict.fromkeys(rows["variant"]))
    if baseline is not None:
        if baseline not in variants:
            raise ValueError(f"baseline {baseline!r} has no rows; variants present: {variants}")
        variants = [baseline, *(v for v in variants if v != baseline)]
    out = []
    for metric in metrics:
        table = rows.pivot(index="seed", columns="variant", values=metric).astype(float)
        base = table[baseline] if baseline is not None else None
        block = []
        for variant in variants:
            values = table[variant].dropna().to_numpy()
            low, high = _interval(values, alpha, method, n_boot, _rng(random_state, variant, metric, "mean"))
            rec = dict(variant=variant, metric=metric, n=values.size,
                       mean=values.mean() if values.size else np.nan,
                       std=values.std(ddof=ddof) if values.size > max(ddof, 0) else np.nan,
                       mean_ci_low=low, mean_ci_high=high, n_pairs=0, diff=np.nan,
                       diff_ci_low=np.nan, diff_ci_high=np.nan, p_value=np.nan, diff_sd=np.nan,
                       detectable=np.nan, seeds_needed=np.nan)
            if base is not None and variant != baseline:
                diffs = (table[variant] - base).dropna().to_numpy()
                rng = _rng(random_state, variant, metric, "diff")
                rec.update(n_pairs=diffs.size, diff=diffs.mean() if diffs.size else np.nan,
                           p_value=paired_pvalue(diffs, test))
                rec["diff_ci_low"], rec["diff_ci_high"] = _interval(diffs, alpha, method, n_boot, rng)
                sd = diffs.std(ddof=1) if diffs.size > 1 else np.nan
                rec.update(diff_sd=sd, detectable=detectable_difference(sd, diffs.size, alpha, power),
                           seeds_needed=seeds_needed(rec["diff"], sd, alpha, power))
            block.append(rec)
        for rec, p_adj in zip(block, holm([r["p_value"] for r in block])):
            rec.update(p_holm=p_adj, significant=bool(p_adj < alpha))  # NaN compares False
            rec["verdict"] = _verdict(rec, metric, baseline)
        out.extend(block)
    frame = pd.DataFrame(out, columns=PAIRED_COLUMNS).astype({"n": int, "n_pairs": int, "significant": bool})
    frame.attrs.update(alpha=alpha, power=power)  # what power_verdict quotes
    return frame


def paired_pvalue(diffs: np.ndarray, test: str = "t") -> float:
    """Two-sided p-value (``t`` or ``wilcoxon``) that ``diffs`` are centred on zero; NaN for
    fewer than two; equal differences: 1 if all zero, else 0 (a constant shift)."""
    diffs = np.asarray(diffs, dtype=float)
    if diffs.size < 2:
        return float("nan")
    if np.all(diffs == diffs[0]):
        return 1.0 if diffs[0] == 0 else 0.0
    if test == "wilcoxon":
        return float(sps.wilcoxon(diffs).pvalue)
    return float(sps.ttest_rel(diffs, np.zeros_like(diffs)).pvalue)


def _rng(random_state: int, *names: str) -> np.random.Generator:
    """A bootstrap stream per (variant, metric, quantity), whatever else is in the table."""
    return np.random.default_rng([random_state, zlib.crc32("\x1f".join(names).encode())])


def _interval(values: np.ndarray, alpha: float, method: str, n_boot: int,
              rng: np.random.Generator) -> tuple[float, float]:
    """A 1 - alpha interval of the mean of ``values``; NaN for fewer than two values."""
    if method != "bootstrap" or values.size < 2:
        return t_interval(values, alpha)
    means = values[rng.integers(0, values.size, size=(n_boot, values.size))].mean(axis=1)
    low, high = np.quantile(means, [alpha / 2, 1 - alpha / 2])
    return float(low), float(high)


def t_interval(values: np.ndarray, alpha: float = 0.05) -> tuple[float, float]:
    """The Student-t ``1 - alpha`` interval of the mean of ``values`` (N,); NaN for N < 2."""
    n = values.size
    if n < 2:
        return float("nan"), float("nan")
    mean = values.mean()
    half = sps.t.ppf(1 - alpha / 2, n - 1) * values.std(ddof=1) / np.sqrt(n)
    return float(mean - half), float(mean + half)


def _verdict(rec: dict, metric: str, baseline: str | None) -> str:
    if rec["variant"] == baseline:
        return "baseline"
    if baseline is None or np.isnan(rec["p_holm"]):
        return ""
    if not rec["significant"]:
        return "n.s."
    improved = rec["diff"] < 0 if metric in LOWER_IS_BETTER else rec["diff"] > 0
    return "better" if improved else "worse"


def format_paired(summ: pd.DataFrame, value: str = "mean") -> pd.DataFrame:
    """A :func:`paired_summary` as strings, one row per variant and one column per metric: ``value`` ``"mean"`` ->
    ``"85.31 ± 0.42"``; ``"diff"`` -> ``"-1.20 [-2.10, -0.30] *"`` (``*``: Holm-significant; the baseline reads
    ``"—"``); ``"detectable"`` -> ``"±2.31"``; ``"seeds_needed"`` -> ``"14"`` (``"> 1000"`` beyond that)."""
    if value not in FORMATS:
        raise ValueError(f"value must be one of {FORMATS}, got {value!r}")

    def cell(r: pd.Series) -> str:
        metric = r["metric"]
        if value == "mean":
            return format_mean_std(r["mean"], r["std"], metric)
        if r["verdict"] == "baseline":
            return "—"
        if value == "detectable":
            return f"±{format_value(r['detectable'], metric)}"
        if value == "seeds_needed":
            return format_seeds(r["seeds_needed"])
        star = " *" if r["significant"] else ""
        low, high = (format_value(r[k], metric, signed=True) for k in ("diff_ci_low", "diff_ci_high"))
        return f"{format_value(r['diff'], metric, signed=True)} [{low}, {high}]{star}"

    cells = summ.assign(cell=summ.apply(cell, axis=1))
    table = cells.pivot(index="variant", columns="metric", values="cell")
    table = table.loc[list(dict.fromkeys(summ["variant"])), list(dict.fromkeys(summ["metric"]))]
    table.columns.name, table.index.name = None, "variant"
    return table


def grid_verdict(summ: pd.DataFrame, n_seeds: int, baseline: str = "full") -> str:
    """One sentence: which variants of a :func:`paired_summary` differ significantly from
    ``baseline`` after Holm correction (better/worse, metric, Δ), or that none do."""
    others = summ[summ["variant"] != baseline]
    sig = others[others["significant"].astype(bool)]
    if sig.empty:
        return (f"No difference to `{baseline}` is significant after Holm correction at {n_seeds} seeds on this "
                f"data ({others['variant'].nunique()} variants × {summ['metric'].nunique()} metrics).")
    parts = [f"{r.variant} {r.verdict} on {r.metric} (Δ {format_value(r.diff, r.metric, signed=True)}"
             + (f" {display_unit(r.metric)})" if display_unit(r.metric) else ")") for r in sig.itertuples()]
    return f"Significant after Holm correction at {n_seeds} seeds: " + "; ".join(parts) + "; everything else n.s."


def power_verdict(summ: pd.DataFrame, metric: str, baseline: str = "full", unit: str | None = None) -> str:
    """One sentence on the not-significant comparisons of ``metric`` in a :func:`paired_summary`:
    the difference they rule out ("no difference larger than ±X"; a range over several variants),
    ``unit`` by default the metric's (``points`` or none)."""
    block = summ[(summ["metric"] == metric) & (summ["variant"] != baseline)]
    if block.empty:
        raise ValueError(f"the summary has no comparison for metric {metric!r}")
    nulls = block[~block["significant"].astype(bool)]
    if nulls.empty:
        return f"{metric}: every variant differs significantly from `{baseline}`."
    alpha, power = summ.attrs.get("alpha", ALPHA), summ.attrs.get("power", POWER)
    det, pairs = nulls["detectable"].to_numpy(float), nulls["n_pairs"].to_numpy(int)
    unit = display_unit(metric) if unit is None else unit
    head = f"{metric}: {len(nulls)} of {len(block)} variants n.s. against `{baseline}`"
    if len(nulls) == 1 or not np.isfinite(det).any() or np.nanmin(det) == np.nanmax(det):
        shown = float(det[0]) * display_scale(metric)
        return f"{head}; {null_reading(shown, int(pairs.min()), unit, alpha, power, display_digits(metric))}."
    n = f"{pairs.min()}" if pairs.min() == pairs.max() else f"{pairs.min()}–{pairs.max()}"
    low, high, median = (format_value(x, metric) for x in (np.nanmin(det), np.nanmax(det), np.nanmedian(det)))
    return (f"{head}; no difference larger than ±{low} to ±{high}{' ' + unit if unit else ''} "
            f"(median ±{median}) at {n} seeds ({power * 100:.0f} % power, two-sided alpha "
            f"{alpha:g}); smaller effects are not excluded.")



def seed_budget_verdict(summ: pd.DataFrame, metric: str, n_seeds: int, baseline: str = "full",
                        step: float = 1.0) -> str:
    """What ``n_seeds`` and five seeds (MMSA's) detect at the median spread of ``metric``'s paired
    differences in a :func:`paired_summary` (``baseline`` aside), and the seeds a change of ``step``
    needs (80 % power), in the metric's display unit (points for accuracies)."""
    pairs = summ[(summ["metric"] == metric) & (summ["variant"] != baseline)]
    if pairs.empty:
        raise ValueError(f"the summary has no comparison for metric {metric!r}")
    spread = float(pairs["diff_sd"].median()) * display_scale(metric)  # the summary holds fractions
    unit = f" {display_unit(metric)}" if display_unit(metric) else ""
    change = f"a {step:g}-point change" if unit == " points" else f"a change of {step:g}"
    return (f"{metric}: with the median spread of the paired differences (s = {spread:.2f}{unit}), "
            f"{n_seeds} seeds detect ±{detectable_difference(spread, n_seeds):.2f}{unit}, five seeds (MMSA) "
            f"±{detectable_difference(spread, 5):.2f}; finding {change} takes {seeds_needed(step, spread)} seeds.")
