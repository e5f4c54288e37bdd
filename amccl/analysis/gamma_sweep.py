"""Alignment against gamma: does a heavier contrastive loss align the modalities, and what does it cost?

:func:`gamma_sweep` measures every run's test embeddings (:func:`~amccl.analysis.compare.alignment_row`) beside
its test ``MAE`` and ``constant_MAE`` (the training labels' median for every clip); :func:`sweep_verdict` tests
every larger gamma against gamma = 0 on the same seeds, Holm-corrected over the gammas.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable, Sequence
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from amccl.ablations.power import POWER
from amccl.ablations.stats import paired_summary, t_interval

GAMMA_FACTORS: tuple[float, ...] = (0.0, 1.0, 10.0, 100.0)  # × the paper's gamma
SWEEP_VARIANTS: tuple[str, ...] = ("full", "positives_mean")
EMBEDDING_COLUMNS: tuple[str, ...] = ("alignment", "spearman", "recall@1", "uniformity", "silhouette")
SWEEP_COLUMNS: tuple[str, ...] = ("variant", "gamma", "seed", *EMBEDDING_COLUMNS, "MAE", "Corr", "constant_MAE")
SWEEP_METRICS: tuple[str, ...] = ("alignment", "spearman", "MAE")  # the figure's and verdict's


def sweep_gammas(gamma: float, factors: Iterable[float] = GAMMA_FACTORS) -> list[float]:
    """``[f · gamma for f in factors]``, e.g. 0, g, 10 g, 100 g (rounded to 12 significant digits)."""
    if not gamma > 0:
        raise ValueError(f"the paper's gamma must be positive to scale it, got {gamma}")
    return [float(f"{f * gamma:.12g}") for f in factors]


def fit_and_measure(cfg: Any, data: Any, seed: int, fit_fn: Callable | None = None, **kwargs: Any) -> Any:
    """``fit_fn(cfg, data, seed=seed, **kwargs)`` (default ``amccl.train.fit``) with the best model's
    :data:`EMBEDDING_COLUMNS` on the test split (reusing a frozen-text cache) added to ``history.test_metrics``."""
    from amccl.analysis.alignment import alignment_metrics
    from amccl.analysis.compare import alignment_row
    from amccl.analysis.embeddings import extract_embeddings
    from amccl.evaluation import with_text_cache

    if fit_fn is None:
        from amccl.train import fit as fit_fn
    history = fit_fn(cfg, data, seed=seed, **kwargs)
    model = history.model
    emb = extract_embeddings(model, with_text_cache(model, data, cfg, next(model.parameters()).device)["test"], "test")
    row = alignment_row(alignment_metrics(emb, ks=(1,)))
    history.test_metrics = {**history.test_metrics, **{k: float(row[k]) for k in EMBEDDING_COLUMNS}}
    return history


def constant_mae(data: Any) -> float:
    """Test MAE of predicting the median training label (:func:`amccl.baselines.constant_value`)."""
    from amccl.baselines import constant_value

    test = np.asarray(data.test.labels, float).reshape(-1)
    return float(np.mean(np.abs(test - constant_value(data.train.labels, "median"))))


def gamma_sweep(cfg: Any, gammas: Sequence[float] | None = None, variants: Sequence[str] = SWEEP_VARIANTS,
                seeds: Sequence[int] = (1111,), data: Any = None, out_dir: str | os.PathLike | None = None,
                progress: bool = False, fit_fn: Callable | None = None, **grid_kwargs: Any) -> pd.DataFrame:
    """Train every (gamma, variant, seed) and measure its test-split embeddings.

    Args:
        cfg: the base config (its ``gamma`` is g); gammas: default 0, g, 10 g, 100 g.
        variants: registry names; one that sets gamma itself (``no_cl``) keeps its own.
        seeds, data, progress, fit_fn, **grid_kwargs: as :func:`~amccl.ablations.grid.run_grid`.
        out_dir: ``out_dir/gamma_<g>/grid.csv`` per gamma, resumed when called again.

    Returns:
        One row per run, :data:`SWEEP_COLUMNS` then the grid's columns, by gamma, variant, seed.
    """
    from amccl.ablations.grid import run_grid

    gammas = sweep_gammas(cfg.gamma) if gammas is None else [float(g) for g in dict.fromkeys(gammas)]
    if not gammas or min(gammas) < 0:
        raise ValueError(f"gammas must be a non-empty list of values >= 0, got {gammas}")
    if data is None:
        from amccl.data import load_data

        data = load_data(cfg)
    measured = partial(fit_and_measure, fit_fn=fit_fn)
    frames = [run_grid(variants, seeds, cfg.replace(gamma=g), data=data, fit_fn=measured, progress=progress,
                       progress_desc=f"gamma {g:g}", **grid_kwargs,
                       out_dir=None if out_dir is None else Path(out_dir) / f"gamma_{g:g}")
              for g in gammas]
    rows = pd.concat(frames, ignore_index=True)
    rows["gamma"] = [float(json.loads(c)["gamma"]) for c in rows["config"]]
    rows["constant_MAE"] = constant_mae(data)
    return rows[[*SWEEP_COLUMNS, *(c for c in rows.columns if c not in SWEEP_COLUMNS)]]


def sweep_summary(frame: pd.DataFrame, metrics: Sequence[str] = SWEEP_METRICS, alpha: float = 0.05) -> pd.DataFrame:
    """Mean and ``1 - alpha`` t-interval over seeds per (variant, gamma, metric): variant, gamma,
    metric, n, mean, ci_low, ci_high (NaN for one seed), by variant then ascending gamma."""
    missing = [c for c in ("variant", "gamma", "seed", *metrics) if c not in frame.columns]
    if missing:
        raise KeyError(f"the sweep frame has no {missing} column(s) (columns: {list(frame.columns)})")
    out = []
    for variant in dict.fromkeys(frame["variant"]):
        block = frame[frame["variant"] == variant]
        for gamma in sorted(block["gamma"].unique()):
            runs = block[block["gamma"] == gamma]
            for metric in metrics:
                values = runs[metric].astype(float).dropna().to_numpy()
                low, high = t_interval(values, alpha)
                out.append(dict(variant=variant, gamma=float(gamma), metric=metric, n=values.size,
                                mean=values.mean() if values.size else np.nan, ci_low=low, ci_high=high))
    return pd.DataFrame(out, columns=["variant", "gamma", "metric", "n", "mean", "ci_low", "ci_high"])


def sweep_table(summ: pd.DataFrame, decimals: int = 3) -> pd.DataFrame:
    """:func:`sweep_summary` as a wide table of strings: one row per (variant, gamma), one
    column per metric, cells ``"1.256 [1.098, 1.414]"`` (no interval with one seed)."""
    def cell(r: pd.Series) -> str:
        ci = f" [{r['ci_low']:.{decimals}f}, {r['ci_high']:.{decimals}f}]" if np.isfinite(r["ci_low"]) else ""
        return f"{r['mean']:.{decimals}f}{ci}"

    table = summ.assign(cell=summ.apply(cell, axis=1)).pivot(index=["variant", "gamma"], columns="metric",
                                                             values="cell")
    order = pd.MultiIndex.from_frame(summ[["variant", "gamma"]].drop_duplicates())
    table = table.loc[order, list(dict.fromkeys(summ["metric"]))]
    table.columns.name = None
    return table


_READINGS = {"alignment": ("alignment", "loosens", "tightens"), "MAE": ("test MAE", "degrades", "improves"),
             "spearman": ("distance/label Spearman", "rises", "falls")}


def _reading(comp: pd.DataFrame, metric: str, constant: float | None = None) -> str:
    """How ``metric`` moves with gamma by the seed-paired tests against gamma = 0 (the first
    Holm-significant gamma); for the test MAE also how far it moved toward ``constant``."""
    name, up, down = _READINGS[metric]
    block = comp[comp["metric"] == metric]
    ref, last, others = block.iloc[0], block.iloc[-1], block.iloc[1:]
    clear = others[others["significant"].astype(bool)]
    span = f"{ref['mean']:.3f} at γ = {ref['variant']} → {last['mean']:.3f} at γ = {last['variant']}"
    way = caveat = ""
    if metric == "MAE" and constant is not None:
        upper = ref["mean_ci_high"] if np.isfinite(ref["mean_ci_high"]) else ref["mean"]
        if ref["mean"] >= constant:
            caveat = f"; γ = {ref['variant']} itself is no better than the constant predictor's {constant:.3f}"
        elif upper >= constant:  # the constant lies inside gamma = 0's interval: a share would be noise
            caveat = (f"; at these seeds γ = {ref['variant']} is not clearly better than the constant "
                      f"predictor's {constant:.3f}")
        else:
            share = 100 * (last["mean"] - ref["mean"]) / (constant - ref["mean"])
            way = f", {share:.0f} % of the way to the constant predictor's {constant:.3f}"
    if last["n_pairs"] < 2:
        return f"{name} {span}{way} (one seed: no test{caveat})"
    if clear.empty:
        det = others["detectable"].max()
        return f"{name} shows no significant change ({span}{way}; rules out changes beyond ±{det:.2f}{caveat})"
    first = clear.iloc[0]
    moved = up if first["diff"] > 0 else down
    return f"{name} {moved} significantly from γ = {first['variant']} on ({span}{way}{caveat})"


def sweep_verdict(frame: pd.DataFrame, alpha: float = 0.05) -> str:
    """One sentence per variant of a :func:`gamma_sweep`: whether alignment and Spearman move with gamma, and
    from which gamma the test MAE degrades toward ``constant_MAE``; each larger gamma is compared with the
    smallest by :func:`amccl.ablations.stats.paired_summary`, the gammas (``f"{gamma:g}"``) as variants."""
    constant = float(frame["constant_MAE"].iloc[0]) if "constant_MAE" in frame.columns else None
    parts = []
    for variant in dict.fromkeys(frame["variant"]):
        block = frame[frame["variant"] == variant]
        labels = block["gamma"].map(lambda g: f"{g:g}")
        rows = block.assign(variant=labels).sort_values("gamma", kind="stable")[["variant", "seed", *SWEEP_METRICS]]
        comp = paired_summary(rows, list(SWEEP_METRICS), baseline=labels[block["gamma"].idxmin()], alpha=alpha)
        if comp["variant"].nunique() < 2:
            raise ValueError(f"variant {variant!r} has one gamma only; a sweep needs at least two")
        readings = [_reading(comp, m, constant) for m in ("alignment", "spearman", "MAE")]
        parts.append(f"{variant}: " + "; ".join(readings) + ".")
    power = 100 * POWER
    return (f"Seed-paired against γ = 0 (t-test, Holm over the gammas, alpha {alpha:g}; 'rules out' = what "
            f"{power:.0f} % power finds at these seeds) — " + " ".join(parts))
