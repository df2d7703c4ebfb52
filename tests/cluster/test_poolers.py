"""Every pooler by name: the resolver, the shared output, permutation invariance, expressiveness, bad input."""

import warnings

import networkx as nx
import pytest
import torch
from hypothesis import example, given, settings
from hypothesis import strategies as st

from graphpool.cluster import (
    POOLERS,
    SOFT_POOLERS,
    KMISSelect,
    Pool,
    PoolingOutput,
    maximal_independent_set,
    pooler,
    takes_clusters,
)
from graphpool.testing import assert_pool_keeps_wl_distinct, wl_colours

F, K = 3, 3


def _make(name: str) -> Pool:
    options = {"score": "x"} if name == "kmis" else {}  # distinct features: no ties to break by node id
    return pooler(name, in_channels=F, clusters=K if takes_clusters(name) else None, **options).double().eval()


def _labels(n: int) -> torch.Tensor:
    return torch.arange(n) % 2


def _inputs(name: str, labels: torch.Tensor) -> dict:
    """The per-node inputs pooler ``name`` reads: the labels of ``given`` (the others take none)."""
    return {"labels": labels} if name == "given" else {}


def _graph(seed: int, sizes: list[int]):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(sum(sizes), F, generator=g, dtype=torch.float64)
    batch = torch.arange(len(sizes)).repeat_interleave(torch.tensor(sizes))
    edges, offset = [], 0
    for n in sizes:
        ring = torch.arange(n) + offset
        extra = torch.randint(0, n, (2, n), generator=g) + offset
        pairs = torch.cat([torch.stack([ring, ring.roll(1)]), extra], 1)
        pairs = pairs[:, pairs[0] != pairs[1]]
        edges.append(torch.cat([pairs, pairs.flip(0)], 1))
        offset += n
    edge_index = torch.unique(torch.cat(edges, 1), dim=1)
    low, high = torch.minimum(*edge_index), torch.maximum(*edge_index)
    weight = ((low * 7919 + high * 104729) % 1000).double() / 1000 + 0.5  # symmetric, distinct per edge
    return x, edge_index, weight, batch


@pytest.mark.parametrize("name", POOLERS)
def test_every_pooler_returns_one_typed_output(name: str) -> None:
    x, edge_index, weight, batch = _graph(0, [7, 5])
    out = _make(name)(x, edge_index, weight, batch, **_inputs(name, _labels(12)))
    assert isinstance(out, PoolingOutput)
    c = out.assignment.num_clusters
    assert out.x.shape == (c, F) and out.batch.shape == (c,) and out.edge_weight.shape == (out.edge_index.size(1),)
    assert torch.equal(out.batch, out.assignment.cluster_batch) and out.assignment.soft == (name in SOFT_POOLERS)
    assert torch.equal(out.batch[out.assignment.cluster], batch)  # clusters never cross graphs
    assert bool((out.edge_index < c).all()) and torch.equal(out.batch[out.edge_index[0]], out.batch[out.edge_index[1]])
    assert out.lift(out.x).shape == x.shape
    assert set(out.aux_loss) == ({"balance"} if name == "justbalance" else set(out.aux_loss))
    assert bool(out.aux_loss) == (name in SOFT_POOLERS and name != "soft")


@pytest.mark.parametrize("name", POOLERS)
@settings(max_examples=8, deadline=None)
@given(seed=st.integers(0, 10_000), sizes=st.lists(st.integers(3, 9), min_size=1, max_size=3))
def test_every_pooler_is_permutation_invariant(name: str, seed: int, sizes: list[int]) -> None:
    """Relabel the nodes (the batch becomes unsorted): the same partition and the same pooled graph."""
    if name == "louvain":
        pytest.skip("networkx's Louvain visits nodes in a seeded order: invariant only on unambiguous inputs")
    x, edge_index, weight, batch = _graph(seed, sizes)
    labels = _labels(x.size(0))
    pool = _make(name)
    reference = pool(x, edge_index, weight, batch, **_inputs(name, labels))
    perm = torch.randperm(x.size(0), generator=torch.Generator().manual_seed(seed))
    inverse = torch.argsort(perm)
    moved = pool(x[perm], inverse[edge_index], weight, batch[perm], **_inputs(name, labels[perm]))
    if reference.assignment.soft:
        torch.testing.assert_close(moved.assignment.s, reference.assignment.s[perm])
        torch.testing.assert_close(moved.x, reference.x)
        torch.testing.assert_close(
            moved.assignment.dense(torch.float64), reference.assignment.dense(torch.float64)[perm]
        )
        return
    # hard: the clusters may be renumbered; map them by their members and compare
    rename = torch.full((reference.assignment.num_clusters,), -1)
    rename[reference.assignment.cluster[perm]] = moved.assignment.cluster
    assert torch.equal(rename[reference.assignment.cluster[perm]], moved.assignment.cluster)
    torch.testing.assert_close(moved.x[rename], reference.x)
    coarse = lambda out, c: torch.sparse_coo_tensor(out.edge_index, out.edge_weight, (c, c)).to_dense()
    c = reference.assignment.num_clusters
    torch.testing.assert_close(coarse(moved, c)[rename][:, rename], coarse(reference, c))


