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

from graphpool.experiment.folds import Fold


def baseline_accuracies(
    features: np.ndarray, labels: Sequence[int], folds: Sequence[Fold], make_model: Callable[[], Any]
) -> list[float]:
    """Test accuracy per fold of ``make_model()`` (a scikit-learn classifier) fitted on the fold's training part."""
    labels = np.asarray(labels)
    accuracies = []
    for train, test in folds:
        model = make_model().fit(features[list(train)], labels[list(train)])
        accuracies.append(float((model.predict(features[list(test)]) == labels[list(test)]).mean()))
    return accuracies


def fingerprint_forest(seed: int) -> Any:
    """A random forest of 500 trees (scikit-learn defaults otherwise), seeded: the fingerprint baseline's model."""
    from sklearn.ensemble import RandomForestClassifier

    return RandomForestClassifier(n_estimators=500, random_state=seed, n_jobs=-1)
