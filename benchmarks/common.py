"""Shared helpers of the benchmarks: the machine line, interleaved timing, tables.

Every benchmark times its ways *interleaved*: round r runs each way ``inner`` times, in an
order rotated by r // 2 and reversed on odd rounds (so every way runs both before and after
every other: what ran just before, e.g. a way that freed large buffers, does not favour one
way), and the figure reported is the median over rounds of the time per call. On a shared
machine this spreads other processes' load evenly over the ways, so the ratios measured in
one run stay meaningful even when the absolute figures drift.
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # runs from a checkout, installed or not
    sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import torch  # noqa: E402


def cpu_model() -> str:
    """The CPU's model name (Linux ``/proc/cpuinfo``, else ``platform.processor()``)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def describe_device(device: torch.device) -> str:
    if device.type == "cuda":
        props = torch.cuda.get_device_properties(device)
        return f"cuda ({props.name}, {props.total_memory / 2**30:.0f} GiB, CUDA {torch.version.cuda})"
    return "cpu"


def machine_line(device: torch.device | str = "cpu") -> str:
    """One line: host, CPU, cores, torch threads, load, Python / torch versions, device."""
    device = torch.device(device)
    try:
        load = "load avg {:.1f} {:.1f} {:.1f}".format(*os.getloadavg())
    except OSError:
        load = "load avg n/a"
    return (f"machine: {platform.node() or 'host'} {platform.platform()}, {cpu_model()}, "
            f"{os.cpu_count()} logical CPUs, torch threads {torch.get_num_threads()}, {load}; "
            f"Python {platform.python_version()}, torch {torch.__version__}; device {describe_device(device)}")


def cuda_available() -> bool:
    return torch.cuda.is_available() and torch.cuda.device_count() > 0


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def interleaved(ways: dict[str, Callable[[], object]], rounds: int, inner: int | dict[str, int] = 1,
                warmup: int = 1, device: torch.device | str = "cpu",
                cpu_clock: bool = False) -> dict[str, dict[str, float]]:
    """Time each way interleaved; returns ``{way: {"median": s, "q1": s, "q3": s, "cpu": s}}``
    (seconds per call; ``cpu``: the median thread CPU time, only with ``cpu_clock``, which
    is meaningful for single-threaded CPU work: it leaves out time the thread was preempted).
    ``inner``: calls per way per round, one number or one per way (cheap ways can run more).
    """
    device = torch.device(device)
    names = list(ways)
    for name in names:  # warm-up: caches, allocator, lazy init
        for _ in range(warmup):
            ways[name]()
    synchronize(device)
    wall: dict[str, list[float]] = {n: [] for n in names}
    cpu: dict[str, list[float]] = {n: [] for n in names}
    for r in range(rounds):
        shift = (r // 2) % len(names)
        order = names[shift:] + names[:shift]
        if r % 2:
            order.reverse()
        for name in order:
            fn = ways[name]
            synchronize(device)
            c0, t0 = time.thread_time(), time.perf_counter()
            calls = inner[name] if isinstance(inner, dict) else inner
            for _ in range(calls):
                fn()
            synchronize(device)
            wall[name].append((time.perf_counter() - t0) / calls)
            cpu[name].append((time.thread_time() - c0) / calls)
    out = {}
    for name in names:
        q = statistics.quantiles(wall[name], n=4) if len(wall[name]) > 1 else [wall[name][0]] * 3
        out[name] = {"median": statistics.median(wall[name]), "q1": q[0], "q3": q[2]}
        if cpu_clock:
            out[name]["cpu"] = statistics.median(cpu[name])
    return out


def fmt_time(seconds: float) -> str:
    if seconds < 1e-3:
        return f"{seconds * 1e6:.0f} µs"
    if seconds < 1:
        return f"{seconds * 1e3:.2f} ms"
    return f"{seconds:.2f} s"


def table(header: list[str], rows: list[list[object]]) -> str:
    """A GitHub-markdown table (also readable on a terminal)."""
    cells = [[str(c) for c in header]] + [[str(c) for c in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    lines = ["| " + " | ".join(c.ljust(w) for c, w in zip(cells[0], widths)) + " |",
             "|" + "|".join("-" * (w + 2) for w in widths) + "|"]
    lines += ["| " + " | ".join(c.ljust(w) for c, w in zip(r, widths)) + " |" for r in cells[1:]]
    return "\n".join(lines)


def command_line() -> str:
    """How this benchmark was started, to print next to its figures."""
    script = Path(sys.argv[0])
    try:
        script = script.resolve().relative_to(ROOT)
    except ValueError:
        pass
    return " ".join(["python", str(script), *sys.argv[1:]])


def target(name: str, measured: str, goal: str, verdict: str) -> None:
    """One ``target:`` line; ``python -m benchmarks`` gathers them into its closing table."""
    print(f"target: {name} | {measured} | {goal} | {verdict}")


def child_result(returncode: int | None, out: Any, err: Any, what: str) -> dict:
    """The JSON a benchmark's child process printed as its ``RESULT {...}`` line on stdout;
    ``out`` / ``err`` are its (rewound here) temporary files. Raises with the tail of its
    stderr when no such line came (``what`` names the child in the message)."""
    out.seek(0)
    err.seek(0)
    for line in out.read().splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[len("RESULT "):])
    raise RuntimeError(f"{what} failed (exit {returncode}):\n{err.read()[-3000:]}")
