"""Loss forward + backward: ``amccl_loss`` against the literal per-term transcription of docs/model.md §3.

At the MOSI and MOSEI batch and feature sizes (B = batch_size, d = post_dim of the paper's
configs: 64 / 64 and 128 / 128) it times, interleaved, one forward + backward of

* ``literal`` -- ``tests.literal_loss.literal_amccl_loss`` (the test oracle): every pair term
  rebuilds P and re-normalises its features (docs/model.md §3 as written; the yardstick);
* ``batched`` -- ``amccl.losses.amccl_loss``: P once, one normalisation, the six pair
  blocks batched, differentiated by autograd;
* ``compiled`` (only with ``--compile``) -- ``torch.compile(amccl_loss)``; its one-off
  compile time is printed separately.

Before timing, every way's seven parts and its gradients (features and M) are compared with
the literal path's; the largest relative differences are printed next to the times, with the
number of tensor ops (``aten::`` calls counted by ``torch.profiler``) one forward + backward
dispatches: at these sizes the time goes to dispatching ops, not to arithmetic.

Usage: ``python benchmarks/bench_loss.py`` (``--rounds``, ``--inner``, ``--threads``,
``--device cuda``, ``--sizes mosi,mosei``, ``--compile``).
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import torch
from common import command_line, cuda_available, fmt_time, interleaved, machine_line, table, target

from amccl.config import AMCCLConfig
from amccl.losses import LOSS_PARTS, amccl_loss
from tests.literal_loss import literal_amccl_loss  # importable: common puts the checkout on sys.path

LossFn = Callable[..., dict[str, torch.Tensor]]


def make_inputs(dataset: str, device: torch.device, seed: int = 0):
    """Features like the model's (ReLU outputs, some rows all zero-ish), labels on a 0.2 grid
    with ties and neutral clips (so D = k pairs and sign(0) occur), M (B, 1)."""
    cfg = AMCCLConfig.for_dataset(dataset)
    g = torch.Generator().manual_seed(seed)
    batch, dim, scale = cfg.batch_size, cfg.post_dim, cfg.label_range
    labels = torch.round(torch.empty(batch).uniform_(-scale, scale, generator=g) * 5) / 5
    labels[:4] = 0.0
    feats = [torch.relu(torch.randn(batch, dim, generator=g)).to(device).requires_grad_() for _ in range(3)]
    m = torch.randn(batch, 1, generator=g).to(device).requires_grad_()
    outputs = {"Feature_t": feats[0], "Feature_a": feats[1], "Feature_v": feats[2], "M": m}
    return cfg, outputs, labels.to(device), feats + [m]


def step(fn: LossFn, cfg, outputs, labels, leaves) -> Callable[[], None]:
    """One forward + backward of ``fn`` on these inputs, as a no-argument callable."""

    def run() -> None:
        for leaf in leaves:
            leaf.grad = None
        fn(outputs, labels, cfg)["loss"].backward()

    return run


def check_equal(fns: dict[str, LossFn], cfg, outputs, labels, leaves) -> dict[str, tuple[float, float]]:
    """{way: (max relative difference over the 7 parts, over the gradients)} vs literal."""

    def run(fn: LossFn):
        for leaf in leaves:
            leaf.grad = None
        parts = fn(outputs, labels, cfg)
        parts["loss"].backward()
        return {k: parts[k].detach().double() for k in LOSS_PARTS}, [leaf.grad.double().clone() for leaf in leaves]

    ref_parts, ref_grads = run(literal_amccl_loss)
    diffs = {}
    for way, fn in fns.items():
        parts, grads = run(fn)
        part_diff = max(float((parts[k] - ref_parts[k]).abs() / ref_parts[k].abs().clamp_min(1e-12))
                        for k in LOSS_PARTS if float(ref_parts[k].abs()) > 0 or float(parts[k].abs()) > 0)
        grad_diff = max(float((g - r).abs().max() / r.abs().max().clamp_min(1e-30)) for g, r in zip(grads, ref_grads))
        diffs[way] = (part_diff, grad_diff)
    return diffs


def count_ops(run: Callable[[], None]) -> int:
    """Tensor ops (``aten::`` calls, nested ones included) one forward + backward dispatches."""
    from torch.profiler import ProfilerActivity, profile

    with profile(activities=[ProfilerActivity.CPU]) as prof:
        run()
    return sum(1 for event in prof.events() if event.name.startswith("aten::"))


def ways_for(args, cfg, outputs, labels, leaves) -> tuple[dict[str, LossFn], float | None]:
    """The loss functions to time, and the compiled way's first-call seconds (None: not run)."""
    fns: dict[str, LossFn] = {"literal": literal_amccl_loss, "batched": amccl_loss}
    if not args.compile:
        return fns, None
    compiled = torch.compile(amccl_loss)
    start = time.perf_counter()
    try:
        step(compiled, cfg, outputs, labels, leaves)()
    except Exception as err:  # no C++ compiler, unsupported platform...
        print(f"compiled: skipped ({type(err).__name__}: {str(err).splitlines()[0][:120]})")
        return fns, None
    fns["compiled"] = compiled
    return fns, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="mosi,mosei", help="datasets whose (B, d) to use")
    parser.add_argument("--rounds", type=int, default=40, help="interleaved rounds (median over them)")
    parser.add_argument("--inner", type=int, default=10, help="calls per way per round")
    parser.add_argument("--threads", type=int, default=1, help="torch intra-op threads (CPU)")
    parser.add_argument("--device", default="cpu", help="cpu or cuda")
    parser.add_argument("--compile", action="store_true", help="also time torch.compile(amccl_loss)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    if device.type == "cuda" and not cuda_available():
        print("skipped: no CUDA")
        return
    print(machine_line(device))
    print(f"command: {command_line()}")
    for dataset in args.sizes.split(","):
        cfg, outputs, labels, leaves = make_inputs(dataset, device)
        fns, compile_s = ways_for(args, cfg, outputs, labels, leaves)
        diffs = check_equal({w: f for w, f in fns.items() if w != "literal"}, cfg, outputs, labels, leaves)
        runs = {w: step(f, cfg, outputs, labels, leaves) for w, f in fns.items()}
        ops = {w: count_ops(run) for w, run in runs.items()}
        res = interleaved(runs, args.rounds, args.inner, warmup=3, device=device,
                          cpu_clock=device.type == "cpu" and args.threads == 1)
        base = res["literal"]
        rows = []
        for w, r in res.items():
            rel = diffs.get(w)
            rows.append([
                w, fmt_time(r["median"]), f"{fmt_time(r['q1'])} – {fmt_time(r['q3'])}",
                fmt_time(r["cpu"]) if "cpu" in r else "-",
                f"{base['median'] / r['median']:.2f}x", f"{base['cpu'] / r['cpu']:.2f}x" if "cpu" in r else "-",
                "(reference)" if rel is None else f"{rel[0]:.1e}", "(reference)" if rel is None else f"{rel[1]:.1e}",
                ops[w],
            ])
        print(f"\n{dataset}: B = {cfg.batch_size}, d = {cfg.post_dim}, forward + backward, "
              f"{args.rounds} rounds x {args.inner} calls, device {device.type}")
        print(table(["way", "median", "IQR", "CPU median", "speed-up (wall)", "speed-up (CPU)",
                     "parts rel. diff", "grads rel. diff", "aten ops"], rows))
        if compile_s is not None:
            print(f"compiled: first call (compile + run) took {compile_s:.1f} s")
        if dataset == "mosi":
            key = "cpu" if "cpu" in base else "median"
            for w in list(res)[1:]:
                ratio = base[key] / res[w][key]
                same = diffs[w][0] <= 1e-6
                target(f"loss fwd+bwd, MOSI sizes, {device.type}: {w} vs literal", f"{ratio:.1f}x ({key} median), "
                       f"parts rel. diff {diffs[w][0]:.0e}", ">= 10x, same value (1e-6)",
                       "met" if ratio >= 10 and same else "not met")


if __name__ == "__main__":
    main()
