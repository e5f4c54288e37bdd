"""The baselines a reviewer asks for first, scored on the same test split as AMCCL.

* **constant**: the mean training label (:func:`constant_value`, the one constant predictor).
* **linear probe (text)**: ridge on the frozen text encoder's mean over valid tokens (H).
* **early-fusion probe (text+audio+vision)**: ridge on those features next to the audio and
  vision features averaged over each clip's valid frames (H + Da + Dv).

Each probe is ``Pipeline(StandardScaler(), Ridge(alpha))`` fitted on train, ``alpha`` the one of
:data:`ALPHAS` with the lowest validation MAE (ties: the smaller); test labels are read only to
score. Baselines use every feature of the file, whatever ``cfg.modalities`` says.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from amccl.metrics import (
    DISPLAY_NOTE,
    LOWER_IS_BETTER,
    compute_metrics,
    display_unit,
    format_mean_std,
    format_table,
    format_value,
    is_percent,
    metric_family,
    primary_metrics,
)

__all__ = ["ALPHAS", "BASELINE_NAMES", "CONSTANT", "BaselineResult", "ProbeFit", "baseline_report", "constant_value", "frame_means",
           "text_features", "probe_features", "fit_probe", "run_baselines", "baseline_table",
           "baseline_verdict", "accuracy_key", "same_clips"]

ALPHAS: tuple[float, ...] = tuple(float(10.0 ** e) for e in np.arange(-2.0, 5.01, 0.5))  # 0.01 ... 1e5
CONSTANT, TEXT_PROBE, FUSION_PROBE = ("constant mean label", "linear probe (text)",
                                      "early-fusion probe (text+audio+vision)")
BASELINE_NAMES: tuple[str, ...] = (CONSTANT, TEXT_PROBE, FUSION_PROBE)
_TIE = 0.5e-4  # half the last shown digit (MAE 0.0001, accuracy 0.01 points): below it, a tie
_CHUNK = 1024  # clips per step of the frame means (bounds float64 memory on MOSEI-sized arrays)


def constant_value(train_labels: Any, statistic: str = "mean") -> float:
    """The constant predictor's output: the ``mean`` or ``median`` (best under L1) of the training labels."""
    labels = np.asarray(train_labels, dtype=np.float64).reshape(-1)
    if statistic not in ("mean", "median"):
        raise ValueError(f"statistic must be 'mean' or 'median', got {statistic!r}")
    return float(np.mean(labels) if statistic == "mean" else np.median(labels))


def frame_means(x: Any, lengths: Any) -> np.ndarray:
    """(N, D) float64 mean of each clip's first ``clip(length, 1, L)`` frames of x (N, L, D)."""
    x = np.asarray(x)
    n, steps = x.shape[0], x.shape[1]
    lengths = np.clip(np.asarray(lengths, dtype=np.int64).reshape(-1)[:n], 1, steps)
    out = np.empty((n, x.shape[2]), dtype=np.float64)
    for start in range(0, n, _CHUNK):
        rows = slice(start, start + _CHUNK)
        valid = (np.arange(steps)[None, :] < lengths[rows, None]).astype(np.float64)  # (n', L)
        out[rows] = np.einsum("nl,nld->nd", valid, x[rows].astype(np.float64)) / lengths[rows, None]
    return out


def text_features(cfg: Any, data: Any, device: Any = "cpu", seed: int = 0) -> dict[str, np.ndarray]:
    """``{split: (N, H) float64}``: the frozen ``cfg.text_encoder``'s mean over valid tokens (eval
    mode, through :func:`amccl.evaluation.with_text_cache`; ``tiny-random`` weights drawn from
    ``seed`` without touching the global RNG)."""
    import torch

    from amccl.config import MODALITIES
    from amccl.encoders import TextEncoder
    from amccl.evaluation import with_text_cache
    from amccl.model import AMCCL, TEXT_MEAN_MASKED
    from amccl.runtime import no_transformers_bars

    class FrozenText(torch.nn.Module):  # the run's text encoder alone, frozen, with AMCCL's own text_summary
        text_summary = AMCCL.text_summary  # [CLS], mean over all Lt, mean over valid tokens

        def __init__(self) -> None:
            super().__init__()
            self.text_model = TextEncoder(cfg.text_encoder, finetune=False)

    with torch.random.fork_rng(devices=[]), no_transformers_bars():
        torch.manual_seed(seed)
        module = FrozenText().to(device)
    frozen = cfg.replace(freeze_text=True, cache_text=True, modalities=MODALITIES)
    splits = with_text_cache(module, data, frozen, torch.device(device))
    return {name: split.text_feats[:, TEXT_MEAN_MASKED].double().cpu().numpy() for name, split in splits.items()}


