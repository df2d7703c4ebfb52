"""Experiments: the assessment protocol of Errica et al. (ICLR 2020), run for a grid of models.

- :mod:`~graphpool.experiment.folds`: outer folds and inner hold-outs;
- :mod:`~graphpool.experiment.hyperparameters`: the grid chosen per fold on the hold-out;
- :mod:`~graphpool.experiment.tasks`: classification or regression: the loss and the scores;
- :mod:`~graphpool.experiment.training`: training one candidate, early stopping, checkpoints;
- :mod:`~graphpool.experiment.assessment`: every fold, candidate selection, one test per fold;
- :mod:`~graphpool.experiment.results`: summary rows written as JSON, CSV and PNG (parity plots);
- :mod:`~graphpool.experiment.diagnostics`: clusters used per pooling level, collapses, folds at the majority rate;
- :mod:`~graphpool.experiment.baselines`: scikit-learn models on one vector per graph, same folds;
- :mod:`~graphpool.experiment.runner`: every readout x pool combination of one run;
- :mod:`~graphpool.experiment.files`, :mod:`~graphpool.experiment.progress`,
  :mod:`~graphpool.experiment.distributed`: atomic writes, progress reporting, torchrun.
"""

from graphpool.experiment.assessment import assess
from graphpool.experiment.diagnostics import CollapseWarning, level_usage, pooling_diagnostics
from graphpool.experiment.files import atomic_json, atomic_write, safe_name
from graphpool.experiment.folds import (
    Fold,
    check_folds,
    grouped_folds,
    holdout,
    inner_split,
    random_folds,
    scaffold_folds,
    stratified_folds,
)
from graphpool.experiment.hyperparameters import GRID_KEYS, expand_grid, parse_grid_item, readout_grid, split_settings
from graphpool.experiment.progress import Progress, TqdmProgress
from graphpool.experiment.results import (
    format_table,
    head_note,
    out_of_fold,
    pyplot,
    size_note,
    summary_row,
    undefined_r2_note,
    write_results,
)
from graphpool.experiment.runner import Experiment, run_experiment
from graphpool.experiment.tasks import Classification, Regression, Task, task_of
from graphpool.experiment.training import TrainConfig, evaluate, predict, train_candidate

__all__ = [
    "GRID_KEYS",
    "Classification",
    "CollapseWarning",
    "Experiment",
    "Fold",
    "Progress",
    "Regression",
    "Task",
    "TqdmProgress",
    "TrainConfig",
    "assess",
    "atomic_json",
    "atomic_write",
    "check_folds",
    "evaluate",
    "expand_grid",
    "format_table",
    "grouped_folds",
    "head_note",
    "holdout",
    "inner_split",
    "level_usage",
    "out_of_fold",
    "parse_grid_item",
    "pooling_diagnostics",
    "predict",
    "pyplot",
    "random_folds",
    "readout_grid",
    "run_experiment",
    "safe_name",
    "scaffold_folds",
    "size_note",
    "split_settings",
    "stratified_folds",
    "summary_row",
    "task_of",
    "train_candidate",
    "undefined_r2_note",
    "write_results",
]
