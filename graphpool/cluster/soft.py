r"""Learnable soft assignment (DiffPool, MinCut, DMoN), computed sparsely.

A soft selector gives every node a distribution :math:`s_i \in \Delta^{K}` over the K
clusters of its graph. Pooling is :math:`X' = S^\top X` and :math:`A' = S^\top A S` per
graph, as in PyG's ``dense_diff_pool`` / ``dense_mincut_pool`` / ``DMoNPooling``, but the
adjacency is never made dense: :math:`AS` is one sparse-dense product (O(E K)), and the
per-graph products :math:`S_b^\top X_b`, :math:`S_b^\top (AS)_b`, :math:`S_b^\top S_b` are
batched matrix products over the nodes of each graph. Memory is O(E + N (K + F) + B K^2)
instead of O(B N_max^2).

The auxiliary losses use the same identities, e.g.
:math:`\lVert A - SS^\top\rVert_F^2 = \lVert A\rVert_F^2 - 2\,\mathrm{tr}(S^\top A S) + \lVert S^\top S\rVert_F^2`.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor
from torch_geometric.utils import to_dense_batch

from graphpool.ops import Segments, segment_sum, segments_from

EPS = 1e-15


@dataclass(frozen=True)
class SoftAssignment:
    """Soft assignment of N nodes to K clusters per graph.

    Attributes:
        s: ``[N, K]`` rows on the probability simplex.
        batch: ``[N]`` graph of each node.
        num_graphs: B; cluster ``b * K + k`` is cluster ``k`` of graph ``b``.
    """

    s: Tensor
    batch: Tensor
    num_graphs: int

    @property
    def clusters_per_graph(self) -> int:
        return self.s.size(1)

    @property
    def num_clusters(self) -> int:
        return self.num_graphs * self.clusters_per_graph

    @property
    def cluster_batch(self) -> Tensor:
        return torch.arange(self.num_graphs, device=self.s.device).repeat_interleave(self.clusters_per_graph)

    @property
    def cluster(self) -> Tensor:
        """``[N]`` the most likely cluster of each node (global id): the hard view, for explanation."""
        return self.batch * self.clusters_per_graph + self.s.argmax(dim=1)


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
    """

    x: Tensor
    adj: Tensor
    gram: Tensor
    s_dense: Tensor
    mask: Tensor
    degree: Tensor
    adj_sq_norm: Tensor


def soft_pool(x: Tensor, edge_index: Tensor, s: Tensor, seg: Segments, edge_weight: Tensor | None = None) -> SoftPooled:
    r""":math:`S^\top X`, :math:`S^\top A S` and :math:`S^\top S` per graph without a dense :math:`A`.

    Args:
        x: ``[N, F]``; s: ``[N, K]`` (already normalised); seg: the graphs of the nodes;
        edge_index: ``[2, E]`` with ``A[edge_index[0], edge_index[1]] = edge_weight``.
    """
    num_nodes = x.size(0)
    weight = torch.ones(edge_index.size(1), dtype=x.dtype, device=x.device) if edge_weight is None else edge_weight
    weight = weight.to(x.dtype)
    adjacency = _sparse(edge_index, weight, num_nodes)
    a_s = _SparseProduct.apply(_csr(adjacency), _csr(_sparse(edge_index.flip(0), weight, num_nodes)), s)  # [N, K]
    batch = seg.index
    # to_dense_batch needs the nodes grouped by graph: take them in grouped order (a node's
    # slot in the padded tensor then depends only on its rank within its own graph)
    order, grouped = (seg.perm, batch[seg.perm]) if seg.perm is not None else (None, batch)

    def dense(values: Tensor) -> tuple[Tensor, Tensor]:
        rows = values if order is None else values.index_select(0, order)
        return to_dense_batch(rows, grouped, batch_size=seg.num_segments)

    s_dense, mask = dense(s)
    x_dense, _ = dense(x)
    as_dense, _ = dense(a_s)
    s_t = s_dense.transpose(1, 2)
    values = adjacency.values()
    edges_by_graph = segments_from(values.numel(), batch[adjacency.indices()[0]], dim_size=seg.num_segments)
    adj_sq_norm = _vector_sum(values * values, edges_by_graph)
    degree = _vector_sum(weight, segments_from(weight.numel(), edge_index[0], dim_size=num_nodes))
    return SoftPooled(
        x=s_t @ x_dense,
        adj=s_t @ as_dense,
        gram=s_t @ s_dense,
        s_dense=s_dense,
        mask=mask,
        degree=degree,
        adj_sq_norm=adj_sq_norm,
    )


def _sparse(edge_index: Tensor, weight: Tensor, num_nodes: int) -> Tensor:
    """Coalesced COO adjacency ``A[edge_index[0], edge_index[1]] = weight`` (duplicates summed)."""
    return torch.sparse_coo_tensor(edge_index, weight, (num_nodes, num_nodes), check_invariants=False).coalesce()


def _csr(adjacency: Tensor) -> Tensor:
    with warnings.catch_warnings():  # "Sparse CSR tensor support is in beta state": used for A @ S only
        warnings.simplefilter("ignore", UserWarning)
        return adjacency.to_sparse_csr()


class _SparseProduct(torch.autograd.Function):
    """``A @ S`` for a constant sparse ``A`` (CSR), with ``A^T`` given for the backward.

    CSR products are 2-3x faster than COO ``torch.sparse.mm`` on CPU; passing the transpose
    avoids re-transposing ``A`` in every backward.
    """

    @staticmethod
    def forward(ctx: Any, a: Tensor, a_t: Tensor, s: Tensor) -> Tensor:  # type: ignore[override]
        ctx.a_t = a_t
        return a @ s

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> tuple[None, None, Tensor]:  # type: ignore[override]
        return None, None, ctx.a_t @ grad


