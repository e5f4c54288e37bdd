"""Figures of one training run: learning curves, test metrics beside a reference, where the
model fails (:mod:`amccl.analysis.errors`) and a tuning study's parameter importances."""

from __future__ import annotations

import re
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.figure import Figure

from amccl.metrics import ACC2_KEYS, UNSCALED, metric_columns

_LOSS_NAMES = ("loss", "l1", "Loss")
_SKIP = re.compile(r"(lr|learning_rate|seconds|time)", re.IGNORECASE)
_MODEL_COLORS = ("#4c72b0", "#a6a6a6", "#dd8452", "#55a868", "#8172b3", "#937860")  # run blue, constant grey
_TICK_NAMES = {"MAE": "MAE\n(lower is better)", "R_squre": "R²"}
_BIN_AXIS_NAMES = {"true_bin": "true 7-class bin", "text_len": "text tokens (quantile bin)",
                   "audio_len": "audio frames (quantile bin)", "vision_len": "vision frames (quantile bin)"}


def plot_learning_curves(history: Any, epoch_col: str = "epoch", train_prefix: str = "train_",
                         valid_prefix: str = "valid_", best_epoch: int | None = None) -> Figure:
    """Four panels per epoch: losses, other ``train_*`` terms, ``valid_MAE`` and ``valid_*_acc_2`` of a trainer
    ``History`` or its ``to_frame()`` (lr / time columns ignored); a dashed line at ``best_epoch``
    (default: ``history.best_epoch``)."""
    frame = history if isinstance(history, pd.DataFrame) else history.to_frame()
    if best_epoch is None and not isinstance(history, pd.DataFrame):
        best_epoch = getattr(history, "best_epoch", None)
    if epoch_col not in frame.columns and frame.index.name == epoch_col:
        frame = frame.reset_index()  # History.to_frame() is indexed by epoch
    train, valid = train_prefix, valid_prefix
    numeric = [c for c in frame.columns if pd.api.types.is_numeric_dtype(frame[c]) and not _SKIP.search(c)]
    main = [c for c in numeric if c in {f"{p}{n}" for p in (train, valid) for n in _LOSS_NAMES}]
    panels = {("losses", "loss (L1 scale)"): main,  # (title, y label): columns
              ("loss terms", "value"): [c for c in numeric if c.startswith(train) and c not in main],
              ("validation MAE", "MAE"): [c for c in numeric if c == f"{valid}MAE"],
              ("validation Acc-2", "accuracy (fraction)"): [valid + k for k in ACC2_KEYS if valid + k in numeric]}
    fig, axes = plt.subplots(1, 4, figsize=(18, 4), constrained_layout=True)
    for ax, ((title, ylabel), cols) in zip(axes, panels.items()):
        if not cols:
            ax.text(0.5, 0.5, "no such columns", ha="center", va="center", transform=ax.transAxes)
        else:
            long = frame.melt(id_vars=[epoch_col], value_vars=cols, var_name="series", value_name="value")
            sns.lineplot(data=long, x=epoch_col, y="value", hue="series", marker="o", ax=ax)
            ax.legend(title=None, fontsize=8)
        if best_epoch is not None:
            ax.axvline(best_epoch, color="0.4", ls="--", lw=1, label="best epoch")
        ax.set(title=title, xlabel="epoch", ylabel=ylabel)
    return fig


def plot_test_vs_constant(table: pd.DataFrame, title: str | None = None) -> Figure:
    """Test metrics of the models of ``table`` (:func:`~amccl.metrics.format_table` rows by model) as grouped
    bars: accuracies and F1 in %, then MAE / Corr / (SIMS) R²; an undefined value shows "n/a"."""
    cols = max(metric_columns(table, "mosi"), metric_columns(table, "sims"), key=len)  # whichever has more
    if not cols:
        raise ValueError(f"no MMSA metric columns among {list(table.columns)}")
    panels = {"accuracy and F1 (%)": [c for c in cols if c not in UNSCALED],
              "error and correlation": [c for c in cols if c in UNSCALED]}
    panels = {name: names for name, names in panels.items() if names}
    ratios = [max(len(cols), 1.6) for cols in panels.values()]
    fig, axes = plt.subplots(1, len(panels), figsize=(10.0, 3.6), squeeze=False, constrained_layout=True,
                             gridspec_kw={"width_ratios": ratios})
    n = len(table)
    for ax, (name, cols) in zip(axes[0], panels.items()):
        percent, x, width = name.endswith("(%)"), np.arange(len(cols)), 0.8 / n
        for i in range(n):  # one bar group per column, one bar per model; NaN: "n/a" at 0
            values = table.iloc[i][cols].to_numpy(float)
            pos, ok = x + (i - (n - 1) / 2) * width, np.isfinite(values)
            bars = ax.bar(pos[ok], values[ok], width * 0.95, color=_MODEL_COLORS[i % len(_MODEL_COLORS)])
            ax.bar_label(bars, fmt="%.1f" if percent else "%.3f", fontsize=7, padding=2, rotation=90 if n > 2 else 0)
            for p in pos[~ok]:
                ax.text(p, 0, "n/a", ha="center", va="bottom", fontsize=7, color="0.35")
        ax.axhline(0.0, color="0.3", lw=0.8)
        ax.set_xlim(-0.5, len(cols) - 0.5)  # also where only an "n/a" stands
        ax.set_xticks(x, [_TICK_NAMES.get(c, c) for c in cols], fontsize=8)
        ax.set(title=name, ylabel="percent" if percent else "value")
        if percent:
            ax.set_ylim(0, 112)
            ax.set_yticks(range(0, 101, 20))
        else:
            ax.margins(y=0.18)
        ax.grid(axis="y", alpha=0.3)
    handles = [plt.Rectangle((0, 0), 1, 1, color=_MODEL_COLORS[i % len(_MODEL_COLORS)]) for i in range(n)]
    fig.legend(handles, [str(m) for m in table.index], loc="outside lower center", ncol=n,
               fontsize=9, frameon=False)
    fig.suptitle(title or "test metrics: " + " vs ".join(map(str, table.index)), fontsize=10)
    return fig


