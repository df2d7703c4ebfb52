"""Soft poolers (DiffPool, MinCut, DMoN, JustBalance, plain soft), sparse, against PyG's dense ones."""

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch_geometric.nn import DMoNPooling, GCNConv, dense_diff_pool, dense_mincut_pool
from torch_geometric.utils import to_dense_adj, to_dense_batch

import graphpool
from graphpool.cluster import SOFT_POOLERS, Assignment, HierarchicalPool, Pool, SoftSelect, pooler, pooler_spec
from graphpool.ops import compiled

K, F = 4, 5


def _graphs(sizes: list[int], seed: int = 0, directed: bool = False):
    """Random weighted graphs; ``directed``: one-way edges and weighted self-loops too."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(sum(sizes), F, generator=g, dtype=torch.float64)
    batch = torch.repeat_interleave(torch.arange(len(sizes)), torch.tensor(sizes))
    edges, weights, offset = [], [], 0
    for n in sizes:
        upper = torch.triu_indices(n, n, 1)
        keep = torch.rand(upper.size(1), generator=g) < 0.6
        pairs = upper[:, keep] + offset
        w = torch.rand(pairs.size(1), generator=g, dtype=torch.float64) + 0.1
        if directed:
            flip = torch.rand(pairs.size(1), generator=g) < 0.5
            pairs = torch.where(flip, pairs.flip(0), pairs)
            loops = torch.arange(offset, offset + n)[torch.rand(n, generator=g) < 0.5]
            edges += [pairs, loops.repeat(2, 1)]
            weights += [w, torch.rand(loops.numel(), generator=g, dtype=torch.float64) + 0.1]
        else:
            edges += [pairs, pairs.flip(0)]
            weights += [w, w]
        offset += n
    return x, torch.cat(edges, 1), torch.cat(weights), batch


def _dense(x, edge_index, weight, batch):
    x_dense, mask = to_dense_batch(x, batch)
    adj = to_dense_adj(edge_index, batch, edge_attr=weight)
    return x_dense, adj, mask


def _blocks(out, num_graphs: int) -> torch.Tensor:
    full = to_dense_adj(out.edge_index, edge_attr=out.edge_weight, max_num_nodes=num_graphs * K)[0]
    return torch.stack([full[b * K : (b + 1) * K, b * K : (b + 1) * K] for b in range(num_graphs)])


def _pool(name: str, **options) -> Pool:
    return pooler(name, in_channels=F, clusters=K, **options).double()


def _close(actual, expected, **kwargs) -> None:
    torch.testing.assert_close(actual, expected, rtol=1e-6, atol=1e-6, **kwargs)


GRAPHS = [pytest.param(False, id="undirected"), pytest.param(True, id="directed-self-loops")]


@pytest.mark.parametrize("directed", GRAPHS)
def test_diffpool_equals_pyg_dense(directed: bool) -> None:
    torch.manual_seed(0)
    x, edge_index, weight, batch = _graphs([6, 6, 6], directed=directed)
    pool = _pool("diffpool")
    ours = pool(x, edge_index, weight, batch)
    x_dense, adj, mask = _dense(x, edge_index, weight, batch)
    logits = to_dense_batch(pool.select.logits(x, edge_index), batch)[0]
    out, out_adj, link, entropy = dense_diff_pool(x_dense, adj, logits, mask)
    _close(ours.x.view(3, K, F), out)
    _close(_blocks(ours, 3), out_adj)
    _close(ours.aux_loss["link"], link)
    _close(ours.aux_loss["entropy"], entropy)


def test_diffpool_documented_differences_for_graphs_of_unequal_size() -> None:
    """As the docs say: PyG divides the link loss by B n_max^2 (ours: sum of n_b^2) and averages the
    entropy over its padded rows (ours: the real nodes), so PyG's are ours times these ratios."""
    torch.manual_seed(0)
    sizes = [3, 8, 5]
    x, edge_index, weight, batch = _graphs(sizes)
    pool = _pool("diffpool")
    result = pool(x, edge_index, weight, batch)
    ours = result.aux_loss
    x_dense, adj, mask = _dense(x, edge_index, weight, batch)
    logits = to_dense_batch(pool.select.logits(x, edge_index), batch)[0]
    out, out_adj, link, entropy = dense_diff_pool(x_dense, adj, logits, mask)
    _close(result.x.view(len(sizes), K, F), out)  # the pooled graph is the same
    _close(_blocks(result, len(sizes)), out_adj)
    padded = len(sizes) * max(sizes)
    _close(entropy, ours["entropy"] * sum(sizes) / padded)
    _close(link, ours["link"] * sum(n * n for n in sizes) / (padded * max(sizes)))