def _pair() -> tuple[tuple[torch.Tensor, int], tuple[torch.Tensor, int]]:
    """Two graphs with the same degree sequence that 1-WL tells apart (a 6-ring with a chord vs a
    triangle-bearing graph), checked with networkx's WL hash."""
    a = nx.cycle_graph(6)
    a.add_edge(0, 3)
    b = nx.cycle_graph(6)
    b.add_edge(0, 2)
    assert sorted(d for _, d in a.degree()) == sorted(d for _, d in b.degree())
    with warnings.catch_warnings():  # networkx >= 3.5 notes that its hashes of unlabelled graphs changed
        warnings.filterwarnings("ignore", "The hashes produced", UserWarning)
        assert nx.weisfeiler_lehman_graph_hash(a) != nx.weisfeiler_lehman_graph_hash(b)

    def edges(graph: nx.Graph) -> torch.Tensor:
        return torch.tensor(list(graph.edges())).t()

    return (edges(a), 6), (edges(b), 6)


def test_wl_colours_agree_with_networkx() -> None:
    (edges_a, n), (edges_b, _) = _pair()
    a, b = wl_colours([(edges_a, n), (edges_b, n)])
    assert not torch.equal(torch.bincount(a, minlength=20), torch.bincount(b, minlength=20))
    same = wl_colours([(edges_a, n), (edges_a, n)])
    assert torch.equal(same[0], same[1])
    with pytest.raises(ValueError, match="does not tell the two graphs apart"):
        assert_pool_keeps_wl_distinct(_make("graclus"), (edges_a, n), (edges_a, n))


@pytest.mark.parametrize("name", POOLERS)
def test_every_pooler_keeps_wl_distinct_graphs_apart(name: str) -> None:
    graph_a, graph_b = _pair()
    width = int(torch.cat(wl_colours([graph_a, graph_b])).max()) + 1
    torch.manual_seed(0)
    options = {"score": "x"} if name == "kmis" else {}
    pool = pooler(name, in_channels=width, clusters=K if takes_clusters(name) else None, **options).double()
    assert_pool_keeps_wl_distinct(pool, graph_a, graph_b, **_inputs(name, _labels(12)))


def test_a_mean_reduce_can_lose_what_wl_tells_apart() -> None:
    """The condition is real: with reduce 'mean' a pooler is not S^T X and the check can fail."""
    a = (torch.tensor([[0, 1], [1, 2]]), 3)  # a path of 3
    b = (torch.tensor([[0, 1, 3, 4], [1, 2, 4, 5]]), 6)  # two paths of 3: the same colour proportions
    labels = torch.zeros(9, dtype=torch.long)
    with pytest.raises(AssertionError, match="same pooled sum"):
        assert_pool_keeps_wl_distinct(pooler("given", reduce="mean"), a, b, labels=labels)
    assert_pool_keeps_wl_distinct(pooler("given"), a, b, labels=labels)


@pytest.mark.parametrize("hops", [1, 2, 3])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_kmis_is_a_maximal_k_independent_set(hops: int, seed: int) -> None:
    graph = nx.gnp_random_graph(40, 0.08, seed=seed)
    edge_index = torch.tensor(list(graph.edges())).t().reshape(2, -1)
    member, cover = maximal_independent_set(edge_index, 40, hops=hops, seed=seed)
    distance = dict(nx.all_pairs_shortest_path_length(graph, cutoff=hops))
    members = member.nonzero().flatten().tolist()
    for i in members:  # independent: no two members within `hops`
        assert not any(j in distance[i] for j in members if j != i)
    for node in range(40):  # maximal: every node is a member or within `hops` of one; its cover is one
        assert bool(member[cover[node]]) and int(cover[node]) in distance[node]
    assert torch.equal(cover[member], member.nonzero().flatten())  # members cover themselves


