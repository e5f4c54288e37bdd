"""Unimodal encoders (docs/model.md §2.1-2.2): the BERT text encoder and the audio/vision transformers."""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor, nn

from amccl.bert import load_bert
from amccl.config import MINILM


class TextEncoder(nn.Module):
    """A pretrained BERT fed (ids, mask, segments); returns its last hidden states.

    Args:
        name: text encoder name or directory (see :func:`resolve_text_encoder`).
        finetune: ``False`` runs the BERT without gradients (``use_finetune=False``).
        config: a ``BertConfig``: build that architecture with random weights and find no
            files (a checkpoint's weights are loaded next; :func:`bert_config_from_state`).

    Shape:
        - text: (B, 3, Lt), rows ids / attention mask / segment ids, float or int.
        - output: (B, Lt, H).
    """

    def __init__(self, name: str = MINILM, finetune: bool = True, config: Any = None) -> None:
        super().__init__()
        if config is None:
            self.model = load_bert(name)
        else:
            from transformers import BertModel

            with torch.random.fork_rng(devices=[]):  # placeholder weights draw no seeded numbers
                self.model = BertModel(config)
        self.name = name
        self.finetune = finetune
        self.hidden_size: int = self.model.config.hidden_size

    def forward(self, text: Tensor) -> Tensor:
        ids, mask, segments = text[:, 0].long(), text[:, 1].float(), text[:, 2].long()
        if self.finetune:
            return self.model(input_ids=ids, attention_mask=mask, token_type_ids=segments)[0]
        with torch.no_grad():
            return self.model(input_ids=ids, attention_mask=mask, token_type_ids=segments)[0]

    def extra_repr(self) -> str:
        return f"hidden_size={self.hidden_size}, finetune={self.finetune}"


def sinusoidal_table(length: int, dim: int) -> Tensor:
    """Fixed positional table PE (1, L, D) of docs/model.md §2.2 (odd D: the last cos column dropped)."""
    position = torch.arange(length, dtype=torch.float32).unsqueeze(1)
    div = torch.exp(torch.arange(0, dim, 2, dtype=torch.float32) * (-math.log(10000.0) / dim))
    pe = torch.zeros(length, dim)
    pe[:, 0::2] = torch.sin(position * div)
    pe[:, 1::2] = torch.cos(position * div)[:, : dim // 2]
    return pe.unsqueeze(0)


class PositionalEncoding(nn.Module):
    """Adds the fixed sinusoidal table, no dropout. Shape: x (B, L, D) with L <= max_len -> (B, L, D)."""

    def __init__(self, dim: int, max_len: int) -> None:
        super().__init__()
        self.register_buffer("pe", sinusoidal_table(max_len, dim))

    def forward(self, x: Tensor) -> Tensor:
        return x + self.pe[:, : x.size(1)]


class SequenceEncoder(nn.Module):
    """Audio or vision encoder: x + PE, then a post-norm ``nn.TransformerEncoder`` (docs/model.md §2.2).

    ``padding_mask=True`` masks frames at or after ``lengths`` as keys (default: no mask, as the
    reference).

    Args:
        dim: D. heads: attention heads (must divide D). layers: encoder layers.
        max_len: L of the dataset. ff_dim, dropout: as ``nn.TransformerEncoderLayer``.

    Shape:
        - x: (B, L, D); lengths: (B,) int, true lengths (used only with padding_mask).
        - output: (B, L, D).
    """

    def __init__(
        self, dim: int, heads: int, layers: int, max_len: int, ff_dim: int = 2048,
        dropout: float = 0.1, padding_mask: bool = False,
    ) -> None:
        super().__init__()
        if dim % heads:
            raise ValueError(f"feature size {dim} is not divisible by {heads} attention heads")
        self.position_embbeding = PositionalEncoding(dim, max_len)  # (sic) the reference's name
        layer = nn.TransformerEncoderLayer(
            dim, heads, dim_feedforward=ff_dim, dropout=dropout, activation="relu",
            batch_first=True,
        )
        # enable_nested_tensor=False: the nested fast path would zero padded outputs in
        # eval mode only, so train and eval would treat padding differently.
        self.transformer_encoder = nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)
        self.dim, self.heads, self.layers, self.padding_mask = dim, heads, layers, padding_mask

    def forward(self, x: Tensor, lengths: Tensor | None = None) -> Tensor:
        x = self.position_embbeding(x)
        mask = None
        if self.padding_mask and lengths is not None:
            steps = torch.arange(x.size(1), device=x.device)
            mask = steps.unsqueeze(0) >= lengths.to(x.device).unsqueeze(1)  # (B, L), True = pad
        return self.transformer_encoder(x, src_key_padding_mask=mask)

    def extra_repr(self) -> str:
        return f"dim={self.dim}, heads={self.heads}, layers={self.layers}, padding_mask={self.padding_mask}"
