r"""The *reduce* step: cluster features from node features.

Hard assignments reduce each cluster with any graphpool readout (:class:`~graphpool.cluster.Pool`'s
``reduce``); soft ones as :math:`X' = S^\top X` per graph (the choice that keeps the expressive power of the
message passing before the pool: Bianchi & Lachi, NeurIPS 2023). :func:`soft_pool` computes :math:`S^\top X`
with the other per-graph products the connect step and the losses read, :math:`S^\top A S` and
:math:`S^\top S`, without a dense :math:`A`: :math:`AS` is one sparse-dense product (O(E K),
:mod:`graphpool.ops.csr`), and the per-graph products are batched matrix products over the nodes of each
graph. Memory is O(E + N (K + F) + B K^2) instead of PyG's O(B N_max^2).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor
from torch_geometric.utils import to_dense_batch

from graphpool.cluster.assignment import Assignment
from graphpool.ops import Segments, segment_sum, segments_from, validation_enabled
from graphpool.ops.csr import CSRAdjacency, csr_adjacency, propagate
from graphpool.readout import resolve


@dataclass(frozen=True)
class SoftPooled:
    r"""Per-graph products of a soft assignment, from which outputs and losses are read.

    Attributes:
        x: ``[B, K, F]`` :math:`S^\top X`.
        adj: ``[B, K, K]`` :math:`S^\top A S` (diagonal included).
        gram: ``[B, K, K]`` :math:`S^\top S`.
        s_dense: ``[B, n_max, K]`` assignments padded with zero rows.
        mask: ``[B, n_max]`` real nodes.
        degree: ``[N]`` weighted out-degree of each node (row sums of A).
        adj_sq_norm: ``[B]`` :math:`\lVert A_b\rVert_F^2`.
        edge_attr: ``[B, K, K, D]`` :math:`\sum_{ij} s_{ic} s_{jd} w_{ij} e_{ij}`, the assignment-weighted sums of
            the edge features (when they were given); divided by :math:`(S^\top A S)_{cd}` they are the
            weighted mean features of coarse edge :math:`(c, d)`.
    """

    x: Tensor
    adj: Tensor
    gram: Tensor
    s_dense: Tensor
    mask: Tensor
    degree: Tensor
    adj_sq_norm: Tensor
    edge_attr: Tensor | None = None


def soft_pool(
    x: Tensor,
    edge_index: Tensor,
    s: Tensor,
    seg: Segments,
    edge_weight: Tensor | None = None,
    edge_attr: Tensor | None = None,
    adjacency: CSRAdjacency | None = None,
) -> SoftPooled:
    r""":math:`S^\top X`, :math:`S^\top A S` and :math:`S^\top S` per graph without a dense :math:`A`.

    Args:
        x: ``[N, F]``; s: ``[N, K]`` (already normalised); seg: the graphs of the nodes;
        edge_index: ``[2, E]`` with ``A[edge_index[0], edge_index[1]] = edge_weight``.
        edge_attr: ``[E, D]`` edge features, pooled as :math:`S^\top (A \circ E_{:,:,f}) S` per feature
            :math:`f`: each node gathers :math:`\sum_j w_{ij} e_{ij} \otimes s_j` (``[N, D, K]``, O(E D K)
            memory), then one batched product with :math:`S^\top`.
        adjacency: :math:`A` of these edges and weights built beforehand (:func:`~graphpool.ops.csr.csr_adjacency`
            with the weights in ``x``'s dtype, ones without ``edge_weight``), for a graph pooled in every step
            (a whole tissue): the coalescing, a third of a step, is then done once. Checked against the edges.
    """
    num_nodes = x.size(0)
    weight = torch.ones(edge_index.size(1), dtype=x.dtype, device=x.device) if edge_weight is None else edge_weight
    weight = weight.to(x.dtype)
    if adjacency is None:
        adjacency = csr_adjacency(edge_index, weight, num_nodes)
    else:
        _check_adjacency(adjacency, edge_index, weight, num_nodes)
    unique_rows, values = adjacency.rows, adjacency.values
    a_s = propagate(adjacency, s)  # [N, K]
    batch = seg.index
    # to_dense_batch needs the nodes grouped by graph: take them in grouped order (a node's
    # slot in the padded tensor then depends only on its rank within its own graph)
    order, grouped = (seg.perm, batch[seg.perm]) if seg.perm is not None else (None, batch)

    def dense(values: Tensor) -> tuple[Tensor, Tensor]:
        rows = values if order is None else values.index_select(0, order)
        if rows.size(0) == 0:  # no nodes at all: B graphs of zero rows (to_dense_batch needs one)
            shape = (seg.num_segments, 0, *rows.shape[1:])
            return rows.new_zeros(shape), torch.zeros(shape[:2], dtype=torch.bool, device=rows.device)
        if seg.num_segments == 1:  # one graph (a tissue): its rows are the batch, nothing to pad or copy
            return rows.unsqueeze(0), torch.ones(1, rows.size(0), dtype=torch.bool, device=rows.device)
        return to_dense_batch(rows, grouped, batch_size=seg.num_segments)

    s_dense, mask = dense(s)
    x_dense, _ = dense(x)
    as_dense, _ = dense(a_s)
    s_t = s_dense.transpose(1, 2)
    edges_by_graph = segments_from(values.numel(), batch.index_select(0, unique_rows), dim_size=seg.num_segments)
    adj_sq_norm = vector_sum(values * values, edges_by_graph)
    by_source = segments_from(weight.numel(), edge_index[0], dim_size=num_nodes)
    degree = vector_sum(weight, by_source)
    edge_features = None
    if edge_attr is not None:
        k, d = s.size(1), edge_attr.size(1)
        per_edge = (weight.unsqueeze(-1) * edge_attr).unsqueeze(-1) * s.index_select(0, edge_index[1]).unsqueeze(1)
        gathered, _ = dense(segment_sum(per_edge.flatten(1), by_source))  # [B, n_max, D*K]
        edge_features = (s_t @ gathered).view(-1, k, d, k).transpose(2, 3)  # [B, K (c), K (d), D]
    return SoftPooled(
        x=s_t @ x_dense,
        adj=s_t @ as_dense,
        gram=s_t @ s_dense,
        s_dense=s_dense,
        mask=mask,
        degree=degree,
        adj_sq_norm=adj_sq_norm,
        edge_attr=edge_features,
    )


def _check_adjacency(adjacency: CSRAdjacency, edge_index: Tensor, weight: Tensor, num_nodes: int) -> None:
    """A ``ValueError`` naming ``adjacency`` when it was not built from these edges and weights (the shapes always;
    the values with validation on), or when it carries gradients of an earlier step."""
    if adjacency.a.shape != (num_nodes, num_nodes) or adjacency.edge_index.shape != edge_index.shape:
        raise ValueError(
            f"'adjacency' was built for {adjacency.a.shape[0]} nodes and {adjacency.edge_index.size(1)} edges, but the "
            f"graph has {num_nodes} nodes and {edge_index.size(1)} edges"
        )
    if adjacency.values.dtype != weight.dtype or adjacency.values.device != weight.device:
        raise ValueError(
            f"'adjacency' holds {adjacency.values.dtype} on {adjacency.values.device}; the pool computes in "
            f"{weight.dtype} on {weight.device}: build it with weights of that dtype there"
        )
    if adjacency.values.requires_grad:
        raise ValueError("'adjacency' carries gradients (learnable edge weights): those must be rebuilt every step")
    if validation_enabled() and not (
        torch.equal(adjacency.edge_index, edge_index) and torch.equal(adjacency.weight, weight)
    ):
        raise ValueError("'adjacency' was built from other edges or weights than the ones given")


def vector_sum(values: Tensor, seg: Segments) -> Tensor:
    """Per-group sum of a ``[N]`` vector (graphpool's deterministic segment sum)."""
    return segment_sum(values.unsqueeze(-1), seg).squeeze(-1)


def cluster_mean(values: Tensor, assignment: Assignment, seg: Segments) -> Tensor:
    r"""``[C, D]``: the assignment-weighted mean of node values in each cluster, :math:`(S^\top V) / (S^\top 1)`."""
    if assignment.s is None:
        return resolve("mean")(values, assignment.cluster, dim_size=assignment.num_clusters)
    s = assignment.s.to(values.dtype)
    k = s.size(1)
    weighted = segment_sum((s.unsqueeze(-1) * values.unsqueeze(1)).flatten(1), seg).view(-1, k, values.size(1))
    mass = segment_sum(s, seg)
    return (weighted / mass.clamp(min=1e-12).unsqueeze(-1)).flatten(0, 1)
