r"""The *connect* step: edges of the coarsened graph, :math:`A' = S^\top A S`.

For a hard assignment :math:`S \in \{0,1\}^{N \times C}` clusters :math:`c \ne d` are joined
with the summed weight of the edges between their members, and :math:`A'_{cc}` sums the edges
inside cluster :math:`c` (kept as a self-loop or dropped). For a soft one the per-graph
:math:`S_b^\top A_b S_b` comes from the sparse products of :mod:`graphpool.cluster.soft`.
Optionally the result is normalised as MinCut and DMoN do, :math:`D^{-1/2}\tilde A D^{-1/2}`
with :math:`\tilde A` the coarse adjacency without its diagonal.
"""

from __future__ import annotations

import torch
from torch import Tensor
from torch_geometric.utils import coalesce

from graphpool.cluster.assignment import Assignment
from graphpool.cluster.soft import EPS


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
        # bincount and index_add are sequential on CPU, hence deterministic (on CUDA they would use
        # atomics); index_add (not bincount's weights) keeps the sums differentiable in the weights.
        key = coarse[0] * clusters + coarse[1]
        present = torch.nonzero(torch.bincount(key, minlength=clusters * clusters)).flatten()
        summed = edge_weight.new_zeros(clusters * clusters, dtype=torch.float64).index_add_(
            0, key, edge_weight.double()
        )
        return torch.stack([present // clusters, present % clusters]), summed[present].to(edge_weight.dtype)
    return coalesce(coarse, edge_weight, num_nodes=clusters, reduce="sum")


def _few_clusters(clusters: int, edges: int) -> bool:
    """Whether a ``clusters^2`` table of pair counts is cheaper than sorting the edges."""
    return clusters * clusters <= max(4 * edges, 1 << 20)


def normalize_edges(edge_index: Tensor, edge_weight: Tensor, num_nodes: int) -> tuple[Tensor, Tensor]:
    r""":math:`D^{-1/2}\tilde A D^{-1/2}` of an edge list: self-loops dropped, :math:`w_{ij} / \sqrt{d_i d_j}`.

    :math:`d_i` is the summed weight of node :math:`i`'s edges (rows of :math:`\tilde A`); a node
    without edges keeps none.
    """
    keep = edge_index[0] != edge_index[1]
    edge_index, edge_weight = edge_index[:, keep], edge_weight[keep]
    degree = torch.zeros(num_nodes, dtype=edge_weight.dtype, device=edge_weight.device)
    root = _root(degree.index_add_(0, edge_index[0], edge_weight))
    return edge_index, edge_weight / root[edge_index[0]] / root[edge_index[1]]


def soft_edges(adj: Tensor, self_loops: bool = False) -> tuple[Tensor, Tensor]:
    r"""Edges over the B*K clusters of the per-graph coarse adjacency ``adj [B, K, K]`` (nonzero entries).

    Args:
        self_loops: keep the diagonal (each cluster's internal weight), as DiffPool does.
    """
    k = adj.size(-1)
    if not self_loops:
        adj = adj * (1 - torch.eye(k, dtype=adj.dtype, device=adj.device))
    b, g, h = torch.nonzero(adj, as_tuple=True)
    return torch.stack([b * k + g, b * k + h]), adj[b, g, h]


def _root(degree: Tensor) -> Tensor:
    r""":math:`\sqrt{d} + \epsilon` (as PyG's MinCut), with a zero gradient where :math:`d = 0`.

    ``sqrt``'s derivative is infinite at 0, and zero times infinity is NaN: a node or cluster
    without edges (a one-atom molecule) would turn every gradient into NaN.
    """
    positive = degree > 0
    return torch.where(positive, torch.sqrt(torch.where(positive, degree, 1.0)), 0.0) + EPS
