"""Where the model fails: residuals by label bin and clip length, the Acc-7 confusion, the worst clips.

Everything starts from :func:`error_table`, one row per clip: a predictions table (``id``,
``label``, ``prediction``) joined with the split's transcripts and lengths. The bins are MMSA's
Acc-7 classes (:func:`amccl.metrics.acc7_bins`); the residual is ``prediction - label``.
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
    """One row per clip of ``predictions`` (``id``, ``label``, ``prediction``) on ``split``, in
    their order: ``residual``, ``abs_error``, ``true_bin``, ``pred_bin``, ``text_len``
    (attention-mask tokens), ``audio_len``, ``vision_len``, ``raw_text``.

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
    """``count``, ``mae``, ``mean_residual`` per true Acc-7 class -3..3 of an :func:`error_table`
    (all seven; empty ones count 0, NaN)."""
    out = _summarise(table, pd.Categorical(table["true_bin"], categories=ACC7_LABELS))
    out.index = pd.Index(ACC7_LABELS, name="true_bin")
    return out


def residuals_by_length(table: pd.DataFrame, column: str = "text_len", q: int = 4) -> pd.DataFrame:
    """``count``, ``mae``, ``mean_residual`` per ``q``-quantile bin (``pandas.qcut``, repeated
    edges merged) of a length ``column`` of an :func:`error_table`."""
    if column not in table.columns:
        raise KeyError(f"no length column {column!r}; expected one of {LENGTH_COLUMNS}")
    out = _summarise(table, pd.qcut(table[column], q=q, duplicates="drop"))
    out.index.name = column
    return out


def acc7_confusion(table: pd.DataFrame) -> pd.DataFrame:
    """The 7x7 Acc-7 confusion counts of an :func:`error_table`: rows ``true``, columns
    ``predicted``, every class -3..3 present."""
    counts = confusion_matrix(table["true_bin"], table["pred_bin"], labels=list(ACC7_LABELS))
    return pd.DataFrame(counts, index=pd.Index(ACC7_LABELS, name="true"),
                        columns=pd.Index(ACC7_LABELS, name="predicted"))


def worst_clips(table: pd.DataFrame, k: int = 10) -> pd.DataFrame:
    """The ``k`` clips with the largest absolute error, largest first (ties: table order):
    ``id``, ``label``, ``prediction``, ``error``, ``abs_error``, ``text_len``, ``raw_text``."""
    order = table.sort_values("abs_error", ascending=False, kind="stable").head(k)
    columns = ["id", "label", "prediction", "residual", "abs_error", "text_len", "raw_text"]
    return order[columns].rename(columns={"residual": "error"}).reset_index(drop=True)
