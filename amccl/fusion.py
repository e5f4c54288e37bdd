"""Fusion blocks: the skip gates, the SE block and Adaptive Multi-Scale Convolution (docs/model.md §2.4-2.5)."""

from __future__ import annotations

import torch
from torch import Tensor, nn


def kernel_channels(d: int, n: int) -> list[int]:
    """Output channels of n branches that add up to d: branch i gets d // n + (i < d % n)."""
    return [d // n + (i < d % n) for i in range(n)]


class SkipGate(nn.Module):
    """A modality's skip gate ``g = Sigmoid(W2 · ReLU(W1 · pooled))`` (docs/model.md §2.4).

    Args: channels C (H, Da or Dv); reduction r (W1: C -> C // r); out_dim d.
    Shape: pooled (B, C) -> (B, d), values in (0, 1).
    """

    def __init__(self, channels: int, reduction: int, out_dim: int) -> None:
        super().__init__()
        hidden = channels // reduction
        if hidden < 1:
            raise ValueError(f"skip gate: {channels} channels // reduction {reduction} is 0")
        self.channels, self.reduction, self.out_dim = channels, reduction, out_dim
        self.fc = nn.Sequential(
            nn.Linear(channels, hidden), nn.ReLU(inplace=True),
            nn.Linear(hidden, out_dim, bias=False), nn.Sigmoid(),
        )

    def forward(self, pooled: Tensor) -> Tensor:
        return self.fc(pooled)

    def extra_repr(self) -> str:
        return f"channels={self.channels}, reduction={self.reduction}, out_dim={self.out_dim}"


class SEBlock(nn.Module):
    """Squeeze-and-excitation over channels (docs/model.md §2.5). Shape: x (B, d, P) -> (B, d, P)."""

    def __init__(self, channels: int, reduction: int = 16) -> None:
        super().__init__()
        hidden = channels // reduction
        if hidden < 1:
            raise ValueError(f"SE block: post_dim {channels} // {reduction} is 0; use post_dim >= {reduction}")
        self.channels, self.reduction = channels, reduction
        self.fc = nn.Sequential(
            nn.Linear(channels, hidden), nn.ReLU(inplace=True), nn.Linear(hidden, channels), nn.Sigmoid(),
        )

    def forward(self, x: Tensor) -> Tensor:
        scale = self.fc(x.mean(dim=2))  # (B, d)
        return x * scale.unsqueeze(2)

    def extra_repr(self) -> str:
        return f"channels={self.channels}, reduction={self.reduction}"


class AMC(nn.Module):
    """Adaptive Multi-Scale Convolution over the three modality vectors (docs/model.md §2.5).

    Args:
        dim: d. kernels: branch kernel sizes, (1, 3, 5) in the paper.
        se: use the SE block. adaptive: learn per-sample weights (False: fixed 1/n each).
        se_reduction: the SE block's reduction (16).

    Shape: x (B, d, 3) -> (B, d). ``last_weights`` holds the latest (B, n) kernel weights.
    """

    def __init__(
        self, dim: int, kernels: tuple[int, ...] = (1, 3, 5), se: bool = True,
        adaptive: bool = True, se_reduction: int = 16,
    ) -> None:
        super().__init__()
        self.dim, self.kernels, self.adaptive = dim, tuple(kernels), adaptive
        self.kernel_size_predictor = nn.Sequential(
            nn.AdaptiveAvgPool1d(1), nn.Flatten(), nn.Linear(dim, len(kernels)), nn.Softmax(dim=1),
        ) if adaptive else None
        for k, channels in zip(self.kernels, kernel_channels(dim, len(kernels))):
            self.add_module(f"conv{k}", nn.Conv1d(dim, channels, k, padding=k // 2))
        self.se_block = SEBlock(dim, se_reduction) if se else None
        self.last_weights: Tensor | None = None

    def kernel_weights(self, x: Tensor) -> Tensor:
        """Per-sample branch weights (B, n), rows summing to 1."""
        if self.kernel_size_predictor is not None:
            return self.kernel_size_predictor(x)
        return x.new_full((x.size(0), len(self.kernels)), 1.0 / len(self.kernels))

    def forward(self, x: Tensor) -> Tensor:
        weights = self.kernel_weights(x)  # (B, n)
        self.last_weights = weights.detach()
        branches = [
            getattr(self, f"conv{k}")(x) * weights[:, i].view(-1, 1, 1)  # (B, c_k, 3)
            for i, k in enumerate(self.kernels)
        ]
        out = torch.cat(branches, dim=1)  # (B, d, 3)
        if self.se_block is not None:
            out = self.se_block(out)
        return out.mean(dim=2)

    def extra_repr(self) -> str:
        return f"dim={self.dim}, kernels={self.kernels}, adaptive={self.adaptive}, se={self.se_block is not None}"
