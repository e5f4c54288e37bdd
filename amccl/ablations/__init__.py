"""Ablations (docs/model.md §6, §7): named variants, seed grids and their paired statistics.

:mod:`~amccl.ablations.variants` (the registry, ``apply_variant``), :mod:`~amccl.ablations.grid`
(``run_grid``: every (variant, seed) run, resumable, here, in processes or on Ray; one run is
:mod:`~amccl.ablations.runs`), :mod:`~amccl.ablations.stats` (``paired_summary``,
``format_paired``), :mod:`~amccl.ablations.power` (detectable differences, seeds needed) and
:mod:`~amccl.ablations.cli` (``python -m amccl ablate``).
"""
