r"""Hierarchical cluster pooling: select, reduce, connect, repeated in tiers."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor, nn

from graphpool.cluster.assignment import Assignment
from graphpool.cluster.connect import coarsen_edges
from graphpool.cluster.learnable import SoftSelection
from graphpool.cluster.select import Select
from graphpool.cluster.soft import SoftAssignment
from graphpool.readout import Readout, resolve
from graphpool.ops import segment_sum, segments_from


@dataclass(frozen=True)
class Level:
    """One tier of a hierarchy: the assignment and the coarsened graph it produced.

    Attributes:
        assignment: nodes of the previous tier -> clusters (hard, or soft for learnable
            selectors, whose ``cluster`` is the most likely cluster).
        x: ``[C, F']`` cluster features (the readout of each cluster).
        edge_index, edge_weight: edges of :math:`S^\top A S` between clusters.
        batch: ``[C]`` graph of each cluster.
        pos: ``[C, D]`` mean position of each cluster's nodes, when positions were given.
    """

    assignment: Assignment | SoftAssignment
    x: Tensor
    edge_index: Tensor
    edge_weight: Tensor
    batch: Tensor
    pos: Tensor | None = None


@dataclass(frozen=True)
class HierarchicalOutput:
    """What :class:`HierarchicalPool` returns: the graph vectors and everything behind them.

    Attributes:
        out: ``[B, F_out]`` one vector per graph.
        levels: the tiers, first (finest) to last.
        aux_loss: auxiliary losses of learnable selectors, by name (empty for fixed ones);
            add them to the training loss.
    """

    out: Tensor
    levels: list[Level]
    aux_loss: dict[str, Tensor] = field(default_factory=dict)

    def node_to_cluster(self, level: int = -1) -> Tensor:
        """``[N]`` the cluster at ``level`` of every input node (assignments composed)."""
        index = self.levels[0].assignment.cluster
        for tier in self.levels[1 : (level % len(self.levels)) + 1]:
            index = tier.assignment.cluster[index]
        return index


class HierarchicalPool(nn.Module):
    r"""Cluster pooling in tiers: at each level select (node -> cluster), reduce (any readout
    per cluster), connect (:math:`S^\top A S`); finally a global readout of the last tier.

    Plugs into a PyG model like a global readout: ``forward(x, edge_index, batch)`` returns a
    :class:`HierarchicalOutput` whose ``out`` is ``[B, F_out]``.

    Args:
        levels: selectors, finest first, e.g. ``[LabelSelect(num_labels=17)]`` (cell types)
            or ``[GraclusSelect(), GraclusSelect()]``.
        readout: reduces each cluster (name, list of names or module; see
            :func:`graphpool.readout.resolve`).
        global_readout: reduces the last tier to one vector per graph; defaults to ``readout``.
        self_loops: keep intra-cluster edge weight as self-loops of the coarse graph.

    Per-node inputs: ``labels`` (for :class:`LabelSelect` at the first level), ``pos`` (node
    positions; carried to coarser levels as cluster means), ``edge_weight``.

    >>> import torch
    >>> from graphpool.cluster import LabelSelect, HierarchicalPool
    >>> pool = HierarchicalPool([LabelSelect(num_labels=2)], readout="mean", global_readout="sum")
    >>> x = torch.tensor([[1.0], [3.0], [10.0]])
    >>> result = pool(x, torch.tensor([[0, 1], [1, 0]]), torch.zeros(3, dtype=torch.long),
    ...               labels=torch.tensor([0, 0, 1]))
    >>> result.out  # mean of type 0 (2.0) + mean of type 1 (10.0)
    tensor([[12.]])
    """

    def __init__(
        self,
        levels: Sequence[Select],
        readout: Any = "mean",
        global_readout: Any = None,
        self_loops: bool = False,
    ) -> None:
        super().__init__()
        if len(levels) == 0:
            raise ValueError("'levels' needs at least one selector")
        for selector in levels:
            if not isinstance(selector, Select):
                raise TypeError(f"'levels' takes graphpool.cluster selectors, got {type(selector).__name__}")
        self.levels = nn.ModuleList(levels)
        self.readout: Readout = resolve(readout)
        self.global_readout: Readout = resolve(global_readout) if global_readout is not None else self.readout
        self.self_loops = self_loops

    def get_out_channels(self, in_channels: int) -> int:
        """Width of ``out``: soft levels keep the width (:math:`S^\top X`), the others apply ``readout``."""
        width = in_channels
        for selector in self.levels:
            if not selector.soft:
                width = self.readout.get_out_channels(width)
        return self.global_readout.get_out_channels(width)

    def forward(  # type: ignore[override]
        self,
        x: Tensor,
        edge_index: Tensor,
        batch: Tensor | None = None,
        num_graphs: int | None = None,
        *,
        edge_weight: Tensor | None = None,
        labels: Tensor | None = None,
        pos: Tensor | None = None,
    ) -> HierarchicalOutput:
        if x.dim() != 2:
            raise ValueError(f"x must be [N, F], got shape {tuple(x.shape)}")
        seg = segments_from(x.size(0), batch, None, num_graphs, device=x.device, index_name="batch")
        batch, num_graphs = seg.index, seg.num_segments
        if pos is not None and (pos.dim() != 2 or pos.size(0) != x.size(0)):
            raise ValueError(f"'pos' must be [N, D] with N = {x.size(0)}, got shape {tuple(pos.shape)}")
        if edge_weight is None:
            edge_weight = torch.ones(edge_index.size(1), device=x.device)
        tiers: list[Level] = []
        aux_loss: dict[str, Tensor] = {}
        node_labels = labels
        for depth, selector in enumerate(self.levels):
            inputs = {"labels": node_labels, "pos": pos, "edge_weight": edge_weight}
            selected = selector(x, edge_index, batch, num_graphs, **inputs)
            if isinstance(selected, SoftSelection):  # learnable: S^T X, S^T A S, losses
                assignment = selected.assignment
                x, edge_index, edge_weight = selected.x, selected.edge_index, selected.edge_weight
                aux_loss.update({f"level{depth}.{name}": value for name, value in selected.aux_loss.items()})
                if pos is not None:
                    pos = _soft_mean(pos, assignment)
                node_labels = None
            else:
                assignment = selected
                x = self.readout(x, assignment.cluster, dim_size=assignment.num_clusters)
                if pos is not None:
                    pos = resolve("mean")(pos, assignment.cluster, dim_size=assignment.num_clusters)
                edge_index, edge_weight = coarsen_edges(edge_index, assignment, edge_weight, self.self_loops)
                node_labels = assignment.label
            batch = assignment.cluster_batch
            tiers.append(Level(assignment, x, edge_index, edge_weight, batch, pos))
        out = self.global_readout(x, batch, dim_size=num_graphs)
        return HierarchicalOutput(out, tiers, aux_loss)


def _soft_mean(values: Tensor, assignment: SoftAssignment) -> Tensor:
    """``[B * K, D]``: the S-weighted mean of node values in each cluster."""
    k, s = assignment.clusters_per_graph, assignment.s.to(values.dtype)
    seg = segments_from(values.size(0), assignment.batch, dim_size=assignment.num_graphs)
    weighted = segment_sum((s.unsqueeze(-1) * values.unsqueeze(1)).flatten(1), seg).view(-1, k, values.size(1))
    mass = segment_sum(s, seg)
    return (weighted / mass.clamp(min=1e-12).unsqueeze(-1)).flatten(0, 1)
