"""Every figure of the package; each function returns the matplotlib ``Figure``.

Nothing is shown or saved implicitly (use :func:`save_figure`; ``tight=False`` for a fixed
pixel size and byte-stable PNGs). Inputs are plain pandas
DataFrames whose expected columns each docstring lists.

* :func:`plot_learning_curves`: losses and validation metrics of a training ``History``;
* :func:`plot_test_vs_constant`: test metrics of a run next to the constant predictor's;
* :func:`plot_grid`: an ablation grid and its :func:`~amccl.ablations.stats.paired_summary` as a
  forest plot coloured by the Holm verdict, with the difference the seeds can detect;
* :func:`plot_alignment_table`: the alignment summary of several models
  (:func:`~amccl.analysis.compare.compare_models`) as a colour-coded table;
* :func:`plot_joint`, :func:`plot_models_side_by_side`: UMAP / t-SNE / PCA maps of the joint
  embedding space (:func:`~amccl.analysis.projection.project_joint`);
* :func:`plot_gamma_sweep`: alignment, Spearman and test MAE against gamma
  (:func:`~amccl.analysis.gamma_sweep.gamma_sweep`);
* :func:`plot_confusion`, :func:`plot_residuals_by_bin`: where the model fails
  (:mod:`amccl.analysis.errors`);
* :func:`plot_param_importances`: which hyper-parameters moved a study's validation MAE
  (:mod:`amccl.tuning`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.cm import ScalarMappable
from matplotlib.colors import Normalize
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from amccl.metrics import ACC2_KEYS, LOWER_IS_BETTER, UNSCALED, display_scale, format_value, is_percent, metric_columns

if TYPE_CHECKING:
    from amccl.analysis.embeddings import Embeddings

MODALITY_COLORS = {"text": "#1b9e77", "audio": "#d95f02", "vision": "#7570b3"}
MODALITY_MARKERS = {"text": "o", "audio": "s", "vision": "^"}
VERDICT_COLORS = {"baseline": "#222222", "better": "#1a9850", "worse": "#d73027", "n.s.": "#4575b4"}
VERDICT_LABELS = {"baseline": "baseline", "better": "significantly better", "worse": "significantly worse",
                  "n.s.": "not significant"}


def save_figure(fig: Figure, path: str | Path, dpi: int = 150, tight: bool = True) -> Path:
    """Save ``fig`` (parents created) and return the path.

    ``tight=True`` crops to the drawn content (the size varies with it). ``tight=False`` saves
    the whole canvas, exactly ``figsize × dpi`` pixels, without the "Software" version entry in
    the PNG metadata: unchanged pixels then give byte-identical files on re-runs.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if tight:
        fig.savefig(path, dpi=dpi, bbox_inches="tight")
    else:
        with plt.rc_context({"savefig.bbox": "standard"}):  # whatever the caller's rcParams say
            fig.savefig(path, dpi=dpi, metadata={"Software": None} if path.suffix.lower() == ".png" else None)
    return path


# --- learning curves -------------------------------------------------------------------------
_LOSS_NAMES = ("loss", "l1", "Loss")
_SKIP = re.compile(r"(lr|learning_rate|seconds|time)", re.IGNORECASE)
_PANEL_YLABELS = {"losses": "loss (L1 scale)", "loss terms": "value", "validation MAE": "MAE",
                  "validation Acc-2": "accuracy (fraction)"}


def _curve_columns(frame: pd.DataFrame, train: str, valid: str) -> dict[str, list[str]]:
    """Group the history's numeric columns into the four panels of the learning curves."""
    numeric = [c for c in frame.columns if pd.api.types.is_numeric_dtype(frame[c]) and not _SKIP.search(c)]
    main = [c for c in numeric if c in {f"{p}{n}" for p in (train, valid) for n in _LOSS_NAMES}]
    return {"losses": main, "loss terms": [c for c in numeric if c.startswith(train) and c not in main],
            "validation MAE": [c for c in numeric if c == f"{valid}MAE"],
            "validation Acc-2": [f"{valid}{k}" for k in ACC2_KEYS if f"{valid}{k}" in numeric]}


