"""Sparse DiffPool / MinCut / DMoN against PyG's dense implementations."""

import pytest
import torch
from torch_geometric.nn import DMoNPooling, GCNConv, dense_diff_pool, dense_mincut_pool
from torch_geometric.utils import to_dense_adj, to_dense_batch

from graphpool.cluster import DiffPoolSelect, DMoNSelect, HierarchicalPool, MinCutSelect

K, F = 4, 5


def _graphs(sizes: list[int], seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(sum(sizes), F, generator=g, dtype=torch.float64)
    batch = torch.repeat_interleave(torch.arange(len(sizes)), torch.tensor(sizes))
    edges, weights, offset = [], [], 0
    for n in sizes:
        upper = torch.triu_indices(n, n, 1)
        keep = torch.rand(upper.size(1), generator=g) < 0.6
        pairs = upper[:, keep] + offset
        w = torch.rand(pairs.size(1), generator=g, dtype=torch.float64) + 0.1
        edges += [pairs, pairs.flip(0)]
        weights += [w, w]
        offset += n
    return x, torch.cat(edges, 1), torch.cat(weights), batch


def _dense(x, edge_index, weight, batch):
    x_dense, mask = to_dense_batch(x, batch)
    adj = to_dense_adj(edge_index, batch, edge_attr=weight)
    return x_dense, adj, mask


def _blocks(selection, num_graphs: int) -> torch.Tensor:
    full = to_dense_adj(selection.edge_index, edge_attr=selection.edge_weight, max_num_nodes=num_graphs * K)[0]
    return torch.stack([full[b * K : (b + 1) * K, b * K : (b + 1) * K] for b in range(num_graphs)])


def test_diffpool_equals_pyg_dense() -> None:
    torch.manual_seed(0)
    x, edge_index, weight, batch = _graphs([6, 6, 6])
    select = DiffPoolSelect(F, K).double()
    ours = select(x, edge_index, batch, 3, edge_weight=weight)
    x_dense, adj, mask = _dense(x, edge_index, weight, batch)
    out, out_adj, link, entropy = dense_diff_pool(
        x_dense, adj, to_dense_batch(select.logits(x, edge_index), batch)[0], mask
    )
    torch.testing.assert_close(ours.x.view(3, K, F), out, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(_blocks(ours, 3), out_adj, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(ours.aux_loss["link"], link, rtol=1e-5, atol=1e-7)
    torch.testing.assert_close(ours.aux_loss["entropy"], entropy, rtol=1e-5, atol=1e-7)


def test_diffpool_entropy_averages_over_real_nodes_where_pyg_counts_padding() -> None:
    """As the docs say: for graphs of unequal size PyG's entropy is ours times N / (B n_max)."""
    torch.manual_seed(0)
    sizes = [3, 8, 5]
    x, edge_index, weight, batch = _graphs(sizes)
    select = DiffPoolSelect(F, K).double()
    ours = select(x, edge_index, batch, 3, edge_weight=weight).aux_loss["entropy"]
    x_dense, adj, mask = _dense(x, edge_index, weight, batch)
    pyg = dense_diff_pool(x_dense, adj, to_dense_batch(select.logits(x, edge_index), batch)[0], mask)[3]
    torch.testing.assert_close(pyg, ours * sum(sizes) / (len(sizes) * max(sizes)))


@pytest.mark.parametrize("sizes", [[6, 6, 6], [3, 8, 5]])
def test_mincut_equals_pyg_dense(sizes: list[int]) -> None:
    torch.manual_seed(1)
    x, edge_index, weight, batch = _graphs(sizes, seed=1)
    select = MinCutSelect(F, K, temperature=0.7).double()
    ours = select(x, edge_index, batch, len(sizes), edge_weight=weight)
    x_dense, adj, mask = _dense(x, edge_index, weight, batch)
    logits = to_dense_batch(select.logits(x, edge_index), batch)[0]
    out, out_adj, mincut, ortho = dense_mincut_pool(x_dense, adj, logits, mask, temp=0.7)
    torch.testing.assert_close(ours.x.view(len(sizes), K, F), out, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(_blocks(ours, len(sizes)), out_adj, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(ours.aux_loss["mincut"], mincut, rtol=1e-5, atol=1e-7)
    torch.testing.assert_close(ours.aux_loss["ortho"], ortho, rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("sizes", [[6, 6, 6], [3, 8, 5]])
def test_dmon_equals_pyg_dense(sizes: list[int]) -> None:
    torch.manual_seed(2)
    x, edge_index, weight, batch = _graphs(sizes, seed=2)
    theirs = DMoNPooling([F], K).double()
    select = DMoNSelect(F, K, assign=theirs.mlp).double()
    ours = select(x, edge_index, batch, len(sizes), edge_weight=weight)
    x_dense, adj, mask = _dense(x, edge_index, weight, batch)
    _, out, out_adj, spectral, ortho, cluster = theirs(x_dense, adj, mask)
    # PyG 2.8.1 divides the [B] cluster norms by mask.sum(dim=1), a [B, 1] tensor, which
    # broadcasts to [B, B] and mixes graphs of different sizes; graph by graph it is right:
    cluster = torch.stack(
        [theirs(x_dense[b : b + 1, :n], adj[b : b + 1, :n, :n])[-1] for b, n in enumerate(sizes)]
    ).mean()
    torch.testing.assert_close(ours.x.view(len(sizes), K, F), out, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(_blocks(ours, len(sizes)), out_adj, rtol=1e-5, atol=1e-5)
    for name, value in {"spectral": spectral, "ortho": ortho, "cluster": cluster}.items():
        torch.testing.assert_close(ours.aux_loss[name], value, rtol=1e-5, atol=1e-7)


def test_gradients_reach_features_and_assignment_parameters() -> None:
    x, edge_index, weight, batch = _graphs([5, 7], seed=3)
    x = x.float().requires_grad_(True)
    for select in (DiffPoolSelect(F, K), MinCutSelect(F, K), DMoNSelect(F, K, assign=GCNConv(F, K))):
        pool = HierarchicalPool([select], readout="mean")
        result = pool(x, edge_index, batch, edge_weight=weight.float())
        loss = result.out.square().sum() + sum(result.aux_loss.values())
        x.grad = None
        loss.backward()
        assert x.grad.abs().sum() > 0
        for name, parameter in select.named_parameters():
            assert parameter.grad is not None and parameter.grad.abs().sum() > 0, (type(select).__name__, name)
        assert set(result.aux_loss) and all(k.startswith("level0.") for k in result.aux_loss)


def test_soft_assignment_hard_view_and_errors() -> None:
    x, edge_index, weight, batch = _graphs([5, 7], seed=4)
    selection = DiffPoolSelect(F, K).double()(x, edge_index, batch, 2)
    cluster = selection.assignment.cluster
    assert torch.equal(selection.assignment.cluster_batch[cluster], batch)
    with pytest.raises(ValueError, match="'num_clusters' must be >= 1"):
        MinCutSelect(F, 0)
    with pytest.raises(ValueError, match=r"the assignment module must return \[N, 4\]"):
        DiffPoolSelect(F, K, assign=torch.nn.Linear(F, 3)).double()(x, edge_index, batch, 2)


SELECTORS = [DiffPoolSelect, MinCutSelect, DMoNSelect]


@pytest.mark.parametrize("cls", SELECTORS)
def test_empty_graphs_pool_to_zeros_and_leave_the_losses_alone(cls: type) -> None:
    """A graph with no nodes gets K zero clusters and no coarse edges, as PyG's dense pools give zeros;
    the auxiliary losses are averaged over the graphs that have nodes, so they do not change."""
    torch.manual_seed(5)
    x, edge_index, weight, batch = _graphs([5, 7], seed=5)
    select = cls(F, K).double().eval()
    without = select(x, edge_index, batch, 2, edge_weight=weight)
    middle = torch.where(batch == 1, 2, batch)  # graph 1 is empty; graph 2 holds its nodes
    with_empty = select(x, edge_index, middle, 3, edge_weight=weight)
    assert torch.equal(with_empty.x[K : 2 * K], torch.zeros(K, F, dtype=torch.float64))
    torch.testing.assert_close(with_empty.x[:K], without.x[:K])
    torch.testing.assert_close(with_empty.x[2 * K :], without.x[K:])
    assert not bool(((with_empty.edge_index >= K) & (with_empty.edge_index < 2 * K)).any())
    for name, value in without.aux_loss.items():
        torch.testing.assert_close(with_empty.aux_loss[name], value, msg=name)
    trailing = select(x, edge_index, batch, 4, edge_weight=weight)  # two empty graphs at the end
    assert trailing.x.shape == (4 * K, F) and torch.equal(trailing.x[2 * K :], torch.zeros(2 * K, F).double())
    nothing = select(x[:0], edge_index[:, :0], batch[:0], 2)
    assert torch.equal(nothing.x, torch.zeros(2 * K, F).double())
    assert all(torch.isfinite(v) for v in nothing.aux_loss.values())


@pytest.mark.parametrize("cls", SELECTORS)
def test_edgeless_graphs_give_finite_losses(cls: type) -> None:
    x, edge_index, weight, batch = _graphs([5, 7], seed=5)
    lonely = torch.cat([x, torch.randn(1, F, dtype=torch.float64)])
    lonely_batch = torch.cat([batch, torch.tensor([2])])
    losses = cls(F, K).double()(lonely, edge_index, lonely_batch, 3).aux_loss
    assert all(torch.isfinite(v) for v in losses.values()), (cls.__name__, losses)


@pytest.mark.parametrize("cls", SELECTORS)
def test_soft_pools_do_not_depend_on_the_node_order(cls: type) -> None:
    """Nodes of the same graphs in another order (each still in its graph): the same clusters, coarse
    graph and losses (to_dense_batch assumed a sorted batch)."""
    torch.manual_seed(7)
    x, edge_index, weight, batch = _graphs([5, 7, 4], seed=7)
    select = cls(F, K).double().eval()
    reference = select(x, edge_index, batch, 3, edge_weight=weight)
    perm = torch.randperm(x.size(0), generator=torch.Generator().manual_seed(1))
    new_id = torch.argsort(perm)  # old node i is new node new_id[i]
    shuffled = select(x[perm], new_id[edge_index], batch[perm], 3, edge_weight=weight)
    assert not torch.equal(batch[perm], torch.sort(batch[perm]).values)  # really unsorted
    torch.testing.assert_close(shuffled.x, reference.x)
    torch.testing.assert_close(shuffled.assignment.s, reference.assignment.s[perm])
    torch.testing.assert_close(_blocks(shuffled, 3), _blocks(reference, 3))
    for name, value in reference.aux_loss.items():
        torch.testing.assert_close(shuffled.aux_loss[name], value, msg=name)


def test_soft_levels_carry_the_assignment_weighted_mean_position() -> None:
    torch.manual_seed(6)
    x, edge_index, weight, batch = _graphs([5, 7], seed=6)
    pos = torch.randn(x.size(0), 2, dtype=torch.float64)
    result = HierarchicalPool([DiffPoolSelect(F, K).double()])(x, edge_index, batch, edge_weight=weight, pos=pos)
    s = result.levels[0].assignment.s
    expected = torch.cat([(s[batch == b].t() @ pos[batch == b]) / s[batch == b].sum(0).unsqueeze(-1) for b in (0, 1)])
    torch.testing.assert_close(result.levels[0].pos, expected)
