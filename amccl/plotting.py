"""Shared seaborn/matplotlib figures for the notebooks: learning curves, ablation intervals.

Every function returns the matplotlib ``Figure`` (nothing is shown or saved implicitly; use
:func:`save_figure`). Inputs are plain pandas DataFrames whose expected columns are listed
in each docstring. The embedding pictures (UMAP / t-SNE / PCA) live in
:mod:`amccl.analysis.projection` and use the palettes defined here.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.colors import Colormap, Normalize
from matplotlib.figure import Figure

__all__ = [
    "MODALITY_COLORS",
    "MODALITY_MARKERS",
    "plot_learning_curves",
    "plot_metric_intervals",
    "save_figure",
    "sentiment_cmap",
    "sentiment_norm",
]

MODALITY_COLORS: dict[str, str] = {"text": "#1b9e77", "audio": "#d95f02", "vision": "#7570b3"}
MODALITY_MARKERS: dict[str, str] = {"text": "o", "audio": "s", "vision": "^"}
VERDICT_COLORS: dict[str, str] = {"baseline": "#2166ac", "better": "#1a9850", "worse": "#d73027",
                                  "n.s.": "#4d4d4d"}


# ------------------------------------------------------------------------------------------
# shared helpers
# ------------------------------------------------------------------------------------------
def sentiment_cmap() -> Colormap:
    """The diverging colour map of sentiment labels (blue negative, grey 0, red positive)."""
    return sns.color_palette("vlag", as_cmap=True)


def sentiment_norm(labels: Any = None, label_range: float | None = None) -> Normalize:
    """A colour normaliser symmetric around 0: [-r, r] with r = ``label_range`` or, if None,
    3 when some |label| > 1 (MOSI/MOSEI) else 1 (SIMS)."""
    if label_range is None:
        values = np.abs(np.asarray(labels if labels is not None else [0.0], dtype=float))
        label_range = 3.0 if np.nanmax(values, initial=0.0) > 1 else 1.0
    return Normalize(vmin=-label_range, vmax=label_range)


def save_figure(fig: Figure, path: str | Path, dpi: int = 150) -> Path:
    """Save ``fig`` (parents created, tight bounding box) and return the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=dpi, bbox_inches="tight")
    return path


# ------------------------------------------------------------------------------------------
# learning curves
# ------------------------------------------------------------------------------------------
_LOSS_NAMES = ("loss", "l1")
_SKIP = re.compile(r"(lr|learning_rate|seconds|time)", re.IGNORECASE)
_ACC2 = ("Has0_acc_2", "Non0_acc_2", "Mult_acc_2", "Mult_acc_2_weak")


def _history_frame(history: Any) -> tuple[pd.DataFrame, int | None]:
    """A History (``.to_frame()``, ``.best_epoch``) or a DataFrame -> (frame, best epoch)."""
    if isinstance(history, pd.DataFrame):
        return history, None
    return history.to_frame(), getattr(history, "best_epoch", None)


def _curve_columns(frame: pd.DataFrame, train: str, valid: str) -> dict[str, list[str]]:
    """Group the history's numeric columns into the four panels of the learning curves."""
    numeric = [c for c in frame.columns if pd.api.types.is_numeric_dtype(frame[c]) and not _SKIP.search(c)]
    main = [c for c in numeric if c in {f"{p}{n}" for p in (train, valid) for n in _LOSS_NAMES + ("Loss",)}]
    parts = [c for c in numeric if c.startswith(train) and c not in main]
    mae = [c for c in numeric if c == f"{valid}MAE"]
    acc = [f"{valid}{k}" for k in _ACC2 if f"{valid}{k}" in numeric]
    return {"losses": main, "loss terms": parts, "validation MAE": mae, "validation Acc-2": acc}


def plot_learning_curves(
    history: Any,
    epoch_col: str = "epoch",
    train_prefix: str = "train_",
    valid_prefix: str = "valid_",
    best_epoch: int | None = None,
) -> Figure:
    """Training losses, loss terms, validation MAE and validation Acc-2 against the epoch.

    Args:
        history: a DataFrame with one row per epoch, or a trainer ``History``
            (``.to_frame()``; its ``best_epoch`` is marked). Expected columns:
            ``epoch`` (a column or the index); ``train_loss`` / ``train_l1`` (and ``valid_loss`` or ``valid_Loss``)
            for the first panel; any other ``train_*`` numeric columns (``train_contrastive``,
            ``train_inter``, ``train_intra``, ``train_refine``, ``train_margin`` ...) for the
            second; ``valid_MAE``; ``valid_Has0_acc_2`` / ``valid_Non0_acc_2`` /
            ``valid_Mult_acc_2`` (fractions). Columns matching lr / seconds / time are
            ignored; absent columns leave their panel empty with a note.
        epoch_col: the epoch column.
        train_prefix, valid_prefix: column prefixes of the training and validation values.
        best_epoch: epoch to mark with a dashed line (default: ``history.best_epoch``).

    Returns:
        A figure with four panels in a row.
    """
    frame, found_best = _history_frame(history)
    if epoch_col not in frame.columns and frame.index.name == epoch_col:
        frame = frame.reset_index()  # History.to_frame() is indexed by epoch
    best_epoch = found_best if best_epoch is None else best_epoch
    groups = _curve_columns(frame, train_prefix, valid_prefix)
    fig, axes = plt.subplots(1, 4, figsize=(18, 4), constrained_layout=True)
    for ax, (title, cols) in zip(axes, groups.items()):
        if not cols:
            ax.text(0.5, 0.5, "no such columns", ha="center", va="center", transform=ax.transAxes)
        else:
            long = frame.melt(id_vars=[epoch_col], value_vars=cols, var_name="series", value_name="value")
            sns.lineplot(data=long, x=epoch_col, y="value", hue="series", marker="o", ax=ax)
            ax.legend(title=None, fontsize=8)
        if best_epoch is not None:
            ax.axvline(best_epoch, color="0.4", ls="--", lw=1, label="best epoch")
        ax.set(title=title, xlabel="epoch", ylabel=_curve_ylabel(title))
    return fig


