"""MMSA's regression metrics (:func:`compute_metrics`, as docs/model.md §5 defines them) and the one display.

Where MMSA crashes or warns, the value is NaN: ``Non0_*`` with all labels zero, ``Mult_acc_2_weak`` with no
weak label, ``Corr`` of a constant, short or non-finite side, ``R_squre`` below two samples; an empty input
raises ``ValueError``. Values are fractions (0.8312) in code and in every file the package writes; people see
them through :func:`format_value`, :func:`format_mean_std` and :func:`format_table`: accuracies and F1 in %
(``85.00``), MAE, Corr and R² as fractions (``0.7663``); differences likewise, accuracies in points.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import accuracy_score, f1_score, r2_score

__all__ = ["MOSI_KEYS", "SIMS_KEYS", "KNOWN_METRICS", "ACC2_KEYS", "LOWER_IS_BETTER",
           "compute_metrics", "primary_metrics", "metric_columns", "metric_family", "DISPLAY_NOTE", "is_percent",
           "display_scale", "display_digits", "display_unit", "format_value", "format_mean_std", "format_table"]

# The metric names, in MMSA's display order; every other module takes them from here.
MOSI_KEYS: tuple[str, ...] = ("Has0_acc_2", "Has0_F1_score", "Non0_acc_2", "Non0_F1_score",
                               "Mult_acc_5", "Mult_acc_7", "MAE", "Corr")
SIMS_KEYS: tuple[str, ...] = ("Mult_acc_2", "Mult_acc_2_weak", "Mult_acc_3", "Mult_acc_5",
                               "F1_score", "MAE", "Corr", "R_squre")
KNOWN_METRICS: tuple[str, ...] = tuple(dict.fromkeys(MOSI_KEYS + SIMS_KEYS))
UNSCALED: tuple[str, ...] = ("MAE", "Corr", "R_squre")  # displayed as fractions, never in %
ACC2_KEYS: tuple[str, ...] = ("Has0_acc_2", "Non0_acc_2", "Mult_acc_2", "Mult_acc_2_weak")  # binary accuracies
LOWER_IS_BETTER = frozenset({"MAE"})  # every other metric: higher is better
_MOSI_LIKE = ("mosi", "mosei")
_SIMS_LIKE = ("sims", "simsv2")

# MMSA's bin edges for SIMS; class i holds edges[i] < v <= edges[i + 1] (right-closed).
SIMS_EDGES_2 = (-1.01, 0.0, 1.01)
SIMS_EDGES_3 = (-1.01, -0.1, 0.1, 1.01)
SIMS_EDGES_5 = (-1.01, -0.7, -0.1, 0.1, 0.7, 1.01)
SIMS_WEAK_LIMIT = 0.4
ROUND_DIGITS = 4  # MMSA rounds the MOSI/MOSEI metric values to 4 decimals


def _as_flat_float32(x: Any) -> np.ndarray:
    """A tensor (any device, with grad or not), array, list or scalar as a (N,) float32 array,
    flattened like MMSA's ``view(-1)``."""
    if hasattr(x, "detach"):  # torch.Tensor without importing torch here
        x = x.detach().float().cpu().numpy()
    return np.asarray(x, dtype=np.float32).reshape(-1)


def metric_family(dataset: str) -> str:
    """``"mosi"`` for MOSI/MOSEI (7-point scale), ``"sims"`` for SIMS/SIMS-v2 ([-1, 1]); any case, ``-``/``_``
    ignored (``sims-v2``)."""
    key = str(dataset).lower().replace("-", "").replace("_", "")
    if key not in _MOSI_LIKE + _SIMS_LIKE:
        raise ValueError(f"unknown dataset {dataset!r}; expected one of {_MOSI_LIKE + _SIMS_LIKE}")
    return "mosi" if key in _MOSI_LIKE else "sims"


def _multiclass_acc(p_cls: np.ndarray, t_cls: np.ndarray) -> float:
    """MMSA's ``__multiclass_acc``: share of equal ``np.round`` (half to even) classes; NaN when empty."""
    if t_cls.size == 0:
        return float("nan")
    return float(np.mean(np.round(p_cls) == np.round(t_cls)))


def _pearson(p: np.ndarray, t: np.ndarray) -> float:
    """``np.corrcoef(p, t)[0][1]``; NaN (silently) for constant, short or non-finite input."""
    if p.size < 2 or not (np.all(np.isfinite(p)) and np.all(np.isfinite(t))) or np.ptp(p) == 0 or np.ptp(t) == 0:
        return float("nan")
    return float(np.corrcoef(p, t)[0][1])


