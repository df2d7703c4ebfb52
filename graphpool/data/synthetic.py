r"""A graph-classification benchmark that needs pooling, generated (no download).

After the recipe of Bianchi et al. (Neurocomputing 2022, "Pyramidal Reservoir Graph Neural
Network"): every graph is a k-nearest-neighbour graph (k = 5) over three 2-D point clouds drawn
with scikit-learn, two moons (parts 0, 1), Gaussian quantiles (parts 2, 3) and a blob (part 4);
a node's features are the one-hot of its part. The three clouds lie side by side on a line,
and the class is which cloud is in the middle (0: moons, 1: quantiles, 2: blob). Every class has
the same parts in the same proportions (the features alone say nothing) and the same kind of
structure inside each cloud (the structure alone says nothing): only how the clouds are placed
relative to each other decides the class, a property of whole clouds, which is what pooling
nodes into clusters exposes.

- ``"easy"``: 40-80 nodes, clouds close together: a dense graph, every neighbouring pair of
  clouds joined by many edges.
- ``"hard"``: 100-200 nodes, clouds farther apart with jittered gaps: a sparse graph, few edges
  between clouds and sometimes none (a disconnected graph, which no model can classify).
"""

from __future__ import annotations

import numpy as np
import torch
from torch_geometric.data import Data

#: the variants: (nodes low, nodes high, gap between cloud centres, its jitter)
VARIANTS = {"easy": (40, 80, 1.7, 0.1), "hard": (100, 200, 2.1, 0.3)}
#: the node features: one-hot of the five point-cloud parts
NUM_PARTS = 5
#: the classes: which cloud sits in the middle
NUM_CLASSES = 3
_NEIGHBOURS = 5


def _clouds(n: int, rng: np.random.Generator) -> list[tuple[np.ndarray, np.ndarray]]:
    """The three clouds of about n/3 points each, centred at 0, as (points [m, 2], part [m])."""
    from sklearn.datasets import make_blobs, make_gaussian_quantiles, make_moons

    sizes = rng.multinomial(n - 3 * 6, [1 / 3] * 3) + 6  # at least 6 points each
    seeds = rng.integers(0, 2**31 - 1, size=3)
    moons, moon_part = make_moons(int(sizes[0]), noise=0.1, random_state=int(seeds[0]))
    moons = (moons - moons.mean(0)) / 1.2
    quantiles, quantile_part = make_gaussian_quantiles(
        cov=0.15, n_samples=int(sizes[1]), n_classes=2, random_state=int(seeds[1])
    )
    blob, _ = make_blobs(int(sizes[2]), centers=[[0.0, 0.0]], cluster_std=0.35, random_state=int(seeds[2]))
    return [(moons, moon_part), (quantiles, quantile_part + 2), (blob, np.full(int(sizes[2]), 4))]


def _graph(label: int, variant: str, rng: np.random.Generator) -> Data:
    from sklearn.neighbors import NearestNeighbors

    low, high, gap, jitter = VARIANTS[variant]
    clouds = _clouds(int(rng.integers(low, high + 1)), rng)
    order = [c for c in range(3) if c != label]
    order.insert(1, label)  # the class's cloud in the middle
    points, parts = [], []
    for slot, cloud in enumerate(order):
        xy, part = clouds[cloud]
        shift = slot * gap + (rng.normal(0, jitter) if slot else 0.0)
        angle = rng.uniform(0, 2 * np.pi)  # each cloud turned at random: orientation carries no class
        rotation = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
        points.append(xy @ rotation.T + [shift, 0.0])
        parts.append(part)
    pos = np.concatenate(points)
    part = np.concatenate(parts)
    neighbours = NearestNeighbors(n_neighbors=_NEIGHBOURS + 1).fit(pos).kneighbors(pos, return_distance=False)[:, 1:]
    src = np.repeat(np.arange(len(pos)), _NEIGHBOURS)
    edge_index = torch.as_tensor(np.stack([src, neighbours.ravel()]), dtype=torch.long)
    edge_index = torch.unique(torch.cat([edge_index, edge_index.flip(0)], dim=1), dim=1)  # symmetric kNN
    perm = torch.as_tensor(rng.permutation(len(pos)))  # node order carries no class either
    inverse = torch.argsort(perm)
    x = torch.nn.functional.one_hot(torch.as_tensor(part)[perm], NUM_PARTS).float()
    return Data(
        x=x,
        edge_index=inverse[edge_index],
        y=torch.tensor([label]),
        pos=torch.as_tensor(pos, dtype=torch.float32)[perm],
    )


def pooling_benchmark(variant: str = "hard", num_graphs: int = 1200, seed: int = 0) -> list[Data]:
    """``num_graphs`` graphs of the ``variant`` (``"easy"`` or ``"hard"``), classes balanced, shuffled.

    Each :class:`~torch_geometric.data.Data` has ``x`` ``[n, 5]`` (one-hot part), ``edge_index``
    (symmetric 5-NN), ``y`` ``[1]`` and ``pos`` ``[n, 2]`` (the points; not a model input here).
    Deterministic for a ``seed``.
    """
    if variant not in VARIANTS:
        raise ValueError(f"'variant' must be one of {tuple(VARIANTS)}, got {variant!r}")
    if num_graphs < NUM_CLASSES:
        raise ValueError(f"'num_graphs' must be >= {NUM_CLASSES} (one per class), got {num_graphs}")
    rng = np.random.default_rng(seed)
    labels = rng.permutation(np.arange(num_graphs) % NUM_CLASSES)
    return [_graph(int(label), variant, rng) for label in labels]
