"""Communities of each graph's structure (Louvain), not learned."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from graphpool.cluster.assignment import Assignment
from graphpool.cluster.select import Select, assignment_from_local


class CommunitySelect(Select):
    """Communities of each graph's structure (networkx Louvain modularity), not learned.

    Args:
        resolution: Louvain resolution; larger gives more, smaller communities.
        seed: random state of Louvain's node order (the same input gives the same clusters).
    """

    def __init__(self, resolution: float = 1.0, seed: int = 0) -> None:
        super().__init__()
        self.resolution, self.seed = resolution, seed

    def forward(  # type: ignore[override]
        self,
        x: Tensor,
        edge_index: Tensor,
        batch: Tensor,
        num_graphs: int,
        edge_weight: Tensor | None = None,
        **_: Any,
    ) -> Assignment:
        import networkx as nx

        graph = nx.Graph()
        graph.add_nodes_from(range(batch.numel()))
        edges = edge_index.t().tolist()
        weights = [1.0] * len(edges) if edge_weight is None else edge_weight.tolist()
        graph.add_weighted_edges_from((u, v, w) for (u, v), w in zip(edges, weights, strict=True) if u != v)
        local = torch.zeros(batch.numel(), dtype=torch.long)
        communities = nx.community.louvain_communities(graph, resolution=self.resolution, seed=self.seed)
        # edges never cross graphs, so each community lies in one graph; number them per graph
        for number, members in enumerate(sorted(communities, key=min)):
            local[list(members)] = number
        return assignment_from_local(local.to(batch.device), batch, num_graphs)
