"""Shapes at the edges: zero rows, leading dimensions, multi-readouts inside message passing, attention heads."""

import pytest
import torch
from torch_geometric.nn import GATConv, GINConv, GraphConv, SAGEConv, TransformerConv
from torch_geometric.nn.aggr import MultiAggregation

from graphpool.grid import GlobalPool
from graphpool.readout import REGISTRY, AttentionReadout, MultiReadout, SoftmaxReadout, global_pool, resolve


def _module(name: str, channels: int) -> torch.nn.Module:
    return resolve(name, in_channels=channels)


@pytest.mark.parametrize("name", sorted(set(REGISTRY) - {"weighted"}))
def test_zero_rows_give_the_empty_graph_value(name: str) -> None:
    """A module readout of no rows with dim_size=5 is five empty graphs: zeros, as global_pool gives."""
    readout = _module(name, 3)
    out = readout(torch.empty(0, 3), torch.empty(0, dtype=torch.long), dim_size=5)
    assert torch.equal(out, torch.zeros(5, 3))
    if name != "attention":
        assert torch.equal(
            global_pool(torch.empty(0, 3), torch.empty(0, dtype=torch.long), num_graphs=5, reduce=name), out
        )


def test_zero_rows_weighted_and_multi() -> None:
    empty, index = torch.empty(0, 2), torch.empty(0, dtype=torch.long)
    assert torch.equal(resolve("weighted")(empty, index, dim_size=2, weight=torch.empty(0)), torch.zeros(2, 2))
    assert torch.equal(resolve("mean+max")(empty, index, dim_size=2), torch.zeros(2, 4))


@pytest.mark.parametrize("name", ["mean", "max", "median", "std", "softmax"])
def test_message_passing_on_a_graph_without_edges(name: str) -> None:
    """SAGEConv with a graphpool readout as aggr= handles a graph with no edges, as with PyG's own."""
    torch.manual_seed(0)
    x, no_edges = torch.randn(4, 3), torch.empty(2, 0, dtype=torch.long)
    ours = SAGEConv(3, 5, aggr=resolve(name))
    theirs = SAGEConv(3, 5, aggr="mean")
    theirs.load_state_dict(ours.state_dict(), strict=False)  # a softmax readout also has a temperature buffer
    assert torch.allclose(ours(x, no_edges), theirs(x, no_edges))


def test_image_with_an_empty_spatial_axis_pools_to_zeros() -> None:
    empty = torch.randn(2, 3, 0, 4)
    for readout in ("median", "mean", "sum", "max", "std", "mean+max"):
        out = GlobalPool(readout)(empty)
        assert torch.equal(out, torch.zeros(2, 3 * (2 if "+" in readout else 1))), readout


def test_attention_on_leading_dims_equals_attention_per_slice() -> None:
    torch.manual_seed(0)
    readout = AttentionReadout(4, heads=2)
    x = torch.randn(3, 7, 4)  # [L, N, F]
    index = torch.tensor([0, 0, 1, 1, 1, 2, 2])
    out = readout(x, index, dim_size=3)
    assert out.shape == (3, 3, 4)
    for slice_ in range(3):
        assert torch.allclose(out[slice_], readout(x[slice_], index, dim_size=3), atol=1e-6)


def test_attention_rejects_the_wrong_feature_width() -> None:
    with pytest.raises(ValueError, match="in_channels = 4"):
        AttentionReadout(4)(torch.randn(5, 3))


@pytest.mark.parametrize("cls", [SoftmaxReadout, "powermean"])
def test_per_channel_parameters_on_leading_dims(cls: type | str) -> None:
    torch.manual_seed(0)
    readout = SoftmaxReadout(learn=True, channels=4) if cls is SoftmaxReadout else resolve(cls, learn=True, channels=4)
    with torch.no_grad():
        for parameter in readout.parameters():
            parameter.copy_(torch.tensor([0.5, 1.0, 2.0, 3.0]))
    x = torch.rand(2, 6, 4)
    index = torch.tensor([0, 0, 0, 1, 1, 1])
    out = readout(x, index, dim_size=2)
    assert out.shape == (2, 2, 4)
    for slice_ in range(2):
        assert torch.allclose(out[slice_], readout(x[slice_], index, dim_size=2), atol=1e-6)


def test_per_channel_parameters_of_the_wrong_width_are_refused() -> None:
    with pytest.raises(ValueError, match="'channels' = 4"):
        SoftmaxReadout(learn=True, channels=4)(torch.rand(6, 3))


