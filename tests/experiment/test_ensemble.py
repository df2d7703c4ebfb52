"""Seed ensembles: the selected candidate trained with several seeds, its test predictions averaged."""

import json
from dataclasses import replace
from pathlib import Path

import pytest
import torch
from torch_geometric.data import Batch, Data

from graphpool.experiment import TrainConfig, assess
from graphpool.experiment.results import format_table, summary_row
from graphpool.experiment.training import train_candidate
from graphpool.models import GraphClassifier, ModelConfig

CPU = torch.device("cpu")


def _graphs(regression: bool = False) -> list[Data]:
    generator = torch.Generator().manual_seed(0)
    graphs = []
    for i in range(30):
        n = 5 + i % 4
        ring = torch.arange(n)
        edge_index = torch.stack([torch.cat([ring, (ring + 1) % n]), torch.cat([(ring + 1) % n, ring])])
        x = torch.randn(n, 3, generator=generator) + (i % 2)
        y = torch.tensor([[float(x.sum())]]) if regression else torch.tensor([i % 2])
        graphs.append(Data(x=x, edge_index=edge_index, y=y))
    return graphs


def _members(graphs: list[Data], split: dict, model: ModelConfig, train: TrainConfig, folder: Path) -> list:
    """The ensemble's members trained by hand: the same fit / validation split, seeds seed, seed + 1, ..."""
    networks = []
    for member in range(train.ensemble):
        path = folder / f"member-{member}.pt"
        seeded = replace(train, seed=train.seed + member, ensemble=1)
        train_candidate(graphs, {"fit": split["fit"], "validation": split["validation"]}, model, seeded, CPU, path)
        network = GraphClassifier(model)
        network.load_state_dict(torch.load(path, weights_only=True)["state"]["best_model"])
        networks.append(network.eval())
    return networks


@pytest.mark.parametrize("task", ["classification", "regression"])
def test_an_ensemble_averages_its_members_probabilities_or_values(tmp_path: Path, task: str) -> None:
    regression = task == "regression"
    graphs = _graphs(regression)
    model = ModelConfig(in_channels=3, num_classes=1 if regression else 2, hidden=8, layers=1, task=task)
    train = TrainConfig(epochs=4, patience=4, batch_size=4, seed=3, ensemble=3)
    fold = (list(range(20)), list(range(20, 30)))
    [result] = assess(graphs, [fold], model, train, tmp_path / "run", CPU)
    [split] = json.loads((tmp_path / "run" / "splits.json").read_text())
    networks = _members(graphs, split, model, train, tmp_path)
    with torch.no_grad():
        test = Batch.from_data_list([graphs[i] for i in split["test"]])
        outputs = [network(test) for network in networks]
        if regression:
            values = [network.predict(out) for network, out in zip(networks, outputs, strict=True)]
            expected = torch.stack(values).mean(0).squeeze(-1)
            alone = values[0].squeeze(-1)
        else:
            expected = torch.stack([out.logits.softmax(-1) for out in outputs]).mean(0).argmax(-1)
            alone = outputs[0].logits.argmax(-1)
    assert torch.allclose(torch.tensor(result["predictions"]).float(), expected.float(), atol=1e-5)
    assert result["ensemble"] == 3 and len(result["members"]) == 3
    main = "rmse" if regression else "accuracy"
    assert result["members"][0][f"validation_{main}"] == result[f"validation_{main}"]
    target = test.y.squeeze(-1).float()
    if regression:
        assert result["single_test_rmse"] == pytest.approx(float((alone - target).square().mean().sqrt()), rel=1e-5)
        assert result["test_rmse"] == pytest.approx(float((expected - target).square().mean().sqrt()), rel=1e-5)
    else:
        assert result["single_test_accuracy"] == pytest.approx(float((alone == target).float().mean()))
    assert not list((tmp_path / "run").glob("fold-1-*.pt"))  # every member's checkpoint is removed with the fold's


def test_one_seed_is_the_plain_run_and_says_no_ensemble(tmp_path: Path) -> None:
    graphs, model = _graphs(), ModelConfig(in_channels=3, num_classes=2, hidden=8, layers=1)
    fold = (list(range(20)), list(range(20, 30)))
    [result] = assess(graphs, [fold], model, TrainConfig(epochs=3, batch_size=4), tmp_path, CPU)
    assert result["ensemble"] == 1 and "members" not in result and "single_test_accuracy" not in result


def test_the_ensemble_size_is_checked() -> None:
    with pytest.raises(ValueError, match="'ensemble' must be >= 1"):
        TrainConfig(ensemble=0)
    with pytest.raises(TypeError, match="'ensemble' must be a whole number"):
        TrainConfig(ensemble=2.0)  # type: ignore[arg-type]


def test_the_table_shows_what_one_seed_scored_beside_the_ensemble() -> None:
    folds = [{"single_test_accuracy": 0.5, "test_accuracy": 0.75}, {"single_test_accuracy": 0.7, "test_accuracy": 0.65}]
    row = summary_row("sum", "none", {"accuracy": [0.75, 0.65]}, folds_per_repeat=2, seconds_per_fold=1.0, folds=folds)
    assert row["mean_single_accuracy"] == pytest.approx(0.6)
    table = format_table([row])
    assert "accuracy (1 seed)" in table.splitlines()[0] and "60.0" in table.splitlines()[1]
    plain = summary_row("sum", "none", {"accuracy": [0.75]}, folds_per_repeat=1, seconds_per_fold=1.0, folds=[{}])
    assert "mean_single_accuracy" not in plain and "1 seed" not in format_table([plain])
