"""The joint embedding space in 2-D: :func:`project_joint` stacks the L2-normalised ``Feature_t/a/v`` of the clips and
maps them with UMAP (umap-learn; t-SNE when it is absent), t-SNE or PCA. The pictures are in :mod:`amccl.plotting`.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np
import pandas as pd

from amccl.analysis.alignment import l2_normalize
from amccl.analysis.embeddings import MODALITIES, Embeddings, modality_name

__all__ = ["METHODS", "project_joint"]

METHODS = ("umap", "tsne", "pca")


def _embed_2d(x: np.ndarray, method: str, seed: int, n_neighbors: int) -> tuple[np.ndarray, str]:
    """2-D coordinates (M, 2) of the rows of x (M, d) and the method used."""
    m = x.shape[0]
    if method == "umap":
        try:
            import umap  # noqa: PLC0415 - optional and slow (numba) import
        except ImportError:
            print("note: umap-learn is not installed; using t-SNE instead (pip install umap-learn)")
            method = "tsne"
        else:
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


def project_joint(
    emb: Embeddings,
    method: str = "umap",
    seed: int = 0,
    modalities: Sequence[str] = MODALITIES,
    max_clips: int | None = 1000,
    n_neighbors: int = 15,
) -> pd.DataFrame:
    """2-D map of all modalities' normalised features in one joint space.

    ``method``: ``umap``, ``tsne`` or ``pca``; ``max_clips``: a seeded subset of clips (all their
    modalities kept; None: all); ``seed`` seeds the subset and the projection.

    Returns:
        One row per (clip, modality): ``x``, ``y``, ``modality``, ``label``, ``pred``, ``id``,
        ``clip``; ``attrs["method"]`` the method used.
    """
    names = [modality_name(m) for m in modalities]
    n = len(emb)
    rows = (np.arange(n) if max_clips is None or n <= max_clips
            else np.sort(np.random.default_rng(seed).choice(n, size=max_clips, replace=False)))
    stacked = np.vstack([l2_normalize(emb.features(m)[rows]) for m in names])
    coords, used = _embed_2d(stacked, method, seed, n_neighbors)
    tiled = {"label": emb.labels, "pred": emb.pred, "id": emb.ids, "clip": np.arange(n)}
    frame = pd.DataFrame({"x": coords[:, 0], "y": coords[:, 1], "modality": np.repeat(names, len(rows)),
                          **{column: np.tile(values[rows], len(names)) for column, values in tiled.items()}})
    frame.attrs["method"] = used
    return frame
