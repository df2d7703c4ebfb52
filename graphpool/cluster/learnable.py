r"""Learnable soft selectors: DiffPool, MinCut and DMoN, sparse (no dense N x N adjacency).

Each is a small module mapping node features to assignment logits (a linear layer by
default; pass any module, a PyG ``MessagePassing`` layer included). Calling it returns a
:class:`SoftSelection`: the assignment, the pooled cluster features and coarse graph, and
the auxiliary losses to add to the training loss.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch_geometric.nn import MessagePassing

from graphpool.cluster.select import Select
from graphpool.cluster.soft import (
    SoftAssignment,
    dense_to_edges,
    diffpool_losses,
    dmon_losses,
    mincut_losses,
    normalized_coarse_adjacency,
    soft_pool,
)
from graphpool.ops import segments_from


@dataclass(frozen=True)
class SoftSelection:
    """Output of a learnable selector.

    Attributes:
        assignment: the soft assignment ``S``.
        x: ``[B * K, F]`` cluster features (``S^T X`` per graph).
        edge_index, edge_weight: the coarse graph over the B*K clusters.
        batch: ``[B * K]`` graph of each cluster.
        aux_loss: auxiliary losses by name.
    """

    assignment: SoftAssignment
    x: Tensor
    edge_index: Tensor
    edge_weight: Tensor
    batch: Tensor
    aux_loss: dict[str, Tensor]


class _SoftSelect(Select):
    soft = True

    def __init__(self, in_channels: int, num_clusters: int, assign: nn.Module | None = None) -> None:
        super().__init__()
        if num_clusters < 1:
            raise ValueError(f"'num_clusters' must be >= 1, got {num_clusters}")
        if in_channels < 1:
            raise ValueError(f"'in_channels' must be >= 1, got {in_channels}")
        self.num_clusters = num_clusters
        self.assign = assign if assign is not None else nn.Linear(in_channels, num_clusters)

    def logits(self, x: Tensor, edge_index: Tensor) -> Tensor:
        """``[N, K]`` unnormalised assignment scores."""
        out = self.assign(x, edge_index) if isinstance(self.assign, MessagePassing) else self.assign(x)
        if out.dim() != 2 or out.size(1) != self.num_clusters:
            raise ValueError(f"the assignment module must return [N, {self.num_clusters}], got {tuple(out.shape)}")
        return out

    def _select(
        self, x: Tensor, edge_index: Tensor, batch: Tensor, num_graphs: int, edge_weight: Tensor | None, s: Tensor
    ) -> tuple[SoftAssignment, Any, Any]:
        # a graph without nodes gets K clusters with zero features and no edges (as PyG's dense pools)
        seg = segments_from(x.size(0), batch, None, num_graphs, device=x.device, index_name="batch")
        pooled = soft_pool(x, edge_index, s, seg, edge_weight)
        return SoftAssignment(s, seg.index, seg.num_segments), pooled, seg

    def _selection(
        self, assignment: SoftAssignment, x: Tensor, adj: Tensor, losses: dict[str, Tensor]
    ) -> SoftSelection:
        edge_index, edge_weight = dense_to_edges(adj)
        return SoftSelection(assignment, x.flatten(0, 1), edge_index, edge_weight, assignment.cluster_batch, losses)


class DiffPoolSelect(_SoftSelect):
    r"""DiffPool (Ying et al., NeurIPS 2018): :math:`S = \mathrm{softmax}(\mathrm{assign}(X))`,
    :math:`X' = S^\top X`, :math:`A' = S^\top A S`; losses ``link`` and ``entropy``.
    """

    def forward(  # type: ignore[override]
        self, x: Tensor, edge_index: Tensor, batch: Tensor, num_graphs: int, edge_weight: Tensor | None = None, **_: Any
    ) -> SoftSelection:
        s = torch.softmax(self.logits(x, edge_index), dim=-1)
        assignment, pooled, seg = self._select(x, edge_index, batch, num_graphs, edge_weight, s)
        return self._selection(assignment, pooled.x, pooled.adj, diffpool_losses(pooled, seg))


class MinCutSelect(_SoftSelect):
    r"""MinCutPool (Bianchi et al., ICML 2020): softmax assignment with temperature; losses
    ``mincut`` and ``ortho``; the coarse graph is :math:`D^{-1/2}\tilde A D^{-1/2}` without self-loops.
    """

    def __init__(
        self, in_channels: int, num_clusters: int, assign: nn.Module | None = None, temperature: float = 1.0
    ) -> None:
        super().__init__(in_channels, num_clusters, assign)
        if not temperature > 0:
            raise ValueError(f"'temperature' must be > 0, got {temperature}")
        self.temperature = temperature

    def forward(  # type: ignore[override]
        self, x: Tensor, edge_index: Tensor, batch: Tensor, num_graphs: int, edge_weight: Tensor | None = None, **_: Any
    ) -> SoftSelection:
        s = torch.softmax(self.logits(x, edge_index) / self.temperature, dim=-1)
        assignment, pooled, seg = self._select(x, edge_index, batch, num_graphs, edge_weight, s)
        losses = mincut_losses(pooled, s, seg)
        return self._selection(assignment, pooled.x, normalized_coarse_adjacency(pooled.adj), losses)


class DMoNSelect(_SoftSelect):
    r"""DMoN (Tsitsulin et al., JMLR 2023): softmax of an MLP with dropout; losses
    ``spectral`` (modularity), ``ortho`` and ``cluster``; pooled features pass through SELU.
    """

    def __init__(
        self, in_channels: int, num_clusters: int, assign: nn.Module | None = None, dropout: float = 0.0
    ) -> None:
        super().__init__(in_channels, num_clusters, assign)
        self.dropout = dropout

    def forward(  # type: ignore[override]
        self, x: Tensor, edge_index: Tensor, batch: Tensor, num_graphs: int, edge_weight: Tensor | None = None, **_: Any
    ) -> SoftSelection:
        logits = F.dropout(self.logits(x, edge_index), self.dropout, training=self.training)
        s = torch.softmax(logits, dim=-1)
        assignment, pooled, seg = self._select(x, edge_index, batch, num_graphs, edge_weight, s)
        losses = dmon_losses(pooled, s, seg)
        return self._selection(assignment, F.selu(pooled.x), normalized_coarse_adjacency(pooled.adj), losses)
