r"""Region (mask) pooling: K learnable soft masks over positions, one pooled vector per region.

.. math::
    o_{bk} = \frac{\sum_{i \in V_b} m_k(p_i)\, x_i}{\sum_{i \in V_b} m_k(p_i)}, \qquad
    m_k(p) = \sigma(\mathrm{MLP}(p))_k \in (0, 1)

The masks are functions of node positions ``p`` (pixel coordinates scaled to [0, 1], or cell
coordinates), so they apply to any input size. Each region is a weighted mean
(:class:`~graphpool.readout.WeightedReadout`).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from graphpool.grid.convert import scaled_grid_positions
from graphpool.readout import WeightedReadout


class RegionPool(nn.Module):
    """K soft regions; ``forward(x [N, C], pos [N, D], batch) -> [B, K, C]``; ``pool_image`` for ``[B, C, *S]``."""

    def __init__(self, num_regions: int, pos_channels: int = 2, hidden: int = 32) -> None:
        super().__init__()
        if num_regions < 1:
            raise ValueError(f"'num_regions' must be >= 1, got {num_regions}")
        self.num_regions = num_regions
        self.mask = nn.Sequential(nn.Linear(pos_channels, hidden), nn.Tanh(), nn.Linear(hidden, num_regions))
        self.readout = WeightedReadout()

    def masks(self, pos: Tensor) -> Tensor:
        """``[N, K]`` soft membership of every node in every region."""
        return torch.sigmoid(self.mask(pos))

    def forward(self, x: Tensor, pos: Tensor, batch: Tensor | None = None, num_graphs: int | None = None) -> Tensor:
        if pos.dim() != 2 or pos.size(0) != x.size(0):
            raise ValueError(f"'pos' must be [N, D] with N = {x.size(0)}, got shape {tuple(pos.shape)}")
        masks = self.masks(pos.to(x.dtype))
        regions = [self.readout(x, batch, dim_size=num_graphs, weight=masks[:, k]) for k in range(self.num_regions)]
        return torch.stack(regions, dim=1)

    def pool_image(self, x: Tensor) -> Tensor:
        """``[B, C, *S]`` -> ``[B, K, C]`` with positions scaled to [0, 1] per axis."""
        shape = tuple(x.shape[2:])
        pos = scaled_grid_positions(shape, x.device, x.dtype).repeat(x.size(0), 1)
        nodes = x.flatten(2).transpose(1, 2).reshape(-1, x.size(1))
        batch = torch.arange(x.size(0), device=x.device).repeat_interleave(len(pos) // x.size(0))
        return self(nodes, pos, batch, x.size(0))
