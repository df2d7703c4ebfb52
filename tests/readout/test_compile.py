"""torch.compile: with the graph count given and validation off, every readout is one graph."""

import warnings

import pytest
import torch
import torch._dynamo

import graphpool
from graphpool.ops.kernels import _select_by_sorting, segment_select
from graphpool.ops.segments import segments_from
from graphpool.readout import REGISTRY, functional_names, global_pool, resolve

OPTIONS = {"quantile": {"q": 0.3}, "weighted": {"weight": torch.rand(10)}}
X = torch.randn(10, 4)
BATCH = torch.tensor([2, 0, 0, 1, 1, 1, 2, 2, 0, 2])  # unsorted, and graph 3 is empty


@pytest.fixture(autouse=True)
def _no_validation():
    with graphpool.validation(False):
        torch._dynamo.reset()
        yield


@pytest.mark.parametrize("reduce", functional_names())
def test_global_pool_compiles_without_graph_breaks(reduce: str) -> None:
    def pool(x: torch.Tensor, batch: torch.Tensor) -> torch.Tensor:
        return global_pool(x, batch, num_graphs=4, reduce=reduce, **OPTIONS.get(reduce, {}))

    explained = torch._dynamo.explain(pool)(X, BATCH)
    assert explained.graph_break_count == 0, [str(r.reason)[:200] for r in explained.break_reasons]
    compiled = torch.compile(pool, fullgraph=True, backend="eager")
    torch.testing.assert_close(compiled(X, BATCH), pool(X, BATCH))


@pytest.mark.parametrize("name", sorted(set(REGISTRY) - {"weighted"}))
def test_readout_modules_compile_without_graph_breaks(name: str) -> None:
    readout = resolve(name, in_channels=4)

    def pool(x: torch.Tensor, batch: torch.Tensor) -> torch.Tensor:
        return readout(x, batch, dim_size=4)

    explained = torch._dynamo.explain(pool)(X, BATCH)
    assert explained.graph_break_count == 0, [str(r.reason)[:200] for r in explained.break_reasons]


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.int64])
def test_the_compile_path_of_order_statistics_gives_the_same_values(dtype: torch.dtype) -> None:
    g = torch.Generator().manual_seed(0)
    x = torch.randint(-5, 5, (200, 3), generator=g).to(dtype)  # many ties
    batch = torch.randint(0, 12, (200,), generator=g)
    seg = segments_from(200, batch, dim_size=14)
    ranks = [torch.div(seg.counts - 1, 2, rounding_mode="floor"), (seg.counts - 1).clamp(min=0), seg.counts * 0]
    for expected, got in zip(segment_select(x, seg, ranks), _select_by_sorting(x, seg, ranks), strict=True):
        assert torch.equal(got, expected)


def test_torchscript_is_documented_as_unsupported_and_is() -> None:
    from pathlib import Path

    from graphpool.readout import MeanReadout

    docs = (Path(__file__).resolve().parents[2] / "docs" / "readouts.md").read_text()
    assert "**TorchScript** is not supported" in docs and "use `torch.compile`" in docs
    with pytest.raises(Exception):  # noqa: B017 - whatever torch.jit raises: the docs must stay true
        torch.jit.script(MeanReadout())


class _Network(torch.nn.Module):
    """3 message-passing layers with a graphpool readout as ``aggr=``, then a graphpool global pool and a head."""

    def __init__(self, backbone: str, aggr: str, pool: str) -> None:
        super().__init__()
        from torch_geometric.nn import GINConv, SAGEConv

        def layer(width_in: int) -> torch.nn.Module:
            if backbone == "sage":
                return SAGEConv(width_in, 8, aggr=resolve(aggr, in_channels=width_in, **OPTIONS.get(aggr, {})))
            aggregation = resolve(aggr, in_channels=width_in, **OPTIONS.get(aggr, {}))
            return GINConv(torch.nn.Linear(width_in, 8), aggr=aggregation)

        self.layers = torch.nn.ModuleList(layer(4 if i == 0 else 8) for i in range(3))
        self.pool = resolve(pool, in_channels=8)
        self.head = torch.nn.Linear(self.pool.get_out_channels(8), 2)

    def forward(self, x: torch.Tensor, edge_index: torch.Tensor, batch: torch.Tensor) -> torch.Tensor:
        for layer in self.layers:
            x = layer(x, edge_index).relu()
        return self.head(self.pool(x, batch, dim_size=4))


EDGES = torch.tensor([[0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 1, 4], [1, 2, 0, 4, 5, 3, 7, 9, 0, 6, 0, 3]])
AGGREGATIONS = sorted(set(REGISTRY) - {"weighted"})  # a weight per row has no meaning per edge


@pytest.mark.parametrize(
    ("backbone", "aggr"), [("sage", a) for a in AGGREGATIONS] + [("gin", "max"), ("gin", "median")]
)
def test_a_three_layer_model_with_graphpool_aggregations_is_one_graph_forward_and_backward(
    backbone: str, aggr: str
) -> None:
    """Parameters require gradients, so each autograd.Function is traced with its backward (as in training)."""
    torch.manual_seed(0)
    network = _Network(backbone, aggr, "attention")

    def step(x: torch.Tensor, edge_index: torch.Tensor, batch: torch.Tensor) -> torch.Tensor:
        return network(x, edge_index, batch).square().sum()

    explained = torch._dynamo.explain(step)(X, EDGES, BATCH)
    assert explained.graph_break_count == 0, [str(r.reason)[:300] for r in explained.break_reasons]
    compiled = torch.compile(step, fullgraph=True, backend="aot_eager")
    eager_loss = step(X, EDGES, BATCH)
    eager_grads = torch.autograd.grad(eager_loss, list(network.parameters()))
    compiled_loss = compiled(X, EDGES, BATCH)
    compiled_grads = torch.autograd.grad(compiled_loss, list(network.parameters()))
    torch.testing.assert_close(compiled_loss, eager_loss)
    for got, expected in zip(compiled_grads, eager_grads, strict=True):
        torch.testing.assert_close(got, expected)


