"""The GPU check in one go: CUDA-only tests, fp32 vs bf16 step, packed vs sequential runs, one table.

Usage: ``bash benchmarks/gpu_check.sh [--quick] [--text-encoder NAME_OR_DIR]`` (or ``python
benchmarks/gpu_check.py``) on a CUDA machine, under 8 minutes in all (each step has its own time
budget, below). Steps, each in its own process, reusing the benchmark scripts and their options:

1. ``tests``: pytest on the tests that skip without CUDA (``skipif(..., reason="needs CUDA")``),
   selected by this module acting as a pytest plugin (:func:`pytest_collection_modifyitems`);
2. ``train_step``: ``bench_train_step.py`` at MOSI shapes (B = 64): ``ours fp32`` and ``ours bf16``
   (autocast) samples/s, and each one's peak ``torch.cuda.max_memory_allocated`` over one step;
3. ``gpu_pack``: ``bench_gpu_pack.py``: K small MOSI trainings packed on the GPU vs one at a time.

Steps 2 and 3 use the scripts' default text encoder, the embedded MiniLM, unless
``--text-encoder`` names another (any ``AMCCLConfig.text_encoder``: a local BERT directory, e.g.
the random-weight bert-base-shaped one of ``benchmarks/make_random_bert.py`` where the
pretrained files are not at hand); the table's header names it.

It then prints ONE markdown table with the figures and the two targets (bf16 step >= 2x fp32,
packed >= 2x sequential throughput), each ``met`` / ``not met``, and writes it, with each step's
log, to ``$OUT/gpu_check/`` when ``OUT`` is set, else to ``runs/gpu_check/``.

Exit status: 0 every step ran (a target may still be unmet: see the table); 1 a step failed or
ran past its budget; 2 bad options; 3 no CUDA device (one line on stderr, nothing run).

Testing only (hidden from ``--help``): ``--allow-cpu --tiny`` runs every step on the CPU at toy
sizes (tiny random BERT, B = 4, smoke-size data) in well under a minute; its figures mean nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
NO_CUDA_STATUS = 3
NO_CUDA_MESSAGE = "gpu_check: no CUDA device visible to torch; this check needs a GPU (nothing was run)"
CUDA_MARK_REASON = "needs CUDA"
# Per step: seconds allowed, and options for --quick / default / --tiny (CPU test mode).
BUDGET_S = {"tests": 60, "train_step": 150, "gpu_pack": 240}
TRAIN_STEP_ARGS = {"quick": ["--rounds", "3", "--cheap-inner", "2"], "full": ["--rounds", "5", "--cheap-inner", "3"],
                   "tiny": ["--rounds", "1", "--cheap-inner", "1", "--batch", "4", "--text-encoder", "tiny-random"]}
GPU_PACK_ARGS = {"quick": ["--runs", "3", "--epochs", "1"], "full": ["--runs", "4", "--epochs", "2"],
                 "tiny": ["--runs", "1", "--epochs", "1", "--profile", "smoke", "--text-encoder", "tiny-random",
                          "--allow-cpu"]}


def pytest_collection_modifyitems(config, items) -> None:
    """Pytest hook (``-p benchmarks.gpu_check``): keep only the tests that skip without CUDA."""
    keep = [item for item in items
            if any(CUDA_MARK_REASON in str(m.kwargs.get("reason", "")) for m in item.iter_markers("skipif"))]
    config.hook.pytest_deselected(items=[item for item in items if item not in keep])
    items[:] = keep


@dataclass
class Step:
    """One step's outcome: its exit status (None: ran past its budget), seconds, output, JSON figures."""

    name: str
    returncode: int | None
    seconds: float
    output: str
    figures: dict

    @property
    def ok(self) -> bool:
        return self.returncode == 0


def cuda_test_files(tests: Path = ROOT / "tests") -> list[str]:
    """The test files holding a CUDA-only test (the plugin then picks the tests inside them)."""
    return sorted(str(p.relative_to(ROOT)) for p in tests.glob("test_*.py") if CUDA_MARK_REASON in p.read_text())


