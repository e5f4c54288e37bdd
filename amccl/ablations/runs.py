"""One run of an ablation grid: its spec (:class:`RunSpec`, plain data that pickles to a worker),
training it (:func:`run_pair`) and its ``grid.csv`` row (:func:`make_row`)."""

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


@dataclass(frozen=True)
class RunSpec:
    """One (variant, seed) run as plain data, so it pickles to a Ray worker unchanged."""

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
    """Train ``spec`` on ``data`` (None: fit loads it) with ``fit_fn`` (default
    ``amccl.train.fit``) and ``num_threads`` torch threads (None: torch's); return its row
    (:func:`make_row`). A ``run_dir`` holding ``last.pt`` makes fit resume from it."""
    import torch

    if fit_fn is None:
        from amccl.train import fit as fit_fn
    cfg, previous = AMCCLConfig.from_dict(spec.config), torch.get_num_threads()
    if num_threads is not None:
        torch.set_num_threads(max(1, int(num_threads)))
    try:
        threads, start = torch.get_num_threads(), time.perf_counter()
        resume = spec.run_dir is not None and (Path(spec.run_dir) / "last.pt").exists()
        history = fit_fn(cfg, data, seed=spec.seed, out_dir=spec.run_dir, progress=False,
                         **({"resume": True} if resume else {}))
        seconds = time.perf_counter() - start
    finally:
        torch.set_num_threads(previous)
    return make_row(spec, history, seconds, threads)


def make_row(spec: RunSpec, history: Any, seconds: float, threads: int | None = None) -> dict[str, Any]:
    """A flat row: variant, seed, dataset, test metrics, ``valid_*`` metrics of the best epoch
    (fractions), best_epoch, epochs_run, torch_threads, the flattened ``meta``
    (:func:`~amccl.results.flatten_meta`), seconds, finished_at, host, overrides and config (JSON)."""
    if not history.test_metrics:
        raise ValueError(f"run {spec.key}: the history has no test metrics")
    valid = dict(getattr(history, "valid_metrics", None) or {})
    epochs, meta = getattr(history, "epochs", None), getattr(history, "meta", None) or {}
    return {
        "variant": spec.variant, "seed": int(spec.seed), "dataset": spec.config.get("dataset"),
        **{k: _cell(v) for k, v in dict(history.test_metrics).items()},
        **{f"valid_{k}": _cell(v) for k, v in valid.items()},
        "best_epoch": getattr(history, "best_epoch", None),
        "epochs_run": len(epochs) if epochs is not None else None,
        "torch_threads": threads,
        **{str(k): _cell(v) for k, v in (flatten_meta(meta, spec.config).items() if isinstance(meta, dict) else ())},
        "seconds": round(float(seconds), 3),
        "finished_at": time.strftime("%Y-%m-%dT%H:%M:%S"),
        "host": socket.gethostname(),
        "overrides": json.dumps(spec.overrides, sort_keys=True),
        "config": config_json(spec.config),
    }


def _cell(value: Any) -> Any:
    """A CSV cell: tensors and numpy scalars as Python numbers, None kept, non-scalars as text."""
    if hasattr(value, "item"):
        value = value.item()
    return value if value is None or isinstance(value, (int, float, str, bool)) else str(value)
