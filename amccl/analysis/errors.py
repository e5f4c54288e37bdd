"""Where the model fails: residuals by label bin and clip length, the Acc-7 confusion, the worst clips.

Everything starts from :func:`error_table`, one row per clip of a split: ``predictions.csv``'s
table (:func:`amccl.evaluation.predictions_frame`: ``id``, ``label``, ``prediction``, e.g.
``History.test_predictions``) joined with the split's transcripts and lengths. The 7-class
bins are MMSA's Acc-7 classes (:func:`acc7_bins`: clip to [-3, 3], then ``np.round``, half
to even, in float32, as ``Mult_acc_7`` compares them); on SIMS' [-1, 1] scale only the three
middle bins occur. The residual is ``prediction - label`` (positive: too positive).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import confusion_matrix

from amccl.metrics import acc7_bins

ACC7_LABELS: tuple[int, ...] = (-3, -2, -1, 0, 1, 2, 3)
LENGTH_COLUMNS = ("text_len", "audio_len", "vision_len")


def error_table(predictions: pd.DataFrame, split: Any) -> pd.DataFrame:
    """One row per clip: ids, labels, predictions, errors, bins, lengths and transcript.

    Args:
        predictions: ``id``, ``label``, ``prediction`` (N rows, e.g. ``predictions.csv``).
        split: the :class:`~amccl.data.types.MMSASplit` they were made on (ids matched).

    Returns:
        DataFrame in ``predictions``' order: ``id``, ``label``, ``prediction``, ``residual``
        (prediction - label), ``abs_error``, ``true_bin``, ``pred_bin`` (Acc-7 classes),
        ``text_len`` (tokens of the attention mask, [CLS] and [SEP] included),
        ``audio_len``, ``vision_len``, ``raw_text``.

    Raises:
        KeyError: a prediction's id is not in the split.
    """
    clips = pd.DataFrame({
        "id": [str(i) for i in split.ids],
        "text_len": np.asarray(split.text)[:, 1].sum(axis=1).astype(np.int64),
        "audio_len": np.asarray(split.audio_lengths, dtype=np.int64),
        "vision_len": np.asarray(split.vision_lengths, dtype=np.int64),
        "raw_text": [str(t) for t in split.raw_text],
    }).drop_duplicates("id").set_index("id")
    ids = predictions["id"].astype(str)
    missing = ids[~ids.isin(clips.index)]
    if len(missing):
        raise KeyError(f"{len(missing)} prediction ids are not in split '{split.name}' (first: {missing.iloc[0]!r})")
    table = pd.DataFrame({"id": ids.to_numpy(), "label": predictions["label"].to_numpy(np.float64),
                          "prediction": predictions["prediction"].to_numpy(np.float64)})
    table["residual"] = table["prediction"] - table["label"]
    table["abs_error"] = table["residual"].abs()
    table["true_bin"], table["pred_bin"] = acc7_bins(table["label"]), acc7_bins(table["prediction"])
    return table.join(clips, on="id")


def _summarise(table: pd.DataFrame, groups: Any) -> pd.DataFrame:
    """``count``, ``mae``, ``mean_residual`` per group (empty groups: count 0, NaN)."""
    grouped = table.groupby(groups, observed=False)
    out = pd.DataFrame({"count": grouped.size(), "mae": grouped["abs_error"].mean(),
                        "mean_residual": grouped["residual"].mean()})
    out["count"] = out["count"].fillna(0).astype(np.int64)
    return out


def residuals_by_label(table: pd.DataFrame) -> pd.DataFrame:
    """Errors per true Acc-7 class of an :func:`error_table`.

    Returns:
        DataFrame indexed by ``true_bin`` -3..3 (all seven, empty ones with count 0 and NaN):
        ``count``, ``mae`` (mean |prediction - label|), ``mean_residual`` (mean prediction - label).
    """
    bins = pd.Categorical(table["true_bin"], categories=ACC7_LABELS)
    out = _summarise(table, bins)
    out.index = pd.Index(ACC7_LABELS, name="true_bin")
    return out


def residuals_by_length(table: pd.DataFrame, column: str = "text_len", q: int = 4) -> pd.DataFrame:
    """Errors per quantile bin of a length column of an :func:`error_table`.

    Args:
        column: ``text_len``, ``audio_len`` or ``vision_len``.
        q: number of quantile bins (``pandas.qcut``; repeated edges are merged, so fewer
            bins come back when many clips share a length).

    Returns:
        DataFrame indexed by the length interval (named ``column``): ``count``, ``mae``,
        ``mean_residual``.
    """
    if column not in table.columns:
        raise KeyError(f"no length column {column!r}; expected one of {LENGTH_COLUMNS}")
    bins = pd.qcut(table[column], q=q, duplicates="drop")
    out = _summarise(table, bins)
    out.index.name = column
    return out


def acc7_confusion(table: pd.DataFrame) -> pd.DataFrame:
    """The 7x7 Acc-7 confusion matrix of an :func:`error_table` (counts).

    Returns:
        DataFrame, rows ``true`` class -3..3, columns ``predicted`` class -3..3, every class
        present even when no clip has it; the diagonal sums to Acc-7 x N.
    """
    counts = confusion_matrix(table["true_bin"], table["pred_bin"], labels=list(ACC7_LABELS))
    return pd.DataFrame(counts, index=pd.Index(ACC7_LABELS, name="true"),
                        columns=pd.Index(ACC7_LABELS, name="predicted"))


def worst_clips(table: pd.DataFrame, k: int = 10) -> pd.DataFrame:
    """The ``k`` clips with the largest absolute error, largest first (ties: table order).

    Returns:
        DataFrame (index 0..k-1): ``id``, ``label``, ``prediction``, ``error`` (prediction -
        label), ``abs_error``, ``text_len``, ``raw_text``.
    """
    order = table.sort_values("abs_error", ascending=False, kind="stable").head(k)
    columns = ["id", "label", "prediction", "residual", "abs_error", "text_len", "raw_text"]
    return order[columns].rename(columns={"residual": "error"}).reset_index(drop=True)
