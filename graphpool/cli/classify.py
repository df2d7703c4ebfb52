"""``graphpool classify``: cross-validated graph classification of molecules or TU benchmarks."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

import torch

from graphpool.cli.options import device as parse_device
from graphpool.cli.options import experiment_from, precoarsened, subcommand
from graphpool.cli.run_folder import open_out
from graphpool.experiment import (
    TqdmProgress,
    check_folds,
    format_table,
    run_experiment,
    scaffold_folds,
    stratified_folds,
    summary_row,
    write_results,
)
from graphpool.experiment.baselines import baseline_accuracies, fingerprint_forest
from graphpool.experiment.distributed import init_from_environment, is_main, world

#: share of each fold's training graphs held out to select the epoch and the grid candidate
VALIDATION_FRACTION = 0.1


def add_parser(commands: Any) -> None:
    """The ``classify`` subcommand and its options."""
    c = subcommand(commands, "classify", "cross-validated graph classification")
    data = c.add_argument_group("data")
    data.add_argument(
        "--dataset",
        default="solubility",
        help="'solubility' (embedded), 'pooling-easy' / 'pooling-hard' (generated: a benchmark that needs pooling), "
        "or a TU name, e.g. MUTAG",
    )
    data.add_argument("--root", default="datasets", help="folder holding NAME/raw/ for TU datasets")
    data.add_argument("--node-attributes", action="store_true", help="TU: append continuous node attributes")
    data.add_argument("--smiles-csv", default=None, help="a CSV of SMILES and labels instead of --dataset")
    data.add_argument("--smiles-col", default="smiles")
    data.add_argument("--label-col", default="label")
    data.add_argument("--on-error", default="fail", choices=["fail", "skip"], help="unparsable SMILES rows")
    folds = c.add_argument_group("folds")
    folds.add_argument(
        "--splits",
        default="auto",
        choices=["auto", "stratified", "scaffold", "gin", "given"],
        help="auto: the given split where the dataset has one, else stratified folds; scaffold: molecules "
        "grouped by Bemis-Murcko scaffold (stratified, seeded; the inner hold-out grouped the same way)",
    )
    folds.add_argument("--gin-root", default=None, help="folder of the GIN-format folds (default: ROOT/../gin-format)")
    folds.add_argument(
        "--folds",
        type=int,
        default=None,
        help="stratified or scaffold folds (default 10); gin and given splits have their own",
    )
    c.add_argument_group("baselines").add_argument(
        "--baseline",
        default=None,
        choices=["fingerprint"],
        help="molecules: Morgan count fingerprints (radius 2, 2048 bits) + a random forest, same folds",
    )
    c.set_defaults(
        readout="sum", pool=["none"], layers=5, hidden=64, dropout=0.5, batch_size=128, lr=0.001, out="results/classify"
    )


def _load(args: argparse.Namespace) -> tuple[list[Any], int, int, dict[str, Any]]:
    """graphs, feature width, class count, and what the folds need (labels, given splits)."""
    # imported here, not at the top: RDKit loads only when classify runs
    from graphpool.data import load_smiles_csv, load_solubility, load_tu

    if args.smiles_csv:
        molecules = load_smiles_csv(args.smiles_csv, args.smiles_col, args.label_col, args.on_error)
        for row, reason in molecules.skipped:
            print(f"skipped row {row}: {reason}", file=sys.stderr)
        smiles = [g.smiles for g in molecules.graphs]
        return molecules.graphs, molecules.graphs[0].x.size(1), len(molecules.classes), {"smiles": smiles}
    if args.dataset in ("pooling-easy", "pooling-hard"):
        from graphpool.data import NUM_CLASSES, NUM_PARTS, pooling_benchmark

        return pooling_benchmark(args.dataset.split("-")[1], seed=args.seed), NUM_PARTS, NUM_CLASSES, {}
    if args.dataset == "solubility":
        molecules = load_solubility()
        given = [(molecules.splits["train"].tolist(), molecules.splits["test"].tolist())]
        extra = {"given": given, "smiles": [g.smiles for g in molecules.graphs]}
        return molecules.graphs, molecules.graphs[0].x.size(1), len(molecules.classes), extra
    dataset = load_tu(args.dataset, args.root, node_attributes=args.node_attributes)
    graphs = [dataset[i] for i in range(len(dataset))]
    return graphs, dataset.num_features, dataset.num_classes, {}


def _folds(args: argparse.Namespace, graphs: list[Any], extra: dict[str, Any]) -> tuple[str, list, list | None]:
    """The protocol's name, its outer folds, and the groups the inner hold-outs keep whole (scaffolds), if any."""
    from graphpool.data import gin_folds, scaffolds

    splits = args.splits
    if splits == "auto":
        splits = "given" if "given" in extra else "stratified"
    labels = [int(g.y) for g in graphs]
    if splits == "stratified":
        return splits, stratified_folds(labels, args.folds or 10, args.seed), None
    if splits == "scaffold":
        if "smiles" not in extra:
            raise SystemExit(f"--splits scaffold needs molecules (SMILES); dataset {args.dataset!r} has none")
        groups = scaffolds(extra["smiles"])
        return splits, scaffold_folds(groups, labels, args.folds or 10, args.seed), groups
    if splits == "given":
        if "given" not in extra:
            raise SystemExit(f"--splits given: dataset {args.dataset!r} has no given split")
        folds, source = extra["given"], f"the given split of {args.dataset}"
    else:
        gin_root = Path(args.gin_root) if args.gin_root else Path(args.root).parent / "gin-format"
        folds, source = gin_folds(args.dataset, gin_root, args.root), f"the GIN folds of {args.dataset}"
    if args.folds is not None and args.folds != len(folds):
        raise SystemExit(f"--folds {args.folds} contradicts the {len(folds)} folds of --splits {splits}")
    check_folds(folds, len(graphs), source)
    return splits, folds, None


