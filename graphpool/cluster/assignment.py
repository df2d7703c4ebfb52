r"""The result of every selector: which cluster each node of a batch belongs to, hard or soft.

One type for both cases. A hard assignment puts node :math:`i` in one cluster ``cluster[i]``;
a soft one gives node :math:`i` of graph :math:`b` a distribution :math:`s_i \in \Delta^K` over
the K clusters of its graph (global ids :math:`bK, \dots, bK + K - 1`), and ``cluster[i]`` is the
most likely of them. The membership matrix :math:`S` is stored per graph as the ``[N, K]`` rows
``s`` (never as a dense ``[N, B K]`` matrix).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor

from graphpool.cluster.lift import lift
from graphpool.ops import segment_sum, segments_from, validation_enabled


@dataclass(frozen=True)
class Assignment:
    """Assignment of the N nodes of a batch to C clusters; clusters never cross graphs.

    Cluster ids are global to the batch, so the clusters of a batch are themselves a batch
    of (smaller) graphs with graph vector ``cluster_batch``.

    Attributes:
        cluster: ``[N]`` cluster of each node in ``[0, C)`` (soft: the most likely one).
        num_clusters: ``C``.
        cluster_batch: ``[C]`` graph of each cluster (sorted).
        label: ``[C]`` the label each cluster stands for, when the selector has one (given
            labels such as cell types); ``None`` otherwise.
        s: soft assignments only: ``[N, K]`` rows on the probability simplex; node ``i`` of
            graph ``b`` belongs to cluster ``b K + k`` with weight ``s[i, k]`` (``C = B K``).
    """

    cluster: Tensor
    num_clusters: int
    cluster_batch: Tensor
    label: Tensor | None = None
    s: Tensor | None = None

    def __post_init__(self) -> None:  # shapes only (free): reading the ids would sync a GPU at every level
        if self.cluster.dim() != 1:
            raise ValueError(f"'cluster' must be [N], got {tuple(self.cluster.shape)}")
        for name, value in (("cluster_batch", self.cluster_batch), ("label", self.label)):
            if value is not None and value.shape != (self.num_clusters,):
                raise ValueError(f"'{name}' must be [C] = [{self.num_clusters}], got {tuple(value.shape)}")

    @classmethod
    def from_soft(cls, s: Tensor, batch: Tensor, num_graphs: int) -> Assignment:
        """The soft assignment of rows ``s [N, K]`` for nodes in graphs ``batch [N]`` of ``num_graphs``.

        Raises:
            ValueError: ``s`` is not ``[N, K]`` with ``K >= 1``, or (when validation is on) holds
                NaN, negative entries or rows that do not sum to one.
        """
        if s.dim() != 2 or s.size(0) != batch.numel() or s.size(1) < 1:
            raise ValueError(f"'s' must be [N, K] with N = {batch.numel()} and K >= 1, got {tuple(s.shape)}")
        if validation_enabled() and s.numel():
            check_distribution(s)
        k = s.size(1)
        cluster = batch * k + s.argmax(dim=1) if s.numel() else batch * k
        graphs = torch.arange(num_graphs, device=s.device)
        return cls(cluster, num_graphs * k, graphs.repeat_interleave(k), s=s)

    @property
    def soft(self) -> bool:
        """Whether nodes have weights over several clusters (``s`` is set)."""
        return self.s is not None

    @property
    def batch(self) -> Tensor:
        """``[N]`` the graph of each node."""
        return self.cluster_batch[self.cluster]

    def dense(self, dtype: torch.dtype = torch.float32) -> Tensor:
        """The assignment matrix S ``[N, C]`` (for small graphs and tests)."""
        n = self.cluster.numel()
        out = torch.zeros(n, self.num_clusters, dtype=dtype, device=self.cluster.device)
        if self.s is None:
            return out.scatter_(1, self.cluster.unsqueeze(1), 1.0)
        k = self.s.size(1)
        columns = (self.batch * k).unsqueeze(1) + torch.arange(k, device=out.device)
        return out.scatter_(1, columns, self.s.to(dtype))

    def sizes(self) -> Tensor:
        r"""``[C]`` the mass of each cluster: its node count (hard) or :math:`\sum_i s_{ik}` (soft)."""
        if self.s is None:
            return torch.bincount(self.cluster, minlength=self.num_clusters)
        k = self.s.size(1)
        seg = segments_from(self.cluster.numel(), self.batch, dim_size=self.num_clusters // k)
        return segment_sum(self.s, seg).flatten()

    def lift(self, x: Tensor) -> Tensor:
        r"""Cluster vectors back to the nodes, ``[C, F] -> [N, F]``: :math:`S X'` (:func:`graphpool.cluster.lift.lift`)."""
        return lift(self, x)


def check_distribution(s: Tensor, name: str = "s") -> None:
    """Raise a ``ValueError`` naming ``name`` unless every row of ``s`` is a probability distribution."""
    s = s.detach()
    # two reads of s: its minimum (NaN where s holds one) and the row sums (not finite where s holds an infinity)
    low = float(s.min())
    worst = float((s.sum(dim=1, dtype=torch.float64) - 1).abs().max())
    if math.isnan(low) or not math.isfinite(worst):
        raise ValueError(f"'{name}' holds NaN or infinite values")
    if low < 0:
        raise ValueError(f"'{name}' must be >= 0 (rows are distributions over clusters), got {low:.3g}")
    # a softmax rounded to s's dtype: each of the K entries is off by up to half a unit in the last place
    tolerance = max(1e-4, s.size(1) * torch.finfo(s.dtype).eps) if s.is_floating_point() else 1e-4
    if worst > tolerance:
        raise ValueError(f"'{name}' rows must sum to 1 (distributions over clusters); one is off by {worst:.3g}")


def compact(key: Tensor, graph: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """Renumber arbitrary per-node cluster keys as ``0..C-1`` in key order.

    Args:
        key: ``[N]`` integer key of each node's cluster; keys of different graphs must differ
            and sort by graph (e.g. ``graph * L + label``).
        graph: ``[N]`` the graph of each node.

    Returns:
        ``(cluster [N], cluster_batch [C], unique_keys [C])``.
    """
    unique_keys, cluster = torch.unique(key, sorted=True, return_inverse=True)
    first_node = torch.full((unique_keys.numel(),), key.numel(), dtype=torch.long, device=key.device)
    first_node.scatter_reduce_(0, cluster, torch.arange(key.numel(), device=key.device), "amin")
    return cluster, graph[first_node], unique_keys
