"""The coarsened adjacency equals S^T A S computed densely."""

import pytest
import torch
from torch_geometric.utils import to_dense_adj

from graphpool.cluster import Assignment, LabelSelect, coarse_edge_attr, coarsen_edges


def _case(seed: int):
    g = torch.Generator().manual_seed(seed)
    n = 12
    edge_index = torch.randint(0, n, (2, 40), generator=g)
    weight = torch.rand(40, generator=g)
    labels = torch.randint(0, 4, (n,), generator=g)
    batch = torch.zeros(n, dtype=torch.long)
    return edge_index, weight, LabelSelect()(torch.zeros(n, 1), edge_index, batch, 1, labels=labels)


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("self_loops", [True, False])
@pytest.mark.parametrize("path", ["count pairs", "sort edges"])
def test_matches_dense_product(seed: int, self_loops: bool, path: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from graphpool.cluster import connect

    if path == "sort edges":  # the path taken for many clusters
        monkeypatch.setattr(connect, "_few_clusters", lambda clusters, edges: False)
    edge_index, weight, assignment = _case(seed)
    s = assignment.dense(torch.float64)
    a = to_dense_adj(edge_index, edge_attr=weight.double(), max_num_nodes=12)[0]
    expected = s.t() @ a @ s
    if not self_loops:
        expected.fill_diagonal_(0)
    coarse, coarse_weight = coarsen_edges(edge_index, assignment, weight.double(), self_loops=self_loops)
    actual = to_dense_adj(coarse, edge_attr=coarse_weight, max_num_nodes=assignment.num_clusters)[0]
    torch.testing.assert_close(actual, expected)


def test_unweighted_edges_count_as_one() -> None:
    edge_index = torch.tensor([[0, 1, 1, 2, 0, 2], [1, 0, 2, 1, 2, 0]])
    a = Assignment(torch.tensor([0, 0, 1]), 2, torch.tensor([0, 0]))
    coarse, weight = coarsen_edges(edge_index, a)
    assert coarse.tolist() == [[0, 1], [1, 0]] and weight.tolist() == [2.0, 2.0]


def test_errors() -> None:
    a = Assignment(torch.tensor([0, 0, 1]), 2, torch.tensor([0, 0]))
    with pytest.raises(ValueError, match=r"'edge_index' must be \[2, E\]"):
        coarsen_edges(torch.tensor([0, 1]), a)
    with pytest.raises(ValueError, match="refers to node 5, but the assignment covers 3 nodes"):
        coarsen_edges(torch.tensor([[0], [5]]), a)
    with pytest.raises(ValueError, match=r"'edge_weight' must be \[E\]"):
        coarsen_edges(torch.tensor([[0], [1]]), a, torch.ones(3))


def test_normalising_the_edges_of_all_but_empty_clusters_keeps_gradients_finite() -> None:
    """Sharp soft assignments leave clusters of mass ~1e-30; the edge between two of them used to weigh
    w / eps^2 with a gradient of 1e30, which overflowed float32 in the backward pass (MinCut at temperature
    0.01 diverged in every fold, IMDB-BINARY at 0.1 after 61 epochs). Below machine epsilon an edge weighs 0."""
    from graphpool.cluster.connect import EPS, normalize_edges

    edge_index = torch.tensor([[0, 1, 1, 2, 2, 3], [1, 0, 2, 1, 3, 2]])
    weight = torch.tensor([1e-30, 1e-30, 1e-30, 1e-30, 2.0, 2.0], requires_grad=True)
    edges, normalised = normalize_edges(edge_index, weight, 4)
    normalised.sum().backward()
    assert weight.grad.abs().max() < 1e20  # was 2.5e29 = 1 / (2 eps)^2: x 1e10 from the layers above is inf
    degree = torch.tensor([1e-30, 2e-30, 2.0 + 1e-30, 2.0])
    tiny = degree <= torch.finfo(torch.float32).eps
    expected = [
        0.0 if tiny[i] or tiny[j] else float(w) / (degree[i].sqrt() + EPS) / (degree[j].sqrt() + EPS)
        for (i, j), w in zip(edges.t().tolist(), weight.detach(), strict=True)
    ]
    assert torch.allclose(normalised.detach(), torch.tensor(expected))
    assert float(normalised[-1].detach()) == pytest.approx(1.0)  # a well-connected pair: w / sqrt(d_i d_j) as before


@pytest.mark.parametrize("self_loops", [True, False])
def test_both_paths_give_the_same_coarse_edges_and_weight_gradients(
    self_loops: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Counting pairs and sorting edges: the same coarse edges, the same sums bit for bit, and the same gradient for
    the fine weights (0 for an edge inside a cluster when the coarse graph keeps no self-loops)."""
    from graphpool.cluster import connect

    edge_index, weight, assignment = _case(7)
    results = []
    for few in (True, False):
        monkeypatch.setattr(connect, "_few_clusters", lambda clusters, edges, few=few: few)
        leaf = weight.double().requires_grad_()
        coarse, coarse_weight = coarsen_edges(edge_index, assignment, leaf, self_loops=self_loops)
        (gradient,) = torch.autograd.grad((coarse_weight * torch.arange(1.0, len(coarse_weight) + 1)).sum(), leaf)
        results.append((coarse, coarse_weight.detach(), gradient))
    (edges, sums, gradient), (expected_edges, expected_sums, expected_gradient) = results
    assert torch.equal(edges, expected_edges) and torch.equal(sums, expected_sums)
    assert torch.equal(gradient, expected_gradient)
    inside = assignment.cluster[edge_index[0]] == assignment.cluster[edge_index[1]]
    assert inside.any() and bool((gradient[inside] == 0).all()) != self_loops


# the public connect functions failed inside torch on a tensor for the assignment ("'Tensor' object has no
# attribute 'cluster'"), on a list of edges ("'list' object has no attribute 'dim'"), on a negative edge end
# (index_select's "index out of range") and on an assignment whose cluster ids exceed num_clusters ("index 11 is
# out of bounds for dimension 0 with size 9")
@pytest.mark.parametrize("connect", [coarsen_edges, lambda e, a: coarse_edge_attr(e, a, torch.ones(e.size(1), 2))])
def test_the_connect_functions_name_bad_input(connect) -> None:
    edges = torch.tensor([[0, 1, 1, 2], [1, 0, 2, 1]])
    a = Assignment(torch.tensor([0, 0, 1]), 2, torch.tensor([0, 0]))
    with pytest.raises(TypeError, match="'assignment' must be an Assignment, got Tensor"):
        connect(edges, torch.tensor([0, 0, 1]))
    with pytest.raises(ValueError, match="'edge_index' refers to node -1, but the assignment covers 3 nodes"):
        connect(edges - 1, a)
    with pytest.raises(ValueError, match=r"the assignment's 'cluster' holds 5, but num_clusters = 2"):
        connect(edges, Assignment(torch.tensor([0, 5, 1]), 2, torch.tensor([0, 0])))
    with pytest.raises(TypeError, match="'edge_index' must be a torch.Tensor, got list"):
        coarsen_edges(edges.tolist(), a)
