"""Peak-memory helpers shared by the benchmark scripts (Linux /proc; ru_maxrss elsewhere)."""

from __future__ import annotations

import resource
from pathlib import Path


def _status_mb(field: str) -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return float("nan")


def start_measuring() -> float:
    """Reset the process's peak RSS (Linux: clear_refs 5) and return the current RSS in MB."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:  # not Linux or not permitted: the peak then covers the whole process
        pass
    return _status_mb("VmRSS")


def peak_mb() -> float:
    """Peak RSS since :func:`start_measuring` (VmHWM), in MB."""
    peak = _status_mb("VmHWM")
    return peak if peak == peak else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