def test_attention_heads_equal_to_the_width_are_averaged() -> None:
    """With heads == F each head still weighs whole rows; the pooled vector is the mean over heads."""
    torch.manual_seed(0)
    readout = AttentionReadout(3, heads=3)
    x, index = torch.randn(6, 3), torch.tensor([0, 0, 0, 1, 1, 1])
    alpha = readout.weights(x, readout.prepare(x, index, None, 2, -2)[1])  # [N, H]
    expected = (
        torch.stack([sum(alpha[i, h] * x[i] for i in range(g * 3, g * 3 + 3)) for g in range(2) for h in range(3)])
        .view(2, 3, 3)
        .mean(1)
    )
    assert torch.allclose(readout(x, index, dim_size=2), expected, atol=1e-6)


CONVS = {
    "sage": lambda aggr: SAGEConv(4, 6, aggr=aggr),
    "graph": lambda aggr: GraphConv(4, 6, aggr=aggr),
    "gin": lambda aggr: GINConv(torch.nn.Linear(4, 6), aggr=aggr),
    "gat": lambda aggr: GATConv(4, 6, heads=2, aggr=aggr),
    "transformer": lambda aggr: TransformerConv(4, 6, heads=2, aggr=aggr),
}
X = torch.randn(6, 4)
EDGES = torch.tensor([[0, 1, 2, 3, 4, 5, 0, 2], [1, 2, 3, 4, 5, 0, 3, 5]])


def test_multi_readout_is_a_pyg_multi_aggregation() -> None:
    multi = resolve("mean+max")
    assert isinstance(multi, MultiAggregation)
    assert multi.get_out_channels(4) == 8


def test_multi_readout_concatenates_inside_sage_like_pyg() -> None:
    torch.manual_seed(0)
    ours = SAGEConv(4, 6, aggr=resolve("mean+max"))
    theirs = SAGEConv(4, 6, aggr=["mean", "max"])
    theirs.load_state_dict(ours.state_dict())
    assert torch.allclose(ours(X, EDGES), theirs(X, EDGES), atol=1e-6)


@pytest.mark.parametrize("conv", sorted(CONVS))
def test_multi_readout_projected_inside_every_conv_like_pyg(conv: str) -> None:
    """mode='proj' maps the concatenation back to the message width, as PyG's MultiAggregation(mode='proj')."""
    torch.manual_seed(0)
    width = 4 if conv in ("sage", "graph", "gin") else 6  # GAT/Transformer aggregate [E, heads, 6] messages
    ours = CONVS[conv](resolve("mean+max", mode="proj", in_channels=width))
    pyg = MultiAggregation(["mean", "max"], mode="proj", mode_kwargs={"in_channels": width, "out_channels": width})
    theirs = CONVS[conv](pyg)
    theirs.load_state_dict(ours.state_dict())
    out = ours(X, EDGES)
    assert out.shape == (6, 12 if conv in ("gat", "transformer") else 6)
    assert torch.allclose(out, theirs(X, EDGES), atol=1e-5)


def test_multi_readout_mode_is_checked() -> None:
    with pytest.raises(ValueError, match="'mode' must be 'cat' or 'proj'"):
        MultiReadout([resolve("mean"), resolve("max")], mode="sum")
    with pytest.raises(ValueError, match="mode='proj' needs 'in_channels'"):
        resolve("mean+max", mode="proj")


# features of another width than in_channels failed in the projection: "mat1 and mat2 shapes cannot be
# multiplied (2x10 and 8x4)", at the top level and inside another MultiReadout
def test_a_projected_multi_readout_names_features_of_another_width() -> None:
    batch = torch.tensor([0, 0, 1, 1, 1])
    projected = resolve("mean+max", mode="proj", in_channels=4)
    message = r"x has 5 features, but this MultiReadout\(mode='proj'\) has in_channels = 4"
    with pytest.raises(ValueError, match=message):
        projected(torch.randn(5, 5), batch)
    with pytest.raises(ValueError, match=message):
        MultiReadout([resolve("sum"), projected])(torch.randn(5, 5), batch)
    assert projected(torch.randn(5, 3, 4), batch, dim=0).shape == (2, 3, 4)  # [N, H, C]: the last dim is C
    # inside another readout, a projection sees the other feature dims flattened: refused, not misread as heads
    with pytest.raises(ValueError, match=r"inside another MultiReadout pools \[N, F\] features only"):
        MultiReadout([resolve("sum"), projected])(torch.randn(5, 3, 4), batch, dim=0)
