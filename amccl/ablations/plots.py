"""The ablation figure: per variant, the mean with its interval and every seed as a dot."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from amccl.ablations.stats import LOWER_IS_BETTER, summary

VERDICT_COLORS = {"baseline": "#222222", "better": "#1a9850", "worse": "#d73027", "n.s.": "#4575b4", "": "#4575b4"}
VERDICT_LABELS = {"baseline": "baseline", "better": "significantly better", "worse": "significantly worse",
                  "n.s.": "not significant"}


def plot_grid(results: pd.DataFrame, metric: str, baseline: str | None = "full", scale: float = 100.0,
              alpha: float = 0.05, method: str = "t", order: Sequence[str] | None = None, ax=None,
              title: str | None = None):
    """Per-variant ``metric``: mean ± interval, the seeds as dots, the baseline as a line.

    Each variant's diamond is its mean over seeds with the interval of that mean; the grey
    band is the baseline's. On the right, ``Δ`` is the seed-paired difference to the baseline
    with its interval (narrower than the overlap of two bands suggests, since seed luck
    shared by both runs cancels), starred when Holm-significant.

    Args:
        results: grid rows (one per variant and seed: dots are drawn) or a
            :func:`~amccl.ablations.stats.summary` table (no dots).
        metric: e.g. ``"Has0_acc_2"``; rows are multiplied by ``scale`` (a summary is used
            as it is).
        baseline, alpha, method: as :func:`~amccl.ablations.stats.summary`. Colours give the
            Holm-corrected verdict against the baseline; ``*`` marks significance.
        order: variants top to bottom (default: the table's order, baseline first).
        ax: a matplotlib axes to draw on (default: a new figure).

    Returns:
        The matplotlib ``Figure``.
    """
    import matplotlib.pyplot as plt
    import seaborn as sns

    is_rows = "seed" in results.columns and "mean_ci_low" not in results.columns
    if is_rows:
        summ = summary(results, [metric], baseline=baseline, scale=scale, alpha=alpha, method=method)
    else:
        summ = results[results["metric"] == metric]
        if summ.empty:
            raise ValueError(f"the summary has no rows for metric {metric!r}")
    summ = summ.set_index("variant")
    order = list(order) if order is not None else list(summ.index)
    unknown = [v for v in order if v not in summ.index]
    if unknown:
        raise ValueError(f"variants not in the results: {unknown}")

    with sns.axes_style("whitegrid"):
        if ax is None:
            fig, ax = plt.subplots(figsize=(7.5, 0.45 * len(order) + 1.6))
        else:
            fig = ax.figure
        y = np.arange(len(order))[::-1]  # first variant on top
        if baseline is not None and baseline in summ.index:
            base = summ.loc[baseline]
            ax.axvline(base["mean"], color=VERDICT_COLORS["baseline"], lw=1, ls="--", zorder=1)
            if np.isfinite(base["mean_ci_low"]):
                ax.axvspan(base["mean_ci_low"], base["mean_ci_high"], color="0.85", zorder=0)
        if is_rows:
            values = results.assign(_v=results[metric].astype(float) * scale)
            for yi, variant in zip(y, order):
                seeds = values.loc[values["variant"] == variant, "_v"].to_numpy()
                offsets = np.linspace(-0.18, 0.18, seeds.size) if seeds.size > 1 else np.zeros(1)
                ax.scatter(seeds, yi + offsets, s=14, color="0.45", alpha=0.8, zorder=2, linewidths=0)
        seen = set()
        for yi, variant in zip(y, order):
            rec = summ.loc[variant]
            color = VERDICT_COLORS.get(rec["verdict"], VERDICT_COLORS[""])
            low, high = rec["mean_ci_low"], rec["mean_ci_high"]
            err = None if not np.isfinite(low) else [[rec["mean"] - low], [high - rec["mean"]]]
            label = VERDICT_LABELS.get(rec["verdict"])
            ax.errorbar(rec["mean"], yi, xerr=err, fmt="D", color=color, ms=6, capsize=3, lw=1.5, zorder=3,
                        label=label if label and label not in seen else None)
            seen.add(label)
            if variant != baseline and np.isfinite(rec.get("diff", np.nan)):
                star = " *" if rec["significant"] else ""
                ci = (f" [{rec['diff_ci_low']:+.2f}, {rec['diff_ci_high']:+.2f}]"
                      if np.isfinite(rec["diff_ci_low"]) else "")
                ax.annotate(f"Δ {rec['diff']:+.2f}{ci}{star}", (1.0, yi), xycoords=("axes fraction", "data"),
                            xytext=(4, 0), textcoords="offset points", va="center", fontsize=8, color=color,
                            annotation_clip=False)
        ax.set_yticks(y, order)
        ax.set_ylim(-0.7, len(order) - 0.3)
        better = "lower is better" if metric in LOWER_IS_BETTER else "higher is better"
        unit = f" (×{scale:g})" if is_rows and scale != 1 else ""
        ax.set_xlabel(f"{metric}{unit} — {better}")
        ax.set_ylabel("variant")
        level = int(round((1 - alpha) * 100))
        ax.set_title(title or f"{metric}: mean and {level} % interval over seeds; Δ vs {baseline} (* Holm p < {alpha:g})",
                     fontsize=9)
        ax.legend(loc="lower left", bbox_to_anchor=(0, 1.06), ncol=4, fontsize=8, frameon=False)
        fig.tight_layout()
    return fig
