"""Side-by-side alignment numbers, the verdict on two models and the 2-D map's reading."""

import numpy as np
import pandas as pd
import pytest

from amccl.analysis import alignment_verdict, compare_models, modality_separation, separation_verdict
from amccl.analysis.compare import alignment_row


def metrics_table(recall1, alignment, spearman):
    """A crafted alignment_metrics table: two pairs and two modalities."""
    rows = [dict(kind="pair", **{"recall@1": recall1, "recall@5": 2 * recall1, "alignment": alignment}),
            dict(kind="pair", **{"recall@1": recall1 + 0.02, "recall@5": 0.5, "alignment": alignment + 0.2}),
            dict(kind="modality", uniformity=-1.0, silhouette=0.1, spearman=spearman),
            dict(kind="modality", uniformity=-3.0, silhouette=0.3, spearman=spearman + 0.1)]
    return pd.DataFrame(rows)


def test_alignment_row_averages_pairs_and_modalities_separately():
    row = alignment_row(metrics_table(0.1, 1.0, 0.2))
    assert row == pytest.approx({"recall@1": 0.11, "recall@5": 0.35, "alignment": 1.1, "uniformity": -2.0,
                                 "silhouette": 0.2, "spearman": 0.25})


def test_compare_models_has_one_row_per_model_in_order():
    side = compare_models({"b": metrics_table(0.1, 1.0, 0.2), "a": metrics_table(0.3, 0.5, 0.4)})
    assert list(side.index) == ["b", "a"]
    assert list(side.columns) == ["recall@1", "recall@5", "alignment", "uniformity", "silhouette", "spearman"]
    assert side.loc["a", "alignment"] == pytest.approx(0.6)


@pytest.mark.parametrize("a,b,head", [
    ((0.30, 0.50, 0.40), (0.10, 1.00, 0.20), "a is better aligned than b on recall@1, alignment and spearman"),
    ((0.30, 1.00, 0.20), (0.10, 1.00, 0.20), "a is ahead of b on recall@1 only; the rest is within noise"),
    ((0.30, 1.50, 0.20), (0.10, 1.00, 0.20), "mixed: a is ahead on recall@1 but behind on alignment"),
    ((0.10, 1.00, 0.00), (0.10, 1.00, 0.20), "no: a is behind b on spearman"),
    # within the margins: recall@1 by less than one clip of 100 (0.01), the others by < 0.02
    ((0.105, 0.99, 0.21), (0.10, 1.00, 0.20), "no clear difference between a and b"),
])
def test_verdict_counts_only_differences_beyond_the_margins(a, b, head):
    side = compare_models({"a": metrics_table(*a), "b": metrics_table(*b)})
    verdict = alignment_verdict(side, "a", "b", n_clips=100, context="crafted")
    assert verdict.startswith(head + " (crafted)")
    assert "(chance 0.010)" in verdict


def test_modality_separation_islands_vs_mixed():
    rng = np.random.default_rng(0)
    modality = np.repeat(["text", "audio", "vision"], 30)
    centres = {"text": (0, 0), "audio": (50, 0), "vision": (0, 50)}
    islands = np.array([centres[m] for m in modality]) + rng.normal(size=(90, 2))
    apart = pd.DataFrame({"x": islands[:, 0], "y": islands[:, 1], "modality": modality})
    assert modality_separation(apart) == 1.0 and separation_verdict(1.0) == "still separate"
    # the same points, modalities assigned in a repeating pattern along a line: neighbours differ
    line = pd.DataFrame({"x": np.arange(90.0), "y": np.zeros(90), "modality": np.tile(["text", "audio", "vision"], 30)})
    share = modality_separation(line, k=5)
    assert share < 0.5 and separation_verdict(share) == "mixed"
    assert separation_verdict(0.6) == "partly mixed"
