r"""Baselines that see no graph: a scikit-learn model on one feature vector per graph, on the same folds.

Each is fitted on a fold's whole training part with fixed settings (nothing is tuned, so no inner
hold-out is needed) and tested once on the fold's test part, beside the graph models:

- cell-type proportions + logistic regression (``graphpool cells``): what composition alone predicts;
- Morgan count fingerprints + a random forest (``graphpool classify --baseline fingerprint``): the
  first model a chemist compares a GNN against (MoleculeNet, chemprop);
- the graph's size, :math:`\log(1 + n)` and :math:`\log(1 + m)` of its n nodes and m edges, + a logistic
  (or linear) regression (``--baseline size``): what a readout could learn from counting alone. On some
  benchmarks it is most of the signal (DD's classes differ in protein size).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch
from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from graphpool.experiment.folds import Fold
from graphpool.experiment.tasks import Task

#: the ``--baseline`` names and the row each adds to the results
BASELINES = {"fingerprint": "fingerprint (random forest)", "size": "graph size (linear model)"}


def baseline_scores(
    features: np.ndarray, targets: Sequence[float], folds: Sequence[Fold], make_model: Callable[[], Any], task: Task
) -> tuple[dict[str, list[float]], list[float]]:
    """Test scores per fold of ``make_model()`` (a scikit-learn estimator) fitted on each fold's training part.

    Returns every metric of ``task`` per fold (as the graph models' rows report them), and the
    out-of-fold predictions, fold after fold, each in the order of its test indices.
    """
    y = np.asarray(targets)
    scores: dict[str, list[float]] = {name: [] for name in task.metrics}
    predictions: list[float] = []
    for train, test in folds:
        model = make_model().fit(features[list(train)], y[list(train)])
        if "n_jobs" in model.get_params():  # a forest's threads add the trees' outputs in the order they finish:
            model.set_params(n_jobs=1)  # predictions in one thread, the same bits run after run
        predicted = model.predict(features[list(test)])
        for name, value in task.scores(task.sums(torch.as_tensor(predicted), torch.as_tensor(y[list(test)]))).items():
            scores[name].append(value)
        predictions += predicted.tolist()
    return scores, predictions


def majority_scores(labels: Sequence[int], folds: Sequence[Fold]) -> list[float]:
    """Test accuracy per fold of predicting every test graph as its fold's training majority class.

    The floor a classifier must beat (ties: the smallest class); reported beside the models.
    """
    y = np.asarray(labels)
    scores = []
    for train, test in folds:
        majority = int(np.bincount(y[list(train)]).argmax())
        scores.append(float(np.mean(y[list(test)] == majority)) if len(test) else float("nan"))
    return scores


def fingerprint_forest(seed: int, task: Task) -> Any:
    """A random forest of 500 trees (scikit-learn defaults otherwise), seeded: the fingerprint baseline's model.

    A classifier, or a regressor (mean squared error splits) under regression.
    """
    forest = RandomForestRegressor if task.name == "regression" else RandomForestClassifier
    return forest(n_estimators=500, random_state=seed, n_jobs=torch.get_num_threads())  # --threads, as torch


def graph_size_features(graphs: Sequence[Any]) -> np.ndarray:
    r"""``[G, 2]`` float64: :math:`\log(1 + n)` and :math:`\log(1 + m)` per graph, of its ``num_nodes`` n and
    undirected edges m (``num_edges / 2``: PyG stores each edge in both directions)."""
    sizes = np.array([[g.num_nodes, g.num_edges / 2] for g in graphs], dtype=np.float64).reshape(-1, 2)
    return np.log1p(sizes)


def size_model(seed: int, task: Task) -> Any:
    """The size baseline's model: standardised features, then a logistic regression (L2, scikit-learn's
    defaults, seeded) or, under regression, an ordinary least-squares line."""
    if task.name == "regression":
        return make_pipeline(StandardScaler(), LinearRegression())
    return make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000, random_state=seed))


def size_baseline(
    graphs: Sequence[Any], targets: Sequence[float], folds: Sequence[Fold], seed: int, task: Task
) -> tuple[dict[str, list[float]], list[float]]:
    """:func:`baseline_scores` of :func:`size_model` on :func:`graph_size_features`: what size alone predicts."""
    return baseline_scores(graph_size_features(graphs), targets, folds, lambda: size_model(seed, task), task)


def proportion_model() -> Any:
    """The cell-type proportion baseline's model: standardised proportions, then a logistic regression
    (scikit-learn's defaults: L2, C = 1; deterministic, so unseeded)."""
    return make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))