def plot_learning_curves(history: Any, epoch_col: str = "epoch", train_prefix: str = "train_",
                         valid_prefix: str = "valid_", best_epoch: int | None = None) -> Figure:
    """Four panels in a row: training losses, loss terms, validation MAE and Acc-2 per epoch.

    Args:
        history: a DataFrame with one row per epoch, or a trainer ``History`` (``.to_frame()``;
            its ``best_epoch`` is marked). Columns: ``epoch`` (a column or the index);
            ``train_loss`` / ``train_l1`` / ``valid_loss`` (or ``valid_Loss``); other ``train_*``
            loss terms; ``valid_MAE``; ``valid_Has0_acc_2`` / ``valid_Non0_acc_2`` /
            ``valid_Mult_acc_2`` (fractions). lr / seconds / time columns are ignored; a panel
            without columns says so.
        epoch_col, train_prefix, valid_prefix: the epoch column and the value prefixes.
        best_epoch: epoch to mark with a dashed line (default: ``history.best_epoch``).
    """
    frame = history if isinstance(history, pd.DataFrame) else history.to_frame()
    if best_epoch is None and not isinstance(history, pd.DataFrame):
        best_epoch = getattr(history, "best_epoch", None)
    if epoch_col not in frame.columns and frame.index.name == epoch_col:
        frame = frame.reset_index()  # History.to_frame() is indexed by epoch
    fig, axes = plt.subplots(1, 4, figsize=(18, 4), constrained_layout=True)
    for ax, (title, cols) in zip(axes, _curve_columns(frame, train_prefix, valid_prefix).items()):
        if not cols:
            ax.text(0.5, 0.5, "no such columns", ha="center", va="center", transform=ax.transAxes)
        else:
            long = frame.melt(id_vars=[epoch_col], value_vars=cols, var_name="series", value_name="value")
            sns.lineplot(data=long, x=epoch_col, y="value", hue="series", marker="o", ax=ax)
            ax.legend(title=None, fontsize=8)
        if best_epoch is not None:
            ax.axvline(best_epoch, color="0.4", ls="--", lw=1, label="best epoch")
        ax.set(title=title, xlabel="epoch", ylabel=_PANEL_YLABELS[title])
    return fig


# --- test metrics against a constant predictor ----------------------------------------------
_MODEL_COLORS = ("#4c72b0", "#a6a6a6", "#dd8452", "#55a868", "#8172b3", "#937860")  # run blue, constant grey
_TICK_NAMES = {"MAE": "MAE\n(lower is better)", "R_squre": "R²"}


def _metric_panels(table: pd.DataFrame) -> dict[str, list[str]]:
    """The table's metric columns in display order (MOSI's or SIMS's, whichever has more of
    them), split into accuracies and F1 (%) and the unscaled MAE / Corr / R²; empty panels dropped."""
    cols = max(metric_columns(table, "mosi"), metric_columns(table, "sims"), key=len)
    if not cols:
        raise ValueError(f"no MMSA metric columns among {list(table.columns)}")
    panels = {"accuracy and F1 (%)": [c for c in cols if c not in UNSCALED],
              "error and correlation": [c for c in cols if c in UNSCALED]}
    return {name: names for name, names in panels.items() if names}


def _grouped_bars(ax: plt.Axes, table: pd.DataFrame, cols: list[str], fmt: str) -> None:
    """One bar group per column of ``cols``, one bar per row of ``table`` (its colour from
    :data:`_MODEL_COLORS`), each labelled with its value; an undefined (NaN) value gets no
    bar but an "n/a" at 0."""
    x, n = np.arange(len(cols)), len(table)
    width = 0.8 / n
    for i in range(n):
        values = table.iloc[i][cols].to_numpy(float)
        pos, ok = x + (i - (n - 1) / 2) * width, np.isfinite(values)
        bars = ax.bar(pos[ok], values[ok], width * 0.95, color=_MODEL_COLORS[i % len(_MODEL_COLORS)])
        ax.bar_label(bars, fmt=fmt, fontsize=7, padding=2, rotation=90 if n > 2 else 0)
        for p in pos[~ok]:
            ax.text(p, 0, "n/a", ha="center", va="bottom", fontsize=7, color="0.35")
    ax.axhline(0.0, color="0.3", lw=0.8)
    ax.set_xlim(-0.5, len(cols) - 0.5)  # also where only an "n/a" stands
    ax.set_xticks(x, [_TICK_NAMES.get(c, c) for c in cols], fontsize=8)


