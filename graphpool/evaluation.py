"""Model assessment as in Errica et al., ICLR 2020 ("A fair comparison of graph neural networks").

Outer loop: K folds (stratified, seeded, or published ones); each fold's test graphs are
never seen during training or model selection. Inner loop: a stratified hold-out of the
fold's training graphs (10 % by default) selects the hyper-parameters (a grid of candidate
settings, each trained on the same fit part) and the epoch (early stopping on validation
accuracy, patience in epochs). Only the selected candidate, at its selected epoch, is ever
evaluated on the test fold, once. Unlike Errica et al., the winner is not retrained on the
whole training part: its hold-out-selected weights are tested directly.
Splits are saved to disk, so runs are comparable, and every finished epoch and fold is
checkpointed atomically, so a killed run resumes without recomputing finished folds.
"""

from __future__ import annotations

import itertools
import json
import os
import secrets
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from sklearn.model_selection import StratifiedGroupKFold, StratifiedKFold, train_test_split
from torch_geometric.loader import DataLoader

from graphpool.distributed import barrier, is_main, sum_across, world
from graphpool.models import GraphClassifier, ModelConfig


@dataclass
class TrainConfig:
    """Optimisation settings of one training run."""

    epochs: int = 100
    batch_size: int = 128
    lr: float = 0.001
    weight_decay: float = 0.0
    patience: int = 20
    validation_fraction: float = 0.1
    seed: int = 0


def stratified_folds(labels: Sequence[int], folds: int, seed: int) -> list[tuple[list[int], list[int]]]:
    """``folds`` stratified, shuffled, seeded outer folds as ``(train, test)`` index lists."""
    labels = np.asarray(labels)
    smallest = int(np.bincount(labels).min()) if labels.size else 0
    if folds < 2 or smallest < folds:
        raise ValueError(
            f"{folds} stratified folds need at least {max(folds, 2)} graphs in every class; "
            f"the smallest class here has {smallest}"
        )
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    return [(train.tolist(), test.tolist()) for train, test in splitter.split(np.zeros(len(labels)), labels)]


def inner_split(
    train: Sequence[int],
    labels: Sequence[int],
    fraction: float,
    seed: int,
    groups: Sequence[Any] | None = None,
) -> tuple[list[int], list[int]]:
    """Stratified hold-out of a fold's training indices: ``(fit, validation)``.

    With ``groups`` (e.g. the donor of every graph) no group is split between fit and
    validation: one fold of a seeded :class:`~sklearn.model_selection.StratifiedGroupKFold`
    with ``round(1 / fraction)`` folds (fewer where a class has fewer groups) is held out.
    """
    train = np.asarray(train)
    train_labels = np.asarray(labels)[train]
    if groups is None:
        fit, validation = train_test_split(train, test_size=fraction, stratify=train_labels, random_state=seed)
        return sorted(fit.tolist()), sorted(validation.tolist())
    train_groups = np.asarray(groups)[train]
    fewest = min(len(set(train_groups[train_labels == c])) for c in np.unique(train_labels))
    if fewest < 2:
        raise ValueError("a grouped hold-out needs at least 2 groups of every class in each training part")
    splitter = StratifiedGroupKFold(n_splits=min(max(2, round(1 / fraction)), fewest), shuffle=True, random_state=seed)
    fit, validation = next(splitter.split(train, train_labels, train_groups))
    return sorted(train[fit].tolist()), sorted(train[validation].tolist())


def _changed(stored: dict[str, Any], new: dict[str, Any]) -> list[str]:
    """Names of the settings that differ, as ``part.key`` (one level of nesting)."""
    names = []
    for part in sorted(set(stored) | set(new)):
        old, now = stored.get(part), new.get(part)
        if isinstance(old, dict) and isinstance(now, dict):
            names += [f"{part}.{key}" for key in sorted(set(old) | set(now)) if old.get(key) != now.get(key)]
        elif old != now:
            names.append(part)
    return names


def _holdout(
    number: int, train: Sequence[int], labels: Sequence[int], config: TrainConfig, groups: Sequence[Any] | None
) -> tuple[list[int], list[int]]:
    """:func:`inner_split` of outer fold ``number``, with an error that says which hold-out failed and why."""
    try:
        return inner_split(train, labels, config.validation_fraction, config.seed, groups)
    except ValueError as error:
        classes = len(set(np.asarray(labels)[np.asarray(train, dtype=int)].tolist()))
        raise ValueError(
            f"the inner hold-out of fold {number} cannot be drawn: {config.validation_fraction:.0%} of its "
            f"{len(train)} training graphs ({classes} classes) is too few for a stratified validation part "
            f"({error}). Use fewer folds, or a dataset with more graphs per class"
        ) from None


