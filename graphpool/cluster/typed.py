r"""Pooling by a given node type, in a fixed layout: one readout per (graph, type), side by side.

.. math::
    z_b = \big[\rho(\{h_i : i \in b, t_i = 1\}) \,\|\, \dots \,\|\, \rho(\{h_i : i \in b, t_i = T\})\big]
    \in \mathbb{R}^{T F'}

Types absent from a graph give zeros, so every graph has the same layout and a linear head on
``z`` learns one weight vector per type: for cell graphs, "what do the macrophages of this
tissue look like" is a separate input from "what do its tumour cells look like".
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from graphpool.cluster.select.labels import LabelSelect
from graphpool.ops import segments_from
from graphpool.ops.ranges import Range
from graphpool.readout import Readout, resolve


class TypePool(nn.Module):
    """``forward(x [N, F], batch [N], num_graphs, labels [N]) -> [B, T * F']`` (a readout per type).

    ``readout`` is any readout ``resolve`` reads; ``in_channels`` (F) builds one with weights of that width
    (``"attention"``).

    >>> import torch
    >>> pool = TypePool(3, "mean")
    >>> x = torch.tensor([[1.0], [3.0], [10.0]])
    >>> pool(x, torch.zeros(3, dtype=torch.long), 1, labels=torch.tensor([0, 0, 2]))
    tensor([[ 2.,  0., 10.]])
    """

    def __init__(self, num_types: int, readout: Any = "mean", in_channels: int | None = None) -> None:
        super().__init__()
        Range(1, whole=True).check("num_types", num_types)
        self.select = LabelSelect(num_labels=num_types)
        self.readout: Readout = resolve(readout, in_channels=in_channels)  # F, for a readout with weights
        self.num_types = num_types

    def get_out_channels(self, in_channels: int) -> int:
        return self.num_types * self.readout.get_out_channels(in_channels)

    def forward(self, x: Tensor, batch: Tensor, num_graphs: int, labels: Tensor | None = None) -> Tensor:
        segments_from(x.size(0), batch, None, num_graphs, device=x.device, index_name="batch")  # checks batch
        assignment = self.select(x, x.new_zeros(2, 0, dtype=torch.long), batch, num_graphs, labels=labels)
        return self.readout(x, assignment.cluster, dim_size=assignment.num_clusters).view(num_graphs, -1)