def plot_test_vs_constant(table: pd.DataFrame, title: str | None = None) -> Figure:
    """Test metrics of a run next to a reference (notebook 02: the constant mean-label
    predictor) as grouped bars, one colour per model (legend below), each bar labelled with
    its value; left panel accuracies and F1 in % (0-100), right panel MAE (marked "lower is
    better"), Corr and, for SIMS, R² on their own scale. An undefined value (the constant's
    Corr) has no bar, only "n/a". Figure 10 × 3.6 in whatever the columns.

    Args:
        table: :func:`~amccl.metrics.format_table` output indexed by model name (one row per
            model, usually two): accuracies / F1 in %, MAE / Corr / R² as fractions. Columns
            other than MMSA metrics are ignored.
    """
    panels = _metric_panels(table)
    ratios = [max(len(cols), 1.6) for cols in panels.values()]
    fig, axes = plt.subplots(1, len(panels), figsize=(10.0, 3.6), squeeze=False, constrained_layout=True,
                             gridspec_kw={"width_ratios": ratios})
    for ax, (name, cols) in zip(axes[0], panels.items()):
        percent = name.endswith("(%)")
        _grouped_bars(ax, table, cols, "%.1f" if percent else "%.3f")
        ax.set(title=name, ylabel="percent" if percent else "value")
        if percent:
            ax.set_ylim(0, 112)
            ax.set_yticks(range(0, 101, 20))
        else:
            ax.margins(y=0.18)
        ax.grid(axis="y", alpha=0.3)
    handles = [plt.Rectangle((0, 0), 1, 1, color=_MODEL_COLORS[i % len(_MODEL_COLORS)])
               for i in range(len(table))]
    fig.legend(handles, [str(m) for m in table.index], loc="outside lower center", ncol=len(table),
               fontsize=9, frameon=False)
    fig.suptitle(title or "test metrics: " + " vs ".join(map(str, table.index)), fontsize=10)
    return fig


# --- ablation intervals ----------------------------------------------------------------------
def _forest(ax: plt.Axes, block: pd.DataFrame, value: str, marker: str = "o") -> np.ndarray:
    """One point with its ``{value}_ci_low/high`` interval per row of ``block``, first row on
    top, coloured by the row's ``verdict`` (none: not significant); returns the y positions."""
    y = np.arange(len(block))[::-1]
    for yi, rec in zip(y, block.to_dict("records")):
        x, low, high = rec[value], rec[f"{value}_ci_low"], rec[f"{value}_ci_high"]
        err = [[max(x - low, 0.0)], [max(high - x, 0.0)]] if np.isfinite(low) else None
        color = VERDICT_COLORS.get(str(rec.get("verdict")), VERDICT_COLORS["n.s."])
        ax.errorbar(x, yi, xerr=err, fmt=marker, color=color, ms=6, capsize=3, lw=1.5, zorder=3)
    return y


def _verdict_handles(verdicts: Iterable[Any], marker: str = "o") -> list[Line2D]:
    """Legend handles of the verdicts present, in the order of :data:`VERDICT_LABELS`."""
    present = {str(v) for v in verdicts}
    return [Line2D([], [], ls="", marker=marker, color=VERDICT_COLORS[k], label=label)
            for k, label in VERDICT_LABELS.items() if k in present]


def _detectable_lines(ax: plt.Axes, summ: pd.DataFrame, baseline: str, power: float) -> Line2D | None:
    """Dotted vertical lines at the baseline mean ± the median ``detectable`` of the other
    variants (``summ`` indexed by variant); returns their legend handle, None when there is
    no finite ``detectable``."""
    others = summ.drop(index=baseline)
    finite = others["detectable"].to_numpy(float)
    finite = finite[np.isfinite(finite)]
    if finite.size == 0:
        return None
    det, centre = float(np.median(finite)), float(summ.loc[baseline, "mean"])
    for x in (centre - det, centre + det):
        ax.axvline(x, color=VERDICT_COLORS["baseline"], lw=1, ls=":", zorder=1)
    return Line2D([], [], color=VERDICT_COLORS["baseline"], lw=1, ls=":",
                  label=f"±detectable Δ ({power * 100:g} % power{_seed_count(others)})")


def _seed_count(others: pd.DataFrame) -> str:
    """', n seeds' (or ', n1–n2 seeds') from the ``n_pairs`` of the rows with a finite
    ``detectable``; empty without that column."""
    if "n_pairs" not in others.columns:
        return ""
    pairs = others.loc[np.isfinite(others["detectable"].to_numpy(float)), "n_pairs"].astype(int)
    return f", {pairs.min()} seeds" if pairs.min() == pairs.max() else f", {pairs.min()}–{pairs.max()} seeds"