def classify(args: argparse.Namespace) -> int:
    """Run ``graphpool classify`` with parsed ``args``; prints the table and writes the results into ``--out``."""
    device = parse_device(args.device)
    if init_from_environment(device):  # under torchrun: one process per device or CPU share
        rank = world()[0]
        if device.type == "cuda":
            device = torch.device("cuda", rank % torch.cuda.device_count())
            torch.cuda.set_device(device)
        args.quiet = args.quiet or rank != 0
    graphs, features, classes, extra = _load(args)
    if args.baseline and "smiles" not in extra:
        raise SystemExit(f"--baseline fingerprint needs molecules (SMILES); dataset {args.dataset!r} has none")
    protocol, folds, groups = _folds(args, graphs, extra)  # groups: the scaffolds, for the inner hold-outs too
    out = open_out(args)
    experiment = experiment_from(
        args,
        in_channels=features,
        num_classes=classes,
        validation_fraction=VALIDATION_FRACTION,
        mean_nodes=sum(g.num_nodes for g in graphs) / max(len(graphs), 1),
    )
    graphs = precoarsened(graphs, experiment)
    rows = run_experiment(graphs, folds, experiment, out, device, progress=TqdmProgress(args.quiet), groups=groups)
    if args.baseline and is_main():
        from graphpool.data import morgan_counts  # RDKit loads only when classify runs

        start = time.perf_counter()
        features = morgan_counts(extra["smiles"])
        labels = [int(g.y) for g in graphs]
        accuracies = baseline_accuracies(features, labels, folds, lambda: fingerprint_forest(args.seed))
        seconds = (time.perf_counter() - start) / len(folds)
        rows.append(
            summary_row(
                "fingerprint (random forest)", "-", accuracies, folds_per_repeat=len(folds), seconds_per_fold=seconds
            )
        )
    if is_main():
        dataset = args.smiles_csv or args.dataset
        print(f"\n{dataset}: test accuracy, {protocol} splits, {rows[0]['folds']} fold(s)")
        print(format_table(rows))
        paths = write_results(out, rows, dataset, dataset=dataset, protocol=protocol)
        print(f"wrote {', '.join(str(p) for p in paths)}")
    return 0
