"""Options shared by the subcommands: one parent parser, the ``--grid`` option, and the range checks."""

from __future__ import annotations

import argparse
import math
import os
import warnings
from typing import Any, NoReturn

import torch

from graphpool.cells.graph import parse_graph
from graphpool.cells.table import DEFAULT_CONNECTIVITY_KEY
from graphpool.cluster import HARD_POOLERS, SOFT_POOLERS, takes_clusters
from graphpool.experiment import GRID_KEYS, Experiment, TrainConfig, parse_grid_item, readout_grid
from graphpool.models import BACKBONES, JUMPING_KNOWLEDGE, POOLS, ModelConfig, precoarsen
from graphpool.ops.device_path import resolve_device
from graphpool.ops.ranges import Range, check_distinct


class Parser(argparse.ArgumentParser):
    """An ``ArgumentParser`` whose errors are one line, as every other refusal of the commands: argparse's own
    printed the whole usage (20-odd lines for ``classify``) above it. Subcommand parsers are of this class too."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: {message} ({self.prog} --help lists the options)\n")


def _refusal(parser: argparse.ArgumentParser, message: str) -> SystemExit:
    """A one-line refusal while the arguments are parsed (before the command runs, which prefixes the others),
    naming the command as every other refusal does: ``graphpool classify: --grid ...``."""
    return SystemExit(f"{parser.prog}: {message}")


class GridOption(argparse.Action):
    """``--grid NAME=V1,V2`` (repeatable) into one dict; ``--select`` is its deprecated former name."""

    def __call__(
        self, parser: argparse.ArgumentParser, namespace: argparse.Namespace, value: Any, option: str | None = None
    ) -> None:
        if option == "--select":
            warnings.warn(
                "--select is deprecated and will be removed in the next release; use --grid",
                FutureWarning,
                stacklevel=1,
            )
        grid = dict(getattr(namespace, self.dest) or {})
        try:
            item = parse_grid_item(value)
        except ValueError as error:
            raise _refusal(parser, f"{option} {value!r}: {error}") from None
        repeated = sorted(item.keys() & grid.keys())  # a second --grid of one setting replaced the first
        if repeated:
            raise _refusal(
                parser,
                f"{option} {value!r}: {repeated[0]} is in the grid already; give its values once, e.g. "
                f"{repeated[0]}=4,8",
            )
        setattr(namespace, self.dest, {**grid, **item})


class LossWeightOption(argparse.Action):
    """``--loss-weight NAME=W`` (repeatable) into one dict of loss-term weights."""

    def __call__(
        self, parser: argparse.ArgumentParser, namespace: argparse.Namespace, value: Any, option: str | None = None
    ) -> None:
        name, found, weight = str(value).partition("=")
        try:
            number = float(weight)
        except ValueError:
            number = float("nan")
        if not found or not name or not math.isfinite(number) or number < 0:
            raise _refusal(parser, f"{option} {value!r}: give NAME=W with W a finite number >= 0, e.g. ortho=0.5")
        setattr(namespace, self.dest, {**(getattr(namespace, self.dest) or {}), name: number})


class DefaultsHelp(argparse.ArgumentDefaultsHelpFormatter):
    """Shows each option's default as it is typed: not where the help already says it, not for ``None``, ``""``
    or a flag's ``False``, and a list comma-joined (``none,celltype``, not ``['none', 'celltype']``)."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        default = action.default
        if "default" in text or default is None or default is False or default in ("", argparse.SUPPRESS):
            return text
        if isinstance(default, list | tuple):
            return text + " (default: " + ",".join(map(str, default)).replace("%", "%%") + ")"
        return text + " (default: %(default)s)"


def add_loss_weight(group: Any, help: str) -> None:
    """``--loss-weight NAME=W`` (repeatable) into ``args.loss_weights``."""
    group.add_argument("--loss-weight", dest="loss_weights", action=LossWeightOption, metavar="NAME=W", help=help)


def subcommand(commands: Any, name: str, help: str, head: bool = True) -> argparse.ArgumentParser:
    """A subcommand parser with the shared options and defaults shown in ``--help``; ``head``: with
    ``--head-layers`` (``cells`` has none: its cell scores need a linear head).

    Each gets a fresh parent parser: argparse shares a parent's actions between its children, so one parent
    would share their per-command defaults (``set_defaults``) too.
    """
    return commands.add_parser(name, parents=[shared_options(head)], help=help, formatter_class=DefaultsHelp)


