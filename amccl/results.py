"""What a run returns (:class:`History`) and how seeds become the table papers print (:func:`seed_table`).

Numbers are fractions everywhere except :func:`write_official_csv`, the paper code's layout (docs/model.md §4) with
every metric ×100. Each row records the text encoder and a ``note`` when the run's numbers are not the paper's setting.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from amccl.metrics import format_mean_std, format_table, metric_columns

NOTE_SEP = " | "  # between the notes of one row (a note may itself hold "; ")
OFFICIAL_MODEL = "amccl"  # the Model cell of the official layout


@dataclass
class History:
    """The result of one :func:`amccl.train.fit` call.

    Attributes:
        epochs: one dict per epoch: ``epoch``, ``train_<part>`` per loss part, ``valid_loss``,
            ``valid_<metric>``, ``lr_<group>`` (after the epoch's last step), ``seconds``.
        best_epoch: the epoch whose weights were restored (1-based).
        valid_metrics, test_metrics: the best epoch's metrics (fractions); test_loss: its test L1.
        config: ``cfg.to_dict()``; seed; meta: data path and sha256, versions, device.
        stopped_early: early stopping ended the run before ``cfg.epochs``.
        test_predictions: ``id``, ``label``, ``prediction`` of the test split.
        model: the model with the best weights (not pickled).
    """

    epochs: list[dict[str, Any]] = field(default_factory=list)
    best_epoch: int = 0
    valid_metrics: dict[str, float] = field(default_factory=dict)
    test_metrics: dict[str, float] = field(default_factory=dict)
    test_loss: float | None = None
    config: dict[str, Any] = field(default_factory=dict)
    seed: int = 0
    meta: dict[str, Any] = field(default_factory=dict)
    stopped_early: bool = False
    test_predictions: pd.DataFrame | None = None
    model: Any = field(default=None, repr=False, compare=False)

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["model"] = None  # weights live in best.pt, not in pickled histories
        return state

    def to_frame(self) -> pd.DataFrame:
        """The per-epoch records as a DataFrame indexed by epoch."""
        return pd.DataFrame(self.epochs).set_index("epoch") if self.epochs else pd.DataFrame()

    def result_row(self) -> dict[str, Any]:
        """One flat row: seed, test metrics (fractions), ``test_loss``, best epoch, data, versions, device, config."""
        return {"seed": self.seed, **self.test_metrics, "test_loss": self.test_loss, "best_epoch": self.best_epoch,
                "epochs_run": len(self.epochs), "seconds": round(float(sum(e["seconds"] for e in self.epochs)), 2),
                "dataset": self.config.get("dataset"), **flatten_meta(self.meta, self.config),
                "config": json.dumps(self.config, sort_keys=True)}


def run_notes(config: dict[str, Any], encoder: dict[str, Any] | None) -> list[str]:
    """Why a run's numbers are not the paper's: a substitute encoder, SIMS-v2's own values, a
    file's own shapes (:func:`amccl.config.shapes_note`)."""
    from amccl.config import SIMSV2_NOTE, shapes_note

    notes = [encoder["note"]] if encoder and encoder.get("note") else []
    if config.get("dataset") == "simsv2":
        notes.append(SIMSV2_NOTE)
    return notes + [note for note in [shapes_note(config)] if note]


def flatten_meta(meta: dict[str, Any], config: dict[str, Any]) -> dict[str, Any]:
    """A history's ``meta`` as flat row cells: ``encoder`` (its name) and ``encoder_<field>``,
    plus ``note`` (:func:`run_notes` joined by :data:`NOTE_SEP`) when there is one."""
    flat = {k: v for k, v in meta.items() if k not in ("encoder", "shapes_note")}  # the note: in ``note``
    encoder = meta.get("encoder") or None
    if encoder:
        flat["encoder"] = encoder.get("name")
        flat.update({f"encoder_{k}": encoder.get(k) for k in ("hidden_size", "layers", "vocab_size", "sha",
                                                                "substitute")})
    notes = run_notes(config, encoder)
    if notes:  # no empty cell: it would come back from a CSV as NaN
        flat["note"] = NOTE_SEP.join(notes)
    return flat


def notes_of(results: pd.DataFrame) -> list[str]:
    """The distinct non-empty notes of a results frame's rows (in order)."""
    if "note" not in results.columns:
        return []
    cells = results["note"].dropna().astype(str)
    return list(dict.fromkeys(n.strip() for cell in cells for n in cell.split(NOTE_SEP.strip()) if n.strip()))


def results_frame(histories: list[History]) -> pd.DataFrame:
    """One row per seed (see :meth:`History.result_row`), metrics as fractions."""
    return pd.DataFrame([h.result_row() for h in histories])


def dataset_of(results: pd.DataFrame, dataset: str | None = None) -> str | None:
    """``dataset``, else the first value of a results frame's ``dataset`` column, else None."""
    if dataset is None and "dataset" in results.columns and len(results):
        return str(results["dataset"].iloc[0])
    return dataset


def summarize(results: pd.DataFrame, dataset: str | None = None) -> pd.DataFrame:
    """Mean and std (ddof=0, as MMSA) over the seeds of a :func:`results_frame`: rows ``mean`` and
    ``std``, one column per metric of ``dataset``; ``attrs["notes"]`` the rows' notes."""
    dataset = dataset_of(results, dataset)
    cols = metric_columns(results, dataset)
    values = results[cols].to_numpy(dtype=np.float64)
    summary = pd.DataFrame([values.mean(axis=0), values.std(axis=0, ddof=0)], index=["mean", "std"], columns=cols)
    summary.attrs["notes"] = notes_of(results)
    return summary


def paper_row(summary: pd.DataFrame) -> pd.Series:
    """The ``mean ± std`` strings of a :func:`summarize` table (``85.00 ± 1.20``, MAE
    ``0.7663 ± 0.0485``), then ``note`` when the table has notes."""
    row = {c: format_mean_std(summary.at["mean", c], summary.at["std", c], c) for c in summary.columns}
    if summary.attrs.get("notes"):
        row["note"] = NOTE_SEP.join(summary.attrs["notes"])
    return pd.Series(row, name="mean ± std")


def seed_table(results: pd.DataFrame, dataset: str | None = None) -> pd.DataFrame:
    """What ``train`` and ``tune`` print: one row per seed and a last ``mean ± std`` row, strings
    (:func:`amccl.metrics.format_table`), indexed by seed; ``attrs["notes"]`` the runs' notes."""
    dataset = dataset_of(results, dataset)
    summary = summarize(results, dataset)
    metrics = list(summary.columns)
    table = format_table(results[["seed", *metrics]], dataset or "mosi", text=True).set_index("seed").astype(object)
    table.loc["mean ± std"] = paper_row(summary)[metrics]
    table.attrs["notes"] = summary.attrs.get("notes", [])
    return table


def write_results(results: pd.DataFrame, out_dir: str | Path, dataset: str | None = None) -> tuple[Path, Path]:
    """Write ``results.csv`` (every seed's row) and ``summary.csv`` (``mean``, ``std``, then one
    row per baseline of ``results.attrs["baselines"]``, which also go to ``baselines.csv``; a
    ``note`` column when the runs have notes); fractions."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    results_path, summary_path = out / "results.csv", out / "summary.csv"
    results.to_csv(results_path, index=False)
    summary = summarize(results, dataset)
    table = summary.copy()
    if results.attrs.get("baselines"):
        baselines = pd.DataFrame(results.attrs["baselines"])
        baselines.to_csv(out / "baselines.csv", index=False)
        rows = baselines.set_index("baseline")[list(summary.columns)]
        table = pd.concat([table, rows.rename(index=lambda name: f"baseline: {name}")])
    if summary.attrs.get("notes"):
        table["note"] = NOTE_SEP.join(summary.attrs["notes"])
    table.to_csv(summary_path, index_label="statistic")
    return results_path, summary_path


def write_official_csv(results: pd.DataFrame, out_dir: str | Path, dataset: str | None = None) -> Path:
    """Write a :func:`results_frame` in the paper code's layout (docs/model.md §4) to
    ``out_dir/<dataset>-regression.csv`` (the official file name): Model, Seed, gamma, the dataset's metrics,
    Loss (test mean batch L1); every number ×100, rounded to 2 decimals (MAE 0.6959 -> 69.59)."""
    dataset = dataset_of(results, dataset)
    gamma = [json.loads(c).get("gamma") if isinstance(c, str) else None
             for c in results.get("config", pd.Series([None] * len(results)))]
    loss = results["test_loss"] if "test_loss" in results.columns else pd.Series([np.nan] * len(results))
    table = pd.DataFrame({"Model": OFFICIAL_MODEL, "Seed": results["seed"].to_numpy(), "gamma": gamma})
    for column, values in [*((m, results[m]) for m in metric_columns(results, dataset)), ("Loss", loss)]:
        table[column] = (100.0 * values.astype(float)).round(2).to_numpy()
    path = Path(out_dir) / f"{dataset or OFFICIAL_MODEL}-regression.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    table.to_csv(path, index=False)
    return path
