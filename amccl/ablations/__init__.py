"""Ablations (docs/model.md §6, §7): named variants (:mod:`~amccl.ablations.variants`), seed grids
(:mod:`~amccl.ablations.grid`, one run: :mod:`~amccl.ablations.runs`), their paired statistics
(:mod:`~amccl.ablations.stats`, :mod:`~amccl.ablations.power`) and ``python -m amccl ablate``
(:mod:`~amccl.ablations.cli`).
"""
