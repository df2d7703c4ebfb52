"""Test helpers for readouts and poolers, shipped with the library so users can check their own.

A readout here is any callable ``f(x, batch, num_graphs) -> [B, F]``; a pooler any
:class:`~graphpool.cluster.Pool`-like module ``pool(x, edge_index, edge_weight, batch, num_graphs)``
returning an output with ``x`` and ``batch``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor

__all__ = ["assert_batch_consistent", "assert_permutation_invariant", "assert_pool_keeps_wl_distinct", "wl_colours"]

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


def wl_colours(graphs: list[tuple[Tensor, int]], iterations: int = 3) -> list[Tensor]:
    """1-WL colour refinement of several graphs at once (colours comparable across them).

    Args:
        graphs: ``(edge_index [2, E], num_nodes)`` per graph; edges are read as undirected.
        iterations: refinement rounds.

    Returns:
        per graph, the ``[n]`` colour of each node after the last round (integers shared by all graphs).
    """
    colours = [[0] * n for _, n in graphs]
    neighbours = []
    for edge_index, n in graphs:
        adjacent: list[list[int]] = [[] for _ in range(n)]
        for u, v in edge_index.t().tolist():
            if u != v:
                adjacent[u].append(v)
                adjacent[v].append(u)
        neighbours.append(adjacent)
    for _ in range(iterations):
        signatures = [
            [(c[i], tuple(sorted(c[j] for j in adjacent[i]))) for i in range(len(c))]
            for c, adjacent in zip(colours, neighbours, strict=True)
        ]
        palette = {sig: k for k, sig in enumerate(sorted({sig for graph in signatures for sig in graph}))}
        colours = [[palette[sig] for sig in graph] for graph in signatures]
    return [torch.tensor(c, dtype=torch.long) for c in colours]


def assert_pool_keeps_wl_distinct(
    pool: Callable[..., Any],
    graph_a: tuple[Tensor, int],
    graph_b: tuple[Tensor, int],
    *,
    iterations: int = 3,
    atol: float = 1e-6,
    in_channels: int | None = None,
    **inputs: Any,
) -> None:
    r"""Two graphs that 1-WL tells apart must stay apart after pooling (the expressiveness condition).

    Bianchi & Lachi (NeurIPS 2023): a pooler keeps the expressive power of the message passing
    before it when each node's assignment weights sum to a constant and reduce is :math:`S^\top X`,
    since then :math:`\sum_k x'_k = c \sum_i x_i`. The node features given to the pooler are the
    one-hot WL colours (what an injective message passing such as GIN can compute); the check
    is that the sums of the pooled features of the two graphs differ. The colours are one-hot
    when the pooler's input is at least as wide as their number, and otherwise a seeded Gaussian
    code per colour (the two colour histograms differ, so their sums of generic codes differ with
    probability one); either way in the pooler's dtype.

    Args:
        pool: the pooler, called as ``pool(x, edge_index, None, batch, 2, **inputs)`` on both graphs at once,
            e.g. ``pooler("mincut", in_channels=16, clusters=4)`` as built.
        graph_a, graph_b: ``(edge_index, num_nodes)`` each.
        in_channels: the width of the pooler's input features; default the ``in_channels`` of a
            soft pooler's selector, else the number of WL colours.
        inputs: per-node keyword inputs of the pooler (e.g. ``labels``), over the nodes of a then b.

    Raises:
        ValueError: 1-WL does not tell the two graphs apart (nothing to check).
        AssertionError: the pooled graphs are equal.
    """
    colours = wl_colours([graph_a, graph_b], iterations)
    width = int(torch.cat(colours).max()) + 1
    histograms = [torch.bincount(c, minlength=width) for c in colours]
    if torch.equal(histograms[0], histograms[1]):
        raise ValueError(f"1-WL ({iterations} rounds) does not tell the two graphs apart; give a pair it does")
    (edges_a, n_a), (edges_b, n_b) = graph_a, graph_b
    selector = getattr(pool, "select", None)
    in_channels = in_channels or getattr(selector, "in_channels", None) or width
    parameter = next(iter(pool.parameters()), None) if isinstance(pool, torch.nn.Module) else None
    dtype = parameter.dtype if parameter is not None else torch.float64
    if in_channels >= width:
        codes = torch.eye(width, in_channels, dtype=torch.float64)
    else:
        codes = torch.randn(width, in_channels, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    x = codes[torch.cat(colours)].to(dtype)
    edge_index = torch.cat([edges_a, edges_b + n_a], dim=1)
    batch = torch.cat([torch.zeros(n_a, dtype=torch.long), torch.ones(n_b, dtype=torch.long)])
    out = pool(x, edge_index, None, batch, 2, **inputs)
    sums = torch.zeros(2, out.x.size(1), dtype=out.x.dtype).index_add_(0, out.batch, out.x)
    if torch.allclose(sums[0], sums[1], atol=atol, rtol=0):
        raise AssertionError(f"{type(pool).__name__} maps two graphs that 1-WL tells apart to the same pooled sum")


def _assert_close(actual: Tensor, expected: Tensor, atol: float, rtol: float, what: str) -> None:
    if actual.shape != expected.shape:
        raise AssertionError(f"{what}: shape {tuple(actual.shape)} != {tuple(expected.shape)}")
    if not torch.allclose(actual, expected, atol=atol, rtol=rtol, equal_nan=True):
        worst = (actual - expected).abs().nan_to_num(float("inf")).max().item()
        raise AssertionError(f"{what}: outputs differ (max abs deviation {worst:.3g})")
