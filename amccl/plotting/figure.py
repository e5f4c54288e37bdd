"""The one :func:`save_figure` and the colours every figure shares."""

from __future__ import annotations

import os
from pathlib import Path

import matplotlib.pyplot as plt
from matplotlib.figure import Figure

MODALITY_COLORS = {"text": "#1b9e77", "audio": "#d95f02", "vision": "#7570b3"}
MODALITY_MARKERS = {"text": "o", "audio": "s", "vision": "^"}
VERDICT_COLORS = {"baseline": "#222222", "better": "#1a9850", "worse": "#d73027", "n.s.": "#4575b4"}
VERDICT_LABELS = {"baseline": "baseline", "better": "significantly better", "worse": "significantly worse",
                  "n.s.": "not significant"}


def save_figure(fig: Figure, target: str | Path, dpi: int = 150, tight: bool = True) -> Path:
    """Save ``fig`` (parents created) and return the path.

    Args:
        target: a file path, or a bare name (``"02_learning_curves"``): ``<run_dir()>/figures/<name>.png``,
            and for a :data:`amccl.workbook.GALLERY` name also ``$AMCCL_GALLERY_DIR/<name>.png`` (untight).
        tight: crop to the drawn content. ``False``: exactly ``figsize × dpi`` pixels, byte-stable PNGs.
    """
    if isinstance(target, str) and os.sep not in target and "/" not in target and not Path(target).suffix:
        from amccl import workbook

        gallery = os.environ.get(workbook.GALLERY_ENV)
        if gallery and target in workbook.GALLERY:
            save_figure(fig, Path(gallery) / f"{target}.png", dpi=workbook.GALLERY_DPI, tight=False)
        target = workbook.run_dir() / "figures" / f"{target}.png"
    path = Path(target)
    path.parent.mkdir(parents=True, exist_ok=True)
    if tight:
        fig.savefig(path, dpi=dpi, bbox_inches="tight")
    else:
        with plt.rc_context({"savefig.bbox": "standard"}):  # whatever the caller's rcParams say
            fig.savefig(path, dpi=dpi, metadata={"Software": None} if path.suffix.lower() == ".png" else None)
    return path
