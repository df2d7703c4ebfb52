"""Model assessment as in Errica et al., ICLR 2020 ("A fair comparison of graph neural networks").

Outer loop: K folds (stratified, seeded, or published ones); each fold's test graphs are
never seen during training or model selection. Inner loop: a stratified hold-out of the
fold's training graphs (10 % by default) selects the hyper-parameters (a grid of candidate
settings, each trained on the same fit part) and the epoch (early stopping on the validation
score, patience in epochs: accuracy, or RMSE under regression, whose hold-outs and folds are
not stratified). Only the selected candidate, at its selected epoch, is ever
evaluated on the test fold, once. Unlike Errica et al., the winner is not retrained on the
whole training part: its hold-out-selected weights are tested directly.
Splits are saved to disk, so runs are comparable, and every finished epoch and fold is
checkpointed atomically, so a killed run resumes without recomputing finished folds.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Sequence
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

import torch

from graphpool.experiment.baselines import majority_scores
from graphpool.experiment.diagnostics import pooling_diagnostics, warn_collapses
from graphpool.experiment.distributed import barrier, is_main
from graphpool.experiment.files import RESTORE, atomic_json, atomic_torch_save, changed_settings, read_json
from graphpool.experiment.folds import Fold, holdout
from graphpool.experiment.hyperparameters import expand_grid
from graphpool.experiment.progress import Progress
from graphpool.experiment.tasks import task_of
from graphpool.experiment.training import TrainConfig, load_checkpoint, predict, train_candidate
from graphpool.models import GraphClassifier, ModelConfig


def _majority(labels: list[int] | None, split: dict[str, list[int]], scores: dict[str, float]) -> dict[str, Any]:
    """Classification: the test accuracy of predicting the training part's majority class (ties: the smallest), and
    whether the model's accuracy is at or below it (a fold that learned nothing); nothing under regression."""
    if labels is None:
        return {}
    (rate,) = majority_scores(labels, [([*split["fit"], *split["validation"]], split["test"])])
    return {"majority_rate": rate, "at_majority": bool(scores["accuracy"] <= rate)}


def _load(path: Path, model: ModelConfig, device: torch.device) -> GraphClassifier:
    """The selected weights of the checkpoint at ``path`` in a network of ``model``."""
    network = GraphClassifier(model).to(device)
    network.load_state_dict(load_checkpoint(path, device)["state"]["best_model"])
    return network


def assess(
    graphs: Sequence[Any],
    folds: Sequence[Fold],
    model_config: ModelConfig,
    train_config: TrainConfig,
    out: Path,
    device: torch.device,
    *,
    progress: Progress | None = None,
    grid: dict[str, Sequence[Any]] | None = None,
    groups: Sequence[Any] | None = None,
    keep_models: bool = False,
    only: Collection[int] | None = None,
) -> list[dict[str, Any]]:
    """Run every outer fold (skipping folds already finished in ``out``); returns one result per finished fold.

    Per fold, every candidate of ``grid`` (see :func:`~graphpool.experiment.expand_grid`) is
    trained on the fold's fit part and scored on its validation part; the best (ties: the
    first) is tested once: with ``train_config.ensemble`` > 1, as the ensemble of that many seeds of it
    (:class:`~graphpool.experiment.TrainConfig`). The fold result holds its test scores (``test_accuracy``; or
    ``test_rmse``, ``test_mae``, ``test_r2``), the test ``predictions`` (in the order of the fold's
    test indices), the ``selected`` settings and every candidate's validation scores, ``ensemble`` (the seeds)
    and, for an ensemble, its ``members``' validation scores and ``single_test_<metric>``, the first seed's
    test scores alone. ``out``
    receives ``splits.json`` (the outer folds and inner hold-outs), ``config.json``, ``fold-K.json``
    per finished fold, and
    ``fold-K-J.pt`` checkpoints of candidate J of the fold in progress (removed once the fold is
    done; with ``keep_models`` the selected weights stay as ``model-K.pt``). ``groups`` keeps
    each group (e.g. a donor) wholly in fit or validation of the inner hold-out. ``only`` (fold numbers from 1):
    train only these folds, as one job of several sharing ``out``; the others' results are read where their
    ``fold-K.json`` exists (the list is then shorter than ``folds`` until every job is done).
    """
    if keep_models and train_config.ensemble > 1:
        raise ValueError(
            f"'keep_models' keeps one network per fold for its explanations, but 'ensemble' trains "
            f"{train_config.ensemble}: explain a single seed (ensemble=1)"
        )
    progress = progress or Progress()
    labels = task_of(model_config.task).labels(graphs)  # None under regression: nothing to stratify by
    options = expand_grid(model_config, train_config, grid)
    splits_path, config_path = out / "splits.json", out / "config.json"
    fraction, seed = train_config.validation_fraction, train_config.seed
    splits = [
        {"fit": fit, "validation": validation, "test": sorted(int(i) for i in test)}
        for number, (train, test) in enumerate(folds, start=1)
        for fit, validation in [holdout(number, train, labels, fraction, seed, groups)]
    ]
    config = json.loads(
        json.dumps({"model": model_config.to_dict(), "train": asdict(train_config), "grid": grid or {}})
    )
    # refuse, before anything is written, to continue a run made with other splits or settings
    if splits_path.exists() and read_json(splits_path) != splits:
        raise ValueError(f"{splits_path} holds different splits; use another --out folder or the same settings")
    if config_path.exists() and (stored := read_json(config_path, dict)) != config:
        changed = ", ".join(name for name, _, _ in changed_settings(stored, config))
        raise ValueError(f"{config_path} was written with other settings ({changed}); use another folder")
    if not config_path.exists() and (finished := len(list(out.glob("fold-*.json")))):
        raise ValueError(
            f"{out} holds {finished} finished fold(s) (fold-K.json) but no config.json: the settings they were "
            "trained with are unknown; restore it, or use another --out folder"
        )
    if is_main():
        if not splits_path.exists():
            atomic_json(splits_path, splits)
        atomic_json(config_path, config)
    results = []
    metrics = task_of(model_config.task).metrics
    for number, split in enumerate(splits, start=1):
        done = out / f"fold-{number}.json"
        if only is not None and number not in only:  # another job's fold: its result when that job has written it
            if done.exists():
                results.append(_read_fold(done, number, len(split["test"]), metrics))
            continue
        if done.exists():
            if keep_models and not (out / f"model-{number}.pt").exists():  # what the explanations read
                raise ValueError(
                    f"{out} has no model-{number}.pt beside {done.name}, and the run keeps each fold's model: "
                    f"delete {done.name} to have --resume train the fold again"
                )
            results.append(_read_fold(done, number, len(split["test"]), metrics))
            if is_main():  # a run killed between writing fold-K.json and removing its checkpoints left them
                for leftover in out.glob(f"fold-{number}-*.pt"):
                    leftover.unlink(missing_ok=True)
            progress.fold_found()
            continue
        progress.fold(number, train_config.epochs)
        results.append(_assess_fold(graphs, number, split, options, out, device, progress, keep_models))
        progress.fold_done()
    return results