@pytest.mark.parametrize("directed", GRAPHS)
@pytest.mark.parametrize("sizes", [[6, 6, 6], [3, 8, 5], [7]])
def test_mincut_equals_pyg_dense(sizes: list[int], directed: bool) -> None:
    torch.manual_seed(1)
    x, edge_index, weight, batch = _graphs(sizes, seed=1, directed=directed)
    pool = _pool("mincut", temperature=0.7)
    ours = pool(x, edge_index, weight, batch)
    x_dense, adj, mask = _dense(x, edge_index, weight, batch)
    logits = to_dense_batch(pool.select.logits(x, edge_index), batch)[0]
    out, out_adj, mincut, ortho = dense_mincut_pool(x_dense, adj, logits, mask, temp=0.7)
    _close(ours.x.view(len(sizes), K, F), out)
    _close(_blocks(ours, len(sizes)), out_adj)
    _close(ours.aux_loss["mincut"], mincut)
    _close(ours.aux_loss["ortho"], ortho)


@pytest.mark.parametrize("directed", GRAPHS)
@pytest.mark.parametrize("sizes", [[6, 6, 6], [3, 8, 5], [7]])
def test_dmon_equals_pyg_dense(sizes: list[int], directed: bool) -> None:
    torch.manual_seed(2)
    x, edge_index, weight, batch = _graphs(sizes, seed=2, directed=directed)
    theirs = DMoNPooling([F], K).double()
    ours = _pool("dmon", assign=theirs.mlp)(x, edge_index, weight, batch)
    x_dense, adj, mask = _dense(x, edge_index, weight, batch)
    _, out, out_adj, spectral, ortho, cluster = theirs(x_dense, adj, mask)
    # PyG 2.8.1 divides the [B] cluster norms by mask.sum(dim=1), a [B, 1] tensor, which
    # broadcasts to [B, B] and mixes graphs of different sizes; graph by graph it is right:
    by_graph = torch.stack([theirs(x_dense[b : b + 1, :n], adj[b : b + 1, :n, :n])[-1] for b, n in enumerate(sizes)])
    if len(set(sizes)) > 1:
        assert not torch.allclose(cluster, by_graph.mean())  # the broadcast really differs here
    _close(ours.x.view(len(sizes), K, F), out)
    _close(_blocks(ours, len(sizes)), out_adj)
    for name, value in {"spectral": spectral, "ortho": ortho, "cluster": by_graph.mean()}.items():
        _close(ours.aux_loss[name], value, msg=name)


@pytest.mark.parametrize("directed", GRAPHS)
@pytest.mark.parametrize("sizes", [[6, 6, 6], [3, 8, 5], [7]])
def test_justbalance_and_plain_soft_equal_the_dense_formulas(sizes: list[int], directed: bool) -> None:
    """JustBalance: -tr(sqrt(S^T S)) / sqrt(n K) per graph, MinCut's normalised coarse graph; the
    plain soft pool: S^T X and S^T A S with the diagonal, no losses."""
    torch.manual_seed(3)
    x, edge_index, weight, batch = _graphs(sizes, seed=3, directed=directed)
    x_dense, adj, mask = _dense(x, edge_index, weight, batch)
    balance = _pool("justbalance")
    ours = balance(x, edge_index, weight, batch)
    s = to_dense_batch(ours.assignment.s, batch)[0]
    expected = torch.stack(
        [-torch.sqrt(torch.diagonal(s[b].t() @ s[b]) + 1e-15).sum() / math.sqrt(n * K) for b, n in enumerate(sizes)]
    ).mean()
    _close(ours.aux_loss["balance"], expected)
    logits = to_dense_batch(balance.select.logits(x, edge_index), batch)[0]
    _, mincut_adj, _, _ = dense_mincut_pool(x_dense, adj, logits, mask)
    _close(_blocks(ours, len(sizes)), mincut_adj)
    plain = _pool("soft")
    out = plain(x, edge_index, weight, batch)
    s = to_dense_batch(out.assignment.s, batch)[0]
    assert out.aux_loss == {}
    _close(out.x.view(len(sizes), K, F), s.transpose(1, 2) @ x_dense)
    _close(_blocks(out, len(sizes)), s.transpose(1, 2) @ adj @ s)


