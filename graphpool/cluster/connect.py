r"""The *connect* step: edges of the coarsened graph, :math:`A' = S^\top A S`.

For a hard assignment :math:`S \in \{0,1\}^{N \times C}` clusters :math:`c \ne d` are joined
with the summed weight of the edges between their members, and :math:`A'_{cc}` sums the edges
inside cluster :math:`c` (kept as a self-loop or dropped). For a soft one the per-graph
:math:`S_b^\top A_b S_b` comes from the sparse products of :func:`graphpool.cluster.reduce.soft_pool`.
Optionally the result is normalised as MinCut and DMoN do, :math:`D^{-1/2}\tilde A D^{-1/2}`
with :math:`\tilde A` the coarse adjacency without its diagonal.
"""

from __future__ import annotations

import torch
from torch import Tensor
from torch_geometric.utils import coalesce

from graphpool.cluster.assignment import Assignment
from graphpool.ops.device_path import on_host
from graphpool.ops.validation import check_edge_weights, check_graph, check_tensor, id_outside, validation_enabled

#: keeps divisions by a degree or a norm finite (PyG's MinCut uses the same)
EPS = 1e-15
#: how a coarse edge combines the features of the edges it merges (:func:`coarse_edge_attr`)
EDGE_REDUCTIONS = ("mean", "sum")


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

    >>> import torch
    >>> from graphpool.cluster import Assignment, coarsen_edges
    >>> path = torch.tensor([[0, 1, 1, 2, 2, 3], [1, 0, 2, 1, 3, 2]])  # 0 - 1 - 2 - 3
    >>> pairs = Assignment(torch.tensor([0, 0, 1, 1]), 2, torch.tensor([0, 0]))  # {0, 1} and {2, 3}
    >>> edges, weight = coarsen_edges(path, pairs)
    >>> edges.tolist(), weight.tolist()  # the one edge between the pairs, both ways
    ([[0, 1], [1, 0]], [1.0, 1.0])
    >>> edges, weight = coarsen_edges(path, pairs, self_loops=True)
    >>> edges.tolist(), weight.tolist()  # with the edges inside each pair (both ways) as self-loops
    ([[0, 0, 1, 1], [0, 1, 0, 1]], [2.0, 1.0, 1.0, 2.0])
    """
    _check_hard(edge_index, assignment, edge_weight)
    return coarsen_edges_unchecked(edge_index, assignment, edge_weight, self_loops)


def coarsen_edges_unchecked(
    edge_index: Tensor, assignment: Assignment, edge_weight: Tensor | None, self_loops: bool
) -> tuple[Tensor, Tensor]:
    """:func:`coarsen_edges` without its input checks: for a :class:`~graphpool.cluster.Pool`, whose graph was
    checked once on the way in and whose assignment its selector made (the checks read every id: host syncs)."""
    weight = _weights(edge_index, edge_weight, torch.get_default_dtype() if edge_weight is None else edge_weight.dtype)
    summed, edges = _sum_by_coarse_edge(edge_index, assignment, weight.unsqueeze(-1), self_loops)
    return edges, summed.squeeze(-1)


def coarse_edge_attr(
    edge_index: Tensor,
    assignment: Assignment,
    edge_attr: Tensor,
    edge_weight: Tensor | None = None,
    self_loops: bool = False,
    reduce: str = "mean",
) -> tuple[Tensor, Tensor, Tensor]:
    r"""The coarse edges of a hard assignment with their weights and features ``[E', D]``.

    A coarse edge :math:`(c, d)` merges the fine edges :math:`(i, j)` with :math:`i \in c, j \in d`; its
    features are those edges' features :math:`e_{ij}` combined by their weights :math:`w_{ij}`,

    .. math::
        e'_{cd} = \frac{\sum_{ij} S_{ic} S_{jd}\, w_{ij} e_{ij}}{\sum_{ij} S_{ic} S_{jd}\, w_{ij}}
        \quad (\texttt{"mean"}), \qquad
        e'_{cd} = \sum_{ij} S_{ic} S_{jd}\, w_{ij} e_{ij} \quad (\texttt{"sum"}),

    the same formula a soft assignment uses (:func:`graphpool.cluster.reduce.soft_pool`), here with
    :math:`S \in \{0, 1\}`: the mean of the merged edges' features (bond-type proportions between two groups of
    atoms) or their sum (bond-type counts). A coarse edge of total weight 0 gets features 0.

    Returns:
        ``(edge_index [2, E'], edge_weight [E'], edge_attr [E', D])``, the first two as :func:`coarsen_edges`.
    """
    _check_hard(edge_index, assignment, edge_weight)
    check_tensor("edge_attr", edge_attr)
    if edge_attr.dim() != 2 or edge_attr.size(0) != edge_index.size(1):
        raise ValueError(f"'edge_attr' must be [E, D] with E = {edge_index.size(1)}, got {tuple(edge_attr.shape)}")
    if reduce not in EDGE_REDUCTIONS:
        raise ValueError(f"'reduce' must be one of {EDGE_REDUCTIONS}, got {reduce!r}")
    return coarse_edge_attr_unchecked(edge_index, assignment, edge_attr, edge_weight, self_loops, reduce)


def coarse_edge_attr_unchecked(
    edge_index: Tensor,
    assignment: Assignment,
    edge_attr: Tensor,
    edge_weight: Tensor | None,
    self_loops: bool,
    reduce: str,
) -> tuple[Tensor, Tensor, Tensor]:
    """:func:`coarse_edge_attr` without its input checks (a pool's, as :func:`coarsen_edges_unchecked`)."""
    weight = _weights(edge_index, edge_weight, edge_attr.dtype).unsqueeze(-1)
    summed, edges = _sum_by_coarse_edge(edge_index, assignment, torch.cat([weight, weight * edge_attr], 1), self_loops)
    total, features = summed[:, 0], summed[:, 1:]
    return edges, total, edge_mean(features, total) if reduce == "mean" else features


def edge_features(edge_attr: Tensor) -> Tensor:
    """``edge_attr`` as ``[E, D]``: one feature per edge (``[E]``, as PyG allows) becomes a column."""
    return edge_attr.unsqueeze(-1) if edge_attr.dim() == 1 else edge_attr


def edge_mean(summed: Tensor, total: Tensor) -> Tensor:
    """Weighted sums of edge features ``[E', D]`` over their total weights ``[E']`` (0 where a total is 0)."""
    total = total.unsqueeze(-1)
    nonzero = total != 0
    return torch.where(nonzero, summed / torch.where(nonzero, total, torch.ones_like(total)), torch.zeros_like(summed))


def _sum_by_coarse_edge(
    edge_index: Tensor, assignment: Assignment, values: Tensor, self_loops: bool
) -> tuple[Tensor, Tensor]:
    """Sums of per-edge ``values [E, V]`` over the fine edges of each coarse edge: ``([E', V], edge_index [2, E'])``."""
    clusters, ends = assignment.num_clusters, edge_index.reshape(-1)
    if on_host(ends) and _few_clusters(clusters, edge_index.size(1)):
        # few clusters (e.g. cell types): count every (cluster, cluster) pair in one pass, no sort, and drop the
        # pairs (c, c) afterwards rather than the edges inside clusters before (no compaction of the edges).
        # bincount and index_add are sequential on CPU, hence deterministic (on CUDA they would use
        # atomics); index_add (not bincount's weights) keeps the sums differentiable in the weights.
        # The pair keys in int32 where they fit (half the bytes to gather; index_add wants int64 keys):
        # 1,000,000 cells in 20 types, 7 million edges, 160 -> 95 ms
        narrow = assignment.cluster.int() if clusters * clusters < 2**31 else assignment.cluster
        coarse = narrow.index_select(0, ends).view(2, -1)
        key = torch.add(coarse[1], coarse[0], alpha=clusters).long()
        counts = torch.bincount(key, minlength=clusters * clusters)
        if not self_loops:
            counts[:: clusters + 1] = 0
        present = torch.nonzero(counts).flatten()
        summed = values.new_zeros(clusters * clusters, values.size(1), dtype=torch.float64)
        summed = summed.index_add_(0, key, values.double())
        return summed[present].to(values.dtype), torch.stack([present // clusters, present % clusters])
    # one gather of the flat index (62 against 104 ms for 14 million edge ends, indexing with the [2, E] index)
    coarse = assignment.cluster.index_select(0, ends).view(2, -1)
    if not self_loops:
        keep = coarse[0] != coarse[1]
        coarse, values = coarse[:, keep], values[keep]
    edges, summed = coalesce(coarse, values, num_nodes=clusters, reduce="sum")
    return summed, edges


def _check_hard(edge_index: Tensor, assignment: Assignment, edge_weight: Tensor | None) -> None:
    """The fine graph and the hard assignment of its nodes, each error naming its argument; the ids are read
    with validation on (a host sync)."""
    if not isinstance(assignment, Assignment):
        raise TypeError(f"'assignment' must be an Assignment, got {type(assignment).__name__}")
    nodes = assignment.cluster.numel()
    check_graph(edge_index, nodes, edge_weight, nodes=f"the assignment covers {nodes} nodes")
    if validation_enabled() and (bad := id_outside(assignment.cluster, assignment.num_clusters)) is not None:
        raise ValueError(f"the assignment's 'cluster' holds {bad}, but num_clusters = {assignment.num_clusters}")


def _weights(edge_index: Tensor, edge_weight: Tensor | None, dtype: torch.dtype) -> Tensor:
    """``[E]`` the edge weights in ``dtype`` (1 when ``None``)."""
    if edge_weight is None:
        return torch.ones(edge_index.size(1), dtype=dtype, device=edge_index.device)
    return edge_weight.to(dtype)


def _few_clusters(clusters: int, edges: int) -> bool:
    """Whether a ``clusters^2`` table of pair counts is cheaper than sorting the edges."""
    return clusters * clusters <= max(4 * edges, 1 << 20)


def normalize_edges(
    edge_index: Tensor, edge_weight: Tensor, num_nodes: int, self_loops: bool = True
) -> tuple[Tensor, Tensor]:
    r""":math:`D^{-1/2}\tilde A D^{-1/2}` of an edge list: self-loops dropped, :math:`w_{ij} / \sqrt{d_i d_j}`.

    :math:`d_i` is the summed weight of node :math:`i`'s edges (rows of :math:`\tilde A`); the edges of a node
    whose degree is below the dtype's machine epsilon (none, or an all but empty soft cluster) weigh 0.
    ``self_loops=False`` says the edges hold none: nothing to drop (dropping is a boolean mask, whose output size
    a GPU must report back to the host).
    """
    check_graph(edge_index, num_nodes, edge_weight)
    if validation_enabled():
        check_edge_weights(edge_weight, "D^-1/2 A D^-1/2")
    return normalize_edges_unchecked(edge_index, edge_weight, num_nodes, self_loops)


def normalize_edges_unchecked(
    edge_index: Tensor, edge_weight: Tensor, num_nodes: int, self_loops: bool
) -> tuple[Tensor, Tensor]:
    """:func:`normalize_edges` without its input checks: for a pool's coarse edges, which it built itself from a
    graph it checked (reading their ids and weights back would sync a GPU at every level)."""
    if self_loops:
        keep = edge_index[0] != edge_index[1]
        edge_index, edge_weight = edge_index[:, keep], edge_weight[keep]
    degree = torch.zeros(num_nodes, dtype=edge_weight.dtype, device=edge_weight.device)
    inverse = _inverse_root(degree.index_add_(0, edge_index[0], edge_weight))
    return edge_index, edge_weight * inverse[edge_index[0]] * inverse[edge_index[1]]


def soft_edges(adj: Tensor, self_loops: bool = False) -> tuple[Tensor, Tensor]:
    r"""Edges over the B*K clusters of the per-graph coarse adjacency ``adj [B, K, K]`` (nonzero entries).

    Args:
        self_loops: keep the diagonal (each cluster's internal weight), as DiffPool does.
    """
    if adj.dim() != 3 or adj.size(1) != adj.size(2):
        raise ValueError(f"'adj' must be [B, K, K], got {tuple(adj.shape)}")
    k = adj.size(-1)
    if not self_loops:
        adj = adj * (1 - torch.eye(k, dtype=adj.dtype, device=adj.device))
    b, g, h = torch.nonzero(adj, as_tuple=True)
    return torch.stack([b * k + g, b * k + h]), adj[b, g, h]


def _inverse_root(degree: Tensor) -> Tensor:
    r""":math:`1 / (\sqrt{d} + \epsilon)` (as PyG's MinCut), and 0 where :math:`d` is below the dtype's machine
    epsilon (a node or cluster without edges, or an all but empty soft cluster), with a zero gradient there.

    ``sqrt``'s derivative is infinite at 0, and zero times infinity is NaN: a node without edges (a one-atom
    molecule) would turn every gradient into NaN. Near 0 it is finite but huge: an edge between two soft
    clusters of mass 1e-30 (sharp assignments leave such clusters) would get :math:`w / \epsilon^2` and a
    gradient of 1e30, which overflows float32 in the backward pass; below machine epsilon such edges weigh 0.
    """
    positive = degree > torch.finfo(degree.dtype).eps
    return torch.where(positive, 1.0 / (torch.sqrt(torch.where(positive, degree, 1.0)) + EPS), 0.0)
