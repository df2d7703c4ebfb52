r"""The *connect* step: edges of the coarsened graph.

For a hard assignment :math:`S \in \{0,1\}^{N \times C}` the coarsened adjacency is
:math:`A' = S^\top A S`: clusters :math:`c \ne d` are joined with the summed weight of the
edges between their members, and :math:`A'_{cc}` sums the edges inside cluster :math:`c`.
"""

from __future__ import annotations

import torch
from torch import Tensor
from torch_geometric.utils import coalesce

from graphpool.cluster.assignment import Assignment


def coarsen_edges(
    edge_index: Tensor,
    assignment: Assignment,
    edge_weight: Tensor | None = None,
    self_loops: bool = False,
) -> tuple[Tensor, Tensor]:
    r"""Edges of :math:`S^\top A S` for a hard assignment, as ``(edge_index [2, E'], edge_weight [E'])``.

    Args:
        edge_index: ``[2, E]`` edges of the fine graph (each undirected edge listed both ways,
            as in PyG).
        edge_weight: ``[E]``; 1 for every edge when ``None``.
        self_loops: keep the diagonal of :math:`S^\top A S` (the summed weight of the edges
            inside each cluster) as self-loops. Default ``False``: dropped, as in Graclus and
            most pooling layers, so the coarse graph has no edges from intra-cluster structure.

    Returns:
        Coalesced edges between clusters (sorted, duplicates summed), and their weights.
    """
    if edge_index.dim() != 2 or edge_index.size(0) != 2:
        raise ValueError(f"'edge_index' must be [2, E], got shape {tuple(edge_index.shape)}")
    num_nodes = assignment.cluster.numel()
    if edge_index.numel() and int(edge_index.max()) >= num_nodes:
        raise ValueError(f"'edge_index' refers to node {int(edge_index.max())} but the assignment covers {num_nodes}")
    if edge_weight is None:
        edge_weight = torch.ones(edge_index.size(1), device=edge_index.device)
    elif edge_weight.shape != (edge_index.size(1),):
        raise ValueError(f"'edge_weight' must be [E] = [{edge_index.size(1)}], got {tuple(edge_weight.shape)}")
    coarse = assignment.cluster[edge_index]
    if not self_loops:
        keep = coarse[0] != coarse[1]
        coarse, edge_weight = coarse[:, keep], edge_weight[keep]
    clusters = assignment.num_clusters
    if coarse.device.type == "cpu" and _few_clusters(clusters, coarse.size(1)):
        # few clusters (e.g. cell types): count every (cluster, cluster) pair in one pass, no sort.
        # bincount is sequential on CPU, hence deterministic (on CUDA it would use atomics).
        key = coarse[0] * clusters + coarse[1]
        present = torch.nonzero(torch.bincount(key, minlength=clusters * clusters)).flatten()
        summed = torch.bincount(key, weights=edge_weight.double(), minlength=clusters * clusters)
        return torch.stack([present // clusters, present % clusters]), summed[present].to(edge_weight.dtype)
    return coalesce(coarse, edge_weight, num_nodes=clusters, reduce="sum")


def _few_clusters(clusters: int, edges: int) -> bool:
    """Whether a ``clusters^2`` table of pair counts is cheaper than sorting the edges."""
    return clusters * clusters <= max(4 * edges, 1 << 20)