def plot_grid(results: pd.DataFrame, metric: str, baseline: str | None = "full",
              alpha: float = 0.05, method: str = "t", order: Sequence[str] | None = None, ax=None,
              title: str | None = None, detectable: bool = True) -> Figure:
    """Per-variant ``metric``: mean ± interval (diamond), the seeds (dots), the baseline's
    interval (grey band); on the right ``Δ``, the seed-paired difference to the baseline with
    its interval (narrower than two bands' overlap suggests: shared seed luck cancels), ``*``
    when Holm-significant. Colours give the Holm-corrected verdict. Values on the one display
    scale (:mod:`amccl.metrics`): accuracies and F1 in % (differences in points), MAE and Corr
    as fractions.

    Args:
        results: grid rows (one per variant and seed; fractions) or a
            :func:`~amccl.ablations.stats.paired_summary` table of them (used as it is; no dots).
        baseline, alpha, method: as :func:`~amccl.ablations.stats.paired_summary`.
        order: variants top to bottom (default: the table's order, baseline first).
        ax: a matplotlib axes to draw on (default: a new figure).
        detectable: when the summary has a ``detectable`` column, two dotted lines at the
            baseline mean ± the median ``detectable`` over the other variants (the smallest
            paired difference these seeds find with the summary's power, 80 % by default): a
            not-significant Δ inside them is no evidence of "no effect".
    """
    from amccl.ablations.power import POWER
    from amccl.ablations.stats import paired_summary

    is_rows = "seed" in results.columns and "mean_ci_low" not in results.columns
    summ = (paired_summary(results, [metric], baseline=baseline, alpha=alpha, method=method)
            if is_rows else results[results["metric"] == metric])
    if summ.empty:
        raise ValueError(f"the summary has no rows for metric {metric!r}")
    text = summ.set_index("variant")  # fractions, for the Δ labels (format_value scales them)
    scale = display_scale(metric)  # positions on the display scale: % or fractions
    summ = text.copy()
    shown = [c for c in ("mean", "std", "mean_ci_low", "mean_ci_high", "diff", "diff_ci_low", "diff_ci_high",
                         "detectable") if c in summ.columns]
    summ[shown] = summ[shown].astype(float) * scale
    order = list(order) if order is not None else list(summ.index)
    unknown = [v for v in order if v not in summ.index]
    if unknown:
        raise ValueError(f"variants not in the results: {unknown}")
    block = summ.loc[order].reset_index()
    with sns.axes_style("whitegrid"):
        if ax is None:
            fig, ax = plt.subplots(figsize=(7.5, 0.45 * len(order) + 1.6))
        else:
            fig = ax.figure
        extra_handles = []
        if baseline is not None and baseline in summ.index:
            base = summ.loc[baseline]
            ax.axvline(base["mean"], color=VERDICT_COLORS["baseline"], lw=1, ls="--", zorder=1)
            if np.isfinite(base["mean_ci_low"]):
                ax.axvspan(base["mean_ci_low"], base["mean_ci_high"], color="0.85", zorder=0)
            if detectable and "detectable" in summ.columns:
                handle = _detectable_lines(ax, summ, baseline, summ.attrs.get("power", POWER))
                extra_handles += [handle] if handle is not None else []
        y = _forest(ax, block, "mean", marker="D")
        for yi, rec in zip(y, block.to_dict("records")):
            if is_rows:
                seeds = results.loc[results["variant"] == rec["variant"], metric].astype(float).to_numpy() * scale
                offsets = np.linspace(-0.18, 0.18, seeds.size) if seeds.size > 1 else np.zeros(1)
                ax.scatter(seeds, yi + offsets, s=14, color="0.45", alpha=0.8, zorder=2, linewidths=0)
            if rec["variant"] != baseline and np.isfinite(rec.get("diff", np.nan)):
                low, high, diff = (format_value(text.at[rec["variant"], k], metric, signed=True)
                                   for k in ("diff_ci_low", "diff_ci_high", "diff"))
                ci = f" [{low}, {high}]" if np.isfinite(rec["diff_ci_low"]) else ""
                ax.annotate(f"Δ {diff}{ci}{' *' if rec['significant'] else ''}", (1.0, yi),
                            xycoords=("axes fraction", "data"), xytext=(4, 0), textcoords="offset points",
                            va="center", fontsize=8, annotation_clip=False,
                            color=VERDICT_COLORS.get(rec["verdict"], VERDICT_COLORS["n.s."]))
        ax.set_yticks(y, order)
        ax.set_ylim(-0.7, len(order) - 0.3)
        unit = " (%)" if is_percent(metric) else ""
        better = "lower is better" if metric in LOWER_IS_BETTER else "higher is better"
        ax.set(xlabel=f"{metric}{unit} — {better}", ylabel="variant")
        level = int(round((1 - alpha) * 100))
        ax.set_title(title or f"{metric}: mean and {level} % interval over seeds; Δ vs {baseline} "
                     f"(* Holm p < {alpha:g})", fontsize=9)
        handles = _verdict_handles(block["verdict"], "D") + extra_handles
        ax.legend(handles=handles, loc="lower left", bbox_to_anchor=(0, 1.06),
                  ncol=4 if len(handles) <= 4 else 3, fontsize=8, frameon=False)  # 5 in a row: too wide
        fig.tight_layout()
    return fig


