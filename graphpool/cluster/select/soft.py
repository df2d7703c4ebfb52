r"""Learnable soft assignment: :math:`S = \mathrm{softmax}(\mathrm{assign}(X) / \tau)`, one selector for every soft pooler.

DiffPool, MinCut, DMoN, JustBalance, the asymmetric Cheeger cut and the plain soft pool share it; they differ
only in their losses (:mod:`graphpool.cluster.losses`) and in how the coarse graph is normalised.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from graphpool.cluster.assignment import Assignment
from graphpool.cluster.layers import call_layer
from graphpool.cluster.select.base import Select
from graphpool.ops.ranges import Range
from graphpool.ops.validation import check_finite_rows


class SoftSelect(Select):
    r"""Soft assignment to K clusters per graph: :math:`S = \mathrm{softmax}(\mathrm{dropout}(\mathrm{assign}(X)) / \tau)`.

    Args:
        in_channels: F, the width of the node features.
        num_clusters: K per graph.
        assign: the module producing the ``[N, K]`` scores; default an MLP
            ``Linear(F, hidden) - ReLU - Linear(hidden, K)`` with ``hidden`` units, or one
            ``Linear(F, K)`` when ``hidden`` is 0. A PyG ``MessagePassing`` layer is called with
            ``edge_index`` (and ``edge_weight`` when it takes one), so the assignment can see the structure.
        hidden: width of the default MLP's hidden layer (0: a linear layer).
        temperature: :math:`\tau > 0` (MinCut's ``temp``); lower gives harder assignments.
        dropout: dropout on the scores before the softmax while training (DMoN's).
    """

    soft = True
    inputs = ("edge_attr",)  # for an ``assign`` layer that reads edge features (GINEConv)

    def __init__(
        self,
        in_channels: int,
        num_clusters: int,
        assign: nn.Module | None = None,
        *,
        hidden: int = 0,
        temperature: float = 1.0,
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        Range(1, whole=True).check("num_clusters", num_clusters)
        Range(1, whole=True).check("in_channels", in_channels)
        if not temperature > 0:
            raise ValueError(f"'temperature' must be > 0, got {temperature}")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"'dropout' must be in [0, 1), got {dropout}")
        Range(0, whole=True).check("hidden", hidden)
        if assign is None:
            assign = (
                nn.Sequential(nn.Linear(in_channels, hidden), nn.ReLU(), nn.Linear(hidden, num_clusters))
                if hidden
                else nn.Linear(in_channels, num_clusters)
            )
        self.in_channels, self.num_clusters = in_channels, num_clusters
        self.temperature, self.dropout = temperature, dropout
        self.assign = assign

    def logits(
        self, x: Tensor, edge_index: Tensor, edge_weight: Tensor | None = None, edge_attr: Tensor | None = None
    ) -> Tensor:
        """``[N, K]`` unnormalised assignment scores."""
        out = call_layer(self.assign, x, edge_index, edge_weight, edge_attr)
        if out.dim() != 2 or out.size(1) != self.num_clusters:
            raise ValueError(f"the assignment module must return [N, {self.num_clusters}], got {tuple(out.shape)}")
        return out

    def forward(  # type: ignore[override]
        self,
        x: Tensor,
        edge_index: Tensor,
        batch: Tensor,
        num_graphs: int,
        edge_weight: Tensor | None = None,
        edge_attr: Tensor | None = None,
    ) -> Assignment:
        if x.dim() != 2 or x.size(1) != self.in_channels:
            raise ValueError(
                f"'x' has {x.size(-1)} features, but this pool was built for in_channels={self.in_channels}"
            )
        if not x.is_floating_point():  # the assignment is an MLP of x
            raise ValueError(f"'x' has dtype {x.dtype}; a soft pool needs floating-point features: x.float()")
        check_finite_rows("x", x)  # the error would otherwise name the assignment computed from it
        scores = F.dropout(self.logits(x, edge_index, edge_weight, edge_attr), self.dropout, training=self.training)
        return Assignment.from_soft(torch.softmax(scores / self.temperature, dim=-1), batch, num_graphs)
