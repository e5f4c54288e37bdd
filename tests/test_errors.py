"""Error analysis: hand-computed bins, per-bin errors, the Acc-7 confusion, the worst clips, figures."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from amccl.analysis.errors import (  # noqa: E402
    acc7_confusion,
    error_table,
    residuals_by_label,
    residuals_by_length,
    worst_clips,
)
from amccl.data import MMSASplit  # noqa: E402
from amccl.metrics import (  # noqa: E402
    acc7_bins,
    compute_metrics,  # noqa: E402
    polarity,
)
from amccl.plotting import plot_confusion, plot_residuals_by_bin  # noqa: E402

IDS = ["a", "b", "c", "d", "e"]
LABELS = [-2.6, -0.4, 0.5, 1.5, 2.8]  # Acc-7 classes -3, 0, 0 (half to even), 2, 3
PREDS = [-1.0, 0.2, 0.4, 1.6, -0.2]  # classes -1, 0, 0, 2, 0; residuals 1.6, 0.6, -0.1, 0.1, -3.0
TOKENS = [2, 3, 4, 5, 6]  # attention-mask lengths


def tiny_split() -> MMSASplit:
    lt = 6
    mask = (np.arange(lt)[None, :] < np.array(TOKENS)[:, None]).astype(np.int64)
    text = np.stack([mask * 1000, mask, np.zeros_like(mask)], axis=1)
    return MMSASplit(name="test", text=text, audio=np.zeros((5, 4, 2), np.float32),
                     vision=np.zeros((5, 3, 2), np.float32), audio_lengths=np.array([4, 3, 2, 1, 4]),
                     vision_lengths=np.array([3, 3, 1, 2, 1]), labels=np.array(LABELS, np.float32),
                     raw_text=np.array([f"text of {i}" for i in IDS]), ids=np.array(IDS))


@pytest.fixture
def table() -> pd.DataFrame:
    predictions = pd.DataFrame({"id": IDS, "label": LABELS, "prediction": PREDS})
    return error_table(predictions, tiny_split())


def test_bins_round_half_to_even_after_clipping():
    assert acc7_bins([2.5, -0.5, 3.7, -3.2, 1.4999, 0.5]).tolist() == [2, 0, 3, -3, 1, 0]
    assert polarity([-0.5, 0.0, 0.3]).tolist() == ["negative", "neutral", "positive"]
    assert polarity([-0.1, 0.1, 0.1001, -0.5, 2.0], "sims").tolist() == [
        "negative", "neutral", "positive", "negative", "positive"]  # right-closed bins, float32 edges


def test_error_table_joins_the_split_by_id(table):
    np.testing.assert_allclose(table["residual"], [1.6, 0.6, -0.1, 0.1, -3.0], atol=1e-12)
    assert table["true_bin"].tolist() == [-3, 0, 0, 2, 3] and table["pred_bin"].tolist() == [-1, 0, 0, 2, 0]
    assert table["text_len"].tolist() == TOKENS and table["vision_len"].tolist() == [3, 3, 1, 2, 1]
    shuffled = error_table(pd.DataFrame({"id": IDS[::-1], "label": LABELS[::-1], "prediction": PREDS[::-1]}),
                           tiny_split())
    assert shuffled["raw_text"].tolist() == [f"text of {i}" for i in IDS[::-1]]
    assert shuffled["text_len"].tolist() == TOKENS[::-1]
    with pytest.raises(KeyError, match="not in split 'test'"):
        error_table(pd.DataFrame({"id": ["zz"], "label": [0.0], "prediction": [0.0]}), tiny_split())


def test_residuals_by_label_keep_all_seven_bins(table):
    by = residuals_by_label(table)
    assert by.index.tolist() == [-3, -2, -1, 0, 1, 2, 3] and by.index.name == "true_bin"
    assert by["count"].tolist() == [1, 0, 0, 2, 0, 1, 1]
    np.testing.assert_allclose(by["mae"], [1.6, np.nan, np.nan, 0.35, np.nan, 0.1, 3.0], atol=1e-12)
    np.testing.assert_allclose(by["mean_residual"], [1.6, np.nan, np.nan, 0.25, np.nan, 0.1, -3.0], atol=1e-12)


def test_residuals_by_length_use_quantile_bins(table):
    by = residuals_by_length(table, "text_len", q=2)  # median 4: {2, 3, 4} and {5, 6}
    assert by.index.name == "text_len" and by["count"].tolist() == [3, 2]
    np.testing.assert_allclose(by["mae"], [2.3 / 3, 1.55], atol=1e-12)
    np.testing.assert_allclose(by["mean_residual"], [0.7, -1.45], atol=1e-12)
    with pytest.raises(KeyError, match="length column"):
        residuals_by_length(table, "words")


def test_confusion_has_every_class_even_when_absent(table):
    confusion = acc7_confusion(table)
    assert confusion.shape == (7, 7) and confusion.to_numpy().sum() == 5
    assert confusion.index.name == "true" and confusion.columns.name == "predicted"
    expected = np.zeros((7, 7), int)
    for t, p, n in ((-3, -1, 1), (0, 0, 2), (2, 2, 1), (3, 0, 1)):
        expected[t + 3, p + 3] = n
    np.testing.assert_array_equal(confusion.to_numpy(), expected)


def test_confusion_diagonal_is_mmsas_acc7():
    rng = np.random.default_rng(0)
    labels = np.round(rng.uniform(-3.4, 3.4, 200) * 2) / 2  # many exact halves
    preds = labels + rng.normal(0, 0.8, 200)
    table = pd.DataFrame({"true_bin": acc7_bins(labels), "pred_bin": acc7_bins(preds)})
    acc7 = np.trace(acc7_confusion(table).to_numpy()) / 200
    assert acc7 == pytest.approx(compute_metrics(preds, labels, "mosi")["Mult_acc_7"], abs=1e-4)


def test_worst_clips_largest_first_with_text(table):
    worst = worst_clips(table, k=3)
    assert worst["id"].tolist() == ["e", "a", "b"]
    assert worst["raw_text"].tolist() == ["text of e", "text of a", "text of b"]
    np.testing.assert_allclose(worst["error"], [-3.0, 1.6, 0.6], atol=1e-12)
    assert list(worst.columns) == ["id", "label", "prediction", "error", "abs_error", "text_len", "raw_text"]
    tied = table.assign(abs_error=[1.0, 2.0, 1.0, 2.0, 0.5])
    assert worst_clips(tied, k=4)["id"].tolist() == ["b", "d", "a", "c"]  # ties keep the table's order


def test_confusion_heatmap_labels_and_row_shares(table):
    fig = plot_confusion(acc7_confusion(table))
    ax = fig.axes[0]
    assert ax.get_xlabel() == "predicted 7-class bin" and ax.get_ylabel() == "true 7-class bin"
    assert [t.get_text() for t in ax.get_xticklabels()] == [str(c) for c in range(-3, 4)]
    assert sorted(t.get_text() for t in ax.texts if t.get_text() != "0")[:4] == ["1", "1", "1", "2"]
    plt.close(fig)
    fig = plot_confusion(acc7_confusion(table), normalize=True)
    shares = [t.get_text() for t in fig.axes[0].texts]  # each present row: one cell 1.00; empty rows blank
    assert len(shares) == 4 * 7 and shares.count("1.00") == 4 and set(shares) == {"0.00", "1.00"}
    assert "row-normalised" in fig.axes[0].get_title()
    plt.close(fig)
    counts = acc7_confusion(table)
    counts.iloc[0, :2] = [1, 3]  # true -3: 1 predicted -3, 3 predicted -2 (and the 1 at -1)
    fig = plot_confusion(counts, normalize=True)
    assert [t.get_text() for t in fig.axes[0].texts][:3] == ["0.20", "0.60", "0.20"]
    plt.close(fig)


def test_residual_figure_annotates_counts(table):
    fig = plot_residuals_by_bin(residuals_by_label(table))
    left, right = fig.axes[:2]
    assert left.get_xlabel() == "true 7-class bin" and right.get_xlabel() == "true 7-class bin"
    assert [t.get_text() for t in left.texts] == ["n=1", "n=0", "n=0", "n=2", "n=0", "n=1", "n=1"]
    assert left.get_ylabel() == "MAE" and [t.get_text() for t in left.get_xticklabels()][0] == "-3"
    plt.close(fig)
