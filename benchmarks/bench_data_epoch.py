"""Data epoch: batches per second of BatchLoader against a per-sample Dataset + default collate.

For MOSI- and MOSEI-shaped synthetic training splits (the paper's batch sizes, 64 and 128)
it times full shuffled epochs of

* ``DataLoader(MMSADataset(split), shuffle=True)`` -- per-sample dicts, default collate
  (``num_workers=0``), the usual PyTorch way and the reference's;
* ``BatchLoader(split, shuffle=True)`` -- whole-batch tensors by indexing, the row indices
  drawn by a ``DataLoader`` over ``range(N)`` so that the order is the reference's (docs/model.md §8.1);
* ``BatchLoader(..., generator=g)`` -- the same with one ``randperm`` per pass from a
  dedicated generator (not the reference's order; shows what the index loader costs);
* ``BatchLoader(..., trim=True)`` -- also cut to each batch's longest length (only for
  variants where padding is irrelevant).

Each way builds every batch of the epoch (the batches are not used further).

Usage: ``python benchmarks/bench_data_epoch.py --mosei-scale 0.1 --epochs 2``.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from pathlib import Path

import numpy
import torch
from torch.utils.data import DataLoader

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # runs from a checkout, installed or not
from amccl.config import DATASET_SPLIT_SIZES, AMCCLConfig  # noqa: E402
from amccl.data import BatchLoader, MMSADataset  # noqa: E402
from amccl.data.synthetic import synthetic_data  # noqa: E402


def epochs_per_second(make_iter, epochs: int, min_seconds: float) -> tuple[float, int]:
    """(batches per second, batches per epoch): at least ``epochs`` full passes and at least
    ``min_seconds`` of them, after one untimed warm-up pass (which touches every page once)."""
    batches = sum(1 for _ in make_iter())
    done, start = 0, time.perf_counter()
    while done < epochs or time.perf_counter() - start < min_seconds:
        for _ in make_iter():
            pass
        done += 1
    return done * batches / (time.perf_counter() - start), batches


def bench(dataset: str, scale: float, epochs: int, min_seconds: float) -> dict:
    train_n = max(1, round(DATASET_SPLIT_SIZES[dataset][0] * scale))
    split = synthetic_data(dataset, (train_n, 1, 1), seed=0).train
    bs = AMCCLConfig.for_dataset(dataset).batch_size
    gen = torch.Generator().manual_seed(0)
    torch.manual_seed(0)
    ways = {  # the first three draw their orders from the global generator, as the reference does
        "DataLoader(MMSADataset)": lambda: DataLoader(MMSADataset(split), batch_size=bs, shuffle=True),
        "BatchLoader": lambda: BatchLoader(split, bs, shuffle=True),
        "BatchLoader trim": lambda: BatchLoader(split, bs, shuffle=True, trim=True),
        "BatchLoader own generator": lambda: BatchLoader(split, bs, shuffle=True, generator=gen),
    }
    rates = {}
    for name, make in ways.items():
        rates[name], n_batches = epochs_per_second(make, epochs, min_seconds)
    return {"dataset": dataset, "clips": train_n, "batch": bs, "batches": n_batches, "rates": rates}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--mosi-scale", type=float, default=1.0, help="fraction of MOSI's 1284 training clips")
    parser.add_argument("--mosei-scale", type=float, default=0.1, help="fraction of MOSEI's 16326 training clips")
    parser.add_argument("--epochs", type=int, default=2, help="least timed epochs per way (after a warm-up)")
    parser.add_argument("--min-seconds", type=float, default=2.0, help="least timed seconds per way")
    parser.add_argument("--threads", type=int, default=1,
                        help="torch intra-op threads (default 1: on a busy machine torch's parallel "
                             "copies in default collate can stall by 100x, flattering BatchLoader)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(f"machine: {platform.platform()}, {os.cpu_count()} CPUs, torch threads {torch.get_num_threads()}; "
          f"Python {platform.python_version()}, numpy {numpy.__version__}, torch {torch.__version__}")
    base = "DataLoader(MMSADataset)"
    for dataset, scale in (("mosi", args.mosi_scale), ("mosei", args.mosei_scale)):
        r = bench(dataset, scale, args.epochs, args.min_seconds)
        print(f"\n{dataset}-shaped train split: {r['clips']} clips (scale {scale}), batch {r['batch']}, "
              f"{r['batches']} batches/epoch, >= {args.epochs} timed epochs and >= {args.min_seconds} s per way")
        for name, rate in r["rates"].items():
            print(f"  {name:<24} {rate:>9.1f} batches/s   {rate / r['rates'][base]:>6.1f}x")


if __name__ == "__main__":
    main()
