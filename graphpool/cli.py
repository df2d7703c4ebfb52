"""The ``graphpool`` command line.

    graphpool cells --table cells.csv --x x --y y --type cell_type --sample sample_id --label label

    graphpool classify --dataset solubility --readout mean
    graphpool classify --dataset MUTAG --root ../shared/datasets/TU --folds 10 \\
        --readout sum,mean,max,median,attention --pool none,graclus,diffpool
"""

from __future__ import annotations

import argparse
import csv
import itertools
import json
import statistics
import sys
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from graphpool.distributed import init_from_environment, is_main, world
from graphpool.evaluation import GRID_KEYS, TrainConfig, assess, atomic_json, stratified_folds
from graphpool.models import BACKBONES, JUMPING_KNOWLEDGE, POOLS, ModelConfig


def _load(args: argparse.Namespace) -> tuple[list[Any], int, int, dict[str, Any]]:
    """graphs, feature width, class count, and what the folds need (labels, given splits)."""
    from graphpool.data import load_smiles_csv, load_solubility, load_tu

    if args.smiles_csv:
        molecules = load_smiles_csv(args.smiles_csv, args.smiles_col, args.label_col, args.on_error)
        for row, reason in molecules.skipped:
            print(f"skipped row {row}: {reason}", file=sys.stderr)
        return molecules.graphs, molecules.graphs[0].x.size(1), len(molecules.classes), {}
    if args.dataset == "solubility":
        molecules = load_solubility()
        given = [(molecules.splits["train"].tolist(), molecules.splits["test"].tolist())]
        return molecules.graphs, molecules.graphs[0].x.size(1), len(molecules.classes), {"given": given}
    dataset = load_tu(args.dataset, args.root, node_attributes=args.node_attributes)
    graphs = [dataset[i] for i in range(len(dataset))]
    return graphs, dataset.num_features, dataset.num_classes, {}


def _folds(args: argparse.Namespace, graphs: list[Any], extra: dict[str, Any]) -> tuple[str, list]:
    from graphpool.data import gin_folds
    from graphpool.data.tu import check_folds

    splits = args.splits
    if splits == "auto":
        splits = "given" if "given" in extra else "stratified"
    if splits == "stratified":
        labels = [int(g.y) for g in graphs]
        return splits, stratified_folds(labels, args.folds or 10, args.seed)
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
    return splits, folds


def _device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise SystemExit("--device cuda: no CUDA device is available")
    return torch.device(name)


def fold_progress(folds: int, epochs: int, quiet: bool) -> Callable[[str], Callable[[int], Any]]:
    """Progress bars: one over the folds of a combination, one over the epochs of each fold."""
    from tqdm.auto import tqdm

    def for_combination(name: str) -> Callable[[int], Any]:
        bar = tqdm(total=folds, desc=name, unit="fold", disable=quiet, leave=False)

        def epoch_bar(fold: int) -> Any:
            inner = tqdm(total=epochs, desc=f"fold {fold}", unit="epoch", disable=quiet, leave=False)

            def update(epoch: int, loss: float, validation: float) -> None:
                inner.n = epoch
                inner.set_postfix(loss=f"{loss:.3f}", val=f"{validation:.3f}", refresh=True)

            def close() -> None:
                inner.close()
                bar.update(1)
                if bar.n >= folds:
                    bar.close()

            update.close = close  # type: ignore[attr-defined]
            return update

        return epoch_bar

    return for_combination


RUN_FILE = "run.json"
_NOT_SETTINGS = frozenset({"quiet", "resume", "device", "out"})  # how a run is watched, not what it computes


def _settings(args: argparse.Namespace) -> dict[str, Any]:
    """Every option that decides a run's results, as JSON values (what ``run.json`` stores)."""
    return json.loads(json.dumps({k: v for k, v in sorted(vars(args).items()) if k not in _NOT_SETTINGS}))