def shared_options(head: bool = True) -> argparse.ArgumentParser:
    """The model, training and run options of every subcommand (defaults set per subcommand); ``head``: with
    ``--head-layers``."""
    shared = argparse.ArgumentParser(add_help=False)
    model = shared.add_argument_group("model")
    model.add_argument("--readout", help="comma-separated grid of readouts; 'mean+max' concatenates")
    model.add_argument(
        "--pool",
        type=lambda s: s.split(","),
        help=f"comma-separated grid of poolings, of {', '.join(POOLS)} (none: the readout alone)",
    )
    model.add_argument(
        "--backbone",
        choices=BACKBONES,
        help="message passing (default: gine, which reads the bond features, for molecules; gin otherwise)",
    )
    model.add_argument("--layers", type=int, help="0: no message passing (structure-agnostic baseline)")
    model.add_argument("--hidden", type=int, help="width of every message-passing layer")
    model.add_argument("--dropout", type=float, help="dropout before the head's last layer")
    if head:
        model.add_argument(
            "--head-layers",
            type=int,
            default=ModelConfig.head_layers,
            help="linear layers of the MLP head after the readout (1: a linear head); comparing pooled and flat "
            "models, let the folds choose it: --grid head_layers=2,3,4",
        )
    model.add_argument(
        "--jk", default=ModelConfig.jumping_knowledge, choices=JUMPING_KNOWLEDGE, help="jumping knowledge"
    )
    model.add_argument(
        "--levels", type=int, default=ModelConfig.levels, help="pooling levels of a cluster pool, each followed by MP"
    )
    model.add_argument(
        "--clusters",
        type=int,
        help="K of the first pooling level (default: ceil(ratio x the mean graph size); cells: at most 32)",
    )
    model.add_argument(
        "--ratio", type=float, default=ModelConfig.ratio, help="each pooling level keeps this fraction of clusters"
    )
    model.add_argument(
        "--precoarsen",
        action="store_true",
        help=f"compute the levels of hard pools ({', '.join(HARD_POOLERS)}) once per graph, not in every step",
    )
    add_loss_weight(model, "weight of a soft pool's loss term (repeatable; e.g. ortho=0.5; the others weigh 1)")
    model.add_argument(
        "--temperature",
        type=float,
        default=None,
        help="soft pools: tau of the assignment softmax(scores / tau); lower is sharper (default: 0.1 for mincut, "
        "1 for the others)",
    )
    model.add_argument(
        "--assign-hidden",
        type=int,
        default=ModelConfig.assign_hidden,
        help="soft pools: hidden units of the assignment MLP (0: one linear layer)",
    )
    model.add_argument(
        "--level-readouts", action="store_true", help="read out every pooling level and concatenate (not only the last)"
    )
    train = shared.add_argument_group("training")
    grid_help = f"hyper-parameter grid chosen per fold on the inner hold-out (repeatable); NAME of {GRID_KEYS}"
    train.add_argument("--grid", action=GridOption, metavar="NAME=V1,V2", help=grid_help)
    train.add_argument("--select", dest="grid", action=GridOption, metavar="NAME=V1,V2", help="deprecated: --grid")
    train.add_argument("--epochs", type=int, default=TrainConfig.epochs, help="the most epochs a model trains")
    train.add_argument(
        "--patience",
        type=int,
        default=TrainConfig.patience,
        help="epochs without a better validation score before it stops",
    )
    train.add_argument(
        "--batch-size",
        type=_batch_size,
        help="graphs per batch; 'auto': a tenth of the training graphs, at most 128 (no epochs of one or two steps)",
    )
    train.add_argument(
        "--aux-warmup",
        type=int,
        default=TrainConfig.aux_warmup,
        help="epochs over which soft pools' auxiliary losses are phased in linearly (0: full weight from the start)",
    )
    train.add_argument("--lr", type=float, help="Adam's learning rate")
    train.add_argument("--weight-decay", type=float, default=TrainConfig.weight_decay, help="Adam's weight decay")
    train.add_argument(
        "--seed", type=int, default=TrainConfig.seed, help="seeds the folds, the weights and the batches"
    )
    run = shared.add_argument_group("run")
    run.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"], help="auto: CUDA when there is one")
    run.add_argument("--out", help="the results folder")
    run.add_argument("--resume", action="store_true", help="continue a run in --out; finished folds are kept")
    run.add_argument("--quiet", action="store_true", help="no progress bars")
    add_threads(run)
    shared.set_defaults(ensemble=TrainConfig.ensemble)  # one seed; classify and regress add --ensemble
    return shared