# --- alignment summaries (amccl.analysis.compare) --------------------------------------------
_ALIGN_LOWER = frozenset({"alignment", "uniformity"})  # Wang and Isola: lower is better


def _column_goodness(values: pd.DataFrame) -> pd.DataFrame:
    """Each column min-max scaled over the rows to [0, 1], 1 = the best row (lowest for
    :data:`_ALIGN_LOWER`, else highest); 0.5 where a column's values are all equal; NaN stays."""
    low, high = values.min(), values.max()
    good = (values - low) / (high - low).replace(0.0, np.nan)
    good = good.where(~(values.notna() & (high == low)), 0.5)
    flip = [c for c in good.columns if c in _ALIGN_LOWER]
    good[flip] = 1.0 - good[flip]
    return good


def plot_alignment_table(side: pd.DataFrame, title: str | None = None) -> Figure:
    """A :func:`~amccl.analysis.compare.compare_models` table as an annotated heatmap: one row
    per model, one column per summary metric, each cell its value (3 decimals; "n/a" for NaN)
    coloured by how good it is among the models of that column (green best, red worst;
    column-wise min-max, inverted for alignment and uniformity, where lower is better). The
    headers carry ↑ (higher is better) or ↓ (lower is better); no colour bar. Figure size
    depends only on the table's shape: (2.2 + 1.1 · columns) × (1.5 + 0.4 · rows) in.

    Args:
        side: index = model names, columns :data:`~amccl.analysis.compare.ALIGNMENT_COLUMNS`
            (recall@1, recall@5, alignment, uniformity, silhouette, spearman) or some of them.
    """
    values = side.astype(float)
    nrows, ncols = values.shape
    fig, ax = plt.subplots(figsize=(2.2 + 1.1 * ncols, 1.5 + 0.4 * nrows), constrained_layout=True)
    cmap = sns.color_palette("RdYlGn", as_cmap=True)
    sns.heatmap(_column_goodness(values), annot=values.map(lambda v: f"{v:.3f}").to_numpy(), fmt="",
                cmap=cmap, vmin=-0.3, vmax=1.3, cbar=False, linewidths=1.5, linecolor="white", ax=ax,
                annot_kws={"fontsize": 9})  # limits beyond [0, 1]: muted ends, legible text
    for (i, j) in zip(*np.nonzero(values.isna().to_numpy())):
        ax.text(j + 0.5, i + 0.5, "n/a", ha="center", va="center", fontsize=9, color="0.4")
    ax.xaxis.tick_top()
    ax.set_xticks(np.arange(ncols) + 0.5, [f"{c} {'↓' if c in _ALIGN_LOWER else '↑'}" for c in values.columns],
                  fontsize=9)
    ax.tick_params(axis="both", length=0)
    ax.tick_params(axis="y", rotation=0)
    ax.set_ylabel("")
    ax.set_xlabel("↑ higher is better · ↓ lower is better\ncolour: best (green) to worst (red) "
                  "among the models, per column", fontsize=8, color="0.3")
    ax.set_title(title or "alignment summary (means over modality pairs / modalities)", fontsize=10)
    return fig


# --- joint embedding maps --------------------------------------------------------------------
_AXIS_NAMES = {"umap": "UMAP", "tsne": "t-SNE", "pca": "PC"}


