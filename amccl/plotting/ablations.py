"""An ablation grid and its paired statistics (:func:`~amccl.ablations.stats.paired_summary`) as a
forest plot coloured by the Holm verdict."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from amccl.metrics import LOWER_IS_BETTER, display_scale, format_value, is_percent
from amccl.plotting.figure import VERDICT_COLORS, VERDICT_LABELS


def _forest(ax: plt.Axes, block: pd.DataFrame, value: str, marker: str = "o") -> np.ndarray:
    """One point ± its ``{value}_ci_low/high`` per row, first on top, coloured by ``verdict``; y positions."""
    y = np.arange(len(block))[::-1]
    for yi, rec in zip(y, block.to_dict("records")):
        x, low, high = rec[value], rec[f"{value}_ci_low"], rec[f"{value}_ci_high"]
        err = [[max(x - low, 0.0)], [max(high - x, 0.0)]] if np.isfinite(low) else None
        color = VERDICT_COLORS.get(str(rec.get("verdict")), VERDICT_COLORS["n.s."])
        ax.errorbar(x, yi, xerr=err, fmt=marker, color=color, ms=6, capsize=3, lw=1.5, zorder=3)
    return y


def _verdict_handles(verdicts: Iterable[Any], marker: str = "o") -> list[Line2D]:
    """Legend handles of the verdicts present, in the order of :data:`VERDICT_LABELS`."""
    present = {str(v) for v in verdicts}
    return [Line2D([], [], ls="", marker=marker, color=VERDICT_COLORS[k], label=label)
            for k, label in VERDICT_LABELS.items() if k in present]


def _detectable_lines(ax: plt.Axes, summ: pd.DataFrame, baseline: str, power: float) -> Line2D | None:
    """Dotted lines at the baseline mean ± :func:`~amccl.analysis.figure_stats.typical_detectable`;
    returns their legend handle (None without a finite ``detectable``)."""
    from amccl.analysis.figure_stats import typical_detectable

    det, seeds = typical_detectable(summ, baseline)
    if not np.isfinite(det):
        return None
    centre = float(summ.loc[baseline, "mean"])
    for x in (centre - det, centre + det):
        ax.axvline(x, color=VERDICT_COLORS["baseline"], lw=1, ls=":", zorder=1)
    return Line2D([], [], color=VERDICT_COLORS["baseline"], lw=1, ls=":",
                  label=f"±detectable Δ ({power * 100:g} % power{seeds})")


def plot_grid(results: pd.DataFrame, metric: str, baseline: str | None = "full",
              alpha: float = 0.05, method: str = "t", order: Sequence[str] | None = None, ax=None,
              title: str | None = None, detectable: bool = True) -> Figure:
    """Per variant: mean ± interval (diamond), seeds (dots), the baseline's interval (grey band)
    and ``Δ``, the seed-paired difference to the baseline (``*``: Holm-significant); colour = verdict.
    Display scale of :mod:`amccl.metrics` (accuracies in %, differences in points).

    Args:
        results: grid rows (one per variant and seed; fractions) or a
            :func:`~amccl.ablations.stats.paired_summary` table (drawn as it is, no dots).
        baseline, alpha, method: as :func:`~amccl.ablations.stats.paired_summary`; ``order``: variants top
            to bottom; ``ax``: axes to draw on (default: a new figure).
        detectable: dotted lines at the baseline mean ± the median ``detectable`` of the others: a
            not-significant Δ inside them is no evidence of "no effect".
    """
    from amccl.ablations.power import POWER
    from amccl.ablations.stats import paired_summary

    is_rows = "seed" in results.columns and "mean_ci_low" not in results.columns
    summ = (paired_summary(results, [metric], baseline=baseline, alpha=alpha, method=method)
            if is_rows else results[results["metric"] == metric])
    if summ.empty:
        raise ValueError(f"the summary has no rows for metric {metric!r}")
    text = summ.set_index("variant")  # fractions, for the Δ labels (format_value scales them)
    scale = display_scale(metric)
    summ = text.copy()
    shown = [c for c in ("mean", "std", "mean_ci_low", "mean_ci_high", "diff", "diff_ci_low", "diff_ci_high",
                         "detectable") if c in summ.columns]
    summ[shown] = summ[shown].astype(float) * scale
    order = list(order) if order is not None else list(summ.index)
    unknown = [v for v in order if v not in summ.index]
    if unknown:
        raise ValueError(f"variants not in the results: {unknown}")
    block = summ.loc[order].reset_index()
    with sns.axes_style("whitegrid"):
        if ax is None:
            fig, ax = plt.subplots(figsize=(7.5, 0.45 * len(order) + 1.6))
        else:
            fig = ax.figure
        extra_handles = []
        if baseline is not None and baseline in summ.index:
            base = summ.loc[baseline]
            ax.axvline(base["mean"], color=VERDICT_COLORS["baseline"], lw=1, ls="--", zorder=1)
            if np.isfinite(base["mean_ci_low"]):
                ax.axvspan(base["mean_ci_low"], base["mean_ci_high"], color="0.85", zorder=0)
            if detectable and "detectable" in summ.columns:
                handle = _detectable_lines(ax, summ, baseline, summ.attrs.get("power", POWER))
                extra_handles += [handle] if handle is not None else []
        y = _forest(ax, block, "mean", marker="D")
        for yi, rec in zip(y, block.to_dict("records")):
            if is_rows:
                seeds = results.loc[results["variant"] == rec["variant"], metric].astype(float).to_numpy() * scale
                offsets = np.linspace(-0.18, 0.18, seeds.size) if seeds.size > 1 else np.zeros(1)
                ax.scatter(seeds, yi + offsets, s=14, color="0.45", alpha=0.8, zorder=2, linewidths=0)
            if rec["variant"] != baseline and np.isfinite(rec.get("diff", np.nan)):
                low, high, diff = (format_value(text.at[rec["variant"], k], metric, signed=True)
                                   for k in ("diff_ci_low", "diff_ci_high", "diff"))
                ci = f" [{low}, {high}]" if np.isfinite(rec["diff_ci_low"]) else ""
                ax.annotate(f"Δ {diff}{ci}{' *' if rec['significant'] else ''}", (1.0, yi),
                            xycoords=("axes fraction", "data"), xytext=(4, 0), textcoords="offset points",
                            va="center", fontsize=8, annotation_clip=False,
                            color=VERDICT_COLORS.get(rec["verdict"], VERDICT_COLORS["n.s."]))
        ax.set_yticks(y, order)
        ax.set_ylim(-0.7, len(order) - 0.3)
        unit = " (%)" if is_percent(metric) else ""
        better = "lower is better" if metric in LOWER_IS_BETTER else "higher is better"
        ax.set(xlabel=f"{metric}{unit} — {better}", ylabel="variant")
        level = int(round((1 - alpha) * 100))
        ax.set_title(title or f"{metric}: mean and {level} % interval over seeds; Δ vs {baseline} "
                     f"(* Holm p < {alpha:g})", fontsize=9)
        handles = _verdict_handles(block["verdict"], "D") + extra_handles
        ax.legend(handles=handles, loc="lower left", bbox_to_anchor=(0, 1.06),
                  ncol=4 if len(handles) <= 4 else 3, fontsize=8, frameon=False)  # 5 in a row: too wide
        fig.tight_layout()
    return fig
