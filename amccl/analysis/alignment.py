"""Numbers for what the contrastive loss is meant to do: align modalities by sentiment.

Every measure works on L2-normalised rows (an all-zero row stays zero); x_i, y_i are clip i:

* ``recall@k`` (X -> Y): share of clips whose y_i is among the k rows most cosine-similar to x_i, ties broken at random
  in expectation (exact; collapsed features score chance, k / N); ``mean_rank`` the expected rank of y_i.
* ``alignment`` (Wang and Isola, 2020): ``mean_i ||x_i - y_i||^2``; ``modality_gap``: the distance between the two
  centroids (Liang et al., 2022); ``uniformity`` (Wang and Isola, t = 2): ``log mean_{i<j} exp(-2 ||x_i - x_j||^2)``.
* ``silhouette``: cosine silhouette of the polarity classes (neutral dropped below two clips).
* ``spearman``: Spearman's rho between cosine distance and label distance over distinct pairs
  (a seeded subset above ``max_pairs``); positive when embedding distance follows sentiment.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from itertools import combinations
from typing import Any

import numpy as np
import pandas as pd
from scipy.special import logsumexp
from scipy.stats import spearmanr
from sklearn.metrics import silhouette_score

from amccl.analysis.embeddings import MODALITIES, Embeddings, modality_name

TIE_TOL = 1e-12  # similarities closer than this count as tied (float64 unit vectors; BLAS noise ~1e-15)


def l2_normalize(x: Any, eps: float = 1e-12) -> np.ndarray:
    """The rows of x (N, d) scaled to unit length, (N, d) float64; rows with norm < eps become zero."""
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 2:
        raise ValueError(f"expected (N, d) features, got shape {x.shape}")
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return np.divide(x, norms, out=np.zeros_like(x), where=norms >= eps)


def retrieval(query: Any, gallery: Any, ks: Sequence[int] = (1, 5), chunk: int = 1024) -> dict[str, float]:
    """``{"recall@k": ..., "mean_rank": ...}`` of query row i (N, d) finding gallery row i (N, d)."""
    q, g = l2_normalize(query), l2_normalize(gallery)
    if q.shape != g.shape:
        raise ValueError(f"query {q.shape} and gallery {g.shape} differ")
    n = q.shape[0]  # per query row i: #gallery rows strictly more similar than g[i], and #others tied with it
    greater, ties = np.empty(n, np.int64), np.empty(n, np.int64)
    for start in range(0, n, chunk):
        sims = q[start:start + chunk] @ g.T  # (b, N)
        rows = np.arange(sims.shape[0])
        own = sims[rows, start + rows][:, None]
        greater[start:start + chunk] = (sims > own + TIE_TOL).sum(1)
        ties[start:start + chunk] = (np.abs(sims - own) <= TIE_TOL).sum(1) - 1
    out = {f"recall@{k}": float(np.mean(np.clip(k - greater, 0, ties + 1) / (ties + 1))) for k in ks}
    out["mean_rank"] = float(np.mean(greater + 1 + ties / 2))
    return out


def alignment(x: Any, y: Any, alpha: float = 2.0) -> float:
    """Wang and Isola's alignment ``mean_i ||x̂_i - ŷ_i||^alpha`` of matched rows (N, d)."""
    diff = l2_normalize(x) - l2_normalize(y)
    return float(np.mean(np.linalg.norm(diff, axis=1) ** alpha))


def modality_gap(x: Any, y: Any) -> float:
    """Euclidean distance between the centroids of the normalised rows of x and y (N, d)."""
    return float(np.linalg.norm(l2_normalize(x).mean(0) - l2_normalize(y).mean(0)))


