"""HierarchicalPool: the properties the issue asks for."""

import pytest
import torch
from torch_geometric.utils import to_undirected

from graphpool.cluster import CommunitySelect, LabelSelect, GraclusSelect, HierarchicalPool, KMeansSelect
from graphpool.readout import global_pool


def _batch(sizes: list[int], channels: int = 3, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(sum(sizes), channels, generator=g, dtype=torch.float64)
    batch = torch.repeat_interleave(torch.arange(len(sizes)), torch.tensor(sizes))
    edges, offset = [], 0
    for n in sizes:
        if n > 1:
            ring = torch.arange(n) + offset
            edges.append(torch.stack([ring, ring.roll(1)]))
            extra = torch.randint(0, n, (2, n), generator=g) + offset
            edges.append(extra)
        offset += n
    edge_index = to_undirected(torch.cat(edges, 1)) if edges else torch.zeros(2, 0, dtype=torch.long)
    weight = torch.rand(edge_index.size(1), generator=g, dtype=torch.float64)
    weight = (weight + weight[_reverse(edge_index)]) / 2  # symmetric, distinct
    return x, edge_index, batch, weight


def _reverse(edge_index: torch.Tensor) -> torch.Tensor:
    lookup = {tuple(e): i for i, e in enumerate(edge_index.t().tolist())}
    return torch.tensor([lookup[(v, u)] for u, v in edge_index.t().tolist()])


@pytest.mark.parametrize("readout", ["sum", "mean", "max", "median"])
def test_one_cluster_per_graph_is_the_global_readout(readout: str) -> None:
    x, edge_index, batch, _ = _batch([5, 1, 8, 3])
    pool = HierarchicalPool([LabelSelect()], readout=readout)
    out = pool(x, edge_index, batch, labels=torch.zeros_like(batch)).out
    assert torch.equal(out, global_pool(x, batch, reduce=readout))


@pytest.mark.parametrize("selector", ["given", "graclus", "community"])
def test_relabelling_nodes_leaves_graph_vectors_unchanged(selector: str) -> None:
    x, edge_index, batch, weight = _batch([9, 6, 12], seed=1)
    labels = torch.randint(0, 3, (x.size(0),), generator=torch.Generator().manual_seed(2))
    levels = {
        "given": [LabelSelect(), GraclusSelect()],
        "graclus": [GraclusSelect(), GraclusSelect()],
        "community": [CommunitySelect()],
    }[selector]
    pool = HierarchicalPool(levels, readout="mean,max", global_readout="sum")
    expected = pool(x, edge_index, batch, edge_weight=weight, labels=labels)
    perm = torch.randperm(x.size(0), generator=torch.Generator().manual_seed(3))
    inverse = torch.argsort(perm)
    actual = pool(x[perm], inverse[edge_index], batch[perm], edge_weight=weight, labels=labels[perm])
    torch.testing.assert_close(actual.out, expected.out)
    # the assignment follows the relabelling: the same nodes share clusters
    same = expected.node_to_cluster(0).unsqueeze(0) == expected.node_to_cluster(0).unsqueeze(1)
    moved = actual.node_to_cluster(0)[inverse]
    assert torch.equal(moved.unsqueeze(0) == moved.unsqueeze(1), same)


def test_cell_type_pooling_by_hand() -> None:
    x = torch.tensor([[1.0], [3.0], [10.0], [5.0], [7.0]])
    batch = torch.tensor([0, 0, 0, 1, 1])
    labels = torch.tensor([0, 0, 1, 1, 1])
    edge_index = torch.tensor([[0, 1, 3], [1, 2, 4]])
    pool = HierarchicalPool([LabelSelect(num_labels=2)], readout="mean", global_readout="max")
    result = pool(x, edge_index, batch, labels=labels)
    level = result.levels[0]
    assert level.x.flatten().tolist() == [2.0, 10.0, 0.0, 6.0]  # type means per tissue, empty type = 0
    assert result.out.flatten().tolist() == [10.0, 6.0]
    assert level.edge_index.tolist() == [[0], [1]]  # one edge between the types of graph 0


def test_gradients_reach_the_node_features() -> None:
    x, edge_index, batch, weight = _batch([7, 9], seed=4)
    x.requires_grad_(True)
    pool = HierarchicalPool([GraclusSelect(), GraclusSelect()], readout="softmax", global_readout="mean")
    pool(x, edge_index, batch, edge_weight=weight).out.sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0


def test_tiers_compose_and_positions_are_carried() -> None:
    x, edge_index, batch, weight = _batch([10, 14], seed=5)
    pos = torch.randn(x.size(0), 2, dtype=torch.float64)
    pool = HierarchicalPool([KMeansSelect(4, on="pos"), GraclusSelect()], readout="mean")
    result = pool(x, edge_index, batch, edge_weight=weight, pos=pos)
    assert len(result.levels) == 2
    fine, coarse = result.levels
    assert coarse.x.size(0) == coarse.assignment.num_clusters <= fine.assignment.num_clusters == 8
    torch.testing.assert_close(fine.pos, global_pool(pos, fine.assignment.cluster, reduce="mean"))
    top = result.node_to_cluster(-1)
    assert top.shape == batch.shape and torch.equal(coarse.batch[top], batch)
    assert result.out.shape == (2, 3) and pool.get_out_channels(3) == 3
    assert result.aux_loss == {}


def test_empty_graph_gives_zeros() -> None:
    x, edge_index, batch, weight = _batch([4, 3], seed=6)
    pool = HierarchicalPool([GraclusSelect()], readout="mean")
    out = pool(x, edge_index, batch, num_graphs=3, edge_weight=weight).out
    assert out.shape == (3, 3) and torch.equal(out[2], torch.zeros(3, dtype=out.dtype))


def test_errors() -> None:
    x, edge_index, batch, _ = _batch([4, 3])
    with pytest.raises(ValueError, match="'levels' needs at least one selector"):
        HierarchicalPool([])
    with pytest.raises(TypeError, match="'levels' takes graphpool.cluster selectors"):
        HierarchicalPool(["graclus"])
    with pytest.raises(ValueError, match=r"'batch' has 3 entries but x has 7 rows"):
        HierarchicalPool([GraclusSelect()])(x, edge_index, batch[:3])
    with pytest.raises(ValueError, match=r"'labels' must be a \[N\] tensor with N = 7"):
        HierarchicalPool([LabelSelect()])(x, edge_index, batch, labels=torch.zeros(3, dtype=torch.long))
    with pytest.raises(ValueError, match=r"'pos' must be \[N, D\]"):
        HierarchicalPool([GraclusSelect()])(x, edge_index, batch, pos=torch.zeros(3, 2))


@pytest.mark.parametrize(
    ("levels", "readout", "global_readout"),
    [
        ("diffpool", "mean,max", "sum"),
        ("diffpool", "mean,max", None),
        ("mincut+graclus", "mean,max", "sum"),
        ("graclus+dmon", "mean,std", "max"),
        ("graclus", "mean,max", None),
    ],
)
def test_out_channels_is_the_width_returned(levels: str, readout: str, global_readout: str | None) -> None:
    """Soft levels pool S^T X and never apply the readout: they keep the width (a DiffPool level with
    'mean,max' reported 8 channels and returned 4)."""
    from graphpool.cluster import DiffPoolSelect, DMoNSelect, MinCutSelect

    torch.manual_seed(0)
    make = {
        "diffpool": lambda f: DiffPoolSelect(f, 3),
        "mincut": lambda f: MinCutSelect(f, 3),
        "dmon": lambda f: DMoNSelect(f, 3),
        "graclus": lambda f: GraclusSelect(),
    }
    width, selectors = 4, []
    probe = HierarchicalPool([GraclusSelect()], readout=readout)
    for name in levels.split("+"):
        selectors.append(make[name](width))
        if name == "graclus":
            width = probe.readout.get_out_channels(width)
    pool = HierarchicalPool(selectors, readout=readout, global_readout=global_readout)
    x = torch.randn(10, 4)
    edge_index = torch.tensor(
        [[i for i in range(9)] + [i + 1 for i in range(9)], [i + 1 for i in range(9)] + [i for i in range(9)]]
    )
    out = pool(x, edge_index, torch.tensor([0] * 5 + [1] * 5)).out
    assert pool.get_out_channels(4) == out.size(1)
