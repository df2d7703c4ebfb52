"""Edge features through pooling: every pooler's coarse ``edge_attr`` against a dense reference, and onwards."""

from __future__ import annotations

import pytest
import torch
from torch import nn
from torch_geometric.nn import GINEConv, GraphConv, Sequential
from torch_geometric.utils import to_dense_adj

from graphpool.cluster import POOLERS, HierarchicalPool, coarse_edge_attr, pooler, takes_clusters

F, K, D = 3, 2, 4


def _graphs(dtype: torch.dtype = torch.float64):
    """Two small graphs (a path and a triangle with a tail) with distinct weights and edge features."""
    one = torch.tensor([[0, 1, 1, 2, 2, 3], [1, 0, 2, 1, 3, 2]])
    two = torch.tensor([[0, 1, 1, 2, 2, 0, 2, 3], [1, 0, 2, 1, 0, 2, 3, 2]]) + 4
    edge_index = torch.cat([one, two], 1)
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(8, F, dtype=dtype, generator=generator)
    weight = torch.rand(edge_index.size(1), dtype=dtype, generator=generator) + 0.5
    attr = torch.randn(edge_index.size(1), D, dtype=dtype, generator=generator)
    batch = torch.tensor([0, 0, 0, 0, 1, 1, 1, 1])
    return x, edge_index, weight, attr, batch


def _make(name: str, **options):
    return pooler(name, in_channels=F, clusters=K if takes_clusters(name) else None, **options).double()


def _inputs(name: str) -> dict:
    return {"labels": torch.tensor([0, 0, 1, 1, 0, 1, 1, 1])} if name == "given" else {}


def _dense_reference(out, edge_index, weight, attr, batch, reduce: str):
    r""":math:`\sum_{ij} S_{ic} S_{jd} w_{ij} e_{ij}` (over :math:`\sum_{ij} S_{ic} S_{jd} w_{ij}` for the mean), dense."""
    assignment = out.assignment
    n = batch.numel()
    if assignment.soft:  # block-diagonal [N, B*K]
        s = torch.zeros(n, 2 * K, dtype=torch.float64)
        for node in range(n):
            s[node, batch[node] * K : (batch[node] + 1) * K] = assignment.s[node]
    else:
        s = nn.functional.one_hot(assignment.cluster, assignment.num_clusters).double()
    a = to_dense_adj(edge_index, edge_attr=weight, max_num_nodes=n)[0]
    e = to_dense_adj(edge_index, edge_attr=attr, max_num_nodes=n)[0]
    summed = torch.einsum("ic,ij,jd,ijf->cdf", s, a, s, e)
    total = torch.einsum("ic,ij,jd->cd", s, a, s)
    table = summed / total.unsqueeze(-1) if reduce == "mean" else summed
    return table[out.edge_index[0], out.edge_index[1]]


@pytest.mark.parametrize("reduce", ["mean", "sum"])
@pytest.mark.parametrize("name", POOLERS)
def test_every_pooler_pools_edge_features_as_the_dense_formula(name: str, reduce: str) -> None:
    x, edge_index, weight, attr, batch = _graphs()
    out = _make(name, edge_reduce=reduce)(x, edge_index, weight, batch, edge_attr=attr, **_inputs(name))
    assert out.edge_attr is not None and out.edge_attr.shape == (out.edge_index.size(1), D)
    torch.testing.assert_close(out.edge_attr, _dense_reference(out, edge_index, weight, attr, batch, reduce))


@pytest.mark.parametrize("name", ["graclus", "mincut"])
def test_edge_features_do_not_change_the_rest_of_the_output(name: str) -> None:
    x, edge_index, weight, attr, batch = _graphs()
    pool = _make(name)
    plain, featured = pool(x, edge_index, weight, batch), pool(x, edge_index, weight, batch, edge_attr=attr)
    assert plain.edge_attr is None
    for field in ("x", "edge_index", "edge_weight", "batch"):
        torch.testing.assert_close(getattr(featured, field), getattr(plain, field))


def test_the_order_of_the_fine_edges_does_not_matter() -> None:
    x, edge_index, weight, attr, batch = _graphs()
    pool = _make("given")
    out = pool(x, edge_index, weight, batch, edge_attr=attr, **_inputs("given"))
    order = torch.randperm(edge_index.size(1), generator=torch.Generator().manual_seed(1))
    shuffled = pool(x, edge_index[:, order], weight[order], batch, edge_attr=attr[order], **_inputs("given"))
    torch.testing.assert_close(shuffled.edge_attr, out.edge_attr)


