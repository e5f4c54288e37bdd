"""Run every (variant, seed) pair of an ablation grid, resumably, one CSV row per run.

    >>> cfg = AMCCLConfig.for_dataset("mosi", profile="demo")
    >>> rows = run_grid(["full", "no_se", "no_cl"], [1111, 1112, 1113], cfg, out_dir="runs/abl")

Each finished run's row is written to ``out_dir/grid.csv`` at once (the whole file is
rewritten atomically, so an interrupted grid never leaves a torn line). Running the same
call again resumes: pairs already in the CSV are not run again, as long as their stored
config equals the one the call would use (otherwise it raises, so results of different
settings never mix in one table). A lock file keeps a second process out of a grid
directory while one runs in it.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import tempfile
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from amccl.ablations.executors import make_executor
from amccl.ablations.runner import RunSpec, config_json
from amccl.ablations.stats import KNOWN_METRICS
from amccl.ablations.variants import apply_variant, canonical_name, variant_overrides
from amccl.config import AMCCLConfig

GRID_CSV = "grid.csv"
KEY_COLUMNS = ("variant", "seed")
# Config fields ignored when a stored row is matched against the run a call asks for: the
# list of seeds a preset carries (the row's own seed is the key) and the device name.
RESUME_IGNORES = frozenset({"seeds", "device"})


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


def write_grid(path: str | os.PathLike, rows: Sequence[dict[str, Any]]) -> None:
    """Write ``rows`` to ``path`` atomically (temporary file + rename), columns in the order
    variant, seed, dataset, MMSA metrics, then the rest as first seen."""
    path = Path(path)
    frame = pd.DataFrame(list(rows))
    first = [c for c in (*KEY_COLUMNS, "dataset", *KNOWN_METRICS) if c in frame.columns]
    frame = frame[first + [c for c in frame.columns if c not in first]]
    fd, tmp = tempfile.mkstemp(prefix=".grid-", suffix=".csv", dir=path.parent)
    try:
        with os.fdopen(fd, "w", newline="") as handle:
            frame.to_csv(handle, index=False)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def grid_specs(variants: Iterable[str], seeds: Iterable[int], cfg: AMCCLConfig,
               out_dir: str | os.PathLike | None = None, save_runs: bool = False) -> list[RunSpec]:
    """One :class:`RunSpec` per (variant, seed), variant-major; duplicates dropped.

    Variant names are canonicalised (:func:`~amccl.ablations.variants.canonical_name`) and
    all resolved first, so a typo fails before anything trains.
    """
    variants = list(dict.fromkeys(canonical_name(v) for v in variants))
    seeds = [int(s) for s in dict.fromkeys(seeds)]
    if not variants or not seeds:
        raise ValueError("a grid needs at least one variant and one seed")
    configs = {v: apply_variant(cfg, v).to_dict() for v in variants}
    specs = []
    for variant in variants:
        for seed in seeds:
            run_dir = None
            if save_runs and out_dir is not None:
                run_dir = str(Path(out_dir) / "runs" / _safe(variant) / f"seed_{seed}")
            specs.append(RunSpec(variant, seed, configs[variant], variant_overrides(variant), run_dir))
    return specs


def run_grid(
    variants: Iterable[str],
    seeds: Iterable[int],
    cfg: AMCCLConfig,
    data: Any = None,
    out_dir: str | os.PathLike | None = None,
    executor: str = "local",
    ray_address: str | None = None,
    resources: dict[str, Any] | None = None,
    progress: bool = True,
    fit_fn: Callable | None = None,
    save_runs: bool = False,
    **ray_kwargs: Any,
) -> pd.DataFrame:
    """Train every (variant, seed) pair and return one row per pair.

    Args:
        variants: names from :data:`~amccl.ablations.variants.VARIANTS` or ``+``
            combinations, e.g. ``["full", "no_se", "no_se+no_refine"]``.
        seeds: seeds, e.g. ``[1111, 1112, 1113, 1114, 1115]``; every variant gets every seed,
            so differences can be paired by seed.
        cfg: the base config (the ``full`` model); each variant overrides its own fields.
        data: an ``MMSAData``; ``None`` loads ``cfg``'s data once, here (variants never
            change the data). Ray tasks receive it through Ray's object store (put once), so
            cluster nodes need not see ``cfg.data_path``.
        out_dir: where ``grid.csv`` (and with ``save_runs`` each run's files) go; ``None``
            keeps rows in memory only (no resumption).
        executor: ``"local"`` (this process) or ``"ray"`` (Ray tasks).
        ray_address: a Ray cluster address; ``None`` starts a local Ray.
        resources: per run ``num_cpus`` (also torch's thread count, on both executors),
            ``num_gpus`` (fractional share, Ray), ``memory``, ``resources`` (Ray).
            Give the same ``num_cpus`` to both executors to get identical numbers on CPU.
        progress: print one line per finished run to stderr.
        fit_fn: the training function (default ``amccl.train.fit``); tests inject fakes.
        save_runs: give each run ``out_dir/runs/<variant>/seed_<seed>`` as fit's out_dir.
        **ray_kwargs: ``runtime_env``, ``local_cpus`` for :class:`RayExecutor`.

    Returns:
        A ``DataFrame`` with one row per requested pair, variant-major in the order given
        (rows resumed from the CSV included): see :func:`~amccl.ablations.runner.make_row`.
    """
    specs = grid_specs(variants, seeds, cfg, out_dir, save_runs)
    if out_dir is None:
        return _run_specs(specs, cfg, data, None, executor, ray_address, resources, progress, fit_fn, ray_kwargs)
    Path(out_dir).mkdir(parents=True, exist_ok=True)
    with _grid_lock(Path(out_dir)):
        return _run_specs(specs, cfg, data, Path(out_dir) / GRID_CSV, executor, ray_address, resources,
                          progress, fit_fn, ray_kwargs)


def _run_specs(specs, cfg, data, csv_path, executor, ray_address, resources, progress, fit_fn, ray_kwargs):
    """Skip the pairs already in ``csv_path``, run the rest, write each row as it arrives."""
    existing: list[dict[str, Any]] = []
    if csv_path is not None:
        existing = read_grid(csv_path).to_dict("records")
    done = {(str(r["variant"]), int(r["seed"])): r for r in existing}
    for spec in specs:
        if spec.key in done:
            _check_same_config(spec, done[spec.key], csv_path)
    todo = [s for s in specs if s.key not in done]

    if progress:
        _say(f"ablation grid: {len(specs)} runs, {len(specs) - len(todo)} already in "
             f"{csv_path or 'memory'}, {len(todo)} to run on the {executor} executor")
    if todo:
        runner = make_executor(executor, ray_address, resources, **ray_kwargs)
        if data is None:  # once here; Ray tasks get it from the object store
            from amccl.data import load_data

            data = load_data(cfg)
        for i, row in enumerate(runner.run(todo, data, fit_fn), start=1):
            existing.append(row)
            done[(row["variant"], int(row["seed"]))] = row
            if csv_path is not None:
                write_grid(csv_path, existing)
            if progress:
                _say(_progress_line(i, len(todo), row))
    frame = pd.DataFrame([done[s.key] for s in specs])
    return frame.reset_index(drop=True)


@contextlib.contextmanager
def _grid_lock(out_dir: Path):
    """Hold an exclusive lock on ``out_dir`` while a grid runs in it (POSIX; elsewhere a no-op),
    so two processes never resume the same grid at once and overwrite each other's rows."""
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


def _check_same_config(spec: RunSpec, row: dict[str, Any], csv_path: Path | None) -> None:
    stored = row.get("config")
    if not isinstance(stored, str):
        raise ValueError(f"{csv_path}: row {spec.key} has no config column; cannot resume safely")
    old = json.loads(stored)
    new = json.loads(config_json(spec.config))
    keys = sorted((set(old) | set(new)) - RESUME_IGNORES)
    changed = [k for k in keys if old.get(k) != new.get(k)]
    if changed:
        detail = ", ".join(f"{k}: {old.get(k)!r} -> {new.get(k)!r}" for k in changed[:5])
        raise ValueError(
            f"{csv_path} already holds run {spec.key} with a different config ({detail}). "
            "Use another out_dir for these settings, or delete the file to start over."
        )


def _progress_line(i: int, total: int, row: dict[str, Any]) -> str:
    shown = [m for m in ("Has0_acc_2", "Non0_acc_2", "Mult_acc_2", "MAE", "Corr") if m in row]
    metrics = " ".join(f"{m}={row[m]:.4f}" for m in shown)
    return f"[{i}/{total}] {row['variant']} seed {row['seed']}: {metrics} ({row.get('seconds', 0):.1f} s)"


def _say(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "._+-" else "_" for c in name)