def probe_features(cfg: Any, data: Any, device: Any = "cpu", seed: int = 0) -> dict[str, dict[str, np.ndarray]]:
    """Both probes' inputs: ``{"text": {split: (N, H)}, "fusion": {split: (N, H + Da + Dv)}}``,
    float64; fusion columns are [text | audio frame means | vision frame means]."""
    text = text_features(cfg, data, device, seed)
    fusion = {name: np.concatenate([text[name], frame_means(split.audio, split.audio_lengths),
                                    frame_means(split.vision, split.vision_lengths)], axis=1)
              for name, split in data.items()}
    return {"text": text, "fusion": fusion}


@dataclass
class ProbeFit:
    """A fitted probe: the chosen ``alpha``, every alpha's validation MAE (grid order), the
    fitted ``model`` (a scikit-learn Pipeline) and its test ``predictions`` (N_test,) float64."""

    alpha: float
    valid_mae: dict[float, float]
    model: Any
    predictions: np.ndarray


def fit_probe(x_train: np.ndarray, y_train: np.ndarray, x_valid: np.ndarray, y_valid: np.ndarray,
              x_test: np.ndarray, alphas: Sequence[float] = ALPHAS) -> ProbeFit:
    """Fit ``Pipeline(StandardScaler(), Ridge(alpha))`` on train (N, F) for each alpha (a tie keeps the
    first), keep the lowest validation MAE and predict test; no test labels, so they cannot influence the fit."""
    from sklearn.linear_model import Ridge
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    if not len(alphas):
        raise ValueError("alphas must hold at least one value")
    y_train = np.asarray(y_train, dtype=np.float64).reshape(-1)
    y_valid = np.asarray(y_valid, dtype=np.float64).reshape(-1)
    maes: dict[float, float] = {}
    best = None
    for alpha in alphas:
        model = Pipeline([("scale", StandardScaler()), ("ridge", Ridge(alpha=float(alpha)))]).fit(x_train, y_train)
        maes[float(alpha)] = float(np.mean(np.abs(model.predict(x_valid) - y_valid)))
        if best is None or maes[float(alpha)] < maes[best[0]]:
            best = (float(alpha), model)
    alpha, model = best
    return ProbeFit(alpha, maes, model, np.asarray(model.predict(x_test), dtype=np.float64))


@dataclass
class BaselineResult:
    """One baseline on the test split: ``name``, ``metrics`` (``compute_metrics``, fractions),
    ``alpha`` (NaN for the constant), ``n_features``, ``valid_MAE`` (its validation MAE;
    the chosen alpha's for a probe) and its test ``predictions`` (N_test,)."""

    name: str
    metrics: dict[str, float]
    alpha: float
    n_features: int
    valid_MAE: float
    predictions: np.ndarray = field(repr=False)


def run_baselines(cfg: Any, data: Any, alphas: Sequence[float] = ALPHAS, device: Any = "cpu",
                  seed: int = 0) -> list[BaselineResult]:
    """The three baselines on ``data``'s test split, :class:`BaselineResult` in
    :data:`BASELINE_NAMES` order (``device``, ``seed``: of :func:`text_features`)."""
    y = {name: np.asarray(split.labels, dtype=np.float64).reshape(-1) for name, split in data.items()}
    const = constant_value(y["train"], "mean")
    results = [BaselineResult(CONSTANT, {}, float("nan"), 0, float(np.mean(np.abs(y["valid"] - const))),
                              np.full(len(data.test), const, dtype=np.float64))]
    features = probe_features(cfg, data, device, seed)
    for name, kind in ((TEXT_PROBE, "text"), (FUSION_PROBE, "fusion")):
        x = features[kind]
        probe = fit_probe(x["train"], y["train"], x["valid"], y["valid"], x["test"], alphas)
        results.append(BaselineResult(name, {}, probe.alpha, int(x["train"].shape[1]), probe.valid_mae[probe.alpha],
                                      probe.predictions))
    for result in results:  # the only read of the test labels
        result.metrics = compute_metrics(result.predictions, data.test.labels, cfg.dataset)
    return results


def baseline_table(cfg: Any, data: Any, alphas: Sequence[float] = ALPHAS, device: Any = "cpu",
                   seed: int = 0) -> pd.DataFrame:
    """:func:`run_baselines` as a table of fractions: ``baseline``, the dataset's metrics,
    ``alpha`` (NaN for the constant), ``n_features``, ``valid_MAE``."""
    rows = [{"baseline": r.name, **r.metrics, "alpha": r.alpha, "n_features": r.n_features, "valid_MAE": r.valid_MAE}
            for r in run_baselines(cfg, data, alphas, device, seed)]
    return pd.DataFrame(rows, columns=["baseline", *primary_metrics(cfg.dataset), "alpha", "n_features", "valid_MAE"])


def same_clips(a: Any, b: Any) -> bool:
    """Whether two ``MMSAData`` hold the same clips and features (then their baselines are equal)."""
    if a is b:
        return True
    if tuple(a.shapes) != tuple(b.shapes) or a.dataset != b.dataset:
        return False
    keys = ("text", "audio", "vision", "audio_lengths", "vision_lengths", "labels")
    return all(len(sa) == len(sb) and all(np.array_equal(np.asarray(getattr(sa, k)), np.asarray(getattr(sb, k)),
                                                         equal_nan=k in ("labels",)) for k in keys)
               for (_, sa), (_, sb) in zip(a.items(), b.items()))


