"""What graph size alone predicts: the majority class and ``--baseline size`` on classify's folds, for TU datasets
and the generated pooling benchmark (``pooling-hard``, ``pooling-easy``, ...).

The rows ``graphpool classify --dataset NAME --baseline size`` adds to its table, without training a GNN: the
same stratified folds (``--folds``, ``--seed``), the same models (:mod:`graphpool.experiment.baselines`). Run it
before reading a pooled model's gain as coming from structure::

    python scripts/size_baseline.py --root ../shared/datasets/TU DD NCI109 PTC_MR ENZYMES IMDB-BINARY pooling-hard
"""

from __future__ import annotations

import argparse

from _measure import count

from graphpool.data import pooling_benchmark
from graphpool.data.tu import load_tu
from graphpool.experiment import stratified_folds, summary_row, task_of
from graphpool.experiment.baselines import BASELINES, majority_scores, size_baseline
from graphpool.experiment.results import MAJORITY


def size_scores(name: str, root: str | None, folds: int, seed: int) -> dict[str, list[float]]:
    """Test accuracy per fold of the size baseline and of the majority class on dataset ``name`` (as classify's
    ``--dataset``: a TU name read from ``root``, or ``pooling-VARIANT`` generated with ``seed``)."""
    if name.startswith("pooling-"):
        graphs = pooling_benchmark(name.removeprefix("pooling-"), seed=seed)
    elif root is None:
        raise ValueError("a TU dataset needs --root")
    else:
        graphs = list(load_tu(name, root=root, log=False))
    labels = [int(g.y) for g in graphs]
    splits = stratified_folds(labels, folds, seed)
    scores, _ = size_baseline(graphs, labels, splits, seed, task_of("classification"))
    return {BASELINES["size"]: scores["accuracy"], MAJORITY: majority_scores(labels, splits)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("datasets", nargs="+", help="TU dataset names or pooling-VARIANT, e.g. DD pooling-hard")
    parser.add_argument("--root", help="folder holding NAME/raw/ of TU datasets (as classify's --root)")
    parser.add_argument("--folds", type=count, default=10, help="stratified outer folds (classify's default)")
    parser.add_argument("--seed", type=int, default=0, help="seeds the folds (classify's default)")
    args = parser.parse_args()
    print(f"{'dataset':<20}{'model':<34}{'accuracy':>14}  per fold")
    for name in args.datasets:
        try:
            scores = size_scores(name, args.root, args.folds, args.seed)
        except (OSError, ValueError) as error:  # no such dataset, too few graphs of a class for the folds
            parser.error(f"{name}: {error}")
        for model, values in scores.items():
            row = summary_row(model, "-", {"accuracy": values}, folds_per_repeat=args.folds, seconds_per_fold=0.0)
            mean = f"{100 * row['mean_accuracy']:.1f} +- {100 * row['std_over_folds']:.1f}"
            print(f"{name:<20}{model:<34}{mean:>14}  {' '.join(f'{100 * v:.1f}' for v in values)}")


if __name__ == "__main__":
    main()
