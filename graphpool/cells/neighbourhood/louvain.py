"""Louvain communities (networkx) of each sample's cell graph, then k-means of the communities by their mean
features, weighted by their sizes, so that ids agree across samples. The slowest method (networkx)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import torch
from torch_geometric.data import Data

from graphpool.cells.neighbourhood.kmeans import kmeans_labels
from graphpool.ops.ranges import Range, check_ranges


@dataclass(frozen=True)
class LouvainOptions:
    """Options of the ``"louvain"`` method.

    Attributes:
        resolution: the Louvain resolution (higher: more, smaller communities).
    """

    resolution: float = 1.0

    RANGES: ClassVar[dict[str, Range]] = {"resolution": Range(0, low_open=True)}

    def __post_init__(self) -> None:
        check_ranges(self, self.RANGES)


def fit_louvain(
    graphs: Sequence[Data], k: int, options: LouvainOptions, seed: int, progress: bool = False
) -> np.ndarray:
    """Each sample's Louvain communities (:class:`~graphpool.cluster.CommunitySelect`, one sample at a time),
    grouped across samples by k-means of their mean features, weighted by their sizes."""
    from graphpool.cluster import CommunitySelect
    from graphpool.readout import global_pool

    resolution = options.resolution
    select = CommunitySelect(resolution, seed)
    means, sizes, communities, found_so_far = [], [], [], 0
    for graph in graphs:
        found = select(graph.x, graph.edge_index, torch.zeros(graph.num_nodes, dtype=torch.long), 1)
        means.append(global_pool(graph.x, found.cluster, num_graphs=found.num_clusters, reduce="mean"))
        sizes.append(found.sizes())
        communities.append(found.cluster + found_so_far)  # numbered across samples
        found_so_far += found.num_clusters
    if found_so_far < k:
        raise ValueError(
            f"'k' = {k} is more than the {found_so_far} Louvain communities found; raise 'resolution' (now {resolution})"
        )
    weight = torch.cat(sizes).double().numpy()
    community_labels = kmeans_labels(torch.cat(means).numpy(), k, seed, weight=weight)
    return community_labels[torch.cat(communities).numpy()]