def _read_fold(path: Path, number: int, tests: int, metrics: Sequence[str]) -> dict[str, Any]:
    """A finished fold's ``fold-K.json``, checked to be fold ``number``'s result with one prediction for each of its
    ``tests`` test graphs and a score for each of ``metrics``; a ``ValueError`` names the file where it is not."""
    result = read_json(path, dict)
    needed = ("fold", "predictions", "selected", "seconds", *(f"test_{metric}" for metric in metrics))
    if missing := [key for key in needed if key not in result]:
        raise ValueError(
            f"{path} is not a finished fold's result: it has no {', '.join(map(repr, missing))}; {RESTORE}"
        )
    if result["fold"] != number:
        raise ValueError(f"{path} holds the result of fold {result['fold']}, not of fold {number}: {RESTORE}")
    predictions = result["predictions"]
    if not isinstance(predictions, list) or len(predictions) != tests:
        held = len(predictions) if isinstance(predictions, list) else "no list of"
        raise ValueError(f"{path} holds {held} test prediction(s) but fold {number} tests {tests} graphs: {RESTORE}")
    return result


def _assess_fold(
    graphs: Sequence[Any],
    number: int,
    split: dict[str, list[int]],
    options: list[Any],
    out: Path,
    device: torch.device,
    progress: Progress,
    keep_models: bool,
) -> dict[str, Any]:
    """Train every candidate on the fold's fit part, test the one best on validation; write ``fold-K.json``."""
    holdout_split = {"fit": split["fit"], "validation": split["validation"]}
    scored = []
    for index, (settings, model, train) in enumerate(options, start=1):
        checkpoint = out / f"fold-{number}-{index}.pt"
        trained = train_candidate(graphs, holdout_split, model, train, device, checkpoint, progress)
        scored.append({"settings": settings, **trained})
    task = task_of(options[0][1].task)
    best = max(range(len(options)), key=lambda i: (task.selection(scored[i], "validation_"), -i))
    _, model, train = options[best]
    members = [out / f"fold-{number}-{best + 1}.pt"]
    extra = []  # the ensemble's other seeds: the winner again, on the same fit and validation parts
    for member in range(1, train.ensemble):
        members.append(out / f"fold-{number}-{best + 1}-seed-{member}.pt")
        seeded = replace(train, seed=train.seed + member)
        extra.append(train_candidate(graphs, holdout_split, model, seeded, device, members[-1], progress))
    barrier()  # rank 0 wrote the checkpoints
    networks = [_load(path, model, device) for path in members]
    network = networks[0]
    test_graphs = [graphs[i] for i in split["test"]]
    predicted, target = predict(networks, test_graphs, train.predict_batch_size, device)
    scores = task.scores(task.sums(predicted, target))
    levels = pooling_diagnostics(network, test_graphs, train.predict_batch_size, device)
    if is_main():
        warn_collapses(levels, f"{model.readout} / {model.pool}, fold {number}")
    result = {
        "fold": number,
        **{f"test_{name}": value for name, value in scores.items()},
        **_majority(task.labels(graphs), split, scores),
        "levels": levels,
        "predictions": predicted.squeeze(-1).tolist() if predicted.dim() > 1 else predicted.tolist(),
        "selected": options[best][0],
        **{k: v for k, v in scored[best].items() if k != "settings"},
        "seconds": sum(c["seconds"] for c in [*scored, *extra]),
        "candidates": scored if len(options) > 1 else [],
        "ensemble": train.ensemble,
    }
    if extra:  # what the first seed alone scored on the test fold, beside the ensemble
        alone = task.scores(task.sums(*predict(network, test_graphs, train.predict_batch_size, device)))
        members_scores = [{k: v for k, v in c.items() if k != "settings"} for c in [scored[best], *extra]]
        result |= {"members": members_scores, **{f"single_test_{name}": value for name, value in alone.items()}}
    barrier()  # every rank has read the checkpoints
    if is_main():
        if keep_models:
            winner = {k: v.cpu() for k, v in network.state_dict().items()}
            atomic_torch_save(out / f"model-{number}.pt", winner)
        atomic_json(out / f"fold-{number}.json", result)
        for checkpoint in out.glob(f"fold-{number}-*.pt"):  # the candidates' and the ensemble's
            checkpoint.unlink(missing_ok=True)
    barrier()
    return result