def plot_confusion(confusion: pd.DataFrame, normalize: bool = False, title: str | None = None) -> Figure:
    """The Acc-7 confusion matrix (:func:`~amccl.analysis.errors.acc7_confusion`: rows true,
    columns predicted class) as a heatmap; ``normalize``: each row's shares
    (:func:`~amccl.analysis.figure_stats.row_shares`) instead of counts."""
    from amccl.analysis.figure_stats import row_shares

    values = row_shares(confusion) if normalize else confusion.astype(float)
    fig, ax = plt.subplots(figsize=(6.4, 5.4), constrained_layout=True)
    sns.heatmap(values, annot=True, fmt=".2f" if normalize else ".0f", cmap="Blues", square=True, ax=ax,
                vmin=0, vmax=1 if normalize else None, linewidths=0.5, linecolor="white",
                cbar_kws={"label": "share of the true class" if normalize else "clips"})
    ax.set(xlabel="predicted 7-class bin", ylabel="true 7-class bin",
           title=title or ("Acc-7 confusion (row-normalised)" if normalize else "Acc-7 confusion (counts)"))
    ax.tick_params(axis="y", rotation=0)
    ax.grid(False)  # no style grid through the blank (empty) rows
    return fig


def plot_residuals_by_bin(summary: pd.DataFrame, title: str | None = None) -> Figure:
    """MAE bars (annotated with clip counts) and the mean signed residual (prediction - label)
    per bin. ``summary``: index = bins, columns ``count``, ``mae``, ``mean_residual``
    (:func:`~amccl.analysis.errors.residuals_by_label` / ``residuals_by_length``)."""
    names = [str(b) for b in summary.index]
    x = np.arange(len(names))
    fig, (left, right) = plt.subplots(1, 2, figsize=(11.0, 4.0), constrained_layout=True)
    bars = left.bar(x, np.nan_to_num(summary["mae"].to_numpy(float)), color="#4c72b0")
    left.bar_label(bars, labels=[f"n={int(n)}" for n in summary["count"]], fontsize=8, padding=2)
    left.set(ylabel="MAE", title="mean absolute error")
    right.axhline(0.0, color="0.5", lw=1, ls="--")
    right.plot(x, summary["mean_residual"].to_numpy(float), "o-", color="#dd8452")
    right.set(ylabel="mean prediction - label", title="mean signed residual (> 0: too positive)")
    axis = _BIN_AXIS_NAMES.get(str(summary.index.name), str(summary.index.name or "bin"))
    for ax in (left, right):
        ax.set_xticks(x, names, rotation=30 if max(map(len, names), default=0) > 4 else 0)
        ax.set_xlabel(axis)
    if title:
        fig.suptitle(title)
    return fig


def plot_param_importances(study: Any, evaluator: Any = None, top: int | None = None,
                           title: str | None = None) -> Figure:
    """Horizontal bars, largest first, of :func:`~amccl.analysis.figure_stats.param_importances`
    (the share of an optuna study's validation-MAE variance each field explains)."""
    from amccl.analysis.figure_stats import param_importances

    frame = param_importances(study, evaluator, top)
    fig, ax = plt.subplots(figsize=(6.4, 1.2 + 0.32 * len(frame)), constrained_layout=True)
    sns.barplot(frame, x="importance", y="field", color="#4575b4", ax=ax)
    ax.set(xlabel="share of the validation-MAE variance explained (fANOVA)", ylabel="")
    ax.set_title(title or f"{study.study_name}: {frame.attrs['complete']} complete trials, "
                 f"best valid MAE {study.best_value:.4f}")
    return fig