def _binary_scores(p_pos: np.ndarray, t_pos: np.ndarray) -> tuple[float, float]:
    """Accuracy and weighted F1 of (N,) bool predicted and true classes; (NaN, NaN) when empty."""
    if t_pos.size == 0:
        return float("nan"), float("nan")
    return float(accuracy_score(t_pos, p_pos)), float(f1_score(t_pos, p_pos, average="weighted", zero_division=0))


def _bin_right_closed(v: np.ndarray, edges: Sequence[float]) -> np.ndarray:
    """MMSA's SIMS binning of v (N,): class i where edges[i] < v <= edges[i+1], in v's dtype;
    values outside (edges[0], edges[-1]] keep their own value, as in MMSA."""
    e = np.asarray(edges, dtype=v.dtype)
    out = v.copy()
    for i in range(len(e) - 1):
        out[(v > e[i]) & (v <= e[i + 1])] = i
    return out


POLARITIES: tuple[str, ...] = ("negative", "neutral", "positive")


def acc7_bins(values: Any) -> np.ndarray:
    """MMSA's Acc-7 class of each value (``np.round(np.clip(v, -3, 3))`` in float32), (N,) int64."""
    return np.round(np.clip(_as_flat_float32(values), -3.0, 3.0)).astype(np.int64)


def polarity(values: Any, dataset: str = "mosi") -> np.ndarray:
    """(N,) ``negative`` / ``neutral`` / ``positive``: MOSI / MOSEI by sign (exactly 0 is
    ``neutral``), SIMS by ``Mult_acc_3``'s bins after clipping to [-1, 1]."""
    v = _as_flat_float32(values)
    if metric_family(dataset) == "sims":
        classes = _bin_right_closed(np.clip(v, -1.0, 1.0), SIMS_EDGES_3).astype(np.int64)
    else:
        classes = (np.sign(v) + 1).astype(np.int64)
    return np.asarray(POLARITIES, dtype=object)[classes]


def _mosi_metrics(p: np.ndarray, t: np.ndarray) -> dict[str, float]:
    """MMSA's ``__eval_mosei_regression`` on (N,) float32 predictions and labels."""
    nz = t != 0
    non0_acc, non0_f1 = _binary_scores(p[nz] > 0, t[nz] > 0)
    has0_acc, has0_f1 = _binary_scores(p >= 0, t >= 0)
    return {"Has0_acc_2": has0_acc, "Has0_F1_score": has0_f1, "Non0_acc_2": non0_acc, "Non0_F1_score": non0_f1,
            "Mult_acc_5": _multiclass_acc(np.clip(p, -2.0, 2.0), np.clip(t, -2.0, 2.0)),
            "Mult_acc_7": _multiclass_acc(np.clip(p, -3.0, 3.0), np.clip(t, -3.0, 3.0)),
            "MAE": float(np.mean(np.abs(p - t))), "Corr": _pearson(p, t)}


def _sims_metrics(p: np.ndarray, t: np.ndarray) -> dict[str, float]:
    """MMSA's SIMS regression evaluator on (N,) float32 predictions and labels."""
    p = np.clip(p, -1.0, 1.0)
    t = np.clip(t, -1.0, 1.0)
    p2, t2 = _bin_right_closed(p, SIMS_EDGES_2), _bin_right_closed(t, SIMS_EDGES_2)
    limit = np.float32(SIMS_WEAK_LIMIT)
    weak = (t >= -limit) & (t <= limit)
    return {
        "Mult_acc_2": _multiclass_acc(p2, t2),
        "Mult_acc_2_weak": _multiclass_acc(p2[weak], t2[weak]),
        "Mult_acc_3": _multiclass_acc(_bin_right_closed(p, SIMS_EDGES_3), _bin_right_closed(t, SIMS_EDGES_3)),
        "Mult_acc_5": _multiclass_acc(_bin_right_closed(p, SIMS_EDGES_5), _bin_right_closed(t, SIMS_EDGES_5)),
        "F1_score": float(f1_score(t2, p2, average="weighted", zero_division=0)),
        "MAE": float(np.mean(np.abs(p - t))),
        "Corr": _pearson(p, t),
        "R_squre": float(r2_score(t, p)) if t.size >= 2 else float("nan"),  # sklearn warns below 2
    }


def compute_metrics(pred: Any, true: Any, dataset: str) -> dict[str, float]:
    """MMSA's regression metrics of one split (docs/model.md §5), as fractions.

    Args:
        pred, true: (N,) or (N, 1) predictions and labels, tensors or array-likes.
        dataset: ``mosi``, ``mosei``, ``sims`` or ``simsv2`` (case-insensitive).

    Returns:
        ``{name: float}`` in :func:`primary_metrics` order; NaN where a metric is undefined.

    Raises:
        ValueError: unknown dataset, empty input, or different sizes.
    """
    family = metric_family(dataset)
    p, t = _as_flat_float32(pred), _as_flat_float32(true)
    if p.shape != t.shape:
        raise ValueError(f"pred has {p.size} values but true has {t.size}")
    if p.size == 0:
        raise ValueError("compute_metrics needs at least one sample")
    if family == "sims":
        return _sims_metrics(p, t)
    return {k: v if np.isnan(v) else round(v, ROUND_DIGITS) for k, v in _mosi_metrics(p, t).items()}


