"""HierarchicalPool: levels of select-reduce-connect, message passing between them, a global readout."""

import pytest
import torch
from torch_geometric.nn import GraphConv
from torch_geometric.utils import to_undirected

from graphpool.cluster import (
    SOFT_POOLERS,
    Assignment,
    CommunitySelect,
    GraclusSelect,
    HierarchicalPool,
    KMeansSelect,
    LabelSelect,
    pooler,
    takes_clusters,
)
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
    pool = HierarchicalPool([LabelSelect()], readout=readout, reduce=readout)
    out = pool(x, edge_index, batch=batch, labels=torch.zeros_like(batch)).out
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
    pool = HierarchicalPool(levels, reduce="mean+max", readout="sum")
    given = selector == "given"  # the only levels that read labels
    expected = pool(x, edge_index, weight, batch, labels=labels if given else None)
    perm = torch.randperm(x.size(0), generator=torch.Generator().manual_seed(3))
    inverse = torch.argsort(perm)
    actual = pool(x[perm], inverse[edge_index], weight, batch[perm], labels=labels[perm] if given else None)
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
    pool = HierarchicalPool([LabelSelect(num_labels=2)], reduce="mean", readout="max")
    result = pool(x, edge_index, batch=batch, labels=labels)
    level = result.levels[0]
    assert level.x.flatten().tolist() == [2.0, 10.0, 0.0, 6.0]  # type means per tissue, empty type = 0
    assert result.out.flatten().tolist() == [10.0, 6.0]
    assert level.edge_index.tolist() == [[0], [1]]  # one edge between the types of graph 0


def test_gradients_reach_the_node_features() -> None:
    x, edge_index, batch, weight = _batch([7, 9], seed=4)
    x.requires_grad_(True)
    pool = HierarchicalPool([GraclusSelect(), GraclusSelect()], reduce="softmax", readout="mean")
    pool(x, edge_index, weight, batch).out.sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0


def test_tiers_compose_and_positions_are_carried() -> None:
    x, edge_index, batch, weight = _batch([10, 14], seed=5)
    pos = torch.randn(x.size(0), 2, dtype=torch.float64)
    pool = HierarchicalPool([KMeansSelect(4, on="pos"), GraclusSelect()], reduce="mean", readout="mean")
    result = pool(x, edge_index, weight, batch, pos=pos)
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
    pool = HierarchicalPool([GraclusSelect()], reduce="mean", readout="mean")
    out = pool(x, edge_index, weight, batch, num_graphs=3).out
    assert out.shape == (3, 3) and torch.equal(out[2], torch.zeros(3, dtype=out.dtype))


def test_errors() -> None:
    x, edge_index, batch, _ = _batch([4, 3])
    with pytest.raises(ValueError, match="'levels' needs at least one pool"):
        HierarchicalPool([])
    with pytest.raises(TypeError, match="'levels' takes graphpool.cluster pools or selectors"):
        HierarchicalPool(["graclus"])
    with pytest.raises(ValueError, match=r"'between' needs one layer \(or None\) per level: 1, got 2"):
        HierarchicalPool([GraclusSelect()], between=[None, None])
    with pytest.raises(ValueError, match=r"'batch' has 3 entries but x has 7 rows"):
        HierarchicalPool([GraclusSelect()])(x, edge_index, batch=batch[:3])
    with pytest.raises(ValueError, match=r"'labels' must be a \[N\] tensor with N = 7"):
        HierarchicalPool([LabelSelect()])(x, edge_index, batch=batch, labels=torch.zeros(3, dtype=torch.long))
    with pytest.raises(ValueError, match=r"'pos' must be \[N, D\]"):
        HierarchicalPool([GraclusSelect()])(x, edge_index, batch=batch, pos=torch.zeros(3, 2))
    with pytest.raises(ValueError, match=r"'edge_weight' must be \[E\]"):
        HierarchicalPool([GraclusSelect()])(x, edge_index, batch)  # batch where the weights go
    with pytest.raises(ValueError, match="cannot tell the width of Sequential"):
        HierarchicalPool([GraclusSelect()], between=[torch.nn.Sequential()]).get_out_channels(3)
    with pytest.raises(
        TypeError, match=r"'norm' must make a module from a width \(e.g. torch.nn.BatchNorm1d\), got int"
    ):
        HierarchicalPool([GraclusSelect()], between=[GraphConv(3, 3)], norm=5)  # was "'int' object is not callable"


