r"""Squeeze-and-Excitation (Hu et al., CVPR 2018) for ``[B, C, *S]`` feature maps.

The graph block (:class:`graphpool.readout.GraphSqueezeExcite`) on grid graphs: the squeeze
is the readout of each image's grid graph (:func:`~graphpool.grid.pool_grid`, ``x.mean``
for the mean), the gates scale every pixel of the image.
"""

from __future__ import annotations

from torch import Tensor

from graphpool.grid.convert import check_feature_map
from graphpool.grid.pool import pool_grid
from graphpool.readout import GraphSqueezeExcite


class SqueezeExcite(GraphSqueezeExcite):
    """SE block for ``[B, C, *S]`` feature maps (1D, 2D or 3D); the squeeze is any readout (default mean).

    Same parameters (and state dict) as :class:`~graphpool.readout.GraphSqueezeExcite`.
    """

    def forward(self, x: Tensor) -> Tensor:  # type: ignore[override]
        check_feature_map(x)
        self.check_width(x.size(1))
        gate = self.gates(pool_grid(x, self.readout))  # [B, C]
        return x * gate.view(*gate.shape, *([1] * (x.dim() - 2)))