def accuracy_key(dataset: str) -> str:
    """The binary accuracy a verdict reads: ``Non0_acc_2`` (MOSI / MOSEI) or ``Mult_acc_2`` (SIMS)."""
    return "Non0_acc_2" if metric_family(dataset) == "mosi" else "Mult_acc_2"


def _values(amccl: Mapping[str, float] | pd.DataFrame, metric: str) -> np.ndarray:
    """AMCCL's values of ``metric``: one per seed (a frame's rows) or one (a mapping)."""
    if isinstance(amccl, pd.DataFrame):
        if metric not in amccl.columns:
            raise KeyError(f"the AMCCL results have no {metric!r} column (columns: {list(amccl.columns)})")
        return amccl[metric].astype(float).to_numpy()
    return np.asarray([float(amccl[metric])])


def _reading(values: np.ndarray, reference: float, metric: str) -> tuple[bool | None, str]:
    """Whether AMCCL's ``values`` beat ``reference`` on ``metric`` (None: not comparable) and
    the clause saying so, with the seed spread when there are several values."""
    values = values[np.isfinite(values)]
    if not values.size or not np.isfinite(reference):
        return None, f"{metric} not comparable (undefined)"
    lower = metric in LOWER_IS_BETTER
    unit = " %" if is_percent(metric) else ""
    mean, std = float(values.mean()), float(values.std())  # ddof=0, MMSA's std over seeds
    gap = (reference - mean) if lower else (mean - reference)  # > 0: AMCCL better
    beats = gap >= _TIE  # a gap below the shown precision (MMSA's 4 decimals) is no win
    shown = format_mean_std(mean, std, metric) if values.size > 1 else format_value(mean, metric)
    text = f"{metric} {shown}{unit} against {format_value(reference, metric)}{unit}, "
    if abs(gap) < _TIE:
        text += "equal at this precision"
    else:
        word = ("lower" if lower else "higher") if beats else ("higher" if lower else "lower")
        points = f" {display_unit(metric)}" if display_unit(metric) else ""
        text += f"{word} by {format_value(abs(gap), metric)}{points}"
    if values.size > 1:
        better = int(np.sum((values < reference) if lower else (values > reference)))
        spread = "larger than" if abs(gap) > std else "within"
        text += f" ({better} of {values.size} seeds {'lower' if lower else 'higher'}; the gap is {spread} one seed std)"
    return beats, text


def baseline_verdict(amccl: Mapping[str, float] | pd.DataFrame, table: pd.DataFrame, dataset: str,
                     label: str = "AMCCL") -> str:
    """Whether AMCCL beats each baseline of ``table`` (same test split), and by how much, on MAE
    and the binary accuracy (:func:`accuracy_key`): a header line, then one line per baseline.

    ``amccl`` is one run's test metrics, or one row per seed (then mean ± std and how many seeds
    beat the baseline); ``label`` names it in the header.
    """
    metrics = ("MAE", accuracy_key(dataset))
    n = len(amccl) if isinstance(amccl, pd.DataFrame) else 1
    who = f"{label}, {n} seeds (mean ± std)" if n > 1 else label
    lines = [f"{who} against each baseline on the same test split:"]
    for _, row in table.iterrows():
        readings = [_reading(_values(amccl, m), float(row[m]), m) for m in metrics]
        won = [m for m, (beats, _) in zip(metrics, readings) if beats]
        head = (f"beats it on {' and '.join(metrics)}" if len(won) == len(metrics)
                else f"beats it on {won[0]} only" if won else "does not beat it")
        alpha = f", ridge alpha {row['alpha']:g}" if "alpha" in row and np.isfinite(row["alpha"]) else ""
        lines.append(f"- {row['baseline']}{alpha}: AMCCL {head}. " + "; ".join(text for _, text in readings) + ".")
    return "\n".join(lines)


def baseline_report(amccl: Mapping[str, float] | pd.DataFrame, table: pd.DataFrame, dataset: str,
                    label: str = "AMCCL") -> str:
    """What ``train`` and ``ablate --baselines`` print: the baselines' metrics, each probe's alpha,
    then :func:`baseline_verdict`."""
    shown = format_table(table, dataset).set_index("baseline")[primary_metrics(dataset)]
    alphas = ", ".join(f"{row.baseline} {row.alpha:g}" for row in table.itertuples() if np.isfinite(row.alpha))
    with pd.option_context("display.width", 250, "display.max_columns", 50):
        text = shown.to_string()
    return (f"baselines on the same test split ({DISPLAY_NOTE}; ridge alpha chosen on validation: {alphas}):\n"
            f"{text}\n\n{baseline_verdict(amccl, table, dataset, label)}")
