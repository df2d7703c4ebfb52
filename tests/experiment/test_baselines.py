"""The baselines that see no graph structure beyond its size: features, models and their scores on known data."""

import math

import numpy as np
import torch
from torch_geometric.data import Data

from graphpool.experiment import stratified_folds
from graphpool.experiment.baselines import BASELINES, graph_size_features, size_baseline
from graphpool.experiment.tasks import task_of


def _path(nodes: int) -> Data:
    """A path of ``nodes`` nodes, its edges stored in both directions (as PyG does): 2 (n - 1) entries."""
    line = torch.arange(nodes - 1)
    edges = torch.stack([torch.cat([line, line + 1]), torch.cat([line + 1, line])])
    return Data(x=torch.ones(nodes, 1), edge_index=edges, num_nodes=nodes)


def _size_baseline(graphs: list[Data], targets: list, folds: list, task: str = "classification") -> tuple:
    """The size baseline's scores and out-of-fold predictions, as ``--baseline size`` fits it (seed 0)."""
    return size_baseline(graphs, targets, folds, 0, task_of(task))


def test_the_size_features_are_the_log_node_and_edge_counts() -> None:
    graphs = [_path(1), _path(2), _path(10)]
    features = graph_size_features(graphs)
    assert features.shape == (3, 2) and features.dtype == np.float64
    # an undirected edge counts once (PyG stores it twice); a one-node graph has no edges and is still finite
    assert np.allclose(
        features, [[math.log1p(1), 0.0], [math.log1p(2), math.log1p(1)], [math.log1p(10), math.log1p(9)]]
    )


def test_the_size_baseline_classifies_a_size_that_carries_the_class_and_is_at_chance_where_it_does_not() -> None:
    sizes = [3 + i % 20 for i in range(80)]
    graphs = [_path(n) for n in sizes]
    by_size = [int(n > 12) for n in sizes]
    folds = stratified_folds(by_size, 4, seed=0)
    scores, predicted = _size_baseline(graphs, by_size, folds)
    assert scores["accuracy"] == [1.0] * 4
    assert predicted == [by_size[i] for _, test in folds for i in test]
    alternating = [i % 2 for i in range(80)]  # independent of the size: a linear model of it cannot beat chance
    folds = stratified_folds(alternating, 4, seed=0)
    scores, _ = _size_baseline(graphs, alternating, folds)
    assert np.mean(scores["accuracy"]) <= 0.6


def test_the_size_baseline_regresses_a_value_linear_in_the_log_size() -> None:
    sizes = [2 + i for i in range(40)]
    targets = [2.0 * math.log1p(n) - 1.0 for n in sizes]
    folds = stratified_folds([i % 2 for i in range(40)], 4, seed=0)
    scores, _ = _size_baseline([_path(n) for n in sizes], targets, folds, "regression")
    assert max(scores["rmse"]) < 1e-6


def test_the_baselines_are_named() -> None:
    assert set(BASELINES) == {"fingerprint", "size"}
    assert graph_size_features([]).shape == (0, 2)
