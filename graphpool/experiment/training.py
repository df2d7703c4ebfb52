"""Training one model: Adam, early stopping on the validation score, checkpoints to resume from.

The task (:mod:`graphpool.experiment.tasks`) gives the loss and the score: accuracy for
classification, RMSE for regression (whose targets are standardised on the fit part first).
Under torchrun, ``DistributedDataParallel`` averages the gradients of the processes' batch
shares, and scores are summed across processes (:mod:`graphpool.experiment.distributed`).
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import torch
from torch import Tensor, nn
from torch_geometric.loader import DataLoader

from graphpool.experiment.distributed import is_main, sum_across, world
from graphpool.experiment.files import atomic_torch_save, read_torch_file
from graphpool.experiment.progress import Progress
from graphpool.experiment.tasks import task_of
from graphpool.models import GraphClassifier, ModelConfig, eval_mode, seeded
from graphpool.ops.ranges import SEED, Range, check_ranges


@dataclass(kw_only=True)
class TrainConfig:
    """Optimisation settings of one training run.

    Attributes:
        epochs: the most epochs trained.
        batch_size: graphs per batch (shared among processes under torchrun); ``None`` sizes it to the data
            (:meth:`fit_batch_size`: at least 10 optimiser steps per epoch, at most 128 graphs a batch).
        lr: Adam's learning rate.
        weight_decay: Adam's L2 penalty.
        patience: epochs without a better validation score before training stops.
        validation_fraction: the share of a fold's training graphs held out to select the epoch
            and the grid candidate.
        seed: seeds the weights, the batch order and the hold-out.
        aux_warmup: epochs over which the pools' auxiliary losses are phased in: epoch ``e`` (from 0)
            weighs them by ``min(1, e / aux_warmup)``, so the task shapes the assignments first (0: full
            weight from the start).
        ensemble: seeds per fold: the selected candidate is trained ``ensemble`` times on the same fit and
            validation parts (seeds ``seed``, ``seed + 1``, ...; the hold-out stays that of ``seed``) and tested as
            one model, the mean of the members' class probabilities (or, under regression, of their predictions).
    """

    epochs: int = 100
    batch_size: int | None = None
    lr: float = 0.001
    weight_decay: float = 0.0
    patience: int = 20
    validation_fraction: float = 0.1
    seed: int = 0
    aux_warmup: int = 0
    ensemble: int = 1

    #: the largest batch a sized-to-the-data batch has (and the batch of predictions then)
    MAX_BATCH: ClassVar[int] = 128
    #: the range of each numeric setting (the command line checks its options against them too)
    RANGES: ClassVar[dict[str, Range]] = {
        "epochs": Range(1),
        "batch_size": Range(1),
        "patience": Range(1),
        "lr": Range(0, low_open=True),
        "weight_decay": Range(0),
        "aux_warmup": Range(0),
        "ensemble": Range(1),
        "validation_fraction": Range(0, 1, low_open=True, high_open=True),
        "seed": SEED,
    }

    def __post_init__(self) -> None:
        check_ranges(self, {k: r for k, r in self.RANGES.items() if getattr(self, k) is not None})

    def fit_batch_size(self, num_fit: int) -> int:
        """Graphs per training batch for ``num_fit`` training graphs: ``batch_size``, or when it is ``None``
        ``num_fit // 10`` clipped to [1, :attr:`MAX_BATCH`] (no epoch of one or two optimiser steps on a small set).

        >>> TrainConfig().fit_batch_size(152), TrainConfig().fit_batch_size(5000), TrainConfig(batch_size=32).fit_batch_size(152)
        (15, 128, 32)
        """
        return self.batch_size if self.batch_size is not None else max(1, min(self.MAX_BATCH, num_fit // 10))

    @property
    def predict_batch_size(self) -> int:
        """Graphs per batch when predicting (any size gives the same predictions)."""
        return self.batch_size or self.MAX_BATCH

    def aux_factor(self, epoch: int) -> float:
        """The weight of the auxiliary losses in epoch ``epoch`` (from 0): ``min(1, epoch / aux_warmup)``."""
        return 1.0 if self.aux_warmup == 0 else min(1.0, epoch / self.aux_warmup)


@torch.no_grad()
def predict(
    network: GraphClassifier | Sequence[GraphClassifier],
    graphs: Sequence[Any],
    batch_size: int,
    device: torch.device,
    *,
    share: bool = False,
) -> tuple[Tensor, Tensor]:
    """Predictions and targets of ``graphs`` in order (classes ``[n]`` or values ``[n, targets]``), on the CPU;
    the targets are empty when the graphs carry no ``y`` (new graphs to predict).

    Several networks (a seed ensemble) predict as one: the argmax of the mean of their class probabilities, or
    the mean of their predicted values. With ``share`` each process of a torchrun job predicts only its share
    (every size-th graph). The networks predict in eval mode and are left in the mode they were in.

    Raises:
        ValueError: an empty ensemble, or one whose networks differ in task or output width.
    """
    members = [network] if isinstance(network, GraphClassifier) else list(network)
    if not members:
        raise ValueError("'network' is an empty list: give one network or several")
    if len({(m.config.task, m.config.num_classes) for m in members}) > 1:
        raise ValueError("an ensemble's networks must share one task and output width (num_classes)")
    rank, size = world() if share else (0, 1)
    predicted, targets = [], []
    with eval_mode(*members):
        for data in DataLoader(list(graphs)[rank::size], batch_size=batch_size):
            data = data.to(device)
            predicted.append(_ensemble_prediction(members, data).cpu())
            if data.get("y") is not None:
                targets.append(data.y.cpu())
    if not predicted:
        return torch.empty(0), torch.empty(0)
    return torch.cat(predicted), torch.cat(targets) if targets else torch.empty(0)


def _ensemble_prediction(members: Sequence[GraphClassifier], data: Any) -> Tensor:
    """One batch's prediction by ``members``: one network's own, or the mean of their probabilities / values."""
    if len(members) == 1:
        return members[0].predict(members[0](data))
    outputs = [member(data) for member in members]
    if members[0].scale is None:  # classes: the most probable under the mean of the members' probabilities
        return torch.stack([output.logits.softmax(-1) for output in outputs]).mean(0).argmax(-1)
    return torch.stack([m.predict(output) for m, output in zip(members, outputs, strict=True)]).mean(0)


def evaluate(
    network: GraphClassifier, graphs: Sequence[Any], batch_size: int, device: torch.device
) -> dict[str, float]:
    """Every metric of the network's task on ``graphs`` (accuracy; or RMSE, MAE, R^2), summed across processes.

    Raises:
        ValueError: no graphs, or graphs without targets (``data.y``): no score to give.
    """
    if not graphs:
        raise ValueError("'graphs' is empty: there is nothing to evaluate")
    if any(graph.get("y") is None for graph in graphs):
        raise ValueError("the graphs carry no targets (data.y): there is nothing to score")
    task = task_of(network.config.task)
    return task.scores(sum_across(task.sums(*predict(network, graphs, batch_size, device, share=True)), device))


def _fit_batches(graphs: Sequence[Any], batch_size: int, epoch: int, seed: int) -> DataLoader:
    """This process's share of a shuffled epoch: one permutation on every process, then every size-th graph."""
    rank, size = world()
    order = torch.randperm(len(graphs), generator=torch.Generator().manual_seed(seed * 100_003 + epoch))
    return DataLoader([graphs[i] for i in order[rank::size].tolist()], batch_size=max(1, batch_size // size))


@dataclass
class TrainState:
    """Where the training of one candidate stands after an epoch; every checkpoint holds it, so a resume goes on.

    Attributes:
        epoch: epochs run; since_best: epochs since the validation score last improved (early stopping).
        best_score: the selection score of the best epoch (higher is better); best_validation: its metrics;
        best_epoch: its number; best_model: its weights (``None`` until a score is a number).
        seconds: training time, the epochs before a resume included.
    """

    epoch: int = 0
    best_score: float = -math.inf
    best_validation: dict[str, float] = field(default_factory=dict)
    best_epoch: int = 0
    best_model: dict[str, Tensor] | None = None
    since_best: int = 0
    seconds: float = 0.0

    def going(self, config: TrainConfig) -> bool:
        """Whether training goes on: epochs left, and the score improved within the last ``patience``."""
        return self.epoch < config.epochs and self.since_best < config.patience

    def record(self, score: float, validation: dict[str, float], network: nn.Module) -> None:
        """One more epoch with validation ``score``: keep the weights when it is the best so far."""
        self.epoch += 1
        if score > self.best_score:
            self.best_score, self.best_validation, self.best_epoch, self.since_best = score, validation, self.epoch, 0
            self.best_model = {k: v.detach().clone() for k, v in network.state_dict().items()}
        else:
            self.since_best += 1


def train_candidate(
    graphs: Sequence[Any],
    split: dict[str, list[int]],
    model_config: ModelConfig,
    train_config: TrainConfig,
    device: torch.device,
    checkpoint: Path,
    progress: Progress | None = None,
) -> dict[str, float]:
    """Train one grid candidate on ``split["fit"]`` and select its epoch on ``split["validation"]``.

    Nothing is tested here. The checkpoint keeps the selected weights
    (``["state"]["best_model"]``, with a regression model's target scale, fitted on the fit part),
    which :func:`~graphpool.experiment.assess` tests for the winning candidate only. Resumes from
    ``checkpoint`` when it exists (written atomically by rank 0 after an epoch, at most every
    :data:`CHECKPOINT_SECONDS` of training, and after the last epoch; a resume replays the epochs after it, with
    the same results).

    It trains under its own random state (``train_config.seed``: the weights, dropout), which a resume restores;
    torch's global generators are left as they were.

    Returns:
        ``validation_<metric>`` (every metric of the task at the selected epoch: ``accuracy``;
        or ``rmse``, ``mae``, ``r2``), ``best_epoch``, ``epochs_run`` and ``seconds`` (training
        time, the epochs before a resume included).
    """
    with seeded(train_config.seed, device):
        progress = progress or Progress()
        task = task_of(model_config.task)
        network = GraphClassifier(model_config).to(device)
        optimiser = torch.optim.Adam(network.parameters(), lr=train_config.lr, weight_decay=train_config.weight_decay)
        sets = {name: [graphs[i] for i in indices] for name, indices in split.items()}
        if network.scale is not None:
            network.scale.fit(torch.cat([g.y.reshape(1, -1) for g in sets["fit"]]))
        state = _resume(checkpoint, network, optimiser, device)
        progress.candidate(state.epoch)
        spent = state.seconds  # the training time of the epochs before a resume counts too
        model = torch.nn.parallel.DistributedDataParallel(network) if world()[1] > 1 else network
        start = saved = time.perf_counter()
        while state.going(train_config):
            loss = _train_epoch(model, network, optimiser, sets["fit"], train_config, state.epoch, device)
            validation = evaluate(network, sets["validation"], train_config.predict_batch_size, device)
            state.record(task.selection(validation), validation, network)
            state.seconds = spent + time.perf_counter() - start
            progress.epoch(state.epoch, loss, validation[task.metrics[0]])
            if is_main() and (not state.going(train_config) or time.perf_counter() - saved >= CHECKPOINT_SECONDS):
                _save(checkpoint, network, optimiser, state)
                saved = time.perf_counter()
        if state.best_model is None:
            raise ValueError(
                f"training diverged: the validation {task.metrics[0]} was not a number in any of "
                f"{state.epoch} epoch(s); lower --lr"
            )
        network.load_state_dict(state.best_model)
        return {
            **{f"validation_{name}": value for name, value in state.best_validation.items()},
            "best_epoch": state.best_epoch,
            "epochs_run": state.epoch,
            "seconds": state.seconds,
            "batch_size": train_config.fit_batch_size(len(sets["fit"])),
        }


def _train_epoch(
    model: nn.Module,
    network: GraphClassifier,
    optimiser: torch.optim.Optimizer,
    graphs: Sequence[Any],
    train_config: TrainConfig,
    epoch: int,
    device: torch.device,
) -> float:
    """One pass over this process's share of ``graphs``: task loss plus the pools' weighted auxiliary losses
    (phased in over ``train_config.aux_warmup`` epochs).

    Returns the last batch's loss.
    """
    task = task_of(network.config.task)
    model.train()
    loss = torch.zeros(())
    aux = train_config.aux_factor(epoch)
    for data in _fit_batches(graphs, train_config.fit_batch_size(len(graphs)), epoch, train_config.seed):
        data = data.to(device)
        try:
            out = model(data)
        except ValueError:  # NaN weights fail the input checks of the layers they feed: say what happened
            _refuse_diverged(network, epoch)
            raise
        loss = task.loss(network, out, data) + aux * sum(out.aux_loss.values())
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
    return float(loss.item())


def _refuse_diverged(network: nn.Module, epoch: int) -> None:
    """Raise a ``ValueError`` naming the divergence when a weight of ``network`` is no longer a finite number."""
    broken = [name for name, weight in network.named_parameters() if not torch.isfinite(weight).all()]
    if broken:
        raise ValueError(
            f"training diverged in epoch {epoch + 1}: {broken[0]} (and {len(broken) - 1} other weights) are no longer "
            "finite numbers; lower --lr, or raise --temperature if the soft assignments are very sharp"
        )


def _resume(checkpoint: Path, network: nn.Module, optimiser: torch.optim.Optimizer, device: torch.device) -> TrainState:
    """The state saved in ``checkpoint`` (weights, optimiser and random state restored), or a fresh one."""
    if not checkpoint.exists():
        return TrainState()
    saved = load_checkpoint(checkpoint, device)
    try:
        network.load_state_dict(saved["model"])
    except RuntimeError as error:
        raise ValueError(f"{checkpoint} was trained with another model configuration; use another folder") from error
    optimiser.load_state_dict(saved["optimiser"])
    torch.set_rng_state(saved["rng"])
    return TrainState(**saved["state"])


#: seconds of training between two checkpoints at least (and one after the last epoch): torch.save of the
#: weights, the optimiser and the best weights took ~20 ms (0.9 MB of small tensors), ~6 % of the regress
#: command's time at one per epoch; a kill loses at most this much, replayed with the same results
CHECKPOINT_SECONDS = 10.0

#: what a checkpoint written by :func:`_save` holds
CHECKPOINT_KEYS = ("model", "optimiser", "state", "rng")


def load_checkpoint(checkpoint: Path, device: torch.device | str = "cpu") -> dict[str, Any]:
    """The contents of a candidate's checkpoint (written by :func:`_save`: ``model``, ``optimiser``, ``state`` with
    its ``best_model``, ``rng``); a ``ValueError`` names the file where it is cut short or something else."""
    remedy = "delete it to have the run train this candidate again from its first epoch"
    saved = read_torch_file(checkpoint, remedy, device)
    if not isinstance(saved, dict) or not all(key in saved for key in CHECKPOINT_KEYS):
        raise ValueError(f"{checkpoint} is not a file graphpool wrote (other contents): {remedy}")
    return saved


def _save(checkpoint: Path, network: nn.Module, optimiser: torch.optim.Optimizer, state: TrainState) -> None:
    """Write the weights, the optimiser, ``state`` and the random state, atomically (a kill leaves the old one)."""
    saved = {  # the keys of CHECKPOINT_KEYS
        "model": network.state_dict(),
        "optimiser": optimiser.state_dict(),
        "state": asdict(state),
        "rng": torch.get_rng_state(),
    }
    atomic_torch_save(checkpoint, saved)
