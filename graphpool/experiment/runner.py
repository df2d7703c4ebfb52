"""One experiment runner: every readout x pool combination assessed on the same folds.

``graphpool classify``, ``graphpool cells`` and the scripts describe a run as an
:class:`Experiment` and call :func:`run_experiment`; each combination is assessed by
:func:`~graphpool.experiment.assess` in its own folder ``READOUT__POOL`` of ``out`` (resumable),
and summarised in one row (:func:`~graphpool.experiment.summary_row`).
"""

from __future__ import annotations

import itertools
import statistics
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import torch

from graphpool.cluster import HARD_POOLERS, loss_terms
from graphpool.experiment.assessment import assess
from graphpool.experiment.folds import Fold, check_fold_parts
from graphpool.experiment.hyperparameters import expand_grid
from graphpool.experiment.progress import Progress
from graphpool.experiment.results import summary_row
from graphpool.experiment.tasks import task_of
from graphpool.experiment.training import TrainConfig
from graphpool.models import ModelConfig, is_hard_pool
from graphpool.ops.ranges import Range, check_list


@dataclass(kw_only=True)
class Experiment:
    """What one run compares: readouts x pools on one model template, trained one way.

    Attributes:
        model: the shared model settings (width, depth, backbone, ...); ``readout`` and
            ``pool`` are set per combination.
        train: the optimisation settings.
        readouts: readout specs (``"mean+max"`` concatenates).
        pools: pool names of :data:`graphpool.models.POOLS`.
        grid: hyper-parameters chosen per fold on the inner hold-out (see
            :func:`~graphpool.experiment.expand_grid`).
        num_types: the number of node types (cell types), the clusters of pool ``"celltype"``
            (``None``: ``model.clusters``).
        keep_models: keep each fold's selected weights as ``model-K.pt`` (for explanations).
        precoarsen: the hard cluster pools among ``pools`` read their levels from the graphs
            (:func:`~graphpool.models.precoarsen`); readouts and soft pools have none to read.
        loss_weights: weights of loss terms by name (``{"ortho": 0.5}``), given to each soft pool that has the
            term (the others weigh 1).
    """

    model: ModelConfig
    train: TrainConfig
    readouts: Sequence[str] = ("sum",)
    pools: Sequence[str] = ("none",)
    grid: dict[str, Sequence[Any]] | None = None
    num_types: int | None = None
    keep_models: bool = False
    precoarsen: bool = False
    loss_weights: dict[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name in ("readouts", "pools"):  # (a repeat: two equal combinations would train into one folder)
            check_list(repr(name), getattr(self, name), "names")

    def model_for(self, readout: str, pool: str) -> ModelConfig:
        """The model config of one combination."""
        settings: dict[str, Any] = {
            "readout": readout,
            "pool": pool,
            "precoarsened": self.precoarsen and is_hard_pool(pool),
        }
        if pool == "celltype" and self.num_types is not None:
            settings["clusters"] = self.num_types
        terms = loss_terms(pool)
        settings["loss_weights"] = {name: w for name, w in self.loss_weights.items() if name in terms}
        return replace(self.model, **settings)

    def check(self, graphs: Sequence[Any] = ()) -> None:
        """Raise a ``ValueError`` now for any combination or grid candidate that could not train on ``graphs``.

        Every readout x pool x grid candidate is built as a config (each checks its values), class labels
        fit the head (``0..num_classes - 1``), pools that
        read node labels need them on the graphs, and precoarsened levels cannot follow a grid over
        their K or depth (they are computed once, with the base settings). Run it before anything is
        written, so that a refused setting leaves no half-made results folder.
        """
        if self.precoarsen and not any(self.model_for(self.readouts[0], pool).reads_levels for pool in self.pools):
            raise ValueError(
                f"--precoarsen: none of the pools {list(self.pools)} has levels to precompute (only hard cluster "
                f"pools do: {', '.join(HARD_POOLERS)}); drop --precoarsen"
            )
        if (bad := next((i for i, graph in enumerate(graphs) if graph.get("y") is None), None)) is not None:
            raise ValueError(f"graph {bad} has no target (data.y): the run trains and scores on them")
        width = self.model.in_channels
        unread = (i for i, graph in enumerate(graphs) if not self.model.reads_features(graph.get("x")))
        if (bad := next(unread, None)) is not None:
            x = graphs[bad].get("x")
            got = "no features (data.x)" if x is None else f"features of shape {tuple(x.shape)}"
            raise ValueError(f"graph {bad} has {got}, but the model reads in_channels = {width}")
        classes = self.model.num_classes
        labels = task_of(self.model.task).labels(graphs) if graphs else None
        if labels and (bad := next((i for i, y in enumerate(labels) if not 0 <= y < classes), None)) is not None:
            raise ValueError(
                f"graph {bad} has class label {labels[bad]}, but the model has num_classes = {classes} "
                f"(labels 0..{classes - 1})"
            )
        terms = {term for pool in self.pools for term in loss_terms(pool)}
        unknown = sorted(set(self.loss_weights) - terms)
        if unknown:
            raise ValueError(
                f"--loss-weight {unknown[0]}: no pool of this run has that loss term; theirs: {sorted(terms) or 'none'}"
            )
        for readout, pool in itertools.product(self.readouts, self.pools):
            model = self.model_for(readout, pool)
            for name, values in (self.grid or {}).items():
                for value in values:
                    try:
                        expand_grid(model, self.train, {name: [value]})
                    except ValueError as error:
                        raise ValueError(f"--grid {name}={value}: {error}") from None
                if name in ("clusters", "levels") and model.reads_levels:
                    raise ValueError(
                        f"--grid {name} with --precoarsen: the levels of pool {pool!r} are computed once, with "
                        f"the base {name}; drop --precoarsen to select {name} per fold, or set --{name} instead"
                    )
            needs = {"given": model.given, "celltype": "cell_type"}.get(pool)
            if needs is not None and graphs and graphs[0].get(needs) is None:
                what = "label" if pool == "given" else "type"
                raise ValueError(
                    f"pool {pool!r} needs the {what} of every node as data.{needs}; these graphs have none"
                )

    def missing_folds(self, out: Path, count: int) -> list[int]:
        """The fold numbers (from 1) that some combination has not finished in ``out`` (no ``fold-K.json``)."""
        folders = [self.folder(out, r, p) for r, p in itertools.product(self.readouts, self.pools)]
        return [k for k in range(1, count + 1) if not all((f / f"fold-{k}.json").exists() for f in folders)]

    @staticmethod
    def folder(out: Path, readout: str, pool: str) -> Path:
        """The results folder of one combination: ``out/READOUT__POOL``."""
        return out / f"{readout}__{pool}"


def run_experiment(
    graphs: Sequence[Any],
    folds: Sequence[Fold],
    experiment: Experiment,
    out: str | Path,
    device: torch.device | str,
    *,
    repeats: int = 1,
    groups: Sequence[Any] | None = None,
    progress: Progress | None = None,
    only_folds: Collection[int] | None = None,
) -> list[dict[str, Any]]:
    """Assess every readout x pool combination on ``folds``; returns one summary row per combination.

    ``folds`` lists ``repeats`` repeats of the same number of folds, one repeat after the other.
    ``groups`` (e.g. the donor of each graph) keeps each group in one part of every inner hold-out.
    ``only_folds`` (numbers from 1): train only these folds of every combination, as one job of several sharing
    ``out``; the rows are returned once every fold of every combination is done (by any job), else ``[]``.
    ``out`` (a folder) and ``device`` may be given as strings.

    Raises:
        ValueError: before anything is written, for folds that overlap or leave the graphs, ``groups`` of another
            length, ``repeats`` that do not divide the folds, ``only_folds`` outside them, class labels outside
            ``0..num_classes - 1``, graphs without targets or of another feature width, no folds, or a
            combination that could not train (:meth:`Experiment.check`).
    """
    progress, out, device = progress or Progress(), Path(out), torch.device(device)
    if groups is not None and len(groups) != len(graphs):
        raise ValueError(f"'groups' has {len(groups)} entries but there are {len(graphs)} graphs: one group per graph")
    if not folds:
        raise ValueError("'folds' is empty: give at least one (train, test) split")
    Range(1, whole=True).check("repeats", repeats)
    if len(folds) % repeats:
        raise ValueError(f"'repeats' = {repeats} does not divide the {len(folds)} folds (repeats x folds per repeat)")
    if outside := sorted(number for number in only_folds or () if not 1 <= number <= len(folds)):
        raise ValueError(f"'only_folds' names fold {outside[0]}, but the run has {len(folds)} folds (1..{len(folds)})")
    check_fold_parts(folds, len(graphs))
    experiment.check(graphs)  # every combination is valid before the first one trains
    combinations = list(itertools.product(experiment.readouts, experiment.pools))

    def run(readout: str, pool: str, only: Collection[int] | None, watch: Progress) -> list[dict[str, Any]]:
        watch.combination(f"{readout} / {pool}", len(folds) if only is None else len(only))
        model, folder = experiment.model_for(readout, pool), experiment.folder(out, readout, pool)
        return assess(
            graphs, folds, model, experiment.train, folder, device, progress=watch, grid=experiment.grid,
            groups=groups, keep_models=experiment.keep_models, only=only,
        )  # fmt: skip

    job = only_folds is not None
    if job:
        for readout, pool in combinations:  # this job's folds of every combination
            run(readout, pool, only_folds, progress)
    rows = []
    for readout, pool in combinations:
        # every fold; for a job, none (only=()): the results every job has written, read after this job wrote its
        # own, so that of jobs finishing together the last one finds them all
        results = run(readout, pool, () if job else None, Progress() if job else progress)
        if len(results) < len(folds):  # other jobs' folds are still to come
            return []
        rows.append(
            summary_row(
                readout,
                pool,
                {name: [r[f"test_{name}"] for r in results] for name in task_of(experiment.model.task).metrics},
                folds_per_repeat=len(folds) // repeats,
                seconds_per_fold=statistics.fmean(r["seconds"] for r in results),
                selected=[r.get("selected", {}) for r in results],
                folds=results,
            )
        )
    return rows
