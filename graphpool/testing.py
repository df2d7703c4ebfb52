"""Test helpers for readouts and poolers, shipped with the library so users can check their own.

A readout here is any callable ``f(x, batch, num_graphs) -> [B, F]`` or an aggregation module (graphpool's
readouts, PyG's ``Aggregation``), taken as it is; a pooler any
:class:`~graphpool.cluster.Pool`-like module ``pool(x, edge_index, edge_weight, batch, num_graphs)``
returning an output with ``x`` and ``batch``.
"""

from __future__ import annotations

import traceback
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from torch import Tensor
from torch.utils._python_dispatch import TorchDispatchMode
from torch_geometric.nn.aggr import Aggregation

from graphpool.ops.validation import id_outside

if TYPE_CHECKING:
    from typing_extensions import Self

__all__ = [
    "SYNC_OPERATORS",
    "HostSyncs",
    "assert_batch_consistent",
    "assert_permutation_invariant",
    "assert_pool_keeps_wl_distinct",
    "wl_colours",
]

#: aten operators that make the host wait for the device: a value read back (``item``, ``bool(t)``,
#: ``torch.equal``), or an output whose shape depends on the values (``nonzero``, ``unique``, ``bincount``,
#: ``masked_select``); boolean-mask indexing and ``repeat_interleave`` without ``output_size`` are caught apart
SYNC_OPERATORS = frozenset(
    {
        "aten::_local_scalar_dense",
        "aten::item",
        "aten::is_nonzero",
        "aten::equal",
        "aten::allclose",
        "aten::nonzero",
        "aten::argwhere",
        "aten::masked_select",
        "aten::_unique",
        "aten::_unique2",
        "aten::unique_dim",
        "aten::unique_consecutive",
        "aten::bincount",
    }
)
_PACKAGE = Path(__file__).resolve().parent


class HostSyncs(TorchDispatchMode):
    """Record every device-to-host synchronisation inside the ``with`` block, as the graphpool function that asked.

    Caught: the :data:`SYNC_OPERATORS`, indexing with a boolean mask, ``repeat_interleave`` of a tensor without
    ``output_size``, copies from a device to the CPU, and ``Tensor.numpy()`` / ``Tensor.tolist()`` (host copies
    that are no aten operator). On the CPU, run it on the device path (:func:`graphpool.device_path`), where the
    kernels take the branches a GPU takes; on CUDA, ``torch.cuda.set_sync_debug_mode("error")`` is the
    driver's own check.

    >>> import graphpool
    >>> with graphpool.validation(False), graphpool.device_path(), HostSyncs() as syncs:
    ...     out = graphpool.global_pool(torch.ones(4, 2), torch.tensor([0, 0, 1, 1]), num_graphs=2, reduce="sum")
    >>> syncs.found
    []

    Attributes:
        found: one entry per synchronisation, ``"<module path>:<function> (<what>)"`` for the innermost graphpool
            frame (``"?"`` outside graphpool).
    """

    def __init__(self) -> None:
        super().__init__()
        self.found: list[str] = []
        self._saved: dict[str, Any] = {}

    def __enter__(self) -> Self:
        for name in ("numpy", "tolist"):
            original = getattr(torch.Tensor, name)
            self._saved[name] = original
            setattr(torch.Tensor, name, self._recording(original, f"Tensor.{name}"))
        super().__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        for name, original in self._saved.items():
            setattr(torch.Tensor, name, original)
        self._saved.clear()
        super().__exit__(*exc)

    def _recording(self, original: Callable[..., Any], what: str) -> Callable[..., Any]:
        def method(tensor: Tensor, *args: Any, **kwargs: Any) -> Any:
            self._record(what)
            return original(tensor, *args, **kwargs)

        return method

    def _record(self, what: str) -> None:
        frames = [f for f in traceback.extract_stack()[:-2] if Path(f.filename).resolve().is_relative_to(_PACKAGE)]
        frames = [f for f in frames if Path(f.filename).resolve() != Path(__file__).resolve()]
        where = f"{Path(frames[-1].filename).resolve().relative_to(_PACKAGE)}:{frames[-1].name}" if frames else "?"
        self.found.append(f"{where} ({what})")

    def __torch_dispatch__(self, func: Any, types: Any, args: Any = (), kwargs: Any = None) -> Any:
        kwargs = kwargs or {}
        name = func._schema.name
        if name in SYNC_OPERATORS:
            self._record(name)
        elif name in ("aten::index", "aten::index_put_", "aten::index_put") and any(
            isinstance(i, Tensor) and i.dtype in (torch.bool, torch.uint8) for i in (args[1] if len(args) > 1 else ())
        ):
            self._record(f"{name} with a boolean mask")
        elif (
            name == "aten::repeat_interleave"
            and func._overloadname.startswith("Tensor")
            and (kwargs.get("output_size") is None and (len(args) < 3 or args[-1] is None))
        ):
            self._record("aten::repeat_interleave without output_size")
        elif name in ("aten::_to_copy", "aten::copy_") and _to_host(name, args, kwargs):
            self._record(f"{name} to the CPU")
        return func(*args, **kwargs)


