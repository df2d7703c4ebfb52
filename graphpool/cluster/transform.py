r"""Pre-coarsening: the levels of non-learnable poolers computed once per graph, as a PyG transform.

Given labels, Graclus, k-MIS and k-means on fixed features assign the same clusters in every
epoch; computing them once, when the dataset is built, saves the matching in every training
step. :class:`Coarsen` stores level :math:`l` on each graph as ``cluster_l`` (the cluster of
each node of level :math:`l-1`, numbered within the graph) and ``num_clusters_l``; a
:class:`~torch_geometric.loader.DataLoader` collates them correctly (cluster ids are offset by
the clusters of the graphs before), and :meth:`Coarsen.level` reads a level back from a batch
for :class:`~graphpool.cluster.PrecomputedSelect`. The coarse edges are recomputed from the
assignment by the pool (a sort of the edges: cheap next to the selection).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast

import torch
from torch import Tensor
from torch_geometric.data import Data
from torch_geometric.transforms import BaseTransform

from graphpool.cluster.hierarchical import HierarchicalPool
from graphpool.cluster.pool import Pool
from graphpool.cluster.select.base import Select


class CoarsenedData(Data):
    """A :class:`~torch_geometric.data.Data` that collates the ``cluster_l`` of :class:`Coarsen`."""

    def __inc__(self, key: str, value: Any, *args: Any, **kwargs: Any) -> Any:
        prefix, found, depth = key.rpartition("cluster_")
        if found and depth.isdigit() and f"{prefix}num_clusters_{depth}" in self:
            return int(self[f"{prefix}num_clusters_{depth}"])
        return super().__inc__(key, value, *args, **kwargs)


# PyG loads processed datasets with torch.load(weights_only=True) and falls back to an unsafe load (with a
# warning) for any class not registered as safe: a dataset built with pre_transform=Coarsen(...) stores these
torch.serialization.add_safe_globals([CoarsenedData])


class Coarsen(BaseTransform):
    """``Coarsen([pooler("graclus"), pooler("graclus")])``: every level of each graph, computed once.

    Args:
        levels: hard :class:`Pool` modules or selectors, finest first (soft ones learn, so they cannot
            be precomputed). Positions (``data.pos``) and given labels (``data[labels]``) are passed on.
        labels: the attribute holding the given labels of a ``"given"`` level.
        prefix: put before the stored names (``{prefix}cluster_1``), so that one graph can carry
            the levels of several poolers (the model reads those of its own).

    >>> import torch
    >>> from torch_geometric.data import Data
    >>> from torch_geometric.loader import DataLoader
    >>> from graphpool.cluster import Coarsen, GraclusSelect
    >>> path = Data(x=torch.ones(4, 1), edge_index=torch.tensor([[0, 1, 1, 2, 2, 3], [1, 0, 2, 1, 3, 2]]))
    >>> coarsen = Coarsen([GraclusSelect()])
    >>> batch = next(iter(DataLoader([coarsen(path), coarsen(path)], batch_size=2)))
    >>> cluster, cluster_batch = Coarsen.level(batch, 1)
    >>> cluster.tolist(), cluster_batch.tolist()
    ([0, 0, 1, 1, 2, 2, 3, 3], [0, 0, 1, 1])
    """

    def __init__(self, levels: Sequence[Pool | Select], labels: str = "cell_type", prefix: str = "") -> None:
        self.stage = HierarchicalPool(levels)  # checks the levels, and walks them with the same code as a model
        pools = cast(list[Pool], list(self.stage.levels))  # (HierarchicalPool made every level a Pool)
        for pool in pools:
            if pool.select.soft:
                raise ValueError(f"{type(pool.select).__name__} learns its clusters: it cannot be precomputed")
        self.pools, self.labels, self.prefix = pools, labels, prefix

    @torch.no_grad()
    def forward(self, data: Data) -> CoarsenedData:
        if not isinstance(data, Data):
            raise TypeError(f"Coarsen transforms one PyG Data (a graph), got {type(data).__name__}")
        if data.x is None:
            raise ValueError(
                "the graph has no node features (data.x): the levels reduce them; give it some first, e.g. "
                "pre_transform=Compose([Constant(), Coarsen(...)])"
            )
        if data.edge_index is None:
            raise ValueError("the graph has no data.edge_index: give one ([2, 0] for no edges)")
        reads_labels = "labels" in self.pools[0].select.inputs
        if reads_labels and data.get(self.labels) is None:
            raise ValueError(
                f"the graph has no {self.labels!r} (the labels of the 'given' level): store them there, or name "
                "their attribute with Coarsen(labels=...)"
            )
        out = data if isinstance(data, CoarsenedData) else CoarsenedData(**{key: value for key, value in data})
        result = self.stage(
            data.x,
            data.edge_index,
            data.get("edge_weight"),
            pos=data.get("pos"),
            labels=data.get(self.labels) if reads_labels else None,
        )
        for depth, level in enumerate(result.levels, start=1):
            out[f"{self.prefix}cluster_{depth}"] = level.assignment.cluster
            out[f"{self.prefix}num_clusters_{depth}"] = level.assignment.num_clusters
        return out

    @staticmethod
    def level(batch: Data, depth: int, prefix: str = "") -> tuple[Tensor, Tensor]:
        """``(cluster [N_{l-1}], cluster_batch [C_l])`` of level ``depth`` (from 1) of a collated batch."""
        if depth < 1:
            raise ValueError(f"'depth' must be >= 1 (level 1 is the first coarsening), got {depth}")
        key = f"{prefix}cluster_{depth}"
        if key not in batch:
            raise ValueError(f"the batch has no {key}: apply Coarsen (prefix {prefix!r}) with at least {depth} levels")
        counts = torch.as_tensor(batch[f"{prefix}num_clusters_{depth}"], device=batch[key].device).reshape(-1)
        return batch[key], torch.arange(counts.numel(), device=counts.device).repeat_interleave(counts)
