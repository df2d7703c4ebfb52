"""``graphpool neighbourhoods``: tissue cellular neighbourhoods of a cell table (or of simulated tissues).

    graphpool neighbourhoods                                   # simulated tissues, scored against their regions
    graphpool neighbourhoods --table spleen.csv --x x_coordinate --y y_coordinate --type CellType \\
        --no-sample --k 4 --method composition,utag,learned --truth Compartment --ignore NoAnnotation
    graphpool neighbourhoods --table cells.h5ad --k 6          # squidpy's obsp graph when present
    graphpool neighbourhoods --table tnbc.csv --label label --k 6   # condition-specific (supervised)

With ``--label`` (and optionally ``--group``) the neighbourhoods are condition-specific: the command runs
``graphpool cells --readout sum --pool none,LOSS --clusters K --levels 1`` (grouped cross-validation of a
tissue classifier whose first pooling level is the K neighbourhoods, beside the flat readout and the
cell-type proportions), which writes per neighbourhood its composition, abundance per condition with a
test and FDR, and contribution, out of fold; ``graphpool cells`` takes the further training options.

Writes into ``--out``, per method: ``cells.csv`` (one row per cell with its neighbourhood),
``composition.csv``, ``summary.csv``, ``abundance.csv`` (per sample), the composition heatmaps
``composition`` (log2 enrichment of each type against all cells) and ``composition_share`` (raw shares),
and tissue maps ``maps/<sample>`` (``--plots`` of them; beside the ``--truth`` annotation when given), each
figure in every ``--formats`` (PNG and PDF by default); for an ``.h5ad`` input, ``cells.h5ad``: the input
with every method's results under ``<--key-added>_<method>`` (scanpy's layout: ``obs``, ``obsm``, ``uns``
with ``params`` and ``_colors``); and ``results.csv``: one row per method with its time and, with
``--truth``, its agreement with the annotated regions; ``run.json``: the options and the versions of graphpool,
torch and PyG that computed them.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Sequence
from dataclasses import fields
from pathlib import Path
from typing import Any

import pandas as pd

from graphpool.cells import Neighbourhoods, agreement, neighbourhoods, read_cells, simulate
from graphpool.cells.figures import check_formats, save
from graphpool.cells.neighbourhood import (
    LOSSES,
    METHODS,
    CompositionOptions,
    LearnedOptions,
    LouvainOptions,
    UtagOptions,
    check_k,
    choose_k,
    method_options,
    parse_k_range,
)
from graphpool.cells.neighbourhood.scoring import check_ignore
from graphpool.cells.table import DEFAULT_CONNECTIVITY_KEY, open_table
from graphpool.cells.workflow import CELLS_KEY
from graphpool.cli.options import (
    DefaultsHelp,
    add_cell_columns,
    add_loss_weight,
    add_threads,
    cell_columns,
    check_bounds,
    check_graph_option,
    check_table_options,
    markers_from,
)
from graphpool.cli.run_folder import check_out_parent, write_record
from graphpool.experiment import safe_name
from graphpool.ops.ranges import SEED, Range, check_distinct

SIMULATED_SAMPLES = 40
DEFAULT_METHODS = "composition,utag,learned"
#: the soft pool of the supervised (--label) model unless --loss names one: MinCut, as measured on MIBI-TNBC and
#: IMC in docs/cells.md (the learned method's default, cutbalance, was chosen on the unsupervised spleens)
SUPERVISED_POOL = "mincut"


def add_parser(commands: Any) -> None:
    """The ``neighbourhoods`` subcommand and its options."""
    e = commands.add_parser(
        "neighbourhoods",
        help="tissue cellular neighbourhoods of a cell table",
        formatter_class=DefaultsHelp,
    )
    table = e.add_argument_group("cell table")
    table.add_argument("--table", default=None, help="CSV/TSV/Parquet/.h5ad of cells; without it, simulated tissues")
    add_cell_columns(table)
    table.add_argument("--no-sample", action="store_true", help="the table is one tissue (no sample column)")
    table.add_argument("--label", default=None, help="one label per sample: condition-specific neighbourhoods")
    table.add_argument("--group", default=None, help="with --label: a per-sample column folds never split")
    table.add_argument("--class-names", default=None, help="with --label: names of its values, 0=healthy,1=ill")
    table.add_argument("--folds", type=int, default=5, help="with --label: outer cross-validation folds")
    table.add_argument("--truth", default=None, help="a column of annotated regions to score against")
    table.add_argument("--ignore", default=None, help="comma-separated --truth values left out of the scores")
    method = e.add_argument_group("neighbourhoods")
    method.add_argument(
        "--k",
        default=None,
        help="neighbourhoods (default 3 simulated, else 6); a range LOW:HIGH (e.g. 3:10) chooses K per method by "
        "stability over --stability-runs seeds (k_stability.csv and .png)",
    )
    method.add_argument("--stability-runs", type=int, default=3, help="with a K range: seeds per K")
    method.add_argument("--method", default=DEFAULT_METHODS, help=f"comma-separated, of {METHODS}")
    method.add_argument("--graph", default=None, help="knn:K, radius:R, delaunay, given (default: given or knn:10)")
    method.add_argument("--window", type=int, default=CompositionOptions.window, help="composition: cells per window")
    method.add_argument("--hops", type=int, default=UtagOptions.hops, help="utag: averaging steps")
    method.add_argument("--resolution", type=float, default=LouvainOptions.resolution, help="louvain: resolution")
    method.add_argument(
        "--loss",
        default=argparse.SUPPRESS,  # each use has its own default, named in the help
        choices=LOSSES,
        help=f"learned: the unsupervised loss (default {LearnedOptions.loss}); with --label: the soft pool of the "
        f"supervised model (default {SUPERVISED_POOL})",
    )
    add_loss_weight(
        method, "learned: weight of a loss term (repeatable; default: balance=0.3 for cutbalance, ortho=0.1 for mincut)"
    )
    method.add_argument(
        "--smoothing",
        type=int,
        default=LearnedOptions.smoothing,
        help="learned: averaging steps over the cell graph before the network",
    )
    method.add_argument("--epochs", type=int, default=LearnedOptions.epochs, help="learned: passes over the samples")
    method.add_argument("--repeats", type=int, default=LearnedOptions.repeats, help="learned: seeds in the consensus")
    method.add_argument(
        "--device", default=LearnedOptions.device, help="learned: cpu, cuda, cuda:N or auto (CUDA when there is one)"
    )
    run = e.add_argument_group("output")
    run.add_argument("--out", default="results/neighbourhoods", help="an empty or new folder")
    run.add_argument("--plots", type=int, default=6, help="tissue maps to draw per method")
    run.add_argument("--formats", default="png,pdf", help="figure formats, comma-separated, of png, pdf, svg")
    run.add_argument("--unit", default="", help="the unit of the positions, for the maps' scale bars (e.g. µm)")
    run.add_argument(
        "--key-added",
        default=CELLS_KEY,
        help=".h5ad input: cells.h5ad holds each method's results under KEY_METHOD (e.g. graphpool_utag)",
    )
    run.add_argument("--seed", type=int, default=0, help="seeds k-means, Louvain, the learned method, the simulator")
    run.add_argument("--quiet", action="store_true", help="no progress bars")
    add_threads(run)


def run_neighbourhoods(args: argparse.Namespace) -> int:
    """Run ``graphpool neighbourhoods`` with parsed ``args``."""
    check_bounds(args, {"plots": Range(0), "resolution": Range(0, low_open=True), "seed": SEED})
    check_formats(args.formats)
    check_table_options(args, {}, {"no_sample": False})
    check_graph_option(args.graph)
    try:
        ks = None if args.k is None else parse_k_range(args.k)
    except ValueError as error:
        raise ValueError(f"--k: {error}") from None
    if args.label is not None:  # (unsupervised, the method's own check names 'k' with its range)
        if args.method != DEFAULT_METHODS:
            raise ValueError(
                "--method chooses unsupervised methods; with --label the run is the supervised cells analysis, so it "
                "would be ignored"
            )
        _check_method_options(args, (), "with --label the run is the supervised cells analysis")
        if ks is not None and len(ks) > 1:
            raise ValueError("--k: a range chooses K of unsupervised neighbourhoods; with --label give one K")
        args.k = None if ks is None else ks[0]
        check_bounds(args, {"k": Range(2)})
        return _supervised(args)
    check_bounds(args, {"stability_runs": Range(2)})
    methods = args.method.split(",")
    unknown = [m for m in methods if m not in METHODS]
    if unknown:
        raise ValueError(f"--method {unknown[0]!r} is unknown; choose from {METHODS}")
    check_distinct("--method", methods)
    _check_method_options(args, methods, f"--method {args.method} does not run it")
    truth, ignore = args.truth, [] if args.ignore is None else args.ignore.split(",")
    if args.table is None:
        source: Any = simulate("arrangement", SIMULATED_SAMPLES, args.seed)
        names: dict[str, Any] = {"markers": markers_from(args.markers)}
        truth, ks = truth or "region", ks or [3]
        print(f"no --table: {SIMULATED_SAMPLES} simulated tissues, scored against their regions (tumour/margin/stroma)")
    else:
        source = open_table(args.table)  # read once: the cells, the truth, an AnnData to write back
        ks = ks or [6]
        names = {**cell_columns(args), "sample": None if args.no_sample else args.sample}
    table = read_cells(source, **names, label=None)
    regions = _truth(source, truth)
    if ignore and regions is None:
        raise ValueError(
            "--ignore leaves --truth values out of the scores; there is no --truth, so it would be ignored"
        )
    if ignore:  # before any method runs
        check_distinct("--ignore", ignore)
        check_ignore(regions, ignore, ("--ignore", f"--truth {truth}"))
    if args.key_added != CELLS_KEY and isinstance(source, pd.DataFrame):
        raise ValueError(
            "--key-added names the results in an .h5ad --table; this run reads none, so it would be ignored"
        )
    out = Path(args.out)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise ValueError(f"--out {out} exists and is not an empty folder")
    check_out_parent(out)  # before the methods run, not when their results are written
    for k in ks:  # before the run is announced (neighbourhoods() checks it again, for a caller of its own)
        try:
            check_k(k, len(table.frame))
        except ValueError as error:
            raise ValueError(f"--k {k}: {error}") from None
    what = f"K = {ks[0]}" if len(ks) == 1 else f"K chosen in {ks[0]}..{ks[-1]} by stability"
    print(f"{len(table.samples)} samples, {len(table.frame):,} cells, {len(table.cell_types)} cell types, {what}")
    rows, results, sweeps = [], [], {}
    for method in methods:  # every method first: one that fails (a K Louvain cannot give) leaves no files
        options = method_options(method, **_settings_of(method, args))
        k = ks[0]
        if len(ks) > 1:
            sweeps[method] = choose_k(
                table, ks, method, runs=args.stability_runs, seed=args.seed, graph=args.graph, options=options
            )
            k = sweeps[method].best
            print(f"{method}: stability per K\n{sweeps[method].table.to_string(index=False)}\n-> K = {k}")
        start = time.perf_counter()
        result = neighbourhoods(
            table, k, method, graph=args.graph, seed=args.seed, progress=not args.quiet, options=options
        )
        row: dict[str, Any] = {"method": method, "K": k, "seconds": round(time.perf_counter() - start, 2)}
        if regions is not None:
            row.update({name: round(v, 3) for name, v in agreement(regions, result.labels, ignore).items()})
            if row["unannotated"]:
                print(f"{method}: {row['unannotated']:,} cells without a --truth region left out of the scores")
        rows.append(row)
        results.append(result)
    annotated = None if isinstance(source, pd.DataFrame) else source.copy()
    for method, result in zip(methods, results, strict=True):
        _write(result, out / method, args, None if regions is None else _unannotated(regions, ignore))
        if method in sweeps:
            sweeps[method].save(out / method, args.formats.split(","))
        if annotated is not None:
            result.to_anndata(annotated, f"{args.key_added}_{method}", overwrite=True)
    if annotated is not None:
        annotated.write_h5ad(out / "cells.h5ad")
    summary = pd.DataFrame(rows)
    summary.to_csv(out / "results.csv", index=False)
    write_record(out, args)
    print(summary.to_string(index=False))
    print(f"everything is in {out}")
    return 0


#: the methods' options on the command line and the method that reads each (``loss``, ``loss_weights`` and
#: ``device`` also serve the supervised run)
_METHOD_OPTIONS = {
    "window": "composition",
    "hops": "utag",
    "resolution": "louvain",
    **{name: "learned" for name in ("loss", "loss_weights", "smoothing", "epochs", "repeats", "device")},
}
_SUPERVISED_OPTIONS = ("loss", "loss_weights", "device")


def _check_method_options(args: argparse.Namespace, methods: Sequence[str], context: str) -> None:
    """Refuse an option of a method not run (``methods``; none: the supervised run, which reads only
    :data:`_SUPERVISED_OPTIONS`), given a value other than its default: it would be ignored."""
    for name, method in _METHOD_OPTIONS.items():
        default = getattr(type(method_options(method)), name, None)  # the options dataclass's default
        given = hasattr(args, name) and getattr(args, name) not in (None, default)  # --loss: absent unless given
        used = method in methods or (not methods and name in _SUPERVISED_OPTIONS)
        if given and not used:
            flag = {"loss_weights": "--loss-weight"}.get(name, f"--{name}")
            raise ValueError(f"{flag} is an option of the {method} method; {context}, so it would be ignored")


def _settings_of(method: str, args: argparse.Namespace) -> dict[str, Any]:
    """The command line's values of ``method``'s options (the others' options are not passed to it)."""
    names = {field.name for field in fields(type(method_options(method)))}
    return {name: getattr(args, name) for name in sorted(names) if getattr(args, name, None) is not None}


def _supervised(args: argparse.Namespace) -> int:
    """Condition-specific neighbourhoods: the ``graphpool cells`` runner with one soft pooling level of K clusters.

    The cells options start at their defaults (the ``cells`` parser's) and take this command's values; the
    equivalent ``graphpool cells`` command line is printed, so the run can be repeated or varied.
    """
    from graphpool.cli.cells import add_parser, cells
    from graphpool.cli.options import check_options

    if args.no_sample:
        raise ValueError("--label needs samples (one label per sample): drop --no-sample")
    parser = argparse.ArgumentParser(prog="graphpool")
    add_parser(parser.add_subparsers(dest="command", required=True))
    cell_args = parser.parse_args(["cells"])  # every option of graphpool cells at its default
    settings: dict[str, Any] = {
        "label": args.label,
        "readout": "sum",
        "pool": ["none", getattr(args, "loss", SUPERVISED_POOL)],
        "levels": 1,
        "clusters": 6 if args.k is None else args.k,
        "folds": args.folds,
        "out": args.out,
        "seed": args.seed,
        "plots": args.plots,
        "threads": args.threads,
        "device": args.device,
        "quiet": args.quiet,
    }
    if args.table is not None:
        settings.update(table=args.table, type=args.type, sample=args.sample)
    given = ("x", "y", "group", "class_names", "markers", "graph", "unit", "loss_weights")
    settings.update({name: getattr(args, name) for name in given if getattr(args, name)})
    defaults = {"spatial_key": "spatial", "connectivity_key": DEFAULT_CONNECTIVITY_KEY}  # shown when changed
    settings.update({name: getattr(args, name) for name, value in defaults.items() if getattr(args, name) != value})
    vars(cell_args).update(settings)
    shown = " ".join(_as_option(name, value) for name, value in settings.items() if name != "quiet")
    print(f"condition-specific neighbourhoods: graphpool cells {shown}" + (" --quiet" if args.quiet else ""))
    check_options(cell_args, parser.parse_args(["cells"]))
    return cells(cell_args)


def _as_option(name: str, value: Any) -> str:
    """One setting as the command line writes it (a list comma-joined, loss weights as repeated NAME=W)."""
    if name == "loss_weights":
        return " ".join(f"--loss-weight {term}={weight}" for term, weight in value.items())
    return f"--{name.replace('_', '-')} {','.join(map(str, value)) if isinstance(value, list) else value}"


def _truth(source: Any, column: str | None) -> Any:
    """The ``--truth`` column of the table (a DataFrame, or an AnnData's ``obs``), as strings; ``None`` without one."""
    if column is None:
        return None
    frame = source if isinstance(source, pd.DataFrame) else source.obs
    if column not in frame:
        raise ValueError(f"--truth column {column!r} is not in the cell table")
    values = frame[column].astype(object)
    return values.where(values.isna(), values.astype(str)).to_numpy()  # unannotated cells stay missing


def _unannotated(regions: Any, ignore: list[str]) -> Any:
    """``regions`` with the ``--ignore`` values missing (drawn as "not annotated" on the maps)."""
    shown = pd.Series(regions, dtype=object)
    return shown.where(~shown.isin(ignore)).to_numpy()


def _write(result: Neighbourhoods, folder: Path, args: argparse.Namespace, truth: Any) -> None:
    """The CSVs, the composition heatmaps (log2 enrichment and shares) and ``--plots`` tissue maps (beside the
    ``--truth`` annotation when given) of one method, each figure in every ``--formats``."""
    folder.mkdir(parents=True)
    result.cells().to_csv(folder / "cells.csv", index=False)
    result.composition.to_csv(folder / "composition.csv")
    result.summary.to_csv(folder / "summary.csv")
    result.abundance().to_csv(folder / "abundance.csv")
    formats = args.formats.split(",")
    save(result.plot_composition("log2"), folder / "composition", formats)
    save(result.plot_composition("share"), folder / "composition_share", formats)
    (folder / "maps").mkdir()
    for name in result.table.samples[: args.plots]:
        save(result.plot_map(name, truth, args.unit), folder / "maps" / safe_name(name), formats)
