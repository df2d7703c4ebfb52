r"""After UTAG (Kim et al. 2022): the features averaged over the cell graph ``hops`` times,
:math:`X' = (D^{-1}(A + I))^h X`, then k-means (UTAG itself clusters with Leiden; k-means gives exactly K). O(h E F).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import scipy.sparse as sp
from torch_geometric.data import Data

from graphpool.cells.neighbourhood.kmeans import kmeans_labels
from graphpool.ops.ranges import Range, check_ranges


@dataclass(frozen=True)
class UtagOptions:
    """Options of the ``"utag"`` method.

    Attributes:
        hops: the averaging steps.
    """

    hops: int = 3

    RANGES: ClassVar[dict[str, Range]] = {"hops": Range(1)}

    def __post_init__(self) -> None:
        check_ranges(self, self.RANGES)


def fit_utag(graphs: Sequence[Data], k: int, options: UtagOptions, seed: int, progress: bool = False) -> np.ndarray:
    """``[cells]`` the neighbourhood of every cell of ``graphs`` (in graph order); nothing to show ``progress`` of."""
    return kmeans_labels(np.concatenate([graph_mean(g, options.hops) for g in graphs]), k, seed)


def graph_mean(graph: Data, hops: int) -> np.ndarray:
    """``[n, F]`` the features averaged ``hops`` times over each cell and its graph neighbours (0: as they are)."""
    n = graph.num_nodes
    source, target = graph.edge_index.numpy()
    adjacency = sp.csr_matrix((np.ones(source.size), (target, source)), shape=(n, n)) + sp.identity(n, format="csr")
    mean = sp.diags(1.0 / np.asarray(adjacency.sum(axis=1)).ravel()) @ adjacency
    x = graph.x.numpy().astype(np.float64)
    for _ in range(hops):
        x = mean @ x
    return x.astype(np.float32)
