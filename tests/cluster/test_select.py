"""Selectors: given labels, greedy matching, k-means, communities."""

import networkx as nx
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from graphpool.cluster import (
    BatchKMeansSelect,
    CommunitySelect,
    GraclusSelect,
    KMeansSelect,
    LabelSelect,
    ProductSelect,
    greedy_matching,
)
from graphpool.cluster.select import Select

X = torch.randn(6, 2)
EDGES = torch.tensor([[0, 1, 1, 2, 3, 4], [1, 0, 2, 1, 4, 3]])
BATCH = torch.tensor([0, 0, 0, 1, 1, 1])


def test_given_labels_are_local_to_each_graph() -> None:
    labels = torch.tensor([2, 0, 2, 2, 1, 1])
    a = LabelSelect()(X, EDGES, BATCH, 2, labels=labels)
    # clusters in (graph, label) order: (0,0) (0,2) (1,1) (1,2)
    assert a.cluster.tolist() == [1, 0, 1, 3, 2, 2]
    assert a.num_clusters == 4
    assert a.cluster_batch.tolist() == [0, 0, 1, 1]
    assert a.label.tolist() == [0, 2, 1, 2]


def test_given_labels_with_a_fixed_layout_keep_empty_clusters() -> None:
    labels = torch.tensor([2, 0, 2, 2, 1, 1])
    a = LabelSelect(num_labels=3)(X, EDGES, BATCH, 3, labels=labels)
    assert a.num_clusters == 9
    assert a.cluster.tolist() == [2, 0, 2, 5, 4, 4]
    assert a.cluster_batch.tolist() == [0, 0, 0, 1, 1, 1, 2, 2, 2]
    assert a.label.tolist() == [0, 1, 2] * 3


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({}, "LabelSelect needs the cluster label of every node"),
        ({"labels": torch.tensor([0, 1])}, r"'labels' must be a \[N\] tensor with N = 6"),
        ({"labels": torch.tensor([0, 1, 0, -1, 0, 0])}, r"'labels' must be >= 0, got -1"),
        ({"labels": torch.tensor([0.0, 1, 0, 1, 0, 0])}, r"'labels' must hold integers"),
    ],
)
def test_given_select_errors(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        LabelSelect()(X, EDGES, BATCH, 2, **kwargs)
    with pytest.raises(ValueError, match=r"'num_labels' must be >= 1"):
        LabelSelect(num_labels=0)
    with pytest.raises(
        ValueError, match=r"holds 2, but this selection was built for 2 labels: they must be in \[0, 2\)"
    ):
        LabelSelect(num_labels=2)(X, EDGES, BATCH, 2, labels=torch.tensor([0, 1, 2, 0, 0, 0]))


def _random_graph(num_nodes: int, p: float, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    graph = nx.gnp_random_graph(num_nodes, p, seed=seed)
    edges = torch.tensor(list(graph.edges), dtype=torch.long).t().reshape(2, -1)
    g = torch.Generator().manual_seed(seed)
    weight = torch.rand(edges.size(1), generator=g) + 0.1
    return torch.cat([edges, edges.flip(0)], 1), torch.cat([weight, weight])


@settings(max_examples=30, deadline=None)
@given(num_nodes=st.integers(1, 40), p=st.floats(0.0, 0.5), seed=st.integers(0, 10_000), weighted=st.booleans())
def test_greedy_matching_is_a_maximal_matching(num_nodes: int, p: float, seed: int, weighted: bool) -> None:
    edge_index, weight = _random_graph(num_nodes, p, seed)
    partner = greedy_matching(edge_index, num_nodes, weight if weighted else None)
    _assert_maximal_matching(partner, edge_index)


def _undirected(graph: nx.Graph) -> torch.Tensor:
    edges = torch.tensor(list(graph.edges), dtype=torch.long).t().reshape(2, -1)
    return torch.cat([edges, edges.flip(0)], 1)


def _assert_maximal_matching(partner: torch.Tensor, edge_index: torch.Tensor) -> None:
    node = torch.arange(partner.numel())
    assert torch.equal(partner[partner], node)  # symmetric: a matching
    edges = set(map(tuple, edge_index.t().tolist()))
    assert all(i == j or (i, j) in edges for i, j in zip(node.tolist(), partner.tolist(), strict=True))
    unmatched = partner == node
    assert not bool((unmatched[edge_index[0]] & unmatched[edge_index[1]]).any())  # maximal


SHAPES = {
    "path": lambda n: nx.path_graph(n),
    "ring": lambda n: nx.cycle_graph(n),
    "star": lambda n: nx.star_graph(n - 1),
    "clique": lambda n: nx.complete_graph(n),
    "grid": lambda n: nx.convert_node_labels_to_integers(nx.grid_2d_graph(n // 20, 20)),
    "random": lambda n: nx.gnp_random_graph(n, 4 / n, seed=n),
}


@pytest.mark.parametrize("shape", sorted(SHAPES))
@pytest.mark.parametrize("n", [3, 40, 400])
def test_graclus_matching_is_maximal_on_every_shape(shape: str, n: int) -> None:
    """With uniform weights every edge ties; the matching must still be maximal (a 400-node path gave 367
    clusters and a ring matched 16 % of its nodes when ties went to the lowest id within 32 rounds)."""
    if shape == "grid" and n < 40:
        pytest.skip("a grid needs at least two rows")
    graph = SHAPES[shape](n)
    edge_index = _undirected(graph)
    partner = greedy_matching(edge_index, graph.number_of_nodes())
    _assert_maximal_matching(partner, edge_index)
    clusters = GraclusSelect()(
        torch.zeros(graph.number_of_nodes(), 1), edge_index, torch.zeros(graph.number_of_nodes(), dtype=torch.long), 1
    ).num_clusters
    matched = int((partner != torch.arange(partner.numel())).sum())
    assert clusters == graph.number_of_nodes() - matched // 2
    if shape in ("path", "ring", "clique") and n >= 40:
        assert clusters <= 2 * n // 3 + 1  # any maximal matching of a path, ring or clique


def test_graclus_is_deterministic_under_a_seed() -> None:
    edge_index = _undirected(nx.cycle_graph(200))
    first = greedy_matching(edge_index, 200, seed=3)
    assert torch.equal(first, greedy_matching(edge_index, 200, seed=3))
    assert any(not torch.equal(first, greedy_matching(edge_index, 200, seed=s)) for s in range(4, 8))
    select = GraclusSelect(seed=3)
    batch = torch.zeros(200, dtype=torch.long)
    assert torch.equal(
        select(torch.zeros(200, 1), edge_index, batch, 1).cluster,
        GraclusSelect(seed=3)(torch.zeros(200, 1), edge_index, batch, 1).cluster,
    )


def test_matching_follows_a_relabelling_when_weights_are_distinct() -> None:
    edge_index, weight = _random_graph(30, 0.2, seed=3)
    perm = torch.randperm(30, generator=torch.Generator().manual_seed(0))
    inverse = torch.argsort(perm)
    partner = greedy_matching(edge_index, 30, weight)
    relabelled = greedy_matching(inverse[edge_index], 30, weight)
    assert torch.equal(relabelled[inverse], inverse[partner])


def test_graclus_halves_a_graph_and_keeps_clusters_inside_graphs() -> None:
    edge_index, weight = _random_graph(40, 0.3, seed=1)
    both = torch.cat([edge_index, edge_index + 40], 1)
    batch = torch.arange(2).repeat_interleave(40)
    a = GraclusSelect()(torch.randn(80, 3), both, batch, 2, edge_weight=torch.cat([weight, weight]))
    assert 40 <= a.num_clusters < 50
    assert torch.equal(a.cluster_batch[a.cluster], batch)
    assert int(a.sizes().max()) == 2 and int(a.sizes().min()) >= 1  # pairs and singletons


def test_kmeans_recovers_separated_blobs() -> None:
    g = torch.Generator().manual_seed(0)
    centres = torch.tensor([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0]])
    truth = torch.arange(3).repeat_interleave(10)
    pos = centres[truth] + 0.3 * torch.randn(30, 2, generator=g)
    x = torch.randn(30, 4, generator=g)
    batch = torch.zeros(30, dtype=torch.long)
    a = KMeansSelect(3, on="pos")(x, EDGES[:, :0], batch, 1, pos=pos)
    assert a.num_clusters == 3
    for c in range(3):
        assert a.cluster[truth == c].unique().numel() == 1
    again = KMeansSelect(3, on="pos")(x, EDGES[:, :0], batch, 1, pos=pos)
    assert torch.equal(a.cluster, again.cluster)  # fixed seed: reproducible
    small = KMeansSelect(5)(X, EDGES, BATCH, 2)  # 3 nodes per graph < K: one cluster per node
    assert small.num_clusters == 6
    with pytest.raises(ValueError, match="needs node positions"):
        KMeansSelect(2, on="pos")(X, EDGES, BATCH, 2)
    with pytest.raises(ValueError, match="'num_clusters' must be >= 1"):
        KMeansSelect(0)


def test_communities_split_two_cliques() -> None:
    clique = [(i, j) for i in range(5) for j in range(5) if i != j]
    edges = clique + [(i + 5, j + 5) for i, j in clique] + [(0, 5), (5, 0)]
    edge_index = torch.tensor(edges).t()
    batch = torch.zeros(10, dtype=torch.long)
    a = CommunitySelect()(torch.randn(10, 2), edge_index, batch, 1)
    assert a.num_clusters == 2
    assert a.cluster[:5].unique().numel() == 1 and a.cluster[5:].unique().numel() == 1
    assert a.cluster[0] != a.cluster[5]


def test_every_selector_keeps_clusters_within_graphs() -> None:
    edge_index, _weight = _random_graph(20, 0.3, seed=7)
    both = torch.cat([edge_index, edge_index + 20], 1)
    batch = torch.arange(2).repeat_interleave(20)
    x = torch.randn(40, 3)
    selectors: list[tuple[Select, dict]] = [
        (LabelSelect(), {"labels": torch.randint(0, 4, (40,))}),
        (GraclusSelect(), {}),
        (KMeansSelect(4), {}),
        (BatchKMeansSelect(4), {}),
        (CommunitySelect(), {}),
        (ProductSelect(GraclusSelect(), LabelSelect()), {"labels": torch.randint(0, 3, (40,))}),
    ]
    for selector, inputs in selectors:
        a = selector(x, both, batch, 2, **inputs)
        assert torch.equal(a.cluster_batch[a.cluster], batch), type(selector).__name__
        assert bool((a.cluster_batch[1:] >= a.cluster_batch[:-1]).all())
        assert a.sizes().min() >= 1


def test_product_of_neighbourhoods_and_types() -> None:
    pos = torch.tensor([[0.0, 0.0], [0.1, 0.0], [0.0, 0.1], [9.0, 9.0], [9.1, 9.0], [9.0, 9.1]])
    types = torch.tensor([0, 1, 0, 0, 1, 1])
    batch = torch.zeros(6, dtype=torch.long)
    select = ProductSelect(KMeansSelect(2, on="pos"), LabelSelect())
    a = select(torch.zeros(6, 1), EDGES, batch, 1, pos=pos, labels=types)
    # neighbourhood {0,1,2} x types -> {0,2}, {1}; neighbourhood {3,4,5} -> {3}, {4,5}
    groups = {frozenset(torch.nonzero(a.cluster == c).flatten().tolist()) for c in range(a.num_clusters)}
    assert groups == {frozenset({0, 2}), frozenset({1}), frozenset({3}), frozenset({4, 5})}
    with pytest.raises(TypeError, match="ProductSelect combines selectors"):
        ProductSelect(LabelSelect(), "graclus")


@pytest.mark.parametrize("init", ["random", "farthest"])
def test_batch_kmeans_agrees_with_scikit_learn_on_separated_blobs(init: str) -> None:
    g = torch.Generator().manual_seed(1)
    centres = torch.tensor([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0], [10.0, 10.0]])
    graphs, truth = [], []
    for size in (40, 25, 3):
        label = torch.arange(size) % 4
        graphs.append(centres[label] + 0.3 * torch.randn(size, 2, generator=g))
        truth.append(label)
    pos = torch.cat(graphs)
    batch = torch.repeat_interleave(torch.arange(3), torch.tensor([40, 25, 3]))
    perm = torch.randperm(pos.size(0), generator=g)  # unsorted batch
    x = torch.zeros(pos.size(0), 1)
    ours = BatchKMeansSelect(4, on="pos", init=init)(x[perm], EDGES[:, :0], batch[perm], 3, pos=pos[perm])
    theirs = KMeansSelect(4, on="pos")(x[perm], EDGES[:, :0], batch[perm], 3, pos=pos[perm])
    same = ours.cluster.unsqueeze(0) == ours.cluster.unsqueeze(1)
    assert torch.equal(same, theirs.cluster.unsqueeze(0) == theirs.cluster.unsqueeze(1))
    assert ours.num_clusters == 4 + 4 + 3  # the 3-node graph gets one cluster per node
    assert torch.equal(ours.cluster_batch[ours.cluster], batch[perm])
    again = BatchKMeansSelect(4, on="pos", init=init)(x[perm], EDGES[:, :0], batch[perm], 3, pos=pos[perm])
    assert torch.equal(ours.cluster, again.cluster)
    with pytest.raises(ValueError, match="'init' must be 'random' or 'farthest'"):
        BatchKMeansSelect(2, init="kmeans++")
    with pytest.raises(ValueError, match="needs node positions"):
        BatchKMeansSelect(2, on="pos")(X, EDGES, BATCH, 2)


def test_matching_ignores_edge_direction() -> None:
    """An edge listed one way only is matched too (it once could never be proposed back: an endless loop)."""
    one_way = torch.tensor([[0, 1, 2, 3], [1, 2, 3, 4]])  # a path of 5, one direction
    partner = greedy_matching(one_way, 5)
    both = greedy_matching(torch.cat([one_way, one_way.flip(0)], 1), 5)
    assert torch.equal(partner, both)
    unmatched = partner == torch.arange(5)
    assert not bool((unmatched[one_way[0]] & unmatched[one_way[1]]).any())  # maximal


def _two_triangles(offset: int = 0) -> torch.Tensor:
    """Two triangles joined by one edge (Louvain: two communities), both directions listed."""
    pairs = torch.tensor([[0, 1], [1, 2], [2, 0], [3, 4], [4, 5], [5, 3], [2, 3]]).t() + offset
    return torch.cat([pairs, pairs.flip(0)], 1)


def test_louvain_gives_a_graph_the_same_communities_alone_and_in_a_batch() -> None:
    alone = CommunitySelect()(torch.zeros(6, 1), _two_triangles(), torch.zeros(6, dtype=torch.long), 1)
    ring = torch.arange(60) + 6
    ring_edges = torch.stack([ring, ring.roll(1)])
    edge_index = torch.cat([_two_triangles(), ring_edges, ring_edges.flip(0)], 1)
    batch = torch.cat([torch.zeros(6, dtype=torch.long), torch.ones(60, dtype=torch.long)])
    batched = CommunitySelect()(torch.zeros(66, 1), edge_index, batch, 2)
    assert alone.num_clusters == 2
    assert torch.equal(batched.cluster[:6], alone.cluster)
    # and the graph second in the batch: its clusters are numbered after the ring's
    moved = torch.cat([ring_edges - 6, (ring_edges - 6).flip(0), _two_triangles(60)], 1)
    second = CommunitySelect()(torch.zeros(66, 1), moved, batch.flip(0), 2)
    local = second.cluster[60:] - second.cluster[60:].min()
    assert torch.equal(local, alone.cluster)


def test_louvain_with_all_zero_weights_gives_every_node_its_own_community() -> None:
    weight = torch.zeros(_two_triangles().size(1))
    a = CommunitySelect()(torch.zeros(6, 1), _two_triangles(), torch.zeros(6, dtype=torch.long), 1, weight)
    assert a.num_clusters == 6 and torch.equal(a.cluster, torch.arange(6))


def test_louvain_refuses_negative_weights() -> None:
    weight = -torch.ones(_two_triangles().size(1))
    with pytest.raises(ValueError, match="'edge_weight'.*negative"):
        CommunitySelect()(torch.zeros(6, 1), _two_triangles(), torch.zeros(6, dtype=torch.long), 1, weight)


def test_louvain_sums_the_weights_of_duplicate_edges() -> None:
    """An edge listed three times weighs what one edge of weight three weighs (as in every other pooler)."""
    base = _two_triangles()
    weight = torch.ones(base.size(1))
    weight[[6, 13]] = 3.0  # the bridge, both directions, made heavy
    batch = torch.zeros(6, dtype=torch.long)
    heavy = CommunitySelect(resolution=0.5)(torch.zeros(6, 1), base, batch, 1, weight)
    repeated = torch.cat([base, base[:, [6, 13]], base[:, [6, 13]]], 1)
    listed = CommunitySelect(resolution=0.5)(torch.zeros(6, 1), repeated, batch, 1)
    assert torch.equal(heavy.cluster, listed.cluster)
