r"""The "cellular neighbourhood" recipe (Schürch et al. 2020): k-means of each cell's window composition.

Each cell's window of its ``window`` nearest cells (itself included) becomes the mean of their features
(with one-hot types: the share of each type), :math:`c_i = \frac{1}{w}\sum_{j \in W(i)} x_j`; k-means on the
:math:`c_i`. O(N w F) time and memory.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import scipy.sparse as sp
from scipy.spatial import cKDTree
from torch_geometric.data import Data

from graphpool.cells.neighbourhood.kmeans import kmeans_labels
from graphpool.ops.ranges import Range, check_ranges


@dataclass(frozen=True)
class CompositionOptions:
    """Options of the ``"composition"`` method.

    Attributes:
        window: the cells per window (Schürch et al. used 10).
    """

    window: int = 10

    RANGES: ClassVar[dict[str, Range]] = {"window": Range(1)}

    def __post_init__(self) -> None:
        check_ranges(self, self.RANGES)


def fit_composition(
    graphs: Sequence[Data], k: int, options: CompositionOptions, seed: int, progress: bool = False
) -> np.ndarray:
    """``[cells]`` the neighbourhood of every cell of ``graphs`` (in graph order); nothing to show ``progress`` of."""
    return kmeans_labels(np.concatenate([_window_mean(g, options.window) for g in graphs]), k, seed)


def _window_mean(graph: Data, window: int) -> np.ndarray:
    """``[n, F]`` the mean features of each cell's ``window`` nearest cells (itself included)."""
    n = graph.num_nodes
    w = min(window, n)
    _, nearest = cKDTree(graph.pos.numpy()).query(graph.pos.numpy(), k=w)
    nearest = np.asarray(nearest).reshape(n, w)
    mean = sp.csr_matrix((np.full(n * w, 1.0 / w), nearest.ravel(), np.arange(0, n * w + 1, w)), shape=(n, n))
    return np.asarray(mean @ graph.x.numpy(), dtype=np.float32)