def _label_norm(labels: Any, label_range: float | None = None) -> Normalize:
    """Colour limits symmetric around 0: [-r, r], r = ``label_range`` or, if None, 3 when some
    |label| > 1 (MOSI/MOSEI) else 1 (SIMS)."""
    if label_range is None:
        label_range = 3.0 if np.nanmax(np.abs(np.asarray(labels, dtype=float)), initial=0.0) > 1 else 1.0
    return Normalize(vmin=-label_range, vmax=label_range)


def _modality_handles(names: Iterable[str], colored: bool = True) -> list[Line2D]:
    """Legend handles of the modality markers, in modality colours or grey."""
    return [Line2D([], [], ls="", marker=MODALITY_MARKERS.get(m, "o"), label=m, markersize=7,
                   color=MODALITY_COLORS.get(m, "0.3") if colored else "0.45") for m in names]


def _draw(ax: plt.Axes, proj: pd.DataFrame, how: str, norm: Normalize, size: float) -> ScalarMappable | None:
    """Scatter ``proj`` coloured by ``label`` (diverging map, marker = modality; returns the
    mappable) or by ``modality``; axis labels like 'UMAP 1', ticks hidden."""
    if how not in ("label", "modality"):
        raise ValueError(f"color_by must hold 'label' and/or 'modality', got {how!r}")
    cmap = sns.color_palette("vlag", as_cmap=True)  # blue negative, grey 0, red positive
    for name, block in proj.groupby("modality", sort=False):
        marker = MODALITY_MARKERS.get(name, "o")
        if how == "label":
            ax.scatter(block["x"], block["y"], c=block["label"], cmap=cmap, norm=norm, s=size, marker=marker,
                       linewidths=0.2, edgecolors="0.3", alpha=0.85)
        else:
            ax.scatter(block["x"], block["y"], color=MODALITY_COLORS.get(name, "0.3"), s=size, marker=marker,
                       alpha=0.7, linewidths=0)
    method = proj.attrs.get("method", "umap")
    name = _AXIS_NAMES.get(method, method)
    ax.set(xlabel=f"{name} 1", ylabel=f"{name} 2", xticks=[], yticks=[])  # the units mean nothing
    return ScalarMappable(norm=norm, cmap=cmap) if how == "label" else None


def plot_joint(proj: pd.DataFrame, color_by: Sequence[str] = ("label", "modality"),
               label_range: float | None = None, title: str | None = None, point_size: float = 14) -> Figure:
    """One joint projection (:func:`~amccl.analysis.projection.project_joint`'s frame), one
    panel per colouring: ``label`` (colour bar centred at 0, limits ±``label_range``, default
    3 for MOSI-like labels else 1; marker = modality) and/or ``modality`` (legend)."""
    fig, axes = plt.subplots(1, len(color_by), figsize=(6.2 * len(color_by), 5.2),
                             squeeze=False, constrained_layout=True)
    norm = _label_norm(proj["label"], label_range)
    modalities = list(dict.fromkeys(proj["modality"]))
    for ax, how in zip(axes[0], color_by):
        mappable = _draw(ax, proj, how, norm, point_size)
        if mappable is not None:
            fig.colorbar(mappable, ax=ax, label="sentiment label", shrink=0.85)
            ax.legend(handles=_modality_handles(modalities, False), title="modality (marker)", fontsize=8)
        else:
            ax.legend(handles=_modality_handles(modalities), title="modality", loc="best")
        ax.set_title(f"coloured by {how}")
    if title:
        fig.suptitle(title)
    return fig


def _summary_line(emb: Embeddings) -> str:
    """Mean cross-modal recall@1 and alignment, and mean silhouette, for a panel title."""
    from amccl.analysis.alignment import alignment_metrics
    from amccl.analysis.compare import alignment_row

    row = alignment_row(alignment_metrics(emb, ks=(1,)))
    return (f"R@1 {row['recall@1']:.3f} (chance {1 / len(emb):.3f}) · "
            f"align {row['alignment']:.2f} · sil {row['silhouette']:.2f}")


