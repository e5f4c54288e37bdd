"""Read checkpoints written by the paper's official code (layout: docs/model.md, appendix).

Their keys are ours with a ``Model.`` prefix, plus layers the forward pass never reads. The BERT
is built from the checkpoint's tensor shapes, so no pretrained encoder directory is needed.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping

import torch
from torch import Tensor

from amccl.bert import BERT_PREFIX, bert_config_from_state
from amccl.config import AMCCLConfig
from amccl.model import AMCCL

PREFIX = "Model."
# Keys the reference holds but never reads (docs/model.md §2, appendix), and the BERT
# position-id buffer some transformers versions store in state dicts.
UNUSED_KEY = re.compile(
    r"^(post_fusion_layer_1\.|skip_connection_BatchNorm\.|post_(text|audio|video)_layer_2\."
    r"|(audio|video)_model\.encoder_layer\.|text_model\.model\.embeddings\.position_ids$)"
)


class CheckpointMismatch(ValueError):
    """A state dict does not fit the model built from the config; the message lists keys."""


def _is_reference(state: object) -> bool:
    """True for a non-empty dict whose keys all carry the reference wrapper's ``Model.`` prefix."""
    return isinstance(state, Mapping) and bool(state) and all(str(k).startswith(PREFIX) for k in state)


def load_state_checked(model: AMCCL, state: Mapping[str, Tensor], source: str = "state dict") -> AMCCL:
    """Load ``state`` into ``model``; any missing, unexpected or mis-shaped key raises.

    Raises:
        CheckpointMismatch: naming ``source`` and listing the keys of each kind.
    """
    own = model.state_dict()
    problems = {"missing": sorted(set(own) - set(state)), "unexpected": sorted(set(state) - set(own)),
                "mis-shaped": sorted(f"{k}: checkpoint {tuple(state[k].shape)}, model {tuple(own[k].shape)}"
                                     for k in set(own) & set(state) if state[k].shape != own[k].shape)}
    if any(problems.values()):
        lines = [f"{source} does not fit the model built from the config (dataset={model.cfg.dataset}, "
                 f"text_encoder={model.cfg.text_encoder}, post_dim={model.cfg.post_dim}):"]
        lines += [f"  {title} ({len(keys)}): " + ", ".join(keys[:20]) + (" ..." if len(keys) > 20 else "")
                  for title, keys in problems.items() if keys]
        raise CheckpointMismatch("\n".join(lines))
    model.load_state_dict(state, strict=True)
    return model


def model_for_state(cfg: AMCCLConfig, state: Mapping[str, Tensor], heads: int | None = None) -> AMCCL:
    """An :class:`AMCCL` (random weights) shaped to receive ``state``, its BERT from ``state``'s tensors."""
    if BERT_PREFIX + "embeddings.word_embeddings.weight" not in state:
        return AMCCL(cfg)
    try:
        config = bert_config_from_state(state, heads=heads, name=cfg.text_encoder)
    except (KeyError, ValueError) as err:
        raise CheckpointMismatch(f"the text encoder's weights are incomplete: {err}") from err
    return AMCCL(cfg, text_config=config)


def model_from_checkpoint(obj: Mapping, cfg: AMCCLConfig, source: str = "checkpoint") -> AMCCL:
    """The model (eval mode, CPU) held by a loaded checkpoint ``obj``, without the pretrained encoder.

    Args:
        obj: what ``torch.load`` returned: our ``best.pt`` / ``last.pt`` dict (``format``,
            ``model``, ``meta``), an official-code state dict (``Model.*`` keys) or a bare
            state dict of :class:`AMCCL`.
        cfg: the config to build the model from (dataset sizes, d, f).
        source: named in errors (the file path).

    Raises:
        CheckpointMismatch: a key is missing, unexpected or mis-shaped.
        ValueError: ``obj`` is none of the three.
    """
    heads = None
    if isinstance(obj, Mapping) and "model" in obj and "format" in obj:
        state = obj["model"]
        heads = ((obj.get("meta") or {}).get("encoder") or {}).get("heads")
    elif _is_reference(obj):  # strip Model. and drop the layers the reference never reads
        state = {k[len(PREFIX):]: v for k, v in obj.items() if not UNUSED_KEY.match(k[len(PREFIX):])}
    elif isinstance(obj, Mapping) and obj and all(isinstance(v, Tensor) for v in obj.values()):
        state = dict(obj)
    else:
        raise ValueError(f"{source} is neither an amccl checkpoint nor a model state dict")
    model = load_state_checked(model_for_state(cfg, state, heads), state, source=source)
    return model.eval()


def load_reference_checkpoint(path: str | os.PathLike, cfg: AMCCLConfig) -> AMCCL:
    """The model (eval mode) holding the weights the paper's code saved in ``path``
    (``torch.save(model.state_dict())``), built from ``cfg``, the config it was trained with.

    Raises:
        CheckpointMismatch: a key other than the unused reference layers is missing,
            unexpected or mis-shaped.
    """
    state = torch.load(path, map_location="cpu", weights_only=True)
    if not _is_reference(state):
        raise CheckpointMismatch(f"{path}: not an official-code state dict (keys do not start with {PREFIX!r}); "
                                 "load our own checkpoints with amccl.checkpoint.load_model")
    return model_from_checkpoint(state, cfg, source=str(path))
