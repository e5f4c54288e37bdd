"""Run every (variant, seed) pair of an ablation grid, resumably, one CSV row per run.

    >>> cfg = AMCCLConfig.for_dataset("mosi", profile="demo")
    >>> rows = run_grid(["full", "no_se", "no_cl"], [1111, 1112, 1113], cfg, out_dir="runs/abl")

Each finished row goes to ``out_dir/grid.csv`` at once (atomically); the same call again resumes, skipping
pairs stored with the same config (another config raises). A lock keeps a second process out. A run depends
on its config, seed, data and torch's thread count: pass ``num_cpus`` when comparing executors.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import pandas as pd

from amccl.ablations.runs import RunSpec, config_json, run_pair
from amccl.ablations.variants import apply_variant, canonical_name, variant_overrides
from amccl.checkpoint import config_differences
from amccl.config import AMCCLConfig
from amccl.runtime import atomic_write, get_logger, progress_bar, progress_enabled, progress_lines

GRID_CSV = "grid.csv"
KEY_COLUMNS = ("variant", "seed")
# Config fields a stored row need not match to be resumed: the preset's seed list, the device.
RESUME_IGNORES = frozenset({"seeds", "device"})
# Row columns that differ between two executions of one run; the rest depends on (config, seed, data).
VOLATILE_COLUMNS = ("seconds", "finished_at", "host")
_RESOURCE_KEYS = {"num_cpus", "num_gpus", "memory", "resources"}


def make_executor(name: str = "local", ray_address: str | None = None, resources: dict[str, Any] | None = None,
                  **ray_kwargs: Any) -> Callable[..., Iterator[dict[str, Any]]]:
    """``run(specs, data, fit_fn)`` yielding rows: ``local`` (in order), ``processes`` or ``ray``.
    ``resources``: ``num_cpus``, ``num_gpus`` (fractional), ``memory``, ``resources`` (Ray)."""
    resources = dict(resources or {})
    unknown = set(resources) - _RESOURCE_KEYS
    if unknown:
        raise ValueError(f"unknown resource keys {sorted(unknown)}; expected some of {sorted(_RESOURCE_KEYS)}")
    for key in ("num_cpus", "num_gpus"):
        if resources.get(key) is not None and float(resources[key]) < 0:
            raise ValueError(f"{key} must be >= 0, got {resources[key]}")
    if name == "local":  # torch threads = the run's num_cpus (at least 1; None: torch's setting)
        threads = None if resources.get("num_cpus") is None else max(1, int(resources["num_cpus"]))
        return lambda specs, data=None, fit_fn=None: (run_pair(s, data, fit_fn, threads) for s in specs)
    if name == "processes":  # all cores of this machine, num_cpus (default 1) threads per run
        from amccl.ablations.process_executor import ProcessExecutor

        return ProcessExecutor(resources.get("num_cpus"), ray_kwargs.get("workers")).run
    if name == "ray":
        from amccl.ablations.ray_executor import RayExecutor

        return RayExecutor(ray_address, resources.get("num_cpus"), resources.get("num_gpus"),
                           resources.get("memory"), resources.get("resources"), **ray_kwargs).run
    raise ValueError(f"unknown executor {name!r}; expected one of ('local', 'processes', 'ray')")


def read_grid(path: str | os.PathLike) -> pd.DataFrame:
    """The rows of a grid CSV (a directory means its ``grid.csv``); empty if none exists."""
    path = Path(path)
    if path.is_dir():
        path = path / GRID_CSV
    if not path.exists() or path.stat().st_size == 0:
        return pd.DataFrame(columns=list(KEY_COLUMNS))
    rows = pd.read_csv(path)
    missing = [c for c in KEY_COLUMNS if c not in rows.columns]
    if missing:
        raise ValueError(f"{path} is not a grid CSV: no {missing} column")
    return rows.astype({"seed": int})


def grid_specs(variants: Iterable[str], seeds: Iterable[int], cfg: AMCCLConfig,
               out_dir: str | os.PathLike | None = None, save_runs: bool = False) -> list[RunSpec]:
    """One :class:`RunSpec` per (variant, seed), variant-major; duplicates dropped. Variant
    names are canonicalised and all resolved first, so a typo fails before anything trains."""
    variants = list(dict.fromkeys(canonical_name(v) for v in variants))
    seeds = [int(s) for s in dict.fromkeys(seeds)]
    if not variants or not seeds:
        raise ValueError("a grid needs at least one variant and one seed")
    configs = {v: apply_variant(cfg, v).to_dict() for v in variants}
    safe = {v: "".join(c if c.isalnum() or c in "._+-" else "_" for c in v) for v in variants}
    return [RunSpec(v, seed, configs[v], variant_overrides(v),
                    str(Path(out_dir) / "runs" / safe[v] / f"seed_{seed}") if save_runs and out_dir is not None
                    else None)
            for v in variants for seed in seeds]


def run_grid(variants: Iterable[str], seeds: Iterable[int], cfg: AMCCLConfig, data: Any = None,
             out_dir: str | os.PathLike | None = None, executor: str = "local", ray_address: str | None = None,
             resources: dict[str, Any] | None = None, progress: bool = True, fit_fn: Callable | None = None,
             save_runs: bool = False, progress_desc: str = "ablation grid", **ray_kwargs: Any) -> pd.DataFrame:
    """Train every (variant, seed) pair; one row per pair (:func:`~amccl.ablations.runs.make_row`),
    variant-major in the order given, rows resumed from ``out_dir``'s CSV included.

    Args:
        variants: registry names or ``+`` combinations; seeds: every variant gets every seed.
        cfg: the base config (the ``full`` model); data: ``None`` loads ``cfg``'s once, here.
        out_dir: ``grid.csv`` (and with ``save_runs`` ``runs/<variant>/seed_<seed>``); ``None``
            keeps rows in memory (no resumption).
        executor, ray_address: ``"local"``, ``"processes"`` or ``"ray"``; a Ray cluster.
        resources: per run ``num_cpus`` (also torch's threads), ``num_gpus``, ``memory``, ``resources``.
        progress: a line on the runs already done, then a bar (or one log line per run where no
            bar can be drawn); progress_desc: the bar's label.
        fit_fn: the training function (default ``amccl.train.fit``).
        **ray_kwargs: ``runtime_env``, ``local_cpus`` (Ray); ``workers`` (``processes``).
    """
    specs = grid_specs(variants, seeds, cfg, out_dir, save_runs)
    csv_path = Path(out_dir) / GRID_CSV if out_dir is not None else None
    if csv_path is not None:
        csv_path.parent.mkdir(parents=True, exist_ok=True)
    with _grid_lock(csv_path.parent) if csv_path is not None else contextlib.nullcontext():
        rows: list[dict[str, Any]] = read_grid(csv_path).to_dict("records") if csv_path is not None else []
        done = _by_key(rows)
        for spec in (s for s in specs if s.key in done):  # refuse to resume a row stored with another config
            stored = done[spec.key].get("config")
            if not isinstance(stored, str):
                raise ValueError(f"{csv_path}: row {spec.key} has no config column; cannot resume safely")
            asked = json.loads(config_json(spec.config))
            changed = config_differences(json.loads(stored), asked, tuple(RESUME_IGNORES))
            if changed:
                raise ValueError(f"{csv_path} already holds run {spec.key} with a different config "
                                 f"({', '.join(changed[:5])}). Use another out_dir for these settings, or delete "
                                 "the file to start over.")
        todo = [s for s in specs if s.key not in done]
        if progress:
            print(f"{progress_desc}: {len(specs)} runs, {len(specs) - len(todo)} already in {csv_path or 'memory'}, "
                  f"{len(todo)} to run on the {executor} executor", file=sys.stderr, flush=True)
        if todo:
            run = make_executor(executor, ray_address, resources, **ray_kwargs)
            if data is None:  # once here; Ray tasks get it from the object store
                from amccl.data import load_data

                data = load_data(cfg)
            lines = progress_lines(progress)
            with progress_bar(total=len(todo), desc=progress_desc, unit="run",
                              disable=not progress_enabled(progress)) as bar:
                for finished, row in enumerate(run(todo, data, fit_fn), 1):
                    rows.append(row)
                    if csv_path is not None:
                        csv = pd.DataFrame(rows).to_csv(index=False).encode()
                        atomic_write(csv_path, lambda handle, csv=csv: handle.write(csv))
                    bar.set_postfix_str(f"last {_run_label(row)}", refresh=False)
                    bar.update(1)
                    if lines:
                        get_logger().info("%s: run %d/%d done: %s", progress_desc, finished, len(todo),
                                          _run_label(row, seconds=True))
    done = _by_key(rows)
    return pd.DataFrame([done[s.key] for s in specs]).reset_index(drop=True)


def _by_key(rows: list[dict[str, Any]]) -> dict[tuple[str, int], dict[str, Any]]:
    """(variant, seed) -> the pair's latest row."""
    return {(str(r["variant"]), int(r["seed"])): r for r in rows}


@contextlib.contextmanager
def _grid_lock(out_dir: Path):
    """Hold an exclusive lock on ``out_dir`` while a grid runs in it (POSIX; elsewhere a no-op)."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows
        yield
        return
    with open(out_dir / ".grid.lock", "w") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as err:
            raise RuntimeError(f"another process is running the grid in {out_dir}; wait for it or use "
                               "another out_dir") from err
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _run_label(row: dict[str, Any], seconds: bool = False) -> str:
    """``"no_se seed 1111 MAE 0.8123"`` (the test MAE, a fraction), then ``", 12.3 s"`` if asked."""
    mae, took = row.get("MAE"), row.get("seconds") if seconds else None
    return (f"{row['variant']} seed {row['seed']}" + (f" MAE {float(mae):.4f}" if isinstance(mae, (int, float)) else "")
            + (f", {float(took):.1f} s" if isinstance(took, (int, float)) else ""))

