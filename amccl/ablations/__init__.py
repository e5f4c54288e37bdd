"""Ablations (docs/model.md §6, §7): named variants, seed grids and their paired statistics.

* :mod:`~amccl.ablations.variants` -- the registry: ``apply_variant(cfg, "no_se+no_refine")``.
* :mod:`~amccl.ablations.grid` -- ``run_grid(variants, seeds, cfg, out_dir=...)``: every
  (variant, seed) run, resumable, one CSV row each, here, in worker processes or as Ray tasks;
  one run is :mod:`~amccl.ablations.runs`.
* :mod:`~amccl.ablations.stats` -- ``paired_summary(rows)`` and ``format_paired``: mean ± std,
  seed-paired differences to ``full``, Holm-corrected tests.
* :mod:`~amccl.ablations.power` -- the smallest detectable difference and the seeds needed.
* :mod:`~amccl.ablations.cli` -- the ``ablate`` command (``python -m amccl ablate --help``).
"""
