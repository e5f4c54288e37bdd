"""The optimizer and schedule of docs/model.md §4: AdamW over five parameter groups, cosine with warm-up."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from amccl.config import AMCCLConfig

GROUPS = ("bert_decay", "bert_no_decay", "audio", "video", "other")
BERT_PREFIX = "text_model."  # the reference groups model.Model.text_model's parameters
NO_DECAY = ("bias", "LayerNorm.bias", "LayerNorm.weight")


def parameter_groups(model: nn.Module, cfg: AMCCLConfig) -> list[dict[str, Any]]:
    """The five AdamW groups of docs/model.md §4 in :data:`GROUPS` order (``name``, ``names``,
    ``params``, ``lr``, ``weight_decay``), without parameters that need no grad (a frozen BERT)."""
    settings = {"bert_decay": (cfg.lr_bert, cfg.wd_bert), "bert_no_decay": (cfg.lr_bert, 0.0),
                "audio": (cfg.lr_audio, cfg.wd_audio), "video": (cfg.lr_video, cfg.wd_video),
                "other": (cfg.lr_other, cfg.wd_other)}
    groups = {g: {"name": g, "names": [], "params": [], "lr": lr, "weight_decay": wd}
              for g, (lr, wd) in settings.items()}
    for name, param in model.named_parameters():
        if not param.requires_grad:
            continue
        group = {"audio_model": "audio", "video_model": "video"}.get(name.split(".", 1)[0], "other")
        if name.startswith(BERT_PREFIX):
            group = "bert_no_decay" if any(nd in name for nd in NO_DECAY) else "bert_decay"
        groups[group]["names"].append(name)
        groups[group]["params"].append(param)
    return [groups[g] for g in GROUPS]


def build_optimizer(model: nn.Module, cfg: AMCCLConfig, total_steps: int):
    """``(optimizer, scheduler)`` of docs/model.md §4 for ``model`` (not a compiled wrapper) over
    ``total_steps`` (batches per epoch × ``cfg.epochs``). ``foreach=True``: the per-parameter loop's
    weights bit for bit, faster."""
    from transformers import get_cosine_schedule_with_warmup

    optimizer = torch.optim.AdamW(parameter_groups(model, cfg), foreach=True)
    return optimizer, get_cosine_schedule_with_warmup(optimizer, int(cfg.warmup_ratio * total_steps), total_steps)