@pytest.mark.parametrize(
    ("levels", "reduce", "readout"),
    [
        ("diffpool", "mean+max", "sum"),
        ("mincut+graclus", "mean+max", "sum"),
        ("graclus+dmon", "mean+std", "max"),
        ("graclus+kmis", "mean+max", "mean+max"),
    ],
)
@pytest.mark.parametrize("between", [False, True])
def test_out_channels_is_the_width_returned(levels: str, reduce: str, readout: str, between: bool) -> None:
    """Soft levels pool S^T X and never apply the cluster readout: they keep the width (a DiffPool level
    with 'mean+max' once reported 8 channels and returned 4); a layer between levels sets the width."""
    torch.manual_seed(0)
    width, pools, layers = 4, [], []
    for name in levels.split("+"):
        k = 3 if takes_clusters(name) else None
        pool = pooler(name, in_channels=width, clusters=k, **({} if name in SOFT_POOLERS else {"reduce": reduce}))
        pools.append(pool)
        width = pool.get_out_channels(width)
        layers.append(GraphConv(width, 5) if between else None)
        width = 5 if between else width
    pool = HierarchicalPool(pools, readout=readout, between=layers)
    x = torch.randn(10, 4)
    path = [i for i in range(9) if i != 4]  # two paths of 5 nodes (an edge 4 - 5 would join the two graphs)
    edge_index = torch.tensor([path + [i + 1 for i in path], [i + 1 for i in path] + path])
    result = pool(x, edge_index, batch=torch.tensor([0] * 5 + [1] * 5))
    assert pool.get_out_channels(4) == result.out.size(1)
    assert all(level.x.size(1) == 5 for level in result.levels) or not between


def test_message_passing_between_levels_makes_the_clusters_matter() -> None:
    """The pitfall: one level reduced by a sum and read out by a sum is the plain node sum, for any
    assignment; a message-passing layer on the coarse graph breaks the identity."""
    x, edge_index, batch, weight = _batch([7, 9], seed=4)
    flat = global_pool(x, batch, reduce="sum")
    for seed in (0, 1):
        torch.manual_seed(seed)
        plain = HierarchicalPool([pooler("diffpool", in_channels=3, clusters=3).double()], readout="sum")
        torch.testing.assert_close(plain(x, edge_index, weight, batch).out, flat)
    torch.manual_seed(0)
    conv = GraphConv(3, 3).double()
    with_mp = HierarchicalPool([GraclusSelect()], readout="sum", between=[conv])
    result = with_mp(x, edge_index, weight, batch)
    level = result.levels[0]
    assert not torch.allclose(result.out, global_pool(conv(x, edge_index, weight), batch, reduce="sum"))
    torch.testing.assert_close(
        level.x, conv(global_pool(x, level.assignment.cluster, reduce="sum"), level.edge_index, level.edge_weight)
    )


def test_lift_composes_the_levels_back_to_the_nodes() -> None:
    x, edge_index, batch, weight = _batch([7, 9], seed=7)
    torch.manual_seed(0)
    pool = HierarchicalPool([GraclusSelect(), pooler("mincut", in_channels=3, clusters=2).double()])
    result = pool(x, edge_index, weight, batch)
    top = torch.randn(result.levels[-1].x.size(0), 2, dtype=torch.float64)
    s1 = result.levels[0].assignment.dense(torch.float64)
    s2 = result.levels[1].assignment.dense(torch.float64)
    torch.testing.assert_close(result.lift(top), s1 @ s2 @ top)


# a level beyond the output's was taken modulo their count: level 5 of 2 levels was level 1, silently; levels
# that do not chain (a level's nodes are not the clusters of the one before) composed into wrong ids; no level
# was a ZeroDivisionError or an IndexError
def test_lift_and_node_to_cluster_refuse_a_level_the_output_does_not_have() -> None:
    from graphpool.cluster.lift import cluster_of_nodes, lift_through

    x, edge_index, batch, weight = _batch([7, 9], seed=7)
    result = HierarchicalPool([GraclusSelect(), GraclusSelect()])(x, edge_index, weight, batch)
    top = torch.randn(result.levels[-1].x.size(0), 2, dtype=torch.float64)
    torch.testing.assert_close(result.lift(top, level=-1), result.lift(top, level=1))
    assert torch.equal(result.node_to_cluster(-2), result.node_to_cluster(0))
    for level in (2, 5, -3):
        with pytest.raises(ValueError, match=rf"'level' must be in \[-2, 2\) \(2 levels\), got {level}"):
            result.lift(top, level=level)
        with pytest.raises(ValueError, match=rf"'level' must be in \[-2, 2\) \(2 levels\), got {level}"):
            result.node_to_cluster(level)
    for compose in (cluster_of_nodes, lambda levels: lift_through(levels, top)):
        with pytest.raises(ValueError, match="'assignments' is empty: there is no level to lift through"):
            compose([])
        first = result.levels[0].assignment
        with pytest.raises(ValueError, match=rf"level 1 assigns {first.cluster.numel()} nodes, but level 0 has "):
            compose([first, first])


