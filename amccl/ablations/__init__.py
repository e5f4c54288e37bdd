"""Ablations (spec §6, §7): named variants, seed grids and tables that say which differences are real.

* :mod:`~amccl.ablations.variants` -- the registry: ``apply_variant(cfg, "no_se+no_refine")``,
  ``variants_table()``.
* :mod:`~amccl.ablations.grid` -- ``run_grid(variants, seeds, cfg, out_dir=...)``: every
  (variant, seed) pair, resumable, one CSV row per run, on the ``local`` or ``ray`` executor
  (:mod:`~amccl.ablations.executors`).
* :mod:`~amccl.ablations.stats` -- ``summary(rows)``: mean ± std ×100, the seed-paired
  difference to ``full`` with its interval, paired tests with Holm's correction;
  ``format_table`` prints it as a paper does.
* :mod:`~amccl.ablations.plots` -- ``plot_grid(rows, metric)``.
* :mod:`~amccl.ablations.cli` -- the ``ablate`` command (``python -m amccl.ablations --help``).

Torch is imported only when a run starts; the statistics need numpy, pandas and scipy only.
"""

from amccl.ablations.grid import GRID_CSV, read_grid, run_grid
from amccl.ablations.runner import VOLATILE_COLUMNS
from amccl.ablations.stats import format_table, grid_verdict, holm, summary
from amccl.ablations.variants import (
    BASELINE,
    CLEAN_VARIANTS,
    PAPER_VARIANTS,
    VARIANTS,
    Variant,
    apply_variant,
    variant_overrides,
    variants_table,
)

__all__ = [
    "VARIANTS", "PAPER_VARIANTS", "CLEAN_VARIANTS", "BASELINE", "Variant", "apply_variant",
    "variant_overrides", "variants_table", "run_grid", "read_grid", "GRID_CSV", "VOLATILE_COLUMNS",
    "summary", "format_table", "grid_verdict", "holm", "plot_grid",
]


def __getattr__(name: str):  # lazy: matplotlib only when a figure is drawn
    if name == "plot_grid":
        from amccl.ablations.plots import plot_grid

        return plot_grid
    raise AttributeError(f"module 'amccl.ablations' has no attribute {name!r}")