def _to_host(name: str, args: Any, kwargs: Any) -> bool:
    """Whether a copy operator moves a device tensor's values to the CPU."""
    if name == "aten::copy_":
        destination, source = args[0], args[1]
        return destination.device.type == "cpu" and source.device.type != "cpu"
    device = kwargs.get("device")
    return args[0].device.type != "cpu" and device is not None and torch.device(device).type == "cpu"


#: a readout as these checks call it: ``f(x [N, F], batch [N], num_graphs) -> [B, F']`` (they also take an
#: aggregation module, graphpool's readouts or PyG's ``Aggregation``, as ``module(x, batch, dim_size=num_graphs)``)
ReadoutFn = Callable[[Tensor, Tensor, int], Tensor]


def _as_function(readout: ReadoutFn | torch.nn.Module) -> ReadoutFn:
    """``readout`` as ``f(x, batch, num_graphs)``: an ``Aggregation`` takes the graph count as ``dim_size`` (its
    third positional argument is ``ptr``)."""
    if isinstance(readout, Aggregation):
        return lambda x, batch, num_graphs: readout(x, batch, dim_size=num_graphs)
    return readout


def assert_permutation_invariant(
    readout: ReadoutFn | torch.nn.Module,
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
    if batch.numel() and int(batch.max()) >= num_graphs:
        raise ValueError(f"'batch' holds graph {int(batch.max())} but num_graphs = {num_graphs}")
    readout = _as_function(readout)
    expected = readout(x, batch, num_graphs)
    node_perm = torch.randperm(x.size(0), generator=generator, device="cpu").to(x.device)
    graph_perm = torch.randperm(num_graphs, generator=generator, device="cpu").to(x.device)
    shuffled = readout(x[node_perm], graph_perm[batch[node_perm]], num_graphs)
    _assert_close(shuffled[graph_perm], expected, atol, rtol, "after permuting nodes and graphs")


def assert_batch_consistent(
    readout: ReadoutFn | torch.nn.Module,
    graphs: list[Tensor],
    *,
    atol: float = 1e-6,
    rtol: float = 1e-5,
) -> None:
    """The batched output must equal the per-graph outputs stacked (DGL's oracle).

    Args:
        graphs: node feature matrices ``[n_b, F]``, one per graph (empty ones allowed).
    """
    if not graphs:
        raise ValueError("'graphs' is empty: give at least one node feature matrix")
    other = next((b for b, g in enumerate(graphs) if g.dim() != 2 or g.shape[1:] != graphs[0].shape[1:]), None)
    if other is not None:
        compared = f", graph 0 {tuple(graphs[0].shape)}" if other else ""
        raise ValueError(
            f"'graphs' must all be [n_b, F] with one F: graph {other} is {tuple(graphs[other].shape)}{compared}"
        )
    readout = _as_function(readout)
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
    for number, (edge_index, n) in enumerate(graphs):
        adjacent: list[list[int]] = [[] for _ in range(n)]
        if (bad := id_outside(edge_index, n)) is not None:
            raise ValueError(f"graph {number}'s edge_index refers to node {bad}, but it has {n} nodes")
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
