"""The recipe's training settings: a batch sized to the data, and auxiliary losses phased in."""

import pytest
import torch
from torch_geometric.data import Data

from graphpool.experiment import TrainConfig
from graphpool.experiment.training import _fit_batches, _train_epoch
from graphpool.models import GraphClassifier, ModelConfig


@pytest.mark.parametrize(("graphs", "batch"), [(5, 1), (152, 15), (1279, 127), (1280, 128), (10_000, 128)])
def test_a_batch_sized_to_the_data_gives_at_least_ten_steps_and_at_most_128_graphs(graphs: int, batch: int) -> None:
    train = TrainConfig()
    assert train.batch_size is None and train.fit_batch_size(graphs) == batch
    steps = len(_fit_batches(list(range(graphs)), train.fit_batch_size(graphs), epoch=0, seed=0))
    assert steps >= min(10, graphs)
    assert TrainConfig(batch_size=32).fit_batch_size(graphs) == 32
    assert TrainConfig(batch_size=32).predict_batch_size == 32 and train.predict_batch_size == 128


def test_training_settings_are_checked() -> None:
    with pytest.raises(ValueError, match="'aux_warmup' must be >= 0"):
        TrainConfig(aux_warmup=-1)
    with pytest.raises(TypeError, match="'aux_warmup' must be a whole number"):
        TrainConfig(aux_warmup=2.5)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="'batch_size' must be >= 1"):
        TrainConfig(batch_size=0)
    assert [TrainConfig(aux_warmup=4).aux_factor(e) for e in (0, 2, 4, 9)] == [0.0, 0.5, 1.0, 1.0]
    assert TrainConfig().aux_factor(0) == 1.0


def _graphs() -> list[Data]:
    generator = torch.Generator().manual_seed(0)
    graphs = []
    for i in range(12):
        n = 6 + i % 3
        ring = torch.arange(n)
        edge_index = torch.stack([torch.cat([ring, (ring + 1) % n]), torch.cat([(ring + 1) % n, ring])])
        graphs.append(Data(x=torch.randn(n, 3, generator=generator), edge_index=edge_index, y=torch.tensor([i % 2])))
    return graphs


def _one_epoch(config: ModelConfig, train: TrainConfig, epoch: int) -> dict[str, torch.Tensor]:
    torch.manual_seed(0)
    network = GraphClassifier(config)
    optimiser = torch.optim.Adam(network.parameters(), lr=0.01)
    _train_epoch(network, network, optimiser, _graphs(), train, epoch, torch.device("cpu"))
    return network.state_dict()


def test_a_warm_up_trains_on_the_task_alone_first_then_adds_the_auxiliary_losses() -> None:
    config = ModelConfig(in_channels=3, num_classes=2, hidden=8, layers=1, pool="mincut", clusters=3)
    silent = ModelConfig(**{**config.to_dict(), "loss_weights": {"mincut": 0.0, "ortho": 0.0}})
    warm = TrainConfig(batch_size=4, aux_warmup=5)
    first, task_only = _one_epoch(config, warm, 0), _one_epoch(silent, warm, 0)
    assert all(torch.equal(first[name], task_only[name]) for name in first)
    later, later_task_only = _one_epoch(config, warm, 5), _one_epoch(silent, warm, 5)
    assert not all(torch.equal(later[name], later_task_only[name]) for name in later)


def test_weights_that_stop_being_numbers_are_named_as_a_divergence() -> None:
    config = ModelConfig(in_channels=3, num_classes=2, hidden=8, layers=1, pool="mincut", clusters=3)
    network = GraphClassifier(config)
    with torch.no_grad():
        network.stage.levels[0].select.assign.weight.fill_(float("nan"))
    optimiser = torch.optim.Adam(network.parameters())
    with pytest.raises(ValueError, match=r"training diverged in epoch 3: stage\.levels\.0\.select\.assign\.weight"):
        _train_epoch(network, network, optimiser, _graphs(), TrainConfig(batch_size=4), 2, torch.device("cpu"))


# predict (under evaluate) and the pooling diagnostics left a model in training mode in eval mode: a loop of
# the user's own that evaluated after each epoch trained from then on without dropout or batch statistics
@pytest.mark.parametrize("call", ["predict", "evaluate", "pooling_diagnostics"])
def test_evaluating_runs_in_eval_mode_and_leaves_the_model_in_its_mode(call: str) -> None:
    from graphpool import experiment

    torch.manual_seed(0)
    model = GraphClassifier(ModelConfig(in_channels=3, num_classes=2, hidden=8, layers=2, pool="mincut", clusters=2))
    model.train()
    batch_norm = next(m for m in model.modules() if isinstance(m, torch.nn.BatchNorm1d))
    before = batch_norm.running_mean.clone()
    result = getattr(experiment, call)(model, _graphs(), 4, torch.device("cpu"))
    assert torch.equal(batch_norm.running_mean, before), "evaluated in training mode: batch norm's statistics moved"
    assert result is not None and model.training and all(m.training for m in model.modules())


