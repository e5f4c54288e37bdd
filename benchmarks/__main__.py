"""Run every benchmark, one process each, and print their tables and a closing targets table.

Usage: ``python -m benchmarks`` (all, default sizes, about 8 minutes on 2 CPU cores plus the
grid's two 15-run grids),
``python -m benchmarks --quick`` (fewer rounds), ``python -m benchmarks loss eval``
(some of: data_load, data_epoch, loss, train_step, eval, gpu_pack, grid).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
BENCHMARKS = {  # name: (script, extra args, extra args with --quick)
    "data_load": ("bench_data_load.py", [], ["--scale", "0.02"]),
    "data_epoch": ("bench_data_epoch.py", [], ["--epochs", "1", "--min-seconds", "0.5"]),
    "loss": ("bench_loss.py", [], ["--rounds", "10"]),
    "train_step": ("bench_train_step.py", [], ["--rounds", "1", "--cheap-inner", "2"]),
    "eval": ("bench_eval.py", [], ["--rounds", "1", "--cached-inner", "2"]),
    "gpu_pack": ("bench_gpu_pack.py", [], ["--runs", "2", "--epochs", "1"]),
    # the full 17 x 3 grid: ~8 min per way on 2 idle cores (about 9 s per demo run); here 5 x 3
    "grid": ("bench_grid.py", ["--variants", "5", "--threads", "1"], ["--variants", "3", "--seeds", "2", "--epochs", "2", "--threads", "1"]),
}
# Retired targets, each ">= 10x": the scripts still print their figures, the closing
# targets table leaves them out (bench_loss.py's "target:" lines are dropped by this prefix).
RETIRED = {
    "loss fwd+bwd": "the loss is a few ms of a multi-hundred-ms training step (~0.2 %): no user feels it",
    "data epoch": "an epoch of batches costs ~0.07 ms per batch against a 0.6-4 s step: no user feels it",
}


def run(name: str, quick: bool) -> list[str]:
    script, extra, quick_extra = BENCHMARKS[name]
    path = HERE / script
    if not path.exists():
        print(f"\n=== {name}: {script} not found, skipped")
        return []
    cmd = [sys.executable, str(path), *extra, *(quick_extra if quick else [])]
    print(f"\n=== {name}: {' '.join(['python', 'benchmarks/' + script, *cmd[2:]])}", flush=True)
    env = dict(os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1")
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env, cwd=HERE.parent)
    lines = []
    for line in proc.stdout:
        if "Loading weights" in line:  # transformers' progress bar
            continue
        print(line, end="", flush=True)
        lines.append(line.rstrip("\n"))
    proc.wait()
    print(f"=== {name}: exit {proc.returncode}, {time.perf_counter() - start:.0f} s", flush=True)
    targets = [line[len("target: "):] for line in lines
               if line.startswith("target: ") and not line[len("target: "):].startswith(tuple(RETIRED))]
    if proc.returncode != 0:
        targets.append(f"{name} | failed (exit {proc.returncode}) | - | -")
    return targets


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("names", nargs="*", help=f"benchmarks to run (default all): {', '.join(BENCHMARKS)}")
    parser.add_argument("--quick", action="store_true", help="fewer rounds and smaller sizes")
    args = parser.parse_args()
    unknown = set(args.names) - set(BENCHMARKS)
    if unknown:
        parser.error(f"unknown benchmarks {sorted(unknown)}; choose from {', '.join(BENCHMARKS)}")
    targets = []
    for name in args.names or list(BENCHMARKS):
        targets += run(name, args.quick)
    sys.path.insert(0, str(HERE))
    from common import table

    print("\n=== targets")
    print(table(["target", "measured", "goal", "verdict"], [t.split(" | ") for t in targets]))
    print("retired targets (figures still printed above): "
          + "; ".join(f"{name} >= 10x ({why})" for name, why in RETIRED.items()))


if __name__ == "__main__":
    main()