# "'list' object has no attribute 'dim'", "'Tensor' object has no attribute 'num_clusters'"
def test_lift_names_inputs_of_another_type() -> None:
    from graphpool.cluster.lift import lift

    assignment = Assignment(torch.tensor([0, 0, 1]), 2, torch.tensor([0, 0]))
    with pytest.raises(TypeError, match="'x' must be a torch.Tensor, got list"):
        lift(assignment, [[1.0], [2.0]])
    with pytest.raises(TypeError, match="'assignment' must be an Assignment, got Tensor"):
        lift(torch.tensor([0, 0, 1]), torch.ones(2, 1))
    assert lift(assignment, torch.tensor([[1.0], [2.0]])).flatten().tolist() == [1.0, 1.0, 2.0]


def test_between_takes_a_pyg_sequential_with_weights_and_a_norm_and_activation_after_each() -> None:
    """A Sequential('x, edge_index, edge_weight', ...) gets the coarse weights; norm and activation follow it."""
    from torch_geometric.nn import Sequential

    x, edge_index, batch, weight = _batch([6, 5], seed=4)
    torch.manual_seed(0)
    conv = GraphConv(3, 4).double()
    layer = Sequential("x, edge_index, edge_weight", [(conv, "x, edge_index, edge_weight -> x")]).double()
    pool = HierarchicalPool([GraclusSelect()], readout="sum", between=[layer], norm=torch.nn.LayerNorm,
                            activation="relu").double()  # fmt: skip
    out = pool(x, edge_index, weight, batch)
    level = pool.levels[0](x, edge_index, weight, batch)
    expected = torch.relu(pool.norms[0](conv(level.x, level.edge_index, level.edge_weight)))
    torch.testing.assert_close(out.levels[0].x, expected)
    assert isinstance(pool.norms[0], torch.nn.LayerNorm) and pool.norms[0].normalized_shape == (4,)
    with pytest.raises(ValueError, match="cannot tell the width of Sequential"):
        HierarchicalPool([GraclusSelect()], between=[torch.nn.Sequential(torch.nn.ReLU())], norm=torch.nn.LayerNorm)


# a 'between' layer of the wrong width failed in the next level's forward, naming 'x' (which the caller passed
# with the right width) rather than the layer; the widths are known when the model is built
def test_a_between_layer_whose_width_the_next_soft_pool_cannot_read_is_refused_when_built() -> None:
    first, second = pooler("mincut", in_channels=3, clusters=2), pooler("mincut", in_channels=3, clusters=1)
    with pytest.raises(ValueError, match=r"'between\[0\]' \(GraphConv\) gives 8 features, but level 1 .*in_channels=3"):
        HierarchicalPool([first, second], between=[GraphConv(3, 8), None])
    with pytest.raises(ValueError, match=r"'in_channels' is 5, but level 0 .*in_channels=3"):
        HierarchicalPool([first], in_channels=5)
    with pytest.raises(ValueError, match=r"level 0 gives 3 features, but level 1 .*in_channels=4"):  # no layer between
        HierarchicalPool([first, pooler("mincut", in_channels=4, clusters=1)])
    HierarchicalPool([first, second], between=[GraphConv(3, 3), None], in_channels=3)  # widths that fit
    HierarchicalPool([GraclusSelect(), second], between=[GraphConv(3, 3), None])  # a hard level takes any width


def test_level_readouts_concatenate_the_input_and_every_level() -> None:
    x, edge_index, batch, weight = _batch([7, 6], seed=5)
    pool = HierarchicalPool([GraclusSelect(), GraclusSelect()], readout="mean", level_readouts=True, in_channels=3)
    out = pool(x, edge_index, weight, batch)
    parts = [global_pool(x, batch, reduce="mean")] + [
        global_pool(level.x, level.batch, num_graphs=2, reduce="mean") for level in out.levels
    ]
    torch.testing.assert_close(out.out, torch.cat(parts, 1))
    assert pool.get_out_channels(3) == 9
    with pytest.raises(ValueError, match="'level_readouts' reads the input nodes too: pass in_channels"):
        HierarchicalPool([GraclusSelect()], level_readouts=True)


# "int is not a Module subclass" (nn.ModuleList's message)
def test_between_names_a_layer_that_is_no_module() -> None:
    with pytest.raises(TypeError, match="'between' takes torch modules \\(or None\\), got int"):
        HierarchicalPool([GraclusSelect()], between=[3])
    with pytest.raises(TypeError, match="'between' takes torch modules \\(or None\\), got int"):
        HierarchicalPool([GraclusSelect()], between=[0])
