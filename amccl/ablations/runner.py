"""One (variant, seed) run of an ablation grid: the unit of work every executor runs.

A :class:`RunSpec` is plain data (the variant's whole config as a dict), so it pickles to a
Ray worker unchanged; :func:`run_pair` rebuilds the config, sets the thread count, calls
``amccl.train.fit`` and turns its ``History`` into one flat CSV row (:func:`make_row`).
"""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from amccl.config import AMCCLConfig
from amccl.results import flatten_meta

# Row columns that change from one execution of the same run to the next (timing, place);
# everything else in a row is a function of (config, seed, data) only.
VOLATILE_COLUMNS = ("seconds", "finished_at", "host")


@dataclass(frozen=True)
class RunSpec:
    """What to run: the variant name, its seed, its full config and where its files go."""

    variant: str
    seed: int
    config: dict[str, Any]  # AMCCLConfig.to_dict() of the variant's config
    overrides: dict[str, Any]  # the variant's overrides, recorded in the row
    run_dir: str | None = None  # fit's out_dir (None: fit writes nothing)

    @property
    def key(self) -> tuple[str, int]:
        return self.variant, self.seed


def config_json(config: dict[str, Any]) -> str:
    """The canonical JSON of a config dict (sorted keys), as stored in the ``config`` column."""
    return json.dumps(config, sort_keys=True)


def run_pair(spec: RunSpec, data: Any = None, fit_fn: Callable | None = None,
             num_threads: int | None = None) -> dict[str, Any]:
    """Train ``spec``'s variant with ``spec.seed`` and return its result row.

    With a ``run_dir`` holding fit's ``last.pt`` (a run interrupted mid-training), fit is
    asked to resume from it; fit checks that config and seed match.

    Args:
        spec: the run.
        data: an ``MMSAData`` shared by the grid, or ``None`` (``fit`` loads the config's data).
        fit_fn: ``amccl.train.fit`` or a function with its signature (tests inject fakes).
        num_threads: torch intra-op threads during the run (restored afterwards); ``None``
            leaves torch's setting alone. Runs with equal thread counts give equal numbers.
    """
    import torch

    if fit_fn is None:
        from amccl.train import fit as fit_fn
    cfg = AMCCLConfig.from_dict(spec.config)
    previous = torch.get_num_threads()
    if num_threads is not None:
        torch.set_num_threads(max(1, int(num_threads)))
    try:
        threads = torch.get_num_threads()
        start = time.perf_counter()
        kwargs = {}
        if spec.run_dir is not None and (Path(spec.run_dir) / "last.pt").exists():
            kwargs["resume"] = True  # a run killed mid-training continues from its checkpoint
        history = fit_fn(cfg, data, seed=spec.seed, out_dir=spec.run_dir, progress=False, **kwargs)
        seconds = time.perf_counter() - start
    finally:
        torch.set_num_threads(previous)
    return make_row(spec, history, seconds, threads)


def make_row(spec: RunSpec, history: Any, seconds: float, threads: int | None = None) -> dict[str, Any]:
    """A flat row: variant, seed, dataset, test metrics (MMSA names, fractions as
    ``compute_metrics`` gives them, not ×100), ``valid_*`` metrics of the best epoch,
    best_epoch, epochs_run, torch_threads, the history's ``meta`` flattened by
    ``results.flatten_meta`` (data path and hash, encoder, versions, device, ``note``), seconds, finished_at, host, overrides (JSON) and config (JSON)."""
    test = dict(history.test_metrics)
    if not test:
        raise ValueError(f"run {spec.key}: the history has no test metrics")
    row: dict[str, Any] = {"variant": spec.variant, "seed": int(spec.seed),
                           "dataset": spec.config.get("dataset")}
    row.update({k: _plain(v) for k, v in test.items()})
    row.update({f"valid_{k}": _plain(v) for k, v in dict(getattr(history, "valid_metrics", None) or {}).items()})
    epochs = getattr(history, "epochs", None)
    meta = getattr(history, "meta", None) or {}
    row.update({
        "best_epoch": getattr(history, "best_epoch", None),
        "epochs_run": len(epochs) if epochs is not None else None,
        "torch_threads": threads,
        **{str(k): _cell(v) for k, v in (flatten_meta(meta, spec.config).items() if isinstance(meta, dict) else ())},
        "seconds": round(float(seconds), 3),
        "finished_at": time.strftime("%Y-%m-%dT%H:%M:%S"),
        "host": socket.gethostname(),
        "overrides": json.dumps(spec.overrides, sort_keys=True),
        "config": config_json(spec.config),
    })
    return row


def _cell(value: Any) -> Any:
    """A CSV cell: numbers and strings as they are, None kept, anything else as text."""
    value = _plain(value)
    return value if value is None or isinstance(value, (int, float, str, bool)) else str(value)


def _plain(value: Any) -> Any:
    """Numbers as Python floats/ints (tensors and numpy scalars included)."""
    if hasattr(value, "item"):
        value = value.item()
    return value