# training a candidate reseeded torch's global generator (torch.manual_seed) and left it so: a notebook's own
# random draws after run_experiment came out the same in every session
def test_training_a_candidate_leaves_the_global_random_state_as_it_was(tmp_path) -> None:
    from graphpool.experiment import train_candidate

    config = ModelConfig(in_channels=3, num_classes=2, hidden=8, layers=1, dropout=0.5)
    split = {"fit": list(range(8)), "validation": list(range(8, 12))}
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    first = train_candidate(_graphs(), split, config, TrainConfig(epochs=2, batch_size=4), torch.device("cpu"),
                            tmp_path / "a.pt")  # fmt: skip
    assert torch.equal(torch.rand(3), expected)
    again = train_candidate(_graphs(), split, config, TrainConfig(epochs=2, batch_size=4), torch.device("cpu"),
                            tmp_path / "b.pt")  # fmt: skip
    assert first["validation_accuracy"] == again["validation_accuracy"]  # its own seed: the same training
    assert torch.equal(torch.load(tmp_path / "a.pt")["state"]["best_model"]["head.0.weight"],
                       torch.load(tmp_path / "b.pt")["state"]["best_model"]["head.0.weight"])  # fmt: skip


def _labelled(count: int, task: str = "classification") -> list[Data]:
    edges = torch.tensor([[0, 1], [1, 0]])
    y = (lambda i: torch.tensor([i % 2])) if task == "classification" else (lambda i: torch.tensor([float(i)]))
    return [Data(x=torch.randn(2, 3), edge_index=edges, y=y(i)) for i in range(count)]


# an empty list scored accuracy 0.0 (RMSE 0.0): a number for no graphs; graphs without y failed with
# "'NoneType' object has no attribute 'cpu'"; an empty ensemble with an IndexError, one of two widths in torch.stack
@pytest.mark.parametrize("task", ["classification", "regression"])
def test_evaluate_and_predict_name_what_they_cannot_score(task: str) -> None:
    from graphpool.experiment import evaluate, predict

    network = GraphClassifier(ModelConfig(in_channels=3, num_classes=2 if task == "classification" else 1, task=task))
    cpu = torch.device("cpu")
    with pytest.raises(ValueError, match=r"'graphs' is empty: there is nothing to evaluate"):
        evaluate(network, [], 2, cpu)
    unlabelled = [Data(x=g.x, edge_index=g.edge_index) for g in _labelled(3, task)]
    with pytest.raises(ValueError, match=r"the graphs carry no targets \(data.y\): there is nothing to score"):
        evaluate(network, unlabelled, 2, cpu)
    predicted, targets = predict(network, unlabelled, 2, cpu)  # new graphs without labels: predictions alone
    assert predicted.size(0) == 3 and targets.numel() == 0
    with pytest.raises(ValueError, match=r"'network' is an empty list: give one network or several"):
        predict([], _labelled(3, task), 2, cpu)


def test_an_ensemble_of_other_outputs_is_refused() -> None:
    from graphpool.experiment import predict

    two, three = (GraphClassifier(ModelConfig(in_channels=3, num_classes=c)) for c in (2, 3))
    with pytest.raises(ValueError, match=r"an ensemble's networks must share one task and output width"):
        predict([two, three], _labelled(3), 2, torch.device("cpu"))


def test_scores_of_no_graphs_are_not_numbers() -> None:
    import math

    from graphpool.experiment import Classification, Regression

    assert all(math.isnan(v) for v in Classification().scores([0.0, 0.0]).values())
    assert all(math.isnan(v) for v in Regression().scores([0.0] * 5).values())


# a checkpoint is written at most every CHECKPOINT_SECONDS of training and always after the last epoch: a
# resume replays the epochs after the last one, and they must come out as they did (every draw is restored)
def test_a_resume_from_an_earlier_epoch_replays_the_same_training(tmp_path) -> None:
    from graphpool.experiment import train_candidate

    config = ModelConfig(in_channels=3, num_classes=2, hidden=8, layers=1, dropout=0.5)
    split = {"fit": list(range(8)), "validation": list(range(8, 12))}
    cpu, graphs = torch.device("cpu"), _graphs()
    whole = train_candidate(
        graphs, split, config, TrainConfig(epochs=5, batch_size=4, patience=9), cpu, tmp_path / "a.pt"
    )
    train_candidate(graphs, split, config, TrainConfig(epochs=2, batch_size=4, patience=9), cpu, tmp_path / "b.pt")
    resumed = train_candidate(
        graphs, split, config, TrainConfig(epochs=5, batch_size=4, patience=9), cpu, tmp_path / "b.pt"
    )
    assert {k: v for k, v in whole.items() if k != "seconds"} == {k: v for k, v in resumed.items() if k != "seconds"}
    saved = [torch.load(tmp_path / name)["state"]["best_model"] for name in ("a.pt", "b.pt")]
    assert all(torch.equal(saved[0][key], saved[1][key]) for key in saved[0])


@pytest.mark.parametrize(("interval", "saves"), [(0.0, 4), (float("inf"), 1)])
def test_checkpoints_are_written_at_the_interval_and_after_the_last_epoch(
    tmp_path, monkeypatch, interval: float, saves: int
) -> None:
    from graphpool.experiment import training

    written = []
    original = training._save
    monkeypatch.setattr(training, "CHECKPOINT_SECONDS", interval)
    monkeypatch.setattr(training, "_save", lambda *args: (written.append(args[3].epoch), original(*args)))
    config = ModelConfig(in_channels=3, num_classes=2, hidden=8, layers=1)
    split = {"fit": list(range(8)), "validation": list(range(8, 12))}
    training.train_candidate(
        _graphs(),
        split,
        config,
        TrainConfig(epochs=4, batch_size=4, patience=9),
        torch.device("cpu"),
        tmp_path / "c.pt",
    )
    assert len(written) == saves and written[-1] == 4
    assert torch.load(tmp_path / "c.pt")["state"]["epoch"] == 4
