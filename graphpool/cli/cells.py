"""``graphpool cells``: tissue classification from a cell table (or the simulator) with per-cell explanations."""

from __future__ import annotations

import argparse
import json
from typing import Any

import pandas as pd

from graphpool.cells import RULES, analyse, read_cells, simulate, tissue_graphs
from graphpool.cells.table import is_annotated_data, open_table
from graphpool.cells.workflow import annotate, check_annotatable, outer_folds
from graphpool.cli.options import (
    add_cell_columns,
    cell_columns,
    check_graph_option,
    check_table_options,
    class_names,
    experiment_from,
    markers_from,
    precoarsened,
    subcommand,
)
from graphpool.cli.options import device as parse_device
from graphpool.cli.run_folder import open_out
from graphpool.cluster import SOFT_POOLERS
from graphpool.experiment import TqdmProgress, format_table, size_note

#: tissues simulated without a --table
SIMULATED_SAMPLES = 120
#: share of each fold's training samples held out (grouped) to select the epoch and the grid candidate;
#: larger than TrainConfig's default (0.1, which classify uses) because tissue datasets have tens of samples, not thousands of graphs
VALIDATION_FRACTION = 0.2


def add_parser(commands: Any) -> None:
    """The ``cells`` subcommand and its options."""
    e = subcommand(
        commands,
        "cells",
        "tissue classification from a cell table, with per-cell explanations",
        head=False,  # a linear head: the cell scores add up to the logits (graphpool.explain)
    )
    table = e.add_argument_group("cell table")
    table.add_argument("--table", default=None, help="CSV/TSV/Parquet/.h5ad of cells; without it, simulated tissues")
    table.add_argument(
        "--simulate", default=None, choices=RULES, help="the simulator's label rule (default: arrangement)"
    )
    table.add_argument("--samples", type=int, default=None, help="simulated tissues (default: 120)")
    add_cell_columns(table)
    table.add_argument("--label", default="label", help="one label per sample")
    table.add_argument(
        "--class-names", default=None, help="names of the label values, in class order: 0=healthy,1=onset,2=long"
    )
    table.add_argument("--group", default=None, help="a per-sample column (e.g. donor) that folds never split")
    table.add_argument("--cell-id", default=None, help="a cell id column, unique within each sample")
    graph = e.add_argument_group("cell graph")
    graph.add_argument("--graph", default="knn:6", help="knn:K, radius:R, delaunay or delaunay:MAX_LENGTH")
    graph.add_argument(
        "--features",
        default="auto",
        choices=["auto", "type", "markers", "both"],
        help="node features: one-hot cell type, the marker columns, both, or auto (what the table has)",
    )
    graph.add_argument(
        "--edge-weight", default=None, choices=["distance", "inverse"], help="edge weights (used by --backbone gcn)"
    )
    folds = e.add_argument_group("folds and output")
    folds.add_argument("--folds", type=int, default=5, help="outer cross-validation folds, grouped by sample")
    folds.add_argument("--repeats", type=int, default=1, help="repeated cross-validation with new shuffles")
    folds.add_argument("--plots", type=int, default=None, help="tissue maps to draw (default: every sample)")
    folds.add_argument("--unit", default="", help="the unit of the positions, for the maps' scale bars (e.g. µm)")
    e.set_defaults(
        readout="sum,mean,max",
        pool=["none", "celltype"],
        layers=2,
        hidden=32,
        dropout=0.0,
        batch_size=8,
        lr=0.005,
        out="results/cells",
        head_layers=1,  # no --head-layers: a linear head, so that the cell scores add up to the logits
    )


