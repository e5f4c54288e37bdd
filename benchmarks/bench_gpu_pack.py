"""Several small MOSI trainings packed on one GPU against the same trainings one after another.

Each run is ``amccl.train.fit(cfg, data, seed, device="cuda")`` with ``cfg =
AMCCLConfig.for_dataset("mosi", epochs=E)`` on the embedded synthetic data at MOSI's split
sizes (1284 / 229 / 686 clips), seeds 1111, 1112, ... One small run leaves most of an H100
idle (64-clip batches, small kernels, launch-bound), so running K of them at once should
finish the K runs sooner.

* ``sequential`` -- K child processes, one after another;
* ``packed``     -- the same K child processes at once (each its own CUDA context; start
  CUDA MPS beforehand to let their kernels overlap further).

Both include process start, CUDA initialisation and model loading, so they compare like with
like. Each child reports its ``fit`` time and test metrics; the test MAE of each seed is
compared between the two modes.

Without CUDA it prints ``skipped: no CUDA`` (``--allow-cpu`` runs the mechanics on the CPU,
for testing this script only: the figures mean nothing there).

Usage: ``python benchmarks/bench_gpu_pack.py`` (``--runs 4 --epochs 3 --freeze-text``; ``--json PATH``
writes the figures).
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

import torch  # noqa: E402
from common import child_result, command_line, cuda_available, fmt_time, machine_line, table, target


def child(spec: dict) -> None:
    """One run (in a child process): fit, then one JSON line on stdout."""
    from amccl.config import AMCCLConfig
    from amccl.data import load_data
    from amccl.train import fit

    if spec["threads"]:
        torch.set_num_threads(spec["threads"])
    cfg = AMCCLConfig.for_dataset("mosi", profile=spec["profile"], **spec["overrides"])
    data = load_data(cfg)
    start = time.perf_counter()
    history = fit(cfg, data, seed=spec["seed"], progress=False, device=spec["device"])
    seconds = time.perf_counter() - start
    print("RESULT " + json.dumps({"seed": spec["seed"], "seconds": seconds, "mae": history.test_metrics["MAE"],
                                  "epochs": len(history.epochs)}), flush=True)


def launch(spec: dict) -> tuple[subprocess.Popen, Any, Any]:
    """Start one run; its output goes to temporary files (pipes could fill up and stall it)."""
    env = dict(os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1")
    out, err = tempfile.TemporaryFile("w+"), tempfile.TemporaryFile("w+")
    proc = subprocess.Popen([sys.executable, str(Path(__file__).resolve()), "--child", json.dumps(spec)],
                            stdout=out, stderr=err, text=True, env=env)
    return proc, out, err


def collect(run: tuple[subprocess.Popen, Any, Any]) -> dict:
    proc, out, err = run
    proc.wait()
    return child_result(proc.returncode, out, err, "a run")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=4, help="K runs (seeds 1111, 1112, ...)")
    parser.add_argument("--epochs", type=int, default=3, help="epochs per run (no early stop before)")
    parser.add_argument("--freeze-text", action="store_true", help="freeze_text=True (with the text cache)")
    parser.add_argument("--profile", default="paper", help="config profile (paper: MOSI-sized synthetic data)")
    parser.add_argument("--text-encoder", default="minilm", help="text_encoder (default: the embedded minilm; tiny-random, a BERT dir)")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads per run")
    parser.add_argument("--json", help="also write the figures to this JSON file")
    parser.add_argument("--allow-cpu", action="store_true", help="run the mechanics on the CPU (testing only)")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(json.loads(args.child))
        return
    if cuda_available():
        device = torch.device("cuda")
    elif args.allow_cpu:
        device = torch.device("cpu")
    else:
        print(machine_line("cpu"))
        print("skipped: no CUDA")
        target("GPU: packed small MOSI runs vs sequential", "not measured (no CUDA)", ">= 2x", "not measured")
        return
    print(machine_line(device))
    print(f"command: {command_line()}")
    from amccl.config import DATASET_SPLIT_SIZES, AMCCLConfig
    from amccl.data import load_data

    overrides = dict(epochs=args.epochs, early_stop=args.epochs + 1, freeze_text=args.freeze_text)
    if args.profile == "paper":
        overrides["synthetic_sizes"] = DATASET_SPLIT_SIZES["mosi"]
    if args.text_encoder:
        overrides["text_encoder"] = args.text_encoder
    cfg = AMCCLConfig.for_dataset("mosi", profile=args.profile, **overrides)
    start = time.perf_counter()
    load_data(cfg)  # generate (or find) the synthetic data once, outside the timings
    print(f"data ready in {time.perf_counter() - start:.1f} s: {cfg.synthetic_sizes} clips, "
          f"{args.epochs} epochs per run, freeze_text={args.freeze_text}")
    specs = [{"seed": 1111 + i, "profile": args.profile, "overrides": overrides, "device": device.type,
              "threads": args.threads} for i in range(args.runs)]

    start = time.perf_counter()
    sequential = [collect(launch(spec)) for spec in specs]
    sequential_s = time.perf_counter() - start
    start = time.perf_counter()
    procs = [launch(spec) for spec in specs]
    packed = [collect(p) for p in procs]
    packed_s = time.perf_counter() - start

    mae_diff = max(abs(a["mae"] - b["mae"]) for a, b in zip(sequential, packed))
    rows = [["sequential", fmt_time(sequential_s), f"{args.runs * 3600 / sequential_s:.0f}",
             fmt_time(sum(r["seconds"] for r in sequential) / args.runs), "1.00x"],
            ["packed", fmt_time(packed_s), f"{args.runs * 3600 / packed_s:.0f}",
             fmt_time(sum(r["seconds"] for r in packed) / args.runs), f"{sequential_s / packed_s:.2f}x"]]
    print(f"\n{args.runs} MOSI runs of {args.epochs} epochs, device {device.type}")
    print(table(["mode", "wall time, all runs", "runs/hour", "mean fit time per run", "speed-up"], rows))
    print(f"check: largest test-MAE difference between the two modes for the same seed: {mae_diff:.1e}")
    ratio = sequential_s / packed_s
    if args.json:
        Path(args.json).write_text(json.dumps({
            "device": device.type, "runs": args.runs, "epochs": args.epochs, "sequential_s": sequential_s,
            "packed_s": packed_s, "speedup": ratio, "mae_diff": mae_diff}, indent=1))
    target(f"{device.type}: {args.runs} packed small MOSI runs vs sequential", f"{ratio:.2f}x", ">= 2x",
           ("met" if ratio >= 2 else "not met") if device.type == "cuda" else "not meaningful on CPU")


if __name__ == "__main__":
    main()