def test_kmis_prefers_high_scores() -> None:
    path = torch.tensor([[0, 1, 2, 3], [1, 2, 3, 4]])
    member, _ = maximal_independent_set(path, 5, score=torch.tensor([0.0, 1.0, 0.0, 0.0, 1.0]))
    assert member.tolist() == [False, True, False, True, True] or member.tolist() == [False, True, False, False, True]
    assert bool(member[1]) and bool(member[4])


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: pooler("topk"), "pooler 'topk' is unknown; choose from"),
        (lambda: pooler("mincut", clusters=4), "pooler 'mincut' needs 'in_channels'"),
        (lambda: pooler("mincut", in_channels=3), "pooler 'mincut' needs 'clusters'"),
        (lambda: pooler("kmeans"), "pooler 'kmeans' needs 'clusters'"),
        (lambda: pooler("graclus", hops=2), "pooler 'graclus' has no option 'hops'"),
        # pooler() names its own arguments (the selectors' 'num_clusters' / 'num_labels' were named before)
        (lambda: pooler("mincut", in_channels=3, clusters=0), "'clusters' must be >= 1, got 0"),
        (lambda: pooler("kmeans", clusters=0), "'clusters' must be >= 1, got 0"),
        (lambda: pooler("given", clusters=0), "'clusters' must be >= 1, got 0"),
        (lambda: pooler("mincut", in_channels=0, clusters=2), "'in_channels' must be >= 1, got 0"),
        # a float K or F reached torch.empty ("must be tuple of ints"); k-means took 1.5 and failed later
        (lambda: pooler("mincut", in_channels=3, clusters=2.5), "'clusters' must be a whole number, got 2.5"),
        (lambda: pooler("mincut", in_channels=3.5, clusters=2), "'in_channels' must be a whole number, got 3.5"),
        (lambda: pooler("kmeans", clusters=1.5), "'clusters' must be a whole number, got 1.5"),
        (lambda: KMISSelect(hops=0), "'hops' must be >= 1"),
        (lambda: pooler("graclus", losses=["mincut"]), "'losses' regularise soft assignments"),
        (lambda: pooler("mincut", in_channels=3, clusters=2, temperature=0), "'temperature' must be > 0"),
    ],
)
def test_bad_arguments_name_themselves(call, message: str) -> None:
    with pytest.raises(TypeError if "whole number" in message else ValueError, match=message):
        call()


def test_bad_inputs_name_themselves() -> None:
    x, edge_index, weight, batch = _graph(1, [5, 4])
    pool = _make("mincut")
    with pytest.raises(ValueError, match=r"'edge_index' refers to node 13, but 'x' has 9 rows"):
        pool(x, edge_index + 5, weight, batch)
    with pytest.raises(ValueError, match=r"'edge_index' refers to node -1, but 'x' has 9 rows"):
        pool(x, edge_index - 1, weight, batch)
    with pytest.raises(ValueError, match=r"'x' must be \[N, F\]"):
        pool(x[0], edge_index, weight, batch)
    with pytest.raises(ValueError, match="'labels' holds 5, but this selection was built for 2 labels"):
        pooler("given", clusters=2)(x, edge_index, weight, batch, labels=torch.arange(9) % 6)
    with pytest.raises(ValueError, match="holds NaN"):
        pool(torch.full_like(x, float("nan")), edge_index, weight, batch)


def test_graphs_without_edges_pool_to_singletons() -> None:
    x = torch.randn(4, F, dtype=torch.float64)
    none = torch.zeros(2, 0, dtype=torch.long)
    for name in ("graclus", "kmis", "louvain"):
        out = _make(name)(x, none, None, torch.tensor([0, 0, 1, 1]))
        assert out.assignment.num_clusters == 4 and out.edge_index.shape == (2, 0), name
        torch.testing.assert_close(out.x, x)


