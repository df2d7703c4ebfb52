"""Communities of each graph's structure (Louvain), not learned."""

from __future__ import annotations

import torch
from torch import Tensor
from torch_geometric.utils import coalesce

from graphpool.cluster.assignment import Assignment
from graphpool.cluster.select.base import Select, assignment_from_local
from graphpool.cluster.select.matching import local_index
from graphpool.ops.ranges import SEED
from graphpool.ops.validation import check_edge_weights


class CommunitySelect(Select):
    r"""Communities of each graph's structure (networkx Louvain modularity), not learned.

    Louvain runs on each graph of the batch on its own, so a graph gets the same communities alone
    and batched (modularity's null model, :math:`k_i k_j / 2m`, is that of the graph, not of the
    batch). Its nodes are given to Louvain ordered by weighted degree (ties: node order), so that
    renumbering the nodes changes nothing wherever weighted degrees differ. The graph is the
    undirected :math:`A + A^\top` with duplicate edges summed, as in every other pooler. A graph
    whose edges all weigh zero (or that has none) has no modularity: each node is its own community.

    Args:
        resolution: Louvain resolution; larger gives more, smaller communities.
        seed: random state of Louvain's node order (the same input gives the same clusters).

    Raises:
        ValueError: ``edge_weight`` holds a negative or non-finite weight (modularity needs degrees >= 0).
    """

    def __init__(self, resolution: float = 1.0, seed: int = 0) -> None:
        super().__init__()
        if not resolution > 0:
            raise ValueError(f"'resolution' must be > 0, got {resolution}")
        SEED.check("seed", seed)
        self.resolution, self.seed = resolution, seed

    def forward(  # type: ignore[override]
        self,
        x: Tensor,
        edge_index: Tensor,
        batch: Tensor,
        num_graphs: int,
        edge_weight: Tensor | None = None,
    ) -> Assignment:
        import networkx as nx

        weight = torch.ones(edge_index.size(1), dtype=torch.float64) if edge_weight is None else edge_weight
        weight = weight.detach().to("cpu", torch.float64)
        check_edge_weights(weight, "modularity")
        batch_cpu = batch.cpu()
        src, dst = edge_index.long().cpu()
        keep = src != dst
        both = torch.cat([torch.stack([src[keep], dst[keep]]), torch.stack([dst[keep], src[keep]])], 1)
        (u, v), w = coalesce(both, torch.cat([weight[keep], weight[keep]]), num_nodes=batch.numel(), reduce="sum")
        upper = u < v
        u, v, w = u[upper], v[upper], w[upper]
        # nodes in canonical order: by graph, then weighted degree, then position (networkx's Louvain visits
        # nodes in a seeded shuffle of the order they were added: renumbering them then changes nothing
        # wherever weighted degrees differ, and a graph is the same alone and in a batch)
        degree = torch.zeros(batch.numel(), dtype=torch.float64).index_add_(0, u, w).index_add_(0, v, w)
        canonical = _lexsort(batch_cpu, degree, local_index(batch_cpu, num_graphs))
        node = local_index(batch_cpu, num_graphs, canonical)  # each node's rank within its graph
        edge_graph = batch_cpu[u]
        low, high = torch.minimum(node[u], node[v]), torch.maximum(node[u], node[v])
        order = _lexsort(edge_graph, low, high)  # edges in canonical order too (Louvain's tie-breaks follow it)
        edges_per_graph = torch.bincount(edge_graph, minlength=num_graphs).tolist()
        nodes_per_graph = torch.bincount(batch_cpu, minlength=num_graphs).tolist()
        label_of_position: list[Tensor] = []
        for edges, n in zip(torch.split(order, edges_per_graph), nodes_per_graph, strict=True):
            graph = nx.Graph()
            graph.add_nodes_from(range(n))
            graph.add_weighted_edges_from(zip(node[u[edges]].tolist(), node[v[edges]].tolist(), w[edges].tolist()))
            label = torch.arange(n)  # no weight, no modularity: every node alone
            if float(w[edges].sum()) > 0:
                communities = nx.community.louvain_communities(graph, resolution=self.resolution, seed=self.seed)
                for number, members in enumerate(sorted(communities, key=min)):
                    label[list(members)] = number
            label_of_position.append(label)
        local = torch.empty_like(batch_cpu)
        if label_of_position:  # concatenated in canonical order, graph after graph
            local[canonical] = torch.cat(label_of_position)
        return assignment_from_local(local.to(batch.device), batch, num_graphs)


def _lexsort(*keys: Tensor) -> Tensor:
    """The permutation sorting by ``keys[0]``, then ``keys[1]``, ... (stable)."""
    order = torch.arange(keys[0].numel())
    for key in reversed(keys):
        order = order[torch.argsort(key[order], stable=True)]
    return order