def grouped_folds(
    labels: Sequence[int], groups: Sequence[Any], folds: int, repeats: int, seed: int
) -> list[tuple[list[int], list[int]]]:
    """``repeats`` x ``folds`` stratified outer folds that never split a group (seeds ``seed + r``).

    Use it where graphs share a source (several images of one donor): every group lies wholly
    in the training or the test part of each fold. Repeats give differently shuffled folds.
    """
    labels, groups = np.asarray(labels), np.asarray(groups)
    per_class = [len(set(groups[labels == c])) for c in np.unique(labels)]
    if folds < 2 or min(per_class) < folds:
        raise ValueError(
            f"{folds} grouped folds need at least {max(folds, 2)} groups in every class; "
            f"the classes have {per_class} groups"
        )
    if repeats < 1:
        raise ValueError(f"'repeats' must be >= 1, got {repeats}")
    result = []
    for repeat in range(repeats):
        splitter = StratifiedGroupKFold(n_splits=folds, shuffle=True, random_state=seed + repeat)
        result += [(a.tolist(), b.tolist()) for a, b in splitter.split(np.zeros(len(labels)), labels, groups)]
    return result


def atomic_write(path: Path, write: Callable[[Path], None]) -> None:
    """Write via a temporary file in the same folder and ``os.replace``: readers never see half a file.

    The temporary file is created with mode ``0666`` (less the umask, applied by the system), so
    the result has the permissions of an ordinary new file, not ``mkstemp``'s ``0600``. The data
    is flushed to disk (``fsync``) before the rename and the folder after it, so the file
    survives a power cut, not only a killed process.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.parent / f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}"
    os.close(os.open(temporary, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o666))
    try:
        write(temporary)
        _fsync(temporary)
        os.replace(temporary, path)
        _fsync(path.parent)
    finally:
        if os.path.exists(temporary):
            os.unlink(temporary)


def _fsync(path: Path) -> None:
    """Flush a file's (or a folder's entries') data to disk."""
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def atomic_json(path: Path, value: Any) -> None:
    atomic_write(path, lambda p: p.write_text(json.dumps(value, indent=1)))


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


def run_fold(
    graphs: Sequence[Any],
    split: dict[str, list[int]],
    model_config: ModelConfig,
    train_config: TrainConfig,
    device: torch.device,
    checkpoint: Path,
    progress: Callable[[int, float, float], None] | None = None,
) -> dict[str, float]:
    """Train on ``split["fit"]`` and select the epoch on ``split["validation"]``; nothing is tested here.

    The checkpoint keeps the selected weights (``["state"]["best_model"]``), which
    :func:`assess` tests for the winning candidate only.

    Resumes from ``checkpoint`` (written atomically after every epoch, by rank 0) when it exists.
    Under torchrun, ``DistributedDataParallel`` averages the gradients of the processes' batch
    shares (each process takes ``batch_size / world_size`` graphs of every batch).
    """
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
            raise ValueError(f"{checkpoint} was trained with another model configuration; use another folder") from error
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
        if progress is not None:
            progress(state["epoch"], loss.item(), validation)
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


GRID_KEYS = ("hidden", "layers", "dropout", "jumping_knowledge", "lr", "weight_decay", "batch_size")


def candidates(
    model_config: ModelConfig, train_config: TrainConfig, grid: dict[str, Sequence[Any]] | None
) -> list[tuple[dict[str, Any], ModelConfig, TrainConfig]]:
    """Every combination of the ``grid`` values, as (settings, model config, train config).

    ``grid`` maps names of :data:`GRID_KEYS` to the values to try, e.g.
    ``{"hidden": [32, 64], "lr": [1e-2, 1e-3]}`` gives 4 candidates; ``None`` or ``{}`` gives one.
    """
    grid = dict(grid or {})
    for name, values in grid.items():
        if name not in GRID_KEYS:
            raise ValueError(f"grid: {name!r} cannot be selected; choose from {GRID_KEYS}")
        if not values:
            raise ValueError(f"grid: {name!r} has no values")
    model_names = {f.name for f in fields(ModelConfig)}
    result = []
    for combination in itertools.product(*grid.values()):
        settings = dict(zip(grid, combination, strict=True))
        model = replace(model_config, **{k: v for k, v in settings.items() if k in model_names})
        train = replace(train_config, **{k: v for k, v in settings.items() if k not in model_names})
        result.append((settings, model, train))
    return result


