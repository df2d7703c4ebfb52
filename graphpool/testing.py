"""Test helpers for readouts, shipped with the library so users can check their own.

A readout here is any callable ``f(x, batch, num_graphs) -> [B, F]``.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

__all__ = ["assert_batch_consistent", "assert_permutation_invariant"]

#: a readout as these checks call it: ``f(x [N, F], batch [N], num_graphs) -> [B, F']``
ReadoutFn = Callable[[Tensor, Tensor, int], Tensor]


def assert_permutation_invariant(
    readout: ReadoutFn,
    x: Tensor,
    batch: Tensor,
    num_graphs: int,
    *,
    generator: torch.Generator | None = None,
    atol: float = 1e-6,
    rtol: float = 1e-5,
) -> None:
    """Shuffle the nodes (keeping each node's graph) and the graph ids; the output must follow.

    Nodes are permuted at random across the whole batch (so the batch vector becomes
    unsorted), and graph ``b`` is renamed ``sigma(b)``: the output rows must be the original
    ones permuted by ``sigma``.

    Raises:
        AssertionError: with the largest deviation.
    """
    expected = readout(x, batch, num_graphs)
    node_perm = torch.randperm(x.size(0), generator=generator, device="cpu").to(x.device)
    graph_perm = torch.randperm(num_graphs, generator=generator, device="cpu").to(x.device)
    shuffled = readout(x[node_perm], graph_perm[batch[node_perm]], num_graphs)
    _assert_close(shuffled[graph_perm], expected, atol, rtol, "after permuting nodes and graphs")


def assert_batch_consistent(
    readout: ReadoutFn,
    graphs: list[Tensor],
    *,
    atol: float = 1e-6,
    rtol: float = 1e-5,
) -> None:
    """The batched output must equal the per-graph outputs stacked (DGL's oracle).

    Args:
        graphs: node feature matrices ``[n_b, F]``, one per graph (empty ones allowed).
    """
    x = torch.cat(graphs)
    batch = torch.cat([torch.full((g.size(0),), b, dtype=torch.long, device=x.device) for b, g in enumerate(graphs)])
    together = readout(x, batch, len(graphs))
    alone = torch.cat([readout(g, torch.zeros(g.size(0), dtype=torch.long, device=g.device), 1) for g in graphs])
    _assert_close(together, alone, atol, rtol, "batched vs one graph at a time")


def _assert_close(actual: Tensor, expected: Tensor, atol: float, rtol: float, what: str) -> None:
    if actual.shape != expected.shape:
        raise AssertionError(f"{what}: shape {tuple(actual.shape)} != {tuple(expected.shape)}")
    if not torch.allclose(actual, expected, atol=atol, rtol=rtol, equal_nan=True):
        worst = (actual - expected).abs().nan_to_num(float("inf")).max().item()
        raise AssertionError(f"{what}: outputs differ (max abs deviation {worst:.3g})")
