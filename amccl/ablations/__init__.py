"""Ablations (spec §6, §7): named variants, seed grids and tables that say which differences are real.

* :mod:`~amccl.ablations.variants` -- the registry: ``apply_variant(cfg, "no_se+no_refine")``,
  ``variants_table()``.
* :mod:`~amccl.ablations.grid` -- ``run_grid(variants, seeds, cfg, out_dir=...)``: every
  (variant, seed) pair, resumable, one CSV row per run, in this process or as Ray tasks
  (:mod:`~amccl.ablations.ray_executor`); one run's spec, training and row are
  :mod:`~amccl.ablations.runs` (``RunSpec``, ``run_pair``, ``make_row``), below the grid and
  its executors.
* :mod:`~amccl.ablations.stats` -- ``summary(rows)``: mean ± std (fractions), the seed-paired
  difference to ``full`` with its interval, paired tests with Holm's correction;
  ``format_table`` prints it as a paper does (accuracies in %, MAE and Corr as fractions).
* :mod:`~amccl.ablations.power` -- how many seeds: the smallest paired difference a comparison
  could detect (two-sided 5 %, 80 % power) and the seeds a given difference needs; ``summary``
  reports both (``detectable``, ``seeds_needed``).
* :mod:`~amccl.ablations.cli` -- the ``ablate`` command (``python -m amccl ablate --help``).

The figure is :func:`amccl.plotting.plot_grid`. Torch is imported only when a run starts.
"""
