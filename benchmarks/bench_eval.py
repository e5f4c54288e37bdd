"""An evaluation pass over a MOSI-test-sized split (686 clips): clips per second, side by side.

``AMCCL(AMCCLConfig.for_dataset("mosi"))`` (embedded MiniLM) in eval mode, no gradients,
batch 64, on a random split with MOSI's shapes (random token ids under random-length masks,
random features and valid lengths, labels in [-3, 3]), timed interleaved:

* ``straightforward`` -- a plain loop: slice the arrays batch by batch, ``model(**batch)``,
  ``.cpu()`` each batch's predictions, then ``compute_metrics``;
* ``evaluate_split`` -- the trainer's pass (``amccl.evaluation.evaluate_split``: BatchLoader,
  predictions kept on the device until the end, then the metrics);
* ``evaluate_split + text cache`` -- the same with the split's ``text_feats`` rows attached
  (``text_cache_rows``, as the trainer does with ``freeze_text``): no BERT pass.
  Building the cache is one BERT pass over the split, timed once and shown on its own line.

All ways' predictions are compared before timing.

Usage: ``python benchmarks/bench_eval.py`` (``--clips``, ``--rounds``, ``--threads``, ``--device``).
"""

from __future__ import annotations

import argparse
import dataclasses
import time

import numpy as np  # noqa: E402
import torch  # noqa: E402
from common import command_line, cuda_available, fmt_time, interleaved, machine_line, table

from amccl.config import AMCCLConfig  # noqa: E402
from amccl.data.types import MMSASplit  # noqa: E402
from amccl.evaluation import text_cache_rows  # noqa: E402
from amccl.metrics import compute_metrics  # noqa: E402
from amccl.model import AMCCL  # noqa: E402


def random_split(cfg: AMCCLConfig, n: int, seed: int = 0) -> MMSASplit:
    rng = np.random.default_rng(seed)
    lt, la, lv = cfg.text_len, cfg.audio_len, cfg.vision_len
    lengths = rng.integers(3, lt + 1, n)
    mask = (np.arange(lt)[None] < lengths[:, None]).astype(np.int64)
    ids = rng.integers(1000, 30000, (n, lt)) * mask
    ids[:, 0] = 101
    return MMSASplit(
        name="test", text=np.stack([ids, mask, np.zeros_like(ids)], 1).astype(np.int64),
        audio=rng.standard_normal((n, la, cfg.audio_dim), dtype=np.float32),
        vision=rng.standard_normal((n, lv, cfg.vision_dim), dtype=np.float32),
        audio_lengths=rng.integers(1, la + 1, n).astype(np.int64),
        vision_lengths=rng.integers(1, lv + 1, n).astype(np.int64),
        labels=(np.round(rng.uniform(-3, 3, n) * 5) / 5).astype(np.float32),
        raw_text=np.array(["clip"] * n), ids=np.array([f"v{i}$_$0" for i in range(n)]),
    )


def straightforward(model: AMCCL, split: MMSASplit, cfg: AMCCLConfig, device: torch.device) -> np.ndarray:
    preds = []
    with torch.no_grad():
        for start in range(0, len(split), cfg.batch_size):
            rows = slice(start, start + cfg.batch_size)
            out = model(torch.from_numpy(split.text[rows]).to(device), torch.from_numpy(split.audio[rows]).to(device),
                        torch.from_numpy(split.vision[rows]).to(device),
                        torch.from_numpy(split.audio_lengths[rows]).to(device),
                        torch.from_numpy(split.vision_lengths[rows]).to(device))
            preds.append(out["M"].reshape(-1).cpu())
    pred = torch.cat(preds).numpy()
    compute_metrics(pred, split.labels, cfg.dataset)
    return pred


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--clips", type=int, default=686, help="clips in the split (MOSI test: 686)")
    parser.add_argument("--rounds", type=int, default=2, help="interleaved rounds of one full pass per way")
    parser.add_argument("--cached-inner", type=int, default=5, help="passes per round for the cached way")
    parser.add_argument("--threads", type=int, default=1,
                        help="torch intra-op threads on CPU (default 1, see bench_train_step.py); 0 = torch's")
    parser.add_argument("--device", default=None, help="cpu or cuda (default: cuda when available)")
    args = parser.parse_args()
    device = torch.device(args.device or ("cuda" if cuda_available() else "cpu"))
    if device.type == "cuda" and not cuda_available():
        print("skipped: no CUDA")
        return
    if args.threads and device.type == "cpu":
        torch.set_num_threads(args.threads)
    print(machine_line(device))
    print(f"command: {command_line()}")
    from amccl.evaluation import evaluate_split

    cfg = AMCCLConfig.for_dataset("mosi", text_encoder="minilm")  # the embedded encoder measured
    torch.manual_seed(0)
    model = AMCCL(cfg).to(device).eval()
    split = random_split(cfg, args.clips)
    start, start_cpu = time.perf_counter(), time.thread_time()
    feats = text_cache_rows(model, split.text, batch_size=cfg.batch_size, device=device)
    cache_seconds, cache_cpu = time.perf_counter() - start, time.thread_time() - start_cpu
    cached = dataclasses.replace(split, text_feats=feats)

    ways = {
        "straightforward": lambda: straightforward(model, split, cfg, device),
        "evaluate_split": lambda: evaluate_split(model, split, cfg, device).predictions,
        "evaluate_split + text cache": lambda: evaluate_split(model, cached, cfg, device).predictions,
    }
    preds = {name: fn() for name, fn in ways.items()}
    ref = preds["straightforward"]
    print("check: max abs difference of the predictions vs straightforward: "
          + ", ".join(f"{n} {np.abs(p - ref).max():.1e}" for n, p in preds.items() if n != "straightforward"))
    inner = {n: args.cached_inner if "cache" in n else 1 for n in ways}
    cpu_clock = device.type == "cpu" and torch.get_num_threads() == 1  # see bench_train_step.py
    res = interleaved(ways, args.rounds, inner, warmup=0, device=device, cpu_clock=cpu_clock)
    key = "cpu" if cpu_clock else "median"
    base = res["straightforward"][key]
    rows = [[n, fmt_time(r["median"]), f"{fmt_time(r['q1'])} – {fmt_time(r['q3'])}",
             fmt_time(r["cpu"]) if cpu_clock else "-", f"{args.clips / r[key]:.0f}", f"{base / r[key]:.2f}x"]
            for n, r in res.items()]
    rows.append(["(one-off) text cache build", fmt_time(cache_seconds), "1 run",
                 fmt_time(cache_cpu) if cpu_clock else "-", f"{args.clips / (cache_cpu if cpu_clock else cache_seconds):.0f}", "-"])
    print(f"\nevaluation pass, {args.clips} clips, batch {cfg.batch_size}, {args.rounds} rounds, device {device.type}; "
          f"clips/s and ratios from the {'CPU' if cpu_clock else 'wall'} median")
    print(table(["way", "median pass (wall)", "IQR (wall)", "median CPU", "clips/s", "vs straightforward"], rows))


if __name__ == "__main__":
    main()
