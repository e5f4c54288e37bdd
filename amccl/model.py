"""The AMCCL model (docs/model.md §2): encoders, unimodal vectors, skip gates, AMC fusion and head.

Attribute names are the reference's, so that its checkpoints load key for key (``amccl.compat``).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from amccl.config import AMCCLConfig
from amccl.encoders import SequenceEncoder, TextEncoder
from amccl.fusion import AMC, SkipGate

# Layout of the frozen-text cache rows: [CLS] state, mean over all Lt, mean over valid tokens.
TEXT_CLS, TEXT_MEAN_ALL, TEXT_MEAN_MASKED = 0, 1, 2
# Each modality's (dropout, W, skip gate) after its encoder, named as in the reference.
_HEAD_MODULES = {
    "text": ("post_text_dropout", "post_text_layer_1", "text_skip_net"),
    "audio": ("post_audio_dropout", "post_audio_layer_1", "audio_skip_net"),
    "vision": ("post_video_dropout", "post_video_layer_1", "video_skip_net"),
}


def masked_mean(x: Tensor, mask: Tensor) -> Tensor:
    """Mean of x (B, L, C) over positions where mask (B, L) is nonzero -> (B, C)."""
    weights = mask.to(x.dtype).unsqueeze(2)
    return (x * weights).sum(1) / weights.sum(1).clamp_min(1.0)


def length_mask(lengths: Tensor, length: int) -> Tensor:
    """(B, L) bool mask, True on valid steps (p < lengths[b])."""
    return torch.arange(length, device=lengths.device).unsqueeze(0) < lengths.unsqueeze(1)


class AMCCL(nn.Module):
    """AMCCL: text, audio and vision of a clip -> a sentiment score and aligned features.

    Args:
        cfg: an :class:`~amccl.config.AMCCLConfig`; H is read from the text encoder.
        text_config: a ``BertConfig`` to build the text encoder from, loading no pretrained files
            (a checkpoint's weights follow; :func:`amccl.compat.model_for_state`).

    Shape (see the package legend):
        - text: (B, 3, Lt) ids / attention mask / segment ids, float or int.
        - audio: (B, La', Da) with La' <= La; vision: (B, Lv', Dv) with Lv' <= Lv.
        - audio_lengths, vision_lengths: (B,) int true lengths, or None (= full length).
        - text_feats: optional (B, 3, H) frozen-text cache rows that replace the BERT pass.
        - returns the dict of docs/model.md §2.7: ``M`` (B, 1), ``Feature_t/a/v`` (B, d), ``Feature_f`` (B, 3f).

    With ``cfg.modalities`` a strict subset, a dropped modality's layers are built but never
    run; zeros (B, d) stand in for its h and g (docs/model.md §6). Its inputs are still checked.
    """

    def __init__(self, cfg: AMCCLConfig, text_config=None) -> None:
        super().__init__()
        self.cfg = cfg
        d, f = cfg.post_dim, cfg.post_fusion_dim
        # The reference's construction order (docs/model.md §8.2): one seed, its initial weights.
        self.text_model = TextEncoder(cfg.text_encoder, finetune=not cfg.freeze_text, config=text_config)
        hidden = self.text_model.hidden_size
        encoder_args = dict(layers=cfg.layers, ff_dim=cfg.encoder_ff_dim, dropout=cfg.encoder_dropout,
                            padding_mask=cfg.padding_mask)
        self.audio_model = SequenceEncoder(cfg.audio_dim, cfg.audio_heads, max_len=cfg.audio_len, **encoder_args)
        self.video_model = SequenceEncoder(cfg.vision_dim, cfg.vision_heads, max_len=cfg.vision_len, **encoder_args)

        _draw_unused(nn.Linear(3 * d, f))  # post_fusion_layer_1
        self.AMC = AMC(d, cfg.kernels, se=cfg.se, adaptive=cfg.adaptive_kernel_weights,
                       se_reduction=cfg.se_reduction) if cfg.fusion == "amc" else None
        fused = d if cfg.fusion == "amc" else 3 * d  # concat: [h_t, h_a, h_v]
        self.post_fusion_dropout = nn.Dropout(cfg.dropout_fusion)
        self.post_fusion_layer_skip_connection = nn.Linear(fused + 3 * d, 3 * f)
        self.post_fusion_layer_2 = nn.Linear(3 * f, 2 * f)
        self.post_fusion_layer_3 = nn.Linear(2 * f, 1)
        self.fusionBatchNorm = nn.BatchNorm1d(2 * f)

        self.text_skip_net = SkipGate(hidden, cfg.skip_net_reduction, d)
        self.post_text_layer_1 = nn.Linear(hidden, d)
        _draw_unused(nn.Linear(d, d))  # post_text_layer_2
        self.audio_skip_net = SkipGate(cfg.audio_dim, cfg.skip_net_reduction, d)
        self.post_audio_layer_1 = nn.Linear(cfg.audio_dim, d)
        _draw_unused(nn.Linear(d, d))  # post_audio_layer_2
        self.video_skip_net = SkipGate(cfg.vision_dim, cfg.skip_net_reduction, d)
        self.post_video_layer_1 = nn.Linear(cfg.vision_dim, d)
        _draw_unused(nn.Linear(d, d))  # post_video_layer_2
        self.post_text_dropout = nn.Dropout(cfg.dropout_unimodal)
        self.post_audio_dropout = nn.Dropout(cfg.dropout_unimodal)
        self.post_video_dropout = nn.Dropout(cfg.dropout_unimodal)

    # --- encoders ------------------------------------------------------------------------
    def text_summary(self, text: Tensor) -> Tensor:
        """The frozen-text cache rows (B, 3, H): [CLS], mean over all Lt, mean over valid tokens."""
        states = self.text_model(text)  # (B, Lt, H)
        mask = text[:, 1]
        return torch.stack([states[:, 0], states.mean(1), masked_mean(states, mask)], dim=1)

    # Each modality: its encoder, summarised as (last, pooled), then (h, g) from ``_vectors``.
    def _text_states(self, text: Tensor, text_feats: Tensor | None) -> tuple[Tensor, Tensor]:
        """([CLS] state, pooled mean), each (B, H); ``text_feats`` (B, 3, H) skips the BERT pass."""
        if text_feats is not None:
            return text_feats[:, TEXT_CLS], text_feats[:, TEXT_MEAN_MASKED if self.cfg.masked_means else TEXT_MEAN_ALL]
        states = self.text_model(text)  # (B, Lt, H)
        pooled = masked_mean(states, text[:, 1]) if self.cfg.masked_means else states.mean(1)
        return states[:, 0], pooled

    def _sequence_states(self, x: Tensor, lengths: Tensor | None, encoder: SequenceEncoder) -> tuple[Tensor, Tensor]:
        """(last step, pooled mean), each (B, D), of an audio or vision batch (B, L, D)."""
        states = encoder(x, lengths)  # (B, L, D)
        if lengths is not None and self.cfg.last_valid_step:
            index = (lengths.to(states.device).long() - 1).clamp(0, states.size(1) - 1)
            last = states[torch.arange(states.size(0), device=states.device), index]
        else:
            last = states[:, -1]  # quirk: padding for short clips
        if lengths is not None and self.cfg.masked_means:
            pooled = masked_mean(states, length_mask(lengths.to(states.device), states.size(1)))
        else:
            pooled = states.mean(1)  # quirk: padding included
        return last, pooled

    def _vectors(self, modality: str, summary: tuple[Tensor, Tensor]) -> tuple[Tensor, Tensor]:
        """(last, pooled) -> (h = ReLU(W drop(last)), g = gate(pooled)), each (B, d)."""
        dropout, layer, gate = (getattr(self, name) for name in _HEAD_MODULES[modality])
        last, pooled = summary
        return torch.relu(layer(dropout(last))), gate(pooled)

    def encode_text(self, text: Tensor, text_feats: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """Text -> (h_t, g_t), each (B, d). ``text_feats`` (B, 3, H) skips the BERT pass."""
        return self._vectors("text", self._text_states(text, text_feats))

    def encode_audio(self, audio: Tensor, lengths: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """Audio (B, La, Da) -> (h_a, g_a), each (B, d)."""
        return self._vectors("audio", self._sequence_states(audio, lengths, self.audio_model))

    def encode_vision(self, vision: Tensor, lengths: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """Vision (B, Lv, Dv) -> (h_v, g_v), each (B, d)."""
        return self._vectors("vision", self._sequence_states(vision, lengths, self.video_model))

    # --- fusion and head -----------------------------------------------------------------
    def fuse(self, h_t: Tensor, h_a: Tensor, h_v: Tensor) -> Tensor:
        """AMC over X = stack(h_t, h_a, h_v) (B, d, 3) -> (B, d); concat variant -> (B, 3d)."""
        if self.AMC is None:
            return torch.cat([h_t, h_a, h_v], dim=1)
        return self.AMC(torch.stack([h_t, h_a, h_v], dim=2))

    def head(self, fused: Tensor, gates: tuple[Tensor, Tensor, Tensor]) -> tuple[Tensor, Tensor]:
        """(fused, (g_t, g_a, g_v)) -> (M (B, 1), Feature_f (B, 3f))."""
        feature_f = self.post_fusion_layer_skip_connection(self.post_fusion_dropout(torch.cat([fused, *gates], 1)))
        hidden = self._batch_norm(torch.relu(self.post_fusion_layer_2(feature_f)))
        return self.post_fusion_layer_3(hidden), feature_f

    def _batch_norm(self, x: Tensor) -> Tensor:
        """fusionBatchNorm; a one-sample training batch uses the running statistics (docs/model.md §2.8)."""
        bn = self.fusionBatchNorm
        if self.training and x.size(0) == 1:
            return F.batch_norm(x, bn.running_mean, bn.running_var, bn.weight, bn.bias, False, 0.0, bn.eps)
        return bn(x)

    def forward(
        self, text: Tensor, audio: Tensor, vision: Tensor, audio_lengths: Tensor | None = None,
        vision_lengths: Tensor | None = None, text_feats: Tensor | None = None,
    ) -> dict[str, Tensor]:
        self._check_inputs(text, audio, vision, audio_lengths, vision_lengths, text_feats)
        encoders = {
            "text": lambda: self._text_states(text, text_feats),
            "audio": lambda: self._sequence_states(audio, audio_lengths, self.audio_model),
            "vision": lambda: self._sequence_states(vision, vision_lengths, self.video_model),
        }
        # the kept encoders run before any unimodal dropout (docs/model.md §8.5), in text, audio, vision order
        summaries = {m: encode() for m, encode in encoders.items() if m in self.cfg.modalities}
        vectors = {m: self._vectors(m, s) for m, s in summaries.items()}
        kept = next(iter(vectors.values()))  # zeros like a kept (h, g) stand in for a dropped one
        (h_t, g_t), (h_a, g_a), (h_v, g_v) = (vectors.get(m) or tuple(map(torch.zeros_like, kept)) for m in encoders)
        m, feature_f = self.head(self.fuse(h_t, h_a, h_v), (g_t, g_a, g_v))
        return {"M": m, "Feature_t": h_t, "Feature_a": h_a, "Feature_v": h_v, "Feature_f": feature_f}

    # --- checks --------------------------------------------------------------------------
    def _check_inputs(self, text, audio, vision, audio_lengths, vision_lengths, text_feats) -> None:
        cfg = self.cfg
        _check(text, "text", 3, {1: 3}, "(B, 3, Lt)")
        _check(audio, "audio", 3, {2: cfg.audio_dim}, f"(B, La<={cfg.audio_len}, {cfg.audio_dim})")
        _check(vision, "vision", 3, {2: cfg.vision_dim}, f"(B, Lv<={cfg.vision_len}, {cfg.vision_dim})")
        if audio.size(1) > cfg.audio_len or vision.size(1) > cfg.vision_len:
            raise ValueError(
                f"audio/vision longer than the config allows: audio {tuple(audio.shape)} "
                f"(La <= {cfg.audio_len}), vision {tuple(vision.shape)} (Lv <= {cfg.vision_len})"
            )
        batch = text.size(0)
        others = {"audio": audio, "vision": vision, "audio_lengths": audio_lengths,
                  "vision_lengths": vision_lengths, "text_feats": text_feats}
        for name, value in others.items():
            if value is not None and value.size(0) != batch:
                raise ValueError(f"{name}: batch size {value.size(0)} differs from text's {batch}")
        if text_feats is not None:
            _check(text_feats, "text_feats", 3, {1: 3, 2: self.text_model.hidden_size}, "(B, 3, H)")

    def extra_repr(self) -> str:
        c = self.cfg
        return (f"dataset={c.dataset}, d={c.post_dim}, f={c.post_fusion_dim}, fusion={c.fusion}, "
                f"dropout_fusion={c.dropout_fusion}, dropout_unimodal={c.dropout_unimodal}, "
                f"skip_net_reduction={c.skip_net_reduction}")


def _draw_unused(layer: nn.Module) -> None:
    """A layer the reference builds and never uses: built only for its initial draws (docs/model.md §8.2)."""
    del layer


def _check(x: Tensor, name: str, rank: int, sizes: dict[int, int], expected: str) -> None:
    if x.dim() != rank or any(x.size(dim) != size for dim, size in sizes.items()):
        raise ValueError(f"{name}: expected shape {expected}, got {tuple(x.shape)}")