def cells(args: argparse.Namespace) -> int:
    """Run ``graphpool cells`` with parsed ``args``; prints the table and writes everything into ``--out``."""
    check_table_options(args, {"simulate": None, "samples": None}, {"label": "label"})
    check_graph_option(args.graph)
    if args.edge_weight is not None and args.backbone != "gcn" and set(args.pool) <= {"none", "celltype"}:
        raise ValueError(
            "--edge-weight is read by --backbone gcn and the cluster pools; this run has neither, so it would be "
            "ignored"
        )
    # their defaults once checked: what run.json records, as it did before they could be refused
    args.simulate = "arrangement" if args.simulate is None else args.simulate
    args.samples = SIMULATED_SAMPLES if args.samples is None else args.samples
    if args.table is None:
        source: Any = simulate(args.simulate, args.samples, args.seed)
        print(f"no --table: simulated {args.samples} tissues following the {args.simulate!r} rule")
        names: dict[str, Any] = {"label": "label", "markers": markers_from(args.markers)}
    else:
        source = open_table(args.table)  # read once: the cells, and an AnnData to write the results back into
        names = {**cell_columns(args), "label": args.label}
    try:
        table = read_cells(
            source, **names, label_names=class_names(args.class_names), group=args.group, cell_id=args.cell_id
        )
    except ValueError as error:  # read_cells names its argument; the command line has the option
        raise ValueError(str(error).replace("'label_names'", "--class-names")) from None
    if not table.classes:
        raise SystemExit("the table needs a --label column")
    if len(table.classes) == 1:
        raise SystemExit(
            f"--label {names['label']!r} holds one value, {table.classes[0]!r}, in every sample: nothing to classify"
        )
    graphs = tissue_graphs(table, args.graph, args.features, args.edge_weight)
    samples = table.sample_table
    groups = samples["group"].tolist() if "group" in samples else None
    experiment = experiment_from(
        args,
        in_channels=graphs[0].x.size(1),
        num_classes=len(table.classes),
        validation_fraction=VALIDATION_FRACTION,
        mean_nodes=sum(g.num_nodes for g in graphs) / max(len(graphs), 1),
    )
    experiment.check(graphs)
    try:  # analyse makes the same folds; made here first, too few samples stop the run before any file
        outer_folds(graphs, args.folds, args.repeats, experiment.train.seed, groups)
    except ValueError as error:
        raise SystemExit(f"--folds {args.folds}: {error}") from None
    if is_annotated_data(source):  # every key the results would take is free: checked before any training
        soft = [f"{r}__{p}" for r in experiment.readouts for p in experiment.pools if p in SOFT_POOLERS]
        check_annotatable(source, soft)
    device = parse_device(args.device)
    out = open_out(args, graphs)  # after the table, settings and folds are checked: a refusal leaves no folder
    print(
        f"{len(graphs)} samples, {len(table.frame):,} cells, {len(table.cell_types)} cell types, "
        f"{sum(g.edge_index.size(1) for g in graphs) // 2:,} edges ({args.graph}); "
        f"labels {pd.Series(samples['label']).value_counts().reindex(table.classes).to_dict()}"
    )
    graphs = precoarsened(graphs, experiment)
    progress = TqdmProgress(args.quiet)
    rows = analyse(
        table,
        graphs,
        out,
        experiment,
        device,
        folds=args.folds,
        repeats=args.repeats,
        plots=args.plots,
        unit=args.unit,
        group=groups,
        progress=progress,
    )
    grouped = f"grouped by {args.group}" if args.group else "grouped by sample"
    print(f"\ntest accuracy, {args.repeats} x {args.folds} stratified folds {grouped}")
    majority = json.loads((out / "results.json").read_text()).get("majority_class")
    print(format_table([*rows, majority] if majority else rows))
    note = size_note(rows)
    if note:
        print(note)
    for folder in sorted(out.glob("*/neighbourhoods")):
        statistics = pd.read_csv(folder / "statistics.csv", index_col=0)
        held = statistics[statistics["cells"] > 0]
        combination = folder.parent.name.replace("__", " / ")
        print(f"\nneighbourhoods of {combination} (out of fold; q: Benjamini-Hochberg over the neighbourhoods tested)")
        print(held.to_string(float_format=lambda v: f"{v:.3g}"))
        if len(held) < len(statistics):
            empty = len(statistics) - len(held)
            print(f"({empty} of {len(statistics)} neighbourhoods hold no cell; {folder / 'statistics.csv'} lists all)")
    if is_annotated_data(source):
        annotate(source, out).write_h5ad(out / "cells.h5ad")
        print(f"the input AnnData with the results (obs/obsm/uns 'graphpool*'): {out / 'cells.h5ad'}")
    explained = json.loads((out / "explanation.json").read_text())
    print(f"explained {explained['model']} (exact CAM: {explained['exact']}); everything is in {out}")
    return 0
