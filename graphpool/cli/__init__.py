"""The ``graphpool`` command line.

    graphpool regress --baseline fingerprint
    graphpool regress --splits scaffold --folds 5 --readout sum,mean --pool none,mincut
    graphpool classify --dataset solubility --readout mean
    graphpool classify --dataset MUTAG --root ../shared/datasets/TU --folds 10 \\
        --readout sum,mean,max,median,attention --pool none,graclus,diffpool --grid hidden=32,64

    graphpool cells --table cells.csv --x x --y y --type cell_type --sample sample_id --label label
    graphpool neighbourhoods --table cells.h5ad --k 6 --method composition,utag,learned

``classify``, ``regress`` and ``cells`` share the model, training and run options (:func:`shared_options`)
and run through one experiment runner (:func:`graphpool.experiment.run_experiment`).
"""

from __future__ import annotations

import argparse
import importlib.util
import re
import sys
import warnings

from graphpool.cli import cells, classify, neighbourhoods
from graphpool.cli.options import Parser, check_options, set_threads
from graphpool.cli.run_folder import versions

__all__ = ["build_parser", "main"]


def build_parser() -> argparse.ArgumentParser:
    """The ``graphpool`` parser with its subcommands ``classify``, ``regress``, ``cells`` and ``neighbourhoods``."""
    parser = Parser(
        prog="graphpool", description="Graph classification and regression with graphpool's readouts and pools"
    )
    parser.add_argument(
        "--version", action="version", version=_version(), help="graphpool's, torch's and PyG's version"
    )
    commands = parser.add_subparsers(dest="command", required=True)
    classify.add_parser(commands)
    cells.add_parser(commands)
    neighbourhoods.add_parser(commands)
    return parser


def _version() -> str:
    found = versions()
    return f"graphpool {found['graphpool']} (torch {found['torch']}, PyG {found['torch_geometric']})"


def main(argv: list[str] | None = None) -> int:
    """Parse ``argv`` and run the subcommand; bad data or settings end in one line and a non-zero exit."""
    with warnings.catch_warnings():  # graphpool's warnings as one line each, "warning: ..." (no source line)
        warnings.showwarning = _one_line
        return _run(build_parser(), argv)


def _run(parser: argparse.ArgumentParser, argv: list[str] | None) -> int:
    """:func:`main` within its one-line warnings (parsing warns too: a deprecated option)."""
    args = parser.parse_args(argv)
    defaults = parser.parse_args([args.command])  # the subcommand's defaults
    args.option_defaults = vars(defaults)  # a resume reads a setting its run.json predates at its default
    try:
        set_threads(args)
        if args.command == "neighbourhoods":
            run = neighbourhoods.run_neighbourhoods
        else:
            check_options(args, defaults)
            run = cells.cells if args.command == "cells" else classify.run
        return run(args)
    except SystemExit as stop:  # a refused option or file, said in one line: it names the command as the rest do
        if isinstance(stop.code, str):
            raise SystemExit(f"graphpool {args.command}: {stop.code}") from stop.__cause__
        raise
    except (ValueError, OSError) as error:  # bad data or settings, a refused file or folder: say what, no traceback
        raise SystemExit(f"graphpool {args.command}: {error}") from error
    except ImportError as error:  # a package the run needs is not installed (RDKit for SMILES, anndata for .h5ad)
        if (error.name or "").partition(".")[0] == "graphpool":
            raise  # graphpool's own modules: a bug, with its traceback
        raise SystemExit(f"graphpool {args.command}: {_missing(error)}") from error
    except (MemoryError, RuntimeError) as error:  # torch's allocators (CUDA's OutOfMemoryError is a RuntimeError)
        asked = _memory_asked(error)
        if asked is None:
            raise  # any other runtime error is a bug: its traceback
        raise SystemExit(f"graphpool {args.command}: out of memory{asked}: {_LESS_MEMORY[args.command]}") from error


#: what makes each subcommand need less memory
_LESS_MEMORY = dict.fromkeys(
    ("classify", "regress", "cells"),
    "smaller batches (--batch-size), fewer clusters (--clusters) or a narrower model (--hidden) need less; the folds "
    "already finished are kept (--resume)",
) | {"neighbourhoods": "fewer neighbourhoods (--k) or fewer neighbours per cell (--graph) need less"}


def _memory_asked(error: BaseException) -> str | None:
    """`` (N asked for)`` (or ``""``) when ``error`` is a failed allocation, else ``None``."""
    if isinstance(error, MemoryError):
        return ""
    message = str(error)
    cpu = re.search(r"can't allocate memory: you tried to allocate (\d+) bytes", message)
    if cpu:
        gigabytes = int(cpu.group(1)) / 1e9
        return f" ({gigabytes:,.{0 if gigabytes >= 100 else 1}f} GB asked for)"
    cuda = re.search(r"out of memory\. Tried to allocate ([\d.]+ \w+)", message)
    if cuda:
        return f" ({cuda.group(1)} asked for)"
    return "" if "out of memory" in message.lower() or "can't allocate memory" in message else None


def _missing(error: ImportError) -> str:
    """What is missing: graphpool's own message where it wrote one, else the package, or the module an installed
    package lacks (another version of it)."""
    if type(error) is not ModuleNotFoundError or not error.name:
        return str(error)
    package = error.name.partition(".")[0]
    if package != error.name and importlib.util.find_spec(package) is not None:
        return (
            f"the installed Python package {package!r} has no module {error.name!r} (another version of it is needed)"
        )
    return f"needs the Python package {package!r}, which is not installed"


def _one_line(message: Warning | str, category: type[Warning], *args: object, **kwargs: object) -> None:
    print(f"warning: {message}", file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