def assess(
    graphs: Sequence[Any],
    folds: Sequence[tuple[Sequence[int], Sequence[int]]],
    model_config: ModelConfig,
    train_config: TrainConfig,
    out: Path,
    device: torch.device,
    fold_progress: Callable[[int], Callable[[int, float, float], None] | None] | None = None,
    grid: dict[str, Sequence[Any]] | None = None,
    groups: Sequence[Any] | None = None,
    keep_models: bool = False,
) -> list[dict[str, Any]]:
    """Run every outer fold (skipping folds already finished in ``out``); returns one result per fold.

    Per fold, every candidate of ``grid`` (see :func:`candidates`) is trained on the fold's fit
    part and scored on its validation part; the best (ties: the first) is tested once. The fold
    result holds its test accuracy, the ``selected`` settings and every candidate's validation
    accuracy. ``out`` receives ``splits.json`` (the outer folds and inner hold-outs),
    ``config.json``, ``fold-K.json`` per finished fold, and ``fold-K-J.pt`` checkpoints of
    candidate J of the fold in progress (removed once the fold is done; with ``keep_models`` the
    selected weights stay as ``model-K.pt``). ``groups`` keeps each group (e.g. a donor) wholly
    in fit or validation of the inner hold-out.
    """
    labels = [int(g.y) for g in graphs]
    options = candidates(model_config, train_config, grid)
    splits_path, config_path = out / "splits.json", out / "config.json"
    splits = [
        {"fit": fit, "validation": validation, "test": sorted(int(i) for i in test)}
        for number, (train, test) in enumerate(folds, start=1)
        for fit, validation in [_holdout(number, train, labels, train_config, groups)]
    ]
    config = json.loads(json.dumps({"model": model_config.to_dict(), "train": asdict(train_config), "grid": grid or {}}))
    # refuse, before anything is written, to continue a run made with other splits or settings
    if splits_path.exists() and json.loads(splits_path.read_text()) != splits:
        raise ValueError(f"{splits_path} holds different splits; use another --out folder or the same settings")
    if config_path.exists() and (stored := json.loads(config_path.read_text())) != config:
        changed = ", ".join(_changed(stored, config))
        raise ValueError(f"{config_path} was written with other settings ({changed}); use another folder")
    if is_main():
        if not splits_path.exists():
            atomic_json(splits_path, splits)
        atomic_json(config_path, config)
    results = []
    for number, split in enumerate(splits, start=1):
        done = out / f"fold-{number}.json"
        if done.exists():
            results.append(json.loads(done.read_text()))
            continue
        progress = fold_progress(number) if fold_progress else None
        holdout = {"fit": split["fit"], "validation": split["validation"]}
        scored = []
        for index, (settings, model, train) in enumerate(options, start=1):
            trained = run_fold(graphs, holdout, model, train, device, out / f"fold-{number}-{index}.pt", progress)
            scored.append({"settings": settings, **trained})
        best = max(range(len(options)), key=lambda i: (scored[i]["validation_accuracy"], -i))
        barrier()  # rank 0 wrote the checkpoints
        _, model, train = options[best]
        checkpoint = torch.load(out / f"fold-{number}-{best + 1}.pt", map_location=device, weights_only=False)
        network = GraphClassifier(model).to(device)
        network.load_state_dict(checkpoint["state"]["best_model"])
        test = accuracy(network, [graphs[i] for i in split["test"]], train.batch_size, device)
        result = {
            "fold": number,
            "test_accuracy": test,
            "selected": options[best][0],
            **{k: v for k, v in scored[best].items() if k != "settings"},
            "seconds": sum(c["seconds"] for c in scored),
            "candidates": scored if len(options) > 1 else [],
        }
        barrier()  # every rank has read the checkpoints
        if is_main():
            if keep_models:
                winner = {k: v.cpu() for k, v in network.state_dict().items()}
                atomic_write(out / f"model-{number}.pt", lambda p, w=winner: torch.save(w, p))
            atomic_json(done, result)
            for index in range(1, len(options) + 1):
                (out / f"fold-{number}-{index}.pt").unlink(missing_ok=True)
        barrier()
        if progress is not None and hasattr(progress, "close"):
            progress.close()
        results.append(result)
    return results