def test_one_feature_per_edge_comes_back_as_a_vector() -> None:
    x, edge_index, weight, attr, batch = _graphs()
    out = _make("mincut")(x, edge_index, weight, batch, edge_attr=attr[:, 0])
    assert out.edge_attr.shape == (out.edge_index.size(1),)


def test_a_coarse_edge_of_zero_weight_gets_zero_features_not_nan() -> None:
    _x, edge_index, _, attr, _batch = _graphs()
    from graphpool.cluster import Assignment

    assignment = Assignment(torch.tensor([0, 0, 1, 1, 2, 2, 3, 3]), 4, torch.tensor([0, 0, 1, 1]))
    weight = torch.zeros(edge_index.size(1), dtype=torch.float64)
    _, total, features = coarse_edge_attr(edge_index, assignment, attr, weight)
    assert torch.equal(total, torch.zeros_like(total)) and torch.equal(features, torch.zeros_like(features))


def test_soft_edge_features_are_differentiable() -> None:
    x, edge_index, weight, attr, batch = _graphs()
    pool = _make("mincut")

    def coarse(x: torch.Tensor, weight: torch.Tensor, attr: torch.Tensor) -> torch.Tensor:
        return pool(x, edge_index, weight, batch, edge_attr=attr).edge_attr

    assert torch.autograd.gradcheck(coarse, (x.requires_grad_(), weight.requires_grad_(), attr.requires_grad_()))


@pytest.mark.parametrize(
    ("shape", "dtype", "error", "match"),
    [
        ((5, D), torch.float64, ValueError, r"'edge_attr' must be \[E, D\] or \[E\] with E = 14, got \(5, 4\)"),
        ((14, D, 2), torch.float64, ValueError, r"'edge_attr' must be \[E, D\] or \[E\]"),
        ((14, D), torch.long, TypeError, "'edge_attr' must hold floating-point features, got torch.int64"),
    ],
)
def test_bad_edge_features_are_named(shape, dtype, error, match) -> None:
    x, edge_index, weight, _, batch = _graphs()
    with pytest.raises(error, match=match):
        _make("graclus")(x, edge_index, weight, batch, edge_attr=torch.zeros(shape, dtype=dtype))


# the width of a GIN(E) layer was read from the last submodule declaring 'out_channels': GINEConv's edge
# projection (edge_dim -> in_channels), so a norm after GINEConv(Linear(3, 8)) was built for 3 features
def test_the_width_of_a_gin_layer_is_that_of_its_network() -> None:
    from torch_geometric.nn import GINConv

    torch.manual_seed(0)
    x, edge_index, weight, attr, batch = _graphs(torch.float32)
    mlp = nn.Sequential(nn.Linear(F, 16), nn.ReLU(), nn.Linear(16, 8))
    for layer in (GINEConv(nn.Linear(F, 8), edge_dim=D), GINConv(mlp)):
        stage = HierarchicalPool([pooler("graclus")], between=[layer], norm=nn.LayerNorm, in_channels=F)
        assert stage.norms[0].normalized_shape == (8,) and stage.get_out_channels(F) == 8
        assert stage(x, edge_index, weight, batch, edge_attr=attr).out.shape == (int(batch.max()) + 1, 8)
    wrapped = Sequential("x, edge_index", [(GINConv(mlp), "x, edge_index -> x"), nn.ReLU()])
    assert HierarchicalPool([pooler("graclus")], between=[wrapped], in_channels=F).get_out_channels(F) == 8


def test_edge_features_reach_every_level_and_the_layers_that_read_them() -> None:
    torch.manual_seed(0)
    x, edge_index, weight, attr, batch = _graphs(torch.float32)
    gine = GINEConv(nn.Linear(F, 8), edge_dim=D)  # reads edge_attr
    sequential = Sequential(
        "x, edge_index, edge_attr",
        [(GINEConv(nn.Linear(8, 8), edge_dim=D), "x, edge_index, edge_attr -> x"), nn.ReLU()],
    )
    stage = HierarchicalPool(
        [pooler("graclus"), pooler("mincut", in_channels=8, clusters=2)], readout="sum", between=[gine, sequential]
    )
    out = stage(x, edge_index, weight, batch, edge_attr=attr)
    assert [level.edge_attr.shape[1] for level in out.levels] == [D, D]
    zeroed = stage(x, edge_index, weight, batch, edge_attr=torch.zeros_like(attr))
    assert not torch.allclose(out.out, zeroed.out), "the GINE layers must see the coarse edge features"
    # a layer that does not read edge features (GraphConv) is given the weights only, as before
    plain = HierarchicalPool([pooler("graclus")], readout="sum", between=[GraphConv(F, 8)])
    torch.testing.assert_close(
        plain(x, edge_index, weight, batch, edge_attr=attr).out, plain(x, edge_index, weight, batch).out
    )
