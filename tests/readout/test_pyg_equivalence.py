"""graphpool against PyG's global pools and aggregations, where both exist."""

import pytest
import torch
from reference import random_batch
from torch_geometric import nn as pyg
from torch_geometric.data import Batch, Data
from torch_geometric.nn import aggr as pyg_aggr

from graphpool.readout import (
    AttentionReadout,
    MaxReadout,
    MedianReadout,
    MinReadout,
    PowerMeanReadout,
    QuantileReadout,
    SoftmaxReadout,
    StdReadout,
    SumReadout,
    VarReadout,
    global_pool,
    resolve,
)

SIZES = [4, 1, 9, 3, 7]  # PyG's to_dense_batch-based aggregations need no empty graphs


def _batch(seed: int = 0):
    x, batch = random_batch(SIZES, 5, seed=seed, dtype=torch.float32)
    return x, batch


@pytest.mark.parametrize(
    ("reduce", "pyg_pool"),
    [("sum", pyg.global_add_pool), ("mean", pyg.global_mean_pool), ("max", pyg.global_max_pool)],
)
def test_global_pools_and_their_gradients(reduce, pyg_pool) -> None:
    x, batch = _batch()
    x1, x2 = x.clone().requires_grad_(), x.clone().requires_grad_()
    ours, theirs = global_pool(x1, batch, reduce=reduce), pyg_pool(x2, batch)
    torch.testing.assert_close(ours, theirs)
    upstream = torch.randn_like(ours)
    ours.backward(upstream)
    theirs.backward(upstream)
    torch.testing.assert_close(x1.grad, x2.grad)


@pytest.mark.parametrize(
    ("ours", "theirs"),
    [
        (SumReadout(), pyg_aggr.SumAggregation()),
        (resolve("mean"), pyg_aggr.MeanAggregation()),
        (MaxReadout(), pyg_aggr.MaxAggregation()),
        (MinReadout(), pyg_aggr.MinAggregation()),
        (MedianReadout(), pyg_aggr.MedianAggregation()),
        (QuantileReadout(0.3, "linear"), pyg_aggr.QuantileAggregation(0.3, "linear")),
        (QuantileReadout(0.7, "lower"), pyg_aggr.QuantileAggregation(0.7, "lower")),
        (QuantileReadout(0.5, "midpoint"), pyg_aggr.QuantileAggregation(0.5, "midpoint")),
        (VarReadout(), pyg_aggr.VarAggregation()),
        (StdReadout(), pyg_aggr.StdAggregation()),
        (SoftmaxReadout(temperature=0.5), pyg_aggr.SoftmaxAggregation(t=2.0)),
        (QuantileReadout([0.25, 0.5, 0.75]), pyg_aggr.QuantileAggregation([0.25, 0.5, 0.75])),
        (QuantileReadout([0.1, 0.9], "nearest"), pyg_aggr.QuantileAggregation([0.1, 0.9], "nearest")),
        (resolve(["mean", "max", "std"]), pyg_aggr.MultiAggregation(["mean", "max", "std"])),
    ],
    ids=lambda m: type(m).__name__,
)
def test_aggregations(ours, theirs) -> None:
    x, batch = _batch(1)
    torch.testing.assert_close(ours(x, batch), theirs(x, batch), rtol=1e-5, atol=1e-5)


def test_power_mean_matches_pyg_in_its_domain() -> None:
    x, batch = _batch(2)
    x = x.abs() + 0.5  # PyG clamps to [0, 100]; within that range the two agree
    torch.testing.assert_close(
        PowerMeanReadout(p=2.0)(x, batch), pyg_aggr.PowerMeanAggregation(p=2.0)(x, batch), rtol=1e-5, atol=1e-5
    )


def test_attention_matches_pyg_attentional_aggregation() -> None:
    torch.manual_seed(0)
    gate = torch.nn.Linear(5, 1)
    x, batch = _batch(3)
    torch.testing.assert_close(
        AttentionReadout(5, gate=gate)(x, batch), pyg_aggr.AttentionalAggregation(gate)(x, batch)
    )