def primary_metrics(dataset: str) -> list[str]:
    """The metric keys of ``dataset`` in display order (the order MMSA reports them)."""
    return list(MOSI_KEYS if metric_family(dataset) == "mosi" else SIMS_KEYS)


def metric_columns(frame: pd.DataFrame, dataset: str | None = None) -> list[str]:
    """The metric columns of ``frame``, in display order: ``dataset``'s
    (:func:`primary_metrics`), or with ``dataset=None`` every MMSA metric present."""
    names = primary_metrics(dataset) if dataset is not None else KNOWN_METRICS
    return [m for m in names if m in frame.columns]


DISPLAY_NOTE = "accuracies and F1 in %, MAE and Corr as fractions"  # what printed tables say of their numbers
PERCENT_DIGITS = 2  # accuracies and F1 in %: 85.00
FRACTION_DIGITS = 4  # MAE, Corr, R² (and any other number) as fractions: 0.7663, MMSA's 4 decimals


def is_percent(metric: str) -> bool:
    """Whether people see ``metric`` in %: MMSA's accuracies and F1; not MAE, Corr, R² or non-MMSA names."""
    return metric in KNOWN_METRICS and metric not in UNSCALED


def display_scale(metric: str) -> float:
    """100 for a metric shown in % (:func:`is_percent`), else 1."""
    return 100.0 if is_percent(metric) else 1.0


def display_digits(metric: str) -> int:
    """Decimals people see: 2 for a metric in %, 4 for a fraction."""
    return PERCENT_DIGITS if is_percent(metric) else FRACTION_DIGITS


def display_unit(metric: str) -> str:
    """The unit of a displayed *difference* of ``metric``: ``"points"`` (of %) or ``""``."""
    return "points" if is_percent(metric) else ""


def format_value(value: Any, metric: str, signed: bool = False) -> str:
    """One value (or difference) of ``metric`` as people read it: ``0.85`` -> ``"85.00"`` for an
    accuracy, ``0.76634`` -> ``"0.7663"`` for MAE; ``"nan"`` for NaN / None."""
    if value is None or not np.isfinite(float(value)):
        return "nan"
    return f"{float(value) * display_scale(metric):{'+' if signed else ''}.{display_digits(metric)}f}"


def format_mean_std(mean: Any, std: Any, metric: str) -> str:
    """``mean ± std`` (fractions) as papers print it: ``"85.00 ± 1.20"`` for an accuracy,
    ``"0.7663 ± 0.0485"`` for MAE."""
    return f"{format_value(mean, metric)} ± {format_value(std, metric)}"


def format_table(
    rows: pd.DataFrame | Mapping[str, float] | Iterable[Mapping[str, Any]],
    dataset: str,
    aggregate: bool = False,
    ddof: int = 0,
    text: bool = False,
) -> pd.DataFrame:
    """The one display of metric rows for people (fractions in; accuracies and F1 in % with 2
    decimals, MAE, Corr and R² as fractions with 4), in MMSA's display order.

    Args:
        rows: one dict, a list of them or a DataFrame; other columns are kept in front.
        dataset: selects the keys and their order (:func:`primary_metrics`).
        aggregate: rows ``mean`` and ``std`` (``ddof``) instead, or with ``text`` one ``mean ± std`` row.
        text: strings (:func:`format_value`) instead of rounded numbers.
    """
    frame = rows.copy() if isinstance(rows, pd.DataFrame) else pd.DataFrame(
        [dict(rows)] if isinstance(rows, Mapping) else [dict(r) for r in rows])
    keys = metric_columns(frame, dataset)
    if not keys:
        raise ValueError(f"no {dataset} metric columns among {list(frame.columns)}")
    extra = [c for c in frame.columns if c not in keys]
    values = frame[keys].astype(float)
    if aggregate:
        mean, std = values.mean(), values.std(ddof=ddof)
        if text:
            return pd.DataFrame([{k: format_mean_std(mean[k], std[k], k) for k in keys}], index=["mean ± std"])
        values, extra = pd.DataFrame({"mean": mean, "std": std}).T, []
    if text:
        values = values.apply(lambda col: col.map(lambda v: format_value(v, col.name)))
    else:
        values = (values * pd.Series({k: display_scale(k) for k in keys})).round({k: display_digits(k) for k in keys})
    return pd.concat([frame[extra], values], axis=1) if extra else values