def run_step(name: str, args: list[str], budget_s: float, json_path: Path | None = None) -> Step:
    """Run ``python *args`` from the repository root within ``budget_s``; echo and keep its output;
    read the figures the step wrote to ``json_path``."""
    print(f"\n=== {name} (budget {budget_s:.0f} s): python {' '.join(args)}", flush=True)
    env = dict(os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1")
    start = time.perf_counter()
    try:
        proc = subprocess.run([sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True,
                              timeout=budget_s)
        returncode, output = proc.returncode, proc.stdout + proc.stderr
    except subprocess.TimeoutExpired as err:
        returncode, output = None, f"{err.stdout or ''}{err.stderr or ''}\n(ran past its budget of {budget_s:.0f} s)"
        output = output if isinstance(output, str) else output.decode(errors="replace")
    seconds = time.perf_counter() - start
    print(output, end="" if output.endswith("\n") else "\n", flush=True)
    print(f"=== {name}: {'exit ' + str(returncode) if returncode is not None else 'timed out'}, {seconds:.0f} s")
    figures = json.loads(json_path.read_text()) if returncode == 0 and json_path and json_path.is_file() else {}
    return Step(name, returncode, seconds, output, figures)


def tests_summary(step: Step) -> str:
    """pytest's closing line (e.g. ``1 passed in 3.1s``), or the failure."""
    lines = [line.strip("= ") for line in step.output.splitlines() if " in " in line and
             any(w in line for w in ("passed", "failed", "skipped", "deselected", "error"))]
    if step.returncode is None:
        return "timed out"
    return lines[-1] if lines else f"exit {step.returncode}"


def verdict(ratio: float | None, goal: float, device: str) -> str:
    if ratio is None:
        return "not measured"
    word = "met" if ratio >= goal else "not met"
    return word if device == "cuda" else f"{word} (CPU test mode: meaningless)"


def step_rows(step: Step, device: str) -> list[list[str]]:
    """fp32 and bf16 rows (samples/s, step time, peak memory) and the bf16 target row."""
    ways = step.figures.get("ways", {})
    rows = []
    for way in ("ours fp32", "ours bf16"):
        fig = ways.get(way)
        if fig is None:
            rows.append([f"train step {way}, MOSI shapes", f"failed ({failure(step)})", "-", "-"])
            continue
        mem = f"{fig['peak_mem_mib']:.0f} MiB" if fig["peak_mem_mib"] is not None else "- (no GPU)"
        rows.append([f"train step {way}, MOSI shapes, B = {step.figures['batch']}",
                     f"{fig['samples_per_s']:.1f} samples/s ({fig['step_s'] * 1e3:.1f} ms)", "-", "-"])
        rows.append([f"peak GPU memory, one {way} step", mem, "-", "-"])
    fp32, bf16 = ways.get("ours fp32"), ways.get("ours bf16")
    ratio = fp32["step_s"] / bf16["step_s"] if fp32 and bf16 else None
    rows.append(["bf16 (autocast) step vs fp32 step", f"{ratio:.2f}x" if ratio else "-", ">= 2x",
                 verdict(ratio, 2.0, device)])
    return rows


def pack_rows(step: Step, device: str) -> list[list[str]]:
    """Sequential and packed wall times and the packed-throughput target row."""
    fig = step.figures
    if not fig:
        return [["packed vs sequential small MOSI runs", f"failed ({failure(step)})", ">= 2x", "not measured"]]
    runs = f"{fig['runs']} runs of {fig['epochs']} epoch(s)"
    return [[f"sequential, {runs}", f"{fig['sequential_s']:.1f} s ({fig['runs'] * 3600 / fig['sequential_s']:.0f} runs/h)",
             "-", "-"],
            [f"packed on one device, {runs}", f"{fig['packed_s']:.1f} s ({fig['runs'] * 3600 / fig['packed_s']:.0f} runs/h)",
             "-", "-"],
            ["packed vs sequential throughput", f"{fig['speedup']:.2f}x (test-MAE diff {fig['mae_diff']:.1e})",
             ">= 2x", verdict(fig["speedup"], 2.0, device)]]


def failure(step: Step) -> str:
    return "timed out" if step.returncode is None else f"exit {step.returncode}"


def summary_table(steps: dict[str, Step], device: str) -> str:
    """The one markdown table: every figure and the two targets."""
    sys.path.insert(0, str(HERE))
    from common import table

    tests = steps["tests"]
    passed = tests.returncode == 0 and "passed" in tests_summary(tests)
    rows = [["CUDA-only tests (pytest)", tests_summary(tests), "all pass",
             "met" if passed else ("not met" if device == "cuda" else "skipped (no CUDA)")]]
    rows += step_rows(steps["train_step"], device) + pack_rows(steps["gpu_pack"], device)
    return table(["check", "measured", "target", "verdict"], rows)


def output_dir() -> Path:
    """``$OUT/gpu_check`` when ``OUT`` is set (collected from a device machine), else ``runs/gpu_check``."""
    return Path(os.environ["OUT"]) / "gpu_check" if os.environ.get("OUT") else ROOT / "runs" / "gpu_check"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer rounds and runs")
    parser.add_argument("--text-encoder", default=None, metavar="NAME_OR_DIR",
                        help="text encoder of the train_step and gpu_pack steps (default: the scripts' own, "
                             "the embedded minilm); a local BERT directory works")
    parser.add_argument("--allow-cpu", action="store_true", help=argparse.SUPPRESS)  # testing only
    parser.add_argument("--tiny", action="store_true", help=argparse.SUPPRESS)  # testing only: toy sizes
    args = parser.parse_args(argv)
    if args.allow_cpu and not args.tiny:
        parser.error("--allow-cpu is for the CPU test mode only: give --tiny too")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    import torch  # the only heavy import here; each step runs in its own process

    device = "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cpu" and not args.allow_cpu:
        print(NO_CUDA_MESSAGE, file=sys.stderr)
        return NO_CUDA_STATUS
    size = "tiny" if args.tiny else "quick" if args.quick else "full"
    encoder = args.text_encoder or ("tiny-random" if args.tiny else "minilm")
    encoder_args = ["--text-encoder", args.text_encoder] if args.text_encoder else []  # after the size's: wins
    out = output_dir()
    out.mkdir(parents=True, exist_ok=True)
    steps = {
        "tests": run_step("tests", ["-m", "pytest", "-q", "-rs", "-p", "no:cacheprovider", "-p",
                                    "benchmarks.gpu_check", *cuda_test_files()], BUDGET_S["tests"]),
        "train_step": run_step("train_step", ["benchmarks/bench_train_step.py", "--device", device, "--bf16",
                                              *TRAIN_STEP_ARGS[size], *encoder_args, "--json", str(out / "train_step.json")],
                               BUDGET_S["train_step"], out / "train_step.json"),
        "gpu_pack": run_step("gpu_pack", ["benchmarks/bench_gpu_pack.py", *GPU_PACK_ARGS[size], *encoder_args,
                                          "--json", str(out / "gpu_pack.json")],
                             BUDGET_S["gpu_pack"], out / "gpu_pack.json"),
    }
    for step in steps.values():
        (out / f"{step.name}.log").write_text(step.output)
    text = summary_table(steps, device)
    where = torch.cuda.get_device_name(0) if device == "cuda" else "CPU test mode: figures meaningless"
    header = (f"GPU check ({size}, {where}, torch {torch.__version__}, text encoder {encoder}), "
              f"{time.strftime('%Y-%m-%d %H:%M')}, {sum(s.seconds for s in steps.values()):.0f} s in all")
    print(f"\n=== summary\n{header}\n\n{text}")
    (out / "gpu_check.md").write_text(f"{header}\n\n{text}\n")
    print(f"written to {out / 'gpu_check.md'}")
    return 0 if all(s.ok for s in steps.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
