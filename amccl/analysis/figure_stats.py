"""The numbers behind the figures of :mod:`amccl.plotting`, and the one-sentence verdict that
follows each figure in the notebooks: every verdict reads the numbers it is given."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from amccl.metrics import format_mean_std, format_value

if TYPE_CHECKING:
    from amccl.analysis.embeddings import Embeddings

LOWER_IS_BETTER_ALIGNMENT = frozenset({"alignment", "uniformity"})  # Wang and Isola
_ACC_NAMES = {"Non0_acc_2": "Acc-2 (Non0)", "Mult_acc_2": "Acc-2"}  # the verdicts' names of accuracy_key's metrics


def column_goodness(values: pd.DataFrame) -> pd.DataFrame:
    """Each column min-max scaled to [0, 1], 1 = the best row; 0.5 where a column is constant; NaN stays."""
    low, high = values.min(), values.max()
    good = (values - low) / (high - low).replace(0.0, np.nan)
    good = good.where(~(values.notna() & (high == low)), 0.5)
    flip = [c for c in good.columns if c in LOWER_IS_BETTER_ALIGNMENT]
    good[flip] = 1.0 - good[flip]
    return good


def typical_detectable(summ: pd.DataFrame, baseline: str) -> tuple[float, str]:
    """The median finite ``detectable`` of the variants but ``baseline`` (NaN when none) and
    ``", n seeds"`` / ``", n1–n2 seeds"`` from their ``n_pairs`` ("" without it). ``summ``: indexed by variant."""
    others = summ.drop(index=baseline)
    detectable = others["detectable"].to_numpy(float)
    finite = np.isfinite(detectable)
    if not finite.any():
        return float("nan"), ""
    pairs = others.loc[finite, "n_pairs"].astype(int) if "n_pairs" in others.columns else None
    seeds = "" if pairs is None else f", {pairs.min()}{'' if pairs.min() == pairs.max() else f'–{pairs.max()}'} seeds"
    return float(np.median(detectable[finite])), seeds


def row_shares(confusion: pd.DataFrame) -> pd.DataFrame:
    """Each row divided by its sum (rows sum to 1; an empty row is NaN)."""
    values = confusion.astype(float)
    return values.div(values.sum(axis=1).replace(0, np.nan), axis=0)


def seeds_per_point(frame: pd.DataFrame) -> int:
    """The fewest seeds behind one (variant, gamma) point of a gamma sweep."""
    return int(frame.groupby(["variant", "gamma"])["seed"].nunique().min())


def param_importances(study: Any, evaluator: Any = None, top: int | None = None) -> pd.DataFrame:
    """``field``, ``importance`` (summing to 1, largest first; ``top``: the first n) of an optuna study (default:
    fANOVA seeded with 0); ``attrs["complete"]``: the number of complete trials."""
    import optuna

    evaluator = evaluator or optuna.importance.FanovaImportanceEvaluator(seed=0)
    importances = optuna.importance.get_param_importances(study, evaluator=evaluator)
    frame = pd.DataFrame({"field": list(importances), "importance": list(importances.values())}).head(top)
    frame.attrs["complete"] = len(study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,)))
    return frame


def embedding_line(emb: Embeddings) -> str:
    """Mean cross-modal recall@1 (with chance), alignment and silhouette, for a panel title."""
    from amccl.analysis.alignment import alignment_metrics
    from amccl.analysis.compare import alignment_row

    row = alignment_row(alignment_metrics(emb, ks=(1,)))
    return (f"R@1 {row['recall@1']:.3f} (chance {1 / len(emb):.3f}) · "
            f"align {row['alignment']:.2f} · sil {row['silhouette']:.2f}")


# --- verdicts: one sentence per figure ---------------------------------------------------------
def polarity_verdict(labels: Any) -> str:
    """Polarity shares of a split's ``labels`` and whether they lean (> 10 points apart)."""
    labels = np.asarray(labels, dtype=float)
    pos, neg, neutral = (labels > 0).mean(), (labels < 0).mean(), (labels == 0).mean()
    lean = "balanced" if abs(pos - neg) <= 0.1 else f"lopsided toward {'positive' if pos > neg else 'negative'}"
    return (f"The training split is {pos:.0%} positive, {neg:.0%} negative and {neutral:.0%} exactly neutral "
            f"(neutral clips count for Has0 accuracy, not for Non0): {lean}.")


def padding_verdict(shares: Any) -> str:
    """``shares``: per split and modality, the fraction of clips shorter than L."""
    share = float(np.mean(shares))
    if share == 0:
        return "Every clip fills L: the last-time-step readout never sees padding."
    return (f"On average {share:.0%} of clips are shorter than L, so the last-time-step readout sees padding "
            "for them; `last_valid_step=True` (docs/model.md §7) is the cleaner variant.")


