"""Regression: the scores against scikit-learn, target standardisation on the fit part only, unstratified folds."""

from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import mean_absolute_error, mean_squared_error, r2_score

from graphpool.data import NUM_ATOM_FEATURES, smiles_to_graph
from graphpool.experiment import (
    Classification,
    Regression,
    TrainConfig,
    grouped_folds,
    inner_split,
    predict,
    random_folds,
    train_candidate,
)
from graphpool.experiment.baselines import baseline_scores
from graphpool.models import GraphClassifier, ModelConfig, TargetScale
from tests.installed import needs_rdkit

finite = st.floats(-1e3, 1e3, allow_nan=False)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(finite, finite), min_size=2, max_size=40), st.integers(1, 39))
def test_regression_scores_are_sklearns_and_add_up_over_parts(pairs: list, cut: int) -> None:
    """Scores from summed statistics equal scikit-learn's on the whole, however the rows are split (processes)."""
    predicted, target = (torch.tensor(column, dtype=torch.float64) for column in zip(*pairs, strict=True))
    task = Regression()
    cut = min(cut, len(pairs) - 1)
    parts = [task.sums(predicted[:cut], target[:cut]), task.sums(predicted[cut:], target[cut:])]
    scores = task.scores([a + b for a, b in zip(*parts, strict=True)])
    assert scores["rmse"] == pytest.approx(mean_squared_error(target, predicted) ** 0.5, rel=1e-9, abs=1e-9)
    assert scores["mae"] == pytest.approx(mean_absolute_error(target, predicted), rel=1e-9, abs=1e-9)
    spread = float(((target - target.mean()) ** 2).sum())
    if spread > 1e-6 * max(1.0, float((target**2).sum())):  # R^2 is undefined for a constant target
        assert scores["r2"] == pytest.approx(r2_score(target, predicted), rel=1e-6, abs=1e-6)


def test_selection_maximises_accuracy_and_minimises_rmse() -> None:
    assert Classification().selection({"accuracy": 0.9}) > Classification().selection({"accuracy": 0.8})
    assert Regression().selection({"rmse": 0.5}) > Regression().selection({"rmse": 0.6})
    assert Regression().selection({"validation_rmse": 0.5}, "validation_") == -0.5


def test_target_scale_round_trips_and_refuses_non_finite_targets() -> None:
    scale = TargetScale(1).fit(torch.tensor([1.0, 3.0, 5.0]))
    assert scale.mean.item() == 3.0 and scale.std.item() == pytest.approx((8 / 3) ** 0.5)
    y = torch.tensor([[-2.0], [7.0]])
    assert torch.allclose(scale(scale.standardise(y)), y)
    assert TargetScale(1).fit(torch.tensor([4.0, 4.0])).std.item() == 1.0  # a constant target is not divided by 0
    with pytest.raises(ValueError, match="finite"):
        TargetScale(1).fit(torch.tensor([1.0, float("nan")]))


SMILES = (
    ["C" * n for n in range(1, 9)] + ["O" + "C" * n for n in range(1, 9)] + ["c1ccccc1" + "C" * n for n in range(8)]
)


def _atom_count_graphs() -> list:
    """Molecules whose target is their heavy-atom count, + 100 (a sum readout can count; the offset tests the scale)."""
    graphs = []
    for smiles in SMILES:
        graph = smiles_to_graph(smiles)
        graph.y = torch.tensor([100.0 + graph.num_nodes])
        graphs.append(graph)
    return graphs


@needs_rdkit
def test_the_scale_is_fitted_on_the_fit_part_only_and_a_gin_learns_to_count(tmp_path: Path) -> None:
    graphs = _atom_count_graphs()
    for i in (22, 23):  # outliers outside fit and validation (a test part): no scale may see them
        graphs[i].y = torch.tensor([1e4])
    fit, validation = list(range(20)), [20, 21]
    model = ModelConfig(
        in_channels=NUM_ATOM_FEATURES, num_classes=1, task="regression", layers=2, hidden=32, dropout=0.0
    )
    train = TrainConfig(epochs=150, patience=150, batch_size=8, lr=0.01, seed=0)
    split = {"fit": fit, "validation": validation}
    result = train_candidate(graphs, split, model, train, torch.device("cpu"), tmp_path / "c.pt")
    assert set(result) >= {"validation_rmse", "validation_mae", "validation_r2", "best_epoch"}
    network = GraphClassifier(model)
    network.load_state_dict(torch.load(tmp_path / "c.pt", weights_only=False)["state"]["best_model"])
    targets = torch.tensor([float(graphs[i].y) for i in fit])
    assert network.scale.mean.item() == pytest.approx(targets.mean().item())
    assert network.scale.std.item() == pytest.approx(targets.std(unbiased=False).item())
    predicted, target = predict(network, [graphs[i] for i in fit], 8, torch.device("cpu"))
    assert predicted.shape == (20, 1)  # in the targets' units
    assert r2_score(target, predicted.squeeze(1)) > 0.9  # the heavy-atom count, learned


def test_random_and_grouped_folds_without_labels_partition_and_are_seeded() -> None:
    folds = random_folds(23, 5, seed=1)
    assert sorted(i for _, test in folds for i in test) == list(range(23))
    assert folds == random_folds(23, 5, seed=1) and folds != random_folds(23, 5, seed=2)
    groups = [i // 3 for i in range(30)]
    grouped = grouped_folds(None, groups, 4, 1, seed=0)
    for train, test in grouped:
        assert not {groups[i] for i in train} & {groups[i] for i in test}
    sizes = [len(test) for _, test in grouped]
    assert max(sizes) - min(sizes) <= 3  # balanced to one group
    fit, validation = inner_split(grouped[0][0], None, 0.25, 0, groups)
    assert not {groups[i] for i in fit} & {groups[i] for i in validation}
    with pytest.raises(ValueError, match="need at least 5 graphs; there are 4"):
        random_folds(4, 5, seed=0)


def test_the_baseline_scores_each_fold_and_returns_out_of_fold_predictions() -> None:
    from sklearn.linear_model import LinearRegression

    features = np.arange(20, dtype=float).reshape(-1, 1)
    targets = 2 * features[:, 0] + 1
    folds = random_folds(20, 4, seed=0)
    scores, predictions = baseline_scores(features, targets, folds, LinearRegression, Regression())
    assert len(scores["rmse"]) == 4 and max(scores["rmse"]) < 1e-9
    assert np.allclose(predictions, [targets[i] for _, test in folds for i in test])
