"""What each notebook runs at each profile: ``preset("ablation_grid")`` is notebook 03's grid."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from amccl.config import EMBEDDED_TEXT_LEN, MMSA_SEEDS, SHAPE_FIELDS, TINY_RANDOM, default_profile

EMBEDDED_ONLY = ("synthetic_sizes", *SHAPE_FIELDS)  # preset values that only fit the embedded default
# Frozen (cached) text, 24 audio/vision steps, a 256-wide feed-forward: minutes on 2 CPU cores.
SHRUNK_FROZEN_TEXT: dict[str, Any] = dict(freeze_text=True, text_len=EMBEDDED_TEXT_LEN, audio_len=24, vision_len=24,
                                          encoder_ff_dim=256, batch_size=32)
# A run of the demo's grid (03) and seed table (02): 8 epochs, as at 4 runs still match the constant's MAE.
DEMO_GRID_RUN: dict[str, Any] = dict(SHRUNK_FROZEN_TEXT, epochs=8, early_stop=8, synthetic_sizes=(240, 60, 120))
ONE_CPU = {"num_cpus": 1}  # one torch thread per run: these small models gain little from more


@dataclass(frozen=True)
class Preset:
    """Config overrides, seeds, variants (``None``: all) and how to run them (``executor``, ``resources``:
    as :func:`~amccl.ablations.grid.run_grid`). ``checkpoint``: use notebook 02's checkpoint when it exists;
    ``checkpoint_settings``: compare at its settings even when its text encoder was fine-tuned."""

    overrides: dict[str, Any]
    seeds: tuple[int, ...]
    variants: tuple[str, ...] | None = None
    executor: str = "local"
    resources: dict[str, float] | None = None
    progress: bool = True  # tqdm bars (off in smoke, whose logs CI keeps)
    trials: int = 0  # tuning trials (notebook 03)
    max_clips: int = 300  # the UMAP maps (notebook 04)
    n_neighbors: int = 15
    checkpoint: bool = True
    checkpoint_settings: bool = False

    def overrides_for(self, data_path: str | None) -> dict[str, Any]:
        """The overrides of a run on ``data_path``: without synthetic sizes and shapes for a real file."""
        return {k: v for k, v in self.overrides.items() if data_path is None or k not in EMBEDDED_ONLY}


_SMOKE_RUN = dict(SHRUNK_FROZEN_TEXT, epochs=2, early_stop=2, synthetic_sizes=(48, 16, 32), text_encoder=TINY_RANDOM)
_QUICK_PAIR = dict(freeze_text=True, epochs=6, early_stop=6)
PRESETS: dict[str, dict[str, Preset]] = {
    "seed_table": {  # notebook 02: the multi-seed table (frozen text outside the paper profile)
        "smoke": Preset({"freeze_text": True}, MMSA_SEEDS[:3], progress=False),
        "demo": Preset(dict(DEMO_GRID_RUN), MMSA_SEEDS[:3]),  # exactly notebook 03's runs of `full`
        "paper": Preset({}, MMSA_SEEDS),
    },
    "ablation_grid": {  # notebook 03: every variant (smoke: three) over seeds, shrunk runs, a tuning study
        "smoke": Preset(dict(_SMOKE_RUN), MMSA_SEEDS[:2], ("full", "no_se", "no_cl"), progress=False, trials=3),
        "demo": Preset(dict(DEMO_GRID_RUN), MMSA_SEEDS[:3], executor="processes", resources=ONE_CPU, trials=6),
        "paper": Preset({}, MMSA_SEEDS, trials=30),
    },
    "embedding_models": {  # notebook 04: the quick frozen-text pair (full and no_cl) it trains
        "smoke": Preset(dict(freeze_text=True, synthetic_sizes=(48, 16, 32), text_encoder=TINY_RANDOM), MMSA_SEEDS[:1],
                        ("full", "no_cl"), progress=False, max_clips=40, n_neighbors=10, checkpoint=False),
        "demo": Preset(dict(_QUICK_PAIR), MMSA_SEEDS[:1], ("full", "no_cl")),  # 02's lengths: its model, same clips
        "paper": Preset(dict(_QUICK_PAIR), MMSA_SEEDS[:1], ("full", "no_cl"), checkpoint_settings=True),
    },
    "gamma_sweep": {  # notebook 04: alignment against gamma (0, g, 10g, 100g), two variants over seeds
        "smoke": Preset(dict(_SMOKE_RUN), MMSA_SEEDS[:2], ("full", "positives_mean"), resources=ONE_CPU,
                        progress=False),
        "demo": Preset(dict(SHRUNK_FROZEN_TEXT, epochs=5, early_stop=5, synthetic_sizes=(240, 30, 90)),
                       MMSA_SEEDS[:3], ("full", "positives_mean"), executor="processes", resources=ONE_CPU),
        "paper": Preset({}, MMSA_SEEDS, ("full", "positives_mean")),
    },
}


def preset(name: str, profile: str | None = None) -> Preset:
    """The named preset (:data:`PRESETS`) for ``profile`` (default :func:`~amccl.config.default_profile`)."""
    if name not in PRESETS:
        raise KeyError(f"unknown preset {name!r}; expected one of {tuple(PRESETS)}")
    return PRESETS[name][profile or default_profile()]
