"""Loss forward + backward: ``amccl_loss`` against the literal per-term transcription of spec §3.

At the MOSI and MOSEI batch and feature sizes (B = batch_size, d = post_dim of the paper's
configs: 64 / 64 and 128 / 128) it times, interleaved, one forward + backward of

* ``literal``  -- ``amccl.losses_literal.literal_amccl_loss``: every pair term rebuilds P
  and re-normalises its features (spec §3 as written; the yardstick);
* ``autograd`` -- ``amccl_loss(impl="autograd")``: P once, one normalisation, the six
  blocks batched, recorded op by op by autograd (the previous fast path);
* ``fused``    -- ``amccl_loss`` (the default): the same maths as one autograd node with a
  closed-form backward;
* ``compiled`` -- ``amccl_loss(impl="compiled")``: the fused maths through ``torch.compile``
  (its one-off compile time is printed separately; ``--no-compile`` leaves it out).

Before timing, every way's seven parts and its gradients (features and M) are compared with
the literal path's; the largest relative differences are printed next to the times, with the
number of tensor ops (``aten::`` calls counted by ``torch.profiler``) one forward + backward
dispatches: at these sizes the time goes to dispatching ops, not to arithmetic.

Usage: ``python benchmarks/bench_loss.py`` (``--rounds``, ``--inner``, ``--threads``,
``--device cuda``, ``--sizes mosi,mosei``).
"""

from __future__ import annotations

import argparse
import time

import torch  # noqa: E402
from common import command_line, cuda_available, fmt_time, interleaved, machine_line, table, target

from amccl.config import AMCCLConfig  # noqa: E402
from amccl.losses import PARTS, amccl_loss  # noqa: E402
from amccl.losses_literal import literal_amccl_loss  # noqa: E402


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


def loss_fn(way: str):
    if way == "literal":
        return literal_amccl_loss
    impl = {"autograd": "autograd", "fused": "fused", "compiled": "compiled"}[way]
    return lambda outputs, labels, cfg: amccl_loss(outputs, labels, cfg, impl=impl)


def check_equal(ways: list[str], cfg, outputs, labels, leaves) -> dict[str, tuple[float, float]]:
    """{way: (max relative difference over the 7 parts, over the gradients)} vs literal."""

    def run(way):
        for leaf in leaves:
            leaf.grad = None
        parts = loss_fn(way)(outputs, labels, cfg)
        parts["loss"].backward()
        return {k: parts[k].detach().double() for k in PARTS}, [leaf.grad.double().clone() for leaf in leaves]

    ref_parts, ref_grads = run("literal")
    diffs = {}
    for way in ways:
        parts, grads = run(way)
        part_diff = max(float((parts[k] - ref_parts[k]).abs() / ref_parts[k].abs().clamp_min(1e-12))
                        for k in PARTS if float(ref_parts[k].abs()) > 0 or float(parts[k].abs()) > 0)
        grad_diff = max(float((g - r).abs().max() / r.abs().max().clamp_min(1e-30)) for g, r in zip(grads, ref_grads))
        diffs[way] = (part_diff, grad_diff)
    return diffs


def count_ops(run) -> int:
    """Tensor ops (``aten::`` calls, nested ones included) one forward + backward dispatches."""
    from torch.profiler import ProfilerActivity, profile

    with profile(activities=[ProfilerActivity.CPU]) as prof:
        run()
    return sum(1 for event in prof.events() if event.name.startswith("aten::"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="mosi,mosei", help="datasets whose (B, d) to use")
    parser.add_argument("--rounds", type=int, default=40, help="interleaved rounds (median over them)")
    parser.add_argument("--inner", type=int, default=10, help="calls per way per round")
    parser.add_argument("--threads", type=int, default=1, help="torch intra-op threads (CPU)")
    parser.add_argument("--device", default="cpu", help="cpu or cuda")
    parser.add_argument("--no-compile", dest="compile", action="store_false", help="leave out the compiled way")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    if device.type == "cuda" and not cuda_available():
        print("skipped: no CUDA")
        return
    print(machine_line(device))
    print(f"command: {command_line()}")
    ways = ["literal", "autograd", "fused"] + (["compiled"] if args.compile else [])
    for dataset in args.sizes.split(","):
        cfg, outputs, labels, leaves = make_inputs(dataset, device)
        names = list(ways)
        compile_s = None
        if "compiled" in names:
            start = time.perf_counter()
            try:
                loss_fn("compiled")(outputs, labels, cfg)["loss"].backward()
                compile_s = time.perf_counter() - start
            except Exception as err:  # no C++ compiler, unsupported platform...
                print(f"compiled: skipped ({type(err).__name__}: {str(err).splitlines()[0][:120]})")
                names.remove("compiled")
        diffs = check_equal([w for w in names if w != "literal"], cfg, outputs, labels, leaves)

        def step(way):
            fn = loss_fn(way)

            def run():
                for leaf in leaves:
                    leaf.grad = None
                fn(outputs, labels, cfg)["loss"].backward()
            return run

        ops = {w: count_ops(step(w)) for w in names}
        res = interleaved({w: step(w) for w in names}, args.rounds, args.inner, warmup=3, device=device,
                          cpu_clock=device.type == "cpu" and args.threads == 1)
        base = res["literal"]
        rows = []
        for w in names:
            r = res[w]
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
            for w in names[1:]:
                ratio = base[key] / res[w][key]
                same = diffs[w][0] <= 1e-6
                target(f"loss fwd+bwd, MOSI sizes, {device.type}: {w} vs literal", f"{ratio:.1f}x ({key} median), "
                       f"parts rel. diff {diffs[w][0]:.0e}", ">= 10x, same value (1e-6)",
                       "met" if ratio >= 10 and same else "not met")


if __name__ == "__main__":
    main()