def _batch_size(text: str) -> int | None:
    """``--batch-size``: a whole number, or ``auto`` (``None``: sized to the data)."""
    if text == "auto":
        return None
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"give a whole number or 'auto', got {text!r}") from None


def add_threads(group: Any) -> None:
    """``--threads N``: torch's intra-op threads (results are bit-identical only for the same count)."""
    group.add_argument(
        "--threads",
        type=int,
        default=None,
        help="torch's intra-op threads (default: torch's own choice, the machine's cores); recorded in run.json, "
        "and a --resume must use the same count: results are bit-identical for the same machine type and count",
    )


def set_threads(args: argparse.Namespace) -> None:
    """Apply ``--threads`` (or record torch's default), so that ``args.threads`` is the count the run uses."""
    check_bounds(args, {"threads": Range(1)})
    if args.threads is not None:
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
        if args.threads > cores:
            warnings.warn(
                f"--threads {args.threads} is more than the {cores} cores this process may use: expect it to run "
                "many times slower",
                stacklevel=1,
            )
        torch.set_num_threads(args.threads)
    args.threads = torch.get_num_threads()


# (option, smallest value, whether the bound is strict); None values are left to their defaults
#: the range of every numeric option: the model's and the training's from their configs (one source), and the
#: run's own (folds, simulated samples, repeats, plots)
_RANGES: dict[str, Range] = {
    **{
        name: ModelConfig.RANGES[name]
        for name in (
            "hidden",
            "layers",
            "head_layers",
            "clusters",
            "levels",
            "ratio",
            "dropout",
            "temperature",
            "assign_hidden",
        )
    },
    **{
        name: TrainConfig.RANGES[name]
        for name in ("epochs", "patience", "batch_size", "lr", "weight_decay", "aux_warmup", "ensemble", "seed")
    },
    "folds": Range(2),
    "samples": Range(1),
    "repeats": Range(1),
    "plots": Range(0),
}


def check_bounds(args: argparse.Namespace, ranges: dict[str, Range]) -> None:
    """Each option of ``ranges`` that ``args`` sets (``None``: left to its default) in range, else a one-line exit."""
    for name, bound in ranges.items():
        value = getattr(args, name, None)
        broken = None if value is None else bound.violation(value)
        if broken is not None:
            raise SystemExit(f"--{name.replace('_', '-')} {broken}, got {value}")


#: the pools with cluster levels (all but the readout alone and the cell-type pool)
_CLUSTER_POOLS = tuple(pool for pool in POOLS if pool not in ("none", "celltype"))
#: the pools given K: those of ``clusters`` (``celltype``: the number of types, but for ``cells``, which takes
#: it from the table)
_SIZED_POOLS = tuple(pool for pool in POOLS if pool == "celltype" or (pool != "given" and takes_clusters(pool)))
#: each pooling option: the kind of pool that reads it and those pools (given other than its default, it needs one)
_POOL_SETTINGS: dict[str, tuple[str, tuple[str, ...]]] = {
    "levels": ("cluster ", _CLUSTER_POOLS),
    "level_readouts": ("cluster ", _CLUSTER_POOLS),
    "clusters": ("", _SIZED_POOLS),
    "ratio": ("", _SIZED_POOLS),
    "temperature": ("soft ", tuple(SOFT_POOLERS)),
    "assign_hidden": ("soft ", tuple(SOFT_POOLERS)),
    "aux_warmup": ("soft ", tuple(SOFT_POOLERS)),
}


def check_options(args: argparse.Namespace, defaults: argparse.Namespace) -> None:
    """Numeric options in range and pools known, each named in a one-line error, and no option that the run would
    ignore: given (other than the subcommand's ``defaults``, ``parser.parse_args([command])``) beside a ``--grid``
    of the same setting (the grid's values are trained), or for a kind of pool the run has none of."""
    check_bounds(args, _RANGES)
    for pool in args.pool:
        if pool not in POOLS:
            raise SystemExit(f"--pool: {pool!r} is not one of {POOLS}")
    check_distinct("--pool:", args.pool)
    grid = args.grid or {}
    if args.command == "cells" and "head_layers" in grid:
        raise SystemExit(
            "--grid head_layers: graphpool cells keeps a linear head, so that the cell scores add up to the logits"
        )
    _refuse_options_the_grid_sets(args, defaults)
    knowledge = grid.get("jumping_knowledge", [args.jk])
    if set(grid.get("layers", [args.layers])) == {0}:  # no message passing: what reads the layers is ignored
        if set(knowledge) != {"last"}:
            option = "--grid jumping_knowledge" if "jumping_knowledge" in grid else f"--jk {args.jk}"
            raise SystemExit(
                f"{option} combines the message-passing layers' embeddings; --layers 0 has none, so it would be ignored"
            )
        if args.backbone is not None:  # (None until a run picks the default for its data)
            raise SystemExit(
                f"--backbone {args.backbone} passes messages in each layer; --layers 0 has none, so it would be ignored"
            )
    for name, (kind, pools) in _POOL_SETTINGS.items():
        if args.command == "cells" and pools is _SIZED_POOLS:  # there the celltype pool counts the table's types
            pools = tuple(pool for pool in pools if pool != "celltype")
        in_grid = name in grid
        if (getattr(args, name) != getattr(defaults, name) or in_grid) and not set(args.pool) & set(pools):
            option = f"--grid {name}" if in_grid else "--" + name.replace("_", "-")
            raise SystemExit(
                f"{option} applies to the {kind}pools ({', '.join(pools)}); --pool {','.join(args.pool)} has none of "
                "them, so it would be ignored"
            )