def learning_verdict(frame: pd.DataFrame, best_epoch: int) -> str:
    """``frame``: a ``History.to_frame()`` (indexed by epoch) with ``train_loss``, ``valid_MAE``."""
    first, best = frame.iloc[0], frame.loc[best_epoch]
    gain = 1 - best["valid_MAE"] / first["valid_MAE"]
    return (f"Training loss went from {first['train_loss']:.3f} (epoch 1) to {frame['train_loss'].iloc[-1]:.3f} "
            f"(epoch {len(frame)}); validation MAE from {first['valid_MAE']:.3f} to {best['valid_MAE']:.3f} at the "
            f"best epoch {best_epoch}: " + (f"{gain:.1%} below epoch 1's." if gain > 0 else "no gain over epoch 1."))


def constant_verdict(table: pd.DataFrame, model: str, constant: str, dataset: str) -> str:
    """``table``: :func:`~amccl.metrics.format_table` rows by model; the binary accuracy is the dataset's
    (:func:`~amccl.baselines.accuracy_key`). "Clearly": a MAE below 90 % of the constant's."""
    from amccl.baselines import accuracy_key

    run, const, acc = table.loc[model], table.loc[constant], accuracy_key(dataset)
    clearly = run["MAE"] < 0.9 * const["MAE"]
    return (f"{model}'s test MAE is {run['MAE']:.3f} against {const['MAE']:.3f} for the constant, "
            f"{_ACC_NAMES[acc]} {run[acc]:.1f} against {const[acc]:.1f}, Corr {run['Corr']:.3f}: "
            + ("it clearly beats the constant predictor." if clearly
               else "no clear gain over the constant (a smoke run is too short for one)."))


def residual_verdict(by_label: pd.DataFrame, errors: pd.DataFrame) -> str:
    """The worst true bin and whether predictions are pulled toward the middle of the scale."""
    low = errors.loc[errors["true_bin"] < 0, "residual"].mean()
    high = errors.loc[errors["true_bin"] > 0, "residual"].mean()
    worst = by_label["mae"].idxmax()
    return (f"The largest MAE is in true class {worst} ({by_label.at[worst, 'mae']:.2f} over "
            f"{by_label.at[worst, 'count']} clips); mean residual {low:+.2f} on negative and {high:+.2f} on "
            "positive clips: " + ("predictions are pulled toward the middle of the scale." if low > 0 > high
                                  else "no pull toward the middle of the scale."))


def length_verdict(by_length: pd.DataFrame) -> str:
    """MAE of the shortest against the longest length bin (a 10 % change counts)."""
    short, long = by_length["mae"].iloc[0], by_length["mae"].iloc[-1]
    trend = "grow with" if long > 1.1 * short else "shrink with" if long < short / 1.1 else "hardly change with"
    return f"MAE is {short:.2f} in the shortest and {long:.2f} in the longest bin: errors {trend} length."


def confusion_verdict(confusion: pd.DataFrame) -> str:
    """Acc-7 (the diagonal share), the share within one class, and the commonest confusion."""
    counts = confusion.to_numpy(float)
    i, j = np.indices(counts.shape)
    total = counts.sum()
    near = counts[np.abs(i - j) <= 1].sum() / total
    off = np.where(i != j, counts, -1)
    t, p = np.unravel_index(off.argmax(), off.shape)
    return (f"Acc-7 is {np.trace(counts) / total:.1%} and {near:.0%} of clips land within one class of the truth "
            f"({'mostly near misses' if near >= 0.8 else 'many far misses'}); the commonest confusion is true "
            f"{confusion.index[t]} predicted as {confusion.columns[p]} ({int(counts[t, p])} clips).")


def grid_metric_verdict(summ: pd.DataFrame, metric: str, baseline: str = "full") -> str:
    """Significant variants on ``metric``, the extreme paired differences and the baseline's seed spread."""
    rows = summ[summ["metric"] == metric]
    others = rows[rows["variant"] != baseline].sort_values("diff")
    base = rows[rows["variant"] == baseline].iloc[0]
    n_sig = int(others["significant"].sum())
    head = f"none of the {len(others)}" if n_sig == 0 else f"{n_sig} of {len(others)}"
    first, last = others.iloc[0], others.iloc[-1]
    return (f"{metric}: {head} variants differ significantly from {baseline}; paired differences run from "
            f"{first['variant']} {format_value(first['diff'], metric, signed=True)} to {last['variant']} "
            f"{format_value(last['diff'], metric, signed=True)}, against {baseline}'s "
            f"{format_mean_std(base['mean'], base['std'], metric)} over seeds.")


def importance_verdict(importances: pd.DataFrame) -> str:
    """:func:`param_importances`' first field, and whether the trials are enough (20) for a finding."""
    top = importances.iloc[0]
    n = importances.attrs.get("complete", 0)
    return (f"{top['field']} explains {top['importance']:.0%} of the validation-MAE variance over {n} complete "
            "trials: " + ("a first look, not a finding." if n < 20 else "the field to tune first."))


def joint_verdict(proj: pd.DataFrame, k: int = 5) -> str:
    """:func:`~amccl.analysis.compare.modality_separation` of a 2-D map, in words."""
    from amccl.analysis.compare import modality_separation, separation_verdict

    same = modality_separation(proj, k=k)
    return (f"In the 2-D map, {same:.0%} of points have a modality matching their {k} nearest neighbours' "
            f"majority (1/3 = fully mixed): the modalities are {separation_verdict(same)}.")
