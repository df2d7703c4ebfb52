"""Which readout can see which label rule? Train each model on each simulated rule, print the matrix.

    python scripts/readout_capability.py                  # 200 tissues per rule, 5 folds (~7 min, 2 cores)
    python scripts/readout_capability.py --samples 40 --folds 2 --epochs 5   # a smoke run

Rules (graphpool.cells.simulate): count (sum should see it, mean should not), proportion (mean
should, sum is confounded by size), presence (max should), arrangement (no flat readout of the
one-hot types can; message passing can). Models:

- ``flat <readout>``: the readout of the one-hot cell types, then a linear layer (no edges);
- ``GIN + <readout>``: 2 GIN layers (message passing over the kNN graph), readout, linear layer;
- ``GIN + cell-type pool``: 2 GIN layers, the mean embedding of every cell type side by side;
- ``proportions (LR)``: logistic regression on cell-type proportions.

Every model sees the same stratified folds (one sample = one graph, so folds are grouped by
sample); the numbers are mean test accuracies over the folds, with epochs chosen on an inner
hold-out. Writes ``capability.json`` and ``capability.png`` to ``--out``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from _measure import count, names_of, positive

from graphpool.cells import RULES, proportion_baseline, read_cells, simulate, tissue_graphs
from graphpool.experiment import Experiment, TrainConfig, grouped_folds, pyplot, run_experiment
from graphpool.models import ModelConfig

MODELS = {
    "flat sum": {"layers": 0, "readout": "sum"},
    "flat mean": {"layers": 0, "readout": "mean"},
    "flat max": {"layers": 0, "readout": "max"},
    "GIN + sum": {"layers": 2, "readout": "sum"},
    "GIN + mean": {"layers": 2, "readout": "mean"},
    "GIN + max": {"layers": 2, "readout": "max"},
    "GIN + cell-type pool": {"layers": 2, "readout": "mean", "pool": "celltype"},
}


def measure(rule: str, args: argparse.Namespace) -> dict[str, float]:
    table = read_cells(simulate(rule, args.samples, args.seed))
    graphs = tissue_graphs(table, "knn:6")
    labels = [int(g.y) for g in graphs]
    folds = grouped_folds(labels, [g.sample for g in graphs], args.folds, 1, args.seed)
    train = TrainConfig(
        epochs=args.epochs, batch_size=16, lr=args.lr, patience=args.patience, validation_fraction=0.2, seed=args.seed
    )
    scores = {}
    for name, settings in MODELS.items():
        model = ModelConfig(
            in_channels=graphs[0].x.size(1),
            num_classes=2,
            hidden=32,
            dropout=0.0,
            head_layers=1,
            layers=settings["layers"],
        )
        experiment = Experiment(
            model=model,
            train=train,
            readouts=[settings["readout"]],
            pools=[settings.get("pool", "none")],
            num_types=len(table.cell_types),
        )
        with tempfile.TemporaryDirectory() as folder:
            (row,) = run_experiment(graphs, folds, experiment, Path(folder), torch.device("cpu"))
        scores[name] = row["mean_accuracy"]
    scores["proportions (LR)"] = statistics.fmean(proportion_baseline(graphs, len(table.cell_types), folds))
    return scores


def plot(matrix: dict[str, dict[str, float]], path: Path) -> None:
    plt = pyplot()
    rules, models = list(matrix), list(next(iter(matrix.values())))
    values = np.array([[100 * matrix[r][m] for m in models] for r in rules])
    figure, axis = plt.subplots(figsize=(1.1 * len(models) + 1.5, 0.6 * len(rules) + 1.8))
    image = axis.imshow(values, cmap="RdYlGn", vmin=40, vmax=100)
    axis.set_xticks(range(len(models)), models, rotation=35, ha="right")
    axis.set_yticks(range(len(rules)), rules)
    for (i, j), value in np.ndenumerate(values):
        axis.text(j, i, f"{value:.0f}", ha="center", va="center", fontsize=9)
    figure.colorbar(image, ax=axis, label="test accuracy (%)")
    axis.set_title("which model sees which rule (chance = 50 %)")
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--samples", type=count, default=200, help="simulated tissues per rule")
    parser.add_argument("--folds", type=count, default=5)
    parser.add_argument("--epochs", type=count, default=100)
    parser.add_argument("--patience", type=count, default=25)
    parser.add_argument("--lr", type=positive, default=0.01)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--rules", type=names_of(tuple(RULES)), default=",".join(RULES))
    parser.add_argument("--out", default="results/readout_capability")
    args = parser.parse_args(argv)
    matrix = {}
    for rule in args.rules:
        start = time.perf_counter()
        matrix[rule] = measure(rule, args)
        print(f"{rule}: done in {time.perf_counter() - start:.0f} s", file=sys.stderr, flush=True)
    models = list(next(iter(matrix.values())))
    print(f"test accuracy (%), {args.samples} tissues per rule, {args.folds} folds; chance = 50")
    print(f"{'rule':<13}" + "".join(f"{m:>22}" for m in models))
    for rule, row in matrix.items():
        print(f"{rule:<13}" + "".join(f"{100 * row[m]:>22.1f}" for m in models))
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "capability.json").write_text(json.dumps({"settings": vars(args), "accuracy": matrix}, indent=1))
    plot(matrix, out / "capability.png")
    print(f"wrote {out / 'capability.json'} and {out / 'capability.png'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