def _refuse_options_the_grid_sets(args: argparse.Namespace, defaults: argparse.Namespace) -> None:
    """An option given (other than its default) beside a ``--grid`` of its setting would be ignored."""
    for name, values in (args.grid or {}).items():
        dest = "jk" if name == "jumping_knowledge" else name
        if getattr(args, dest) != getattr(defaults, dest):
            option = f"--{dest.replace('_', '-')} {getattr(args, dest)}"
            shown = ",".join(str(value) for value in values)
            raise SystemExit(
                f"{option} and --grid {name}={shown} both set {name}; the grid's values are the ones trained, so "
                f"{option} would be ignored"
            )


def device(name: str) -> torch.device:
    """``--device``: ``auto`` takes CUDA when there is a device; ``cuda`` without one is an error."""
    try:
        return resolve_device(name)
    except ValueError:  # the choices leave one reason: CUDA asked for where there is none
        raise SystemExit(f"--device {name}: no CUDA device is available") from None


#: ``graphpool cells``: the default K of the first pooling level is at most this many clusters per tissue (a
#: quarter of MIBI's 5,200 cells per sample is 1,300 clusters, [N, 1300] soft assignments: tissues are pooled into a
#: few neighbourhoods)
TISSUE_MAX_CLUSTERS = 32


def experiment_from(
    args: argparse.Namespace,
    *,
    in_channels: int,
    num_classes: int,
    validation_fraction: float | None = None,
    mean_nodes: float,
    task: str = "classification",
    edge_channels: int = 0,
) -> Experiment:
    """The :class:`~graphpool.experiment.Experiment` the shared options describe, for data of this width and classes.

    ``mean_nodes`` (the mean graph size) sets the first level's K when ``--clusters`` is not given:
    ``ceil(ratio * mean_nodes)``, for ``cells`` at most :data:`TISSUE_MAX_CLUSTERS`. Under ``task="regression"``,
    ``num_classes`` is the number of targets.
    ``edge_channels`` is the width of the edge features a ``gine`` backbone reads (0: the data has none).
    """
    clusters = args.clusters or max(1, math.ceil(args.ratio * mean_nodes))
    if args.command == "cells" and not args.clusters:
        clusters = min(clusters, TISSUE_MAX_CLUSTERS)
    if args.backbone == "gine" and not edge_channels:
        raise SystemExit("--backbone gine reads edge features (data.edge_attr); these graphs have none")
    model = ModelConfig(
        in_channels=in_channels,
        num_classes=num_classes,
        task=task,
        backbone=args.backbone or "gin",
        edge_channels=edge_channels if args.backbone == "gine" else 0,
        hidden=args.hidden,
        layers=args.layers,
        dropout=args.dropout,
        jumping_knowledge=args.jk,
        clusters=clusters,
        levels=args.levels,
        ratio=args.ratio,
        level_readouts=args.level_readouts,
        head_layers=args.head_layers,
        temperature=args.temperature,
        assign_hidden=args.assign_hidden,
    )
    train = TrainConfig(
        epochs=args.epochs,
        batch_size=args.batch_size,
        lr=args.lr,
        weight_decay=args.weight_decay,
        patience=args.patience,
        aux_warmup=args.aux_warmup,
        ensemble=args.ensemble,
        **({} if validation_fraction is None else {"validation_fraction": validation_fraction}),
        seed=args.seed,
    )
    try:
        readouts = readout_grid(args.readout)
    except ValueError as error:
        raise SystemExit(f"--readout {str(error).removeprefix('readout grid ')}") from None
    return Experiment(
        model=model,
        train=train,
        readouts=readouts,
        pools=args.pool,
        grid=args.grid,
        precoarsen=args.precoarsen,
        loss_weights=args.loss_weights or {},
    )


