r"""Squeeze-and-Excitation for graphs (Hu et al., CVPR 2018): per-graph channel gates from a readout.

Squeeze: a readout per graph gives one vector :math:`\mathbf{z}_b \in \mathbb{R}^C`.
Excite: per-channel gates :math:`\mathbf{g}_b = \sigma(W_2\,\mathrm{ReLU}(W_1 \mathbf{z}_b))`.
Scale: every node of graph b is multiplied by :math:`\mathbf{g}_b`. The image block
(:class:`graphpool.grid.SqueezeExcite`) is this block on grid graphs.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from graphpool.ops.ranges import Range
from graphpool.readout.resolver import resolve


class GraphSqueezeExcite(nn.Module):
    """Per-graph channel gates from a readout (default mean), broadcast back to that graph's nodes.

    ``forward(x [N, C], batch [N], num_graphs=None) -> [N, C]``.

    Args:
        channels: C.
        reduction: the hidden width of the excitation MLP is ``C // reduction``.
        readout: the squeeze, any readout or name (``"mean"`` is the original block).

    >>> import torch
    >>> from graphpool.readout import GraphSqueezeExcite
    >>> block = GraphSqueezeExcite(channels=16, readout="mean+max")
    >>> block(torch.randn(5, 16), torch.tensor([0, 0, 0, 1, 1])).shape  # the nodes, each scaled by its graph's gates
    torch.Size([5, 16])
    """

    def __init__(self, channels: int, reduction: int = 4, readout: Any = "mean") -> None:
        super().__init__()
        Range(1, whole=True).check("channels", channels)
        Range(1, whole=True).check("reduction", reduction)
        self.readout, self.channels = resolve(readout, in_channels=channels), channels  # (attention: its width)
        hidden = max(1, channels // reduction)
        self.excite = nn.Sequential(
            nn.Linear(self.readout.get_out_channels(channels), hidden), nn.ReLU(), nn.Linear(hidden, channels)
        )

    def check_width(self, width: int) -> None:
        """A ``ValueError`` unless the features have the ``channels`` the block was built for."""
        if width != self.channels:
            raise ValueError(f"'x' has {width} channels, but this block was built for channels={self.channels}")

    def gates(self, squeezed: Tensor) -> Tensor:
        """``[B, C'] -> [B, C]`` gates in (0, 1) from the squeezed vectors."""
        return torch.sigmoid(self.excite(squeezed))

    def forward(self, x: Tensor, batch: Tensor | None = None, num_graphs: int | None = None) -> Tensor:
        self.check_width(x.size(-1))
        if batch is None:
            batch = torch.zeros(x.size(0), dtype=torch.long, device=x.device)
        gate = self.gates(self.readout(x, batch, dim_size=num_graphs))  # [B, C]
        return x * gate[batch]
