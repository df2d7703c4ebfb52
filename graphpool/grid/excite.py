r"""Squeeze-and-Excitation (Hu et al., CVPR 2018) for images and its graph twin.

Squeeze: a readout per image (graph) gives one vector :math:`z_b \in \mathbb{R}^C`.
Excite: per-channel gates :math:`g_b = \sigma(W_2\,\mathrm{ReLU}(W_1 z_b))`. Scale:
every pixel (node) of image (graph) b is multiplied by :math:`g_b`.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from graphpool.grid.pool import pool_grid
from graphpool.readout import resolve


class _Gates(nn.Module):
    def __init__(self, channels: int, reduction: int, readout: Any) -> None:
        super().__init__()
        if channels < 1 or reduction < 1:
            raise ValueError(f"'channels' and 'reduction' must be >= 1, got {channels} and {reduction}")
        self.readout = resolve(readout)
        hidden = max(1, channels // reduction)
        self.excite = nn.Sequential(
            nn.Linear(self.readout.out_channels(channels), hidden), nn.ReLU(), nn.Linear(hidden, channels)
        )

    def gates(self, squeezed: Tensor) -> Tensor:
        return torch.sigmoid(self.excite(squeezed))


class SqueezeExcite(_Gates):
    """SE block for ``[B, C, *S]`` feature maps (1D, 2D or 3D); the squeeze is any readout (default mean)."""

    def __init__(self, channels: int, reduction: int = 4, readout: Any = "mean") -> None:
        super().__init__(channels, reduction, readout)

    def forward(self, x: Tensor) -> Tensor:
        gate = self.gates(pool_grid(x, self.readout))  # [B, C]
        return x * gate.view(*gate.shape, *([1] * (x.dim() - 2)))


class GraphSqueezeExcite(_Gates):
    """The graph twin: per-graph channel gates from a readout, broadcast back to that graph's nodes.

    ``forward(x [N, C], batch [N], num_graphs=None) -> [N, C]``.
    """

    def __init__(self, channels: int, reduction: int = 4, readout: Any = "mean") -> None:
        super().__init__(channels, reduction, readout)

    def forward(self, x: Tensor, batch: Tensor | None = None, num_graphs: int | None = None) -> Tensor:
        if batch is None:
            batch = torch.zeros(x.size(0), dtype=torch.long, device=x.device)
        gate = self.gates(self.readout(x, batch, dim_size=num_graphs))  # [B, C]
        return x * gate[batch]
