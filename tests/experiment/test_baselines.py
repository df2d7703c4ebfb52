"""The baselines that see no graph structure beyond its size: features, models and their scores on known data."""

import math

import numpy as np
import pytest
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


# the forest predicted on every core (n_jobs=-1, whatever --threads said), adding its 500 trees' outputs in the
# order the threads finished: 39 of the 1,282 solubility predictions differed in the last bit from run to run
@pytest.mark.parametrize("task", ["regression", "classification"])
def test_the_fingerprint_forest_predicts_bit_for_bit_on_the_threads_it_is_given(task: str) -> None:
    from graphpool.experiment.baselines import baseline_scores, fingerprint_forest

    generator = np.random.default_rng(0)
    features = generator.random((300, 16))
    targets = features[:, 0] * 3 + generator.normal(0, 0.1, 300)
    targets = targets if task == "regression" else (targets > 1.5).astype(int)
    folds = [(list(range(200)), list(range(200, 300)))]
    model = lambda: fingerprint_forest(0, task_of(task))
    threads = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        assert model().n_jobs == 2  # the threads torch runs on (--threads), not every core
        runs = [baseline_scores(features, targets, folds, model, task_of(task))[1] for _ in range(4)]
    finally:
        torch.set_num_threads(threads)
    forest = model().fit(features[:200], targets[:200])
    if task == "regression":  # sklearn's own sum, one tree after the other, then the division
        total = np.zeros(100)
        for tree in forest.estimators_:
            total += tree.predict(features[200:])
        assert runs[0] == (total / len(forest.estimators_)).tolist()
    assert all(run == runs[0] for run in runs)