def _shapes():
    """Three batches of different sizes (nodes and graphs), sorted, with an empty graph in the last."""
    g = torch.Generator().manual_seed(5)
    for nodes, graphs in ((10, 3), (17, 4), (26, 6)):
        batch = torch.sort(torch.randint(0, graphs - 1, (nodes,), generator=g))[0]
        yield torch.randn(nodes, 4, generator=g), batch, graphs


#: automatic dynamic shapes (the default) for every readout; dynamic=True for those once broken by it
TRAINING_CASES = [(name, None) for name in sorted(REGISTRY)] + [
    (name, True) for name in ("sum", "mean", "max", "min", "var", "softmax")
]


@pytest.mark.parametrize(
    ("name", "dynamic"), TRAINING_CASES, ids=lambda v: {None: "automatic", True: "dynamic"}.get(v, v)
)
def test_training_compiles_across_batch_shapes(name: str, dynamic) -> None:
    """Inputs that require grad, three batch shapes (automatic dynamic shapes recompile on the second):
    forward and backward equal eager's (they once died with 'does not belong to this Graph')."""
    torch.manual_seed(0)
    readout = resolve(name, in_channels=4)

    def step(x: torch.Tensor, batch: torch.Tensor, graphs: int, weight: torch.Tensor) -> torch.Tensor:
        inputs = {"weight": weight} if name == "weighted" else {}
        return readout(x, batch, dim_size=graphs, **inputs).square().sum()

    compiled = torch.compile(step, backend="aot_eager", dynamic=dynamic)
    for x, batch, graphs in _shapes():
        weight = torch.rand(x.size(0))
        parameters = [x.requires_grad_(), *readout.parameters()]
        expected = torch.autograd.grad(step(x, batch, graphs, weight), parameters)
        got = torch.autograd.grad(compiled(x, batch, graphs, weight), parameters)
        for a, b in zip(got, expected, strict=True):
            torch.testing.assert_close(a, b)


def test_a_gin_with_a_global_readout_and_a_mincut_level_compiles_across_batch_shapes() -> None:
    from torch_geometric.nn import GINConv, GraphConv

    from graphpool.cluster import pooler

    class Network(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.convs = torch.nn.ModuleList(GINConv(torch.nn.Linear(4 if i == 0 else 8, 8)) for i in range(3))
            self.pool = pooler("mincut", in_channels=8, clusters=3)
            self.after = GraphConv(8, 8)
            self.readout = resolve("mean+max")
            self.head = torch.nn.Linear(16, 2)

        def forward(self, x, edge_index, batch, graphs: int):
            for conv in self.convs:
                x = conv(x, edge_index).relu()
            level = self.pool(x, edge_index, None, batch, graphs)
            h = self.after(level.x, level.edge_index, level.edge_weight).relu()
            return self.head(self.readout(h, level.batch, dim_size=graphs)).square().sum() + sum(
                level.aux_loss.values()
            )

    torch.manual_seed(0)
    network = Network()
    compiled = torch.compile(network, backend="aot_eager")
    for x, batch, graphs in _shapes():
        ring = torch.arange(x.size(0))
        edge_index = torch.stack([ring, ring.roll(1)])
        edge_index = edge_index[:, batch[edge_index[0]] == batch[edge_index[1]]]  # edges within graphs
        edge_index = torch.cat([edge_index, edge_index.flip(0)], 1)
        expected = torch.autograd.grad(network(x, edge_index, batch, graphs), list(network.parameters()))
        got = torch.autograd.grad(compiled(x, edge_index, batch, graphs), list(network.parameters()))
        for a, b in zip(got, expected, strict=True):
            torch.testing.assert_close(a, b)


def test_compiling_graphpool_warns_nothing_about_its_own_code() -> None:
    """Dynamo warned of "silent incorrectness" risks on graphpool's name and signature caches (``lru_cache``)
    the first time a user compiled ``global_pool(reduce=NAME)`` or a cluster pool: a warning about our code
    that the user cannot act on."""
    from graphpool.cluster import pooler

    torch._dynamo.utils.warn_once_cache.clear()  # dynamo warns once per process: as in a user's first compile
    pool = pooler("mincut", in_channels=4, clusters=3)
    edges = torch.tensor([[0, 1, 3, 4], [1, 0, 4, 3]])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        torch.compile(lambda x, b: global_pool(x, b, num_graphs=4, reduce="Median"), backend="eager")(X, BATCH)
        torch.compile(lambda x, b: pool(x, edges, None, b, 4).x, backend="eager")(X, BATCH.sort().values)
    ours = [str(w.message)[:300] for w in caught if "graphpool" in str(w.message) or "graphpool" in w.filename]
    assert ours == []