@pytest.mark.parametrize("name", POOLERS)
@pytest.mark.parametrize("width", [2, 64])
def test_the_wl_check_takes_a_pooler_as_built(name: str, width: int) -> None:
    """Default float32, any in_channels (fewer or more than the WL colours): the check sizes its input."""
    graph_a, graph_b = _pair()
    torch.manual_seed(0)
    pool = pooler(name, in_channels=width, clusters=K if takes_clusters(name) else None)
    assert_pool_keeps_wl_distinct(pool, graph_a, graph_b, **_inputs(name, _labels(12)))


# a hard pooler reducing its clusters with attention could not be built: pooler(..., in_channels=F) kept F from
# the reduce, and Pool had no way to take it ("pass in_channels=F", which it had been given)
@pytest.mark.parametrize("reduce", ["attention", "mean+attention"])
def test_a_hard_pool_gives_a_learnable_reduce_its_width(reduce: str) -> None:
    from graphpool.cluster import GraclusSelect, TypePool

    x, batch = torch.randn(6, F, requires_grad=True), torch.tensor([0, 0, 0, 1, 1, 1])
    edge_index = torch.tensor([[0, 1, 1, 2, 3, 4, 4, 5], [1, 0, 2, 1, 4, 3, 5, 4]])
    width = 2 * F if reduce.startswith("mean+") else F
    for pool in (pooler("graclus", in_channels=F, reduce=reduce), Pool(GraclusSelect(), reduce, in_channels=F)):
        assert pool.get_out_channels(F) == width
        out = pool(x, edge_index, batch=batch)
        assert out.x.shape == (out.assignment.num_clusters, width)
        out.x.sum().backward()
        assert all(p.grad is not None for p in pool.reduce.parameters())
    types = TypePool(2, reduce, in_channels=F)
    assert types(x, batch, 2, labels=torch.tensor([0, 1, 1, 0, 0, 1])).shape == (2, 2 * width)
    with pytest.raises(ValueError, match="pass in_channels=F"):
        Pool(GraclusSelect(), reduce)


# an edge to node 5 of a 3-node graph was an IndexError, and an edge to node -1 was read as one to the last node
@pytest.mark.parametrize("edge", [[0, 5], [0, -1]])
def test_wl_colours_names_an_edge_outside_its_graph(edge: list[int]) -> None:
    with pytest.raises(ValueError, match=rf"graph 1's edge_index refers to node {edge[1]}, but it has 3 nodes"):
        wl_colours([(torch.tensor([[0], [1]]), 2), (torch.tensor([[edge[0]], [edge[1]]]), 3)])


@settings(max_examples=100, deadline=None)
@example(nodes=5, degree=2.0, hops=2, seed=14)  # paths through decided nodes decide later rounds at 2 to 4 hops
@example(nodes=9, degree=2.0, hops=3, seed=2)
@example(nodes=15, degree=2.0, hops=4, seed=19)
@given(nodes=st.integers(1, 40), degree=st.floats(0.0, 6.0), hops=st.integers(1, 4), seed=st.integers(0, 10_000))
def test_kmis_rounds_give_the_sequential_greedy_set(nodes: int, degree: float, hops: int, seed: int) -> None:
    """The parallel rounds (which drop the edges on no path of at most ``hops`` between undecided nodes) give the
    set of the sequential greedy:
    in order of priority, a node joins unless a member is within ``hops``; each node is covered by the
    highest-priority member within ``hops`` of it."""
    graph = nx.gnp_random_graph(nodes, min(1.0, degree / max(nodes - 1, 1)), seed=seed)  # sparse ones: long paths
    edge_index = torch.tensor(list(graph.edges()), dtype=torch.long).t().reshape(2, -1)
    score = torch.randperm(nodes, generator=torch.Generator().manual_seed(seed)).double()  # distinct priorities
    member, cover = maximal_independent_set(edge_index, nodes, hops=hops, score=score)
    distance = dict(nx.all_pairs_shortest_path_length(graph, cutoff=hops))
    expected: list[int] = []
    for node in sorted(range(nodes), key=lambda n: -score[n]):
        if not any(m in distance[node] for m in expected):
            expected.append(node)
    assert sorted(member.nonzero().flatten().tolist()) == sorted(expected)
    for node in range(nodes):
        assert int(cover[node]) == max((m for m in expected if m in distance[node]), key=lambda m: score[m])
