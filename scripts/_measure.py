"""Helpers shared by the benchmark scripts: peak memory (Linux /proc, ru_maxrss elsewhere; on CUDA the caching
allocator's peak), the allocator option, the JSON output, and the argument types that make a bad option one line
(``positive``, ``count``, ``names_of``)."""

from __future__ import annotations

import argparse
import json
import math
import resource
from pathlib import Path
from typing import Any

import torch

import graphpool
from graphpool.ops.ranges import check_distinct


def _status_mb(field: str) -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return float("nan")


def synchronize(device: str | torch.device) -> None:
    """Wait for a CUDA ``device``'s queued work, so that the clock reads the time the work took (nothing on CPU)."""
    if torch.device(device).type == "cuda":
        torch.cuda.synchronize(device)


def device_label(device: str | torch.device) -> str:
    """What runs the work, for a run's header: the GPU's name, or the CPU threads torch uses."""
    if torch.device(device).type == "cuda":
        return torch.cuda.get_device_name(device)
    return f"{torch.get_num_threads()} CPU threads"


def start_measuring(device: str | torch.device = "cpu") -> float:
    """Reset the process's peak RSS (Linux: clear_refs 5) and return the current RSS in MB; on a CUDA ``device``
    reset the peak of tensor memory allocated there and return what is allocated now."""
    if torch.device(device).type == "cuda":
        synchronize(device)
        torch.cuda.reset_peak_memory_stats(device)
        return torch.cuda.memory_allocated(device) / 2**20
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:  # not Linux or not permitted: the peak then covers the whole process
        pass
    return _status_mb("VmRSS")


def peak_mb(device: str | torch.device = "cpu") -> float:
    """Peak RSS since :func:`start_measuring` (VmHWM), in MB; on a CUDA ``device`` the peak of tensor memory there."""
    if torch.device(device).type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**20
    peak = _status_mb("VmHWM")
    return peak if not math.isnan(peak) else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def write_json(path: Path | None, results: Any) -> None:
    """``--json PATH``: write the results there as indented JSON (creating the folder); nothing when ``None``."""
    if path is None:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results, indent=1))
    print(f"wrote {path}")


def add_allocator_option(parser: argparse.ArgumentParser) -> None:
    """``--keep-freed-memory``: run with :func:`graphpool.keep_freed_memory` set (for every library timed)."""
    parser.add_argument(
        "--keep-freed-memory",
        action="store_true",
        help="set graphpool.keep_freed_memory() first: tensors over 32 MiB reuse freed pages (all libraries timed)",
    )


def apply_allocator_option(args: argparse.Namespace) -> str:
    """Set the allocator as ``--keep-freed-memory`` asks; returns the setting, for the run's header line."""
    if not args.keep_freed_memory:
        return "allocator default"
    if not graphpool.keep_freed_memory():
        raise SystemExit("--keep-freed-memory: the C library is not glibc; there is no allocator option to set")
    return "freed memory kept"


def positive(value: str) -> float:
    """An argparse type: a finite number > 0 (``1e7`` allowed for sizes)."""
    try:
        number = float(value)
    except ValueError:
        number = math.nan
    if not (number > 0 and math.isfinite(number)):
        raise argparse.ArgumentTypeError(f"give a number > 0, got {value!r}")
    return number


def count(value: str) -> int:
    """An argparse type: a whole number >= 1 (``1e6`` allowed)."""
    number = positive(value)
    if number != int(number):
        raise argparse.ArgumentTypeError(f"give a whole number >= 1, got {value!r}")
    return int(number)


def names_of(choices: tuple[str, ...]) -> Any:
    """An argparse type: comma-separated names, each one of ``choices``, none twice."""

    def parse(value: str) -> list[str]:
        names = value.split(",")
        for name in names:
            if name not in choices:
                raise argparse.ArgumentTypeError(f"{name!r} is not one of {', '.join(choices)}")
        try:
            check_distinct(f"{value!r}", names)
        except ValueError as error:
            raise argparse.ArgumentTypeError(str(error)) from None
        return names

    return parse