@pytest.mark.parametrize("aggr", ["sum", "mean", "max", "median", "softmax"])
def test_inside_message_passing(aggr: str) -> None:
    torch.manual_seed(0)
    x = torch.randn(8, 4)
    edge_index = torch.randint(0, 8, (2, 30))
    ours = pyg.SAGEConv(4, 6, aggr=resolve(aggr))
    theirs = pyg.SAGEConv(4, 6, aggr=aggr)
    theirs.load_state_dict(ours.state_dict(), strict=False)
    # PyG's median needs edges sorted by destination; graphpool does not
    order = torch.argsort(edge_index[1], stable=True)
    expected = theirs(x, edge_index[:, order])
    torch.testing.assert_close(ours(x, edge_index), expected, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(ours(x, edge_index[:, order]), expected, rtol=1e-5, atol=1e-5)


def test_trailing_empty_graph_from_a_pyg_batch() -> None:
    graphs = [Data(x=torch.randn(3, 2)), Data(x=torch.randn(2, 2)), Data(x=torch.zeros(0, 2))]
    data = Batch.from_data_list(graphs)
    assert data.num_graphs == 3
    # PyG drops the trailing empty graph unless size= is passed (pyg#2895, #6737) ...
    assert pyg.global_mean_pool(data.x, data.batch).size(0) == 2
    # ... graphpool takes the count from the Batch, or from num_graphs / dim_size.
    for out in (
        global_pool(data.x, data, reduce="mean"),
        global_pool(data.x, data.batch, num_graphs=data.num_graphs, reduce="mean"),
        global_pool(data.x, ptr=data.ptr, reduce="mean"),
        resolve("median")(data.x, data),
        resolve("max")(data.x, data.batch, dim_size=data.num_graphs),
    ):
        assert out.shape == (3, 2)
        assert torch.equal(out[2], torch.zeros(2))


@pytest.mark.parametrize("aggr", ["sum", "mean", "max"])
def test_multi_head_messages(aggr: str) -> None:
    # GATConv aggregates [E, heads, C] messages along dim 0 (node_dim=0)
    torch.manual_seed(0)
    x = torch.randn(9, 4)
    edge_index = torch.randint(0, 9, (2, 40))
    ours = pyg.GATConv(4, 5, heads=3, aggr=resolve(aggr))
    theirs = pyg.GATConv(4, 5, heads=3, aggr=aggr)
    theirs.load_state_dict(ours.state_dict(), strict=False)
    torch.testing.assert_close(ours(x, edge_index), theirs(x, edge_index), rtol=1e-5, atol=1e-5)


def test_multi_head_median_has_no_pyg_twin_but_matches_per_head() -> None:
    # PyG's MedianAggregation accepts only 2-D messages; graphpool pools any layout.
    messages = torch.randn(12, 3, 5)
    index = torch.randint(0, 4, (12,))
    out = MedianReadout()(messages, index, dim_size=4, dim=0)
    assert out.shape == (4, 3, 5)
    for head in range(3):
        torch.testing.assert_close(out[:, head], pyg_aggr.MedianAggregation()(*_sorted(messages[:, head], index)))


def _sorted(x: torch.Tensor, index: torch.Tensor):
    order = torch.argsort(index, stable=True)
    return x[order], index[order], None, 4


def test_pyg_std_is_zero_for_constant_graphs_and_small_stds_as_the_docs_say() -> None:
    """docs/readouts.md: PyG's StdAggregation returns 0 for constant graphs and below ~3.2e-3, not sqrt(1e-5)."""
    from torch_geometric.nn.aggr import StdAggregation

    from graphpool.readout import global_pool

    pyg = StdAggregation()
    constant = torch.full((4, 1), 3.0)
    assert float(pyg(constant)) == 0.0 == float(global_pool(constant, reduce="std"))
    small = torch.tensor([[0.0], [0.0062]])  # population std 0.0031
    assert float(pyg(small)) == 0.0 and abs(float(global_pool(small, reduce="std")) - 0.0031) < 1e-7
