"""The result of a selector: which cluster each node of a batch belongs to."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor


@dataclass(frozen=True)
class Assignment:
    """Hard assignment of the N nodes of a batch to C clusters.

    Cluster ids are global to the batch and every cluster lies inside one graph, so the
    clusters of a batch are themselves a batch of (smaller) graphs.

    Attributes:
        cluster: ``[N]`` cluster of each node, in ``[0, C)``.
        num_clusters: ``C``.
        cluster_batch: ``[C]`` graph of each cluster (sorted).
        label: ``[C]`` the label each cluster stands for, when the selector has one (given
            labels such as cell types); ``None`` otherwise.
    """

    cluster: Tensor
    num_clusters: int
    cluster_batch: Tensor
    label: Tensor | None = None

    def dense(self, dtype: torch.dtype = torch.float32) -> Tensor:
        """The one-hot assignment matrix S ``[N, C]`` (for small graphs and tests)."""
        s = torch.zeros(self.cluster.numel(), self.num_clusters, dtype=dtype, device=self.cluster.device)
        return s.scatter_(1, self.cluster.unsqueeze(1), 1.0)

    def sizes(self) -> Tensor:
        """``[C]`` number of nodes in each cluster."""
        return torch.bincount(self.cluster, minlength=self.num_clusters)


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