@pytest.mark.parametrize("directed", GRAPHS)
@pytest.mark.parametrize("name", SOFT_POOLERS)
def test_gradcheck(name: str, directed: bool) -> None:
    """Analytic gradients of the pooled features, coarse weights and losses match finite differences."""
    x, edge_index, weight, batch = _graphs([4, 3], seed=8, directed=directed)
    torch.manual_seed(8)
    pool = _pool(name).eval()

    def run(x: torch.Tensor, weight: torch.Tensor) -> tuple[torch.Tensor, ...]:
        out = pool(x, edge_index, weight, batch)
        return (out.x, out.edge_weight, *out.aux_loss.values())

    assert torch.autograd.gradcheck(run, (x.requires_grad_(True), weight.requires_grad_(True)))


def test_gradients_reach_features_and_assignment_parameters() -> None:
    x, edge_index, weight, batch = _graphs([5, 7], seed=3)
    x = x.float().requires_grad_(True)
    for name in (name for name in SOFT_POOLERS if pooler_spec(name).defaults.get("losses")):
        options = {"assign": GCNConv(F, K)} if name == "dmon" else {}
        pool = HierarchicalPool([pooler(name, in_channels=F, clusters=K, **options)], readout="mean")
        result = pool(x, edge_index, weight.float(), batch)
        loss = result.out.square().sum() + sum(result.aux_loss.values())
        x.grad = None
        loss.backward()
        assert x.grad.abs().sum() > 0
        for parameter_name, parameter in pool.named_parameters():
            assert parameter.grad is not None and parameter.grad.abs().sum() > 0, (name, parameter_name)
        assert set(result.aux_loss) and all(k.startswith("level0.") for k in result.aux_loss)


def test_soft_assignment_views_lift_and_errors() -> None:
    x, edge_index, weight, batch = _graphs([5, 7], seed=4)
    out = _pool("diffpool")(x, edge_index, weight, batch)
    assignment = out.assignment
    assert assignment.soft and torch.equal(assignment.cluster_batch[assignment.cluster], batch)
    _close(assignment.sizes(), assignment.dense(torch.float64).sum(0))
    coarse = torch.randn(2 * K, 3, dtype=torch.float64)
    _close(out.lift(coarse), assignment.dense(torch.float64) @ coarse)  # lift is S X'
    with pytest.raises(ValueError, match=r"'x' must be \[C, F\] with C = 8"):
        out.lift(coarse[:3])
    with pytest.raises(ValueError, match="'num_clusters' must be >= 1"):
        SoftSelect(F, 0)
    with pytest.raises(ValueError, match=r"the assignment module must return \[N, 4\]"):
        Pool(SoftSelect(F, K, assign=torch.nn.Linear(F, 3)).double())(x, edge_index, batch=batch)
    with pytest.raises(ValueError, match="'reduce' must be 'sum'"):
        Pool(SoftSelect(F, K), reduce="mean")
    with pytest.raises(ValueError, match="'losses': 'cut' is not one of"):
        Pool(SoftSelect(F, K), losses=["cut"])
    with pytest.raises(ValueError, match="'normalize' drops the self-loops"):
        Pool(SoftSelect(F, K), self_loops=True, normalize=True)