def _trace(m: Tensor) -> Tensor:
    return m.diagonal(dim1=-2, dim2=-1).sum(-1)


def diffpool_losses(pooled: SoftPooled, seg: Segments) -> dict[str, Tensor]:
    r"""DiffPool's link-prediction and entropy losses (Ying et al., 2018).

    ``link`` :math:`= \lVert A - SS^\top \rVert_F / \sum_b n_b^2` over the batch (PyG divides
    by :math:`B\,n_{max}^2`, the size of its padded tensor; equal for graphs of one size);
    ``entropy`` = mean over the real nodes of :math:`-\sum_k s_{ik}\log s_{ik}` (PyG averages over
    its padded rows too, so for graphs of unequal size PyG's entropy is smaller by the share of padding).
    """
    squared = pooled.adj_sq_norm.sum() - 2 * _trace(pooled.adj).sum() + pooled.gram.square().sum()
    link = squared.clamp(min=0).sqrt() / seg.counts.square().sum().clamp(min=1)
    s = pooled.s_dense[pooled.mask]
    entropy = (-s * torch.log(s + EPS)).sum(-1).sum() / max(s.size(0), 1)
    return {"link": link, "entropy": entropy}


def _over_graphs(values: Tensor, seg: Segments) -> Tensor:
    """Mean of per-graph losses ``[B]`` over the graphs with nodes (0 when none has any).

    A graph without nodes has no assignment to regularise: it must not move the loss.
    """
    present = seg.counts > 0
    return torch.where(present, values, torch.zeros_like(values)).sum() / present.sum().clamp(min=1)


def _orthogonality(gram: Tensor, seg: Segments) -> Tensor:
    k = gram.size(-1)
    eye = torch.eye(k, dtype=gram.dtype, device=gram.device)
    normalised = gram / torch.linalg.matrix_norm(gram, keepdim=True).clamp(min=EPS)
    return _over_graphs(torch.linalg.matrix_norm(normalised - eye / math.sqrt(k)), seg)


def _vector_sum(values: Tensor, seg: Segments) -> Tensor:
    """Per-group sum of a ``[N]`` vector (graphpool's deterministic segment sum)."""
    return segment_sum(values.unsqueeze(-1), seg).squeeze(-1)


def mincut_losses(pooled: SoftPooled, s: Tensor, seg: Segments) -> dict[str, Tensor]:
    r"""MinCutPool's losses (Bianchi et al., 2020), each averaged over the graphs that have nodes.

    ``mincut`` :math:`= -\mathrm{tr}(S^\top A S) / \mathrm{tr}(S^\top D S)` and
    ``ortho`` :math:`= \lVert S^\top S / \lVert S^\top S\rVert_F - I_K / \sqrt K\rVert_F`.
    """
    denominator = _vector_sum(pooled.degree * s.square().sum(-1), seg)
    mincut = -_over_graphs(_trace(pooled.adj) / denominator.clamp(min=EPS), seg)  # a graph without edges adds 0
    return {"mincut": mincut, "ortho": _orthogonality(pooled.gram, seg)}


def dmon_losses(pooled: SoftPooled, s: Tensor, seg: Segments) -> dict[str, Tensor]:
    r"""DMoN's losses (Tsitsulin et al., 2023), averaged over the graphs that have nodes.

    ``spectral`` :math:`= -\frac{1}{2m}\left(\mathrm{tr}(S^\top A S) - \frac{\lVert S^\top d\rVert^2}{2m}\right)`,
    ``ortho`` as MinCut, ``cluster`` :math:`= \frac{\sqrt K}{n_b}\lVert \sum_i s_i \rVert - 1`.
    """
    k = s.size(1)
    two_m = _vector_sum(pooled.degree, seg).clamp(min=EPS)  # a graph without edges adds 0
    degree_mass = segment_sum(pooled.degree.unsqueeze(1) * s, seg)
    spectral = -_over_graphs((_trace(pooled.adj) - degree_mass.square().sum(-1) / two_m) / two_m, seg)
    sizes = segment_sum(s, seg)
    counts = seg.counts.clamp(min=1).to(s.dtype)
    cluster = _over_graphs(torch.linalg.vector_norm(sizes, dim=1) / counts * math.sqrt(k) - 1, seg)
    return {"spectral": spectral, "ortho": _orthogonality(pooled.gram, seg), "cluster": cluster}


def normalized_coarse_adjacency(adj: Tensor) -> Tensor:
    r"""MinCut/DMoN's coarse graph :math:`D^{-1/2} \tilde A D^{-1/2}`.

    :math:`\tilde A` is :math:`S^\top A S` without its diagonal; ``adj``: ``[B, K, K]``.
    """
    k = adj.size(-1)
    off = adj * (1 - torch.eye(k, dtype=adj.dtype, device=adj.device))
    d = torch.sqrt(off.sum(-1)).unsqueeze(1) + EPS
    return (off / d) / d.transpose(1, 2)


def dense_to_edges(adj: Tensor) -> tuple[Tensor, Tensor]:
    """``[B, K, K]`` per-graph adjacency -> ``(edge_index, edge_weight)`` over the B*K clusters (nonzero entries)."""
    b, g, h = torch.nonzero(adj, as_tuple=True)
    k = adj.size(-1)
    return torch.stack([b * k + g, b * k + h]), adj[b, g, h]
