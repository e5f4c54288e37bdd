"""An ablation grid and its paired statistics (:func:`~amccl.ablations.stats.paired_summary`) as a
forest plot coloured by the Holm verdict."""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from amccl.metrics import LOWER_IS_BETTER, display_scale, format_value, is_percent
from amccl.plotting.figure import VERDICT_COLORS, VERDICT_LABELS


def plot_grid(results: pd.DataFrame, metric: str, baseline: str | None = "full",
              alpha: float = 0.05, method: str = "t", order: Sequence[str] | None = None, ax=None,
              title: str | None = None, detectable: bool = True) -> Figure:
    """Per variant: mean ± interval (diamond), seeds (dots), the baseline's interval (grey band) and ``Δ``
    to the baseline (``*``: Holm-significant), coloured by verdict, in the display scale of :mod:`amccl.metrics`.

    Args:
        results: grid rows (variant, seed; fractions) or a :func:`~amccl.ablations.stats.paired_summary` table
            (no dots); ``baseline``, ``alpha``, ``method``: as that; ``order``: variants top to bottom.
        detectable: dotted lines at the baseline ± the others' median ``detectable`` Δ (an n.s. Δ inside
            them is no evidence of "no effect")."""
    from amccl.ablations.power import POWER
    from amccl.ablations.stats import paired_summary
    from amccl.analysis.figure_stats import typical_detectable

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
        fig, ax = plt.subplots(figsize=(7.5, 0.45 * len(order) + 1.6)) if ax is None else (ax.figure, ax)
        extra_handles = []
        if baseline is not None and baseline in summ.index:
            base = summ.loc[baseline]
            ax.axvline(base["mean"], color=VERDICT_COLORS["baseline"], lw=1, ls="--", zorder=1)
            if np.isfinite(base["mean_ci_low"]):
                ax.axvspan(base["mean_ci_low"], base["mean_ci_high"], color="0.85", zorder=0)
            det, seeds = (typical_detectable(summ, baseline) if detectable and "detectable" in summ.columns
                          else (np.nan, ""))
            if np.isfinite(det):
                for x in (base["mean"] - det, base["mean"] + det):
                    ax.axvline(x, color=VERDICT_COLORS["baseline"], lw=1, ls=":", zorder=1)
                power = summ.attrs.get("power", POWER) * 100
                extra_handles.append(Line2D([], [], color=VERDICT_COLORS["baseline"], lw=1, ls=":",
                                            label=f"±detectable Δ ({power:g} % power{seeds})"))
        y = np.arange(len(block))[::-1]
        records = block.to_dict("records")
        for yi, rec in zip(y, records):  # mean ± its interval, first on top
            low, high = rec["mean_ci_low"], rec["mean_ci_high"]
            err = [[max(rec["mean"] - low, 0.0)], [max(high - rec["mean"], 0.0)]] if np.isfinite(low) else None
            ax.errorbar(rec["mean"], yi, xerr=err, fmt="D", ms=6, capsize=3, lw=1.5, zorder=3,
                        color=VERDICT_COLORS.get(str(rec.get("verdict")), VERDICT_COLORS["n.s."]))
        for yi, rec in zip(y, records):
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
        handles = [Line2D([], [], ls="", marker="D", color=VERDICT_COLORS[k], label=label)  # the verdicts present
                   for k, label in VERDICT_LABELS.items() if k in set(map(str, block["verdict"]))] + extra_handles
        ax.legend(handles=handles, loc="lower left", bbox_to_anchor=(0, 1.06),
                  ncol=4 if len(handles) <= 4 else 3, fontsize=8, frameon=False)  # 5 in a row: too wide
        fig.tight_layout()
    return fig