def plot_models_side_by_side(embeddings: Mapping[str, Embeddings], method: str = "umap", seed: int = 0,
                             max_clips: int | None = 1000, label_range: float | None = None,
                             show_metrics: bool = True, point_size: float = 10) -> Figure:
    """Joint projections of several models: row 1 coloured by label, row 2 by modality. Each
    model is projected on its own: axes are not comparable between panels, only the structure.

    Args:
        embeddings: ordered mapping name -> ``Embeddings`` of one split, e.g. ``{"untrained": e0,
            "trained": e1}``; ``method``, ``seed``, ``max_clips``: as ``project_joint``.
        label_range: colour bar limits ±r (default from the labels); ``point_size``: marker area.
        show_metrics: add mean recall@1, alignment and silhouette under each name.
    """
    from amccl.analysis.projection import project_joint

    names = list(embeddings)
    fig, axes = plt.subplots(2, len(names), figsize=(5.0 * len(names) + 1.2, 9.4),
                             squeeze=False, constrained_layout=True)
    norm = _label_norm(np.concatenate([e.labels for e in embeddings.values()]), label_range)
    for col, name in enumerate(names):
        proj = project_joint(embeddings[name], method=method, seed=seed, max_clips=max_clips)
        mappable = _draw(axes[0, col], proj, "label", norm, point_size)
        _draw(axes[1, col], proj, "modality", norm, point_size)
        axes[0, col].set_title(f"{name}\n{_summary_line(embeddings[name])}" if show_metrics else name, fontsize=10)
        axes[1, col].set_title(f"{name}: coloured by modality", fontsize=10)
    fig.colorbar(mappable, ax=axes[0, :].tolist(), label="sentiment label", shrink=0.85)
    modalities = list(dict.fromkeys(proj["modality"]))
    axes[1, -1].legend(handles=_modality_handles(modalities), title="modality", loc="upper left",
                       bbox_to_anchor=(1.02, 1.0))
    axes[0, 0].legend(handles=_modality_handles(modalities, False), title="marker", fontsize=8, loc="best")
    return fig


# --- where the model fails (amccl.analysis.errors) ------------------------------------------
_BIN_AXIS_NAMES = {"true_bin": "true 7-class bin", "text_len": "text tokens (quantile bin)",
                   "audio_len": "audio frames (quantile bin)", "vision_len": "vision frames (quantile bin)"}


def plot_confusion(confusion: pd.DataFrame, normalize: bool = False, title: str | None = None) -> Figure:
    """The Acc-7 confusion matrix (:func:`~amccl.analysis.errors.acc7_confusion`) as a heatmap.

    Args:
        confusion: 7x7 counts, rows true class, columns predicted class (-3..3).
        normalize: colour and annotate each row's share (rows sum to 1; empty rows blank)
            instead of counts.
    """
    values = confusion.astype(float)
    if normalize:
        values = values.div(values.sum(axis=1).replace(0, np.nan), axis=0)
    fig, ax = plt.subplots(figsize=(6.4, 5.4), constrained_layout=True)
    sns.heatmap(values, annot=True, fmt=".2f" if normalize else ".0f", cmap="Blues", square=True, ax=ax,
                vmin=0, vmax=1 if normalize else None, linewidths=0.5, linecolor="white",
                cbar_kws={"label": "share of the true class" if normalize else "clips"})
    ax.set(xlabel="predicted 7-class bin", ylabel="true 7-class bin",
           title=title or ("Acc-7 confusion (row-normalised)" if normalize else "Acc-7 confusion (counts)"))
    ax.tick_params(axis="y", rotation=0)
    ax.grid(False)  # no style grid through the blank (empty) rows
    return fig


def plot_residuals_by_bin(summary: pd.DataFrame, title: str | None = None) -> Figure:
    """Errors per bin (:func:`~amccl.analysis.errors.residuals_by_label` / ``residuals_by_length``):
    MAE bars annotated with each bin's clip count, and the mean signed residual (prediction -
    label) as points around 0. ``summary``: index = bins, columns ``count``, ``mae``, ``mean_residual``."""
    names = [str(b) for b in summary.index]
    x = np.arange(len(names))
    fig, (left, right) = plt.subplots(1, 2, figsize=(11.0, 4.0), constrained_layout=True)
    bars = left.bar(x, np.nan_to_num(summary["mae"].to_numpy(float)), color="#4c72b0")
    left.bar_label(bars, labels=[f"n={int(n)}" for n in summary["count"]], fontsize=8, padding=2)
    left.set(ylabel="MAE", title="mean absolute error")
    right.axhline(0.0, color="0.5", lw=1, ls="--")
    right.plot(x, summary["mean_residual"].to_numpy(float), "o-", color="#dd8452")
    right.set(ylabel="mean prediction - label", title="mean signed residual (> 0: too positive)")
    axis = _BIN_AXIS_NAMES.get(str(summary.index.name), str(summary.index.name or "bin"))
    for ax in (left, right):
        ax.set_xticks(x, names, rotation=30 if max(map(len, names), default=0) > 4 else 0)
        ax.set_xlabel(axis)
    if title:
        fig.suptitle(title)
    return fig


