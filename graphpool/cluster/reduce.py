r"""The *reduce* step: cluster features from node features.

Hard assignments reduce each cluster with any graphpool readout (:class:`~graphpool.cluster.Pool`'s
``reduce``); soft ones as :math:`X' = S^\top X` per graph (the choice that keeps the expressive power of the
message passing before the pool: Bianchi & Lachi, NeurIPS 2023). :func:`soft_pool` computes :math:`S^\top X`
with the other per-graph products the connect step and the losses read, :math:`S^\top A S` and
:math:`S^\top S`, without a dense :math:`A`: :math:`AS` is one sparse-dense product (O(E K),
:mod:`graphpool.ops.csr`), and the per-graph products are one product with the block matrix of the assignments
(:func:`block_product`: N K entries, no padding to the largest graph). Memory is O(E + N (K + F) + B K^2)
instead of PyG's O(B N_max^2).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor
from torch_geometric.utils import to_dense_batch

from graphpool.cluster.assignment import Assignment
from graphpool.ops import Segments, segment_sum, segments_from, validation_enabled
from graphpool.ops.csr import CSRAdjacency, csr_adjacency, csr_matrix, propagate
from graphpool.ops.device_path import sync_allowed
from graphpool.readout import resolve


@dataclass(frozen=True)
class SoftPooled:
    r"""Per-graph products of a soft assignment, from which outputs and losses are read.

    Attributes:
        x: ``[B, K, F]`` :math:`S^\top X`.
        adj: ``[B, K, K]`` :math:`S^\top A S` (diagonal included).
        gram: ``[B, K, K]`` :math:`S^\top S`.
        degree: ``[N]`` weighted out-degree of each node (row sums of A).
        adj_sq_norm: ``[B]`` :math:`\lVert A_b\rVert_F^2`.
        edge_attr: ``[B, K, K, D]`` :math:`\sum_{ij} s_{ic} s_{jd} w_{ij} e_{ij}`, the assignment-weighted sums of
            the edge features (when they were given); divided by :math:`(S^\top A S)_{cd}` they are the
            weighted mean features of coarse edge :math:`(c, d)`.
    """

    x: Tensor
    adj: Tensor
    gram: Tensor
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
            memory), multiplied by :math:`S^\top` with the rest (:func:`block_product`).
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
    edges_by_graph = segments_from(values.numel(), batch.index_select(0, unique_rows), dim_size=seg.num_segments)
    adj_sq_norm = vector_sum(values * values, edges_by_graph)
    by_source = segments_from(weight.numel(), edge_index[0], dim_size=num_nodes)
    degree = vector_sum(weight, by_source)
    parts = [x, a_s, s]
    if edge_attr is not None:  # each node gathers sum_j w_ij e_ij (x) s_j: [N, D*K]
        per_edge = (weight.unsqueeze(-1) * edge_attr).unsqueeze(-1) * s.index_select(0, edge_index[1]).unsqueeze(1)
        parts.append(segment_sum(per_edge.flatten(1), by_source))
    pooled_x, adj, gram, *gathered = block_product(s, parts, seg)  # S_b^T X, S_b^T A S, S_b^T S (, edges)
    edge_features = None
    if edge_attr is not None:
        k, d = s.size(1), edge_attr.size(1)
        edge_features = gathered[0].reshape(-1, k, d, k).transpose(2, 3)  # [B, K (c), K (d), D]
    return SoftPooled(
        x=pooled_x,
        adj=adj,
        gram=gram,
        degree=degree,
        adj_sq_norm=adj_sq_norm,
        edge_attr=edge_features,
    )


#: the padded layout is taken when B n_max < N (1 + K / PADDING_PER_CLUSTER): dense batched products beat the
#: sparse one per entry, more so for many clusters, so a little padding pays for large K and none for small K
#: (measured on CPU, one thread, fwd + bwd of 128 graphs, ``scripts/bench_soft_batches.py``: the two are even near
#: 1x padding at K = 16, 1.7x at K = 32, 2x at K = 64, 2.6x at K = 128)
PADDING_PER_CLUSTER = 64


def padding_pays(num_graphs: int, largest: int, num_rows: int, k: int) -> bool:
    """Whether :func:`block_product` pads ``num_graphs`` graphs of ``num_rows`` nodes in all to the ``largest``
    (:data:`PADDING_PER_CLUSTER`)."""
    return num_graphs * largest * PADDING_PER_CLUSTER < num_rows * (PADDING_PER_CLUSTER + k)


def block_product(s: Tensor, parts: Sequence[Tensor], seg: Segments) -> list[Tensor]:
    r"""``[B, K, D_j]`` for each part ``[N, D_j]`` of ``parts``: :math:`S_b^\top Y_b` for every graph :math:`b`, the
    sums over its nodes of :math:`\mathbf{s}_i \mathbf{y}_i^\top`, differentiable in ``s [N, K]`` and the parts
    (nodes in any order).

    The parts are multiplied as one, :math:`Y = [Y_1 \mid Y_2 \mid \dots]`, in one sparse product :math:`P Y` with
    the block matrix :math:`P \in \mathbb{R}^{BK \times N}`, :math:`P_{bK + c,\,i} = s_{ic}` for the nodes
    :math:`i` of graph :math:`b` (CSR, N K entries): the work and memory of the nodes themselves, where a padded
    ``[B, n_max, .]`` layout pays for B copies of the largest graph (and must read its size back from the device).
    The backward multiplies by :math:`P^\top` (``[N, BK]``, CSR, K entries a row) and takes
    :math:`\partial L / \partial s_{ic} = \langle G_{bK + c}, \mathbf{y}_i\rangle` only at those entries
    (``torch.sparse.sampled_addmm``). Where the size of the largest graph may be read
    (:func:`~graphpool.ops.device_path.sync_allowed`) and padding to it costs less than the sparse product
    (:data:`PADDING_PER_CLUSTER`), one batched dense product on the padded layout. One graph (a whole tissue): a
    dense :math:`S^\top Y_j` per part, without the copy that concatenating its N rows would make.
    """
    num_graphs, k = seg.num_segments, s.size(1)
    if s.size(0) == 0:  # no nodes: every graph's sum is empty
        return [part.new_zeros(num_graphs, k, part.size(1)) for part in parts]
    if num_graphs == 1:
        return [(s.t() @ part).unsqueeze(0) for part in parts]
    y = torch.cat(list(parts), dim=1)
    widths = [part.size(1) for part in parts]
    if sync_allowed(s):
        largest = int(seg.counts.max())
        if padding_pays(num_graphs, largest, s.size(0), k):
            grouped = seg.index if seg.perm is None else seg.index.index_select(0, seg.perm)

            def padded(values: Tensor) -> Tensor:  # [B, n_max, .], the nodes of a graph in grouped order
                rows = values if seg.perm is None else values.index_select(0, seg.perm)
                return to_dense_batch(rows, grouped, batch_size=num_graphs, max_num_nodes=largest)[0]

            return list((padded(s).transpose(1, 2) @ padded(y)).split(widths, dim=-1))
    return list(_BlockProduct.apply(s, y, seg).view(num_graphs, k, y.size(1)).split(widths, dim=-1))


class _BlockProduct(torch.autograd.Function):
    """:func:`block_product` of several graphs: ``[B K, D]``."""

    @staticmethod
    def forward(ctx: Any, s: Tensor, y: Tensor, seg: Segments) -> Tensor:
        n, k = s.shape
        size, weights, device = seg.num_segments * k, s.detach(), s.device
        clusters = torch.arange(k, device=device)
        # P^T: node i's row holds s_i at the columns bK .. bK + K - 1 of its graph b
        columns = (seg.index.unsqueeze(1) * k + clusters).flatten()
        ctx.p_t = csr_matrix(torch.arange(0, n * k + 1, k, device=device), columns, weights.flatten(), (n, size))
        # P: row bK + c holds s_{ic} of graph b's nodes i, in grouped order; entry (node rank r in b, cluster c)
        # sits at ptr_b K + c n_b + r
        rows, ptr, counts = seg.rows, seg.ptr, seg.counts
        graph = seg.index.index_select(0, rows)  # [N] in grouped order
        first, count = ptr.index_select(0, graph), counts.index_select(0, graph)
        rank = torch.arange(n, device=device) - first
        position = ((first * k + rank).unsqueeze(1) + clusters * count.unsqueeze(1)).flatten()
        nodes = torch.empty_like(position).scatter_(0, position, rows.repeat_interleave(k))
        values = torch.empty_like(weights).flatten().scatter_(0, position, weights.index_select(0, rows).flatten())
        crow = torch.cat([(ptr[:-1].unsqueeze(1) * k + clusters * counts.unsqueeze(1)).flatten(), ptr[-1:] * k])
        ctx.save_for_backward(y)
        return csr_matrix(crow, nodes, values, (size, n)) @ y

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> tuple[Tensor | None, Tensor | None, None]:
        (y,) = ctx.saved_tensors
        grad_y = ctx.p_t @ grad if ctx.needs_input_grad[1] else None
        grad_s = None
        if ctx.needs_input_grad[0]:  # <G_{bK+c}, y_i> at the N K entries of P^T only
            sampled = torch.sparse.sampled_addmm(ctx.p_t, y, grad.t(), beta=0.0)
            grad_s = sampled.values().view(y.size(0), -1)
        return grad_s, grad_y, None


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
