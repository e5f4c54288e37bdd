"""A whole ablation grid in runs per hour: ``run_grid`` against a plain loop over ``fit``.

The grid is notebook 03's demo grid: the 17 variants of docs/model.md §6 and §7 (``full`` first) x the
first three MMSA seeds, with ``amccl.presets.PRESETS["ablation_grid"]["demo"]``'s shrunk frozen-text runs
(``SHRUNK_FROZEN_TEXT``, 8 epochs, 240 / 60 / 120 clips of the embedded default data, the
embedded MiniLM encoder). Two ways, each in a fresh child process (neither inherits the
other's imports, frozen-text cache or warm allocator):

* ``grid``  -- ``run_grid(variants, seeds, cfg, data=data, out_dir=..., executor="processes",
  resources={"num_cpus": 1})``, as notebook 03 runs it in the demo profile: one spawned worker
  per core, one torch thread per run (one ``grid.csv`` row per finished run, no per-run files);
* ``grid_local`` (only when asked for with ``--ways``) -- ``run_grid`` in this process, one run
  after another with torch's threads: the plain loop's numbers bit for bit;
* ``plain`` -- what a user would write: ``for v in variants: c = apply_variant(cfg, v); for s in
  seeds: fit(c, data, seed=s, out_dir=...)`` (each run writes its checkpoints and CSVs);
* ``plain_nofiles`` (only when asked for with ``--ways``) -- the same loop with ``out_dir=None``.

Data are loaded (and the BERT module imported) once per child before its clock starts (every
way receives ``data``); the first run's frozen-text cache is on every clock (and on each
worker's), and so is starting the workers. The children report every run's test metrics; the
parent prints how far the ways agree per (variant, seed): exactly where the torch thread
counts are equal (``tests/test_ablations_processes.py`` checks the process executor against
the local one bit for bit), in the 4th decimal or so where they are not (one thread sums in
another order than two), runs/hour (wall clock), the ratios and a ``target:`` line. CPU time
is the child's own: the workers' is not in it.

Usage: ``python benchmarks/bench_grid.py`` (full size, ~15 min on 2 cores);
``--variants 4 --seeds 2 --epochs 2`` shrinks it; ``--text-encoder tiny-random --sizes 16 8 8``
is a toy for tests.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from common import child_result, command_line, machine_line, table, target

WAYS = ("grid", "plain", "grid_local", "plain_nofiles")


# --- the children --------------------------------------------------------------------------------
def grid_config(spec: dict[str, Any]):
    """The base (``full``) config of the benchmark's grid, from the parent's options."""
    from amccl.config import AMCCLConfig
    from amccl.presets import preset

    overrides = dict(preset("ablation_grid", "demo").overrides)
    overrides.update(spec["overrides"])
    return AMCCLConfig.for_dataset("mosi", profile="demo", **overrides)


def run_way(way: str, spec: dict[str, Any], out_dir: Path) -> dict[str, Any]:
    """Run the whole grid one way; returns seconds, the runs' test metrics and data-loading time."""
    import torch

    from amccl.ablations.grid import run_grid
    from amccl.ablations.variants import apply_variant
    from amccl.data import load_data
    from amccl.train import fit

    if spec["threads"]:
        torch.set_num_threads(spec["threads"])
    import transformers.models.bert.modeling_bert  # noqa: F401  (a one-off import, kept off both clocks)

    cfg = grid_config(spec)
    variants, seeds = spec["variants"], spec["seeds"]
    start = time.perf_counter()
    data = load_data(cfg)
    load_s, start, cpu_start = time.perf_counter() - start, time.perf_counter(), time.process_time()
    metrics: dict[str, dict[str, float]] = {}
    if way in ("grid", "grid_local"):
        parallel = dict(executor="processes", resources={"num_cpus": 1}) if way == "grid" else {}
        rows = run_grid(variants, seeds, cfg, data=data, out_dir=out_dir / way, progress=False, **parallel)
        for row in rows.to_dict("records"):
            metrics[f"{row['variant']}|{row['seed']}"] = {k: float(row[k]) for k in spec["metric_names"]
                                                          if row.get(k) is not None}
    else:
        for variant in variants:
            variant_cfg = apply_variant(cfg, variant)
            for seed in seeds:
                run_dir = out_dir / way / variant / f"seed_{seed}" if way == "plain" else None
                history = fit(variant_cfg, data, seed=seed, out_dir=run_dir, progress=False)
                metrics[f"{variant}|{seed}"] = {k: float(v) for k, v in history.test_metrics.items()}
    seconds, cpu_s = time.perf_counter() - start, time.process_time() - cpu_start
    threads = 1 if way == "grid" else torch.get_num_threads()  # per run
    return {"way": way, "seconds": seconds, "cpu_s": cpu_s, "load_s": load_s, "metrics": metrics,
            "threads": threads, "load_avg": _load_avg()}


