"""``graphpool classify`` and ``graphpool regress``: cross-validated graph classification (molecules, TU
benchmarks, generated graphs) and regression (molecular properties), one command line and protocol for both."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from graphpool.cli.options import device as parse_device
from graphpool.cli.options import experiment_from, precoarsened, subcommand
from graphpool.cli.run_folder import open_out
from graphpool.cluster.connect import edge_features
from graphpool.experiment import (
    TqdmProgress,
    TrainConfig,
    check_folds,
    format_table,
    head_note,
    out_of_fold,
    random_folds,
    run_experiment,
    scaffold_folds,
    size_note,
    stratified_folds,
    summary_row,
    task_of,
    undefined_r2_note,
    write_results,
)
from graphpool.experiment.baselines import (
    BASELINES,
    baseline_scores,
    fingerprint_forest,
    majority_scores,
    size_baseline,
)
from graphpool.experiment.distributed import init_from_environment, is_main, world
from graphpool.experiment.results import MAJORITY
from graphpool.ops.ranges import check_distinct


def add_parser(commands: Any) -> None:
    """The ``classify`` and ``regress`` subcommands and their options."""
    _add_parser(commands, "classify", "cross-validated graph classification", "classification")
    _add_parser(commands, "regress", "cross-validated regression of a molecular property (e.g. log S)", "regression")


def _add_parser(commands: Any, name: str, help: str, task: str) -> None:
    c = subcommand(commands, name, help)
    data = c.add_argument_group("data")
    if task == "classification":
        datasets = (
            "'solubility' (embedded; 3 classes of log S), 'pooling-easy', 'pooling-hard', 'pooling-easy-small', "
            "'pooling-hard-small' (generated as published: the benchmark built to need pooling; --splits given is its "
            "published train+validation / test split), or a TU name, e.g. MUTAG"
        )
    else:
        datasets = "'solubility' (embedded: log S, Huuskonen 2000)"
    data.add_argument("--dataset", default="solubility", help=datasets)
    data.add_argument("--smiles-csv", default=None, help="a CSV of SMILES and labels instead of --dataset")
    data.add_argument("--smiles-col", default="smiles", help="the SMILES column of --smiles-csv")
    data.add_argument(
        "--label-col", default="label", help="the class column" if task == "classification" else "the numeric target"
    )
    data.add_argument("--on-error", default="fail", choices=["fail", "skip"], help="unusable SMILES or label rows")
    if task == "classification":
        data.add_argument("--root", default="datasets", help="folder holding NAME/raw/ for TU datasets")
        data.add_argument("--node-attributes", action="store_true", help="TU: append continuous node attributes")
    folds = c.add_argument_group("folds")
    folds.add_argument(
        "--splits",
        default="auto",
        choices=["auto", "stratified", "random", "scaffold", "given"] + (["gin"] if task == "classification" else []),
        help="auto: the given split where the dataset has one, else stratified (classification) or random "
        "(regression) folds; scaffold: molecules grouped by Bemis-Murcko scaffold (seeded, stratified under "
        "classification; the inner hold-out grouped the same way)",
    )
    if task == "classification":
        folds.add_argument(
            "--gin-root", default=None, help="folder of the GIN-format folds (default: ROOT/../gin-format)"
        )
    folds.add_argument(
        "--folds",
        type=int,
        default=None,
        help="stratified, random or scaffold folds (default 10); given splits have their own",
    )
    folds.add_argument(
        "--only-folds",
        default=None,
        metavar="LIST",
        help="run only these outer folds (1-based: 3, 1-5 or 2,7), e.g. one per job of an array on a shared --out: "
        "each job joins the run (its settings must match), and the one that finds every fold done writes the results",
    )
    c.add_argument_group("seed ensemble").add_argument(
        "--ensemble",
        type=int,
        default=TrainConfig.ensemble,
        metavar="N",
        help="train each fold's selected model with N seeds and test their mean prediction (class probabilities or "
        "values); the table shows what the first seed scored alone beside it",
    )
    c.add_argument_group("baselines").add_argument(
        "--baseline",
        default=None,
        metavar="LIST",
        help="comma-separated models that see no structure, each a row on the same folds: 'size' (log node and edge "
        "counts + a logistic or linear regression), 'fingerprint' (molecules: Morgan count fingerprints, radius 2, "
        "2048 bits, + a random forest)",
    )
    c.set_defaults(
        task=task,
        readout="sum",
        pool=["none"],
        layers=5,
        hidden=64,
        dropout=0.5 if task == "classification" else 0.0,
        batch_size=None,  # sized to the data (TrainConfig.fit_batch_size)
        lr=0.001,
        out=f"results/{name}",
    )


def _baselines(text: str | None) -> list[str]:
    """``--baseline``: its comma-separated names, each of :data:`BASELINES` and given once."""
    if text is None:
        return []
    names = text.split(",")
    for name in names:
        if name not in BASELINES:
            raise SystemExit(f"--baseline: {name!r} is not one of {', '.join(BASELINES)}")
    try:
        check_distinct("--baseline:", names)
    except ValueError as error:
        raise SystemExit(str(error)) from None
    return names


#: the options of one kind of data source and their defaults: given with another source they would be ignored
_CSV_OPTIONS = {"smiles_col": "smiles", "label_col": "label", "on_error": "fail"}
_TU_OPTIONS = {"root": "datasets", "node_attributes": False, "gin_root": None}


def _data(args: argparse.Namespace) -> str:
    """The option that names the data this run reads, for messages: ``--smiles-csv PATH`` or ``--dataset NAME``."""
    return f"--smiles-csv {args.smiles_csv}" if args.smiles_csv else f"--dataset {args.dataset}"


def _check_source_options(args: argparse.Namespace) -> None:
    """Refuse the options of a --smiles-csv without one, those of a TU dataset with another source, --gin-root
    without --splits gin, and a --smiles-csv that is not a file."""
    if args.smiles_csv and args.dataset != "solubility":  # (the default dataset: not given)
        raise SystemExit(f"--dataset {args.dataset} and --smiles-csv {args.smiles_csv} both name the data: drop one")
    tu = not args.smiles_csv and args.dataset != "solubility" and not args.dataset.startswith("pooling-")
    source = _data(args)
    for options, applies, what in (
        (_CSV_OPTIONS, bool(args.smiles_csv), "reads a --smiles-csv"),
        (_TU_OPTIONS, tu, "is for a TU dataset"),
    ):
        given = [name for name, default in options.items() if getattr(args, name, default) != default]
        if given and not applies:
            option = "--" + given[0].replace("_", "-")
            raise SystemExit(f"{option} {what}; with {source} it would be ignored")
    if not tu and args.splits == "gin":
        raise SystemExit(
            f"--splits gin (the GIN paper's folds) is for a TU dataset; with {source} it would find none: drop one"
        )
    if tu and getattr(args, "gin_root", None) is not None and args.splits != "gin":  # (regress has no --gin-root)
        raise SystemExit(f"--gin-root is read by --splits gin; with --splits {args.splits} it would be ignored")
    if args.smiles_csv:
        path = Path(args.smiles_csv)
        if not path.is_file():
            raise SystemExit(
                f"--smiles-csv {path}: " + ("is a folder, not a file" if path.is_dir() else "does not exist")
            )


def _load(args: argparse.Namespace) -> tuple[list[Any], int, int, dict[str, Any]]:
    """graphs, feature width, class (or target) count, and what the folds need (given splits, SMILES)."""
    _check_source_options(args)
    # imported here, not at the top: RDKit loads only when classify or regress runs
    from graphpool.data import load_smiles_csv, load_solubility, load_tu
    from graphpool.data.molecules import is_finite_number

    def outputs(molecules: Any) -> int:
        if args.task == "regression":
            return 1
        if len(molecules.classes) < 2:
            raise ValueError(
                f"--label-col {args.label_col!r}: the labels hold one class, {molecules.classes[0]!r}: nothing to "
                "classify (a numeric property: graphpool regress)"
            )
        many = len(molecules.classes) >= 10 and len(molecules.classes) > len(molecules) / 2  # classes of 1-2 each
        if many and all(is_finite_number(c) for c in molecules.classes):
            raise ValueError(  # (the folds would fail on classes of one molecule)
                f"--label-col {args.label_col!r}: {len(molecules.classes)} distinct numbers among {len(molecules)} "
                "molecules are no classes: a numeric property is predicted by graphpool regress"
            )
        return len(molecules.classes)

    if args.smiles_csv:
        try:
            molecules = load_smiles_csv(args.smiles_csv, args.smiles_col, args.label_col, args.on_error, args.task)
        except ValueError as error:  # the library's advice, in the command line's words
            raise ValueError(str(error).replace("on_error='skip'", "--on-error skip")) from None
        for row, reason in molecules.skipped:
            print(f"skipped row {row}: {reason}", file=sys.stderr)
        smiles = [g.smiles for g in molecules.graphs]
        return molecules.graphs, molecules.graphs[0].x.size(1), outputs(molecules), {"smiles": smiles}
    if args.dataset == "solubility":
        molecules = load_solubility(args.task)
        given = [(molecules.splits["train"].tolist(), molecules.splits["test"].tolist())]
        extra = {"given": given, "smiles": [g.smiles for g in molecules.graphs]}
        return molecules.graphs, molecules.graphs[0].x.size(1), outputs(molecules), extra
    if args.task == "regression":
        raise SystemExit(f"--dataset {args.dataset!r}: regress reads 'solubility' or a --smiles-csv")
    if args.dataset.startswith("pooling-"):
        from graphpool.data import NUM_CLASSES, NUM_PARTS, VARIANTS, pooling_benchmark, published_split

        variant = args.dataset.removeprefix("pooling-")
        if variant not in VARIANTS:
            raise SystemExit(f"--dataset {args.dataset!r}: the pooling benchmark's variants are {list(VARIANTS)}")
        graphs = pooling_benchmark(variant, seed=args.seed)
        split = published_split(len(graphs), seed=args.seed)  # validation: the inner hold-out's 10 % of the rest
        given = [(sorted(split["train"] + split["validation"]), split["test"])]
        return graphs, NUM_PARTS, NUM_CLASSES, {"given": given}
    dataset = load_tu(args.dataset, args.root, node_attributes=args.node_attributes, log=not args.quiet)
    graphs = [dataset[i] for i in range(len(dataset))]
    return graphs, dataset.num_features, dataset.num_classes, {}


def _fold_list(spec: str, count: int) -> list[int]:
    """``--only-folds``: ``"3"``, ``"1-5"``, ``"2,7,9-10"`` -> sorted fold numbers in ``1..count``."""
    numbers: list[int] = []
    for part in spec.split(","):
        low, dash, high = part.strip().partition("-")
        try:
            first, last = int(low), int(high if dash else low)
        except ValueError:
            first, last = 0, -1
        if first > last:
            raise SystemExit(f"--only-folds {spec!r}: write folds as 3, 1-5 or 2,7")
        numbers.extend(range(first, last + 1))
    check_distinct(f"--only-folds {spec!r}:", numbers)
    if min(numbers) < 1:
        raise SystemExit(f"--only-folds {spec!r}: fold numbers start at 1")
    if max(numbers) > count:
        raise SystemExit(f"--only-folds {spec!r}: the run has {count} folds")
    return sorted(numbers)


def _folds(args: argparse.Namespace, graphs: list[Any], extra: dict[str, Any]) -> tuple[str, list, list | None]:
    """The protocol's name, its outer folds, and the groups the inner hold-outs keep whole (scaffolds), if any."""
    from graphpool.data import gin_folds, scaffolds

    splits = args.splits
    if splits == "auto":
        splits = "given" if "given" in extra else "stratified" if args.task == "classification" else "random"
    labels = task_of(args.task).labels(graphs)  # None under regression
    if splits == "stratified":
        if labels is None:
            raise SystemExit("--splits stratified needs classes; regression uses --splits random or scaffold")
        return splits, stratified_folds(labels, args.folds or 10, args.seed), None
    if splits == "random":
        return splits, random_folds(len(graphs), args.folds or 10, args.seed), None
    if splits == "scaffold":
        if "smiles" not in extra:
            raise SystemExit(f"--splits scaffold needs molecules (SMILES); {_data(args)} has none")
        groups = scaffolds(extra["smiles"])
        return splits, scaffold_folds(groups, labels, args.folds or 10, args.seed), groups
    if splits == "given":
        if "given" not in extra:
            raise SystemExit(f"--splits given: {_data(args)} has no given split")
        folds, source = extra["given"], f"the given split of {args.dataset}"
    else:
        gin_root = Path(args.gin_root) if args.gin_root else Path(args.root).parent / "gin-format"
        folds, source = gin_folds(args.dataset, gin_root, args.root), f"the GIN folds of {args.dataset}"
    if args.folds is not None and args.folds != len(folds):
        count = f"{len(folds)} fold" + ("" if len(folds) == 1 else "s")
        if args.splits == splits:
            raise SystemExit(f"--folds {args.folds} contradicts the {count} of --splits {splits}")
        raise SystemExit(
            f"--folds {args.folds} contradicts the {count} of --splits {args.splits} (here: the dataset's {splits} "
            f"split); --splits stratified or random makes {args.folds} folds"
        )
    check_folds(folds, len(graphs), source)
    return splits, folds, None