def _open_out(args: argparse.Namespace) -> Path:
    """Check ``--out`` (and ``--resume``) before anything is written, then record the run's settings.

    A new run needs an empty or missing folder. ``--resume`` needs the folder of an earlier run
    whose stored settings (``run.json``) equal this call's: a resumed run with other settings
    would finish with folds trained under both, so it is refused, listing the differences.
    """
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise SystemExit(f"--out {out} is a file; give a folder for the results")
    settings = _settings(args)
    if args.resume:
        if not out.is_dir():
            raise SystemExit(f"--resume: nothing to resume, {out} does not exist; run without --resume to start")
        stored_path = out / RUN_FILE
        if not stored_path.is_file():
            raise SystemExit(
                f"--resume: {out} holds no {RUN_FILE}, so the settings it was run with cannot be checked; "
                "start again in another --out"
            )
        stored = json.loads(stored_path.read_text())
        differences = [
            f"--{name.replace('_', '-')}: {stored.get(name)!r} (stored) vs {settings.get(name)!r} (now)"
            for name in sorted(set(stored) | set(settings))
            if stored.get(name) != settings.get(name)
        ]
        if differences:
            raise SystemExit(
                f"--resume: {out} was run with other settings: {'; '.join(differences)}. "
                "Resume with the stored settings, or start a new run in another --out"
            )
    elif is_main() and out.is_dir() and any(out.iterdir()):
        raise SystemExit(f"{out} already holds results: pass --resume to continue that run, or another --out")
    if is_main():
        atomic_json(out / RUN_FILE, settings)
    return out


# (option, smallest value, whether the bound is strict); None values are left to their defaults
_BOUNDS = (
    ("epochs", 1, False),
    ("patience", 1, False),
    ("batch_size", 1, False),
    ("folds", 2, False),
    ("hidden", 1, False),
    ("layers", 0, False),
    ("clusters", 1, False),
    ("lr", 0, True),
    ("weight_decay", 0, False),
    ("dropout", 0, False),
    ("samples", 1, False),
    ("repeats", 1, False),
)


def _check_numbers(args: argparse.Namespace) -> None:
    """Numeric options in range, each named in a one-line error."""
    for name, lowest, strict in _BOUNDS:
        value = getattr(args, name, None)
        if value is None:
            continue
        if value < lowest or (strict and value == lowest) or value != value:
            bound = f"> {lowest}" if strict else f">= {lowest}"
            raise SystemExit(f"--{name.replace('_', '-')} must be {bound}, got {value}")
    if not args.dropout < 1:
        raise SystemExit(f"--dropout must be < 1, got {args.dropout}")


def classify(args: argparse.Namespace) -> int:
    device = _device(args.device)
    if init_from_environment(device):  # under torchrun: one process per device or CPU share
        rank = world()[0]
        if device.type == "cuda":
            device = torch.device("cuda", rank % torch.cuda.device_count())
            torch.cuda.set_device(device)
        args.quiet = args.quiet or rank != 0
    graphs, features, classes, extra = _load(args)
    protocol, folds = _folds(args, graphs, extra)
    out = _open_out(args)
    train = TrainConfig(args.epochs, args.batch_size, args.lr, args.weight_decay, args.patience, 0.1, args.seed)
    rows = []
    for readout, pool in itertools.product(_split_readouts(args.readout), args.pool):
        model = ModelConfig(
            features,
            classes,
            args.backbone,
            args.hidden,
            args.layers,
            args.dropout,
            args.jk,
            readout,
            pool,
            args.clusters,
        )
        folder = out / f"{readout.replace(',', '+')}__{pool}"
        epoch_bar = fold_progress(len(folds), args.epochs, args.quiet)(f"{readout} / {pool}")
        results = assess(graphs, folds, model, train, folder, device, fold_progress=epoch_bar, grid=args.select)
        accuracies = [r["test_accuracy"] for r in results]
        rows.append(
            {
                "readout": readout,
                "pool": pool,
                "protocol": protocol,
                "folds": len(results),
                "mean_accuracy": statistics.fmean(accuracies),
                "std_accuracy": statistics.pstdev(accuracies) if len(accuracies) > 1 else 0.0,
                "seconds_per_fold": statistics.fmean(r["seconds"] for r in results),
                "selected": [r.get("selected", {}) for r in results],
            }
        )
    if is_main():
        _report(rows, out, args)
    return 0


