"""Naive per-graph reference readouts: a Python loop over graphs with plain torch ops.

Deliberately independent of graphpool's kernels: each graph's rows are selected with a
boolean mask and reduced with torch's own reductions.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
import torch
from torch import Tensor


def _quantile(rows: Tensor, q: float | list[float], method: str = "linear") -> Tensor:
    """torch.quantile per column; several q side by side, q-major (PyG's layout)."""
    qs = torch.tensor(q if isinstance(q, list) else [q], dtype=torch.float64)
    return torch.quantile(rows.double(), qs, dim=0, interpolation=method).reshape(-1).to(rows.dtype)


def _power_mean(rows: Tensor, p: float, eps: float = 1e-6) -> Tensor:
    return rows.double().clamp(min=eps).pow(p).mean(0).pow(1.0 / p).to(rows.dtype)


def _softmax(rows: Tensor, temperature: float) -> Tensor:
    return (torch.softmax(rows / temperature, dim=0) * rows).sum(0)


REFERENCE: dict[str, Callable[..., Tensor]] = {
    "sum": lambda rows: rows.sum(0),
    "mean": lambda rows: rows.mean(0),
    "max": lambda rows: rows.amax(0),
    "min": lambda rows: rows.amin(0),
    "median": lambda rows: rows.sort(0).values[(rows.size(0) - 1) // 2],
    "quantile": _quantile,
    "var": lambda rows: rows.var(0, unbiased=False),
    "std": lambda rows: rows.std(0, unbiased=False),
    "softmax": _softmax,
    "powermean": _power_mean,
}


def reference_pool(x: Tensor, batch: Tensor, num_graphs: int, reduce: str, **options: object) -> Tensor:
    """``[N, F]`` -> ``[B, F]``, zeros for empty graphs (a readout without a naive formula here is skipped, saying so)."""
    if reduce not in REFERENCE:
        pytest.skip(f"no per-graph reference formula for readout {reduce!r} in tests/readout/reference.py")
    width = len(options["q"]) if isinstance(options.get("q"), list) else 1  # several quantiles side by side
    out = x.new_zeros(num_graphs, x.size(1) * width)
    for b in range(num_graphs):
        rows = x[batch == b]
        if rows.size(0):
            out[b] = REFERENCE[reduce](rows, **options)
    return out


def random_batch(
    sizes: list[int], channels: int, *, dtype: torch.dtype = torch.float64, seed: int = 0, ties: bool = False
) -> tuple[Tensor, Tensor]:
    """Node features and a sorted batch vector for graphs of the given sizes."""
    g = torch.Generator().manual_seed(seed)
    n = sum(sizes)
    x = torch.randn(n, channels, generator=g, dtype=torch.float64)
    if ties:
        x = torch.randint(-2, 3, (n, channels), generator=g).to(torch.float64)
    batch = torch.repeat_interleave(torch.arange(len(sizes)), torch.tensor(sizes, dtype=torch.long))
    return x.to(dtype), batch
