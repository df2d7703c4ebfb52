r"""Region (mask) pooling: K learnable soft masks over node positions, one pooled vector per region.

.. math::
    \mathbf{o}_{bk} = \frac{\sum_{i \in V_b} m_k(\mathbf{p}_i)\, \mathbf{x}_i}{\sum_{i \in V_b} m_k(\mathbf{p}_i)},
    \qquad m_k(\mathbf{p}) = \sigma(\mathrm{MLP}(\mathbf{p}))_k \in (0, 1)

The masks are functions of node positions ``p`` (cell coordinates, or pixel coordinates
scaled to [0, 1]: :func:`graphpool.grid.pool_image_regions`), so they apply to any graph or
image size. Each region is a weighted mean (:class:`~graphpool.readout.WeightedReadout`).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from graphpool.ops.ranges import Range
from graphpool.ops.validation import check_finite_rows
from graphpool.readout.means import WeightedReadout


class RegionPool(nn.Module):
    """K soft regions; ``forward(x [N, C], pos [N, D], batch [N], num_graphs) -> [B, K, C]``.

    Args:
        num_regions: K.
        pos_channels: D, the width of the positions.
        hidden: the width of the mask MLP ``D -> hidden -> K``.

    >>> import torch
    >>> from graphpool.readout import RegionPool
    >>> pool = RegionPool(num_regions=3, pos_channels=2)
    >>> x, pos, batch = torch.randn(5, 16), torch.rand(5, 2), torch.tensor([0, 0, 0, 1, 1])
    >>> pool(x, pos, batch, num_graphs=2).shape  # the weighted mean of every region of every graph
    torch.Size([2, 3, 16])
    """

    def __init__(self, num_regions: int, pos_channels: int = 2, hidden: int = 32) -> None:
        super().__init__()
        for name, size in (("num_regions", num_regions), ("pos_channels", pos_channels), ("hidden", hidden)):
            Range(1, whole=True).check(name, size)
        self.num_regions, self.pos_channels = num_regions, pos_channels
        self.mask = nn.Sequential(nn.Linear(pos_channels, hidden), nn.Tanh(), nn.Linear(hidden, num_regions))
        self.readout = WeightedReadout()

    def masks(self, pos: Tensor) -> Tensor:
        """``[N, K]`` soft membership of every node in every region."""
        return torch.sigmoid(self.mask(pos))

    def forward(self, x: Tensor, pos: Tensor, batch: Tensor | None = None, num_graphs: int | None = None) -> Tensor:
        if pos.dim() != 2 or pos.size(0) != x.size(0):
            raise ValueError(f"'pos' must be [N, D] with N = {x.size(0)}, got shape {tuple(pos.shape)}")
        if pos.size(1) != self.pos_channels:
            raise ValueError(
                f"'pos' has {pos.size(1)} columns, but the pool was built for pos_channels = {self.pos_channels}"
            )
        check_finite_rows("pos", pos)  # (the error would otherwise name the masks' weights made of them)
        masks = self.masks(pos.to(x.dtype))
        regions = [self.readout(x, batch, dim_size=num_graphs, weight=masks[:, k]) for k in range(self.num_regions)]
        return torch.stack(regions, dim=1)
