"""Baselines that see no graph: a scikit-learn model on one feature vector per graph, on the same folds.

Each is fitted on a fold's whole training part with fixed settings (nothing is tuned, so no inner
hold-out is needed) and tested once on the fold's test part, beside the graph models:

- cell-type proportions + logistic regression (``graphpool cells``): what composition alone predicts;
- Morgan count fingerprints + a random forest (``graphpool classify --baseline fingerprint``): the
  first model a chemist compares a GNN against (MoleculeNet, chemprop).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch

from graphpool.experiment.folds import Fold
from graphpool.experiment.tasks import Task


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
    from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor

    forest = RandomForestRegressor if task.name == "regression" else RandomForestClassifier
    return forest(n_estimators=500, random_state=seed, n_jobs=-1)