def precoarsened(graphs: list[Any], experiment: Experiment) -> list[Any]:
    """With ``--precoarsen``: the graphs carrying the levels of every hard pool of the grid (else as they are)."""
    if not experiment.precoarsen:
        return graphs
    for pool in experiment.pools:
        config = experiment.model_for(experiment.readouts[0], pool)
        if config.reads_levels:
            graphs = precoarsen(graphs, config)
    return graphs


def add_cell_columns(group: Any) -> None:
    """The cell-table column options of ``cells`` and ``neighbourhoods``: positions, type, sample, markers, and
    an AnnData's keys (squidpy's names and defaults)."""
    default = TABLE_COLUMNS
    group.add_argument("--x", default=default["x"], help="the x column (default x; not for .h5ad: see --spatial-key)")
    group.add_argument("--y", default=default["y"], help="the y column (default y; not for .h5ad)")
    group.add_argument("--type", default=default["type"], help="the cell-type column")
    group.add_argument("--sample", "--library-key", dest="sample", default=default["sample"], help="the sample column")
    group.add_argument("--markers", default=None, help="comma-separated marker columns (or 'all') as features")
    group.add_argument("--spatial-key", default=default["spatial_key"], help=".h5ad: the obsm key of the positions")
    group.add_argument(
        "--connectivity-key",
        default=default["connectivity_key"],
        help=".h5ad: the obsp key of a cell graph, used when present (squidpy's spatial_neighbors)",
    )


#: the defaults of :func:`add_cell_columns`' options that name parts of a ``--table`` (``--markers`` applies to
#: simulated tissues too)
TABLE_COLUMNS: dict[str, Any] = {
    "x": None,
    "y": None,
    "type": "cell_type",
    "sample": "sample",
    "spatial_key": "spatial",
    "connectivity_key": DEFAULT_CONNECTIVITY_KEY,
}


def check_table_options(args: argparse.Namespace, simulator: dict[str, Any], table: dict[str, Any]) -> None:
    """Refuse what would be ignored: the ``simulator``'s options (``{dest: default}``) with a ``--table``, or
    options naming the columns of one (:data:`TABLE_COLUMNS` and ``table``) without it."""
    given = [
        name
        for name, default in ({**TABLE_COLUMNS, **table} if args.table is None else simulator).items()
        if getattr(args, name) != default
    ]
    if not given:
        return
    option = "--" + given[0].replace("_", "-")
    if args.table is None:
        raise ValueError(f"{option} names a column of a --table, but none is given (the run simulates tissues)")
    raise ValueError(f"{option} makes tissues, but --table gives them: drop one")


def check_graph_option(spec: str | None) -> None:
    """``--graph`` checked before any work (``None``: the command's default; ``given``: the table's own graph, which
    reading the table checks)."""
    if spec not in (None, "given"):
        try:
            parse_graph(spec)
        except ValueError as error:
            raise ValueError(f"--graph: {error}") from None


def class_names(value: str | None) -> dict[str, str] | None:
    """``--class-names 0=compartmentalised,1=mixed``: the label values' names, in class order (``None``: none)."""
    if value is None:
        return None
    pairs = [item.split("=", 1) for item in value.split(",")]
    bad = [item for item, pair in zip(value.split(","), pairs, strict=True) if len(pair) != 2 or not all(pair)]
    if bad:
        raise ValueError(f"--class-names takes VALUE=NAME pairs separated by commas, got {bad[0]!r}")
    check_distinct("--class-names:", [value for value, _ in pairs])
    return dict(pairs)


def cell_columns(args: argparse.Namespace) -> dict[str, Any]:
    """The :func:`~graphpool.cells.read_cells` arguments :func:`add_cell_columns`'s options give (``--x``/``--y``
    given for an AnnData are passed on, so that read_cells names them as the error they are)."""
    return {
        "x": args.x or "x",
        "y": args.y or "y",
        "cell_type": args.type,
        "sample": args.sample,
        "markers": markers_from(args.markers),
        "spatial_key": args.spatial_key,
        "connectivity_key": args.connectivity_key,
    }


def markers_from(value: str | None) -> list[str] | str | None:
    """``--markers``: ``None``, ``"all"`` or the list of columns."""
    return None if value is None else ("all" if value == "all" else value.split(","))
