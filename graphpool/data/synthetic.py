r"""The graph-classification benchmark built to need pooling, generated here as its authors generate it.

After FilippoMB/Benchmark_dataset_for_graph_classification (``make_dataset.py``; used by MinCutPool, Bianchi et al.
ICML 2020, and "The expressive power of pooling in GNNs", Bianchi & Lachi NeurIPS 2023), written anew from its
description. Every graph has :math:`n` nodes, :math:`n` uniform in :math:`[N/2, N)`: three point sets of
:math:`\lfloor n/3 \rfloor` points each, two moons (colours 0, 1; noise 0.1), Gaussian quantiles (colours 2, 3;
covariance ``cov``) and a blob (colour 4; standard deviation ``2 cov``), each set centred on one of three places.
The coordinates are divided by their column maxima, the graph is the symmetric ``k``-nearest-neighbour graph of
the points (unweighted) and a node's features are the one-hot of its colour. The class is *which set sits where*:

====== ========== ================== ========
class  moons at   quantiles at       blob at
====== ========== ================== ========
0      (4, 0)     (0, 0)             (2, -2)
1      (2, -2)    (4, 0)             (0, 0)
2      (0, 0)     (2, -2)            (4, 0)
====== ========== ================== ========

Every graph has the same colours in the same proportions (the features alone say nothing) and the same kinds of
structure (the structure alone says nothing): only the relative placement of whole point sets decides the class.

=============== ===== ===== === ===============
variant         N     cov   k   graphs / class
=============== ===== ===== === ===============
``easy-small``  80    0.4   5   100
``easy``        200   0.4   5   300
``hard-small``  80    0.2   3   100
``hard``        200   0.2   3   300
=============== ===== ===== === ===============

"hard": sparse graphs (k = 3) that may be disconnected, so higher-order neighbourhoods are needed. The graph counts
are the published datasets' (the repository's README); its script's own default for the normal sizes is 600 per
class. :func:`published_split` draws the published train / validation / test membership (each graph: test with
probability 0.1, else validation with probability 0.1, else train: about 81 / 9 / 10 %).
"""

from __future__ import annotations

import numpy as np
import torch
from torch_geometric.data import Data

from graphpool.ops.ranges import SEED, Range

#: the variants: (largest node count N, covariance, neighbours k, graphs per class)
VARIANTS: dict[str, tuple[int, float, int, int]] = {
    "easy-small": (80, 0.4, 5, 100),
    "easy": (200, 0.4, 5, 300),
    "hard-small": (80, 0.2, 3, 100),
    "hard": (200, 0.2, 3, 300),
}
#: the node features: one-hot of the five colours
NUM_PARTS = 5
#: the classes: where the moons, the quantiles and the blob are centred
NUM_CLASSES = 3
PLACEMENTS: tuple[tuple[tuple[float, float], ...], ...] = (
    ((4.0, 0.0), (0.0, 0.0), (2.0, -2.0)),
    ((2.0, -2.0), (4.0, 0.0), (0.0, 0.0)),
    ((0.0, 0.0), (2.0, -2.0), (4.0, 0.0)),
)
#: the published split's probabilities: a graph is held out for testing with this probability, and of the others
#: this share goes to validation
_TEST_SHARE, _VALIDATION_SHARE = 0.1, 0.1