_SELECT_TYPES = {"hidden": int, "layers": int, "batch_size": int, "jumping_knowledge": str}


def _parse_select(items: list[str] | None) -> dict[str, list[Any]]:
    """``["hidden=32,64", "lr=1e-2,1e-3"]`` -> ``{"hidden": [32, 64], "lr": [0.01, 0.001]}``."""
    grid: dict[str, list[Any]] = {}
    for item in items or []:
        name, _, values = item.partition("=")
        name = {"jk": "jumping_knowledge", "batch-size": "batch_size", "weight-decay": "weight_decay"}.get(name, name)
        if name not in GRID_KEYS or not values:
            raise SystemExit(f"--select {item!r}: write NAME=V1,V2,... with NAME one of {GRID_KEYS}")
        kind = _SELECT_TYPES.get(name, float)
        try:
            grid[name] = [kind(v) for v in values.split(",")]
        except ValueError:
            raise SystemExit(f"--select {item!r}: values of {name} must be {kind.__name__}") from None
    return grid


def _split_readouts(spec: str) -> list[str]:
    """``"sum,mean,max"`` is a grid of three readouts; write ``"mean+max"`` for one concatenated readout."""
    return [part.strip().replace("+", ",") for part in spec.split(",") if part.strip()]


def _selection_summary(selected: list[dict[str, Any]]) -> str:
    """``[{"hidden": 64}, {"hidden": 64}, {"hidden": 32}]`` -> ``"hidden=64 (2); hidden=32 (1)"``."""
    counts = Counter(" ".join(f"{k}={v}" for k, v in s.items()) for s in selected)
    return "; ".join(f"{name} ({n})" for name, n in counts.most_common() if name) or "-"


