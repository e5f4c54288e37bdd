"""benchmarks/bench_grid.py at toy size, in this process: both ways give the same metrics per run,
and the report prints the table and a target line (figures meaningless at this size)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from amccl.presets import SHRUNK_FROZEN_TEXT, preset

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


@pytest.fixture(scope="module")
def bench():
    sys.path.insert(0, str(BENCHMARKS))
    try:
        import bench_grid

        yield bench_grid
    finally:
        sys.path.remove(str(BENCHMARKS))


def toy_args(bench, tmp_path: Path):
    return bench.parse_args(["--variants", "2", "--seeds", "1", "--epochs", "1", "--sizes", "16", "8", "8",
                             "--text-encoder", "tiny-random", "--threads", "1", "--json", str(tmp_path / "f.json")])


def test_spec_is_the_paper_and_clean_variants_over_mmsa_seeds(bench, tmp_path):
    full = bench.make_spec(bench.parse_args([]))
    assert len(full["variants"]) == 17 and full["variants"][0] == "full" and full["seeds"] == [1111, 1112, 1113]
    assert full["overrides"] == {}  # the demo preset as it is
    cfg = bench.grid_config(full)
    demo = preset("ablation_grid", "demo").overrides
    assert (cfg.freeze_text, cfg.epochs, cfg.synthetic_sizes, cfg.encoder_ff_dim) == (
        True, demo["epochs"], tuple(demo["synthetic_sizes"]), SHRUNK_FROZEN_TEXT["encoder_ff_dim"])
    toy = bench.make_spec(toy_args(bench, tmp_path))
    assert toy["variants"] == ["full", "no_se"] and toy["seeds"] == [1111]


def test_grid_and_plain_loop_agree_and_the_report_has_a_target(bench, tmp_path, capsys):
    args = toy_args(bench, tmp_path)
    spec = bench.make_spec(args)
    results = {way: bench.run_way(way, spec, tmp_path / way) for way in ("grid", "plain")}
    assert set(results["grid"]["metrics"]) == {"full|1111", "no_se|1111"}
    diff, unmatched = bench.metric_difference(results["grid"]["metrics"], results["plain"]["metrics"])
    assert diff == 0 and unmatched == []
    assert (tmp_path / "plain" / "plain" / "no_se" / "seed_1111" / "best.pt").exists()  # the loop wrote its files
    bench.report(spec, results, args)
    out = capsys.readouterr().out
    assert "| grid " in out and "| plain " in out and "largest abs difference 0.0e+00" in out
    assert "target: ablation grid (2 runs) runs/hour vs plain fit loop (torch threads 1) |" in out and "identical" in out
    saved = json.loads((tmp_path / "f.json").read_text())
    assert saved["runs"] == 2 and set(saved["runs_per_hour"]) == {"grid", "plain"}


def test_metric_difference_names_runs_missing_from_one_way(bench):
    a = {"full|1": {"MAE": 0.5}, "no_se|1": {"MAE": 0.4}}
    b = {"full|1": {"MAE": 0.25}}
    assert bench.metric_difference(a, b) == (0.25, ["no_se|1"])
