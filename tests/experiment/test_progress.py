"""The progress bars' rates and time left count only the work this run does.

A resumed run used to show a fold resumed at epoch 20 as 21 epochs done in the first epoch's time
(time left: seconds, not minutes), and folds finished by an earlier run as folds done in no time.
"""

from pathlib import Path

import pytest
import torch
from torch_geometric.data import Data

from graphpool.experiment import Progress, TqdmProgress, TrainConfig, assess, stratified_folds, train_candidate
from graphpool.models import ModelConfig


class Clock:
    """A stand-in for tqdm's clock: ``now`` seconds, moved by the test."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch) -> Clock:
    clock = Clock()
    monkeypatch.setattr("tqdm.std.time", clock)
    return clock


def left(bar) -> str:
    """The time left the bar shows ('?' when it shows none)."""
    return str(bar).split("<")[1].split(",")[0].split("]")[0]


def test_a_fold_resumed_at_epoch_20_counts_the_epochs_of_this_run(clock: Clock) -> None:
    progress = TqdmProgress()
    progress.combination("sum / diffpool", folds=10)
    progress.fold(6, epochs=100)
    progress.candidate(epochs_done=20)
    clock.now += 10
    progress.epoch(21, 0.5, 0.7)
    assert progress._epochs.n == 21
    assert left(progress._epochs) == "13:10"  # 79 epochs of 10 s, not 79 epochs at 21 per 10 s


def test_the_second_grid_candidate_restarts_the_epoch_clock(clock: Clock) -> None:
    progress = TqdmProgress()
    progress.combination("sum / mincut", folds=10)
    progress.fold(1, epochs=100)
    progress.candidate(epochs_done=0)
    for epoch in range(1, 41):  # the first candidate: 40 epochs of 1 s, then stopped early
        clock.now += 1
        progress.epoch(epoch, 0.5, 0.7)
    progress.candidate(epochs_done=0)
    clock.now += 5
    progress.epoch(1, 0.5, 0.7)
    assert progress._epochs.n == 1
    assert left(progress._epochs) == "08:15"  # 99 epochs of 5 s


def test_folds_finished_by_an_earlier_run_take_no_part_in_the_fold_rate(clock: Clock) -> None:
    progress = TqdmProgress()
    progress.combination("sum / diffpool", folds=10)
    for _ in range(5):
        progress.fold_found()
    progress.fold(6, epochs=100)
    clock.now += 600
    progress.fold_done()
    assert progress._folds.n == 6
    assert left(progress._folds) == "40:00"  # 4 folds of 600 s, not 4 at 6 per 600 s


def test_the_bars_close_when_every_fold_is_done(clock: Clock) -> None:
    progress = TqdmProgress()
    progress.combination("sum / none", folds=2)
    progress.fold_found()
    progress.fold(2, epochs=3)
    progress.fold_done()
    assert progress._folds is None and progress._epochs is None


def test_a_quiet_run_shows_no_bars(clock: Clock, capsys) -> None:
    progress = TqdmProgress(quiet=True)
    progress.combination("sum / none", folds=2)
    progress.fold_found()
    progress.fold(2, epochs=3)
    progress.candidate(epochs_done=2)
    progress.epoch(3, 0.5, 0.7)
    progress.fold_done()
    assert capsys.readouterr().err == ""


class Recorder(Progress):
    """Keeps every report, in order."""

    def __init__(self) -> None:
        self.reports: list[tuple] = []

    def combination(self, name: str, folds: int) -> None:
        self.reports.append(("combination", folds))

    def fold_found(self) -> None:
        self.reports.append(("found",))

    def fold(self, number: int, epochs: int) -> None:
        self.reports.append(("fold", number))

    def candidate(self, epochs_done: int) -> None:
        self.reports.append(("candidate", epochs_done))

    def epoch(self, epoch: int, loss: float, validation: float) -> None:
        self.reports.append(("epoch", epoch))

    def fold_done(self) -> None:
        self.reports.append(("done",))


def _rings(count: int = 12) -> list[Data]:
    generator = torch.Generator().manual_seed(0)
    graphs = []
    for i in range(count):
        n = 5 + i % 3
        ring = torch.arange(n)
        edge_index = torch.stack([torch.cat([ring, (ring + 1) % n]), torch.cat([(ring + 1) % n, ring])])
        graphs.append(Data(x=torch.randn(n, 2, generator=generator), edge_index=edge_index, y=torch.tensor([i % 2])))
    return graphs


def test_a_resumed_candidate_reports_the_epochs_an_earlier_run_trained(tmp_path: Path) -> None:
    graphs, cpu = _rings(), torch.device("cpu")
    split = {"fit": list(range(8)), "validation": list(range(8, 12))}
    model = ModelConfig(in_channels=2, num_classes=2, hidden=4, layers=1)
    train_candidate(graphs, split, model, TrainConfig(epochs=2, patience=5), cpu, tmp_path / "c.pt")
    recorder = Recorder()
    train_candidate(graphs, split, model, TrainConfig(epochs=4, patience=5), cpu, tmp_path / "c.pt", recorder)
    assert recorder.reports == [("candidate", 2), ("epoch", 3), ("epoch", 4)]


def test_a_rerun_finds_every_fold_and_trains_none(tmp_path: Path) -> None:
    graphs, cpu = _rings(40), torch.device("cpu")
    folds = stratified_folds([int(g.y) for g in graphs], 2, seed=0)
    model, train = ModelConfig(in_channels=2, num_classes=2, hidden=4, layers=1), TrainConfig(epochs=2, patience=5)
    first = Recorder()
    assess(graphs, folds, model, train, tmp_path, cpu, progress=first, grid={"hidden": [4, 8]})
    fold_one = [("fold", 1), ("candidate", 0), ("epoch", 1), ("epoch", 2), ("candidate", 0), ("epoch", 1)]
    assert first.reports[:7] == [*fold_one, ("epoch", 2)] and first.reports.count(("done",)) == 2
    again = Recorder()
    assess(graphs, folds, model, train, tmp_path, cpu, progress=again, grid={"hidden": [4, 8]})
    assert again.reports == [("found",), ("found",)]