def _points(label: int, nodes: int, cov: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """``(points [n, 2], colour [n])`` of one graph of class ``label``."""
    from sklearn.datasets import make_blobs, make_gaussian_quantiles, make_moons

    size = int(rng.integers(nodes // 2, nodes)) // 3
    moons_at, quantiles_at, blob_at = PLACEMENTS[label]
    seeds = [int(s) for s in rng.integers(0, 2**31 - 1, size=3)]
    moons, moon_colour = make_moons(n_samples=size, noise=0.1, random_state=seeds[0])
    quantiles, quantile_colour = make_gaussian_quantiles(
        mean=quantiles_at, cov=cov, n_samples=size, n_classes=2, random_state=seeds[1]
    )
    blob, _ = make_blobs(n_samples=size, centers=[blob_at], cluster_std=2 * cov, random_state=seeds[2])
    points = np.concatenate([moons + np.asarray(moons_at), quantiles, blob])
    colour = np.concatenate([moon_colour, quantile_colour + 2, np.full(size, 4)])
    return points / points.max(axis=0), colour


def _graph(label: int, nodes: int, cov: float, neighbours: int, rng: np.random.Generator) -> Data:
    from sklearn.neighbors import NearestNeighbors

    points, colour = _points(label, nodes, cov, rng)
    k = min(neighbours, len(points) - 1)
    nearest = NearestNeighbors(n_neighbors=k + 1).fit(points).kneighbors(points, return_distance=False)[:, 1:]
    edges = np.stack([np.repeat(np.arange(len(points)), k), nearest.ravel()])
    edge_index = torch.unique(torch.as_tensor(np.concatenate([edges, edges[::-1]], axis=1)), dim=1)  # symmetric
    perm = torch.as_tensor(rng.permutation(len(points)))  # node order carries no class
    inverse = torch.argsort(perm)
    return Data(
        x=torch.nn.functional.one_hot(torch.as_tensor(colour)[perm], NUM_PARTS).float(),
        edge_index=inverse[edge_index],
        y=torch.tensor([label]),
        pos=torch.as_tensor(points, dtype=torch.float32)[perm],
    )


def pooling_benchmark(variant: str = "hard", seed: int = 0, graphs_per_class: int | None = None) -> list[Data]:
    """The graphs of ``variant`` (one of :data:`VARIANTS`), classes balanced and shuffled, deterministic for ``seed``.

    Each :class:`~torch_geometric.data.Data` has ``x`` ``[n, 5]`` (one-hot colour), ``edge_index`` (the symmetric
    k-NN graph), ``y`` ``[1]`` and ``pos`` ``[n, 2]`` (the points; not a model input here). ``graphs_per_class``
    overrides the published count (for quick runs).

    >>> from graphpool.data import pooling_benchmark
    >>> graphs = pooling_benchmark("easy-small", graphs_per_class=4)
    >>> len(graphs), sorted({int(graph.y) for graph in graphs}), graphs[0].x.size(1)
    (12, [0, 1, 2], 5)
    """
    if variant not in VARIANTS:
        raise ValueError(f"'variant' must be one of {tuple(VARIANTS)}, got {variant!r}")
    nodes, cov, neighbours, per_class = VARIANTS[variant]
    per_class = per_class if graphs_per_class is None else graphs_per_class
    Range(1, whole=True).check("graphs_per_class", per_class)
    SEED.check("seed", seed)
    rng = np.random.default_rng(seed)
    labels = rng.permutation(np.arange(per_class * NUM_CLASSES) % NUM_CLASSES)
    return [_graph(int(label), nodes, cov, neighbours, rng) for label in labels]


def published_split(num_graphs: int, seed: int = 0) -> dict[str, list[int]]:
    """The published protocol's ``train`` / ``validation`` / ``test`` indices of ``num_graphs`` graphs: each graph
    is a test graph with probability 0.1, else a validation graph with probability 0.1, else a training graph."""
    Range(0, whole=True).check("num_graphs", num_graphs)
    SEED.check("seed", seed)
    rng = np.random.default_rng([seed, 1])  # a stream of its own: the graphs do not change with the split
    tested = rng.random(num_graphs) < _TEST_SHARE
    validated = ~tested & (rng.random(num_graphs) < _VALIDATION_SHARE)
    return {
        "train": np.flatnonzero(~tested & ~validated).tolist(),
        "validation": np.flatnonzero(validated).tolist(),
        "test": np.flatnonzero(tested).tolist(),
    }
