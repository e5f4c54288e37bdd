"""benchmarks/gpu_check: refuses a CPU-only machine at once; its CPU test mode gives the one table."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from benchmarks import gpu_check
from benchmarks.gpu_check import NO_CUDA_STATUS, Step, summary_table

ROOT = Path(__file__).resolve().parents[1]
ROWS = ("CUDA-only tests (pytest)", "train step ours fp32", "peak GPU memory, one ours fp32 step",
        "train step ours bf16", "peak GPU memory, one ours bf16 step", "bf16 (autocast) step vs fp32 step",
        "sequential, ", "packed on one device, ", "packed vs sequential throughput")
no_cuda_only = pytest.mark.skipif(torch.cuda.is_available(), reason="checks the refusal on a machine without CUDA")


@no_cuda_only
def test_shell_wrapper_refuses_a_machine_without_cuda_with_status_3(tmp_path):
    proc = subprocess.run(["bash", str(ROOT / "benchmarks" / "gpu_check.sh"), "--quick"], capture_output=True,
                          text=True, env=dict(os.environ, OUT=str(tmp_path)), timeout=120)
    assert proc.returncode == NO_CUDA_STATUS == 3
    assert proc.stderr.strip().count("\n") == 0 and "no CUDA device" in proc.stderr
    assert proc.stdout == "" and list(tmp_path.iterdir()) == []  # nothing run, no table


@no_cuda_only
def test_python_refuses_without_cuda_unless_in_cpu_test_mode(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("OUT", str(tmp_path))
    assert gpu_check.main([]) == NO_CUDA_STATUS
    assert "no CUDA device" in capsys.readouterr().err and list(tmp_path.iterdir()) == []
    with pytest.raises(SystemExit) as exit_info:  # the CPU test mode only runs at toy sizes
        gpu_check.parse_args(["--allow-cpu"])
    assert exit_info.value.code == 2


def test_cuda_only_tests_are_found_by_their_skip_reason():
    files = gpu_check.cuda_test_files()
    assert "tests/test_fast_paths.py" in files and "tests/test_gpu_check.py" not in files


def canned_steps(bf16_step_s: float, speedup: float, tests_line: str = "1 passed, 11 deselected in 2.0s") -> dict:
    ways = {"ours fp32": {"step_s": 0.05, "samples_per_s": 1280.0, "peak_mem_mib": 2100.0},
            "ours bf16": {"step_s": bf16_step_s, "samples_per_s": 64 / bf16_step_s, "peak_mem_mib": 1500.0}}
    pack = {"device": "cuda", "runs": 4, "epochs": 2, "sequential_s": 120.0, "packed_s": 120.0 / speedup,
            "speedup": speedup, "mae_diff": 0.0}
    return {"tests": Step("tests", 0, 3.0, f"====== {tests_line} ======\n", {}),
            "train_step": Step("train_step", 0, 40.0, "", {"device": "cuda", "batch": 64, "ways": ways}),
            "gpu_pack": Step("gpu_pack", 0, 200.0, "", pack)}


def verdicts(text: str) -> dict[str, str]:
    """{check: verdict} of the table's rows."""
    rows = [[c.strip() for c in line.strip("|").split("|")] for line in text.splitlines()[2:]]
    return {row[0]: row[3] for row in rows}


def test_table_marks_each_target_met_or_not_from_canned_gpu_results():
    text = summary_table(canned_steps(bf16_step_s=0.02, speedup=1.5), "cuda")
    got = verdicts(text)
    assert got["bf16 (autocast) step vs fp32 step"] == "met"  # 0.05 / 0.02 = 2.5x
    assert got["packed vs sequential throughput"] == "not met"  # 1.5x
    assert got["CUDA-only tests (pytest)"] == "met"
    assert "2.50x" in text and "2100 MiB" in text and "1500 MiB" in text and "1.50x" in text
    got = verdicts(summary_table(canned_steps(0.03, 2.0, "1 failed, 11 deselected in 2.0s"), "cuda"))
    assert got["bf16 (autocast) step vs fp32 step"] == "not met"  # 1.67x
    assert got["packed vs sequential throughput"] == "met"
    assert got["CUDA-only tests (pytest)"] == "not met"


def test_table_says_which_step_failed():
    steps = canned_steps(0.02, 3.0)
    steps["gpu_pack"] = Step("gpu_pack", None, 240.0, "", {})
    steps["train_step"] = Step("train_step", 1, 5.0, "Traceback ...", {})
    text = summary_table(steps, "cuda")
    assert "failed (timed out)" in text and "failed (exit 1)" in text
    assert verdicts(text)["bf16 (autocast) step vs fp32 step"] == "not measured"


@pytest.mark.slow
def test_cpu_test_mode_runs_every_step_and_prints_one_table_with_all_rows(tmp_path):
    proc = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "gpu_check.py"), "--allow-cpu", "--tiny"],
                          capture_output=True, text=True, env=dict(os.environ, OUT=str(tmp_path)), cwd=ROOT,
                          timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert proc.stdout.count("| check ") == 1  # one summary table
    written = (tmp_path / "gpu_check" / "gpu_check.md").read_text()
    table = written[written.index("| check "):]
    assert table.strip() in proc.stdout
    for row in ROWS:
        assert f"| {row}" in table, row
    assert len(table.strip().splitlines()) == 2 + len(ROWS)
    assert "failed" not in table and "CPU test mode" in written
    assert {p.name for p in (tmp_path / "gpu_check").iterdir()} >= {"tests.log", "train_step.json", "gpu_pack.json"}