def _curve_ylabel(title: str) -> str:
    """The y-axis label of a learning-curve panel."""
    return {"losses": "loss (L1 scale)", "loss terms": "value", "validation MAE": "MAE",
            "validation Acc-2": "accuracy (fraction)"}[title]


# ------------------------------------------------------------------------------------------
# ablation intervals
# ------------------------------------------------------------------------------------------
def _interval_columns(summary: pd.DataFrame, value: str) -> tuple[str, str]:
    """The low/high columns of ``value`` (``mean`` or ``diff``) in a summary frame."""
    low, high = f"{value}_ci_low", f"{value}_ci_high"
    missing = [c for c in ("variant", "metric", value, low, high) if c not in summary.columns]
    if missing:
        raise KeyError(f"summary lacks columns {missing} (has {list(summary.columns)})")
    return low, high


def _interval_panel(ax: plt.Axes, block: pd.DataFrame, value: str, low: str, high: str,
                    reference: float | None) -> None:
    """One metric's forest plot: a point and an interval per variant, top to bottom."""
    y = np.arange(len(block))[::-1]  # first variant on top
    verdicts = block["verdict"] if "verdict" in block else pd.Series(["n.s."] * len(block), index=block.index)
    colors = [VERDICT_COLORS.get(str(v), VERDICT_COLORS["n.s."]) for v in verdicts]
    err = np.vstack([block[value] - block[low], block[high] - block[value]]).clip(min=0)
    for yi, x, e0, e1, c in zip(y, block[value], err[0], err[1], colors):
        ax.errorbar(x, yi, xerr=[[e0], [e1]], fmt="o", color=c, capsize=3)
    if reference is not None and np.isfinite(reference):
        ax.axvline(reference, color="0.5", ls="--", lw=1)
    ax.set_yticks(y[::-1], block["variant"].astype(str).tolist()[::-1])  # ticks bottom to top


def plot_metric_intervals(
    summary: pd.DataFrame,
    value: str = "mean",
    metrics: Sequence[str] | None = None,
    baseline: str | None = None,
    ncols: int = 4,
) -> Figure:
    """Forest plot of an ablation summary: one panel per metric, one row per variant.

    Args:
        summary: long DataFrame, one row per (variant, metric), as
            :func:`amccl.ablations.stats.summary` returns. Columns used: ``variant``,
            ``metric``, ``value`` and its interval ``{value}_ci_low`` / ``{value}_ci_high``;
            optional ``verdict`` (``better`` / ``worse`` / ``n.s.``) colours the points.
        value: ``mean`` (each variant's mean with its interval; dashed line = the
            baseline's mean) or ``diff`` (paired difference to the baseline; dashed line = 0).
        metrics: which metrics (default: all, in order of appearance).
        baseline: variant of the reference line when ``value="mean"`` (default: the first).
        ncols: panels per row.

    Returns:
        The figure; x axes are labelled with the metric and the quantity shown.
    """
    low, high = _interval_columns(summary, value)
    metrics = list(dict.fromkeys(summary["metric"])) if metrics is None else list(metrics)
    ncols = max(1, min(ncols, len(metrics)))
    nrows = int(np.ceil(len(metrics) / ncols))
    n_variants = summary["variant"].nunique()
    fig, axes = plt.subplots(nrows, ncols, figsize=(4.2 * ncols, 0.45 * n_variants * nrows + 1.5),
                             squeeze=False, sharey=True, constrained_layout=True)
    for ax, metric in zip(axes.flat, metrics):
        block = summary[summary["metric"] == metric]
        ref = 0.0 if value == "diff" else _baseline_value(block, value, baseline)
        _interval_panel(ax, block, value, low, high, ref)
        ax.set(title=metric, xlabel=f"{metric} ({'difference to baseline' if value == 'diff' else value})")
    for ax in list(axes.flat)[len(metrics):]:
        ax.set_visible(False)
    if "verdict" in summary:
        present = set(summary["verdict"].astype(str))
        handles = [plt.Line2D([], [], marker="o", ls="", color=c, label=k)
                   for k, c in VERDICT_COLORS.items() if k in present]
        fig.legend(handles=handles, title="vs baseline", loc="outside right upper")
    return fig


def _baseline_value(block: pd.DataFrame, value: str, baseline: str | None) -> float | None:
    """The baseline variant's value in one metric's block (the first variant by default)."""
    if block.empty:
        return None
    rows = block if baseline is None else block[block["variant"] == baseline]
    return float(rows[value].iloc[0]) if not rows.empty else None
