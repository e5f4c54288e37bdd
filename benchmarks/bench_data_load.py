"""Load time and peak memory of a MOSEI-shaped MMSA pickle: ours (first and cached) vs the reference.

Writes a synthetic MOSEI-shaped file in the real layout (numpy 1.x names, float32 features
with the 768-d ``text`` features) scaled by ``--scale``, then loads it in fresh
subprocesses, one per way, each reporting its wall time and ``ru_maxrss``:

* ``shapes``      -- ``probe_shapes(path)``: the file's (Lt, La, Lv, Da, Dv) from one header-only
  pass that seeks over the arrays' bytes (what ``for_dataset(..., data_path=...)`` reads; run
  first, before any ``.npy`` cache exists);
* ``reference``   -- the reference's way: ``pickle.load`` of the whole file once per split
  (three times) and ``astype(np.float32)`` copies of every array it keeps;
* ``ours``        -- ``load_mmsa(path, "mosei")``: one restricted unpickle, in-place typing;
* ``ours+cache``  -- the first ``cache=True`` load (also writes the ``.npy`` cache);
* ``ours cached`` -- a later ``cache=True`` load (memory-maps the cache);
* ``cached+read`` -- the same, then every mapped array read once (what the first epoch pays).

Usage: ``python benchmarks/bench_data_load.py --scale 0.1`` (1.0 = the full MOSEI sizes,
about 8 GB of pickle; the reference then needs ~2x that in memory).
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

MOSEI_SIZES = (16326, 1871, 4659)
MODES = ("shapes", "reference", "ours", "ours+cache", "ours cached", "cached+read")


def _maxrss() -> int:
    """Peak resident memory of this process in bytes (Linux reports KiB)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if sys.platform == "darwin" else peak * 1024


def reference_load(path: str) -> dict:
    """The reference's loading: one full unpickle per split, ``astype`` copies, -inf -> 0."""
    import numpy as np

    def one_split(mode: str) -> dict:
        with open(path, "rb") as handle:
            data = pickle.load(handle)
        split = {
            "text": data[mode]["text_bert"].astype(np.float32),
            "vision": data[mode]["vision"].astype(np.float32),
            "audio": data[mode]["audio"].astype(np.float32),
            "raw_text": data[mode]["raw_text"], "ids": data[mode]["id"],
            "labels": np.array(data[mode]["regression_labels"]).astype(np.float32),
            "audio_lengths": data[mode]["audio_lengths"], "vision_lengths": data[mode]["vision_lengths"],
        }
        split["audio"][split["audio"] == -np.inf] = 0
        return split

    return {mode: one_split(mode) for mode in ("train", "valid", "test")}


def _kept_bytes(splits: dict) -> int:
    import numpy as np

    return sum(np.asarray(v).nbytes for s in splits.values() for v in s.values())


def child(mode: str, path: str) -> dict:
    """Run one way of loading in this (fresh) process; returns seconds and memory."""
    if mode == "generate":
        from amccl.data.synthetic import write_synthetic

        sizes = tuple(json.loads(os.environ["BENCH_SIZES"]))
        before, start = _maxrss(), time.perf_counter()
        write_synthetic(path, "mosei", sizes, seed=0)
        return {"seconds": time.perf_counter() - start, "rss_before": before, "maxrss": _maxrss()}
    if mode == "shapes":
        from amccl.data.shapes import probe_shapes

        before, start = _maxrss(), time.perf_counter()
        shapes = probe_shapes(path)
        assert shapes is not None and shapes[3:] == (74, 35), shapes
        return {"seconds": time.perf_counter() - start, "rss_before": before, "maxrss": _maxrss(), "kept": 0}
    if mode == "reference":
        import numpy as np  # noqa: F401  (imported before the clock starts, like ours)

        before, start = _maxrss(), time.perf_counter()
        kept = _kept_bytes(reference_load(path))
    else:
        from amccl.data import load_mmsa

        before, start = _maxrss(), time.perf_counter()
        data = load_mmsa(path, "mosei", cache=mode != "ours")
        kept = data.nbytes()
        assert (data.source == "cache") == (mode in ("ours cached", "cached+read")), data.source
        if mode == "cached+read":
            for _, split in data.items():
                for array in (split.text, split.audio, split.vision):
                    float(array.sum())
    return {"seconds": time.perf_counter() - start, "rss_before": before, "maxrss": _maxrss(), "kept": kept}


