"""Selectors from labels the data carries: given labels, precomputed levels, and the product of two selectors."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from graphpool.cluster.assignment import Assignment, compact
from graphpool.cluster.select.base import Select, check_node_vector
from graphpool.ops.ranges import Range


class LabelSelect(Select):
    r"""Clusters from labels supplied with the data: cell types, atom-group ids, regions.

    Nodes of one graph with the same label form one cluster; labels are local to each graph
    (label 3 in graph 0 and label 3 in graph 1 are two clusters).

    Args:
        num_labels: L. When given, every graph gets all L clusters, empty ones included
            (cluster ``b * L + l``), so that each graph pools to the same ``[L, F]`` layout
            (e.g. mean expression per cell type per tissue, empty types as zeros). When
            ``None``, only the (graph, label) pairs present become clusters.

    Call with ``labels=<[N] integer tensor, values in [0, L)>``.
    """

    inputs = ("labels",)

    def __init__(self, num_labels: int | None = None) -> None:
        super().__init__()
        if num_labels is not None:
            Range(1, whole=True).check("num_labels", num_labels)
        self.num_labels = num_labels

    def forward(  # type: ignore[override]
        self,
        x: Tensor,
        edge_index: Tensor,
        batch: Tensor,
        num_graphs: int,
        edge_weight: Tensor | None = None,
        labels: Tensor | None = None,
    ) -> Assignment:
        if labels is None:
            raise ValueError("LabelSelect needs the cluster label of every node: pass labels=<[N] tensor>")
        check_node_vector("labels", labels, batch.numel())
        if labels.dtype.is_floating_point or labels.dtype == torch.bool:
            raise ValueError(f"'labels' must hold integers, got dtype {labels.dtype}")
        labels = labels.long()
        low, high = (int(v) for v in torch.aminmax(labels)) if labels.numel() else (0, 0)  # one pass
        if low < 0:
            raise ValueError(f"'labels' must be >= 0, got {low}")
        top = high + 1
        if self.num_labels is not None and top > self.num_labels:
            raise ValueError(
                f"'labels' holds {high}, but this selection was built for {self.num_labels} labels: they must be in "
                f"[0, {self.num_labels})"
            )
        width = self.num_labels or top
        key = torch.add(labels, batch, alpha=width)  # batch * width + labels in one pass
        if self.num_labels is not None:
            graphs = torch.arange(num_graphs, device=batch.device)
            return Assignment(
                cluster=key,
                num_clusters=num_graphs * width,
                cluster_batch=graphs.repeat_interleave(width),
                label=torch.arange(width, device=batch.device).repeat(num_graphs),
            )
        cluster, cluster_batch, keys = compact(key, batch)
        return Assignment(cluster, keys.numel(), cluster_batch, label=keys % width)


class ProductSelect(Select):
    """Intersections of two selectors' clusters: nodes share a cluster when both agree.

    ``ProductSelect(KMeansSelect(8, on="pos"), LabelSelect())`` gives *cell type within
    spatial neighbourhood* clusters, the middle tier of cell -> type-in-neighbourhood ->
    tissue. Empty intersections are not created.
    """

    def __init__(self, first: Select, second: Select) -> None:
        super().__init__()
        for part in (first, second):
            if not isinstance(part, Select):
                raise TypeError(f"ProductSelect combines selectors, got {type(part).__name__}")
            if part.soft:
                raise TypeError(f"ProductSelect combines hard selectors; {type(part).__name__} is soft")
        self.first, self.second = first, second
        self.inputs = tuple(sorted(set(first.inputs) | set(second.inputs)))

    def forward(
        self,
        x: Tensor,
        edge_index: Tensor,
        batch: Tensor,
        num_graphs: int,
        edge_weight: Tensor | None = None,
        **inputs: Any,
    ) -> Assignment:
        a = self.first(x, edge_index, batch, num_graphs, edge_weight, **_read_by(self.first, inputs))
        b = self.second(x, edge_index, batch, num_graphs, edge_weight, **_read_by(self.second, inputs))
        cluster, cluster_batch, _ = compact(a.cluster * b.num_clusters + b.cluster, batch)
        return Assignment(cluster, int(cluster_batch.numel()), cluster_batch)


def _read_by(selector: Select, inputs: dict[str, Any]) -> dict[str, Any]:
    """The part of ``inputs`` that ``selector`` declares it reads."""
    return {key: value for key, value in inputs.items() if key in selector.inputs}


class PrecomputedSelect(Select):
    """Clusters computed beforehand (by :class:`~graphpool.cluster.Coarsen`), read from the batch.

    Call with ``cluster=<[N] global cluster of each node>`` and ``cluster_batch=<[C] graph of
    each cluster>``, as :meth:`Coarsen.level` returns them for a collated batch.
    """

    inputs = ("cluster", "cluster_batch")

    def forward(  # type: ignore[override]
        self,
        x: Tensor,
        edge_index: Tensor,
        batch: Tensor,
        num_graphs: int,
        edge_weight: Tensor | None = None,
        cluster: Tensor | None = None,
        cluster_batch: Tensor | None = None,
    ) -> Assignment:
        if cluster is None or cluster_batch is None:
            raise ValueError("PrecomputedSelect needs cluster=<[N] tensor> and cluster_batch=<[C] tensor>")
        check_node_vector("cluster", cluster, batch.numel())
        if cluster.numel() and (int(cluster.min()) < 0 or int(cluster.max()) >= cluster_batch.numel()):
            raise ValueError(f"'cluster' must be in [0, {cluster_batch.numel()}), the clusters of cluster_batch")
        return Assignment(cluster, cluster_batch.numel(), cluster_batch)
