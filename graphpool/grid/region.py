"""Region pooling of images: :class:`graphpool.readout.RegionPool` on grid graphs."""

from __future__ import annotations

import torch
from torch import Tensor

from graphpool.grid.convert import check_feature_map, scaled_grid_positions
from graphpool.readout import RegionPool


def pool_image_regions(pool: RegionPool, x: Tensor) -> Tensor:
    """``[B, C, *S]`` -> ``[B, K, C]``: the regions of ``pool`` over positions scaled to [0, 1] per axis."""
    if not isinstance(pool, RegionPool):
        raise TypeError(f"pool_image_regions(pool, x): 'pool' must be a RegionPool, got {type(pool).__name__}")
    check_feature_map(x)
    shape = tuple(x.shape[2:])
    if len(shape) != pool.pos_channels:
        raise ValueError(
            f"the images have {len(shape)} spatial axes, but the pool was built for pos_channels = {pool.pos_channels}"
        )
    pos = scaled_grid_positions(shape, x.device, x.dtype).repeat(x.size(0), 1)
    nodes = x.flatten(2).transpose(1, 2).reshape(-1, x.size(1))
    batch = torch.arange(x.size(0), device=x.device).repeat_interleave(len(pos) // x.size(0))
    return pool(nodes, pos, batch, x.size(0))
