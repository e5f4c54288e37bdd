"""Several models' alignment numbers side by side, and one-line verdicts.

:func:`alignment_verdict` counts only differences larger than a noise-sized margin (one clip
for recall@1, :data:`MARGIN` for alignment and Spearman).
"""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd

# column -> the rows it is averaged over: the modality pairs or the modalities
ALIGNMENT_COLUMNS = {"recall@1": "pair", "recall@5": "pair", "alignment": "pair", "uniformity": "modality",
                   "silhouette": "modality", "spearman": "modality"}
MARGIN = 0.02  # alignment and Spearman differences below this count as noise


def alignment_row(table: pd.DataFrame) -> dict[str, float]:
    """One model's ``alignment_metrics`` table as a row: means over pairs or modalities
    (:data:`ALIGNMENT_COLUMNS`; columns the table lacks are left out)."""
    return {column: table.loc[table["kind"] == kind, column].mean()
            for column, kind in ALIGNMENT_COLUMNS.items() if column in table}


def compare_models(tables: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    """{model name: alignment_metrics table} -> one row per model, :data:`ALIGNMENT_COLUMNS`."""
    side = pd.DataFrame({name: alignment_row(table) for name, table in tables.items()}).T
    side.index.name = "model (means over pairs / modalities)"
    return side[list(ALIGNMENT_COLUMNS)]


def alignment_verdict(side: pd.DataFrame, a: str, b: str, n_clips: int, context: str = "one seed") -> str:
    """Whether model ``a`` of ``side`` (:func:`compare_models`) is better aligned than ``b`` on recall@1, alignment and
    Spearman; ``n_clips`` sets recall@1's chance and margin (1/N), ``context`` is quoted in the sentence."""
    t, n = side.loc[a], side.loc[b]
    margins = {"recall@1": 1 / n_clips, "alignment": MARGIN, "spearman": MARGIN}
    gains = {"recall@1": t["recall@1"] - n["recall@1"], "alignment": n["alignment"] - t["alignment"],
             "spearman": t["spearman"] - n["spearman"]}  # alignment: lower is better
    wins = [k for k, g in gains.items() if g > margins[k]]
    losses = [k for k, g in gains.items() if g < -margins[k]]
    if len(wins) == 3:
        head = f"{a} is better aligned than {b} on recall@1, alignment and spearman"
    elif wins and not losses:
        head = f"{a} is ahead of {b} on {', '.join(wins)} only; the rest is within noise"
    elif wins:
        head = f"mixed: {a} is ahead on {', '.join(wins)} but behind on {', '.join(losses)}"
    elif losses:
        head = f"no: {a} is behind {b} on {', '.join(losses)}"
    else:
        head = f"no clear difference between {a} and {b}"
    return (f"{head} ({context}) — recall@1 {t['recall@1']:.3f} vs {n['recall@1']:.3f} (chance {1 / n_clips:.3f}), "
            f"alignment {t['alignment']:.3f} vs {n['alignment']:.3f}, "
            f"spearman {t['spearman']:.3f} vs {n['spearman']:.3f}.")


def modality_separation(proj: pd.DataFrame, k: int = 5) -> float:
    """Share of the points of a :func:`~amccl.analysis.project_joint` map whose modality is the
    majority among their k nearest points (itself included): near 1/3 mixed, 1 separate."""
    from sklearn.neighbors import KNeighborsClassifier

    xy = proj[["x", "y"]].to_numpy()
    knn = KNeighborsClassifier(n_neighbors=k).fit(xy, proj["modality"])
    return float(knn.score(xy, proj["modality"]))


def separation_verdict(share: float) -> str:
    """'still separate' (> 0.8), 'partly mixed' (> 0.5) or 'mixed'."""
    return "still separate" if share > 0.8 else "partly mixed" if share > 0.5 else "mixed"