def _pairs(n: int, max_pairs: int, rng: np.random.Generator, ordered: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """All distinct pairs (i < j, or i != j when ``ordered``), or ``max_pairs`` drawn with replacement."""
    total = n * (n - 1) if ordered else n * (n - 1) // 2
    if total <= max_pairs:
        i, j = np.triu_indices(n, k=1)
        return (np.concatenate([i, j]), np.concatenate([j, i])) if ordered else (i, j)
    i = rng.integers(0, n, max_pairs)
    j = (i + rng.integers(1, n, max_pairs)) % n  # j != i, uniform over the others
    return i, j


def _pair_dots(x: np.ndarray, y: np.ndarray, i: np.ndarray, j: np.ndarray, chunk: int = 8192) -> np.ndarray:
    """Row-wise dot products x[i_k] . y[j_k] (K,), in chunks so memory stays ~chunk * d."""
    return np.concatenate([np.einsum("kd,kd->k", x[i[s:s + chunk]], y[j[s:s + chunk]])
                           for s in range(0, i.size, chunk)]) if i.size else np.zeros(0)


def uniformity(x: Any, t: float = 2.0, max_pairs: int = 2_000_000, seed: int = 0) -> float:
    """Wang and Isola's uniformity ``log mean_{i<j} exp(-t ||x̂_i - x̂_j||^2)`` of x (N, d); NaN
    if N < 2. Above ``max_pairs`` pairs, a seeded random sample of pairs is used."""
    xn = l2_normalize(x)
    if xn.shape[0] < 2:
        return float("nan")
    i, j = _pairs(xn.shape[0], max_pairs, np.random.default_rng(seed))
    norms = np.sum(xn * xn, axis=1)
    sq = np.maximum(norms[i] + norms[j] - 2 * _pair_dots(xn, xn, i, j), 0.0)
    return float(logsumexp(-t * sq) - np.log(sq.size))


def sentiment_spearman(x: Any, labels: Any, y: Any = None, max_pairs: int = 200_000, seed: int = 0) -> float:
    """Spearman's rho between cosine distance and label distance over pairs of clips of x (N, d),
    or (x_i, y_j), i != j, with a second modality y; NaN for fewer than two clips or a constant side."""
    xn, lab = l2_normalize(x), np.asarray(labels, dtype=np.float64).reshape(-1)
    yn = xn if y is None else l2_normalize(y)
    if xn.shape[0] < 2:
        return float("nan")
    i, j = _pairs(xn.shape[0], max_pairs, np.random.default_rng(seed), ordered=y is not None)
    dist = 1.0 - _pair_dots(xn, yn, i, j)
    gap = np.abs(lab[i] - lab[j])
    if np.ptp(dist) <= TIE_TOL or np.ptp(gap) == 0:
        return float("nan")
    return float(spearmanr(dist, gap).statistic)


def polarity(labels: Any) -> np.ndarray:
    """Polarity class of each label: -1 negative, 0 neutral (exactly 0), 1 positive; (N,) int."""
    return np.sign(np.asarray(labels, dtype=np.float64).reshape(-1)).astype(np.int64)


def polarity_silhouette(x: Any, labels: Any, max_samples: int = 5000, seed: int = 0) -> float:
    """Cosine silhouette of the polarity classes of x (N, d); NaN below two classes (seeded
    ``sample_size`` above ``max_samples`` clips)."""
    xn, cls = l2_normalize(x), polarity(labels)
    if np.sum(cls == 0) < 2:
        keep = cls != 0
        xn, cls = xn[keep], cls[keep]
    n_classes = np.unique(cls).size
    if n_classes < 2 or n_classes >= cls.size:
        return float("nan")
    sample = max_samples if cls.size > max_samples else None
    return float(silhouette_score(xn, cls, metric="cosine", sample_size=sample, random_state=seed))


def alignment_metrics(
    emb: Embeddings | Mapping[str, Any],
    labels: Any = None,
    modalities: Sequence[str] = MODALITIES,
    ks: Sequence[int] = (1, 5),
    max_pairs: int = 200_000,
    seed: int = 0,
) -> pd.DataFrame:
    """The measures of the module docstring for every ordered pair and every modality.

    ``emb`` is :class:`Embeddings` or modality -> (N, d) features (then ``labels`` (N,));
    ``ks`` the k of ``recall@k``; ``max_pairs`` and ``seed`` the Spearman subsample's.

    Returns:
        Indexed by ``scope``: pairs ``"text->audio"``, ... (``kind == "pair"``), then modalities
        (``kind == "modality"``); NaN where a column does not apply; ``attrs`` n and seed.
    """
    if isinstance(emb, Embeddings):
        feats = {m: emb.features(m) for m in MODALITIES}
        labels = emb.labels if labels is None else labels
    else:
        feats = {modality_name(k): np.asarray(v) for k, v in emb.items()}
    if labels is None:
        raise ValueError("labels are required when features are given as a mapping")
    lab = np.asarray(labels, dtype=np.float64).reshape(-1)
    names = [modality_name(m) for m in modalities]
    rows: dict[str, dict[str, Any]] = {}
    for a, b in combinations(names, 2):
        for q, g in ((a, b), (b, a)):  # query q, gallery g
            x, y = feats[q], feats[g]
            rows[f"{q}->{g}"] = {"kind": "pair", **retrieval(x, y, ks), "alignment": alignment(x, y),
                                 "modality_gap": modality_gap(x, y),
                                 "spearman": sentiment_spearman(x, lab, y, max_pairs=max_pairs, seed=seed)}
    for m in names:
        rows[m] = {"kind": "modality", "uniformity": uniformity(feats[m], seed=seed),
                   "silhouette": polarity_silhouette(feats[m], lab, seed=seed),
                   "spearman": sentiment_spearman(feats[m], lab, max_pairs=max_pairs, seed=seed)}
    columns = ["kind", *[f"recall@{k}" for k in ks], "mean_rank", "alignment", "modality_gap", "uniformity",
               "silhouette", "spearman"]
    frame = pd.DataFrame.from_dict(rows, orient="index").reindex(columns=columns)
    frame.index.name = "scope"
    frame.attrs.update(n=int(lab.size), seed=seed)
    return frame
