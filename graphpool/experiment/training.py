"""Training one model: Adam, early stopping on validation accuracy, a checkpoint after every epoch.

Under torchrun, ``DistributedDataParallel`` averages the gradients of the processes' batch
shares, and accuracies are counted across processes (:mod:`graphpool.experiment.distributed`).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch_geometric.loader import DataLoader

from graphpool.experiment.distributed import is_main, sum_across, world
from graphpool.experiment.files import atomic_write
from graphpool.experiment.progress import Progress
from graphpool.models import GraphClassifier, ModelConfig


@dataclass(kw_only=True)
class TrainConfig:
    """Optimisation settings of one training run.

    Attributes:
        epochs: the most epochs trained.
        batch_size: graphs per batch (shared among processes under torchrun).
        lr: Adam's learning rate.
        weight_decay: Adam's L2 penalty.
        patience: epochs without a better validation accuracy before training stops.
        validation_fraction: the share of a fold's training graphs held out to select the epoch
            and the grid candidate.
        seed: seeds the weights, the batch order and the hold-out.
    """

    epochs: int = 100
    batch_size: int = 128
    lr: float = 0.001
    weight_decay: float = 0.0
    patience: int = 20
    validation_fraction: float = 0.1
    seed: int = 0


@torch.no_grad()
def accuracy(model: torch.nn.Module, graphs: Sequence[Any], batch_size: int, device: torch.device) -> float:
    """Accuracy on ``graphs``; with several processes each counts its share and the counts are summed."""
    rank, size = world()
    model.eval()
    correct = total = 0
    for data in DataLoader(list(graphs)[rank::size], batch_size=batch_size):
        data = data.to(device)
        correct += int((model(data).logits.argmax(-1) == data.y).sum())
        total += data.num_graphs
    correct, total = sum_across([correct, total], device)
    return correct / max(total, 1)


def _fit_batches(graphs: Sequence[Any], batch_size: int, epoch: int, seed: int) -> DataLoader:
    """This process's share of a shuffled epoch: one permutation on every process, then every size-th graph."""
    rank, size = world()
    order = torch.randperm(len(graphs), generator=torch.Generator().manual_seed(seed * 100_003 + epoch))
    return DataLoader([graphs[i] for i in order[rank::size].tolist()], batch_size=max(1, batch_size // size))


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
    (``["state"]["best_model"]``), which :func:`~graphpool.experiment.assess` tests for the
    winning candidate only. Resumes from ``checkpoint`` (written atomically after every epoch,
    by rank 0) when it exists.

    Returns:
        ``validation_accuracy`` (the best), ``best_epoch``, ``epochs_run`` and ``seconds``
        (training time, the epochs before a resume included).
    """
    progress = progress or Progress()
    torch.manual_seed(train_config.seed)
    network = GraphClassifier(model_config).to(device)
    optimiser = torch.optim.Adam(network.parameters(), lr=train_config.lr, weight_decay=train_config.weight_decay)
    sets = {name: [graphs[i] for i in indices] for name, indices in split.items()}
    state = {"epoch": 0, "best_validation": -1.0, "best_epoch": 0, "best_model": None, "since_best": 0, "seconds": 0.0}
    if checkpoint.exists():
        saved = torch.load(checkpoint, map_location=device, weights_only=False)
        try:
            network.load_state_dict(saved["model"])
        except RuntimeError as error:
            raise ValueError(
                f"{checkpoint} was trained with another model configuration; use another folder"
            ) from error
        optimiser.load_state_dict(saved["optimiser"])
        state = {"seconds": 0.0, **saved["state"]}
        torch.set_rng_state(saved["rng"])
    spent = state["seconds"]  # the training time of the epochs before a resume counts too
    model = torch.nn.parallel.DistributedDataParallel(network) if world()[1] > 1 else network
    start = time.perf_counter()
    while state["epoch"] < train_config.epochs and state["since_best"] < train_config.patience:
        model.train()
        for data in _fit_batches(sets["fit"], train_config.batch_size, state["epoch"], train_config.seed):
            data = data.to(device)
            out = model(data)
            loss = torch.nn.functional.cross_entropy(out.logits, data.y) + sum(out.aux_loss.values())
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
        state["epoch"] += 1
        validation = accuracy(network, sets["validation"], train_config.batch_size, device)
        if validation > state["best_validation"]:
            state.update(best_validation=validation, best_epoch=state["epoch"], since_best=0)
            state["best_model"] = {k: v.detach().clone() for k, v in network.state_dict().items()}
        else:
            state["since_best"] += 1
        state["seconds"] = spent + time.perf_counter() - start
        progress.epoch(state["epoch"], loss.item(), validation)
        if is_main():
            saved = {
                "model": network.state_dict(),
                "optimiser": optimiser.state_dict(),
                "state": state,
                "rng": torch.get_rng_state(),
            }
            atomic_write(checkpoint, lambda p, saved=saved: torch.save(saved, p))
    network.load_state_dict(state["best_model"])
    return {
        "validation_accuracy": state["best_validation"],
        "best_epoch": state["best_epoch"],
        "epochs_run": state["epoch"],
        "seconds": state["seconds"],
    }