def child(way: str, spec_json: str) -> None:
    """A child process: run one way in a temporary directory, print one ``RESULT`` JSON line."""
    import logging

    from amccl.runtime import get_logger

    get_logger(logging.WARNING)  # no per-run log lines
    spec = json.loads(spec_json)
    with tempfile.TemporaryDirectory(prefix=f"bench_grid_{way}_") as tmp:
        result = run_way(way, spec, Path(tmp))
    print("RESULT " + json.dumps(result), flush=True)


def _load_avg() -> str:
    try:
        return "{:.1f} {:.1f} {:.1f}".format(*os.getloadavg())
    except OSError:
        return "n/a"


# --- the parent ----------------------------------------------------------------------------------
def launch(way: str, spec: dict[str, Any]) -> dict[str, Any]:
    """Run ``way`` in a fresh child process and return its result (raises with its stderr on failure)."""
    env = dict(os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1")
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        proc = subprocess.run([sys.executable, str(Path(__file__).resolve()), "--child", way, json.dumps(spec)],
                              stdout=out, stderr=err, text=True, env=env)
        return child_result(proc.returncode, out, err, f"way {way}")


def metric_difference(a: dict[str, dict[str, float]], b: dict[str, dict[str, float]]) -> tuple[float, list[str]]:
    """Largest |a - b| over every (run, metric) both hold, and the runs only one of them has."""
    unmatched = sorted(set(a) ^ set(b))
    diffs = [abs(a[run][m] - b[run][m]) for run in set(a) & set(b) for m in set(a[run]) & set(b[run])]
    return (max(diffs) if diffs else float("nan")), unmatched


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--variants", type=int, default=17, help="the first N of the 17 variants of docs/model.md §6 + §7")
    parser.add_argument("--seeds", type=int, default=3, help="the first N MMSA seeds (1111, 1112, ...)")
    parser.add_argument("--epochs", type=int, default=None, help="epochs per run (default: the demo preset's 8)")
    parser.add_argument("--sizes", type=int, nargs=3, default=None, metavar=("TRAIN", "VALID", "TEST"),
                        help="embedded data sizes (default: the demo preset's 240 60 120)")
    parser.add_argument("--text-encoder", default=None, help="text_encoder (default: the demo profile's minilm)")
    parser.add_argument("--threads", type=int, default=None, help="torch threads in both ways (default: torch's)")
    parser.add_argument("--ways", nargs="+", default=["grid", "plain"], choices=WAYS, help="ways to run, in order")
    parser.add_argument("--json", help="also write the figures to this JSON file")
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def make_spec(args: argparse.Namespace) -> dict[str, Any]:
    """What every child needs: variants, seeds, config overrides, threads, metric names."""
    from amccl.ablations.variants import CLEAN_VARIANTS, PAPER_VARIANTS
    from amccl.config import MMSA_SEEDS
    from amccl.metrics import KNOWN_METRICS

    variants = [*PAPER_VARIANTS, *CLEAN_VARIANTS][:max(1, args.variants)]
    overrides: dict[str, Any] = {}
    if args.epochs is not None:
        overrides.update(epochs=args.epochs, early_stop=args.epochs)
    if args.sizes is not None:
        overrides["synthetic_sizes"] = list(args.sizes)
    if args.text_encoder is not None:
        overrides["text_encoder"] = args.text_encoder
    return {"variants": variants, "seeds": list(MMSA_SEEDS[:max(1, args.seeds)]), "overrides": overrides,
            "threads": args.threads, "metric_names": list(KNOWN_METRICS)}


def report(spec: dict[str, Any], results: dict[str, dict[str, Any]], args: argparse.Namespace) -> None:
    """Print the table, the agreement check and the ``target:`` line; write ``--json``."""
    runs = len(spec["variants"]) * len(spec["seeds"])
    rate = {way: runs * 3600 / r["seconds"] for way, r in results.items()}
    base = rate.get("plain", next(iter(rate.values())))
    cpu_base = results["plain"]["cpu_s"] if "plain" in results else next(iter(results.values()))["cpu_s"]
    rows = [[way, f"{r['seconds']:.1f} s", f"{r['seconds'] / runs:.2f} s", f"{rate[way]:.0f}",
             f"{rate[way] / base:.2f}x", f"{r['cpu_s'] / runs:.2f} s", f"{cpu_base / r['cpu_s']:.2f}x",
             f"{r['load_s']:.2f} s", r["threads"], r["load_avg"]]
            for way, r in results.items()]
    print(f"\n{len(spec['variants'])} variants x {len(spec['seeds'])} seeds = {runs} runs, overrides "
          f"{spec['overrides'] or '(the demo preset)'}")
    print(table(["way", "wall, all runs", "per run", "runs/hour", "vs plain", "CPU per run", "CPU vs plain",
                 "data load (untimed)", "torch threads per run", "load avg after"], rows))
    print("CPU = the child's process CPU time over its runs (all threads; grid: its workers' time is not in it): "
          "on a shared machine it moves less with other jobs' load than the wall time does")
    checks = {}
    for way in results:
        if way != "grid" and "grid" in results:
            diff, unmatched = metric_difference(results["grid"]["metrics"], results[way]["metrics"])
            checks[way] = {"max_abs_diff": diff, "unmatched": unmatched}
            print(f"check: test metrics, grid vs {way}, per (variant, seed): largest abs difference {diff:.1e}"
                  + (f"; runs in one way only: {unmatched}" if unmatched else ""))
    if args.json:
        Path(args.json).write_text(json.dumps({"spec": spec, "runs": runs, "runs_per_hour": rate, "checks": checks,
                                               "results": results}, indent=1))
    if "grid" in rate and "plain" in rate:
        check = checks["plain"]
        equal_threads = results["grid"]["threads"] == results["plain"]["threads"]
        # Another thread count sums in another order, and eight epochs of training carry that
        # rounding into other weights: identity is only defined at equal thread counts.
        same = (check["max_abs_diff"] == 0 and not check["unmatched"]) if equal_threads else None
        ratio = rate["grid"] / rate["plain"]
        agreement = ("identical" if same else f"differ by up to {check['max_abs_diff']:.1e}" if equal_threads else
                     f"not comparable bit for bit (1 vs {results['plain']['threads']} threads: up to "
                     f"{check['max_abs_diff']:.1e}; --threads 1 compares them)")
        target(f"ablation grid ({runs} runs) runs/hour vs plain fit loop (torch threads {results['plain']['threads']})",
               f"{ratio:.2f}x ({rate['grid']:.0f} vs {rate['plain']:.0f} runs/h); metrics {agreement}",
               ">= 1x; identical metrics at equal threads", _verdict(ratio, same))


def _verdict(ratio: float, same: bool | None) -> str:
    """``met``, or ``not met`` with a note when the ratio is within 5 % of 1 (run-to-run noise);
    ``same``: the metrics agree (None: other thread counts, speed alone is judged)."""
    if same is False:
        return "not met (metrics differ)"
    if ratio >= 1:
        return "met"
    return "not met (within 5 %: no difference shown)" if ratio >= 0.95 else "not met"


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    if args.child:
        child(*args.child)
        return
    print(machine_line("cpu"))
    print(f"command: {command_line()}")
    spec = make_spec(args)
    results = {}
    for way in dict.fromkeys(args.ways):
        print(f"running {way} ...", flush=True)
        results[way] = launch(way, spec)
        print(f"  {way}: {results[way]['seconds']:.1f} s", flush=True)
    report(spec, results, args)


if __name__ == "__main__":
    main()