def _report(rows: list[dict[str, Any]], out: Path, args: argparse.Namespace) -> None:
    dataset = args.smiles_csv or args.dataset
    print(f"\n{dataset}: test accuracy, {rows[0]['protocol']} splits, {rows[0]['folds']} fold(s)")
    print(f"{'readout':<22}{'pool':<10}{'accuracy':>18}{'s / fold':>10}  selected (folds)")
    for row in rows:
        accuracy = f"{100 * row['mean_accuracy']:.1f} +- {100 * row['std_accuracy']:.1f}"
        print(
            f"{row['readout']:<22}{row['pool']:<10}{accuracy:>18}{row['seconds_per_fold']:>10.1f}"
            f"  {_selection_summary(row['selected'])}"
        )
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(json.dumps({"dataset": dataset, "rows": rows}, indent=1))
    with open(out / "results.csv", "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows({**row, "selected": _selection_summary(row["selected"])} for row in rows)
    _plot(rows, out / "accuracy.png", dataset)
    print(f"wrote {out / 'results.json'}, {out / 'results.csv'}, {out / 'accuracy.png'}")


def _plot(rows: list[dict[str, Any]], path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels = [f"{r['readout']}\n{r['pool']}" for r in rows]
    figure, axis = plt.subplots(figsize=(max(4, 1.2 * len(rows)), 3.5))
    axis.bar(
        labels,
        [100 * r["mean_accuracy"] for r in rows],
        yerr=[100 * r["std_accuracy"] for r in rows],
        capsize=4,
        color="#4477aa",
    )
    axis.set_ylabel("test accuracy (%)")
    axis.set_title(f"{title}: accuracy by readout")
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)


def cells(args: argparse.Namespace) -> int:
    """``graphpool cells``: tissue classification from a cell table (or the simulator) with explanations."""
    import pandas as pd

    from graphpool.cells import Analysis, analyse, read_cells, simulate, tissue_graphs

    if args.table is None:
        source: Any = simulate(args.simulate, args.samples, args.seed)
        print(f"no --table: simulated {args.samples} tissues following the {args.simulate!r} rule")
        names = {"x": "x", "y": "y", "cell_type": "cell_type", "sample": "sample", "label": "label"}
    else:
        source = args.table
        names = {"x": args.x, "y": args.y, "cell_type": args.type, "sample": args.sample, "label": args.label}
    markers = None if args.markers is None else ("all" if args.markers == "all" else args.markers.split(","))
    table = read_cells(source, **names, markers=markers, group=args.group, cell_id=args.cell_id)
    if not table.classes:
        raise SystemExit("graphpool cells: the table needs a --label column")
    graphs = tissue_graphs(table, args.graph, args.features, args.edge_weight)
    out = _open_out(args)  # after the table is read and checked: a bad table leaves no folder behind
    samples = table.sample_table
    groups = samples["group"].tolist() if "group" in samples else None
    print(
        f"{len(graphs)} samples, {len(table.frame):,} cells, {len(table.cell_types)} cell types, "
        f"{sum(g.edge_index.size(1) for g in graphs) // 2:,} edges ({args.graph}); "
        f"labels {pd.Series(samples['label']).value_counts().sort_index().to_dict()}"
    )
    analysis = Analysis(
        _split_readouts(args.readout),
        args.pool,
        args.backbone,
        args.layers,
        args.hidden,
        args.dropout,
        args.folds,
        args.repeats,
        args.plots,
        args.clusters,
        args.select,
    )
    train = TrainConfig(args.epochs, args.batch_size, args.lr, args.weight_decay, args.patience, 0.2, args.seed)
    progress = fold_progress(args.folds * args.repeats, args.epochs, args.quiet)
    rows = analyse(table, graphs, out, analysis, train, _device(args.device), groups, progress)
    grouped = f"grouped by {args.group}" if args.group else "grouped by sample"
    print(f"\ntest accuracy, {args.repeats} x {args.folds} stratified folds {grouped}")
    print(f"{'readout':<36}{'pool':<10}{'accuracy':>18}{'sd repeats':>12}{'s / fold':>10}")
    for row in rows:
        accuracy = f"{100 * row['mean_accuracy']:.1f} +- {100 * row['std_over_folds']:.1f}"
        print(
            f"{row['readout']:<36}{row['pool']:<10}{accuracy:>18}"
            f"{100 * row['std_over_repeats']:>12.1f}{row['seconds_per_fold']:>10.1f}"
        )
    explained = json.loads((out / "explanation.json").read_text())
    print(f"explained {explained['model']} (exact CAM: {explained['exact']}); everything is in {out}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="graphpool", description="Graph classification with graphpool's readouts")
    commands = parser.add_subparsers(dest="command", required=True)
    c = commands.add_parser("classify", help="cross-validated graph classification")
    c.add_argument("--dataset", default="solubility", help="'solubility' (embedded) or a TU name, e.g. MUTAG")
    c.add_argument("--root", default="datasets", help="folder holding NAME/raw/ for TU datasets")
    c.add_argument("--node-attributes", action="store_true", help="TU: append continuous node attributes")
    c.add_argument("--smiles-csv", default=None, help="a CSV of SMILES and labels instead of --dataset")
    c.add_argument("--smiles-col", default="smiles")
    c.add_argument("--label-col", default="label")
    c.add_argument("--on-error", default="fail", choices=["fail", "skip"], help="unparsable SMILES rows")
    c.add_argument(
        "--splits",
        default="auto",
        choices=["auto", "stratified", "gin", "given"],
        help="auto: the given split where the dataset has one, else stratified folds",
    )
    c.add_argument("--gin-root", default=None, help="folder of the GIN-format folds (default: ROOT/../gin-format)")
    c.add_argument(
        "--folds", type=int, default=None, help="stratified folds (default 10); gin and given splits have their own"
    )
    c.add_argument("--readout", default="sum", help="comma-separated grid; 'mean+max' concatenates")
    c.add_argument("--pool", default="none", type=lambda s: s.split(","), help=f"comma-separated, of {POOLS}")
    c.add_argument("--backbone", default="gin", choices=BACKBONES)
    c.add_argument("--layers", type=int, default=5, help="0: no message passing (structure-agnostic baseline)")
    c.add_argument("--hidden", type=int, default=64)
    c.add_argument("--dropout", type=float, default=0.5)
    c.add_argument("--jk", default="last", choices=JUMPING_KNOWLEDGE)
    c.add_argument("--clusters", type=int, default=16)
    c.add_argument(
        "--select",
        action="append",
        metavar="NAME=V1,V2",
        help=f"hyper-parameter grid chosen per fold on the inner hold-out (repeatable); NAME of {GRID_KEYS}",
    )
    c.add_argument("--epochs", type=int, default=100)
    c.add_argument("--patience", type=int, default=20)
    c.add_argument("--batch-size", type=int, default=128)
    c.add_argument("--lr", type=float, default=0.001)
    c.add_argument("--weight-decay", type=float, default=0.0)
    c.add_argument("--seed", type=int, default=0)
    c.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    c.add_argument("--out", default="results/classify")
    c.add_argument("--resume", action="store_true", help="continue a run in --out; finished folds are kept")
    c.add_argument("--quiet", action="store_true", help="no progress bars")

    from graphpool.cells import RULES

    e = commands.add_parser("cells", help="tissue classification from a cell table, with per-cell explanations")
    e.add_argument("--table", default=None, help="CSV/TSV/Parquet/.h5ad of cells; without it, simulated tissues")
    e.add_argument("--simulate", default="arrangement", choices=RULES, help="the simulator's label rule")
    e.add_argument("--samples", type=int, default=120, help="simulated tissues")
    e.add_argument("--x", default="x")
    e.add_argument("--y", default="y")
    e.add_argument("--type", default="cell_type", help="the cell-type column")
    e.add_argument("--sample", default="sample")
    e.add_argument("--label", default="label", help="one label per sample")
    e.add_argument("--group", default=None, help="a per-sample column (e.g. donor) that folds never split")
    e.add_argument("--cell-id", default=None, help="a cell id column, unique within each sample")
    e.add_argument("--markers", default=None, help="comma-separated marker columns (or 'all') as features")
    e.add_argument("--graph", default="knn:6", help="knn:K, radius:R, delaunay or delaunay:MAX_LENGTH")
    e.add_argument("--features", default="auto", choices=["auto", "type", "markers", "both"])
    e.add_argument(
        "--edge-weight", default=None, choices=["distance", "inverse"], help="edge weights (used by --backbone gcn)"
    )
    e.add_argument("--readout", default="sum,mean,max", help="comma-separated; 'mean+max' concatenates")
    e.add_argument("--pool", default="none,celltype", type=lambda s: s.split(","), help=f"comma-separated, of {POOLS}")
    e.add_argument("--backbone", default="gin", choices=BACKBONES)
    e.add_argument("--layers", type=int, default=2)
    e.add_argument("--hidden", type=int, default=32)
    e.add_argument("--dropout", type=float, default=0.0)
    e.add_argument("--clusters", type=int, default=16, help="K of learnable pools")
    e.add_argument("--select", action="append", metavar="NAME=V1,V2", help="hyper-parameter grid, as in classify")
    e.add_argument("--folds", type=int, default=5)
    e.add_argument("--repeats", type=int, default=1, help="repeated cross-validation with new shuffles")
    e.add_argument("--epochs", type=int, default=100)
    e.add_argument("--patience", type=int, default=20)
    e.add_argument("--batch-size", type=int, default=8)
    e.add_argument("--lr", type=float, default=0.005)
    e.add_argument("--weight-decay", type=float, default=0.0)
    e.add_argument("--seed", type=int, default=0)
    e.add_argument("--plots", type=int, default=None, help="tissue maps to draw (default: every sample)")
    e.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    e.add_argument("--out", default="results/cells")
    e.add_argument("--resume", action="store_true", help="continue a run in --out; finished folds are kept")
    e.add_argument("--quiet", action="store_true", help="no progress bars")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    _check_numbers(args)
    args.select = _parse_select(args.select)
    for pool in args.pool:
        if pool not in POOLS:
            raise SystemExit(f"--pool: {pool!r} is not one of {POOLS}")
    try:
        return classify(args) if args.command == "classify" else cells(args)
    except (ValueError, FileNotFoundError) as error:  # bad data or settings: say what, no traceback
        raise SystemExit(f"graphpool {args.command}: {error}") from error


if __name__ == "__main__":
    sys.exit(main())