def _edge_width(graphs: list[Any]) -> int:
    """D, the width of the graphs' edge features ``edge_attr`` (0 when they have none; unequal widths are an error)."""
    widths = {0 if g.get("edge_attr") is None else edge_features(g.edge_attr).size(1) for g in graphs}
    if len(widths) > 1:
        raise SystemExit(f"the graphs' edge features (edge_attr) differ in width: {sorted(widths)}")
    return widths.pop() if widths else 0


def run(args: argparse.Namespace) -> int:
    """Run ``graphpool classify`` or ``regress`` with parsed ``args``: print the table, write the results to ``--out``."""
    device = parse_device(args.device)
    if init_from_environment(device):  # under torchrun: one process per device or CPU share
        rank = world()[0]
        if device.type == "cuda":
            device = torch.device("cuda", rank % torch.cuda.device_count())
            torch.cuda.set_device(device)
        args.quiet = args.quiet or rank != 0
    baselines = _baselines(args.baseline)
    graphs, features, outputs, extra = _load(args)
    if "fingerprint" in baselines and "smiles" not in extra:
        raise SystemExit(f"--baseline fingerprint needs molecules (SMILES); {_data(args)} has none")
    protocol, folds, groups = _folds(args, graphs, extra)  # groups: the scaffolds, for the inner hold-outs too
    edge_channels = _edge_width(graphs)
    if args.backbone is None:  # molecules read their bond features by default (recorded as chosen in run.json)
        args.backbone = "gine" if "smiles" in extra and edge_channels else "gin"
    experiment = experiment_from(
        args,
        in_channels=features,
        num_classes=outputs,
        mean_nodes=sum(g.num_nodes for g in graphs) / max(len(graphs), 1),
        task=args.task,
        edge_channels=edge_channels,
    )
    experiment.check(graphs)
    only = None if args.only_folds is None else _fold_list(args.only_folds, len(folds))
    out = open_out(args, graphs)  # after every check: a refused setting leaves no folder behind
    graphs = precoarsened(graphs, experiment)
    progress = TqdmProgress(args.quiet)
    rows = run_experiment(graphs, folds, experiment, out, device, progress=progress, groups=groups, only_folds=only)
    if not is_main():
        return 0
    if not rows:  # --only-folds, and other jobs' folds are not all done yet: they will write the results
        missing = experiment.missing_folds(out, len(folds))
        which = f"fold{'s' if len(missing) > 1 else ''} {', '.join(map(str, missing))} of {len(folds)}"
        print(f"{which} still to run in {out}: the job that finishes the last writes the results")
        return 0
    regression = args.task == "regression"
    # targets are stored in float32: the shortest decimal that is the same float32 is the value as written
    # (-3.18, not -3.180000066757202)
    targets = [
        float(np.format_float_positional(g.y.float().numpy()[0], unique=True)) if regression else int(g.y)
        for g in graphs
    ]
    predictions = {
        f"{row['readout']} / {row['pool']}": out_of_fold(experiment.folder(out, row["readout"], row["pool"]))
        for row in rows
    }
    majority = None
    if not regression:  # the floor every model must beat, on the same folds (a line of the table, not a model row)
        scores = {"accuracy": majority_scores([int(t) for t in targets], folds)}
        majority = summary_row(MAJORITY, "-", scores, folds_per_repeat=len(folds), seconds_per_fold=0)
    task = task_of(args.task)
    for baseline in sorted(baselines, key=list(BASELINES).index, reverse=True):  # size, then fingerprint
        start = time.perf_counter()
        if baseline == "size":
            scores, predicted = size_baseline(graphs, targets, folds, args.seed, task)
        else:
            from graphpool.data import morgan_counts  # RDKit loads only when a fingerprint baseline runs

            model = lambda: fingerprint_forest(args.seed, task)
            scores, predicted = baseline_scores(morgan_counts(extra["smiles"]), targets, folds, model, task)
        seconds = (time.perf_counter() - start) / len(folds)
        name = BASELINES[baseline]
        rows.append(summary_row(name, "-", scores, folds_per_repeat=len(folds), seconds_per_fold=seconds))
        predictions[name] = ([i for _, test in folds for i in test], predicted)
    dataset = args.smiles_csv or args.dataset
    scored = "test RMSE, MAE and R2" if regression else "test accuracy"
    print(f"\n{dataset}: {scored}, {protocol} splits, {rows[0]['folds']} fold(s)")
    print(format_table([*rows, majority] if majority else rows))
    for note in (undefined_r2_note(rows), size_note(rows), head_note(rows, args.grid)):
        if note:
            print(note)
    parity = [(name, [targets[i] for i in index], value) for name, (index, value) in predictions.items()]
    paths = write_results(
        out, rows, dataset, parity=parity if regression else (), majority=majority, dataset=dataset, protocol=protocol
    )
    paths.append(_write_predictions(out / "predictions.csv", predictions, targets, folds, extra.get("smiles")))
    print(f"wrote {', '.join(str(p) for p in paths)}")
    return 0


def _write_predictions(
    path: Path,
    predictions: dict[str, tuple[list[int], list[Any]]],
    targets: list[Any],
    folds: list,
    smiles: list[str] | None,
) -> Path:
    """``predictions.csv``: per graph its index, SMILES, ``label`` (the class or the value as measured), test
    fold, and each model's out-of-fold prediction (classes as integers)."""
    import pandas as pd

    table = pd.DataFrame({"index": range(len(targets))})
    if smiles is not None:
        table["smiles"] = smiles
    table["label"] = targets
    fold_of = {i: number for number, (_, test) in enumerate(folds, start=1) for i in test}
    table["fold"] = pd.array([fold_of.get(i) for i in range(len(targets))], dtype="Int64")
    kind = "Int64" if targets and isinstance(targets[0], int) else float  # a class, or a value
    for name, (index, value) in predictions.items():
        table[name] = pd.Series(value, index=index).astype(kind)
    table.to_csv(path, index=False)
    return path
