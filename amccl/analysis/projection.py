"""Pictures of the joint embedding space: text, audio and vision of every clip in one map.

:func:`project_joint` stacks the L2-normalised ``Feature_t/a/v`` of the clips (3N rows) and
maps them to 2-D with UMAP (umap-learn, seeded), t-SNE or PCA (scikit-learn). When
umap-learn is absent, UMAP falls back to t-SNE with a printed note. :func:`plot_joint`
draws one projection coloured by label (diverging colour bar centred at 0) and by modality
(legend); :func:`plot_models_side_by_side` does that for several models (e.g. untrained,
contrastively trained, ``no_cl``), each projected on its own (axes are not comparable
between panels, only the structure is).
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.cm import ScalarMappable
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from amccl.analysis.alignment import alignment_metrics, l2_normalize
from amccl.analysis.embeddings import MODALITIES, Embeddings, modality_name
from amccl.plotting import MODALITY_COLORS, MODALITY_MARKERS, sentiment_cmap, sentiment_norm

__all__ = ["METHODS", "plot_joint", "plot_models_side_by_side", "project_joint"]

METHODS = ("umap", "tsne", "pca")
_AXIS_NAMES = {"umap": "UMAP", "tsne": "t-SNE", "pca": "PC"}


def _umap_or_fallback(method: str) -> tuple[str, Any]:
    """(method actually used, the umap module or None); prints a note on fallback."""
    if method != "umap":
        return method, None
    try:
        import umap  # noqa: PLC0415 - optional and slow (numba) import
    except ImportError:
        print("note: umap-learn is not installed; using t-SNE instead (pip install umap-learn)")
        return "tsne", None
    return "umap", umap


def _embed_2d(x: np.ndarray, method: str, seed: int, n_neighbors: int) -> tuple[np.ndarray, str]:
    """2-D coordinates (M, 2) of the rows of x (M, d) and the method used."""
    method, umap = _umap_or_fallback(method)
    m = x.shape[0]
    if method == "umap":
        reducer = umap.UMAP(n_components=2, n_neighbors=max(2, min(n_neighbors, m - 1)),
                            random_state=seed, n_jobs=1)
        with warnings.catch_warnings():  # "n_jobs overridden by random_state" and numba chatter
            warnings.simplefilter("ignore")
            return np.asarray(reducer.fit_transform(x)), method
    if method == "tsne":
        from sklearn.manifold import TSNE

        perplexity = float(min(30.0, max(2.0, (m - 1) / 3)))
        return TSNE(n_components=2, perplexity=perplexity, init="pca", random_state=seed).fit_transform(x), method
    if method == "pca":
        from sklearn.decomposition import PCA

        return PCA(n_components=2, random_state=seed).fit_transform(x), method
    raise ValueError(f"unknown method {method!r}; expected one of {METHODS}")


def _sample_clips(n: int, max_clips: int | None, seed: int) -> np.ndarray:
    """Sorted positions of at most ``max_clips`` clips, a seeded random choice when fewer."""
    if max_clips is None or n <= max_clips:
        return np.arange(n)
    return np.sort(np.random.default_rng(seed).choice(n, size=max_clips, replace=False))


def project_joint(
    emb: Embeddings,
    method: str = "umap",
    seed: int = 0,
    modalities: Sequence[str] = MODALITIES,
    max_clips: int | None = 1000,
    n_neighbors: int = 15,
) -> pd.DataFrame:
    """2-D map of all modalities' normalised features in one joint space.

    Args:
        emb: the clips' :class:`Embeddings` (``Feature_t/a/v`` share the size d).
        method: ``umap`` (falls back to t-SNE without umap-learn), ``tsne`` or ``pca``.
        seed: seeds the clip subsample and the projection.
        modalities: which modalities to stack.
        max_clips: at most this many clips (a seeded random subset; all modalities of a
            chosen clip are kept), so the map has <= 3 * max_clips points. None: all.
        n_neighbors: UMAP's neighbourhood size.

    Returns:
        Long DataFrame, one row per (clip, modality): ``x``, ``y``, ``modality``, ``label``,
        ``pred``, ``id``, ``clip`` (row in ``emb``); ``attrs["method"]`` is the method used.
    """
    names = [modality_name(m) for m in modalities]
    rows = _sample_clips(len(emb), max_clips, seed)
    stacked = np.vstack([l2_normalize(emb.features(m)[rows]) for m in names])
    coords, used = _embed_2d(stacked, method, seed, n_neighbors)
    k = len(rows)
    frame = pd.DataFrame({
        "x": coords[:, 0], "y": coords[:, 1],
        "modality": np.repeat(names, k),
        "label": np.tile(emb.labels[rows], len(names)),
        "pred": np.tile(emb.pred[rows], len(names)),
        "id": np.tile(emb.ids[rows], len(names)),
        "clip": np.tile(rows, len(names)),
    })
    frame.attrs["method"] = used
    return frame


def _axis_labels(ax: plt.Axes, method: str) -> None:
    """'UMAP 1' / 'UMAP 2' style axis labels; ticks hidden (the units mean nothing)."""
    name = _AXIS_NAMES.get(method, method)
    ax.set(xlabel=f"{name} 1", ylabel=f"{name} 2", xticks=[], yticks=[])


def _draw_by_label(ax: plt.Axes, proj: pd.DataFrame, norm: Any, size: float) -> ScalarMappable:
    """Points coloured by label on a diverging map; marker shape = modality."""
    cmap = sentiment_cmap()
    for name, block in proj.groupby("modality", sort=False):
        ax.scatter(block["x"], block["y"], c=block["label"], cmap=cmap, norm=norm, s=size,
                   marker=MODALITY_MARKERS.get(name, "o"), linewidths=0.2, edgecolors="0.3", alpha=0.85)
    return ScalarMappable(norm=norm, cmap=cmap)


def _draw_by_modality(ax: plt.Axes, proj: pd.DataFrame, size: float) -> list[Line2D]:
    """Points coloured by modality; returns legend handles."""
    handles = []
    for name, block in proj.groupby("modality", sort=False):
        color, marker = MODALITY_COLORS.get(name, "0.3"), MODALITY_MARKERS.get(name, "o")
        ax.scatter(block["x"], block["y"], color=color, s=size, marker=marker, alpha=0.7, linewidths=0)
        handles.append(Line2D([], [], ls="", marker=marker, color=color, label=name, markersize=7))
    return handles


def plot_joint(
    proj: pd.DataFrame,
    color_by: Sequence[str] = ("label", "modality"),
    label_range: float | None = None,
    title: str | None = None,
    point_size: float = 14,
) -> Figure:
    """One joint projection, one panel per colouring.

    Args:
        proj: :func:`project_joint`'s frame.
        color_by: ``label`` (diverging colour bar centred at 0, marker = modality) and/or
            ``modality`` (legend).
        label_range: colour bar limits +-r (default: 3 for MOSI-like labels, else 1).
        title: figure title.
        point_size: marker area.
    """
    method = proj.attrs.get("method", "umap")
    fig, axes = plt.subplots(1, len(color_by), figsize=(6.2 * len(color_by), 5.2),
                             squeeze=False, constrained_layout=True)
    norm = sentiment_norm(proj["label"], label_range)
    for ax, how in zip(axes[0], color_by):
        if how == "label":
            mappable = _draw_by_label(ax, proj, norm, point_size)
            fig.colorbar(mappable, ax=ax, label="sentiment label", shrink=0.85)
            ax.legend(handles=_marker_handles(proj), title="modality (marker)", fontsize=8, loc="best")
        elif how == "modality":
            ax.legend(handles=_draw_by_modality(ax, proj, point_size), title="modality", loc="best")
        else:
            raise ValueError(f"color_by must hold 'label' and/or 'modality', got {how!r}")
        _axis_labels(ax, method)
        ax.set_title(f"coloured by {how}")
    if title:
        fig.suptitle(title)
    return fig


def _marker_handles(proj: pd.DataFrame) -> list[Line2D]:
    """Grey legend handles of the modality markers."""
    return [Line2D([], [], ls="", marker=MODALITY_MARKERS.get(m, "o"), color="0.45", label=m, markersize=7)
            for m in dict.fromkeys(proj["modality"])]


def _summary_line(emb: Embeddings) -> str:
    """Mean cross-modal recall@1 and alignment, and mean silhouette, for a panel title."""
    table = alignment_metrics(emb, ks=(1,))
    pairs, mods = table[table["kind"] == "pair"], table[table["kind"] == "modality"]
    return (f"R@1 {pairs['recall@1'].mean():.3f} (chance {1 / len(emb):.3f}) · "
            f"align {pairs['alignment'].mean():.2f} · sil {mods['silhouette'].mean():.2f}")


def plot_models_side_by_side(
    embeddings: Mapping[str, Embeddings],
    method: str = "umap",
    seed: int = 0,
    max_clips: int | None = 1000,
    label_range: float | None = None,
    show_metrics: bool = True,
    point_size: float = 10,
) -> Figure:
    """Joint projections of several models: row 1 coloured by label, row 2 by modality.

    Args:
        embeddings: ordered mapping name -> :class:`Embeddings` of the same split, e.g.
            ``{"untrained": e0, "trained": e1, "no_cl": e2}``.
        method, seed, max_clips: as :func:`project_joint` (same seed for every model).
        label_range: colour bar limits +-r (default from the labels).
        show_metrics: add mean recall@1, alignment and silhouette under each name.
        point_size: marker area.
    """
    names = list(embeddings)
    fig, axes = plt.subplots(2, len(names), figsize=(5.0 * len(names) + 1.2, 9.4),
                             squeeze=False, constrained_layout=True)
    labels = np.concatenate([e.labels for e in embeddings.values()])
    norm = sentiment_norm(labels, label_range)
    handles: list[Line2D] = []
    mappable = None
    for col, name in enumerate(names):
        proj = project_joint(embeddings[name], method=method, seed=seed, max_clips=max_clips)
        mappable = _draw_by_label(axes[0, col], proj, norm, point_size)
        handles = _draw_by_modality(axes[1, col], proj, point_size)
        title = f"{name}\n{_summary_line(embeddings[name])}" if show_metrics else name
        axes[0, col].set_title(title, fontsize=10)
        axes[1, col].set_title(f"{name}: coloured by modality", fontsize=10)
        for ax in axes[:, col]:
            _axis_labels(ax, proj.attrs["method"])
    fig.colorbar(mappable, ax=axes[0, :].tolist(), label="sentiment label", shrink=0.85)
    axes[1, -1].legend(handles=handles, title="modality", loc="upper left", bbox_to_anchor=(1.02, 1.0))
    axes[0, 0].legend(handles=_marker_handles(proj), title="marker", fontsize=8, loc="best")
    return fig
