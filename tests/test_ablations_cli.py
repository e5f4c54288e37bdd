"""The ``ablate`` command (``python -m amccl ablate``, registered in ``amccl.cli``)."""

from __future__ import annotations

import argparse

import pandas as pd
import pytest

from amccl.ablations.cli import add_ablate_parser, expand_variants
from amccl.ablations.variants import CLEAN_VARIANTS, MODALITY_VARIANTS, PAPER_VARIANTS
from amccl.cli import main


def test_list_prints_the_registry(capsys):
    assert main(["ablate", "--list"]) == 0
    out = capsys.readouterr().out
    assert all(name in out for name in (*PAPER_VARIANTS, *CLEAN_VARIANTS)) and "contrastive_mean=positives" in out


def test_parser_plugs_into_any_subparsers():
    parser = argparse.ArgumentParser(prog="amccl")
    add_ablate_parser(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["ablate", "--dataset", "MOSI", "--variants", "no_se+no_refine", "--seeds", "1", "2",
                              "--executor", "ray", "--num-gpus", "0.25", "--set", "epochs=3"])
    assert (args.dataset, args.variants, args.seeds, args.executor, args.num_gpus, args.overrides) == (
        "mosi", ["no_se+no_refine"], [1, 2], "ray", 0.25, ["epochs=3"])
    assert args.func.__name__ == "run_ablate"


def test_variant_groups_expand_with_the_baseline_first():
    assert expand_variants(["no_se", "full", "no_se"]) == ["full", "no_se"]
    assert expand_variants(["paper"]) == list(PAPER_VARIANTS)
    assert expand_variants(["clean", "no_cl"]) == ["full", *CLEAN_VARIANTS, "no_cl"]
    assert expand_variants(["modality"]) == ["full", *MODALITY_VARIANTS]
    assert expand_variants(["full + no_refine"]) == ["full", "no_refine"]


def test_unknown_variant_is_one_line_error(capsys, tmp_path):
    assert main(["ablate", "--variants", "no_sx", "--out", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("amccl ablate: error: unknown variant 'no_sx' (did you mean no_se")


@pytest.mark.slow
def test_smoke_grid_writes_tables_and_figures_and_resumes(tmp_path, capsys):
    argv = ["ablate", "--profile", "smoke", "--set", "text_encoder=tiny-random", "--variants", "no_cl",
            "--seeds", "1111", "1112", "--out", str(tmp_path), "--num-cpus", "1", "--plot", "MAE"]
    assert main(argv) == 0
    out = capsys.readouterr()
    assert "4 to run" in out.err and "difference to full" in out.out
    grid = pd.read_csv(tmp_path / "grid.csv")
    assert sorted(zip(grid.variant, grid.seed)) == [("full", 1111), ("full", 1112), ("no_cl", 1111), ("no_cl", 1112)]
    summ = pd.read_csv(tmp_path / "summary.csv")
    assert set(summ.variant) == {"full", "no_cl"} and "p_holm" in summ.columns
    assert (tmp_path / "ablation_MAE.png").stat().st_size > 0
    assert main(argv) == 0  # everything is in grid.csv: nothing runs again
    assert "4 already in" in capsys.readouterr().err and len(pd.read_csv(tmp_path / "grid.csv")) == 4