# --- hyper-parameter studies ------------------------------------------------------------------
def plot_param_importances(study: Any, evaluator: Any = None, top: int | None = None,
                           title: str | None = None) -> Figure:
    """How much each sampled field explains the validation MAE of an optuna study's complete
    trials (:func:`optuna.importance.get_param_importances`; default a fANOVA evaluator seeded
    with 0; fractions summing to 1), as horizontal bars, largest first (``top``: the first n)."""
    import optuna

    evaluator = evaluator or optuna.importance.FanovaImportanceEvaluator(seed=0)
    importances = optuna.importance.get_param_importances(study, evaluator=evaluator)
    frame = pd.DataFrame({"field": list(importances), "importance": list(importances.values())}).head(top)
    fig, ax = plt.subplots(figsize=(6.4, 1.2 + 0.32 * len(frame)), constrained_layout=True)
    sns.barplot(frame, x="importance", y="field", color="#4575b4", ax=ax)
    ax.set(xlabel="share of the validation-MAE variance explained (fANOVA)", ylabel="")
    complete = len(study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,)))
    ax.set_title(title or f"{study.study_name}: {complete} complete trials, best valid MAE {study.best_value:.4f}")
    return fig


# --- alignment against gamma -----------------------------------------------------------------
_SWEEP_LABELS = {"alignment": "alignment (lower = closer)", "spearman": "distance/label Spearman",
                 "MAE": "test MAE (lower is better)"}


def plot_gamma_sweep(frame: pd.DataFrame, metrics: Sequence[str] = ("alignment", "spearman", "MAE"),
                     alpha: float = 0.05, title: str | None = None) -> Figure:
    """One panel per metric against gamma (symlog x axis, so gamma = 0 is shown): per variant
    the mean over seeds with its ``1 - alpha`` t-interval (bars and band), the seeds as dots;
    the MAE panel marks ``constant_MAE`` (always predicting the training median) when present.

    Args:
        frame: :func:`~amccl.analysis.gamma_sweep.gamma_sweep`'s rows: variant, gamma, seed
            and the metric columns.
    """
    from amccl.analysis.gamma_sweep import sweep_summary

    summ = sweep_summary(frame, metrics, alpha)
    gammas = np.sort(frame["gamma"].unique())
    positive = gammas[gammas > 0]
    fig, axes = plt.subplots(1, len(metrics), figsize=(4.6 * len(metrics), 3.8), squeeze=False, constrained_layout=True)
    palette = dict(zip(dict.fromkeys(summ["variant"]), sns.color_palette("colorblind")))
    for ax, metric in zip(axes[0], metrics):
        for variant, color in palette.items():
            block = summ[(summ["variant"] == variant) & (summ["metric"] == metric)].sort_values("gamma")
            x, y = block["gamma"].to_numpy(), block["mean"].to_numpy()
            err = np.abs(block[["ci_low", "ci_high"]].to_numpy().T - y)
            ax.errorbar(x, y, yerr=np.nan_to_num(err), color=color, marker="o", capsize=3, lw=1.6, label=variant)
            ax.fill_between(x, block["ci_low"], block["ci_high"], color=color, alpha=0.15, lw=0)
            runs = frame[frame["variant"] == variant]
            ax.scatter(runs["gamma"], runs[metric], s=10, color=color, alpha=0.5, linewidths=0)
        if metric == "MAE" and "constant_MAE" in frame.columns:
            ax.axhline(frame["constant_MAE"].iloc[0], color="0.4", ls="--", lw=1, label="constant predictor")
        linthresh = positive.min() if positive.size else 1.0
        ax.set_xscale("symlog", linthresh=linthresh)
        ax.set_xlim(-0.3 * linthresh, gammas.max() * 1.6 if positive.size else linthresh)
        ax.set_xticks(gammas, [f"{g:g}" for g in gammas])
        ax.set(xlabel="γ (weight of the contrastive loss)", ylabel=_SWEEP_LABELS.get(metric, metric))
        ax.grid(alpha=0.3)
    axes[0, -1].legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.02, 1.0))
    n = frame.groupby(["variant", "gamma"])["seed"].nunique().min()
    fig.suptitle(title or f"against γ: mean and {int(round((1 - alpha) * 100))} % interval over {n} seed(s)",
                 fontsize=10)
    return fig
