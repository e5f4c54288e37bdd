"""Figures of the joint embedding space: the alignment summary of several models, UMAP / t-SNE
/ PCA maps (:func:`~amccl.analysis.projection.project_joint`) and alignment against gamma."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.cm import ScalarMappable
from matplotlib.colors import Normalize
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from amccl.plotting.figure import MODALITY_COLORS, MODALITY_MARKERS

if TYPE_CHECKING:
    from amccl.analysis.embeddings import Embeddings

_AXIS_NAMES = {"umap": "UMAP", "tsne": "t-SNE", "pca": "PC"}
_SWEEP_LABELS = {"alignment": "alignment (lower = closer)", "spearman": "distance/label Spearman",
                 "MAE": "test MAE (lower is better)"}


def plot_alignment_table(side: pd.DataFrame, title: str | None = None) -> Figure:
    """A :func:`~amccl.analysis.compare.compare_models` table as a heatmap: values (3 decimals, "n/a"),
    green (best) to red (worst) per column (:func:`~amccl.analysis.figure_stats.column_goodness`)."""
    from amccl.analysis.figure_stats import LOWER_IS_BETTER_ALIGNMENT, column_goodness

    values = side.astype(float)
    nrows, ncols = values.shape
    fig, ax = plt.subplots(figsize=(2.2 + 1.1 * ncols, 1.5 + 0.4 * nrows), constrained_layout=True)
    cmap = sns.color_palette("RdYlGn", as_cmap=True)
    sns.heatmap(column_goodness(values), annot=values.map(lambda v: f"{v:.3f}").to_numpy(), fmt="",
                cmap=cmap, vmin=-0.3, vmax=1.3, cbar=False, linewidths=1.5, linecolor="white", ax=ax,
                annot_kws={"fontsize": 9})  # limits beyond [0, 1]: muted ends, legible text
    for (i, j) in zip(*np.nonzero(values.isna().to_numpy())):
        ax.text(j + 0.5, i + 0.5, "n/a", ha="center", va="center", fontsize=9, color="0.4")
    ax.xaxis.tick_top()
    ax.set_xticks(np.arange(ncols) + 0.5,
                  [f"{c} {'↓' if c in LOWER_IS_BETTER_ALIGNMENT else '↑'}" for c in values.columns], fontsize=9)
    ax.tick_params(axis="both", length=0)
    ax.tick_params(axis="y", rotation=0)
    ax.set_ylabel("")
    ax.set_xlabel("↑ higher is better · ↓ lower is better\ncolour: best (green) to worst (red) "
                  "among the models, per column", fontsize=8, color="0.3")
    ax.set_title(title or "alignment summary (means over modality pairs / modalities)", fontsize=10)
    return fig


def _label_norm(labels: Any, label_range: float | None = None) -> Normalize:
    """Colour limits [-r, r]: r = ``label_range``, else 3 when some |label| > 1 (MOSI) else 1."""
    if label_range is None:
        label_range = 3.0 if np.nanmax(np.abs(np.asarray(labels, dtype=float)), initial=0.0) > 1 else 1.0
    return Normalize(vmin=-label_range, vmax=label_range)


def _modality_handles(names: Iterable[str], colored: bool = True) -> list[Line2D]:
    """Legend handles of the modality markers, in modality colours or grey."""
    return [Line2D([], [], ls="", marker=MODALITY_MARKERS.get(m, "o"), label=m, markersize=7,
                   color=MODALITY_COLORS.get(m, "0.3") if colored else "0.45") for m in names]


def _draw(ax: plt.Axes, proj: pd.DataFrame, how: str, norm: Normalize, size: float) -> ScalarMappable | None:
    """Scatter ``proj`` coloured by ``label`` (returns the mappable) or by ``modality``."""
    if how not in ("label", "modality"):
        raise ValueError(f"color_by must hold 'label' and/or 'modality', got {how!r}")
    cmap = sns.color_palette("vlag", as_cmap=True)  # blue negative, grey 0, red positive
    for name, block in proj.groupby("modality", sort=False):
        marker = MODALITY_MARKERS.get(name, "o")
        style = (dict(c=block["label"], cmap=cmap, norm=norm, linewidths=0.2, edgecolors="0.3", alpha=0.85)
                 if how == "label" else dict(color=MODALITY_COLORS.get(name, "0.3"), alpha=0.7, linewidths=0))
        ax.scatter(block["x"], block["y"], s=size, marker=marker, **style)
    method = proj.attrs.get("method", "umap")
    name = _AXIS_NAMES.get(method, method)
    ax.set(xlabel=f"{name} 1", ylabel=f"{name} 2", xticks=[], yticks=[])  # the units mean nothing
    return ScalarMappable(norm=norm, cmap=cmap) if how == "label" else None


def plot_joint(proj: pd.DataFrame, color_by: Sequence[str] = ("label", "modality"),
               label_range: float | None = None, title: str | None = None, point_size: float = 14) -> Figure:
    """One joint projection, one panel per colouring: ``label`` (colour bar ±``label_range``;
    marker = modality) and/or ``modality``."""
    fig, axes = plt.subplots(1, len(color_by), figsize=(6.2 * len(color_by), 5.2),
                             squeeze=False, constrained_layout=True)
    norm = _label_norm(proj["label"], label_range)
    modalities = list(dict.fromkeys(proj["modality"]))
    for ax, how in zip(axes[0], color_by):
        mappable = _draw(ax, proj, how, norm, point_size)
        if mappable is not None:
            fig.colorbar(mappable, ax=ax, label="sentiment label", shrink=0.85)
            ax.legend(handles=_modality_handles(modalities, False), title="modality (marker)", fontsize=8)
        else:
            ax.legend(handles=_modality_handles(modalities), title="modality", loc="best")
        ax.set_title(f"coloured by {how}")
    if title:
        fig.suptitle(title)
    return fig


def plot_models_side_by_side(embeddings: Mapping[str, Embeddings], method: str = "umap", seed: int = 0,
                             max_clips: int | None = 1000, label_range: float | None = None,
                             show_metrics: bool = True, point_size: float = 10) -> Figure:
    """Joint projections of several models (name -> ``Embeddings``), each projected on its own: row 1
    coloured by label, row 2 by modality; ``method``, ``seed``, ``max_clips``: as ``project_joint``;
    ``show_metrics``: :func:`~amccl.analysis.figure_stats.embedding_line` under each name."""
    from amccl.analysis.figure_stats import embedding_line
    from amccl.analysis.projection import project_joint

    names = list(embeddings)
    fig, axes = plt.subplots(2, len(names), figsize=(5.0 * len(names) + 1.2, 9.4),
                             squeeze=False, constrained_layout=True)
    norm = _label_norm(np.concatenate([e.labels for e in embeddings.values()]), label_range)
    for col, name in enumerate(names):
        proj = project_joint(embeddings[name], method=method, seed=seed, max_clips=max_clips)
        mappable = _draw(axes[0, col], proj, "label", norm, point_size)
        _draw(axes[1, col], proj, "modality", norm, point_size)
        axes[0, col].set_title(f"{name}\n{embedding_line(embeddings[name])}" if show_metrics else name, fontsize=10)
        axes[1, col].set_title(f"{name}: coloured by modality", fontsize=10)
    fig.colorbar(mappable, ax=axes[0, :].tolist(), label="sentiment label", shrink=0.85)
    modalities = list(dict.fromkeys(proj["modality"]))
    axes[1, -1].legend(handles=_modality_handles(modalities), title="modality", loc="upper left",
                       bbox_to_anchor=(1.02, 1.0))
    axes[0, 0].legend(handles=_modality_handles(modalities, False), title="marker", fontsize=8, loc="best")
    return fig


def plot_gamma_sweep(frame: pd.DataFrame, metrics: Sequence[str] = ("alignment", "spearman", "MAE"),
                     alpha: float = 0.05, title: str | None = None) -> Figure:
    """One panel per metric against gamma (symlog x): per variant of ``frame`` (the rows of
    :func:`~amccl.analysis.gamma_sweep.gamma_sweep`) the mean and ``1 - alpha`` interval
    (:func:`~amccl.analysis.gamma_sweep.sweep_summary`), seeds as dots, ``constant_MAE`` if present."""
    from amccl.analysis.figure_stats import seeds_per_point
    from amccl.analysis.gamma_sweep import sweep_summary

    summ = sweep_summary(frame, metrics, alpha)
    gammas = np.sort(frame["gamma"].unique())
    positive = gammas[gammas > 0]
    fig, axes = plt.subplots(1, len(metrics), figsize=(4.6 * len(metrics), 3.8), squeeze=False, constrained_layout=True)
    palette = dict(zip(dict.fromkeys(summ["variant"]), sns.color_palette("colorblind")))
    for ax, metric in zip(axes[0], metrics):
        for variant, color in palette.items():
            block = summ[(summ["variant"] == variant) & (summ["metric"] == metric)].sort_values("gamma")
            x, y = block["gamma"].to_numpy(), block["mean"].to_numpy()
            err = np.abs(block[["ci_low", "ci_high"]].to_numpy().T - y)
            ax.errorbar(x, y, yerr=np.nan_to_num(err), color=color, marker="o", capsize=3, lw=1.6, label=variant)
            ax.fill_between(x, block["ci_low"], block["ci_high"], color=color, alpha=0.15, lw=0)
            runs = frame[frame["variant"] == variant]
            ax.scatter(runs["gamma"], runs[metric], s=10, color=color, alpha=0.5, linewidths=0)
        if metric == "MAE" and "constant_MAE" in frame.columns:
            ax.axhline(frame["constant_MAE"].iloc[0], color="0.4", ls="--", lw=1, label="constant predictor")
        linthresh = positive.min() if positive.size else 1.0
        ax.set_xscale("symlog", linthresh=linthresh)
        ax.set_xlim(-0.3 * linthresh, gammas.max() * 1.6 if positive.size else linthresh)
        ax.set_xticks(gammas, [f"{g:g}" for g in gammas])
        ax.set(xlabel="γ (weight of the contrastive loss)", ylabel=_SWEEP_LABELS.get(metric, metric))
        ax.grid(alpha=0.3)
    axes[0, -1].legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.02, 1.0))
    level, n = int(round((1 - alpha) * 100)), seeds_per_point(frame)
    fig.suptitle(title or f"against γ: mean and {level} % interval over {n} seed(s)", fontsize=10)
    return fig
