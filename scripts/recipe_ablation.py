"""Which training choices make a pooled model train: one change at a time, scored on inner validation only.

For each of the first ``--outer`` of ``--folds`` stratified outer folds, the fold's training part is split into
fit and validation (the protocol's inner hold-out, 10 %); every recipe is trained on fit and scored on
validation. The outer test parts are never read, so the choices this table supports can be made defaults
without touching the figures the protocol reports. Each row also gives the pool's diagnostics on the validation
graphs: clusters used per level, ``node_clusters`` (1 = every node in one cluster, K = spread evenly over all) and
levels collapsed.

    python scripts/recipe_ablation.py --dataset pooling-hard-small --pool mincut --outer 3
    python scripts/recipe_ablation.py --dataset PROTEINS --root ../shared/datasets/TU --pool mincut,diffpool

Recipes (``--recipes``, comma-separated, default all): ``before`` (batch 128, the aux losses at weight 1 from the
first epoch, a linear assignment at temperature 1: the defaults before this ablation), then each change alone on
top of ``sized``, the batch sized to the data (a tenth of the fit graphs, at most 128). A flat model (``none``) runs
those of :data:`FLAT_RECIPES` among them.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import torch

from graphpool.cluster import loss_terms
from graphpool.experiment import TrainConfig, inner_split, pooling_diagnostics, stratified_folds, train_candidate
from graphpool.models import GraphClassifier, ModelConfig

#: name -> (model settings, training settings) changed from ``sized``; ``before`` sets the batch back to 128
RECIPES: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {
    "before": ({}, {"batch_size": 128}),
    "sized": ({}, {}),
    "temperature 0.1": ({"temperature": 0.1}, {}),
    "temperature 0.01": ({"temperature": 0.01}, {}),
    "assign MLP 64": ({"assign_hidden": 64}, {}),
    "aux warm-up 20": ({}, {"aux_warmup": 20}),
    "aux weight 0.1": ({"aux_scale": 0.1}, {}),
    "aux weight 10": ({"aux_scale": 10.0}, {}),
    "lr 1e-2": ({}, {"lr": 0.01}),
}
#: the recipes that apply to a flat model (no pool: no assignment, no auxiliary losses)
FLAT_RECIPES = ("before", "sized", "lr 1e-2")


def load(name: str, root: str, seed: int) -> tuple[list[Any], int, int]:
    """Graphs, feature width and class count of a generated pooling benchmark or a TU dataset."""
    if name.startswith("pooling-"):
        from graphpool.data import NUM_CLASSES, NUM_PARTS, pooling_benchmark

        return pooling_benchmark(name.removeprefix("pooling-"), seed=seed), NUM_PARTS, NUM_CLASSES
    from graphpool.data import load_tu

    dataset = load_tu(name, root, log=False)
    return [dataset[i] for i in range(len(dataset))], dataset.num_features, dataset.num_classes


def model_for(base: ModelConfig, pool: str, settings: dict[str, Any]) -> ModelConfig:
    """The base config with ``pool`` and a recipe's settings; ``aux_scale`` multiplies every loss term's weight."""
    settings = dict(settings)
    scale = settings.pop("aux_scale", None)
    config = replace(base, pool=pool, **settings)
    if scale is not None:
        config = replace(config, loss_weights={term: scale for term in loss_terms(pool)})  # none for "none"
    return config


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", default="pooling-hard-small")
    parser.add_argument("--root", default="../shared/datasets/TU", help="folder holding NAME/raw/ (TU datasets)")
    parser.add_argument("--pool", default="mincut", help="comma-separated soft pools (and 'none' for the flat model)")
    parser.add_argument("--recipes", default=",".join(RECIPES))
    parser.add_argument("--levels", type=int, default=2)
    parser.add_argument("--ratio", type=float, default=0.25)
    parser.add_argument("--folds", type=int, default=10)
    parser.add_argument("--outer", type=int, default=3, help="outer folds whose training parts are used")
    parser.add_argument("--epochs", type=int, default=60)
    parser.add_argument("--patience", type=int, default=15)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", default=None, help="write the rows here (default: print only)")
    args = parser.parse_args()
    recipes = [name.strip() for name in args.recipes.split(",")]
    unknown = [name for name in recipes if name not in RECIPES]
    if unknown:
        raise SystemExit(f"--recipes: {unknown[0]!r} is not one of {list(RECIPES)}")

    graphs, width, classes = load(args.dataset, args.root, args.seed)
    labels = [int(g.y) for g in graphs]
    mean_nodes = statistics.fmean(g.num_nodes for g in graphs)
    base = ModelConfig(
        in_channels=width,
        num_classes=classes,
        clusters=max(1, math.ceil(args.ratio * mean_nodes)),
        levels=args.levels,
        ratio=args.ratio,
    )
    outer = stratified_folds(labels, args.folds, args.seed)[: args.outer]
    splits = [inner_split(train, labels, TrainConfig.validation_fraction, args.seed) for train, _ in outer]
    rows = []
    for pool in args.pool.split(","):
        for name in recipes if pool != "none" else [name for name in recipes if name in FLAT_RECIPES]:
            model_settings, train_settings = RECIPES[name]
            config = model_for(base, pool, model_settings if pool != "none" else {})
            train = TrainConfig(epochs=args.epochs, patience=args.patience, seed=args.seed, **train_settings)
            rows.append(run_recipe(graphs, splits, config, train, pool, name))
            print(format_row(rows[-1]), flush=True)
            if args.json:  # after every row: a long run stopped early keeps what it measured
                Path(args.json).parent.mkdir(parents=True, exist_ok=True)
                Path(args.json).write_text(json.dumps({"args": vars(args), "rows": rows}, indent=1))


def run_recipe(
    graphs: list[Any],
    splits: list[tuple[list[int], list[int]]],
    config: ModelConfig,
    train: TrainConfig,
    pool: str,
    name: str,
) -> dict[str, Any]:
    """Train one recipe on every fit part; its validation accuracies and diagnostics (``failed``: an error's message,
    e.g. training that diverged, which is a result of the recipe too)."""
    scores, levels, seconds, failed = [], [], 0.0, []
    for fit, validation in splits:
        with tempfile.TemporaryDirectory() as folder:
            start = time.perf_counter()
            network = GraphClassifier(config)
            try:
                result = train_candidate(
                    graphs,
                    {"fit": fit, "validation": validation},
                    config,
                    train,
                    torch.device("cpu"),
                    Path(folder) / "checkpoint.pt",
                )
            except ValueError as error:
                failed.append(str(error))
                continue
            finally:
                seconds += time.perf_counter() - start
            network.load_state_dict(torch.load(Path(folder) / "checkpoint.pt")["state"]["best_model"])
        scores.append(100 * result["validation_accuracy"])
        levels.append(pooling_diagnostics(network, [graphs[i] for i in validation], 128, torch.device("cpu")))
    return {
        "pool": pool,
        "recipe": name,
        "validation_accuracy": scores,
        "mean": statistics.fmean(scores) if scores else math.nan,
        "levels": levels,
        "failed": failed,
        "seconds_per_fold": seconds / len(splits),
    }


def format_row(row: dict[str, Any]) -> str:
    """One markdown row: pool, recipe, mean validation accuracy (per fold), used clusters and node_clusters."""
    folds = " ".join(f"{s:.0f}" for s in row["validation_accuracy"])
    usage = ""
    if row["levels"] and row["levels"][0]:
        depth = len(row["levels"][0])
        mean = lambda key, d: statistics.fmean(levels[d][key] for levels in row["levels"])
        used = " ".join(f"{mean('clusters_used', d):.1f}/{row['levels'][0][d]['clusters']:.0f}" for d in range(depth))
        spread = " ".join(f"{mean('node_clusters', d):.1f}" for d in range(depth))
        collapsed = sum(level["collapsed"] for levels in row["levels"] for level in levels)
        usage = f"{used} | {spread} | {collapsed}"
    else:
        usage = "- | - | -"
    failed = f"; {len(row['failed'])} failed: {row['failed'][0]}" if row["failed"] else ""
    return (
        f"| {row['pool']} | {row['recipe']} | {row['mean']:.1f} ({folds}{failed}) | {usage} | "
        f"{row['seconds_per_fold']:.0f} |"
    )


if __name__ == "__main__":
    main()