def run_child(mode: str, path: Path, env: dict) -> dict:
    out = subprocess.run([sys.executable, __file__, "--child", mode, str(path)], env=env,
                         capture_output=True, text=True, check=False)
    if out.returncode != 0:
        raise SystemExit(f"child {mode!r} failed ({out.returncode}):\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def machine() -> str:
    import numpy
    import torch

    mem = "?"
    try:
        with open("/proc/meminfo") as handle:
            mem = f"{int(handle.readline().split()[1]) / 2**20:.1f} GiB RAM"
    except OSError:
        pass
    return (f"{platform.platform()}, {os.cpu_count()} CPUs, {mem}; Python {platform.python_version()}, "
            f"numpy {numpy.__version__}, torch {torch.__version__}")


def report(results: dict, sizes: tuple, file_bytes: int, scale: float) -> None:
    gib = 2**30
    print(f"machine : {machine()}")
    print(f"file    : MOSEI-shaped synthetic, scale {scale} -> train/valid/test {sizes}, "
          f"{file_bytes / gib:.2f} GiB pickle (float32 features incl. 768-d text features)")
    gen = results["generate"]
    print(f"generate: {gen['seconds']:.1f} s, peak RSS {gen['maxrss'] / gib:.2f} GiB")
    ref = results.get("reference")
    header = f"{'way':<12} {'seconds':>8} {'peak RSS GiB':>13} {'load peak GiB':>14} {'kept GiB':>9} " \
             f"{'time / ref':>10} {'peak / ref':>10}"
    print(header)
    print("-" * len(header))
    for mode in MODES:
        if mode not in results:
            continue
        r = results[mode]
        own = r["maxrss"] - r["rss_before"]
        ratios = (f"{r['seconds'] / ref['seconds']:>10.3f} {own / (ref['maxrss'] - ref['rss_before']):>10.3f}"
                  if ref else f"{'-':>10} {'-':>10}")
        print(f"{mode:<12} {r['seconds']:>8.2f} {r['maxrss'] / gib:>13.2f} {own / gib:>14.2f} "
              f"{r['kept'] / gib:>9.2f} {ratios}")
    print("load peak = peak RSS minus the RSS after imports; a cached load maps the arrays,\n"
          "whose pages are read (and counted) when first used (cached+read).")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--scale", type=float, default=0.1, help="fraction of MOSEI's clip counts")
    parser.add_argument("--dir", help="work folder (default: a temporary one, removed after)")
    parser.add_argument("--keep", action="store_true", help="keep the generated file and cache")
    parser.add_argument("--skip-reference", action="store_true",
                        help="do not run the reference's way (it needs about file + kept arrays of memory)")
    parser.add_argument("--child", nargs=2, metavar=("MODE", "PATH"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(*args.child)))
        return
    sizes = tuple(max(1, round(n * args.scale)) for n in MOSEI_SIZES)
    work = Path(args.dir or tempfile.mkdtemp(prefix="amccl-bench-load-"))
    path = work / "MOSEI" / "Processed" / "unaligned_50.pkl"
    env = dict(os.environ, BENCH_SIZES=json.dumps(sizes), HF_HUB_OFFLINE="1",
               PYTHONPATH=str(Path(__file__).resolve().parents[1]) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    try:
        results = {"generate": run_child("generate", path, env)}
        for mode in MODES:
            if not (mode == "reference" and args.skip_reference):
                results[mode] = run_child(mode, path, env)
        report(results, sizes, path.stat().st_size, args.scale)
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
