"""torch.compile: with the graph count given and validation off, every readout is one graph."""

import pytest
import torch
import torch._dynamo

import graphpool
from graphpool.readout import REGISTRY, functional_names, global_pool, resolve
from graphpool.ops.kernels import _select_by_sorting, segment_select
from graphpool.ops.segments import segments_from

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