@pytest.mark.parametrize(
    ("s", "message"),
    [
        (torch.tensor([[0.5, float("nan")], [0.5, 0.5]]), "NaN"),
        (torch.tensor([[0.5, 0.5], [float("inf"), 0.5]]), "NaN or infinite"),
        (torch.tensor([[0.5, 0.5], [-float("inf"), 0.5]]), "NaN or infinite"),
        (torch.tensor([[float("nan"), -1.0], [0.5, 0.5]]), "NaN or infinite"),  # NaN is named before the sign
        (torch.tensor([[1.5, -0.5], [0.5, 0.5]]), "must be >= 0"),
        (torch.tensor([[0.5, 0.2], [0.5, 0.5]]), "rows must sum to 1"),
        (torch.tensor([[1.0], [1.0], [1.0]]), r"'s' must be \[N, K\] with N = 2"),
    ],
)
def test_an_assignment_that_is_not_a_distribution_is_refused(s: torch.Tensor, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Assignment.from_soft(s, torch.tensor([0, 0]), 1)


@pytest.mark.parametrize("name", SOFT_POOLERS)
def test_empty_graphs_pool_to_zeros_and_leave_the_losses_alone(name: str) -> None:
    """A graph with no nodes gets K zero clusters and no coarse edges, as PyG's dense pools give zeros;
    the auxiliary losses are averaged over the graphs that have nodes, so they do not change."""
    torch.manual_seed(5)
    x, edge_index, weight, batch = _graphs([5, 7], seed=5)
    pool = _pool(name).eval()
    without = pool(x, edge_index, weight, batch, 2)
    middle = torch.where(batch == 1, 2, batch)  # graph 1 is empty; graph 2 holds its nodes
    with_empty = pool(x, edge_index, weight, middle, 3)
    empty = with_empty.x[K : 2 * K]
    expected = torch.nn.functional.selu(torch.zeros(K, F, dtype=torch.float64)) if name == "dmon" else 0 * empty
    assert torch.equal(empty, expected)
    _close(with_empty.x[:K], without.x[:K])
    _close(with_empty.x[2 * K :], without.x[K:])
    assert not bool(((with_empty.edge_index >= K) & (with_empty.edge_index < 2 * K)).any())
    for loss_name, value in without.aux_loss.items():
        _close(with_empty.aux_loss[loss_name], value, msg=loss_name)
    trailing = pool(x, edge_index, weight, batch, 4)  # two empty graphs at the end
    assert trailing.x.shape == (4 * K, F) and trailing.batch.tolist() == [0] * K + [1] * K + [2] * K + [3] * K
    nothing = pool(x[:0], edge_index[:, :0], None, batch[:0], 2)
    assert nothing.x.shape == (2 * K, F) and nothing.edge_index.shape == (2, 0)
    assert all(torch.isfinite(v) for v in nothing.aux_loss.values())


@pytest.mark.parametrize("name", SOFT_POOLERS)
def test_edgeless_graphs_give_finite_losses(name: str) -> None:
    x, edge_index, _weight, batch = _graphs([5, 7], seed=5)
    lonely = torch.cat([x, torch.randn(1, F, dtype=torch.float64)])
    lonely_batch = torch.cat([batch, torch.tensor([2])])
    losses = _pool(name)(lonely, edge_index, None, lonely_batch, 3).aux_loss
    assert all(torch.isfinite(v) for v in losses.values()), (name, losses)


@pytest.mark.parametrize("name", SOFT_POOLERS)
def test_soft_pools_do_not_depend_on_the_node_order(name: str) -> None:
    """Nodes of the same graphs in another order (each still in its graph): the same clusters, coarse
    graph and losses (to_dense_batch assumed a sorted batch)."""
    torch.manual_seed(7)
    x, edge_index, weight, batch = _graphs([5, 7, 4], seed=7)
    pool = _pool(name).eval()
    reference = pool(x, edge_index, weight, batch)
    perm = torch.randperm(x.size(0), generator=torch.Generator().manual_seed(1))
    new_id = torch.argsort(perm)  # old node i is new node new_id[i]
    shuffled = pool(x[perm], new_id[edge_index], weight, batch[perm])
    assert not torch.equal(batch[perm], torch.sort(batch[perm]).values)  # really unsorted
    _close(shuffled.x, reference.x)
    _close(shuffled.assignment.s, reference.assignment.s[perm])
    _close(_blocks(shuffled, 3), _blocks(reference, 3))
    for loss_name, value in reference.aux_loss.items():
        _close(shuffled.aux_loss[loss_name], value, msg=loss_name)


def test_soft_levels_carry_the_assignment_weighted_mean_position() -> None:
    torch.manual_seed(6)
    x, edge_index, weight, batch = _graphs([5, 7], seed=6)
    pos = torch.randn(x.size(0), 2, dtype=torch.float64)
    out = _pool("diffpool")(x, edge_index, weight, batch, pos=pos)
    s = out.assignment.s
    expected = torch.cat([(s[batch == b].t() @ pos[batch == b]) / s[batch == b].sum(0).unsqueeze(-1) for b in (0, 1)])
    _close(out.pos, expected)


@pytest.mark.parametrize("name", SOFT_POOLERS)
def test_gradients_stay_finite_with_lonely_nodes_and_empty_graphs(name: str) -> None:
    """A one-node graph has an all-zero coarse adjacency: sqrt(degree) at 0 gave NaN gradients (a
    molecule batch holding methane made training fail), through two levels and with an empty graph."""
    x, edge_index, weight, batch = _graphs([5, 7], seed=9)
    x = torch.cat([x, torch.randn(1, F, dtype=torch.float64)]).requires_grad_(True)
    batch = torch.cat([batch, torch.tensor([3])])  # graph 2 is empty, graph 3 is one node
    torch.manual_seed(0)
    pool = HierarchicalPool([_pool(name), pooler(name, in_channels=F, clusters=2).double()])
    result = pool(x, edge_index, weight, batch, 4)
    (result.out.square().sum() + sum(result.aux_loss.values())).backward()
    assert bool(torch.isfinite(x.grad).all())
    for parameter_name, parameter in pool.named_parameters():
        assert bool(torch.isfinite(parameter.grad).all()), parameter_name


@pytest.mark.parametrize("name", ["diffpool", "mincut"])
def test_duplicate_edges_a_hub_and_any_edge_order_give_what_the_summed_dense_adjacency_gives(name: str) -> None:
    """Duplicates are summed (as ``to_dense_adj`` sums them) on the compiled path (counting sorts) and the
    torch one (PyG's coalesce) alike; a node with more than 32 edges takes the merge-sort branch."""
    x, edge_index, weight, batch = _graphs([40, 9], seed=5, directed=True)
    hub = torch.stack([torch.zeros(35, dtype=torch.long), torch.arange(1, 36)])
    edge_index = torch.cat([edge_index, edge_index[:, :20], hub, hub[:, :3]], 1)  # duplicates, a hub
    weight = torch.cat([weight, weight[:20] * 0.5, torch.rand(38, dtype=torch.float64) + 0.1])
    order = torch.randperm(edge_index.size(1), generator=torch.Generator().manual_seed(0))
    edge_index, weight = edge_index[:, order], weight[order].requires_grad_(True)
    torch.manual_seed(5)
    pool = _pool(name)
    results = []
    for enabled in (True, False):
        previous, compiled.ENABLED = compiled.ENABLED, enabled
        try:
            out = pool(x, edge_index, weight, batch)
            loss = out.x.square().sum() + out.edge_weight.sum() + sum(out.aux_loss.values())
            results.append((out, torch.autograd.grad(loss, weight)[0]))
        finally:
            compiled.ENABLED = previous
    (ours, grad), (torch_path, torch_grad) = results
    _close(ours.x, torch_path.x)
    _close(ours.edge_weight, torch_path.edge_weight)
    for key in ours.aux_loss:
        _close(ours.aux_loss[key], torch_path.aux_loss[key])
    _close(grad, torch_grad)
    x_dense, adj, mask = _dense(x, edge_index, weight.detach(), batch)
    logits = to_dense_batch(pool.select.logits(x, edge_index), batch)[0]
    dense = dense_diff_pool if name == "diffpool" else dense_mincut_pool
    _close(ours.x.view(2, K, F), dense(x_dense, adj, logits, mask)[0])
    _close(_blocks(ours, 2), dense(x_dense, adj, logits, mask)[1])


@pytest.mark.skipif(compiled.numba is None or graphpool.device_path_enabled(), reason="the compiled host path (numba)")
def test_the_compiled_adjacency_refuses_nodes_out_of_range_with_validation_off() -> None:
    """The counting sorts index arrays by node id without bounds checks: they check the ids themselves."""
    x, edge_index, weight, batch = _graphs([5, 4], seed=6)
    bad = edge_index.clone()
    bad[0, 0] = 9  # one past the last node
    previous, compiled.ENABLED = compiled.ENABLED, True
    try:
        with graphpool.validation(False), pytest.raises(ValueError, match="outside"):
            _pool("mincut")(x, bad, weight, batch)
    finally:
        compiled.ENABLED = previous


def test_a_prebuilt_adjacency_gives_the_same_pooling_and_a_wrong_one_is_named() -> None:
    """A whole tissue pooled in every step can coalesce its edges once (``adjacency=``): same values, same
    gradients; an adjacency of other edges, dtype or size is refused by name."""
    from graphpool.ops.csr import csr_adjacency

    x, edge_index, weight, batch = _graphs([5, 4], seed=6)
    pool = _pool("mincut")
    prebuilt = csr_adjacency(edge_index, weight.to(x.dtype), x.size(0))
    results = []
    for adjacency in (None, prebuilt):
        features = x.clone().requires_grad_()
        out = pool(features, edge_index, weight, batch, adjacency=adjacency)
        (out.x.square().sum() + sum(out.aux_loss.values())).backward()
        results.append((out.x.detach(), out.edge_weight.detach(), features.grad))
    for ours, theirs in zip(*results, strict=True):
        assert torch.equal(ours, theirs)
    other = edge_index.flip(1)
    with pytest.raises(ValueError, match="'adjacency' was built from other edges or weights"):
        pool(x, other, weight, batch, adjacency=prebuilt)
    with pytest.raises(ValueError, match="'adjacency' was built for 9 nodes and"):
        pool(x, edge_index[:, :-2], weight[:-2], batch, adjacency=prebuilt)
    wrong = torch.float32 if x.dtype == torch.float64 else torch.float64
    with pytest.raises(ValueError, match=f"'adjacency' holds {wrong}"):
        pool(x, edge_index, weight, batch, adjacency=csr_adjacency(edge_index, weight.to(wrong), x.size(0)))
    with pytest.raises(ValueError, match="'adjacency' is for soft pools; GraclusSelect"):
        pooler("graclus")(x, edge_index, weight, batch, adjacency=prebuilt)


# S_b^T Y_b of every graph was computed on a [B, n_max, .] padded layout: memory and work in the largest graph
# (a batch of DD holds graphs from 30 to 5,748 nodes), and a host sync to read its size
@pytest.mark.parametrize("layout", ["sparse", "padded"])
@pytest.mark.parametrize("seed", range(4))
def test_the_per_graph_products_equal_each_graph_alone_in_any_node_order(
    seed: int, layout: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from graphpool.cluster import reduce
    from graphpool.cluster.reduce import block_product
    from graphpool.ops import segments_from

    # 0: padding always pays (the dense products); 10**9: never (the sparse block product)
    monkeypatch.setattr(reduce, "PADDING_PER_CLUSTER", 0 if layout == "padded" else 10**9)

    g = torch.Generator().manual_seed(seed)
    sizes = [0, 3, 1, 0, 7, 2][seed:] + [5]  # empty graphs, one node, first and last
    batch = torch.repeat_interleave(torch.arange(len(sizes)), torch.tensor(sizes))
    batch = batch[torch.randperm(batch.numel(), generator=g)]  # nodes of the graphs interleaved
    s = torch.rand(batch.numel(), 3, generator=g, dtype=torch.float64, requires_grad=True)
    y = torch.randn(batch.numel(), 4, generator=g, dtype=torch.float64, requires_grad=True)
    seg = segments_from(batch.numel(), batch, dim_size=len(sizes))
    expected = torch.stack([s[batch == b].t() @ y[batch == b] for b in range(len(sizes))])
    torch.testing.assert_close(block_product(s, [y], seg)[0], expected)
    torch.autograd.gradcheck(lambda s, y: block_product(s, [y], seg)[0], (s, y))
    with graphpool.device_path():  # the branches a GPU takes
        torch.testing.assert_close(
            block_product(s, [y], segments_from(batch.numel(), batch, dim_size=len(sizes)))[0], expected
        )


def test_the_per_graph_products_of_one_graph_and_of_no_nodes() -> None:
    from graphpool.cluster.reduce import block_product
    from graphpool.ops import segments_from

    s, y = torch.rand(5, 2, dtype=torch.float64), torch.randn(5, 3, dtype=torch.float64)
    one = segments_from(5, torch.zeros(5, dtype=torch.long), dim_size=1)
    torch.testing.assert_close(block_product(s, [y], one)[0], (s.t() @ y).unsqueeze(0))
    none = segments_from(0, torch.zeros(0, dtype=torch.long), dim_size=3)
    assert torch.equal(block_product(s[:0], [y[:0]], none)[0], torch.zeros(3, 2, 3, dtype=torch.float64))


@settings(max_examples=40, deadline=None)
@given(
    sizes=st.lists(st.integers(0, 6), min_size=2, max_size=6),
    k=st.integers(1, 4),
    d=st.integers(1, 3),
    seed=st.integers(0, 2**16),
    padded=st.booleans(),
)
def test_the_per_graph_products_and_their_gradients_match_each_graph_alone(sizes, k, d, seed, padded) -> None:
    """Any sizes (empty graphs anywhere), any node order, one or several clusters; values and both gradients."""
    from graphpool.cluster import reduce
    from graphpool.ops import segments_from

    g = torch.Generator().manual_seed(seed)
    batch = torch.repeat_interleave(torch.arange(len(sizes)), torch.tensor(sizes))
    batch = batch[torch.randperm(batch.numel(), generator=g)]
    s = torch.rand(k, batch.numel(), generator=g, dtype=torch.float64).t().requires_grad_()  # not contiguous
    y = torch.randn(batch.numel(), d, generator=g, dtype=torch.float64, requires_grad=True)
    weights = torch.randn(len(sizes), k, d, generator=g, dtype=torch.float64)
    previous, reduce.PADDING_PER_CLUSTER = reduce.PADDING_PER_CLUSTER, 0 if padded else 10**9
    try:
        got = reduce.block_product(s, [y], segments_from(batch.numel(), batch, dim_size=len(sizes)))[0]
    finally:
        reduce.PADDING_PER_CLUSTER = previous
    expected = torch.stack([s[batch == b].t() @ y[batch == b] for b in range(len(sizes))])
    torch.testing.assert_close(got, expected)
    if batch.numel():
        torch.testing.assert_close(
            torch.autograd.grad((got * weights).sum(), (s, y)), torch.autograd.grad((expected * weights).sum(), (s, y))
        )


@pytest.mark.parametrize(("graphs", "layout"), [(1, "sparse"), (4, "sparse"), (4, "padded")])
def test_several_parts_are_multiplied_as_each_alone(graphs: int, layout: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from graphpool.cluster import reduce
    from graphpool.ops import segments_from

    monkeypatch.setattr(reduce, "PADDING_PER_CLUSTER", 0 if layout == "padded" else 10**9)
    g = torch.Generator().manual_seed(graphs)
    batch = torch.randint(0, graphs, (30,), generator=g)
    s = torch.rand(30, 3, generator=g, dtype=torch.float64)
    parts = [torch.randn(30, width, generator=g, dtype=torch.float64) for width in (2, 3, 1)]
    seg = segments_from(30, batch, dim_size=graphs)
    got = reduce.block_product(s, parts, seg)
    assert [tuple(p.shape) for p in got] == [(graphs, 3, 2), (graphs, 3, 3), (graphs, 3, 1)]
    for product, part in zip(got, parts, strict=True):
        torch.testing.assert_close(product, reduce.block_product(s, [part], seg)[0])
